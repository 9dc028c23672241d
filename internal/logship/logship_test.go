package logship

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// fakeTransport records batches; fail makes the next writes fail, block
// makes them wait for ctx.
type fakeTransport struct {
	mu    sync.Mutex
	got   []Record
	fail  int
	block chan struct{} // non-nil: write waits until closed or ctx ends
}

func (f *fakeTransport) write(ctx context.Context, batch []Record) error {
	f.mu.Lock()
	block := f.block
	f.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail > 0 {
		f.fail--
		return errors.New("collector down")
	}
	f.got = append(f.got, batch...)
	return nil
}

func (f *fakeTransport) close() error { return nil }

func (f *fakeTransport) records() []Record {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Record(nil), f.got...)
}

func rec(i int) Record {
	return Record{Host: "r1", App: "portal", Message: []byte{byte(i >> 8), byte(i)}, Data: map[string]string{"service": "portal"}}
}

func seq(r Record) int { return int(r.Message[0])<<8 | int(r.Message[1]) }

func checkInvariant(t *testing.T, st Stats) {
	t.Helper()
	if st.Accepted != st.Sent+st.Dropped+uint64(st.Queued) {
		t.Fatalf("accepted %d != sent %d + dropped %d + queued %d", st.Accepted, st.Sent, st.Dropped, st.Queued)
	}
}

// A collector that never answers: Send still returns at once (the test
// would hang otherwise), the buffer keeps the newest, drops are counted.
func TestSendNeverBlocksAndDropsOldest(t *testing.T) {
	block := make(chan struct{})
	ft := &fakeTransport{block: block}
	const buffer, batch, n = 50, 10, 1000
	s := newShipper(ft, Options{Buffer: buffer, Batch: batch})
	for i := range n {
		if !s.Send(rec(i)) {
			t.Fatal("Send refused before Close")
		}
	}
	st := s.Stats()
	checkInvariant(t, st)
	if st.Queued > buffer || st.Dropped < n-buffer || st.Sent != 0 {
		t.Fatalf("stats %+v: want queued <= %d, dropped >= %d, none sent", st, buffer, n-buffer)
	}
	close(block) // the collector wakes up
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	st = s.Stats()
	checkInvariant(t, st)
	got := ft.records()
	if uint64(len(got)) != st.Sent {
		t.Fatalf("collector has %d, Sent says %d", len(got), st.Sent)
	}
	// The batch in flight when the buffer overflowed is written, then the
	// newest records, all in order and ending with the last one sent.
	for i := 1; i < len(got); i++ {
		if seq(got[i]) <= seq(got[i-1]) {
			t.Fatalf("out of order at %d: %d after %d", i, seq(got[i]), seq(got[i-1]))
		}
	}
	if len(got) == 0 || seq(got[len(got)-1]) != n-1 {
		t.Fatalf("last record delivered is not the newest")
	}
	if len(got) < buffer || len(got) > buffer+batch {
		t.Fatalf("delivered %d, want between %d and %d", len(got), buffer, buffer+batch)
	}
	if s.Send(rec(0)) {
		t.Fatal("Send accepted after Close")
	}
}

// Backoff doubles from MinBackoff up to MaxBackoff on the injected clock
// and starts again after a success.
func TestBackoff(t *testing.T) {
	ft := &fakeTransport{fail: 6}
	var (
		mu    sync.Mutex
		waits []time.Duration
	)
	after := func(d time.Duration) <-chan time.Time {
		mu.Lock()
		waits = append(waits, d)
		mu.Unlock()
		c := make(chan time.Time, 1)
		c <- time.Time{}
		return c
	}
	s := newShipper(ft, Options{MinBackoff: time.Second, MaxBackoff: 8 * time.Second, After: after})
	s.Send(rec(1))
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := []time.Duration{1, 2, 4, 8, 8, 8}
	mu.Lock()
	defer mu.Unlock()
	if len(waits) != len(want) {
		t.Fatalf("waits %v, want %v seconds", waits, want)
	}
	for i := range want {
		if waits[i] != want[i]*time.Second {
			t.Fatalf("waits %v, want %v seconds", waits, want)
		}
	}
	st := s.Stats()
	if st.Sent != 1 || st.Reconnects != 6 {
		t.Fatalf("stats %+v", st)
	}
}

// Close gives up at its deadline and counts what is left as dropped.
func TestCloseDeadline(t *testing.T) {
	ft := &fakeTransport{block: make(chan struct{})}
	s := newShipper(ft, Options{Buffer: 10})
	for i := range 5 {
		s.Send(rec(i))
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Close(ctx); err == nil {
		t.Fatal("Close with records stuck returned nil")
	}
	st := s.Stats()
	checkInvariant(t, st)
	if st.Dropped != 5 || st.Queued != 0 {
		t.Fatalf("stats %+v", st)
	}
	if err := s.Close(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("second Close: %v", err)
	}
}
