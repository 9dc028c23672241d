package flow

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// lines is a recorder's output, read by the test.
type lines struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lines) records(t *testing.T) []Record {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []Record
	sc := bufio.NewScanner(bytes.NewReader(l.b.Bytes()))
	for sc.Scan() {
		r, ok, err := ParseLine(sc.Bytes())
		if !ok || err != nil {
			t.Fatalf("line %q: %v %v", sc.Text(), ok, err)
		}
		out = append(out, r)
	}
	return out
}

func (l *lines) wait(t *testing.T, what string, cond func([]Record) bool) []Record {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		rs := l.records(t)
		if cond(rs) {
			return rs
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s: %+v", what, rs)
		}
	}
}

func count(rs []Record, k Kind) int {
	n := 0
	for _, r := range rs {
		if r.State == k {
			n++
		}
	}
	return n
}

// TestRecorderOnLoopback: a target's listener wrapped by a recorder writes
// a flow line when a connection is accepted, at every interval while it
// lasts and when it closes, with the client's and the target's addresses
// and the bytes since the previous line; heartbeats go on while the
// listener is open.
func TestRecorderOnLoopback(t *testing.T) {
	var out lines
	rec := NewRecorder(Options{Output: &out, Interval: 20 * time.Millisecond})
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := rec.Listen(raw)
	var wg sync.WaitGroup
	wg.Go(func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		// An answer of 7 bytes for each line.
		sc := bufio.NewScanner(c)
		for sc.Scan() {
			io.WriteString(c, "ANSWER\n")
		}
	})
	t.Cleanup(func() { ln.Close(); wg.Wait() })

	// A client from an address of its own, as a team's box would be.
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.7")}}
	c, err := d.Dial("tcp", raw.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	ask := func() {
		t.Helper()
		io.WriteString(c, "a001 NOOP\n")
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		if _, err := r.ReadString('\n'); err != nil {
			t.Fatal(err)
		}
	}
	ask()
	out.wait(t, "the open record and two interim ones", func(rs []Record) bool {
		return count(rs, Open) == 1 && count(rs, Interim) >= 2
	})
	ask()
	c.Close()
	rs := out.wait(t, "the close record", func(rs []Record) bool { return count(rs, Close) == 1 })
	var up, down int64
	var last time.Time
	for _, x := range rs {
		if x.At.Before(last) {
			t.Errorf("%+v out of order", x)
		}
		last = x.At
		if x.State == Heartbeat {
			continue
		}
		if x.Src.Addr() != netip.MustParseAddr("127.0.0.7") || x.Dst.String() != raw.Addr().String() || x.Proto != "tcp" ||
			x.ID != 1 || x.Start.After(x.At) || x.Duration < 0 {
			t.Errorf("record %+v", x)
		}
		up, down = up+x.BytesUp, down+x.BytesDown
	}
	if up != 20 || down != 14 {
		t.Errorf("%d bytes up and %d down over the records, want 20 and 14", up, down)
	}
	if rs[0].State != Heartbeat || count(rs, Heartbeat) < 2 {
		t.Errorf("heartbeats: %+v", rs)
	}
}

// TestMeterStartStop: the reporting goroutine runs while any Start is
// unmatched, and the last stop reports a final heartbeat.
func TestMeterStartStop(t *testing.T) {
	var mu sync.Mutex
	var got []Kind
	m := NewMeter(MeterOptions[int]{Interval: time.Hour, Report: func(r Report[int]) {
		mu.Lock()
		got = append(got, r.Kind)
		mu.Unlock()
	}})
	a, b := m.Start(), m.Start()
	a()
	a() // twice is once
	mu.Lock()
	n := len(got)
	mu.Unlock()
	if n != 1 {
		t.Fatalf("%d reports while started, want the first heartbeat only: %v", n, got)
	}
	b()
	if len(got) != 2 || got[1] != Heartbeat {
		t.Fatalf("reports %v, want a heartbeat when started and one when stopped", got)
	}
	c1, c2 := net.Pipe()
	defer c2.Close()
	tc := m.Track(c1, time.Now(), 7)
	if m.Live() != 1 || tc.ID() != 1 {
		t.Fatalf("live %d, id %d", m.Live(), tc.ID())
	}
	tc.Close()
	tc.Close()
	if m.Live() != 0 || len(got) != 4 || got[2] != Open || got[3] != Close {
		t.Fatalf("reports %v", got)
	}
}

func TestNilRecorder(t *testing.T) {
	var r *Recorder
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if r.Listen(ln) != ln {
		t.Fatal("a nil recorder wrapped the listener")
	}
}

func TestParseLine(t *testing.T) {
	for _, c := range []struct {
		line string
		ok   bool
		err  string
	}{
		{`{"time":"2024-05-01T08:00:00Z","level":"INFO","msg":"login","action":"login"}`, false, ""},
		{`{"flow":{"state":"heartbeat","run":"ab","at":"2024-05-01T08:00:00Z","bytes_up":0,"bytes_down":0}}`, true, ""},
		{`{"flow":{"state":"open","run":"ab","id":1,"proto":"tcp","src":"10.60.1.3:40000","dst":"10.60.1.10:143","start":"2024-05-01T08:00:00Z","at":"2024-05-01T08:00:00Z","bytes_up":0,"bytes_down":0}}`, true, ""},
		{`{"flow":{"state":"open","run":"ab","at":"2024-05-01T08:00:00Z"}}`, true, "without an id"},
		{`{"flow":{"state":"shut","run":"ab","at":"2024-05-01T08:00:00Z"}}`, true, "unknown state"},
		{`{"flow":{"state":"heartbeat","at":"2024-05-01T08:00:00Z"}}`, true, "without a run"},
		{`{"flow":{"state":"close","run":"ab","id":1,"src":"10.60.1.3:40000","dst":"10.60.1.10:143","start":"2024-05-01T08:00:00Z","at":"2024-05-01T08:00:00Z","bytes_up":-1,"bytes_down":0}}`, true, "negative"},
		{`{"flow":null}`, true, "empty"},
		{`{"flow":` + strings.Repeat(" ", MaxLine) + `{}}`, true, "too long"},
	} {
		_, ok, err := ParseLine([]byte(c.line))
		if ok != c.ok || (c.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.err)) {
			t.Errorf("%.80s: %v %v, want %v and an error with %q", c.line, ok, err, c.ok, c.err)
		}
	}
}

// FuzzParseLine: whatever a target's log holds, the reader skips it,
// refuses it, or returns a record within the format's rules that formats
// back to the same line.
func FuzzParseLine(f *testing.F) {
	open, _ := MarshalLine(Record{State: Open, Run: "9f86d081884c7d65", ID: 1, Proto: "tcp",
		Src: netip.MustParseAddrPort("10.60.1.3:40000"), Dst: netip.MustParseAddrPort("10.60.1.10:143"),
		Start: time.Unix(1700000000, 0).UTC(), At: time.Unix(1700000000, 5000).UTC()})
	f.Add(open)
	f.Add([]byte(`{"flow":{"state":"heartbeat","run":"ab","at":"2024-05-01T08:00:00+07:00","bytes_up":0,"bytes_down":0}}`))
	f.Add([]byte(`{"time":"2024-05-01T08:00:00Z","msg":"x","action":"y"}`))
	f.Add([]byte(`{"flow":{"state":"close","run":"ab","id":1,"src":"[::1]:1","dst":"[::1]:2","start":"2024-05-01T08:00:00Z","at":"2024-05-01T08:00:01Z","duration":1,"bytes_up":5,"bytes_down":9}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, ok, err := ParseLine(b)
		if !ok || err != nil {
			return
		}
		if !r.State.Valid() || r.Run == "" || r.At.IsZero() || (r.State != Heartbeat &&
			(r.ID == 0 || !r.Src.IsValid() || !r.Dst.IsValid() || r.BytesUp < 0 || r.BytesDown < 0)) {
			t.Fatalf("accepted %q as %+v", b, r)
		}
		out, err := MarshalLine(r)
		if err != nil {
			t.Fatalf("record %+v does not format: %v", r, err)
		}
		r2, ok, err := ParseLine(out)
		out2, _ := MarshalLine(r2)
		if !ok || err != nil || !bytes.Equal(out, out2) {
			t.Fatalf("round trip of %q: %s then %s (%v)", b, out, out2, err)
		}
	})
}

// TestMeterSlowOutput: while the output is stuck in a heartbeat's
// delivery, connections are still tracked and closed; once it moves, every
// report is delivered, in the order of its time, the stuck heartbeat's
// promise kept.
func TestMeterSlowOutput(t *testing.T) {
	release := make(chan struct{})
	stuck := make(chan struct{})
	var mu sync.Mutex
	var got []Report[int]
	var now atomic.Int64
	m := NewMeter(MeterOptions[int]{Interval: time.Hour,
		Now: func() time.Time { return time.Unix(0, now.Add(1)) },
		Report: func(r Report[int]) {
			mu.Lock()
			first := len(got) == 0
			got = append(got, r)
			mu.Unlock()
			if first {
				close(stuck)
				<-release
			}
		}})
	started := make(chan func())
	go func() { started <- m.Start() }()
	<-stuck

	tracked := make(chan struct{})
	go func() {
		defer close(tracked)
		for i := range 50 {
			c1, c2 := net.Pipe()
			tc := m.Track(c1, time.Now(), i)
			tc.Close()
			c2.Close()
		}
	}()
	select {
	case <-tracked:
	case <-time.After(30 * time.Second):
		close(release)
		t.Fatal("tracking and closing waited for a stuck output")
	}
	close(release)
	stop := <-started
	stop()

	mu.Lock()
	defer mu.Unlock()
	if n := len(got); n != 102 {
		t.Fatalf("%d reports, want 2 heartbeats and 100 for 50 connections", n)
	}
	for i := 1; i < len(got); i++ {
		if got[i].At.Before(got[i-1].At) {
			t.Fatalf("report %d at %v before report %d at %v", i, got[i].At, i-1, got[i-1].At)
		}
	}
	if got[0].Kind != Heartbeat || got[len(got)-1].Kind != Heartbeat || count2(got, Open) != 50 || count2(got, Close) != 50 {
		t.Fatalf("kinds wrong: first %s, last %s", got[0].Kind, got[len(got)-1].Kind)
	}
}

func count2(rs []Report[int], k Kind) int {
	n := 0
	for _, r := range rs {
		if r.Kind == k {
			n++
		}
	}
	return n
}
