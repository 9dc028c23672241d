package swarm

import (
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/swarm"
	"go.uber.org/goleak"

	cyberrange "github.com/cyrange/cyrange/range"
)

func testDriver(f *fakeEngine) *Driver {
	return newDriver(f, Options{Poll: time.Millisecond, RemoveWait: time.Second})
}

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestUpAdoptDown runs the orchestrator on the fake swarm: up from
// nothing, up again by a new driver (a restarted orchestrator) adopting
// everything, then down leaving none of the exercise's services,
// networks or secrets, while removed services' tasks linger a little.
func TestUpAdoptDown(t *testing.T) {
	ctx := testCtx(t)
	f := newFake()
	f.linger = 2
	p := planFor(t, "demo")
	o := cyberrange.NewOrchestrator(cyberrange.OrchestratorOptions{Driver: testDriver(f)})
	if err := o.Up(ctx, p); err != nil {
		t.Fatal(err)
	}
	if got, want := len(f.svcs), len(p.Containers); got != want {
		t.Fatalf("%d services, plan has %d containers", got, want)
	}
	a, err := testDriver(f).List(ctx, p.Exercise)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Networks) != len(p.Networks) {
		t.Errorf("listed networks %v, want the plan's %d (edge networks hidden)", a.Networks, len(p.Networks))
	}
	for _, c := range a.Containers {
		if c.State != cyberrange.StateRunning || c.Node != "node-one" {
			t.Errorf("%s: %s on node %q, want running on node-one", c.Name, c.State, c.Node)
		}
		pc, _ := p.Container(c.Name)
		var want []string
		for _, at := range pc.Networks {
			want = append(want, at.Network)
		}
		slices.Sort(want)
		if !slices.Equal(c.Networks, want) {
			t.Errorf("%s: networks %q, want %q", c.Name, c.Networks, want)
		}
		if publishes(pc) && !strings.HasPrefix(c.Ports[cyberrange.PortSocks], "192.0.2.10:") {
			t.Errorf("%s: ports %v, want the socks port on the node's address", c.Name, c.Ports)
		}
	}
	creates := f.Took("ServiceCreate")
	secrets := len(f.secrets)

	if err := cyberrange.NewOrchestrator(cyberrange.OrchestratorOptions{Driver: testDriver(f)}).Up(ctx, p); err != nil {
		t.Fatal(err)
	}
	if got := f.Took("ServiceCreate"); got != creates {
		t.Errorf("a second up made %d services, want none (adopted)", got-creates)
	}
	if len(f.secrets) != secrets {
		t.Errorf("%d secrets after a second up, %d before", len(f.secrets), secrets)
	}

	if err := o.Down(ctx, p.Exercise); err != nil {
		t.Fatal(err)
	}
	if len(f.svcs) != 0 || len(f.nets) != 0 || len(f.secrets) != 0 {
		t.Errorf("left after down: services %d, networks %v, secrets %d", len(f.svcs), f.nets, len(f.secrets))
	}
}

// TestStartRecreatesOnHashChange: a changed plan hash replaces the
// service, its secrets with it.
func TestStartRecreatesOnHashChange(t *testing.T) {
	ctx := testCtx(t)
	f := newFake()
	d := testDriver(f)
	p := planFor(t, "demo")
	ensureNetworks(t, ctx, d, p)
	c, ok := p.Target(p.Containers[0].Team, 0)
	if !ok {
		t.Fatal("no target")
	}
	if err := d.Start(ctx, c); err != nil {
		t.Fatal(err)
	}
	first := f.svcs[c.Name].ID
	oldSecrets := secretNames(f)
	if err := d.Start(ctx, c); err != nil {
		t.Fatal(err)
	}
	if f.svcs[c.Name].ID != first {
		t.Fatal("an unchanged service was replaced")
	}

	c.Env[cyberrange.EnvCheckerSecret] = "another-secret"
	c.Labels[cyberrange.LabelPlanHash] = cyberrange.ContainerHash(c)
	if err := d.Start(ctx, c); err != nil {
		t.Fatal(err)
	}
	if f.svcs[c.Name].ID == first {
		t.Fatal("a changed service was kept")
	}
	newSecrets := secretNames(f)
	if len(newSecrets) != len(oldSecrets) || slices.Contains(newSecrets, oldSecrets[0]) {
		t.Errorf("secrets %q, before %q: want the old ones replaced", newSecrets, oldSecrets)
	}
	for _, s := range f.secrets {
		if string(s.Spec.Data) == testSecret {
			t.Error("the old checker secret is still in the swarm")
		}
	}
}

func secretNames(f *fakeEngine) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for name := range f.secrets {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

func TestStartRefusesForeignService(t *testing.T) {
	ctx := testCtx(t)
	f := newFake()
	d := testDriver(f)
	p := planFor(t, "demo")
	c := p.Containers[0]
	f.svcs[c.Name] = &swarm.Service{ID: "other", Spec: swarm.ServiceSpec{Annotations: swarm.Annotations{Name: c.Name,
		Labels: map[string]string{cyberrange.LabelExercise: "someone-else"}}}}
	if err := d.Start(ctx, c); !errors.Is(err, cyberrange.ErrInvalid) {
		t.Errorf("got %v, want ErrInvalid", err)
	}
	if err := d.Remove(ctx, "unlabelled"); err != nil {
		t.Errorf("removing a missing service: %v", err)
	}
	f.svcs["unlabelled"] = &swarm.Service{ID: "u", Spec: swarm.ServiceSpec{Annotations: swarm.Annotations{Name: "unlabelled"}}}
	if err := d.Remove(ctx, "unlabelled"); !errors.Is(err, cyberrange.ErrInvalid) {
		t.Errorf("removing an unlabelled service: got %v, want ErrInvalid", err)
	}
	if f.svcs["unlabelled"] == nil {
		t.Error("an unlabelled service was removed")
	}
}

func TestEnsureNetwork(t *testing.T) {
	ctx := testCtx(t)
	f := newFake()
	d := newDriver(f, Options{Encrypt: true})
	n := planFor(t, "demo").Networks[0]
	if err := d.EnsureNetwork(ctx, n); err != nil {
		t.Fatal(err)
	}
	if err := d.EnsureNetwork(ctx, n); err != nil {
		t.Fatal(err)
	}
	if got := f.Took("NetworkCreate"); got != 1 {
		t.Errorf("%d creations, want 1", got)
	}
	got := f.nets[n.Name]
	if got.Driver != "overlay" || !got.Internal {
		t.Errorf("network %+v", got.Network)
	}
	if _, ok := got.Options[optEncrypted]; !ok {
		t.Error("not encrypted")
	}
	other := n
	other.Subnet = mustPrefix("10.99.0.0/24")
	if err := d.EnsureNetwork(ctx, other); !errors.Is(err, cyberrange.ErrInvalid) {
		t.Errorf("another subnet: got %v, want ErrInvalid", err)
	}
	got.Internal = false
	if err := d.EnsureNetwork(ctx, n); !errors.Is(err, cyberrange.ErrInvalid) {
		t.Errorf("not internal: got %v, want ErrInvalid", err)
	}
}

// TestRemoveNetworkWaitsForTasks: Swarm refuses to remove a network
// while a removed service's tasks are still on it.
func TestRemoveNetworkWaitsForTasks(t *testing.T) {
	ctx := testCtx(t)
	f := newFake()
	d := testDriver(f)
	p := planFor(t, "demo")
	ensureNetworks(t, ctx, d, p)
	c := p.Containers[0]
	if err := d.Start(ctx, c); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	f.svcs = map[string]*swarm.Service{} // removed behind the driver's back, tasks lingering
	f.gone[f.tasks[0].ServiceID] = 3
	f.mu.Unlock()
	f.FailNext("NetworkRemove", cerrdefs.ErrUnavailable.WithMessage("blip")) // any error is retried
	if err := d.RemoveNetwork(ctx, c.Networks[0].Network); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.nets[c.Networks[0].Network]; ok {
		t.Error("network still there")
	}
	if f.Took("NetworkRemove") < 2 {
		t.Error("no retry")
	}
}

func TestEventsFromTasks(t *testing.T) {
	defer goleak.VerifyNone(t)
	ctx, cancel := context.WithCancel(testCtx(t))
	f := newFake()
	d := testDriver(f)
	p := planFor(t, "demo")
	ensureNetworks(t, ctx, d, p)
	c := p.Containers[0]
	if err := d.Start(ctx, c); err != nil {
		t.Fatal(err)
	}
	evs, err := d.Events(ctx, p.Exercise)
	if err != nil {
		t.Fatal(err)
	}
	f.crash(c.Name, 3)
	ev := next(t, evs)
	if ev.Container != c.Name || ev.Action != cyberrange.EventDie || ev.ExitCode != 3 || ev.Kind != c.Kind {
		t.Errorf("got %+v, want %s dying with 3", ev, c.Name)
	}
	f.restartTasks()
	if ev := next(t, evs); ev.Container != c.Name || ev.Action != cyberrange.EventStart {
		t.Errorf("got %+v, want %s starting", ev, c.Name)
	}
	a, err := d.List(ctx, p.Exercise)
	if err != nil {
		t.Fatal(err)
	}
	if a.Containers[0].Restarts != 1 || a.Containers[0].State != cyberrange.StateRunning {
		t.Errorf("listed %+v, want running after one restart", a.Containers[0])
	}
	if err := d.Remove(ctx, c.Name); err != nil {
		t.Fatal(err)
	}
	if ev := next(t, evs); ev.Container != c.Name || ev.Action != cyberrange.EventRemove {
		t.Errorf("got %+v, want %s removed", ev, c.Name)
	}
	cancel()
	for range evs {
	}
}

func next(t *testing.T, evs <-chan cyberrange.RangeEvent) cyberrange.RangeEvent {
	t.Helper()
	select {
	case ev, ok := <-evs:
		if !ok {
			t.Fatal("events closed")
		}
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no event")
	}
	return cyberrange.RangeEvent{}
}

func TestWaitReady(t *testing.T) {
	ctx := testCtx(t)
	f := newFake()
	d := testDriver(f)
	p := planFor(t, "demo")
	ensureNetworks(t, ctx, d, p)
	c := p.Containers[0]
	f.startState = swarm.TaskStatePending
	if err := d.Start(ctx, c); err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(20 * time.Millisecond)
		f.mu.Lock()
		f.tasks[0].Status.State = swarm.TaskStateRunning
		f.mu.Unlock()
	}()
	if err := d.WaitReady(ctx, c); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	f.tasks[0].Status.State = swarm.TaskStateRejected
	f.tasks[0].Status.Err = "No such image: cyrange:test"
	f.mu.Unlock()
	if err := d.WaitReady(ctx, c); err == nil || !strings.Contains(err.Error(), "No such image") {
		t.Errorf("got %v, want the task's reason", err)
	}
}

func TestLogs(t *testing.T) {
	defer goleak.VerifyNone(t)
	ctx := testCtx(t)
	f := newFake()
	d := testDriver(f)
	p := planFor(t, "demo")
	ensureNetworks(t, ctx, d, p)
	c := p.Containers[0]
	if err := d.Start(ctx, c); err != nil {
		t.Fatal(err)
	}
	f.logs[c.Name] = "mailserver: listening\n"
	rc, err := d.Logs(ctx, c.Name, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || string(b) != "mailserver: listening\n" {
		t.Errorf("read %q, %v", b, err)
	}
	if _, err := d.Logs(ctx, "missing", time.Time{}); !errors.Is(err, cyberrange.ErrNotFound) {
		t.Errorf("missing service: got %v, want ErrNotFound", err)
	}
}

// TestRemoveVolumesSweepsSecrets: secrets an interrupted removal left
// behind go with the exercise, another exercise's stay.
func TestRemoveVolumesSweepsSecrets(t *testing.T) {
	ctx := testCtx(t)
	f := newFake()
	d := testDriver(f)
	f.secrets["left"] = &swarm.Secret{ID: "s1", Spec: swarm.SecretSpec{Annotations: swarm.Annotations{Name: "left",
		Labels: map[string]string{cyberrange.LabelExercise: "demo", labelOwner: "gone"}}}}
	f.secrets["theirs"] = &swarm.Secret{ID: "s2", Spec: swarm.SecretSpec{Annotations: swarm.Annotations{Name: "theirs",
		Labels: map[string]string{cyberrange.LabelExercise: "other", labelOwner: "x"}}}}
	if err := d.RemoveVolumes(ctx, "demo"); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.secrets["left"]; ok {
		t.Error("the exercise's leftover secret stayed")
	}
	if _, ok := f.secrets["theirs"]; !ok {
		t.Error("another exercise's secret was removed")
	}
}

func TestChanges(t *testing.T) {
	t.Parallel()
	at := time.Unix(100, 0)
	before := snapshot{
		tasks: map[string]taskView{
			"t1": {service: "a", state: swarm.TaskStateRunning},
			"t2": {service: "b", state: swarm.TaskStateRunning},
			"t3": {service: "c", state: swarm.TaskStateRunning},
			"t5": {service: "d", state: swarm.TaskStateRunning},
		},
		services: map[string]cyberrange.Kind{"a": "target", "b": "target", "c": "gateway", "d": "checker"},
	}
	after := snapshot{
		tasks: map[string]taskView{
			"t1": {service: "a", state: swarm.TaskStateFailed, exit: 2},
			"t4": {service: "a", state: swarm.TaskStatePreparing},
			"t2": {service: "b", state: swarm.TaskStateRunning},
			"t6": {service: "e", state: swarm.TaskStateRunning},
		},
		// d has no task for a moment: it is not removed.
		services: map[string]cyberrange.Kind{"a": "target", "b": "target", "d": "checker", "e": "target"},
	}
	got := changes(before, after, at)
	want := []cyberrange.RangeEvent{
		{Time: at, Container: "a", Action: cyberrange.EventDie, ExitCode: 2},
		{Time: at, Container: "c", Kind: "gateway", Action: cyberrange.EventRemove},
		{Time: at, Container: "e", Action: cyberrange.EventStart},
	}
	if !slices.Equal(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestCheckAPI(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		desc    string
		version string
		daemon  bool
		fails   bool
		weaker  int
	}{
		{"engine 20.10", "1.41", false, true, 0},
		{"engine 20.10, daemons deny new privileges", "1.41", true, false, 1},
		{"engine 25", "1.44", false, false, 1},
		{"current", "1.52", false, false, 0},
		{"newer", "1.56", false, false, 0},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			weaker, err := checkAPI(tc.version, tc.daemon)
			if (err != nil) != tc.fails || tc.fails && !errors.Is(err, cyberrange.ErrUnavailable) {
				t.Errorf("error %v, want failure %v", err, tc.fails)
			}
			if len(weaker) != tc.weaker {
				t.Errorf("weaker %q, want %d", weaker, tc.weaker)
			}
		})
	}
}

// TestRemoveWaitsForTasks: Remove returns once the service's tasks are
// gone, so that its networks can go next, and takes its secrets and
// edge network along.
func TestRemoveWaitsForTasks(t *testing.T) {
	ctx := testCtx(t)
	f := newFake()
	f.linger = 3
	d := testDriver(f)
	p := planFor(t, "demo")
	ensureNetworks(t, ctx, d, p)
	gw := p.Containers[slices.IndexFunc(p.Containers, func(c cyberrange.Container) bool { return c.Kind == cyberrange.KindGateway })]
	if err := d.Start(ctx, gw); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.nets[edgeName(gw.Name)]; !ok || len(f.secrets) != 1 {
		t.Fatalf("edge network %v, secrets %d: want both", ok, len(f.secrets))
	}
	if err := d.Remove(ctx, gw.Name); err != nil {
		t.Fatal(err)
	}
	if len(f.tasks) != 0 {
		t.Errorf("%d tasks left when Remove returned", len(f.tasks))
	}
	if _, ok := f.nets[edgeName(gw.Name)]; ok || len(f.secrets) != 0 {
		t.Errorf("edge network left %v, secrets %d", ok, len(f.secrets))
	}
	if err := d.Remove(ctx, gw.Name); err != nil {
		t.Errorf("removing it again: %v", err)
	}
}

// TestListWhileRemoving: a service removed between the listing of
// services and that of tasks does not fail List.
func TestListWhileRemoving(t *testing.T) {
	ctx := testCtx(t)
	f := newFake()
	d := testDriver(f)
	p := planFor(t, "demo")
	ensureNetworks(t, ctx, d, p)
	for _, c := range p.Containers[:2] {
		if err := d.Start(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	svcs := []swarm.Service{*f.svcs[p.Containers[0].Name], *f.svcs[p.Containers[1].Name]}
	if err := d.Remove(ctx, p.Containers[1].Name); err != nil {
		t.Fatal(err)
	}
	tasks, err := d.tasksOf(ctx, svcs)
	if err != nil {
		t.Fatal(err)
	}
	if len(tasks[svcs[0].ID]) != 1 || len(tasks[svcs[1].ID]) != 0 {
		t.Errorf("tasks %v", tasks)
	}
}

// TestStartPrunesStaleSecrets: a replacement cut short after the old
// service went leaves its secrets; making the service again removes
// them.
func TestStartPrunesStaleSecrets(t *testing.T) {
	ctx := testCtx(t)
	f := newFake()
	d := testDriver(f)
	p := planFor(t, "demo")
	ensureNetworks(t, ctx, d, p)
	c := p.Containers[0]
	f.secrets["stale"] = &swarm.Secret{ID: "stale-id", Spec: swarm.SecretSpec{Annotations: swarm.Annotations{Name: "stale",
		Labels: map[string]string{cyberrange.LabelExercise: p.Exercise, labelOwner: c.Name}}}}
	f.secrets["neighbour"] = &swarm.Secret{ID: "n-id", Spec: swarm.SecretSpec{Annotations: swarm.Annotations{Name: "neighbour",
		Labels: map[string]string{cyberrange.LabelExercise: p.Exercise, labelOwner: "someone-else"}}}}
	if err := d.Start(ctx, c); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.secrets["stale"]; ok {
		t.Error("stale secret kept")
	}
	if _, ok := f.secrets["neighbour"]; !ok {
		t.Error("another service's secret removed")
	}
	if got, want := len(f.secrets), len(secretsOf(c))+1; got != want {
		t.Errorf("%d secrets, want %d", got, want)
	}
}

func TestPublished(t *testing.T) {
	t.Parallel()
	task := swarm.Task{Status: swarm.TaskStatus{PortStatus: swarm.PortStatus{Ports: []swarm.PortConfig{
		{TargetPort: 1080, PublishedPort: 1081, PublishMode: swarm.PortConfigPublishModeHost},
		{TargetPort: 22, PublishedPort: 0},
	}}}}
	for _, tc := range []struct {
		desc, label, node string
		want              map[string]string
	}{
		{"node address", "socks=1080,ssh=22", "192.0.2.7", map[string]string{"socks": "192.0.2.7:1081"}},
		{"single node without address", "socks=1080", "0.0.0.0", map[string]string{"socks": "127.0.0.1:1081"}},
		{"unknown node", "socks=1080", "", nil},
		{"unnamed port", "admin=8025", "192.0.2.7", nil},
		{"edited label", "socks=x,=1080", "192.0.2.7", nil},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			got := published(tc.label, task, tc.node)
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("got %v, want %v", got, tc.want)
				}
			}
		})
	}
}

func TestTaskState(t *testing.T) {
	t.Parallel()
	for s, want := range map[swarm.TaskState]cyberrange.State{
		swarm.TaskStateNew: cyberrange.StateCreated, swarm.TaskStatePending: cyberrange.StateCreated,
		swarm.TaskStatePreparing: cyberrange.StateCreated, swarm.TaskStateStarting: cyberrange.StateCreated,
		swarm.TaskStateRunning: cyberrange.StateRunning, swarm.TaskStateFailed: cyberrange.StateExited,
		swarm.TaskStateComplete: cyberrange.StateExited, swarm.TaskStateShutdown: cyberrange.StateExited,
		swarm.TaskStateRejected: cyberrange.StateExited, swarm.TaskStateOrphaned: cyberrange.StateExited,
	} {
		if got := taskState(s); got != want {
			t.Errorf("%s: got %s, want %s", s, got, want)
		}
	}
}

// ensureNetworks makes the plan's networks, as an up does first.
func ensureNetworks(t *testing.T, ctx context.Context, d *Driver, p *cyberrange.Plan) {
	t.Helper()
	for _, n := range p.Networks {
		if err := d.EnsureNetwork(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
}
