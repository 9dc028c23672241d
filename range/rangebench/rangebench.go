// Package rangebench measures how fast a range comes up and goes down
// (`cyrange bench range`): an orchestrator's up and down of a scenario's
// plan against `docker compose up -d` and `down` of a Compose file with the
// same topology, taking turns on the same engine, with the machine's CPU
// time each took.
//
// Run is the whole benchmark, on the driver the caller brings (the Docker
// driver, with the maker of its Compose file); a Bench is the comparison
// of one plan over any orchestrator. This package runs the Compose
// command line itself. It must never import the Docker SDK or a driver:
// what it compares is the orchestrator, whatever drives it.
package rangebench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	cyberrange "github.com/cyrange/cyrange/range"
	"github.com/cyrange/cyrange/scenarios"
)

// Exercise is the name the benchmark's range runs under, so that nothing
// of a real range of the scenario is touched; Project is the Compose
// project of the baseline. Both sides use the same subnets, so they take
// turns.
const (
	Exercise = "rangebench"
	Project  = "cyrangecompose"
)

// Orchestrator is what the benchmark needs of a *cyberrange.Orchestrator.
type Orchestrator interface {
	Up(ctx context.Context, p *cyberrange.Plan) error
	Down(ctx context.Context, exercise string) error
	Status(ctx context.Context, p *cyberrange.Plan) (cyberrange.Report, error)
}

var _ Orchestrator = (*cyberrange.Orchestrator)(nil)

// Plan is the plan of sc the benchmark brings up on the Docker engine:
// renamed to Exercise, every role in image, every gateway on a port the
// engine chooses, and fresh tokens and checker secret.
func Plan(sc *scenarios.Scenario, image string) (*cyberrange.Plan, error) {
	sc = sc.Clone()
	sc.Name = Exercise
	tokens := make([]string, len(sc.Teams))
	for i := range tokens {
		tokens[i] = randomHex()
	}
	return cyberrange.NewPlan(sc, cyberrange.PlanOptions{Driver: cyberrange.DriverDocker, Image: image,
		GatewayPortBase: -1, TeamTokens: tokens, CheckerSecret: randomHex()})
}

// Options configure a Bench.
type Options struct {
	Orchestrator Orchestrator
	Plan         *cyberrange.Plan
	// ComposeFile is the plan's topology as a Compose file, for the
	// project Project.
	ComposeFile []byte
	// Compose is the Compose command line (FindCompose's).
	Compose []string
	// Warn is told what a cleanup could not take down; nil drops it.
	Warn func(error)
	// CPU is the machine's busy CPU time so far; MachineCPU when nil.
	CPU func() time.Duration
}

// Bench compares one plan's bring-up and teardown with Compose's, a Run
// at a time.
type Bench struct {
	o    Options
	dir  string
	file string
}

// New writes the Compose file and takes down what an interrupted run
// left of either side. Close the Bench to take both down again.
func New(ctx context.Context, o Options) (*Bench, error) {
	if o.Orchestrator == nil || o.Plan == nil || len(o.Compose) == 0 {
		return nil, errors.New("rangebench: a bench needs an orchestrator, a plan and a Compose command")
	}
	if o.CPU == nil {
		o.CPU = MachineCPU
	}
	if o.Warn == nil {
		o.Warn = func(error) {}
	}
	dir, err := os.MkdirTemp("", "cyrange-bench-range-")
	if err != nil {
		return nil, err
	}
	b := &Bench{o: o, dir: dir, file: filepath.Join(dir, "docker-compose.yml")}
	if err := os.WriteFile(b.file, o.ComposeFile, 0o600); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	b.takeDown(ctx) // leftovers of an interrupted run
	return b, nil
}

// Close takes both sides down, even once ctx has ended, and removes the
// Compose file.
func (b *Bench) Close(ctx context.Context) {
	b.takeDown(ctx)
	os.RemoveAll(b.dir)
}

func (b *Bench) takeDown(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	if err := b.o.Orchestrator.Down(ctx, b.o.Plan.Exercise); err != nil {
		b.o.Warn(err)
	}
	if _, err := b.compose(ctx, "down", "--remove-orphans", "-t", "0"); err != nil {
		b.o.Warn(err)
	}
}

// compose runs the Compose command sub on the benchmark's project and
// says how long it took.
func (b *Bench) compose(ctx context.Context, sub ...string) (time.Duration, error) {
	args := append(slices.Clone(b.o.Compose[1:]), append([]string{"-p", Project, "-f", b.file}, sub...)...)
	start := time.Now()
	out, err := exec.CommandContext(ctx, b.o.Compose[0], args...).CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("%s %s: %w\n%s", strings.Join(b.o.Compose, " "), strings.Join(sub, " "), err, out)
	}
	return time.Since(start), nil
}

// Timing is what one run of each side measured. The CPU figures are the
// machine's CPU time spent while each came up (zero where /proc does not
// say): both are bound by the engine's work per container, and they show
// how much of the machine that work took.
type Timing struct {
	RangeUp, RangeDown     time.Duration
	ComposeUp, ComposeDown time.Duration
	RangeCPU, ComposeCPU   time.Duration
}

// Run brings the range up, checks it is healthy and takes it down, and
// does the same with Compose. Run i goes range first when i is even and
// Compose first when it is odd, so that neither always meets a warm or a
// tired engine.
func (b *Bench) Run(ctx context.Context, i int) (Timing, error) {
	var r Timing
	order := []func(context.Context, *Timing) error{b.rangeRun, b.composeRun}
	if i%2 == 1 {
		order[0], order[1] = order[1], order[0]
	}
	for _, f := range order {
		if err := f(ctx, &r); err != nil {
			return Timing{}, err
		}
	}
	return r, nil
}

func (b *Bench) rangeRun(ctx context.Context, r *Timing) error {
	o, p := b.o.Orchestrator, b.o.Plan
	start, cpu0 := time.Now(), b.o.CPU()
	if err := o.Up(ctx, p); err != nil {
		return err
	}
	r.RangeUp, r.RangeCPU = time.Since(start), b.o.CPU()-cpu0
	rep, err := o.Status(ctx, p)
	if err != nil {
		return err
	}
	if !rep.Healthy {
		return fmt.Errorf("range up left the range unhealthy: %d of %d running", rep.Running, rep.Total)
	}
	start = time.Now()
	if err := o.Down(ctx, p.Exercise); err != nil {
		return err
	}
	r.RangeDown = time.Since(start)
	return nil
}

func (b *Bench) composeRun(ctx context.Context, r *Timing) error {
	cpu0 := b.o.CPU()
	up, err := b.compose(ctx, "up", "-d")
	if err != nil {
		return err
	}
	r.ComposeCPU = b.o.CPU() - cpu0
	down, err := b.compose(ctx, "down", "-t", "0")
	if err != nil {
		return err
	}
	r.ComposeUp, r.ComposeDown = up, down
	return nil
}

// Medians is the median of each figure over runs.
func Medians(runs []Timing) Timing {
	of := func(f func(Timing) time.Duration) time.Duration {
		ds := make([]time.Duration, len(runs))
		for i, r := range runs {
			ds[i] = f(r)
		}
		return Median(ds)
	}
	return Timing{
		RangeUp:     of(func(r Timing) time.Duration { return r.RangeUp }),
		RangeDown:   of(func(r Timing) time.Duration { return r.RangeDown }),
		ComposeUp:   of(func(r Timing) time.Duration { return r.ComposeUp }),
		ComposeDown: of(func(r Timing) time.Duration { return r.ComposeDown }),
		RangeCPU:    of(func(r Timing) time.Duration { return r.RangeCPU }),
		ComposeCPU:  of(func(r Timing) time.Duration { return r.ComposeCPU }),
	}
}

// Median is the middle of ds, or the mean of the two middle ones; zero
// for none.
func Median(ds []time.Duration) time.Duration {
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

// FindCompose returns the Compose command line: the one given, else
// docker-compose (v1), else the docker CLI's compose plugin.
func FindCompose(given string) ([]string, error) {
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

// MachineCPU is the CPU time the whole machine has spent busy since it
// booted, from /proc/stat (zero where there is none).
func MachineCPU() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	return parseStat(string(b))
}

// parseStat reads the busy time off the first line of /proc/stat. Linux
// counts it in USER_HZ, which is 100 on every architecture Go supports
// there.
func parseStat(stat string) time.Duration {
	line, _, _ := strings.Cut(stat, "\n")
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

func randomHex() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
