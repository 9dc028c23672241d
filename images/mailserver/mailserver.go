// Package mailserver is the target "mailserver": a replica of a province's
// official e-mail system, with SMTP (submission and delivery), IMAP4rev1/
// rev2, a webmail and an admin console, a generated directory of agencies and
// officials, and the planted weaknesses a scenario switches on, each with the
// remedy the defence applies from the admin console.
//
// It runs as the role `cyrange target mailserver` (RunTarget) or in-process
// (New, Start). Every action is logged as a JSON line for the defence.
// Nothing is written to disk: mail lives in memory for the life of the
// process.
//
// It must never import the scoreboard, the range, the checker or the
// exploits: those talk to it over the network only.
package mailserver

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-smtp"

	"github.com/cyrange/cyrange/images/flow"
	"github.com/cyrange/cyrange/images/mailserver/contract"
	"github.com/cyrange/cyrange/images/mailserver/corpus"
	"github.com/cyrange/cyrange/internal/firewall"
)

// DefaultDomain is the fictional province's mail domain.
const DefaultDomain = "lachong.gov.vn"

// Config configures a Server. Zero ports mean "any free port".
type Config struct {
	Listen    string // host to bind; empty means all interfaces
	SMTPPort  int
	IMAPPort  int
	HTTPPort  int
	AdminPort int

	Accounts   int    // size of the directory (default 1200)
	Seed       uint64 // the same seed gives the same province
	Domain     string // default DefaultDomain
	Province   string // the province's written name; default from the domain
	Weaknesses map[string]bool

	// AdminAllow lists the sources allowed on the admin port; empty allows
	// any (the range's networks then do the restricting).
	AdminAllow []netip.Prefix
	// CheckerSecret enables the checker's per-mailbox master passwords.
	CheckerSecret string
	// Replica is this replica's name in the game (the plan's
	// "<service>.<owner>"), part of every master password, so that one
	// learned on a replica opens nothing on another.
	Replica string
	// OperatorPassword is the defence's console password; empty makes a
	// random one (see Server.OperatorPassword).
	OperatorPassword string
	// PortalMailPassword is the password of the portal's system mailbox
	// (PortalMailbox), as the portal replica beside this one knows it;
	// empty makes a random one.
	PortalMailPassword string
	// Limits bound the mail held in memory; zero fields take
	// DefaultLimits.
	Limits Limits

	Logger *slog.Logger
	Now    func() time.Time
	// Flows records every connection the ports accept (the range's ground
	// truth for traffic that bypasses the gateways); nil records none.
	Flows *flow.Recorder
}

// Server is a running (or ready to run) mail server.
type Server struct {
	cfg      Config
	log      *slog.Logger
	now      func() time.Time
	hostname string
	dir      *Directory
	store    *store
	sec      *security
	initial  string // the initial password printed in the users' guide
	operator string

	webSessions   *sessions
	adminSessions *sessions
	live          *liveConns
	inflight      *budget // message bodies being received from others than the checker
	sysInflight   *budget // and from the checker

	mu      sync.Mutex
	started bool
	closed  bool
	lns     []net.Listener
	smtpSrv *smtp.Server
	imapSrv *imapserver.Server
	httpSrv []*http.Server
	done    chan struct{}
	wg      sync.WaitGroup
}

// New builds the province: directory, passwords, remedies as the weaknesses
// say. It does not listen yet.
func New(cfg Config) (*Server, error) {
	if cfg.Accounts == 0 {
		cfg.Accounts = 1200
	}
	if cfg.Domain == "" {
		cfg.Domain = DefaultDomain
	}
	cfg.Domain = strings.ToLower(cfg.Domain)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Weaknesses == nil {
		cfg.Weaknesses = map[string]bool{}
	}
	for w := range cfg.Weaknesses {
		if _, err := contract.ParseWeaknesses(w); err != nil {
			return nil, fmt.Errorf("mailserver: %w", err)
		}
	}
	dir, err := newDirectory(rand.New(rand.NewPCG(cfg.Seed, 0x6469726563746f72)), cfg.Domain, cfg.Accounts)
	if err != nil {
		return nil, err
	}
	if cfg.Province != "" {
		dir.Province = cfg.Province
		dir.Agencies[0].Name = "UBND tỉnh " + cfg.Province
	}
	s := &Server{
		cfg:           cfg,
		log:           cfg.Logger,
		now:           cfg.Now,
		hostname:      "mail." + cfg.Domain,
		dir:           dir,
		initial:       strings.ToUpper(dir.ProvinceWord[:1]) + dir.ProvinceWord[1:] + "@123",
		operator:      cfg.OperatorPassword,
		webSessions:   newSessions(cfg.Now, "VNMAILSESSID"),
		adminSessions: newSessions(cfg.Now, "VNMAILADMIN"),
		done:          make(chan struct{}),
	}
	if s.operator == "" {
		s.operator = randomPassword()
	}
	s.store = newStore(dir, newTraffic(dir, cfg.Seed), cfg.Now, cfg.Limits)
	s.inflight = newBudget(s.store.limits.InflightBytes, s.inflightShare())
	s.sysInflight = newBudget(s.sysInflightBytes(), 0)
	s.sec = &security{
		now:       cfg.Now,
		secret:    cfg.CheckerSecret,
		replica:   cfg.Replica,
		creds:     make([]cred, len(dir.Accounts)),
		gens:      make([]uint64, len(dir.Accounts)),
		admins:    make(map[string]cred),
		adminGens: make(map[string]uint64),
		fails:     newFailTable(),
		settings: Settings{
			VRFY:             cfg.Weaknesses[contract.SMTPVrfy],
			Lockout:          !cfg.Weaknesses[contract.NoLockout],
			LockThreshold:    5,
			LockWindow:       15 * time.Minute,
			LockDuration:     15 * time.Minute,
			IDORPatched:      !cfg.Weaknesses[contract.WebmailIDOR],
			TraversalPatched: !cfg.Weaknesses[contract.PathTraversal],
			AdminOnWebmail:   true,
		},
	}
	s.live = newLiveConns(func(a netip.Addr) bool { return !s.sec.blocked(a) }, s.sec.valid)
	s.webSessions.valid = s.sec.valid
	s.adminSessions.valid = s.sec.valid
	s.setPasswords(rand.New(rand.NewPCG(cfg.Seed, 0x70617373776f7264)))
	adminPassword := randomPassword()
	if cfg.Weaknesses[contract.AdminDefaultPassword] {
		adminPassword = DefaultAdminPassword
	}
	s.sec.admins[AdminUser] = newCred(adminPassword)
	s.sec.admins[OperatorUser] = newCred(s.operator)
	return s, nil
}

// setPasswords gives every account its password. Most are random; the
// exceptions are the province's real-life ones: leaders who picked an
// obvious password (weak_password), the office clerk whose password is in
// every wordlist (reachable by brute force without lockout), the leaders'
// secretaries and some commune clerks who never changed the initial
// password from the users' guide.
func (s *Server) setPasswords(r *rand.Rand) {
	for i := range s.dir.Accounts {
		s.sec.creds[i] = newCred(randomPassword())
	}
	footholds := 0
	for _, a := range s.dir.Agencies {
		if a.Kind == KindCommune && a.Clerk != nil && (r.IntN(100) < 15 || footholds < 3) {
			s.sec.creds[a.Clerk.Index] = newCred(s.initial)
			footholds++
		}
	}
	for _, l := range s.dir.Leaders {
		if s.cfg.Weaknesses[contract.WeakPassword] {
			obvious := corpus.ObviousPasswords(l.Local, s.dir.ProvinceWord)
			s.sec.creds[l.Index] = newCred(obvious[r.IntN(len(obvious))])
		}
		if sec, ok := s.dir.Lookup(l.Forward); ok {
			s.sec.creds[sec.Index] = newCred(s.initial)
		}
	}
	if p := s.dir.Portal; p != nil && s.cfg.PortalMailPassword != "" {
		s.sec.creds[p.Index] = newCred(s.cfg.PortalMailPassword)
	}
	if clerk, ok := s.dir.Lookup("vanthu.vpubnd"); ok {
		words := corpus.CommonPasswords()
		s.sec.creds[clerk.Index] = newCred(words[80+r.IntN(min(200, len(words)-80))])
	}
}

// Domain is the mail domain.
func (s *Server) Domain() string { return s.dir.Domain }

// OperatorPassword is the defence's admin console password.
func (s *Server) OperatorPassword() string { return s.operator }

// InitialPassword is the password new accounts get, as the public users'
// guide says.
func (s *Server) InitialPassword() string { return s.initial }

// Start listens on the four ports and serves until ctx is done or Close is
// called. It returns once every port is listening.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return errors.New("mailserver: already started")
	}
	s.started = true
	var lc net.ListenConfig
	listen := func(port int) (net.Listener, error) {
		ln, err := lc.Listen(ctx, "tcp", net.JoinHostPort(s.cfg.Listen, strconv.Itoa(port)))
		if err != nil {
			return nil, fmt.Errorf("mailserver: listen: %w", err)
		}
		ln = s.cfg.Flows.Listen(ln)
		s.lns = append(s.lns, ln)
		return ln, nil
	}
	ports := []int{s.cfg.SMTPPort, s.cfg.IMAPPort, s.cfg.HTTPPort, s.cfg.AdminPort}
	raw := make([]net.Listener, len(ports))
	for i, p := range ports {
		ln, err := listen(p)
		if err != nil {
			for _, l := range s.lns {
				_ = l.Close()
			}
			return err
		}
		raw[i] = ln
	}
	blocked := func(proto string) func(net.Conn) {
		return func(c net.Conn) {
			s.warn(proto, "blocked", c.RemoteAddr().String(), "", "connection refused by firewall rule")
		}
	}
	adminOpen := func(a netip.Addr) bool {
		return len(s.cfg.AdminAllow) == 0 || firewall.Contains(s.cfg.AdminAllow, a)
	}

	s.smtpSrv = smtp.NewServer(smtpBackend{srv: s})
	s.smtpSrv.Domain = s.hostname
	s.smtpSrv.AllowInsecureAuth = true
	s.smtpSrv.MaxMessageBytes = s.store.limits.MessageBytes
	s.smtpSrv.MaxRecipients = 100
	s.smtpSrv.ReadTimeout = 5 * time.Minute
	s.smtpSrv.WriteTimeout = time.Minute
	s.smtpSrv.ErrorLog = s.libLog("smtp")

	s.imapSrv = imapserver.New(&imapserver.Options{
		NewSession:   s.newIMAPSession,
		Caps:         imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapIMAP4rev2: {}},
		Logger:       s.libLog("imap"),
		InsecureAuth: true,
	})
	web := &http.Server{Handler: s.webmailHandler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, WriteTimeout: 2 * time.Minute, IdleTimeout: 2 * time.Minute, ErrorLog: s.libLog("http")}
	admin := &http.Server{Handler: s.adminHandler(true), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, WriteTimeout: 2 * time.Minute, IdleTimeout: 2 * time.Minute, ErrorLog: s.libLog("admin")}
	s.httpSrv = []*http.Server{web, admin}

	serve := func(f func() error) {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			_ = f()
		}()
	}
	smtpLn := s.track("smtp", smtpListener{Listener: raw[0], srv: s})
	serve(func() error { return s.smtpSrv.Serve(smtpLn) })
	serve(func() error { return s.imapSrv.Serve(s.track("imap", raw[1])) })
	serve(func() error { return web.Serve(s.track("http", raw[2])) })
	serve(func() error {
		return admin.Serve(firewall.Guard(raw[3], adminOpen, blocked("admin")))
	})
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		select {
		case <-ctx.Done():
			_ = s.shutdown()
		case <-s.done:
		}
	}()
	s.log.Info("mail server started", "proto", "system", "src", "", "user", "", "action", "start",
		"domain", s.dir.Domain, "accounts", len(s.dir.Accounts), "smtp", raw[0].Addr().String(),
		"imap", raw[1].Addr().String(), "http", raw[2].Addr().String(), "admin", raw[3].Addr().String())
	return nil
}

// sysInflightBytes is the checker's own in-flight budget: a quarter of
// everybody else's, and at least one message of the largest size.
func (s *Server) sysInflightBytes() int64 {
	return max(s.store.limits.InflightBytes/4, s.store.limits.MessageBytes+dataChunk)
}

// inflightShare is what one source may hold of the in-flight budget: a
// quarter of it, and at least one message of the largest size, so that
// one sender leaves most of the budget to the others.
func (s *Server) inflightShare() int64 {
	return min(max(s.store.limits.InflightBytes/4, s.store.limits.MessageBytes+dataChunk), s.store.limits.InflightBytes)
}

// track follows the connections of a public port (see liveConns).
func (s *Server) track(proto string, ln net.Listener) net.Listener {
	return &trackedListener{Listener: ln, proto: proto, live: s.live, denied: func(c net.Conn, err error) {
		if errors.Is(err, errBlockedSource) {
			s.warn(proto, "blocked", c.RemoteAddr().String(), "", "connection refused by firewall rule")
			return
		}
		s.warn(proto, "refused", c.RemoteAddr().String(), "", "connection refused", "reason", err.Error())
	}}
}

func (s *Server) addr(i int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i >= len(s.lns) {
		return ""
	}
	return s.lns[i].Addr().String()
}

// AddrSMTP is the SMTP listener's address (host:port), once started.
func (s *Server) AddrSMTP() string { return s.addr(0) }

// AddrIMAP is the IMAP listener's address.
func (s *Server) AddrIMAP() string { return s.addr(1) }

// AddrHTTP is the webmail's address.
func (s *Server) AddrHTTP() string { return s.addr(2) }

// AddrAdmin is the admin console's address.
func (s *Server) AddrAdmin() string { return s.addr(3) }

func (s *Server) shutdown() error {
	s.mu.Lock()
	if s.closed || !s.started {
		s.closed = true
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.done)
	s.mu.Unlock()
	var errs []error
	errs = append(errs, s.smtpSrv.Close(), s.imapSrv.Close())
	for _, h := range s.httpSrv {
		errs = append(errs, h.Close())
	}
	// A server whose Serve had not started yet when it was closed would
	// still wait on its listener: close them all here.
	for _, ln := range s.lns {
		_ = ln.Close()
	}
	s.log.Info("mail server stopped", "proto", "system", "src", "", "user", "", "action", "stop")
	var out []error
	for _, err := range errs {
		if err != nil && !errors.Is(err, net.ErrClosed) && !errors.Is(err, smtp.ErrServerClosed) {
			out = append(out, err)
		}
	}
	return errors.Join(out...)
}

// Close stops every listener and connection and waits for them.
func (s *Server) Close() error {
	err := s.shutdown()
	s.wg.Wait()
	return err
}

// event logs an action for the defence.
func (s *Server) event(proto, action, src, user, msg string, attrs ...any) {
	s.log.Info(msg, append([]any{"proto", proto, "src", src, "user", user, "action", action}, attrs...)...)
}

// warn logs an action a defender should look at: failures, refusals,
// enumeration.
func (s *Server) warn(proto, action, src, user, msg string, attrs ...any) {
	s.log.Warn(msg, append([]any{"proto", proto, "src", src, "user", user, "action", action}, attrs...)...)
}

// logWriter turns the libraries' own log lines (go-smtp, go-imap,
// net/http) into action log lines.
type logWriter struct {
	srv   *Server
	proto string
}

func (w logWriter) Write(p []byte) (int, error) {
	w.srv.warn(w.proto, "error", "", "", strings.TrimSpace(string(p)))
	return len(p), nil
}

func (s *Server) libLog(proto string) *log.Logger {
	return log.New(logWriter{srv: s, proto: proto}, "", 0)
}

// aliases are the distribution lists the province keeps.
func (s *Server) alias(local string) ([]*Account, bool) {
	switch local {
	case "lanhdao":
		return s.dir.Leaders, true
	case "postmaster", "abuse", "hostmaster":
		if a, ok := s.dir.Lookup("vanthu.stttt"); ok {
			return []*Account{a}, true
		}
	}
	return nil, false
}

// expand maps a local address to its accounts (several for a list), without
// following forwards: deliverAll follows them, EXPN shows them.
func (s *Server) expand(addr string) ([]*Account, bool) {
	if a, ok := s.dir.Lookup(addr); ok {
		return []*Account{a}, true
	}
	local, _, _ := strings.Cut(strings.ToLower(strings.Trim(addr, "<> ")), "@")
	return s.alias(local)
}

// recipients adds to rcpts the forward targets, each account once.
func (s *Server) recipients(rcpts []*Account) []*Account {
	seen := make(map[*Account]bool)
	var order []*Account
	add := func(a *Account) {
		if !seen[a] {
			seen[a] = true
			order = append(order, a)
		}
	}
	for _, a := range rcpts {
		add(a)
		if a.Forward != "" {
			if f, ok := s.dir.Lookup(a.Forward); ok {
				add(f)
			}
		}
	}
	return order
}

// deliverAll stores raw from w in the inbox of every recipient and of
// every forward target, each once, or nowhere when the quotas refuse it.
func (s *Server) deliverAll(rcpts []*Account, raw []byte, w writer) ([]int64, []string, error) {
	order := s.recipients(rcpts)
	ch, err := s.store.reserve(w, order, costOf(len(raw)))
	if err != nil {
		return nil, nil, err
	}
	defer s.store.trimSystem()
	var ids []int64
	var to []string
	for _, a := range order {
		id, err := s.store.put(a, "INBOX", raw, nil, ch)
		if err != nil {
			s.warn("smtp", "deliver", "", a.Addr, "delivery failed", "error", err.Error())
			continue
		}
		ids = append(ids, id)
		to = append(to, a.Addr)
	}
	return ids, to, nil
}
