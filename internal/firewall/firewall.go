// Package firewall does for a target what a firewall in front of it
// would, as the defence sets it up in the target's admin console: the
// source ranges it blocks (or, on the admin port, allows), read and
// changed as the console takes them, and a listener that drops a refused
// source's connections before the server writes a byte. The mail server
// and the portal share it, so that a range the defence types means the
// same in both consoles.
//
// A source here is the peer's IP address (an IPv4-mapped IPv6 address as
// IPv4); internal/persource, which bounds what each source holds, counts
// an IPv6 /64 as one.
//
// It imports only the standard library.
package firewall

import (
	"net"
	"net/netip"
	"slices"
	"strings"
)

// Parse reads a list of CIDR ranges or single addresses separated by
// commas or white space, as the console's forms and a target's
// --admin-allow flag give it. A range comes back masked, an address as
// its own /32 or /128, so that the same range typed twice is one.
func Parse(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.FieldsFunc(list, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\t' || r == '\r' }) {
		p, err := parseRange(f)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

func parseRange(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// Contains reports whether src is in one of ranges.
func Contains(ranges []netip.Prefix, src netip.Addr) bool {
	src = src.Unmap()
	for _, p := range ranges {
		if p.Contains(src) {
			return true
		}
	}
	return false
}

// Update returns cur with the ranges of block added (each once, after
// those already there) and those of unblock removed. It does not change
// cur, which the caller may be sharing with readers.
func Update(cur, block, unblock []netip.Prefix) []netip.Prefix {
	out := slices.Clone(cur)
	for _, p := range block {
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return slices.DeleteFunc(out, func(p netip.Prefix) bool { return slices.Contains(unblock, p) })
}

// Source returns the IP of a "host:port" address (an http.Request's
// RemoteAddr), or the zero Addr when it has none.
func Source(hostport string) netip.Addr {
	if ap, err := netip.ParseAddrPort(hostport); err == nil {
		return ap.Addr().Unmap()
	}
	return netip.Addr{}
}

// SourceOf returns the IP of a net.Addr (a connection's RemoteAddr), or
// the zero Addr when it has none.
func SourceOf(a net.Addr) netip.Addr {
	if a == nil {
		return netip.Addr{}
	}
	return Source(a.String())
}

// Guard returns ln dropping the connections from sources allow refuses
// before any byte is written, as a firewall in front of the server would:
// the server never sees them. denied is told of each before it is closed,
// for the log.
func Guard(ln net.Listener, allow func(netip.Addr) bool, denied func(net.Conn)) net.Listener {
	return &guarded{Listener: ln, allow: allow, denied: denied}
}

type guarded struct {
	net.Listener
	allow  func(netip.Addr) bool
	denied func(net.Conn)
}

func (l *guarded) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.allow(SourceOf(c.RemoteAddr())) {
			return c, nil
		}
		l.denied(c)
		_ = c.Close()
	}
}
