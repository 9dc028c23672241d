package main

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"

	"github.com/cyrange/cyrange/scenarios"
	"github.com/cyrange/cyrange/scoreboard/checks"
)

// role is a program that runs inside the range: a target or a checker.
type role func(ctx context.Context, args []string, e *env) error

// targetRoles are the built-in targets, by image name.
func targetRoles() map[string]role { return map[string]role{} }

// checkerRoles are the built-in checkers served over HTTP, by name.
func checkerRoles() map[string]role { return map[string]role{} }

// builtinCheckers are the built-in checkers run in-process, by name.
func builtinCheckers() map[string]func(svc scenarios.Service, logger *slog.Logger) (checks.Checker, error) {
	return map[string]func(scenarios.Service, *slog.Logger) (checks.Checker, error){}
}

func runTarget(ctx context.Context, e *env, args []string) error {
	return runRole(ctx, e, "target", targetRoles(), args)
}

func runChecker(ctx context.Context, e *env, args []string) error {
	return runRole(ctx, e, "checker", checkerRoles(), args)
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
