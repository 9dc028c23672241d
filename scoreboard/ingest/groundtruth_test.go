package ingest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/proxy"

	"github.com/cyrange/cyrange/images/flow"
	"github.com/cyrange/cyrange/images/mailserver"
	cyberrange "github.com/cyrange/cyrange/range"
	"github.com/cyrange/cyrange/range/gateway"
	"github.com/cyrange/cyrange/scenarios"
	"github.com/cyrange/cyrange/scoreboard"
	"github.com/cyrange/cyrange/scoreboard/scoreboardtest"
)

// These tests play the issue's scenarios end to end on loopback: a real
// gateway and a real mail target write their output into logs the
// collector follows, as the local driver's files would hold it, and a
// real game judges. The address plan is the test's own, and every
// listener takes a port the kernel picks, so that runs never collide.

// logWriter appends what is written to a fake container log.
type logWriter struct {
	f    *fakeLogs
	name string
}

func (w logWriter) Write(p []byte) (int, error) {
	w.f.write(w.name, string(p))
	return len(p), nil
}

// gate passes writes on while open, keeps them while held (output on its
// way) and loses them once cut (the process was killed).
type gate struct {
	mu   sync.Mutex
	w    io.Writer
	held [][]byte
	hold bool
	cut  bool
}

func (g *gate) Write(p []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case g.cut:
	case g.hold:
		g.held = append(g.held, append([]byte(nil), p...))
	default:
		return g.w.Write(p)
	}
	return len(p), nil
}

func (g *gate) setHold() {
	g.mu.Lock()
	g.hold = true
	g.mu.Unlock()
}

func (g *gate) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, p := range g.held {
		g.w.Write(p)
	}
	g.held, g.hold = nil, false
}

func (g *gate) cutOff() {
	g.mu.Lock()
	g.cut = true
	g.mu.Unlock()
}

// liveRange is a local plan of the demo scenario with one gateway per
// attack team and the defence's mail target, their output followed by a
// collector into a real game.
type liveRange struct {
	t      *testing.T
	sc     *scenarios.Scenario
	plan   *cyberrange.Plan
	tokens []string
	logs   *fakeLogs
	game   *scoreboard.Game
	log    *scoreboardtest.MemLog
	col    *Collector
	// imap is the target's IMAP address; target its container.
	imap   netip.AddrPort
	target string
	gates  map[int]*gate
	socks  map[int]string
}

type rangeOptions struct {
	requireTelemetry bool
	// now is the game's clock (time.Now when nil).
	now func() time.Time
}

func startLiveRange(t *testing.T, o rangeOptions) *liveRange {
	t.Helper()
	demo, err := scenarios.Builtin("demo")
	if err != nil {
		t.Fatal(err)
	}
	sc := demo.Clone()
	// One replica and its sensors are what these tests watch.
	sc.Services = sc.Services[:1]
	sc.RequireTelemetry = o.requireTelemetry
	sc.Network.Local = scenarios.AddressPlan{
		Teams:    netip.MustParsePrefix("127.93.0.0/16"),
		Replicas: netip.MustParsePrefix("127.94.0.0/16"),
		Checkers: netip.MustParsePrefix("127.95.0.0/24"),
	}
	if err := sc.Validate(); err != nil {
		t.Fatal(err)
	}
	r := &liveRange{t: t, sc: sc, logs: newFakeLogs(), log: &scoreboardtest.MemLog{}, gates: map[int]*gate{}, socks: map[int]string{}}
	for i := range sc.Teams {
		r.tokens = append(r.tokens, fmt.Sprintf("token-%02d", i))
	}
	if r.plan, err = cyberrange.NewPlan(sc, cyberrange.PlanOptions{Driver: cyberrange.DriverLocal, TeamTokens: r.tokens,
		CheckerSecret: "test-secret"}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() {
		cancel()
		wg.Wait()
	})

	// The defence's mail target, on its replica address, any free ports.
	var ct cyberrange.Container
	for _, c := range r.plan.Containers {
		if c.Kind == cyberrange.KindTarget {
			ct = c
		}
	}
	r.target = ct.Name
	r.logs.write(r.target, "")
	wg.Go(func() {
		err := mailserver.RunTarget(ctx, []string{"--listen", ct.Networks[0].Address.String(), "--smtp-port", "0",
			"--imap-port", "0", "--http-port", "0", "--admin-port", "0", "--accounts", "100",
			"--checker-secret", "test-secret", "--admin-password", "test-admin"}, logWriter{r.logs, r.target}, io.Discard)
		if err != nil {
			t.Errorf("target: %v", err)
		}
	})
	r.imap = r.waitIMAP()

	// A gateway per attack team, from its team's gateway address.
	for team, tm := range sc.Teams {
		if !tm.Role.CanAttack() {
			continue
		}
		gi, _ := r.plan.Gateway(team)
		gc, _ := r.plan.Container(gi.Container)
		r.logs.write(gc.Name, "")
		gt := &gate{w: logWriter{r.logs, gc.Name}}
		r.gates[team] = gt
		g, err := gateway.New(gateway.Options{Team: tm.Name, User: tm.Short, Password: r.tokens[team],
			Source: gc.Networks[0].Address, Allow: []gateway.Rule{gateway.AllowAddrPort(r.imap)},
			Record: gateway.TelemetryWriter(gt, nil)})
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		r.socks[team] = ln.Addr().String()
		wg.Go(func() { g.Serve(ctx, ln) })
		t.Cleanup(func() { g.Close() })
	}

	now := o.now
	if now == nil {
		now = time.Now
	}
	r.game, err = scoreboard.NewGame(ctx, scoreboard.Options{Config: sc.GameConfig(r.plan.Placement()), Log: r.log,
		Key: []byte("0123456789abcdef0123456789abcdef"), Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if r.col, err = New(Options{Plan: r.plan, Logs: r.logs, Game: r.game, Retry: 5 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	wg.Go(func() { r.col.Run(ctx) })
	r.must(r.game.Act(ctx, scoreboard.ActStart))
	r.must(r.game.StartTick(ctx))
	return r
}

func (r *liveRange) must(err error) {
	r.t.Helper()
	if err != nil {
		r.t.Fatal(err)
	}
}

// waitIMAP reads the IMAP address from the target's start line.
func (r *liveRange) waitIMAP() netip.AddrPort {
	r.t.Helper()
	var ap netip.AddrPort
	waitFor(r.t, "the target's start", func() bool {
		r.logs.mu.Lock()
		data := string(r.logs.logs[r.target].data)
		r.logs.mu.Unlock()
		sc := bufio.NewScanner(strings.NewReader(data))
		for sc.Scan() {
			var l struct {
				Action string `json:"action"`
				IMAP   string `json:"imap"`
			}
			if json.Unmarshal(sc.Bytes(), &l) == nil && l.Action == "start" {
				ap = netip.MustParseAddrPort(l.IMAP)
				return true
			}
		}
		return false
	})
	return ap
}

// teamAddr is address .host of team's network.
func (r *liveRange) teamAddr(team, host int) netip.Addr {
	gi, _ := r.plan.Gateway(team)
	a := netip.MustParsePrefix(gi.Source).Addr().As4()
	a[3] = byte(host)
	return netip.AddrFrom4(a)
}

// imapSession speaks IMAP on c: the greeting, then a NOOP, and holds the
// connection open until the test closes it.
func (r *liveRange) imapSession(c net.Conn) net.Conn {
	r.t.Helper()
	r.t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	if l, err := br.ReadString('\n'); err != nil || !strings.HasPrefix(l, "* OK") {
		r.t.Fatalf("IMAP greeting %q: %v", l, err)
	}
	fmt.Fprintf(c, "a1 NOOP\r\n")
	if l, err := br.ReadString('\n'); err != nil || !strings.HasPrefix(l, "a1 OK") {
		r.t.Fatalf("IMAP NOOP: %q: %v", l, err)
	}
	c.SetDeadline(time.Time{})
	return c
}

// throughGateway opens an IMAP session through team's gateway.
func (r *liveRange) throughGateway(team int) net.Conn {
	r.t.Helper()
	d, err := proxy.SOCKS5("tcp", r.socks[team], &proxy.Auth{User: r.sc.Teams[team].Short, Password: r.tokens[team]},
		&net.Dialer{Timeout: 5 * time.Second})
	r.must(err)
	c, err := d.Dial("tcp", r.imap.String())
	r.must(err)
	return r.imapSession(c)
}

// fromBox opens an IMAP session straight from address .3 of team's
// network, where the team's attack box sits.
func (r *liveRange) fromBox(team int) net.Conn {
	r.t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: r.teamAddr(team, cyberrange.HostAttackBox).AsSlice()}}
	c, err := d.Dial("tcp", r.imap.String())
	r.must(err)
	return r.imapSession(c)
}

// settle waits, within a bound, for the collector to have handed the game
// what cond looks for. It does not fail: where the ground truth never
// comes, the verdicts that follow say so.
func (r *liveRange) settle(cond func(Stats) bool) {
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end) && !cond(r.col.Stats()); {
		time.Sleep(5 * time.Millisecond)
	}
}

// report files a report of the defence naming team.
func (r *liveRange) report(team int, seen time.Time) int64 {
	r.t.Helper()
	ack, err := r.game.ReportDetection(context.Background(), r.defence(),
		scoreboard.DetectionInput{Attacker: r.sc.Teams[team].Name, Service: "mail", SeenAt: seen})
	r.must(err)
	return ack.ID
}

func (r *liveRange) defence() int {
	for i, t := range r.sc.Teams {
		if t.Role.CanDefend() {
			return i
		}
	}
	return -1
}

func (r *liveRange) verdict(id int64) scoreboard.DetectionView {
	for _, v := range r.game.DetectionReports(r.defence()) {
		if v.ID == id {
			return v
		}
	}
	r.t.Fatalf("no report %d", id)
	return scoreboard.DetectionView{}
}

// replay folds the log so far.
func (r *liveRange) replay() *scoreboard.State {
	r.t.Helper()
	st, err := scoreboard.Replay(context.Background(), r.game.Config(), r.log, 0)
	r.must(err)
	return st
}

func (r *liveRange) incidentsOf(team int) []scoreboard.Incident {
	var out []scoreboard.Incident
	for _, in := range r.replay().Incidents {
		if int(in.Team) == team {
			out = append(out, in)
		}
	}
	return out
}

// checkReplay: the verdicts are the rules' at their place in the log, and
// the replay's standings are the game's.
func (r *liveRange) checkReplay() {
	r.t.Helper()
	ctx := context.Background()
	if _, err := scoreboard.VerifyJudgements(ctx, r.game.Config(), r.log); err != nil {
		r.t.Fatal(err)
	}
	got, want := r.replay().Standings(), r.game.FullView().Standings
	if fmt.Sprint(got) != fmt.Sprint(want) {
		r.t.Fatalf("replay:\n%v\ngame:\n%v", got, want)
	}
}

// TestHeldConnectionThroughGatewayIsDetected is the issue's scenario: an
// attacker holds an IMAP connection open through its gateway across tick
// boundaries; the defence reports it; the report is a true positive, and
// the incident spans every tick the connection was open.
func TestHeldConnectionThroughGatewayIsDetected(t *testing.T) {
	r := startLiveRange(t, rangeOptions{})
	ctx := context.Background()
	opened := time.Now()
	c := r.throughGateway(0)
	r.settle(func(s Stats) bool { return s.Conns >= 1 })
	r.must(r.game.StartTick(ctx)) // tick 1 ends with the connection open
	r.must(r.game.StartTick(ctx)) // so does tick 2
	id := r.report(0, opened)
	r.must(r.game.StartTick(ctx))
	if v := r.verdict(id); v.Verdict != "true_positive" {
		t.Fatalf("report on a held connection judged %s, want true_positive", v.Verdict)
	}
	ins := r.incidentsOf(0)
	if len(ins) != 1 || ins[0].FirstTick != 1 || ins[0].LastTick != 3 || ins[0].Conns != 1 || !ins[0].Credited {
		t.Fatalf("incidents %+v, want one of ticks 1 to 3, one connection, credited", ins)
	}
	c.Close()
	r.checkReplay()
}

// TestReportJustBeforeTheTickEnds: the defence reports a connection just
// before the tick ends, and the connection's record reaches the game just
// after: the report is not judged false at the tick's end but once the
// record is in, a true positive.
func TestReportJustBeforeTheTickEnds(t *testing.T) {
	r := startLiveRange(t, rangeOptions{})
	ctx := context.Background()
	r.settle(func(s Stats) bool { return s.Heartbeats >= 2 }) // both sensors have started
	r.gates[0].setHold()                                      // the gateway's output is on its way
	opened := time.Now()
	c := r.throughGateway(0)
	id := r.report(0, opened)
	r.must(r.game.StartTick(ctx))
	if v := r.verdict(id); v.Verdict != "pending" {
		t.Fatalf("judged %s at the tick's end, before its ground truth arrived", v.Verdict)
	}
	r.gates[0].release()
	r.settle(func(s Stats) bool { return s.Conns >= 1 })
	r.must(r.game.StartTick(ctx))
	if v := r.verdict(id); v.Verdict != "true_positive" {
		t.Fatalf("judged %s once its ground truth arrived, want true_positive", v.Verdict)
	}
	c.Close()
	r.checkReplay()
}

// TestKilledGatewaysConnectionsEnd: a gateway is killed while a
// connection through it is open (no close record ever comes): the
// connection counts while it may still be open, and ends once the game
// has heard nothing of it for the staleness bound.
func TestKilledGatewaysConnectionsEnd(t *testing.T) {
	clk := scoreboardtest.NewClock(time.Now())
	r := startLiveRange(t, rangeOptions{now: clk.Now})
	ctx := context.Background()
	r.throughGateway(1)
	r.settle(func(s Stats) bool { return s.Conns >= 1 })
	clk.Advance(time.Second)
	r.must(r.game.StartTick(ctx)) // tick 1: open
	r.gates[1].cutOff()           // killed: nothing more from it
	clk.Advance(scoreboard.DefaultTelemetryStale / 4)
	r.must(r.game.StartTick(ctx)) // tick 2: may still be open
	clk.Advance(2 * scoreboard.DefaultTelemetryStale)
	r.must(r.game.StartTick(ctx)) // tick 3: gone
	clk.Advance(time.Minute)
	r.must(r.game.StartTick(ctx))
	ins := r.incidentsOf(1)
	if len(ins) != 1 || ins[0].FirstTick != 1 || ins[0].LastTick != 2 {
		t.Fatalf("incidents %+v, want one of ticks 1 and 2", ins)
	}
}

// TestBoxTrafficIsTheTeams: a connection from a team's own network that
// bypasses its gateway (the attack box's address) reaches the game
// through the target's flow records and makes an incident of that team;
// a connection through another team's gateway is counted once, by its
// gateway, though the target records it too.
func TestBoxTrafficIsTheTeams(t *testing.T) {
	r := startLiveRange(t, rangeOptions{})
	ctx := context.Background()
	opened := time.Now()
	r.fromBox(0).Close()
	r.throughGateway(1).Close()
	r.settle(func(s Stats) bool { return s.Flows >= 2 && s.Conns >= 2 })
	r.must(r.game.StartTick(ctx))
	id := r.report(0, opened)
	if v := r.verdict(id); v.Verdict != "true_positive" {
		t.Fatalf("report on the box's attack judged %s, want true_positive", v.Verdict)
	}
	if ins := r.incidentsOf(0); len(ins) != 1 || ins[0].Conns != 1 {
		t.Fatalf("the box's incidents %+v, want one of one connection", ins)
	}
	if ins := r.incidentsOf(1); len(ins) != 1 || ins[0].Conns != 1 {
		t.Fatalf("the gateway's incidents %+v, want one of one connection, counted once", ins)
	}
	r.checkReplay()
}

// TestBoxCaptureVerified: with require_telemetry, a flag captured over
// the box's path scores: the target's records are the telemetry that
// verifies it, and nothing is listed as flag sharing.
func TestBoxCaptureVerified(t *testing.T) {
	r := startLiveRange(t, rangeOptions{requireTelemetry: true})
	ctx := context.Background()
	r.fromBox(0).Close()
	r.settle(func(s Stats) bool { return s.Flows >= 2 })
	flag := r.game.Flags().Issue(scoreboard.FlagID{Tick: 1, Owner: int16(r.defence()), Service: 0, Store: 0})
	v, err := r.game.Submit(ctx, 0, [][]byte{[]byte(flag)})
	r.must(err)
	if v[0].Code != scoreboard.CodeOK {
		t.Fatalf("capture %+v", v[0])
	}
	r.must(r.game.StartTick(ctx))
	r.must(r.game.StartTick(ctx))
	st := r.replay()
	if len(st.Unverified) != 0 || st.Teams[0].Captures != 1 || st.Teams[0].Attack <= 0 {
		t.Fatalf("unverified %+v, captures %d, attack %v: want the box's capture verified and scored",
			st.Unverified, st.Teams[0].Captures, st.Teams[0].Attack)
	}
	r.checkReplay()
}

// TestStaleBoundFollowsTheSensors: the game takes a source or an open
// connection for gone after DefaultTelemetryStale of silence; the sensors
// speak every flow.DefaultInterval, so the bound must leave room for a
// few of their intervals, or live connections would end between records.
func TestStaleBoundFollowsTheSensors(t *testing.T) {
	if scoreboard.DefaultTelemetryStale < 3*flow.DefaultInterval {
		t.Fatalf("DefaultTelemetryStale %v is under three sensor intervals (%v)", scoreboard.DefaultTelemetryStale, flow.DefaultInterval)
	}
}
