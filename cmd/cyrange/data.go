package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/google/uuid"

	"github.com/cyrange/cyrange/scenarios"
	"github.com/cyrange/cyrange/scoreboard"
	"github.com/cyrange/cyrange/scoreboard/store"
)

// Files of an exercise's data directory (PROTOCOLS.md §6).
const (
	dbFile     = "exercise.db"
	serverFile = "server.json"
)

// Keys of the exercise's metadata in the log.
const (
	metaScenario = "scenario"
	metaKey      = "flag_key"
	metaID       = "exercise_id"
	metaCreated  = "created"
)

// exerciseData is an opened data directory: the log and what the log says
// the exercise is.
type exerciseData struct {
	dir      string
	log      *store.Log
	scenario *scenarios.Scenario
	key      []byte
	id       string
}

// openData opens (or, with sc non-nil, creates) the exercise in dir. An
// existing exercise must have been made from the same scenario: resuming
// with another one would misread every event.
func openData(ctx context.Context, dir string, sc *scenarios.Scenario, logger *slog.Logger) (*exerciseData, error) {
	return openDataWith(ctx, dir, sc, logger, nil)
}

// openDataWith is openData with a hook to adjust the log's options.
func openDataWith(ctx context.Context, dir string, sc *scenarios.Scenario, logger *slog.Logger, opt func(*store.Options)) (*exerciseData, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory %s: %w", dir, err)
	}
	path := filepath.Join(dir, dbFile)
	if sc == nil {
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("no exercise in %s: %w", dir, err)
		}
	}
	so := store.Options{Path: path, Logger: logger, OpenTimeout: 2 * time.Second}
	if opt != nil {
		opt(&so)
	}
	lg, err := store.Open(ctx, so)
	if err != nil {
		return nil, fmt.Errorf("opening %s (is another cyrange using it?): %w", path, err)
	}
	d := &exerciseData{dir: dir, log: lg}
	if err := d.load(ctx, sc); err != nil {
		lg.Close()
		return nil, err
	}
	return d, nil
}

func (d *exerciseData) load(ctx context.Context, sc *scenarios.Scenario) error {
	stored, ok, err := d.log.Meta(metaScenario)
	if err != nil {
		return err
	}
	if !ok {
		if sc == nil {
			return errors.New("the exercise has no scenario recorded")
		}
		return d.create(ctx, sc)
	}
	recorded, err := scenarios.Load(filepath.Join(d.dir, dbFile)+" (recorded scenario)", stored)
	if err != nil {
		return fmt.Errorf("the recorded scenario does not load: %w", err)
	}
	if sc != nil && sc.Hash() != recorded.Hash() {
		return fmt.Errorf("%s holds exercise %q made from another scenario; use a new --data directory to start a new exercise",
			d.dir, recorded.Name)
	}
	d.scenario = recorded
	if d.key, _, err = d.log.Meta(metaKey); err != nil {
		return err
	}
	id, _, err := d.log.Meta(metaID)
	d.id = string(id)
	return err
}

func (d *exerciseData) create(ctx context.Context, sc *scenarios.Scenario) error {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return fmt.Errorf("generating the flag key: %w", err)
	}
	id := uuid.NewString()
	// The scenario goes last: its presence marks a complete exercise.
	for _, kv := range []struct {
		k string
		v []byte
	}{{metaKey, key}, {metaID, []byte(id)}, {metaCreated, []byte(time.Now().UTC().Format(time.RFC3339))},
		{metaScenario, sc.Canonical()}} {
		if err := d.log.PutMeta(ctx, kv.k, kv.v); err != nil {
			return fmt.Errorf("recording %s: %w", kv.k, err)
		}
	}
	d.scenario, d.key, d.id = sc, key, id
	return nil
}

func (d *exerciseData) Close() error { return d.log.Close() }

// gameConfig is the game's view of the recorded scenario.
func (d *exerciseData) gameConfig(p scenarios.Placement) *scoreboard.Config {
	return d.scenario.GameConfig(p)
}

// exerciseExists reports whether dir holds an exercise's log: from then
// on the exercise's secrets exist and must never be made anew.
func exerciseExists(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, dbFile))
	return err == nil
}

// serverInfo is written to <data>/server.json while a server runs, so that
// `cyrange game --data DIR` can find it.
type serverInfo struct {
	HTTP   string `json:"http"`
	Submit string `json:"submit"`
	PID    int    `json:"pid"`
}

func writeServerInfo(dir string, si serverInfo) error {
	b, _ := json.Marshal(si)
	return os.WriteFile(serverInfoPath(dir), b, 0o600)
}

func serverInfoPath(dir string) string { return filepath.Join(dir, serverFile) }

func readServerInfo(dir string) (serverInfo, bool) {
	var si serverInfo
	b, err := os.ReadFile(filepath.Join(dir, serverFile))
	if err != nil || json.Unmarshal(b, &si) != nil || si.HTTP == "" {
		return si, false
	}
	return si, true
}

// readFileLimited reads a small file of the data directory.
func readFileLimited(dir, name string) ([]byte, error) {
	f, err := os.Open(filepath.Join(dir, name))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, 1<<20))
}
