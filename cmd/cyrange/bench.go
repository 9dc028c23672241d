package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/cyrange/cyrange/scenarios"
	"github.com/cyrange/cyrange/scoreboard"
	"github.com/cyrange/cyrange/scoreboard/exercisedb"
	"github.com/cyrange/cyrange/scoreboard/live"
	"github.com/cyrange/cyrange/scoreboard/serve"
	"github.com/cyrange/cyrange/scoreboard/store"
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

// Shape of the benchmark exercise: enough flag slots that every team can
// submit tens of thousands of distinct, valid flags (slots = services ×
// stores × ticks of lifetime).
const (
	benchServices = scenarios.MaxServices
	benchStores   = scenarios.MaxFlagStores
	benchTicks    = scenarios.MaxFlagLifetime
)

// benchScenario is the demo with n attack teams, as many slots as a
// scenario may have, and no rate limit worth the name.
func benchScenario(n int) (*scenarios.Scenario, error) {
	base, err := scenarios.Builtin("demo")
	if err != nil {
		return nil, err
	}
	sc := base.WithAttackTeams(n)
	sc.Name = "bench"
	sc.Tick = 24 * time.Hour
	sc.FlagLifetime = benchTicks
	sc.GetflagDepth = 1
	sc.Duration, sc.FreezeAt = 0, 0
	sc.Submission.Rate = 1e9
	sc.Submission.Burst = 1 << 30
	svc := sc.Services[0]
	sc.Services = nil
	for i := range benchServices {
		s := svc
		s.Name = fmt.Sprintf("svc%02d", i)
		s.FlagStores = nil
		for j := range benchStores {
			s.FlagStores = append(s.FlagStores, fmt.Sprintf("s%02d", j))
		}
		sc.Services = append(sc.Services, s)
	}
	return sc, sc.Validate()
}

// benchExercise starts an in-process exercise on loopback, running, with
// every tick of the flag lifetime issued.
func benchExercise(ctx context.Context, teams int, logger *slog.Logger, edits ...func(*serve.Options)) (*serve.Exercise, string, func(), error) {
	sc, err := benchScenario(teams)
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
	// Run starts tick 1; issue the rest of the lifetime's ticks at once.
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, _, tick := phaseTickOf(x.Game())
		if tick >= 1 {
			break
		}
		if time.Now().After(deadline) {
			cleanup()
			return nil, "", nil, fmt.Errorf("the benchmark game did not start")
		}
		time.Sleep(5 * time.Millisecond)
	}
	for t := 1; t < benchTicks; t++ {
		if err := x.Game().StartTick(ctx); err != nil {
			cleanup()
			return nil, "", nil, err
		}
	}
	return x, dir, cleanup, nil
}

func phaseTickOf(g *scoreboard.Game) (scoreboard.Phase, bool, int32) {
	p, f := g.Phase()
	return p, f, g.PublicView().Tick
}

// benchFlags returns the i-th distinct valid flag of the defence replica.
func benchFlags(x *serve.Exercise) (func(team, i int) string, int) {
	cfg := x.Game().Config()
	owner := -1
	for i, t := range cfg.Teams {
		if t.Role.Defends() {
			owner = i
			break
		}
	}
	per := benchServices * benchStores
	total := per * benchTicks
	return func(_, i int) string {
		i %= total
		id := scoreboard.FlagID{Tick: int32(1 + i/per), Owner: int16(owner), Service: int16((i / benchStores) % benchServices),
			Store: int16(i % benchStores)}
		return x.Game().Flags().Issue(id)
	}, total
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
	logger := slog.New(slog.DiscardHandler)
	x, dir, cleanup, err := benchExercise(ctx, *teams, logger)
	if err != nil {
		return err
	}
	defer cleanup()
	gen, total := benchFlags(x)
	if *flags > total {
		return usagef("--flags is at most %d (the benchmark's distinct flags)", total)
	}
	var toks []string
	for i, t := range x.Game().Config().Teams {
		if t.Role.Attacks() {
			toks = append(toks, x.Tokens().TeamToken(i))
		}
	}
	res, err := submit.Load(ctx, submit.LoadOptions{Addr: x.SubmitAddr(), URL: "http://" + x.HTTPAddr() + "/flags",
		Proto: *proto, Tokens: toks, Flags: gen, PerTeam: *flags, Batch: *batch, Rate: *rate, Conns: *conns})
	if err != nil {
		return err
	}
	// The baselines, measured now on the same disk.
	base, err := store.MeasureRawGroupCommit(ctx, dir, 64, 100, 3*time.Second)
	if err != nil {
		return err
	}
	p50, p99, err := store.MeasureFdatasync(ctx, dir, 2000, 8<<10)
	if err != nil {
		return err
	}
	out := map[string]any{"proto": *proto, "teams": *teams, "sent": res.Sent, "ok": res.OK, "other": res.Other,
		"elapsed": res.Elapsed.Seconds(), "flagsPerSecond": res.PerSecond,
		"p50ms": ms(res.P50), "p90ms": ms(res.P90), "p99ms": ms(res.P99), "maxms": ms(res.Max),
		"baselinePerSecond": base, "ratio": res.PerSecond / base,
		"fdatasyncP50ms": ms(p50), "fdatasyncP99ms": ms(p99), "latencyTargetMs": ms(2*p99) + 2}
	if *asJSON {
		return json.NewEncoder(e.stdout).Encode(out)
	}
	fmt.Fprintf(e.stdout, "bench submit %s: %d teams, %d flags sent, %d OK, %d other, in %.2fs\n",
		*proto, *teams, res.Sent, res.OK, res.Other, res.Elapsed.Seconds())
	fmt.Fprintf(e.stdout, "  durable acceptance: %.0f flags/s\n", res.PerSecond)
	fmt.Fprintf(e.stdout, "  latency per flag: p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms\n",
		ms(res.P50), ms(res.P90), ms(res.P99), ms(res.Max))
	fmt.Fprintf(e.stdout, "  baseline, raw bbolt group commit (64 submitters, 100 B): %.0f appends/s; ratio %.2f\n",
		base, res.PerSecond/base)
	fmt.Fprintf(e.stdout, "  disk fdatasync of 8 KiB: p50 %.3f ms, p99 %.3f ms (latency target p99 ≤ %.2f ms)\n",
		ms(p50), ms(p99), ms(2*p99)+2)
	if res.OK != res.Sent {
		return fmt.Errorf("%d of %d flags were not accepted", res.Sent-res.OK, res.Sent)
	}
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
	cfg := sc.GameConfig(scenarios.Placement{})
	dir, err := tempDataDir("cyrange-replay")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, exercisedb.File)
	lg, err := store.Open(ctx, store.Options{Path: path})
	if err != nil {
		return err
	}
	recs := scoreboard.SyntheticLog(cfg, *n)
	for i := 0; i < len(recs); i += 10000 {
		if _, err := lg.Append(ctx, recs[i:min(i+10000, len(recs))], nil); err != nil {
			lg.Close()
			return err
		}
	}
	if err := lg.Close(); err != nil {
		return err
	}
	lg, err = store.Open(ctx, store.Options{Path: path})
	if err != nil {
		return err
	}
	defer lg.Close()
	var best time.Duration
	var st *scoreboard.State
	for range 3 {
		start := time.Now()
		st, err = scoreboard.Replay(ctx, cfg, lg, 0)
		if err != nil {
			return err
		}
		if d := time.Since(start); best == 0 || d < best {
			best = d
		}
	}
	fmt.Fprintf(e.stdout, "bench replay: %d events from bbolt into standings of %d teams in %.3fs (best of 3): %.0f events/s (target ≤ 1s)\n",
		st.LastSeq, len(cfg.Teams), best.Seconds(), float64(st.LastSeq)/best.Seconds())
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
	rss0 := rssBytes()
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, self, "bench", "viewers", "--url", "ws://"+x.HTTPAddr()+"/api/v1/live",
		"--viewers", strconv.Itoa(*viewers), "--duration", dur.String())
	cmd.Stderr = e.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	var res live.ViewerResult
	var rssV uint64
	gen, _ := benchFlags(x)
	teams := x.Game().Config().Teams
	stopChanges := make(chan struct{})
	changesDone := make(chan struct{})
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "ready ") {
			rssV = rssBytes()
			if *profile != "" {
				stop, err := startCPUProfile(*profile)
				if err != nil {
					return err
				}
				defer stop()
			}
			go func() {
				defer close(changesDone)
				tick := time.NewTicker(time.Second / time.Duration(max(*rate, 1)))
				defer tick.Stop()
				for i := 0; ; i++ {
					select {
					case <-stopChanges:
						return
					case <-tick.C:
					}
					team := i % len(teams)
					if !teams[team].Role.Attacks() {
						continue
					}
					_, _ = x.Game().Submit(ctx, team, [][]byte{[]byte(gen(team, i))})
				}
			}()
			continue
		}
		if err := json.Unmarshal([]byte(line), &res); err != nil {
			return fmt.Errorf("viewer process: %q: %w", line, err)
		}
	}
	if rssV != 0 {
		close(stopChanges)
		<-changesDone
	}
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("viewer process: %w", err)
	}
	per := 0.0
	if res.Viewers > 0 && rssV > rss0 {
		per = float64(rssV-rss0) / float64(res.Viewers) / 1024
	}
	fmt.Fprintf(e.stdout, "bench live: %d viewers connected (%d failed) in %.2fs\n", res.Viewers, res.Failed, res.ConnectTime.Seconds())
	fmt.Fprintf(e.stdout, "  frames: %d, each reached at least %d viewers, %d frames reached all; %d viewers dropped, %d gaps\n",
		res.Frames, res.MinReach, res.FullyReached, res.Dropped, res.Gaps)
	fmt.Fprintf(e.stdout, "  commit → frame received: p50 %.1f ms, p99 %.1f ms, max %.1f ms (target p99 ≤ 100 ms)\n",
		ms(res.P50), ms(res.P99), ms(res.Max))
	fmt.Fprintf(e.stdout, "  server memory: %.1f MiB with 0 viewers, %.1f MiB with %d: %.1f KiB per viewer (target ≤ 16 KiB)\n",
		float64(rss0)/(1<<20), float64(rssV)/(1<<20), res.Viewers, per)
	return nil
}

// startCPUProfile writes a CPU profile to path until stop is called.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// benchViewers is the child side of bench live: it prints "ready N" once
// every viewer has its snapshot, then the result as one JSON line.
func benchViewers(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "bench viewers")
	url := fs.String("url", "", "the live stream URL")
	n := fs.Int("viewers", 1000, "viewers")
	dur := fs.Duration("duration", 10*time.Second, "how long to measure")
	if err := parse(fs, args); err != nil {
		return err
	}
	res, err := live.Viewers(ctx, live.ViewerOptions{URL: *url, Viewers: *n, Duration: *dur,
		Ready: func(c int) { fmt.Fprintf(e.stdout, "ready %d\n", c) }})
	if err != nil {
		return err
	}
	res.PerFrame = nil
	return json.NewEncoder(e.stdout).Encode(res)
}

// rssBytes is this process's resident memory, from /proc.
func rssBytes() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			f := strings.Fields(line)
			if len(f) >= 2 {
				kb, _ := strconv.ParseUint(f[1], 10, 64)
				return kb * 1024
			}
		}
	}
	return 0
}
