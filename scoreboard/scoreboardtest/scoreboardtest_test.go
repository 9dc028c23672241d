package scoreboardtest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cyrange/cyrange/scoreboard"
)

func TestMemLog(t *testing.T) {
	ctx := context.Background()
	var l MemLog
	var got []uint64
	for _, batch := range [][]string{{"a", "b"}, {"c"}} {
		recs := make([][]byte, len(batch))
		for i, s := range batch {
			recs[i] = []byte(s)
		}
		first, err := l.Append(ctx, recs, func(first uint64) { got = append(got, first) })
		if err != nil || first != got[len(got)-1] {
			t.Fatalf("append: %d %v", first, err)
		}
		recs[0][0] = 'x' // the log keeps its own copy
	}
	if len(got) != 2 || got[0] != 1 || got[1] != 3 || l.Len() != 3 {
		t.Fatalf("firsts %v, len %d", got, l.Len())
	}
	var seen strings.Builder
	if err := l.Iterate(ctx, 2, func(seq uint64, rec []byte) error {
		seen.WriteString(string(rec))
		return nil
	}); err != nil || seen.String() != "bc" {
		t.Errorf("iterate from 2: %q %v", seen.String(), err)
	}
	stop := errors.New("stop")
	if err := l.Iterate(ctx, 0, func(uint64, []byte) error { return stop }); err != stop {
		t.Errorf("iterate error: %v", err)
	}
	if _, _, ok, _ := l.LatestSnapshot(); ok {
		t.Error("a snapshot before any was put")
	}
	if err := l.PutSnapshot(ctx, 3, []byte("state")); err != nil {
		t.Fatal(err)
	}
	if seq, data, ok, err := l.LatestSnapshot(); !ok || err != nil || seq != 3 || string(data) != "state" {
		t.Errorf("snapshot %d %q %v %v", seq, data, ok, err)
	}
}

// TestGameOnMemLog runs a game on the doubles and restores it from the
// log, as the packages that use them do.
func TestGameOnMemLog(t *testing.T) {
	ctx := context.Background()
	cfg := &scoreboard.Config{Name: "t", Tick: time.Minute, FlagLifetime: 3, GetflagDepth: 1,
		Scoring: scoreboard.DefaultScoring(),
		Teams: []scoreboard.Team{{ID: 0, Name: "A", Role: scoreboard.RoleAttack},
			{ID: 1, Name: "D", Role: scoreboard.RoleDefence}},
		Services: []scoreboard.Service{{ID: 0, Name: "mail", Weight: 1, Stores: []string{"inbox"}}},
		Replicas: []scoreboard.Replica{{Owner: 1, Service: 0}}}
	log := &MemLog{}
	down := Checker{Status: func(tick int32, owner, service int) scoreboard.Status {
		if tick == 2 {
			return scoreboard.StatusOffline
		}
		return scoreboard.StatusOK
	}}
	g, err := scoreboard.NewGame(ctx, scoreboard.Options{Config: cfg, Log: log, Key: []byte("sixteen byte key"), Checker: down})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Act(ctx, scoreboard.ActStart); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := g.StartTick(ctx); err != nil {
			t.Fatal(err)
		}
		g.WaitChecks()
	}
	if st := g.FullView().Status["D"]["mail"]; st != scoreboard.StatusOffline {
		t.Errorf("status after tick 2: %v", st)
	}
	targets := g.Targets(0)
	if len(targets) != 1 || len(targets[0].AttackInfo) != 1 || targets[0].AttackInfo[0].Info != "user1-0@mail" {
		t.Errorf("attack info %+v: the offline tick must plant nothing", targets)
	}
	again, err := scoreboard.NewGame(ctx, scoreboard.Options{Config: cfg, Log: log, Key: []byte("sixteen byte key")})
	if err != nil {
		t.Fatal(err)
	}
	if again.LastSeq() != g.LastSeq() || again.LastSeq() != uint64(log.Len()) {
		t.Errorf("restored at %d, game at %d, log has %d", again.LastSeq(), g.LastSeq(), log.Len())
	}
}
