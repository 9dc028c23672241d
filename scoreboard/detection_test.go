package scoreboard

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
)

// defenceConfig is three attack teams (with source networks) and one
// defence team, one service of weight 2 with two stores, L = 5 ticks of a
// minute.
func defenceConfig() *Config {
	cfg := testConfig(roles(RoleAttack, RoleAttack, RoleAttack, RoleDefence), 2, "inbox", "drafts")
	cfg.FlagLifetime, cfg.GetflagDepth = 5, 1
	for i := range 3 {
		cfg.Teams[i].Network = fmt.Sprintf("127.0.%d.0/24", 10+i)
	}
	return cfg
}

var t0 = time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)

// tickAt is when tick n begins in the hand-built logs: tick 1 at t0.
func tickAt(n int32) time.Time { return t0.Add(time.Duration(n-1) * time.Minute) }

// folder applies hand-built events with rising sequence numbers.
type folder struct {
	t   *testing.T
	st  *State
	seq uint64
}

func newFolder(t *testing.T, cfg *Config) *folder {
	f := &folder{t: t, st: NewState(cfg)}
	f.apply(Event{Time: t0, Kind: KindPhaseChanged, Code: uint8(PhaseRunning), Text: ActStart})
	return f
}

func (f *folder) apply(e Event) Applied {
	f.t.Helper()
	f.seq++
	e.Seq = f.seq
	a, err := f.st.Apply(&e)
	if err != nil {
		f.t.Fatal(err)
	}
	return a
}

func (f *folder) tick(n int32) {
	f.apply(Event{Time: tickAt(n), Kind: KindTickStarted, Tick: n, Value: int64(time.Minute)})
}

// touch records that team touched the defence's mail service in tick,
// from first to last seconds into the tick.
func (f *folder) touch(team int16, tick int32, first, last int) {
	b, _ := json.Marshal(summaryText{First: tickAt(tick).Add(time.Duration(first) * time.Second).UnixNano(),
		Last: tickAt(tick).Add(time.Duration(last) * time.Second).UnixNano(), Up: 100, Down: 1000})
	f.apply(Event{Time: tickAt(tick + 1), Kind: KindTelemetrySummary, Tick: tick, Team: team, Owner: 3, Store: -1,
		Value: 4, Text: string(b)})
}

// report files a report of the defence at sec seconds into tick.
func (f *folder) report(attacker int16, tick int32, sec int, store int16) *DetectionReport {
	at := tickAt(tick).Add(time.Duration(sec) * time.Second)
	b, _ := json.Marshal(reportText{Attacker: "x", AttackerTeam: int(attacker), SeenAt: at})
	f.apply(Event{Time: at, Kind: KindDetectionReported, Tick: tick, Team: 3, Owner: 3, Store: store,
		Value: int64(len(f.st.Reports)) + 1, Text: string(b)})
	return &f.st.Reports[len(f.st.Reports)-1]
}

func (f *folder) capture(team int16, tick int32, store int16) {
	f.apply(Event{Time: tickAt(tick).Add(time.Second), Kind: KindFlagCaptured, Tick: tick, FlagTick: tick,
		Team: team, Owner: 3, Store: store})
}

// judgeAndRecord judges r for good and folds the verdict, as the game
// does at a tick's end.
func (f *folder) judgeAndRecord(r *DetectionReport) verdict {
	f.t.Helper()
	v, ok := f.st.judge(r, true, nil)
	if !ok {
		f.t.Fatal("a final judgement decided nothing")
	}
	e := f.st.judgedEvent(r, v, r.ReportedAt)
	f.apply(e)
	return v
}

// TestJudgingRules walks SCORING.md's detection rules with hand-built
// telemetry and reports (w = 2, L = 5 ticks of 60 s, so L×tick = 300 s).
func TestJudgingRules(t *testing.T) {
	const w = 2.0
	tp := func(ttd float64) float64 { return 5*w + 5*w*math.Max(0, 1-ttd/300) }
	cases := []struct {
		desc  string
		setup func(f *folder) *DetectionReport
		final bool
		// want: decided, verdict, points, incident credited
		decided  bool
		verdict  uint8
		points   float64
		incident int
	}{
		{desc: "true positive inside the window, 70 s after the first connection",
			setup: func(f *folder) *DetectionReport {
				f.tick(3)
				f.touch(0, 3, 10, 50)
				f.tick(4)
				return f.report(0, 4, 20, -1)
			}, decided: true, verdict: VerdictTrue, points: tp(70), incident: 0},
		{desc: "timeliness: reported the second the attack began",
			setup: func(f *folder) *DetectionReport {
				f.tick(1)
				f.touch(1, 1, 0, 30)
				f.tick(2)
				f.st.Incidents[0].First = tickAt(2) // so that t = 0 exactly
				return f.report(1, 2, 0, -1)
			}, decided: true, verdict: VerdictTrue, points: tp(0), incident: 0},
		{desc: "timeliness: half of L×tick late",
			setup: func(f *folder) *DetectionReport {
				f.tick(1)
				f.touch(1, 1, 0, 59)
				f.tick(2)
				f.touch(1, 2, 0, 59)
				f.tick(3)
				return f.report(1, 3, 30, -1) // 150 s after tickAt(1)
			}, decided: true, verdict: VerdictTrue, points: tp(150), incident: 0},
		{desc: "timeliness: exactly L×tick late earns the base only",
			setup: func(f *folder) *DetectionReport {
				for n := int32(1); n <= 5; n++ {
					f.tick(n)
					f.touch(2, n, 0, 59)
				}
				f.tick(6)
				return f.report(2, 6, 0, -1) // 300 s after tickAt(1)
			}, decided: true, verdict: VerdictTrue, points: 5 * w, incident: 0},
		{desc: "timeliness: later than L×tick, no negative bonus",
			setup: func(f *folder) *DetectionReport {
				for n := int32(1); n <= 6; n++ {
					f.tick(n)
					f.touch(2, n, 0, 59)
				}
				f.tick(7)
				return f.report(2, 7, 40, -1) // 400 s
			}, decided: true, verdict: VerdictTrue, points: 5 * w, incident: 0},
		{desc: "duplicate: the incident is already credited",
			setup: func(f *folder) *DetectionReport {
				f.tick(1)
				f.touch(0, 1, 5, 10)
				f.tick(2)
				f.judgeAndRecord(f.report(0, 2, 1, -1))
				return f.report(0, 2, 30, -1)
			}, final: true, decided: true, verdict: VerdictDuplicate, points: 0, incident: 0},
		{desc: "duplicate waits: the tick's telemetry may bring a new incident",
			setup: func(f *folder) *DetectionReport {
				f.tick(1)
				f.touch(0, 1, 5, 10)
				f.tick(2)
				f.judgeAndRecord(f.report(0, 2, 1, -1))
				return f.report(0, 2, 30, -1)
			}, final: false, decided: false},
		{desc: "false positive: the team never connected",
			setup: func(f *folder) *DetectionReport {
				f.tick(1)
				f.touch(0, 1, 5, 10)
				f.tick(2)
				return f.report(1, 2, 1, -1)
			}, final: true, decided: true, verdict: VerdictFalse, points: -2.5 * w, incident: -1},
		{desc: "false positive waits for the tick's telemetry",
			setup: func(f *folder) *DetectionReport {
				f.tick(1)
				return f.report(1, 1, 1, -1)
			}, final: false, decided: false},
		{desc: "an address of no team is false at once",
			setup: func(f *folder) *DetectionReport {
				f.tick(1)
				f.touch(0, 1, 5, 10)
				f.tick(2)
				return f.report(-1, 2, 1, -1)
			}, final: false, decided: true, verdict: VerdictFalse, points: -2.5 * w, incident: -1},
		{desc: "false positive: the incident ended more than L ticks ago",
			setup: func(f *folder) *DetectionReport {
				f.tick(1)
				f.touch(0, 1, 5, 10)
				for n := int32(2); n <= 7; n++ {
					f.tick(n)
				}
				return f.report(0, 7, 1, -1)
			}, final: true, decided: true, verdict: VerdictFalse, points: -2.5 * w, incident: -1},
		{desc: "active within the last L ticks: ended 5 ticks before",
			setup: func(f *folder) *DetectionReport {
				f.tick(1)
				f.touch(0, 1, 0, 10)
				for n := int32(2); n <= 6; n++ {
					f.tick(n)
				}
				return f.report(0, 6, 0, -1) // 300 s after the first connection
			}, decided: true, verdict: VerdictTrue, points: 5 * w, incident: 0},
		{desc: "flag store named and captured during the incident",
			setup: func(f *folder) *DetectionReport {
				f.tick(1)
				f.touch(0, 1, 0, 20)
				f.capture(0, 1, 1)
				f.tick(2)
				return f.report(0, 2, 0, 1)
			}, decided: true, verdict: VerdictTrue, points: tp(60) + 2*w, incident: 0},
		{desc: "flag store named but not the one captured",
			setup: func(f *folder) *DetectionReport {
				f.tick(1)
				f.touch(0, 1, 0, 20)
				f.capture(0, 1, 1)
				f.tick(2)
				return f.report(0, 2, 0, 0)
			}, decided: true, verdict: VerdictTrue, points: tp(60), incident: 0},
		{desc: "flag store captured by another team",
			setup: func(f *folder) *DetectionReport {
				f.tick(1)
				f.touch(0, 1, 0, 20)
				f.capture(1, 1, 1)
				f.tick(2)
				return f.report(0, 2, 0, 1)
			}, decided: true, verdict: VerdictTrue, points: tp(60), incident: 0},
		{desc: "a report before the incident began matches nothing",
			setup: func(f *folder) *DetectionReport {
				f.tick(1)
				r := f.report(0, 1, 5, -1)
				f.touch(0, 1, 30, 40)
				return r
			}, final: true, decided: true, verdict: VerdictFalse, points: -2.5 * w, incident: -1},
		{desc: "a connection made before the report, recorded only in the next tick",
			setup: func(f *folder) *DetectionReport {
				f.tick(1)
				r := f.report(0, 1, 59, -1)
				f.tick(2)
				f.touch(0, 2, -2, 10) // begun 58 s into tick 1
				return r
			}, final: true, decided: true, verdict: VerdictTrue, points: tp(1), incident: 0},
		{desc: "seenAt picks the incident the defence saw",
			setup: func(f *folder) *DetectionReport {
				f.tick(1)
				f.touch(0, 1, 10, 20)
				f.tick(2)
				f.tick(3)
				f.touch(0, 3, 10, 20)
				f.tick(4)
				r := f.report(0, 4, 0, -1)
				r.SeenAt = tickAt(1).Add(15 * time.Second)
				return r
			}, decided: true, verdict: VerdictTrue, points: tp(170), incident: 0},
		{desc: "an uncredited incident wins over a credited one",
			setup: func(f *folder) *DetectionReport {
				f.tick(1)
				f.touch(0, 1, 10, 20)
				f.tick(2)
				f.judgeAndRecord(f.report(0, 2, 0, -1))
				f.tick(3)
				f.touch(0, 3, 10, 20)
				f.tick(4)
				r := f.report(0, 4, 0, -1)
				r.SeenAt = tickAt(1).Add(15 * time.Second)
				return r
			}, decided: true, verdict: VerdictTrue, points: tp(50), incident: 1},
	}
	for _, c := range cases {
		t.Run(c.desc, func(t *testing.T) {
			f := newFolder(t, defenceConfig())
			r := c.setup(f)
			v, ok := f.st.judge(r, c.final, nil)
			if ok != c.decided {
				t.Fatalf("decided %v, want %v (%+v)", ok, c.decided, v)
			}
			if !ok {
				return
			}
			if v.code != c.verdict || !approx(v.points, c.points) || v.incident != c.incident {
				t.Fatalf("got %s %v (incident %d), want %s %v (incident %d)", VerdictName(v.code), v.points, v.incident,
					VerdictName(c.verdict), c.points, c.incident)
			}
			if !approx(v.base+v.timeliness+v.store, v.points) {
				t.Fatalf("breakdown %+v does not add up", v)
			}
			// Folding the verdict updates the scorecard.
			f.apply(f.st.judgedEvent(r, v, r.ReportedAt))
			sc := f.st.Teams[3]
			if !approx(sc.Detection-prevDetection(f.st, r.ID), v.points) {
				t.Fatalf("detection points %v after a verdict of %v", sc.Detection, v.points)
			}
			if v.code == VerdictTrue && !f.st.Incidents[v.incident].Credited {
				t.Fatal("a true positive did not credit its incident")
			}
		})
	}
}

// prevDetection sums the points of the reports before id.
func prevDetection(st *State, id int64) float64 {
	sum := 0.0
	for _, r := range st.Reports[:id-1] {
		sum += r.Points
	}
	return sum
}

func TestIncidentsAndMissed(t *testing.T) {
	f := newFolder(t, defenceConfig())
	f.tick(1)
	f.touch(0, 1, 0, 10)
	f.tick(2)
	f.touch(0, 2, 0, 10) // same incident
	f.touch(1, 2, 0, 10)
	f.tick(3)
	f.tick(4)
	f.touch(0, 4, 0, 10) // a gap: a new incident
	f.tick(5)
	if n := len(f.st.Incidents); n != 3 {
		t.Fatalf("%d incidents, want 3: %+v", n, f.st.Incidents)
	}
	in := f.st.Incidents[0]
	if in.FirstTick != 1 || in.LastTick != 2 || in.Conns != 8 || in.BytesUp != 200 || !in.First.Equal(tickAt(1)) {
		t.Fatalf("merged incident %+v", in)
	}
	// L = 5: incident 0 (last tick 2) may be credited up to tick 7.
	for n := int32(6); n <= 7; n++ {
		f.tick(n)
	}
	if f.st.Teams[3].DetectionsMissed != 0 {
		t.Fatal("missed too early")
	}
	f.tick(8)
	if got := f.st.Teams[3].DetectionsMissed; got != 2 {
		t.Fatalf("missed %d after tick 8, want 2 (incidents 0 and 1)", got)
	}
	f.apply(Event{Time: tickAt(9), Kind: KindPhaseChanged, Code: uint8(PhaseEnded), Text: ActEnd})
	s := f.st.Standings()
	def := s[len(s)-1]
	if def.Incidents != 3 || def.DetectionsMissed != 3 {
		t.Fatalf("at the end: %+v", def)
	}
}

// newDefenceGame is a running game on defenceConfig at tick 1.
func newDefenceGame(t *testing.T, clk *fakeClock) (*Game, *memLog) {
	t.Helper()
	g, log := newTestGame(t, defenceConfig(), clk, nil)
	ctx := context.Background()
	mustNoErr(t, g.Act(ctx, ActStart))
	mustNoErr(t, g.StartTick(ctx))
	return g, log
}

func conn(team int, start time.Time, d time.Duration) Conn {
	return Conn{Team: team, Owner: 3, Service: 0, Start: start, End: start.Add(d), BytesUp: 10, BytesDown: 20}
}

func input(attacker string, seen time.Time) DetectionInput {
	return DetectionInput{Attacker: attacker, Service: "mail", SeenAt: seen}
}

// TestDetectionsEndToEnd drives the game's own API: telemetry in, reports
// in, verdicts at once or at the tick's end, the scorecard, and a replay
// and a restart that agree.
func TestDetectionsEndToEnd(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	g, log := newDefenceGame(t, clk)
	start := clk.Now()

	// Tick 1: team 0 attacks 10 s in; the defence reports 20 s later, by
	// the source address the target logged.
	g.ObserveConns([]Conn{conn(0, start.Add(10*time.Second), 5*time.Second), conn(0, start.Add(12*time.Second), time.Second)})
	clk.Add(30 * time.Second)
	ack, err := g.ReportDetection(ctx, 3, input("127.0.10.2:51234", start.Add(11*time.Second)))
	mustNoErr(t, err)
	if ack.ID != 1 || ack.Verdict != "pending" {
		t.Fatalf("ack %+v", ack)
	}
	// By name, a team that never connected; and an address of no team.
	_, err = g.ReportDetection(ctx, 3, input("đội tấn công 02", start))
	mustNoErr(t, err)
	_, err = g.ReportDetection(ctx, 3, input("10.9.9.9", start))
	mustNoErr(t, err)
	views := g.DetectionReports(3)
	if len(views) != 3 || views[0].Verdict != "pending" || views[1].Verdict != "pending" || views[2].Verdict != "false_positive" {
		t.Fatalf("before the tick's end: %+v", views)
	}
	if views[0].AttackerTeam != "Đội tấn công 01" || views[1].AttackerTeam != "Đội tấn công 02" || views[2].AttackerTeam != "" {
		t.Fatalf("attribution: %+v", views)
	}

	clk.Add(30 * time.Second)
	mustNoErr(t, g.StartTick(ctx)) // tick 1's telemetry arrives: the verdicts follow
	views = g.DetectionReports(3)
	// t = 20 s: 5w + 5w(1 − 20/300) with w = 2.
	wantTP := 10 + 10*(1-20.0/300)
	if views[0].Verdict != "true_positive" || !approx(views[0].Points, wantTP) || views[0].TimeToDetect == nil ||
		*views[0].TimeToDetect != 20 {
		t.Fatalf("true positive: %+v", views[0])
	}
	if views[1].Verdict != "false_positive" || views[1].Points != -5 || views[1].Breakdown.Base != -5 {
		t.Fatalf("false positive: %+v", views[1])
	}

	// Tick 2: the attack goes on; a second report is a duplicate, and
	// one naming the store team 0 captured earns its bonus on... nothing:
	// the incident is already credited.
	g.ObserveConns([]Conn{conn(0, clk.Now().Add(time.Second), time.Second)})
	v, err := g.Submit(ctx, 0, flagBytes(g.Flags().Issue(FlagID{Tick: 2, Owner: 3, Store: 1})))
	mustNoErr(t, err)
	wantCodes(t, v, CodeOK)
	clk.Add(10 * time.Second)
	in := input("Đội tấn công 01", clk.Now())
	in.Store = "drafts"
	_, err = g.ReportDetection(ctx, 3, in)
	mustNoErr(t, err)
	mustNoErr(t, g.StartTick(ctx))
	views = g.DetectionReports(3)
	if views[3].Verdict != "duplicate" || views[3].Points != 0 || views[3].Store != "drafts" {
		t.Fatalf("duplicate: %+v", views[3])
	}

	s, err := g.Standing(3)
	mustNoErr(t, err)
	if s.DetectionsTrue != 1 || s.DetectionsFalse != 2 || s.DetectionsDuplicate != 1 || s.Incidents != 1 ||
		s.MeanTimeToDetect != 20 || !approx(s.Detection, wantTP-10) {
		t.Fatalf("scorecard %+v", s)
	}

	// The verdicts are a function of the log; replay and restart agree.
	n, err := VerifyJudgements(ctx, g.cfg, log)
	mustNoErr(t, err)
	if n != 4 {
		t.Fatalf("%d verdicts verified, want 4", n)
	}
	rep, err := Replay(ctx, g.cfg, log, 0)
	mustNoErr(t, err)
	if !equalStandings(rep.Standings(), g.FullView().Standings) {
		t.Fatal("replay differs")
	}
	mustNoErr(t, g.Snapshot(ctx))
	g2, err := NewGame(ctx, Options{Config: g.cfg, Log: log, Key: testKey, Now: clk.Now})
	mustNoErr(t, err)
	if !equalStandings(g2.FullView().Standings, g.FullView().Standings) || len(g2.DetectionReports(3)) != 4 {
		t.Fatal("restart differs")
	}
	if g2.TelemetryUpTo().IsZero() {
		t.Fatal("the telemetry watermark did not survive the snapshot")
	}
}

func TestReportValidation(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	g, _ := newTestGame(t, defenceConfig(), clk, nil)
	now := clk.Now()
	if _, err := g.ReportDetection(ctx, 3, input("Đội tấn công 01", now)); !errors.Is(err, ErrConflict) {
		t.Fatalf("before the start: %v", err)
	}
	mustNoErr(t, g.Act(ctx, ActStart))
	mustNoErr(t, g.StartTick(ctx))
	cases := []struct {
		desc  string
		team  int
		in    DetectionInput
		err   error
		field string
	}{
		{"attack team", 0, input("Đội tấn công 02", now), ErrForbidden, ""},
		{"unknown team", 9, input("Đội tấn công 02", now), ErrNotFound, ""},
		{"unknown service", 3, DetectionInput{Attacker: "Đội tấn công 01", Service: "web", SeenAt: now}, ErrInvalid, `"service"`},
		{"unknown store", 3, DetectionInput{Attacker: "Đội tấn công 01", Service: "mail", Store: "outbox", SeenAt: now}, ErrInvalid, `"store"`},
		{"unknown attacker", 3, input("Đội không tên", now), ErrInvalid, `"attacker"`},
		{"own team", 3, input("Đội phòng thủ", now), ErrInvalid, `"attacker"`},
		{"future", 3, input("Đội tấn công 01", now.Add(time.Hour)), ErrInvalid, `"seenAt"`},
	}
	for _, c := range cases {
		t.Run(c.desc, func(t *testing.T) {
			_, err := g.ReportDetection(ctx, c.team, c.in)
			if !errors.Is(err, c.err) || !strings.Contains(fmt.Sprint(err), c.field) {
				t.Fatalf("err %v, want %v naming %s", err, c.err, c.field)
			}
		})
	}
	for i := range maxReportsPerTick {
		if _, err := g.ReportDetection(ctx, 3, input("Đội tấn công 01", now)); err != nil {
			t.Fatalf("report %d: %v", i, err)
		}
	}
	if _, err := g.ReportDetection(ctx, 3, input("Đội tấn công 01", now)); !errors.Is(err, ErrRateLimited) {
		t.Fatalf("past the limit: %v", err)
	}
	mustNoErr(t, g.Act(ctx, ActEnd))
	if _, err := g.ReportDetection(ctx, 3, input("Đội tấn công 01", now)); !errors.Is(err, ErrConflict) {
		t.Fatalf("after the end: %v", err)
	}
	// The end judged the pending reports for good.
	for _, v := range g.DetectionReports(3) {
		if v.Verdict != "false_positive" {
			t.Fatalf("left pending at the end: %+v", v)
		}
	}
}

func TestParseDetection(t *testing.T) {
	cases := []struct {
		body string
		want string // "" for success
	}{
		{`{"attacker":"Đội 1","service":"mail","seenAt":"2026-03-02T08:00:30+07:00"}`, ""},
		{`{"attacker":"127.0.10.5","service":"mail","seenAt":"2026-03-02T08:00:30Z","technique":"t1110.001","store":"inbox","notes":"brute force"}`, ""},
		{`{"attacker":"a","service":"mail","seenAt":"2026-03-02T08:00:30Z","technique":null}`, ""},
		{`{"service":"mail","seenAt":"2026-03-02T08:00:30Z"}`, `field "attacker": required`},
		{`{"attacker":"a","seenAt":"2026-03-02T08:00:30Z"}`, `field "service": required`},
		{`{"attacker":"a","service":"mail"}`, `field "seenAt": required`},
		{`{"attacker":"a","service":"mail","seenAt":"yesterday"}`, `field "seenAt": want an RFC 3339 time`},
		{`{"attacker":"a","service":"mail","seenAt":"2026-03-02T08:00:30Z","technique":"T11"}`, `field "technique"`},
		{`{"attacker":"a","service":"mail","seenAt":"2026-03-02T08:00:30Z","technique":"T1110.1"}`, `field "technique"`},
		{`{"attacker":5,"service":"mail","seenAt":"2026-03-02T08:00:30Z"}`, `field "attacker": want a string`},
		{`{"attacker":"a","service":"mail","seenAt":"2026-03-02T08:00:30Z","seen_at":"x"}`, `unknown field "seen_at"`},
		{`{"attacker":"a","service":"mail","seenAt":"2026-03-02T08:00:30Z","notes":"` + strings.Repeat("ý", MaxReportNotes+1) + `"}`, `field "notes"`},
		{`{"attacker":"` + strings.Repeat("a", 129) + `","service":"mail","seenAt":"2026-03-02T08:00:30Z"}`, `field "attacker": longer`},
		{`{"attacker":"a\u0000b","service":"mail","seenAt":"2026-03-02T08:00:30Z"}`, `control characters`},
		{`{"attacker":"a","service":"mail","seenAt":"2026-03-02T08:00:30Z"} {}`, `data after`},
		{`[1]`, `want a JSON object`},
		{``, `empty body`},
		{`{"attacker":`, `invalid JSON`},
	}
	for _, c := range cases {
		in, err := ParseDetection([]byte(c.body))
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%.60s: %v", c.body, err)
		case c.want != "" && (err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%.60s: err %v, want one with %q", c.body, err, c.want)
		case c.want == "" && (in.Attacker == "" || in.SeenAt.IsZero()):
			t.Errorf("%.60s: parsed %+v", c.body, in)
		}
	}
	in, _ := ParseDetection([]byte(`{"attacker":" a ","service":"mail","seenAt":"2026-03-02T08:00:30Z","technique":"t1110"}`))
	if in.Attacker != "a" || in.Technique != "T1110" {
		t.Fatalf("normalised %+v", in)
	}
}

// FuzzParseDetection holds the parser to its promises on any input: an
// error is ErrInvalid, and what it accepts has every field within bounds.
func FuzzParseDetection(f *testing.F) {
	f.Add([]byte(`{"attacker":"127.0.10.5:4411","service":"mail","seenAt":"2026-03-02T08:00:30+07:00","technique":"T1110.001","store":"inbox","notes":"x"}`))
	f.Add([]byte(`{"attacker":"Đội tấn công 01","service":"mail","seenAt":"2026-03-02T08:00:30Z"}`))
	f.Add([]byte(`{"attacker":null}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		in, err := ParseDetection(b)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v is not ErrInvalid", err)
			}
			return
		}
		if in.Attacker == "" || in.Service == "" || in.SeenAt.IsZero() || len(in.Attacker) > maxReportName ||
			len(in.Store) > maxReportName || (in.Technique != "" && !techniqueRE.MatchString(in.Technique)) ||
			len([]rune(in.Notes)) > MaxReportNotes {
			t.Fatalf("accepted %+v", in)
		}
		// What is accepted fits in an event.
		b2, _ := json.Marshal(reportText{Attacker: in.Attacker, SeenAt: in.SeenAt, Technique: in.Technique, Notes: in.Notes})
		if len(b2) > maxText {
			t.Fatalf("a report of %d bytes", len(b2))
		}
	})
}
