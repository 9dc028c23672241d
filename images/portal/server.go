// Package portal is the target "portal": a replica of a province's
// e-government portal and its online public services. One main portal
// and its component portals (departments, districts, communes) publish
// news, announcements and legal documents, with search and a contact
// form; the public services take administrative procedures' dossiers
// online (receipt code, status lookup, result download); officers work
// their agency's dossier queue, news, internal drafts and contact inbox
// in the back office; and the defence has an admin console on its own
// port. The data lives in a real SQL engine embedded in the binary
// (modernc.org/sqlite, in memory), generated from a seed.
//
// It runs as the role `cyrange target portal` (Run) or in-process (New,
// Start). Every request and action is logged as a JSON line for the
// defence, in the mail server's shape.
//
// It must never import the scoreboard, the range, the checker or the
// exploits: those talk to it over the network only.
package portal

import (
	"context"
	"database/sql"
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

	"github.com/cyrange/cyrange/images/flow"
	"github.com/cyrange/cyrange/images/mailserver/corpus"
	"github.com/cyrange/cyrange/images/portal/contract"
	"github.com/cyrange/cyrange/internal/firewall"
	"github.com/cyrange/cyrange/internal/persource"
)

// DefaultDomain is the fictional province's domain, the mail server's
// default too, so that a replica's two targets tell of one province.
const DefaultDomain = "lachong.gov.vn"

// Defaults of a replica's size.
const (
	DefaultSites    = MaxSites
	DefaultDossiers = 50000
	MaxDossiers     = 200000
)

// Limits bound what clients can make the portal hold or do at once.
// Zero fields take DefaultLimits.
type Limits struct {
	FormBytes         int64 // a form or JSON body without files
	UploadBytes       int64 // a multipart body with files
	FileBytes         int64 // one uploaded file
	ConnsPerSource    int   // open connections of one source on the public port
	InflightPerSource int   // requests of one source being served at once
	StoredPerSource   int   // dossiers, messages, uploads one source keeps
	StoredBytesSource int64 // and their bytes
	StoredBytes       int64 // what all sources keep together
	Fetches           int   // URL fetches at once
}

// DefaultLimits fit the replica's 512 MiB.
var DefaultLimits = Limits{
	FormBytes:         64 << 10,
	UploadBytes:       6 << 20,
	FileBytes:         2 << 20,
	ConnsPerSource:    64,
	InflightPerSource: 16,
	StoredPerSource:   300,
	StoredBytesSource: 16 << 20,
	StoredBytes:       128 << 20,
	Fetches:           16,
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits
	set := func(dst *int64, v int64) {
		if v > 0 {
			*dst = v
		}
	}
	seti := func(dst *int, v int) {
		if v > 0 {
			*dst = v
		}
	}
	set(&d.FormBytes, l.FormBytes)
	set(&d.UploadBytes, l.UploadBytes)
	set(&d.FileBytes, l.FileBytes)
	seti(&d.ConnsPerSource, l.ConnsPerSource)
	seti(&d.InflightPerSource, l.InflightPerSource)
	seti(&d.StoredPerSource, l.StoredPerSource)
	set(&d.StoredBytesSource, l.StoredBytesSource)
	set(&d.StoredBytes, l.StoredBytes)
	seti(&d.Fetches, l.Fetches)
	return d
}

// Config configures a Server. Zero ports mean "any free port".
type Config struct {
	Listen    string // host to bind; empty means all interfaces
	HTTPPort  int
	AdminPort int

	Sites      int    // 1 to MaxSites (default MaxSites)
	Dossiers   int    // generated dossiers (default DefaultDossiers)
	Seed       uint64 // the same seed gives the same province
	Domain     string // default DefaultDomain
	Province   string // the province's written name; default from the domain
	Weaknesses map[string]bool

	// The portal's account on the province's mail server, which it sends
	// notifications with; the exposed backup leaks it.
	MailDomain, MailAccount, MailPassword string

	// AdminAllow lists the sources allowed on the admin port; empty
	// allows any (the range's networks then do the restricting).
	AdminAllow []netip.Prefix
	// CheckerSecret enables the checker's per-officer master passwords.
	CheckerSecret string
	// Replica is this replica's name in the game, part of every master
	// password.
	Replica string
	// OperatorPassword is the defence's console password; empty makes a
	// random one (see Server.OperatorPassword).
	OperatorPassword string
	Limits           Limits

	Logger *slog.Logger
	Now    func() time.Time
	// Flows records every connection the ports accept; nil records none.
	Flows *flow.Recorder
	// FetchDialer is what the URL fetcher dials with (default a
	// net.Dialer).
	FetchDialer interface {
		DialContext(ctx context.Context, network, addr string) (net.Conn, error)
	}
}

// Server is a running (or ready to run) portal.
type Server struct {
	cfg      Config
	lim      Limits
	log      *slog.Logger
	now      func() time.Time
	prov     *province
	db       *sql.DB
	sec      *security
	issued   *issued
	admins   *adminSessions
	operator string
	backup   []byte // the configuration backup as it was written at install
	inflight *persource.Counter
	stored   *quota
	fetches  chan struct{}
	pages    *pages

	mu      sync.Mutex
	started bool
	closed  bool
	lns     []net.Listener
	httpSrv []*http.Server
	done    chan struct{}
	wg      sync.WaitGroup
}

// New builds the province and its database, with the remedies as the
// weaknesses say. It does not listen yet.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Sites == 0 {
		cfg.Sites = DefaultSites
	}
	if cfg.Sites < 1 || cfg.Sites > MaxSites {
		return nil, fmt.Errorf("portal: sites must be 1 to %d, got %d", MaxSites, cfg.Sites)
	}
	if cfg.Dossiers == 0 {
		cfg.Dossiers = DefaultDossiers
	}
	if cfg.Dossiers < 0 || cfg.Dossiers > MaxDossiers {
		return nil, fmt.Errorf("portal: dossiers must be 0 to %d, got %d", MaxDossiers, cfg.Dossiers)
	}
	if cfg.Domain == "" {
		cfg.Domain = DefaultDomain
	}
	cfg.Domain = strings.ToLower(cfg.Domain)
	if cfg.Province == "" {
		cfg.Province = provinceName(cfg.Domain)
	}
	if cfg.MailDomain == "" {
		cfg.MailDomain = cfg.Domain
	}
	if cfg.MailAccount == "" {
		cfg.MailAccount = "congthongtin"
	}
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
		if _, ok := contract.Lookup(w); !ok {
			return nil, fmt.Errorf("portal: unknown weakness %q", w)
		}
	}
	if cfg.FetchDialer == nil {
		cfg.FetchDialer = &net.Dialer{Timeout: 5 * time.Second}
	}
	lim := cfg.Limits.withDefaults()
	r := rand.New(rand.NewPCG(cfg.Seed, 0x706f7274616c))
	prov := newProvince(r, cfg.Province, cfg.Domain, cfg.Sites)
	s := &Server{
		cfg: cfg, lim: lim, log: cfg.Logger, now: cfg.Now, prov: prov,
		issued: newIssued(), admins: newAdminSessions(), operator: cfg.OperatorPassword,
		inflight: persource.NewCounter(lim.InflightPerSource),
		fetches:  make(chan struct{}, lim.Fetches),
		done:     make(chan struct{}),
	}
	if s.operator == "" {
		s.operator = randomPassword()
	}
	if cfg.MailPassword == "" {
		s.cfg.MailPassword = corpus.CommonPasswords()[r.IntN(40)] + "#Portal"
	}
	s.sec = &security{
		now: cfg.Now, secret: cfg.CheckerSecret, replica: cfg.Replica,
		admins: map[string]string{}, adminGens: map[string]uint64{}, officerGens: map[string]uint64{},
		fails: newFailTable(),
		settings: Settings{
			SearchPatched:    !cfg.Weaknesses[contract.NewsSQLi],
			LookupRequiresID: !cfg.Weaknesses[contract.DossierIDOR],
			BackupExposed:    cfg.Weaknesses[contract.BackupExposed],
			AdminOnPortal:    true,
			ImportRestricted: !cfg.Weaknesses[contract.SSRFImport],
			Lockout:          !cfg.Weaknesses[contract.NoLockout],
			LockThreshold:    5,
			LockWindow:       15 * time.Minute,
			LockDuration:     15 * time.Minute,
		},
	}
	if cfg.Weaknesses[contract.WeakSessionSecret] {
		s.sec.signing = []byte(DefaultSessionSecret)
		s.sec.settings.SecretDefault = true
	} else {
		var st Settings
		s.sec.rotate(&st)
	}
	adminPassword := randomPassword()
	if cfg.Weaknesses[contract.AdminDefaultPassword] {
		adminPassword = DefaultAdminPassword
	}
	s.sec.admins[AdminUser] = hashPassword(adminPassword)
	s.sec.admins[OperatorUser] = hashPassword(s.operator)
	s.backup = s.backupFile()

	hashes := make([]string, len(prov.Officers))
	for i := range prov.Officers {
		hashes[i] = hashPassword(randomPassword())
	}
	if clerk, ok := prov.officer("vanthu." + MainSite); ok && cfg.Weaknesses[contract.NoLockout] {
		words := corpus.CommonPasswords()
		hashes[clerk.ID-1] = hashPassword(words[80+r.IntN(min(200, len(words)-80))])
	}
	db, err := openDB(ctx)
	if err != nil {
		return nil, err
	}
	s.db = db
	if err := seed(ctx, db, r, prov, hashes, cfg.Dossiers, cfg.Now()); err != nil {
		_ = db.Close()
		return nil, err
	}
	s.stored = newQuota(lim, s.evict)
	s.pages = newPages()
	return s, nil
}

// backupFile is the configuration backup the installer left in the web
// root: the database, the session signing key and the portal's mail
// account, as they were at install time.
func (s *Server) backupFile() []byte {
	return fmt.Appendf(nil, `; VNPortal CMS 3.2 - cau hinh he thong (sao luu tu dong)
; Cong thong tin dien tu tinh %s
[database]
driver = sqlite
dsn = file:/var/lib/vnportal/portal.db

[session]
cookie_name = %s
signing_key = %s
lifetime = 8h

[mail]
; tai khoan gui thong bao ho so qua thu dien tu cong vu
smtp_host = mail.%s
smtp_port = 25
imap_host = mail.%s
username = %s@%s
password = %s

[admin]
console_path = /quantri/
`, corpus.Fold(s.cfg.Province), officerCookie, s.sec.signing, s.cfg.MailDomain, s.cfg.MailDomain,
		s.cfg.MailAccount, s.cfg.MailDomain, s.cfg.MailPassword)
}

// OperatorPassword is the defence's admin console password.
func (s *Server) OperatorPassword() string { return s.operator }

// Start listens on the public and the admin port and serves until ctx is
// done or Close is called. It returns once both ports are listening.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return errors.New("portal: already started")
	}
	s.started = true
	var lc net.ListenConfig
	var raw []net.Listener
	for _, port := range []int{s.cfg.HTTPPort, s.cfg.AdminPort} {
		ln, err := lc.Listen(ctx, "tcp", net.JoinHostPort(s.cfg.Listen, strconv.Itoa(port)))
		if err != nil {
			for _, l := range raw {
				_ = l.Close()
			}
			return fmt.Errorf("portal: listen: %w", err)
		}
		ln = s.cfg.Flows.Listen(ln)
		raw = append(raw, ln)
	}
	s.lns = raw
	adminOpen := func(a netip.Addr) bool {
		return len(s.cfg.AdminAllow) == 0 || firewall.Contains(s.cfg.AdminAllow, a)
	}
	blocked := func(proto string) func(net.Conn) {
		return func(c net.Conn) {
			s.warn(proto, "blocked", c.RemoteAddr().String(), "", "connection refused by firewall rule")
		}
	}
	public := firewall.Guard(persource.Listen(raw[0], s.lim.ConnsPerSource, func(src netip.Prefix) {
		s.warn("http", "refused", src.String(), "", "too many connections from one source")
	}), func(a netip.Addr) bool { return !s.sec.blocked(a) }, blocked("http"))
	admin := firewall.Guard(raw[1], adminOpen, blocked("admin"))
	web := &http.Server{Handler: s.publicHandler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute,
		WriteTimeout: time.Minute, IdleTimeout: time.Minute, MaxHeaderBytes: 32 << 10, ErrorLog: s.libLog("http")}
	cons := &http.Server{Handler: s.adminHandler(true), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute,
		WriteTimeout: time.Minute, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 32 << 10, ErrorLog: s.libLog("admin")}
	s.httpSrv = []*http.Server{web, cons}
	serve := func(srv *http.Server, ln net.Listener) {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			_ = srv.Serve(ln)
		}()
	}
	serve(web, public)
	serve(cons, admin)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		select {
		case <-ctx.Done():
			_ = s.shutdown()
		case <-s.done:
		}
	}()
	s.log.Info("portal started", "proto", "system", "src", "", "user", "", "action", "start",
		"domain", s.cfg.Domain, "sites", len(s.prov.Sites), "officers", len(s.prov.Officers), "dossiers", s.cfg.Dossiers,
		"http", raw[0].Addr().String(), "admin", raw[1].Addr().String())
	return nil
}

func (s *Server) addr(i int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i >= len(s.lns) {
		return ""
	}
	return s.lns[i].Addr().String()
}

// AddrHTTP is the public portal's address (host:port), once started.
func (s *Server) AddrHTTP() string { return s.addr(0) }

// AddrAdmin is the admin console's address.
func (s *Server) AddrAdmin() string { return s.addr(1) }

func (s *Server) shutdown() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	started := s.started
	if started {
		close(s.done)
	}
	s.mu.Unlock()
	var errs []error
	for _, h := range s.httpSrv {
		if err := h.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, err)
		}
	}
	for _, ln := range s.lns {
		_ = ln.Close()
	}
	if started {
		s.log.Info("portal stopped", "proto", "system", "src", "", "user", "", "action", "stop")
	}
	return errors.Join(errs...)
}

// Close stops the listeners and connections, waits for them and drops
// the database.
func (s *Server) Close() error {
	err := s.shutdown()
	s.wg.Wait()
	return errors.Join(err, s.db.Close())
}

// event logs an action for the defence.
func (s *Server) event(proto, action, src, user, msg string, attrs ...any) {
	s.log.Info(msg, append([]any{"proto", proto, "src", src, "user", user, "action", action}, attrs...)...)
}

// warn logs an action a defender should look at: failures, refusals,
// console changes, SQL errors.
func (s *Server) warn(proto, action, src, user, msg string, attrs ...any) {
	s.log.Warn(msg, append([]any{"proto", proto, "src", src, "user", user, "action", action}, attrs...)...)
}

// logWriter turns net/http's own log lines into action log lines.
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

// queryCtx bounds one statement.
func queryCtx(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), queryTimeout)
}
