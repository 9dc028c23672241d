// Package persource counts what each network source holds at once, so
// that no single source — an attack team's machine, a script, or a venue
// behind one NAT address — can take a whole shared capacity (connections,
// live viewers) from everyone else.
//
// A source is an IPv4 address, or the /64 an IPv6 address belongs to: a
// host or site is routinely given a whole /64, so counting single IPv6
// addresses would let one machine pass for 2^64 sources.
//
// It imports only the standard library: the web server, the live hub, the
// flag submission port and the gateways (through internal/admit) all
// count sources with it, so that a source is the same thing everywhere.
package persource

import (
	"net"
	"net/netip"
	"sync"
)

// Of returns the source of a peer at addr, "host:port" (an
// http.Request's RemoteAddr, a net.Addr's String) or a bare host. Every
// address it cannot parse maps to the same invalid prefix, which is
// counted like any other source.
func Of(addr string) netip.Prefix {
	host := addr
	if h, _, err := net.SplitHostPort(addr); err == nil {
		host = h
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Prefix{}
	}
	return Source(ip)
}

// Source returns the source an address counts under: the IPv4 address
// itself, or its IPv6 /64; the invalid prefix for an invalid address.
func Source(ip netip.Addr) netip.Prefix {
	if !ip.IsValid() {
		return netip.Prefix{}
	}
	ip = ip.Unmap().WithZone("")
	if ip.Is4() {
		return netip.PrefixFrom(ip, 32)
	}
	p, _ := ip.Prefix(64)
	return p
}

// Counter bounds how many of something each source holds at once. Its
// zero value is not usable; use NewCounter.
type Counter struct {
	mu  sync.Mutex
	max int
	n   map[netip.Prefix]int
}

// NewCounter returns a counter that lets each source hold max at once;
// max <= 0 means no bound (the counter still counts).
func NewCounter(max int) *Counter {
	return &Counter{max: max, n: map[netip.Prefix]int{}}
}

// Acquire takes one for src and reports true, or reports false when src
// holds its maximum already.
func (c *Counter) Acquire(src netip.Prefix) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.max > 0 && c.n[src] >= c.max {
		return false
	}
	c.n[src]++
	return true
}

// Release gives back one that Acquire took for src.
func (c *Counter) Release(src netip.Prefix) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch n := c.n[src]; {
	case n > 1:
		c.n[src] = n - 1
	case n == 1:
		// Forgotten at zero, so that the map holds only the sources
		// holding something.
		delete(c.n, src)
	}
}

// Held returns how many src holds.
func (c *Counter) Held(src netip.Prefix) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[src]
}

// Sources returns how many sources hold something.
func (c *Counter) Sources() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.n)
}

// Listen wraps ln so that each source holds at most max of its
// connections at once. A connection over the bound is closed as soon as it
// is accepted, and refused (if not nil) is told of it; Accept goes on
// with the next one, so the server never sees it. A connection counts
// until it is closed, hijacked ones (websockets) included.
func Listen(ln net.Listener, max int, refused func(src netip.Prefix)) net.Listener {
	return &listener{Listener: ln, c: NewCounter(max), refused: refused}
}

type listener struct {
	net.Listener
	c       *Counter
	refused func(netip.Prefix)
}

func (l *listener) Accept() (net.Conn, error) {
	for {
		conn, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		src := Of(conn.RemoteAddr().String())
		if l.c.Acquire(src) {
			return &countedConn{Conn: conn, release: func() { l.c.Release(src) }}, nil
		}
		_ = conn.Close()
		if l.refused != nil {
			l.refused(src)
		}
	}
}

// countedConn gives its place back once, on its first Close.
type countedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *countedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
