// Package exercisedb opens the exercise a data directory holds
// (PROTOCOLS.md §6): its event log, <dir>/exercise.db, and what the log
// records about the exercise in its meta bucket —
//
//	scenario     the canonical YAML of the scenario it was made from
//	flag_key     the key every flag is derived from
//	exercise_id  a UUID
//	created      when it was made (RFC 3339, UTC)
//
// A new exercise is created with all four, the scenario last: its
// presence marks a complete exercise. An existing one is resumed only with
// the scenario it was made from, because another would misread every
// event.
//
// The server, replay, export, report and the offline phase change all open
// the directory through it. It may import the store, the scenarios and the
// scoreboard root package; it must never import the web or live packages,
// the range or the Docker SDK.
package exercisedb

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/google/uuid"

	"github.com/cyrange/cyrange/scenarios"
	"github.com/cyrange/cyrange/scoreboard"
	"github.com/cyrange/cyrange/scoreboard/store"
)

// File is the event log's name inside the data directory.
const File = "exercise.db"

// Keys of the exercise's metadata in the log.
const (
	metaScenario = "scenario"
	metaKey      = "flag_key"
	metaID       = "exercise_id"
	metaCreated  = "created"
)

// openTimeout is how long Open waits for the log's file lock: another
// process holding it is reported rather than waited for.
const openTimeout = 2 * time.Second

// Options configures Open; all fields are optional.
type Options struct {
	// Scenario, when set, is the exercise to create if the directory
	// holds none, and the one an existing exercise must have been made
	// from. Without it the directory must hold an exercise already.
	Scenario *scenarios.Scenario
	Logger   *slog.Logger
	// Now stamps a new exercise's creation; nil means time.Now.
	Now func() time.Time
	// ObserveCommit, if set, is told how long each commit of the log
	// took and how many records it held.
	ObserveCommit func(d time.Duration, records int)
}

// DB is an opened data directory: the log and what the log says the
// exercise is.
type DB struct {
	dir      string
	log      *store.Log
	scenario *scenarios.Scenario
	key      []byte
	id       string
}

// Open opens (or, with o.Scenario set, creates) the exercise in dir.
func Open(ctx context.Context, dir string, o Options) (*DB, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("exercisedb: data directory %s: %w", dir, err)
	}
	path := filepath.Join(dir, File)
	if o.Scenario == nil {
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("exercisedb: no exercise in %s: %w", dir, err)
		}
	}
	lg, err := store.Open(ctx, store.Options{Path: path, Logger: o.Logger, OpenTimeout: openTimeout,
		ObserveCommit: o.ObserveCommit})
	if err != nil {
		return nil, fmt.Errorf("exercisedb: opening %s (is another cyrange using it?): %w", path, err)
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}
	d := &DB{dir: dir, log: lg}
	if err := d.load(ctx, o.Scenario, now); err != nil {
		lg.Close()
		return nil, err
	}
	return d, nil
}

func (d *DB) load(ctx context.Context, sc *scenarios.Scenario, now func() time.Time) error {
	stored, ok, err := d.log.Meta(metaScenario)
	if err != nil {
		return fmt.Errorf("exercisedb: %w", err)
	}
	if !ok {
		if sc == nil {
			return errors.New("exercisedb: the exercise has no scenario recorded")
		}
		return d.create(ctx, sc, now())
	}
	recorded, err := scenarios.Load(filepath.Join(d.dir, File)+" (recorded scenario)", stored)
	if err != nil {
		return fmt.Errorf("exercisedb: the recorded scenario does not load: %w", err)
	}
	if sc != nil && sc.Hash() != recorded.Hash() {
		return fmt.Errorf("exercisedb: %s holds exercise %q made from another scenario; use a new --data directory to start a new exercise",
			d.dir, recorded.Name)
	}
	d.scenario = recorded
	if d.key, _, err = d.log.Meta(metaKey); err != nil {
		return fmt.Errorf("exercisedb: %w", err)
	}
	id, _, err := d.log.Meta(metaID)
	if err != nil {
		return fmt.Errorf("exercisedb: %w", err)
	}
	d.id = string(id)
	return nil
}

func (d *DB) create(ctx context.Context, sc *scenarios.Scenario, now time.Time) error {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return fmt.Errorf("exercisedb: generating the flag key: %w", err)
	}
	id := uuid.NewString()
	// The scenario goes last: its presence marks a complete exercise.
	for _, kv := range []struct {
		k string
		v []byte
	}{{metaKey, key}, {metaID, []byte(id)}, {metaCreated, []byte(now.UTC().Format(time.RFC3339))},
		{metaScenario, sc.Canonical()}} {
		if err := d.log.PutMeta(ctx, kv.k, kv.v); err != nil {
			return fmt.Errorf("exercisedb: recording %s: %w", kv.k, err)
		}
	}
	d.scenario, d.key, d.id = sc, key, id
	return nil
}

// Log is the exercise's event log.
func (d *DB) Log() *store.Log { return d.log }

// Scenario is the scenario the exercise was made from, as recorded.
func (d *DB) Scenario() *scenarios.Scenario { return d.scenario }

// Key is the exercise's flag key.
func (d *DB) Key() []byte { return d.key }

// ID is the exercise's id.
func (d *DB) ID() string { return d.id }

// GameConfig is the game's view of the recorded scenario.
func (d *DB) GameConfig(p scenarios.Placement) *scoreboard.Config {
	return d.scenario.GameConfig(p)
}

// Close closes the log.
func (d *DB) Close() error { return d.log.Close() }

// Exists reports whether dir holds an exercise's log: from then on the
// exercise's secrets exist and must never be made anew.
func Exists(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, File))
	return err == nil
}
