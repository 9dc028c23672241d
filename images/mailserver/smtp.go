package mailserver

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/cyrange/cyrange/images/mailserver/mailmsg"
	"github.com/cyrange/cyrange/internal/firewall"
)

// dataChunk is how much of a message body is taken from the in-flight
// budget at a time.
const dataChunk = 64 << 10

// smtpBackend makes a session per SMTP connection.
type smtpBackend struct{ srv *Server }

func (be smtpBackend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	src := c.Conn().RemoteAddr()
	be.srv.event("smtp", "connect", src.String(), "", "connection")
	return &smtpSession{srv: be.srv, conn: c, src: src.String(), ip: firewall.SourceOf(src)}, nil
}

type smtpSession struct {
	srv  *Server
	conn *smtp.Conn
	src  string
	ip   netip.Addr

	user   *Account
	master bool // logged in with the checker's master password
	from   string
	rcpts  []*Account
	relay  []string
}

var (
	errNotLoggedIn = &smtp.SMTPError{Code: 553, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "Sender address rejected: not logged in"}
	errNotOwned    = &smtp.SMTPError{Code: 553, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "Sender address rejected: not owned by user"}
	errRelay       = &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "Relay access denied"}
	errTooMany     = &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 5, 3}, Message: "Too many recipients"}
	// Quotas (RFC 3463): a full mailbox is refused at RCPT for now (452)
	// and a message that does not fit in it at DATA (552); a full server
	// or sender is refused for now (452) wherever it is noticed.
	errRcptMailboxFull = &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 2, 2}, Message: "Mailbox full"}
	errDataMailboxFull = &smtp.SMTPError{Code: 552, EnhancedCode: smtp.EnhancedCode{5, 2, 2}, Message: "Mailbox full"}
	errSMTPStorage     = &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 3, 1}, Message: "Insufficient system storage"}
	errSMTPTooBig      = &smtp.SMTPError{Code: 552, EnhancedCode: smtp.EnhancedCode{5, 3, 4}, Message: "Message size exceeds fixed limit"}
)

// quotaError turns a refusal of the store into its SMTP reply; atRcpt says
// whether the message's size is still unknown.
func quotaError(err error, atRcpt bool) error {
	switch {
	case errors.Is(err, errMailboxFull) && atRcpt:
		return errRcptMailboxFull
	case errors.Is(err, errMailboxFull):
		return errDataMailboxFull
	}
	return errSMTPStorage
}

func userUnknown(addr string) error {
	return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: fmt.Sprintf("<%s>: Recipient address rejected: User unknown in local recipient table", addr)}
}

func (s *smtpSession) AuthMechanisms() []string { return []string{sasl.Plain, sasl.Login} }

func (s *smtpSession) Auth(mech string) (sasl.Server, error) {
	check := func(username, password string) error {
		acct, _ := s.srv.dir.Lookup(username)
		g, res := s.srv.sec.login(acct, username, password, s.ip)
		user := username
		if acct != nil {
			user = acct.Addr
		}
		if res != loginOK {
			s.srv.warn("smtp", "auth", s.src, user, "authentication failed", "mech", mech, "result", res.String())
			return smtp.ErrAuthFailed
		}
		if err := s.srv.live.bind("smtp", s.src, g); err != nil {
			s.srv.warn("smtp", "auth", s.src, user, "authentication failed", "mech", mech, "result", err.Error())
			return smtp.ErrAuthFailed
		}
		s.user, s.master = acct, g.master
		s.srv.event("smtp", "auth", s.src, user, "authenticated", "mech", mech)
		return nil
	}
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(identity, username, password string) error {
			if identity != "" && identity != username {
				return smtp.ErrAuthFailed
			}
			return check(username, password)
		}), nil
	case sasl.Login:
		return &loginServer{check: check}, nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

// writer is who this session stores mail as.
func (s *smtpSession) writer() writer { return writer{system: s.master, src: s.ip} }

func (s *smtpSession) Mail(from string, opts *smtp.MailOptions) error {
	if opts != nil && opts.Size > 0 && !s.master && opts.Size > s.srv.store.room(s.writer()) {
		s.srv.warn("smtp", "mail_from", s.src, s.userAddr(), "sender refused: storage", "from", from, "size", opts.Size)
		return errSMTPStorage
	}
	if s.srv.dir.Local(from) {
		acct, _ := s.srv.dir.Lookup(from)
		switch {
		case s.user == nil:
			s.srv.warn("smtp", "mail_from", s.src, "", "sender rejected", "from", from, "reason", "not logged in")
			return errNotLoggedIn
		case acct != s.user:
			s.srv.warn("smtp", "mail_from", s.src, s.user.Addr, "sender rejected", "from", from, "reason", "not owned")
			return errNotOwned
		}
	}
	s.from = from
	s.srv.event("smtp", "mail_from", s.src, s.userAddr(), "sender", "from", from)
	return nil
}

func (s *smtpSession) userAddr() string {
	if s.user == nil {
		return ""
	}
	return s.user.Addr
}

func (s *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if len(s.rcpts)+len(s.relay) >= 100 {
		return errTooMany
	}
	if !s.srv.dir.Local(to) {
		if s.user == nil {
			s.srv.warn("smtp", "rcpt", s.src, "", "relay denied", "to", to)
			return errRelay
		}
		s.relay = append(s.relay, to)
		s.srv.event("smtp", "rcpt", s.src, s.userAddr(), "remote recipient", "to", to)
		return nil
	}
	accts, ok := s.srv.expand(to)
	if !ok {
		s.srv.warn("smtp", "rcpt", s.src, s.userAddr(), "unknown recipient", "to", to)
		return userUnknown(to)
	}
	for _, a := range accts {
		if err := s.srv.store.admits(s.writer(), a); err != nil {
			s.srv.warn("smtp", "rcpt", s.src, s.userAddr(), "recipient refused: quota", "to", to, "reason", err.Error())
			return quotaError(err, true)
		}
	}
	s.rcpts = append(s.rcpts, accts...)
	s.srv.event("smtp", "rcpt", s.src, s.userAddr(), "recipient", "to", to)
	return nil
}

func (s *smtpSession) Data(r io.Reader) error {
	with := "ESMTP"
	if s.user != nil {
		with = "ESMTPA"
	}
	received := fmt.Sprintf("Received: from %s (%s)\r\n\tby %s (VNMail) with %s;\r\n\t%s\r\n",
		s.conn.Hostname(), s.src, s.srv.hostname, with, s.srv.now().Format("Mon, 02 Jan 2006 15:04:05 -0700"))
	raw, err := s.readBody(r, received)
	if err != nil {
		s.srv.warn("smtp", "deliver", s.src, s.userAddr(), "message refused", "from", s.from, "reason", err.Error())
		return err
	}
	ids, to, err := s.srv.deliverAll(s.rcpts, raw, s.writer())
	if err != nil {
		s.srv.warn("smtp", "deliver", s.src, s.userAddr(), "message refused: quota", "from", s.from, "size", len(raw)-len(received), "reason", err.Error())
		return quotaError(err, false)
	}
	s.srv.event("smtp", "deliver", s.src, s.userAddr(), "message delivered",
		"from", s.from, "to", to, "ids", ids, "size", len(raw)-len(received), "remote", s.relay)
	return nil
}

// readBody reads a message body after head, taking what it holds from the
// in-flight budget chunk by chunk, so that many large messages arriving at
// once are refused (452) instead of exhausting the memory, and stopping as
// soon as the quotas could not take it. The checker has a budget of its
// own.
func (s *smtpSession) readBody(r io.Reader, head string) ([]byte, error) {
	rcpts := s.srv.recipients(s.rcpts)
	pool, src := s.srv.inflight, s.writer().source()
	if s.master {
		pool = s.srv.sysInflight
	}
	var chunks [][]byte
	var held int64
	defer func() { pool.give(src, held) }()
	size := 0
	for {
		if !pool.take(src, dataChunk) {
			return nil, errSMTPStorage
		}
		held += dataChunk
		buf := make([]byte, dataChunk)
		n, err := io.ReadFull(r, buf)
		chunks = append(chunks, buf[:n])
		size += n
		if size > int(s.srv.store.limits.MessageBytes) {
			return nil, errSMTPTooBig
		}
		if err := s.srv.store.fits(s.writer(), rcpts, costOf(len(head)+size)); err != nil {
			return nil, quotaError(err, false)
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	raw := make([]byte, 0, len(head)+size)
	raw = append(raw, head...)
	for _, c := range chunks {
		raw = append(raw, c...)
	}
	return raw, nil
}

func (s *smtpSession) Reset() {
	s.from, s.rcpts, s.relay = "", nil, nil
}

func (s *smtpSession) Logout() error {
	s.srv.event("smtp", "disconnect", s.src, s.userAddr(), "connection closed")
	return nil
}

// loginServer is the server side of the LOGIN mechanism, which go-sasl only
// has a client for. Outlook and most office software still use it.
type loginServer struct {
	check    func(user, pass string) error
	step     int
	username string
}

func (l *loginServer) Next(response []byte) ([]byte, bool, error) {
	switch l.step {
	case 0:
		l.step = 1
		if response == nil {
			return []byte("Username:"), false, nil
		}
		fallthrough
	case 1:
		l.username = string(response)
		l.step = 2
		return []byte("Password:"), false, nil
	case 2:
		l.step = 3
		return nil, true, l.check(l.username, string(response))
	}
	return nil, true, errors.New("unexpected client response")
}

// smtpConn sits between the network and go-smtp, which answers VRFY with a
// fixed 252 and EXPN with 502: it answers those two commands itself, as
// the province's server does, and passes everything else through. It tracks
// DATA and BDAT so that message text is never taken for a command.
type smtpConn struct {
	net.Conn
	srv *Server
	br  *bufio.Reader

	mu       sync.Mutex
	pending  []byte
	inData   bool
	midLine  bool
	rawLeft  int64
	wantData bool
}

func newSMTPConn(c net.Conn, srv *Server) *smtpConn {
	return &smtpConn{Conn: c, srv: srv, br: bufio.NewReaderSize(c, 4096)}
}

func (c *smtpConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	if c.wantData && bytes.HasPrefix(p, []byte("354")) {
		c.inData = true
	}
	c.wantData = false
	c.mu.Unlock()
	return c.Conn.Write(p)
}

func (c *smtpConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.pending) > 0 {
		n := copy(p, c.pending)
		c.pending = c.pending[n:]
		return n, nil
	}
	if c.rawLeft > 0 {
		c.mu.Unlock()
		n, err := c.br.Read(p[:min(int64(len(p)), c.rawLeft)])
		c.mu.Lock()
		c.rawLeft -= int64(n)
		return n, err
	}
	for {
		c.mu.Unlock()
		line, err := c.br.ReadSlice('\n')
		c.mu.Lock()
		if len(line) == 0 {
			return 0, err
		}
		full := err == nil // a whole line, ending in LF
		if !c.inData && !c.midLine && full && c.intercept(line) {
			continue
		}
		c.observe(line, full)
		n := copy(p, line)
		c.pending = append(c.pending[:0], line[n:]...)
		if errors.Is(err, bufio.ErrBufferFull) || len(c.pending) > 0 {
			err = nil // the rest comes with the next Read
		}
		return n, err
	}
}

// observe follows the protocol state from a line passed to go-smtp.
func (c *smtpConn) observe(line []byte, complete bool) {
	startOfLine := !c.midLine
	c.midLine = !complete
	if !startOfLine {
		return
	}
	if c.inData {
		if string(line) == ".\r\n" || string(line) == ".\n" {
			c.inData = false
		}
		return
	}
	verb, arg := splitCommand(line)
	switch verb {
	case "DATA":
		c.wantData = true
	case "BDAT":
		if size, ok := bdatSize(arg); ok {
			c.rawLeft = size
		}
	}
}

// intercept answers VRFY and EXPN; it reports whether it consumed the line.
func (c *smtpConn) intercept(line []byte) bool {
	verb, arg := splitCommand(line)
	if verb != "VRFY" && verb != "EXPN" {
		return false
	}
	reply := c.srv.verify(verb, arg, c.RemoteAddr().String())
	_, _ = c.Conn.Write([]byte(reply))
	return true
}

func splitCommand(line []byte) (verb, arg string) {
	s := strings.TrimRight(string(line), "\r\n")
	verb, arg, _ = strings.Cut(s, " ")
	return strings.ToUpper(verb), strings.TrimSpace(arg)
}

// bdatSize reads a BDAT argument the way go-smtp does, so that both agree
// on how many bytes of chunk follow.
func bdatSize(arg string) (int64, bool) {
	f := strings.Fields(arg)
	if len(f) == 0 || len(f) > 2 || len(f) == 2 && !strings.EqualFold(f[1], "LAST") {
		return 0, false
	}
	n, err := strconv.ParseUint(f[0], 10, 32)
	if err != nil {
		return 0, false
	}
	return int64(n), true
}

// verify answers VRFY or EXPN for arg, as configured, and logs it: these
// are the commands a defender looks for when someone enumerates users.
func (s *Server) verify(verb, arg, src string) string {
	target := strings.Trim(strings.TrimSpace(arg), "<>")
	action := strings.ToLower(verb)
	if !s.sec.get().VRFY {
		s.warn("smtp", action, src, "", verb+" refused", "target", target)
		if verb == "VRFY" {
			return "502 5.5.1 VRFY command is disabled\r\n"
		}
		return "502 5.5.2 Error: command not recognized\r\n"
	}
	if target == "" {
		return "501 5.5.4 Syntax: " + verb + " address\r\n"
	}
	accts, ok := s.expand(target)
	if !ok {
		s.warn("smtp", action, src, "", verb+" unknown user", "target", target)
		return fmt.Sprintf("550 5.1.1 <%s>: Recipient address rejected: User unknown in local recipient table\r\n", target)
	}
	var lines []string
	for _, a := range accts {
		lines = append(lines, mailmsg.FormatAddress(a.Name(), a.Addr))
		if verb == "EXPN" && a.Forward != "" {
			lines = append(lines, "<"+a.Forward+">")
		}
	}
	if verb == "VRFY" {
		lines = lines[:1]
	}
	s.warn("smtp", action, src, "", verb+" answered", "target", target, "entries", len(lines))
	var b strings.Builder
	for i, l := range lines {
		sep := "-"
		if i == len(lines)-1 {
			sep = " "
		}
		fmt.Fprintf(&b, "250%s2.1.5 %s\r\n", sep, l)
	}
	return b.String()
}

// smtpListener wraps accepted connections in smtpConn.
type smtpListener struct {
	net.Listener
	srv *Server
}

func (l smtpListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return newSMTPConn(c, l.srv), nil
}
