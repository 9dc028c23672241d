package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	cyberrange "github.com/cyrange/cyrange/range"
	"github.com/cyrange/cyrange/range/bringup"
	"github.com/cyrange/cyrange/range/rangeview"
	"github.com/cyrange/cyrange/scenarios"
	"github.com/cyrange/cyrange/scoreboard/datadir"
	"github.com/cyrange/cyrange/scoreboard/tokens"
)

// rangeStateDir is where a driver keeps its records.
const rangeStateDir = bringup.StateDir

// driverFactory builds a driver; tests put a fake in its place.
type driverFactory func(ctx context.Context, name string, o driverOptions) (cyberrange.Driver, func() error, error)

func runRange(ctx context.Context, e *env, args []string) error {
	return rangeCommand(ctx, e, args, newDriver)
}

// rangeArgs are a range command's settings.
type rangeArgs struct {
	sub, scenario, driver, data, gatewayHost string
	asJSON, force, verbose                   bool
	parallel                                 int
}

func parseRangeArgs(e *env, args []string) (rangeArgs, error) {
	const usage = "usage: cyrange range up|down|status SCENARIO [--driver local|docker] [--json] [--data DIR]"
	var a rangeArgs
	if len(args) == 0 {
		return a, usagef("%s", usage)
	}
	a.sub = args[0]
	if a.sub != "up" && a.sub != "down" && a.sub != "status" {
		return a, usagef("unknown range command %q; %s", a.sub, usage)
	}
	fs := newFlagSet(e, "range "+a.sub)
	fs.StringVar(&a.driver, "driver", cyberrange.DriverDocker, "where the range runs: local (processes on 127.x addresses) or docker")
	fs.BoolVar(&a.asJSON, "json", false, "print progress and status as JSON lines")
	fs.StringVar(&a.data, "data", "", "data directory holding tokens.json (default ./cyrange-data/SCENARIO)")
	fs.StringVar(&a.gatewayHost, "gateway-host", "", "host address the teams' gateways listen on (default: the scenario's network.<driver>.gateways)")
	fs.IntVar(&a.parallel, "parallel", 8, "how many containers to start at once")
	fs.BoolVar(&a.force, "force", false, "down: remove every container and network of the scenario, whichever exercise's (data directory's) range it is")
	fs.BoolVar(&a.verbose, "v", false, "log debug messages")
	pos, err := parsePositional(fs, args[1:])
	switch {
	case err != nil:
		return a, err
	case len(pos) != 1:
		return a, usagef("%s (SCENARIO: a file or one of %s)", usage, strings.Join(scenarios.Builtins(), ", "))
	case a.driver != cyberrange.DriverLocal && a.driver != cyberrange.DriverDocker:
		return a, usagef("--driver must be local or docker, not %q", a.driver)
	case a.parallel < 1:
		return a, usagef("--parallel must be at least 1")
	}
	a.scenario = pos[0]
	return a, nil
}

func rangeCommand(ctx context.Context, e *env, args []string, mk driverFactory) error {
	a, err := parseRangeArgs(e, args)
	if err != nil {
		return err
	}
	sc, err := openScenario(a.scenario)
	if err != nil {
		return err
	}
	if a.data == "" {
		a.data = filepath.Join("cyrange-data", sc.Name)
	}
	if _, err := os.Stat(a.data); a.sub == "up" || a.sub == "down" && err == nil {
		// A range an exercise runs on is that exercise's: up and down
		// wait until it has stopped.
		lock, err := datadir.Acquire(a.data)
		if err != nil {
			return err
		}
		defer lock.Release()
	}
	logger := newLogger(e.stderr, a.verbose)
	d, release, err := mk(ctx, a.driver, driverOptions{DataDir: a.data, StateDir: filepath.Join(a.data, rangeStateDir),
		Version: version, Logger: logger})
	if err != nil {
		return err
	}
	defer release()
	pr := rangeview.NewProgress(e.stdout, a.asJSON)
	o := cyberrange.NewOrchestrator(cyberrange.OrchestratorOptions{Driver: d, Logger: logger, Parallel: a.parallel, Progress: pr.Print})
	if a.sub == "down" {
		return downRange(ctx, e, a, sc, o)
	}
	return rangeUpStatus(ctx, e, a, sc, o, pr)
}

// downRange removes only the range of the exercise in --data: another
// data directory's exercise of the same scenario shares its names on a
// Docker engine, never its range.
func downRange(ctx context.Context, e *env, a rangeArgs, sc *scenarios.Scenario, o *cyberrange.Orchestrator) error {
	start := time.Now()
	secret, serr := "", error(nil)
	if _, err := os.Stat(a.data); err != nil {
		serr = fmt.Errorf("no exercise in %s", a.data)
	} else {
		secret, serr = tokens.LoadCheckerSecret(a.data, false)
	}
	var err error
	switch {
	case serr == nil:
		err = o.DownOwn(ctx, sc.Name, cyberrange.InstanceID(secret))
	case a.force:
		err = o.Down(ctx, sc.Name)
	default:
		return fmt.Errorf("%w\ngive the --data of the exercise whose range to take down, or --force to remove every container and network of %q", serr, sc.Name)
	}
	if err != nil {
		return err
	}
	if !a.asJSON {
		fmt.Fprintf(e.stdout, "range %q is down (%s)\n", sc.Name, time.Since(start).Round(time.Millisecond))
	}
	return nil
}

// rangeUpStatus brings the range up (range up) and reports its status.
func rangeUpStatus(ctx context.Context, e *env, a rangeArgs, sc *scenarios.Scenario, o *cyberrange.Orchestrator, pr *rangeview.Progress) error {
	plan, err := rangePlan(sc, a.data, a.driver, a.gatewayHost, a.sub == "up")
	if err != nil {
		return err
	}
	if a.sub == "up" {
		start := time.Now()
		if err := o.Up(ctx, plan); err != nil {
			// Up goes on past a failure, so the rest of the range is up:
			// say so, and how to see and remove it.
			return fmt.Errorf("%w\nwhat did come up is still running: cyrange range status %s --driver %s --data %s shows it, "+
				"cyrange range down (same arguments) removes it", err, a.scenario, a.driver, a.data)
		}
		if !a.asJSON {
			fmt.Fprintf(e.stdout, "range %q is up (%s)\n\n", sc.Name, time.Since(start).Round(time.Millisecond))
		}
	}
	rep, err := o.Status(ctx, plan)
	if err != nil {
		return err
	}
	if a.asJSON {
		pr.JSON(rep)
	} else {
		rangeview.Report(e.stdout, sc, plan, rep, filepath.Join(a.data, tokens.FileName))
	}
	if !rep.Healthy {
		return fmt.Errorf("range %q is not healthy: %d of %d containers running", sc.Name, rep.Running, rep.Total)
	}
	return nil
}

// rangePlan computes the plan with the exercise's secrets from the data
// directory, creating them when create is set.
func rangePlan(sc *scenarios.Scenario, data, driver, gatewayHost string, create bool) (*cyberrange.Plan, error) {
	return bringup.Plan(sc, bringup.PlanOptions{DataDir: data, Driver: driver, Version: version, GatewayHost: gatewayHost,
		Targets: targets(), Create: create})
}
