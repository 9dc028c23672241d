package docker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	cyberrange "github.com/cyrange/cyrange/range"
	"github.com/cyrange/cyrange/range/internal/dockerapi"
)

// Name is the driver's name, as cyberrange.Plan.Driver spells it.
const Name = "docker"

// Defaults of Options.
const (
	DefaultCallTimeout  = 30 * time.Second
	DefaultBuildTimeout = 15 * time.Minute
	DefaultExecTimeout  = time.Minute
	defaultParallel     = 8
)

// Options configure a Driver. Every field may be left zero.
type Options struct {
	Logger *slog.Logger
	Now    func() time.Time
	// CallTimeout bounds each Engine API call (DefaultCallTimeout when
	// zero). A stream (Logs, Events) is bounded only until it opens.
	CallTimeout time.Duration
	// BuildTimeout bounds an image build or import (DefaultBuildTimeout).
	BuildTimeout time.Duration
	// ExecTimeout bounds an Exec, the command's run included
	// (DefaultExecTimeout when zero); each of its API calls is bounded
	// by CallTimeout too.
	ExecTimeout time.Duration
	// Host is the engine's address (unix:///var/run/docker.sock,
	// tcp://...); empty means DOCKER_HOST or the default socket.
	Host string
	// IngressSubnet is the subnet of the ingress networks; empty lets the
	// engine choose one from its pools.
	IngressSubnet netip.Prefix
	// Parallel bounds the inspections List makes at once (8 when zero).
	Parallel int
	// BuildOutput receives the engine's output of image builds and
	// imports; nil drops it.
	BuildOutput io.Writer
	// ProbeTimeout bounds how long WaitReady's probe waits for a
	// container's ports to listen (DefaultProbeTimeout when zero); a
	// shorter deadline of WaitReady's context shortens it.
	ProbeTimeout time.Duration
}

// DefaultProbeTimeout is Options.ProbeTimeout's default.
const DefaultProbeTimeout = 30 * time.Second

// Driver runs plans on a Docker engine. It is safe for concurrent use.
type Driver struct {
	e             engine
	log           *slog.Logger
	now           func() time.Time
	timeout       time.Duration
	buildTimeout  time.Duration
	execTimeout   time.Duration
	ingressSubnet netip.Prefix
	parallel      int
	out           io.Writer
	apiVersion    string
	probeTimeout  time.Duration

	// ingressMu serialises making ingress networks: the engine accepts
	// two networks of one name, and an ingress network has no explicit
	// subnet that would make the second one fail. ingress remembers the
	// exercises whose ingress network is known to exist, so that starting
	// gateways in parallel does not queue on the mutex.
	ingressMu sync.Mutex
	ingress   map[string]bool
}

var (
	_ cyberrange.Driver        = (*Driver)(nil)
	_ cyberrange.VolumeRemover = (*Driver)(nil)
)

// New connects to the engine, negotiates the API version and checks that
// the engine answers. It returns an error wrapping
// cyberrange.ErrUnavailable when no engine is reachable or when it speaks
// an API older than the client supports.
func New(ctx context.Context, o Options) (*Driver, error) {
	d := newDriver(nil, o)
	c, ping, err := dockerapi.Connect(ctx, o.Host, d.timeout)
	if err != nil {
		return nil, fmt.Errorf("docker: %w", err)
	}
	d.e = c
	d.apiVersion = c.ClientVersion()
	d.log.Debug("docker engine", "host", c.DaemonHost(), "engine_api", ping.APIVersion, "api", d.apiVersion)
	return d, nil
}

// newDriver wraps an engine; tests give it a fake.
func newDriver(e engine, o Options) *Driver {
	d := &Driver{e: e, log: o.Logger, now: o.Now, timeout: o.CallTimeout, buildTimeout: o.BuildTimeout, execTimeout: o.ExecTimeout,
		ingressSubnet: o.IngressSubnet, parallel: o.Parallel, out: o.BuildOutput, ingress: map[string]bool{},
		probeTimeout: o.ProbeTimeout}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	if d.now == nil {
		d.now = time.Now
	}
	if d.timeout <= 0 {
		d.timeout = DefaultCallTimeout
	}
	if d.buildTimeout <= 0 {
		d.buildTimeout = DefaultBuildTimeout
	}
	if d.execTimeout <= 0 {
		d.execTimeout = DefaultExecTimeout
	}
	if d.parallel <= 0 {
		d.parallel = defaultParallel
	}
	if d.probeTimeout <= 0 {
		d.probeTimeout = DefaultProbeTimeout
	}
	if d.out == nil {
		d.out = io.Discard
	}
	d.log = d.log.With("driver", Name)
	return d
}

// Close releases the connection to the engine.
func (d *Driver) Close() error { return d.e.Close() }

// Name is "docker".
func (d *Driver) Name() string { return Name }

// APIVersion is the Engine API version the driver speaks, as negotiated
// with the engine.
func (d *Driver) APIVersion() string { return d.apiVersion }

// call bounds one API call.
func (d *Driver) call(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, d.timeout)
}

// fail wraps an engine error with what was being done and the range's
// sentinel for it, if any.
func fail(op, name string, err error) error { return dockerapi.Fail("docker", op, name, err) }

// List returns the exercise's networks and containers (not its ingress
// network, which is the driver's own).
func (d *Driver) List(ctx context.Context, exercise string) (cyberrange.Actual, error) {
	var a cyberrange.Actual
	if exercise == "" {
		return a, fmt.Errorf("docker: list: %w: no exercise", cyberrange.ErrInvalid)
	}
	label := cyberrange.LabelExercise + "=" + exercise
	cctx, cancel := d.call(ctx)
	nets, err := d.e.NetworkList(cctx, client.NetworkListOptions{Filters: client.Filters{}.Add("label", label)})
	cancel()
	if err != nil {
		return a, fail("list networks of", exercise, err)
	}
	var ingress *cyberrange.NetworkStatus
	for _, n := range nets.Items {
		if n.Labels[cyberrange.LabelExercise] != exercise {
			continue
		}
		ns := cyberrange.NetworkStatus{Name: n.Name, Labels: n.Labels}
		if len(n.IPAM.Config) > 0 {
			ns.Subnet = n.IPAM.Config[0].Subnet
		}
		if n.Labels[labelIngress] != "" {
			ingress = &ns
			continue
		}
		a.Networks = append(a.Networks, ns)
	}

	cctx, cancel = d.call(ctx)
	cons, err := d.e.ContainerList(cctx, client.ContainerListOptions{All: true, Filters: client.Filters{}.Add("label", label)})
	cancel()
	if err != nil {
		return a, fail("list containers of", exercise, err)
	}
	// The list lacks start times and exit codes: inspect each, a few at a
	// time.
	type inspected struct {
		st        cyberrange.ContainerStatus
		onIngress bool
	}
	statuses := make([]*inspected, len(cons.Items))
	errs := make([]error, len(cons.Items))
	sem := make(chan struct{}, d.parallel)
	var wg sync.WaitGroup
	for i, s := range cons.Items {
		if s.Labels[cyberrange.LabelExercise] != exercise {
			continue
		}
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			info, found, err := d.inspect(ctx, s.ID)
			if err != nil {
				errs[i] = err
				return
			}
			if found { // else removed since it was listed
				statuses[i] = &inspected{st: containerStatus(info),
					onIngress: info.NetworkSettings != nil && info.NetworkSettings.Networks[ingressName(exercise)] != nil}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return a, err
	}
	for _, in := range statuses {
		if in != nil {
			a.Containers = append(a.Containers, in.st)
		}
	}
	// The ingress network is the driver's business while a container uses
	// it; left alone (a removal interrupted), it is a leftover like any
	// other, for Down to remove.
	if ingress != nil && !slices.ContainsFunc(statuses, func(in *inspected) bool { return in != nil && in.onIngress }) {
		a.Networks = append(a.Networks, *ingress)
	}
	slices.SortFunc(a.Networks, func(x, y cyberrange.NetworkStatus) int { return strings.Compare(x.Name, y.Name) })
	slices.SortFunc(a.Containers, func(x, y cyberrange.ContainerStatus) int { return strings.Compare(x.Name, y.Name) })
	return a, nil
}

// containerStatus turns an inspection into the range's view of it.
func containerStatus(info container.InspectResponse) cyberrange.ContainerStatus {
	st := cyberrange.ContainerStatus{Name: trimSlash(info.Name), State: cyberrange.StateExited, Restarts: info.RestartCount}
	if info.Config != nil {
		st.Labels = maps.Clone(info.Config.Labels)
		delete(st.Labels, labelPorts)
		st.Kind = cyberrange.Kind(info.Config.Labels[cyberrange.LabelKind])
	}
	if s := info.State; s != nil {
		st.State = state(string(s.Status))
		st.ExitCode = s.ExitCode
		if t, err := time.Parse(time.RFC3339Nano, s.StartedAt); err == nil && t.Year() > 1 {
			st.Started = t
		}
	}
	if info.NetworkSettings != nil {
		st.Networks = make([]string, 0, len(info.NetworkSettings.Networks))
		for name := range info.NetworkSettings.Networks {
			st.Networks = append(st.Networks, name)
		}
		sort.Strings(st.Networks)
	}
	if st.State == cyberrange.StateRunning && info.Config != nil && info.NetworkSettings != nil {
		st.Ports = reachable(info.Config.Labels, info.NetworkSettings)
	}
	return st
}

// reachable maps a running container's named ports to where the host
// reaches them: the published address, or, for a checker's ports, its
// address on the ingress network.
func reachable(labels map[string]string, ns *container.NetworkSettings) map[string]string {
	names := dockerapi.ParsePorts(labels[labelPorts])
	if len(names) == 0 {
		return nil
	}
	out := map[string]string{}
	for port, bindings := range ns.Ports {
		name, ok := names[int(port.Num())]
		if !ok || port.Proto() != network.TCP {
			continue
		}
		for _, b := range bindings {
			hp, err := strconv.ParseUint(b.HostPort, 10, 16)
			if err != nil || hp == 0 {
				continue
			}
			host := b.HostIP
			if !host.IsValid() || host.IsUnspecified() {
				host = netip.AddrFrom4([4]byte{127, 0, 0, 1})
			}
			out[name] = netip.AddrPortFrom(host, uint16(hp)).String()
			break
		}
	}
	if labels[cyberrange.LabelKind] == string(cyberrange.KindChecker) && labels[cyberrange.LabelExercise] != "" {
		if ep := ns.Networks[ingressName(labels[cyberrange.LabelExercise])]; ep != nil && ep.IPAddress.IsValid() {
			for port, name := range names {
				if out[name] == "" {
					out[name] = netip.AddrPortFrom(ep.IPAddress.Unmap(), uint16(port)).String()
				}
			}
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func trimSlash(name string) string {
	if len(name) > 0 && name[0] == '/' {
		return name[1:]
	}
	return name
}

// inspect returns a container's inspection, or found false when there is
// no such container.
func (d *Driver) inspect(ctx context.Context, name string) (container.InspectResponse, bool, error) {
	cctx, cancel := d.call(ctx)
	defer cancel()
	res, err := d.e.ContainerInspect(cctx, name, client.ContainerInspectOptions{})
	if cerrdefs.IsNotFound(err) {
		return container.InspectResponse{}, false, nil
	}
	if err != nil {
		return container.InspectResponse{}, false, fail("inspect", name, err)
	}
	return res.Container, true, nil
}

func (d *Driver) inspectNetwork(ctx context.Context, name string) (network.Inspect, bool, error) {
	cctx, cancel := d.call(ctx)
	defer cancel()
	res, err := d.e.NetworkInspect(cctx, name, client.NetworkInspectOptions{})
	if cerrdefs.IsNotFound(err) {
		return network.Inspect{}, false, nil
	}
	if err != nil {
		return network.Inspect{}, false, fail("inspect network", name, err)
	}
	return res.Network, true, nil
}

// EnsureNetwork makes the network if it is missing. A network of that
// name that exists with another subnet, another exercise's label or
// without the isolation the driver gives its networks is an error
// wrapping cyberrange.ErrInvalid (take the range down first).
func (d *Driver) EnsureNetwork(ctx context.Context, n cyberrange.Network) error {
	if err := validNetwork(n); err != nil {
		return fmt.Errorf("docker: network: %w", err)
	}
	ok, err := d.hasNetwork(ctx, n)
	if err != nil || ok {
		return err
	}
	cctx, cancel := d.call(ctx)
	_, cerr := d.e.NetworkCreate(cctx, n.Name, networkOptions(n))
	cancel()
	if cerr == nil {
		d.log.Debug("network created", "name", n.Name, "subnet", n.Subnet)
		return nil
	}
	// Made meanwhile by someone else (the engine then refuses the
	// overlapping subnet), or a real failure.
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
		return false, fmt.Errorf("docker: network %s: %w", n.Name, err)
	}
	if !got.Internal || got.Options[optInhibitIPv4] != "true" {
		return false, fmt.Errorf("docker: network %s: %w: it exists without the range's isolation (internal, no host address)", n.Name, cyberrange.ErrInvalid)
	}
	return true, nil
}

// RemoveNetwork removes one of an exercise's networks; a missing one is
// not an error. It refuses a network without an exercise label, which is
// not the range's. The exercise's ingress network is removed only when
// no container uses it any more.
func (d *Driver) RemoveNetwork(ctx context.Context, name string) error {
	got, found, err := d.inspectNetwork(ctx, name)
	if err != nil || !found {
		return err
	}
	ex := got.Labels[cyberrange.LabelExercise]
	if ex == "" {
		return fmt.Errorf("docker: remove network %s: %w: it has no %s label", name, cyberrange.ErrInvalid, cyberrange.LabelExercise)
	}
	if got.Labels[labelIngress] != "" {
		// Through the same lock as dropIngressIfUnused: Down removes
		// networks in parallel, and a removal of another network can be
		// dropping this one at the same moment.
		d.ingressMu.Lock()
		defer d.ingressMu.Unlock()
		return d.removeIngressLocked(ctx, ex)
	}
	cctx, cancel := d.call(ctx)
	_, err = d.e.NetworkRemove(cctx, got.ID, client.NetworkRemoveOptions{})
	cancel()
	if err != nil && !cerrdefs.IsNotFound(err) {
		return fail("remove network", name, err)
	}
	if got.Labels[labelIngress] == "" {
		d.dropIngressIfUnused(ctx, ex)
	}
	return nil
}

// ensureIngress makes the exercise's ingress network if it is missing.
func (d *Driver) ensureIngress(ctx context.Context, exercise string) error {
	d.ingressMu.Lock()
	defer d.ingressMu.Unlock()
	if d.ingress[exercise] {
		return nil
	}
	name := ingressName(exercise)
	got, found, err := d.inspectNetwork(ctx, name)
	if err != nil {
		return err
	}
	if found {
		if got.Labels[cyberrange.LabelExercise] != exercise || got.Labels[labelIngress] == "" {
			return fmt.Errorf("docker: network %s: %w: it exists and is not exercise %q's ingress", name, cyberrange.ErrInvalid, exercise)
		}
		d.ingress[exercise] = true
		return nil
	}
	cctx, cancel := d.call(ctx)
	defer cancel()
	if _, err := d.e.NetworkCreate(cctx, name, ingressOptions(exercise, d.ingressSubnet)); err != nil {
		return fail("create network", name, err)
	}
	d.ingress[exercise] = true
	d.log.Debug("ingress network created", "name", name)
	return nil
}

// forgetIngress drops what ensureIngress remembers of an exercise.
func (d *Driver) forgetIngress(exercise string) {
	d.ingressMu.Lock()
	defer d.ingressMu.Unlock()
	delete(d.ingress, exercise)
}

// Retries of an ingress network's removal: the engine lets endpoints of
// containers just removed linger for a moment.
const (
	dropTries = 5
	dropPause = 100 * time.Millisecond
)

// dropIngressIfUnused removes the exercise's ingress network once no
// container is attached to it. Failing here only leaves a network behind,
// which List then reports for Down to remove, so it is logged, not
// returned.
//
// The removals are serialised: Down removes networks in parallel, each
// removal of an ingress (here, or RemoveNetwork of the ingress itself)
// takes ingressMu, and the engine (20.10) can lose count of a
// network's endpoints when deletions of one network race, leaving a
// network it will not remove until it restarts.
func (d *Driver) dropIngressIfUnused(ctx context.Context, exercise string) {
	d.ingressMu.Lock()
	defer d.ingressMu.Unlock()
	if err := d.removeIngressLocked(ctx, exercise); err != nil {
		d.log.Warn("ingress network not removed", "name", ingressName(exercise), "err", err)
	}
}

// removeIngressLocked removes the exercise's ingress network unless a
// container uses it, retrying while the engine still counts the endpoints
// of containers just removed; d.ingressMu is held.
func (d *Driver) removeIngressLocked(ctx context.Context, exercise string) error {
	delete(d.ingress, exercise)
	name := ingressName(exercise)
	for try := 1; ; try++ {
		got, found, err := d.inspectNetwork(ctx, name)
		if err != nil || !found || len(got.Containers) > 0 || got.Labels[labelIngress] == "" {
			return err
		}
		cctx, cancel := d.call(ctx)
		_, err = d.e.NetworkRemove(cctx, got.ID, client.NetworkRemoveOptions{})
		cancel()
		if err == nil || cerrdefs.IsNotFound(err) {
			return nil
		}
		if try == dropTries {
			return fail("remove network", name, err)
		}
		t := time.NewTimer(dropPause)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// Start creates the container if it is missing, replaces it if it runs
// another image or plan spec (its cyrange.plan-hash label), connects the
// networks it lacks and starts it unless it runs. A container of that
// name that is not the exercise's is an error wrapping ErrInvalid; a
// missing image one wrapping ErrNotFound.
func (d *Driver) Start(ctx context.Context, c cyberrange.Container) error {
	if err := validContainer(c); err != nil {
		return fmt.Errorf("docker: start: %w", err)
	}
	// Creating first costs nothing more when the container exists (the
	// engine refuses the name) and saves an inspection when it does not,
	// the common case of a bring-up.
	info, created, err := d.create(ctx, c)
	if err != nil {
		return err
	}
	if !created {
		ex := c.Labels[cyberrange.LabelExercise]
		if info.Config == nil || info.Config.Labels[cyberrange.LabelExercise] != ex {
			return fmt.Errorf("docker: start %s: %w: a container of that name exists and is not exercise %q's", c.Name, cyberrange.ErrInvalid, ex)
		}
		if differs(info, c) {
			d.log.Info("container changed, replacing it", "name", c.Name)
			if err := d.remove(ctx, c.Name); err != nil {
				return err
			}
			if info, created, err = d.create(ctx, c); err != nil {
				return err
			}
			if !created {
				return fmt.Errorf("docker: start %s: made again by someone else while being replaced", c.Name)
			}
		}
	}
	if info.State != nil && info.State.Running && !info.State.Paused {
		return nil
	}
	if err := d.attach(ctx, c, info); err != nil {
		return err
	}
	cctx, cancel := d.call(ctx)
	defer cancel()
	if info.State != nil && info.State.Paused {
		if _, err := d.e.ContainerUnpause(cctx, c.Name, client.ContainerUnpauseOptions{}); err != nil {
			return fail("unpause", c.Name, err)
		}
		return nil
	}
	if _, err := d.e.ContainerStart(cctx, c.Name, client.ContainerStartOptions{}); err != nil {
		return fail("start", c.Name, err)
	}
	return nil
}

// differs reports whether an existing container is not the one planned.
func differs(info container.InspectResponse, c cyberrange.Container) bool {
	if info.Config == nil || info.Config.Image != c.Image {
		return true
	}
	want := c.Labels[cyberrange.LabelPlanHash]
	return want != "" && info.Config.Labels[cyberrange.LabelPlanHash] != want
}

// create makes the container on its first network. When a container of
// that name exists already, it returns its inspection and created false;
// else what the engine made: created, on its first network.
func (d *Driver) create(ctx context.Context, c cyberrange.Container) (container.InspectResponse, bool, error) {
	if err := d.ensureVolumes(ctx, c); err != nil {
		return container.InspectResponse{}, false, err
	}
	o := createOptions(c)
	cctx, cancel := d.call(ctx)
	res, err := d.e.ContainerCreate(cctx, o)
	cancel()
	switch {
	case err == nil:
		first := c.Networks[0]
		return container.InspectResponse{ID: res.ID, Name: "/" + c.Name, Config: o.Config, HostConfig: o.HostConfig,
			State: &container.State{Status: container.StateCreated},
			NetworkSettings: &container.NetworkSettings{Networks: map[string]*network.EndpointSettings{
				first.Network: endpoint(first.Address),
			}}}, true, nil
	case cerrdefs.IsConflict(err):
		info, found, err := d.inspect(ctx, c.Name)
		if err != nil {
			return info, false, err
		}
		if !found { // removed meanwhile: try once more
			return d.create(ctx, c)
		}
		return info, false, nil
	case cerrdefs.IsNotFound(err):
		return container.InspectResponse{}, false, fmt.Errorf("docker: create %s: %w: image %s or network %s (build the image with: cyrange images build): %w",
			c.Name, cyberrange.ErrNotFound, c.Image, c.Networks[0].Network, err)
	default:
		return container.InspectResponse{}, false, fail("create", c.Name, err)
	}
}

// ensureVolumes makes the volumes c mounts that are missing. The engine
// would make a missing one by itself, but without the labels by which
// RemoveVolumes finds it. Making an existing volume returns it as it is,
// so a volume of another exercise (or another instance of this one) is
// caught by its labels.
func (d *Driver) ensureVolumes(ctx context.Context, c cyberrange.Container) error {
	for _, m := range c.Mounts {
		o := volumeOptions(m.Volume, c)
		cctx, cancel := d.call(ctx)
		res, err := d.e.VolumeCreate(cctx, o)
		cancel()
		if err != nil {
			return fail("create volume", m.Volume, err)
		}
		for _, k := range []string{cyberrange.LabelExercise, cyberrange.LabelInstance} {
			if got, want := res.Volume.Labels[k], o.Labels[k]; got != want {
				return fmt.Errorf("docker: volume %s: %w: it exists with %s=%q, container %s wants %q", m.Volume, cyberrange.ErrInvalid, k, got, c.Name, want)
			}
		}
	}
	return nil
}

// RemoveVolumes removes the exercise's volumes (those labelled with it),
// which outlive the containers that mount them. A volume still in use is
// an error wrapping cyberrange.ErrConflict: remove the containers first.
func (d *Driver) RemoveVolumes(ctx context.Context, exercise string) error {
	if exercise == "" {
		return fmt.Errorf("docker: remove volumes: %w: no exercise", cyberrange.ErrInvalid)
	}
	cctx, cancel := d.call(ctx)
	vols, err := d.e.VolumeList(cctx, client.VolumeListOptions{Filters: client.Filters{}.Add("label", cyberrange.LabelExercise+"="+exercise)})
	cancel()
	if err != nil {
		return fail("list volumes of", exercise, err)
	}
	var errs []error
	for _, v := range vols.Items {
		if v.Labels[cyberrange.LabelExercise] != exercise {
			continue
		}
		cctx, cancel := d.call(ctx)
		_, err := d.e.VolumeRemove(cctx, v.Name, client.VolumeRemoveOptions{})
		cancel()
		switch {
		case err == nil:
			d.log.Debug("volume removed", "name", v.Name)
		case cerrdefs.IsNotFound(err):
		case cerrdefs.IsConflict(err):
			errs = append(errs, fmt.Errorf("docker: remove volume %s: %w: %w", v.Name, cyberrange.ErrConflict, err))
		default:
			errs = append(errs, fail("remove volume", v.Name, err))
		}
	}
	return errors.Join(errs...)
}

// connectParallel bounds the connections of one container made at once.
const connectParallel = 4

// attach connects a container that is not running to every network it
// lacks, at its planned address, and to the ingress network if the host
// must reach it. Before the container starts, a connection only records
// the endpoint, so they go a few at a time.
func (d *Driver) attach(ctx context.Context, c cyberrange.Container, info container.InspectResponse) error {
	have := map[string]bool{}
	if info.NetworkSettings != nil {
		for name := range info.NetworkSettings.Networks {
			have[name] = true
		}
	}
	var missing []cyberrange.Attachment
	for _, a := range c.Networks {
		if !have[a.Network] {
			missing = append(missing, a)
		}
	}
	errs := make([]error, len(missing))
	sem := make(chan struct{}, connectParallel)
	var wg sync.WaitGroup
	for i, a := range missing {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			cctx, cancel := d.call(ctx)
			defer cancel()
			_, err := d.e.NetworkConnect(cctx, a.Network, client.NetworkConnectOptions{Container: c.Name, EndpointConfig: endpoint(a.Address)})
			if err != nil {
				errs[i] = fail("connect "+c.Name+" to", a.Network, err)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if !needsIngress(c) {
		return nil
	}
	ex := c.Labels[cyberrange.LabelExercise]
	ingress := ingressName(ex)
	if have[ingress] {
		return nil
	}
	var err error
	for range 2 { // the ingress network may have gone since it was known
		if err = d.ensureIngress(ctx, ex); err != nil {
			return err
		}
		cctx, cancel := d.call(ctx)
		_, err = d.e.NetworkConnect(cctx, ingress, client.NetworkConnectOptions{Container: c.Name, EndpointConfig: &network.EndpointSettings{}})
		cancel()
		if err == nil || !cerrdefs.IsNotFound(err) {
			break
		}
		d.forgetIngress(ex)
	}
	if err != nil {
		return fail("connect "+c.Name+" to", ingress, err)
	}
	return nil
}

// Remove removes the container, killing it if it runs; a missing one is
// not an error. It refuses a container without an exercise label, which
// is not the range's.
func (d *Driver) Remove(ctx context.Context, name string) error {
	return d.remove(ctx, name)
}

func (d *Driver) remove(ctx context.Context, name string) error {
	info, found, err := d.inspect(ctx, name)
	if err != nil || !found {
		return err
	}
	if info.Config == nil || info.Config.Labels[cyberrange.LabelExercise] == "" {
		return fmt.Errorf("docker: remove %s: %w: it has no %s label", name, cyberrange.ErrInvalid, cyberrange.LabelExercise)
	}
	cctx, cancel := d.call(ctx)
	defer cancel()
	_, err = d.e.ContainerRemove(cctx, info.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
	if err != nil && !cerrdefs.IsNotFound(err) {
		return fail("remove", name, err)
	}
	return nil
}

// Kill makes a container die as a crash would (SIGKILL), leaving it
// there, exited. Killing one that does not run is not an error; a
// missing one is ErrNotFound.
func (d *Driver) Kill(ctx context.Context, name string) error {
	cctx, cancel := d.call(ctx)
	defer cancel()
	_, err := d.e.ContainerKill(cctx, name, client.ContainerKillOptions{Signal: "KILL"})
	if err != nil && !cerrdefs.IsConflict(err) {
		return fail("kill", name, err)
	}
	return nil
}

// imageBinary is where the range's own image keeps cyrange (Dockerfile):
// an exec names the program it runs, the image's entry point does not
// apply. Its probe role tells whether a container listens.
const imageBinary = "/cyrange"

// WaitReady waits until something listens on each of c's ports inside
// it. Only the container itself sees its ports on an internal network,
// so the image's own probe runs there (`cyrange probe ready`, as an
// exec); an image without it cannot tell, which is not an error. A
// container that exits meanwhile ends the wait at once, with its last
// line of output.
func (d *Driver) WaitReady(ctx context.Context, c cyberrange.Container) error {
	if len(c.Ports) == 0 {
		return nil
	}
	// One that died at once (a target refusing its options) has no
	// process to run the probe in: say why it died instead.
	if err := d.exited(ctx, c.Name); err != nil {
		return err
	}
	// The probe gives up a little before ctx does, so that its answer,
	// not ctx's end, says what is missing.
	timeout := d.probeTimeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(dl)*3/4)
	}
	cmd := []string{imageBinary, "probe", "ready", "--timeout", timeout.Round(time.Millisecond).String()}
	for _, p := range c.Ports {
		cmd = append(cmd, "127.0.0.1:"+strconv.Itoa(p.Number))
	}
	// Every failure of the probe below may be its container dying under
	// it: then that is the answer.
	probeFailed := func(err error) error {
		if xerr := d.exited(ctx, c.Name); xerr != nil {
			return xerr
		}
		return err
	}
	cctx, cancel := d.call(ctx)
	ex, err := d.e.ExecCreate(cctx, c.Name, client.ExecCreateOptions{Cmd: cmd})
	cancel()
	if err != nil {
		return probeFailed(fail("probe", c.Name, err))
	}
	cctx, cancel = d.call(ctx)
	_, err = d.e.ExecStart(cctx, ex.ID, client.ExecStartOptions{Detach: true})
	cancel()
	if err != nil {
		// First whether it died: the runtime's complaint about a
		// vanished container can read like a missing probe's.
		if xerr := d.exited(ctx, c.Name); xerr != nil {
			return xerr
		}
		if noProbe(err) {
			d.log.Debug("no probe in the image: not waiting for it to listen", "name", c.Name, "image", c.Image)
			return nil
		}
		return fail("probe", c.Name, err)
	}
	for polls := 1; ; polls++ {
		cctx, cancel := d.call(ctx)
		st, err := d.e.ExecInspect(cctx, ex.ID, client.ExecInspectOptions{})
		cancel()
		if err != nil {
			return probeFailed(fail("probe", c.Name, err))
		}
		if !st.Running {
			switch st.ExitCode {
			case 0:
				return nil
			case 126, 127: // the runtime found no probe to run
				return probeFailed(nil)
			}
			if st.ExitCode > 128 {
				// Killed by a signal: its container is going down, and
				// the engine may not say so yet. Its last line is the
				// answer, once the engine catches up.
				if err := d.awaitExit(ctx, c.Name); err != nil {
					return err
				}
				return fmt.Errorf("docker: %s: its readiness probe was killed (exit code %d) while the container still runs",
					c.Name, st.ExitCode)
			}
			return probeFailed(fmt.Errorf("docker: %s: nothing listens on some of its ports after %s (probe exit code %d)",
				c.Name, timeout.Round(time.Millisecond), st.ExitCode))
		}
		// The probe dies with its container, but an engine may go on
		// reporting the exec of a dead container as running: the
		// container itself is looked at too, less often.
		if polls%exitedEvery == 0 {
			if err := d.exited(ctx, c.Name); err != nil {
				return err
			}
		}
		t := time.NewTimer(probePoll)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("docker: %s: waiting for it to listen: %w", c.Name, ctx.Err())
		case <-t.C:
		}
	}
}

// awaitExit gives the engine up to exitSettle to report a dying
// container as exited, and is that report (exited's error), or nil when
// it still runs after all.
func (d *Driver) awaitExit(ctx context.Context, name string) error {
	t := time.NewTicker(probePoll)
	defer t.Stop()
	deadline := time.NewTimer(exitSettle)
	defer deadline.Stop()
	for {
		if err := d.exited(ctx, name); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-deadline.C:
			return nil
		case <-t.C:
		}
	}
}

// exitSettle is how long a container whose probe was killed may take to
// be reported as exited.
const exitSettle = 10 * time.Second

// WaitReady looks at its probe every probePoll, and at the container
// every exitedEvery looks.
const (
	probePoll   = 50 * time.Millisecond
	exitedEvery = 10
)

// exited is an error naming the container and its last line of output
// when it no longer runs, and nil when it runs or the engine cannot say
// (the caller's own error then stands).
func (d *Driver) exited(ctx context.Context, name string) error {
	info, found, err := d.inspect(ctx, name)
	switch {
	case err != nil:
		return nil
	case !found:
		return fmt.Errorf("docker: %s: removed while starting: %w", name, cyberrange.ErrNotFound)
	case info.State == nil || info.State.Running:
		return nil
	}
	return fmt.Errorf("docker: %s exited (code %d) before it listened: %s", name, info.State.ExitCode, d.lastLine(ctx, name))
}

// lastLines is how much of a container's log lastLine reads: a few lines
// from its end, and no more than logTail bytes of them.
const (
	lastLines = "8"
	logTail   = 64 << 10
)

// lastLine is the last line a container wrote, on stdout or stderr.
func (d *Driver) lastLine(ctx context.Context, name string) string {
	cctx, cancel := d.call(ctx)
	defer cancel()
	rc, err := d.e.ContainerLogs(cctx, name, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Tail: lastLines})
	if err != nil {
		d.log.Debug("no logs of a container that exited", "name", name, "err", err)
		return cyberrange.LastLine(nil)
	}
	defer rc.Close()
	var out bytes.Buffer
	// What was read before an error is still the best there is.
	stdcopy.StdCopy(&out, &out, io.LimitReader(rc, logTail))
	return cyberrange.LastLine(out.Bytes())
}

// noProbe reports whether starting the probe failed because the image has
// no such program.
func noProbe(err error) bool {
	s := err.Error()
	return strings.Contains(s, "no such file or directory") || strings.Contains(s, "executable file not found")
}
