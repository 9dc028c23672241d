// Package bots plays teams of an exercise: attack teams that run the
// targets' reference exploits through their own gateways and submit what
// they find as a flag farm would, and a defence that reads its targets'
// action logs, reports the sources of suspicious actions and applies one
// remedy after another. The demo plays with them; a readiness drill, in
// which cyrange itself attacks, builds on them.
//
// Bots know targets only through the target interface (images/target),
// the range through its plan and driver, and the game through the small
// Game interface below.
package bots

import (
	"context"
	"io"
	"log/slog"
	"time"

	"github.com/cyrange/cyrange/images/target"
	cyberrange "github.com/cyrange/cyrange/range"
	"github.com/cyrange/cyrange/scenarios"
	"github.com/cyrange/cyrange/scoreboard"
)

// Game is what the bots read of the game and tell it.
type Game interface {
	Config() *scoreboard.Config
	Phase() (scoreboard.Phase, bool)
	PublicView() scoreboard.View
	Targets(team int) []scoreboard.AttackTarget
	ReportDetection(ctx context.Context, team int, in scoreboard.DetectionInput) (scoreboard.DetectionAck, error)
}

// Logs follows a container's output from since.
type Logs interface {
	Logs(ctx context.Context, name string, since time.Time) (io.ReadCloser, error)
}

// Options are what the bots play with.
type Options struct {
	Scenario *scenarios.Scenario
	Targets  target.Set
	Game     Game
	Plan     *cyberrange.Plan
	// Status reports what runs (where the gateways are published).
	Status func(ctx context.Context) (cyberrange.Report, error)
	Logs   Logs
	// Remedy applies the remedy of weakness w to owner's replica of
	// service svc through its admin console.
	Remedy func(ctx context.Context, owner, svc int, w string) error
	// Token is a team's token (its gateway password and submission
	// token); SubmitAddr the TCP submission address.
	Token      func(team int) string
	SubmitAddr string
	// Seed makes the bots' choices reproducible.
	Seed   int64
	Logger *slog.Logger
}

// running says whether the game is being played.
func running(g Game) bool {
	p, _ := g.Phase()
	return p == scoreboard.PhaseRunning
}

// sleep waits d or until ctx is done, and says whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
