package scenarios

import (
	"fmt"
	"maps"
	"math"
	"net/netip"
	"slices"
	"time"
)

// Limits every scenario must respect. The address plan gives each team and
// each replica one /24 out of a /16, which is where MaxTeams comes from; the
// other limits keep service and store indices small enough to be encoded in
// a flag.
const (
	MaxTeams      = 250
	MaxServices   = 64
	MaxFlagStores = 16
	MaxPorts      = 32
	// MaxFlagLifetime bounds how many ticks back a flag stays valid.
	MaxFlagLifetime = 100
	// SubmissionMaxLine is the longest flag submission line the TCP
	// protocol accepts; it is part of the protocol, not a tunable.
	SubmissionMaxLine = 200
	// MaxFileSize is the largest scenario file Load accepts.
	MaxFileSize = 1 << 20
)

// Scenario is one exercise: who plays, what they attack and defend, how long
// a tick is, how points are counted and where everything lives on the
// network. A Scenario returned by Load has every default filled in and has
// passed Validate.
type Scenario struct {
	// Name is the exercise id, used in container labels and file names.
	Name string
	// Title is what people read; any Unicode text.
	Title string
	// Locale is the default UI language: "vi" or "en".
	Locale string
	// Tick is the length of one game round.
	Tick time.Duration
	// FlagLifetime is how many ticks a flag stays valid.
	FlagLifetime int
	// GetflagDepth is how many of the last ticks' flags getflag checks.
	GetflagDepth int
	// Duration ends the game after this much running time; 0 never ends it.
	Duration time.Duration
	// FreezeAt freezes the public board after this much running time; 0
	// never freezes it.
	FreezeAt time.Duration
	// RequireTelemetry scores a capture only if the gateway saw the team
	// connect to the service during the flag's lifetime.
	RequireTelemetry bool
	FlagFormat       FlagFormat
	Scoring          Scoring
	Submission       Submission
	Network          Network
	Teams            []Team
	Services         []Service
	// AttackBox gives every attack team a container with tools, reachable
	// on its team network.
	AttackBox bool
	// DefenceBox gives every defending team a workstation with tools on
	// each of its replica networks' side, reached over SSH through its
	// defence gateway, where the replicas' logs can be read.
	DefenceBox bool

	// source is the file name the scenario was read from, for messages.
	source string
	// lines maps field paths to the line they appear on, so validation can
	// point at the file; nil for scenarios that did not come from a file.
	lines map[string]int
}

// Role says what a team does: attack other teams' replicas, defend its own
// replica, or both (a classic attack/defence CTF).
type Role string

// The roles a team may have. "defense" is accepted in files as a spelling of
// RoleDefence.
const (
	RoleAttack  Role = "attack"
	RoleDefence Role = "defence"
	RoleBoth    Role = "both"
)

// CanAttack reports whether a team with this role scores captures.
func (r Role) CanAttack() bool { return r == RoleAttack || r == RoleBoth }

// CanDefend reports whether a team with this role owns a replica.
func (r Role) CanDefend() bool { return r == RoleDefence || r == RoleBoth }

// Team is one participant.
type Team struct {
	// Name is shown everywhere and used to log in; any Unicode text,
	// kept exactly as written.
	Name string
	Role Role
	// Short is a label- and hostname-safe id: a-z, 0-9 and '-', at most 8
	// characters. Defaults to a01.. for attack teams, d01.. for defence
	// teams and t01.. for teams with role both, numbered within the role.
	Short string
}

// Service is one target system every defending team runs a replica of.
type Service struct {
	// Name is the service id: a-z, 0-9 and '-'.
	Name string
	// Title is what people read; defaults to Name.
	Title string
	// Image is the target image: a built-in target (cyrange target IMAGE)
	// or any container image reference. Defaults to Name.
	Image string
	// Checker is "builtin:NAME" for a checker compiled into cyrange, or the
	// http(s) URL of an enochecker v2 checker. Defaults to builtin:IMAGE.
	Checker string
	// Weight multiplies every point the service is worth; defaults to 1.
	Weight float64
	// FlagStores names the places a flag is planted, one flag per store per
	// tick.
	FlagStores []string
	// Ports lists the named ports the target serves, in file order.
	Ports []Port
	// Options is passed to the target as is.
	Options Options
}

// Port is one named port a target serves.
type Port struct {
	Name   string
	Number int
}

// IsBuiltinChecker reports whether the service's checker is compiled into
// cyrange, and its name if so.
func (s Service) IsBuiltinChecker() (name string, ok bool) {
	const prefix = "builtin:"
	if len(s.Checker) > len(prefix) && s.Checker[:len(prefix)] == prefix {
		return s.Checker[len(prefix):], true
	}
	return "", false
}

// Options is the free-form settings map handed to a target. Values are what
// YAML produces: string, int, float64, bool, nil, []any and Options (nested
// mappings are always Options, never map[string]any).
type Options map[string]any

// Int returns the integer at key, or def when it is missing or not a whole
// number.
func (o Options) Int(key string, def int) int {
	switch v := o[key].(type) {
	case int:
		return v
	case float64:
		if v == math.Trunc(v) && math.Abs(v) <= 1<<53 {
			return int(v)
		}
	}
	return def
}

// Bool returns the boolean at key, or def when it is missing or not a
// boolean.
func (o Options) Bool(key string, def bool) bool {
	if v, ok := o[key].(bool); ok {
		return v
	}
	return def
}

// String returns the string at key, or def when it is missing or not a
// string.
func (o Options) String(key, def string) string {
	if v, ok := o[key].(string); ok {
		return v
	}
	return def
}

// Sub returns the mapping at key, or nil when it is missing or not a
// mapping.
func (o Options) Sub(key string) Options {
	v, _ := o[key].(Options)
	return v
}

// FlagFormat describes what flags look like.
type FlagFormat struct {
	// Prefix is prepended to every flag: up to 8 characters of A-Z and 0-9.
	Prefix string
}

// Pattern is the regular expression a flag matches, as exploit farms and the
// checker protocol's flagRegex expect it.
func (f FlagFormat) Pattern() string {
	// Flags stay 32 characters long with or without a prefix, so the
	// farms' default regex still matches a whole prefixed flag.
	return fmt.Sprintf("%s[A-Z0-9]{%d}=", f.Prefix, 31-len(f.Prefix))
}

// Scoring holds the scoring constants of SCORING.md; each is multiplied by
// the service weight.
type Scoring struct {
	FirstBlood          float64
	DetectionTrue       float64
	DetectionTimeliness float64
	DetectionFalse      float64
	DetectionStore      float64
}

// Submission bounds each team's flag submission.
type Submission struct {
	// Rate is the sustained number of flags per second per team.
	Rate float64
	// Burst is how many flags a team may send at once above Rate.
	Burst int
	// MaxLine is the longest submission line; always SubmissionMaxLine.
	MaxLine int
}

// Network is the address plan for each driver.
type Network struct {
	Docker AddressPlan
	Local  AddressPlan
}

// AddressPlan places teams, replicas and checkers on separate address
// ranges. Team i (1-based, in the order of Scenario.Teams) gets the i-th /24
// of Teams, replica j (1-based, in the order of Scenario.DefenceTeams) the
// j-th /24 of Replicas; the /24 with index 0 is never handed out.
type AddressPlan struct {
	Teams    netip.Prefix
	Replicas netip.Prefix
	Checkers netip.Prefix
	// Gateways is where the players reach the attack teams' gateways on
	// the host: team i's (1-based) listens on the address at port
	// Gateways.Port()+i, or on a port the system picks when the port is 0.
	// The zero value means the default, 127.0.0.1:1080.
	Gateways netip.AddrPort
}

// TeamSubnet returns the /24 of team i (1-based), or false when the plan has
// no room for it.
func (p AddressPlan) TeamSubnet(i int) (netip.Prefix, bool) {
	return nthSubnet(p.Teams, i)
}

// ReplicaSubnet returns the /24 of replica j (1-based), or false when the
// plan has no room for it.
func (p AddressPlan) ReplicaSubnet(j int) (netip.Prefix, bool) {
	return nthSubnet(p.Replicas, j)
}

// subnetCapacity is how many /24s a base holds after setting index 0 aside.
func subnetCapacity(base netip.Prefix) int {
	if !base.IsValid() || !base.Addr().Is4() || base.Bits() > 24 {
		return 0
	}
	n := 1 << (24 - base.Bits())
	return n - 1
}

func nthSubnet(base netip.Prefix, i int) (netip.Prefix, bool) {
	if i < 1 || i > subnetCapacity(base) {
		return netip.Prefix{}, false
	}
	a := base.Masked().Addr().As4()
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	v += uint32(i) << 8
	addr := netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
	return netip.PrefixFrom(addr, 24), true
}

// Source is the file the scenario was read from ("demo.yaml" for a
// built-in), or "" for a scenario built in code.
func (s *Scenario) Source() string { return s.source }

// AttackTeams returns the teams that score captures: roles attack and both.
func (s *Scenario) AttackTeams() []Team {
	var out []Team
	for _, t := range s.Teams {
		if t.Role.CanAttack() {
			out = append(out, t)
		}
	}
	return out
}

// DefenceTeams returns the teams that own a replica, roles defence and both,
// in replica order: replica j belongs to DefenceTeams()[j-1].
func (s *Scenario) DefenceTeams() []Team {
	var out []Team
	for _, t := range s.Teams {
		if t.Role.CanDefend() {
			out = append(out, t)
		}
	}
	return out
}

// Clone returns a deep copy.
func (s *Scenario) Clone() *Scenario {
	c := *s
	c.Teams = slices.Clone(s.Teams)
	c.Services = make([]Service, len(s.Services))
	for i, svc := range s.Services {
		svc.FlagStores = slices.Clone(svc.FlagStores)
		svc.Ports = slices.Clone(svc.Ports)
		svc.Options = cloneOptions(svc.Options)
		c.Services[i] = svc
	}
	if s.Services == nil {
		c.Services = nil
	}
	c.lines = maps.Clone(s.lines)
	return &c
}

func cloneOptions(o Options) Options {
	if o == nil {
		return nil
	}
	out := make(Options, len(o))
	for k, v := range o {
		out[k] = cloneValue(v)
	}
	return out
}

func cloneValue(v any) any {
	switch v := v.(type) {
	case Options:
		return cloneOptions(v)
	case map[string]any:
		return cloneOptions(v)
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = cloneValue(x)
		}
		return out
	default:
		return v
	}
}

// AttackTeamName is the name WithAttackTeams gives the i-th generated team
// (1-based).
func AttackTeamName(i int) string {
	return fmt.Sprintf("Đội tấn công %02d", i)
}

// WithAttackTeams returns a copy in which the teams with role attack are
// replaced by n generated ones, "Đội tấn công 01" to "Đội tấn công NN" with
// short names a01 to aNN, placed where the first attack team was (first, if
// there was none). Teams with roles defence and both are kept. The copy
// carries no line numbers, since its teams no longer match the file; call
// Validate on it, as n may exceed what the address plan holds.
func (s *Scenario) WithAttackTeams(n int) *Scenario {
	c := s.Clone()
	c.lines = nil
	generated := make([]Team, 0, max(n, 0))
	for i := 1; i <= n; i++ {
		generated = append(generated, Team{Name: AttackTeamName(i), Role: RoleAttack, Short: fmt.Sprintf("a%02d", i)})
	}
	at := -1
	teams := make([]Team, 0, len(s.Teams)+len(generated))
	for _, t := range s.Teams {
		if t.Role == RoleAttack {
			if at < 0 {
				at = len(teams)
			}
			continue
		}
		teams = append(teams, t)
	}
	if at < 0 {
		at = 0
	}
	c.Teams = slices.Insert(teams, at, generated...)
	return c
}
