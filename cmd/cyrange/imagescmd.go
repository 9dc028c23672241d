package main

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"time"

	cyberrange "github.com/cyrange/cyrange/range"
	"github.com/cyrange/cyrange/range/docker"
	"github.com/cyrange/cyrange/range/probe"
	"github.com/cyrange/cyrange/range/rangebench"
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
	bin, cleanup, err := docker.StaticBinary(ctx, *binary, *source, versionLDFlags(), e.stdout)
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

// versionLDFlags gives a cyrange built for an image this one's version.
func versionLDFlags() string { return "-X main.version=" + version }

// runProbe is the role `cyrange probe`, for tests of the range's
// isolation, run inside its containers.
func runProbe(ctx context.Context, e *env, args []string) error {
	err := probe.Run(ctx, args, e.stdout, e.stderr)
	if ue := (*probe.UsageError)(nil); errors.As(err, &ue) {
		return usagef("%s", ue.Msg)
	}
	return err
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
	if *image == "" {
		*image = "cyrange:bench"
		remove, err := benchImage(ctx, e, d, *image)
		if err != nil {
			return err
		}
		// Runs after the range's cleanup: deferred first.
		defer remove()
	}
	plan, err := rangebench.Plan(sc, *image)
	if err != nil {
		return err
	}
	cf, err := docker.ComposeFile(plan, rangebench.Project)
	if err != nil {
		return err
	}
	b, err := rangebench.New(ctx, rangebench.Options{Plan: plan, ComposeFile: cf, Compose: composeCmd,
		Orchestrator: cyberrange.NewOrchestrator(cyberrange.OrchestratorOptions{Driver: d, Logger: logger, Parallel: *parallel}),
		Warn:         func(err error) { fmt.Fprintf(e.stderr, "bench range: cleanup: %v\n", err) }})
	if err != nil {
		return err
	}
	defer b.Close(ctx)
	fmt.Fprintf(e.stdout, "bench range: %s, %d networks, %d containers, image %s, %d runs; baseline %s\n",
		*scenario, len(plan.Networks), len(plan.Containers), *image, *runs, strings.Join(composeCmd, " "))
	return printRangeBench(ctx, e, b, *runs)
}

// benchImage builds image from this binary for bench range, and returns
// how to remove it.
func benchImage(ctx context.Context, e *env, d *docker.Driver, image string) (remove func(), err error) {
	bin, cleanup, err := docker.StaticBinary(ctx, "", ".", versionLDFlags(), e.stdout)
	if err != nil {
		return nil, err
	}
	err = d.BuildImage(ctx, image, bin)
	cleanup()
	if err != nil {
		return nil, err
	}
	return func() {
		if err := d.RemoveImage(context.WithoutCancel(ctx), image); err != nil {
			fmt.Fprintf(e.stderr, "bench range: cleanup: %v\n", err)
		}
	}, nil
}

// printRangeBench runs b runs times, with each run's figures on standard
// error and the medians on standard output.
func printRangeBench(ctx context.Context, e *env, b *rangebench.Bench, runs int) error {
	var all []rangebench.Run
	for i := range runs {
		r, err := b.Run(ctx, i)
		if err != nil {
			return err
		}
		all = append(all, r)
		fmt.Fprintf(e.stderr, "run %d: range up %s down %s; compose up %s down %s\n", i+1,
			r.RangeUp.Round(time.Millisecond), r.RangeDown.Round(time.Millisecond), r.ComposeUp.Round(time.Millisecond), r.ComposeDown.Round(time.Millisecond))
	}
	m := rangebench.Medians(all)
	cores := float64(runtime.NumCPU())
	fmt.Fprintf(e.stdout, "range up: %.3f s, machine CPU %.1f s (%.0f%% of %d cores)\n", m.RangeUp.Seconds(), m.RangeCPU.Seconds(),
		100*m.RangeCPU.Seconds()/m.RangeUp.Seconds()/cores, runtime.NumCPU())
	fmt.Fprintf(e.stdout, "compose up: %.3f s, machine CPU %.1f s (%.0f%% of %d cores)\n", m.ComposeUp.Seconds(), m.ComposeCPU.Seconds(),
		100*m.ComposeCPU.Seconds()/m.ComposeUp.Seconds()/cores, runtime.NumCPU())
	fmt.Fprintf(e.stdout, "up ratio range/compose: %.2f (target ≤ 0.50)\n", m.RangeUp.Seconds()/m.ComposeUp.Seconds())
	fmt.Fprintf(e.stdout, "range down: %.3f s (target ≤ 3 s)\n", m.RangeDown.Seconds())
	fmt.Fprintf(e.stdout, "compose down: %.3f s\n", m.ComposeDown.Seconds())
	return nil
}
