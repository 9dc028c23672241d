package gateway

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// echoTarget echoes whatever its clients send until they close.
func echoTarget(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				io.Copy(c, c)
				c.Close()
			})
		}
	})
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return ln
}

// waitRecords waits until the recorded telemetry satisfies cond.
func waitRecords(t *testing.T, r *recorder, what string, cond func([]Conn) bool) []Conn {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		all := r.records()
		if cond(all) {
			return all
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; records: %+v", what, all)
		}
	}
}

func count(all []Conn, state string) int {
	n := 0
	for _, c := range all {
		if c.State == state {
			n++
		}
	}
	return n
}

// TestHeldConnectionRecordedWhileOpen: a connection the attacker holds
// open is in the telemetry from the moment it is made, and again at every
// interval while it lasts, with the bytes since its previous record, so
// that its records add up to what crossed it; heartbeats come in between,
// and every record leaves in the order of its time.
func TestHeldConnectionRecordedWhileOpen(t *testing.T) {
	tl := echoTarget(t)
	target := addrPortOf(tl.Addr())
	f := startGateway(t, Options{Allow: []Rule{AllowAddrPort(target)}, TelemetryInterval: 20 * time.Millisecond})
	c, err := f.dialer(t, short, token).Dial("tcp", target.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	echo := func(n int) {
		t.Helper()
		if _, err := c.Write(make([]byte, n)); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		if _, err := io.ReadFull(c, make([]byte, n)); err != nil {
			t.Fatal(err)
		}
	}
	echo(100)
	// Open, not closed: recorded all the same.
	waitRecords(t, f.rec, "the open record", func(all []Conn) bool { return count(all, "open") == 1 })
	waitRecords(t, f.rec, "interim records", func(all []Conn) bool { return count(all, "interim") >= 2 })
	echo(50)
	c.Close()
	closed := f.rec.next(t)
	if closed.State != "close" || closed.BytesUp != 150 || closed.BytesDown != 150 || closed.End.Before(closed.Start) {
		t.Fatalf("close record with the connection's total: %+v, want 150 bytes each way", closed)
	}
	var last time.Time
	for _, r := range f.rec.records() {
		if r.Run != closed.Run {
			t.Errorf("record of another run: %+v", r)
		}
		if r.At.Before(last) {
			t.Errorf("record %+v before the one it follows (%v)", r, last)
		}
		last = r.At
		switch r.State {
		case "heartbeat":
			if r.ID != 0 || !r.Start.IsZero() || r.Team != team {
				t.Errorf("heartbeat %+v", r)
			}
		case "open", "interim", "close":
			if r.ID != closed.ID || !r.Start.Equal(closed.Start) || r.Target != target.Addr() || r.Port != target.Port() ||
				(r.State != "close" && !r.End.IsZero()) || r.BytesUp < 0 || r.BytesDown < 0 {
				t.Errorf("record %+v", r)
			}
		default:
			t.Errorf("record %+v", r)
		}
	}
	if n := count(f.rec.records(), "heartbeat"); n < 2 {
		t.Errorf("%d heartbeats, want one at start and one per interval", n)
	}
}

// TestConnectionIDsAreUnique: two connections at once have ids of their
// own in one run.
func TestConnectionIDsAreUnique(t *testing.T) {
	tl := echoTarget(t)
	target := addrPortOf(tl.Addr())
	f := startGateway(t, Options{Allow: []Rule{AllowAddrPort(target)}})
	d := f.dialer(t, short, token)
	a, err := d.Dial("tcp", target.String())
	if err != nil {
		t.Fatal(err)
	}
	b, err := d.Dial("tcp", target.String())
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
	b.Close()
	x, y := f.rec.next(t), f.rec.next(t)
	if x.ID == 0 || y.ID == 0 || x.ID == y.ID || x.Run != y.Run || x.Run == "" {
		t.Fatalf("records %+v and %+v", x, y)
	}
}
