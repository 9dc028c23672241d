package main

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/cyrange/cyrange/scenarios"
)

func runDemo(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "demo")
	data := fs.String("data", "", "data directory (default: a new temporary directory)")
	httpAddr := fs.String("http", "127.0.0.1:8080", "web and API address")
	submitAddr := fs.String("submit", "127.0.0.1:31337", "TCP flag submission address")
	teams := fs.Int("teams", 0, "number of attack teams (default: the scenario's 3)")
	tick := fs.Duration("tick", 0, "tick length (default: the scenario's 15s)")
	seed := fs.Int64("seed", 1, "seed of the bots and the target's generated data, for reproducible runs")
	noBots := fs.Bool("no-bots", false, "no bot teams: a real exercise on one machine")
	verbose := fs.Bool("v", false, "log debug messages")
	if err := parse(fs, args); err != nil {
		return err
	}
	sc, err := scenarios.Builtin("demo")
	if err != nil {
		return err
	}
	if *teams != 0 {
		sc = sc.WithAttackTeams(*teams)
	}
	if *tick != 0 {
		sc.Tick = *tick
	}
	if err := sc.Validate(); err != nil {
		return usagef("%v", err)
	}
	if *data == "" {
		if *data, err = tempDataDir("cyrange-demo"); err != nil {
			return err
		}
	}
	logger := newLogger(e.stderr, *verbose)
	d := &demo{sc: sc, seed: *seed, bots: !*noBots, logger: logger}
	placement, checkers, stop, err := d.startTargets(ctx)
	if err != nil {
		return err
	}
	defer stop()
	x, err := newExercise(ctx, exerciseOptions{Scenario: sc, DataDir: *data, HTTPAddr: *httpAddr,
		SubmitAddr: *submitAddr, Placement: placement, Checkers: checkers, Logger: logger, AutoStart: true})
	if err != nil {
		return err
	}
	defer x.Close()
	printWhere(e.stdout, x, *data)
	fmt.Fprintf(e.stdout, "Replay later with: cyrange replay --data %s\n\n", filepath.Clean(*data))
	if d.bots {
		go d.runBots(ctx, x)
	}
	_ = time.Second
	return x.Run(ctx)
}
