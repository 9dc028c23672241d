package mailserver

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/cyrange/cyrange/internal/firewall"
	"github.com/cyrange/cyrange/internal/persource"
)

// A remedy ends the access it makes invalid: a password reset ends the
// sessions opened with the old password, a console password change the
// console sessions opened with it, a source block every session from that
// source, the lockout the sessions a brute force opened, closing the
// console on the webmail the console sessions opened there. The IMAP and
// SMTP connections of the public ports are followed here, with who logged
// in on each; webmail and console cookies are checked on every request
// (sessions.get) and swept by the same remedies.

// maxConnsPerSource bounds the connections one source (an IPv4 address,
// an IPv6 /64: internal/persource) holds open on one port, so that a flood of idle connections from one range cannot exhaust
// the server's memory or descriptors for everybody else.
const maxConnsPerSource = 256

// byeTimeout bounds the goodbye line an evicted session is sent.
const byeTimeout = 200 * time.Millisecond

// liveConns is every open connection of the public ports.
type liveConns struct {
	allowed func(netip.Addr) bool // false for a blocked source
	valid   func(grant) bool

	mu       sync.Mutex
	byRemote map[string]*liveConn // proto + " " + remote address
	perSrc   map[srcKey]int
}

type srcKey struct {
	proto string
	src   netip.Prefix
}

func newLiveConns(allowed func(netip.Addr) bool, valid func(grant) bool) *liveConns {
	return &liveConns{allowed: allowed, valid: valid, byRemote: make(map[string]*liveConn), perSrc: make(map[srcKey]int)}
}

// liveConn is an open connection of a public port.
type liveConn struct {
	net.Conn
	proto string
	src   netip.Addr
	key   string
	table *liveConns
	grant *grant // who logged in on it; guarded by table.mu
	once  sync.Once
}

func (c *liveConn) Close() error {
	c.once.Do(func() {
		t := c.table
		t.mu.Lock()
		delete(t.byRemote, c.key)
		k := srcKey{c.proto, persource.Source(c.src)}
		if t.perSrc[k]--; t.perSrc[k] <= 0 {
			delete(t.perSrc, k)
		}
		t.mu.Unlock()
	})
	return c.Conn.Close()
}

var (
	errBlockedSource = errors.New("source blocked")
	errTooManyConns  = errors.New("too many connections from this source")
)

// admit follows c unless its source is blocked or holds too many
// connections to this port. The check and the registration are one step,
// so that a block cannot miss a connection accepted while it was applied.
func (t *liveConns) admit(proto string, c net.Conn) (*liveConn, error) {
	src := firewall.SourceOf(c.RemoteAddr())
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.allowed(src) {
		return nil, errBlockedSource
	}
	k := srcKey{proto, persource.Source(src)}
	if t.perSrc[k] >= maxConnsPerSource {
		return nil, errTooManyConns
	}
	lc := &liveConn{Conn: c, proto: proto, src: src, key: proto + " " + c.RemoteAddr().String(), table: t}
	t.byRemote[lc.key] = lc
	t.perSrc[k]++
	return lc, nil
}

var errRevoked = errors.New("credentials changed during login")

// bind records that g logged in on the connection of proto from remote.
// It refuses a grant a remedy made invalid meanwhile (a reset between the
// password check and now), under the lock a remedy's sweep takes, so that
// no session slips past it.
func (t *liveConns) bind(proto, remote string, g grant) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	lc := t.byRemote[proto+" "+remote]
	if lc == nil || !t.valid(g) {
		return errRevoked
	}
	lc.grant = &g
	return nil
}

// enforce ends every connection whose source is blocked or whose login a
// remedy made invalid, telling each client so, and returns how many.
func (t *liveConns) enforce() int {
	t.mu.Lock()
	var gone []*liveConn
	for _, lc := range t.byRemote {
		if !t.allowed(lc.src) || lc.grant != nil && !t.valid(*lc.grant) {
			gone = append(gone, lc)
		}
	}
	t.mu.Unlock()
	var wg sync.WaitGroup
	for _, lc := range gone {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lc.evict()
		}()
	}
	wg.Wait()
	return len(gone)
}

// evict says goodbye in the connection's protocol, briefly, and closes it.
func (c *liveConn) evict() {
	var bye string
	switch c.proto {
	case "smtp":
		bye = "421 4.7.0 Session ended by the administrator\r\n"
	case "imap":
		bye = "* BYE Session ended by the administrator\r\n"
	}
	if bye != "" {
		_ = c.SetWriteDeadline(time.Now().Add(byeTimeout))
		_, _ = io.WriteString(c.Conn, bye)
	}
	_ = c.Close()
}

// trackedListener follows the connections of a public port in live and
// drops those admit refuses, before any protocol byte is written, as a
// firewall in front of the server would.
type trackedListener struct {
	net.Listener
	proto  string
	live   *liveConns
	denied func(net.Conn, error)
}

func (l *trackedListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		lc, err := l.live.admit(l.proto, c)
		if err == nil {
			return lc, nil
		}
		l.denied(c, err)
		_ = c.Close()
	}
}

// enforceRemedies ends every session the current passwords and settings no
// longer allow, on every protocol, and logs how many it ended.
func (s *Server) enforceRemedies(src, admin, why string) {
	n := s.live.enforce()
	n += s.webSessions.sweep()
	n += s.adminSessions.sweep()
	if n > 0 {
		s.warn("system", "sessions_ended", src, admin, "sessions ended by a remedy", "remedy", why, "sessions", n)
	}
}
