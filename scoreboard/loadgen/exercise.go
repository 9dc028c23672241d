package loadgen

import (
	"context"
	"fmt"
	"os"

	"github.com/cyrange/cyrange/scenarios"
	"github.com/cyrange/cyrange/scoreboard"
	"github.com/cyrange/cyrange/scoreboard/submit"
	"github.com/cyrange/cyrange/scoreboard/tokens"
)

// Exercise is what the benchmarks need of a served exercise (a
// *serve.Exercise, which this package must not import: it serves the
// web).
type Exercise interface {
	Game() *scoreboard.Game
	Tokens() *tokens.Set
	HTTPAddr() string
	SubmitAddr() string
	// Run serves until ctx ends; Close closes the exercise's store.
	Run(ctx context.Context) error
	Close() error
}

// Serve serves sc, with its data directory dir, on loopback addresses
// the system chooses, with its game started at once; Run does the rest.
type Serve func(ctx context.Context, sc *scenarios.Scenario, dir string) (Exercise, error)

// Running is a benchmark exercise served and running (Start's).
type Running struct {
	x    Exercise
	dir  string
	stop func()
}

// Start serves a Scenario of teams attack teams with serve, in a fresh
// temporary data directory, runs it and starts its ticks (StartTicks), so
// that every flag Flags returns is valid. Stop it to end it and remove the
// directory.
func Start(ctx context.Context, teams int, serve Serve) (*Running, error) {
	sc, err := Scenario(teams)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "cyrange-bench-")
	if err != nil {
		return nil, fmt.Errorf("loadgen: %w", err)
	}
	x, err := serve(ctx, sc, dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- x.Run(rctx) }()
	r := &Running{x: x, dir: dir, stop: func() {
		cancel()
		<-done
		x.Close()
		os.RemoveAll(dir)
	}}
	if err := StartTicks(ctx, x.Game()); err != nil {
		r.Stop()
		return nil, err
	}
	return r, nil
}

// Stop ends the exercise and removes its data directory.
func (r *Running) Stop() { r.stop() }

// Game is the exercise's game, for Live.
func (r *Running) Game() *scoreboard.Game { return r.x.Game() }

// HTTPAddr is the address of the exercise's web server, whose live
// stream the viewers of Live watch.
func (r *Running) HTTPAddr() string { return r.x.HTTPAddr() }

// SubmitOptions shape the submission load of Running.Submit; the fields
// are submit.LoadOptions'.
type SubmitOptions struct {
	Proto   string
	PerTeam int
	Batch   int
	Rate    float64
	Conns   int
}

// Submit has every attack team submit o.PerTeam distinct valid flags
// (at most DistinctFlags) through the door o.Proto, then measures the
// baselines on the exercise's disk.
func (r *Running) Submit(ctx context.Context, o SubmitOptions) (SubmitResult, error) {
	if o.PerTeam > DistinctFlags {
		return SubmitResult{}, fmt.Errorf("loadgen: %d flags per team, more than the %d distinct ones", o.PerTeam, DistinctFlags)
	}
	g := r.x.Game()
	var toks []string
	for i, t := range g.Config().Teams {
		if t.Role.Attacks() {
			toks = append(toks, r.x.Tokens().TeamToken(i))
		}
	}
	flags, _ := Flags(g)
	return Submit(ctx, submit.LoadOptions{Addr: r.x.SubmitAddr(), URL: "http://" + r.x.HTTPAddr() + "/flags", Proto: o.Proto,
		Tokens: toks, Flags: flags, PerTeam: o.PerTeam, Batch: o.Batch, Rate: o.Rate, Conns: o.Conns}, r.dir)
}
