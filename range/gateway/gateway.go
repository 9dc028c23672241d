// Package gateway is an attack team's way into the range: a SOCKS5 proxy
// (github.com/armon/go-socks5) that authenticates the team, lets it reach
// only its targets, dials them from the team's own source address so that
// the targets can tell the team apart, and records every connection as
// telemetry (the ground truth the game scores detections against).
//
// It runs as the role `cyrange gateway` inside a container or as a local
// process. It must never import the range's domain package, the Docker SDK
// or the scoreboard: a gateway knows only its own team.
package gateway

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"time"

	socks5 "github.com/armon/go-socks5"

	"github.com/cyrange/cyrange/images/flow"
	"github.com/cyrange/cyrange/internal/admit"
)

// ErrClosed is returned by Serve after Close.
var ErrClosed = errors.New("gateway: closed")

// Defaults for the Options left zero.
const (
	DefaultDialTimeout         = 10 * time.Second
	DefaultHandshakeTimeout    = 30 * time.Second
	DefaultAuthTimeout         = 10 * time.Second
	DefaultMaxConns            = 512
	DefaultMaxPending          = 512
	DefaultMaxPendingPerSource = 128
)

// Options configure one team's gateway.
type Options struct {
	// Team is the team's name: recorded in telemetry and accepted as the
	// SOCKS user name.
	Team string
	// User is a second accepted user name, typically the team's short id
	// ("a07"), which is easier to type than a name with spaces; optional.
	User string
	// Password is the team's token.
	Password string
	// Source is the address connections to targets are dialled from, so
	// that targets see the team's range; zero lets the kernel choose.
	Source netip.Addr
	// Allow lists the destinations the team may reach; everything else is
	// refused with "connection not allowed by ruleset".
	Allow []Rule
	// Resolve maps the names clients may ask for (curl --socks5-hostname)
	// to addresses. Names not in it are refused; the gateway never asks
	// DNS.
	Resolve map[string]netip.Addr
	// Record receives the telemetry: for each connection an open record
	// when the target connection is made, an interim record every
	// TelemetryInterval while it lasts and a close record when it ends
	// (each with the bytes since the connection's previous record); a
	// heartbeat every TelemetryInterval while the gateway serves; and one
	// record of each refused or failed attempt. It is called from many
	// goroutines, so it must be safe for concurrent use and quick.
	Record func(Conn)
	Logger *slog.Logger
	Now    func() time.Time
	// DialTimeout bounds each connection to a target, HandshakeTimeout the
	// SOCKS negotiation until the target is dialled, AuthTimeout its part
	// up to the team's authentication (never longer than
	// HandshakeTimeout). Both run from the accept: nothing a client sends
	// extends them.
	DialTimeout      time.Duration
	HandshakeTimeout time.Duration
	AuthTimeout      time.Duration
	// MaxConns bounds the team's authenticated connections open at once;
	// beyond it authentication fails. Connections that have not
	// authenticated yet do not count against it: MaxPending bounds them,
	// and MaxPendingPerSource those of one source address (IPv6: one
	// /64). Beyond either a new connection pushes out the oldest of them
	// (of its own source first) rather than being turned away, so that no
	// flood of strangers keeps the team out, even where every client
	// shows the same address (a port published by Docker).
	MaxConns            int
	MaxPending          int
	MaxPendingPerSource int
	// TelemetryInterval is how often open connections and the heartbeat
	// are recorded; flow.DefaultInterval when zero.
	TelemetryInterval time.Duration
}

// Conn is the telemetry of one connection through the gateway.
type Conn struct {
	Team string `json:"team"`
	// Client is where the SOCKS client connected from.
	Client netip.AddrPort `json:"client,omitzero"`
	// Host is the name the client asked for, when it sent a name; Target
	// and Port the destination it asked for (or its name resolved to).
	Host   string     `json:"host,omitempty"`
	Target netip.Addr `json:"target,omitzero"`
	Port   uint16     `json:"port,omitempty"`
	// Dialed is where the gateway connected when a rule sent the
	// connection elsewhere (Rule.Dial), else zero.
	Dialed netip.AddrPort `json:"dialed,omitzero"`
	Start  time.Time      `json:"start,omitzero"`
	End    time.Time      `json:"end,omitzero"`
	// BytesUp were sent by the client to the target, BytesDown by the
	// target to the client.
	BytesUp   int64 `json:"bytes_up"`
	BytesDown int64 `json:"bytes_down"`
	// Refused is set when the gateway refused the destination; Error when
	// the target could not be reached.
	Refused bool   `json:"refused,omitempty"`
	Error   string `json:"error,omitempty"`

	// State is what the record reports: "open", "interim" or "close" of a
	// connection, whose BytesUp and BytesDown then count what crossed it
	// since its previous record, and End is set on "close" only; or
	// "heartbeat", a record of no connection saying the gateway lives and
	// has written every record of a time before At. Empty for a refused or
	// failed attempt, and for the whole-connection records of older
	// gateways (written once, at the end, with the totals).
	State string `json:"state,omitempty"`
	// Run names the gateway process, ID the connection within it.
	Run string `json:"run,omitempty"`
	ID  uint64 `json:"id,omitempty"`
	// At is when the record was made.
	At time.Time `json:"at,omitzero"`
}

// Gateway is one team's SOCKS5 server.
type Gateway struct {
	o      Options
	names  map[string]netip.Addr
	logger *slog.Logger
	pool   *admit.Pool
	// meter follows the target connections for their telemetry.
	meter *flow.Meter[*attempt]
	// ctx is cancelled by Close; dials and Serve calls follow it.
	ctx    context.Context
	cancel context.CancelFunc
	mu     sync.Mutex
	closed bool
	serves sync.WaitGroup
}

// New checks the options and returns a gateway ready to Serve.
func New(o Options) (*Gateway, error) {
	if o.Team == "" {
		return nil, errors.New("gateway: no team")
	}
	if o.Password == "" {
		return nil, errors.New("gateway: no token: refusing to run an open proxy")
	}
	if len(o.Team) > 255 || len(o.User) > 255 || len(o.Password) > 255 {
		return nil, errors.New("gateway: SOCKS5 user names and passwords are at most 255 bytes")
	}
	if o.Source.IsValid() && o.Source.Zone() != "" {
		return nil, errors.New("gateway: source address with a zone")
	}
	for _, r := range o.Allow {
		if err := r.validate(); err != nil {
			return nil, fmt.Errorf("gateway: allow %s: %w", r, err)
		}
	}
	names := make(map[string]netip.Addr, len(o.Resolve))
	for n, a := range o.Resolve {
		k, err := normalizeName(n)
		if err != nil {
			return nil, fmt.Errorf("gateway: resolve %q: %w", n, err)
		}
		names[k] = a.Unmap()
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Record == nil {
		o.Record = func(Conn) {}
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = DefaultDialTimeout
	}
	if o.HandshakeTimeout <= 0 {
		o.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if o.AuthTimeout <= 0 {
		o.AuthTimeout = DefaultAuthTimeout
	}
	o.AuthTimeout = min(o.AuthTimeout, o.HandshakeTimeout)
	if o.MaxConns <= 0 {
		o.MaxConns = DefaultMaxConns
	}
	if o.MaxPending <= 0 {
		o.MaxPending = DefaultMaxPending
	}
	if o.MaxPendingPerSource <= 0 {
		o.MaxPendingPerSource = DefaultMaxPendingPerSource
	}
	o.Source = o.Source.Unmap()
	ctx, cancel := context.WithCancel(context.Background())
	g := &Gateway{
		o:      o,
		names:  names,
		logger: o.Logger.With("team", o.Team),
		pool:   admit.NewPool(admit.Limits{Pending: o.MaxPending, PendingPerSource: o.MaxPendingPerSource, PerPrincipal: o.MaxConns}),
		ctx:    ctx,
		cancel: cancel,
	}
	g.meter = flow.NewMeter(flow.MeterOptions[*attempt]{Report: g.report, Interval: o.TelemetryInterval, Now: o.Now})
	return g, nil
}

// Serve accepts SOCKS clients on ln until ctx is done or Close is called,
// then closes ln and every connection it accepted, waits for them to end
// (their telemetry is recorded) and returns nil. It returns the listener's
// error if accepting fails for another reason.
func (g *Gateway) Serve(ctx context.Context, ln net.Listener) error {
	defer ln.Close()
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return ErrClosed
	}
	g.serves.Add(1)
	g.mu.Unlock()
	defer g.serves.Done()
	// Heartbeats and interim records while serving; the connections'
	// close records come first (the handlers end before this returns).
	defer g.meter.Start()()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(g.ctx, cancel)
	defer stop()

	s := &server{g: g, ctx: ctx, sessions: map[netip.AddrPort]*session{}}
	srv, err := socks5.New(&socks5.Config{
		AuthMethods: []socks5.Authenticator{authenticator{s}},
		Resolver:    s,
		Rules:       s,
		Dial:        s.dial,
		Logger:      slog.NewLogLogger(g.logger.Handler(), slog.LevelDebug),
	})
	if err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	closeLn := context.AfterFunc(ctx, func() { ln.Close() })
	defer closeLn()
	g.logger.Info("gateway: serving", "addr", ln.Addr().String(), "source", g.o.Source.String())

	var handlers sync.WaitGroup
	defer func() {
		s.closeAll()
		handlers.Wait()
	}()
	var backoff time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				g.logger.Warn("gateway: accept", "err", err, "retry_in", backoff)
				select {
				case <-time.After(backoff):
					continue
				case <-ctx.Done():
					return nil
				}
			}
			return fmt.Errorf("gateway: accept: %w", err)
		}
		backoff = 0
		// Admitted here, in accept order, so that "the oldest" is the
		// oldest accepted.
		accepted := time.Now()
		t := g.pool.Admit(addrPortOf(c.RemoteAddr()).Addr(), func() { c.Close() })
		handlers.Add(1)
		go func() {
			defer handlers.Done()
			defer t.Release()
			s.handle(srv, c, t, accepted)
		}()
	}
}

// Close stops every Serve call and waits for them to return.
func (g *Gateway) Close() error {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
	g.cancel()
	g.serves.Wait()
	return nil
}

// credentials is the team's SOCKS5 credential check.
type credentials struct{ g *Gateway }

func (c credentials) Valid(user, password string) bool {
	g := c.g
	okUser := user == g.o.Team || (g.o.User != "" && user == g.o.User)
	okPass := subtle.ConstantTimeCompare([]byte(password), []byte(g.o.Password)) == 1
	if okUser && okPass {
		return true
	}
	// The user name may be somebody's typo of a token: log its length only.
	g.logger.Warn("gateway: authentication failed", "user_known", okUser, "user_len", len(user))
	return false
}

// server is the state of one Serve call: the sessions it accepted, by
// client address (unique among the live connections of one listener), so
// that the rule set and dialler, which go-socks5 hands only the request,
// can find the client connection.
type server struct {
	g   *Gateway
	ctx context.Context

	mu       sync.Mutex
	closed   bool
	sessions map[netip.AddrPort]*session
}

type session struct {
	client net.Conn
	target net.Conn
	// ticket is the connection's place among the gateway's connections,
	// accepted when it was accepted.
	ticket   *admit.Ticket
	accepted time.Time
}

type ctxKey struct{}

// conn starts the attempt's telemetry record.
func (a *attempt) conn(team string) Conn {
	c := Conn{Team: team, Client: a.client, Host: a.host, Target: a.addr, Port: a.port}
	if a.dial.IsValid() && a.dial != netip.AddrPortFrom(a.addr, a.port) {
		c.Dialed = a.dial
	}
	return c
}

// attempt is what the rule set learnt about a request, passed to the
// dialler through go-socks5's context.
type attempt struct {
	client netip.AddrPort
	host   string
	addr   netip.Addr
	port   uint16
	// dial is where the connection goes.
	dial netip.AddrPort
}

// unknownName marks, in the resolver's context, a name the gateway does
// not know, so that the rule set refuses it like any other destination the
// team may not reach.
type unknownName struct{}

func (s *server) handle(srv *socks5.Server, c net.Conn, t *admit.Ticket, accepted time.Time) {
	ap := addrPortOf(c.RemoteAddr())
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		c.Close()
		return
	}
	s.sessions[ap] = &session{client: c, ticket: t, accepted: accepted}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.sessions, ap)
		s.mu.Unlock()
	}()
	// A client gets AuthTimeout to authenticate, then the rest of
	// HandshakeTimeout to ask (see authenticator); once the target is
	// dialled the connection may idle as long as the client and target
	// like.
	c.SetDeadline(accepted.Add(s.g.o.AuthTimeout))
	if err := srv.ServeConn(c); err != nil {
		// go-socks5 flattens its errors to text: nothing to tell apart.
		s.g.logger.Debug("gateway: connection ended", "client", ap.String(), "err", err)
	}
}

// closeAll closes every client and target connection so that their
// handlers return.
func (s *server) closeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for _, ss := range s.sessions {
		ss.client.Close()
		if ss.target != nil {
			ss.target.Close()
		}
	}
}

// Resolve answers names from the gateway's own table (socks5.NameResolver).
func (s *server) Resolve(ctx context.Context, name string) (context.Context, net.IP, error) {
	if a, err := netip.ParseAddr(name); err == nil && a.Zone() == "" {
		return ctx, net.IP(a.Unmap().AsSlice()), nil
	}
	if n, err := normalizeName(name); err == nil {
		if a, ok := s.g.names[n]; ok {
			return ctx, net.IP(a.AsSlice()), nil
		}
	}
	return context.WithValue(ctx, unknownName{}, true), nil, nil
}

// Allow is the team's rule set (socks5.RuleSet): CONNECT to an allowed
// destination, nothing else. Refusals are recorded as telemetry.
func (s *server) Allow(ctx context.Context, req *socks5.Request) (context.Context, bool) {
	a := &attempt{host: req.DestAddr.FQDN, port: uint16(req.DestAddr.Port)}
	if req.RemoteAddr != nil {
		if ip, ok := netip.AddrFromSlice(req.RemoteAddr.IP); ok {
			a.client = netip.AddrPortFrom(ip.Unmap(), uint16(req.RemoteAddr.Port))
		}
	}
	if ip, ok := netip.AddrFromSlice(req.DestAddr.IP); ok {
		a.addr = ip.Unmap()
	}
	reason := ""
	switch {
	case req.Command != socks5.ConnectCommand:
		reason = "only CONNECT is supported"
	case ctx.Value(unknownName{}) != nil:
		reason = "unknown name"
	case !a.addr.IsValid():
		reason = "no address"
	default:
		if r, ok := s.rule(a.addr, a.port); ok {
			a.dial = r.Destination(a.addr, a.port)
		} else {
			reason = "destination not allowed"
		}
	}
	if reason != "" {
		now := s.g.o.Now()
		s.g.logger.Info("gateway: refused", "client", a.client.String(), "host", a.host, "target", a.addr.String(), "port", a.port, "reason", reason)
		rec := a.conn(s.g.o.Team)
		rec.Start, rec.End, rec.Refused = now, now, true
		s.g.o.Record(rec)
		return ctx, false
	}
	return context.WithValue(ctx, ctxKey{}, a), true
}

// rule returns the first rule that allows addr:port.
func (s *server) rule(addr netip.Addr, port uint16) (Rule, bool) {
	for _, r := range s.g.o.Allow {
		if r.Allows(addr, port) {
			return r, true
		}
	}
	return Rule{}, false
}

// dial connects to the destination the rule set allowed, from the team's
// source address, and wraps the connection to count its bytes.
func (s *server) dial(ctx context.Context, _, _ string) (net.Conn, error) {
	a, ok := ctx.Value(ctxKey{}).(*attempt)
	if !ok {
		// go-socks5 dials only after Allow said yes; this is a bug.
		return nil, errors.New("gateway: dial without an allowed request")
	}
	start := s.g.o.Now()
	d := net.Dialer{Timeout: s.g.o.DialTimeout}
	if s.g.o.Source.IsValid() {
		d.LocalAddr = &net.TCPAddr{IP: s.g.o.Source.AsSlice()}
		d.Control = bindNoPort
	}
	t, err := d.DialContext(s.ctx, "tcp", a.dial.String())
	if err != nil {
		s.g.logger.Info("gateway: target unreachable", "client", a.client.String(), "target", a.dial.String(), "err", err)
		rec := a.conn(s.g.o.Team)
		rec.Start, rec.End, rec.Error = start, s.g.o.Now(), err.Error()
		s.g.o.Record(rec)
		return nil, err
	}
	cc := s.g.meter.Track(t, start, a)
	s.mu.Lock()
	ss := s.sessions[a.client]
	if s.closed || ss == nil {
		s.mu.Unlock()
		cc.Close()
		return nil, ErrClosed
	}
	ss.target = cc
	ss.client.SetDeadline(time.Time{})
	s.mu.Unlock()
	s.g.logger.Debug("gateway: connected", "client", a.client.String(), "target", a.addr.String(), "port", a.port, "dialed", a.dial.String())
	return cc, nil
}

// report turns the meter's reports into telemetry records.
func (g *Gateway) report(r flow.Report[*attempt]) {
	var rec Conn
	if r.Kind == flow.Heartbeat {
		rec = Conn{Team: g.o.Team}
	} else {
		rec = r.Info.conn(g.o.Team)
		rec.Start = r.Start
		// The gateway writes what the client sent to the target and
		// reads the target's answer.
		rec.BytesUp, rec.BytesDown = r.Written, r.Read
		if r.Kind == flow.Close {
			rec.End = r.At
		}
	}
	rec.State, rec.Run, rec.ID, rec.At = string(r.Kind), r.Run, r.ID, r.At
	g.o.Record(rec)
}

func addrPortOf(a net.Addr) netip.AddrPort { return flow.AddrPort(a) }
