package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cyrange/cyrange/images/target"
	cyberrange "github.com/cyrange/cyrange/range"
	"github.com/cyrange/cyrange/range/bringup"
	"github.com/cyrange/cyrange/range/rangeview"
	"github.com/cyrange/cyrange/scenarios"
	"github.com/cyrange/cyrange/scoreboard/exercisedb"
	"github.com/cyrange/cyrange/scoreboard/serve"
	"github.com/cyrange/cyrange/scoreboard/tokens"
)

func runExercise(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "run")
	driver := fs.String("driver", "none", "where the targets run: none (managed elsewhere), local or docker")
	data := fs.String("data", "", "data directory (default ./cyrange-data/SCENARIO)")
	httpAddr := fs.String("http", "127.0.0.1:8080", "web and API address")
	submitAddr := fs.String("submit", "127.0.0.1:31337", "TCP flag submission address")
	targetHost := fs.String("target-host", "127.0.0.1", "with --driver none: the host where every replica runs")
	down := fs.Bool("down", false, "take the range down when the exercise stops")
	verbose := fs.Bool("v", false, "log debug messages")
	wf := addWebFlags(fs)
	pos, err := parsePositional(fs, args)
	if err != nil {
		return err
	}
	if err := wf.check(); err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("usage: cyrange run SCENARIO [flags] (SCENARIO: a file or one of %s)", strings.Join(scenarios.Builtins(), ", "))
	}
	sc, err := openScenario(pos[0])
	if err != nil {
		return err
	}
	switch *driver {
	case "none", cyberrange.DriverLocal, cyberrange.DriverDocker:
	default:
		return usagef("--driver must be none, local or docker, not %q", *driver)
	}
	if *data == "" {
		*data = filepath.Join("cyrange-data", sc.Name)
	}
	logger := newLogger(e.stderr, *verbose)
	h := hosting{o: serve.Options{Scenario: sc, DataDir: *data, HTTPAddr: *httpAddr, SubmitAddr: *submitAddr, Logger: logger},
		down: *down, stayingUp: fmt.Sprintf("The range stays up: cyrange range down %s --driver %s --data %s\n", pos[0], *driver, *data)}
	wf.apply(&h.o)
	if *driver == "none" {
		h.prepare = func(o *serve.Options) error {
			secret, err := tokens.LoadCheckerSecret(*data, !exercisedb.Exists(*data))
			if err != nil {
				return err
			}
			o.Placement = scenarios.Placement{ReplicaAddress: func(int, int) string { return *targetHost }}
			o.Checkers, err = bringup.InProcess(sc, targets(), target.CheckerConfig{Secret: secret, Logger: logger}, *targetHost)
			return err
		}
	} else {
		h.up = func(ctx context.Context) (*bringup.Range, error) {
			return startRange(ctx, e, sc, *data, *driver, logger)
		}
	}
	return serveExercise(ctx, e, h)
}

// startRange brings the scenario's range up (adopting what already runs)
// and points the game's checkers at the range's checker processes.
func startRange(ctx context.Context, e *env, sc *scenarios.Scenario, data, driver string, logger *slog.Logger) (*bringup.Range, error) {
	return startRangeWith(ctx, e, sc, data, driver, driverOptions{Logger: logger})
}

// startRangeWith is startRange with the driver's options (the binary the
// local driver runs, in tests).
func startRangeWith(ctx context.Context, e *env, sc *scenarios.Scenario, data, driver string, do driverOptions) (*bringup.Range, error) {
	do.DataDir, do.StateDir, do.Version = data, filepath.Join(data, rangeStateDir), version
	d, release, err := newDriver(ctx, driver, do)
	if err != nil {
		return nil, err
	}
	plan, err := rangePlan(sc, data, driver, "", true)
	if err != nil {
		release()
		return nil, err
	}
	start := time.Now()
	rg, err := bringup.Up(ctx, sc, bringup.Options{Plan: plan, Driver: d, Release: release, Logger: do.Logger,
		Progress: rangeview.NewProgress(e.stdout, false).Print})
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(e.stdout, "range %q is up (%s)\n\n", sc.Name, time.Since(start).Round(time.Millisecond))
	return rg, nil
}

// parsePositional parses flags that may come before or after the
// positional arguments (cyrange run SCENARIO --data DIR) and returns the
// positional ones.
func parsePositional(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := parse(fs, args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

func newLogger(w io.Writer, verbose bool) *slog.Logger {
	lvl := slog.LevelInfo
	if verbose {
		lvl = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: lvl}))
}

// tempDataDir makes a fresh data directory for a throwaway exercise.
func tempDataDir(prefix string) (string, error) {
	return os.MkdirTemp("", prefix+"-"+time.Now().Format("20060102-150405")+"-")
}
