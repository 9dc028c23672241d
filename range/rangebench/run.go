package rangebench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"strings"
	"time"

	cyberrange "github.com/cyrange/cyrange/range"
	"github.com/cyrange/cyrange/scenarios"
)

// Driver is what Run needs of the Docker engine's driver
// (*docker.Driver): the range's driver, and the builder of the image its
// roles run.
type Driver interface {
	cyberrange.Driver
	BuildImage(ctx context.Context, tag, binary string) error
	RemoveImage(ctx context.Context, ref string) error
}

// DefaultImage is the image Run builds, and removes, when given none.
const DefaultImage = "cyrange:bench"

// RunOptions configure Run.
type RunOptions struct {
	// Scenario's plan is what comes up; Name is how the report's heading
	// names it (as the user gave it: a built-in or a file).
	Scenario *scenarios.Scenario
	Name     string
	// Driver brings the range up, Parallel containers at once, logging
	// to Logger.
	Driver   Driver
	Parallel int
	Logger   *slog.Logger
	// Image is the roles' image. When empty, Run builds DefaultImage
	// from the binary StaticBinary returns (docker.StaticBinary's), and
	// removes it at the end.
	Image        string
	StaticBinary func(ctx context.Context) (path string, cleanup func(), err error)
	// ComposeFile writes a plan's topology as a Compose file of a
	// project (docker.ComposeFile); Compose is the Compose command line
	// (FindCompose's).
	ComposeFile func(p *cyberrange.Plan, project string) ([]byte, error)
	Compose     []string
	// Runs is how many runs of each side there are; the medians are
	// reported.
	Runs int
	// Stdout takes the heading and the medians, Stderr each run's
	// figures and what a cleanup could not take down.
	Stdout, Stderr io.Writer
}

// Run is `cyrange bench range`: the plan of the scenario brought up and
// down on the driver, and the same topology with Compose, o.Runs times
// each, with the medians reported. Whatever happens, it takes down both
// sides and then removes the image it built, even once ctx has ended.
func Run(ctx context.Context, o RunOptions) error {
	warn := func(err error) { fmt.Fprintf(o.Stderr, "bench range: cleanup: %v\n", err) }
	image := o.Image
	if image == "" {
		image = DefaultImage
		if err := buildImage(ctx, o.Driver, image, o.StaticBinary); err != nil {
			return err
		}
		// Deferred first, so that it runs after the range's cleanup:
		// the image goes once no container of either side runs it.
		defer func() {
			if err := o.Driver.RemoveImage(context.WithoutCancel(ctx), image); err != nil {
				warn(err)
			}
		}()
	}
	plan, err := Plan(o.Scenario, image)
	if err != nil {
		return err
	}
	cf, err := o.ComposeFile(plan, Project)
	if err != nil {
		return err
	}
	b, err := New(ctx, Options{Plan: plan, ComposeFile: cf, Compose: o.Compose,
		Orchestrator: cyberrange.NewOrchestrator(cyberrange.OrchestratorOptions{Driver: o.Driver, Logger: o.Logger, Parallel: o.Parallel}),
		Warn:         warn})
	if err != nil {
		return err
	}
	defer b.Close(ctx)
	fmt.Fprintf(o.Stdout, "bench range: %s, %d networks, %d containers, image %s, %d runs; baseline %s\n",
		o.Name, len(plan.Networks), len(plan.Containers), image, o.Runs, strings.Join(o.Compose, " "))
	return b.Measure(ctx, o.Runs, o.Stdout, o.Stderr)
}

// buildImage builds image on d from the binary static returns.
func buildImage(ctx context.Context, d Driver, image string, static func(context.Context) (string, func(), error)) error {
	bin, cleanup, err := static(ctx)
	if err != nil {
		return err
	}
	defer cleanup()
	return d.BuildImage(ctx, image, bin)
}

// Measure runs b runs times, each run's figures on stderr as it ends, and
// writes the medians to stdout (Timing.WriteText, on this machine's
// cores).
func (b *Bench) Measure(ctx context.Context, runs int, stdout, stderr io.Writer) error {
	var all []Timing
	for i := range runs {
		r, err := b.Run(ctx, i)
		if err != nil {
			return err
		}
		all = append(all, r)
		fmt.Fprintf(stderr, "run %d: range up %s down %s; compose up %s down %s\n", i+1,
			r.RangeUp.Round(time.Millisecond), r.RangeDown.Round(time.Millisecond), r.ComposeUp.Round(time.Millisecond), r.ComposeDown.Round(time.Millisecond))
	}
	return Medians(all).WriteText(stdout, runtime.NumCPU())
}

// WriteText writes the figures as `cyrange bench range` reports its
// medians (the README quotes them), with the CPU time as a share of a
// machine of cores cores.
func (m Timing) WriteText(w io.Writer, cores int) error {
	var b strings.Builder
	fmt.Fprintf(&b, "range up: %.3f s, machine CPU %.1f s (%.0f%% of %d cores)\n", m.RangeUp.Seconds(), m.RangeCPU.Seconds(),
		100*m.RangeCPU.Seconds()/m.RangeUp.Seconds()/float64(cores), cores)
	fmt.Fprintf(&b, "compose up: %.3f s, machine CPU %.1f s (%.0f%% of %d cores)\n", m.ComposeUp.Seconds(), m.ComposeCPU.Seconds(),
		100*m.ComposeCPU.Seconds()/m.ComposeUp.Seconds()/float64(cores), cores)
	fmt.Fprintf(&b, "up ratio range/compose: %.2f (target ≤ 0.50)\n", m.RangeUp.Seconds()/m.ComposeUp.Seconds())
	fmt.Fprintf(&b, "range down: %.3f s (target ≤ 3 s)\n", m.RangeDown.Seconds())
	fmt.Fprintf(&b, "compose down: %.3f s\n", m.ComposeDown.Seconds())
	_, err := io.WriteString(w, b.String())
	return err
}
