package main

import (
	"context"
	"errors"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cyberrange "github.com/cyrange/cyrange/range"
	"github.com/cyrange/cyrange/scoreboard/tokens"
)

// runBinary runs the cyrange binary to its end (bounded by a hang guard)
// and returns its exit status and standard error.
func runBinary(t *testing.T, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	var errb strings.Builder
	cmd.Stderr = &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, errb.String()
	case errors.As(err, &ee):
		return ee.ExitCode(), errb.String()
	}
	t.Fatalf("cyrange %s: %v", strings.Join(args, " "), err)
	return 0, ""
}

// TestRestartRefusesLostSecrets: the tokens and the checker secret of an
// existing exercise are never made anew (the teams hold the tokens, the
// range's targets the secret), and a secrets file open to other users is
// refused, not used.
func TestRestartRefusesLostSecrets(t *testing.T) {
	dir := t.TempDir()
	scen := burstScenario(t, dir)
	data := filepath.Join(dir, "data")
	s := startServer(t, scen, data)
	s.stop(t)
	path := filepath.Join(data, tokens.FileName)
	saved, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	runArgs := []string{"run", scen, "--data", data, "--http", "127.0.0.1:0", "--submit", "127.0.0.1:0"}

	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	code, stderr := runBinary(t, runArgs...)
	if code != 1 || !strings.Contains(stderr, "tokens.json is missing") {
		t.Fatalf("restart without tokens.json: exit %d, %q", code, stderr)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("the refused restart made new tokens")
	}

	if err := os.WriteFile(path, saved, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	code, stderr = runBinary(t, runArgs...)
	if code != 1 || !strings.Contains(stderr, "chmod 600") {
		t.Fatalf("restart with tokens.json readable by all: exit %d, %q", code, stderr)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}

	secret := filepath.Join(data, tokens.CheckerSecretFile)
	if err := os.Remove(secret); err != nil {
		t.Fatal(err)
	}
	code, stderr = runBinary(t, runArgs...)
	if code != 1 || !strings.Contains(stderr, "checker-secret is missing") {
		t.Fatalf("restart without the checker secret: exit %d, %q", code, stderr)
	}

	// Restored, the exercise resumes with the tokens the teams hold.
	if err := os.WriteFile(secret, []byte("0123456789abcdef0123456789abcdef\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s = startServer(t, scen, data)
	defer s.stop(t)
	if got := readTokens(t, data); got.Organizer != string(mustTokensFile(t, saved).Organizer) {
		t.Fatal("the restart changed the tokens")
	}
}

func mustTokensFile(t *testing.T, b []byte) tokens.File {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, tokens.FileName), b, 0o600); err != nil {
		t.Fatal(err)
	}
	return readTokens(t, dir)
}

// TestSecondRunLeavesTheRangeAlone: a second run (or demo, or range down)
// on the data directory of a running exercise is refused before it
// touches anything: the first exercise's range keeps running untouched.
func TestSecondRunLeavesTheRangeAlone(t *testing.T) {
	if testing.Short() {
		t.Skip("brings a local range up")
	}
	dir := t.TempDir()
	scen := shortScenario(t, dir, "demo", "lock")
	data := filepath.Join(dir, "data")
	downAtCleanup(t, scen, data, cyberrange.DriverLocal)
	s := startExercise(t, scen, data, cyberrange.DriverLocal)
	before := rangeProcesses(t)
	if len(before) == 0 {
		t.Fatal("no range processes")
	}
	for _, args := range [][]string{
		{"run", scen, "--driver", "local", "--data", data, "--http", "127.0.0.1:0", "--submit", "127.0.0.1:0", "--down"},
		{"demo", "--scenario", scen, "--data", data, "--http", "127.0.0.1:0", "--submit", "127.0.0.1:0"},
		{"range", "down", scen, "--driver", "local", "--data", data},
		{"range", "up", scen, "--driver", "local", "--data", data},
	} {
		code, stderr := runBinary(t, args...)
		if code != 1 || !strings.Contains(stderr, "in use by another cyrange") {
			t.Fatalf("cyrange %s: exit %d, %q; want a refusal", strings.Join(args[:2], " "), code, stderr)
		}
	}
	if after := rangeProcesses(t); !maps.Equal(before, after) {
		t.Fatalf("the range changed under the running exercise:\nbefore %v\nafter  %v", before, after)
	}
	// Status is read-only and may look at any time.
	if code, stderr := runBinary(t, "range", "status", scen, "--driver", "local", "--data", data); code != 0 {
		t.Fatalf("range status while running: %d %s", code, stderr)
	}
	s.stop(t)
}
