package docker

import (
	"fmt"
	"maps"
	"net/netip"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	cyberrange "github.com/cyrange/cyrange/range"
	"github.com/cyrange/cyrange/range/internal/dockerapi"
)

// Labels the driver adds to what the plan asks for.
const (
	// labelPorts records a container's port names ("socks=1080,admin=8025")
	// so that List can report where each named port is reachable.
	labelPorts = "cyrange.docker.ports"
	// labelIngress marks an exercise's ingress network.
	labelIngress = "cyrange.docker.ingress"
)

// Bridge driver options (libnetwork's names).
const (
	optInhibitIPv4 = "com.docker.network.bridge.inhibit_ipv4"
	optICC         = "com.docker.network.bridge.enable_icc"
	optMasquerade  = "com.docker.network.bridge.enable_ip_masquerade"
)

// What every container gets whatever the plan says.
const (
	// tmpfsOptions is the one writable place of a read-only container.
	tmpfsOptions = "rw,nosuid,nodev,noexec,size=64m"
)

// ingressName is the name of an exercise's ingress network.
func ingressName(exercise string) string { return "cyrange-" + exercise + "-ingress" }

// needsIngress reports whether the host must reach c: it publishes a port,
// or it is a checker, which the game calls.
func needsIngress(c cyberrange.Container) bool {
	if c.Kind == cyberrange.KindChecker {
		return true
	}
	return slices.ContainsFunc(c.Ports, func(p cyberrange.Port) bool { return p.Publish != "" })
}

// volumeOptions is how a volume that c mounts is made: with c's
// exercise, instance and team labels, as the networks have them, so that
// the exercise's teardown finds it and another instance's is told apart.
func volumeOptions(name string, c cyberrange.Container) client.VolumeCreateOptions {
	return client.VolumeCreateOptions{Name: name, Driver: "local", Labels: dockerapi.ScopeLabels(c)}
}

// networkOptions is how a plan's network is made: an internal bridge whose
// host end has no address.
func networkOptions(n cyberrange.Network) client.NetworkCreateOptions {
	sub := n.Subnet.Masked()
	return client.NetworkCreateOptions{
		Driver: "bridge",
		// An empty IPAM driver makes the engine look the driver up, which
		// costs seconds per network; "default" is the built-in one.
		IPAM: &network.IPAM{Driver: "default", Config: []network.IPAMConfig{{
			Subnet:  sub,
			Gateway: sub.Addr().Next(),
		}}},
		Internal: true,
		Options:  map[string]string{optInhibitIPv4: "true"},
		Labels:   maps.Clone(n.Labels),
	}
}

// ingressOptions is how an exercise's ingress network is made.
func ingressOptions(exercise string, subnet netip.Prefix) client.NetworkCreateOptions {
	ipam := &network.IPAM{Driver: "default"}
	if subnet.IsValid() {
		ipam.Config = []network.IPAMConfig{{Subnet: subnet.Masked()}}
	}
	return client.NetworkCreateOptions{
		Driver: "bridge",
		IPAM:   ipam,
		Options: map[string]string{
			optICC:        "false",
			optMasquerade: "false",
		},
		Labels: map[string]string{
			cyberrange.LabelExercise: exercise,
			labelIngress:             "true",
		},
	}
}

// validNetwork checks what the engine would otherwise reject late or
// accept wrongly.
func validNetwork(n cyberrange.Network) error {
	return dockerapi.ValidNetwork(n, labelIngress)
}

func validContainer(c cyberrange.Container) error {
	switch {
	case !dockerapi.ValidName(c.Name):
		return fmt.Errorf("%w: container name %q", cyberrange.ErrInvalid, c.Name)
	case c.Image == "":
		return fmt.Errorf("%w: container %s has no image", cyberrange.ErrInvalid, c.Name)
	case len(c.Networks) == 0:
		return fmt.Errorf("%w: container %s is on no network", cyberrange.ErrInvalid, c.Name)
	case c.Labels[cyberrange.LabelExercise] == "":
		return fmt.Errorf("%w: container %s has no %s label", cyberrange.ErrInvalid, c.Name, cyberrange.LabelExercise)
	}
	seen := map[string]bool{}
	for _, a := range c.Networks {
		if seen[a.Network] {
			return fmt.Errorf("%w: container %s is attached twice to %s", cyberrange.ErrInvalid, c.Name, a.Network)
		}
		seen[a.Network] = true
		if !a.Address.IsValid() || !a.Address.Is4() {
			return fmt.Errorf("%w: container %s: address %s on %s", cyberrange.ErrInvalid, c.Name, a.Address, a.Network)
		}
	}
	paths := map[string]bool{}
	for _, m := range c.Mounts {
		if !dockerapi.ValidName(m.Volume) {
			return fmt.Errorf("%w: container %s: volume name %q", cyberrange.ErrInvalid, c.Name, m.Volume)
		}
		if !path.IsAbs(m.Path) || path.Clean(m.Path) == "/" || paths[path.Clean(m.Path)] {
			return fmt.Errorf("%w: container %s: volume %s mounted at %q", cyberrange.ErrInvalid, c.Name, m.Volume, m.Path)
		}
		paths[path.Clean(m.Path)] = true
	}
	for _, p := range c.Ports {
		if p.Name == "" || strings.ContainsAny(p.Name, "=,") || p.Number < 1 || p.Number > 65535 {
			return fmt.Errorf("%w: container %s: port %q %d", cyberrange.ErrInvalid, c.Name, p.Name, p.Number)
		}
		if p.Publish != "" {
			if _, err := netip.ParseAddrPort(p.Publish); err != nil {
				return fmt.Errorf("%w: container %s: port %s is published on %q, not host:port", cyberrange.ErrInvalid, c.Name, p.Name, p.Publish)
			}
		}
	}
	return nil
}

// createOptions is how the engine makes c: everything but its second and
// later networks, which are connected before it starts.
func createOptions(c cyberrange.Container) client.ContainerCreateOptions {
	labels := maps.Clone(c.Labels)
	if len(c.Ports) > 0 {
		labels[labelPorts] = dockerapi.FormatPorts(c.Ports)
	}
	cfg := &container.Config{
		Image:    c.Image,
		Cmd:      slices.Clone(c.Command),
		Env:      envList(c.Env),
		Labels:   labels,
		Hostname: dockerapi.Hostname(c.Name),
	}
	hc := &container.HostConfig{
		NetworkMode: container.NetworkMode(c.Networks[0].Network),
		CapDrop:     []string{"ALL"},
		SecurityOpt: []string{"no-new-privileges:true"},
		LogConfig:   logConfig(c.Kind),
		Sysctls:     map[string]string{dockerapi.SysctlUnprivPorts: "0"},
		Resources:   resources(c.Limits),
	}
	if dockerapi.IsBox(c.Kind) {
		hc.CapAdd = slices.Clone(dockerapi.BoxCaps)
	}
	for _, m := range c.Mounts {
		hc.Mounts = append(hc.Mounts, mount.Mount{Type: mount.TypeVolume, Source: m.Volume, Target: m.Path, ReadOnly: m.ReadOnly})
	}
	if c.ReadOnly {
		hc.ReadonlyRootfs = true
		hc.Tmpfs = map[string]string{"/tmp": tmpfsOptions}
	}
	for _, p := range c.Ports {
		port, ok := network.PortFrom(uint16(p.Number), network.TCP)
		if !ok {
			continue
		}
		if cfg.ExposedPorts == nil {
			cfg.ExposedPorts = network.PortSet{}
		}
		cfg.ExposedPorts[port] = struct{}{}
		if p.Publish == "" {
			continue
		}
		ap, err := netip.ParseAddrPort(p.Publish)
		if err != nil {
			continue // validContainer refused it already
		}
		if hc.PortBindings == nil {
			hc.PortBindings = network.PortMap{}
		}
		b := network.PortBinding{HostIP: ap.Addr()}
		if ap.Port() != 0 {
			b.HostPort = strconv.Itoa(int(ap.Port()))
		}
		hc.PortBindings[port] = append(hc.PortBindings[port], b)
	}
	first := c.Networks[0]
	return client.ContainerCreateOptions{
		Name:       c.Name,
		Config:     cfg,
		HostConfig: hc,
		NetworkingConfig: &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
			first.Network: endpoint(first.Address),
		}},
	}
}

func endpoint(a netip.Addr) *network.EndpointSettings {
	if !a.IsValid() {
		return &network.EndpointSettings{}
	}
	return &network.EndpointSettings{IPAMConfig: &network.EndpointIPAMConfig{IPv4Address: a}}
}

func envList(env map[string]string) []string {
	out := make([]string, 0, len(env))
	for _, k := range slices.Sorted(maps.Keys(env)) {
		out = append(out, k+"="+env[k])
	}
	return out
}

// logConfig is dockerapi.LogDriver's choice for a container of kind k.
func logConfig(k cyberrange.Kind) container.LogConfig {
	name, opts := dockerapi.LogDriver(k)
	return container.LogConfig{Type: name, Config: opts}
}

// resources are the plan's limits, the defaults where it has none.
func resources(l cyberrange.Limits) container.Resources {
	l = dockerapi.WithDefaults(l)
	pids := l.Pids
	return container.Resources{
		Memory: l.MemoryBytes,
		// No swap on top of the memory limit.
		MemorySwap: l.MemoryBytes,
		NanoCPUs:   l.NanoCPUs,
		PidsLimit:  &pids,
	}
}

// state maps the engine's container states to the range's.
func state(s string) cyberrange.State {
	switch container.ContainerState(s) {
	case container.StateRunning, container.StateRestarting:
		return cyberrange.StateRunning
	case container.StateCreated:
		return cyberrange.StateCreated
	case container.StatePaused:
		return cyberrange.State("paused")
	default: // exited, dead, removing
		return cyberrange.StateExited
	}
}
