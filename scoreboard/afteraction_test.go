package scoreboard

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// playDefence plays a short game with every kind of thing the report
// shows: an incident detected, one missed, a false report, captures
// (confirmed, late and unverified), a remedy and check results. Its
// report, as JSON, is the input of the HTML page's golden test in
// scoreboard/report (testdata/afteraction.json there, which
// TestReportFixtures keeps).
func playDefence(t *testing.T) (*Game, *memLog) {
	t.Helper()
	ctx := context.Background()
	clk := newClock()
	cfg := defenceConfig()
	cfg.RequireTelemetry = true
	cfg.FlagLifetime = 2
	g, log := newTestGame(t, cfg, clk, &fakeChecker{status: map[int32]Status{3: StatusOffline}})
	mustNoErr(t, g.Act(ctx, ActStart))
	mustNoErr(t, g.StartTick(ctx))
	g.WaitChecks()
	g.ObserveConns([]Conn{conn(0, clk.Now().Add(2*time.Second), 3*time.Second)})
	clk.Add(10 * time.Second)
	v, _ := g.Submit(ctx, 0, flagBytes(g.Flags().Issue(FlagID{Tick: 1, Owner: 3})))
	wantCodes(t, v, CodeOK)
	v, _ = g.Submit(ctx, 1, flagBytes(g.Flags().Issue(FlagID{Tick: 1, Owner: 3})))
	wantCodes(t, v, CodeOK)
	in := input("Đội tấn công 01", clk.Now())
	in.Notes = `<script>alert("x")</script> seen in the IMAP log`
	in.Technique = "T1110"
	_, err := g.ReportDetection(ctx, 3, in)
	mustNoErr(t, err)
	mustNoErr(t, g.RecordRemedy(ctx, 3, 0, clk.Now().Add(-time.Second), "settings: lockout: false -> true"))
	for range 5 {
		clk.Add(time.Minute)
		if g.st.Tick == 2 {
			g.ObserveConns([]Conn{conn(2, clk.Now().Add(-30*time.Second), time.Second)}) // never reported: missed
		}
		mustNoErr(t, g.StartTick(ctx))
		g.WaitChecks()
	}
	_, err = g.ReportDetection(ctx, 3, input("Đội tấn công 02", clk.Now()))
	mustNoErr(t, err)
	mustNoErr(t, g.Act(ctx, ActEnd))
	return g, log
}

func TestAfterAction(t *testing.T) {
	ctx := context.Background()
	g, log := playDefence(t)
	aa, err := BuildAfterAction(ctx, g.cfg, log)
	mustNoErr(t, err)
	if aa.Verified != 2 || len(aa.Mismatches) != 0 {
		t.Fatalf("verified %d, mismatches %v", aa.Verified, aa.Mismatches)
	}
	if len(aa.Incidents) != 2 || aa.Incidents[0].Status != "detected" || aa.Incidents[0].TimeToDetect == nil ||
		*aa.Incidents[0].TimeToDetect != 8 || aa.Incidents[1].Status != "missed" || aa.Incidents[1].Attacker != "Đội tấn công 03" {
		t.Fatalf("incidents %+v", aa.Incidents)
	}
	if len(aa.Captures) != 2 || aa.Captures[0].Status != "scored" || aa.Captures[0].Points != 24 ||
		aa.Captures[1].Status != "unverified" || aa.Captures[1].Points != 0 {
		t.Fatalf("captures %+v", aa.Captures)
	}
	if len(aa.Reports) != 2 || aa.Reports[0].Verdict != "true_positive" || aa.Reports[1].Verdict != "false_positive" ||
		aa.Reports[0].Team != "Đội phòng thủ" || aa.Reports[0].Incident != 0 {
		t.Fatalf("reports %+v", aa.Reports)
	}
	if len(aa.Remedies) != 1 || aa.Remedies[0].Tick != 1 || !strings.Contains(aa.Remedies[0].Remedy, "lockout") {
		t.Fatalf("remedies %+v", aa.Remedies)
	}
	if len(aa.Replicas) != 1 || len(aa.Replicas[0].Statuses) != 6 || aa.Replicas[0].Statuses[2].Status != StatusOffline {
		t.Fatalf("availability %+v", aa.Replicas)
	}
	if len(aa.Suspects.Unverified) != 1 || aa.Phase != "ended" || aa.Start == nil || aa.End == nil {
		t.Fatalf("report %+v", aa)
	}
	if !equalStandings(aa.Standings, g.FullView().Standings) {
		t.Fatal("the report's standings are not the game's")
	}
	if _, err := json.Marshal(aa); err != nil {
		t.Fatal(err)
	}
}
