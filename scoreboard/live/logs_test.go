package live

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cyrange/cyrange/scoreboard"
)

func logLine(i int) scoreboard.TickerItem {
	return scoreboard.TickerItem{Time: time.Date(2026, 11, 23, 8, 0, i, 0, time.UTC), Service: "mail",
		Source: "127.0.10.2", Text: fmt.Sprintf(`{"msg":"imap login failed","n":%d}`, i)}
}

// TestLogLinesReachTheirTeamOnly: a target's log lines go to the private
// stream of the team that owns it, and to nobody else.
func TestLogLinesReachTheirTeamOnly(t *testing.T) {
	src := newFakeSource()
	e := newEnv(t, src, Options{})
	def := e.dial("/api/v1/team/live?team=2", nil)
	def.next()
	other := e.dial("/api/v1/team/live?team=0", nil)
	other.next()
	pub := e.dial("/api/v1/live", nil)
	pub.next()
	admin := e.dial("/api/v1/admin/live", nil)
	admin.next()
	for i := range 3 {
		e.hub.PublishLog(2, logLine(i))
	}
	var got []scoreboard.TickerItem
	for len(got) < 3 {
		m := def.next()
		if m.Type != TypeEvent || m.LogsDropped != 0 {
			t.Fatalf("message %+v", m)
		}
		got = append(got, m.Events...)
	}
	for i, it := range got {
		want := logLine(i)
		want.Kind = KindLog
		if it != want {
			t.Fatalf("line %d: %+v, want %+v", i, it, want)
		}
	}
	// A ticker item afterwards reaches everyone; nobody else got a line
	// before it.
	src.commit(scoreboard.Event{Kind: scoreboard.KindPhaseChanged, Text: "pause"}, nil, scoreboard.TickerItem{Kind: "phase", Text: "pause"})
	for _, c := range []*tclient{other, pub, admin} {
		for _, m := range c.until(hasEvent("phase", "pause")) {
			if hasEvent(KindLog, "")(m) {
				t.Fatalf("a log line reached another stream: %+v", m)
			}
		}
	}
}

// TestSlowConsoleDropsOldestLines: lines that come faster than the stream
// goes are dropped oldest first and counted; publishing never waits.
func TestSlowConsoleDropsOldestLines(t *testing.T) {
	src := newFakeSource()
	var dropped atomic.Int64
	e := newEnv(t, src, Options{LogQueue: 8, Interval: time.Second,
		Observe: Observer{LogsDropped: func(n int) { dropped.Add(int64(n)) }}})
	def := e.dial("/api/v1/team/live?team=2", nil)
	def.next()
	// A lone line leaves at once; the burst after it waits out the
	// coalescing interval in a queue of 8.
	e.hub.PublishLog(2, logLine(0))
	if m := def.next(); len(m.Events) != 1 {
		t.Fatalf("leading edge: %+v", m)
	}
	for i := 1; i <= 100; i++ {
		e.hub.PublishLog(2, logLine(i%60))
	}
	m := def.next()
	if len(m.Events) != 8 || m.LogsDropped != 92 || m.Events[0].Text != logLine(93%60).Text ||
		m.Events[7].Text != logLine(100%60).Text {
		t.Fatalf("after the burst: %d lines, %d dropped: %+v", len(m.Events), m.LogsDropped, m.Events)
	}
	if dropped.Load() != 92 {
		t.Fatalf("observer heard %d drops", dropped.Load())
	}
}
