package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/cyrange/cyrange/images/mailserver/mailtarget"
	"github.com/cyrange/cyrange/images/portal/portaltarget"
	"github.com/cyrange/cyrange/images/target"
	"github.com/cyrange/cyrange/scenarios"
	"github.com/cyrange/cyrange/scoreboard/ingest"
)

// targets are the targets this build runs: the one list a new target
// joins.
func targets() target.Set {
	return append(target.Set{mailtarget.New(), portaltarget.New()}, testTargets()...)
}

// openScenario loads a scenario (a built-in name or a file) and checks its
// targets' options, so that a bad option is reported with its line before
// anything starts.
func openScenario(nameOrPath string) (*scenarios.Scenario, error) {
	sc, err := scenarios.Open(nameOrPath)
	if err != nil {
		return nil, err
	}
	if err := sc.CheckOptions(targets().OptionChecks()); err != nil {
		return nil, err
	}
	return sc, nil
}

// role runs one target's program inside the range.
type role func(t target.Target, ctx context.Context, args []string, stdout, stderr io.Writer) error

// runTarget runs a target through target.Run, which gives every target
// the range's --log-file.
func runTarget(ctx context.Context, e *env, args []string) error {
	run := func(t target.Target, ctx context.Context, args []string, stdout, stderr io.Writer) error {
		return target.Run(ctx, t, args, stdout, stderr)
	}
	return runRole(ctx, e, "target", run, args)
}

func runChecker(ctx context.Context, e *env, args []string) error {
	return runRole(ctx, e, "checker", target.Target.RunChecker, args)
}

func runRole(ctx context.Context, e *env, kind string, r role, args []string) error {
	ts := targets()
	if len(args) == 0 {
		return usagef("usage: cyrange %s NAME [flags] (NAME: %s)", kind, strings.Join(ts.Names(), ", "))
	}
	t, ok := ts.Lookup(args[0])
	if !ok {
		return usagef("no %s %q in this build (have: %s)", kind, args[0], strings.Join(ts.Names(), ", "))
	}
	if err := r(t, ctx, args[1:], e.stdout, e.stderr); err != nil {
		return fmt.Errorf("%s %s: %w", kind, args[0], err)
	}
	return nil
}

// lineReaders are the log readers of each service's built-in target.
func lineReaders(sc *scenarios.Scenario, ts target.Set) map[int]ingest.LineReader {
	out := map[int]ingest.LineReader{}
	for i, svc := range sc.Services {
		if t, ok := ts.Of(svc); ok {
			out[i] = t
		}
	}
	return out
}
