package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/cyrange/cyrange/images/target"
	cyberrange "github.com/cyrange/cyrange/range"
	"github.com/cyrange/cyrange/range/gateway"
	"github.com/cyrange/cyrange/range/operator"
	"github.com/cyrange/cyrange/range/rehearsal"
	"github.com/cyrange/cyrange/scenarios"
	"github.com/cyrange/cyrange/scoreboard/checks"
	"github.com/cyrange/cyrange/scoreboard/datadir"
	"github.com/cyrange/cyrange/scoreboard/exercisedb"
	"github.com/cyrange/cyrange/scoreboard/serve"
	"github.com/cyrange/cyrange/scoreboard/tokens"
)

func runExercise(ctx context.Context, e *env, args []string) (err error) {
	fs := newFlagSet(e, "run")
	driver := fs.String("driver", "none", "where the targets run: none (managed elsewhere), local or docker")
	data := fs.String("data", "", "data directory (default ./cyrange-data/SCENARIO)")
	httpAddr := fs.String("http", "127.0.0.1:8080", "web and API address")
	submitAddr := fs.String("submit", "127.0.0.1:31337", "TCP flag submission address")
	targetHost := fs.String("target-host", "127.0.0.1", "with --driver none: the host where every replica runs")
	down := fs.Bool("down", false, "take the range down when the exercise stops")
	verbose := fs.Bool("v", false, "log debug messages")
	wf := addWebFlags(fs)
	pos, err := parsePositional(fs, args)
	if err != nil {
		return err
	}
	if err := wf.check(); err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("usage: cyrange run SCENARIO [flags] (SCENARIO: a file or one of %s)", strings.Join(scenarios.Builtins(), ", "))
	}
	sc, err := openScenario(pos[0])
	if err != nil {
		return err
	}
	switch *driver {
	case "none", cyberrange.DriverLocal, cyberrange.DriverDocker:
	default:
		return usagef("--driver must be none, local or docker, not %q", *driver)
	}
	if *data == "" {
		*data = filepath.Join("cyrange-data", sc.Name)
	}
	logger := newLogger(e.stderr, *verbose)
	// Before anything else: a second run on the same directory must not
	// touch the first one's range.
	lock, err := datadir.Acquire(*data)
	if err != nil {
		return err
	}
	defer lock.Release()
	o := serve.Options{Scenario: sc, DataDir: *data, HTTPAddr: *httpAddr, SubmitAddr: *submitAddr, Logger: logger}
	wf.apply(&o)
	// The addresses too come before the range: one in use fails the run
	// before it brings anything up.
	if o.Listeners, err = serve.Listen(o); err != nil {
		return err
	}
	served := false
	defer func() {
		if !served {
			o.Listeners.Close()
		}
	}()
	var rg *exerciseRange
	if *driver == "none" {
		secret, err := tokens.LoadCheckerSecret(*data, !exercisedb.Exists(*data))
		if err != nil {
			return err
		}
		o.Placement = scenarios.Placement{ReplicaAddress: func(int, int) string { return *targetHost }}
		if o.Checkers, err = checkersFor(sc, targets(), target.CheckerConfig{Secret: secret, Logger: logger}, *targetHost); err != nil {
			return err
		}
	} else {
		rg, err = startRange(ctx, e, sc, *data, *driver, logger)
		if err != nil {
			return err
		}
		defer rg.release()
		// However the exercise ends from here on, even failing to
		// start, the range is either taken down (--down) or said to be
		// up, with how to take it down.
		defer func() {
			if !*down {
				fmt.Fprintf(e.stdout, "The range stays up: cyrange range down %s --driver %s --data %s\n", pos[0], *driver, *data)
				return
			}
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
			defer cancel()
			if derr := rg.orch.DownOwn(dctx, sc.Name, rg.plan.Instance()); derr != nil {
				err = errors.Join(err, derr)
				return
			}
			fmt.Fprintf(e.stdout, "range %q is down\n", sc.Name)
		}()
		o.Placement, o.Checkers, o.Range = rg.plan.Placement(), rg.checkers, rg.orch
		o.Plan, o.Logs, o.Readers = rg.plan, rg.driver, lineReaders(sc, targets())
	}
	x, err := serve.New(ctx, o)
	if err != nil {
		return err
	}
	served = true
	defer x.Close()
	if rg != nil {
		go rg.watch(ctx)
	}
	printWhere(e.stdout, x, *data)
	if rg != nil {
		rg.printGateways(e.stdout, ctx)
	}
	return x.Run(ctx)
}

// exerciseRange is a range brought up for an exercise.
type exerciseRange struct {
	plan     *cyberrange.Plan
	orch     *cyberrange.Orchestrator
	driver   cyberrange.Driver
	checkers map[int]checks.Checker
	release  func() error
	logger   *slog.Logger
}

// startRange brings the scenario's range up (adopting what already runs)
// and points the game's checkers at the range's checker processes.
func startRange(ctx context.Context, e *env, sc *scenarios.Scenario, data, driver string, logger *slog.Logger) (*exerciseRange, error) {
	return startRangeWith(ctx, e, sc, data, driver, driverOptions{Logger: logger})
}

// startRangeWith is startRange with the driver's options (the binary the
// local driver runs, in tests).
func startRangeWith(ctx context.Context, e *env, sc *scenarios.Scenario, data, driver string, do driverOptions) (*exerciseRange, error) {
	logger := do.Logger
	do.DataDir, do.StateDir, do.Version = data, filepath.Join(data, rangeStateDir), version
	d, release, err := newDriver(ctx, driver, do)
	if err != nil {
		return nil, err
	}
	plan, err := rangePlan(sc, data, driver, "", true)
	if err != nil {
		release()
		return nil, err
	}
	pr := newProgressPrinter(e.stdout, false)
	orch := cyberrange.NewOrchestrator(cyberrange.OrchestratorOptions{Driver: d, Logger: logger, Progress: pr.print})
	start := time.Now()
	// An exercise that cannot start takes down what it started: left
	// running, those processes would answer on the plan's addresses for
	// the next range.
	if err := orch.UpOrUndo(ctx, plan); err != nil {
		release()
		return nil, fmt.Errorf("bringing the range up: %w", err)
	}
	fmt.Fprintf(e.stdout, "range %q is up (%s)\n\n", sc.Name, time.Since(start).Round(time.Millisecond))
	rep, err := orch.Status(ctx, plan)
	if err != nil {
		release()
		return nil, err
	}
	chk, err := checkerClients(sc, plan, rep)
	if err != nil {
		release()
		return nil, err
	}
	return &exerciseRange{plan: plan, orch: orch, driver: d, checkers: chk, release: release, logger: logger}, nil
}

// checkerClients are the game's clients of every service's checker: a
// built-in one where the driver says the host reaches it (the docker
// driver's checkers network is closed to the host), proving itself with
// the token derived from the secret the two share, as the built-in
// checker serves only the game; any other over its URL.
func checkerClients(sc *scenarios.Scenario, plan *cyberrange.Plan, rep cyberrange.Report) (map[int]checks.Checker, error) {
	chk := map[int]checks.Checker{}
	for i, svc := range sc.Services {
		name, ok := svc.IsBuiltinChecker()
		if !ok {
			chk[i] = checks.NewClient(svc.Checker, &http.Client{})
			continue
		}
		url, ok := plan.CheckerURL(name)
		c, found := plan.Checker(name)
		if !ok || !found {
			return nil, fmt.Errorf("service %q: the plan has no checker %q", svc.Name, name)
		}
		if a, ok := rep.HostAddr(c.Name, cyberrange.PortChecker); ok {
			url = "http://" + a
		}
		chk[i] = checks.NewClient(url, &http.Client{}, checks.WithToken(checks.CallerToken(c.Env[cyberrange.EnvCheckerSecret])))
	}
	return chk, nil
}

// watch restarts what dies until ctx is done.
func (r *exerciseRange) watch(ctx context.Context) {
	if err := r.orch.Watch(ctx, r.plan); err != nil && ctx.Err() == nil {
		r.logger.Error("range watch stopped", "err", err)
	}
}

func (r *exerciseRange) printGateways(w io.Writer, ctx context.Context) {
	rep, err := r.orch.Status(ctx, r.plan)
	if err != nil {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  TEAM\tSOCKS5 GATEWAY\tUSER\tSOURCE NETWORK")
	for team := 0; team < 256; team++ {
		g, ok := r.plan.Gateway(team)
		if !ok {
			continue
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", g.Team, gateway.HostAddr(g, rep), g.Short, g.Source)
	}
	tw.Flush()
	fmt.Fprintln(w, "  (gateway password: the team's token)")
	fmt.Fprintln(w)
}

// parsePositional parses flags that may come before or after the
// positional arguments (cyrange run SCENARIO --data DIR) and returns the
// positional ones.
func parsePositional(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := parse(fs, args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

func newLogger(w io.Writer, verbose bool) *slog.Logger {
	lvl := slog.LevelInfo
	if verbose {
		lvl = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: lvl}))
}

// printWhere tells the organizer where everything is.
func printWhere(w io.Writer, x *serve.Exercise, dataDir string) {
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		abs = dataDir
	}
	sc := x.Scenario()
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "cyrange: exercise %q (%s)\n", sc.Name, sc.Title)
	fmt.Fprintf(tw, "  scoreboard\thttp://%s/\n", x.HTTPAddr())
	fmt.Fprintf(tw, "  API\thttp://%s/api/v1/\n", x.HTTPAddr())
	fmt.Fprintf(tw, "  live stream\tws://%s/api/v1/live\n", x.HTTPAddr())
	if a := x.MetricsAddr(); a != "" {
		fmt.Fprintf(tw, "  metrics\thttp://%s/metrics\n", a)
	}
	fmt.Fprintf(tw, "  flag submission (TCP)\t%s\n", x.SubmitAddr())
	fmt.Fprintf(tw, "  flag submission (HTTP)\tPUT http://%s/flags\n", x.HTTPAddr())
	fmt.Fprintf(tw, "  team tokens\t%s\n", filepath.Join(abs, tokens.FileName))
	fmt.Fprintf(tw, "  event log\t%s\n", filepath.Join(abs, exercisedb.File))
	p, frozen := x.Game().Phase()
	fmt.Fprintf(tw, "  phase\t%s%s\n", p, map[bool]string{true: " (board frozen)"}[frozen])
	tw.Flush()
	if p.String() == "setup" {
		fmt.Fprintf(w, "\nStart the game with: cyrange game start --data %s\n", dataDir)
	}
	fmt.Fprintln(w)
}

// tempDataDir makes a fresh data directory for a throwaway exercise.
func tempDataDir(prefix string) (string, error) {
	return os.MkdirTemp("", prefix+"-"+time.Now().Format("20060102-150405")+"-")
}

// operator works on the range's replicas from inside it.
func (r *exerciseRange) operator(sc *scenarios.Scenario) *operator.Operator {
	ex, _ := r.driver.(operator.Driver)
	return &operator.Operator{Plan: r.plan, Scenario: sc, Driver: ex, Targets: targets()}
}

// forRehearsal is the range as a rehearsal checks it.
func (r *exerciseRange) forRehearsal(sc *scenarios.Scenario) *rehearsal.Range {
	return &rehearsal.Range{Plan: r.plan, Checkers: r.checkers, Remedy: r.operator(sc).Remedy,
		Status: func(ctx context.Context) (cyberrange.Report, error) { return r.orch.Status(ctx, r.plan) }}
}
