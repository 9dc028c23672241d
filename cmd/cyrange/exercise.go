package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cyrange/cyrange/range/bringup"
	"github.com/cyrange/cyrange/range/rangeview"
	"github.com/cyrange/cyrange/scoreboard/datadir"
	"github.com/cyrange/cyrange/scoreboard/serve"
)

// hosting is what run and demo share: an exercise served from its data
// directory, with the range it brings up.
type hosting struct {
	o serve.Options
	// up brings the range up; nil for a range managed elsewhere, whose
	// checkers prepare sets.
	up      func(ctx context.Context) (*bringup.Range, error)
	prepare func(o *serve.Options) error
	// down takes the range down when the exercise ends; otherwise
	// stayingUp is printed. quiet logs a failed down instead of failing.
	down, quiet bool
	stayingUp   string
	// started runs once the exercise is served (the demo's bots).
	started func(ctx context.Context, x *serve.Exercise, rg *bringup.Range)
}

// serveExercise locks the data directory, takes the addresses, brings the
// range up and serves the exercise until ctx is done.
func serveExercise(ctx context.Context, e *env, h hosting) (err error) {
	// Before anything else: a second exercise on the same directory must
	// not touch the first one's range.
	lock, err := datadir.Acquire(h.o.DataDir)
	if err != nil {
		return err
	}
	defer lock.Release()
	// The addresses too come before the range: one in use fails before
	// anything is brought up.
	if h.o.Listeners, err = serve.Listen(h.o); err != nil {
		return err
	}
	served := false
	defer func() {
		if !served {
			h.o.Listeners.Close()
		}
	}()
	var rg *bringup.Range
	if h.up == nil {
		if err := h.prepare(&h.o); err != nil {
			return err
		}
	} else {
		if rg, err = h.up(ctx); err != nil {
			return err
		}
		defer rg.Close()
		// However the exercise ends from here on, even failing to start,
		// the range is either taken down or said to be up.
		defer func() { err = errors.Join(err, h.takeDown(ctx, e, rg)) }()
		h.o.Placement, h.o.Checkers = rg.Plan.Placement(), rg.Checkers
		h.o.Range = serve.DefenceRange{Orchestrator: rg.Orch, Defence: rg.Defence(h.o.Scenario, targets())}
		h.o.Plan, h.o.Logs, h.o.Readers = rg.Plan, rg.Driver, lineReaders(h.o.Scenario, targets())
	}
	x, err := serve.New(ctx, h.o)
	if err != nil {
		return err
	}
	served = true
	defer x.Close()
	x.WriteWhere(e.stdout, h.o.DataDir)
	if rg != nil {
		go rg.Watch(ctx)
		if rep, err := rg.Status(ctx); err == nil {
			rangeview.Gateways(e.stdout, h.o.Scenario, rg.Plan, rep)
		}
	}
	if h.started != nil {
		h.started(ctx, x, rg)
	}
	return x.Run(ctx)
}

// takeDown takes the range down, or says it stays up.
func (h hosting) takeDown(ctx context.Context, e *env, rg *bringup.Range) error {
	if !h.down {
		fmt.Fprint(e.stdout, h.stayingUp)
		return nil
	}
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	name := h.o.Scenario.Name
	if err := rg.Orch.DownOwn(dctx, name, rg.Plan.Instance()); err != nil {
		if h.quiet {
			h.o.Logger.Error("taking the range down", "err", err)
			return nil
		}
		return err
	}
	if !h.quiet {
		fmt.Fprintf(e.stdout, "range %q is down\n", name)
	}
	return nil
}
