package store

import (
	"encoding/binary"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// migration moves the file from version-1 to version. Migrations run inside
// the transaction that also records the new version, so they must not commit
// or roll back themselves.
type migration struct {
	version int
	name    string
	apply   func(tx *bolt.Tx) error
}

// defaultMigrations is a function rather than a package variable so that the
// list cannot be changed at run time by anyone.
func defaultMigrations() []migration {
	return []migration{
		{version: 1, name: "create meta and events", apply: migrateCreateTree},
		{version: 2, name: "add snapshots", apply: migrateAddSnapshots},
	}
}

func migrateCreateTree(tx *bolt.Tx) error {
	root, err := tx.CreateBucket(bucketRoot)
	if err != nil {
		return fmt.Errorf("create %s: %w", bucketRoot, err)
	}
	for _, name := range [][]byte{bucketMeta, bucketEvents} {
		if _, err := root.CreateBucket(name); err != nil {
			return fmt.Errorf("create %s/%s: %w", bucketRoot, name, err)
		}
	}
	return nil
}

func migrateAddSnapshots(tx *bolt.Tx) error {
	root := tx.Bucket(bucketRoot)
	if root == nil {
		return fmt.Errorf("bucket %s missing", bucketRoot)
	}
	if _, err := root.CreateBucket(bucketSnapshots); err != nil {
		return fmt.Errorf("create %s/%s: %w", bucketRoot, bucketSnapshots, err)
	}
	return nil
}

// checkMigrations rejects a list that would leave versions ambiguous: they
// must be 1, 2, 3... in order so that "version N" names exactly one layout.
func checkMigrations(list []migration) error {
	if len(list) == 0 {
		return errors.New("no migrations")
	}
	for i, m := range list {
		if m.version != i+1 || m.apply == nil {
			return fmt.Errorf("migration %d (%q) out of order or empty", i, m.name)
		}
	}
	return nil
}

// schemaVersion reads the version recorded in the file; 0 means an empty file.
func schemaVersion(tx *bolt.Tx) (int, error) {
	root := tx.Bucket(bucketRoot)
	if root == nil {
		return 0, nil
	}
	v := root.Get(keySchema)
	if len(v) != 8 {
		return 0, fmt.Errorf("%s/%s holds %d bytes, want 8: %w", bucketRoot, keySchema, len(v), ErrCorrupt)
	}
	n := binary.BigEndian.Uint64(v)
	if n == 0 || n > 1<<31 {
		return 0, fmt.Errorf("schema version %d: %w", n, ErrCorrupt)
	}
	return int(n), nil
}

// migrate brings the file up to the last version of list and returns the
// version before and after.
func migrate(tx *bolt.Tx, list []migration) (from, to int, err error) {
	if err := checkMigrations(list); err != nil {
		return 0, 0, err
	}
	from, err = schemaVersion(tx)
	if err != nil {
		return 0, 0, err
	}
	latest := list[len(list)-1].version
	if from > latest {
		return from, from, fmt.Errorf("file has schema version %d, this program knows versions up to %d: %w", from, latest, ErrNewerSchema)
	}
	if from == latest {
		return from, from, nil
	}
	for _, m := range list[from:] {
		if err := m.apply(tx); err != nil {
			return from, from, fmt.Errorf("migration to version %d (%s): %w", m.version, m.name, err)
		}
	}
	root := tx.Bucket(bucketRoot)
	if root == nil {
		return from, from, fmt.Errorf("migrations did not create %s: %w", bucketRoot, ErrCorrupt)
	}
	var v [8]byte
	binary.BigEndian.PutUint64(v[:], uint64(latest))
	if err := root.Put(keySchema, v[:]); err != nil {
		return from, from, fmt.Errorf("record schema version: %w", err)
	}
	return from, latest, nil
}
