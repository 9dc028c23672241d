package rangebench

import (
	"bytes"
	"context"
	"errors"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	cyberrange "github.com/cyrange/cyrange/range"
	"github.com/cyrange/cyrange/scenarios"
)

// fakeDriver keeps a range in memory, every container running as soon as
// it starts, and records its image builds and removals in j. It embeds
// the interface so that a method the benchmark should not call panics.
type fakeDriver struct {
	cyberrange.Driver
	j          *journal
	mu         sync.Mutex
	networks   map[string]cyberrange.Network
	containers map[string]cyberrange.Container
	buildErr   error
}

func newFakeDriver(j *journal) *fakeDriver {
	return &fakeDriver{j: j, networks: map[string]cyberrange.Network{}, containers: map[string]cyberrange.Container{}}
}

func (d *fakeDriver) Name() string { return "fake" }

func (d *fakeDriver) List(_ context.Context, exercise string) (cyberrange.Actual, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var a cyberrange.Actual
	for _, n := range d.networks {
		if n.Labels[cyberrange.LabelExercise] == exercise {
			a.Networks = append(a.Networks, cyberrange.NetworkStatus{Name: n.Name, Subnet: n.Subnet, Labels: n.Labels})
		}
	}
	for _, c := range d.containers {
		if c.Labels[cyberrange.LabelExercise] == exercise {
			cs := cyberrange.ContainerStatus{Name: c.Name, Kind: c.Kind, State: cyberrange.StateRunning, Labels: c.Labels}
			for _, at := range c.Networks {
				cs.Networks = append(cs.Networks, at.Network)
			}
			a.Containers = append(a.Containers, cs)
		}
	}
	return a, nil
}

func (d *fakeDriver) EnsureNetwork(_ context.Context, n cyberrange.Network) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.networks[n.Name] = n
	return nil
}

func (d *fakeDriver) RemoveNetwork(_ context.Context, name string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.networks, name)
	return nil
}

func (d *fakeDriver) Start(_ context.Context, c cyberrange.Container) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.containers[c.Name] = c
	return nil
}

func (d *fakeDriver) Remove(_ context.Context, name string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.containers, name)
	return nil
}

func (d *fakeDriver) BuildImage(_ context.Context, tag, binary string) error {
	d.j.add("build " + tag + " from " + binary)
	return d.buildErr
}

func (d *fakeDriver) RemoveImage(_ context.Context, ref string) error {
	d.j.add("remove image " + ref)
	return nil
}

// TestRun runs the whole benchmark on a range in memory and a Compose
// that only says what it was asked: the image is built from the static
// binary and removed last, after both sides are taken down.
func TestRun(t *testing.T) {
	ctx := context.Background()
	sc, err := scenarios.Builtin("demo")
	if err != nil {
		t.Fatal(err)
	}
	j := newJournal(t)
	d := newFakeDriver(j)
	cleaned := false
	static := func(context.Context) (string, func(), error) {
		return "/tmp/static/cyrange", func() { j.add("binary cleaned up"); cleaned = true }, nil
	}
	var planned *cyberrange.Plan
	composeFile := func(p *cyberrange.Plan, project string) ([]byte, error) {
		planned = p
		return []byte("project: " + project + "\n"), nil
	}
	var out, errs bytes.Buffer
	err = Run(ctx, RunOptions{Scenario: sc, Name: "demo", Driver: d, StaticBinary: static, ComposeFile: composeFile,
		Compose: j.compose(), Runs: 3, Stdout: &out, Stderr: &errs})
	if err != nil {
		t.Fatal(err)
	}
	if !cleaned || planned == nil || planned.Exercise != Exercise || planned.Containers[0].Image != DefaultImage {
		t.Fatalf("binary cleaned up %v, plan %+v", cleaned, planned)
	}
	got := j.take(t)
	want := []string{"build cyrange:bench from /tmp/static/cyrange", "binary cleaned up",
		"compose -p cyrangecompose -f FILE down --remove-orphans -t 0"}
	for range 3 {
		want = append(want, "compose -p cyrangecompose -f FILE up -d", "compose -p cyrangecompose -f FILE down -t 0")
	}
	want = append(want, "compose -p cyrangecompose -f FILE down --remove-orphans -t 0", "remove image cyrange:bench")
	if !slices.Equal(got, want) {
		t.Errorf("did\n%q, want\n%q", got, want)
	}
	heading := regexp.MustCompile(`^bench range: demo, \d+ networks, \d+ containers, image cyrange:bench, 3 runs; baseline sh -c .*\nrange up: `)
	if !heading.MatchString(out.String()) {
		t.Errorf("standard output:\n%s", out.String())
	}
	if n := strings.Count(errs.String(), "\n"); n != 3 || strings.Contains(errs.String(), "cleanup") {
		t.Errorf("standard error:\n%s", errs.String())
	}
	if len(d.containers) > 0 || len(d.networks) > 0 {
		t.Errorf("left %d containers and %d networks", len(d.containers), len(d.networks))
	}
}

// TestRunImages: an image given is neither built nor removed, and a
// failure to build stops the benchmark before anything comes up.
func TestRunImages(t *testing.T) {
	ctx := context.Background()
	sc, err := scenarios.Builtin("demo")
	if err != nil {
		t.Fatal(err)
	}
	noBinary := func(context.Context) (string, func(), error) {
		t.Error("asked for a binary")
		return "", nil, errors.New("no")
	}
	composeFile := func(*cyberrange.Plan, string) ([]byte, error) { return nil, nil }
	j := newJournal(t)
	var out bytes.Buffer
	err = Run(ctx, RunOptions{Scenario: sc, Name: "demo", Driver: newFakeDriver(j), Image: "mine:1", StaticBinary: noBinary,
		ComposeFile: composeFile, Compose: j.compose(), Runs: 1, Stdout: &out, Stderr: &out})
	if err != nil || slices.ContainsFunc(j.take(t), func(l string) bool { return strings.Contains(l, "image") }) ||
		!strings.Contains(out.String(), "image mine:1, 1 runs") {
		t.Errorf("%v:\n%s", err, out.String())
	}

	d := newFakeDriver(j)
	d.buildErr = errors.New("no engine")
	cleaned := false
	static := func(context.Context) (string, func(), error) { return "/bin/cyrange", func() { cleaned = true }, nil }
	err = Run(ctx, RunOptions{Scenario: sc, Driver: d, StaticBinary: static, ComposeFile: composeFile, Compose: j.compose(),
		Runs: 1, Stdout: &out, Stderr: &out})
	if err == nil || err.Error() != "no engine" || !cleaned {
		t.Errorf("a failed build: %v, binary cleaned up %v", err, cleaned)
	}
	if got := j.take(t); !slices.Equal(got, []string{"build cyrange:bench from /bin/cyrange"}) {
		t.Errorf("after a failed build, did %q", got)
	}
}

// TestMeasure pins the figures bench range prints (the README quotes
// them), on a range and a Compose that do nothing.
func TestMeasure(t *testing.T) {
	ctx := context.Background()
	b, err := New(ctx, Options{Orchestrator: &fakeOrchestrator{j: newJournal(t)}, Plan: &cyberrange.Plan{Exercise: Exercise},
		Compose: []string{"true"}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close(ctx)
	var out, errs bytes.Buffer
	if err := b.Measure(ctx, 2, &out, &errs); err != nil {
		t.Fatal(err)
	}
	wantErr := regexp.MustCompile(`^run 1: range up \S+ down \S+; compose up \S+ down \S+\nrun 2: range up \S+ down \S+; compose up \S+ down \S+\n$`)
	if !wantErr.MatchString(errs.String()) {
		t.Errorf("standard error:\n%s", errs.String())
	}
	cpu := `machine CPU \d+\.\d s \((\d+|NaN|\+Inf)% of \d+ cores\)`
	wantOut := regexp.MustCompile(`^range up: \d+\.\d{3} s, ` + cpu + `
compose up: \d+\.\d{3} s, ` + cpu + `
up ratio range/compose: \S+ \(target ≤ 0\.50\)
range down: \d+\.\d{3} s \(target ≤ 3 s\)
compose down: \d+\.\d{3} s
$`)
	if !wantOut.MatchString(out.String()) {
		t.Errorf("standard output:\n%s", out.String())
	}
}

func TestTimingWriteText(t *testing.T) {
	m := Timing{RangeUp: 2500 * time.Millisecond, RangeDown: 1250 * time.Millisecond, ComposeUp: 10 * time.Second,
		ComposeDown: 4 * time.Second, RangeCPU: 5 * time.Second, ComposeCPU: 8 * time.Second}
	var b bytes.Buffer
	if err := m.WriteText(&b, 4); err != nil {
		t.Fatal(err)
	}
	want := `range up: 2.500 s, machine CPU 5.0 s (50% of 4 cores)
compose up: 10.000 s, machine CPU 8.0 s (20% of 4 cores)
up ratio range/compose: 0.25 (target ≤ 0.50)
range down: 1.250 s (target ≤ 3 s)
compose down: 4.000 s
`
	if b.String() != want {
		t.Errorf("medians:\n%s\nwant:\n%s", b.String(), want)
	}
}
