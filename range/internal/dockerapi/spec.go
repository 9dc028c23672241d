package dockerapi

import (
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"

	"github.com/moby/moby/api/types/network"

	cyberrange "github.com/cyrange/cyrange/range"
)

// SysctlUnprivPorts lets unprivileged processes bind the scenario's ports
// (25, 80...) without CAP_NET_BIND_SERVICE: the sysctl is per network
// namespace. Every container gets it at 0.
const SysctlUnprivPorts = "net.ipv4.ip_unprivileged_port_start"

// BoxCaps are what a team's workstation (an attack box, a defence box)
// keeps of root's capabilities: its sshd must change user and chroot,
// and nmap wants raw sockets. Every other container keeps none. Callers
// clone it before handing it to the SDK.
var BoxCaps = []string{"CHOWN", "DAC_OVERRIDE", "FOWNER", "SETUID", "SETGID", "SYS_CHROOT", "KILL", "NET_RAW", "AUDIT_WRITE"}

// IsBox reports whether k is a team's workstation, the attack box image
// with its SSH server: an attack box or a defence box.
func IsBox(k cyberrange.Kind) bool {
	return k == cyberrange.KindAttackBox || k == cyberrange.KindDefenceBox
}

// LogDriver is the log driver of a container of kind k and its options:
// targets and checkers log to the engine's compact "local" driver;
// gateways, the defence's too, to json-file, whose lines (the connection
// telemetry) stay readable as they were written, with room for a long
// exercise. Both are drivers `docker logs` and `docker service logs` can
// read.
func LogDriver(k cyberrange.Kind) (name string, options map[string]string) {
	if k == cyberrange.KindGateway || k == cyberrange.KindDefenceGateway {
		return "json-file", map[string]string{"max-size": "64m", "max-file": "8"}
	}
	return "local", map[string]string{"max-size": "16m", "max-file": "3"}
}

// Limits applied when the plan leaves one at zero: nothing runs unbounded.
const (
	DefaultMemory = 512 << 20
	DefaultCPUs   = 1e9
	DefaultPids   = 512
)

// WithDefaults is l with each limit left at zero (or below) set to its
// default.
func WithDefaults(l cyberrange.Limits) cyberrange.Limits {
	if l.MemoryBytes <= 0 {
		l.MemoryBytes = DefaultMemory
	}
	if l.NanoCPUs <= 0 {
		l.NanoCPUs = DefaultCPUs
	}
	if l.Pids <= 0 {
		l.Pids = DefaultPids
	}
	return l
}

// ScopeLabels are c's exercise, instance and team labels, those it has:
// what the driver's own objects made for c (volumes, a gateway's edge
// network, secrets) carry, as the networks do, so that the exercise's
// teardown finds them and another instance's are told apart.
func ScopeLabels(c cyberrange.Container) map[string]string {
	labels := map[string]string{}
	for _, k := range []string{cyberrange.LabelExercise, cyberrange.LabelInstance, cyberrange.LabelTeam} {
		if v := c.Labels[k]; v != "" {
			labels[k] = v
		}
	}
	return labels
}

// Hostname is a container's host name: its name, cut to what a host name
// may be.
func Hostname(name string) string {
	name = strings.NewReplacer("_", "-", ".", "-").Replace(name)
	if len(name) > 63 {
		name = name[:63]
	}
	return strings.Trim(name, "-")
}

// ValidName is the engine's rule for container, service and network
// names.
func ValidName(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i, r := range s {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
		if i > 0 {
			ok = ok || r == '_' || r == '.' || r == '-'
		}
		if !ok {
			return false
		}
	}
	return true
}

// ValidNetwork checks what the engine would otherwise reject late or
// accept wrongly in a plan's network. ownLabel is the label the driver
// gives its own networks, which a plan's network must not carry. The
// error wraps cyberrange.ErrInvalid.
func ValidNetwork(n cyberrange.Network, ownLabel string) error {
	if !ValidName(n.Name) {
		return fmt.Errorf("%w: network name %q", cyberrange.ErrInvalid, n.Name)
	}
	if !n.Subnet.IsValid() || !n.Subnet.Addr().Is4() || n.Subnet.Bits() > 30 {
		return fmt.Errorf("%w: network %s: subnet %s is not an IPv4 prefix of at least a /30", cyberrange.ErrInvalid, n.Name, n.Subnet)
	}
	if n.Labels[cyberrange.LabelExercise] == "" {
		return fmt.Errorf("%w: network %s has no %s label", cyberrange.ErrInvalid, n.Name, cyberrange.LabelExercise)
	}
	if n.Labels[ownLabel] != "" {
		return fmt.Errorf("%w: network %s: label %s is the driver's", cyberrange.ErrInvalid, n.Name, ownLabel)
	}
	return nil
}

// CheckNetwork compares an existing network of n's name with the plan's
// n in what every driver makes the same: its exercise and its subnet. The
// error wraps cyberrange.ErrInvalid; the driver names the network and
// checks its own options.
func CheckNetwork(got network.Inspect, n cyberrange.Network) error {
	ex := n.Labels[cyberrange.LabelExercise]
	if got.Labels[cyberrange.LabelExercise] != ex {
		return fmt.Errorf("%w: it exists and is not exercise %q's", cyberrange.ErrInvalid, ex)
	}
	var sub netip.Prefix
	if len(got.IPAM.Config) > 0 {
		sub = got.IPAM.Config[0].Subnet
	}
	if sub != n.Subnet.Masked() {
		return fmt.Errorf("%w: it exists with subnet %s, the plan has %s", cyberrange.ErrInvalid, sub, n.Subnet)
	}
	return nil
}

// FormatPorts writes the value of the label in which a driver records a
// container's port names ("socks=1080,admin=8025"), so that List can say
// where each named port is reachable: name=number pairs in name order.
func FormatPorts(ports []cyberrange.Port) string {
	parts := make([]string, 0, len(ports))
	for _, p := range ports {
		parts = append(parts, p.Name+"="+strconv.Itoa(p.Number))
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

// ParsePorts reads a FormatPorts value back: port number to name. Labels
// come from the engine, where anyone with access to it may have edited
// them, so a malformed pair is skipped, not trusted.
func ParsePorts(s string) map[int]string {
	out := map[int]string{}
	for part := range strings.SplitSeq(s, ",") {
		name, num, ok := strings.Cut(part, "=")
		if !ok || name == "" {
			continue
		}
		n, err := strconv.Atoi(num)
		if err != nil || n < 1 || n > 65535 {
			continue
		}
		out[n] = name
	}
	return out
}
