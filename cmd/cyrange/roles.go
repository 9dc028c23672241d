package main

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"

	"github.com/cyrange/cyrange/images/mailserver"
	"github.com/cyrange/cyrange/images/mailserver/checker"
	"github.com/cyrange/cyrange/scenarios"
	"github.com/cyrange/cyrange/scoreboard/checks"
)

// role is a program that runs inside the range: a target or a checker.
type role func(ctx context.Context, args []string, e *env) error

// targetRoles are the built-in targets, by image name.
func targetRoles() map[string]role {
	return map[string]role{
		"mailserver": func(ctx context.Context, args []string, e *env) error {
			return mailserver.RunTarget(ctx, args, e.stdout, e.stderr)
		},
	}
}

// targetOptions are the built-in targets' checks of their scenario
// options, by image name.
func targetOptions() map[string]scenarios.OptionsCheck {
	return map[string]scenarios.OptionsCheck{"mailserver": mailserver.CheckOptions}
}

// openScenario loads a scenario (a built-in name or a file) and checks its
// targets' options, so that a bad option is reported with its line before
// anything starts.
func openScenario(nameOrPath string) (*scenarios.Scenario, error) {
	sc, err := scenarios.Open(nameOrPath)
	if err != nil {
		return nil, err
	}
	if err := sc.CheckOptions(targetOptions()); err != nil {
		return nil, err
	}
	return sc, nil
}

// checkerRoles are the built-in checkers served over HTTP, by name.
func checkerRoles() map[string]role {
	return map[string]role{
		"mailserver": func(ctx context.Context, args []string, e *env) error {
			return checker.RunChecker(ctx, args, e.stdout, e.stderr)
		},
	}
}

// checkerSetup is what an in-process built-in checker needs: the target's
// ports as it reaches them, the secret shared with the target and the
// replicas it may connect to (host to replica name).
type checkerSetup struct {
	Ports    map[string]int
	Secret   string
	Replicas map[string]string
	Logger   *slog.Logger
}

// builtinCheckers are the built-in checkers run in-process, by name.
func builtinCheckers() map[string]func(svc scenarios.Service, o checkerSetup) (checks.Checker, error) {
	return map[string]func(scenarios.Service, checkerSetup) (checks.Checker, error){
		"mailserver": func(_ scenarios.Service, o checkerSetup) (checks.Checker, error) {
			return checker.New(checker.Config{Secret: o.Secret, Replicas: o.Replicas, SMTPPort: o.Ports["smtp"], IMAPPort: o.Ports["imap"],
				HTTPPort: o.Ports["http"], Logger: o.Logger}), nil
		},
	}
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
