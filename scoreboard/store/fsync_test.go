package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// failingSync is an injected commit whose fsync fails when armed. With
// written set, bbolt has written the pages and the meta page before the
// fsync failed: the transaction is in the file (and in the page cache,
// where every reader, and the next open, finds it), though its submitters
// are told it failed. Without it, the fsync of the data pages failed and the
// meta page was never written.
type failingSync struct {
	armed   atomic.Bool
	written bool
}

func (f *failingSync) commit(tx *bolt.Tx) error {
	path := tx.DB().Path()
	if !f.armed.Load() {
		return tx.Commit()
	}
	if f.written {
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	return &os.PathError{Op: "fdatasync", Path: path, Err: syscall.EIO}
}

// After a commit whose fsync failed, what its submitters were told was an
// error never counts: not in this process, not after a reopen; and nothing
// acknowledged before it is lost.
func TestFailedFsyncNeverCounts(t *testing.T) {
	for _, tc := range []struct {
		desc    string
		written bool
	}{
		{"meta page written", true},
		{"data pages not synced", false},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "exercise.db")
			fs := &failingSync{written: tc.written}
			l, err := Open(context.Background(), Options{Path: path, commit: fs.commit})
			if err != nil {
				t.Fatal(err)
			}
			closed := false
			t.Cleanup(func() {
				if !closed {
					l.Close()
				}
			})
			mustAppend(t, l, records("acked", 3))

			fs.armed.Store(true)
			var wg sync.WaitGroup
			for i := range 8 {
				wg.Go(func() {
					_, err := l.Append(context.Background(), records("refused", i+1), func(uint64) {
						t.Error("applied called for a failed commit")
					})
					// The first commit fails with the fsync's error;
					// those queued behind it are refused.
					if !errors.Is(err, syscall.EIO) || !errors.Is(err, ErrFailed) {
						t.Errorf("Append in the failed commit: %v, want ErrFailed with the fsync's error", err)
					}
				})
			}
			wg.Wait()
			fs.armed.Store(false)

			if got := l.LastSeq(); got != 3 {
				t.Errorf("LastSeq after the failure = %d, want 3", got)
			}
			if _, recs := collect(t, l, 0); len(recs) != 3 {
				t.Errorf("records after the failure: %q, want the 3 acknowledged", recs)
			}
			// Whatever comes next is refused: a commit on top of the
			// failed one would make it durable.
			if _, err := l.Append(context.Background(), records("later", 1), nil); !errors.Is(err, ErrFailed) {
				t.Errorf("Append after a failed fsync: %v, want ErrFailed", err)
			}
			if err := l.PutMeta(context.Background(), "k", []byte("v")); !errors.Is(err, ErrFailed) {
				t.Errorf("PutMeta after a failed fsync: %v, want ErrFailed", err)
			}
			if err := l.PutSnapshot(context.Background(), 3, []byte("s")); !errors.Is(err, ErrFailed) {
				t.Errorf("PutSnapshot after a failed fsync: %v, want ErrFailed", err)
			}
			if err := l.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			closed = true

			// Reopened, the log holds exactly what was acknowledged, and
			// goes on from there.
			l2 := openLog(t, Options{Path: path})
			want := []string{"acked-0", "acked-1", "acked-2"}
			if _, recs := collect(t, l2, 0); !slices.Equal(recs, want) {
				t.Fatalf("records after reopening: %q, want %q", recs, want)
			}
			if got := mustAppend(t, l2, records("next", 1)); got != 4 {
				t.Errorf("first append after reopening got seq %d, want 4", got)
			}
		})
	}
	// A log reopened after the repair keeps what it acknowledged since.
	t.Run("reopened twice", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "exercise.db")
		fs := &failingSync{written: true}
		l, err := Open(context.Background(), Options{Path: path, commit: fs.commit})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		mustAppend(t, l, records("acked", 2))
		fs.armed.Store(true)
		if _, err := l.Append(context.Background(), records("refused", 2), nil); err == nil {
			t.Fatal("Append with a failing fsync succeeded")
		}
		l.Close()
		l2, err := Open(context.Background(), Options{Path: path})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l2.Close() })
		mustAppend(t, l2, records("after", 2))
		l2.Close()
		l3 := openLog(t, Options{Path: path})
		want := []string{"acked-0", "acked-1", "after-0", "after-1"}
		if _, recs := collect(t, l3, 0); !slices.Equal(recs, want) {
			t.Fatalf("records: %q, want %q", recs, want)
		}
	})
}

// When the marker cannot be written at the failure, Close writes it.
func TestFailedFsyncMarkedAtClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "exercise.db")
	fs := &failingSync{written: true}
	l, err := Open(context.Background(), Options{Path: path, commit: fs.commit})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	mustAppend(t, l, records("acked", 2))
	// A directory where the marker's temporary file goes.
	blocker := refusedPath(path) + ".tmp"
	if err := os.MkdirAll(filepath.Join(blocker, "x"), 0o700); err != nil {
		t.Fatal(err)
	}
	fs.armed.Store(true)
	if _, err := l.Append(context.Background(), records("refused", 2), nil); !errors.Is(err, ErrFailed) {
		t.Fatalf("Append: %v, want ErrFailed", err)
	}
	if _, err := os.Stat(refusedPath(path)); err == nil {
		t.Fatal("marker written through a directory")
	}
	if err := os.RemoveAll(blocker); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	l2 := openLog(t, Options{Path: path})
	if _, recs := collect(t, l2, 0); !slices.Equal(recs, []string{"acked-0", "acked-1"}) {
		t.Fatalf("records %q, want the acknowledged ones", recs)
	}
	if _, err := os.Stat(refusedPath(path)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("marker left after Open: %v", err)
	}
}

func TestRefusalMarkerAtOpen(t *testing.T) {
	t.Run("beyond the last record", func(t *testing.T) {
		// Open dropped the records and died before removing the marker.
		path := filepath.Join(t.TempDir(), "exercise.db")
		l := openLogOnce(t, path)
		mustAppend(t, l, records("acked", 3))
		l.Close()
		if err := writeRefused(path, 4); err != nil {
			t.Fatal(err)
		}
		l2 := openLog(t, Options{Path: path})
		if _, recs := collect(t, l2, 0); len(recs) != 3 {
			t.Errorf("records %q, want 3", recs)
		}
		if _, err := os.Stat(refusedPath(path)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("marker left after Open: %v", err)
		}
	})
	t.Run("unreadable", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "exercise.db")
		openLogOnce(t, path).Close()
		if err := os.WriteFile(refusedPath(path), []byte("refused-from x\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if l, err := Open(context.Background(), Options{Path: path}); !errors.Is(err, ErrCorrupt) {
			if err == nil {
				l.Close()
			}
			t.Fatalf("Open with a corrupt marker: %v, want ErrCorrupt", err)
		}
	})
}

// openLogOnce opens path; the caller closes it.
func openLogOnce(t *testing.T, path string) *Log {
	t.Helper()
	l, err := Open(context.Background(), Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}
