package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cyberrange "github.com/cyrange/cyrange/range"
	"github.com/cyrange/cyrange/scoreboard/tokens"
)

// memDriver keeps a range in memory, shared by every command of a test
// the way an engine is shared by every cyrange process.
type memDriver struct {
	cyberrange.Driver
	mu         sync.Mutex
	networks   map[string]cyberrange.NetworkStatus
	containers map[string]cyberrange.ContainerStatus
}

func newMemDriver() *memDriver {
	return &memDriver{networks: map[string]cyberrange.NetworkStatus{}, containers: map[string]cyberrange.ContainerStatus{}}
}

func (d *memDriver) Name() string { return "mem" }

func (d *memDriver) List(_ context.Context, exercise string) (cyberrange.Actual, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var a cyberrange.Actual
	for _, n := range d.networks {
		if n.Labels[cyberrange.LabelExercise] == exercise {
			a.Networks = append(a.Networks, n)
		}
	}
	for _, c := range d.containers {
		if c.Labels[cyberrange.LabelExercise] == exercise {
			a.Containers = append(a.Containers, c)
		}
	}
	return a, nil
}

func (d *memDriver) EnsureNetwork(_ context.Context, n cyberrange.Network) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.networks[n.Name] = cyberrange.NetworkStatus{Name: n.Name, Subnet: n.Subnet, Labels: maps.Clone(n.Labels)}
	return nil
}

func (d *memDriver) RemoveNetwork(_ context.Context, name string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.networks, name)
	return nil
}

func (d *memDriver) Start(_ context.Context, c cyberrange.Container) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	ports := map[string]string{}
	for _, p := range c.Ports {
		if p.Publish != "" {
			ports[p.Name] = p.Publish
		}
	}
	d.containers[c.Name] = cyberrange.ContainerStatus{Name: c.Name, Kind: c.Kind, State: cyberrange.StateRunning,
		Labels: maps.Clone(c.Labels), Ports: ports, Started: time.Now()}
	return nil
}

func (d *memDriver) Remove(_ context.Context, name string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.containers, name)
	return nil
}

func (d *memDriver) count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.networks) + len(d.containers)
}

// rangeRun runs `cyrange range ARGS` on d.
func rangeRun(t *testing.T, d *memDriver, args ...string) (string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	var gotOpts driverOptions
	err := rangeCommand(context.Background(), &env{stdout: &out, stderr: &errb, getenv: os.Getenv}, args,
		func(_ context.Context, name string, o driverOptions) (cyberrange.Driver, func() error, error) {
			if name != "local" {
				t.Errorf("driver %q", name)
			}
			gotOpts = o
			return d, func() error { return nil }, nil
		})
	if gotOpts.StateDir != "" && filepath.Dir(gotOpts.StateDir) != gotOpts.DataDir {
		t.Errorf("state dir %s outside data dir %s", gotOpts.StateDir, gotOpts.DataDir)
	}
	return out.String(), err
}

func TestRangeCommands(t *testing.T) {
	d := newMemDriver()
	data := t.TempDir()

	// Status before anything: no data.
	if _, err := rangeRun(t, d, "status", "demo", "--driver", "local", "--data", filepath.Join(data, "none")); err == nil {
		t.Fatal("status of a range never brought up succeeded")
	}

	out, err := rangeRun(t, d, "up", "demo", "--driver", "local", "--data", data, "--json")
	if err != nil {
		t.Fatalf("up: %v\n%s", err, out)
	}
	lines := jsonLines(t, out)
	if len(lines) < 2 {
		t.Fatalf("up printed %d lines", len(lines))
	}
	for _, l := range lines[:len(lines)-1] {
		if l["action"] != "create" || l["step"] == "" || l["done"] == nil {
			t.Errorf("progress line %v", l)
		}
	}
	last := lines[len(lines)-1]
	if last["exercise"] != "demo" || last["healthy"] != true {
		t.Errorf("last line %v", last)
	}
	if _, err := os.Stat(filepath.Join(data, tokens.FileName)); err != nil {
		t.Error(err)
	}
	if fi, err := os.Stat(filepath.Join(data, tokens.CheckerSecretFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("checker secret: %v", err)
	}

	// Up again adopts everything, with the same tokens and secret.
	out, err = rangeRun(t, d, "up", "demo", "--driver", "local", "--data", data)
	if err != nil {
		t.Fatalf("up again: %v\n%s", err, out)
	}
	if strings.Contains(out, " create ") || strings.Contains(out, " recreate ") || !strings.Contains(out, " adopt ") {
		t.Errorf("up again did more than adopt:\n%s", out)
	}
	for _, want := range []string{"targets  [####################] 4/4 adopt", "127.0.0.1:1081", "a01", "127.60.1.0/24", "healthy: true"} {
		if !strings.Contains(out, want) {
			t.Errorf("up output lacks %q:\n%s", want, out)
		}
	}

	out, err = rangeRun(t, d, "status", "demo", "--driver", "local", "--data", data)
	if err != nil || !strings.Contains(out, "cyrange-demo-mail-d01") || !strings.Contains(out, "running") {
		t.Errorf("status: %v\n%s", err, out)
	}

	out, err = rangeRun(t, d, "down", "demo", "--driver", "local", "--data", data, "--json")
	if err != nil {
		t.Fatalf("down: %v\n%s", err, out)
	}
	for _, l := range jsonLines(t, out) {
		if l["action"] != "remove" {
			t.Errorf("down line %v", l)
		}
	}
	if n := d.count(); n != 0 {
		t.Errorf("%d things left after down", n)
	}
	if _, err := rangeRun(t, d, "status", "demo", "--driver", "local", "--data", data); err == nil || !strings.Contains(err.Error(), "not healthy") {
		t.Errorf("status after down: %v", err)
	}
}

func jsonLines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var lines []map[string]any
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("not JSON: %q", sc.Text())
		}
		lines = append(lines, m)
	}
	return lines
}

func TestRangeUsage(t *testing.T) {
	tests := []struct {
		desc string
		args []string
	}{
		{"nothing", nil},
		{"unknown subcommand", []string{"sideways", "demo"}},
		{"no scenario", []string{"up"}},
		{"two scenarios", []string{"up", "demo", "demo"}},
		{"bad driver", []string{"up", "demo", "--driver", "swarm"}},
		{"bad parallel", []string{"up", "demo", "--parallel", "0"}},
		{"unknown flag", []string{"status", "demo", "--color"}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			_, err := rangeRun(t, newMemDriver(), tt.args...)
			var ue *usageError
			if !errors.As(err, &ue) {
				t.Fatalf("err = %v, want a usage error", err)
			}
		})
	}
}

// TestRangeOfAnotherDataDirectory: two data directories' exercises of one
// scenario share their names on an engine; neither's range up or range
// down touches the other's range, and a down that cannot tell whose range
// it is asks for --data or --force.
func TestRangeOfAnotherDataDirectory(t *testing.T) {
	d := newMemDriver()
	first, second := t.TempDir(), t.TempDir()
	if out, err := rangeRun(t, d, "up", "demo", "--driver", "local", "--data", first); err != nil {
		t.Fatalf("up: %v\n%s", err, out)
	}
	n := d.count()
	for _, args := range [][]string{
		{"up", "demo", "--driver", "local", "--data", second},
		{"down", "demo", "--driver", "local", "--data", second},
	} {
		if _, err := rangeRun(t, d, args...); err == nil || !strings.Contains(err.Error(), "belongs to another exercise") {
			t.Errorf("range %s with another data directory: %v", args[0], err)
		}
		if d.count() != n {
			t.Fatalf("range %s with another data directory changed the range", args[0])
		}
	}
	nowhere := filepath.Join(t.TempDir(), "none")
	if _, err := rangeRun(t, d, "down", "demo", "--driver", "local", "--data", nowhere); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Errorf("down without the exercise's data: %v", err)
	}
	if d.count() != n {
		t.Fatal("a down without the exercise's data removed something")
	}
	if _, err := rangeRun(t, d, "down", "demo", "--driver", "local", "--data", nowhere, "--force"); err != nil || d.count() != 0 {
		t.Fatalf("forced down: %v, %d left", err, d.count())
	}
}
