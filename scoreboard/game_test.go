package scoreboard

import (
	"context"
	"errors"
	"math"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

// fakeClock is a settable clock.
type fakeClock struct{ t time.Time }

func (c *fakeClock) Now() time.Time      { return c.t }
func (c *fakeClock) Add(d time.Duration) { c.t = c.t.Add(d) }
func newClock() *fakeClock               { return &fakeClock{t: time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)} }
func approx(a, b float64) bool           { return math.Abs(a-b) < 1e-9 }
func roles(rs ...Role) []Role            { return rs }
func mustNoErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
func flagBytes(fs ...string) (out [][]byte) {
	for _, f := range fs {
		out = append(out, []byte(f))
	}
	return out
}

// testConfig builds a config with the given team roles, one service of
// weight w with the given stores, and a replica for every defending team.
func testConfig(rs []Role, w float64, stores ...string) *Config {
	cfg := &Config{Name: "test", Tick: time.Minute, FlagLifetime: 2, GetflagDepth: 1, Scoring: DefaultScoring()}
	names := []string{"Đội tấn công 01", "Đội tấn công 02", "Đội tấn công 03", "Đội phòng thủ", "Đội năm", "Đội sáu"}
	for i, r := range rs {
		cfg.Teams = append(cfg.Teams, Team{ID: i, Name: names[i], Role: r})
	}
	if len(stores) == 0 {
		stores = []string{"inbox"}
	}
	cfg.Services = []Service{{ID: 0, Name: "mail", Weight: w, Stores: stores}}
	for i, r := range rs {
		if r.Defends() {
			cfg.Replicas = append(cfg.Replicas, Replica{Owner: i, Service: 0, Address: "127.0.0.1"})
		}
	}
	return cfg
}

func newTestGame(t *testing.T, cfg *Config, clk *fakeClock, ch TickChecker) (*Game, *memLog) {
	t.Helper()
	log := &memLog{}
	g, err := NewGame(context.Background(), Options{Config: cfg, Log: log, Key: testKey, Now: clk.Now, Checker: ch})
	mustNoErr(t, err)
	return g, log
}

func TestFlagRoundTrip(t *testing.T) {
	for _, prefix := range []string{"", "CY", "ABCDEFGH"} {
		f, err := NewFlags(testKey, prefix)
		mustNoErr(t, err)
		re := regexp.MustCompile("^" + f.Regex() + "$")
		farm := regexp.MustCompile(`^[A-Z0-9]{31}=$`)
		for _, id := range []FlagID{{1, 0, 0, 0}, {16777215, 254, 63, 15}, {4242, 3, 1, 2}} {
			s := f.Issue(id)
			if !re.MatchString(s) || !farm.MatchString(s) || !strings.HasPrefix(s, prefix) {
				t.Fatalf("flag %q does not match the format (prefix %q)", s, prefix)
			}
			got, ok := f.Parse([]byte(s))
			if !ok || got != id {
				t.Fatalf("Parse(%q) = %v, %v; want %v", s, got, ok, id)
			}
			if f.Issue(id) != s {
				t.Fatal("flags are not deterministic per slot")
			}
		}
	}
}

func TestFlagRejectsForgeries(t *testing.T) {
	f, _ := NewFlags(testKey, "")
	other, _ := NewFlags([]byte("another key, another exercise!!!"), "")
	good := f.Issue(FlagID{Tick: 7, Owner: 3, Service: 0, Store: 1})
	cases := map[string]string{
		"empty":          "",
		"short":          good[:31],
		"long":           good + "A",
		"no equals":      good[:31] + "A",
		"lower case":     strings.ToLower(good),
		"other key":      other.Issue(FlagID{Tick: 7, Owner: 3, Service: 0, Store: 1}),
		"digit 0":        "0" + good[1:],
		"flipped mac":    good[:20] + flip(good[20]) + good[21:],
		"flipped data":   good[:3] + flip(good[3]) + good[4:],
		"last mac digit": good[:30] + flip(good[30]) + "=",
	}
	for name, s := range cases {
		if _, ok := f.Parse([]byte(s)); ok {
			t.Errorf("%s: %q accepted", name, s)
		}
	}
}

func flip(c byte) string {
	if c == 'A' {
		return "B"
	}
	return "A"
}

func FuzzParseFlag(f *testing.F) {
	fl, _ := NewFlags(testKey, "")
	f.Add(fl.Issue(FlagID{Tick: 1, Owner: 1}))
	f.Add("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		id, ok := fl.Parse([]byte(s))
		if ok && fl.Issue(id) != s {
			t.Fatalf("accepted %q that is not the flag of %v", s, id)
		}
	})
}

func TestEventRoundTrip(t *testing.T) {
	e := Event{Time: time.Unix(0, 1763884800123456789), Kind: KindFlagCaptured, Code: 3, Tick: 99, FlagTick: 97,
		Team: 16, Owner: 17, Service: 2, Store: 1, Value: -5, Text: "Đội phòng thủ"}
	b := e.AppendEncode(nil)
	got, err := Decode(42, b)
	mustNoErr(t, err)
	e.Seq = 42
	if !got.Time.Equal(e.Time) || got.Text != e.Text {
		t.Fatalf("got %+v want %+v", got, e)
	}
	got.Time = e.Time
	if got != e {
		t.Fatalf("got %+v want %+v", got, e)
	}
	for _, bad := range [][]byte{nil, b[:10], append([]byte{9}, b[1:]...), append(b[:len(b):len(b)], 'x')} {
		if _, err := Decode(1, bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("Decode(%x) error %v, want ErrInvalid", bad, err)
		}
	}
}

func FuzzDecodeEvent(f *testing.F) {
	e := Event{Kind: KindCheckResult, Text: "x"}
	f.Add(e.AppendEncode(nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		ev, err := Decode(1, b)
		if err != nil {
			return
		}
		again, err := Decode(1, ev.AppendEncode(nil))
		if err != nil || again.Text != ev.Text || again.Kind != ev.Kind {
			t.Fatalf("re-encoding changed the event: %+v vs %+v (%v)", ev, again, err)
		}
	})
}

// TestScoringHandComputed walks a small game and checks every figure
// against SCORING.md computed by hand.
func TestScoringHandComputed(t *testing.T) {
	cfg := testConfig(roles(RoleAttack, RoleAttack, RoleAttack, RoleDefence), 2, "inbox")
	st := NewState(cfg)
	at := time.Unix(1000, 0)
	seq := uint64(0)
	apply := func(e Event) Applied {
		seq++
		e.Seq, e.Time = seq, at
		a, err := st.Apply(&e)
		mustNoErr(t, err)
		return a
	}
	const d = 3 // the defence team
	sqrtA := math.Sqrt(3)
	apply(Event{Kind: KindPhaseChanged, Code: uint8(PhaseRunning), Text: "start"})
	apply(Event{Kind: KindTickStarted, Tick: 1, Value: int64(time.Minute)})
	apply(Event{Kind: KindFlagIssued, Tick: 1, Owner: d, Code: uint8(StatusOK), Text: "user: giamdoc"})
	apply(Event{Kind: KindCheckResult, Tick: 1, Owner: d, Code: uint8(StatusOK)})
	// First capture: w(1+1/1) = 4, plus first blood 10w = 20.
	a := apply(Event{Kind: KindFlagCaptured, Tick: 1, FlagTick: 1, Team: 0, Owner: d})
	if !approx(a.Points, 24) || len(a.Items) != 2 || a.Items[1].Kind != "first_blood" {
		t.Fatalf("first capture: %+v", a)
	}
	// Second capture of the same flag: both now hold w(1+1/2) = 3.
	a = apply(Event{Kind: KindFlagCaptured, Tick: 1, FlagTick: 1, Team: 1, Owner: d})
	if !approx(a.Points, 3) {
		t.Fatalf("second capture worth %v, want 3", a.Points)
	}
	want := func(team int, attack, sla, lost, prot float64) {
		t.Helper()
		sc := st.Teams[team]
		if !approx(sc.Attack, attack) || !approx(sc.SLA, sla) || !approx(sc.Lost, lost) || !approx(sc.Protected, prot) {
			t.Fatalf("team %d: attack %v sla %v lost %v protected %v; want %v %v %v %v",
				team, sc.Attack, sc.SLA, sc.Lost, sc.Protected, attack, sla, lost, prot)
		}
	}
	want(0, 23, 0, 0, 0)
	want(1, 3, 0, 0, 0)
	want(d, 0, 2*sqrtA, 2*math.Pow(2, 0.75), 0)

	apply(Event{Kind: KindTickStarted, Tick: 2, Value: int64(time.Minute)})
	apply(Event{Kind: KindFlagIssued, Tick: 2, Owner: d, Code: uint8(StatusOK)})
	apply(Event{Kind: KindCheckResult, Tick: 2, Owner: d, Code: uint8(StatusMumble)})
	a = apply(Event{Kind: KindCheckResult, Tick: 2, Owner: d, Code: uint8(StatusMumble)})
	if len(a.Items) != 0 {
		t.Fatalf("no change of status must not make news: %+v", a.Items)
	}
	apply(Event{Kind: KindTickStarted, Tick: 3, Value: int64(time.Minute)}) // tick 1 expires: captured, nothing protected
	a = apply(Event{Kind: KindCheckResult, Tick: 3, Owner: d, Code: uint8(StatusRecovering)})
	if len(a.Items) != 1 || a.Items[0].Kind != "service_up" {
		t.Fatalf("recovery news: %+v", a.Items)
	}
	want(d, 0, 2*sqrtA+sqrtA, 2*math.Pow(2, 0.75), 0)
	apply(Event{Kind: KindTickStarted, Tick: 4, Value: int64(time.Minute)}) // tick 2 expires uncaptured: +w
	want(d, 0, 3*sqrtA, 2*math.Pow(2, 0.75), 2)

	s := st.Standings()
	if s[0].Team != cfg.Teams[0].Name || s[0].Rank != 1 || s[1].Rank != 2 || s[2].Rank != 3 {
		t.Fatalf("attack ranking: %+v", s[:3])
	}
	if s[3].Role != RoleDefence || s[3].Rank != 1 || !approx(s[3].Total, 3*sqrtA+2-2*math.Pow(2, 0.75)) {
		t.Fatalf("defence line: %+v", s[3])
	}
	if !approx(s[3].Availability, 2.0/4.0) {
		t.Fatalf("availability %v, want 0.5", s[3].Availability)
	}
}

// TestChecksAfterTheEnd: a check of the tick in flight at the end shows
// the replica's state but changes no standing.
func TestChecksAfterTheEnd(t *testing.T) {
	cfg := testConfig(roles(RoleAttack, RoleDefence), 1, "inbox")
	st := NewState(cfg)
	seq := uint64(0)
	apply := func(e Event) Applied {
		seq++
		e.Seq, e.Time = seq, time.Unix(1000+int64(seq), 0)
		a, err := st.Apply(&e)
		mustNoErr(t, err)
		return a
	}
	const d = 1
	apply(Event{Kind: KindPhaseChanged, Code: uint8(PhaseRunning), Text: "start"})
	apply(Event{Kind: KindTickStarted, Tick: 1, Value: int64(time.Minute)})
	apply(Event{Kind: KindCheckResult, Tick: 1, Owner: d, Code: uint8(StatusOK)})
	before := st.Teams[d]
	standings := st.Standings()
	apply(Event{Kind: KindPhaseChanged, Code: uint8(PhaseEnded), Text: "end"})
	a := apply(Event{Kind: KindCheckResult, Tick: 1, Owner: d, Code: uint8(StatusOffline), Text: "connection refused"})
	after := st.Teams[d]
	if after.SLA != before.SLA || after.ChecksTotal != before.ChecksTotal || after.ChecksUp != before.ChecksUp || after.LastScoreSeq != before.LastScoreSeq {
		t.Errorf("a check after the end changed the defence: %+v, was %+v", after, before)
	}
	if got := st.Standings(); got[1].Availability != standings[1].Availability || got[1].Total != standings[1].Total {
		t.Errorf("standings moved after the end: %+v, was %+v", got[1], standings[1])
	}
	if len(a.Items) != 0 || a.Points != 0 {
		t.Errorf("a check after the end made news or points: %+v", a)
	}
	if r := st.Replicas[[2]int16{d, 0}]; r == nil || r.Status != StatusOffline || r.Message != "connection refused" {
		t.Errorf("the replica's state is not shown: %+v", r)
	}
}

func TestTiesGoToEarlierLastScore(t *testing.T) {
	cfg := testConfig(roles(RoleAttack, RoleAttack, RoleDefence), 1, "a", "b")
	st := NewState(cfg)
	seq := uint64(0)
	apply := func(e Event) {
		seq++
		e.Seq = seq
		_, err := st.Apply(&e)
		mustNoErr(t, err)
	}
	apply(Event{Kind: KindTickStarted, Tick: 1})
	// Team 1 scores first, team 0 second, each first blood on its own store:
	// equal points, team 1 ranks first.
	apply(Event{Kind: KindFlagCaptured, Tick: 1, FlagTick: 1, Team: 1, Owner: 2, Store: 0})
	apply(Event{Kind: KindFlagCaptured, Tick: 1, FlagTick: 1, Team: 0, Owner: 2, Store: 1})
	s := st.Standings()
	if s[0].TeamID != 1 || s[0].Total != s[1].Total {
		t.Fatalf("tie order: %+v", s[:2])
	}
}

func TestClassicAttackDefenceTotals(t *testing.T) {
	cfg := testConfig(roles(RoleBoth, RoleBoth), 1)
	st := NewState(cfg)
	for i, e := range []Event{
		{Kind: KindTickStarted, Tick: 1},
		{Kind: KindFlagIssued, Tick: 1, Owner: 1, Code: uint8(StatusOK)},
		{Kind: KindCheckResult, Tick: 1, Owner: 0, Code: uint8(StatusOK)},
		{Kind: KindFlagCaptured, Tick: 1, FlagTick: 1, Team: 0, Owner: 1},
	} {
		e.Seq = uint64(i + 1)
		_, err := st.Apply(&e)
		mustNoErr(t, err)
	}
	s := st.Standings()
	// Team 0: attack 2 + 10 first blood, SLA 1×√2. Team 1: lost 1.
	if s[0].TeamID != 0 || !approx(s[0].Total, 12+math.Sqrt2) || s[1].Rank != 2 || !approx(s[1].Total, -1) {
		t.Fatalf("classic totals: %+v", s)
	}
}

func TestPhaseTransitions(t *testing.T) {
	cases := []struct {
		desc   string
		from   Phase
		frozen bool
		action string
		want   Phase
		wantF  bool
		err    error
	}{
		{"start from setup", PhaseSetup, false, ActStart, PhaseRunning, false, nil},
		{"start twice", PhaseRunning, false, ActStart, 0, false, ErrConflict},
		{"pause running", PhaseRunning, false, ActPause, PhasePaused, false, nil},
		{"pause in setup", PhaseSetup, false, ActPause, 0, false, ErrConflict},
		{"resume paused", PhasePaused, true, ActResume, PhaseRunning, true, nil},
		{"resume running", PhaseRunning, false, ActResume, 0, false, ErrConflict},
		{"freeze running", PhaseRunning, false, ActFreeze, PhaseRunning, true, nil},
		{"freeze paused", PhasePaused, false, ActFreeze, PhasePaused, true, nil},
		{"freeze twice", PhaseRunning, true, ActFreeze, 0, false, ErrConflict},
		{"freeze in setup", PhaseSetup, false, ActFreeze, 0, false, ErrConflict},
		{"end running", PhaseRunning, true, ActEnd, PhaseEnded, true, nil},
		{"end paused", PhasePaused, false, ActEnd, PhaseEnded, false, nil},
		{"end in setup", PhaseSetup, false, ActEnd, 0, false, ErrConflict},
		{"nothing after end", PhaseEnded, false, ActResume, 0, false, ErrConflict},
		{"unknown", PhaseRunning, false, "restart", 0, false, ErrInvalid},
	}
	for _, c := range cases {
		t.Run(c.desc, func(t *testing.T) {
			p, f, err := transition(c.from, c.frozen, c.action)
			if c.err != nil {
				if !errors.Is(err, c.err) {
					t.Fatalf("err %v, want %v", err, c.err)
				}
				return
			}
			if err != nil || p != c.want || f != c.wantF {
				t.Fatalf("got %v %v %v, want %v %v", p, f, err, c.want, c.wantF)
			}
		})
	}
}

func TestSubmitVerdicts(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	cfg := testConfig(roles(RoleAttack, RoleAttack, RoleAttack, RoleBoth), 1)
	g, _ := newTestGame(t, cfg, clk, nil)
	f := g.Flags()
	own3 := f.Issue(FlagID{Tick: 1, Owner: 3})
	v, err := g.Submit(ctx, 0, flagBytes(own3))
	mustNoErr(t, err)
	if v[0].Code != CodeERR || !strings.Contains(v[0].Msg, "game not started") {
		t.Fatalf("before start: %+v", v)
	}
	mustNoErr(t, g.Act(ctx, ActStart))
	mustNoErr(t, g.StartTick(ctx))
	v, _ = g.Submit(ctx, 0, flagBytes(own3, own3, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "nonsense",
		f.Issue(FlagID{Tick: 2, Owner: 3})))
	wantCodes(t, v, CodeOK, CodeDUP, CodeINV, CodeINV, CodeINV)
	if !strings.HasPrefix(v[0].Msg, "Accepted: ") || !strings.HasSuffix(v[0].Msg, " flag points") || !approx(v[0].Points, 12) {
		t.Fatalf("OK message: %+v", v[0])
	}
	if !strings.Contains(v[1].Msg, "already submitted") || !strings.Contains(v[2].Msg, "invalid flag") {
		t.Fatalf("messages: %+v", v)
	}
	v, _ = g.Submit(ctx, 3, flagBytes(own3))
	wantCodes(t, v, CodeOWN)
	if !strings.Contains(v[0].Msg, "your own") {
		t.Fatal(v[0].Msg)
	}
	// Lifetime 2: the tick-1 flag is valid in ticks 1 and 2, too old in 3.
	mustNoErr(t, g.StartTick(ctx))
	v, _ = g.Submit(ctx, 1, flagBytes(own3))
	wantCodes(t, v, CodeOK)
	mustNoErr(t, g.StartTick(ctx))
	v, _ = g.Submit(ctx, 2, flagBytes(own3))
	wantCodes(t, v, CodeOLD)
	if !strings.Contains(v[0].Msg, "too old") {
		t.Fatal(v[0].Msg)
	}
	mustNoErr(t, g.Act(ctx, ActPause))
	v, _ = g.Submit(ctx, 2, flagBytes(f.Issue(FlagID{Tick: 3, Owner: 3})))
	wantCodes(t, v, CodeERR)
	if !strings.Contains(v[0].Msg, "try again later") {
		t.Fatal(v[0].Msg)
	}
	mustNoErr(t, g.Act(ctx, ActEnd))
	v, _ = g.Submit(ctx, 2, flagBytes(f.Issue(FlagID{Tick: 3, Owner: 3})))
	if v[0].Code != CodeERR || !strings.Contains(v[0].Msg, "game over") {
		t.Fatalf("after end: %+v", v)
	}
	if _, err := g.Submit(ctx, 9, nil); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown team: %v", err)
	}
	cfg2 := testConfig(roles(RoleAttack, RoleDefence), 1)
	g2, _ := newTestGame(t, cfg2, clk, nil)
	if _, err := g2.Submit(ctx, 1, nil); !errors.Is(err, ErrForbidden) {
		t.Fatalf("defence team submitting: %v", err)
	}
}

func wantCodes(t *testing.T, v []Verdict, codes ...Code) {
	t.Helper()
	if len(v) != len(codes) {
		t.Fatalf("%d verdicts, want %d", len(v), len(codes))
	}
	for i := range v {
		if v[i].Code != codes[i] {
			t.Fatalf("verdict %d: %v (%s), want %v", i, v[i].Code, v[i].Msg, codes[i])
		}
	}
}

func TestSubmitStorageFailureIsNotAcknowledged(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig(roles(RoleAttack, RoleDefence), 1)
	g, log := newTestGame(t, cfg, newClock(), nil)
	mustNoErr(t, g.Act(ctx, ActStart))
	mustNoErr(t, g.StartTick(ctx))
	fl := g.Flags().Issue(FlagID{Tick: 1, Owner: 1})
	log.fail = errDiskFull
	v, _ := g.Submit(ctx, 0, flagBytes(fl))
	wantCodes(t, v, CodeERR)
	log.fail = nil
	// Nothing was recorded, so the same flag is not a duplicate.
	v, _ = g.Submit(ctx, 0, flagBytes(fl))
	wantCodes(t, v, CodeOK)
}

// fakeChecker reports fixed statuses per tick.
type fakeChecker struct {
	status map[int32]Status
}

func (c *fakeChecker) CheckTick(_ context.Context, p TickPlan) []ReplicaCheck {
	var out []ReplicaCheck
	for _, r := range p.Replicas {
		st := c.status[p.Tick]
		if st == StatusUnknown {
			st = StatusOK
		}
		rc := ReplicaCheck{Tick: p.Tick, Owner: r.Owner, Service: r.Service, Status: st, Message: "checked"}
		for _, f := range r.Put {
			rc.Planted = append(rc.Planted, Planted{ID: f.ID, OK: st == StatusOK, AttackInfo: "hint"})
		}
		out = append(out, rc)
	}
	return out
}

func TestTicksChecksAndRestart(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	cfg := testConfig(roles(RoleAttack, RoleAttack, RoleDefence), 1, "inbox", "drafts")
	ch := &fakeChecker{status: map[int32]Status{2: StatusOffline}}
	g, log := newTestGame(t, cfg, clk, ch)
	mustNoErr(t, g.Act(ctx, ActStart))
	for i := 0; i < 4; i++ {
		mustNoErr(t, g.StartTick(ctx))
		g.WaitChecks()
		if i == 0 {
			v, _ := g.Submit(ctx, 0, flagBytes(g.Flags().Issue(FlagID{Tick: 1, Owner: 2, Store: 1})))
			wantCodes(t, v, CodeOK)
		}
		clk.Add(time.Minute)
	}
	view := g.FullView()
	if view.Status[cfg.Teams[2].Name]["mail"] != StatusOK {
		t.Fatalf("status matrix: %+v", view.Status)
	}
	hist := g.st.Replicas[[2]int16{2, 0}].History
	got := []Status{}
	for _, h := range hist {
		got = append(got, h.Status)
	}
	wantHist := []Status{StatusOK, StatusOffline, StatusRecovering, StatusOK}
	if len(got) != 4 || got[0] != wantHist[0] || got[1] != wantHist[1] || got[2] != wantHist[2] || got[3] != wantHist[3] {
		t.Fatalf("history %v, want %v", got, wantHist)
	}
	tg := g.Targets(0)
	if len(tg) != 1 || len(tg[0].AttackInfo) == 0 || tg[0].AttackInfo[0].Info != "hint" {
		t.Fatalf("targets: %+v", tg)
	}
	// Tick 1's store 0 flag expired uncaptured at tick 3: protected. Tick
	// 2's flags were not planted (OFFLINE): not protected.
	if sc := g.st.Teams[2]; sc.FlagsProtected != 1 || sc.FlagsLost != 1 {
		t.Fatalf("protected %d lost %d", sc.FlagsProtected, sc.FlagsLost)
	}
	before := g.FullView().Standings
	mustNoErr(t, g.Snapshot(ctx))
	clk.Add(time.Minute)
	mustNoErr(t, g.StartTick(ctx))
	g.WaitChecks()
	after := g.FullView().Standings

	// A restarted game folds the snapshot plus the events after it; a
	// replay folds everything: both must equal the live state exactly.
	g2, err := NewGame(ctx, Options{Config: cfg, Log: log, Key: testKey, Now: clk.Now})
	mustNoErr(t, err)
	if !equalStandings(g2.FullView().Standings, after) {
		t.Fatalf("restart differs:\n%+v\n%+v", g2.FullView().Standings, after)
	}
	rep, err := Replay(ctx, cfg, log, 0)
	mustNoErr(t, err)
	if !equalStandings(rep.Standings(), after) {
		t.Fatal("replay differs")
	}
	if equalStandings(before, after) {
		t.Fatal("the last tick changed nothing: the test proves nothing")
	}
}

func equalStandings(a, b []Standing) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestFrozenBoard(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig(roles(RoleAttack, RoleDefence), 1)
	g, log := newTestGame(t, cfg, newClock(), nil)
	mustNoErr(t, g.Act(ctx, ActStart))
	mustNoErr(t, g.StartTick(ctx))
	mustNoErr(t, g.Act(ctx, ActFreeze))
	v, _ := g.Submit(ctx, 0, flagBytes(g.Flags().Issue(FlagID{Tick: 1, Owner: 1})))
	wantCodes(t, v, CodeOK)
	pub, full := g.PublicView(), g.FullView()
	if pub.Standings[0].Total != 0 || full.Standings[0].Total == 0 || !pub.Frozen {
		t.Fatalf("frozen: public %+v full %+v", pub.Standings[0], full.Standings[0])
	}
	for _, it := range pub.Recent {
		if it.Kind == "capture" || it.Kind == "first_blood" {
			t.Fatal("a capture after the freeze leaked to the public ticker")
		}
	}
	g2, err := NewGame(ctx, Options{Config: cfg, Log: log, Key: testKey})
	mustNoErr(t, err)
	if g2.PublicView().Standings[0].Total != 0 {
		t.Fatal("a restart unfroze the board")
	}
	mustNoErr(t, g.Act(ctx, ActEnd))
	if g.PublicView().Standings[0].Total == 0 {
		t.Fatal("the end did not reveal the board")
	}
}

// afterChan lets the test fire Run's timer by hand.
type afterChan struct{ c chan time.Time }

func (a *afterChan) After(time.Duration) <-chan time.Time { return a.c }

func TestRunTicksOnTime(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	clk := &lockedClock{t: newClock().t}
	cfg := testConfig(roles(RoleAttack, RoleDefence), 1)
	cfg.Duration = 3 * time.Minute
	cfg.FreezeAt = 2 * time.Minute
	ac := &afterChan{c: make(chan time.Time)}
	g, err := NewGame(ctx, Options{Config: cfg, Log: &memLog{}, Key: testKey, Now: clk.Now, After: ac.After})
	mustNoErr(t, err)
	done := make(chan error)
	go func() { done <- g.Run(ctx) }()
	mustNoErr(t, g.Act(ctx, ActStart))
	waitFor(t, func() bool { _, _, tick := g.phaseTick(); return tick == 1 })
	clk.Add(time.Minute)
	ac.c <- clk.Now()
	waitFor(t, func() bool { _, _, tick := g.phaseTick(); return tick == 2 })
	clk.Add(time.Minute)
	ac.c <- clk.Now()
	waitFor(t, func() bool { _, fr, _ := g.phaseTick(); return fr })
	clk.Add(time.Minute)
	ac.c <- clk.Now()
	waitFor(t, func() bool { p, _, _ := g.phaseTick(); return p == PhaseEnded })
	cancel()
	mustNoErr(t, <-done)
}

func (g *Game) phaseTick() (Phase, bool, int32) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.st.Phase, g.st.Frozen, g.st.Tick
}

type lockedClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *lockedClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *lockedClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 30 s")
		}
		time.Sleep(time.Millisecond)
	}
}

func BenchmarkRejectForged(b *testing.B) {
	f, _ := NewFlags(testKey, "")
	forged := []byte(f.Issue(FlagID{Tick: 5, Owner: 1}))
	forged[20] ^= 1
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		forged[25] = 'A' + byte(i%26)
		if _, ok := f.Parse(forged); ok {
			b.Fatal("forged flag accepted")
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "flags/s")
}

// BenchmarkReplay folds 1,000,000 encoded events (decode + apply), the
// BENCHMARKS.md replay row without the disk.
func BenchmarkReplay(b *testing.B) {
	cfg := testConfig(roles(RoleAttack, RoleAttack, RoleAttack, RoleDefence), 1, "inbox", "drafts", "attachments")
	recs := SyntheticLog(cfg, 1_000_000)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		st := NewState(cfg)
		for j, r := range recs {
			e, err := Decode(uint64(j+1), r)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := st.Apply(&e); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(len(recs))*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
