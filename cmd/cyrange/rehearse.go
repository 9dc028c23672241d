package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	cyberrange "github.com/cyrange/cyrange/range"
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

func rehearseCommand(ctx context.Context, e *env, args []string, h rehearsalHooks) error {
	const usage = "usage: cyrange rehearse SCENARIO [--driver docker|local] [--json] [--keep]"
	fs := newFlagSet(e, "rehearse")
	driver := fs.String("driver", cyberrange.DriverDocker, "where the scratch range runs: local or docker")
	asJSON := fs.Bool("json", false, "print the readiness report as JSON")
	keep := fs.Bool("keep", false, "leave the scratch range and its data directory up for a look")
	verbose := fs.Bool("v", false, "log debug messages")
	pos, err := parsePositional(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("%s (SCENARIO: a file or one of %s)", usage, strings.Join(scenarios.Builtins(), ", "))
	}
	if *driver != cyberrange.DriverLocal && *driver != cyberrange.DriverDocker {
		return usagef("--driver must be local or docker, not %q", *driver)
	}
	sc, err := openScenario(pos[0])
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
	logger := newLogger(e.stderr, *verbose)
	// Progress goes where it does not mix with the JSON report.
	progress := e
	if *asJSON {
		progress = &env{stdout: e.stderr, stderr: e.stderr, getenv: e.getenv}
	}
	var rg *exerciseRange
	up := func(ctx context.Context) (*rehearsal.Range, error) {
		if *driver == cyberrange.DriverLocal {
			plan, err := rangePlan(sc, data, cyberrange.DriverLocal, "", true)
			if err != nil {
				return nil, err
			}
			if err := rehearsal.AddressesFree(ctx, plan); err != nil {
				return nil, err
			}
		}
		if rg, err = startRangeWith(ctx, progress, sc, data, *driver, driverOptions{Logger: logger, Binary: h.binary}); err != nil {
			return nil, err
		}
		return rg.forRehearsal(sc), nil
	}
	r := rehearsal.New(rehearsal.Options{Scenario: sc, Driver: *driver, Targets: targets(), DataDir: data,
		Up: up, BeforeExploits: h.beforeExploits, Logger: logger})
	r.Run(ctx)
	if *keep {
		fmt.Fprintf(progress.stdout, "The scratch range stays up: cyrange range down %s --driver %s --data %s\n",
			scenFile, *driver, data)
	} else {
		if rg != nil {
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
			r.Record("range down", sc.Name, rg.orch.Down(dctx, sc.Name))
			cancel()
			rg.release()
		}
		os.RemoveAll(data)
	}
	if *asJSON {
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
