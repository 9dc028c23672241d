package scoreboard

import (
	"context"
	"strings"
	"testing"
)

// TestVerifySnapshot: a snapshot the game took matches the log; one that
// says something else is named, team and figures.
func TestVerifySnapshot(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig(roles(RoleAttack, RoleBoth), 1)
	g, log := newTestGame(t, cfg, newClock(), nil)
	if seq, mismatch, err := VerifySnapshot(ctx, cfg, log); seq != 0 || mismatch != "" || err != nil {
		t.Fatalf("without a snapshot: %d %q %v", seq, mismatch, err)
	}
	mustNoErr(t, g.Act(ctx, ActStart))
	mustNoErr(t, g.StartTick(ctx))
	v, err := g.Submit(ctx, 0, flagBytes(g.Flags().Issue(FlagID{Tick: 1, Owner: 1})))
	mustNoErr(t, err)
	wantCodes(t, v, CodeOK)
	mustNoErr(t, g.Snapshot(ctx))
	seq, mismatch, err := VerifySnapshot(ctx, cfg, log)
	if seq == 0 || mismatch != "" || err != nil {
		t.Fatalf("the game's snapshot: %d %q %v", seq, mismatch, err)
	}
	// A snapshot of the empty game, claimed for the same event.
	empty, err := NewState(cfg).Encode()
	mustNoErr(t, err)
	mustNoErr(t, log.PutSnapshot(ctx, seq, empty))
	got, mismatch, err := VerifySnapshot(ctx, cfg, log)
	if got != seq || err != nil || !strings.Contains(mismatch, "stored") || !strings.Contains(mismatch, "replayed") {
		t.Fatalf("a wrong snapshot: %d %q %v", got, mismatch, err)
	}
}

// TestAuditLog: the audit replays the log, agrees with the game's own
// snapshot and standings, and says so no more once the stored standings
// are wrong.
func TestAuditLog(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig(roles(RoleAttack, RoleBoth), 1)
	g, log := newTestGame(t, cfg, newClock(), nil)
	mustNoErr(t, g.Act(ctx, ActStart))
	mustNoErr(t, g.StartTick(ctx))
	_, err := g.Submit(ctx, 0, flagBytes(g.Flags().Issue(FlagID{Tick: 1, Owner: 1})))
	mustNoErr(t, err)
	mustNoErr(t, g.Snapshot(ctx))
	a, err := AuditLog(ctx, cfg, log)
	if err != nil || !a.OK() || a.VerifiedUpTo == 0 || a.Events < a.VerifiedUpTo || len(a.Standings) != 2 {
		t.Fatalf("audit of the game's log: %+v %v", a, err)
	}
	if a.Standings[0].Captures+a.Standings[1].Captures != 1 {
		t.Fatalf("standings %+v", a.Standings)
	}
	empty, err := NewState(cfg).Encode()
	mustNoErr(t, err)
	mustNoErr(t, log.PutSnapshot(ctx, a.VerifiedUpTo, empty))
	if a, err := AuditLog(ctx, cfg, log); err != nil || a.OK() || a.Mismatch == "" {
		t.Fatalf("audit with a wrong snapshot: %+v %v", a, err)
	}
}
