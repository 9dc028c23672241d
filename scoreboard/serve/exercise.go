// Package serve assembles one exercise and serves it: the event log of
// its data directory, the game folded from it, the tokens, the web server
// and its live hub, the TCP flag submission, the metrics and, when the
// exercise has a range, the collector that follows the range's telemetry
// and logs into the game. An Exercise is made with New, which binds its
// addresses, served by Run until its context ends, and released by Close.
//
// It wires the scoreboard's packages and nothing else: what it knows of
// the range comes from its caller (the plan, the logs, the checkers, the
// targets' line readers). It may import the range's domain package for
// the plan; it must never import the range's drivers, the targets, the
// Docker SDK or cmd.
package serve

import (
	"context"
	"log/slog"
	"os"
	"time"

	cyberrange "github.com/cyrange/cyrange/range"
	"github.com/cyrange/cyrange/scenarios"
	"github.com/cyrange/cyrange/scoreboard"
	"github.com/cyrange/cyrange/scoreboard/checks"
	"github.com/cyrange/cyrange/scoreboard/datadir"
	"github.com/cyrange/cyrange/scoreboard/exercisedb"
	"github.com/cyrange/cyrange/scoreboard/ingest"
	"github.com/cyrange/cyrange/scoreboard/live"
	"github.com/cyrange/cyrange/scoreboard/submit"
	"github.com/cyrange/cyrange/scoreboard/tokens"
	"github.com/cyrange/cyrange/scoreboard/web"
)

// Options say what to serve and where. Scenario and DataDir are required.
type Options struct {
	Scenario   *scenarios.Scenario
	DataDir    string
	HTTPAddr   string
	SubmitAddr string
	Placement  scenarios.Placement
	// Checkers maps a service id to its checker; services without one are
	// not checked.
	Checkers map[int]checks.Checker
	// Logger is narrowed with a component for each part; nil discards.
	Logger *slog.Logger
	// Now is the clock of the game, the rate limits and the metrics; nil
	// means time.Now.
	Now func() time.Time
	// Range reports range health to the organizer; nil without a range.
	Range web.Range
	// AutoStart starts the game if it is still in setup (the demo).
	AutoStart bool
	// Plan and Logs are the range's, when there is one: its gateways'
	// telemetry and its targets' logs are followed into the game and the
	// defence's console.
	Plan *cyberrange.Plan
	Logs ingest.LogSource
	// Readers read each built-in target's log lines, by service.
	Readers map[int]ingest.LineReader
	// MetricsAddr, if set, serves /metrics there without a token.
	MetricsAddr string
	// Listeners, when set, are the addresses' listeners bound already
	// (Listen): a command binds them before it brings a range up, so that
	// an address in use fails it before it touches anything.
	Listeners *Listeners
	// ViewersPerSource and ConnsPerSource bound what one address holds
	// of the public live stream and of the web port; zero means the
	// defaults.
	ViewersPerSource int
	ConnsPerSource   int
}

// Exercise is one exercise being served: the log, the game and its front
// doors.
type Exercise struct {
	o       Options
	db      *exercisedb.DB
	game    *scoreboard.Game
	tokens  *tokens.Set
	hub     *live.Hub
	web     *web.Server
	tcp     *submit.TCPServer
	metrics *web.Metrics
	lns     *Listeners
	// ingest is nil without a range.
	ingest *ingest.Collector
}

// New opens (or creates) the exercise in o.DataDir and binds its
// listeners; Run serves it. On error New closes what it opened; given
// o.Listeners remain the caller's to close.
func New(ctx context.Context, o Options) (x *Exercise, err error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	metrics := web.NewMetrics()
	// The tokens are made before the log, so that an exercise whose log
	// exists always has the tokens its teams were given.
	toks, err := tokens.Load(o.DataDir, o.Scenario.GameConfig(o.Placement).Teams, !exercisedb.Exists(o.DataDir))
	if err != nil {
		return nil, err
	}
	db, err := exercisedb.Open(ctx, o.DataDir, exercisedb.Options{Scenario: o.Scenario, Logger: o.Logger, Now: o.Now,
		ObserveCommit: func(d time.Duration, _ int) { metrics.ObserveCommit(d) }})
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			db.Close()
		}
	}()
	x = &Exercise{o: o, db: db, tokens: toks, metrics: metrics}
	if err := x.assemble(ctx); err != nil {
		return nil, err
	}
	if err := x.bind(); err != nil {
		return nil, err
	}
	return x, nil
}

// assemble makes the game and its front doors, and the collector of the
// range's telemetry and logs when there is a range.
func (x *Exercise) assemble(ctx context.Context) error {
	o, logger := x.o, x.o.Logger
	cfg := x.db.GameConfig(o.Placement)
	var checker scoreboard.TickChecker
	if len(o.Checkers) > 0 {
		checker = tickObserver{r: checks.NewRunner(checks.RunnerOptions{Checkers: o.Checkers,
			Logger: logger.With("component", "checks")}), m: x.metrics, now: o.Now}
	}
	g, err := scoreboard.NewGame(ctx, scoreboard.Options{Config: cfg, Log: x.db.Log(), Key: x.db.Key(), Checker: checker,
		Logger: logger.With("component", "game"), Now: o.Now})
	if err != nil {
		return err
	}
	x.game = g
	x.frontDoors(cfg)
	if o.Plan != nil && o.Logs != nil {
		x.ingest, err = ingest.New(ingest.Options{Plan: o.Plan, Logs: o.Logs, Readers: o.Readers, Game: g, Console: x.hub,
			Logger: logger, Now: o.Now})
	}
	return err
}

// frontDoors makes the live hub, the web server and the TCP submission,
// sharing one rate limit per team.
func (x *Exercise) frontDoors(cfg *scoreboard.Config) {
	o, logger, g, metrics := x.o, x.o.Logger, x.game, x.metrics
	observe := func(c scoreboard.Code, n int) { metrics.ObserveSubmission(c.String(), n) }
	lim := submit.NewLimiter(cfg.RatePerTeam, cfg.Burst, len(cfg.Teams), o.Now)
	x.hub = live.NewHub(live.Options{Source: g, Logger: logger.With("component", "live"), MaxViewersPerSource: o.ViewersPerSource,
		Observe: live.Observer{Viewers: func(aud string, n int) {
			if aud == "public" {
				metrics.SetViewers(n)
			}
		}}})
	flags := submit.NewHTTPHandler(submit.HTTPOptions{Judge: g, Auth: x.tokens, Limiter: lim,
		Logger: logger.With("component", "submit"), Observe: observe})
	x.web = web.New(web.Options{Game: g, Auth: x.tokens, Live: x.hub, Flags: flags, Range: o.Range, Metrics: metrics,
		Detections: g.Detections(), Events: x.db.Log(), Logger: logger.With("component", "web"), Now: o.Now,
		Limits: web.Limits{MaxConnsPerSource: o.ConnsPerSource}})
	// Only Docker's team networks prove who a source address is: on the
	// local driver any process can bind a team's loopback address.
	x.tcp = submit.NewTCPServer(submit.TCPOptions{Judge: g, Auth: x.tokens, Limiter: lim,
		AddressIdentity: o.Plan != nil && o.Plan.Driver == cyberrange.DriverDocker,
		Logger:          logger.With("component", "submit"), Observe: observe})
}

// bind takes the listeners given, or binds the addresses, and says where
// the server is.
func (x *Exercise) bind() error {
	lns := x.o.Listeners
	if lns == nil {
		var err error
		if lns, err = Listen(x.o); err != nil {
			return err
		}
	}
	x.lns = lns
	// Written as soon as the addresses are known, so that `cyrange game
	// --data DIR` finds the server even before Run has started.
	err := datadir.WriteServerInfo(x.o.DataDir, datadir.ServerInfo{HTTP: x.HTTPAddr(), Submit: x.SubmitAddr(), PID: os.Getpid()})
	if err != nil {
		lns.Close()
		return err
	}
	return nil
}

// Game is the exercise's game.
func (x *Exercise) Game() *scoreboard.Game { return x.game }

// Tokens are the exercise's tokens.
func (x *Exercise) Tokens() *tokens.Set { return x.tokens }

// Scenario is the scenario the exercise was made from, as its log
// recorded it.
func (x *Exercise) Scenario() *scenarios.Scenario { return x.db.Scenario() }

// HTTPAddr and SubmitAddr are where the exercise listens.
func (x *Exercise) HTTPAddr() string   { return x.lns.http.Addr().String() }
func (x *Exercise) SubmitAddr() string { return x.lns.submit.Addr().String() }

// MetricsAddr is where /metrics is served without a token, or "".
func (x *Exercise) MetricsAddr() string {
	if x.lns.metrics == nil {
		return ""
	}
	return x.lns.metrics.Addr().String()
}
