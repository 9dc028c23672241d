package scoreboard

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"
)

// TestFrozenBoardCount: while the board is frozen the public view's seq
// and ticker do not move with hidden events, phase changes still reach it
// numbered in the board's own count, and a restart — from the log or from
// a snapshot, an old one included — shows the same board.
func TestFrozenBoardCount(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	cfg := testConfig(roles(RoleAttack, RoleAttack, RoleDefence), 1, "inbox", "drafts")
	g, log := newTestGame(t, cfg, clk, nil)
	mustNoErr(t, g.Act(ctx, ActStart))
	mustNoErr(t, g.StartTick(ctx))
	mustNoErr(t, g.Act(ctx, ActFreeze))
	frozen := g.PublicView()
	freezeSeq := g.LastSeq()
	if frozen.Seq != freezeSeq || frozen.Recent[len(frozen.Recent)-1].Text != ActFreeze {
		t.Fatalf("frozen view: seq %d (log %d), ticker %+v", frozen.Seq, freezeSeq, frozen.Recent)
	}
	// More hidden ticker items than the state's recent list keeps.
	for tick := 2; tick <= 40; tick++ {
		clk.Add(cfg.Tick)
		mustNoErr(t, g.StartTick(ctx))
		for team := 0; team < 2; team++ {
			for store := int16(0); store < 2; store++ {
				v, err := g.Submit(ctx, team, flagBytes(g.Flags().Issue(FlagID{Tick: int32(tick), Owner: 2, Store: store})))
				mustNoErr(t, err)
				wantCodes(t, v, CodeOK)
			}
		}
	}
	if len(g.FullView().Recent) == 0 || g.LastSeq() < freezeSeq+100 {
		t.Fatalf("only %d events after the freeze", g.LastSeq()-freezeSeq)
	}
	pub := g.PublicView()
	if pub.Seq != frozen.Seq || !reflect.DeepEqual(pub.Recent, frozen.Recent) || !reflect.DeepEqual(pub.Standings, frozen.Standings) {
		t.Fatalf("the frozen view moved: seq %d → %d, ticker %d → %d items", frozen.Seq, pub.Seq, len(frozen.Recent), len(pub.Recent))
	}
	mustNoErr(t, g.Act(ctx, ActPause))
	paused := g.PublicView()
	last := paused.Recent[len(paused.Recent)-1]
	if paused.Seq != freezeSeq+1 || last.Seq != freezeSeq+1 || last.Text != ActPause || last.LogSeq != g.LastSeq() {
		t.Fatalf("after a pause: seq %d, last item %+v (log %d)", paused.Seq, last, g.LastSeq())
	}
	// A restart from the log shows the same board.
	g2, err := NewGame(ctx, Options{Config: cfg, Log: log, Key: testKey, Now: clk.Now})
	mustNoErr(t, err)
	if a, b := asJSON(t, g2.PublicView()), asJSON(t, paused); a != b {
		t.Fatalf("after a restart:\n%s\nwant\n%s", a, b)
	}
	// So does a restart from a snapshot.
	mustNoErr(t, g.Snapshot(ctx))
	g3, err := NewGame(ctx, Options{Config: cfg, Log: log, Key: testKey, Now: clk.Now})
	mustNoErr(t, err)
	if a, b := asJSON(t, g3.PublicView()), asJSON(t, paused); a != b {
		t.Fatalf("after a restart from a snapshot:\n%s\nwant\n%s", a, b)
	}
	// A snapshot made before the board kept its own count: the phase
	// changes the state still holds come back (here the pause: the
	// freeze is long out of the state's recent items), counted on from
	// the board's last item.
	g.mu.RLock()
	b, err := g.st.Encode()
	g.mu.RUnlock()
	mustNoErr(t, err)
	st, err := DecodeState(cfg, b)
	mustNoErr(t, err)
	st.Board.Seq = 0
	st.Board.Recent = st.Board.Recent[:len(st.Board.Recent)-2] // no freeze, no pause
	old, err := st.Encode()
	mustNoErr(t, err)
	st, err = DecodeState(cfg, old)
	mustNoErr(t, err)
	n := len(st.Board.Recent)
	if n < 2 || st.Board.Recent[n-1].Text != ActPause || st.Board.Seq != st.Board.Recent[n-1].Seq ||
		st.Board.Recent[n-1].Seq != st.Board.Recent[n-2].Seq+1 {
		t.Fatalf("an old snapshot's board: seq %d, ticker ends %+v", st.Board.Seq, st.Board.Recent[max(0, n-2):])
	}
}

// asJSON is v as clients read it (times compare by instant).
func asJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	mustNoErr(t, err)
	return string(b)
}
