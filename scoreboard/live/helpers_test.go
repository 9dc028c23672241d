package live

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"

	"github.com/cyrange/cyrange/scoreboard"
)

func TestMain(m *testing.M) {
	if os.Getenv(childURLEnv) != "" {
		// Re-executed by BenchmarkViewerMemory as the viewers' process.
		os.Exit(runViewerChild())
	}
	goleak.VerifyTestMain(m)
}

// fakeSource is a board the test edits by hand. Views are handed out as
// deep copies, as the game does.
type fakeSource struct {
	mu     sync.Mutex
	seq    uint64
	frozen bool
	pub    scoreboard.View
	full   scoreboard.View
	ls     []scoreboard.Listener
}

func newFakeSource() *fakeSource {
	ends := time.Date(2026, 11, 23, 8, 3, 0, 0, time.UTC)
	v := scoreboard.View{Phase: "running", Tick: 3, TickEndsAt: &ends,
		Teams: []scoreboard.TeamInfo{{Name: "alpha", Role: scoreboard.RoleAttack},
			{Name: "beta", Role: scoreboard.RoleAttack}, {Name: "gamma", Role: scoreboard.RoleDefence}},
		Services: []scoreboard.ServiceInfo{{Name: "mail", Weight: 1, Stores: []string{"inbox"}}},
		Standings: []scoreboard.Standing{
			{Team: "alpha", TeamID: 0, Role: scoreboard.RoleAttack, Rank: 1},
			{Team: "beta", TeamID: 1, Role: scoreboard.RoleAttack, Rank: 2},
			{Team: "gamma", TeamID: 2, Role: scoreboard.RoleDefence, Rank: 1, SLA: 30, Defence: 30, Total: 30},
		},
		Status: map[string]map[string]scoreboard.Status{"gamma": {"mail": scoreboard.StatusOK}},
		Recent: []scoreboard.TickerItem{{Seq: 1, Kind: "phase", Text: "start"}},
	}
	v.Seq = 1
	return &fakeSource{seq: 1, pub: cloneView(v), full: cloneView(v)}
}

func cloneView(v scoreboard.View) scoreboard.View {
	out := v
	if v.TickEndsAt != nil {
		t := *v.TickEndsAt
		out.TickEndsAt = &t
	}
	out.Teams = append([]scoreboard.TeamInfo(nil), v.Teams...)
	out.Services = append([]scoreboard.ServiceInfo(nil), v.Services...)
	out.Standings = append([]scoreboard.Standing(nil), v.Standings...)
	out.Recent = append([]scoreboard.TickerItem(nil), v.Recent...)
	out.Status = map[string]map[string]scoreboard.Status{}
	for t, row := range v.Status {
		out.Status[t] = map[string]scoreboard.Status{}
		for s, st := range row {
			out.Status[t][s] = st
		}
	}
	return out
}

func (f *fakeSource) PublicView() scoreboard.View {
	f.mu.Lock()
	defer f.mu.Unlock()
	return cloneView(f.pub)
}

func (f *fakeSource) FullView() scoreboard.View {
	f.mu.Lock()
	defer f.mu.Unlock()
	return cloneView(f.full)
}

func (f *fakeSource) Subscribe(l scoreboard.Listener) {
	f.mu.Lock()
	f.ls = append(f.ls, l)
	f.mu.Unlock()
}

// commit records one event: edit changes the full board, and the public
// one unless it is frozen (tick and phase events change it even then); items join the tickers (only phase items reach
// a frozen public ticker), then the listeners hear of it.
func (f *fakeSource) commit(ev scoreboard.Event, edit func(*scoreboard.View), items ...scoreboard.TickerItem) uint64 {
	f.mu.Lock()
	f.seq++
	ev.Seq = f.seq
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	for i := range items {
		items[i].Seq = f.seq
		items[i].Time = ev.Time
	}
	if ev.Kind == scoreboard.KindPhaseChanged && ev.Text == scoreboard.ActFreeze {
		f.frozen = true
	}
	for _, v := range []*scoreboard.View{&f.full, &f.pub} {
		v.Seq = f.seq
		public := v == &f.pub
		// A frozen board still shows the clock.
		clock := ev.Kind == scoreboard.KindTickStarted || ev.Kind == scoreboard.KindPhaseChanged
		if edit != nil && (!public || !f.frozen || clock) {
			edit(v)
		}
		for _, it := range items {
			if !public || !f.frozen || it.Kind == "phase" {
				v.Recent = append(v.Recent, it)
			}
		}
		if ev.Kind == scoreboard.KindPhaseChanged {
			v.Frozen = f.frozen
		}
	}
	seq := f.seq
	ls := f.ls
	f.mu.Unlock()
	for _, l := range ls {
		l([]scoreboard.Event{ev}, []scoreboard.Applied{{Items: items}})
	}
	return seq
}

// points edits a board: team gains attack points.
func points(team int, p float64) func(*scoreboard.View) {
	return func(v *scoreboard.View) {
		for i := range v.Standings {
			if v.Standings[i].TeamID == team {
				v.Standings[i].Attack += p
				v.Standings[i].Total += p
				v.Standings[i].Captures++
			}
		}
	}
}

func status(team, svc string, st scoreboard.Status) func(*scoreboard.View) {
	return func(v *scoreboard.View) {
		if v.Status[team] == nil {
			v.Status[team] = map[string]scoreboard.Status{}
		}
		v.Status[team][svc] = st
	}
}

func nextTick(v *scoreboard.View) {
	v.Tick++
	t := v.TickEndsAt.Add(time.Minute)
	v.TickEndsAt = &t
}

func capture(team, target string, p float64) scoreboard.TickerItem {
	return scoreboard.TickerItem{Kind: "capture", Team: team, Target: target, Service: "mail", Points: p}
}

// env is a hub on a test server.
type env struct {
	t   *testing.T
	hub *Hub
	srv *httptest.Server
	ws  string
}

func newEnv(t *testing.T, src Source, o Options) *env {
	t.Helper()
	o.Source = src
	if o.Interval == 0 {
		o.Interval = 10 * time.Millisecond
	}
	h := NewHub(o)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	srv := httptest.NewServer(routes(h))
	e := &env{t: t, hub: h, srv: srv, ws: "ws" + strings.TrimPrefix(srv.URL, "http")}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		srv.Close()
	})
	return e
}

func routes(h *Hub) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/api/v1/live", h.ServePublic)
	mux.HandleFunc("/api/v1/admin/live", h.ServeAdmin)
	mux.HandleFunc("/api/v1/team/live", func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.Atoi(r.URL.Query().Get("team"))
		if err != nil {
			http.Error(w, "team?", http.StatusBadRequest)
			return
		}
		h.ServeTeam(w, r, n)
	})
	return mux
}

// tclient is a test's stream client.
type tclient struct {
	t    *testing.T
	conn *websocket.Conn
	// raw keeps every message received, for scans.
	raw [][]byte
}

func (e *env) dial(path string, hdr http.Header) *tclient {
	e.t.Helper()
	c, resp, err := websocket.DefaultDialer.Dial(e.ws+path, hdr)
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	if err != nil {
		e.t.Fatalf("dialing %s: %v", path, err)
	}
	e.t.Cleanup(func() { _ = c.Close() })
	return &tclient{t: e.t, conn: c}
}

// next returns the next message, failing the test after 5s.
func (c *tclient) next() Message {
	c.t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	_, b, err := c.conn.ReadMessage()
	if err != nil {
		c.t.Fatalf("reading: %v", err)
	}
	c.raw = append(c.raw, b)
	var m Message
	if err := json.Unmarshal(b, &m); err != nil {
		c.t.Fatalf("decoding %s: %v", b, err)
	}
	return m
}

// until reads messages until ok says stop, and returns them all.
func (c *tclient) until(ok func(Message) bool) []Message {
	c.t.Helper()
	var out []Message
	for {
		m := c.next()
		out = append(out, m)
		if ok(m) {
			return out
		}
	}
}

func hasEvent(kind, text string) func(Message) bool {
	return func(m Message) bool {
		for _, it := range m.Events {
			if it.Kind == kind && (text == "" || it.Text == text) {
				return true
			}
		}
		return false
	}
}

func standingOf(ss []scoreboard.Standing, team int) (scoreboard.Standing, bool) {
	for _, s := range ss {
		if s.TeamID == team {
			return s, true
		}
	}
	return scoreboard.Standing{}, false
}

// waitFor polls cond for up to 30 s, a hang guard.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(30 * time.Second); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

func newServer(t *testing.T, h *Hub) *httptest.Server {
	srv := httptest.NewServer(routes(h))
	t.Cleanup(srv.Close)
	return srv
}
