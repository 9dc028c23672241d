package live

import (
	"bytes"
	"context"
	"encoding/json"
	"regexp"
	"testing"
	"time"

	"github.com/cyrange/cyrange/scoreboard"
	"github.com/cyrange/cyrange/scoreboard/scoreboardtest"
	"github.com/cyrange/cyrange/scoreboard/tokens"
)

// memLog is the shared in-memory log of the game's tests.
type memLog = scoreboardtest.MemLog

// leakyChecker reports every replica up and puts secrets where only the
// organizer's records may keep them: the checker's message and the
// attack info.
type leakyChecker struct{ secret string }

func (c leakyChecker) CheckTick(_ context.Context, plan scoreboard.TickPlan) []scoreboard.ReplicaCheck {
	var out []scoreboard.ReplicaCheck
	for _, r := range plan.Replicas {
		rc := scoreboard.ReplicaCheck{Tick: plan.Tick, Owner: r.Owner, Service: r.Service, Status: scoreboard.StatusOK,
			Message: "logged in with " + c.secret}
		for _, p := range r.Put {
			rc.Planted = append(rc.Planted, scoreboard.Planted{ID: p.ID, OK: true, AttackInfo: p.Flag + " " + c.secret})
		}
		out = append(out, rc)
	}
	return out
}

func TestWithGame(t *testing.T) {
	ctx := context.Background()
	cfg := &scoreboard.Config{Name: "live", Tick: time.Minute, FlagLifetime: 3, GetflagDepth: 1, FlagPrefix: "CY",
		Scoring: scoreboard.DefaultScoring(),
		Teams: []scoreboard.Team{{ID: 0, Name: "Đội A", Role: scoreboard.RoleAttack},
			{ID: 1, Name: "Đội B", Role: scoreboard.RoleAttack}, {ID: 2, Name: "Đội C", Role: scoreboard.RoleDefence}},
		Services: []scoreboard.Service{{ID: 0, Name: "mail", Weight: 1, Stores: []string{"inbox"}}},
		Replicas: []scoreboard.Replica{{Owner: 2, Service: 0, Address: "127.0.0.1"}}}
	toks, err := tokens.New(cfg.Teams)
	if err != nil {
		t.Fatal(err)
	}
	g, err := scoreboard.NewGame(ctx, scoreboard.Options{Config: cfg, Log: &memLog{},
		Key: []byte("0123456789abcdef0123456789abcdef"), Checker: leakyChecker{secret: toks.TeamToken(2)}})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, g, Options{})
	pub := e.dial("/api/v1/live", nil)
	adm := e.dial("/api/v1/admin/live", nil)
	teamA := e.dial("/api/v1/team/live?team=0", nil)
	teamC := e.dial("/api/v1/team/live?team=2", nil)
	for _, c := range []*tclient{pub, adm, teamA, teamC} {
		if m := c.next(); m.Type != TypeSnapshot || m.Phase != "setup" {
			t.Fatalf("snapshot %+v", m)
		}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}

	must(g.Act(ctx, scoreboard.ActStart))
	must(g.StartTick(ctx))
	g.WaitChecks()
	pub.until(func(m Message) bool { return m.Status["Đội C"]["mail"] == scoreboard.StatusOK })

	flag := []byte(g.Flags().Issue(scoreboard.FlagID{Tick: 1, Owner: 2, Service: 0, Store: 0}))
	v, err := g.Submit(ctx, 0, [][]byte{flag})
	must(err)
	if v[0].Code != scoreboard.CodeOK {
		t.Fatalf("verdict %+v", v[0])
	}
	// A ticker item comes with or after the standing it changed.
	ms := pub.until(hasEvent("first_blood", ""))
	scored := false
	for _, m := range ms {
		if a, ok := standingOf(m.Standings, 0); ok && a.Attack == v[0].Points {
			scored = true
		}
	}
	if !scored {
		t.Fatalf("public messages after the capture: %+v", ms)
	}
	for _, c := range []*tclient{teamA, teamC} {
		ms := c.until(hasEvent("capture", ""))
		m := ms[len(ms)-1]
		var capt scoreboard.TickerItem
		for _, it := range m.Events {
			if it.Kind == "capture" {
				capt = it
			}
		}
		if capt.Team != "Đội A" || capt.Target != "Đội C" || capt.Points != v[0].Points-cfg.Scoring.FirstBlood {
			t.Fatalf("capture item %+v", capt)
		}
		for _, s := range m.Standings {
			if s.Team != capt.Team && s.Team != capt.Target {
				t.Fatalf("a team stream carries %s's standing", s.Team)
			}
		}
	}

	must(g.Act(ctx, scoreboard.ActFreeze))
	pub.until(hasEvent("phase", scoreboard.ActFreeze))
	v, err = g.Submit(ctx, 1, [][]byte{flag})
	must(err)
	if v[0].Code != scoreboard.CodeOK {
		t.Fatalf("verdict %+v", v[0])
	}
	// The standing and its ticker item may come in successive messages:
	// a flush can fall between the fold and the listener.
	sawStanding, sawCapture := false, false
	adm.until(func(m Message) bool {
		_, ok := standingOf(m.Standings, 1)
		sawStanding = sawStanding || ok
		sawCapture = sawCapture || hasEvent("capture", "")(m)
		return sawStanding && sawCapture
	})
	must(g.StartTick(ctx))
	g.WaitChecks()
	for _, m := range pub.until(func(m Message) bool { return m.Type == TypeTick && m.Tick == 2 }) {
		if m.Standings != nil || m.Status != nil || hasEvent("capture", "")(m) {
			t.Fatalf("the frozen public stream carried %+v", m)
		}
	}

	// The end reveals the board, team B's capture included.
	must(g.Act(ctx, scoreboard.ActEnd))
	ms = pub.until(hasEvent("phase", scoreboard.ActEnd))
	revealed := false
	for _, m := range ms {
		if b, ok := standingOf(m.Standings, 1); ok && b.Attack > 0 {
			revealed = true
		}
	}
	if !revealed {
		t.Fatalf("the end did not reveal the board: %+v", ms)
	}
	teamA.until(hasEvent("phase", scoreboard.ActEnd))
	teamC.until(hasEvent("phase", scoreboard.ActEnd))
	adm.until(hasEvent("phase", scoreboard.ActEnd))

	// No flag and no token anywhere in the streams.
	var secrets []string
	for tick := int32(1); tick <= 2; tick++ {
		fs, err := g.IssuedFlags(tick)
		must(err)
		for _, f := range fs {
			secrets = append(secrets, f.Flag)
		}
	}
	secrets = append(secrets, toks.OrganizerToken())
	for i := range cfg.Teams {
		secrets = append(secrets, toks.TeamToken(i))
	}
	flagRE := regexp.MustCompile(g.Flags().Regex())
	for name, c := range map[string]*tclient{"public": pub, "admin": adm, "team A": teamA, "team C": teamC} {
		if len(c.raw) < 4 {
			t.Fatalf("%s stream has only %d messages", name, len(c.raw))
		}
		for _, b := range c.raw {
			for _, s := range secrets {
				if bytes.Contains(b, []byte(s)) {
					t.Fatalf("%s stream carries secret %q: %s", name, s, b)
				}
			}
			if f := flagRE.Find(b); f != nil {
				t.Fatalf("%s stream carries something like a flag %q: %s", name, f, b)
			}
		}
	}
}

// TestFrozenPublicStreamLearnsNothing runs two games alike but for one
// thing: after the freeze the attack teams of one capture every flag,
// tick after tick, and those of the other capture nothing. The public
// streams of both must carry the same bytes — messages, seqs, ticker
// items and their numbers — through ticks, a pause and a resume, and a
// late viewer's snapshot must be the same too.
func TestFrozenPublicStreamLearnsNothing(t *testing.T) {
	ctx := context.Background()
	clk := scoreboardtest.NewClock(time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC))
	cfg := &scoreboard.Config{Name: "live", Tick: time.Minute, FlagLifetime: 3, GetflagDepth: 1, FlagPrefix: "CY",
		Scoring: scoreboard.DefaultScoring(),
		Teams: []scoreboard.Team{{ID: 0, Name: "Đội A", Role: scoreboard.RoleAttack},
			{ID: 1, Name: "Đội B", Role: scoreboard.RoleAttack}, {ID: 2, Name: "Đội C", Role: scoreboard.RoleDefence}},
		Services: []scoreboard.Service{{ID: 0, Name: "mail", Weight: 1, Stores: []string{"inbox", "drafts", "files"}}},
		Replicas: []scoreboard.Replica{{Owner: 2, Service: 0, Address: "127.0.0.1"}}}
	type twin struct {
		g   *scoreboard.Game
		env *env
		pub *tclient
		// from is how many public messages came up to the freeze's,
		// and base that message's seq: how messages group before the
		// freeze depends on timing, so what follows is compared from
		// there.
		from int
		base uint64
	}
	var twins [2]*twin
	for i := range twins {
		g, err := scoreboard.NewGame(ctx, scoreboard.Options{Config: cfg, Log: &memLog{}, Now: clk.Now,
			Key: []byte("0123456789abcdef0123456789abcdef"), Checker: leakyChecker{secret: "s"}})
		if err != nil {
			t.Fatal(err)
		}
		e := newEnv(t, g, Options{})
		twins[i] = &twin{g: g, env: e, pub: e.dial("/api/v1/live", nil)}
		twins[i].pub.next()
	}
	quiet, busy := twins[0], twins[1]
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	// each does the same public thing in both games and waits for its
	// public message.
	each := func(do func(g *scoreboard.Game), until func(Message) bool) {
		t.Helper()
		clk.Advance(time.Second)
		for _, tw := range twins {
			do(tw.g)
			tw.pub.until(until)
		}
	}
	tick := func(n int32) {
		t.Helper()
		clk.Advance(time.Minute)
		each(func(g *scoreboard.Game) { must(g.StartTick(ctx)); g.WaitChecks() },
			func(m Message) bool { return m.Type == TypeTick && m.Tick == n })
	}
	each(func(g *scoreboard.Game) { must(g.Act(ctx, scoreboard.ActStart)) }, hasEvent("phase", scoreboard.ActStart))
	clk.Advance(time.Minute)
	each(func(g *scoreboard.Game) { must(g.StartTick(ctx)); g.WaitChecks() },
		func(m Message) bool { return m.Status["Đội C"]["mail"] == scoreboard.StatusOK })
	each(func(g *scoreboard.Game) { must(g.Act(ctx, scoreboard.ActFreeze)) }, hasEvent("phase", scoreboard.ActFreeze))
	for _, tw := range twins {
		tw.from = len(tw.pub.raw)
		var m Message
		must(json.Unmarshal(tw.pub.raw[tw.from-1], &m))
		tw.base = m.Seq
	}
	// rebase rewrites a message's seq as counted from the freeze's.
	rebase := func(tw *twin, raw []byte) []byte {
		t.Helper()
		var m map[string]any
		must(json.Unmarshal(raw, &m))
		m["seq"] = m["seq"].(float64) - float64(tw.base)
		b, err := json.Marshal(m)
		must(err)
		return b
	}
	captured := 0
	for n := int32(2); n <= 12; n++ {
		tick(n)
		for team := 0; team < 2; team++ {
			for back := int32(0); back < 3 && n-back >= 1; back++ {
				for store := int16(0); store < 3; store++ {
					f := busy.g.Flags().Issue(scoreboard.FlagID{Tick: n - back, Owner: 2, Service: 0, Store: store})
					v, err := busy.g.Submit(ctx, team, [][]byte{[]byte(f)})
					must(err)
					if v[0].Code == scoreboard.CodeOK {
						captured++
					}
				}
			}
		}
	}
	if captured < 50 {
		t.Fatalf("only %d captures after the freeze", captured)
	}
	each(func(g *scoreboard.Game) { must(g.Act(ctx, scoreboard.ActPause)) }, hasEvent("phase", scoreboard.ActPause))
	each(func(g *scoreboard.Game) { must(g.Act(ctx, scoreboard.ActResume)) }, hasEvent("phase", scoreboard.ActResume))
	// The busy game's organizer did see it all.
	adm := busy.env.dial("/api/v1/admin/live", nil)
	if m := adm.next(); len(m.Recent) == 0 || m.Standings[0].Attack == 0 {
		t.Fatalf("the organizer's board: %+v", m)
	}
	q, b := quiet.pub.raw[quiet.from:], busy.pub.raw[busy.from:]
	if len(q) != len(b) {
		t.Errorf("the public got %d messages after the freeze with captures, %d without", len(b), len(q))
	}
	for i := 0; i < min(len(q), len(b)); i++ {
		if qi, bi := rebase(quiet, q[i]), rebase(busy, b[i]); !bytes.Equal(qi, bi) {
			t.Errorf("public message %d after the freeze:\nwithout captures %s\nwith captures    %s", i, qi, bi)
		}
		var m Message
		must(json.Unmarshal(b[i], &m))
		if m.At != 0 {
			t.Errorf("a frozen public message tells when it was made: %s", b[i])
		}
		if m.Seq != busy.base+uint64(i)+1 {
			t.Errorf("public message %d after the freeze has seq %d, want %d", i, m.Seq, busy.base+uint64(i)+1)
		}
	}
	var snaps [2][]byte
	for i, tw := range twins {
		late := tw.env.dial("/api/v1/live", nil)
		late.next()
		snaps[i] = rebase(tw, late.raw[0])
	}
	if !bytes.Equal(snaps[0], snaps[1]) {
		t.Errorf("a late viewer's snapshot:\nwithout captures %s\nwith captures    %s", snaps[0], snaps[1])
	}
	if !bytes.Contains(snaps[1], []byte(`"text":"freeze"`)) || !bytes.Contains(snaps[1], []byte(`"text":"resume"`)) {
		t.Errorf("the frozen snapshot lost its phase changes: %s", snaps[1])
	}
}
