package swarm

import (
	"fmt"
	"maps"
	"net/netip"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	cyberrange "github.com/cyrange/cyrange/range"
	"github.com/cyrange/cyrange/range/internal/dockerapi"
)

// Labels the driver adds to what the plan asks for.
const (
	// labelPorts records a service's port names, as the Docker driver's
	// label of the same role does, so that List can name published ports.
	labelPorts = "cyrange.swarm.ports"
	// labelEdge marks a gateway's edge network (see edgeOptions); its
	// value is the service that owns it.
	labelEdge = "cyrange.swarm.edge"
	// labelOwner marks a secret with the service that mounts it, so that
	// removing the service removes exactly its secrets.
	labelOwner = "cyrange.swarm.owner"
)

// optEncrypted is the overlay driver's option that turns on IPsec between
// nodes for the network's traffic (libnetwork's name; its value is
// ignored).
const optEncrypted = "encrypted"

// tmpfsSize is the size of /tmp, the one writable place of a read-only
// container: the Docker driver's (range/docker/spec.go).
const tmpfsSize = 64 << 20

// Restart policy of every service. The Docker driver leaves restarts to
// the orchestrator's Watch; a Swarm service whose task ends with policy
// "none" stays at zero running tasks until its spec changes, so Swarm
// restarts the task itself, always, after a short pause that keeps a
// crashing role from spinning.
const restartDelay = 2 * time.Second

// NodeRoleLabel is the node label whose value says which of the range's
// roles a node takes (docker node update --label-add cyrange.role=replicas).
const NodeRoleLabel = "cyrange.role"

// Placement says where each kind of container may run: the value of
// NodeRoleLabel its node must carry. An empty value puts no constraint,
// so a single-node swarm needs no labels at all.
type Placement struct {
	Targets  string
	Gateways string
	Checkers string
	Boxes    string
}

// DefaultPlacement is the label values the README's drill setup uses.
var DefaultPlacement = Placement{Targets: "replicas", Gateways: "gateways", Checkers: "checkers", Boxes: "boxes"}

// constraints are the placement constraints of a container of kind k.
func (p Placement) constraints(k cyberrange.Kind) []string {
	var v string
	switch k {
	case cyberrange.KindTarget:
		v = p.Targets
	case cyberrange.KindGateway, cyberrange.KindDefenceGateway:
		v = p.Gateways
	case cyberrange.KindChecker:
		v = p.Checkers
	case cyberrange.KindAttackBox, cyberrange.KindDefenceBox:
		v = p.Boxes
	}
	if v == "" {
		return nil
	}
	return []string{"node.labels." + NodeRoleLabel + "==" + v}
}

// specOptions are what the translation needs besides the container.
type specOptions struct {
	Placement Placement
}

// networkOptions is how a plan's network is made: an overlay network of
// the swarm, internal (no route out through the nodes' docker_gwbridge),
// at the plan's subnet. Unlike a bridge, an overlay network has no
// address on the host: its .1 lives in the network's own namespace on
// each node, so a target cannot reach the host's services through it and
// nothing like the Docker driver's inhibit_ipv4 option is needed.
//
// The checkers' network is attachable: the game calls the checkers, and
// a process outside the swarm's services (the orchestrator, or the game
// run as a plain container on a manager) can reach them only by joining
// that network. Teams' and replicas' networks are not, so that nothing
// but the plan's services joins them.
//
// encrypt turns on the overlay's IPsec between nodes: a drill's nodes may
// share a network with people who must not read a team's traffic.
func networkOptions(n cyberrange.Network, encrypt bool) client.NetworkCreateOptions {
	sub := n.Subnet.Masked()
	o := client.NetworkCreateOptions{
		Driver: "overlay",
		Scope:  "swarm",
		// An empty IPAM driver makes the engine look the driver up;
		// "default" is the built-in one.
		IPAM: &network.IPAM{Driver: "default", Config: []network.IPAMConfig{{
			Subnet:  sub,
			Gateway: sub.Addr().Next(),
		}}},
		Internal:   true,
		Attachable: n.Labels[cyberrange.LabelNetwork] == cyberrange.NetCheckers,
		Labels:     maps.Clone(n.Labels),
	}
	if encrypt {
		o.Options = map[string]string{optEncrypted: ""}
	}
	return o
}

// edgeName is the edge network of a service that publishes ports.
func edgeName(service string) string { return service + "-edge" }

// edgeOptions is how the edge network of a publishing service (a
// gateway) is made. Swarm publishes a port in host mode through the
// task's endpoint on the node's docker_gwbridge, and a task gets one only
// when one of its networks is not internal. The Docker driver's answer,
// one ingress bridge with inter-container traffic off, has no overlay
// equivalent (an overlay network has no ICC switch), so each publishing
// service gets a network of its own, not internal, shared with no one:
// gateways of different teams cannot reach one another through it. Its
// subnet comes from the swarm's default address pool.
func edgeOptions(c cyberrange.Container, encrypt bool) client.NetworkCreateOptions {
	labels := dockerapi.ScopeLabels(c)
	labels[labelEdge] = c.Name
	o := client.NetworkCreateOptions{
		Driver: "overlay",
		Scope:  "swarm",
		IPAM:   &network.IPAM{Driver: "default"},
		Labels: labels,
	}
	if encrypt {
		o.Options = map[string]string{optEncrypted: ""}
	}
	return o
}

// publishes reports whether c publishes a port, and so needs an edge
// network.
func publishes(c cyberrange.Container) bool {
	return slices.ContainsFunc(c.Ports, func(p cyberrange.Port) bool { return p.Publish != "" })
}

// secretEnv are the environment variables of the plan that carry
// secrets. On Swarm they travel as Swarm secrets (encrypted in the
// managers' Raft log, given only to the nodes that run a task using
// them, mounted on a tmpfs at /run/secrets/NAME), never in the service's
// spec, where `docker service inspect` would show them to anyone with
// access to a manager.
//
// The convention the roles must follow (not done yet, see the package
// doc): for each variable K below, the container gets K_FILE, the path of
// a file holding the value, instead of K. A role reads K, and when K is
// unset and K_FILE is set, the content of K_FILE with one trailing
// newline removed. The gateway's --token-env CYRANGE_GATEWAY_TOKEN, the
// targets' and checkers' CYRANGE_CHECKER_SECRET and CYRANGE_PEER_SECRET,
// and the attack box's entry point for CYRANGE_BOX_PASSWORD all need it.
var secretEnv = []string{
	cyberrange.EnvCheckerSecret,
	cyberrange.EnvGatewayToken,
	cyberrange.EnvPeerSecret,
	cyberrange.EnvBoxPassword,
}

// FileSuffix is added to a secret variable's name to name the variable
// that holds its file's path.
const FileSuffix = "_FILE"

// secretDir is where Swarm mounts a task's secrets.
const secretDir = "/run/secrets"

// maxSecretName is swarmkit's limit on an object's name.
const maxSecretName = 64

// serviceSecret is one secret a service mounts.
type serviceSecret struct {
	// Name is the Swarm secret's name: unique per service and plan hash,
	// so that a secret (immutable in Swarm) with a new value gets a new
	// name and the service a new spec.
	Name   string
	Env    string
	File   string
	Labels map[string]string
	Data   []byte `json:"-"`
}

// secretsOf returns the secrets c mounts, in variable order.
func secretsOf(c cyberrange.Container) []serviceSecret {
	hash := c.Labels[cyberrange.LabelPlanHash]
	if hash == "" {
		hash = cyberrange.ContainerHash(c)
	}
	var out []serviceSecret
	for _, k := range slices.Sorted(maps.Keys(c.Env)) {
		if !slices.Contains(secretEnv, k) {
			continue
		}
		file := strings.ToLower(k)
		// The plan hash already covers the value and is public (it is a
		// label): naming by it says nothing more of the secret.
		suffix := "-" + strings.ReplaceAll(strings.TrimPrefix(file, "cyrange_"), "_", "-") + "-" + hash
		base := c.Name
		if len(base)+len(suffix) > maxSecretName {
			base = strings.TrimRight(base[:maxSecretName-len(suffix)], "-_.")
		}
		labels := dockerapi.ScopeLabels(c)
		labels[labelOwner] = c.Name
		out = append(out, serviceSecret{Name: base + suffix, Env: k, File: file, Labels: labels, Data: []byte(c.Env[k])})
	}
	return out
}

// secretSpec is how a service's secret is made.
func secretSpec(s serviceSecret) swarm.SecretSpec {
	return swarm.SecretSpec{Annotations: swarm.Annotations{Name: s.Name, Labels: maps.Clone(s.Labels)}, Data: s.Data}
}

// serviceSpec is how Swarm runs c: one task, with the Docker driver's
// limits and confinement (capabilities dropped, read-only root with a
// tmpfs /tmp, no new privileges, the unprivileged-ports sysctl), on the
// plan's networks and on the nodes its kind is placed on. Its secrets'
// references carry the secrets' names; the driver fills their IDs, which
// the API requires, once the secrets exist.
//
// The user is the image's, as with the Docker driver: the range's image
// says USER 65534 (range/docker/image.go) and the boxes start as root
// until sshd drops to the team's login, so the spec does not repeat it.
//
// What Swarm cannot express of the plan:
//
//   - Fixed addresses. A service's network attachment (Target, Aliases,
//     DriverOpts) has no address: swarmkit's allocator hands out the
//     next free one of the subnet, and the Engine API does not pass an
//     address through. Every address the plan fixes (a target's .10+,
//     a gateway's .2, which its --source names and teams are told) is
//     therefore not kept; see the package doc.
//   - The host address of a published port. Host mode binds the port on
//     every address of the node that runs the task; a plan's
//     "127.0.0.1:1081" becomes port 1081 on all of them.
//   - The Docker driver's per-container log options are kept, but
//     `docker service logs` reads them only from drivers that support
//     reading (local, json-file, journald).
func serviceSpec(c cyberrange.Container, o specOptions) swarm.ServiceSpec {
	labels := maps.Clone(c.Labels)
	if len(c.Ports) > 0 {
		labels[labelPorts] = dockerapi.FormatPorts(c.Ports)
	}
	cs := &swarm.ContainerSpec{
		Image: c.Image,
		// Args, not Command: the plan's command line is the arguments of
		// the image's entry point, as the Docker driver's Cmd is.
		Args:           slices.Clone(c.Command),
		Labels:         maps.Clone(c.Labels),
		Hostname:       dockerapi.Hostname(c.Name),
		Env:            envList(c.Env),
		ReadOnly:       c.ReadOnly,
		Privileges:     &swarm.Privileges{NoNewPrivileges: true},
		CapabilityDrop: []string{"ALL"},
		// Swarm passes the sysctl to the container (API 1.40 and later).
		Sysctls: map[string]string{dockerapi.SysctlUnprivPorts: "0"},
	}
	if dockerapi.IsBox(c.Kind) {
		cs.CapabilityAdd = slices.Clone(dockerapi.BoxCaps)
	}
	for _, m := range c.Mounts {
		cs.Mounts = append(cs.Mounts, mount.Mount{Type: mount.TypeVolume, Source: m.Volume, Target: m.Path, ReadOnly: m.ReadOnly,
			// Swarm makes a missing volume on the task's node with these
			// labels, which the Docker driver's volumeOptions give too.
			VolumeOptions: &mount.VolumeOptions{Labels: dockerapi.ScopeLabels(c)}})
	}
	if c.ReadOnly {
		cs.Mounts = append(cs.Mounts, mount.Mount{Type: mount.TypeTmpfs, Target: "/tmp", TmpfsOptions: &mount.TmpfsOptions{
			SizeBytes: tmpfsSize,
			Options:   [][]string{{"nosuid"}, {"nodev"}, {"noexec"}},
		}})
	}
	for _, s := range secretsOf(c) {
		uid := "65534"
		if dockerapi.IsBox(c.Kind) {
			uid = "0" // the box's entry point reads it as root
		}
		cs.Secrets = append(cs.Secrets, &swarm.SecretReference{SecretName: s.Name,
			File: &swarm.SecretReferenceFileTarget{Name: s.File, UID: uid, GID: uid, Mode: 0o400}})
	}
	var nets []swarm.NetworkAttachmentConfig
	for _, a := range c.Networks {
		nets = append(nets, swarm.NetworkAttachmentConfig{Target: a.Network})
	}
	if publishes(c) {
		nets = append(nets, swarm.NetworkAttachmentConfig{Target: edgeName(c.Name)})
	}
	delay := restartDelay
	replicas := uint64(1)
	noSwap := int64(0)
	lim := limits(c.Limits)
	spec := swarm.ServiceSpec{
		Annotations: swarm.Annotations{Name: c.Name, Labels: labels},
		TaskTemplate: swarm.TaskSpec{
			ContainerSpec: cs,
			Resources: &swarm.ResourceRequirements{
				Limits: &lim,
				// No swap on top of the memory limit.
				SwapBytes: &noSwap,
			},
			RestartPolicy: &swarm.RestartPolicy{Condition: swarm.RestartPolicyConditionAny, Delay: &delay},
			Placement:     &swarm.Placement{Constraints: o.Placement.constraints(c.Kind)},
			Networks:      nets,
			LogDriver:     logDriver(c.Kind),
		},
		Mode: swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: &replicas}},
		// A changed container is replaced (Start removes and makes the
		// service again, as the Docker driver does); an update, should
		// one happen, stops the old task first, since two tasks of one
		// role would hold the same published port and identity.
		UpdateConfig: &swarm.UpdateConfig{Parallelism: 1, Order: swarm.UpdateOrderStopFirst},
		// dnsrr, not a virtual IP: a VIP puts IPVS between a team and a
		// target, and the target (and the telemetry judged against it)
		// must see the gateway's own address as the source. Host-mode
		// publishing is allowed with dnsrr; ingress-mode is not, and the
		// routing mesh would hide the client's address anyway.
		EndpointSpec: &swarm.EndpointSpec{Mode: swarm.ResolutionModeDNSRR},
	}
	for _, p := range c.Ports {
		if p.Publish == "" {
			continue
		}
		ap, err := netip.ParseAddrPort(p.Publish)
		if err != nil {
			continue // validContainer refused it already
		}
		spec.EndpointSpec.Ports = append(spec.EndpointSpec.Ports, swarm.PortConfig{Name: p.Name, Protocol: network.TCP,
			TargetPort: uint32(p.Number), PublishedPort: uint32(ap.Port()), PublishMode: swarm.PortConfigPublishModeHost})
	}
	return spec
}

// withSecretIDs returns spec with the IDs of its secrets' references
// filled from ids (by secret name).
func withSecretIDs(spec swarm.ServiceSpec, ids map[string]string) swarm.ServiceSpec {
	cs := *spec.TaskTemplate.ContainerSpec
	cs.Secrets = make([]*swarm.SecretReference, len(spec.TaskTemplate.ContainerSpec.Secrets))
	for i, r := range spec.TaskTemplate.ContainerSpec.Secrets {
		ref := *r
		ref.SecretID = ids[r.SecretName]
		cs.Secrets[i] = &ref
	}
	spec.TaskTemplate.ContainerSpec = &cs
	return spec
}

// envList is c's environment with every secret variable K replaced by
// K_FILE, the path of its secret's file.
func envList(env map[string]string) []string {
	out := make([]string, 0, len(env))
	for _, k := range slices.Sorted(maps.Keys(env)) {
		if slices.Contains(secretEnv, k) {
			out = append(out, k+FileSuffix+"="+path.Join(secretDir, strings.ToLower(k)))
			continue
		}
		out = append(out, k+"="+env[k])
	}
	return out
}

// logDriver is dockerapi.LogDriver's choice for a container of kind k.
func logDriver(k cyberrange.Kind) *swarm.Driver {
	name, opts := dockerapi.LogDriver(k)
	return &swarm.Driver{Name: name, Options: opts}
}

// limits are the plan's limits, the defaults where it has none.
func limits(l cyberrange.Limits) swarm.Limit {
	l = dockerapi.WithDefaults(l)
	return swarm.Limit{NanoCPUs: l.NanoCPUs, MemoryBytes: l.MemoryBytes, Pids: l.Pids}
}

// validNetwork checks what the engine would otherwise reject late or
// accept wrongly.
func validNetwork(n cyberrange.Network) error {
	return dockerapi.ValidNetwork(n, labelEdge)
}

func validContainer(c cyberrange.Container) error {
	switch {
	case !dockerapi.ValidName(c.Name):
		return fmt.Errorf("%w: service name %q", cyberrange.ErrInvalid, c.Name)
	case c.Image == "":
		return fmt.Errorf("%w: service %s has no image", cyberrange.ErrInvalid, c.Name)
	case len(c.Networks) == 0:
		return fmt.Errorf("%w: service %s is on no network", cyberrange.ErrInvalid, c.Name)
	case c.Labels[cyberrange.LabelExercise] == "":
		return fmt.Errorf("%w: service %s has no %s label", cyberrange.ErrInvalid, c.Name, cyberrange.LabelExercise)
	}
	seen := map[string]bool{}
	for _, a := range c.Networks {
		if seen[a.Network] {
			return fmt.Errorf("%w: service %s is attached twice to %s", cyberrange.ErrInvalid, c.Name, a.Network)
		}
		seen[a.Network] = true
	}
	paths := map[string]bool{}
	for _, m := range c.Mounts {
		if !dockerapi.ValidName(m.Volume) {
			return fmt.Errorf("%w: service %s: volume name %q", cyberrange.ErrInvalid, c.Name, m.Volume)
		}
		p := path.Clean(m.Path)
		if !path.IsAbs(m.Path) || p == "/" || paths[p] || (c.ReadOnly && p == "/tmp") {
			return fmt.Errorf("%w: service %s: volume %s mounted at %q", cyberrange.ErrInvalid, c.Name, m.Volume, m.Path)
		}
		paths[p] = true
	}
	for _, p := range c.Ports {
		if p.Name == "" || strings.ContainsAny(p.Name, "=,") || p.Number < 1 || p.Number > 65535 {
			return fmt.Errorf("%w: service %s: port %q %d", cyberrange.ErrInvalid, c.Name, p.Name, p.Number)
		}
		if p.Publish != "" {
			if _, err := netip.ParseAddrPort(p.Publish); err != nil {
				return fmt.Errorf("%w: service %s: port %s is published on %q, not host:port", cyberrange.ErrInvalid, c.Name, p.Name, p.Publish)
			}
		}
	}
	return nil
}
