package checker

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/emersion/go-imap/v2"

	"github.com/cyrange/cyrange/images/mailserver/corpus"
	"github.com/cyrange/cyrange/images/mailserver/mailmsg"
	"github.com/cyrange/cyrange/images/mailserver/webclient"
	"github.com/cyrange/cyrange/images/target/taskrun"
	"github.com/cyrange/cyrange/scoreboard/checks"
)

// note is an ordinary message between two officials: noise, and the mail
// of havoc's round trips.
type note struct {
	r        *rand.Rand
	from, to webclient.Contact
	tag      string
	subject  string
	text     string
	ref      string // a line of the text that identifies it
}

func (c *Checker) note(ctx context.Context, tg target, parts ...string) (note, error) {
	p, err := c.province(ctx, tg)
	if err != nil {
		return note{}, err
	}
	r := c.tasks.Rand(parts...)
	n := note{r: r, tag: c.tag(strings.Join(parts, "/"))}
	n.from = pick(r, p.staff)
	n.to = other(r, append(append([]webclient.Contact(nil), p.staff...), p.leaders...), n.from.Email)
	n.subject = corpus.Subject(r)
	n.ref = fmt.Sprintf("Số đến: %d, ngày %d/%d", 1000+r.IntN(9000), 1+r.IntN(28), 1+r.IntN(12))
	n.text = strings.Replace(corpus.Body(r, person(n.to), signature(n.from), ""), "\n\nTrân trọng", "\n"+n.ref+"\n\nTrân trọng", 1)
	return n, nil
}

func (c *Checker) noteMessage(n note) []byte {
	return mailmsg.Message{
		From:      mailmsg.FormatAddress(n.from.Name, n.from.Email),
		To:        []string{mailmsg.FormatAddress(n.to.Name, n.to.Email)},
		Subject:   n.subject,
		Date:      c.cfg.Now(),
		MessageID: messageID(n.tag, domainOf(n.from.Email), c.cfg.Now()),
		Mailer:    "Microsoft Outlook 16.0",
		Text:      n.text,
	}.Render()
}

func (c *Checker) putNoise(ctx context.Context, tg target, t checks.Task) error {
	n, err := c.note(ctx, tg, "noise", t.TaskChainID)
	if err != nil {
		return err
	}
	switch t.VariantID % noiseVariants {
	case 0:
		return c.sendSMTP(ctx, tg, n.r, n.from.Email, []string{n.to.Email}, c.noteMessage(n))
	default:
		wc, err := c.webLogin(ctx, tg, n.r, n.from.Email)
		if err != nil {
			return err
		}
		defer wc.Close()
		if _, err := wc.Page(ctx, "/webmail/compose"); err != nil {
			return taskrun.Failed("webmail compose", err)
		}
		c.tasks.Pause(ctx, n.r)
		_, err = wc.Send(ctx, webclient.Compose{To: []string{n.to.Email}, Subject: n.subject, Text: n.text})
		if err != nil {
			return taskrun.Failed("webmail send", err)
		}
		return nil
	}
}

func (c *Checker) getNoise(ctx context.Context, tg target, t checks.Task) error {
	n, err := c.note(ctx, tg, "noise", t.TaskChainID)
	if err != nil {
		return err
	}
	switch t.VariantID % noiseVariants {
	case 0:
		s, err := c.imapLogin(ctx, tg, n.to.Email)
		if err != nil {
			return err
		}
		defer s.close()
		uids, err := s.findByTag("INBOX", n.tag)
		if err != nil {
			return err
		}
		if len(uids) == 0 {
			return taskrun.Mumble("noise message not found in INBOX")
		}
		raw, err := s.fetchRaw(uids[0])
		if err != nil {
			return err
		}
		p := mailmsg.Parse(raw)
		if p.Subject != n.subject || !strings.Contains(p.Text, n.ref) {
			return taskrun.Mumble("noise message was altered")
		}
		return nil
	default:
		wc, err := c.webLogin(ctx, tg, n.r, n.to.Email)
		if err != nil {
			return err
		}
		defer wc.Close()
		l, err := wc.Messages(ctx, "INBOX", n.subject, 1)
		if err != nil {
			return taskrun.Failed("webmail listing", err)
		}
		for _, s := range l.Messages {
			if s.Subject != n.subject {
				continue
			}
			m, err := wc.Message(ctx, s.ID)
			if err != nil {
				return taskrun.Failed("webmail message", err)
			}
			if strings.Contains(m.Text, n.ref) {
				return nil
			}
		}
		return taskrun.Mumble("noise message not found in INBOX")
	}
}

func (c *Checker) havoc(ctx context.Context, tg target, t checks.Task) error {
	switch t.VariantID % havocVariants {
	case 0:
		return c.havocBrowse(ctx, tg, t)
	case 1:
		return c.havocRoundTrip(ctx, tg, t)
	default:
		return c.havocPublic(ctx, tg, t)
	}
}

// havocBrowse is an official going through the inbox in the webmail:
// folder list, a page of mail, a message and its attachment.
func (c *Checker) havocBrowse(ctx context.Context, tg target, t checks.Task) error {
	p, err := c.province(ctx, tg)
	if err != nil {
		return err
	}
	r := c.tasks.Rand("havoc", t.TaskChainID, fmt.Sprint(c.cfg.Now().UnixNano()))
	user := pick(r, append(append([]webclient.Contact(nil), p.staff...), p.leaders...))
	wc, err := c.webLogin(ctx, tg, r, user.Email)
	if err != nil {
		return err
	}
	defer wc.Close()
	page, err := wc.Page(ctx, "/webmail/inbox")
	if err != nil {
		return taskrun.Failed("webmail inbox page", err)
	}
	if !strings.Contains(page, user.Email) {
		return taskrun.Mumble("webmail inbox page does not show the user")
	}
	folders, err := wc.Folders(ctx)
	if err != nil {
		return taskrun.Failed("webmail folders", err)
	}
	if len(folders) < 4 || folders[0].Name != "INBOX" {
		return taskrun.Mumble("webmail folders are wrong")
	}
	l, err := wc.Messages(ctx, "INBOX", "", 1)
	if err != nil {
		return taskrun.Failed("webmail listing", err)
	}
	if l.Total == 0 {
		return taskrun.Mumble("webmail inbox is empty")
	}
	c.tasks.Pause(ctx, r)
	s := pick(r, l.Messages)
	for _, m := range l.Messages {
		if m.HasAttachments && r.IntN(2) == 0 {
			s = m
			break
		}
	}
	m, err := wc.Message(ctx, s.ID)
	if err != nil {
		return taskrun.Failed("webmail message", err)
	}
	if m.Subject != s.Subject {
		return taskrun.Mumble("webmail message does not match its listing")
	}
	if len(m.Attachments) > 0 {
		c.tasks.Pause(ctx, r)
		data, err := wc.Download(ctx, m.ID, m.Attachments[0].Name)
		if err != nil {
			return taskrun.Failed("attachment download", err)
		}
		if len(data) != m.Attachments[0].Size {
			return taskrun.Mumble("attachment has the wrong size")
		}
	}
	if err := wc.Logout(ctx); err != nil {
		return taskrun.Failed("webmail logout", err)
	}
	return nil
}

// havocRoundTrip is a message sent over SMTP and read over IMAP by its
// recipient, as two offices with desktop mail clients exchange mail.
func (c *Checker) havocRoundTrip(ctx context.Context, tg target, t checks.Task) error {
	n, err := c.note(ctx, tg, "havoc", t.TaskChainID, fmt.Sprint(c.cfg.Now().UnixNano()))
	if err != nil {
		return err
	}
	if err := c.sendSMTP(ctx, tg, n.r, n.from.Email, []string{n.to.Email}, c.noteMessage(n)); err != nil {
		return err
	}
	c.tasks.Pause(ctx, n.r)
	s, err := c.imapLogin(ctx, tg, n.to.Email)
	if err != nil {
		return err
	}
	defer s.close()
	boxes, err := s.List("", "*", nil).Collect()
	if err != nil {
		return imapFailed("IMAP LIST", err)
	}
	if len(boxes) < 4 {
		return taskrun.Mumble("IMAP LIST shows %d mailboxes", len(boxes))
	}
	st, err := s.Status("INBOX", &imap.StatusOptions{NumMessages: true, NumUnseen: true}).Wait()
	if err != nil {
		return imapFailed("IMAP STATUS", err)
	}
	if st.NumMessages == nil || *st.NumMessages == 0 {
		return taskrun.Mumble("IMAP STATUS shows an empty INBOX")
	}
	uids, err := s.findByTag("INBOX", n.tag)
	if err != nil {
		return err
	}
	if len(uids) != 1 {
		return taskrun.Mumble("message sent over SMTP not found over IMAP")
	}
	raw, err := s.fetchRaw(uids[0])
	if err != nil {
		return err
	}
	if p := mailmsg.Parse(raw); p.Subject != n.subject || !strings.Contains(p.Text, n.ref) {
		return taskrun.Mumble("message read over IMAP differs from the one sent")
	}
	return nil
}

// havocPublic is a visitor of the public pages and a mail client probing
// the servers' banners and capabilities.
func (c *Checker) havocPublic(ctx context.Context, tg target, t checks.Task) error {
	r := c.tasks.Rand("havoc", t.TaskChainID, fmt.Sprint(c.cfg.Now().UnixNano()))
	wc := webclient.New(tg.http, c.cfg.Dialer)
	wc.UserAgent = corpus.UserAgent(r)
	defer wc.Close()
	loc, err := wc.Page(ctx, "/")
	if err != nil {
		return taskrun.Failed("home page", err)
	}
	if !strings.HasPrefix(loc, "/webmail/") {
		return taskrun.Mumble("home page does not lead to the webmail")
	}
	for _, want := range []struct{ path, text string }{
		{"/webmail/login", "password"},
		{"/danhba", "@"},
		{"/huongdan", "IMAP"},
	} {
		page, err := wc.Page(ctx, want.path)
		if err != nil {
			return taskrun.Failed("page "+want.path, err)
		}
		if !strings.Contains(page, want.text) {
			return taskrun.Mumble("page %s is broken", want.path)
		}
		c.tasks.Pause(ctx, r)
	}
	p, err := c.province(ctx, tg)
	if err != nil {
		return err
	}
	user := pick(r, p.staff)
	s, err := c.imapLogin(ctx, tg, user.Email)
	if err != nil {
		return err
	}
	defer s.close()
	caps := s.Caps()
	if !caps.Has(imap.CapIMAP4rev1) {
		return taskrun.Mumble("IMAP server does not speak IMAP4rev1")
	}
	if _, err := s.Select("INBOX", &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		return imapFailed("IMAP EXAMINE", err)
	}
	return nil
}
