package ingest

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/cyrange/cyrange/images/mailserver/mailtarget"
	"io"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	cyberrange "github.com/cyrange/cyrange/range"
	"github.com/cyrange/cyrange/range/gateway"
	"github.com/cyrange/cyrange/scoreboard"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeLogs is a driver's Logs over in-memory outputs that behave like the
// local driver's: a log is appended to across restarts, a reader blocks
// at its end until more comes, and ends when the process it was opened
// for ends.
type fakeLogs struct {
	mu   sync.Mutex
	cond *sync.Cond
	logs map[string]*fakeLog
}

type fakeLog struct {
	data []byte
	gen  int // bumped when the process ends
}

func newFakeLogs() *fakeLogs {
	f := &fakeLogs{logs: map[string]*fakeLog{}}
	f.cond = sync.NewCond(&f.mu)
	return f
}

func (f *fakeLogs) write(name, s string) {
	f.mu.Lock()
	l := f.logs[name]
	if l == nil {
		l = &fakeLog{}
		f.logs[name] = l
	}
	l.data = append(l.data, s...)
	f.mu.Unlock()
	f.cond.Broadcast()
}

// restart ends the readers of name's current process.
func (f *fakeLogs) restart(name string) {
	f.mu.Lock()
	f.logs[name].gen++
	f.mu.Unlock()
	f.cond.Broadcast()
}

// replace starts name's log over (a recreated container).
func (f *fakeLogs) replace(name, s string) {
	f.mu.Lock()
	l := f.logs[name]
	l.data = []byte(s)
	l.gen++
	f.mu.Unlock()
	f.cond.Broadcast()
}

func (f *fakeLogs) Logs(ctx context.Context, name string, _ time.Time) (io.ReadCloser, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	l := f.logs[name]
	if l == nil {
		return nil, fmt.Errorf("fake: %s: %w", name, cyberrange.ErrNotFound)
	}
	r := &fakeReader{f: f, l: l, gen: l.gen, done: make(chan struct{})}
	stop := context.AfterFunc(ctx, func() { r.Close() })
	r.stop = stop
	return r, nil
}

type fakeReader struct {
	f       *fakeLogs
	l       *fakeLog
	gen     int
	off     int
	done    chan struct{}
	closing sync.Once
	stop    func() bool
}

func (r *fakeReader) Read(p []byte) (int, error) {
	r.f.mu.Lock()
	defer r.f.mu.Unlock()
	for {
		select {
		case <-r.done:
			return 0, io.EOF
		default:
		}
		if r.off < len(r.l.data) && r.gen == r.l.gen {
			n := copy(p, r.l.data[r.off:])
			r.off += n
			return n, nil
		}
		if r.gen != r.l.gen {
			return 0, io.EOF
		}
		r.f.cond.Wait()
	}
}

func (r *fakeReader) Close() error {
	r.closing.Do(func() {
		close(r.done)
		go r.f.cond.Broadcast()
	})
	return nil
}

// fakeGame records what the collector hands the game.
type fakeGame struct {
	mu        sync.Mutex
	conns     []scoreboard.Conn
	marks     []string
	remedies  []string
	telSince  time.Time
	remSince  time.Time
	remedyErr error
}

func (g *fakeGame) ObserveConns(cs []scoreboard.Conn) {
	g.mu.Lock()
	g.conns = append(g.conns, cs...)
	g.mu.Unlock()
}
func (g *fakeGame) ObserveWatermark(source, run string, at time.Time) {
	g.mu.Lock()
	g.marks = append(g.marks, fmt.Sprintf("%s %s %s", source, run, at.UTC().Format(time.RFC3339)))
	g.mu.Unlock()
}
func (g *fakeGame) TelemetryUpTo() time.Time { return g.telSince }
func (g *fakeGame) RemediesUpTo(int, int) time.Time {
	return g.remSince
}
func (g *fakeGame) RecordRemedy(_ context.Context, owner, service int, at time.Time, remedy string) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.remedies = append(g.remedies, fmt.Sprintf("%d/%d %s %s", owner, service, at.Format(time.RFC3339), remedy))
	return g.remedyErr
}

func (g *fakeGame) snapshot() ([]scoreboard.Conn, []string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]scoreboard.Conn(nil), g.conns...), append([]string(nil), g.remedies...)
}

// fakeConsole records the lines published per team.
type fakeConsole struct {
	mu    sync.Mutex
	lines map[int][]scoreboard.TickerItem
}

func (c *fakeConsole) PublishLog(team int, it scoreboard.TickerItem) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.lines == nil {
		c.lines = map[int][]scoreboard.TickerItem{}
	}
	c.lines[team] = append(c.lines[team], it)
}

func (c *fakeConsole) get(team int) []scoreboard.TickerItem {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]scoreboard.TickerItem(nil), c.lines[team]...)
}

const (
	gwA01   = "cyrange-t-gateway-a01"
	gwD01   = "cyrange-t-defencegw-d01"
	mailD01 = "cyrange-t-mail-d01"
)

var (
	mailAddr  = netip.MustParseAddr("127.0.20.10")
	mailTeamA = netip.MustParseAddr("10.77.1.10") // the same target on team a01's network
)

// testPlan is one attack team's gateway and the defence's mail target.
func testPlan() *cyberrange.Plan {
	return &cyberrange.Plan{Exercise: "t", Containers: []cyberrange.Container{
		{Name: gwA01, Kind: cyberrange.KindGateway, Team: 0, Service: -1},
		{Name: mailD01, Kind: cyberrange.KindTarget, Team: 3, Service: 0,
			Labels:   map[string]string{cyberrange.LabelService: "mail"},
			Networks: []cyberrange.Attachment{{Network: "replica", Address: mailAddr}, {Network: "team-a01", Address: mailTeamA}}},
		{Name: "cyrange-t-checker", Kind: cyberrange.KindChecker, Team: -1, Service: -1},
		{Name: gwD01, Kind: cyberrange.KindDefenceGateway, Team: 3, Service: -1},
	}}
}

func telemetry(t *testing.T, c gateway.Conn) string {
	t.Helper()
	b, err := gateway.MarshalTelemetry(c)
	if err != nil {
		t.Fatal(err)
	}
	return string(b) + "\n"
}

var base = time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)

func at(sec int) time.Time { return base.Add(time.Duration(sec) * time.Second) }

func targetLog(sec int, proto, action, src string, extra ...any) string {
	m := map[string]any{"time": at(sec).Format(time.RFC3339Nano), "level": "INFO", "msg": action + " happened",
		"proto": proto, "src": src, "user": "", "action": action}
	for i := 0; i+1 < len(extra); i += 2 {
		m[extra[i].(string)] = extra[i+1]
	}
	b, _ := json.Marshal(m)
	return string(b) + "\n"
}

type env struct {
	logs    *fakeLogs
	game    *fakeGame
	console *fakeConsole
	c       *Collector
	cancel  context.CancelFunc
	done    chan struct{}
}

func start(t *testing.T, logs *fakeLogs, game *fakeGame, now time.Time) *env {
	t.Helper()
	e := &env{logs: logs, game: game, console: &fakeConsole{}, done: make(chan struct{})}
	c, err := New(Options{Plan: testPlan(), Logs: logs, Game: game, Console: e.console, Retry: 5 * time.Millisecond,
		Readers: map[int]LineReader{0: mailtarget.New()},
		Now:     func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	e.c = c
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	go func() {
		defer close(e.done)
		_ = c.Run(ctx)
	}()
	t.Cleanup(e.stop)
	return e
}

func (e *env) stop() {
	e.cancel()
	<-e.done
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(30 * time.Second); time.Now().Before(end); time.Sleep(2 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

func TestGatewayTelemetry(t *testing.T) {
	logs := newFakeLogs()
	logs.write(gwA01, "time=... level=INFO msg=\"gateway listening\"\n")
	logs.write(gwA01, telemetry(t, gateway.Conn{Team: "Đội 1", Target: mailAddr, Port: 143, Start: at(1), End: at(3),
		BytesUp: 120, BytesDown: 4000}))
	logs.write(gwA01, telemetry(t, gateway.Conn{Team: "Đội 1", Target: netip.MustParseAddr("10.77.1.10"), Port: 25,
		Start: at(2), End: at(2)}))
	logs.write(gwA01, telemetry(t, gateway.Conn{Team: "Đội 1", Target: netip.MustParseAddr("127.0.30.1"),
		Dialed: netip.AddrPortFrom(mailTeamA, 80), Port: 80, Start: at(4), End: at(5)}))
	logs.write(gwA01, telemetry(t, gateway.Conn{Team: "Đội 1", Target: mailAddr, Port: 8025, Start: at(6), End: at(6), Refused: true}))
	logs.write(gwA01, telemetry(t, gateway.Conn{Team: "Đội 1", Target: mailAddr, Port: 25, Start: at(7), End: at(7), Error: "refused"}))
	logs.write(gwA01, telemetry(t, gateway.Conn{Team: "Đội 1", Target: netip.MustParseAddr("127.0.99.9"), Port: 25, Start: at(8), End: at(8)}))
	logs.write(gwA01, `{"telemetry":{"start":"yesterday"}}`+"\n")
	logs.write(gwA01, `{"telemetry":`+strings.Repeat("x", maxLine+10)+"\n")
	logs.write(mailD01, targetLog(0, "system", "start", ""))
	game := &fakeGame{}
	e := start(t, logs, game, at(0))
	waitFor(t, "the telemetry", func() bool { return e.c.Stats().Conns == 3 && e.c.Stats().Malformed == 1 })
	conns, _ := game.snapshot()
	want := []scoreboard.Conn{
		{Team: 0, Owner: 3, Service: 0, Start: at(1), End: at(3), BytesUp: 120, BytesDown: 4000, Source: gwA01},
		{Team: 0, Owner: 3, Service: 0, Start: at(2), End: at(2), Source: gwA01},
		{Team: 0, Owner: 3, Service: 0, Start: at(4), End: at(5), Source: gwA01},
	}
	for i := range want {
		if !conns[i].Start.Equal(want[i].Start) || !conns[i].End.Equal(want[i].End) {
			t.Fatalf("conn %d: %+v, want %+v", i, conns[i], want[i])
		}
		conns[i].Start, conns[i].End = want[i].Start, want[i].End
		if conns[i] != want[i] {
			t.Fatalf("conn %d: %+v, want %+v", i, conns[i], want[i])
		}
	}
	st := e.c.Stats()
	if st.Refused != 2 || st.Unmapped != 1 || st.Long != 1 || st.Lines != 10 {
		t.Fatalf("stats %+v", st)
	}

	// The gateway restarts: what was read is not read again, what comes
	// after is.
	logs.restart(gwA01)
	logs.write(gwA01, telemetry(t, gateway.Conn{Team: "Đội 1", Target: mailAddr, Port: 143, Start: at(20), End: at(21)}))
	waitFor(t, "the line after the restart", func() bool { return e.c.Stats().Conns == 4 })
	if e.c.Stats().Opens < 3 {
		t.Fatalf("opens %d", e.c.Stats().Opens)
	}
	// A recreated container's log starts over: all of it is new.
	logs.replace(gwA01, telemetry(t, gateway.Conn{Team: "Đội 1", Target: mailAddr, Port: 143, Start: at(30), End: at(31)}))
	waitFor(t, "the new log", func() bool { return e.c.Stats().Conns == 5 })
	e.stop()
	conns, _ = game.snapshot()
	if len(conns) != 5 || !conns[4].Start.Equal(at(30)) {
		t.Fatalf("after restarts: %+v", conns)
	}
}

// TestRestartSkipsWhatTheLogCounts: after a restart of the game, telemetry
// that ended before the latest summary and remedies up to the latest one
// are skipped, and old log lines are not streamed again.
func TestRestartSkipsWhatTheLogCounts(t *testing.T) {
	logs := newFakeLogs()
	logs.write(gwA01, telemetry(t, gateway.Conn{Team: "Đội 1", Target: mailAddr, Start: at(1), End: at(2)}))
	logs.write(gwA01, telemetry(t, gateway.Conn{Team: "Đội 1", Target: mailAddr, Start: at(5), End: at(11)}))
	logs.write(mailD01, targetLog(3, "admin", "settings", "127.0.20.1:3333", "changes", "vrfy: true -> false"))
	logs.write(mailD01, targetLog(12, "admin", "settings", "127.0.20.1:3333", "changes", "lockout: false -> true"))
	logs.write(mailD01, targetLog(13, "imap", "login", "127.0.10.2:4000"))
	game := &fakeGame{telSince: at(10), remSince: at(3)}
	e := start(t, logs, game, at(13))
	waitFor(t, "the logs", func() bool { return e.c.Stats().Conns == 1 && e.c.Stats().Remedies == 1 })
	waitFor(t, "the stream", func() bool { return len(e.console.get(3)) == 1 })
	e.stop()
	conns, rems := game.snapshot()
	if len(conns) != 1 || !conns[0].End.Equal(at(11)) || e.c.Stats().Stale != 1 {
		t.Fatalf("conns %+v, stats %+v", conns, e.c.Stats())
	}
	if len(rems) != 1 || !strings.Contains(rems[0], "lockout") {
		t.Fatalf("remedies %v", rems)
	}
	if l := e.console.get(3); l[0].Source != "127.0.10.2" {
		t.Fatalf("streamed %+v", l)
	}
}

func TestTargetLogs(t *testing.T) {
	logs := newFakeLogs()
	logs.write(gwA01, "")
	login := targetLog(1, "imap", "login", "127.0.10.2:40112", "result", "fail")
	logs.write(mailD01, login)
	// What the target prints on stderr may be secret: never streamed.
	logs.write(mailD01, "mailserver: admin console operator password: hunter2-hunter2\n")
	logs.write(mailD01, `{"msg":"not an action"}`+"\n")
	logs.write(mailD01, targetLog(2, "admin", "settings", "127.0.20.1:5000", "changes", "lockout: false -> true"))
	logs.write(mailD01, targetLog(3, "admin", "settings", "127.0.20.1:5000", "changes", ""))
	logs.write(mailD01, targetLog(4, "admin", "reset_password", "127.0.20.1:5000", "target", "giamdoc@tiengiang.gov.vn"))
	logs.write(mailD01, targetLog(5, "http", "admin_password", "127.0.10.2:5000", "target", "admin"))
	logs.write(mailD01, targetLog(6, "admin", "admin_password", "[::ffff:127.0.20.1]:5000", "target", "admin"))
	game := &fakeGame{}
	e := start(t, logs, game, at(0))
	waitFor(t, "the target's lines", func() bool { return len(e.console.get(3)) == 6 })
	waitFor(t, "the remedies", func() bool { return e.c.Stats().Remedies == 3 })
	lines := e.console.get(3)
	if lines[0].Service != "mail" || lines[0].Source != "127.0.10.2" || lines[0].Text != strings.TrimSpace(login) ||
		!lines[0].Time.Equal(at(1)) || lines[5].Source != "127.0.20.1" {
		t.Fatalf("streamed %+v", lines)
	}
	for _, l := range lines {
		if strings.Contains(l.Text, "hunter2") {
			t.Fatal("stderr reached the console")
		}
	}
	_, rems := game.snapshot()
	want := []string{
		"3/0 2026-11-23T08:00:02Z settings: lockout: false -> true",
		"3/0 2026-11-23T08:00:04Z reset_password: giamdoc@tiengiang.gov.vn",
		"3/0 2026-11-23T08:00:06Z admin_password: admin",
	}
	if strings.Join(rems, "\n") != strings.Join(want, "\n") {
		t.Fatalf("remedies:\n%s\nwant:\n%s", strings.Join(rems, "\n"), strings.Join(want, "\n"))
	}
	if st := e.c.Stats(); st.Unstructured != 2 || st.LogLines != 6 {
		t.Fatalf("stats %+v", st)
	}
}

// FuzzTargetLine: whatever a target prints, the parser either refuses it
// or returns a line with a message and an action, whose source, if any, is
// an address, and whose remedy only comes from the admin port.
func FuzzTargetLine(f *testing.F) {
	f.Add([]byte(targetLog(1, "imap", "login", "127.0.10.2:40112")))
	f.Add([]byte(targetLog(2, "admin", "settings", "127.0.20.1:5000", "changes", "lockout: false -> true")))
	f.Add([]byte(`{"msg":"x","action":"y","src":"[::1]:80","time":"bad"}`))
	f.Add([]byte("mailserver: admin console operator password: x"))
	f.Fuzz(func(t *testing.T, b []byte) {
		l, ok := mailtarget.New().ReadLine(b)
		if !ok {
			return
		}
		if l.Msg == "" || l.Action == "" {
			t.Fatalf("accepted %q as %+v", b, l)
		}
		if s := l.Source(); s != "" && strings.ContainsAny(s, "\n\r") {
			t.Fatalf("source %q", s)
		}
		if l.Remedy != "" && l.Proto != "admin" {
			t.Fatalf("a remedy from %q", l.Proto)
		}
	})
}

// TestDefenceGatewayIsTheDefencesOwn: the defence working on its own
// replica through its gateway (the admin console, its services) is
// counted, and never reaches the game as anyone's connection.
func TestDefenceGatewayIsTheDefencesOwn(t *testing.T) {
	logs := newFakeLogs()
	logs.write(gwD01, telemetry(t, gateway.Conn{Team: "Đội phòng thủ", Target: mailAddr, Port: 8025, Start: at(1), End: at(2)}))
	logs.write(gwD01, telemetry(t, gateway.Conn{Team: "Đội phòng thủ", Target: mailAddr, Port: 143, Start: at(3), End: at(4)}))
	logs.write(gwD01, telemetry(t, gateway.Conn{Team: "Đội phòng thủ", Target: mailAddr, Port: 25, Start: at(5), End: at(5), Refused: true}))
	logs.write(gwA01, telemetry(t, gateway.Conn{Team: "Đội 1", Target: mailAddr, Port: 143, Start: at(6), End: at(7)}))
	game := &fakeGame{}
	e := start(t, logs, game, at(0))
	waitFor(t, "the records", func() bool { return e.c.Stats().Defence == 2 && e.c.Stats().Conns == 1 })
	conns, _ := game.snapshot()
	if len(conns) != 1 || conns[0].Team != 0 || conns[0].Source != gwA01 {
		t.Fatalf("the game got %+v", conns)
	}
}
