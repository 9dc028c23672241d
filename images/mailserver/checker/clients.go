package checker

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/cyrange/cyrange/images/mailserver/corpus"
	"github.com/cyrange/cyrange/images/mailserver/webclient"
	"github.com/cyrange/cyrange/images/target/taskrun"
)

// directoryTTL is how long the public directory of a replica is trusted:
// users do not look up addresses for every message either.
const directoryTTL = 10 * time.Minute

type dirEntry struct {
	contacts []webclient.Contact
	at       time.Time
}

// province is what the checker knows of a replica: who is in its public
// contact directory.
type province struct {
	leaders []webclient.Contact // the provincial leadership, who get the flags
	clerk   *webclient.Contact  // the provincial office's clerk, copied on the leaders' mail
	staff   []webclient.Contact // everybody else listed: heads of agencies and clerks
}

func (c *Checker) province(ctx context.Context, tg target) (province, error) {
	c.mu.Lock()
	e, ok := c.dirs[tg.host]
	c.mu.Unlock()
	if !ok || c.cfg.Now().Sub(e.at) > directoryTTL {
		wc := webclient.New(tg.http, c.cfg.Dialer)
		defer wc.Close()
		contacts, err := wc.Directory(ctx)
		if err != nil {
			return province{}, taskrun.Failed("contact directory", err)
		}
		e = dirEntry{contacts: contacts, at: c.cfg.Now()}
		c.mu.Lock()
		c.dirs[tg.host] = e
		c.mu.Unlock()
	}
	var p province
	for i, ct := range e.contacts {
		switch {
		case strings.Contains(ct.Title, "Chủ tịch UBND tỉnh"):
			p.leaders = append(p.leaders, ct)
		case strings.HasPrefix(ct.Email, "vanthu.vpubnd@"):
			p.clerk = &e.contacts[i]
			p.staff = append(p.staff, ct)
		default:
			p.staff = append(p.staff, ct)
		}
	}
	if len(p.leaders) == 0 || len(p.staff) < 2 {
		return province{}, taskrun.Mumble("contact directory lists no leadership")
	}
	return p, nil
}

func pick[T any](r *rand.Rand, list []T) T { return list[r.IntN(len(list))] }

// other picks a contact of list that is not not.
func other(r *rand.Rand, list []webclient.Contact, not string) webclient.Contact {
	for range 20 {
		if ct := pick(r, list); ct.Email != not {
			return ct
		}
	}
	return list[0]
}

func person(ct webclient.Contact) corpus.Person { return corpus.ParsePerson(ct.Name) }

func signature(ct webclient.Contact) corpus.Signature {
	return corpus.Signature{Name: ct.Name, Title: ct.Title, Agency: ct.Agency, Phone: ct.Phone}
}

// agencyCode is the agency part of an address ("stttt" in hungnv.stttt@).
func agencyCode(addr string) string {
	local, _, _ := strings.Cut(addr, "@")
	if _, code, ok := strings.Cut(local, "."); ok {
		return code
	}
	return "ubnd"
}

// ctxConn closes its connection when the task's context ends, so that a
// stalled server cannot hold a task past its deadline.
type ctxConn struct {
	net.Conn
	stop func() bool
}

func (c *ctxConn) Close() error {
	c.stop()
	return c.Conn.Close()
}

func (c *Checker) dial(ctx context.Context, addr string) (net.Conn, error) {
	conn, err := c.cfg.Dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	return &ctxConn{Conn: conn, stop: context.AfterFunc(ctx, func() { _ = conn.Close() })}, nil
}

// sendSMTP submits raw as from, authenticated with from's master password,
// as a mail client in the province's offices does.
func (c *Checker) sendSMTP(ctx context.Context, tg target, r *rand.Rand, from string, rcpts []string, raw []byte) error {
	conn, err := c.dial(ctx, tg.smtp)
	if err != nil {
		return taskrun.Failed("SMTP connect", err)
	}
	sc := smtp.NewClient(conn)
	defer sc.Close()
	if err := sc.Hello(corpus.Workstation(r, agencyCode(from))); err != nil {
		return taskrun.Failed("SMTP EHLO", err)
	}
	if !sc.SupportsAuth(sasl.Plain) || !sc.SupportsAuth(sasl.Login) {
		return taskrun.Mumble("SMTP server does not offer AUTH PLAIN and LOGIN")
	}
	var auth sasl.Client
	if r.IntN(3) == 0 {
		auth = sasl.NewPlainClient("", from, c.master(tg, from))
	} else {
		auth = sasl.NewLoginClient(from, c.master(tg, from))
	}
	if err := sc.Auth(auth); err != nil {
		return smtpFailed("SMTP login", err)
	}
	if err := sc.Mail(from, nil); err != nil {
		return smtpFailed("SMTP MAIL FROM", err)
	}
	for _, to := range rcpts {
		if err := sc.Rcpt(to, nil); err != nil {
			return smtpFailed("SMTP RCPT TO", err)
		}
	}
	w, err := sc.Data()
	if err != nil {
		return smtpFailed("SMTP DATA", err)
	}
	if _, err := w.Write(raw); err != nil {
		return taskrun.Failed("SMTP DATA", err)
	}
	if err := w.Close(); err != nil {
		return smtpFailed("SMTP message", err)
	}
	_ = sc.Quit()
	return nil
}

// smtpFailed reports a refusal by the server as MUMBLE, with its code.
func smtpFailed(step string, err error) error {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return taskrun.Mumble("%s refused (%d)", step, se.Code)
	}
	return taskrun.Failed(step, err)
}

// imapSession is an IMAP connection logged in as one user.
type imapSession struct {
	*imapclient.Client
}

func (c *Checker) imapLogin(ctx context.Context, tg target, user string) (*imapSession, error) {
	conn, err := c.dial(ctx, tg.imap)
	if err != nil {
		return nil, taskrun.Failed("IMAP connect", err)
	}
	ic := imapclient.New(conn, nil)
	if err := ic.WaitGreeting(); err != nil {
		_ = ic.Close()
		return nil, taskrun.Failed("IMAP greeting", err)
	}
	if err := ic.Login(user, c.master(tg, user)).Wait(); err != nil {
		_ = ic.Close()
		return nil, imapFailed("IMAP login", err)
	}
	return &imapSession{Client: ic}, nil
}

func (s *imapSession) close() {
	_ = s.Logout().Wait()
	_ = s.Close()
}

// imapFailed reports a NO or BAD from the server as MUMBLE.
func imapFailed(step string, err error) error {
	var ie *imap.Error
	if errors.As(err, &ie) {
		return taskrun.Mumble("%s refused (%s)", step, ie.Type)
	}
	return taskrun.Failed(step, err)
}

// findByTag returns the UIDs of folder's messages whose Message-ID holds tag.
func (s *imapSession) findByTag(folder, tag string) ([]imap.UID, error) {
	if _, err := s.Select(folder, nil).Wait(); err != nil {
		return nil, imapFailed("IMAP SELECT "+folder, err)
	}
	res, err := s.UIDSearch(&imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Message-ID", Value: tag}}}, nil).Wait()
	if err != nil {
		return nil, imapFailed("IMAP SEARCH "+folder, err)
	}
	return res.AllUIDs(), nil
}

// fetchRaw fetches the whole message uid, marking it read as a user's
// client does.
func (s *imapSession) fetchRaw(uid imap.UID) ([]byte, error) {
	section := &imap.FetchItemBodySection{}
	msgs, err := s.Fetch(imap.UIDSetNum(uid), &imap.FetchOptions{Envelope: true, Flags: true, BodySection: []*imap.FetchItemBodySection{section}}).Collect()
	if err != nil {
		return nil, imapFailed("IMAP FETCH", err)
	}
	if len(msgs) != 1 {
		return nil, taskrun.Mumble("IMAP FETCH returned %d messages for one UID", len(msgs))
	}
	return msgs[0].FindBodySection(section), nil
}

// webLogin opens a webmail session as user, through the login form or the
// API as the browser's page would.
func (c *Checker) webLogin(ctx context.Context, tg target, r *rand.Rand, user string) (*webclient.Client, error) {
	wc := webclient.New(tg.http, c.cfg.Dialer)
	wc.UserAgent = corpus.UserAgent(r)
	var err error
	if r.IntN(2) == 0 {
		err = wc.LoginForm(ctx, user, c.master(tg, user))
	} else {
		err = wc.Login(ctx, user, c.master(tg, user))
	}
	if err != nil {
		wc.Close()
		if errors.Is(err, webclient.ErrUnauthorized) || errors.Is(err, webclient.ErrLocked) {
			return nil, taskrun.Mumble("webmail login refused")
		}
		return nil, taskrun.Failed("webmail login", err)
	}
	return wc, nil
}

// webFind finds the message of folder whose Message-ID holds tag.
func webFind(ctx context.Context, wc *webclient.Client, folder, tag string) (webclient.Message, error) {
	l, err := wc.Messages(ctx, folder, tag, 1)
	if err != nil {
		return webclient.Message{}, taskrun.Failed("webmail listing", err)
	}
	for _, s := range l.Messages {
		if strings.Contains(s.MessageID, tag) {
			m, err := wc.Message(ctx, s.ID)
			if err != nil {
				return webclient.Message{}, taskrun.Failed("webmail message", err)
			}
			return m, nil
		}
	}
	return webclient.Message{}, taskrun.Mumble("message not found in %s", folder)
}

func messageID(tag, domain string, now time.Time) string {
	return fmt.Sprintf("%d.%s@%s", now.UnixMilli(), tag, domain)
}

func domainOf(addr string) string {
	_, d, _ := strings.Cut(addr, "@")
	return d
}
