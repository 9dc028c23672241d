package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/cyrange/cyrange/internal/persource"
	cyberrange "github.com/cyrange/cyrange/range"
	"github.com/cyrange/cyrange/scoreboard"
	"github.com/cyrange/cyrange/scoreboard/tokens"
)

// Game is what the web layer reads from and asks of the game.
// *scoreboard.Game implements it.
type Game interface {
	// PublicView is the audience's board (frozen after a freeze).
	PublicView() scoreboard.View
	// FullView is the board as it is, for the organizer.
	FullView() scoreboard.View
	// Standing is one team's own line; ErrNotFound for an unknown team.
	Standing(team int) (scoreboard.Standing, error)
	// Targets lists the replicas team may attack.
	Targets(team int) []scoreboard.AttackTarget
	// IssuedFlags lists tick's flags (0: the current tick); ErrNotFound
	// for a tick not issued yet.
	IssuedFlags(tick int32) ([]scoreboard.IssuedFlag, error)
	// Act moves the phase: ErrInvalid for an unknown action, ErrConflict
	// for one the current phase does not allow.
	Act(ctx context.Context, action string) error
	Phase() (scoreboard.Phase, bool)
	LastSeq() uint64
	Config() *scoreboard.Config
	// Suspects reports the captures suspected of flag sharing, for the
	// organizer.
	Suspects() scoreboard.Suspects
}

// The game and the tokens are what the server is built for.
var (
	_ Game       = (*scoreboard.Game)(nil)
	_ EventLog   = scoreboard.Log(nil)
	_ Auth       = (*tokens.Set)(nil)
	_ Detections = scoreboard.Detections{}
)

// Auth knows the exercise's tokens. *tokens.Set implements it.
type Auth interface {
	// Lookup returns the token's owner; an unknown token is an error.
	Lookup(tok string) (tokens.Principal, error)
	// File returns every token, for the organizer.
	File() tokens.File
}

// Live serves the websocket streams (PROTOCOLS.md §4). The caller has been
// authenticated and its Origin checked before these are called.
type Live interface {
	ServePublic(w http.ResponseWriter, r *http.Request)
	ServeTeam(w http.ResponseWriter, r *http.Request, team int)
	ServeAdmin(w http.ResponseWriter, r *http.Request)
}

// Range reports the range's health to the organizer; the range's
// orchestrator implements it. The health is sent as the response body.
type Range interface {
	Health(ctx context.Context) (cyberrange.Health, error)
}

var _ Range = (*cyberrange.Orchestrator)(nil)

// Gateways is optionally implemented by a Range that knows how a team
// reaches its targets (its SOCKS5 gateway); /api/v1/targets then carries it.
type Gateways interface {
	Gateway(ctx context.Context, team int) (any, error)
}

// Consoles is optionally implemented by a Range that knows where a
// defending team reaches the admin console of its own replicas; the
// defence console links it.
type Consoles interface {
	// ConsoleURL returns the console of owner's replica of service, or
	// "" when it has none.
	ConsoleURL(ctx context.Context, owner, service int) (string, error)
}

// AdminConsoles is optionally implemented by a Range whose defending
// teams reach their own replicas through a defence gateway: the defence
// console then proxies each replica's admin console, and
// /api/v1/team/replicas shows the gateway.
type AdminConsoles interface {
	// DefenceGateway returns team's defence gateway as /api/v1/targets
	// shows an attack team's gateway (a JSON object with "socks5"
	// host:port, "user", "short", ...), or an error wrapping
	// cyberrange.ErrNotFound when it has none.
	DefenceGateway(ctx context.Context, team int) (any, error)
	// AdminConsole returns how team reaches the admin console of its
	// replica of service, or an error wrapping cyberrange.ErrNotFound
	// when that replica has none.
	AdminConsole(ctx context.Context, team, service int) (AdminConsole, error)
}

// AdminConsole is one replica's admin console as its defending team
// reaches it.
type AdminConsole struct {
	// URL is the console's base, e.g. "http://mail.d01:8025/", as the
	// gateway resolves it.
	URL string
	// Dial opens connections through the team's defence gateway.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// User and Password are the console operator's login: the system is
	// the team's own, so the defence may know it.
	User, Password string
}

// EventLog reads the game's event log in order. The store's log (any
// scoreboard.Log) implements it. The server folds it for the board's
// history and streams it to the organizer.
type EventLog interface {
	// Iterate calls fn for each record with seq >= from, in order; rec is
	// valid only during the call.
	Iterate(ctx context.Context, from uint64, fn func(seq uint64, rec []byte) error) error
}

// Detections records and lists the defence's detection reports
// (PROTOCOLS.md §7); scoreboard.Detections implements it. Report receives
// a JSON object the web layer has already size-checked and parsed once; it
// validates the fields itself and returns ErrInvalid naming the field at
// fault. What both return is sent as the response body.
type Detections interface {
	// Report files team's report and acknowledges it once it is durable.
	Report(ctx context.Context, team int, body json.RawMessage) (scoreboard.DetectionAck, error)
	// List returns team's reports, oldest first.
	List(ctx context.Context, team int) ([]scoreboard.DetectionView, error)
}

var _ Detections = scoreboard.Detections{}

// Options configure a Server. Game and Auth are required.
type Options struct {
	Game Game
	Auth Auth
	// Live serves the websocket streams; nil answers 501.
	Live Live
	// Flags is the farm-compatible submission handler; nil answers 501.
	Flags http.Handler
	// Range reports range health; nil reports {"driver": "none"}.
	Range Range
	// Detections handles detection reports; nil answers 501.
	Detections Detections
	// Events is the game's event log, for the board's history and the
	// organizer's event export; nil answers 501 on those routes.
	Events EventLog
	// Metrics is where the server and the other components' hooks count;
	// nil creates one.
	Metrics *Metrics
	Logger  *slog.Logger
	Now     func() time.Time
	// SessionTTL is how long a login lasts; zero means 12 hours.
	SessionTTL time.Duration
	// SecureCookies marks the session cookie Secure even when the server
	// itself speaks plain HTTP (behind a TLS-terminating proxy).
	SecureCookies bool
	// AllowedOrigins lists other origins ("https://board.example") or
	// hosts ("board.example:8443") whose pages may open the websockets and
	// send unsafe requests; "*" allows any. Give the live hub the same list.
	AllowedOrigins []string
	// Limits bound what one client may hold of the server; zero fields
	// take their defaults.
	Limits Limits
}

// Limits bound the HTTP server's connections. Websockets are not bound
// by the timeouts: once upgraded they keep their own deadlines (the live
// hub's pings), and may stay open for the whole exercise.
type Limits struct {
	// ReadHeaderTimeout bounds reading a request's headers, so that a
	// client that sends them slowly (slow-loris) lets go. Default 10s.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading a whole request, body included.
	// Default 30s.
	ReadTimeout time.Duration
	// WriteTimeout bounds writing a response; the organizer's streamed
	// exports move it along as they write. Default 60s.
	WriteTimeout time.Duration
	// IdleTimeout bounds how long a kept-alive connection waits for its
	// next request. Default 2m.
	IdleTimeout time.Duration
	// MaxConnsPerSource bounds the connections one source address (an
	// IPv6 /64) holds at once, websockets included; more are closed as
	// they arrive. A venue's audience behind one NAT address is one
	// source: keep it above the live hub's public viewers per source.
	// Default 2048.
	MaxConnsPerSource int
	// MaxConns bounds the port's connections at once, websockets aside
	// (the live hub bounds those); at the bound the connection idle the
	// longest is closed for a newcomer (connBudget). Default 8192.
	MaxConns int
}

// Server is the HTTP front of one exercise.
type Server struct {
	game     Game
	auth     Auth
	live     Live
	flags    http.Handler
	rng      Range
	det      Detections
	hist     *history
	events   EventLog
	metrics  *Metrics
	logger   *slog.Logger
	now      func() time.Time
	sessions *sessions
	logins   *loginLimiter
	secure   bool
	limits   Limits
	origins  []string
	known    map[string]bool // route templates, for the metrics' route label
	echo     *echo.Echo
}

// defaultSessionTTL covers a day's exercise.
const defaultSessionTTL = 12 * time.Hour

// Defaults of Limits.
const (
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultReadTimeout       = 30 * time.Second
	DefaultWriteTimeout      = 60 * time.Second
	DefaultIdleTimeout       = 2 * time.Minute
	// DefaultMaxConnsPerSource is twice the live hub's default public
	// viewers per source: a venue's browsers each hold a stream and
	// sometimes a request or two.
	DefaultMaxConnsPerSource = 2048
	// DefaultMaxConns leaves room within the process's open files for
	// the live hub's viewers.
	DefaultMaxConns = 8192
)

func (l Limits) withDefaults() Limits {
	if l.ReadHeaderTimeout <= 0 {
		l.ReadHeaderTimeout = DefaultReadHeaderTimeout
	}
	if l.ReadTimeout <= 0 {
		l.ReadTimeout = DefaultReadTimeout
	}
	if l.WriteTimeout <= 0 {
		l.WriteTimeout = DefaultWriteTimeout
	}
	if l.IdleTimeout <= 0 {
		l.IdleTimeout = DefaultIdleTimeout
	}
	if l.MaxConnsPerSource <= 0 {
		l.MaxConnsPerSource = DefaultMaxConnsPerSource
	}
	if l.MaxConns <= 0 {
		l.MaxConns = DefaultMaxConns
	}
	return l
}

// New builds the server and its routes.
func New(o Options) *Server {
	if o.Game == nil || o.Auth == nil {
		// A wiring mistake, not a runtime condition.
		panic("web: Options.Game and Options.Auth are required")
	}
	s := &Server{game: o.Game, auth: o.Auth, live: o.Live, flags: o.Flags, rng: o.Range,
		det: o.Detections, events: o.Events, metrics: o.Metrics, logger: o.Logger, now: o.Now,
		secure: o.SecureCookies, limits: o.Limits.withDefaults(), known: map[string]bool{}}
	if s.metrics == nil {
		s.metrics = NewMetrics()
	}
	if o.Events != nil {
		s.hist = newHistory(o.Events, o.Game.Config())
	}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	ttl := o.SessionTTL
	if ttl <= 0 {
		ttl = defaultSessionTTL
	}
	s.sessions = newSessions(ttl, s.now)
	s.logins = newLoginLimiter(s.now)
	for _, og := range o.AllowedOrigins {
		s.origins = append(s.origins, strings.TrimSuffix(strings.TrimSpace(og), "/"))
	}

	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = s.handleError
	e.Use(s.observe, s.secureHeaders, s.recoverPanics)
	for _, rt := range s.routes() {
		s.known[rt.path] = true
		e.Add(rt.method, rt.path, rt.handler, s.guard(rt))
	}
	s.echo = e
	return s
}

// Handler returns the server's HTTP handler.
func (s *Server) Handler() http.Handler { return s.echo }

// Metrics returns the server's metrics, for the other components' hooks.
func (s *Server) Metrics() *Metrics { return s.metrics }

// shutdownGrace bounds how long Serve waits for requests in flight.
const shutdownGrace = 5 * time.Second

// Serve answers on ln until ctx is done, then shuts down gracefully. It
// returns nil after a shutdown caused by ctx. Websockets are hijacked
// connections the shutdown does not wait for: the Live implementation
// closes them on its own context. Each source may hold
// Limits.MaxConnsPerSource connections of ln at once.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	return s.serve(ctx, ln, s.echo)
}

// ServeMetrics answers GET /metrics on ln, without authentication, until
// ctx is done: for a Prometheus that scrapes a private address rather than
// the public port with the organizer's token. It has the same limits as
// Serve and nothing else on it.
func (s *Server) ServeMetrics(ctx context.Context, ln net.Listener) error {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", s.metrics.Handler())
	return s.serve(ctx, ln, mux)
}

func (s *Server) serve(ctx context.Context, ln net.Listener, h http.Handler) error {
	l := s.limits
	hs := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: l.ReadHeaderTimeout,
		ReadTimeout:       l.ReadTimeout,
		WriteTimeout:      l.WriteTimeout,
		IdleTimeout:       l.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	budget := newConnBudget(l.MaxConns, s.metrics.refusedConn)
	hs.ConnState = budget.state
	limited := budget.listen(persource.Listen(ln, l.MaxConnsPerSource, func(netip.Prefix) { s.metrics.refusedConn() }))
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(limited) }()
	select {
	case err := <-errc:
		return fmt.Errorf("web: serving on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	err := hs.Shutdown(sctx)
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	if err != nil {
		return fmt.Errorf("web: shutting down: %w", err)
	}
	return nil
}

// observe counts every request by route template and status. It handles
// the error itself so that the status it counts is the one sent.
func (s *Server) observe(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if err := next(c); err != nil {
			c.Error(err)
		}
		route := c.Path()
		if !s.known[route] {
			route = "unmatched"
		}
		s.metrics.requests.WithLabelValues(route, strconv.Itoa(c.Response().Status)).Inc()
		return nil
	}
}

// secureHeaders sets the headers every response carries. The page loads
// nothing from elsewhere, so 'self' is the whole policy; API answers are
// never cached because some of them are secrets.
func (s *Server) secureHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		setSecureHeaders(c.Response().Header(), pagePolicy)
		return next(c)
	}
}

// pagePolicy is the Content-Security-Policy of everything but the
// proxied admin consoles, which have their own (consolePolicy).
const pagePolicy = "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'"

func setSecureHeaders(h http.Header, policy string) {
	h.Set("Content-Security-Policy", policy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
}

// recoverPanics turns a handler's panic into a logged 500 so one bad
// request cannot take the server down.
func (s *Server) recoverPanics(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			r := recover()
			if r == nil {
				return
			}
			if r == http.ErrAbortHandler {
				panic(r)
			}
			s.logger.Error("handler panicked", "route", c.Path(), "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			err = fmt.Errorf("web: handler panicked: %v", r)
		}()
		return next(c)
	}
}
