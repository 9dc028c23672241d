package cyberrange

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/cyrange/cyrange/scenarios"
)

// Drivers a plan can be made for.
const (
	DriverDocker = "docker"
	DriverLocal  = "local"
)

// LabelNetwork says what a network is for: NetTeam, NetReplica or
// NetCheckers.
const LabelNetwork = "cyrange.network"

// Network roles, the values of LabelNetwork.
const (
	NetTeam     = "team"
	NetReplica  = "replica"
	NetCheckers = "checkers"
)

// The fixed parts of the address plan. In every /24 of the plan, .1 is the
// host's end (Docker's bridge; unused by the local driver). On an attack
// team's network the gateway is .2 (every connection a team makes through
// its gateway comes from there) and the attack box .3; on a replica's
// network the defence gateway and the defence box have the same numbers. Built-in checkers
// are .2 to .9 of the checkers network, in the order their services are
// listed. Targets start at .10:
//
//   - on a replica's network, the replica's target of service s (0-based)
//     is .10+s;
//   - on the checkers network and on every attack team's network, the
//     target of service s in replica r (both 0-based) is .10+r*S+s, where S
//     is the number of services. A target therefore has the same last
//     octet on every network but its replica's.
const (
	HostGateway   = 2
	HostAttackBox = 3
	HostChecker   = 2
	HostTarget    = 10
	MaxCheckers   = HostTarget - HostChecker
	maxHost       = 254
)

// Ports of the roles, as the scenario would number them; the local driver
// adds LocalPortOffset to every port a role listens on, so that nothing
// needs privileges.
const (
	// AdminPort is the admin console of a built-in target that names
	// none (PlanOptions.AdminPorts), which only the replica's own network
	// and the checkers may reach (--admin-allow).
	AdminPort = 8025
	// CheckerPort is where a built-in checker serves enochecker v2.
	CheckerPort = 8000
	// GatewayPort is where a gateway listens inside its container.
	GatewayPort = 1080
	// DefaultGatewayPortBase: team number i (1-based, as in the address
	// plan) has its gateway published on GatewayHost:(base+i).
	DefaultGatewayPortBase = 1080
	LocalPortOffset        = 10000
)

// Environment variables that carry secrets into roles: secrets are never
// put on a command line, where ps and docker inspect show them to anyone.
const (
	EnvCheckerSecret = "CYRANGE_CHECKER_SECRET"
	EnvGatewayToken  = "CYRANGE_GATEWAY_TOKEN"
	// EnvPeerSecret is shared by one defending team's built-in targets
	// and by no one else's (PeerSecret): what one of its systems knows of
	// another, a mailbox's password say, derives from it.
	EnvPeerSecret = "CYRANGE_PEER_SECRET"
	// The attack box makes a login of this name and password when it
	// starts: the team's short name and token, as at its gateway.
	EnvBoxUser     = "CYRANGE_BOX_USER"
	EnvBoxPassword = "CYRANGE_BOX_PASSWORD"
)

// AttackBoxName is what a team's gateway resolves to the team's own
// attack box, whose SSH port it lets the team reach; DefenceBoxName the
// same of a defence gateway and the defending team's box.
const (
	AttackBoxName  = "attackbox"
	DefenceBoxName = "defencebox"
)

// Where a target's log is shared with its defence box: the target writes
// a copy of its log lines to TargetLogDir/SERVICE.log on a volume that the
// box mounts read-only at DefenceLogDir/SERVICE/.
const (
	TargetLogDir  = "/var/log/cyrange"
	DefenceLogDir = "/var/log/replica"
)

// PortSSH is the attack box's SSH port, named PortSSHName.
const (
	PortSSH     = 22
	PortSSHName = "ssh"
)

// PortAdmin and PortSocks are the names of the ports the plan adds to
// those of the scenario.
const (
	PortAdmin   = "admin"
	PortChecker = "checker"
	PortSocks   = "socks"
)

// PlanOptions are what a plan needs besides the scenario. Secrets are
// passed in, not made up, so that a plan stays a pure function of its
// inputs.
type PlanOptions struct {
	// Driver is DriverDocker or DriverLocal.
	Driver string
	// Version names the default images; "dev" when empty.
	Version string
	// Image is the image of every role (docker); "cyrange:"+Version when
	// empty.
	Image string
	// AttackBoxImage is the attack box's image; "cyrange-attackbox:"+Version
	// when empty.
	AttackBoxImage string
	// GatewayHost is the host address gateways are published on; the
	// scenario's (network.<driver>.gateways) when empty.
	GatewayHost string
	// GatewayPortBase places team number i's gateway on port base+i; 0
	// means the scenario's, and a negative base publishes every gateway
	// on port 0, a port the engine chooses (read it from Status), as
	// does a scenario's port 0.
	GatewayPortBase int
	// TeamTokens are the teams' tokens, by index into Scenario.Teams:
	// each attack team's gateway password.
	TeamTokens []string
	// CheckerSecret is shared by targets and checkers.
	CheckerSecret string
	// Instance tells this exercise's range from another of the same
	// scenario on the engine (LabelInstance); empty leaves it out.
	Instance string
	// Targets names the built-in targets the binary serves; a service
	// whose built-in image is not among them is refused (nothing could
	// run it). Nil checks nothing.
	Targets []string
	// AdminPorts are the built-in targets' admin console ports by name,
	// as each target says (images/target); AdminPort for one not in it.
	AdminPorts map[string]int
}

// NewPlan computes the range of a scenario: a team network, a gateway
// and, if the scenario asks for one, an attack box per attack team; a
// replica network per defending team with a target per service on it;
// the checkers' network with one checker per built-in checker. See the
// Host* constants for the addresses.
//
// With DriverLocal every role is a process of the cyrange binary listening
// on one loopback address: a target on its replica address, a checker on
// its checkers address, a gateway on GatewayHost. Networks are address
// ranges only, targets have one attachment (their replica's), ports are
// the scenario's plus LocalPortOffset, and there are no attack boxes and
// no external images.
//
// NewPlan returns an error wrapping ErrInvalid when the scenario does not
// fit the address plan or an option is missing.
func NewPlan(sc *scenarios.Scenario, o PlanOptions) (*Plan, error) {
	b, err := newPlanBuilder(sc, o)
	if err != nil {
		return nil, err
	}
	if err := b.build(); err != nil {
		return nil, err
	}
	return b.p, nil
}

type planBuilder struct {
	sc      *scenarios.Scenario
	o       PlanOptions
	addrs   scenarios.AddressPlan
	local   bool
	p       *Plan
	attack  []int // indices into sc.Teams of attack-capable teams
	defence []int // indices into sc.Teams of defending teams, replica order
}

func invalidf(format string, args ...any) error {
	return fmt.Errorf("cyberrange: plan: %w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

func newPlanBuilder(sc *scenarios.Scenario, o PlanOptions) (*planBuilder, error) {
	if sc == nil {
		return nil, invalidf("no scenario")
	}
	b := &planBuilder{sc: sc, o: o}
	switch o.Driver {
	case DriverDocker:
		b.addrs = sc.Network.Docker
	case DriverLocal:
		b.addrs = sc.Network.Local
		b.local = true
	default:
		return nil, invalidf("driver must be %q or %q, not %q", DriverDocker, DriverLocal, o.Driver)
	}
	if b.o.Version == "" {
		b.o.Version = "dev"
	}
	if b.o.Image == "" {
		b.o.Image = "cyrange:" + b.o.Version
	}
	if b.o.AttackBoxImage == "" {
		b.o.AttackBoxImage = "cyrange-attackbox:" + b.o.Version
	}
	if b.o.GatewayHost == "" {
		b.o.GatewayHost = "127.0.0.1"
		if b.addrs.Gateways.IsValid() {
			b.o.GatewayHost = b.addrs.Gateways.Addr().String()
		}
	}
	if _, err := netip.ParseAddr(b.o.GatewayHost); err != nil {
		return nil, invalidf("gateway host %q is not an IP address", b.o.GatewayHost)
	}
	if b.o.GatewayPortBase == 0 {
		b.o.GatewayPortBase = DefaultGatewayPortBase
		if b.addrs.Gateways.IsValid() {
			b.o.GatewayPortBase = int(b.addrs.Gateways.Port())
			if b.o.GatewayPortBase == 0 {
				b.o.GatewayPortBase = -1
			}
		}
	}
	if b.o.CheckerSecret == "" {
		return nil, invalidf("no checker secret")
	}
	for i, t := range sc.Teams {
		if t.Role.CanAttack() {
			b.attack = append(b.attack, i)
			if i >= len(o.TeamTokens) || o.TeamTokens[i] == "" {
				return nil, invalidf("no token for team %q, which its gateway needs", t.Name)
			}
		}
		if t.Role.CanDefend() {
			b.defence = append(b.defence, i)
			if i >= len(o.TeamTokens) || o.TeamTokens[i] == "" {
				return nil, invalidf("no token for team %q, which its defence gateway needs", t.Name)
			}
		}
	}
	if n := HostTarget + len(b.defence)*len(sc.Services) - 1; n > maxHost {
		return nil, invalidf("%d replicas of %d services do not fit in a /24 (targets would reach .%d)",
			len(b.defence), len(sc.Services), n)
	}
	b.p = &Plan{Exercise: sc.Name, Driver: o.Driver}
	return b, nil
}

func (b *planBuilder) build() error {
	if err := b.networks(); err != nil {
		return err
	}
	if err := b.targets(); err != nil {
		return err
	}
	if err := b.checkers(); err != nil {
		return err
	}
	if err := b.gateways(); err != nil {
		return err
	}
	if err := b.defenceGateways(); err != nil {
		return err
	}
	for i := range b.p.Networks {
		n := &b.p.Networks[i]
		n.Labels[LabelPlanHash] = NetworkHash(*n)
	}
	for i := range b.p.Containers {
		c := &b.p.Containers[i]
		c.Labels[LabelPlanHash] = ContainerHash(*c)
	}
	return nil
}

// teamNetName, replicaNetName and checkersNetName are host-unique, so that
// two exercises can share a Docker engine.
func (b *planBuilder) teamNetName(team int) string {
	return b.sc.Name + "-team-" + b.sc.Teams[team].Short
}

func (b *planBuilder) replicaNetName(owner int) string {
	return b.sc.Name + "-replica-" + b.sc.Teams[owner].Short
}

func (b *planBuilder) checkersNetName() string { return b.sc.Name + "-checkers" }

func (b *planBuilder) labels(kind string, team int) map[string]string {
	l := map[string]string{LabelExercise: b.sc.Name}
	if b.o.Instance != "" {
		l[LabelInstance] = b.o.Instance
	}
	if kind != "" {
		l[LabelKind] = kind
	}
	if team >= 0 {
		l[LabelTeam] = b.sc.Teams[team].Short
	}
	return l
}

func (b *planBuilder) networks() error {
	for _, i := range b.attack {
		sub, ok := b.addrs.TeamSubnet(i + 1)
		if !ok {
			return invalidf("team %q (number %d) has no /24 in %s", b.sc.Teams[i].Name, i+1, b.addrs.Teams)
		}
		l := b.labels("", i)
		l[LabelNetwork] = NetTeam
		b.p.Networks = append(b.p.Networks, Network{Name: b.teamNetName(i), Subnet: sub, Team: i, Labels: l})
	}
	for j, i := range b.defence {
		sub, ok := b.addrs.ReplicaSubnet(j + 1)
		if !ok {
			return invalidf("replica %d of team %q has no /24 in %s", j+1, b.sc.Teams[i].Name, b.addrs.Replicas)
		}
		l := b.labels("", i)
		l[LabelNetwork] = NetReplica
		b.p.Networks = append(b.p.Networks, Network{Name: b.replicaNetName(i), Subnet: sub, Team: i, Labels: l})
	}
	chk := b.addrs.Checkers.Masked()
	if !chk.IsValid() || !chk.Addr().Is4() || chk.Bits() > 24 {
		return invalidf("checkers network %s is not an IPv4 prefix of at least a /24", b.addrs.Checkers)
	}
	l := b.labels("", -1)
	l[LabelNetwork] = NetCheckers
	b.p.Networks = append(b.p.Networks, Network{Name: b.checkersNetName(), Subnet: netip.PrefixFrom(chk.Addr(), 24), Team: -1, Labels: l})
	return nil
}

// host returns address .h of a /24.
func host(p netip.Prefix, h int) netip.Addr {
	a := p.Masked().Addr().As4()
	a[3] = byte(h)
	return netip.AddrFrom4(a)
}

func (b *planBuilder) network(name string) Network {
	for _, n := range b.p.Networks {
		if n.Name == name {
			return n
		}
	}
	panic("cyberrange: plan: no network " + name)
}

// port maps a port of the scenario to the one a role listens on; what
// names the role for the error.
func (b *planBuilder) port(n int, what string) (int, error) {
	if !b.local {
		return n, nil
	}
	if n+LocalPortOffset > 65535 {
		return 0, invalidf("%s: port %d plus %d is past the last port", what, n, LocalPortOffset)
	}
	return n + LocalPortOffset, nil
}

func (b *planBuilder) targets() error {
	nsvc := len(b.sc.Services)
	chk := b.network(b.checkersNetName())
	for r, owner := range b.defence {
		rnet := b.network(b.replicaNetName(owner))
		for s, svc := range b.sc.Services {
			builtin := scenarios.IsBuiltinImage(svc.Image)
			if builtin && b.o.Targets != nil && !slices.Contains(b.o.Targets, svc.Image) {
				return invalidf("service %q: no built-in target %q in this build (built-in: %s)", svc.Name, svc.Image,
					strings.Join(b.o.Targets, ", "))
			}
			if b.local && !builtin {
				return invalidf("service %q: image %q is not a built-in target, which is all the local driver runs", svc.Name, svc.Image)
			}
			c := Container{
				Name:     fmt.Sprintf("cyrange-%s-%s-%s", b.sc.Name, svc.Name, b.sc.Teams[owner].Short),
				Kind:     KindTarget,
				Image:    b.o.Image,
				Networks: []Attachment{{Network: rnet.Name, Address: host(rnet.Subnet, HostTarget+s)}},
				Labels:   b.labels(string(KindTarget), owner),
				Limits:   DefaultLimits(KindTarget),
				ReadOnly: true,
				Team:     owner,
				Service:  s,
			}
			c.Labels[LabelService] = svc.Name
			if !b.local {
				shared := HostTarget + r*nsvc + s
				c.Networks = append(c.Networks, Attachment{Network: chk.Name, Address: host(chk.Subnet, shared)})
				for _, t := range b.attack {
					tn := b.network(b.teamNetName(t))
					c.Networks = append(c.Networks, Attachment{Network: tn.Name, Address: host(tn.Subnet, shared)})
				}
			}
			for _, sp := range svc.Ports {
				n, err := b.port(sp.Number, "service "+svc.Name)
				if err != nil {
					return err
				}
				c.Ports = append(c.Ports, Port{Name: sp.Name, Number: n})
			}
			if !builtin {
				c.Image = svc.Image
				c.ReadOnly = false
				b.p.Containers = append(b.p.Containers, c)
				continue
			}
			adminPort := AdminPort
			if n, ok := b.o.AdminPorts[svc.Image]; ok {
				adminPort = n
			}
			admin, err := b.port(adminPort, "service "+svc.Name)
			if err != nil {
				return err
			}
			c.Ports = append(c.Ports, Port{Name: PortAdmin, Number: admin})
			listen := "0.0.0.0"
			if b.local {
				listen = c.Networks[0].Address.String()
			}
			c.Command = []string{"target", svc.Image}
			if b.sc.DefenceBox && !b.local {
				// A copy of the log for the defence box to read.
				c.Command = append(c.Command, "--log-file", TargetLogDir+"/"+svc.Name+".log")
				c.Mounts = []Mount{{Volume: b.logVolume(owner, svc.Name), Path: TargetLogDir}}
			}
			c.Command = append(c.Command, "--listen", listen)
			for _, p := range c.Ports {
				c.Command = append(c.Command, "--"+p.Name+"-port", strconv.Itoa(p.Number))
			}
			c.Command = append(c.Command, optionFlags(svc.Options)...)
			allow := rnet.Subnet.String() + "," + chk.Subnet.String()
			if b.local {
				// The local range's defence sits on the host itself.
				allow += ",127.0.0.1/32"
			}
			c.Command = append(c.Command, "--admin-allow", allow)
			// The replica's name, which its checker's master passwords
			// depend on: one learned on a replica opens nothing on
			// another.
			c.Command = append(c.Command, "--replica", TargetName(svc.Name, b.sc.Teams[owner].Short))
			c.Env = map[string]string{EnvCheckerSecret: b.o.CheckerSecret,
				EnvPeerSecret: PeerSecret(b.o.CheckerSecret, b.sc.Teams[owner].Short)}
			b.p.Containers = append(b.p.Containers, c)
		}
	}
	return nil
}

// PeerSecret is the secret the replicas of the defending team short
// share, from the exercise's checker secret: a credential one of them
// leaks opens its neighbours, never another team's.
func PeerSecret(checkerSecret, short string) string {
	m := hmac.New(sha256.New, []byte(checkerSecret))
	m.Write([]byte("peer\x00" + short))
	return hex.EncodeToString(m.Sum(nil))
}

// logVolume names the volume where owner's replica of service svc shares
// its log with the defence box.
func (b *planBuilder) logVolume(owner int, svc string) string {
	return fmt.Sprintf("cyrange-%s-log-%s-%s", b.sc.Name, svc, b.sc.Teams[owner].Short)
}

// optionFlags turns a service's options into flags, in key order: a
// scalar becomes --key value, a list --key a,b and a mapping --key with
// the comma-separated names of its keys whose value is true (how
// weaknesses are switched on). Underscores in keys become dashes.
func optionFlags(o scenarios.Options) []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(o)) {
		var v string
		switch x := o[k].(type) {
		case nil:
			continue
		case scenarios.Options:
			var on []string
			for _, name := range slices.Sorted(maps.Keys(x)) {
				if b, ok := x[name].(bool); ok && b {
					on = append(on, name)
				}
			}
			v = strings.Join(on, ",")
			if v == "" {
				v = "none"
			}
		case []any:
			parts := make([]string, 0, len(x))
			for _, e := range x {
				parts = append(parts, fmt.Sprint(e))
			}
			v = strings.Join(parts, ",")
		case float64:
			v = strconv.FormatFloat(x, 'f', -1, 64)
		default:
			v = fmt.Sprint(x)
		}
		out = append(out, "--"+strings.ReplaceAll(k, "_", "-"), v)
	}
	return out
}

func (b *planBuilder) checkers() error {
	chk := b.network(b.checkersNetName())
	seen := map[string]bool{}
	k := 0
	for s, svc := range b.sc.Services {
		name, ok := svc.IsBuiltinChecker()
		if !ok || seen[name] {
			continue
		}
		seen[name] = true
		if k >= MaxCheckers {
			return invalidf("more than %d built-in checkers", MaxCheckers)
		}
		addr := host(chk.Subnet, HostChecker+k)
		k++
		port, err := b.port(CheckerPort, "checker "+name)
		if err != nil {
			return err
		}
		listen := "0.0.0.0"
		if b.local {
			listen = addr.String()
		}
		cmd := []string{"checker", name, "--listen", netip.AddrPortFrom(netip.MustParseAddr(listen), uint16(port)).String()}
		// The checker reaches the targets on the ports they listen on,
		// which the local driver shifts.
		for _, p := range svc.Ports {
			n, err := b.port(p.Number, fmt.Sprintf("service %s port %s", svc.Name, p.Name))
			if err != nil {
				return err
			}
			cmd = append(cmd, "--"+p.Name+"-port", fmt.Sprint(n))
		}
		// The replicas, the only hosts the checker connects to, with the
		// names their targets were given.
		var targets []string
		for _, t := range b.p.Containers {
			if t.Kind != KindTarget {
				continue
			}
			if n, ok := b.sc.Services[t.Service].IsBuiltinChecker(); !ok || n != name {
				continue
			}
			entry := b.p.replicaAddr(t).String() + "="
			if scenarios.IsBuiltinImage(b.sc.Services[t.Service].Image) {
				entry += TargetName(t.Labels[LabelService], t.Labels[LabelTeam])
			}
			targets = append(targets, entry)
		}
		if len(targets) > 0 {
			cmd = append(cmd, "--targets", strings.Join(targets, ","))
		}
		c := Container{
			Name:     fmt.Sprintf("cyrange-%s-checker-%s", b.sc.Name, name),
			Kind:     KindChecker,
			Image:    b.o.Image,
			Command:  cmd,
			Env:      map[string]string{EnvCheckerSecret: b.o.CheckerSecret},
			Networks: []Attachment{{Network: chk.Name, Address: addr}},
			Ports:    []Port{{Name: PortChecker, Number: port}},
			Labels:   b.labels(string(KindChecker), -1),
			Limits:   DefaultLimits(KindChecker),
			ReadOnly: true,
			Team:     -1,
			Service:  s,
		}
		c.Labels[LabelService] = name
		b.p.Containers = append(b.p.Containers, c)
	}
	return nil
}

func (b *planBuilder) gateways() error {
	var boxes []Container
	for _, t := range b.attack {
		tn := b.network(b.teamNetName(t))
		published := 0
		if b.o.GatewayPortBase > 0 {
			published = b.o.GatewayPortBase + t + 1
			if published > 65535 {
				return invalidf("gateway port base %d leaves no port for team %d", b.o.GatewayPortBase, t+1)
			}
		}
		var allow, names []string
		for _, c := range b.p.Containers {
			if c.Kind != KindTarget || c.Team == t {
				continue
			}
			ask, dial := b.p.targetAddrs(t, c)
			names = append(names, TargetName(c.Labels[LabelService], c.Labels[LabelTeam])+"="+ask.String())
			for _, p := range c.Ports {
				if p.Name == PortAdmin {
					continue
				}
				rule := netip.AddrPortFrom(ask, uint16(p.Number)).String()
				if dial != ask {
					rule += "=" + netip.AddrPortFrom(dial, uint16(p.Number)).String()
				}
				allow = append(allow, rule)
			}
		}
		withBox := b.sc.AttackBox && !b.local
		if withBox {
			// Players log in to their own box through their gateway.
			box := host(tn.Subnet, HostAttackBox)
			allow = append(allow, netip.AddrPortFrom(box, PortSSH).String())
			names = append(names, AttackBoxName+"="+box.String())
		}
		b.p.Containers = append(b.p.Containers, b.gateway(KindGateway, "gateway", t, tn, published, allow, names))
		if withBox {
			boxes = append(boxes, b.box(KindAttackBox, "attackbox", t, tn, nil))
		}
	}
	b.p.Containers = append(b.p.Containers, boxes...)
	return nil
}

// gateway is team t's SOCKS5 gateway of kind on network n (its source
// address .2), published on the gateway host's port published (0: one the
// engine picks), letting in allow and resolving names.
func (b *planBuilder) gateway(kind Kind, role string, t int, n Network, published int, allow, names []string) Container {
	team := b.sc.Teams[t]
	pub := netip.AddrPortFrom(netip.MustParseAddr(b.o.GatewayHost), uint16(published))
	source := host(n.Subnet, HostGateway)
	listen, port := "0.0.0.0:"+strconv.Itoa(GatewayPort), GatewayPort
	if b.local {
		listen, port = pub.String(), published
	}
	cmd := []string{"gateway", "--team", team.Name, "--user", team.Short, "--token-env", EnvGatewayToken,
		"--listen", listen, "--source", source.String()}
	if len(allow) > 0 {
		cmd = append(cmd, "--allow", strings.Join(allow, ","), "--resolve", strings.Join(names, ","))
	}
	return Container{
		Name:     fmt.Sprintf("cyrange-%s-%s-%s", b.sc.Name, role, team.Short),
		Kind:     kind,
		Image:    b.o.Image,
		Command:  cmd,
		Env:      map[string]string{EnvGatewayToken: b.o.TeamTokens[t]},
		Networks: []Attachment{{Network: n.Name, Address: source}},
		Ports:    []Port{{Name: PortSocks, Number: port, Publish: pub.String()}},
		Labels:   b.labels(string(kind), t),
		Limits:   DefaultLimits(kind),
		ReadOnly: true,
		Team:     t,
		Service:  -1,
	}
}

// box is team t's workstation of kind on network n (address .3), where
// the team logs in with its short name and token.
func (b *planBuilder) box(kind Kind, role string, t int, n Network, mounts []Mount) Container {
	team := b.sc.Teams[t]
	return Container{
		Name:     fmt.Sprintf("cyrange-%s-%s-%s", b.sc.Name, role, team.Short),
		Kind:     kind,
		Image:    b.o.AttackBoxImage,
		Env:      map[string]string{EnvBoxUser: team.Short, EnvBoxPassword: b.o.TeamTokens[t]},
		Networks: []Attachment{{Network: n.Name, Address: host(n.Subnet, HostAttackBox)}},
		Ports:    []Port{{Name: PortSSHName, Number: PortSSH}},
		Labels:   b.labels(string(kind), t),
		Limits:   DefaultLimits(kind),
		Mounts:   mounts,
		Team:     t,
		Service:  -1,
	}
}

// defenceGateways gives every defending team a gateway and, when the
// scenario asks, a box on each of its replica networks. The gateway
// reaches that team's targets only, on every port (the admin console's
// too), and its box; the names and addresses it takes are the ones the
// team sees elsewhere: a target's name and its address as the checkers
// reach it.
func (b *planBuilder) defenceGateways() error {
	var boxes []Container
	for r, t := range b.defence {
		rn := b.network(b.replicaNetName(t))
		published := 0
		if b.o.GatewayPortBase > 0 {
			// After every team's attack gateway port.
			published = b.o.GatewayPortBase + len(b.sc.Teams) + r + 1
			if published > 65535 {
				return invalidf("gateway port base %d leaves no defence gateway port for team %q", b.o.GatewayPortBase, b.sc.Teams[t].Name)
			}
		}
		var allow, names []string
		var mounts []Mount
		for _, c := range b.p.Containers {
			if c.Kind != KindTarget || c.Team != t {
				continue
			}
			ask, dial := b.p.replicaAddr(c), c.Networks[0].Address
			names = append(names, TargetName(c.Labels[LabelService], c.Labels[LabelTeam])+"="+ask.String())
			for _, p := range c.Ports {
				rule := netip.AddrPortFrom(ask, uint16(p.Number)).String()
				if dial != ask {
					rule += "=" + netip.AddrPortFrom(dial, uint16(p.Number)).String()
					allow = append(allow, netip.AddrPortFrom(dial, uint16(p.Number)).String())
				}
				allow = append(allow, rule)
			}
			for _, m := range c.Mounts {
				svc := c.Labels[LabelService]
				mounts = append(mounts, Mount{Volume: m.Volume, Path: DefenceLogDir + "/" + svc, ReadOnly: true})
			}
		}
		withBox := b.sc.DefenceBox && !b.local
		if withBox {
			box := host(rn.Subnet, HostAttackBox)
			allow = append(allow, netip.AddrPortFrom(box, PortSSH).String())
			names = append(names, DefenceBoxName+"="+box.String())
		}
		b.p.Containers = append(b.p.Containers, b.gateway(KindDefenceGateway, "defencegw", t, rn, published, allow, names))
		if withBox {
			boxes = append(boxes, b.box(KindDefenceBox, "defencebox", t, rn, mounts))
		}
	}
	b.p.Containers = append(b.p.Containers, boxes...)
	return nil
}

// DefaultLimits are the resources a container of each kind gets.
func DefaultLimits(k Kind) Limits {
	const mib = 1 << 20
	switch k {
	case KindTarget:
		return Limits{MemoryBytes: 512 * mib, NanoCPUs: 1e9, Pids: 512}
	case KindChecker:
		return Limits{MemoryBytes: 256 * mib, NanoCPUs: 5e8, Pids: 256}
	case KindGateway, KindDefenceGateway:
		return Limits{MemoryBytes: 128 * mib, NanoCPUs: 5e8, Pids: 256}
	default:
		return Limits{MemoryBytes: 1024 * mib, NanoCPUs: 1e9, Pids: 512}
	}
}

// ContainerHash is the LabelPlanHash of a container: a digest of its whole
// spec but that label, so that any change to what it runs, where or how
// makes the orchestrator recreate it.
func ContainerHash(c Container) string {
	c.Labels = maps.Clone(c.Labels)
	delete(c.Labels, LabelPlanHash)
	return hashOf(c)
}

// NetworkHash is the LabelPlanHash of a network.
func NetworkHash(n Network) string {
	return hashOf(struct {
		Name   string
		Subnet netip.Prefix
	}{n.Name, n.Subnet})
}

func hashOf(v any) string {
	// encoding/json sorts map keys, so equal specs hash equal.
	b, err := json.Marshal(v)
	if err != nil {
		panic("cyberrange: hashing a plan: " + err.Error())
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// networkOf returns the network of role kind (NetTeam, NetReplica) owned
// by team, or the checkers' network when team is -1.
func (p *Plan) networkOf(role string, team int) (Network, bool) {
	for _, n := range p.Networks {
		if n.Labels[LabelNetwork] == role && n.Team == team {
			return n, true
		}
	}
	return Network{}, false
}

// Container returns the plan's container by name.
func (p *Plan) Container(name string) (Container, bool) {
	for _, c := range p.Containers {
		if c.Name == name {
			return c, true
		}
	}
	return Container{}, false
}

// Target returns the target container of owner's replica of service svc.
func (p *Plan) Target(owner, svc int) (Container, bool) {
	for _, c := range p.Containers {
		if c.Kind == KindTarget && c.Team == owner && c.Service == svc {
			return c, true
		}
	}
	return Container{}, false
}

// Checker returns the checker container serving the built-in checker
// named name (label LabelService), if the plan has one.
func (p *Plan) Checker(name string) (Container, bool) {
	for _, c := range p.Containers {
		if c.Kind == KindChecker && c.Labels[LabelService] == name {
			return c, true
		}
	}
	return Container{}, false
}

// AdminConsole returns the address (host:port) of the admin console of
// owner's replica of service svc as the replica's own network and the
// checkers reach it (the replica address, the port named PortAdmin), and
// false when the target has none.
func (p *Plan) AdminConsole(owner, svc int) (netip.AddrPort, bool) {
	c, ok := p.Target(owner, svc)
	if !ok {
		return netip.AddrPort{}, false
	}
	for _, port := range c.Ports {
		if port.Name == PortAdmin {
			return netip.AddrPortFrom(p.replicaAddr(c), uint16(port.Number)), true
		}
	}
	return netip.AddrPort{}, false
}

// ReplicaNetwork returns the subnet of owner's replica network.
func (p *Plan) ReplicaNetwork(owner int) (netip.Prefix, bool) {
	n, ok := p.networkOf(NetReplica, owner)
	if !ok {
		return netip.Prefix{}, false
	}
	return n.Subnet, true
}

// attachedTo returns c's address on the named network.
func (c Container) attachedTo(network string) (netip.Addr, bool) {
	for _, a := range c.Networks {
		if a.Network == network {
			return a.Address, true
		}
	}
	return netip.Addr{}, false
}

// replicaAddr is the target's address as checkers reach it: on the
// checkers network, or its only one (local).
func (p *Plan) replicaAddr(c Container) netip.Addr {
	if n, ok := p.networkOf(NetCheckers, -1); ok {
		if a, ok := c.attachedTo(n.Name); ok {
			return a
		}
	}
	return c.Networks[0].Address
}

// targetAddrs returns the address team asks its gateway for to reach
// target c (the one every list shows: the checkers' view) and the address
// the gateway dials (c's address on the team's network, where the team's
// source address is, or the same when c has none there).
func (p *Plan) targetAddrs(team int, c Container) (ask, dial netip.Addr) {
	ask = p.replicaAddr(c)
	dial = ask
	if n, ok := p.networkOf(NetTeam, team); ok {
		if a, ok := c.attachedTo(n.Name); ok {
			dial = a
		}
	}
	return ask, dial
}

// Placement tells the game where the range put things: each replica's
// address as the checkers reach it (the same address teams ask their
// gateway for) and each attack team's source network.
func (p *Plan) Placement() scenarios.Placement {
	return scenarios.Placement{
		ReplicaAddress: func(owner, svc int) string {
			c, ok := p.Target(owner, svc)
			if !ok {
				return ""
			}
			return p.replicaAddr(c).String()
		},
		TeamNetwork: func(i int) string {
			n, ok := p.networkOf(NetTeam, i)
			if !ok {
				return ""
			}
			return n.Subnet.String()
		},
		ReplicaPorts: func(owner, svc int) []scenarios.Port {
			c, ok := p.Target(owner, svc)
			if !ok {
				return nil
			}
			var out []scenarios.Port
			for _, port := range teamPorts(c) {
				out = append(out, scenarios.Port{Name: port.Name, Number: port.Number})
			}
			return out
		},
	}
}

// ReplicaPorts returns the ports of the target of service svc owned by
// team owner as checkers and teams reach them (the admin console's
// included, which only checkers and the owner may reach), or nil.
func (p *Plan) ReplicaPorts(owner, svc int) []Port {
	c, ok := p.Target(owner, svc)
	if !ok {
		return nil
	}
	return slices.Clone(c.Ports)
}

// TargetFor returns what team asks its gateway for to reach the target of
// service svc owned by team owner: the address and the ports open to
// teams (not the admin console). ok is false when there is no such target
// or team has no gateway.
func (p *Plan) TargetFor(team, owner, svc int) (addr netip.Addr, ports []Port, ok bool) {
	c, ok := p.Target(owner, svc)
	if !ok {
		return netip.Addr{}, nil, false
	}
	if _, ok := p.networkOf(NetTeam, team); !ok {
		return netip.Addr{}, nil, false
	}
	addr, _ = p.targetAddrs(team, c)
	return addr, teamPorts(c), true
}

// KnownPorts maps the port names of owner's target of service svc to
// their numbers, the admin console's included: what an attacker knows of
// a replica's ports (the numbers are the target's documented ones, as
// the range shifts them), though its gateway lets it reach only the
// others. An exploit that makes the replica call itself (SSRF) needs the
// console's.
func (p *Plan) KnownPorts(owner, svc int) map[string]int {
	return PortMap(p.ReplicaPorts(owner, svc))
}

// PortMap maps ports' names to their numbers, as clients of a target
// (its exploits, its checker) name them.
func PortMap(ports []Port) map[string]int {
	m := make(map[string]int, len(ports))
	for _, p := range ports {
		m[p.Name] = p.Number
	}
	return m
}

// teamPorts returns the ports of target c open to teams: all but the
// admin console's.
func teamPorts(c Container) []Port {
	var out []Port
	for _, port := range c.Ports {
		if port.Name != PortAdmin {
			out = append(out, port)
		}
	}
	return out
}

// TeamAddress returns the target's address on team's own network, which
// the team's gateway dials (and an attack box reaches directly); with the
// local driver it is the replica address.
func (p *Plan) TeamAddress(team, owner, svc int) (netip.Addr, bool) {
	c, ok := p.Target(owner, svc)
	if !ok {
		return netip.Addr{}, false
	}
	_, dial := p.targetAddrs(team, c)
	return dial, true
}

// TargetName is the name a team may ask its gateway for instead of a
// target's address (curl --socks5-hostname): "<service>.<owner's short>",
// e.g. "mail.d01".
func TargetName(service, ownerShort string) string { return service + "." + ownerShort }

// GatewayInfo is how a team reaches its targets.
type GatewayInfo struct {
	// Container is the gateway's container name.
	Container string `json:"container"`
	// Team is the team's name, the SOCKS5 user name (its short id is
	// accepted too); the password is the team's token.
	Team string `json:"user"`
	// Short is the team's short id.
	Short string `json:"short"`
	// Address is host:port of the SOCKS5 server; its port is 0 when the
	// engine chooses it (see Report).
	Address string `json:"socks5"`
	// Source is the team's network, where its connections come from.
	Source string `json:"source"`
	// Defence is true of a defence gateway, which reaches the team's own
	// replicas (Source is then their network).
	Defence bool `json:"defence,omitempty"`
	// Box is what the gateway resolves to the team's box, when it has
	// one.
	Box string `json:"box,omitempty"`
	// BoxAddress is the box's address, the same place as Box.
	BoxAddress string `json:"box_address,omitempty"`
}

// Gateway returns attack team's gateway, or false when the team has none.
func (p *Plan) Gateway(team int) (GatewayInfo, bool) {
	return p.gatewayOf(KindGateway, team)
}

// DefenceGateway returns defending team's gateway into its own replicas,
// or false when the team has none.
func (p *Plan) DefenceGateway(team int) (GatewayInfo, bool) {
	return p.gatewayOf(KindDefenceGateway, team)
}

func (p *Plan) gatewayOf(kind Kind, team int) (GatewayInfo, bool) {
	netRole, box, boxKind := NetTeam, AttackBoxName, KindAttackBox
	if kind == KindDefenceGateway {
		netRole, box, boxKind = NetReplica, DefenceBoxName, KindDefenceBox
	}
	for _, c := range p.Containers {
		if c.Kind != kind || c.Team != team {
			continue
		}
		gi := GatewayInfo{Container: c.Name, Team: commandFlag(c.Command, "--team"), Short: c.Labels[LabelTeam]}
		for _, port := range c.Ports {
			if port.Name == PortSocks {
				gi.Address = port.Publish
			}
		}
		if n, ok := p.networkOf(netRole, team); ok {
			gi.Source = n.Subnet.String()
		}
		gi.Defence = kind == KindDefenceGateway
		for _, b := range p.Containers {
			if b.Kind == boxKind && b.Team == team && len(b.Networks) > 0 {
				gi.Box, gi.BoxAddress = box, b.Networks[0].Address.String()
			}
		}
		return gi, true
	}
	return GatewayInfo{}, false
}

// CheckerURL returns the enochecker v2 URL of the built-in checker NAME
// (a service's "builtin:NAME") when the plan runs it, or false.
func (p *Plan) CheckerURL(name string) (string, bool) {
	c, ok := p.Checker(name)
	if !ok || len(c.Networks) == 0 || len(c.Ports) == 0 {
		return "", false
	}
	return "http://" + netip.AddrPortFrom(c.Networks[0].Address, uint16(c.Ports[0].Number)).String(), true
}

func commandFlag(cmd []string, name string) string {
	for i := 0; i+1 < len(cmd); i++ {
		if cmd[i] == name {
			return cmd[i+1]
		}
	}
	return ""
}

// Instance is the instance the plan's resources carry (LabelInstance),
// "" for none.
func (p *Plan) Instance() string {
	for _, n := range p.Networks {
		return n.Labels[LabelInstance]
	}
	for _, c := range p.Containers {
		return c.Labels[LabelInstance]
	}
	return ""
}

// InstanceID is the instance of the exercise whose checker secret is
// secret: a digest of it, which says nothing of the secret.
func InstanceID(secret string) string {
	sum := sha256.Sum256([]byte("cyrange-instance\x00" + secret))
	return hex.EncodeToString(sum[:6])
}

// Names returns the plan's container names, sorted.
func (p *Plan) Names() []string {
	out := make([]string, 0, len(p.Containers))
	for _, c := range p.Containers {
		out = append(out, c.Name)
	}
	sort.Strings(out)
	return out
}

// TeamBehind returns the attack team whose own traffic comes from addr
// without passing its gateway: an address on the team's network that is
// not the host's end (.1), the team's gateway (whose connections the
// gateway's telemetry records) or a target's. That is the team's attack
// box, and on the local driver any process that binds an address of the
// team (no boundary there). A target's flow records from such an address
// are the team's ground truth.
func (p *Plan) TeamBehind(addr netip.Addr) (team int, ok bool) {
	addr = addr.Unmap()
	for _, n := range p.Networks {
		if n.Labels[LabelNetwork] != NetTeam || !n.Subnet.Contains(addr) {
			continue
		}
		if h := addr.As4()[3]; h < HostAttackBox || h == maxHost+1 {
			return 0, false // the network's own address, the host, the gateway, broadcast
		}
		for _, c := range p.Containers {
			if c.Kind == KindAttackBox {
				continue
			}
			for _, a := range c.Networks {
				if a.Address == addr {
					return 0, false
				}
			}
		}
		return n.Team, true
	}
	return 0, false
}
