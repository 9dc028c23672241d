package swarm

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"github.com/cyrange/cyrange/range/internal/dockerapi/dockerapitest"
)

// fakeEngine keeps a one-node swarm's networks, services, tasks and
// secrets in memory, enough for the driver's logic. What a test does not
// override panics (nil embedded interface), so a call nobody expected
// shows. It never talks to a Docker engine.
type fakeEngine struct {
	engine
	dockerapitest.Calls
	mu      sync.Mutex
	nets    map[string]*network.Inspect // by name
	svcs    map[string]*swarm.Service   // by name
	tasks   []*swarm.Task
	secrets map[string]*swarm.Secret // by name
	nextID  int
	clock   time.Time
	// startState is the state a new task takes (running unless set).
	startState swarm.TaskState
	// linger is how many task listings or network removals a removed
	// service's tasks outlive it, as Swarm takes them down in its own
	// time.
	linger int
	gone   map[string]int // removed service ID -> TaskList calls left
	logs   map[string]string
	// restartOnInspect names crashed services whose next inspection
	// starts a new task: Swarm restarts a task in its own time, and the
	// contract test needs that time to come after the orchestrator saw
	// the death, not before.
	restartOnInspect map[string]bool
}

func newFake() *fakeEngine {
	return &fakeEngine{nets: map[string]*network.Inspect{}, svcs: map[string]*swarm.Service{},
		secrets: map[string]*swarm.Secret{}, gone: map[string]int{},
		logs: map[string]string{}, restartOnInspect: map[string]bool{}, clock: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (f *fakeEngine) id(prefix string) string {
	f.nextID++
	return fmt.Sprintf("%s%04d", prefix, f.nextID)
}

func (f *fakeEngine) tick() time.Time {
	f.clock = f.clock.Add(time.Second)
	return f.clock
}

func (f *fakeEngine) Close() error { return nil }

func (f *fakeEngine) NetworkCreate(_ context.Context, name string, o client.NetworkCreateOptions) (client.NetworkCreateResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.Record("NetworkCreate"); err != nil {
		return client.NetworkCreateResult{}, err
	}
	if _, ok := f.nets[name]; ok {
		return client.NetworkCreateResult{}, cerrdefs.ErrConflict.WithMessage("network " + name + " exists")
	}
	n := &network.Inspect{Network: network.Network{Name: name, ID: f.id("net"), Driver: o.Driver, Scope: o.Scope,
		Internal: o.Internal, Attachable: o.Attachable, Options: maps.Clone(o.Options), Labels: maps.Clone(o.Labels)}}
	if o.IPAM != nil {
		n.IPAM = *o.IPAM
	}
	if len(n.IPAM.Config) == 0 { // the swarm's default pool
		n.IPAM.Config = []network.IPAMConfig{{Subnet: mustPrefix(fmt.Sprintf("10.0.%d.0/24", f.nextID%250))}}
	}
	f.nets[name] = n
	return client.NetworkCreateResult{ID: n.ID}, nil
}

func (f *fakeEngine) netByNameOrID(id string) *network.Inspect {
	if n, ok := f.nets[id]; ok {
		return n
	}
	for _, n := range f.nets {
		if n.ID == id {
			return n
		}
	}
	return nil
}

func (f *fakeEngine) NetworkInspect(_ context.Context, id string, _ client.NetworkInspectOptions) (client.NetworkInspectResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.Record("NetworkInspect"); err != nil {
		return client.NetworkInspectResult{}, err
	}
	n := f.netByNameOrID(id)
	if n == nil {
		return client.NetworkInspectResult{}, cerrdefs.ErrNotFound.WithMessage("network " + id)
	}
	return client.NetworkInspectResult{Network: *n}, nil
}

func (f *fakeEngine) NetworkList(_ context.Context, o client.NetworkListOptions) (client.NetworkListResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.Record("NetworkList"); err != nil {
		return client.NetworkListResult{}, err
	}
	var out client.NetworkListResult
	for _, name := range slices.Sorted(maps.Keys(f.nets)) {
		if n := f.nets[name]; dockerapitest.MatchLabels(o.Filters, n.Labels) {
			out.Items = append(out.Items, network.Summary{Network: n.Network})
		}
	}
	return out, nil
}

// NetworkRemove refuses a network a service or a lingering task uses, as
// Swarm does.
func (f *fakeEngine) NetworkRemove(_ context.Context, id string, _ client.NetworkRemoveOptions) (client.NetworkRemoveResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.Record("NetworkRemove"); err != nil {
		return client.NetworkRemoveResult{}, err
	}
	n := f.netByNameOrID(id)
	if n == nil {
		return client.NetworkRemoveResult{}, cerrdefs.ErrNotFound
	}
	f.age()
	for _, t := range f.tasks {
		for _, a := range t.Spec.Networks {
			if a.Target == n.ID {
				return client.NetworkRemoveResult{}, cerrdefs.ErrPermissionDenied.WithMessage("network " + n.Name + " is in use by task " + t.ID)
			}
		}
	}
	delete(f.nets, n.Name)
	return client.NetworkRemoveResult{}, nil
}

// ServiceCreate makes the service and its first task, turning network
// names into IDs and checking secret references as the engine does.
func (f *fakeEngine) ServiceCreate(_ context.Context, o client.ServiceCreateOptions) (client.ServiceCreateResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.Record("ServiceCreate"); err != nil {
		return client.ServiceCreateResult{}, err
	}
	spec := o.Spec
	if _, ok := f.svcs[spec.Name]; ok {
		return client.ServiceCreateResult{}, cerrdefs.ErrConflict.WithMessage("service " + spec.Name + " exists")
	}
	spec.TaskTemplate.Networks = slices.Clone(spec.TaskTemplate.Networks)
	for i, a := range spec.TaskTemplate.Networks {
		n := f.netByNameOrID(a.Target)
		if n == nil {
			return client.ServiceCreateResult{}, cerrdefs.ErrNotFound.WithMessage("network " + a.Target + " not found")
		}
		spec.TaskTemplate.Networks[i].Target = n.ID
	}
	for _, r := range spec.TaskTemplate.ContainerSpec.Secrets {
		s, ok := f.secrets[r.SecretName]
		if !ok || s.ID != r.SecretID {
			return client.ServiceCreateResult{}, cerrdefs.ErrInvalidArgument.WithMessage("secret " + r.SecretName + " not found")
		}
	}
	now := f.tick()
	svc := &swarm.Service{ID: f.id("svc"), Meta: swarm.Meta{CreatedAt: now}, Spec: spec}
	f.svcs[spec.Name] = svc
	f.newTask(svc)
	return client.ServiceCreateResult{ID: svc.ID}, nil
}

// newTask adds a task of svc in startState on node1.
func (f *fakeEngine) newTask(svc *swarm.Service) *swarm.Task {
	state := f.startState
	if state == "" {
		state = swarm.TaskStateRunning
	}
	id := f.id("task")
	t := &swarm.Task{ID: id, Meta: swarm.Meta{CreatedAt: f.tick()}, ServiceID: svc.ID, NodeID: "node1", Slot: 1,
		Annotations: swarm.Annotations{Name: svc.Spec.Name + ".1." + id},
		Spec:        svc.Spec.TaskTemplate, DesiredState: swarm.TaskStateRunning,
		Status: swarm.TaskStatus{Timestamp: f.clock, State: state, ContainerStatus: &swarm.ContainerStatus{ContainerID: "c" + svc.ID}}}
	if svc.Spec.EndpointSpec != nil {
		for _, p := range svc.Spec.EndpointSpec.Ports {
			if p.PublishedPort == 0 {
				p.PublishedPort = 30000 + uint32(f.nextID)
			}
			t.Status.PortStatus.Ports = append(t.Status.PortStatus.Ports, p)
		}
	}
	f.tasks = append(f.tasks, t)
	return t
}

// crash makes service name's current task fail with code and Swarm start
// a new one, as its restart policy says.
func (f *fakeEngine) crash(name string, code int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	svc := f.svcs[name]
	for _, t := range f.tasks {
		if t.ServiceID == svc.ID && t.Status.State == swarm.TaskStateRunning {
			t.Status.State = swarm.TaskStateFailed
			t.Status.ContainerStatus.ExitCode = code
			t.DesiredState = swarm.TaskStateShutdown
		}
	}
}

// restartTasks starts a new task for every service whose tasks all ended.
func (f *fakeEngine) restartTasks() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, svc := range f.svcs {
		running := slices.ContainsFunc(f.tasks, func(t *swarm.Task) bool {
			return t.ServiceID == svc.ID && t.Status.State == swarm.TaskStateRunning
		})
		if !running {
			f.newTask(svc)
		}
	}
}

func (f *fakeEngine) svcByNameOrID(id string) *swarm.Service {
	if s, ok := f.svcs[id]; ok {
		return s
	}
	for _, s := range f.svcs {
		if s.ID == id {
			return s
		}
	}
	return nil
}

func (f *fakeEngine) ServiceInspect(_ context.Context, id string, _ client.ServiceInspectOptions) (client.ServiceInspectResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.Record("ServiceInspect"); err != nil {
		return client.ServiceInspectResult{}, err
	}
	s := f.svcByNameOrID(id)
	if s == nil {
		return client.ServiceInspectResult{}, cerrdefs.ErrNotFound.WithMessage("service " + id)
	}
	if f.restartOnInspect[s.Spec.Name] {
		delete(f.restartOnInspect, s.Spec.Name)
		f.newTask(s)
	}
	return client.ServiceInspectResult{Service: *s}, nil
}

func (f *fakeEngine) ServiceList(_ context.Context, o client.ServiceListOptions) (client.ServiceListResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.Record("ServiceList"); err != nil {
		return client.ServiceListResult{}, err
	}
	var out client.ServiceListResult
	for _, name := range slices.Sorted(maps.Keys(f.svcs)) {
		if s := f.svcs[name]; dockerapitest.MatchLabels(o.Filters, s.Spec.Labels) {
			out.Items = append(out.Items, *s)
		}
	}
	return out, nil
}

// ServiceRemove drops the service; its tasks linger (see linger).
func (f *fakeEngine) ServiceRemove(_ context.Context, id string, _ client.ServiceRemoveOptions) (client.ServiceRemoveResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.Record("ServiceRemove"); err != nil {
		return client.ServiceRemoveResult{}, err
	}
	s := f.svcByNameOrID(id)
	if s == nil {
		return client.ServiceRemoveResult{}, cerrdefs.ErrNotFound
	}
	delete(f.svcs, s.Spec.Name)
	for _, t := range f.tasks {
		if t.ServiceID == s.ID {
			t.DesiredState = swarm.TaskStateShutdown
			t.Status.State = swarm.TaskStateShutdown
		}
	}
	f.gone[s.ID] = f.linger
	f.reap()
	return client.ServiceRemoveResult{}, nil
}

// age is time passing for the removed services' lingering tasks: each
// look at tasks or attempt to remove a network.
func (f *fakeEngine) age() {
	for id := range f.gone {
		f.gone[id]--
	}
	f.reap()
}

// reap drops the tasks of removed services whose lingering is over.
func (f *fakeEngine) reap() {
	f.tasks = slices.DeleteFunc(f.tasks, func(t *swarm.Task) bool {
		left, ok := f.gone[t.ServiceID]
		return ok && left <= 0
	})
}

func (f *fakeEngine) TaskList(_ context.Context, o client.TaskListOptions) (client.TaskListResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.Record("TaskList"); err != nil {
		return client.TaskListResult{}, err
	}
	var out client.TaskListResult
	// The engine resolves the services of the filter first.
	for id := range o.Filters["service"] {
		if f.svcByNameOrID(id) == nil {
			return client.TaskListResult{}, cerrdefs.ErrNotFound.WithMessage("service " + id + " not found")
		}
	}
	for _, t := range f.tasks {
		if ids := o.Filters["service"]; len(ids) > 0 && !ids[t.ServiceID] {
			continue
		}
		if names := o.Filters["name"]; len(names) > 0 && !slices.ContainsFunc(slices.Collect(maps.Keys(names)), func(p string) bool {
			return strings.HasPrefix(t.Name, p)
		}) {
			continue
		}
		c := *t
		if cs := t.Status.ContainerStatus; cs != nil {
			v := *cs // the test edits it under the lock; the caller reads it without
			c.Status.ContainerStatus = &v
		}
		out.Items = append(out.Items, c)
	}
	f.age()
	return out, nil
}

func (f *fakeEngine) ServiceLogs(ctx context.Context, id string, _ client.ServiceLogsOptions) (client.ServiceLogsResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.Record("ServiceLogs"); err != nil {
		return nil, err
	}
	s := f.svcByNameOrID(id)
	if s == nil {
		return nil, cerrdefs.ErrNotFound
	}
	var buf bytes.Buffer
	dockerapitest.Frame(&buf, stdcopy.Stdout, f.logs[s.Spec.Name])
	return io.NopCloser(&buf), nil
}

func (f *fakeEngine) SecretCreate(_ context.Context, o client.SecretCreateOptions) (client.SecretCreateResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.Record("SecretCreate"); err != nil {
		return client.SecretCreateResult{}, err
	}
	if _, ok := f.secrets[o.Spec.Name]; ok {
		return client.SecretCreateResult{}, cerrdefs.ErrConflict.WithMessage("secret " + o.Spec.Name + " exists")
	}
	s := &swarm.Secret{ID: f.id("sec"), Spec: o.Spec}
	f.secrets[o.Spec.Name] = s
	return client.SecretCreateResult{ID: s.ID}, nil
}

func (f *fakeEngine) SecretList(_ context.Context, o client.SecretListOptions) (client.SecretListResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.Record("SecretList"); err != nil {
		return client.SecretListResult{}, err
	}
	var out client.SecretListResult
	for _, name := range slices.Sorted(maps.Keys(f.secrets)) {
		if s := f.secrets[name]; dockerapitest.MatchLabels(o.Filters, s.Spec.Labels) {
			v := *s
			v.Spec.Data = nil // the API never returns a secret's data
			out.Items = append(out.Items, v)
		}
	}
	return out, nil
}

// SecretRemove refuses a secret a service uses, as Swarm does.
func (f *fakeEngine) SecretRemove(_ context.Context, id string, _ client.SecretRemoveOptions) (client.SecretRemoveResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.Record("SecretRemove"); err != nil {
		return client.SecretRemoveResult{}, err
	}
	for name, s := range f.secrets {
		if s.ID != id {
			continue
		}
		for _, svc := range f.svcs {
			for _, r := range svc.Spec.TaskTemplate.ContainerSpec.Secrets {
				if r.SecretID == id {
					return client.SecretRemoveResult{}, cerrdefs.ErrConflict.WithMessage("secret " + name + " is in use by service " + svc.Spec.Name)
				}
			}
		}
		delete(f.secrets, name)
		return client.SecretRemoveResult{}, nil
	}
	return client.SecretRemoveResult{}, cerrdefs.ErrNotFound
}

func (f *fakeEngine) NodeList(_ context.Context, _ client.NodeListOptions) (client.NodeListResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.Record("NodeList"); err != nil {
		return client.NodeListResult{}, err
	}
	return client.NodeListResult{Items: []swarm.Node{{ID: "node1", Description: swarm.NodeDescription{Hostname: "node-one"},
		Status: swarm.NodeStatus{State: swarm.NodeStateReady, Addr: "192.0.2.10"}}}}, nil
}
