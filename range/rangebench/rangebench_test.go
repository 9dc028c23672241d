package rangebench

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	cyberrange "github.com/cyrange/cyrange/range"
	"github.com/cyrange/cyrange/scenarios"
)

// journal records, in order, what the fake orchestrator did and what the
// Compose command was run with.
type journal struct {
	path string
	mu   sync.Mutex
}

func newJournal(t *testing.T) *journal {
	return &journal{path: filepath.Join(t.TempDir(), "journal")}
}

func (j *journal) add(line string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	f, err := os.OpenFile(j.path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		panic(err)
	}
	defer f.Close()
	f.WriteString(line + "\n")
}

// take returns the lines recorded since the last take.
func (j *journal) take(t *testing.T) []string {
	t.Helper()
	j.mu.Lock()
	defer j.mu.Unlock()
	b, err := os.ReadFile(j.path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	os.Remove(j.path)
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

// compose is a Compose command line that records its arguments in j,
// with the Compose file's path as FILE.
func (j *journal) compose() []string {
	return []string{"sh", "-c", `echo "compose $*" | sed "s|-f [^ ]*docker-compose.yml|-f FILE|" >> '` + j.path + `'`, "sh"}
}

type fakeOrchestrator struct {
	j         *journal
	unhealthy bool
}

func (f *fakeOrchestrator) Up(_ context.Context, p *cyberrange.Plan) error {
	f.j.add("range up " + p.Exercise)
	return nil
}

func (f *fakeOrchestrator) Down(_ context.Context, exercise string) error {
	f.j.add("range down " + exercise)
	return nil
}

func (f *fakeOrchestrator) Status(_ context.Context, p *cyberrange.Plan) (cyberrange.Report, error) {
	f.j.add("range status " + p.Exercise)
	if f.unhealthy {
		return cyberrange.Report{Running: 1, Total: 2}, nil
	}
	return cyberrange.Report{Healthy: true, Running: 2, Total: 2}, nil
}

// clock is a machine whose CPU time moves a second each time it is read.
func clock() func() time.Duration {
	var n time.Duration
	return func() time.Duration { n += time.Second; return n }
}

func TestBench(t *testing.T) {
	ctx := context.Background()
	j := newJournal(t)
	var warned []error
	b, err := New(ctx, Options{Orchestrator: &fakeOrchestrator{j: j}, Plan: &cyberrange.Plan{Exercise: Exercise},
		ComposeFile: []byte("services: {}\n"), Compose: j.compose(), CPU: clock(),
		Warn: func(err error) { warned = append(warned, err) }})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(filepath.Join(b.dir, "docker-compose.yml")); err != nil || string(got) != "services: {}\n" {
		t.Errorf("compose file %q %v", got, err)
	}
	down := []string{"range down rangebench", "compose -p cyrangecompose -f FILE down --remove-orphans -t 0"}
	if got := j.take(t); !slices.Equal(got, down) {
		t.Errorf("leftovers taken down with\n%q, want\n%q", got, down)
	}
	rangeRun := []string{"range up rangebench", "range status rangebench", "range down rangebench"}
	composeRun := []string{"compose -p cyrangecompose -f FILE up -d", "compose -p cyrangecompose -f FILE down -t 0"}
	for i, want := range [][]string{append(rangeRun, composeRun...), append(composeRun, rangeRun...)} {
		r, err := b.Run(ctx, i)
		if err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
		if got := j.take(t); !slices.Equal(got, want) {
			t.Errorf("run %d did\n%q, want\n%q", i, got, want)
		}
		if r.RangeCPU != time.Second || r.ComposeCPU != time.Second || r.RangeUp <= 0 || r.RangeDown <= 0 || r.ComposeUp <= 0 || r.ComposeDown <= 0 {
			t.Errorf("run %d: %+v", i, r)
		}
	}
	b.Close(ctx)
	if got := j.take(t); !slices.Equal(got, down) {
		t.Errorf("closed with\n%q, want\n%q", got, down)
	}
	if _, err := os.Stat(b.dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the compose file's directory is still there: %v", err)
	}
	if len(warned) > 0 {
		t.Errorf("warnings: %v", warned)
	}
}

func TestBenchFails(t *testing.T) {
	ctx := context.Background()
	t.Run("unhealthy range", func(t *testing.T) {
		j := newJournal(t)
		b, err := New(ctx, Options{Orchestrator: &fakeOrchestrator{j: j, unhealthy: true}, Plan: &cyberrange.Plan{Exercise: Exercise},
			Compose: j.compose()})
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close(ctx)
		if _, err := b.Run(ctx, 0); err == nil || err.Error() != "range up left the range unhealthy: 1 of 2 running" {
			t.Errorf("run: %v", err)
		}
	})
	t.Run("compose fails", func(t *testing.T) {
		var warned []string
		b, err := New(ctx, Options{Orchestrator: &fakeOrchestrator{j: newJournal(t)}, Plan: &cyberrange.Plan{Exercise: Exercise},
			Compose: []string{"sh", "-c", "echo no engine; exit 3", "sh"}, Warn: func(err error) { warned = append(warned, err.Error()) }})
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close(ctx)
		_, err = b.Run(ctx, 1)
		if err == nil || !strings.HasPrefix(err.Error(), "sh -c echo no engine; exit 3 sh up -d: exit status 3\nno engine") {
			t.Errorf("run: %v", err)
		}
		if len(warned) != 1 || !strings.Contains(warned[0], "down --remove-orphans -t 0: exit status 3") {
			t.Errorf("warnings %q, want the cleanup's Compose failure", warned)
		}
	})
	t.Run("no orchestrator", func(t *testing.T) {
		if _, err := New(ctx, Options{Plan: &cyberrange.Plan{Exercise: Exercise}, Compose: []string{"true"}}); err == nil {
			t.Error("a bench without an orchestrator")
		}
	})
}

func TestPlan(t *testing.T) {
	sc, err := scenarios.Builtin("tiengiang-2023")
	if err != nil {
		t.Fatal(err)
	}
	name := sc.Name
	p, err := Plan(sc, "cyrange:bench")
	if err != nil {
		t.Fatal(err)
	}
	if p.Exercise != Exercise || p.Driver != cyberrange.DriverDocker || sc.Name != name {
		t.Errorf("plan of exercise %q on %q; the scenario is now %q", p.Exercise, p.Driver, sc.Name)
	}
	if len(p.Containers) == 0 || len(p.Networks) == 0 {
		t.Fatalf("%d containers, %d networks", len(p.Containers), len(p.Networks))
	}
	for _, c := range p.Containers {
		if c.Image != "cyrange:bench" && !strings.HasPrefix(c.Image, "cyrange-attackbox:") {
			t.Errorf("%s runs %s", c.Name, c.Image)
		}
	}
}

func TestMedians(t *testing.T) {
	for _, tt := range []struct {
		in   []time.Duration
		want time.Duration
	}{{nil, 0}, {[]time.Duration{3}, 3}, {[]time.Duration{5, 1, 3}, 3}, {[]time.Duration{4, 1, 3, 2}, 2}} {
		if got := Median(tt.in); got != tt.want {
			t.Errorf("median %v = %v, want %v", tt.in, got, tt.want)
		}
	}
	runs := []Timing{{RangeUp: 1, RangeDown: 9, ComposeUp: 4, ComposeDown: 5, RangeCPU: 7, ComposeCPU: 2},
		{RangeUp: 3, RangeDown: 8, ComposeUp: 6, ComposeDown: 5, RangeCPU: 1, ComposeCPU: 2},
		{RangeUp: 2, RangeDown: 7, ComposeUp: 5, ComposeDown: 1, RangeCPU: 4, ComposeCPU: 3}}
	want := Timing{RangeUp: 2, RangeDown: 8, ComposeUp: 5, ComposeDown: 5, RangeCPU: 4, ComposeCPU: 2}
	if got := Medians(runs); got != want {
		t.Errorf("medians %+v, want %+v", got, want)
	}
}

func TestFindCompose(t *testing.T) {
	got, err := FindCompose("docker compose")
	if err != nil || len(got) != 2 || got[1] != "compose" {
		t.Errorf("given: %v %v", got, err)
	}
	t.Setenv("PATH", t.TempDir())
	if _, err := FindCompose(""); err == nil {
		t.Error("found a compose with an empty PATH")
	}
}

func TestParseStat(t *testing.T) {
	for _, tt := range []struct {
		desc, stat string
		want       time.Duration
	}{
		{"busy but not idle nor iowait", "cpu  100 20 30 5000 70 4 6 0 0 0\ncpu0 1 2 3 4 5 6 7\n", 160 * 10 * time.Millisecond},
		{"not the machine's line", "cpu0 100 20 30 5000 70 4 6\n", 0},
		{"too short", "cpu 1 2 3\n", 0},
		{"garbage", "cpu 1 x 3 4 5 6 7\n", 0},
		{"empty", "", 0},
	} {
		if got := parseStat(tt.stat); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.desc, got, tt.want)
		}
	}
}
