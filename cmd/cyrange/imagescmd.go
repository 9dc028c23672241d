package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	cyberrange "github.com/cyrange/cyrange/range"
	"github.com/cyrange/cyrange/range/docker"
	"github.com/cyrange/cyrange/range/probe"
)

// runImages is `cyrange images build`: the range's images, built into the
// local Docker engine from this binary, with no registry.
func runImages(ctx context.Context, e *env, args []string) error {
	const usage = "usage: cyrange images build [--attackbox [--cache-dir DIR]] [--tag TAG] [--binary PATH] [--source DIR]"
	if len(args) == 0 || args[0] != "build" {
		return usagef("%s", usage)
	}
	fs := newFlagSet(e, "images build")
	attackbox := fs.Bool("attackbox", false, "build the attack box instead (cyrange-attackbox:VERSION): a Debian workstation made with debootstrap; needs root and takes minutes")
	tag := fs.String("tag", "", "image tag (default cyrange:VERSION, or cyrange-attackbox:VERSION)")
	cacheDir := fs.String("cache-dir", "", "with --attackbox: keep downloaded Debian packages here between builds")
	binary := fs.String("binary", "", "static cyrange binary to put in the image (default: this one)")
	source := fs.String("source", ".", "where to look for the cyrange source when this binary is not static and one must be built")
	verbose := fs.Bool("v", false, "log debug messages")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("%s", usage)
	}
	d, err := docker.New(ctx, docker.Options{Logger: newLogger(e.stderr, *verbose), BuildOutput: e.stdout})
	if err != nil {
		return err
	}
	defer d.Close()
	start := time.Now()
	if *attackbox {
		if *tag == "" {
			*tag = "cyrange-attackbox:" + version
		}
		if err := d.BuildAttackBox(ctx, docker.AttackBoxOptions{Tag: *tag, Output: e.stdout, CacheDir: *cacheDir}); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "built %s in %s\n", *tag, time.Since(start).Round(time.Second))
		return nil
	}
	if *tag == "" {
		*tag = "cyrange:" + version
	}
	bin, cleanup, err := staticBinary(ctx, e, *binary, *source)
	if err != nil {
		return err
	}
	defer cleanup()
	fmt.Fprintf(e.stdout, "building %s from %s\n", *tag, bin)
	if err := d.BuildImage(ctx, *tag, bin); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "built %s in %s\n", *tag, time.Since(start).Round(time.Millisecond))
	return nil
}

// staticBinary returns a static cyrange binary to put in an image: the
// one given, this one if it is static, or one built from the source with
// the Go toolchain.
func staticBinary(ctx context.Context, e *env, given, source string) (string, func(), error) {
	nothing := func() {}
	if given != "" {
		return given, nothing, docker.CheckStatic(given)
	}
	self, err := os.Executable()
	if err != nil {
		return "", nothing, fmt.Errorf("finding this binary: %w", err)
	}
	serr := docker.CheckStatic(self)
	if serr == nil {
		return self, nothing, nil
	}
	if !errors.Is(serr, docker.ErrNotStatic) {
		return "", nothing, serr
	}
	mod, err := docker.FindModule(source)
	if err != nil {
		return "", nothing, fmt.Errorf("this cyrange (%s) is not static and there is no source to build one from (%v): "+
			"build it with CGO_ENABLED=0 go build -o cyrange ./cmd/cyrange, or give --binary or --source", self, err)
	}
	dir, err := os.MkdirTemp("", "cyrange-image-")
	if err != nil {
		return "", nothing, err
	}
	cleanup := func() { os.RemoveAll(dir) }
	out := filepath.Join(dir, "cyrange")
	fmt.Fprintf(e.stdout, "this cyrange is not static: building a static one from %s\n", mod)
	if err := docker.BuildStatic(ctx, mod, out, "-X main.version="+version); err != nil {
		cleanup()
		return "", nothing, err
	}
	return out, cleanup, nil
}

// runProbe is a role for tests of the range's isolation, run inside its
// containers (whose image has nothing but this binary):
//
//	cyrange probe tcp ADDR [--timeout 2s]   exit 0 if it connects, 1 if not;
//	                                        prints the first line the peer sends
//	cyrange probe unix PATH [--timeout 2s]  the same for a unix socket (the
//	                                        Docker socket must be out of reach)
//	cyrange probe listen ADDR...            answer every connection with the
//	                                        address it came from, then close
//	cyrange probe ready ADDR... [--timeout 30s]
//	                                        exit 0 once something accepts
//	                                        connections at every ADDR, 1 if
//	                                        not in time (the range runs it
//	                                        in a started target, to know it
//	                                        serves)
func runProbe(ctx context.Context, e *env, args []string) error {
	const usage = "usage: cyrange probe tcp|unix ADDR [--timeout 2s] | cyrange probe listen ADDR... | cyrange probe ready ADDR... [--timeout 30s]"
	if len(args) == 0 {
		return usagef("%s", usage)
	}
	switch args[0] {
	case "tcp", "unix":
		fs := newFlagSet(e, "probe "+args[0])
		timeout := fs.Duration("timeout", 2*time.Second, "how long to try to connect, and to wait for a line")
		pos, err := parsePositional(fs, args[1:])
		if err != nil {
			return err
		}
		if len(pos) != 1 {
			return usagef("%s", usage)
		}
		return probe.Dial(ctx, e.stdout, args[0], pos[0], *timeout)
	case "listen":
		if len(args) < 2 {
			return usagef("%s", usage)
		}
		return probe.Listen(ctx, e.stdout, args[1:])
	case "ready":
		fs := newFlagSet(e, "probe ready")
		timeout := fs.Duration("timeout", 30*time.Second, "how long to wait for every address")
		pos, err := parsePositional(fs, args[1:])
		if err != nil {
			return err
		}
		if len(pos) == 0 {
			return usagef("%s", usage)
		}
		return probe.Ready(ctx, e.stdout, pos, *timeout)
	}
	return usagef("%s", usage)
}

// dialUntil is probe.DialUntil, for the commands that wait for a port.
func dialUntil(ctx context.Context, addr string, pause time.Duration) error {
	return probe.DialUntil(ctx, addr, pause)
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
	image := fs.String("image", "", "image of the roles (default: build cyrange:bench from this binary)")
	compose := fs.String("compose", "", "the Compose command (default: docker-compose, or docker compose)")
	verbose := fs.Bool("v", false, "log debug messages")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *runs < 1 || *parallel < 1 {
		return usagef("--runs and --parallel must be at least 1")
	}
	composeCmd, err := findCompose(*compose)
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
	if *image == "" {
		*image = "cyrange:bench"
		bin, cleanup, err := staticBinary(ctx, e, "", ".")
		if err != nil {
			return err
		}
		err = d.BuildImage(ctx, *image, bin)
		cleanup()
		if err != nil {
			return err
		}
		// Runs after the range's cleanup below: deferred first.
		defer func() {
			if err := d.RemoveImage(context.WithoutCancel(ctx), *image); err != nil {
				fmt.Fprintf(e.stderr, "bench range: cleanup: %v\n", err)
			}
		}()
	}

	// The exercise is renamed so that nothing of a real range of the
	// scenario is touched; both sides use the same subnets, so they take
	// turns.
	sc = sc.Clone()
	sc.Name = "rangebench"
	tokens := make([]string, len(sc.Teams))
	for i := range tokens {
		tokens[i] = randomHex()
	}
	plan, err := cyberrange.NewPlan(sc, cyberrange.PlanOptions{Driver: cyberrange.DriverDocker, Image: *image,
		GatewayPortBase: -1, TeamTokens: tokens, CheckerSecret: randomHex()})
	if err != nil {
		return err
	}
	const project = "cyrangecompose"
	cf, err := docker.ComposeFile(plan, project)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "cyrange-bench-range-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, "docker-compose.yml")
	if err := os.WriteFile(file, cf, 0o600); err != nil {
		return err
	}
	composeArgs := func(sub ...string) []string {
		return append(slices.Clone(composeCmd[1:]), append([]string{"-p", project, "-f", file}, sub...)...)
	}
	runCompose := func(ctx context.Context, sub ...string) (time.Duration, error) {
		start := time.Now()
		cmd := exec.CommandContext(ctx, composeCmd[0], composeArgs(sub...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			return 0, fmt.Errorf("%s %s: %w\n%s", strings.Join(composeCmd, " "), strings.Join(sub, " "), err, out)
		}
		return time.Since(start), nil
	}
	o := cyberrange.NewOrchestrator(cyberrange.OrchestratorOptions{Driver: d, Logger: logger, Parallel: *parallel})
	cleanupAll := func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		defer cancel()
		if err := o.Down(cctx, plan.Exercise); err != nil {
			fmt.Fprintf(e.stderr, "bench range: cleanup: %v\n", err)
		}
		if _, err := runCompose(cctx, "down", "--remove-orphans", "-t", "0"); err != nil {
			fmt.Fprintf(e.stderr, "bench range: cleanup: %v\n", err)
		}
	}
	defer cleanupAll()
	cleanupAll() // leftovers of an interrupted run

	fmt.Fprintf(e.stdout, "bench range: %s, %d networks, %d containers, image %s, %d runs; baseline %s\n",
		*scenario, len(plan.Networks), len(plan.Containers), *image, *runs, strings.Join(composeCmd, " "))
	var upR, downR, upC, downC []time.Duration
	// The machine's CPU time spent by each, when /proc says: both are
	// bound by the engine's work per container, and this shows how much
	// of the machine that work took.
	var cpuR, cpuC []time.Duration
	for i := range *runs {
		rangeUp := func() error {
			start, cpu0 := time.Now(), machineCPU()
			if err := o.Up(ctx, plan); err != nil {
				return err
			}
			up := time.Since(start)
			cpuR = append(cpuR, machineCPU()-cpu0)
			rep, err := o.Status(ctx, plan)
			if err != nil {
				return err
			}
			if !rep.Healthy {
				return fmt.Errorf("range up left the range unhealthy: %d of %d running", rep.Running, rep.Total)
			}
			start = time.Now()
			if err := o.Down(ctx, plan.Exercise); err != nil {
				return err
			}
			upR, downR = append(upR, up), append(downR, time.Since(start))
			return nil
		}
		composeUp := func() error {
			cpu0 := machineCPU()
			up, err := runCompose(ctx, "up", "-d")
			if err != nil {
				return err
			}
			cpuC = append(cpuC, machineCPU()-cpu0)
			down, err := runCompose(ctx, "down", "-t", "0")
			if err != nil {
				return err
			}
			upC, downC = append(upC, up), append(downC, down)
			return nil
		}
		// Alternate who goes first, so that neither always meets a warm
		// or a tired engine.
		order := []func() error{rangeUp, composeUp}
		if i%2 == 1 {
			order[0], order[1] = order[1], order[0]
		}
		for _, f := range order {
			if err := f(); err != nil {
				return err
			}
		}
		fmt.Fprintf(e.stderr, "run %d: range up %s down %s; compose up %s down %s\n", i+1,
			upR[i].Round(time.Millisecond), downR[i].Round(time.Millisecond), upC[i].Round(time.Millisecond), downC[i].Round(time.Millisecond))
	}
	mu, md, cu, cd := median(upR), median(downR), median(upC), median(downC)
	cores := float64(runtime.NumCPU())
	fmt.Fprintf(e.stdout, "range up: %.3f s, machine CPU %.1f s (%.0f%% of %d cores)\n", mu.Seconds(), median(cpuR).Seconds(),
		100*median(cpuR).Seconds()/mu.Seconds()/cores, runtime.NumCPU())
	fmt.Fprintf(e.stdout, "compose up: %.3f s, machine CPU %.1f s (%.0f%% of %d cores)\n", cu.Seconds(), median(cpuC).Seconds(),
		100*median(cpuC).Seconds()/cu.Seconds()/cores, runtime.NumCPU())
	fmt.Fprintf(e.stdout, "up ratio range/compose: %.2f (target ≤ 0.50)\n", mu.Seconds()/cu.Seconds())
	fmt.Fprintf(e.stdout, "range down: %.3f s (target ≤ 3 s)\n", md.Seconds())
	fmt.Fprintf(e.stdout, "compose down: %.3f s\n", cd.Seconds())
	return nil
}

// findCompose returns the Compose command line: the one given, else
// docker-compose (v1), else the docker CLI's compose plugin.
func findCompose(given string) ([]string, error) {
	if given != "" {
		return strings.Fields(given), nil
	}
	if p, err := exec.LookPath("docker-compose"); err == nil {
		return []string{p}, nil
	}
	if p, err := exec.LookPath("docker"); err == nil {
		if exec.Command(p, "compose", "version").Run() == nil {
			return []string{p, "compose"}, nil
		}
	}
	return nil, errors.New("neither docker-compose nor docker compose is installed (give --compose)")
}

// machineCPU is the CPU time the whole machine has spent busy since it
// booted, from /proc/stat (zero where there is none). Linux counts it in
// USER_HZ, which is 100 on every architecture Go supports there.
func machineCPU() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0
	}
	var ticks int64
	// user nice system idle iowait irq softirq: all but idle and iowait.
	for _, i := range []int{1, 2, 3, 6, 7} {
		n, err := strconv.ParseInt(f[i], 10, 64)
		if err != nil {
			return 0
		}
		ticks += n
	}
	return time.Duration(ticks) * 10 * time.Millisecond
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func randomHex() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
