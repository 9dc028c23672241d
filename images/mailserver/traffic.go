package mailserver

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/cyrange/cyrange/images/mailserver/corpus"
	"github.com/cyrange/cyrange/images/mailserver/mailmsg"
)

// traffic generates each mailbox's past mail, deterministically from the
// seed and the account, so that a mailbox can be rebuilt identically at any
// time and nothing needs generating before someone looks.
type traffic struct {
	dir    *Directory
	seed   uint64
	listed []*Account
}

func newTraffic(dir *Directory, seed uint64) *traffic {
	return &traffic{dir: dir, seed: seed, listed: dir.Listed()}
}

type genMessage struct {
	id     int64
	folder string
	raw    []byte
	date   time.Time
	flags  map[imap.Flag]bool
}

var mailers = []string{"Microsoft Outlook 16.0", "Mozilla Thunderbird", "VNMail Webmail 3.2", "VNMail Webmail 3.2"}

func (t *traffic) volume(r *rand.Rand, role Role) int {
	switch role {
	case RoleLeader:
		return 30 + r.IntN(16)
	case RoleHead:
		return 15 + r.IntN(16)
	case RoleClerk:
		return 12 + r.IntN(14)
	case RoleDeputy:
		return 8 + r.IntN(9)
	case RoleSecretary:
		return 6 + r.IntN(7)
	}
	return 3 + r.IntN(10)
}

func (t *traffic) correspondent(r *rand.Rand, self *Account) *Account {
	for {
		var a *Account
		if r.IntN(10) < 4 && len(t.listed) > 0 {
			a = t.listed[r.IntN(len(t.listed))]
		} else {
			a = t.dir.Accounts[r.IntN(len(t.dir.Accounts))]
		}
		if a != self {
			return a
		}
	}
}

// mailbox returns acct's generated mail, oldest first in each folder.
func (t *traffic) mailbox(acct *Account, start time.Time) []genMessage {
	r := rand.New(rand.NewPCG(t.seed, uint64(acct.Index)<<8|0x5a))
	n := min(t.volume(r, acct.Role), genPerAccount)
	out := make([]genMessage, 0, n)
	for k := range n {
		date := start.Add(-time.Duration(r.Int64N(int64(120 * 24 * time.Hour)))).Truncate(time.Second)
		peer := t.correspondent(r, acct)
		topic := corpus.Topic(r)
		d := mailmsg.Message{
			Subject:   corpus.Subject(r),
			Date:      date,
			MessageID: fmt.Sprintf("%d.%x@%s", date.UnixMilli(), r.Uint64()&0xffffffffffff, t.dir.Domain),
			Mailer:    mailers[r.IntN(len(mailers))],
		}
		folderName := "INBOX"
		flags := map[imap.Flag]bool{}
		switch x := r.IntN(100); {
		case x < 74:
			d.From = mailmsg.FormatAddress(peer.Name(), peer.Addr)
			d.To = []string{mailmsg.FormatAddress(acct.Name(), acct.Addr)}
			d.Text = corpus.Body(r, acct.Person, peer.Signature(), topic)
			if start.Sub(date) > 72*time.Hour || r.IntN(3) == 0 {
				flags[imap.FlagSeen] = true
			}
		case x < 90:
			folderName = "Sent"
			d.From = mailmsg.FormatAddress(acct.Name(), acct.Addr)
			d.To = []string{mailmsg.FormatAddress(peer.Name(), peer.Addr)}
			d.Text = corpus.Body(r, peer.Person, acct.Signature(), topic)
			flags[imap.FlagSeen] = true
		case x < 95:
			folderName = "Drafts"
			d.From = mailmsg.FormatAddress(acct.Name(), acct.Addr)
			d.To = []string{mailmsg.FormatAddress(peer.Name(), peer.Addr)}
			body := corpus.Body(r, peer.Person, acct.Signature(), topic)
			d.Text = body[:len(body)/2]
			flags[imap.FlagSeen] = true
			flags[imap.FlagDraft] = true
		default:
			folderName = "Trash"
			d.From = mailmsg.FormatAddress(peer.Name(), peer.Addr)
			d.To = []string{mailmsg.FormatAddress(acct.Name(), acct.Addr)}
			d.Text = corpus.Body(r, acct.Person, peer.Signature(), topic)
			flags[imap.FlagSeen] = true
		}
		if r.IntN(4) == 0 {
			name := corpus.AttachmentName(r, peer.Agency.Short)
			d.Attachments = []mailmsg.Attachment{{Name: name, Data: fakeDocument(r, name)}}
			d.Boundary = fmt.Sprintf("----=_NextPart_%016x", r.Uint64())
		}
		out = append(out, genMessage{
			id:     genBase + int64(acct.Index)*genPerAccount + int64(k),
			folder: folderName,
			raw:    d.Render(),
			date:   date,
			flags:  flags,
		})
	}
	slices.SortStableFunc(out, func(a, b genMessage) int { return a.date.Compare(b.date) })
	return out
}

// fakeDocument makes bytes that start like a file of name's type, so that
// downloads look right to file(1) and to a browser.
func fakeDocument(r *rand.Rand, name string) []byte {
	var head string
	switch {
	case strings.HasSuffix(name, ".pdf"):
		head = "%PDF-1.5\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
	case strings.HasSuffix(name, ".docx"), strings.HasSuffix(name, ".xlsx"):
		head = "PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00"
	default:
		head = "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1\x00\x00"
	}
	body := make([]byte, 400+r.IntN(1200))
	for i := range body {
		body[i] = byte(r.Uint32())
	}
	if strings.HasSuffix(name, ".pdf") {
		return append(append([]byte(head), body...), "\n%%EOF\n"...)
	}
	return append([]byte(head), body...)
}
