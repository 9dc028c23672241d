package swarm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
	"github.com/moby/moby/client/pkg/versions"

	cyberrange "github.com/cyrange/cyrange/range"
	"github.com/cyrange/cyrange/range/internal/dockerapi"
)

// Name is the driver's name.
const Name = "swarm"

// Defaults of Options.
const (
	DefaultCallTimeout = 30 * time.Second
	// DefaultRemoveWait bounds how long Remove waits for a service's
	// tasks to go, and RemoveNetwork for a network's last endpoints.
	DefaultRemoveWait = time.Minute
	// DefaultPoll is how often the driver looks at tasks: Swarm sends no
	// events of task state, so Events, WaitReady and Remove poll.
	DefaultPoll = 500 * time.Millisecond
)

// Options configure a Driver. Every field may be left zero.
type Options struct {
	Logger *slog.Logger
	Now    func() time.Time
	// CallTimeout bounds each Engine API call (DefaultCallTimeout when
	// zero). A log stream is bounded only until it opens.
	CallTimeout time.Duration
	// Host is a manager's Engine API address; empty means DOCKER_HOST or
	// the default socket.
	Host string
	// Placement puts each kind of container on nodes of a role; the zero
	// value puts every kind anywhere (a single-node swarm).
	Placement Placement
	// Encrypt turns on the overlay networks' encryption between nodes.
	Encrypt bool
	// RemoveWait is DefaultRemoveWait when zero.
	RemoveWait time.Duration
	// Poll is DefaultPoll when zero.
	Poll time.Duration
	// DaemonNoNewPrivileges says that every node's daemon runs with
	// "no-new-privileges": true (daemon.json), which makes up for a
	// manager older than API 1.44, whose services cannot ask for it.
	DaemonNoNewPrivileges bool
}

// API versions from which a service's spec carries a part of the
// confinement. An older engine accepts the spec and drops the field
// without a word, so the driver checks the version it negotiated.
const (
	// apiNoNewPrivileges: ContainerSpec.Privileges.NoNewPrivileges
	// (engine 25.0).
	apiNoNewPrivileges = "1.44"
	// apiSwapBytes: TaskTemplate.Resources.SwapBytes; before it a
	// service's container may swap as much again as its memory limit.
	apiSwapBytes = "1.52"
)

// checkAPI refuses an API version on which the services would run
// without no-new-privileges, unless the daemons set it themselves, and
// returns what is weaker than with the Docker driver on it.
func checkAPI(version string, daemonNoNewPrivileges bool) (weaker []string, err error) {
	if versions.LessThan(version, apiNoNewPrivileges) && !daemonNoNewPrivileges {
		return nil, fmt.Errorf("swarm: %w: the manager speaks API %s, whose services cannot be denied new privileges (API %s, Docker 25.0); "+
			"upgrade the swarm, or set \"no-new-privileges\": true in every node's daemon.json and say so (DaemonNoNewPrivileges)",
			cyberrange.ErrUnavailable, version, apiNoNewPrivileges)
	}
	if versions.LessThan(version, apiSwapBytes) {
		weaker = append(weaker, fmt.Sprintf("API %s cannot forbid swap (API %s): a container may swap as much again as its memory limit unless its node has no swap", version, apiSwapBytes))
	}
	return weaker, nil
}

// Driver runs plans on a Docker Swarm, through one of its managers. It is
// safe for concurrent use.
type Driver struct {
	e          engine
	log        *slog.Logger
	now        func() time.Time
	timeout    time.Duration
	placement  Placement
	encrypt    bool
	removeWait time.Duration
	poll       time.Duration
}

var (
	_ cyberrange.Driver        = (*Driver)(nil)
	_ cyberrange.ReadyWaiter   = (*Driver)(nil)
	_ cyberrange.VolumeRemover = (*Driver)(nil)
)

// New connects to a manager of a swarm and checks that it is one. It
// returns an error wrapping cyberrange.ErrUnavailable when no engine is
// reachable or the engine is not a manager of an active swarm. It
// changes nothing on the engine: making the swarm is the organizer's.
func New(ctx context.Context, o Options) (*Driver, error) {
	d := newDriver(nil, o)
	c, ping, err := dockerapi.Connect(ctx, o.Host, d.timeout)
	if err != nil {
		return nil, fmt.Errorf("swarm: %w", err)
	}
	d.e = c
	if s := ping.SwarmStatus; s == nil || s.NodeState != swarm.LocalNodeStateActive || !s.ControlAvailable {
		c.Close()
		return nil, fmt.Errorf("swarm: engine at %s: %w: not a manager of an active swarm (docker swarm init)", c.DaemonHost(), cyberrange.ErrUnavailable)
	}
	weaker, err := checkAPI(c.ClientVersion(), o.DaemonNoNewPrivileges)
	if err != nil {
		c.Close()
		return nil, err
	}
	for _, w := range weaker {
		d.log.Warn("weaker confinement than the Docker driver's", "why", w)
	}
	return d, nil
}

// newDriver wraps an engine; tests give it a fake.
func newDriver(e engine, o Options) *Driver {
	d := &Driver{e: e, log: o.Logger, now: o.Now, timeout: o.CallTimeout, placement: o.Placement, encrypt: o.Encrypt,
		removeWait: o.RemoveWait, poll: o.Poll}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	if d.now == nil {
		d.now = time.Now
	}
	if d.timeout <= 0 {
		d.timeout = DefaultCallTimeout
	}
	if d.removeWait <= 0 {
		d.removeWait = DefaultRemoveWait
	}
	if d.poll <= 0 {
		d.poll = DefaultPoll
	}
	d.log = d.log.With("driver", Name)
	return d
}

// Close releases the connection to the engine.
func (d *Driver) Close() error { return d.e.Close() }

// Name is "swarm".
func (d *Driver) Name() string { return Name }

// call bounds one API call.
func (d *Driver) call(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, d.timeout)
}

// fail wraps an engine error with what was being done and the range's
// sentinel for it, if any.
func fail(op, name string, err error) error { return dockerapi.Fail("swarm", op, name, err) }

// sleep waits for d or ctx, whichever ends first.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func exerciseFilter(exercise string) client.Filters {
	return client.Filters{}.Add("label", cyberrange.LabelExercise+"="+exercise)
}

// List returns the exercise's overlay networks and services, each
// service as the container it stands for, in the state of its latest
// task. A gateway's edge network is not listed while its service exists
// (it is the driver's, like the Docker driver's ingress), and is listed
// as a leftover for Down to remove once its service is gone.
func (d *Driver) List(ctx context.Context, exercise string) (cyberrange.Actual, error) {
	var a cyberrange.Actual
	if exercise == "" {
		return a, fmt.Errorf("swarm: list: %w: no exercise", cyberrange.ErrInvalid)
	}
	cctx, cancel := d.call(ctx)
	nets, err := d.e.NetworkList(cctx, client.NetworkListOptions{Filters: exerciseFilter(exercise)})
	cancel()
	if err != nil {
		return a, fail("list networks of", exercise, err)
	}
	cctx, cancel = d.call(ctx)
	svcs, err := d.e.ServiceList(cctx, client.ServiceListOptions{Filters: exerciseFilter(exercise)})
	cancel()
	if err != nil {
		return a, fail("list services of", exercise, err)
	}
	var mine []swarm.Service
	for _, s := range svcs.Items {
		if s.Spec.Labels[cyberrange.LabelExercise] == exercise {
			mine = append(mine, s)
		}
	}
	tasks, err := d.tasksOf(ctx, mine)
	if err != nil {
		return a, err
	}
	nodes, err := d.nodes(ctx, tasks)
	if err != nil {
		return a, err
	}
	// The engine turns a spec's network names into IDs.
	names := map[string]string{}
	for _, n := range nets.Items {
		names[n.ID] = n.Name
	}
	services := map[string]bool{}
	for _, s := range mine {
		services[s.Spec.Name] = true
		a.Containers = append(a.Containers, serviceStatus(s, tasks[s.ID], names, nodes))
	}
	for _, n := range nets.Items {
		if n.Labels[cyberrange.LabelExercise] != exercise {
			continue
		}
		if owner := n.Labels[labelEdge]; owner != "" && services[owner] {
			continue
		}
		ns := cyberrange.NetworkStatus{Name: n.Name, Labels: n.Labels}
		if len(n.IPAM.Config) > 0 {
			ns.Subnet = n.IPAM.Config[0].Subnet
		}
		a.Networks = append(a.Networks, ns)
	}
	slices.SortFunc(a.Networks, func(x, y cyberrange.NetworkStatus) int { return strings.Compare(x.Name, y.Name) })
	slices.SortFunc(a.Containers, func(x, y cyberrange.ContainerStatus) int { return strings.Compare(x.Name, y.Name) })
	return a, nil
}

// tasksOf returns the tasks of services by service ID, newest first.
func (d *Driver) tasksOf(ctx context.Context, services []swarm.Service) (map[string][]swarm.Task, error) {
	out := map[string][]swarm.Task{}
	if len(services) == 0 {
		return out, nil
	}
	ids := make([]string, 0, len(services))
	want := map[string]bool{}
	for _, s := range services {
		ids = append(ids, s.ID)
		want[s.ID] = true
	}
	cctx, cancel := d.call(ctx)
	res, err := d.e.TaskList(cctx, client.TaskListOptions{Filters: client.Filters{}.Add("service", ids...)})
	cancel()
	if cerrdefs.IsNotFound(err) {
		// The engine resolves each service of the filter and fails on
		// one removed since it was listed (Down runs beside Watch): ask
		// for every task instead, and keep those of the services.
		cctx, cancel := d.call(ctx)
		res, err = d.e.TaskList(cctx, client.TaskListOptions{})
		cancel()
	}
	if err != nil {
		return nil, fail("list tasks of", fmt.Sprintf("%d services", len(ids)), err)
	}
	for _, t := range res.Items {
		if want[t.ServiceID] {
			out[t.ServiceID] = append(out[t.ServiceID], t)
		}
	}
	for _, ts := range out {
		slices.SortFunc(ts, newestFirst)
	}
	return out, nil
}

// newestFirst orders tasks by their creation, the latest first: a
// service of one replica keeps its past tasks (up to the swarm's task
// history limit) beside the current one.
func newestFirst(x, y swarm.Task) int {
	if c := y.CreatedAt.Compare(x.CreatedAt); c != 0 {
		return c
	}
	return strings.Compare(y.ID, x.ID)
}

// node is what the range shows of a swarm node: its name, and its
// address, where host-mode ports are published.
type node struct {
	Hostname, Addr string
}

// nodes maps the nodes that run tasks to what the range shows of them.
func (d *Driver) nodes(ctx context.Context, tasks map[string][]swarm.Task) (map[string]node, error) {
	out := map[string]node{}
	if len(tasks) == 0 {
		return out, nil
	}
	cctx, cancel := d.call(ctx)
	res, err := d.e.NodeList(cctx, client.NodeListOptions{})
	cancel()
	if err != nil {
		return nil, fail("list nodes of", "the swarm", err)
	}
	for _, n := range res.Items {
		out[n.ID] = node{Hostname: n.Description.Hostname, Addr: n.Status.Addr}
	}
	return out, nil
}

// serviceStatus is the range's view of a service and its tasks (newest
// first). Restarts counts the tasks Swarm replaced, as far as its task
// history reaches.
func serviceStatus(s swarm.Service, tasks []swarm.Task, netNames map[string]string, nodes map[string]node) cyberrange.ContainerStatus {
	st := cyberrange.ContainerStatus{Name: s.Spec.Name, State: cyberrange.StateCreated, Labels: maps.Clone(s.Spec.Labels)}
	delete(st.Labels, labelPorts)
	st.Kind = cyberrange.Kind(s.Spec.Labels[cyberrange.LabelKind])
	if len(tasks) > 1 {
		st.Restarts = len(tasks) - 1
	}
	for _, a := range s.Spec.TaskTemplate.Networks {
		name := a.Target
		if n, ok := netNames[a.Target]; ok {
			name = n
		}
		if name == edgeName(s.Spec.Name) {
			continue
		}
		st.Networks = append(st.Networks, name)
	}
	slices.Sort(st.Networks)
	if len(tasks) == 0 {
		return st
	}
	t := tasks[0]
	st.State = taskState(t.Status.State)
	st.Node = nodes[t.NodeID].Hostname
	if cs := t.Status.ContainerStatus; cs != nil {
		st.ExitCode = cs.ExitCode
	}
	if st.State == cyberrange.StateRunning {
		st.Started = t.Status.Timestamp
		st.Ports = published(s.Spec.Labels[labelPorts], t, nodes[t.NodeID].Addr)
	}
	return st
}

// published maps a running task's named ports to where they are
// published: its node's address and the host port.
func published(label string, t swarm.Task, nodeAddr string) map[string]string {
	names := dockerapi.ParsePorts(label)
	host, err := netip.ParseAddr(nodeAddr)
	if err != nil {
		return nil
	}
	if host.IsUnspecified() {
		// A node that advertises no address of its own: a single-node
		// swarm, whose ports are on this host, as the Docker driver
		// reports a port published on every address.
		host = netip.AddrFrom4([4]byte{127, 0, 0, 1})
	}
	out := map[string]string{}
	for _, p := range t.Status.PortStatus.Ports {
		name, ok := names[int(p.TargetPort)]
		if !ok || p.PublishedPort == 0 {
			continue
		}
		out[name] = net.JoinHostPort(host.String(), strconv.Itoa(int(p.PublishedPort)))
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// taskState maps a task's state to the range's: everything before
// running is created, everything after it exited.
func taskState(s swarm.TaskState) cyberrange.State {
	switch s {
	case swarm.TaskStateRunning:
		return cyberrange.StateRunning
	case swarm.TaskStateComplete, swarm.TaskStateShutdown, swarm.TaskStateFailed, swarm.TaskStateRejected,
		swarm.TaskStateRemove, swarm.TaskStateOrphaned:
		return cyberrange.StateExited
	default:
		return cyberrange.StateCreated
	}
}

func (d *Driver) inspectNetwork(ctx context.Context, name string) (network.Inspect, bool, error) {
	cctx, cancel := d.call(ctx)
	defer cancel()
	res, err := d.e.NetworkInspect(cctx, name, client.NetworkInspectOptions{Scope: "swarm"})
	if cerrdefs.IsNotFound(err) {
		return network.Inspect{}, false, nil
	}
	if err != nil {
		return network.Inspect{}, false, fail("inspect network", name, err)
	}
	return res.Network, true, nil
}

// EnsureNetwork makes the overlay network if it is missing. One of that
// name that exists with another subnet, another exercise's label, or
// not as an internal overlay network is an error wrapping
// cyberrange.ErrInvalid.
func (d *Driver) EnsureNetwork(ctx context.Context, n cyberrange.Network) error {
	if err := validNetwork(n); err != nil {
		return fmt.Errorf("swarm: network: %w", err)
	}
	ok, err := d.hasNetwork(ctx, n)
	if err != nil || ok {
		return err
	}
	cctx, cancel := d.call(ctx)
	_, cerr := d.e.NetworkCreate(cctx, n.Name, networkOptions(n, d.encrypt))
	cancel()
	if cerr == nil {
		d.log.Debug("network created", "name", n.Name, "subnet", n.Subnet)
		return nil
	}
	// Made meanwhile by another orchestrator, or a real failure.
	if ok, err := d.hasNetwork(ctx, n); err == nil && ok {
		return nil
	}
	return fail("create network", n.Name, cerr)
}

// hasNetwork reports whether n exists as planned.
func (d *Driver) hasNetwork(ctx context.Context, n cyberrange.Network) (bool, error) {
	got, found, err := d.inspectNetwork(ctx, n.Name)
	if err != nil || !found {
		return false, err
	}
	if err := dockerapi.CheckNetwork(got, n); err != nil {
		return false, fmt.Errorf("swarm: network %s: %w", n.Name, err)
	}
	if got.Driver != "overlay" || !got.Internal {
		return false, fmt.Errorf("swarm: network %s: %w: it exists and is not an internal overlay network", n.Name, cyberrange.ErrInvalid)
	}
	return true, nil
}

// RemoveNetwork removes one of an exercise's networks; a missing one is
// not an error, nor is one whose last endpoints Swarm is still taking
// down (a service just removed): it waits up to Options.RemoveWait for
// them. It refuses a network without an exercise label.
func (d *Driver) RemoveNetwork(ctx context.Context, name string) error {
	got, found, err := d.inspectNetwork(ctx, name)
	if err != nil || !found {
		return err
	}
	if got.Labels[cyberrange.LabelExercise] == "" {
		return fmt.Errorf("swarm: remove network %s: %w: it has no %s label", name, cyberrange.ErrInvalid, cyberrange.LabelExercise)
	}
	return d.removeNetworkID(ctx, name, got.ID)
}

func (d *Driver) removeNetworkID(ctx context.Context, name, id string) error {
	deadline := d.now().Add(d.removeWait)
	for {
		cctx, cancel := d.call(ctx)
		_, err := d.e.NetworkRemove(cctx, id, client.NetworkRemoveOptions{})
		cancel()
		if err == nil || cerrdefs.IsNotFound(err) {
			return nil
		}
		// A network is in use until the tasks of removed services are
		// gone from every node, which Swarm does in its own time.
		if !d.now().Before(deadline) {
			return fail("remove network", name, err)
		}
		if err := sleep(ctx, d.poll); err != nil {
			return fail("remove network", name, err)
		}
	}
}

// inspectService returns a service, or found false when there is none
// of that name.
func (d *Driver) inspectService(ctx context.Context, name string) (swarm.Service, bool, error) {
	cctx, cancel := d.call(ctx)
	defer cancel()
	res, err := d.e.ServiceInspect(cctx, name, client.ServiceInspectOptions{})
	if cerrdefs.IsNotFound(err) {
		return swarm.Service{}, false, nil
	}
	if err != nil {
		return swarm.Service{}, false, fail("inspect service", name, err)
	}
	return res.Service, true, nil
}

// Start makes the service of c if it is missing, and replaces it if it
// runs another image or plan spec (its cyrange.plan-hash label): the old
// service, its secrets and its edge network go, and a new one is made.
// An existing service as planned is left to Swarm, which restarts its
// task. A service of that name that is not the exercise's is an error
// wrapping ErrInvalid.
func (d *Driver) Start(ctx context.Context, c cyberrange.Container) error {
	if err := validContainer(c); err != nil {
		return fmt.Errorf("swarm: start: %w", err)
	}
	for _, p := range c.Ports {
		if ap, err := netip.ParseAddrPort(p.Publish); err == nil && !ap.Addr().IsUnspecified() {
			d.log.Debug("swarm publishes on every address of the node, not only the plan's", "name", c.Name, "port", p.Name, "publish", p.Publish)
		}
	}
	got, found, err := d.inspectService(ctx, c.Name)
	if err != nil {
		return err
	}
	if found {
		ex := c.Labels[cyberrange.LabelExercise]
		if got.Spec.Labels[cyberrange.LabelExercise] != ex {
			return fmt.Errorf("swarm: start %s: %w: a service of that name exists and is not exercise %q's", c.Name, cyberrange.ErrInvalid, ex)
		}
		if !differs(got, c) {
			return nil
		}
		d.log.Info("service changed, replacing it", "name", c.Name)
		if err := d.remove(ctx, c.Name); err != nil {
			return err
		}
	}
	return d.create(ctx, c)
}

// differs reports whether an existing service is not the one planned.
func differs(s swarm.Service, c cyberrange.Container) bool {
	cs := s.Spec.TaskTemplate.ContainerSpec
	if cs == nil || cs.Image != c.Image {
		return true
	}
	want := c.Labels[cyberrange.LabelPlanHash]
	return want != "" && s.Spec.Labels[cyberrange.LabelPlanHash] != want
}

// create makes c's secrets, its edge network if it publishes, and its
// service. When another orchestrator made the service meanwhile, that
// one stands if it is the planned one.
func (d *Driver) create(ctx context.Context, c cyberrange.Container) error {
	ids, err := d.ensureSecrets(ctx, c)
	if err != nil {
		return err
	}
	if publishes(c) {
		if err := d.ensureEdge(ctx, c); err != nil {
			return err
		}
	}
	spec := withSecretIDs(serviceSpec(c, specOptions{Placement: d.placement}), ids)
	cctx, cancel := d.call(ctx)
	_, err = d.e.ServiceCreate(cctx, client.ServiceCreateOptions{Spec: spec})
	cancel()
	switch {
	case err == nil:
		d.log.Debug("service created", "name", c.Name)
		d.pruneSecrets(ctx, c)
		return nil
	case cerrdefs.IsConflict(err):
		got, found, ierr := d.inspectService(ctx, c.Name)
		if ierr == nil && found && !differs(got, c) && got.Spec.Labels[cyberrange.LabelExercise] == c.Labels[cyberrange.LabelExercise] {
			return nil
		}
		return fail("create service", c.Name, err)
	case cerrdefs.IsNotFound(err):
		return fmt.Errorf("swarm: create service %s: %w: network or secret missing: %w", c.Name, cyberrange.ErrNotFound, err)
	default:
		return fail("create service", c.Name, err)
	}
}

// ensureSecrets makes the secrets c mounts that are missing, and returns
// every one's ID by name. An existing secret of that name must be the
// same service's (labelOwner) and exercise's: a secret's name carries
// the plan hash, so one of the same name has the same value.
func (d *Driver) ensureSecrets(ctx context.Context, c cyberrange.Container) (map[string]string, error) {
	secrets := secretsOf(c)
	ids := map[string]string{}
	if len(secrets) == 0 {
		return ids, nil
	}
	existing, err := d.secretsOwnedBy(ctx, c.Labels[cyberrange.LabelExercise], c.Name)
	if err != nil {
		return nil, err
	}
	for _, s := range existing {
		ids[s.Spec.Name] = s.ID
	}
	for _, s := range secrets {
		if ids[s.Name] != "" {
			continue
		}
		cctx, cancel := d.call(ctx)
		res, err := d.e.SecretCreate(cctx, client.SecretCreateOptions{Spec: secretSpec(s)})
		cancel()
		if err != nil {
			// A conflict here is a secret of that name that is not this
			// service's (else secretsOwnedBy had found it).
			return nil, fail("create secret", s.Name, err)
		}
		ids[s.Name] = res.ID
	}
	return ids, nil
}

// pruneSecrets removes the secrets of service c that its new spec does
// not use: a replacement interrupted between
// removing the old service and making the new one leaves the old
// secrets. Failing only leaves them for Remove, so it is logged.
func (d *Driver) pruneSecrets(ctx context.Context, c cyberrange.Container) {
	used := map[string]bool{}
	for _, s := range secretsOf(c) {
		used[s.Name] = true
	}
	owned, err := d.secretsOwnedBy(ctx, c.Labels[cyberrange.LabelExercise], c.Name)
	if err != nil {
		d.log.Warn("old secrets not pruned", "name", c.Name, "err", err)
		return
	}
	for _, s := range owned {
		if used[s.Spec.Name] {
			continue
		}
		if err := d.removeSecret(ctx, s); err != nil {
			d.log.Warn("old secret not pruned", "name", c.Name, "secret", s.Spec.Name, "err", err)
		}
	}
}

// secretsOwnedBy lists the exercise's secrets, those of service owner
// only unless owner is empty.
func (d *Driver) secretsOwnedBy(ctx context.Context, exercise, owner string) ([]swarm.Secret, error) {
	f := exerciseFilter(exercise)
	if owner != "" {
		f = f.Add("label", labelOwner+"="+owner)
	}
	cctx, cancel := d.call(ctx)
	res, err := d.e.SecretList(cctx, client.SecretListOptions{Filters: f})
	cancel()
	if err != nil {
		return nil, fail("list secrets of", exercise, err)
	}
	var out []swarm.Secret
	for _, s := range res.Items {
		if s.Spec.Labels[cyberrange.LabelExercise] == exercise && (owner == "" || s.Spec.Labels[labelOwner] == owner) {
			out = append(out, s)
		}
	}
	return out, nil
}

// ensureEdge makes c's edge network if it is missing.
func (d *Driver) ensureEdge(ctx context.Context, c cyberrange.Container) error {
	name := edgeName(c.Name)
	got, found, err := d.inspectNetwork(ctx, name)
	if err != nil {
		return err
	}
	if found {
		if got.Labels[labelEdge] != c.Name || got.Labels[cyberrange.LabelExercise] != c.Labels[cyberrange.LabelExercise] {
			return fmt.Errorf("swarm: network %s: %w: it exists and is not service %s's edge", name, cyberrange.ErrInvalid, c.Name)
		}
		return nil
	}
	cctx, cancel := d.call(ctx)
	defer cancel()
	if _, err := d.e.NetworkCreate(cctx, name, edgeOptions(c, d.encrypt)); err != nil {
		return fail("create network", name, err)
	}
	return nil
}

// Remove removes the service and waits, up to Options.RemoveWait, for
// its tasks to go (so that its networks can be removed next), then
// removes its secrets and edge network; a missing service is not an
// error, and what it left (secrets, edge network) is removed all the
// same. It refuses a service without an exercise label.
func (d *Driver) Remove(ctx context.Context, name string) error {
	return d.remove(ctx, name)
}

func (d *Driver) remove(ctx context.Context, name string) error {
	got, found, err := d.inspectService(ctx, name)
	if err != nil {
		return err
	}
	ex := ""
	if found {
		ex = got.Spec.Labels[cyberrange.LabelExercise]
		if ex == "" {
			return fmt.Errorf("swarm: remove %s: %w: it has no %s label", name, cyberrange.ErrInvalid, cyberrange.LabelExercise)
		}
		cctx, cancel := d.call(ctx)
		_, err := d.e.ServiceRemove(cctx, got.ID, client.ServiceRemoveOptions{})
		cancel()
		if err != nil && !cerrdefs.IsNotFound(err) {
			return fail("remove service", name, err)
		}
		if err := d.awaitTasksGone(ctx, name, got.ID); err != nil {
			return err
		}
	}
	return d.removeLeftovers(ctx, name, ex)
}

// awaitTasksGone waits until the removed service id, named name, has no
// task left. The tasks are asked for by name (a task's name starts with
// its service's and a dot): a filter by service would fail, the engine
// resolving the service, gone, first. Should the engine match no name,
// the wait ends at once and RemoveNetwork's own wait takes over.
func (d *Driver) awaitTasksGone(ctx context.Context, name, id string) error {
	deadline := d.now().Add(d.removeWait)
	for {
		cctx, cancel := d.call(ctx)
		res, err := d.e.TaskList(cctx, client.TaskListOptions{Filters: client.Filters{}.Add("name", name+".")})
		cancel()
		if err != nil {
			return fail("list tasks of", name, err)
		}
		left := 0
		for _, t := range res.Items {
			if t.ServiceID == id {
				left++
			}
		}
		if left == 0 {
			return nil
		}
		if !d.now().Before(deadline) {
			return fmt.Errorf("swarm: remove %s: %d tasks still there after %v", name, left, d.removeWait)
		}
		if err := sleep(ctx, d.poll); err != nil {
			return fmt.Errorf("swarm: remove %s: %w", name, err)
		}
	}
}

// removeLeftovers removes the secrets and the edge network of service
// name, gone. exercise is its exercise, "" when the service was missing
// and its exercise is unknown: then the secrets are found by owner alone.
func (d *Driver) removeLeftovers(ctx context.Context, name, exercise string) error {
	f := client.Filters{}.Add("label", labelOwner+"="+name)
	cctx, cancel := d.call(ctx)
	res, err := d.e.SecretList(cctx, client.SecretListOptions{Filters: f})
	cancel()
	if err != nil {
		return fail("list secrets of", name, err)
	}
	var errs []error
	for _, s := range res.Items {
		l := s.Spec.Labels
		if l[labelOwner] != name || l[cyberrange.LabelExercise] == "" || (exercise != "" && l[cyberrange.LabelExercise] != exercise) {
			continue
		}
		if err := d.removeSecret(ctx, s); err != nil {
			errs = append(errs, err)
		}
	}
	edge := edgeName(name)
	got, found, err := d.inspectNetwork(ctx, edge)
	switch {
	case err != nil:
		errs = append(errs, err)
	case found && got.Labels[labelEdge] == name:
		errs = append(errs, d.removeNetworkID(ctx, edge, got.ID))
	}
	return errors.Join(errs...)
}

func (d *Driver) removeSecret(ctx context.Context, s swarm.Secret) error {
	cctx, cancel := d.call(ctx)
	defer cancel()
	_, err := d.e.SecretRemove(cctx, s.ID, client.SecretRemoveOptions{})
	if err != nil && !cerrdefs.IsNotFound(err) {
		return fail("remove secret", s.Spec.Name, err)
	}
	return nil
}

// RemoveVolumes is where Down, once the exercise's services and networks
// are gone, sweeps what belongs to no service: the exercise's secrets a
// removal interrupted left behind. Volumes themselves live on the nodes
// that ran the tasks, out of a manager's reach; they are not removed
// yet (see the package doc).
func (d *Driver) RemoveVolumes(ctx context.Context, exercise string) error {
	if exercise == "" {
		return fmt.Errorf("swarm: remove secrets: %w: no exercise", cyberrange.ErrInvalid)
	}
	secrets, err := d.secretsOwnedBy(ctx, exercise, "")
	if err != nil {
		return err
	}
	var errs []error
	for _, s := range secrets {
		err := d.removeSecret(ctx, s)
		if err != nil && cerrdefs.IsConflict(err) {
			err = fmt.Errorf("swarm: remove secret %s: %w: %w", s.Spec.Name, cyberrange.ErrConflict, err)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
