package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"time"

	"github.com/cyrange/cyrange/images/portal"
	"github.com/cyrange/cyrange/images/portal/portalbench"
	"github.com/cyrange/cyrange/range/docker"
	"github.com/cyrange/cyrange/range/rangebench"
	"github.com/cyrange/cyrange/scenarios"
	"github.com/cyrange/cyrange/scoreboard/live"
	"github.com/cyrange/cyrange/scoreboard/loadgen"
	"github.com/cyrange/cyrange/scoreboard/serve"
)

func runBench(ctx context.Context, e *env, args []string) error {
	benches := map[string]func(context.Context, *env, []string) error{"submit": benchSubmit, "live": benchLive,
		"viewers": benchViewers, "replay": benchReplay, "range": benchRange, "portal": benchPortal}
	if len(args) == 0 {
		return usagef("usage: cyrange bench submit|live|replay|range|portal [flags]")
	}
	if b, ok := benches[args[0]]; ok {
		return b(ctx, e, args[1:])
	}
	return usagef("unknown benchmark %q: want submit, live, replay, range or portal", args[0])
}

// benchServe serves a benchmark's exercise on loopback, its log
// discarded, with edit's changes to the options, if any.
func benchServe(edit func(*serve.Options)) loadgen.Serve {
	return func(ctx context.Context, sc *scenarios.Scenario, dir string) (loadgen.Exercise, error) {
		o := serve.Options{Scenario: sc, DataDir: dir, HTTPAddr: "127.0.0.1:0", SubmitAddr: "127.0.0.1:0", AutoStart: true}
		if edit != nil {
			edit(&o)
		}
		x, err := serve.New(ctx, o)
		if err != nil {
			return nil, err
		}
		return x, nil
	}
}

func benchSubmit(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "bench submit")
	teams := fs.Int("teams", 17, "attack teams submitting at once")
	flags := fs.Int("flags", 20000, "flags per team")
	proto := fs.String("proto", "tcp", "tcp or http")
	batch := fs.Int("batch", 100, "flags per write (tcp) or per request (http)")
	rate := fs.Float64("rate", 0, "steady total rate in flags/s (0: as fast as possible), for the latency row")
	conns := fs.Int("conns", 4, "HTTP requests in flight per team")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *proto != "tcp" && *proto != "http" {
		return usagef("--proto must be tcp or http")
	}
	if *teams < 1 || *teams > 200 || *flags < 1 {
		return usagef("--teams must be 1..200 and --flags positive")
	}
	if *flags > loadgen.DistinctFlags {
		return usagef("--flags is at most %d (the benchmark's distinct flags)", loadgen.DistinctFlags)
	}
	x, err := loadgen.Start(ctx, *teams, benchServe(nil))
	if err != nil {
		return err
	}
	defer x.Stop()
	res, err := x.Submit(ctx, loadgen.SubmitOptions{Proto: *proto, PerTeam: *flags, Batch: *batch, Rate: *rate, Conns: *conns})
	if err != nil {
		return err
	}
	write := res.WriteText
	if *asJSON {
		write = res.WriteJSON
	}
	if err := write(e.stdout); err != nil {
		return err
	}
	if res.OK != res.Sent {
		return fmt.Errorf("%d of %d flags were not accepted", res.Sent-res.OK, res.Sent)
	}
	return nil
}

func benchReplay(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "bench replay")
	n := fs.Int("events", 1_000_000, "events in the log")
	if err := parse(fs, args); err != nil {
		return err
	}
	res, err := loadgen.ReplayTemp(ctx, *n)
	if err != nil {
		return err
	}
	return res.WriteText(e.stdout)
}

// benchLive runs the server in this process and the viewers in a child
// process (open files are limited per process), makes changes while they
// watch, and reports commit → frame latency and memory per viewer.
func benchLive(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "bench live")
	viewers := fs.Int("viewers", 10000, "websocket viewers")
	dur := fs.Duration("duration", 10*time.Second, "how long to measure")
	rate := fs.Int("changes", 4, "captures per second while measuring (above 10/s every change waits for the coalescing window)")
	profile := fs.String("cpuprofile", "", "write the server's CPU profile while measuring to this file")
	if err := parse(fs, args); err != nil {
		return err
	}
	// Every viewer comes from this machine's one address.
	x, err := loadgen.Start(ctx, 17, benchServe(func(o *serve.Options) {
		o.ViewersPerSource, o.ConnsPerSource = *viewers, 2**viewers+64
	}))
	if err != nil {
		return err
	}
	defer x.Stop()
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, self, "bench", "viewers", "--url", "ws://"+x.HTTPAddr()+"/api/v1/live",
		"--viewers", strconv.Itoa(*viewers), "--duration", dur.String())
	cmd.Stderr = e.stderr
	res, err := loadgen.Live(ctx, loadgen.LiveOptions{Game: x.Game(), Viewers: cmd, Changes: *rate, CPUProfile: *profile})
	if err != nil {
		return err
	}
	return res.WriteText(e.stdout)
}

// benchViewers is the child side of bench live (loadgen.ServeViewers).
func benchViewers(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "bench viewers")
	url := fs.String("url", "", "the live stream URL")
	n := fs.Int("viewers", 1000, "viewers")
	dur := fs.Duration("duration", 10*time.Second, "how long to measure")
	if err := parse(fs, args); err != nil {
		return err
	}
	return loadgen.ServeViewers(ctx, e.stdout, live.ViewerOptions{URL: *url, Viewers: *n, Duration: *dur})
}

// benchRange is `cyrange bench range`: the time `range up` of a
// scenario's plan takes on the Docker engine against `docker compose up
// -d` of an equivalent Compose file, in the same run, and the teardown
// times of both.
func benchRange(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "bench range")
	scenario := fs.String("scenario", "tiengiang-2023", "scenario (a file or a built-in)")
	runs := fs.Int("runs", 3, "runs of each; the medians are reported")
	parallel := fs.Int("parallel", 8, "how many containers range up starts at once")
	image := fs.String("image", "", "image of the roles (default: build "+rangebench.DefaultImage+" from this binary)")
	compose := fs.String("compose", "", "the Compose command (default: docker-compose, or docker compose)")
	verbose := fs.Bool("v", false, "log debug messages")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *runs < 1 || *parallel < 1 {
		return usagef("--runs and --parallel must be at least 1")
	}
	composeCmd, err := rangebench.FindCompose(*compose)
	if err != nil {
		return err
	}
	sc, err := openScenario(*scenario)
	if err != nil {
		return err
	}
	logger := newLogger(e.stderr, *verbose)
	d, err := docker.New(ctx, docker.Options{Logger: logger})
	if err != nil {
		return err
	}
	defer d.Close()
	return rangebench.Run(ctx, rangebench.RunOptions{Scenario: sc, Name: *scenario, Driver: d, Parallel: *parallel, Logger: logger,
		Image: *image, ComposeFile: docker.ComposeFile, Compose: composeCmd, Runs: *runs, Stdout: e.stdout, Stderr: e.stderr,
		StaticBinary: func(ctx context.Context) (string, func(), error) {
			return docker.StaticBinary(ctx, "", ".", versionLDFlags(), e.stdout)
		}})
}

// benchPortal is `cyrange bench portal`: the portal replica, run by this
// binary as its role in a process of its own, scanned by attack teams
// while the checker plays its rounds and citizens browse it
// (portalbench.Run).
func benchPortal(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "bench portal")
	teams := fs.Int("teams", 17, fmt.Sprintf("attack teams scanning, each from its own address (1 to %d)", portalbench.MaxTeams))
	rate := fs.Float64("rate", 100, "requests/s per team")
	workers := fs.Int("workers", 40, "requests in flight per team at most (ffuf's -t)")
	dur := fs.Duration("duration", time.Minute, "how long the teams scan")
	baseline := fs.Duration("baseline", 15*time.Second, "how long the citizens' pages are measured first, with no scan")
	tick := fs.Duration("tick", 15*time.Second, "the checker's tick (the demo's, the shortest of the built-in scenarios)")
	sites := fs.Int("sites", portal.MaxSites, "sites of the province")
	dossiers := fs.Int("dossiers", portal.DefaultDossiers, "generated dossiers")
	citizens := fs.Int("citizens", 4, "citizens browsing at once")
	verbose := fs.Bool("v", false, "log debug messages")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *teams < 1 || *teams > portalbench.MaxTeams || *rate <= 0 || *workers < 1 || *dur <= 0 || *baseline <= 0 || *tick < time.Second ||
		*sites < 1 || *sites > portal.MaxSites || *dossiers < 1 || *dossiers > portal.MaxDossiers || *citizens < 1 {
		return usagef("--teams must be 1..%d, --sites 1..%d, --dossiers 1..%d, --tick at least 1s, the others positive",
			portalbench.MaxTeams, portal.MaxSites, portal.MaxDossiers)
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	res, err := portalbench.Run(ctx, portalbench.Options{
		Target: func(ctx context.Context, args []string) *exec.Cmd {
			return exec.CommandContext(ctx, self, append([]string{"target", "portal"}, args...)...)
		},
		Teams: *teams, Rate: *rate, Workers: *workers, Duration: *dur, Baseline: *baseline, Tick: *tick,
		Sites: *sites, Dossiers: *dossiers, Citizens: *citizens, Logger: newLogger(e.stderr, *verbose),
	})
	if err != nil {
		return err
	}
	if err := res.WriteText(e.stdout); err != nil {
		return err
	}
	if !res.CheckerOK() {
		return fmt.Errorf("the checker did not stay OK under the scan")
	}
	return nil
}
