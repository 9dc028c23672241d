package main

import (
	"context"
	"log/slog"

	"github.com/cyrange/cyrange/scenarios"
	"github.com/cyrange/cyrange/scoreboard/checks"
)

// demo runs the demo's targets and bots in this process.
type demo struct {
	sc     *scenarios.Scenario
	seed   int64
	bots   bool
	logger *slog.Logger
}

func (d *demo) startTargets(ctx context.Context) (scenarios.Placement, map[int]checks.Checker, func(), error) {
	return scenarios.Placement{}, nil, func() {}, nil
}

func (d *demo) runBots(ctx context.Context, x *exercise) {}
