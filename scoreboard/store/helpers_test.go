package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// newLog opens a log in a fresh temporary directory; see openLog.
func newLog(t testing.TB, o Options) *Log {
	t.Helper()
	o.Path = filepath.Join(t.TempDir(), "exercise.db")
	return openLog(t, o)
}

// openLog opens o.Path and, on cleanup, closes the log and checks the file's
// consistency.
func openLog(t testing.TB, o Options) *Log {
	t.Helper()
	if o.OpenTimeout == 0 {
		o.OpenTimeout = 5 * time.Second
	}
	l, err := Open(context.Background(), o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		checkConsistent(t, o.Path)
	})
	return l
}

// checkConsistent runs bbolt's page-level consistency check on a closed file.
func checkConsistent(t testing.TB, path string) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 5 * time.Second})
	if err != nil {
		t.Errorf("open %s for check: %v", path, err)
		return
	}
	defer db.Close()
	err = db.View(func(tx *bolt.Tx) error {
		var errs []error
		for err := range tx.Check() {
			errs = append(errs, err)
		}
		return errors.Join(errs...)
	})
	if err != nil {
		t.Errorf("consistency check of %s: %v", path, err)
	}
}

// collect returns every record from seq from on, copied.
func collect(t testing.TB, l *Log, from uint64) (seqs []uint64, recs []string) {
	t.Helper()
	err := l.Iterate(context.Background(), from, func(seq uint64, rec []byte) error {
		seqs = append(seqs, seq)
		recs = append(recs, string(rec))
		return nil
	})
	if err != nil {
		t.Fatalf("Iterate(%d): %v", from, err)
	}
	return seqs, recs
}

func records(prefix string, n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = fmt.Appendf(nil, "%s-%d", prefix, i)
	}
	return out
}

func mustAppend(t testing.TB, l *Log, recs [][]byte) uint64 {
	t.Helper()
	seq, err := l.Append(context.Background(), recs, nil)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	return seq
}
