package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/cyrange/cyrange/scenarios"
	"github.com/cyrange/cyrange/scoreboard/exercisedb"
	"github.com/cyrange/cyrange/scoreboard/live"
	"github.com/cyrange/cyrange/scoreboard/loadgen"
	"github.com/cyrange/cyrange/scoreboard/serve"
	"github.com/cyrange/cyrange/scoreboard/submit"
)

func runBench(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 {
		return usagef("usage: cyrange bench submit|live|replay [flags]")
	}
	switch args[0] {
	case "submit":
		return benchSubmit(ctx, e, args[1:])
	case "live":
		return benchLive(ctx, e, args[1:])
	case "viewers":
		return benchViewers(ctx, e, args[1:])
	case "replay":
		return benchReplay(ctx, e, args[1:])
	case "range":
		return benchRange(ctx, e, args[1:])
	}
	return usagef("unknown benchmark %q: want submit, live or replay", args[0])
}

// benchExercise starts an in-process exercise of loadgen.Scenario on
// loopback, running, with every tick of the flag lifetime issued.
func benchExercise(ctx context.Context, teams int, logger *slog.Logger, edits ...func(*serve.Options)) (*serve.Exercise, string, func(), error) {
	sc, err := loadgen.Scenario(teams)
	if err != nil {
		return nil, "", nil, err
	}
	dir, err := tempDataDir("cyrange-bench")
	if err != nil {
		return nil, "", nil, err
	}
	o := serve.Options{Scenario: sc, DataDir: dir, HTTPAddr: "127.0.0.1:0",
		SubmitAddr: "127.0.0.1:0", Logger: logger, AutoStart: true}
	for _, edit := range edits {
		edit(&o)
	}
	x, err := serve.New(ctx, o)
	if err != nil {
		os.RemoveAll(dir)
		return nil, "", nil, err
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- x.Run(rctx) }()
	cleanup := func() {
		cancel()
		<-done
		x.Close()
		os.RemoveAll(dir)
	}
	if err := loadgen.StartTicks(ctx, x.Game()); err != nil {
		cleanup()
		return nil, "", nil, err
	}
	return x, dir, cleanup, nil
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
	x, dir, cleanup, err := benchExercise(ctx, *teams, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	defer cleanup()
	gen, total := loadgen.Flags(x.Game())
	if *flags > total {
		return usagef("--flags is at most %d (the benchmark's distinct flags)", total)
	}
	var toks []string
	for i, t := range x.Game().Config().Teams {
		if t.Role.Attacks() {
			toks = append(toks, x.Tokens().TeamToken(i))
		}
	}
	res, err := loadgen.Submit(ctx, submit.LoadOptions{Addr: x.SubmitAddr(), URL: "http://" + x.HTTPAddr() + "/flags",
		Proto: *proto, Tokens: toks, Flags: gen, PerTeam: *flags, Batch: *batch, Rate: *rate, Conns: *conns}, dir)
	if err != nil {
		return err
	}
	if err := printSubmit(e.stdout, *proto, *teams, res, *asJSON); err != nil {
		return err
	}
	if res.OK != res.Sent {
		return fmt.Errorf("%d of %d flags were not accepted", res.Sent-res.OK, res.Sent)
	}
	return nil
}

// printSubmit prints bench submit's figures, as text or as one JSON
// object.
func printSubmit(w io.Writer, proto string, teams int, res loadgen.SubmitResult, asJSON bool) error {
	p50, p99 := res.FdatasyncP50, res.FdatasyncP99
	if asJSON {
		return json.NewEncoder(w).Encode(map[string]any{"proto": proto, "teams": teams, "sent": res.Sent, "ok": res.OK,
			"other": res.Other, "elapsed": res.Elapsed.Seconds(), "flagsPerSecond": res.PerSecond,
			"p50ms": ms(res.P50), "p90ms": ms(res.P90), "p99ms": ms(res.P99), "maxms": ms(res.Max),
			"baselinePerSecond": res.Baseline, "ratio": res.Ratio(),
			"fdatasyncP50ms": ms(p50), "fdatasyncP99ms": ms(p99), "latencyTargetMs": ms(2*p99) + 2})
	}
	fmt.Fprintf(w, "bench submit %s: %d teams, %d flags sent, %d OK, %d other, in %.2fs\n",
		proto, teams, res.Sent, res.OK, res.Other, res.Elapsed.Seconds())
	fmt.Fprintf(w, "  durable acceptance: %.0f flags/s\n", res.PerSecond)
	fmt.Fprintf(w, "  latency per flag: p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms\n",
		ms(res.P50), ms(res.P90), ms(res.P99), ms(res.Max))
	fmt.Fprintf(w, "  baseline, raw bbolt group commit (64 submitters, 100 B): %.0f appends/s; ratio %.2f\n",
		res.Baseline, res.Ratio())
	fmt.Fprintf(w, "  disk fdatasync of 8 KiB: p50 %.3f ms, p99 %.3f ms (latency target p99 ≤ %.2f ms)\n",
		ms(p50), ms(p99), ms(2*p99)+2)
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func benchReplay(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "bench replay")
	n := fs.Int("events", 1_000_000, "events in the log")
	if err := parse(fs, args); err != nil {
		return err
	}
	sc, err := scenarios.Builtin("tiengiang-2023")
	if err != nil {
		return err
	}
	dir, err := tempDataDir("cyrange-replay")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	res, err := loadgen.Replay(ctx, sc.GameConfig(scenarios.Placement{}), filepath.Join(dir, exercisedb.File), *n)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "bench replay: %d events from bbolt into standings of %d teams in %.3fs (best of 3): %.0f events/s (target ≤ 1s)\n",
		res.Events, res.Teams, res.Best.Seconds(), res.PerSecond())
	return nil
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
	x, _, cleanup, err := benchExercise(ctx, 17, slog.New(slog.DiscardHandler), func(o *serve.Options) {
		o.ViewersPerSource = *viewers
		o.ConnsPerSource = 2**viewers + 64
	})
	if err != nil {
		return err
	}
	defer cleanup()
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
	printLive(e.stdout, res)
	return nil
}

func printLive(w io.Writer, res loadgen.LiveResult) {
	fmt.Fprintf(w, "bench live: %d viewers connected (%d failed) in %.2fs\n", res.Viewers, res.Failed, res.ConnectTime.Seconds())
	fmt.Fprintf(w, "  frames: %d, each reached at least %d viewers, %d frames reached all; %d viewers dropped, %d gaps\n",
		res.Frames, res.MinReach, res.FullyReached, res.Dropped, res.Gaps)
	fmt.Fprintf(w, "  commit → frame received: p50 %.1f ms, p99 %.1f ms, max %.1f ms (target p99 ≤ 100 ms)\n",
		ms(res.P50), ms(res.P99), ms(res.Max))
	fmt.Fprintf(w, "  server memory: %.1f MiB with 0 viewers, %.1f MiB with %d: %.1f KiB per viewer (target ≤ 16 KiB)\n",
		float64(res.RSSIdle)/(1<<20), float64(res.RSSWatched)/(1<<20), res.Viewers, res.PerViewerKiB())
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
