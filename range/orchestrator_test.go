package cyberrange_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	cyberrange "github.com/cyrange/cyrange/range"
	"github.com/cyrange/cyrange/range/rangetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// events records progress.
type events struct {
	mu  sync.Mutex
	all []cyberrange.Progress
}

func (e *events) add(p cyberrange.Progress) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.all = append(e.all, p)
}

func (e *events) take() []cyberrange.Progress {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := e.all
	e.all = nil
	return out
}

// actions maps each name to the action reported for it.
func actions(evs []cyberrange.Progress) map[string]cyberrange.Action {
	out := map[string]cyberrange.Action{}
	for _, e := range evs {
		out[e.Name] = e.Action
	}
	return out
}

func newOrch(h *fakeHost, ev *events, opts ...func(*cyberrange.OrchestratorOptions)) *cyberrange.Orchestrator {
	o := cyberrange.OrchestratorOptions{Driver: h.driver(), RestartBackoff: time.Millisecond, MaxRestartBackoff: 8 * time.Millisecond}
	if ev != nil {
		o.Progress = ev.add
	}
	for _, f := range opts {
		f(&o)
	}
	return cyberrange.NewOrchestrator(o)
}

func demoPlan(t *testing.T) *cyberrange.Plan {
	return planFor(t, builtin(t, "demo"), cyberrange.DriverDocker)
}

func TestUpFromNothing(t *testing.T) {
	h := newFakeHost()
	ev := &events{}
	p := demoPlan(t)
	if err := newOrch(h, ev).Up(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	got := ev.take()
	if err := rangetest.CheckProgress(got); err != nil {
		t.Error(err)
	}
	if len(got) != len(p.Networks)+len(p.Containers) {
		t.Errorf("%d events for %d networks and %d containers", len(got), len(p.Networks), len(p.Containers))
	}
	for name, a := range actions(got) {
		if a != cyberrange.ActionCreate {
			t.Errorf("%s: %s, want create", name, a)
		}
	}
	if n := h.count("EnsureNetwork"); n != len(p.Networks) {
		t.Errorf("%d networks made, want %d", n, len(p.Networks))
	}
	if n := h.count("Start"); n != len(p.Containers) {
		t.Errorf("%d containers started, want %d", n, len(p.Containers))
	}
	// Each container comes after its networks, in the step of its kind,
	// and no container before every network is there.
	if err := rangetest.CheckUpOrder(p, got); err != nil {
		t.Error(err)
	}
	seenContainer := false
	for _, e := range got {
		if e.Kind != cyberrange.KindNetwork {
			seenContainer = true
		} else if seenContainer {
			t.Errorf("network %s made after a container", e.Name)
		}
	}
	for _, e := range got {
		want := cyberrange.StepGateways
		switch e.Kind {
		case cyberrange.KindNetwork:
			want = cyberrange.StepNetworks
		case cyberrange.KindTarget, cyberrange.KindChecker:
			want = cyberrange.StepTargets
		}
		if e.Step != want {
			t.Errorf("%s %s in step %s, want %s", e.Kind, e.Name, e.Step, want)
		}
	}
	rep, err := newOrch(h, nil).Status(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Healthy || rep.Running != len(p.Containers) {
		t.Errorf("status %+v", rep)
	}
}

func TestUpAgainAndAdoptChangeNothing(t *testing.T) {
	p := demoPlan(t)
	ctx := context.Background()
	h := newFakeHost()
	first := &events{}
	o := newOrch(h, first)
	if err := o.Up(ctx, p); err != nil {
		t.Fatal(err)
	}
	first.take()
	tests := []struct {
		desc string
		orch func(ev *events) *cyberrange.Orchestrator
	}{
		{"up again", func(*events) *cyberrange.Orchestrator { return o }},
		// A new orchestrator on a new driver over the same engine: what a
		// restarted cyrange sees.
		{"adopt after a restart", func(ev *events) *cyberrange.Orchestrator { return newOrch(h, ev) }},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			ev := first
			if tt.desc != "up again" {
				ev = &events{}
			}
			x := tt.orch(ev)
			h.resetCalls()
			if err := x.Up(ctx, p); err != nil {
				t.Fatal(err)
			}
			for _, m := range []string{"EnsureNetwork", "RemoveNetwork", "Start", "Remove"} {
				if n := h.count(m); n != 0 {
					t.Errorf("%s called %d times", m, n)
				}
			}
			got := ev.take()
			if err := rangetest.CheckProgress(got); err != nil {
				t.Error(err)
			}
			if len(got) != len(p.Networks)+len(p.Containers) {
				t.Errorf("%d events", len(got))
			}
			for name, a := range actions(got) {
				if a != cyberrange.ActionAdopt {
					t.Errorf("%s: %s, want adopt", name, a)
				}
			}
		})
	}
}

func TestUpReconciles(t *testing.T) {
	sc := builtin(t, "demo")
	p := planFor(t, sc, cyberrange.DriverDocker)
	target := p.Containers[0].Name
	gateway := p.Containers[len(p.Containers)-1].Name

	changed := sc.Clone()
	changed.Services[0].Options["accounts"] = 301
	optionChanged := planFor(t, changed, cyberrange.DriverDocker)

	moved := sc.Clone()
	moved.Network.Docker.Replicas = netip.MustParsePrefix("10.71.0.0/16")
	replicaMoved := planFor(t, moved, cyberrange.DriverDocker)

	tests := []struct {
		desc  string
		setup func(h *fakeHost)
		plan  *cyberrange.Plan
		want  map[string]cyberrange.Action // the rest is adopted
		gone  []string
		kept  []string
	}{
		{desc: "stopped container is started", plan: p,
			setup: func(h *fakeHost) { h.setState(target, cyberrange.StateExited) },
			want:  map[string]cyberrange.Action{target: cyberrange.ActionStart}},
		{desc: "removed container is made again", plan: p,
			setup: func(h *fakeHost) { h.driver().Remove(context.Background(), gateway) },
			want:  map[string]cyberrange.Action{gateway: cyberrange.ActionCreate}},
		{desc: "changed spec is recreated", plan: optionChanged,
			want: map[string]cyberrange.Action{target: cyberrange.ActionRecreate}},
		{desc: "tampered hash is recreated", plan: p,
			setup: func(h *fakeHost) { h.setLabel(gateway, cyberrange.LabelPlanHash, "0") },
			want:  map[string]cyberrange.Action{gateway: cyberrange.ActionRecreate}},
		{desc: "moved network is recreated with what is on it", plan: replicaMoved,
			want: map[string]cyberrange.Action{"demo-replica-d01": cyberrange.ActionRecreate, target: cyberrange.ActionRecreate,
				"cyrange-demo-portal-d01": cyberrange.ActionRecreate, "cyrange-demo-defencegw-d01": cyberrange.ActionRecreate}},
		{desc: "leftovers of the exercise are removed, others' kept", plan: p,
			setup: func(h *fakeHost) {
				h.addForeign("demo", "cyrange-demo-old")
				h.addForeign("other", "cyrange-other-mail")
			},
			want: map[string]cyberrange.Action{"cyrange-demo-old": cyberrange.ActionRemove, "cyrange-demo-old-net": cyberrange.ActionRemove},
			gone: []string{"cyrange-demo-old", "cyrange-demo-old-net"},
			kept: []string{"cyrange-other-mail", "cyrange-other-mail-net"}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			h := newFakeHost()
			ctx := context.Background()
			if err := newOrch(h, nil).Up(ctx, p); err != nil {
				t.Fatal(err)
			}
			if tt.setup != nil {
				tt.setup(h)
			}
			ev := &events{}
			if err := newOrch(h, ev).Up(ctx, tt.plan); err != nil {
				t.Fatal(err)
			}
			got := ev.take()
			if err := rangetest.CheckProgress(got); err != nil {
				t.Error(err)
			}
			acts := actions(got)
			for name, a := range acts {
				want, ok := tt.want[name]
				if !ok {
					want = cyberrange.ActionAdopt
				}
				// A container on a recreated network is removed first.
				if a != want && !(a == cyberrange.ActionRemove && want == cyberrange.ActionRecreate) {
					t.Errorf("%s: %s, want %s", name, a, want)
				}
			}
			for name := range tt.want {
				if _, ok := acts[name]; !ok {
					t.Errorf("nothing reported for %s", name)
				}
			}
			for _, name := range tt.gone {
				if h.has(name) {
					t.Errorf("%s still there", name)
				}
			}
			for _, name := range tt.kept {
				if !h.has(name) {
					t.Errorf("%s removed", name)
				}
			}
			rep, err := newOrch(h, nil).Status(ctx, tt.plan)
			if err != nil {
				t.Fatal(err)
			}
			if !rep.Healthy {
				t.Errorf("not healthy after up: %+v", rep)
			}
		})
	}
}

func TestUpFailures(t *testing.T) {
	p := demoPlan(t)
	ctx := context.Background()
	boom := errors.New("boom")

	t.Run("a failed container does not stop the others", func(t *testing.T) {
		h := newFakeHost()
		target := p.Containers[0].Name
		h.failNext("Start", target, boom)
		ev := &events{}
		err := newOrch(h, ev).Up(ctx, p)
		if !errors.Is(err, boom) || !strings.Contains(err.Error(), target) {
			t.Fatalf("err = %v, want boom naming %s", err, target)
		}
		got := ev.take()
		if err := rangetest.CheckProgress(got); err != nil {
			t.Error(err)
		}
		failed := 0
		for _, e := range got {
			if e.Err != nil {
				failed++
				if e.Name != target {
					t.Errorf("%s failed", e.Name)
				}
			}
		}
		if failed != 1 || h.count("Start") != len(p.Containers) {
			t.Errorf("%d failed, %d started", failed, h.count("Start"))
		}
		rep, _ := newOrch(h, nil).Status(ctx, p)
		if rep.Healthy || rep.Running != len(p.Containers)-1 {
			t.Errorf("status after a failure: healthy %v, %d running", rep.Healthy, rep.Running)
		}
		// The next Up mends it.
		if err := newOrch(h, ev).Up(ctx, p); err != nil {
			t.Fatal(err)
		}
		if a := actions(ev.take())[target]; a != cyberrange.ActionCreate {
			t.Errorf("second up: %s", a)
		}
	})
	t.Run("a failed network holds back only its containers", func(t *testing.T) {
		h := newFakeHost()
		failed := p.Networks[0].Name
		h.failNext("EnsureNetwork", failed, boom)
		ev := &events{}
		err := newOrch(h, ev).Up(ctx, p)
		if !errors.Is(err, boom) {
			t.Fatalf("err = %v", err)
		}
		got := ev.take()
		if err := rangetest.CheckProgress(got); err != nil {
			t.Error(err)
		}
		reported := map[string]error{}
		for _, e := range got {
			reported[e.Name] = e.Err
		}
		held := 0
		for _, c := range p.Containers {
			on := slices.ContainsFunc(c.Networks, func(a cyberrange.Attachment) bool { return a.Network == failed })
			switch err, ok := reported[c.Name]; {
			case !ok:
				t.Errorf("%s not reported", c.Name)
			case on && (err == nil || !strings.Contains(err.Error(), failed)):
				t.Errorf("%s, on %s, reported %v", c.Name, failed, err)
			case !on && err != nil:
				t.Errorf("%s, not on %s, failed: %v", c.Name, failed, err)
			}
			if on {
				held++
			}
		}
		if held == 0 || held == len(p.Containers) {
			t.Fatalf("%d of %d containers on %s: the test shows nothing", held, len(p.Containers), failed)
		}
		if n := h.count("Start"); n != len(p.Containers)-held {
			t.Errorf("%d containers started, want %d", n, len(p.Containers)-held)
		}
		// The next Up mends it.
		if err := newOrch(h, nil).Up(ctx, p); err != nil {
			t.Fatal(err)
		}
		if rep, _ := newOrch(h, nil).Status(ctx, p); !rep.Healthy {
			t.Errorf("not healthy after the second up: %+v", rep)
		}
	})
	t.Run("list fails", func(t *testing.T) {
		h := newFakeHost()
		h.failNext("List", p.Exercise, cyberrange.ErrUnavailable)
		if err := newOrch(h, nil).Up(ctx, p); !errors.Is(err, cyberrange.ErrUnavailable) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		h := newFakeHost()
		h.delay = 20 * time.Millisecond
		cctx, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
		defer cancel()
		if err := newOrch(h, nil).Up(cctx, p); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("no plan", func(t *testing.T) {
		if err := newOrch(newFakeHost(), nil).Up(ctx, &cyberrange.Plan{}); !errors.Is(err, cyberrange.ErrInvalid) {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestParallelismBound(t *testing.T) {
	p := planFor(t, builtin(t, "tiengiang-2023"), cyberrange.DriverDocker)
	for _, n := range []int{1, 3, 8} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			h := newFakeHost()
			h.delay = 2 * time.Millisecond
			if err := newOrch(h, nil, func(o *cyberrange.OrchestratorOptions) { o.Parallel = n }).Up(context.Background(), p); err != nil {
				t.Fatal(err)
			}
			// List runs alone, so the bound is on the steps' calls.
			if h.maxIn > n {
				t.Errorf("%d calls at once, bound %d", h.maxIn, n)
			}
			// 17 gateways at 2 ms each leave time for the workers to
			// overlap; a bound never reached would mean no parallelism.
			if n > 1 && h.maxIn < 2 {
				t.Errorf("at most %d call at once with a bound of %d", h.maxIn, n)
			}
		})
	}
}

func TestDownRemovesOnlyTheExercise(t *testing.T) {
	for _, hide := range []bool{false, true} {
		t.Run(fmt.Sprintf("networks hidden %v", hide), func(t *testing.T) { testDown(t, hide) })
	}
}

func testDown(t *testing.T, hideNetworks bool) {
	h := newFakeHost()
	h.hideNetworks = hideNetworks
	h.delay = time.Millisecond
	ctx := context.Background()
	p := demoPlan(t)
	if err := newOrch(h, nil).Up(ctx, p); err != nil {
		t.Fatal(err)
	}
	h.addForeign("other", "cyrange-other-mail")
	h.addForeign("demo-2", "cyrange-demo-2-mail")
	ev := &events{}
	if err := newOrch(h, ev).Down(ctx, "demo"); err != nil {
		t.Fatal(err)
	}
	got := ev.take()
	if err := rangetest.CheckProgress(got); err != nil {
		t.Error(err)
	}
	if len(got) != len(p.Networks)+len(p.Containers) {
		t.Errorf("%d removals, want %d", len(got), len(p.Networks)+len(p.Containers))
	}
	// Networks go after every container (the fake, like an engine,
	// refuses to remove a network in use).
	removed := map[string]int{}
	seenNet := false
	for _, e := range got {
		if e.Kind == cyberrange.KindNetwork {
			seenNet = true
		} else if seenNet {
			t.Errorf("container %s removed after a network", e.Name)
		}
	}
	for i, e := range got {
		if e.Action != cyberrange.ActionRemove {
			t.Errorf("%s: %s", e.Name, e.Action)
		}
		if e.Err != nil {
			t.Errorf("%s: %v", e.Name, e.Err)
		}
		removed[e.Name] = i
	}
	for _, c := range p.Containers {
		for _, a := range c.Networks {
			if removed[a.Network] < removed[c.Name] {
				t.Errorf("network %s removed before container %s", a.Network, c.Name)
			}
		}
		if hideNetworks {
			for _, n := range p.Networks {
				if removed[n.Name] < removed[c.Name] {
					t.Errorf("networks hidden: network %s removed before container %s", n.Name, c.Name)
				}
			}
		}
	}
	a, _ := h.driver().List(ctx, "demo")
	if len(a.Containers)+len(a.Networks) != 0 {
		t.Errorf("left: %+v", a)
	}
	for _, name := range []string{"cyrange-other-mail", "cyrange-other-mail-net", "cyrange-demo-2-mail", "cyrange-demo-2-mail-net"} {
		if !h.has(name) {
			t.Errorf("%s removed", name)
		}
	}
	// Down of what is gone is fine.
	if err := newOrch(h, nil).Down(ctx, "demo"); err != nil {
		t.Fatal(err)
	}
	if err := newOrch(h, nil).Down(ctx, ""); !errors.Is(err, cyberrange.ErrInvalid) {
		t.Errorf("down of no exercise: %v", err)
	}
}

// watching runs Watch until the test ends.
func watching(t *testing.T, o *cyberrange.Orchestrator, p *cyberrange.Plan) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- o.Watch(ctx, p) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("watch: %v", err)
		}
	})
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestWatchRestartsWhatDies(t *testing.T) {
	ctx := context.Background()
	p := demoPlan(t)
	target, gateway := p.Containers[0].Name, p.Containers[len(p.Containers)-1].Name
	running := func(h *fakeHost, name string) func() bool {
		return func() bool { s, _ := h.state(name); return s == cyberrange.StateRunning }
	}

	t.Run("death event", func(t *testing.T) {
		h := newFakeHost()
		if err := newOrch(h, nil).Up(ctx, p); err != nil {
			t.Fatal(err)
		}
		ev := &events{}
		watching(t, newOrch(h, ev), p)
		waitFor(t, "subscription", func() bool { return h.count("Events") > 0 })
		for _, name := range []string{target, gateway} {
			if err := h.driver().Kill(ctx, name); err != nil {
				t.Fatal(err)
			}
			waitFor(t, name+" back", running(h, name))
		}
		waitFor(t, "restart events", func() bool {
			ev.mu.Lock()
			defer ev.mu.Unlock()
			return len(ev.all) == 2
		})
		for _, e := range ev.take() {
			if e.Step != cyberrange.StepWatch || e.Action != cyberrange.ActionRestart || e.Err != nil {
				t.Errorf("event %+v", e)
			}
		}
		a, _ := h.driver().List(ctx, p.Exercise)
		for _, c := range a.Containers {
			if (c.Name == target || c.Name == gateway) != (c.Restarts == 1) {
				t.Errorf("%s restarted %d times", c.Name, c.Restarts)
			}
		}
	})
	t.Run("found dead when subscribing", func(t *testing.T) {
		h := newFakeHost()
		if err := newOrch(h, nil).Up(ctx, p); err != nil {
			t.Fatal(err)
		}
		h.driver().Kill(ctx, target)
		watching(t, newOrch(h, nil), p)
		waitFor(t, "target back", running(h, target))
	})
	t.Run("events stream lost and found again", func(t *testing.T) {
		h := newFakeHost()
		if err := newOrch(h, nil).Up(ctx, p); err != nil {
			t.Fatal(err)
		}
		watching(t, newOrch(h, nil), p)
		waitFor(t, "subscription", func() bool { return h.count("Events") == 1 })
		h.closeEvents()
		waitFor(t, "second subscription", func() bool { return h.count("Events") == 2 })
		h.driver().Kill(ctx, target)
		waitFor(t, "target back", running(h, target))
	})
	t.Run("failed restart is tried again", func(t *testing.T) {
		h := newFakeHost()
		if err := newOrch(h, nil).Up(ctx, p); err != nil {
			t.Fatal(err)
		}
		h.failNext("Start", target, errors.New("boom"))
		h.failNext("Start", target, errors.New("boom"))
		ev := &events{}
		watching(t, newOrch(h, ev), p)
		waitFor(t, "subscription", func() bool { return h.count("Events") > 0 })
		h.driver().Kill(ctx, target)
		waitFor(t, "target back", running(h, target))
		var errs int
		for _, e := range ev.take() {
			if e.Err != nil {
				errs++
			}
		}
		if errs != 2 {
			t.Errorf("%d failed restarts reported, want 2", errs)
		}
	})
	t.Run("removed is not brought back", func(t *testing.T) {
		h := newFakeHost()
		if err := newOrch(h, nil).Up(ctx, p); err != nil {
			t.Fatal(err)
		}
		o := newOrch(h, nil, func(o *cyberrange.OrchestratorOptions) { o.RestartBackoff = 20 * time.Millisecond })
		watching(t, o, p)
		waitFor(t, "subscription", func() bool { return h.count("Events") > 0 })
		h.driver().Kill(ctx, target)
		h.driver().Remove(ctx, target)
		time.Sleep(60 * time.Millisecond)
		if h.has(target) {
			t.Error("a removed target was recreated")
		}
	})
}

func TestHealthAndGateway(t *testing.T) {
	ctx := context.Background()
	h := newFakeHost()
	o := newOrch(h, nil)
	v, err := o.Health(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := json.Marshal(v); string(b) != `{"driver":"fake","plan":null}` {
		t.Errorf("health before a plan: %s", b)
	}
	if _, err := o.Gateway(ctx, 0); !errors.Is(err, cyberrange.ErrNotFound) {
		t.Errorf("gateway before a plan: %v", err)
	}
	sc := builtin(t, "demo")
	p, err := cyberrange.NewPlan(sc, cyberrange.PlanOptions{Driver: cyberrange.DriverDocker, TeamTokens: fakeTokens(sc),
		CheckerSecret: "s", GatewayPortBase: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := o.Up(ctx, p); err != nil {
		t.Fatal(err)
	}
	v, err = o.Health(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rep := v.Report
	if rep == nil || !rep.Healthy || rep.Exercise != "demo" || rep.Driver != "fake" {
		t.Fatalf("health %+v", v)
	}
	// Once there is a plan the endpoint sends the report itself.
	got, _ := json.Marshal(v)
	if want, _ := json.Marshal(*rep); string(got) != string(want) {
		t.Errorf("health after a plan is\n%s\nnot the report\n%s", got, want)
	}
	g, err := o.Gateway(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	gi := g.(cyberrange.GatewayInfo)
	if !strings.HasPrefix(gi.Address, "127.0.0.1:4") || gi.Team != sc.Teams[1].Name || gi.Source != "10.60.2.0/24" {
		t.Errorf("gateway %+v", gi)
	}
	if _, err := o.Gateway(ctx, 3); !errors.Is(err, cyberrange.ErrNotFound) {
		t.Errorf("the defence team's gateway: %v", err)
	}
}

func TestReportHostAddr(t *testing.T) {
	rep := cyberrange.Report{Containers: []cyberrange.ContainerReport{
		{Name: "gw-a01", Kind: cyberrange.KindGateway, State: cyberrange.StateRunning,
			Ports: map[string]string{cyberrange.PortSocks: "127.0.0.1:41081"}},
		{Name: "checker", Kind: cyberrange.KindChecker, State: cyberrange.StateRunning,
			Ports: map[string]string{cyberrange.PortChecker: "172.30.0.2:8000"}},
		{Name: "gw-a02", Kind: cyberrange.KindGateway, State: cyberrange.StateExited},
		{Name: "mail-d01", Kind: cyberrange.KindTarget, State: cyberrange.StateRunning, Ports: map[string]string{}},
	}}
	tests := []struct {
		desc            string
		container, port string
		want            string
	}{
		{"published", "gw-a01", cyberrange.PortSocks, "127.0.0.1:41081"},
		{"a checker's, reached on the ingress", "checker", cyberrange.PortChecker, "172.30.0.2:8000"},
		{"another port of the container", "gw-a01", cyberrange.PortAdmin, ""},
		{"not running: no ports", "gw-a02", cyberrange.PortSocks, ""},
		{"a target publishes nothing", "mail-d01", "smtp", ""},
		{"no such container", "gw-a03", cyberrange.PortSocks, ""},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			got, ok := rep.HostAddr(tt.container, tt.port)
			if got != tt.want || ok != (tt.want != "") {
				t.Errorf("HostAddr(%q, %q) = %q, %v; want %q", tt.container, tt.port, got, ok, tt.want)
			}
		})
	}
}

func TestProgressJSON(t *testing.T) {
	b, err := json.Marshal(cyberrange.Progress{Step: cyberrange.StepTargets, Total: 3, Done: 1, Name: "x", Kind: cyberrange.KindTarget,
		Action: cyberrange.ActionCreate, Err: errors.New("no"), Elapsed: 1500 * time.Microsecond})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"step":"targets","total":3,"done":1,"name":"x","kind":"target","action":"create","error":"no","elapsed_ms":1.5}`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
}

// TestContractOnFake runs the drivers' contract on the fake, which keeps
// the suite itself honest.
func TestContractOnFake(t *testing.T) {
	h := newFakeHost()
	rangetest.Contract(t, func(*testing.T) cyberrange.Driver { return h.driver() },
		func(t *testing.T) *cyberrange.Plan { return planFor(t, builtin(t, "demo"), cyberrange.DriverLocal) })
	if len(h.containers)+len(h.networks) != 0 {
		t.Errorf("contract left %d containers and %d networks", len(h.containers), len(h.networks))
	}
}

// readyDriver is a fake driver that can tell when a container serves.
type readyDriver struct {
	*fakeDriver
	mu     sync.Mutex
	waited []string
	fail   map[string]error
}

func (d *readyDriver) WaitReady(ctx context.Context, c cyberrange.Container) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.waited = append(d.waited, c.Name)
	return d.fail[c.Name]
}

// TestUpWaitsForTargetsToServe: Up waits for the targets, checkers and
// gateways it started, not for attack boxes or what it adopted, and a
// target that does not come to serve is a failure of its own.
func TestUpWaitsForTargetsToServe(t *testing.T) {
	p := demoPlan(t)
	h := newFakeHost()
	var target string
	var want []string
	for _, c := range p.Containers {
		if c.Kind == cyberrange.KindTarget || c.Kind == cyberrange.KindChecker || c.Kind == cyberrange.KindGateway || c.Kind == cyberrange.KindDefenceGateway {
			want = append(want, c.Name)
			if target == "" && c.Kind == cyberrange.KindTarget {
				target = c.Name
			}
		}
	}
	boom := errors.New("nothing listens on 25")
	d := &readyDriver{fakeDriver: h.driver(), fail: map[string]error{target: boom}}
	ev := &events{}
	err := newOrch(h, ev, func(o *cyberrange.OrchestratorOptions) { o.Driver = d }).Up(context.Background(), p)
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "not serving") {
		t.Fatalf("err = %v", err)
	}
	slices.Sort(d.waited)
	slices.Sort(want)
	if !slices.Equal(d.waited, want) {
		t.Errorf("waited for %v, want %v", d.waited, want)
	}
	for _, e := range ev.take() {
		if (e.Err != nil) != (e.Name == target) {
			t.Errorf("%s: %v", e.Name, e.Err)
		}
	}
	// Up again: what runs is adopted, without waiting again.
	d.waited, d.fail = nil, nil
	if err := newOrch(h, nil, func(o *cyberrange.OrchestratorOptions) { o.Driver = d }).Up(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	if len(d.waited) != 0 {
		t.Errorf("waited again for %v", d.waited)
	}
}

// deadlineDriver records how long each readiness wait was given.
type deadlineDriver struct {
	*fakeDriver
	mu    sync.Mutex
	given []time.Duration
}

func (d *deadlineDriver) WaitReady(ctx context.Context, c cyberrange.Container) error {
	dl, ok := ctx.Deadline()
	if !ok {
		return errors.New("no deadline")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.given = append(d.given, time.Until(dl))
	return nil
}

// TestUpReadyTimeout: each readiness wait is bounded by ReadyTimeout,
// DefaultReadyTimeout when zero.
func TestUpReadyTimeout(t *testing.T) {
	for _, tc := range []struct {
		desc     string
		set      time.Duration
		min, max time.Duration
	}{
		{desc: "default", min: 0, max: cyberrange.DefaultReadyTimeout},
		{desc: "longer", set: 10 * time.Minute, min: cyberrange.DefaultReadyTimeout, max: 10 * time.Minute},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			h := newFakeHost()
			d := &deadlineDriver{fakeDriver: h.driver()}
			o := newOrch(h, nil, func(o *cyberrange.OrchestratorOptions) { o.Driver, o.ReadyTimeout = d, tc.set })
			if err := o.Up(context.Background(), demoPlan(t)); err != nil {
				t.Fatal(err)
			}
			if len(d.given) == 0 {
				t.Fatal("no readiness wait")
			}
			for _, g := range d.given {
				if g <= tc.min || g > tc.max {
					t.Errorf("a wait was given %v, want (%v, %v]", g, tc.min, tc.max)
				}
			}
		})
	}
}
