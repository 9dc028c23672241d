package loadgen

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cyrange/cyrange/scenarios"
	"github.com/cyrange/cyrange/scoreboard"
	"github.com/cyrange/cyrange/scoreboard/scoreboardtest"
	"github.com/cyrange/cyrange/scoreboard/tokens"
)

// fakeExercise serves nothing: its game is run by the test (newGame),
// and Run only waits for its end.
type fakeExercise struct {
	g           *scoreboard.Game
	dir         string
	ran, closed bool
}

func (x *fakeExercise) Game() *scoreboard.Game { return x.g }
func (x *fakeExercise) Tokens() *tokens.Set    { return nil }
func (x *fakeExercise) HTTPAddr() string       { return "127.0.0.1:1" }
func (x *fakeExercise) SubmitAddr() string     { return "127.0.0.1:2" }
func (x *fakeExercise) Close() error           { x.closed = true; return nil }

func (x *fakeExercise) Run(ctx context.Context) error {
	x.ran = true
	<-ctx.Done()
	return nil
}

func TestStart(t *testing.T) {
	ctx := context.Background()
	x := &fakeExercise{}
	r, err := Start(ctx, 2, func(_ context.Context, sc *scenarios.Scenario, dir string) (Exercise, error) {
		if sc.Name != "bench" || len(sc.Services) != scenarios.MaxServices {
			t.Errorf("served %s with %d services", sc.Name, len(sc.Services))
		}
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			t.Errorf("data directory %s: %v", dir, err)
		}
		x.g, x.dir = newGame(t, 2), dir
		return x, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if tick := r.Game().PublicView().Tick; tick != scenarios.MaxFlagLifetime || r.HTTPAddr() != "127.0.0.1:1" {
		t.Errorf("tick %d, web at %s", tick, r.HTTPAddr())
	}
	if _, err := r.Submit(ctx, SubmitOptions{Proto: "tcp", PerTeam: DistinctFlags + 1}); err == nil ||
		!strings.HasPrefix(err.Error(), "loadgen: ") {
		t.Errorf("more flags than there are: %v", err)
	}
	r.Stop()
	if !x.ran || !x.closed {
		t.Errorf("ran %v, closed %v", x.ran, x.closed)
	}
	if _, err := os.Stat(x.dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the data directory is still there: %v", err)
	}
}

func TestStartFails(t *testing.T) {
	ctx := context.Background()
	var dir string
	oops := errors.New("oops")
	if _, err := Start(ctx, 1, func(_ context.Context, _ *scenarios.Scenario, d string) (Exercise, error) {
		dir = d
		return nil, oops
	}); !errors.Is(err, oops) {
		t.Errorf("serve fails: %v", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the data directory is still there: %v", err)
	}

	// A game that never starts its first tick.
	ctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	x := &fakeExercise{}
	_, err := Start(ctx, 1, func(ctx context.Context, sc *scenarios.Scenario, d string) (Exercise, error) {
		g, err := scoreboard.NewGame(ctx, scoreboard.Options{Config: sc.GameConfig(scenarios.Placement{}),
			Log: &scoreboardtest.MemLog{}, Key: []byte("sixteen byte key")})
		x.g, x.dir = g, d
		return x, err
	})
	if err == nil || !x.closed {
		t.Errorf("a game that does not start: %v, closed %v", err, x.closed)
	}
	if _, err := os.Stat(x.dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the data directory is still there: %v", err)
	}
}

func TestReplayTemp(t *testing.T) {
	res, err := ReplayTemp(context.Background(), 20000)
	if err != nil {
		t.Fatal(err)
	}
	sc, _ := scenarios.Builtin(ReplayScenario)
	if res.Events != 20000 || res.Teams != len(sc.Teams) {
		t.Errorf("%+v", res)
	}
}
