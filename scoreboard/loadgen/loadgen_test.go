package loadgen

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cyrange/cyrange/scenarios"
	"github.com/cyrange/cyrange/scoreboard"
	"github.com/cyrange/cyrange/scoreboard/scoreboardtest"
)

// newGame is a game of Scenario(teams) on an in-memory log, started and
// run until the test ends.
func newGame(t *testing.T, teams int) *scoreboard.Game {
	t.Helper()
	ctx := context.Background()
	sc, err := Scenario(teams)
	if err != nil {
		t.Fatal(err)
	}
	g, err := scoreboard.NewGame(ctx, scoreboard.Options{Config: sc.GameConfig(scenarios.Placement{}),
		Log: &scoreboardtest.MemLog{}, Key: []byte("sixteen byte key")})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Act(ctx, scoreboard.ActStart); err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- g.Run(rctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return g
}

func TestScenario(t *testing.T) {
	sc, err := Scenario(5)
	if err != nil {
		t.Fatal(err)
	}
	attackers := 0
	for _, tm := range sc.GameConfig(scenarios.Placement{}).Teams {
		if tm.Role.Attacks() {
			attackers++
		}
	}
	if attackers != 5 || len(sc.Services) != scenarios.MaxServices || sc.FlagLifetime != scenarios.MaxFlagLifetime {
		t.Errorf("%d attack teams, %d services, lifetime %d", attackers, len(sc.Services), sc.FlagLifetime)
	}
	for _, s := range sc.Services {
		if len(s.FlagStores) != scenarios.MaxFlagStores {
			t.Errorf("service %s has %d stores", s.Name, len(s.FlagStores))
		}
	}
	if _, err := Scenario(100000); err == nil {
		t.Error("a scenario of more teams than an address plan holds")
	}
}

// TestFlags: once the ticks have started, the flags are distinct and
// every one is accepted, from the first tick's to the last's.
func TestFlags(t *testing.T) {
	ctx := context.Background()
	g := newGame(t, 2)
	if err := StartTicks(ctx, g); err != nil {
		t.Fatal(err)
	}
	if tick := g.PublicView().Tick; tick != scenarios.MaxFlagLifetime {
		t.Errorf("tick %d after StartTicks, want %d", tick, scenarios.MaxFlagLifetime)
	}
	flag, total := Flags(g)
	if want := scenarios.MaxServices * scenarios.MaxFlagStores * scenarios.MaxFlagLifetime; total != want {
		t.Errorf("%d flags, want %d", total, want)
	}
	attacker := -1
	for i, tm := range g.Config().Teams {
		if tm.Role.Attacks() {
			attacker = i
			break
		}
	}
	var batch [][]byte
	seen := map[string]bool{}
	for _, i := range []int{0, 1, 15, 16, 1023, 1024, total / 2, total - 1} {
		f := flag(attacker, i)
		if seen[f] {
			t.Errorf("flag %d repeats an earlier one", i)
		}
		seen[f] = true
		batch = append(batch, []byte(f))
	}
	if flag(attacker, total) != flag(attacker, 0) || flag(attacker+1, 7) != flag(attacker, 7) {
		t.Error("the flags depend on the team, or do not wrap at total")
	}
	vs, err := g.Submit(ctx, attacker, batch)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range vs {
		if v.Code != scoreboard.CodeOK {
			t.Errorf("flag %d of the batch: %v %s", i, v.Code, v.Msg)
		}
	}
}

func TestStartTicksWithoutAGame(t *testing.T) {
	ctx := context.Background()
	sc, err := Scenario(1)
	if err != nil {
		t.Fatal(err)
	}
	g, err := scoreboard.NewGame(ctx, scoreboard.Options{Config: sc.GameConfig(scenarios.Placement{}),
		Log: &scoreboardtest.MemLog{}, Key: []byte("sixteen byte key")})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := StartTicks(ctx, g); err == nil || err.Error() != "the benchmark game did not start" {
		t.Errorf("a game that never starts: %v", err)
	}
}

func TestReplay(t *testing.T) {
	sc, err := scenarios.Builtin("tiengiang-2023")
	if err != nil {
		t.Fatal(err)
	}
	cfg := sc.GameConfig(scenarios.Placement{})
	res, err := Replay(context.Background(), cfg, filepath.Join(t.TempDir(), "exercise.db"), 25000)
	if err != nil {
		t.Fatal(err)
	}
	if res.Events != 25000 || res.Teams != len(cfg.Teams) || res.Best <= 0 || res.PerSecond() <= 0 {
		t.Errorf("%+v", res)
	}
	if _, err := Replay(context.Background(), cfg, filepath.Join(t.TempDir(), "missing", "exercise.db"), 10); err == nil ||
		!strings.Contains(err.Error(), "missing") {
		t.Errorf("a store where none can be: %v", err)
	}
}
