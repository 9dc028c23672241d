package main

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	cyberrange "github.com/cyrange/cyrange/range"
	"github.com/cyrange/cyrange/range/bots"
	"github.com/cyrange/cyrange/scoreboard/datadir"
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
	scenario := fs.String("scenario", "demo", "the scenario to play: a built-in name or a YAML file (its targets must be the mail server)")
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
	lock, err := datadir.Acquire(*data)
	if err != nil {
		return err
	}
	defer lock.Release()
	logger := newLogger(e.stderr, *verbose)
	if d := sc.Services[0].Options; d != nil && *seed != 1 {
		d["seed"] = int(*seed)
	}
	o := serve.Options{Scenario: sc, DataDir: *data, HTTPAddr: *httpAddr, SubmitAddr: *submitAddr,
		Logger: logger, AutoStart: true}
	wf.apply(&o)
	// An address in use fails the demo before it brings anything up.
	if o.Listeners, err = serve.Listen(o); err != nil {
		return err
	}
	served := false
	defer func() {
		if !served {
			o.Listeners.Close()
		}
	}()
	rg, err := startRange(ctx, e, sc, *data, cyberrange.DriverLocal, logger)
	if err != nil {
		return err
	}
	defer rg.Close()
	// The demo's range is throwaway: take it down however the demo ends.
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if err := rg.Orch.DownOwn(dctx, sc.Name, rg.Plan.Instance()); err != nil {
			logger.Error("taking the demo's range down", "err", err)
		}
	}()
	o.Placement, o.Checkers, o.Range, o.Plan, o.Logs = rg.Plan.Placement(), rg.Checkers, rg.Orch, rg.Plan, rg.Driver
	o.Readers = lineReaders(sc, targets())
	x, err := serve.New(ctx, o)
	if err != nil {
		return err
	}
	served = true
	defer x.Close()
	go rg.Watch(ctx)
	printWhere(e.stdout, x, *data)
	printGateways(ctx, e.stdout, rg)
	fmt.Fprintf(e.stdout, "Replay later with: cyrange replay --data %s\n\n", filepath.Clean(*data))
	if !*noBots {
		bo := bots.Options{Scenario: sc, Targets: targets(), Game: x.Game(), Plan: rg.Plan, Logs: rg.Driver,
			Status: rg.Status,
			Remedy: rg.Operator(sc, targets()).Remedy, Token: x.Tokens().TeamToken, SubmitAddr: x.SubmitAddr(), Seed: *seed, Logger: logger}
		bots.Attack(ctx, bo)
		bots.Defend(ctx, bo)
	}
	return x.Run(ctx)
}
