package mailserver

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cyrange/cyrange/images/mailserver/contract"
)

// Admin console accounts. "admin" is the vendor's account, shipped with a
// documented default password; "operator" is the defence's own, usable only
// from the admin network, and cannot be changed from the console so that an
// intruder who took "admin" can never lock the defence out.
const (
	AdminUser            = "admin"
	OperatorUser         = "operator"
	DefaultAdminPassword = "Admin@123"
)

// cred is a salted SHA-256 password hash, the {SSHA256} scheme mail servers
// commonly store.
type cred struct {
	salt [8]byte
	sum  [32]byte
}

func newCred(password string) cred {
	var c cred
	_, _ = rand.Read(c.salt[:])
	c.sum = sha256.Sum256(append(c.salt[:], password...))
	return c
}

func (c cred) matches(password string) bool {
	sum := sha256.Sum256(append(c.salt[:], password...))
	return subtle.ConstantTimeCompare(sum[:], c.sum[:]) == 1
}

// Settings is the state of the remedies, as the admin console shows it.
type Settings struct {
	VRFY             bool // answer VRFY and EXPN truthfully
	Lockout          bool // lock an account for a source after repeated failures
	LockThreshold    int
	LockWindow       time.Duration
	LockDuration     time.Duration
	IDORPatched      bool // the webmail checks that a message belongs to the reader
	TraversalPatched bool // attachment downloads take only the attachment's own name
	AdminOnWebmail   bool // the console is also mounted under /admin on the webmail
	Blocked          []netip.Prefix
}

type failKey struct {
	user string
	src  netip.Addr
}

type failState struct {
	count       int
	first, last time.Time
	lockedUntil time.Time
}

// security holds passwords, remedies and the login failure counters.
type security struct {
	now    func() time.Time
	secret string

	mu       sync.RWMutex
	settings Settings
	creds    []cred
	admins   map[string]cred
	fails    map[failKey]*failState
}

// loginResult is why a login failed, for the logs.
type loginResult int

const (
	loginOK loginResult = iota
	loginBadPassword
	loginUnknownUser
	loginLocked
)

func (r loginResult) String() string {
	switch r {
	case loginOK:
		return "ok"
	case loginBadPassword:
		return "bad_password"
	case loginUnknownUser:
		return "unknown_user"
	}
	return "locked"
}

// checkUser verifies a mailbox login from src, applying the lockout.
func (s *security) checkUser(acct *Account, name, password string, src netip.Addr) loginResult {
	key := failKey{user: strings.ToLower(name), src: src}
	if acct != nil {
		key.user = acct.Addr
		// The checker's master password opens the mailbox even for a
		// locked source: its own exploit runs (a test method) must not
		// lock it out of a mailbox it checks.
		if master := contract.MasterPassword(s.secret, acct.Addr); master != "" && subtle.ConstantTimeCompare([]byte(master), []byte(password)) == 1 {
			s.succeed(key)
			return loginOK
		}
	}
	if s.locked(key) {
		return loginLocked
	}
	if acct == nil {
		s.fail(key)
		return loginUnknownUser
	}
	s.mu.RLock()
	c := s.creds[acct.Index]
	s.mu.RUnlock()
	if c.matches(password) {
		s.succeed(key)
		return loginOK
	}
	s.fail(key)
	return loginBadPassword
}

// checkAdmin verifies an admin console login; operator is refused unless
// operatorAllowed (the request came to the admin port).
func (s *security) checkAdmin(user, password string, src netip.Addr, operatorAllowed bool) loginResult {
	key := failKey{user: "console:" + user, src: src}
	if s.locked(key) {
		return loginLocked
	}
	s.mu.RLock()
	c, ok := s.admins[user]
	s.mu.RUnlock()
	if !ok || user == OperatorUser && !operatorAllowed {
		c.matches(password) // same work either way
		s.fail(key)
		return loginUnknownUser
	}
	if !c.matches(password) {
		s.fail(key)
		return loginBadPassword
	}
	s.succeed(key)
	return loginOK
}

func (s *security) locked(key failKey) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if !s.settings.Lockout {
		return false
	}
	st, ok := s.fails[key]
	return ok && s.now().Before(st.lockedUntil)
}

func (s *security) fail(key failKey) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.fails[key]
	if !ok || now.Sub(st.first) > s.settings.LockWindow {
		if len(s.fails) > 50000 {
			s.pruneLocked(now)
		}
		st = &failState{first: now}
		s.fails[key] = st
	}
	st.count++
	st.last = now
	if s.settings.Lockout && st.count >= s.settings.LockThreshold {
		st.lockedUntil = now.Add(s.settings.LockDuration)
	}
}

func (s *security) succeed(key failKey) {
	s.mu.Lock()
	delete(s.fails, key)
	s.mu.Unlock()
}

func (s *security) pruneLocked(now time.Time) {
	for k, st := range s.fails {
		if now.Sub(st.last) > s.settings.LockWindow && now.After(st.lockedUntil) {
			delete(s.fails, k)
		}
	}
}

// failure is one row of the console's failed-login table.
type failure struct {
	User        string
	Source      netip.Addr
	Count       int
	Last        time.Time
	LockedUntil time.Time
}

func (s *security) failures() []failure {
	s.mu.RLock()
	out := make([]failure, 0, len(s.fails))
	for k, st := range s.fails {
		out = append(out, failure{User: k.user, Source: k.src, Count: st.count, Last: st.last, LockedUntil: st.lockedUntil})
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b failure) int { return b.Count - a.Count })
	return out
}

func (s *security) setPassword(acct *Account, password string) {
	c := newCred(password)
	s.mu.Lock()
	s.creds[acct.Index] = c
	s.mu.Unlock()
}

func (s *security) setAdminPassword(user, password string) {
	c := newCred(password)
	s.mu.Lock()
	s.admins[user] = c
	s.mu.Unlock()
}

func (s *security) get() Settings {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := s.settings
	out.Blocked = slices.Clone(out.Blocked)
	return out
}

func (s *security) update(f func(*Settings)) Settings {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(&s.settings)
	out := s.settings
	out.Blocked = slices.Clone(out.Blocked)
	return out
}

// blocked reports whether the defence blocked src.
func (s *security) blocked(src netip.Addr) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, p := range s.settings.Blocked {
		if p.Contains(src.Unmap()) {
			return true
		}
	}
	return false
}

// randomPassword makes a password nobody will guess.
func randomPassword() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// addrOf returns the IP of a net.Addr (the zero Addr if it has none).
func addrOf(a net.Addr) netip.Addr {
	if a == nil {
		return netip.Addr{}
	}
	return ipOf(a.String())
}

// ipOf returns the IP of a "host:port" string.
func ipOf(hostport string) netip.Addr {
	if ap, err := netip.ParseAddrPort(hostport); err == nil {
		return ap.Addr().Unmap()
	}
	return netip.Addr{}
}

// parsePrefixes reads a comma- or space-separated list of CIDR ranges or
// single addresses.
func parsePrefixes(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.FieldsFunc(list, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\t' || r == '\r' }) {
		p, err := parsePrefix(f)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

func parsePrefix(s string) (netip.Prefix, error) {
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

// guardedListener drops connections from sources allow refuses, before any
// protocol byte is written, as a firewall in front of the server would.
type guardedListener struct {
	net.Listener
	allow  func(netip.Addr) bool
	denied func(net.Conn)
}

func (l *guardedListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.allow(addrOf(c.RemoteAddr())) {
			return c, nil
		}
		l.denied(c)
		_ = c.Close()
	}
}
