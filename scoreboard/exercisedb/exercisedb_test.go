package exercisedb

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cyrange/cyrange/scenarios"
)

func demo(t *testing.T) *scenarios.Scenario {
	t.Helper()
	sc, err := scenarios.Builtin("demo")
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

// TestOpenCreatesThenResumes: a new exercise records its scenario, key
// and id; reopened, with or without the scenario, it is the same one.
func TestOpenCreatesThenResumes(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	if Exists(dir) {
		t.Fatal("Exists before Open")
	}
	sc := demo(t)
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	d, err := Open(ctx, dir, Options{Scenario: sc, Now: func() time.Time { return created }})
	if err != nil {
		t.Fatal(err)
	}
	key, id := d.Key(), d.ID()
	if len(key) != 32 || id == "" || d.Scenario() != sc {
		t.Fatalf("created: key %d bytes, id %q", len(key), id)
	}
	stamp, _, err := d.Log().Meta(metaCreated)
	if err != nil || string(stamp) != "2026-01-02T03:04:05Z" {
		t.Fatalf("created stamp %q %v", stamp, err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if !Exists(dir) {
		t.Fatal("Exists after Open")
	}
	for _, with := range []*scenarios.Scenario{nil, sc} {
		d, err := Open(ctx, dir, Options{Scenario: with})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(d.Key(), key) || d.ID() != id || d.Scenario().Hash() != sc.Hash() {
			t.Errorf("reopened (scenario given: %v): another exercise", with != nil)
		}
		if got := len(d.GameConfig(scenarios.Placement{}).Teams); got != len(sc.Teams) {
			t.Errorf("game config: %d teams, want %d", got, len(sc.Teams))
		}
		d.Close()
	}
}

// TestOpenRefuses: a directory without an exercise, with no scenario to
// create one, and an exercise of another scenario are refused.
func TestOpenRefuses(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if _, err := Open(ctx, dir, Options{}); err == nil || !strings.Contains(err.Error(), "no exercise in") {
		t.Fatalf("empty directory: %v", err)
	}
	d, err := Open(ctx, dir, Options{Scenario: demo(t)})
	if err != nil {
		t.Fatal(err)
	}
	d.Close()
	other := demo(t).WithAttackTeams(5)
	if _, err := Open(ctx, dir, Options{Scenario: other}); err == nil || !strings.Contains(err.Error(), "made from another scenario") {
		t.Fatalf("another scenario: %v", err)
	}
}
