package checker

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/emersion/go-imap/v2"

	"github.com/cyrange/cyrange/images/mailserver/contract"
	"github.com/cyrange/cyrange/images/mailserver/corpus"
	"github.com/cyrange/cyrange/images/mailserver/mailmsg"
	"github.com/cyrange/cyrange/images/mailserver/webclient"
	"github.com/cyrange/cyrange/images/target/taskrun"
	"github.com/cyrange/cyrange/scoreboard/checks"
)

// plan is what a flag task of a chain does, the same for its putflag and
// its getflag: who writes to which leader, about what.
type plan struct {
	r       *rand.Rand
	leader  webclient.Contact
	sender  webclient.Contact
	clerk   *webclient.Contact
	tag     string
	subject string
	topic   string
}

func (c *Checker) plan(ctx context.Context, tg target, t checks.Task) (plan, error) {
	p, err := c.province(ctx, tg)
	if err != nil {
		return plan{}, err
	}
	r := c.tasks.Rand("flag", t.TaskChainID)
	pl := plan{r: r, tag: c.tag(t.TaskChainID), clerk: p.clerk}
	pl.leader = pick(r, p.leaders)
	pl.sender = other(r, p.staff, pl.leader.Email)
	pl.subject = corpus.Subject(r)
	pl.topic = corpus.Topic(r)
	return pl, nil
}

// flagLines are the places a flag takes in an official's mail: reference
// codes of the province's document system.
var flagLines = []string{
	"Mã hồ sơ điện tử: %s",
	"Số hiệu văn bản trên hệ thống QLVB: %s",
	"Mã xác thực văn bản: %s",
	"Mã tra cứu hồ sơ một cửa: %s",
}

// withFlag puts a line carrying flag into body, before the closing.
func withFlag(r *rand.Rand, body, flag string) string {
	line := fmt.Sprintf(pick(r, flagLines), flag)
	if i := strings.Index(body, "\n\nTrân trọng"); i >= 0 {
		return body[:i] + "\n" + line + body[i:]
	}
	return body + "\n" + line + "\n"
}

// attachmentFor makes a spreadsheet-like list with flag in one of its rows.
func attachmentFor(r *rand.Rand, flag, agency string) mailmsg.Attachment {
	var b strings.Builder
	b.WriteString("STT,Họ và tên,Đơn vị,Mã định danh hồ sơ\n")
	row := r.IntN(6)
	for i := range 6 {
		id := fmt.Sprintf("HS-%06d", r.IntN(1000000))
		if i == row {
			id = flag
		}
		fmt.Fprintf(&b, "%d,%s,%s,%s\n", i+1, corpus.NewPerson(r).Full(), agency, id)
	}
	name := fmt.Sprintf("DS_hoso_%s_%d.csv", corpus.Fold(agency)[:min(8, len(corpus.Fold(agency)))], 100+r.IntN(900))
	return mailmsg.Attachment{Name: name, ContentType: "text/csv; charset=utf-8", Data: []byte(b.String())}
}

func (c *Checker) putFlag(ctx context.Context, tg target, t checks.Task) (string, error) {
	store, err := taskrun.Store(t, contract.Stores())
	if err != nil {
		return "", err
	}
	flag, err := taskrun.Flag(t)
	if err != nil {
		return "", err
	}
	pl, err := c.plan(ctx, tg, t)
	if err != nil {
		return "", err
	}
	r := pl.r
	body := corpus.Body(r, person(pl.leader), signature(pl.sender), pl.topic)
	msg := mailmsg.Message{
		From:      mailmsg.FormatAddress(pl.sender.Name, pl.sender.Email),
		To:        []string{mailmsg.FormatAddress(pl.leader.Name, pl.leader.Email)},
		Subject:   pl.subject,
		Date:      c.cfg.Now(),
		MessageID: messageID(pl.tag, domainOf(pl.sender.Email), c.cfg.Now()),
		Mailer:    pick(r, []string{"Microsoft Outlook 16.0", "Mozilla Thunderbird"}),
	}
	rcpts := []string{pl.leader.Email}
	if pl.clerk != nil {
		msg.Cc = []string{mailmsg.FormatAddress("Văn thư", pl.clerk.Email)}
		rcpts = append(rcpts, pl.clerk.Email)
	}
	switch store {
	case contract.StoreInbox:
		msg.Text = withFlag(r, body, flag)
		err = c.sendSMTP(ctx, tg, r, pl.sender.Email, rcpts, msg.Render())
	case contract.StoreAttachments:
		msg.Text = body
		msg.Attachments = []mailmsg.Attachment{attachmentFor(r, flag, pl.sender.Agency)}
		err = c.sendSMTP(ctx, tg, r, pl.sender.Email, rcpts, msg.Render())
	case contract.StoreDrafts:
		// The leader drafts a reply in Thunderbird, which saves it over
		// IMAP.
		msg.From = mailmsg.FormatAddress(pl.leader.Name, pl.leader.Email)
		msg.To = []string{mailmsg.FormatAddress(pl.sender.Name, pl.sender.Email)}
		msg.Cc = nil
		msg.Subject = "Re: " + pl.subject
		msg.MessageID = messageID(pl.tag, domainOf(pl.leader.Email), c.cfg.Now())
		msg.Mailer = "Mozilla Thunderbird"
		msg.Extra = [][2]string{{"X-Mozilla-Draft-Info", "internal/draft; vcard=0; receipt=0; DSN=0; uuencode=0"}}
		msg.Text = withFlag(r, corpus.Body(r, person(pl.sender), signature(pl.leader), pl.topic), flag)
		err = c.appendDraft(ctx, tg, pl, msg.Render())
	}
	if err != nil {
		return "", err
	}
	return pl.leader.Email, nil
}

func (c *Checker) appendDraft(ctx context.Context, tg target, pl plan, raw []byte) error {
	s, err := c.imapLogin(ctx, tg, pl.leader.Email)
	if err != nil {
		return err
	}
	defer s.close()
	c.tasks.Pause(ctx, pl.r)
	cmd := s.Append("Drafts", int64(len(raw)), &imap.AppendOptions{Flags: []imap.Flag{imap.FlagDraft, imap.FlagSeen}})
	if _, err := cmd.Write(raw); err != nil {
		return taskrun.Failed("IMAP APPEND", err)
	}
	if err := cmd.Close(); err != nil {
		return taskrun.Failed("IMAP APPEND", err)
	}
	if _, err := cmd.Wait(); err != nil {
		return imapFailed("IMAP APPEND", err)
	}
	return nil
}

func (c *Checker) getFlag(ctx context.Context, tg target, t checks.Task) error {
	store, err := taskrun.Store(t, contract.Stores())
	if err != nil {
		return err
	}
	flag, err := taskrun.Flag(t)
	if err != nil {
		return err
	}
	pl, err := c.plan(ctx, tg, t)
	if err != nil {
		return err
	}
	switch store {
	case contract.StoreInbox:
		// The leader reads the message in a mail client.
		s, err := c.imapLogin(ctx, tg, pl.leader.Email)
		if err != nil {
			return err
		}
		defer s.close()
		uids, err := s.findByTag("INBOX", pl.tag)
		if err != nil {
			return err
		}
		if len(uids) == 0 {
			return taskrun.Mumble("flag message not found in INBOX")
		}
		c.tasks.Pause(ctx, pl.r)
		raw, err := s.fetchRaw(uids[0])
		if err != nil {
			return err
		}
		if !containsFlag(mailmsg.Parse(raw).Text, flag) {
			return taskrun.Mumble("flag message in INBOX does not hold the flag")
		}
		return nil
	case contract.StoreDrafts:
		// The leader opens the draft in the webmail.
		wc, err := c.webLogin(ctx, tg, pl.r, pl.leader.Email)
		if err != nil {
			return err
		}
		defer wc.Close()
		c.tasks.Pause(ctx, pl.r)
		m, err := webFind(ctx, wc, "Drafts", pl.tag)
		if err != nil {
			return err
		}
		if !containsFlag(m.Text, flag) {
			return taskrun.Mumble("draft does not hold the flag")
		}
		return nil
	default:
		// The leader downloads the attached list from the webmail.
		wc, err := c.webLogin(ctx, tg, pl.r, pl.leader.Email)
		if err != nil {
			return err
		}
		defer wc.Close()
		m, err := webFind(ctx, wc, "INBOX", pl.tag)
		if err != nil {
			return err
		}
		if len(m.Attachments) == 0 {
			return taskrun.Mumble("flag message has no attachment")
		}
		c.tasks.Pause(ctx, pl.r)
		data, err := wc.Download(ctx, m.ID, m.Attachments[0].Name)
		if err != nil {
			return taskrun.Failed("attachment download", err)
		}
		if !containsFlag(string(data), flag) {
			return taskrun.Mumble("attachment does not hold the flag")
		}
		return nil
	}
}
