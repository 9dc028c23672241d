package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/cyrange/cyrange/range/rangetest"
	"github.com/cyrange/cyrange/scenarios"
)

// ownScenario writes the built-in scenario builtin, renamed to name when
// name is not empty, on address plans no other test holds (its own
// loopback and Docker ranges and gateway ports: two runs of these tests
// never meet), with edit applied, and returns the file's path.
func ownScenario(t *testing.T, dir, builtin, name string, edit func(*scenarios.Scenario)) string {
	t.Helper()
	sc, err := scenarios.Builtin(builtin)
	if err != nil {
		t.Fatal(err)
	}
	if name != "" {
		sc.Name = name
	}
	sc.Network = rangetest.Network(t)
	if edit != nil {
		edit(sc)
	}
	if err := sc.Validate(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, sc.Name+".yaml")
	if err := os.WriteFile(path, sc.Canonical(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// downAtCleanup takes the range of scen in data down when the test ends,
// however it ends: a range's processes and containers outlive a server
// the test killed. Register it before the server starts, so that it runs
// after the server is gone.
func downAtCleanup(t *testing.T, scen, data, driver string) {
	t.Helper()
	t.Cleanup(func() {
		if _, err := os.Stat(data); err != nil {
			return
		}
		if code, _, stderr := runMain(t, "range", "down", scen, "--driver", driver, "--data", data, "--force"); code != 0 {
			t.Errorf("taking the test's range down: %s", stderr)
		}
	})
}
