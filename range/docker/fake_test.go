package docker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/volume"
	"github.com/moby/moby/client"
	"go.uber.org/goleak"

	cyberrange "github.com/cyrange/cyrange/range"
	"github.com/cyrange/cyrange/range/internal/dockerapi/dockerapitest"
)

// fakeEngine keeps containers and networks in memory, enough for the
// driver's logic; what a test does not override panics (nil embedded
// interface), so a call nobody expected shows.
type fakeEngine struct {
	engine
	dockerapitest.Calls
	mu     sync.Mutex
	cons   map[string]*container.InspectResponse
	nets   map[string]*network.Inspect
	vols   map[string]*volume.Volume
	nextID int
	// beforeCreate runs inside ContainerCreate, with the lock held.
	beforeCreate func(client.ContainerCreateOptions)
}

func newFake() *fakeEngine {
	return &fakeEngine{cons: map[string]*container.InspectResponse{}, nets: map[string]*network.Inspect{},
		vols: map[string]*volume.Volume{}}
}

func (f *fakeEngine) Close() error { return nil }

func (f *fakeEngine) NetworkCreate(_ context.Context, name string, o client.NetworkCreateOptions) (client.NetworkCreateResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.Record("NetworkCreate"); err != nil {
		return client.NetworkCreateResult{}, err
	}
	f.nextID++
	n := &network.Inspect{Network: network.Network{Name: name, ID: fmt.Sprintf("net%d", f.nextID), Internal: o.Internal,
		Options: o.Options, Labels: o.Labels, IPAM: *o.IPAM}, Containers: map[string]network.EndpointResource{}}
	f.nets[name] = n
	return client.NetworkCreateResult{ID: n.ID}, nil
}

func (f *fakeEngine) netByName(id string) *network.Inspect {
	for _, n := range f.nets {
		if n.Name == id || n.ID == id {
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
	n := f.netByName(id)
	if n == nil {
		return client.NetworkInspectResult{}, cerrdefs.ErrNotFound.WithMessage("network " + id)
	}
	cp := *n
	cp.Containers = maps.Clone(n.Containers)
	return client.NetworkInspectResult{Network: cp}, nil
}

func (f *fakeEngine) NetworkList(_ context.Context, o client.NetworkListOptions) (client.NetworkListResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out client.NetworkListResult
	for _, n := range f.nets {
		if dockerapitest.MatchLabels(o.Filters, n.Labels) {
			out.Items = append(out.Items, network.Summary{Network: n.Network})
		}
	}
	return out, nil
}

func (f *fakeEngine) NetworkRemove(_ context.Context, id string, _ client.NetworkRemoveOptions) (client.NetworkRemoveResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.Record("NetworkRemove"); err != nil {
		return client.NetworkRemoveResult{}, err
	}
	n := f.netByName(id)
	if n == nil {
		return client.NetworkRemoveResult{}, cerrdefs.ErrNotFound
	}
	if len(n.Containers) > 0 {
		return client.NetworkRemoveResult{}, cerrdefs.ErrPermissionDenied.WithMessage("has active endpoints")
	}
	delete(f.nets, n.Name)
	return client.NetworkRemoveResult{}, nil
}

func (f *fakeEngine) NetworkConnect(_ context.Context, id string, o client.NetworkConnectOptions) (client.NetworkConnectResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.Record("NetworkConnect"); err != nil {
		return client.NetworkConnectResult{}, err
	}
	n := f.netByName(id)
	c := f.cons[o.Container]
	if n == nil || c == nil {
		return client.NetworkConnectResult{}, cerrdefs.ErrNotFound
	}
	f.attachLocked(c, n, o.EndpointConfig)
	return client.NetworkConnectResult{}, nil
}

func (f *fakeEngine) attachLocked(c *container.InspectResponse, n *network.Inspect, ep *network.EndpointSettings) {
	e := &network.EndpointSettings{}
	if ep != nil && ep.IPAMConfig != nil {
		e.IPAddress = ep.IPAMConfig.IPv4Address
	}
	c.NetworkSettings.Networks[n.Name] = e
	n.Containers[c.ID] = network.EndpointResource{Name: c.Name}
}

func (f *fakeEngine) ContainerCreate(_ context.Context, o client.ContainerCreateOptions) (client.ContainerCreateResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.Record("ContainerCreate"); err != nil {
		return client.ContainerCreateResult{}, err
	}
	if f.beforeCreate != nil {
		f.beforeCreate(o)
	}
	if _, ok := f.cons[o.Name]; ok {
		return client.ContainerCreateResult{}, cerrdefs.ErrConflict
	}
	f.nextID++
	c := &container.InspectResponse{ID: fmt.Sprintf("c%d", f.nextID), Name: "/" + o.Name, Config: o.Config, HostConfig: o.HostConfig,
		State:           &container.State{Status: "created"},
		NetworkSettings: &container.NetworkSettings{Networks: map[string]*network.EndpointSettings{}}}
	for name, ep := range o.NetworkingConfig.EndpointsConfig {
		n := f.netByName(name)
		if n == nil {
			return client.ContainerCreateResult{}, cerrdefs.ErrNotFound.WithMessage("network " + name)
		}
		f.attachLocked(c, n, ep)
	}
	f.cons[o.Name] = c
	return client.ContainerCreateResult{ID: c.ID}, nil
}

func (f *fakeEngine) ContainerStart(_ context.Context, id string, _ client.ContainerStartOptions) (client.ContainerStartResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.Record("ContainerStart"); err != nil {
		return client.ContainerStartResult{}, err
	}
	c := f.cons[id]
	if c == nil {
		return client.ContainerStartResult{}, cerrdefs.ErrNotFound
	}
	c.State = &container.State{Status: "running", Running: true, StartedAt: "2026-05-01T10:00:00Z"}
	return client.ContainerStartResult{}, nil
}

func (f *fakeEngine) ContainerInspect(_ context.Context, id string, _ client.ContainerInspectOptions) (client.ContainerInspectResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.Record("ContainerInspect"); err != nil {
		return client.ContainerInspectResult{}, err
	}
	for name, c := range f.cons {
		if name == id || c.ID == id {
			cp := *c
			cp.NetworkSettings = &container.NetworkSettings{Networks: maps.Clone(c.NetworkSettings.Networks), Ports: c.NetworkSettings.Ports}
			st := *c.State
			cp.State = &st
			return client.ContainerInspectResult{Container: cp}, nil
		}
	}
	return client.ContainerInspectResult{}, cerrdefs.ErrNotFound.WithMessage("No such container: " + id)
}

func (f *fakeEngine) ContainerList(_ context.Context, o client.ContainerListOptions) (client.ContainerListResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out client.ContainerListResult
	for _, c := range f.cons {
		if dockerapitest.MatchLabels(o.Filters, c.Config.Labels) {
			out.Items = append(out.Items, container.Summary{ID: c.ID, Names: []string{c.Name}, Labels: c.Config.Labels})
		}
	}
	return out, nil
}

func (f *fakeEngine) ContainerRemove(_ context.Context, id string, o client.ContainerRemoveOptions) (client.ContainerRemoveResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.Record("ContainerRemove"); err != nil {
		return client.ContainerRemoveResult{}, err
	}
	if !o.Force {
		return client.ContainerRemoveResult{}, errors.New("the driver must force")
	}
	for name, c := range f.cons {
		if name == id || c.ID == id {
			for net := range c.NetworkSettings.Networks {
				delete(f.nets[net].Containers, c.ID)
			}
			delete(f.cons, name)
			return client.ContainerRemoveResult{}, nil
		}
	}
	return client.ContainerRemoveResult{}, cerrdefs.ErrNotFound
}

func (f *fakeEngine) ContainerKill(_ context.Context, id string, o client.ContainerKillOptions) (client.ContainerKillResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.cons[id]
	if c == nil {
		return client.ContainerKillResult{}, cerrdefs.ErrNotFound
	}
	if !c.State.Running {
		return client.ContainerKillResult{}, cerrdefs.ErrConflict.WithMessage("is not running")
	}
	c.State = &container.State{Status: "exited", ExitCode: 137}
	return client.ContainerKillResult{}, nil
}

// VolumeCreate returns an existing volume as it is, as the engine does.
func (f *fakeEngine) VolumeCreate(_ context.Context, o client.VolumeCreateOptions) (client.VolumeCreateResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.Record("VolumeCreate"); err != nil {
		return client.VolumeCreateResult{}, err
	}
	v := f.vols[o.Name]
	if v == nil {
		v = &volume.Volume{Name: o.Name, Driver: o.Driver, Labels: maps.Clone(o.Labels)}
		f.vols[o.Name] = v
	}
	return client.VolumeCreateResult{Volume: *v}, nil
}

func (f *fakeEngine) VolumeList(_ context.Context, o client.VolumeListOptions) (client.VolumeListResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out client.VolumeListResult
	for _, v := range f.vols {
		if dockerapitest.MatchLabels(o.Filters, v.Labels) {
			out.Items = append(out.Items, *v)
		}
	}
	return out, nil
}

// VolumeRemove refuses a volume a container mounts, as the engine does.
func (f *fakeEngine) VolumeRemove(_ context.Context, id string, _ client.VolumeRemoveOptions) (client.VolumeRemoveResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.Record("VolumeRemove"); err != nil {
		return client.VolumeRemoveResult{}, err
	}
	if f.vols[id] == nil {
		return client.VolumeRemoveResult{}, cerrdefs.ErrNotFound
	}
	for _, c := range f.cons {
		for _, m := range c.HostConfig.Mounts {
			if m.Source == id {
				return client.VolumeRemoveResult{}, cerrdefs.ErrConflict.WithMessage("volume is in use")
			}
		}
	}
	delete(f.vols, id)
	return client.VolumeRemoveResult{}, nil
}

func fakeDriver(f engine) *Driver {
	return newDriver(f, Options{CallTimeout: time.Second})
}

func testNetworks() []cyberrange.Network {
	l := func() map[string]string { return map[string]string{cyberrange.LabelExercise: "ex"} }
	return []cyberrange.Network{
		{Name: "ex-replica-d01", Subnet: netip.MustParsePrefix("10.61.1.0/24"), Labels: l()},
		{Name: "ex-team-a01", Subnet: netip.MustParsePrefix("10.60.1.0/24"), Labels: l()},
	}
}

// The volumes a container mounts are made before it with the exercise's
// labels, once however many mount them, and go only with RemoveVolumes
// once nothing mounts them.
func TestFakeVolumes(t *testing.T) {
	f := newFake()
	d := fakeDriver(f)
	ctx := t.Context()
	nets := testNetworks()
	if err := d.EnsureNetwork(ctx, nets[0]); err != nil {
		t.Fatal(err)
	}
	labels := func(kind string) map[string]string {
		return map[string]string{cyberrange.LabelExercise: "ex", cyberrange.LabelInstance: "i1", cyberrange.LabelTeam: "d01",
			cyberrange.LabelKind: kind}
	}
	target := cyberrange.Container{Name: "ex-target", Image: "img", Labels: labels("target"),
		Networks: []cyberrange.Attachment{{Network: nets[0].Name, Address: netip.MustParseAddr("10.61.1.10")}},
		Mounts:   []cyberrange.Mount{{Volume: "ex-log-mail-d01", Path: "/var/log/cyrange"}}}
	box := cyberrange.Container{Name: "ex-box", Image: "box", Labels: labels("defencebox"),
		Networks: []cyberrange.Attachment{{Network: nets[0].Name, Address: netip.MustParseAddr("10.61.1.3")}},
		Mounts:   []cyberrange.Mount{{Volume: "ex-log-mail-d01", Path: "/var/log/replica/mail", ReadOnly: true}}}
	for _, c := range []cyberrange.Container{target, box} {
		if err := d.Start(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	v := f.vols["ex-log-mail-d01"]
	if len(f.vols) != 1 || v == nil || v.Labels[cyberrange.LabelExercise] != "ex" || v.Labels[cyberrange.LabelInstance] != "i1" ||
		v.Labels[cyberrange.LabelKind] != "" {
		t.Fatalf("volumes %+v", f.vols)
	}
	ms := f.cons["ex-box"].HostConfig.Mounts
	if len(ms) != 1 || ms[0].Type != "volume" || ms[0].Source != "ex-log-mail-d01" || ms[0].Target != "/var/log/replica/mail" || !ms[0].ReadOnly {
		t.Errorf("box mounts %+v", ms)
	}
	if err := d.RemoveVolumes(ctx, "ex"); !errors.Is(err, cyberrange.ErrConflict) || f.vols["ex-log-mail-d01"] == nil {
		t.Fatalf("removing a volume in use: %v", err)
	}
	for _, c := range []cyberrange.Container{target, box} {
		if err := d.Remove(ctx, c.Name); err != nil {
			t.Fatal(err)
		}
	}
	f.vols["other"] = &volume.Volume{Name: "other", Labels: map[string]string{cyberrange.LabelExercise: "other"}}
	if err := d.RemoveVolumes(ctx, "ex"); err != nil || f.vols["ex-log-mail-d01"] != nil || f.vols["other"] == nil {
		t.Fatalf("%v: left %v", err, slices.Collect(maps.Keys(f.vols)))
	}
	// A volume of that name that is another instance's is not taken.
	f.vols["ex-log-mail-d01"] = &volume.Volume{Name: "ex-log-mail-d01", Labels: map[string]string{cyberrange.LabelExercise: "ex", cyberrange.LabelInstance: "i2"}}
	if err := d.Start(ctx, target); !errors.Is(err, cyberrange.ErrInvalid) {
		t.Fatalf("started on another instance's volume: %v", err)
	}
	bad := target
	bad.Mounts = []cyberrange.Mount{{Volume: "v", Path: "relative"}}
	if err := d.Start(ctx, bad); !errors.Is(err, cyberrange.ErrInvalid) {
		t.Fatalf("mount at a relative path: %v", err)
	}
}

func TestFakeStartIdempotent(t *testing.T) {
	f := newFake()
	d := fakeDriver(f)
	ctx := t.Context()
	for _, n := range testNetworks() {
		if err := d.EnsureNetwork(ctx, n); err != nil {
			t.Fatal(err)
		}
		if err := d.EnsureNetwork(ctx, n); err != nil {
			t.Fatalf("again: %v", err)
		}
	}
	if f.Took("NetworkCreate") != 2 {
		t.Fatalf("%d network creations", f.Took("NetworkCreate"))
	}
	c := testContainer()
	if err := d.Start(ctx, c); err != nil {
		t.Fatal(err)
	}
	got := f.cons[c.Name]
	if !got.State.Running || len(got.NetworkSettings.Networks) != 2 {
		t.Fatalf("state %+v networks %v", got.State, got.NetworkSettings.Networks)
	}
	if a := got.NetworkSettings.Networks["ex-team-a01"].IPAddress; a != netip.MustParseAddr("10.60.1.10") {
		t.Errorf("team address %s", a)
	}
	id := got.ID

	// Running as planned: nothing to do.
	before := f.Made()
	if err := d.Start(ctx, c); err != nil {
		t.Fatal(err)
	}
	if extra := f.Made()[len(before):]; !slices.Equal(extra, []string{"ContainerCreate", "ContainerInspect"}) {
		t.Errorf("start of a running container called %v", extra)
	}
	// Dead: started again, the same container.
	if err := d.Kill(ctx, c.Name); err != nil {
		t.Fatal(err)
	}
	if err := d.Kill(ctx, c.Name); err != nil {
		t.Errorf("killing a dead container: %v", err)
	}
	if err := d.Start(ctx, c); err != nil {
		t.Fatal(err)
	}
	if got := f.cons[c.Name]; got.ID != id || !got.State.Running {
		t.Errorf("restart: id %s (was %s) running %v", got.ID, id, got.State.Running)
	}
	// Another spec: replaced.
	c2 := testContainer(func(c *cyberrange.Container) { c.Labels[cyberrange.LabelPlanHash] = "h2" })
	if err := d.Start(ctx, c2); err != nil {
		t.Fatal(err)
	}
	if got := f.cons[c.Name]; got.ID == id || !got.State.Running || got.Config.Labels[cyberrange.LabelPlanHash] != "h2" {
		t.Errorf("replace: id %s running %v labels %v", got.ID, got.State.Running, got.Config.Labels)
	}
	if err := d.Kill(ctx, "nobody"); !errors.Is(err, cyberrange.ErrNotFound) {
		t.Errorf("kill of a missing container: %v", err)
	}
}

func TestFakeStartCompletesAHalfMadeContainer(t *testing.T) {
	f := newFake()
	d := fakeDriver(f)
	ctx := t.Context()
	for _, n := range testNetworks() {
		d.EnsureNetwork(ctx, n)
	}
	c := testContainer()
	f.FailNext("NetworkConnect", errors.New("engine hiccup"))
	if err := d.Start(ctx, c); err == nil {
		t.Fatal("a failed connect passed")
	}
	got := f.cons[c.Name]
	if got == nil || got.State.Running || len(got.NetworkSettings.Networks) != 1 {
		t.Fatalf("after the failure: %+v", got)
	}
	id := got.ID
	if err := d.Start(ctx, c); err != nil {
		t.Fatal(err)
	}
	if got := f.cons[c.Name]; !got.State.Running || len(got.NetworkSettings.Networks) != 2 || got.ID != id {
		t.Errorf("running %v networks %v id %s (was %s)", got.State.Running, got.NetworkSettings.Networks, got.ID, id)
	}
}

func TestFakeIngress(t *testing.T) {
	f := newFake()
	d := fakeDriver(f)
	ctx := t.Context()
	for _, n := range testNetworks() {
		d.EnsureNetwork(ctx, n)
	}
	gw := func(name string) cyberrange.Container {
		return testContainer(func(c *cyberrange.Container) {
			c.Name, c.Kind = name, cyberrange.KindGateway
			c.Networks = c.Networks[1:]
			c.Ports = []cyberrange.Port{{Name: "socks", Number: 1080, Publish: "127.0.0.1:0"}}
		})
	}
	for _, name := range []string{"gw1", "gw2"} {
		if err := d.Start(ctx, gw(name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Start(ctx, testContainer()); err != nil {
		t.Fatal(err)
	}
	ing := f.nets[ingressName("ex")]
	if ing == nil || len(ing.Containers) != 2 || ing.Internal || ing.Options[optICC] != "false" {
		t.Fatalf("ingress %+v", ing)
	}
	a, err := d.List(ctx, "ex")
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Networks) != 2 || len(a.Containers) != 3 {
		t.Errorf("list: %d networks (the ingress must not show), %d containers", len(a.Networks), len(a.Containers))
	}
	// Up's pruning of an unplanned network leaves an ingress in use alone.
	if err := d.RemoveNetwork(ctx, ingressName("ex")); err != nil || f.nets[ingressName("ex")] == nil {
		t.Errorf("removing the ingress in use: %v", err)
	}
	for _, name := range []string{"gw1", "gw2", "gw2"} {
		if err := d.Remove(ctx, name); err != nil {
			t.Fatalf("remove %s: %v", name, err)
		}
	}
	// Unused, the ingress network is a leftover List reports...
	a, err = d.List(ctx, "ex")
	if err != nil || len(a.Networks) != 3 || !slices.ContainsFunc(a.Networks, func(n cyberrange.NetworkStatus) bool { return n.Name == ingressName("ex") }) {
		t.Errorf("list with an unused ingress: %+v %v", a.Networks, err)
	}
	// ... and the removal of any network of the exercise takes it along.
	if err := d.Remove(ctx, testContainer().Name); err != nil {
		t.Fatal(err)
	}
	if err := d.RemoveNetwork(ctx, "ex-team-a01"); err != nil {
		t.Fatal(err)
	}
	if f.nets[ingressName("ex")] != nil || f.nets["ex-team-a01"] != nil {
		t.Errorf("networks left: %v", slices.Collect(maps.Keys(f.nets)))
	}
	// A gateway started again makes the ingress again.
	if err := d.Start(ctx, gw("gw3")); err == nil {
		t.Error("started on a removed network")
	}
	d.EnsureNetwork(ctx, testNetworks()[1])
	if err := d.Start(ctx, gw("gw3")); err != nil || f.nets[ingressName("ex")] == nil {
		t.Errorf("gateway after the ingress went: %v", err)
	}
	if err := d.RemoveNetwork(ctx, "no-such-network"); err != nil {
		t.Errorf("removing a missing network: %v", err)
	}
}

func TestFakeRefusesWhatIsNotTheRanges(t *testing.T) {
	f := newFake()
	d := fakeDriver(f)
	ctx := t.Context()
	f.nets["theirs"] = &network.Inspect{Network: network.Network{Name: "theirs", ID: "n1"}}
	f.cons["theirs"] = &container.InspectResponse{ID: "x", Name: "/theirs", Config: &container.Config{Image: "cyrange:test"},
		State: &container.State{Status: "running", Running: true}, NetworkSettings: &container.NetworkSettings{}}
	if err := d.RemoveNetwork(ctx, "theirs"); !errors.Is(err, cyberrange.ErrInvalid) {
		t.Errorf("remove network: %v", err)
	}
	if err := d.Remove(ctx, "theirs"); !errors.Is(err, cyberrange.ErrInvalid) {
		t.Errorf("remove container: %v", err)
	}
	c := testContainer(func(c *cyberrange.Container) { c.Name = "theirs" })
	if err := d.Start(ctx, c); !errors.Is(err, cyberrange.ErrInvalid) {
		t.Errorf("start over it: %v", err)
	}
	if f.Took("ContainerRemove")+f.Took("NetworkRemove") != 0 {
		t.Errorf("removed: %v", f.Made())
	}
	// A network of the plan's name with another subnet is not adopted.
	n := testNetworks()[0]
	f.nets[n.Name] = &network.Inspect{Network: network.Network{Name: n.Name, ID: "n2", Labels: n.Labels, Internal: true,
		Options: map[string]string{optInhibitIPv4: "true"},
		IPAM:    network.IPAM{Config: []network.IPAMConfig{{Subnet: netip.MustParsePrefix("10.99.0.0/24")}}}}}
	if err := d.EnsureNetwork(ctx, n); !errors.Is(err, cyberrange.ErrInvalid) {
		t.Errorf("network with another subnet: %v", err)
	}
	f.nets[n.Name].IPAM.Config[0].Subnet = n.Subnet
	f.nets[n.Name].Internal = false
	if err := d.EnsureNetwork(ctx, n); !errors.Is(err, cyberrange.ErrInvalid) {
		t.Errorf("network without isolation: %v", err)
	}
}

func TestFakeErrors(t *testing.T) {
	f := newFake()
	d := fakeDriver(f)
	ctx := t.Context()
	for _, n := range testNetworks() {
		d.EnsureNetwork(ctx, n)
	}
	f.FailNext("ContainerCreate", cerrdefs.ErrNotFound.WithMessage("No such image: cyrange:test"))
	err := d.Start(ctx, testContainer())
	if !errors.Is(err, cyberrange.ErrNotFound) || !strings.Contains(err.Error(), "cyrange images build") {
		t.Errorf("missing image: %v", err)
	}
	f.FailNext("ContainerCreate", connectionFailed(t))
	if err := d.Start(ctx, testContainer()); !errors.Is(err, cyberrange.ErrUnavailable) {
		t.Errorf("engine gone: %v", err)
	}
	// A create that races another's: the other's container is used.
	f.beforeCreate = func(o client.ContainerCreateOptions) {
		f.beforeCreate = nil
		f.mu.Unlock()
		f.ContainerCreate(ctx, o)
		f.mu.Lock()
	}
	if err := d.Start(ctx, testContainer()); err != nil {
		t.Fatal(err)
	}
	if got := f.cons[testContainer().Name]; !got.State.Running || len(got.NetworkSettings.Networks) != 2 {
		t.Errorf("after a racing create: %+v", got)
	}
	if _, err := d.List(ctx, ""); !errors.Is(err, cyberrange.ErrInvalid) {
		t.Errorf("list without exercise: %v", err)
	}
}

// connectionFailed is the error the SDK gives when no engine answers.
func connectionFailed(t *testing.T) error {
	c, err := client.New(client.WithHost("unix://" + t.TempDir() + "/no.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.Ping(t.Context(), client.PingOptions{})
	if !client.IsErrConnectionFailed(err) {
		t.Fatalf("ping of no engine: %v", err)
	}
	return err
}

func TestNewWithoutEngine(t *testing.T) {
	_, err := New(t.Context(), Options{Host: "unix://" + t.TempDir() + "/no.sock", CallTimeout: time.Second})
	if !errors.Is(err, cyberrange.ErrUnavailable) {
		t.Errorf("err %v", err)
	}
}

// blockingEngine never answers, until its context ends.
type blockingEngine struct{ engine }

func (blockingEngine) NetworkInspect(ctx context.Context, _ string, _ client.NetworkInspectOptions) (client.NetworkInspectResult, error) {
	<-ctx.Done()
	return client.NetworkInspectResult{}, ctx.Err()
}

func (blockingEngine) ContainerLogs(ctx context.Context, _ string, _ client.ContainerLogsOptions) (client.ContainerLogsResult, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

func TestCallTimeout(t *testing.T) {
	defer goleak.VerifyNone(t)
	d := newDriver(blockingEngine{}, Options{CallTimeout: 50 * time.Millisecond})
	start := time.Now()
	err := d.EnsureNetwork(t.Context(), testNetworks()[0])
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err %v", err)
	}
	if _, err := d.Logs(t.Context(), "x", time.Time{}); err == nil {
		t.Error("logs of a silent engine opened")
	}
	// A hang guard: the calls end with their own timeouts.
	if el := time.Since(start); el > 30*time.Second {
		t.Errorf("took %v", el)
	}
}

// logEngine serves one multiplexed log stream.
type logEngine struct {
	engine
	stream []byte
	since  string
}

func (l *logEngine) ContainerLogs(ctx context.Context, _ string, o client.ContainerLogsOptions) (client.ContainerLogsResult, error) {
	l.since = o.Since
	if !o.Follow || !o.ShowStdout || !o.ShowStderr {
		return nil, errors.New("the driver must follow both streams")
	}
	pr, pw := io.Pipe()
	go func() {
		pw.Write(l.stream)
		// Then stay open, as a follow does, until closed.
		<-ctx.Done()
		pw.CloseWithError(ctx.Err())
	}()
	return pr, nil
}

func TestLogsDemux(t *testing.T) {
	defer goleak.VerifyNone(t)
	var mux bytes.Buffer
	dockerapitest.Frame(&mux, stdcopy.Stdout, "out line\n")
	dockerapitest.Frame(&mux, stdcopy.Stderr, "err line\n")
	e := &logEngine{stream: mux.Bytes()}
	d := newDriver(e, Options{CallTimeout: time.Second})
	rc, err := d.Logs(t.Context(), "c", time.Unix(10, 5))
	if err != nil {
		t.Fatal(err)
	}
	want := "out line\nerr line\n"
	buf := make([]byte, len(want))
	if _, err := io.ReadFull(rc, buf); err != nil {
		t.Fatal(err)
	}
	if string(buf) != want {
		t.Errorf("%q", buf)
	}
	if e.since != "10.000000005" {
		t.Errorf("since %q", e.since)
	}
	rc.Close()
	if _, err := rc.Read(buf); err == nil {
		t.Error("read after close")
	}
	rc.Close()
}

// eventEngine hands out event streams the test feeds and breaks.
type eventEngine struct {
	engine
	mu    sync.Mutex
	subs  chan eventSub
	pings int
}

type eventSub struct {
	since string
	f     client.Filters
	msgs  chan events.Message
	errs  chan error
}

func (e *eventEngine) Ping(context.Context, client.PingOptions) (client.PingResult, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.pings++
	return client.PingResult{}, nil
}

func (e *eventEngine) Events(ctx context.Context, o client.EventsListOptions) client.EventsResult {
	s := eventSub{since: o.Since, f: o.Filters, msgs: make(chan events.Message), errs: make(chan error, 1)}
	e.subs <- s
	return client.EventsResult{Messages: s.msgs, Err: s.errs}
}

func TestEventsReconnect(t *testing.T) {
	defer goleak.VerifyNone(t)
	e := &eventEngine{subs: make(chan eventSub, 4)}
	clock := time.Unix(1000, 0)
	d := newDriver(e, Options{CallTimeout: time.Second, Now: func() time.Time { return clock }})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	ch, err := d.Events(ctx, "ex")
	if err != nil {
		t.Fatal(err)
	}
	s1 := <-e.subs
	if s1.since != "1000.000000000" || !s1.f["label"][cyberrange.LabelExercise+"=ex"] || !s1.f["type"]["container"] || !s1.f["event"]["die"] {
		t.Errorf("first subscription since %q filters %v", s1.since, s1.f)
	}
	msg := func(id, action string, at int64) events.Message {
		return events.Message{Type: events.ContainerEventType, Action: events.Action(action), TimeNano: at,
			Actor: events.Actor{ID: id, Attributes: map[string]string{"name": "n-" + id, "exitCode": "1"}}}
	}
	s1.msgs <- msg("a", "die", 2000e9)
	if ev := <-ch; ev.Container != "n-a" || ev.Action != "die" || ev.ExitCode != 1 {
		t.Errorf("event %+v", ev)
	}
	s1.errs <- io.ErrUnexpectedEOF
	s2 := <-e.subs
	if s2.since != "2000.000000000" {
		t.Errorf("resumed since %q", s2.since)
	}
	s2.msgs <- msg("a", "die", 2000e9) // replayed
	s2.msgs <- msg("b", "start", 2001e9)
	if ev := <-ch; ev.Container != "n-b" || ev.Action != "start" {
		t.Errorf("after the reconnection %+v", ev)
	}
	cancel()
	if _, ok := <-ch; ok {
		t.Error("channel open after cancel")
	}
}

// exitEngine is the fake engine with a probe that never answers (its
// exec stays running, as an engine may report the exec of a container
// that died) and a log to tail; die, when set, ends the container at the
// probe's polls'th look, and dieAtStart as the probe starts, which then
// fails as a runtime that lost the container says it.
type exitEngine struct {
	*fakeEngine
	log        []byte
	polls      int
	die        func(polls int) bool
	dieAtStart bool
}

func (e *exitEngine) endAllLocked() {
	for _, c := range e.cons {
		c.State = &container.State{Status: "exited", ExitCode: 2}
	}
}

func (e *exitEngine) ExecCreate(_ context.Context, id string, _ client.ExecCreateOptions) (client.ExecCreateResult, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.Record("ExecCreate")
	if c := e.cons[id]; c == nil || !c.State.Running {
		return client.ExecCreateResult{}, cerrdefs.ErrConflict.WithMessage("container " + id + " is not running")
	}
	return client.ExecCreateResult{ID: "exec1"}, nil
}

func (e *exitEngine) ExecStart(context.Context, string, client.ExecStartOptions) (client.ExecStartResult, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.dieAtStart {
		e.endAllLocked()
		return client.ExecStartResult{}, errors.New("OCI runtime exec failed: open /proc/4242/ns/mnt: no such file or directory")
	}
	return client.ExecStartResult{}, nil
}

func (e *exitEngine) ExecInspect(context.Context, string, client.ExecInspectOptions) (client.ExecInspectResult, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.polls++
	if e.die != nil && e.die(e.polls) {
		e.endAllLocked()
	}
	return client.ExecInspectResult{ID: "exec1", Running: true}, nil
}

func (e *exitEngine) ContainerLogs(_ context.Context, _ string, o client.ContainerLogsOptions) (client.ContainerLogsResult, error) {
	if o.Follow || o.Tail == "" || !o.ShowStdout || !o.ShowStderr {
		return nil, errors.New("the last line is read from the tail of both streams, without following")
	}
	return io.NopCloser(bytes.NewReader(e.log)), nil
}

// TestFakeWaitReadyEndsWhenTheContainerExits: a container that exits
// before its probe runs, or while it runs, ends the wait at once with its
// name and last line, however long the wait may take.
func TestFakeWaitReadyEndsWhenTheContainerExits(t *testing.T) {
	var log bytes.Buffer
	dockerapitest.Frame(&log, stdcopy.Stdout, "mailserver: starting\n")
	dockerapitest.Frame(&log, stdcopy.Stderr, "mailserver: option relay: unknown option\n\n")
	for _, tc := range []struct {
		desc       string
		exitedAt   bool // exited once started, before any probe
		dieAtStart bool
		die        func(polls int) bool
		execs      int
	}{
		{desc: "exited at once", exitedAt: true, execs: 0},
		{desc: "dies as the probe starts", dieAtStart: true, execs: 1},
		{desc: "dies while the probe runs", die: func(polls int) bool { return polls >= 3 }, execs: 1},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			e := &exitEngine{fakeEngine: newFake(), log: log.Bytes(), die: tc.die, dieAtStart: tc.dieAtStart}
			d := fakeDriver(e)
			ctx := t.Context()
			for _, n := range testNetworks() {
				if err := d.EnsureNetwork(ctx, n); err != nil {
					t.Fatal(err)
				}
			}
			c := testContainer()
			if err := d.Start(ctx, c); err != nil {
				t.Fatal(err)
			}
			if tc.exitedAt {
				e.cons[c.Name].State = &container.State{Status: "exited", ExitCode: 2}
			}
			// Far longer than the test may take: only noticing the exit
			// ends the wait.
			wctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
			defer cancel()
			d.probeTimeout = 10 * time.Minute
			err := d.WaitReady(wctx, c)
			if err == nil || !strings.Contains(err.Error(), c.Name) ||
				!strings.Contains(err.Error(), "exited (code 2)") ||
				!strings.HasSuffix(err.Error(), ": mailserver: option relay: unknown option") {
				t.Fatalf("err = %v", err)
			}
			if n := e.Took("ExecCreate"); n != tc.execs {
				t.Errorf("%d probes", n)
			}
		})
	}
}
