package scoreboard

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestRequireTelemetry: with require_telemetry, a capture scores only when
// the gateway saw its team connect to the service during the flag's life;
// one without scores 0 and is listed for the organizer with the evidence,
// and flags submitted by several teams within seconds without telemetry
// make a cluster.
func TestRequireTelemetry(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	cfg := defenceConfig()
	cfg.RequireTelemetry = true
	g, log := newTestGame(t, cfg, clk, nil)
	mustNoErr(t, g.Act(ctx, ActStart))
	mustNoErr(t, g.StartTick(ctx))
	fl := func(tick int32, store int16) [][]byte {
		return flagBytes(g.Flags().Issue(FlagID{Tick: tick, Owner: 3, Store: store}))
	}
	submit := func(team int, flags [][]byte) Verdict {
		t.Helper()
		v, err := g.Submit(ctx, team, flags)
		mustNoErr(t, err)
		wantCodes(t, v, CodeOK)
		return v[0]
	}

	// Tick 1: team 0 connects and captures flag A; teams 1 and 2 submit
	// the same flag seconds later without ever connecting.
	g.ObserveConns([]Conn{conn(0, clk.Now().Add(time.Second), time.Second)})
	clk.Add(5 * time.Second)
	if v := submit(0, fl(1, 0)); v.Points != 0 || !strings.HasPrefix(v.Msg, "Accepted") || v.Msg != MsgAwaitTelemetry {
		t.Fatalf("a capture awaiting telemetry: %+v", v)
	}
	clk.Add(2 * time.Second)
	submit(1, fl(1, 0))
	clk.Add(time.Second)
	submit(2, fl(1, 0))
	if s, _ := g.Standing(0); s.Attack != 0 {
		t.Fatalf("scored before the telemetry came: %+v", s)
	}

	// Tick 2: team 0's capture is confirmed; the others wait one more
	// tick (a connection may be counted a tick late). A capture of a flag
	// whose earlier tick already has telemetry scores at once.
	clk.Add(time.Minute)
	mustNoErr(t, g.StartTick(ctx))
	if s, _ := g.Standing(0); !approx(s.Attack, 24) {
		t.Fatalf("team 0 after tick 1's telemetry: %+v", s)
	}
	if su := g.Suspects(); su.Pending != 2 || len(su.Unverified) != 0 {
		t.Fatalf("after tick 1: %+v", su)
	}
	if v := submit(0, fl(1, 1)); !approx(v.Points, 24) {
		t.Fatalf("capture with telemetry already in the log: %+v", v)
	}
	submit(0, fl(2, 0)) // no connection this tick: it waits

	// Tick 3: still nothing from teams 1 and 2: unverified. Team 0
	// connects late (tick 3), within the grace of its tick-2 capture.
	clk.Add(time.Minute)
	mustNoErr(t, g.StartTick(ctx))
	g.ObserveConns([]Conn{conn(0, clk.Now().Add(time.Second), time.Second)})
	clk.Add(time.Minute)
	mustNoErr(t, g.StartTick(ctx))

	for team, want := range []float64{24 + 24 + 4, 0, 0} {
		if s, _ := g.Standing(team); !approx(s.Attack, want) {
			t.Fatalf("team %d attack %v, want %v", team, s.Attack, want)
		}
	}
	if s, _ := g.Standing(3); s.FlagsLost != 3 || !approx(s.Lost, 6) {
		t.Fatalf("the owner lost %d flags (%v), want 3 (6): unverified captures are no loss", s.FlagsLost, s.Lost)
	}
	su := g.Suspects()
	if !su.RequireTelemetry || su.Pending != 0 || len(su.Unverified) != 2 {
		t.Fatalf("suspects %+v", su)
	}
	u := su.Unverified[0]
	if u.Team != cfg.Teams[1].Name || u.Store != "inbox" || u.FlagTick != 1 || u.Evidence.FromTick != 1 ||
		u.Evidence.ToTick != 2 || u.Evidence.Connections != 0 || u.Evidence.LastContact != nil ||
		len(u.Evidence.CapturedBy) != 1 || u.Evidence.CapturedBy[0] != cfg.Teams[0].Name {
		t.Fatalf("evidence %+v", u)
	}
	if len(su.Clusters) != 1 {
		t.Fatalf("clusters %+v", su.Clusters)
	}
	c := su.Clusters[0]
	if strings.Join(c.Teams, ",") != cfg.Teams[1].Name+","+cfg.Teams[2].Name || c.Spread != 1 ||
		len(c.CapturedBy) != 1 || c.CapturedBy[0] != cfg.Teams[0].Name {
		t.Fatalf("cluster %+v", c)
	}
	// A late submission of the same unverified flag is still a duplicate.
	v, _ := g.Submit(ctx, 1, fl(1, 0))
	wantCodes(t, v, CodeDUP)

	rep, err := Replay(ctx, cfg, log, 0)
	mustNoErr(t, err)
	if !equalStandings(rep.Standings(), g.FullView().Standings) || len(rep.Unverified) != 2 {
		t.Fatal("replay differs")
	}
}

// TestPendingCaptureOutlivesItsFlag: a flag expires while its capture
// waits; it is kept until the capture is settled.
func TestPendingCaptureOutlivesItsFlag(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	cfg := defenceConfig()
	cfg.RequireTelemetry, cfg.FlagLifetime, cfg.GetflagDepth = true, 1, 0
	g, _ := newTestGame(t, cfg, clk, nil)
	mustNoErr(t, g.Act(ctx, ActStart))
	mustNoErr(t, g.StartTick(ctx))
	v, _ := g.Submit(ctx, 0, flagBytes(g.Flags().Issue(FlagID{Tick: 1, Owner: 3})))
	wantCodes(t, v, CodeOK)
	mustNoErr(t, g.StartTick(ctx)) // tick 1's flag expires, its capture waits
	g.ObserveConns([]Conn{conn(0, clk.Now(), time.Second)})
	if g.st.Flags[FlagID{Tick: 1, Owner: 3}] == nil {
		t.Fatal("the flag was forgotten while its capture waits")
	}
	mustNoErr(t, g.StartTick(ctx))
	if s, _ := g.Standing(0); !approx(s.Attack, 24) {
		t.Fatalf("the late-confirmed capture: %+v", s)
	}
	if len(g.st.Flags) != 0 || len(g.st.PendingCaptures) != 0 {
		t.Fatalf("left behind: %d flags, %d pending", len(g.st.Flags), len(g.st.PendingCaptures))
	}
}

// TestEndSettlesPendingCaptures: the end of the game judges the waiting
// captures on the telemetry there is.
func TestEndSettlesPendingCaptures(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	cfg := defenceConfig()
	cfg.RequireTelemetry = true
	g, _ := newTestGame(t, cfg, clk, nil)
	mustNoErr(t, g.Act(ctx, ActStart))
	mustNoErr(t, g.StartTick(ctx))
	g.ObserveConns([]Conn{conn(0, clk.Now(), time.Second)})
	for team := range 2 {
		v, _ := g.Submit(ctx, team, flagBytes(g.Flags().Issue(FlagID{Tick: 1, Owner: 3})))
		wantCodes(t, v, CodeOK)
	}
	mustNoErr(t, g.Act(ctx, ActEnd))
	if s, _ := g.Standing(0); !approx(s.Attack, 24) {
		t.Fatalf("team 0 at the end: %+v", s)
	}
	if su := g.Suspects(); su.Pending != 0 || len(su.Unverified) != 1 || su.Unverified[0].Team != cfg.Teams[1].Name {
		t.Fatalf("suspects at the end: %+v", su)
	}
}
