// Package rangetest holds the contract every cyberrange.Driver must keep,
// as a test suite each driver's tests run against themselves:
//
//	func TestContract(t *testing.T) {
//		rangetest.Contract(t, func(t *testing.T) cyberrange.Driver { ... }, func(t *testing.T) *cyberrange.Plan { ... })
//	}
//
// It imports only cyberrange, scenarios and the standard library, never a
// driver. Network gives a test address plans no other test holds.
package rangetest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	cyberrange "github.com/cyrange/cyrange/range"
)

// Killer is what the contract needs of a driver beyond cyberrange.Driver:
// a way to make a container die as a crash would (SIGKILL to the process,
// docker kill), leaving it listed as exited, not removed.
type Killer interface {
	Kill(ctx context.Context, name string) error
}

// Timeouts of the contract, generous for a loaded 2-core machine.
const (
	contractTimeout = 3 * time.Minute
	restartTimeout  = 60 * time.Second
	pollEvery       = 50 * time.Millisecond
)

// Contract runs the contract of a driver on a plan, in order: up from
// nothing, status, up again (a no-op), adopt after a restart (a new
// Orchestrator on a new driver instance from newDriver), a killed target
// restarted by Watch, and down leaving nothing with the exercise's label.
// The plan must have at least one target, and its roles must keep
// running once started. newDriver must return a Driver that also
// implements Killer; each call stands for a fresh process of the same
// host, seeing what the earlier ones made. The exercise's leftovers are
// taken down when the test ends, whatever happened.
func Contract(t *testing.T, newDriver func(t *testing.T) cyberrange.Driver, plan func(t *testing.T) *cyberrange.Plan) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), contractTimeout)
	defer cancel()
	p := plan(t)
	if !slices.ContainsFunc(p.Containers, func(c cyberrange.Container) bool { return c.Kind == cyberrange.KindTarget }) {
		t.Fatal("rangetest: the plan has no target")
	}
	d := newDriver(t)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := cyberrange.NewOrchestrator(cyberrange.OrchestratorOptions{Driver: d}).Down(ctx, p.Exercise); err != nil {
			t.Errorf("rangetest: cleanup: %v", err)
		}
	})

	rec := &recorder{}
	o := cyberrange.NewOrchestrator(cyberrange.OrchestratorOptions{Driver: d, Progress: rec.add})
	steps := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"up", func(t *testing.T) {
			if err := o.Up(ctx, p); err != nil {
				t.Fatalf("up: %v", err)
			}
			checkUpEvents(t, p, rec.take(), cyberrange.ActionCreate)
		}},
		{"status", func(t *testing.T) {
			checkHealthy(t, ctx, o, p)
		}},
		{"up again", func(t *testing.T) {
			if err := o.Up(ctx, p); err != nil {
				t.Fatalf("up: %v", err)
			}
			checkUpEvents(t, p, rec.take(), cyberrange.ActionAdopt)
		}},
		{"adopt after restart", func(t *testing.T) {
			d2 := newDriver(t)
			rec2 := &recorder{}
			o2 := cyberrange.NewOrchestrator(cyberrange.OrchestratorOptions{Driver: d2, Progress: rec2.add})
			if err := o2.Up(ctx, p); err != nil {
				t.Fatalf("up: %v", err)
			}
			checkUpEvents(t, p, rec2.take(), cyberrange.ActionAdopt)
			checkHealthy(t, ctx, o2, p)
		}},
		{"target dies and is restarted", func(t *testing.T) {
			d3 := newDriver(t)
			k, ok := d3.(Killer)
			if !ok {
				t.Fatalf("rangetest: driver %T does not implement Killer", d3)
			}
			restartTarget(t, ctx, d3, k, p)
		}},
		{"down leaves nothing", func(t *testing.T) {
			d4 := newDriver(t)
			if err := cyberrange.NewOrchestrator(cyberrange.OrchestratorOptions{Driver: d4}).Down(ctx, p.Exercise); err != nil {
				t.Fatalf("down: %v", err)
			}
			for _, drv := range []cyberrange.Driver{d, d4, newDriver(t)} {
				a, err := drv.List(ctx, p.Exercise)
				if err != nil {
					t.Fatalf("list: %v", err)
				}
				if len(a.Containers)+len(a.Networks) > 0 {
					t.Fatalf("after down, still listed: %+v", a)
				}
			}
			rep, err := o.Status(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range rep.Containers {
				if c.State != cyberrange.StateMissing {
					t.Errorf("after down, %s is %s", c.Name, c.State)
				}
			}
		}},
	}
	for _, s := range steps {
		if !t.Run(s.name, s.run) {
			t.Fatalf("rangetest: %s failed; the steps after it depend on it", s.name)
		}
	}
}

// ExitWhileStarting is the contract for a container that exits as it
// starts, as a target refusing its options does: UpOrUndo fails with an
// error naming the container and its last line of output, lastLine, and
// takes it down. The plan's container name must exit at once after
// writing lastLine. The orchestrator's readiness wait is made far longer
// than the test may run, so that only noticing the exit passes, and no
// timing of a loaded machine decides it. The exercise's leftovers are
// taken down when the test ends, whatever happened.
func ExitWhileStarting(t *testing.T, d cyberrange.Driver, p *cyberrange.Plan, name, lastLine string) {
	t.Helper()
	if _, ok := p.Container(name); !ok {
		t.Fatalf("rangetest: the plan has no container %s", name)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := cyberrange.NewOrchestrator(cyberrange.OrchestratorOptions{Driver: d}).Down(ctx, p.Exercise); err != nil {
			t.Errorf("rangetest: cleanup: %v", err)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), contractTimeout)
	defer cancel()
	o := cyberrange.NewOrchestrator(cyberrange.OrchestratorOptions{Driver: d, ReadyTimeout: 10 * contractTimeout})
	err := o.UpOrUndo(ctx, p)
	switch {
	case err == nil:
		t.Fatalf("up succeeded, yet %s exits as it starts", name)
	case ctx.Err() != nil:
		t.Fatalf("up waited for %s until the test's own bound (%v) rather than notice it exited: %v", name, contractTimeout, err)
	case !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), lastLine):
		t.Fatalf("the error does not name %s and its last line %q: %v", name, lastLine, err)
	}
	t.Logf("up failed, as it must: %v", err)
	a, err := d.List(ctx, p.Exercise)
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	for _, c := range a.Containers {
		if c.Name == name {
			t.Errorf("up failed, yet left %s (%s)", name, c.State)
		}
	}
}

// recorder collects progress events.
type recorder struct {
	mu     sync.Mutex
	events []cyberrange.Progress
}

func (r *recorder) add(p cyberrange.Progress) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, p)
}

func (r *recorder) take() []cyberrange.Progress {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.events
	r.events = nil
	return out
}

// checkUpEvents checks that Up reported each planned network and
// container once, with want as the action, each container after its
// networks, with Done counting up to Total within each step.
func checkUpEvents(t *testing.T, p *cyberrange.Plan, events []cyberrange.Progress, want cyberrange.Action) {
	t.Helper()
	if err := CheckProgress(events); err != nil {
		t.Error(err)
	}
	if err := CheckUpOrder(p, events); err != nil {
		t.Error(err)
	}
	seen := map[string]int{}
	for _, e := range events {
		if e.Err != nil {
			t.Errorf("%s %s: %v", e.Action, e.Name, e.Err)
		}
		if e.Step == cyberrange.StepRemove {
			t.Errorf("up removed %s, which the plan has", e.Name)
			continue
		}
		seen[e.Name]++
		if e.Action != want {
			t.Errorf("%s: action %s, want %s", e.Name, e.Action, want)
		}
	}
	for _, n := range p.Networks {
		if seen[n.Name] != 1 {
			t.Errorf("network %s reported %d times", n.Name, seen[n.Name])
		}
	}
	for _, c := range p.Containers {
		if seen[c.Name] != 1 {
			t.Errorf("container %s reported %d times", c.Name, seen[c.Name])
		}
	}
}

// CheckProgress checks a sequence of progress events of Up or Down: the
// removals before anything else, Done counting 1 to Total within each
// step (the steps of Up may interleave, since a container goes as soon as
// its networks are there), every step finished, networks only in the
// networks and remove steps, containers only in the others.
func CheckProgress(events []cyberrange.Progress) error {
	done := map[cyberrange.Step]int{}
	total := map[cyberrange.Step]int{}
	var order []cyberrange.Step
	for i, e := range events {
		if _, ok := total[e.Step]; !ok {
			total[e.Step] = e.Total
			order = append(order, e.Step)
		}
		if e.Step == cyberrange.StepRemove && len(order) > 1 {
			return fmt.Errorf("event %d: removing %s after %s began", i, e.Name, order[0])
		}
		done[e.Step]++
		if e.Done != done[e.Step] || e.Total != total[e.Step] {
			return fmt.Errorf("event %d (%s %s): done %d of %d, want %d of %d", i, e.Step, e.Name, e.Done, e.Total, done[e.Step], total[e.Step])
		}
		isNet := e.Kind == cyberrange.KindNetwork
		if e.Step == cyberrange.StepNetworks && !isNet || (e.Step == cyberrange.StepTargets || e.Step == cyberrange.StepGateways) && isNet {
			return fmt.Errorf("event %d: %s %s in step %s", i, e.Kind, e.Name, e.Step)
		}
	}
	for _, s := range order {
		if done[s] != total[s] {
			return fmt.Errorf("step %s ended at %d of %d", s, done[s], total[s])
		}
	}
	return nil
}

// CheckUpOrder checks that Up reported each container after every network
// it is attached to.
func CheckUpOrder(p *cyberrange.Plan, events []cyberrange.Progress) error {
	at := map[string]int{}
	for i, e := range events {
		if e.Kind == cyberrange.KindNetwork && e.Step != cyberrange.StepRemove {
			at[e.Name] = i
		}
	}
	for i, e := range events {
		c, ok := p.Container(e.Name)
		if !ok || e.Kind == cyberrange.KindNetwork || e.Step == cyberrange.StepRemove {
			continue
		}
		for _, a := range c.Networks {
			if j, ok := at[a.Network]; ok && j > i {
				return fmt.Errorf("container %s reported before its network %s", c.Name, a.Network)
			}
		}
	}
	return nil
}

func checkHealthy(t *testing.T, ctx context.Context, o *cyberrange.Orchestrator, p *cyberrange.Plan) {
	t.Helper()
	rep, err := o.Status(ctx, p)
	if err != nil {
		t.Fatalf("status: %v", err)
	}
	if !rep.Healthy || rep.Running != len(p.Containers) || rep.Total != len(p.Containers) {
		t.Errorf("status: healthy %v, %d of %d running (plan has %d); leftovers %v", rep.Healthy, rep.Running, rep.Total, len(p.Containers), rep.Leftovers)
	}
	for _, c := range rep.Containers {
		if c.State != cyberrange.StateRunning || c.Changed {
			t.Errorf("status: %s is %s (changed %v, exit code %d)", c.Name, c.State, c.Changed, c.ExitCode)
		}
		pc, _ := p.Container(c.Name)
		for _, port := range pc.Ports {
			if _, ok := rep.HostAddr(c.Name, port.Name); port.Publish != "" && !ok {
				t.Errorf("status: %s: port %s not published (ports %v)", c.Name, port.Name, c.Ports)
			}
		}
	}
	for _, n := range rep.Networks {
		if !n.Present || n.Changed {
			t.Errorf("status: network %s present %v changed %v", n.Name, n.Present, n.Changed)
		}
	}
}

// restartTarget kills the plan's first target under a watching
// orchestrator and waits for the watch to bring it back.
func restartTarget(t *testing.T, ctx context.Context, d cyberrange.Driver, k Killer, p *cyberrange.Plan) {
	t.Helper()
	var target cyberrange.Container
	for _, c := range p.Containers {
		if c.Kind == cyberrange.KindTarget {
			target = c
			break
		}
	}
	restarted := make(chan cyberrange.Progress, 16)
	o := cyberrange.NewOrchestrator(cyberrange.OrchestratorOptions{Driver: d, RestartBackoff: 50 * time.Millisecond,
		Progress: func(e cyberrange.Progress) {
			if e.Step == cyberrange.StepWatch {
				select {
				case restarted <- e:
				default:
				}
			}
		}})
	wctx, stop := context.WithCancel(ctx)
	watchDone := make(chan error, 1)
	go func() { watchDone <- o.Watch(wctx, p) }()
	defer func() {
		stop()
		if err := <-watchDone; err != nil {
			t.Errorf("watch: %v", err)
		}
	}()
	// Give Watch a moment to subscribe, so that the death is an event and
	// not only something the subscription's sweep finds (both must work,
	// but the event is the path under test).
	time.Sleep(200 * time.Millisecond)
	if err := k.Kill(ctx, target.Name); err != nil {
		t.Fatalf("kill %s: %v", target.Name, err)
	}
	timeout := time.NewTimer(restartTimeout)
	defer timeout.Stop()
	for {
		select {
		case e := <-restarted:
			if e.Name != target.Name {
				continue
			}
			if e.Action != cyberrange.ActionRestart || e.Err != nil {
				t.Fatalf("watch: %s %s: %v", e.Action, e.Name, e.Err)
			}
			waitRunning(t, ctx, o, p, target.Name)
			return
		case <-timeout.C:
			t.Fatalf("watch did not restart %s within %v", target.Name, restartTimeout)
		}
	}
}

func waitRunning(t *testing.T, ctx context.Context, o *cyberrange.Orchestrator, p *cyberrange.Plan, name string) {
	t.Helper()
	deadline := time.Now().Add(restartTimeout)
	for {
		rep, err := o.Status(ctx, p)
		if err != nil {
			t.Fatalf("status: %v", err)
		}
		for _, c := range rep.Containers {
			if c.Name == name && c.State == cyberrange.StateRunning {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not running %v after its restart", name, restartTimeout)
		}
		time.Sleep(pollEvery)
	}
}
