package scoreboard

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

var updateFixtures = flag.Bool("update", false, "rewrite the fixtures the renderers' tests read (report/testdata, navigator/testdata)")

// mailExposure is what a mail service of the tests plants: a weak
// password reaching the inbox, and a readable drafts folder.
var mailExposure = Exposure{"mail": {
	{Name: "weak_password", Techniques: []string{"T1110.001", "T1078"}, Stores: []string{"inbox"}},
	{Name: "open_drafts", Techniques: []string{"T1190"}, Stores: []string{"drafts"}},
}}

// playTechniques plays a game with an incident per way a technique is
// attributed: team 01 is reported naming T1110 (credited) and again
// naming T1078 (a duplicate), and captures an inbox flag; team 02
// captures a drafts flag unseen; team 03 connects, captures nothing and
// is never reported.
func playTechniques(t *testing.T) (*Game, *memLog) {
	t.Helper()
	ctx := context.Background()
	clk := newClock()
	g, log := newTestGame(t, defenceConfig(), clk, &fakeChecker{})
	mustNoErr(t, g.Act(ctx, ActStart))
	mustNoErr(t, g.StartTick(ctx))
	g.WaitChecks()
	g.ObserveConns([]Conn{conn(0, clk.Now().Add(2*time.Second), 3*time.Second),
		conn(1, clk.Now().Add(4*time.Second), time.Second)})
	clk.Add(10 * time.Second)
	v, _ := g.Submit(ctx, 0, flagBytes(g.Flags().Issue(FlagID{Tick: 1, Owner: 3})))
	wantCodes(t, v, CodeOK)
	v, _ = g.Submit(ctx, 1, flagBytes(g.Flags().Issue(FlagID{Tick: 1, Owner: 3, Store: 1})))
	wantCodes(t, v, CodeOK)
	in := input("Đội tấn công 01", clk.Now())
	in.Technique = "T1110"
	_, err := g.ReportDetection(ctx, 3, in)
	mustNoErr(t, err)
	clk.Add(20 * time.Second)
	in = input("Đội tấn công 01", clk.Now())
	in.Technique = "T1078"
	_, err = g.ReportDetection(ctx, 3, in)
	mustNoErr(t, err)
	for range 7 {
		clk.Add(time.Minute)
		if g.st.Tick == 2 {
			g.ObserveConns([]Conn{conn(2, clk.Now().Add(-30*time.Second), time.Second)})
		}
		mustNoErr(t, g.StartTick(ctx))
		g.WaitChecks()
	}
	mustNoErr(t, g.Act(ctx, ActEnd))
	return g, log
}

// TestTechniqueTable checks the table against the fold's own view: every
// incident against the team under at least one technique, each with the
// status the fold gave it, the credited report's time to detect the
// fold's, and the detected and missed counts the scorecard's.
func TestTechniqueTable(t *testing.T) {
	ctx := context.Background()
	g, log := playTechniques(t)
	aa, err := BuildAfterAction(ctx, g.cfg, log)
	mustNoErr(t, err)
	aa.AttributeTechniques(mailExposure)
	if len(aa.TechniqueTables) != 1 || aa.TechniqueTables[0].Team != "Đội phòng thủ" {
		t.Fatalf("tables %+v", aa.TechniqueTables)
	}
	rows := aa.TechniqueTables[0].Techniques
	type want struct {
		tech                   string
		used, detected, missed int
		attackers              []string
		from                   string
		ttd                    float64 // of the first incident, -1 for none
	}
	wants := []want{
		{"T1078", 1, 1, 0, []string{"Đội tấn công 01"}, "report", 28},
		{"T1110", 1, 1, 0, []string{"Đội tấn công 01"}, "report", 8},
		{"T1110.001", 1, 1, 0, []string{"Đội tấn công 01"}, "capture", 8},
		{"T1190", 1, 0, 1, []string{"Đội tấn công 02"}, "capture", -1},
		{"", 1, 0, 1, []string{"Đội tấn công 03"}, "", -1},
	}
	if len(rows) != len(wants) {
		t.Fatalf("%d rows, want %d: %+v", len(rows), len(wants), rows)
	}
	for i, w := range wants {
		r := rows[i]
		if r.Technique != w.tech || r.Used != w.used || r.Detected != w.detected || r.Missed != w.missed ||
			!slices.Equal(r.Attackers, w.attackers) || r.Incidents[0].From != w.from {
			t.Errorf("row %d: %+v, want %+v", i, r, w)
			continue
		}
		got := -1.0
		if r.Incidents[0].TimeToDetect != nil {
			got = *r.Incidents[0].TimeToDetect
		}
		if got != w.ttd || (w.ttd >= 0 && (r.MeanTimeToDetect == nil || *r.MeanTimeToDetect != w.ttd)) {
			t.Errorf("row %s: time to detect %v, want %v", w.tech, got, w.ttd)
		}
		if w.detected > 0 && r.Incidents[0].By != "Đội phòng thủ" {
			t.Errorf("row %s: detected by %q", w.tech, r.Incidents[0].By)
		}
	}

	// The fold's own view, straight from the game's state.
	st := g.st
	seen := map[int]string{}
	for _, r := range rows {
		for _, ti := range r.Incidents {
			seen[ti.Incident] = ti.Status
		}
	}
	var detected, missed int
	for _, in := range st.Incidents {
		if in.Owner != 3 {
			continue
		}
		status := "open"
		switch {
		case in.Credited:
			status = "detected"
			detected++
		case in.Missed:
			status = "missed"
			missed++
		}
		if seen[in.ID] != status {
			t.Errorf("incident %d: %q in the table, %q in the fold", in.ID, seen[in.ID], status)
		}
		delete(seen, in.ID)
		if !in.Credited {
			continue
		}
		ttd := st.Reports[in.Report-1].TTD.Seconds()
		for _, r := range rows {
			for _, ti := range r.Incidents {
				if ti.Incident == in.ID && ti.Report == in.Report && (ti.TimeToDetect == nil || *ti.TimeToDetect != ttd) {
					t.Errorf("incident %d under %s: crediting report's time to detect %v, the fold's %v", in.ID, r.Technique, ti.TimeToDetect, ttd)
				}
			}
		}
	}
	if len(seen) != 0 {
		t.Errorf("incidents in the table the fold does not have against the team: %v", seen)
	}
	for _, s := range g.FullView().Standings {
		if s.Team == "Đội phòng thủ" && (s.DetectionsTrue != detected || s.DetectionsMissed != missed || s.Incidents != detected+missed) {
			t.Errorf("scorecard %d true, %d missed of %d; the table %d detected, %d missed", s.DetectionsTrue, s.DetectionsMissed,
				s.Incidents, detected, missed)
		}
	}
	if detected != 1 || missed != 2 {
		t.Errorf("%d detected, %d missed, want 1 and 2", detected, missed)
	}

	// Without an exposure only the reports and the unattributable remain.
	aa.AttributeTechniques(nil)
	var techs []string
	for _, r := range aa.TechniqueTables[0].Techniques {
		techs = append(techs, r.Technique)
	}
	if !slices.Equal(techs, []string{"T1078", "T1110", ""}) {
		t.Errorf("without an exposure: %q", techs)
	}
}

// TestReportFixtures pins the reports, with their technique tables, of
// playDefence and playTechniques as `cyrange report --json` writes them
// (with the mail exposure): they are the inputs of the renderers' golden
// tests (scoreboard/report's page and scoreboard/navigator's layer), so
// what those render is what this fold gives.
func TestReportFixtures(t *testing.T) {
	for _, tc := range []struct {
		desc string
		play func(*testing.T) (*Game, *memLog)
		path string
	}{
		{"defence", playDefence, filepath.Join("report", "testdata", "afteraction.json")},
		{"techniques", playTechniques, filepath.Join("navigator", "testdata", "afteraction.json")},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			g, log := tc.play(t)
			aa, err := BuildAfterAction(context.Background(), g.cfg, log)
			mustNoErr(t, err)
			aa.AttributeTechniques(mailExposure)
			var b bytes.Buffer
			enc := json.NewEncoder(&b)
			enc.SetIndent("", "  ")
			mustNoErr(t, enc.Encode(aa))
			if *updateFixtures {
				mustNoErr(t, os.WriteFile(tc.path, b.Bytes(), 0o644))
				return
			}
			want, err := os.ReadFile(tc.path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(b.Bytes(), want) {
				t.Errorf("the report differs from %s (run with -update if intended)", tc.path)
			}
		})
	}
}
