package mailserver

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cyrange/cyrange/images/mailserver/contract"
	"github.com/cyrange/cyrange/internal/firewall"
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

// security holds passwords, remedies and the login failure counters.
type security struct {
	now     func() time.Time
	secret  string
	replica string

	mu        sync.RWMutex
	settings  Settings
	creds     []cred
	gens      []uint64 // per account: bumped by every password change
	admins    map[string]cred
	adminGens map[string]uint64
	fails     *failTable
}

// grant is what a successful login got: who, how, from where, and the
// state of the credentials it was checked against, so that a remedy can
// tell which sessions it makes invalid (see valid).
type grant struct {
	acct        *Account // a mailbox login, or nil
	admin       string   // a console login, or ""
	master      bool     // with the checker's master password
	gen         uint64   // the password's generation when checked
	src         netip.Addr
	failsBefore int  // failed logins from src on the account just before
	adminPort   bool // a console login on the admin port, where blocks do not apply
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
	_, res := s.login(acct, name, password, src)
	return res
}

// login verifies a mailbox login from src, applying the lockout, and
// returns what the login was granted.
func (s *security) login(acct *Account, name, password string, src netip.Addr) (grant, loginResult) {
	user := strings.ToLower(name)
	if acct != nil {
		user = acct.Addr
		// The checker's master password opens the mailbox even for a
		// locked source: its own exploit runs (a test method) must not
		// lock it out of a mailbox it checks.
		if master := contract.MasterPassword(s.secret, s.replica, acct.Addr); master != "" && subtle.ConstantTimeCompare([]byte(master), []byte(password)) == 1 {
			s.succeed(user, src)
			return grant{acct: acct, master: true, src: src}, loginOK
		}
	}
	if s.locked(user, src) {
		return grant{}, loginLocked
	}
	if acct == nil {
		s.fail(user, src)
		return grant{}, loginUnknownUser
	}
	s.mu.RLock()
	c, gen := s.creds[acct.Index], s.gens[acct.Index]
	s.mu.RUnlock()
	if c.matches(password) {
		before := s.succeed(user, src)
		return grant{acct: acct, gen: gen, src: src, failsBefore: before}, loginOK
	}
	s.fail(user, src)
	return grant{}, loginBadPassword
}

// checkAdmin verifies an admin console login; operator is refused unless
// operatorAllowed (the request came to the admin port).
func (s *security) checkAdmin(user, password string, src netip.Addr, operatorAllowed bool) loginResult {
	_, res := s.loginAdmin(user, password, src, operatorAllowed)
	return res
}

// loginAdmin verifies a console login; adminPort says whether it came to
// the admin port (where operator works) or to the webmail's /admin/.
func (s *security) loginAdmin(user, password string, src netip.Addr, adminPort bool) (grant, loginResult) {
	key := "console:" + user
	if s.locked(key, src) {
		return grant{}, loginLocked
	}
	s.mu.RLock()
	c, ok := s.admins[user]
	gen := s.adminGens[user]
	s.mu.RUnlock()
	if !ok || user == OperatorUser && !adminPort {
		c.matches(password) // same work either way
		s.fail(key, src)
		return grant{}, loginUnknownUser
	}
	if !c.matches(password) {
		s.fail(key, src)
		return grant{}, loginBadPassword
	}
	s.succeed(key, src)
	return grant{admin: user, gen: gen, src: src, adminPort: adminPort}, loginOK
}

// valid reports whether a session opened with g may go on: its password
// was not changed since, the lockout (if on) would have let it in, the
// console it came through is still open, and its source is not blocked.
func (s *security) valid(g grant) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	st := &s.settings
	switch {
	case g.acct != nil && !g.master:
		if s.gens[g.acct.Index] != g.gen || st.Lockout && g.failsBefore >= st.LockThreshold {
			return false
		}
	case g.admin != "":
		if s.adminGens[g.admin] != g.gen || !g.adminPort && !st.AdminOnWebmail {
			return false
		}
	}
	return g.adminPort || !s.blockedLocked(g.src)
}

func (s *security) locked(user string, src netip.Addr) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.settings.Lockout && s.fails.locked(user, src, s.now())
}

func (s *security) fail(user string, src netip.Addr) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fails.fail(user, src, now, s.settings)
}

// succeed forgets user's failures from src and returns how many there
// were.
func (s *security) succeed(user string, src netip.Addr) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.fails.count(user, src)
	s.fails.succeed(user, src)
	return n
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
	out := s.fails.rows()
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b failure) int { return b.Count - a.Count })
	return out
}

// setPassword changes acct's password; sessions opened with the old one
// become invalid.
func (s *security) setPassword(acct *Account, password string) {
	c := newCred(password)
	s.mu.Lock()
	s.creds[acct.Index] = c
	s.gens[acct.Index]++
	s.mu.Unlock()
}

// setAdminPassword changes a console account's password and returns its
// new generation; sessions opened with the old one become invalid.
func (s *security) setAdminPassword(user, password string) uint64 {
	c := newCred(password)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.admins[user] = c
	s.adminGens[user]++
	return s.adminGens[user]
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
	return s.blockedLocked(src)
}

func (s *security) blockedLocked(src netip.Addr) bool {
	return firewall.Contains(s.settings.Blocked, src)
}

// randomPassword makes a password nobody will guess.
func randomPassword() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
