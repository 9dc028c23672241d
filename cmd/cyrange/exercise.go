package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	cyberrange "github.com/cyrange/cyrange/range"
	"github.com/cyrange/cyrange/scenarios"
	"github.com/cyrange/cyrange/scoreboard"
	"github.com/cyrange/cyrange/scoreboard/checks"
	"github.com/cyrange/cyrange/scoreboard/ingest"
	"github.com/cyrange/cyrange/scoreboard/live"
	"github.com/cyrange/cyrange/scoreboard/store"
	"github.com/cyrange/cyrange/scoreboard/submit"
	"github.com/cyrange/cyrange/scoreboard/tokens"
	"github.com/cyrange/cyrange/scoreboard/web"
)

// exerciseOptions say what to serve and where.
type exerciseOptions struct {
	Scenario   *scenarios.Scenario
	DataDir    string
	HTTPAddr   string
	SubmitAddr string
	Placement  scenarios.Placement
	// Checkers maps a service id to its checker; services without one are
	// not checked.
	Checkers map[int]checks.Checker
	Logger   *slog.Logger
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
	// (listen): a command binds them before it brings a range up, so that
	// an address in use fails it before it touches anything.
	Listeners *listeners
	// ViewersPerSource and ConnsPerSource bound what one address holds
	// of the public live stream and of the web port; zero means the
	// defaults.
	ViewersPerSource int
	ConnsPerSource   int
}

// exercise is one running exercise: the log, the game and its front doors.
type exercise struct {
	o       exerciseOptions
	data    *exerciseData
	game    *scoreboard.Game
	tokens  *tokens.Set
	hub     *live.Hub
	web     *web.Server
	tcp     *submit.TCPServer
	metrics *web.Metrics
	httpLn  net.Listener
	tcpLn   net.Listener
	// metricsLn is nil without exerciseOptions.MetricsAddr.
	metricsLn net.Listener
	ingest    *ingest.Collector
}

// newExercise opens (or creates) the exercise in o.DataDir and binds its
// listeners; Run serves it.
func newExercise(ctx context.Context, o exerciseOptions) (x *exercise, err error) {
	logger := o.Logger
	metrics := web.NewMetrics()
	// The tokens are made before the log, so that an exercise whose log
	// exists always has the tokens its teams were given.
	toks, err := tokens.Load(o.DataDir, o.Scenario.GameConfig(o.Placement).Teams, !exerciseExists(o.DataDir))
	if err != nil {
		return nil, err
	}
	d, err := openDataObserved(ctx, o.DataDir, o.Scenario, logger, metrics)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			d.Close()
		}
	}()
	cfg := d.gameConfig(o.Placement)
	var checker scoreboard.TickChecker
	if len(o.Checkers) > 0 {
		checker = tickObserver{checks.NewRunner(checks.RunnerOptions{Checkers: o.Checkers, Logger: logger.With("component", "checks")}), metrics}
	}
	g, err := scoreboard.NewGame(ctx, scoreboard.Options{Config: cfg, Log: d.log, Key: d.key, Checker: checker,
		Logger: logger.With("component", "game")})
	if err != nil {
		return nil, err
	}
	observe := func(c scoreboard.Code, n int) { metrics.ObserveSubmission(c.String(), n) }
	lim := submit.NewLimiter(cfg.RatePerTeam, cfg.Burst, len(cfg.Teams), time.Now)
	hub := live.NewHub(live.Options{Source: g, Logger: logger.With("component", "live"), MaxViewersPerSource: o.ViewersPerSource,
		Observe: live.Observer{Viewers: func(aud string, n int) {
			if aud == "public" {
				metrics.SetViewers(n)
			}
		}}})
	flags := submit.NewHTTPHandler(submit.HTTPOptions{Judge: g, Auth: toks, Limiter: lim,
		Logger: logger.With("component", "submit"), Observe: observe})
	srv := web.New(web.Options{Game: g, Auth: toks, Live: hub, Flags: flags, Range: o.Range, Metrics: metrics,
		Detections: g.Detections(), Events: d.log, Logger: logger.With("component", "web"),
		Limits: web.Limits{MaxConnsPerSource: o.ConnsPerSource}})
	// Only Docker's team networks prove who a source address is: on the
	// local driver any process can bind a team's loopback address.
	tcp := submit.NewTCPServer(submit.TCPOptions{Judge: g, Auth: toks, Limiter: lim,
		AddressIdentity: o.Plan != nil && o.Plan.Driver == cyberrange.DriverDocker,
		Logger:          logger.With("component", "submit"), Observe: observe})
	x = &exercise{o: o, data: d, game: g, tokens: toks, hub: hub, web: srv, tcp: tcp, metrics: metrics}
	if o.Plan != nil && o.Logs != nil {
		if o.Readers == nil {
			o.Readers = lineReaders(o.Scenario, targets())
		}
		if x.ingest, err = ingest.New(ingest.Options{Plan: o.Plan, Logs: o.Logs, Readers: o.Readers, Game: g, Console: hub, Logger: logger}); err != nil {
			return nil, err
		}
	}
	lns := o.Listeners
	if lns == nil {
		if lns, err = listen(o); err != nil {
			return nil, err
		}
	}
	x.httpLn, x.tcpLn, x.metricsLn = lns.http, lns.submit, lns.metrics
	// Written as soon as the addresses are known, so that `cyrange game
	// --data DIR` finds the server even before Run has started.
	if err := writeServerInfo(o.DataDir, serverInfo{HTTP: x.HTTPAddr(), Submit: x.SubmitAddr(), PID: os.Getpid()}); err != nil {
		lns.close()
		return nil, err
	}
	return x, nil
}

// listeners are an exercise's bound addresses.
type listeners struct {
	http, submit net.Listener
	// metrics is nil without exerciseOptions.MetricsAddr.
	metrics net.Listener
}

// listen binds the exercise's web, submission and metrics addresses.
func listen(o exerciseOptions) (*listeners, error) {
	var l listeners
	var err error
	if l.http, err = net.Listen("tcp", o.HTTPAddr); err != nil {
		return nil, fmt.Errorf("web listener: %w", err)
	}
	if l.submit, err = net.Listen("tcp", o.SubmitAddr); err != nil {
		l.close()
		return nil, fmt.Errorf("submission listener: %w", err)
	}
	if o.MetricsAddr != "" {
		if l.metrics, err = net.Listen("tcp", o.MetricsAddr); err != nil {
			l.close()
			return nil, fmt.Errorf("metrics listener: %w", err)
		}
	}
	return &l, nil
}

func (l *listeners) close() {
	for _, ln := range []net.Listener{l.http, l.submit, l.metrics} {
		if ln != nil {
			ln.Close()
		}
	}
}

// openDataObserved opens the data directory with commit metrics.
func openDataObserved(ctx context.Context, dir string, sc *scenarios.Scenario, logger *slog.Logger, m *web.Metrics) (*exerciseData, error) {
	return openDataWith(ctx, dir, sc, logger, func(o *store.Options) {
		o.ObserveCommit = func(d time.Duration, _ int) { m.ObserveCommit(d) }
	})
}

// tickObserver times every tick's checks for the metrics.
type tickObserver struct {
	r scoreboard.TickChecker
	m *web.Metrics
}

func (t tickObserver) CheckTick(ctx context.Context, p scoreboard.TickPlan) []scoreboard.ReplicaCheck {
	start := time.Now()
	defer func() { t.m.ObserveTick(time.Since(start)) }()
	return t.r.CheckTick(ctx, p)
}

// HTTPAddr and SubmitAddr are where the exercise listens.
func (x *exercise) HTTPAddr() string   { return x.httpLn.Addr().String() }
func (x *exercise) SubmitAddr() string { return x.tcpLn.Addr().String() }

// MetricsAddr is where /metrics is served without a token, or "".
func (x *exercise) MetricsAddr() string {
	if x.metricsLn == nil {
		return ""
	}
	return x.metricsLn.Addr().String()
}

// Run serves until ctx is done, then stops everything in order and takes
// a last snapshot so the next start folds nothing.
func (x *exercise) Run(ctx context.Context) error {
	if x.o.AutoStart {
		if p, _ := x.game.Phase(); p == scoreboard.PhaseSetup {
			if err := x.game.Act(ctx, scoreboard.ActStart); err != nil {
				return err
			}
		}
	}
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	var wg sync.WaitGroup
	errs := make(chan error, 6)
	goRun := func(name string, f func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(); err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, http.ErrServerClosed) &&
				!errors.Is(err, net.ErrClosed) {
				errs <- fmt.Errorf("%s: %w", name, err)
				stop()
			}
		}()
	}
	goRun("game", func() error { return x.game.Run(sctx) })
	goRun("live", func() error { return x.hub.Run(sctx) })
	goRun("web", func() error { return x.web.Serve(sctx, x.httpLn) })
	goRun("submit", func() error { return x.tcp.Serve(sctx, x.tcpLn) })
	if x.metricsLn != nil {
		goRun("metrics", func() error { return x.web.ServeMetrics(sctx, x.metricsLn) })
	}
	if x.ingest != nil {
		goRun("ingest", func() error { return x.ingest.Run(sctx) })
	}
	<-sctx.Done()
	x.tcp.Close()
	wg.Wait()
	close(errs)
	err := <-errs
	// A last snapshot with a fresh context: the caller's is done.
	sctx2, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if serr := x.game.Snapshot(sctx2); serr != nil && err == nil {
		err = serr
	}
	os.Remove(serverInfoPath(x.o.DataDir))
	return err
}

// Close releases the log.
func (x *exercise) Close() error { return x.data.Close() }
