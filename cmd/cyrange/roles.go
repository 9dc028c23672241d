package main

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/cyrange/cyrange/images/mailserver/mailtarget"
	"github.com/cyrange/cyrange/images/target"
	"github.com/cyrange/cyrange/scenarios"
	"github.com/cyrange/cyrange/scoreboard/ingest"
)

// targets are the targets this build runs: the one list a new target
// joins.
func targets() target.Set {
	return append(target.Set{mailtarget.New()}, testTargets()...)
}

// role is a program that runs inside the range: a target or a checker.
type role func(ctx context.Context, args []string, e *env) error

// targetRoles are the built-in targets, by image name.
func targetRoles(ts target.Set) map[string]role {
	out := map[string]role{}
	for _, t := range ts {
		out[t.Name()] = func(ctx context.Context, args []string, e *env) error {
			return t.RunTarget(ctx, args, e.stdout, e.stderr)
		}
	}
	return out
}

// checkerRoles are the built-in checkers served over HTTP, by name.
func checkerRoles(ts target.Set) map[string]role {
	out := map[string]role{}
	for _, t := range ts {
		out[t.Name()] = func(ctx context.Context, args []string, e *env) error {
			return t.RunChecker(ctx, args, e.stdout, e.stderr)
		}
	}
	return out
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

func runTarget(ctx context.Context, e *env, args []string) error {
	return runRole(ctx, e, "target", targetRoles(targets()), args)
}

func runChecker(ctx context.Context, e *env, args []string) error {
	return runRole(ctx, e, "checker", checkerRoles(targets()), args)
}

func runRole(ctx context.Context, e *env, kind string, roles map[string]role, args []string) error {
	names := make([]string, 0, len(roles))
	for n := range roles {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(args) == 0 {
		return usagef("usage: cyrange %s NAME [flags] (NAME: %s)", kind, strings.Join(names, ", "))
	}
	r, ok := roles[args[0]]
	if !ok {
		return usagef("no %s %q in this build (have: %s)", kind, args[0], strings.Join(names, ", "))
	}
	if err := r(ctx, args[1:], e); err != nil {
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
