package store

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzAppendIterate: whatever bytes are appended come back unchanged under
// the sequences Append returned, and only records over the size limit are
// refused. Every exec is an fsynced commit, so fuzz with a short
// -fuzzminimizetime (e.g. 50x); the default minimizes for a minute.
func FuzzAppendIterate(f *testing.F) {
	const limit = 512
	f.Add([]byte("FLAG0123456789ABCDEFGHIJKLMNOPQ="), uint16(7))
	f.Add([]byte{}, uint16(0))
	f.Add(bytes.Repeat([]byte{0xff}, limit+1), uint16(0))
	l := newLog(f, Options{MaxRecordSize: limit})
	f.Fuzz(func(t *testing.T, data []byte, cut uint16) {
		at := int(cut) % (len(data) + 1)
		recs := [][]byte{data[:at], data[at:], data}
		want := make([][]byte, len(recs))
		for i, r := range recs {
			want[i] = bytes.Clone(r)
		}
		first, err := l.Append(context.Background(), recs, nil)
		if len(data) > limit {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("%d-byte record: %v, want ErrInvalid", len(data), err)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		i := 0
		if err := l.Iterate(context.Background(), first, func(seq uint64, rec []byte) error {
			if seq != first+uint64(i) || !bytes.Equal(rec, want[i]) {
				t.Fatalf("seq %d holds %q, want seq %d %q", seq, rec, first+uint64(i), want[i])
			}
			i++
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if i < len(want) {
			t.Fatalf("read back %d of %d records", i, len(want))
		}
	})
}

// FuzzRefusalMarker: Open trusts a refusal marker only when it names a
// sequence exactly as writeRefused would have written it (surrounding
// blanks aside); anything else is ErrCorrupt, never a guess.
func FuzzRefusalMarker(f *testing.F) {
	f.Add([]byte("refused-from 4\n"))
	f.Add([]byte("refused-from 0\n"))
	f.Add([]byte("refused-from -1"))
	f.Add([]byte("refused-from 18446744073709551616\n"))
	f.Add([]byte(""))
	dir := f.TempDir()
	db := filepath.Join(dir, "exercise.db")
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(refusedPath(db), data, 0o600); err != nil {
			t.Fatal(err)
		}
		seq, err := readRefused(db)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("%q: %v, want ErrCorrupt", data, err)
			}
			return
		}
		if seq == 0 {
			t.Fatalf("%q: sequence 0 accepted", data)
		}
		if err := writeRefused(db, seq); err != nil {
			t.Fatal(err)
		}
		if again, err := readRefused(db); err != nil || again != seq {
			t.Fatalf("%q: read %d, then %d, %v from what writeRefused wrote", data, seq, again, err)
		}
	})
}
