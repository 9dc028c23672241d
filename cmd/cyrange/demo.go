package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"

	cyberrange "github.com/cyrange/cyrange/range"
	"github.com/cyrange/cyrange/range/bots"
	"github.com/cyrange/cyrange/range/bringup"
	"github.com/cyrange/cyrange/scenarios"
	"github.com/cyrange/cyrange/scoreboard/serve"
)

func runDemo(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "demo")
	data := fs.String("data", "", "data directory (default: a new temporary directory)")
	httpAddr := fs.String("http", "127.0.0.1:8080", "web and API address")
	submitAddr := fs.String("submit", "127.0.0.1:31337", "TCP flag submission address")
	teams := fs.Int("teams", 0, "number of attack teams (default: the scenario's 3)")
	tick := fs.Duration("tick", 0, "tick length (default: the scenario's 15s)")
	seed := fs.Int64("seed", 1, "seed of the bots and the target's generated data, for reproducible runs")
	noBots := fs.Bool("no-bots", false, "no bot teams (attack nor defence): a real exercise on one machine")
	scenario := fs.String("scenario", "demo", "the scenario to play: a built-in name or a YAML file (its services must be built-in targets)")
	verbose := fs.Bool("v", false, "log debug messages")
	wf := addWebFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := wf.check(); err != nil {
		return err
	}
	sc, err := openScenario(*scenario)
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
	for _, svc := range sc.Services {
		if d := svc.Options; d != nil && *seed != 1 {
			d["seed"] = int(*seed)
		}
	}
	// The demo's range is throwaway: taken down however the demo ends.
	h := hosting{o: serve.Options{Scenario: sc, DataDir: *data, HTTPAddr: *httpAddr, SubmitAddr: *submitAddr,
		Logger: logger, AutoStart: true}, down: true, quiet: true,
		up: func(ctx context.Context) (*bringup.Range, error) {
			return startRange(ctx, e, sc, *data, cyberrange.DriverLocal, logger)
		},
		started: func(ctx context.Context, x *serve.Exercise, rg *bringup.Range) {
			fmt.Fprintf(e.stdout, "Replay later with: cyrange replay --data %s\n\n", filepath.Clean(*data))
			if !*noBots {
				playBots(ctx, sc, *seed, logger, x, rg)
			}
		}}
	wf.apply(&h.o)
	return serveExercise(ctx, e, h)
}

// playBots plays the demo's attack teams and defence.
func playBots(ctx context.Context, sc *scenarios.Scenario, seed int64, logger *slog.Logger, x *serve.Exercise, rg *bringup.Range) {
	bo := bots.Options{Scenario: sc, Targets: targets(), Game: x.Game(), Plan: rg.Plan, Logs: rg.Driver, Status: rg.Status,
		Remedy: rg.Operator(sc, targets()).Remedy, Token: x.Tokens().TeamToken, SubmitAddr: x.SubmitAddr(), Seed: seed, Logger: logger}
	bots.Attack(ctx, bo)
	bots.Defend(ctx, bo)
}
