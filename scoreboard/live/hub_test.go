package live

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/cyrange/cyrange/scoreboard"
)

func TestSnapshotFirst(t *testing.T) {
	src := newFakeSource()
	e := newEnv(t, src, Options{})
	keys := []string{"type", "seq", "phase", "tick", "tickEndsAt", "frozen", "teams", "services", "standings", "status", "recent"}
	for _, tc := range []struct {
		desc, path string
		team       string
		standings  int
	}{
		{desc: "public", path: "/api/v1/live", standings: 3},
		{desc: "admin", path: "/api/v1/admin/live", standings: 3},
		{desc: "team", path: "/api/v1/team/live?team=2", team: "gamma", standings: 1},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			c := e.dial(tc.path, nil)
			m := c.next()
			var raw map[string]json.RawMessage
			if err := json.Unmarshal(c.raw[0], &raw); err != nil {
				t.Fatal(err)
			}
			for _, k := range keys {
				if _, ok := raw[k]; !ok {
					t.Errorf("snapshot lacks %q: %s", k, c.raw[0])
				}
			}
			if m.Type != TypeSnapshot || m.Clock == nil || m.Phase != "running" || m.Tick != 3 || m.TickEndsAt == nil {
				t.Fatalf("snapshot = %+v", m)
			}
			if len(m.Teams) != 3 || len(m.Services) != 1 || len(m.Standings) != tc.standings || m.Team != tc.team {
				t.Fatalf("snapshot has %d teams, %d services, %d standings, team %q",
					len(m.Teams), len(m.Services), len(m.Standings), m.Team)
			}
			if m.Status["gamma"]["mail"] != scoreboard.StatusOK || len(m.Recent) != 1 {
				t.Fatalf("snapshot status %v recent %v", m.Status, m.Recent)
			}
		})
	}
}

func TestFramesCarryOnlyChanges(t *testing.T) {
	src := newFakeSource()
	e := newEnv(t, src, Options{})
	c := e.dial("/api/v1/live", nil)
	snap := c.next()
	before := time.Now().UnixNano()

	src.commit(scoreboard.Event{Kind: scoreboard.KindCheckResult, Owner: 2},
		func(v *scoreboard.View) { points(1, 10)(v); status("gamma", "mail", scoreboard.StatusOffline)(v) })
	m := c.next()
	if m.Type != TypeDelta || m.Seq != snap.Seq+1 || m.Clock != nil || len(m.Events) != 0 {
		t.Fatalf("delta = %+v", m)
	}
	if m.At < before || m.At > time.Now().UnixNano() {
		t.Fatalf("at %d not the time of the change", m.At)
	}
	if len(m.Standings) != 1 || m.Standings[0].TeamID != 1 || m.Standings[0].Attack != 10 {
		t.Fatalf("standings = %+v, want beta's alone", m.Standings)
	}
	if len(m.Status) != 1 || len(m.Status["gamma"]) != 1 || m.Status["gamma"]["mail"] != scoreboard.StatusOffline {
		t.Fatalf("status = %v", m.Status)
	}

	src.commit(scoreboard.Event{Kind: scoreboard.KindPhaseChanged}, nil, scoreboard.TickerItem{Kind: "phase", Text: "pause"})
	m = c.next()
	if m.Type != TypeEvent || m.Seq != snap.Seq+2 || len(m.Events) != 1 || m.Events[0].Text != "pause" ||
		m.Standings != nil || m.Status != nil {
		t.Fatalf("event = %+v", m)
	}

	src.commit(scoreboard.Event{Kind: scoreboard.KindTickStarted}, nextTick)
	m = c.next()
	if m.Type != TypeTick || m.Seq != snap.Seq+3 || m.Clock == nil || m.Tick != 4 || m.Phase != "running" ||
		m.TickEndsAt == nil || !m.TickEndsAt.Equal(snap.TickEndsAt.Add(time.Minute)) || m.Standings != nil {
		t.Fatalf("tick = %+v", m)
	}
	if !strings.Contains(string(c.raw[len(c.raw)-1]), `"frozen":false`) {
		t.Fatalf("tick message lacks frozen: %s", c.raw[len(c.raw)-1])
	}

	// A change nobody can see sends nothing: the next message is the
	// one after it.
	src.commit(scoreboard.Event{Kind: scoreboard.KindFlagIssued}, nil)
	src.commit(scoreboard.Event{Kind: scoreboard.KindFlagCaptured}, points(0, 1))
	m = c.next()
	if m.Type != TypeDelta || m.Seq != snap.Seq+4 || len(m.Standings) != 1 || m.Standings[0].TeamID != 0 {
		t.Fatalf("after an invisible change: %+v", m)
	}
}

func TestCoalescing(t *testing.T) {
	src := newFakeSource()
	e := newEnv(t, src, Options{Interval: 300 * time.Millisecond})
	pub := e.dial("/api/v1/live", nil)
	adm := e.dial("/api/v1/admin/live", nil)
	snaps := []Message{pub.next(), adm.next()}
	const n = 50
	for range n {
		src.commit(scoreboard.Event{Kind: scoreboard.KindFlagCaptured}, points(0, 1), capture("alpha", "gamma", 1))
	}
	for i, c := range []*tclient{pub, adm} {
		// The admin gets every item; the public at most the newest
		// 32 per message, with the others counted.
		var events, skipped int
		ms := c.until(func(m Message) bool {
			events += len(m.Events)
			skipped += m.Skipped
			if i == 0 && len(m.Events) > publicEvents {
				t.Fatalf("a public message with %d items", len(m.Events))
			}
			return events+skipped == n
		})
		if i == 1 && skipped != 0 {
			t.Fatalf("the organizer missed %d items", skipped)
		}
		final := false
		for _, m := range ms {
			if s, ok := standingOf(m.Standings, 0); ok && s.Attack == n {
				final = true
			}
		}
		if !final {
			t.Fatalf("the last ticker item came before the last standing: %+v", ms)
		}
		// The first change may leave at once; all the others share the
		// interval that follows it.
		if len(ms) > 2 {
			t.Fatalf("%d changes within one interval sent %d messages, want at most 2", n, len(ms))
		}
		for j, m := range ms {
			if m.Seq != snaps[i].Seq+uint64(j)+1 {
				t.Fatalf("message %d has seq %d after snapshot %d", j, m.Seq, snaps[i].Seq)
			}
		}
	}
}

func TestSeqIncrementsByOne(t *testing.T) {
	src := newFakeSource()
	e := newEnv(t, src, Options{Interval: 5 * time.Millisecond})
	c := e.dial("/api/v1/live", nil)
	snap := c.next()
	const n = 40
	var late *tclient
	var lateSnap Message
	for i := range n {
		src.commit(scoreboard.Event{Kind: scoreboard.KindFlagCaptured}, points(1, 1))
		time.Sleep(time.Duration(i%4) * 3 * time.Millisecond)
		if i == n/2 {
			late = e.dial("/api/v1/live", nil)
			lateSnap = late.next()
		}
	}
	check := func(c *tclient, from uint64) uint64 {
		t.Helper()
		seq := from
		c.until(func(m Message) bool {
			if m.Seq != seq+1 {
				t.Fatalf("seq %d after %d", m.Seq, seq)
			}
			seq = m.Seq
			s, ok := standingOf(m.Standings, 1)
			return ok && s.Attack == n
		})
		return seq
	}
	last := check(c, snap.Seq)
	if lateLast := check(late, lateSnap.Seq); lateLast != last {
		t.Fatalf("a viewer that joined later ends at seq %d, the first at %d", lateLast, last)
	}
	if lateSnap.Seq <= snap.Seq {
		t.Fatalf("late snapshot seq %d, first %d", lateSnap.Seq, snap.Seq)
	}
}

// smallBufferDialer reads into a 4 KiB socket buffer, so a viewer that does
// not read is soon blocked.
func smallBufferDialer() *websocket.Dialer {
	nd := &net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
		return errors.Join(err, serr)
	}}
	return &websocket.Dialer{NetDialContext: nd.DialContext, HandshakeTimeout: 5 * time.Second}
}

func TestSlowViewerIsDropped(t *testing.T) {
	src := newFakeSource()
	var dropped atomic.Int32
	var mu sync.Mutex
	viewers := map[string]int{}
	e := newEnv(t, src, Options{Interval: time.Millisecond, QueueLen: 4, Observe: Observer{
		Dropped: func(string) { dropped.Add(1) },
		Viewers: func(a string, n int) { mu.Lock(); viewers[a] = n; mu.Unlock() },
	}})
	slow, resp, err := smallBufferDialer().Dial(e.ws+"/api/v1/live", nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	defer slow.Close()
	fast := e.dial("/api/v1/live", nil)
	fast.next()
	waitFor(t, "two viewers", func() bool { mu.Lock(); defer mu.Unlock(); return viewers["public"] == 2 })

	big := strings.Repeat("x", 16<<10)
	items := func() []scoreboard.TickerItem {
		out := make([]scoreboard.TickerItem, 8)
		for i := range out {
			out[i] = scoreboard.TickerItem{Kind: "phase", Text: big}
		}
		return out
	}
	// Lockstep with the fast viewer: it is never behind, while the slow
	// one falls further behind with every frame of 128 KiB.
	frames := 0
	for dropped.Load() == 0 {
		if frames++; frames > 400 {
			t.Fatal("the slow viewer was never dropped")
		}
		seq := src.commit(scoreboard.Event{Kind: scoreboard.KindPhaseChanged}, nil, items()...)
		fast.until(func(m Message) bool { return len(m.Events) > 0 && m.Events[len(m.Events)-1].Seq == seq })
	}
	t.Logf("dropped after %d frames", frames)
	waitFor(t, "one viewer left", func() bool { mu.Lock(); defer mu.Unlock(); return viewers["public"] == 1 })
	// The fast viewer still gets everything, in sequence.
	last := fast.raw[len(fast.raw)-1]
	var prev Message
	_ = json.Unmarshal(last, &prev)
	for i := range 5 {
		src.commit(scoreboard.Event{Kind: scoreboard.KindFlagCaptured}, points(0, 1))
		m := fast.next()
		if m.Seq != prev.Seq+1 || m.Type != TypeDelta {
			t.Fatalf("after the drop, message %d: %+v (previous seq %d)", i, m, prev.Seq)
		}
		prev = m
	}
	if dropped.Load() != 1 {
		t.Fatalf("%d viewers dropped, want 1", dropped.Load())
	}
	// The slow viewer's connection is gone: draining it ends in an error.
	_ = slow.SetReadDeadline(time.Now().Add(30 * time.Second))
	for {
		if _, _, err := slow.ReadMessage(); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatal("the slow viewer's connection is still open")
			}
			break
		}
	}
}

func TestOrigin(t *testing.T) {
	src := newFakeSource()
	e := newEnv(t, src, Options{AllowedOrigins: []string{"https://board.example", "relay.example:8443"}})
	self := e.srv.URL
	for _, tc := range []struct {
		desc, origin string
		ok           bool
	}{
		{"no origin (not a browser)", "", true},
		{"same host", self, true},
		{"listed origin", "https://board.example", true},
		{"listed host", "https://relay.example:8443", true},
		{"listed origin, other scheme", "http://board.example", false},
		{"other host", "http://evil.example", false},
		{"same host name, other port", "http://127.0.0.1:1", false},
		{"null origin", "null", false},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			hdr := http.Header{}
			if tc.origin != "" {
				hdr.Set("Origin", tc.origin)
			}
			c, resp, err := websocket.DefaultDialer.Dial(e.ws+"/api/v1/live", hdr)
			if resp != nil && resp.Body != nil {
				_ = resp.Body.Close()
			}
			if tc.ok {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				_ = c.Close()
				return
			}
			if err == nil {
				_ = c.Close()
				t.Fatal("accepted")
			}
			if resp == nil || resp.StatusCode != http.StatusForbidden {
				t.Fatalf("refused with %v, want 403", resp)
			}
		})
	}
}

func TestFrozenPublicHasNoScoreChanges(t *testing.T) {
	src := newFakeSource()
	e := newEnv(t, src, Options{})
	pub := e.dial("/api/v1/live", nil)
	adm := e.dial("/api/v1/admin/live", nil)
	pub.next()
	adm.next()
	src.commit(scoreboard.Event{Kind: scoreboard.KindPhaseChanged, Text: scoreboard.ActFreeze}, nil,
		scoreboard.TickerItem{Kind: "phase", Text: scoreboard.ActFreeze})
	for _, c := range []*tclient{pub, adm} {
		m := c.next()
		if m.Type != TypeTick || !m.Frozen || !hasEvent("phase", "freeze")(m) {
			t.Fatalf("freeze message = %+v", m)
		}
	}
	src.commit(scoreboard.Event{Kind: scoreboard.KindFlagCaptured, Team: 0, Owner: 2}, points(0, 12), capture("alpha", "gamma", 12))
	src.commit(scoreboard.Event{Kind: scoreboard.KindCheckResult, Owner: 2}, status("gamma", "mail", scoreboard.StatusMumble),
		scoreboard.TickerItem{Kind: "service_down", Target: "gamma", Service: "mail"})
	// Ticker items come with or after the board they changed.
	am := adm.until(hasEvent("service_down", ""))
	sawStanding, sawCapture := false, false
	for _, m := range am {
		if s, ok := standingOf(m.Standings, 0); ok && s.Attack == 12 {
			sawStanding = true
		}
		sawCapture = sawCapture || hasEvent("capture", "")(m)
	}
	if !sawStanding || !sawCapture {
		t.Fatalf("the organizer did not see the capture: %+v", am)
	}
	// The clock still moves for everyone; nothing else may reach the
	// public before it.
	src.commit(scoreboard.Event{Kind: scoreboard.KindTickStarted}, nextTick)
	for _, m := range pub.until(func(m Message) bool { return m.Type == TypeTick }) {
		if m.Standings != nil || m.Status != nil || len(m.Events) != 0 || m.Skipped != 0 {
			t.Fatalf("frozen public stream carried %+v", m)
		}
	}
}

func TestTeamStreams(t *testing.T) {
	src := newFakeSource()
	e := newEnv(t, src, Options{})
	teams := make([]*tclient, 3)
	for i := range teams {
		teams[i] = e.dial("/api/v1/team/live?team="+string(rune('0'+i)), nil)
		if m := teams[i].next(); len(m.Standings) != 1 || m.Standings[0].TeamID != i {
			t.Fatalf("team %d snapshot standings %+v", i, m.Standings)
		}
	}
	pub := e.dial("/api/v1/live", nil)
	pub.next()
	src.commit(scoreboard.Event{Kind: scoreboard.KindFlagCaptured, Team: 0, Owner: 2},
		func(v *scoreboard.View) { points(0, 11)(v); points(2, -3)(v) }, capture("alpha", "gamma", 11))
	src.commit(scoreboard.Event{Kind: scoreboard.KindFlagCaptured, Team: 1, Owner: 2}, points(1, 7), capture("beta", "gamma", 7))
	src.commit(scoreboard.Event{Kind: scoreboard.KindCheckResult, Owner: 2, Team: -1}, status("gamma", "mail", scoreboard.StatusOffline),
		scoreboard.TickerItem{Kind: "service_down", Target: "gamma", Service: "mail", Text: "OFFLINE"})
	src.commit(scoreboard.Event{Kind: scoreboard.KindDetectionJudged, Team: 2, Code: scoreboard.VerdictFalse,
		Text: `{"verdict":"false_positive","points":-2.5,"attacker":"10.0.0.9","service":"mail"}`}, nil)
	src.commit(scoreboard.Event{Kind: scoreboard.KindPhaseChanged, Text: "pause"}, nil, scoreboard.TickerItem{Kind: "phase", Text: "pause"})

	want := []map[string]int{
		{"capture": 1, "phase": 1},
		{"capture": 1, "phase": 1},
		{"capture": 2, "service_down": 1, "detection": 1, "phase": 1},
	}
	for i, c := range teams {
		got := map[string]int{}
		for _, m := range c.until(hasEvent("phase", "pause")) {
			for _, s := range m.Standings {
				if s.TeamID != i {
					t.Fatalf("team %d got team %d's standing", i, s.TeamID)
				}
			}
			for team := range m.Status {
				if team != []string{"alpha", "beta", "gamma"}[i] {
					t.Fatalf("team %d got %s's status", i, team)
				}
			}
			for _, it := range m.Events {
				got[it.Kind]++
				if it.Kind == "capture" && i < 2 && it.Team != []string{"alpha", "beta"}[i] {
					t.Fatalf("team %d got %+v", i, it)
				}
				if it.Kind == "detection" && (it.Text != "false_positive" || it.Points != -2.5 || it.Team != "gamma" ||
					it.Service != "mail" || strings.Contains(it.Text, "10.0.0.9")) {
					t.Fatalf("verdict item %+v", it)
				}
			}
		}
		for k, n := range want[i] {
			if got[k] != n {
				t.Errorf("team %d got %d %s items, want %d (all: %v)", i, got[k], k, n, got)
			}
		}
		if len(got) != len(want[i]) {
			t.Errorf("team %d got items %v, want %v", i, got, want[i])
		}
	}
	for _, m := range pub.until(hasEvent("phase", "pause")) {
		if hasEvent("detection", "")(m) {
			t.Fatalf("the public saw a false positive verdict: %+v", m)
		}
	}
}

func TestUnknownTeamIsClosed(t *testing.T) {
	e := newEnv(t, newFakeSource(), Options{})
	c := e.dial("/api/v1/team/live?team=7", nil)
	_ = c.conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	_, _, err := c.conn.ReadMessage()
	if !websocket.IsCloseError(err, websocket.ClosePolicyViolation) {
		t.Fatalf("read = %v, want a policy violation close", err)
	}
}

func TestMaxViewers(t *testing.T) {
	e := newEnv(t, newFakeSource(), Options{MaxViewers: 1})
	c := e.dial("/api/v1/live", nil)
	c.next()
	_, resp, err := websocket.DefaultDialer.Dial(e.ws+"/api/v1/live", nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("second viewer: %v %v, want 503", err, resp)
	}
	_ = resp.Body.Close()
	_ = c.conn.Close()
	waitFor(t, "a free place", func() bool {
		c2, resp, err := websocket.DefaultDialer.Dial(e.ws+"/api/v1/live", nil)
		if resp != nil && resp.Body != nil {
			_ = resp.Body.Close()
		}
		if err != nil {
			return false
		}
		_ = c2.Close()
		return true
	})
}

func TestShutdownClosesViewers(t *testing.T) {
	src := newFakeSource()
	h := NewHub(Options{Source: src})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	e := &env{t: t, hub: h}
	e.srv = newServer(t, h)
	e.ws = "ws" + strings.TrimPrefix(e.srv.URL, "http")
	c := e.dial("/api/v1/live", nil)
	c.next()
	if err := h.Run(ctx); !errors.Is(err, scoreboard.ErrConflict) {
		t.Fatalf("second Run = %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	_ = c.conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	if _, _, err := c.conn.ReadMessage(); !websocket.IsCloseError(err, websocket.CloseGoingAway) {
		t.Fatalf("after shutdown: %v, want going away", err)
	}
	_, resp, err := websocket.DefaultDialer.Dial(e.ws+"/api/v1/live", nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("after shutdown: %v %v, want 503", err, resp)
	}
	_ = resp.Body.Close()
}

func TestViewers(t *testing.T) {
	src := newFakeSource()
	var fanouts atomic.Int32
	e := newEnv(t, src, Options{Interval: 20 * time.Millisecond, Observe: Observer{
		FanOut: func(d time.Duration) {
			if d >= 0 {
				fanouts.Add(1)
			}
		},
	}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	res, err := Viewers(ctx, ViewerOptions{URL: e.ws + "/api/v1/live", Viewers: 50, Duration: time.Second,
		Settle: 500 * time.Millisecond, Concurrency: 8,
		Ready: func(int) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				tk := time.NewTicker(50 * time.Millisecond)
				defer tk.Stop()
				for {
					select {
					case <-ctx.Done():
						return
					case <-tk.C:
						src.commit(scoreboard.Event{Kind: scoreboard.KindFlagCaptured}, points(0, 1))
					}
				}
			}()
		}})
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	if res.Viewers != 50 || res.Failed != 0 || res.Dropped != 0 || res.Gaps != 0 {
		t.Fatalf("result %+v", res)
	}
	if res.Frames < 5 || res.FullyReached != res.Frames || res.MinReach != 50 || res.Received != 50*res.Frames {
		t.Fatalf("frames %d, fully reached %d, min reach %d, received %d", res.Frames, res.FullyReached, res.MinReach, res.Received)
	}
	if res.P50 <= 0 || res.P99 < res.P50 || res.Max < res.P99 || len(res.PerFrame) != res.Frames {
		t.Fatalf("latencies %v %v %v, %d per-frame lines", res.P50, res.P99, res.Max, len(res.PerFrame))
	}
	if fanouts.Load() == 0 {
		t.Fatal("the fan-out hook was never called")
	}
}

func TestViewersRejectsBadOptions(t *testing.T) {
	if _, err := Viewers(context.Background(), ViewerOptions{}); err == nil {
		t.Fatal("no error without a URL")
	}
	res, err := Viewers(context.Background(), ViewerOptions{URL: "ws://127.0.0.1:1/api/v1/live", Viewers: 2, HandshakeTimeout: time.Second})
	if err == nil || res.Failed != 2 {
		t.Fatalf("unreachable server: %+v, %v", res, err)
	}
}
