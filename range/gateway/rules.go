package gateway

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// Rule allows a team to reach the addresses of Prefix on the ports
// FirstPort through LastPort. Both ports zero means every port.
//
// A rule may also say where the connection really goes: a team asks for a
// target by the address everybody knows it by (its replica address, which
// the checkers and the game use too), and the gateway dials Dial instead,
// e.g. the target's address on the team's own network so that the source
// of the connection tells the team. Dial needs a single address; DialPort
// (zero: the port asked for) needs a single port.
type Rule struct {
	Prefix              netip.Prefix
	FirstPort, LastPort uint16
	Dial                netip.Addr
	DialPort            uint16
}

// AllowAddrPort returns the rule that allows exactly one address and port.
func AllowAddrPort(ap netip.AddrPort) Rule {
	a := ap.Addr().Unmap()
	return Rule{Prefix: netip.PrefixFrom(a, a.BitLen()), FirstPort: ap.Port(), LastPort: ap.Port()}
}

// Allows reports whether the rule lets a connection to addr:port through.
func (r Rule) Allows(addr netip.Addr, port uint16) bool {
	if !r.Prefix.Contains(addr.Unmap()) {
		return false
	}
	if r.FirstPort == 0 && r.LastPort == 0 {
		return true
	}
	return port >= r.FirstPort && port <= r.LastPort
}

// Destination returns where a connection the rule allows to addr:port
// is dialled.
func (r Rule) Destination(addr netip.Addr, port uint16) netip.AddrPort {
	if r.Dial.IsValid() {
		addr = r.Dial
	}
	if r.DialPort != 0 {
		port = r.DialPort
	}
	return netip.AddrPortFrom(addr.Unmap(), port)
}

// String formats the rule in the syntax ParseRules reads.
func (r Rule) String() string {
	host := r.Prefix.String()
	if r.Prefix.IsSingleIP() {
		host = r.Prefix.Addr().String()
	}
	if r.Prefix.Addr().Is6() {
		host = "[" + host + "]"
	}
	var s string
	switch {
	case r.FirstPort == 0 && r.LastPort == 0:
		s = host + ":*"
	case r.FirstPort == r.LastPort:
		s = host + ":" + strconv.Itoa(int(r.FirstPort))
	default:
		s = fmt.Sprintf("%s:%d-%d", host, r.FirstPort, r.LastPort)
	}
	switch {
	case r.Dial.IsValid() && r.DialPort != 0:
		s += "=" + netip.AddrPortFrom(r.Dial, r.DialPort).String()
	case r.Dial.IsValid():
		s += "=" + r.Dial.String()
	}
	return s
}

// validate checks what the syntax cannot: a rewrite needs one address
// (and one port to change the port).
func (r Rule) validate() error {
	if !r.Prefix.IsValid() {
		return errors.New("no prefix")
	}
	if r.LastPort < r.FirstPort {
		return errors.New("port range runs backwards")
	}
	if r.DialPort != 0 && !r.Dial.IsValid() {
		return errors.New("a dial port without a dial address")
	}
	if r.Dial.IsValid() {
		if !r.Prefix.IsSingleIP() {
			return errors.New("a rewritten destination must be a single address")
		}
		if r.Dial.Zone() != "" || r.Dial.Is4In6() {
			return errors.New("dial address with a zone or IPv4-mapped")
		}
	}
	if r.DialPort != 0 && (r.FirstPort == 0 || r.FirstPort != r.LastPort) {
		return errors.New("a rewritten port must come from a single port")
	}
	return nil
}

// FormatRules is the inverse of ParseRules.
func FormatRules(rules []Rule) string {
	parts := make([]string, len(rules))
	for i, r := range rules {
		parts[i] = r.String()
	}
	return strings.Join(parts, ",")
}

// ParseRules reads a comma-separated list of destinations, each
// HOST:PORTS[=DIAL] where HOST is an address or a CIDR prefix (IPv6 in
// brackets) and PORTS is a port, a range "LO-HI" or "*" for every port. A
// HOST without ":PORTS" allows every port. DIAL, an address or
// address:port, is where the gateway really connects (see Rule). Blank
// items are ignored.
//
//	127.61.1.2:10025,127.61.1.2:10143-10144,10.61.0.0/16:*,[fd00::1]:25
//	10.61.1.10:25=10.60.7.10:25
func ParseRules(s string) ([]Rule, error) {
	var out []Rule
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		r, err := parseRule(item)
		if err != nil {
			return nil, fmt.Errorf("gateway: allow %q: %w", item, err)
		}
		out = append(out, r)
	}
	return out, nil
}

func parseRule(item string) (Rule, error) {
	item, dial, rewrite := strings.Cut(item, "=")
	r, err := parseAllow(item)
	if err != nil {
		return Rule{}, err
	}
	if rewrite {
		if ap, err := netip.ParseAddrPort(dial); err == nil {
			if ap.Port() == 0 {
				return Rule{}, errors.New("dial port 0")
			}
			r.Dial, r.DialPort = ap.Addr(), ap.Port()
		} else if r.Dial, err = netip.ParseAddr(dial); err != nil {
			return Rule{}, fmt.Errorf("dial address: %w", err)
		}
	}
	if err := r.validate(); err != nil {
		return Rule{}, err
	}
	return r, nil
}

func parseAllow(item string) (Rule, error) {
	var host, ports string
	switch {
	case strings.HasPrefix(item, "["):
		end := strings.IndexByte(item, ']')
		if end < 0 {
			return Rule{}, errors.New("missing ]")
		}
		host, ports = item[1:end], item[end+1:]
		if ports != "" {
			if ports[0] != ':' {
				return Rule{}, errors.New("expected :PORTS after ]")
			}
			ports = ports[1:]
		} else {
			ports = "*"
		}
	case strings.Count(item, ":") == 1:
		host, ports, _ = strings.Cut(item, ":")
	case strings.Count(item, ":") == 0:
		host, ports = item, "*"
	default:
		// A bare IPv6 address or prefix: no port.
		host, ports = item, "*"
	}
	p, err := parseHost(host)
	if err != nil {
		return Rule{}, err
	}
	r := Rule{Prefix: p}
	if ports == "*" {
		return r, nil
	}
	lo, hi, isRange := strings.Cut(ports, "-")
	if r.FirstPort, err = parsePort(lo); err != nil {
		return Rule{}, err
	}
	r.LastPort = r.FirstPort
	if isRange {
		if r.LastPort, err = parsePort(hi); err != nil {
			return Rule{}, err
		}
	}
	return r, nil
}

func parseHost(host string) (netip.Prefix, error) {
	if strings.Contains(host, "/") {
		p, err := netip.ParsePrefix(host)
		if err != nil {
			return netip.Prefix{}, err
		}
		if p.Addr().Is4In6() {
			return netip.Prefix{}, errors.New("IPv4-mapped prefix: write the IPv4 prefix")
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Prefix{}, err
	}
	if a.Zone() != "" {
		return netip.Prefix{}, errors.New("address with a zone")
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func parsePort(s string) (uint16, error) {
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil || n == 0 || (len(s) > 1 && s[0] == '0') {
		return 0, fmt.Errorf("bad port %q", s)
	}
	return uint16(n), nil
}

// ParseNames reads the --resolve list: comma-separated NAME=ADDRESS pairs.
// Names are matched without regard to case or a trailing dot; a name may be
// given twice only with the same address.
//
//	mail.tiengiang.gov.vn=127.61.1.2,webmail=127.61.1.2
func ParseNames(s string) (map[string]netip.Addr, error) {
	out := map[string]netip.Addr{}
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		name, addr, ok := strings.Cut(item, "=")
		if !ok {
			return nil, fmt.Errorf("gateway: resolve %q: expected NAME=ADDRESS", item)
		}
		n, err := normalizeName(name)
		if err != nil {
			return nil, fmt.Errorf("gateway: resolve %q: %w", item, err)
		}
		a, err := netip.ParseAddr(strings.TrimSpace(addr))
		if err != nil || a.Zone() != "" {
			return nil, fmt.Errorf("gateway: resolve %q: bad address", item)
		}
		a = a.Unmap()
		if prev, dup := out[n]; dup && prev != a {
			return nil, fmt.Errorf("gateway: resolve: %s given as both %s and %s", n, prev, a)
		}
		out[n] = a
	}
	return out, nil
}

// FormatNames is the inverse of ParseNames, sorted by name.
func FormatNames(names map[string]netip.Addr) string {
	keys := make([]string, 0, len(names))
	for k := range names {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + names[k].String()
	}
	return strings.Join(parts, ",")
}

// normalizeName lower-cases a host name and drops a trailing dot, and
// refuses anything that is not a plausible DNS name, so that the map's
// keys are exactly what lookups compare against.
func normalizeName(name string) (string, error) {
	n := strings.ToLower(strings.TrimSuffix(strings.TrimSpace(name), "."))
	if n == "" || len(n) > 253 {
		return "", errors.New("bad name length")
	}
	for _, label := range strings.Split(n, ".") {
		if label == "" || len(label) > 63 {
			return "", errors.New("empty or long label")
		}
		for _, c := range label {
			if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' && c != '_' {
				return "", fmt.Errorf("character %q not allowed in a name", c)
			}
		}
	}
	return n, nil
}
