package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// The refusal marker sits beside the file (<path>.refused) only between a
// commit that failed after bbolt began writing it and the next Open. It
// holds one line, "refused-from <seq>": the first sequence of that commit.
// Its records were answered with an error, so they must never count, yet
// bbolt may have put them in the file: Open deletes every event from that
// sequence on, then the marker. It is written to a temporary file, synced
// and renamed into place, so it is either whole or absent.
const (
	refusedSuffix = ".refused"
	refusedPrefix = "refused-from "
)

func refusedPath(db string) string { return db + refusedSuffix }

// writeRefused durably records that the events from seq on were refused.
func writeRefused(db string, seq uint64) error {
	path := refusedPath(db)
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("store: refusal marker: %w", err)
	}
	_, err = f.WriteString(refusedPrefix + strconv.FormatUint(seq, 10) + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err == nil {
		err = syncDir(filepath.Dir(path))
	}
	if err != nil {
		// Never leave a marker that was not synced whole.
		_ = os.Remove(tmp)
		return fmt.Errorf("store: refusal marker: %w", err)
	}
	return nil
}

// readRefused returns the first refused sequence, or 0 without a marker.
func readRefused(db string) (uint64, error) {
	path := refusedPath(db)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("refusal marker: %w", err)
	}
	s, ok := strings.CutPrefix(strings.TrimSpace(string(b)), refusedPrefix)
	seq, err := strconv.ParseUint(s, 10, 64)
	if !ok || err != nil || seq == 0 {
		return 0, fmt.Errorf("refusal marker %s holds %q: %w", path, b, ErrCorrupt)
	}
	return seq, nil
}

// removeRefused removes the marker for good, once its records are gone:
// left behind, it would make a later Open drop acknowledged records.
func removeRefused(db string) error {
	path := refusedPath(db)
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("refusal marker: %w", err)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return fmt.Errorf("refusal marker: %w", err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// dropFrom deletes every event from seq on, and every snapshot covering
// one, and returns how many events it deleted.
func dropFrom(tx *bolt.Tx, seq uint64) (int, error) {
	var from [8]byte
	binary.BigEndian.PutUint64(from[:], seq)
	n := 0
	for _, name := range [][]byte{bucketEvents, bucketSnapshots} {
		b, err := subBucket(tx, name)
		if err != nil {
			return 0, err
		}
		// Keys are collected first: deleting under a moving cursor can
		// skip entries.
		var keys [][]byte
		c := b.Cursor()
		for k, _ := c.Seek(from[:]); k != nil; k, _ = c.Next() {
			keys = append(keys, append([]byte{}, k...))
		}
		for _, k := range keys {
			if err := b.Delete(k); err != nil {
				return 0, err
			}
		}
		if string(name) == string(bucketEvents) {
			n = len(keys)
		}
	}
	return n, nil
}
