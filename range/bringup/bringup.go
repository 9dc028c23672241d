// Package bringup brings an exercise's range up and hands the game what
// it needs of it: the plan made with the exercise's secrets from its data
// directory, the range up (adopting what already runs, taking down what
// it started when it cannot finish), and the game's clients of the range's
// checkers. It is the range side of `cyrange run`, `demo` and `rehearse`,
// so that the command only wires.
//
// It builds on the range (package cyberrange), its operator and the target
// interface; it knows no driver: the caller builds one.
package bringup

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"

	"github.com/cyrange/cyrange/images/target"
	cyberrange "github.com/cyrange/cyrange/range"
	"github.com/cyrange/cyrange/range/operator"
	"github.com/cyrange/cyrange/range/rehearsal"
	"github.com/cyrange/cyrange/scenarios"
	"github.com/cyrange/cyrange/scoreboard/checks"
	"github.com/cyrange/cyrange/scoreboard/exercisedb"
	"github.com/cyrange/cyrange/scoreboard/tokens"
)

// StateDir is where, in an exercise's data directory, a driver keeps its
// records.
const StateDir = "range"

// PlanOptions say how to plan an exercise's range.
type PlanOptions struct {
	// DataDir holds the exercise's secrets.
	DataDir string
	Driver  string
	// Version names the image (docker).
	Version     string
	GatewayHost string
	// Targets are the built-in targets of this build; their admin
	// console ports are theirs to say.
	Targets target.Set
	// Create makes the secrets of a new exercise; without it a data
	// directory with none is an error.
	Create bool
}

// Plan computes the plan with the exercise's secrets from its data
// directory.
func Plan(sc *scenarios.Scenario, o PlanOptions) (*cyberrange.Plan, error) {
	data := o.DataDir
	if !o.Create {
		if _, err := os.Stat(filepath.Join(data, tokens.FileName)); err != nil {
			return nil, fmt.Errorf("no range of %q in %s (bring it up with cyrange range up, or give --data): %w", sc.Name, data, err)
		}
	}
	if err := os.MkdirAll(data, 0o700); err != nil {
		return nil, fmt.Errorf("data directory %s: %w", data, err)
	}
	// An exercise's secrets are made with it, before its log: once the
	// log exists they have been handed out (tokens) or planted in its
	// targets (the checker secret), and are never made anew.
	create := o.Create && !exercisedb.Exists(data)
	toks, err := tokens.Load(data, sc.GameConfig(scenarios.Placement{}).Teams, create)
	if err != nil {
		return nil, err
	}
	secret, err := tokens.LoadCheckerSecret(data, create)
	if err != nil {
		return nil, err
	}
	teamTokens := make([]string, len(sc.Teams))
	for i := range sc.Teams {
		teamTokens[i] = toks.TeamToken(i)
	}
	return cyberrange.NewPlan(sc, cyberrange.PlanOptions{Driver: o.Driver, Version: o.Version, GatewayHost: o.GatewayHost,
		TeamTokens: teamTokens, CheckerSecret: secret, Targets: o.Targets.Names(), AdminPorts: o.Targets.AdminPorts(),
		Instance: cyberrange.InstanceID(secret)})
}

// Range is a range brought up for an exercise.
type Range struct {
	Plan     *cyberrange.Plan
	Orch     *cyberrange.Orchestrator
	Driver   cyberrange.Driver
	Checkers map[int]checks.Checker
	release  func() error
	logger   *slog.Logger
}

// Options bring a range up.
type Options struct {
	Plan   *cyberrange.Plan
	Driver cyberrange.Driver
	// Release frees the driver; Up calls it when it fails, Close after.
	Release  func() error
	Progress func(cyberrange.Progress)
	Logger   *slog.Logger
}

// Up brings the plan's range up (adopting what already runs) and points
// the game's checkers at the range's checker processes. An exercise that
// cannot start takes down what it started: left running, those processes
// would answer on the plan's addresses for the next range.
func Up(ctx context.Context, sc *scenarios.Scenario, o Options) (*Range, error) {
	if o.Release == nil {
		o.Release = func() error { return nil }
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	orch := cyberrange.NewOrchestrator(cyberrange.OrchestratorOptions{Driver: o.Driver, Logger: o.Logger, Progress: o.Progress})
	fail := func(err error) (*Range, error) {
		o.Release()
		return nil, err
	}
	if err := orch.UpOrUndo(ctx, o.Plan); err != nil {
		return fail(fmt.Errorf("bringing the range up: %w", err))
	}
	rep, err := orch.Status(ctx, o.Plan)
	if err != nil {
		return fail(err)
	}
	chk, err := CheckerClients(sc, o.Plan, rep)
	if err != nil {
		return fail(err)
	}
	return &Range{Plan: o.Plan, Orch: orch, Driver: o.Driver, Checkers: chk, release: o.Release, logger: o.Logger}, nil
}

// Adopt is a Range of a plan that is already up, for the operator's work
// on it (no checkers).
func Adopt(plan *cyberrange.Plan, d cyberrange.Driver) *Range {
	return &Range{Plan: plan, Driver: d, release: func() error { return nil }, logger: slog.New(slog.DiscardHandler),
		Orch: cyberrange.NewOrchestrator(cyberrange.OrchestratorOptions{Driver: d})}
}

// CheckerClients are the game's clients of every service's checker: a
// built-in one where the driver says the host reaches it (the docker
// driver's checkers network is closed to the host), proving itself with
// the token derived from the secret the two share, as the built-in
// checker serves only the game; any other over its URL.
func CheckerClients(sc *scenarios.Scenario, plan *cyberrange.Plan, rep cyberrange.Report) (map[int]checks.Checker, error) {
	chk := map[int]checks.Checker{}
	for i, svc := range sc.Services {
		name, ok := svc.IsBuiltinChecker()
		if !ok {
			chk[i] = checks.NewClient(svc.Checker, &http.Client{})
			continue
		}
		url, ok := plan.CheckerURL(name)
		c, found := plan.Checker(name)
		if !ok || !found {
			return nil, fmt.Errorf("service %q: the plan has no checker %q", svc.Name, name)
		}
		if a, ok := rep.HostAddr(c.Name, cyberrange.PortChecker); ok {
			url = "http://" + a
		}
		chk[i] = checks.NewClient(url, &http.Client{}, checks.WithToken(checks.CallerToken(c.Env[cyberrange.EnvCheckerSecret])))
	}
	return chk, nil
}

// InProcess builds the checkers of a range managed elsewhere: a built-in
// one runs in this process and connects to host only (where every replica
// runs, started without --replica); any other is a remote enochecker v2
// checker over HTTP.
func InProcess(sc *scenarios.Scenario, ts target.Set, cfg target.CheckerConfig, host string) (map[int]checks.Checker, error) {
	out := map[int]checks.Checker{}
	for i, svc := range sc.Services {
		name, ok := svc.IsBuiltinChecker()
		if !ok {
			out[i] = checks.NewClient(svc.Checker, &http.Client{})
			continue
		}
		t, ok := ts.Lookup(name)
		if !ok {
			return nil, fmt.Errorf("service %q: no built-in checker %q in this build", svc.Name, name)
		}
		c := cfg
		c.Ports = map[string]int{}
		for _, p := range svc.Ports {
			c.Ports[p.Name] = p.Number
		}
		c.Replicas = map[string]string{host: ""}
		if c.Logger == nil {
			c.Logger = slog.New(slog.DiscardHandler)
		}
		c.Logger = c.Logger.With("checker", name)
		chk, err := t.NewChecker(c)
		if err != nil {
			return nil, fmt.Errorf("service %q: checker: %w", svc.Name, err)
		}
		out[i] = checks.InProcess(chk)
	}
	return out, nil
}

// Watch restarts what dies until ctx is done.
func (r *Range) Watch(ctx context.Context) {
	if err := r.Orch.Watch(ctx, r.Plan); err != nil && ctx.Err() == nil {
		r.logger.Error("range watch stopped", "err", err)
	}
}

// Status reports what runs.
func (r *Range) Status(ctx context.Context) (cyberrange.Report, error) {
	return r.Orch.Status(ctx, r.Plan)
}

// Close frees the driver; the range stays up.
func (r *Range) Close() error { return r.release() }

// Operator works on the range's replicas from inside it, through a
// driver that can run a command in a container.
func (r *Range) Operator(sc *scenarios.Scenario, ts target.Set) *operator.Operator {
	ex, _ := r.Driver.(operator.Driver)
	return &operator.Operator{Plan: r.Plan, Scenario: sc, Driver: ex, Targets: ts}
}

// Defence reaches the defending teams' replicas through their defence
// gateways, as the teams do.
func (r *Range) Defence(sc *scenarios.Scenario, ts target.Set) *operator.Defence {
	return &operator.Defence{Operator: r.Operator(sc, ts), Status: r.Status}
}

// ForRehearsal is the range as a rehearsal checks it: remedies go through
// the defence's own path.
func (r *Range) ForRehearsal(sc *scenarios.Scenario, ts target.Set) *rehearsal.Range {
	return &rehearsal.Range{Plan: r.Plan, Checkers: r.Checkers, Remedy: r.Defence(sc, ts).Remedy, Status: r.Status}
}
