package store

import (
	"context"
	"encoding/binary"
	"errors"
	"path/filepath"
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// rawDB opens a bare bbolt file for tests that build or inspect a layout by
// hand; it is closed and checked on cleanup.
func rawDB(t *testing.T, path string) *bolt.DB {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		db.Close()
		checkConsistent(t, path)
	})
	return db
}

// buckets lists the bucket tree as paths, e.g. "v1/events".
func buckets(t *testing.T, db *bolt.DB) []string {
	t.Helper()
	var out []string
	var walk func(prefix string, b *bolt.Bucket) error
	walk = func(prefix string, b *bolt.Bucket) error {
		return b.ForEachBucket(func(k []byte) error {
			out = append(out, prefix+string(k))
			return walk(prefix+string(k)+"/", b.Bucket(k))
		})
	}
	if err := db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			out = append(out, string(name))
			return walk(string(name)+"/", b)
		})
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestMigrationCreateTree(t *testing.T) {
	db := rawDB(t, filepath.Join(t.TempDir(), "m1.db"))
	if err := db.Update(migrateCreateTree); err != nil {
		t.Fatal(err)
	}
	if got, want := buckets(t, db), []string{"v1", "v1/events", "v1/meta"}; !slices.Equal(got, want) {
		t.Errorf("tree %v, want %v", got, want)
	}
	// It is meant for an empty file only.
	if err := db.Update(migrateCreateTree); err == nil {
		t.Error("running it twice succeeded")
	}
}

func TestMigrationAddSnapshots(t *testing.T) {
	db := rawDB(t, filepath.Join(t.TempDir(), "m2.db"))
	if err := db.Update(func(tx *bolt.Tx) error {
		if err := migrateCreateTree(tx); err != nil {
			return err
		}
		return tx.Bucket(bucketRoot).Bucket(bucketEvents).Put(seqKey(1), []byte("kept"))
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.Update(migrateAddSnapshots); err != nil {
		t.Fatal(err)
	}
	if got, want := buckets(t, db), []string{"v1", "v1/events", "v1/meta", "v1/snapshots"}; !slices.Equal(got, want) {
		t.Errorf("tree %v, want %v", got, want)
	}
	if err := db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketRoot).Bucket(bucketEvents).Get(seqKey(1)); string(v) != "kept" {
			t.Errorf("event after migration: %q", v)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// Without the version 1 tree it fails instead of inventing one.
	empty := rawDB(t, filepath.Join(t.TempDir(), "empty.db"))
	if err := empty.Update(migrateAddSnapshots); err == nil {
		t.Error("migration on an empty file succeeded")
	}
}

func TestCheckMigrations(t *testing.T) {
	noop := func(*bolt.Tx) error { return nil }
	tests := []struct {
		desc string
		list []migration
		ok   bool
	}{
		{"built-in", defaultMigrations(), true},
		{"empty", nil, false},
		{"starts at 2", []migration{{version: 2, apply: noop}}, false},
		{"gap", []migration{{version: 1, apply: noop}, {version: 3, apply: noop}}, false},
		{"missing func", []migration{{version: 1}}, false},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			if err := checkMigrations(tc.list); (err == nil) != tc.ok {
				t.Errorf("checkMigrations: %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestOpenFreshGetsLatest(t *testing.T) {
	l := newLog(t, Options{})
	latest := defaultMigrations()[len(defaultMigrations())-1].version
	if got := l.SchemaVersion(); got != latest {
		t.Errorf("SchemaVersion = %d, want %d", got, latest)
	}
	if got := storedVersion(t, l.db); got != latest {
		t.Errorf("stored version %d, want %d", got, latest)
	}
}

// A file left at version 1 by an older program is brought to the latest
// version at open, keeping its events and meta.
func TestOpenMigratesOldFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	ctx := context.Background()
	old, err := Open(ctx, Options{Path: path, migrations: defaultMigrations()[:1]})
	if err != nil {
		t.Fatal(err)
	}
	if got := old.SchemaVersion(); got != 1 {
		t.Fatalf("old program's version %d", got)
	}
	mustAppend(t, old, records("old", 3))
	if err := old.PutMeta(ctx, "exercise", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := old.LatestSnapshot(); !errors.Is(err, ErrCorrupt) {
		t.Errorf("snapshots before version 2: %v, want ErrCorrupt", err)
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}

	l := openLog(t, Options{Path: path})
	if got := l.SchemaVersion(); got != 2 {
		t.Fatalf("SchemaVersion after migration = %d", got)
	}
	if _, recs := collect(t, l, 0); !slices.Equal(recs, []string{"old-0", "old-1", "old-2"}) {
		t.Errorf("records after migration %q", recs)
	}
	if v, ok, _ := l.Meta("exercise"); !ok || string(v) != "x" {
		t.Errorf("meta after migration %q %v", v, ok)
	}
	if err := l.PutSnapshot(ctx, 3, []byte("s")); err != nil {
		t.Errorf("PutSnapshot after migration: %v", err)
	}
}

// The mechanism runs each missing step once, in order, and records the
// version only when all of them succeeded.
func TestMigrateMechanism(t *testing.T) {
	var ran []int
	step := func(v int, err error) migration {
		return migration{version: v, name: "test", apply: func(tx *bolt.Tx) error {
			ran = append(ran, v)
			return err
		}}
	}
	base := defaultMigrations()
	path := filepath.Join(t.TempDir(), "mech.db")
	ctx := context.Background()

	l, err := Open(ctx, Options{Path: path, migrations: base})
	if err != nil {
		t.Fatal(err)
	}
	l.Close()

	boom := errors.New("boom")
	_, err = Open(ctx, Options{Path: path, migrations: append(slices.Clone(base), step(3, nil), step(4, boom))})
	if !errors.Is(err, boom) {
		t.Fatalf("failing migration: %v", err)
	}
	if !slices.Equal(ran, []int{3, 4}) {
		t.Errorf("ran %v, want [3 4]", ran)
	}
	ran = nil
	l, err = Open(ctx, Options{Path: path, migrations: append(slices.Clone(base), step(3, nil), step(4, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ran, []int{3, 4}) || l.SchemaVersion() != 4 {
		t.Errorf("ran %v to version %d; want [3 4] to 4 (the failed attempt must not count)", ran, l.SchemaVersion())
	}
	l.Close()
	ran = nil
	l = openLog(t, Options{Path: path, migrations: append(slices.Clone(base), step(3, nil), step(4, nil))})
	if len(ran) != 0 || l.SchemaVersion() != 4 {
		t.Errorf("reopen at the latest version ran %v", ran)
	}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "newer.db")
	ctx := context.Background()
	newer := append(defaultMigrations(), migration{version: 3, name: "future", apply: func(*bolt.Tx) error { return nil }})
	l, err := Open(ctx, Options{Path: path, migrations: newer})
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, l, records("r", 1))
	l.Close()

	_, err = Open(ctx, Options{Path: path})
	if !errors.Is(err, ErrNewerSchema) {
		t.Fatalf("Open of a newer file: %v, want ErrNewerSchema", err)
	}
	t.Logf("error reads: %v", err)
	// Refusing must leave the file as it was.
	db := rawDB(t, path)
	if got := storedVersion(t, db); got != 3 {
		t.Errorf("version after refusal %d, want 3", got)
	}
}

func TestOpenCorruptSchema(t *testing.T) {
	tests := []struct {
		desc  string
		value []byte // nil: no schema key at all
	}{
		{"missing", nil},
		{"short", []byte{1}},
		{"zero", seqKey(0)},
		{"absurd", seqKey(1 << 40)},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "bad.db")
			db, err := bolt.Open(path, 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			err = db.Update(func(tx *bolt.Tx) error {
				root, err := tx.CreateBucket(bucketRoot)
				if err != nil || tc.value == nil {
					return err
				}
				return root.Put(keySchema, tc.value)
			})
			db.Close()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := Open(context.Background(), Options{Path: path}); !errors.Is(err, ErrCorrupt) {
				t.Errorf("Open: %v, want ErrCorrupt", err)
			}
		})
	}
}

func storedVersion(t *testing.T, db *bolt.DB) int {
	t.Helper()
	var v int
	if err := db.View(func(tx *bolt.Tx) error {
		var err error
		v, err = schemaVersion(tx)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return v
}

func seqKey(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }
