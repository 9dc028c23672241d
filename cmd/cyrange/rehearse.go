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
	"github.com/cyrange/cyrange/range/rehearsal"
	"github.com/cyrange/cyrange/scenarios"
)

// rehearsalHooks are what tests change of a rehearsal.
type rehearsalHooks struct {
	// binary is what the local driver runs (the test binary cannot).
	binary string
	// beforeExploits runs once the flags are planted, before any exploit.
	beforeExploits func(ctx context.Context, r *rehearsal.Rehearsal) error
}

func runRehearse(ctx context.Context, e *env, args []string) error {
	return rehearseCommand(ctx, e, args, rehearsalHooks{})
}

// rehearseArgs are the rehearse command's settings.
type rehearseArgs struct {
	scenario, driver      string
	asJSON, keep, verbose bool
}

func parseRehearseArgs(e *env, args []string) (rehearseArgs, error) {
	const usage = "usage: cyrange rehearse SCENARIO [--driver docker|local] [--json] [--keep]"
	var a rehearseArgs
	fs := newFlagSet(e, "rehearse")
	fs.StringVar(&a.driver, "driver", cyberrange.DriverDocker, "where the scratch range runs: local or docker")
	fs.BoolVar(&a.asJSON, "json", false, "print the readiness report as JSON")
	fs.BoolVar(&a.keep, "keep", false, "leave the scratch range and its data directory up for a look")
	fs.BoolVar(&a.verbose, "v", false, "log debug messages")
	pos, err := parsePositional(fs, args)
	switch {
	case err != nil:
		return a, err
	case len(pos) != 1:
		return a, usagef("%s (SCENARIO: a file or one of %s)", usage, strings.Join(scenarios.Builtins(), ", "))
	case a.driver != cyberrange.DriverLocal && a.driver != cyberrange.DriverDocker:
		return a, usagef("--driver must be local or docker, not %q", a.driver)
	}
	a.scenario = pos[0]
	return a, nil
}

func rehearseCommand(ctx context.Context, e *env, args []string, h rehearsalHooks) error {
	a, err := parseRehearseArgs(e, args)
	if err != nil {
		return err
	}
	sc, err := openScenario(a.scenario)
	if err != nil {
		return err
	}
	sc.Name += rehearsal.Suffix
	if err := sc.Validate(); err != nil {
		return fmt.Errorf("rehearse: %w", err)
	}
	data, err := tempDataDir("cyrange-" + sc.Name)
	if err != nil {
		return err
	}
	// The renamed scenario, so that a kept range can be taken down.
	scenFile := filepath.Join(data, "scenario.yaml")
	if err := os.WriteFile(scenFile, sc.Canonical(), 0o600); err != nil {
		return err
	}
	// Progress goes where it does not mix with the JSON report.
	progress := e
	if a.asJSON {
		progress = &env{stdout: e.stderr, stderr: e.stderr, getenv: e.getenv}
	}
	s := &scratch{sc: sc, data: data, driver: a.driver, e: progress,
		do: driverOptions{Logger: newLogger(e.stderr, a.verbose), Binary: h.binary}}
	r := rehearsal.New(rehearsal.Options{Scenario: sc, Driver: a.driver, Targets: targets(), DataDir: data,
		Up: s.up, BeforeExploits: h.beforeExploits, Logger: s.do.Logger})
	r.Run(ctx)
	if a.keep {
		fmt.Fprintf(progress.stdout, "The scratch range stays up: cyrange range down %s --driver %s --data %s\n",
			scenFile, a.driver, data)
	} else {
		s.down(ctx, r)
	}
	if a.asJSON {
		if err := r.WriteJSON(e.stdout); err != nil {
			return err
		}
	} else {
		r.Print(e.stdout)
	}
	if !r.Ready() {
		return fmt.Errorf("%q is not ready: %s", strings.TrimSuffix(sc.Name, rehearsal.Suffix), r.FirstFailure())
	}
	return nil
}

// scratch is the rehearsal's throwaway range.
type scratch struct {
	sc     *scenarios.Scenario
	data   string
	driver string
	e      *env
	do     driverOptions
	rg     *bringup.Range
}

// up brings the scratch range up; a local one only where no other local
// range listens, or its checkers would plant flags in that range's
// targets.
func (s *scratch) up(ctx context.Context) (*rehearsal.Range, error) {
	if s.driver == cyberrange.DriverLocal {
		plan, err := rangePlan(s.sc, s.data, cyberrange.DriverLocal, "", true)
		if err != nil {
			return nil, err
		}
		if err := rehearsal.AddressesFree(ctx, plan); err != nil {
			return nil, err
		}
	}
	rg, err := startRangeWith(ctx, s.e, s.sc, s.data, s.driver, s.do)
	if err != nil {
		return nil, err
	}
	s.rg = rg
	return rg.ForRehearsal(s.sc, targets()), nil
}

// down takes the scratch range down and removes its data directory.
func (s *scratch) down(ctx context.Context, r *rehearsal.Rehearsal) {
	if s.rg != nil {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		r.Record("range down", s.sc.Name, s.rg.Orch.Down(dctx, s.sc.Name))
		cancel()
		s.rg.Close()
	}
	os.RemoveAll(s.data)
}
