package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func TestAppendIterate(t *testing.T) {
	l := newLog(t, Options{})
	if got := l.LastSeq(); got != 0 {
		t.Fatalf("LastSeq of empty log = %d", got)
	}
	var want []string
	for i, n := range []int{1, 3, 1, 7, 2} {
		recs := records(fmt.Sprintf("b%d", i), n)
		first := mustAppend(t, l, recs)
		if first != uint64(len(want)+1) {
			t.Fatalf("batch %d: first = %d, want %d", i, first, len(want)+1)
		}
		for _, r := range recs {
			want = append(want, string(r))
		}
	}
	if got := l.LastSeq(); got != uint64(len(want)) {
		t.Fatalf("LastSeq = %d, want %d", got, len(want))
	}
	tests := []struct {
		desc string
		from uint64
	}{
		{"from zero", 0},
		{"from one", 1},
		{"from the middle", 6},
		{"from the last", uint64(len(want))},
		{"beyond the end", uint64(len(want)) + 1},
		{"far beyond", 1 << 60},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			seqs, recs := collect(t, l, tc.from)
			start := max(tc.from, 1)
			var wantSeqs []uint64
			var wantRecs []string
			for s := start; s <= uint64(len(want)); s++ {
				wantSeqs = append(wantSeqs, s)
				wantRecs = append(wantRecs, want[s-1])
			}
			if !slices.Equal(seqs, wantSeqs) || !slices.Equal(recs, wantRecs) {
				t.Errorf("got %v %q, want %v %q", seqs, recs, wantSeqs, wantRecs)
			}
		})
	}
}

func TestIterateManyChunks(t *testing.T) {
	l := newLog(t, Options{})
	const total = iterChunkRecords*2 + 123
	for i := 0; i < total; i += 1000 {
		mustAppend(t, l, records(fmt.Sprint(i), min(1000, total-i)))
	}
	// A few large records push chunks over the byte limit too.
	big := bytes.Repeat([]byte{'x'}, iterChunkBytes/2+1)
	mustAppend(t, l, [][]byte{big, big, big})

	next := uint64(1)
	err := l.Iterate(context.Background(), 0, func(seq uint64, rec []byte) error {
		if seq != next {
			return fmt.Errorf("seq %d, want %d", seq, next)
		}
		if seq > total && !bytes.Equal(rec, big) {
			return fmt.Errorf("seq %d: big record altered", seq)
		}
		next++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if next != total+4 {
		t.Fatalf("visited %d records, want %d", next-1, total+3)
	}
}

func TestIterateStops(t *testing.T) {
	l := newLog(t, Options{})
	mustAppend(t, l, records("r", 10))
	stop := errors.New("enough")
	n := 0
	err := l.Iterate(context.Background(), 0, func(uint64, []byte) error {
		if n++; n == 3 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 3 {
		t.Errorf("fn error: got %v after %d calls", err, n)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = l.Iterate(ctx, 0, func(uint64, []byte) error { return nil })
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled ctx: got %v", err)
	}
}

// Records appended while Iterate runs are outside its range, and fn may
// append without deadlocking since it runs outside any transaction.
func TestIterateWhileAppending(t *testing.T) {
	l := newLog(t, Options{})
	mustAppend(t, l, records("r", 5))
	n := 0
	err := l.Iterate(context.Background(), 0, func(seq uint64, rec []byte) error {
		n++
		_, err := l.Append(context.Background(), [][]byte{[]byte("during")}, nil)
		return err
	})
	if err != nil || n != 5 {
		t.Fatalf("visited %d, err %v; want 5 visits", n, err)
	}
	if got := l.LastSeq(); got != 10 {
		t.Fatalf("LastSeq = %d, want 10", got)
	}
}

func TestAppendInvalid(t *testing.T) {
	l := newLog(t, Options{MaxRecordSize: 16})
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		desc string
		ctx  context.Context
		recs [][]byte
		want error
	}{
		{"no records", context.Background(), nil, ErrInvalid},
		{"empty slice", context.Background(), [][]byte{}, ErrInvalid},
		{"record too large", context.Background(), [][]byte{[]byte("ok"), make([]byte, 17)}, ErrInvalid},
		{"cancelled", cancelled, [][]byte{[]byte("x")}, context.Canceled},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			called := false
			_, err := l.Append(tc.ctx, tc.recs, func(uint64) { called = true })
			if !errors.Is(err, tc.want) {
				t.Errorf("got %v, want %v", err, tc.want)
			}
			if called {
				t.Error("applied called for a rejected append")
			}
		})
	}
	if got := l.LastSeq(); got != 0 {
		t.Errorf("LastSeq = %d after rejected appends", got)
	}
	// Empty records and records at the limit are fine.
	first := mustAppend(t, l, [][]byte{{}, nil, make([]byte, 16)})
	_, recs := collect(t, l, first)
	if !slices.Equal(recs, []string{"", "", string(make([]byte, 16))}) {
		t.Errorf("got %q", recs)
	}
}

// Concurrent Appends get disjoint, consecutive ranges that tile the log, and
// each record lands under the sequence its Append was told.
func TestConcurrentAppendsConsecutive(t *testing.T) {
	l := newLog(t, Options{})
	const workers, each = 64, 40
	type span struct {
		first uint64
		recs  [][]byte
	}
	spans := make([][]span, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				recs := records(fmt.Sprintf("w%d-%d", w, i), 1+(w+i)%3)
				first, err := l.Append(context.Background(), recs, nil)
				if err != nil {
					t.Errorf("Append: %v", err)
					return
				}
				spans[w] = append(spans[w], span{first, recs})
			}
		})
	}
	wg.Wait()
	var all []span
	for _, s := range spans {
		all = append(all, s...)
	}
	slices.SortFunc(all, func(a, b span) int { return int(a.first) - int(b.first) })
	_, stored := collect(t, l, 0)
	next := uint64(1)
	for _, s := range all {
		if s.first != next {
			t.Fatalf("span starts at %d, want %d (gap or overlap)", s.first, next)
		}
		for i, r := range s.recs {
			if got := stored[s.first-1+uint64(i)]; got != string(r) {
				t.Fatalf("seq %d holds %q, want %q", s.first+uint64(i), got, r)
			}
		}
		next += uint64(len(s.recs))
	}
	if l.LastSeq() != next-1 || uint64(len(stored)) != next-1 {
		t.Fatalf("LastSeq %d, stored %d, want %d", l.LastSeq(), len(stored), next-1)
	}
	if st := l.Stats(); st.Records != next-1 || st.Commits == 0 || st.Commits > st.Records {
		t.Errorf("Stats = %+v", st)
	}
}

// applied callbacks run one at a time, in sequence order, after the records
// are durable and before their Append returns.
func TestAppliedInOrder(t *testing.T) {
	l := newLog(t, Options{})
	const workers, each = 64, 30
	var (
		expect  = uint64(1) // touched only by callbacks, hence by the committer
		inOrder = true
		wg      sync.WaitGroup
	)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				n := uint64(1 + (w*7+i)%4)
				ran := false
				first, err := l.Append(context.Background(), records("r", int(n)), func(first uint64) {
					if first != expect || l.LastSeq() < first+n-1 {
						inOrder = false
					}
					expect = first + n
					ran = true
				})
				if err != nil {
					t.Errorf("Append: %v", err)
					return
				}
				if !ran {
					t.Errorf("Append %d returned before its callback ran", first)
				}
			}
		})
	}
	wg.Wait()
	if !inOrder {
		t.Error("callbacks ran out of sequence order")
	}
	if expect != l.LastSeq()+1 {
		t.Errorf("callbacks covered up to %d, LastSeq %d", expect-1, l.LastSeq())
	}
}

// A commit never carries more than MaxBatch records, except a single request
// larger than that, which is never split.
func TestMaxBatch(t *testing.T) {
	const maxBatch = 5
	l := newLog(t, Options{MaxBatch: maxBatch})
	perCommit := map[uint64]int{} // commit number -> records, filled by callbacks
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			for i := range 20 {
				n := 1 + (w+i)%3
				if w == 0 && i == 0 {
					n = maxBatch + 3
				}
				if _, err := l.Append(context.Background(), records("r", n), func(uint64) {
					perCommit[l.commits.Load()] += n
				}); err != nil {
					t.Errorf("Append: %v", err)
				}
			}
		})
	}
	wg.Wait()
	oversized := 0
	for c, n := range perCommit {
		if n > maxBatch {
			if n != maxBatch+3 {
				t.Errorf("commit %d carried %d records", c, n)
			}
			oversized++
		}
	}
	if oversized != 1 {
		t.Errorf("%d commits above MaxBatch, want exactly the one large request", oversized)
	}
}

func TestReopenContinues(t *testing.T) {
	path := filepath.Join(t.TempDir(), "exercise.db")
	ctx := context.Background()
	l, err := Open(ctx, Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, l, records("a", 3))
	mustAppend(t, l, records("b", 2))
	if err := l.PutMeta(ctx, "exercise", []byte("drill-1")); err != nil {
		t.Fatal(err)
	}
	if err := l.PutSnapshot(ctx, 4, []byte("state@4")); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	l = openLog(t, Options{Path: path})
	if got := l.LastSeq(); got != 5 {
		t.Fatalf("LastSeq after reopen = %d, want 5", got)
	}
	if got := mustAppend(t, l, records("c", 1)); got != 6 {
		t.Fatalf("first append after reopen got %d, want 6", got)
	}
	_, recs := collect(t, l, 0)
	if want := []string{"a-0", "a-1", "a-2", "b-0", "b-1", "c-0"}; !slices.Equal(recs, want) {
		t.Errorf("records %q, want %q", recs, want)
	}
	if v, ok, err := l.Meta("exercise"); err != nil || !ok || string(v) != "drill-1" {
		t.Errorf("Meta = %q %v %v", v, ok, err)
	}
	if seq, data, ok, err := l.LatestSnapshot(); err != nil || !ok || seq != 4 || string(data) != "state@4" {
		t.Errorf("LatestSnapshot = %d %q %v %v", seq, data, ok, err)
	}
}

// Close commits and acknowledges everything already queued.
func TestCloseDrains(t *testing.T) {
	l := newLog(t, Options{})
	release := make(chan struct{})
	var wg sync.WaitGroup
	results := make(chan error, 64)
	// The first commit blocks in its callback, so the others pile up.
	wg.Go(func() {
		_, err := l.Append(context.Background(), records("first", 1), func(uint64) { <-release })
		results <- err
	})
	waitFor(t, func() bool { return l.LastSeq() == 1 })
	for range 63 {
		wg.Go(func() {
			_, err := l.Append(context.Background(), records("queued", 2), nil)
			results <- err
		})
	}
	waitFor(t, func() bool { return len(l.queue) == 63 })
	closed := make(chan error, 1)
	go func() { closed <- l.Close() }()
	waitFor(t, l.isClosed)
	if _, err := l.Append(context.Background(), records("late", 1), nil); !errors.Is(err, ErrClosed) {
		t.Errorf("Append during Close: %v, want ErrClosed", err)
	}
	close(release)
	wg.Wait()
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
	close(results)
	for err := range results {
		if err != nil {
			t.Errorf("queued Append: %v", err)
		}
	}
	if got := l.LastSeq(); got != 1+63*2 {
		t.Errorf("LastSeq = %d, want %d", got, 1+63*2)
	}
}

// ctx bounds only the wait for room in the queue.
func TestAppendQueueFull(t *testing.T) {
	l := newLog(t, Options{MaxBatch: 1}) // queue of one request
	release := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		if _, err := l.Append(context.Background(), records("a", 1), func(uint64) { <-release }); err != nil {
			t.Errorf("Append: %v", err)
		}
	})
	waitFor(t, func() bool { return l.LastSeq() == 1 })
	wg.Go(func() {
		if _, err := l.Append(context.Background(), records("b", 1), nil); err != nil {
			t.Errorf("Append: %v", err)
		}
	})
	waitFor(t, func() bool { return len(l.queue) == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := l.Append(ctx, records("c", 1), nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Append on a full queue: %v, want DeadlineExceeded", err)
	}
	close(release)
	wg.Wait()
	if _, recs := collect(t, l, 0); !slices.Equal(recs, []string{"a-0", "b-0"}) {
		t.Errorf("records %q", recs)
	}
}

func TestClosed(t *testing.T) {
	l := newLog(t, Options{})
	mustAppend(t, l, records("r", 2))
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	ctx := context.Background()
	checks := []struct {
		desc string
		err  error
	}{
		{"Append", func() error { _, err := l.Append(ctx, records("r", 1), nil); return err }()},
		{"Iterate", l.Iterate(ctx, 0, func(uint64, []byte) error { return nil })},
		{"PutMeta", l.PutMeta(ctx, "k", nil)},
		{"Meta", func() error { _, _, err := l.Meta("k"); return err }()},
		{"PutSnapshot", l.PutSnapshot(ctx, 1, nil)},
		{"LatestSnapshot", func() error { _, _, _, err := l.LatestSnapshot(); return err }()},
	}
	for _, c := range checks {
		if !errors.Is(c.err, ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", c.desc, c.err)
		}
	}
	if got := l.LastSeq(); got != 2 {
		t.Errorf("LastSeq after Close = %d", got)
	}
}

func TestMeta(t *testing.T) {
	l := newLog(t, Options{})
	ctx := context.Background()
	puts := []struct {
		key, val string
	}{
		{"exercise", "drill-1"},
		{"scenario", "mail"},
		{"empty", ""},
		{"exercise", "drill-2"}, // overwrite
	}
	for _, p := range puts {
		if err := l.PutMeta(ctx, p.key, []byte(p.val)); err != nil {
			t.Fatalf("PutMeta(%q): %v", p.key, err)
		}
	}
	gets := []struct {
		key, want string
		ok        bool
	}{
		{"exercise", "drill-2", true},
		{"scenario", "mail", true},
		{"empty", "", true},
		{"missing", "", false},
		{"exercis", "", false},
	}
	for _, g := range gets {
		v, ok, err := l.Meta(g.key)
		if err != nil || ok != g.ok || string(v) != g.want {
			t.Errorf("Meta(%q) = %q %v %v, want %q %v", g.key, v, ok, err, g.want, g.ok)
		}
	}
	// The returned value is a copy the caller may keep and modify.
	v, _, _ := l.Meta("scenario")
	v[0] = 'X'
	if again, _, _ := l.Meta("scenario"); string(again) != "mail" {
		t.Errorf("modifying a returned value changed the store: %q", again)
	}
	for _, key := range []string{"", string(make([]byte, bolt.MaxKeySize+1))} {
		if err := l.PutMeta(ctx, key, nil); !errors.Is(err, ErrInvalid) {
			t.Errorf("PutMeta with a %d-byte key: %v, want ErrInvalid", len(key), err)
		}
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := l.PutMeta(cancelled, "k", nil); !errors.Is(err, context.Canceled) {
		t.Errorf("PutMeta with cancelled ctx: %v", err)
	}
}

func TestSnapshots(t *testing.T) {
	l := newLog(t, Options{KeepSnapshots: 2})
	ctx := context.Background()
	if _, _, ok, err := l.LatestSnapshot(); ok || err != nil {
		t.Fatalf("LatestSnapshot of a new log: ok %v, err %v", ok, err)
	}
	if err := l.PutSnapshot(ctx, 0, []byte("empty state")); err != nil {
		t.Fatalf("snapshot at 0: %v", err)
	}
	mustAppend(t, l, records("r", 10))
	steps := []struct {
		seq     uint64
		data    string
		wantErr error
		latest  uint64
	}{
		{seq: 11, data: "future", wantErr: ErrInvalid, latest: 0},
		{seq: 3, data: "s3", latest: 3},
		{seq: 7, data: "s7", latest: 7},
		{seq: 5, data: "s5", latest: 7}, // older than the newest: kept, not latest
		{seq: 10, data: "s10", latest: 10},
	}
	for _, s := range steps {
		err := l.PutSnapshot(ctx, s.seq, []byte(s.data))
		if !errors.Is(err, s.wantErr) {
			t.Fatalf("PutSnapshot(%d): %v, want %v", s.seq, err, s.wantErr)
		}
		seq, _, ok, err := l.LatestSnapshot()
		if err != nil || !ok || seq != s.latest {
			t.Fatalf("after PutSnapshot(%d): latest %d %v %v, want %d", s.seq, seq, ok, err, s.latest)
		}
	}
	seq, data, _, _ := l.LatestSnapshot()
	if seq != 10 || string(data) != "s10" {
		t.Errorf("latest = %d %q", seq, data)
	}
	var kept []uint64
	if err := l.db.View(func(tx *bolt.Tx) error {
		b, err := subBucket(tx, bucketSnapshots)
		if err != nil {
			return err
		}
		return b.ForEach(func(k, _ []byte) error {
			kept = append(kept, uint64(k[7]))
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(kept, []uint64{7, 10}) {
		t.Errorf("kept snapshots %v, want [7 10]", kept)
	}
}

// A commit that fails (here: the file would outgrow MaxSize) fails every
// request of its batch, calls no callback and uses up no sequence; the next
// commit that fits succeeds.
func TestCommitFailure(t *testing.T) {
	l := newLog(t, Options{MaxSize: 1 << 20})
	mustAppend(t, l, records("before", 3))
	big := make([]byte, 300<<10)
	called := false
	_, err := l.Append(context.Background(), [][]byte{big, big, big, big}, func(uint64) { called = true })
	if !errors.Is(err, ErrFull) {
		t.Fatalf("oversized commit: %v, want ErrFull", err)
	}
	if called {
		t.Error("applied called for a failed commit")
	}
	if got := l.LastSeq(); got != 3 {
		t.Errorf("LastSeq after failure = %d, want 3", got)
	}
	if st := l.Stats(); st.Failed != 1 {
		t.Errorf("Stats.Failed = %d", st.Failed)
	}
	if got := mustAppend(t, l, records("after", 2)); got != 4 {
		t.Errorf("append after failure got seq %d, want 4", got)
	}

	// Requests sharing the failed commit all get its error, even those
	// that would have fitted on their own.
	release := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		if _, err := l.Append(context.Background(), records("blocker", 1), func(uint64) { <-release }); err != nil {
			t.Errorf("blocker: %v", err)
		}
	})
	waitFor(t, func() bool { return l.LastSeq() == 6 })
	errs := make(chan error, 2)
	for _, recs := range [][][]byte{{big, big, big, big}, records("small", 1)} {
		wg.Go(func() {
			_, err := l.Append(context.Background(), recs, func(uint64) { t.Error("applied called for a failed commit") })
			errs <- err
		})
	}
	waitFor(t, func() bool { return len(l.queue) == 2 })
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if !errors.Is(err, ErrFull) {
			t.Errorf("request in the failed commit: %v, want ErrFull", err)
		}
	}
	if got := mustAppend(t, l, records("last", 1)); got != 7 {
		t.Errorf("append after second failure got seq %d, want 7", got)
	}
	want := []string{"before-0", "before-1", "before-2", "after-0", "after-1", "blocker-0", "last-0"}
	if _, recs := collect(t, l, 0); !slices.Equal(recs, want) {
		t.Errorf("records %q, want %q", recs, want)
	}
}

func TestOpenLocked(t *testing.T) {
	l := newLog(t, Options{})
	_, err := Open(context.Background(), Options{Path: l.db.Path(), OpenTimeout: 100 * time.Millisecond})
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open: %v, want ErrLocked", err)
	}
	// The holder is unaffected.
	if _, err := l.Append(context.Background(), records("r", 1), nil); err != nil {
		t.Errorf("Append by the holder: %v", err)
	}
}

func TestOpenInvalid(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		desc string
		ctx  context.Context
		o    Options
		want error
	}{
		{"no path", context.Background(), Options{}, ErrInvalid},
		{"cancelled", cancelled, Options{Path: filepath.Join(t.TempDir(), "x.db")}, context.Canceled},
		{"missing directory", context.Background(), Options{Path: filepath.Join(t.TempDir(), "no", "x.db")}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			l, err := Open(tc.ctx, tc.o)
			if err == nil {
				l.Close()
				t.Fatal("Open succeeded")
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 10s")
		}
		time.Sleep(time.Millisecond)
	}
}

// ObserveCommit hears every successful commit, and only those.
func TestObserveCommit(t *testing.T) {
	var commits, recs int
	l := newLog(t, Options{MaxSize: 1 << 20, ObserveCommit: func(d time.Duration, n int) {
		if d < 0 || n <= 0 {
			t.Errorf("observed %s, %d records", d, n)
		}
		commits++
		recs += n
	}})
	mustAppend(t, l, records("a", 3))
	mustAppend(t, l, records("b", 2))
	if _, err := l.Append(context.Background(), [][]byte{make([]byte, 600<<10), make([]byte, 600<<10)}, nil); !errors.Is(err, ErrFull) {
		t.Fatalf("oversized commit: %v", err)
	}
	st := l.Stats()
	if commits != 2 || recs != 5 || uint64(commits) != st.Commits || uint64(recs) != st.Records {
		t.Errorf("observed %d commits of %d records; stats %+v", commits, recs, st)
	}
}
