// Package loadgen drives a running exercise the way a busy game would and
// measures how it holds up: the figures of `cyrange bench submit`, `bench
// live` and `bench replay`. It holds the benchmark exercise's shape
// (Scenario, StartTicks), running in a scratch directory (Start), and its
// distinct valid flags (Flags); the submission load with the disk's
// baselines measured beside it (Submit); the captures made while a child
// process holds the live viewers (Live, with ServeViewers on the child's
// side); and the replay of a synthetic log from disk (Replay). The load
// itself comes from submit.Load and live.Viewers. Each result writes
// itself as the command prints it (WriteText, WriteJSON).
//
// The caller serves the exercise (Serve: cmd/cyrange does, on loopback,
// with the serve package). This package must never import echo, the web
// package, the serve package or the Docker SDK.
package loadgen

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cyrange/cyrange/scenarios"
	"github.com/cyrange/cyrange/scoreboard"
)

// Shape of the benchmark exercise: enough flag slots that every team can
// submit tens of thousands of distinct, valid flags (slots = services ×
// stores × ticks of lifetime).
const (
	services = scenarios.MaxServices
	stores   = scenarios.MaxFlagStores
	ticks    = scenarios.MaxFlagLifetime
)

// DistinctFlags is how many distinct valid flags Flags gives before they
// repeat: a team's submissions count only up to it.
const DistinctFlags = services * stores * ticks

// Scenario is the benchmark exercise: the demo with n attack teams, as
// many flag slots as a scenario may have, one tick a day and no rate limit
// worth the name.
func Scenario(n int) (*scenarios.Scenario, error) {
	base, err := scenarios.Builtin("demo")
	if err != nil {
		return nil, err
	}
	sc := base.WithAttackTeams(n)
	sc.Name = "bench"
	sc.Tick = 24 * time.Hour
	sc.FlagLifetime = ticks
	sc.GetflagDepth = 1
	sc.Duration, sc.FreezeAt = 0, 0
	sc.Submission.Rate = 1e9
	sc.Submission.Burst = 1 << 30
	svc := sc.Services[0]
	sc.Services = nil
	for i := range services {
		s := svc
		s.Name = fmt.Sprintf("svc%02d", i)
		s.FlagStores = nil
		for j := range stores {
			s.FlagStores = append(s.FlagStores, fmt.Sprintf("s%02d", j))
		}
		sc.Services = append(sc.Services, s)
	}
	return sc, sc.Validate()
}

// startTimeout bounds StartTicks' wait for the game's first tick.
const startTimeout = 10 * time.Second

// StartTicks waits until the game of a Scenario, run by the caller, has
// started its first tick, then starts the rest of the flag lifetime's
// ticks at once, so that every flag Flags returns is valid.
func StartTicks(ctx context.Context, g *scoreboard.Game) error {
	wctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	for g.PublicView().Tick < 1 {
		select {
		case <-wctx.Done():
			return errors.New("the benchmark game did not start")
		case <-time.After(5 * time.Millisecond):
		}
	}
	for t := 1; t < ticks; t++ {
		if err := g.StartTick(ctx); err != nil {
			return err
		}
	}
	return nil
}

// Flags returns the generator of the distinct valid flags of the first
// defending team in a game of a Scenario whose ticks have all started
// (StartTicks): flag(team, i) is the i-th, whatever the team, and there
// are total of them before they repeat.
func Flags(g *scoreboard.Game) (flag func(team, i int) string, total int) {
	owner := -1
	for i, t := range g.Config().Teams {
		if t.Role.Defends() {
			owner = i
			break
		}
	}
	per := services * stores
	total = DistinctFlags
	return func(_, i int) string {
		i %= total
		id := scoreboard.FlagID{Tick: int32(1 + i/per), Owner: int16(owner), Service: int16((i / stores) % services),
			Store: int16(i % stores)}
		return g.Flags().Issue(id)
	}, total
}
