package portal

import (
	"container/list"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cyrange/cyrange/images/portal/contract"
	"github.com/cyrange/cyrange/internal/firewall"
	"github.com/cyrange/cyrange/internal/persource"
)

// Console accounts. "admin" is the CMS vendor's account, shipped with a
// documented default password; "operator" is the defence's own, usable
// only on the admin port, and cannot be changed from the console, so that
// an intruder who took "admin" can never lock the defence out.
const (
	AdminUser            = "admin"
	OperatorUser         = "operator"
	DefaultAdminPassword = "Admin@123"
	// DefaultSessionSecret is the vendor's default key for officers'
	// session cookies, the one every install of the CMS shares.
	DefaultSessionSecret = "portal2024"
)

// hashPassword is the CMS's password scheme: sha256$salt$hex(sha256(salt
// password)), as stored in officers.password_hash.
func hashPassword(password string) string {
	var salt [8]byte
	_, _ = rand.Read(salt[:])
	s := hex.EncodeToString(salt[:])
	sum := sha256.Sum256([]byte(s + password))
	return "sha256$" + s + "$" + hex.EncodeToString(sum[:])
}

// checkPassword compares password with a stored hash in constant time.
func checkPassword(stored, password string) bool {
	parts := strings.Split(stored, "$")
	if len(parts) != 3 || parts[0] != "sha256" {
		return false
	}
	sum := sha256.Sum256([]byte(parts[1] + password))
	return subtle.ConstantTimeCompare([]byte(hex.EncodeToString(sum[:])), []byte(parts[2])) == 1
}

// randomPassword makes a password nobody will guess.
func randomPassword() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// Settings is the state of the remedies, as the admin console shows it.
type Settings struct {
	SearchPatched    bool // the news search binds its words as a parameter
	LookupRequiresID bool // the status lookup needs the dossier's citizen ID
	BackupExposed    bool // the configuration backup is in the web root
	AdminOnPortal    bool // the console is also mounted under /quantri/ on the public portal
	ImportRestricted bool // the URL fetcher refuses loopback, private and the replica's networks
	ImportAllow      []string
	Lockout          bool // lock an officer for a source after repeated failures
	LockThreshold    int
	LockWindow       time.Duration
	LockDuration     time.Duration
	SecretDefault    bool // officers' cookies are signed with DefaultSessionSecret
	SecretGen        int  // how many times the secret was rotated
	Blocked          []netip.Prefix
}

func (s Settings) clone() Settings {
	s.Blocked = slices.Clone(s.Blocked)
	s.ImportAllow = slices.Clone(s.ImportAllow)
	return s
}

// diffSettings says what changed between a and b, as the "changes" field
// of the settings log line: "name: old -> new; ...". The secret itself
// never appears, only whether it is the default and its generation.
func diffSettings(a, b Settings) string {
	var out []string
	add := func(name string, x, y any) {
		if fmt.Sprint(x) != fmt.Sprint(y) {
			out = append(out, fmt.Sprintf("%s: %v -> %v", name, x, y))
		}
	}
	secret := func(s Settings) string {
		if s.SecretDefault {
			return "default"
		}
		return "random#" + strconv.Itoa(s.SecretGen)
	}
	add("patch_search", a.SearchPatched, b.SearchPatched)
	add("lookup_requires_id", a.LookupRequiresID, b.LookupRequiresID)
	add("backup_in_webroot", a.BackupExposed, b.BackupExposed)
	add("admin_on_portal", a.AdminOnPortal, b.AdminOnPortal)
	add("import_restricted", a.ImportRestricted, b.ImportRestricted)
	add("import_allow", a.ImportAllow, b.ImportAllow)
	add("lockout", a.Lockout, b.Lockout)
	add("lock_threshold", a.LockThreshold, b.LockThreshold)
	add("session_secret", secret(a), secret(b))
	add("blocked", a.Blocked, b.Blocked)
	return strings.Join(out, "; ")
}

// security holds the console's passwords, the remedies, the session
// secret and the login failure counters.
type security struct {
	now     func() time.Time
	secret  string // the checker's
	replica string

	mu          sync.RWMutex
	settings    Settings
	signing     []byte
	admins      map[string]string // console user → password hash
	adminGens   map[string]uint64
	officerGens map[string]uint64 // bumped by every password reset
	fails       *failTable
}

// grant is what a successful login got, so that a remedy can tell which
// sessions it makes invalid (see valid).
type grant struct {
	officer     string // a back-office login, or ""
	admin       string // a console login, or ""
	master      bool   // with the checker's master password
	gen         uint64 // the password's generation when checked
	src         netip.Addr
	failsBefore int  // failed logins from src on the account just before
	adminPort   bool // a console login on the admin port
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

// isMaster reports whether password is the checker's master password for
// the officer user.
func (s *security) isMaster(user, password string) bool {
	m := contract.MasterPassword(s.secret, s.replica, user)
	return m != "" && subtle.ConstantTimeCompare([]byte(m), []byte(password)) == 1
}

// valid reports whether a session opened with g may go on: its password
// was not changed since, the lockout (if on) would have let it in, the
// console it came through is still open, and its source is not blocked.
func (s *security) valid(g grant) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	st := &s.settings
	switch {
	case g.officer != "" && !g.master:
		if s.officerGens[g.officer] != g.gen || st.Lockout && g.failsBefore >= st.LockThreshold {
			return false
		}
	case g.admin != "":
		if s.adminGens[g.admin] != g.gen || !g.adminPort && !st.AdminOnPortal {
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
	return s.fails.succeed(user, src)
}

func (s *security) get() Settings {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.settings.clone()
}

// update applies f to the settings and returns them before and after.
func (s *security) update(f func(*Settings)) (before, after Settings) {
	s.mu.Lock()
	defer s.mu.Unlock()
	before = s.settings.clone()
	f(&s.settings)
	return before, s.settings.clone()
}

// rotate replaces the signing secret with a random one: every officer's
// cookie signed with the old one stops verifying at once.
func (s *security) rotate(st *Settings) {
	// A key as the CMS writes it in its configuration: 64 hex digits.
	var k [32]byte
	_, _ = rand.Read(k[:])
	s.signing = []byte(hex.EncodeToString(k[:]))
	st.SecretDefault = false
	st.SecretGen++
}

// signingKey is the current key of officers' cookies.
func (s *security) signingKey() []byte {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.signing
}

func (s *security) blocked(src netip.Addr) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.blockedLocked(src)
}

func (s *security) blockedLocked(src netip.Addr) bool {
	return firewall.Contains(s.settings.Blocked, src)
}

func (s *security) officerGen(user string) uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.officerGens[user]
}

func (s *security) bumpOfficer(user string) {
	s.mu.Lock()
	s.officerGens[user]++
	s.mu.Unlock()
}

// setAdminPassword changes a console account's password and returns its
// new generation; sessions opened with the old one become invalid.
func (s *security) setAdminPassword(user, password string) uint64 {
	h := hashPassword(password)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.admins[user] = h
	s.adminGens[user]++
	return s.adminGens[user]
}

// loginAdmin verifies a console login; adminPort says whether it came to
// the admin port (where operator works) or to the public /quantri/.
func (s *security) loginAdmin(user, password string, src netip.Addr, adminPort bool) (grant, loginResult) {
	key := "console:" + user
	if s.locked(key, src) {
		return grant{}, loginLocked
	}
	s.mu.RLock()
	h, ok := s.admins[user]
	gen := s.adminGens[user]
	s.mu.RUnlock()
	if !ok || user == OperatorUser && !adminPort {
		checkPassword(hashPassword(""), password) // the same work either way
		s.fail(key, src)
		return grant{}, loginUnknownUser
	}
	if !checkPassword(h, password) {
		s.fail(key, src)
		return grant{}, loginBadPassword
	}
	s.succeed(key, src)
	return grant{admin: user, gen: gen, src: src, adminPort: adminPort}, loginOK
}

// failTable counts failed logins per account and source (an IPv4
// address or an IPv6 /64). It is bounded: past maxFailRows the oldest
// rows go.
type failTable struct {
	rows  map[failKey]*list.Element
	order list.List // of *failRow, the most recent first
}

const maxFailRows = 50000

type failKey struct {
	user string
	src  netip.Prefix
}

type failRow struct {
	key         failKey
	addr        netip.Addr
	count       int
	first, last time.Time
	lockedUntil time.Time
}

func newFailTable() *failTable { return &failTable{rows: map[failKey]*list.Element{}} }

func (t *failTable) locked(user string, src netip.Addr, now time.Time) bool {
	e, ok := t.rows[failKey{user, persource.Source(src)}]
	return ok && now.Before(e.Value.(*failRow).lockedUntil)
}

func (t *failTable) fail(user string, src netip.Addr, now time.Time, st Settings) {
	k := failKey{user, persource.Source(src)}
	e, ok := t.rows[k]
	if !ok {
		for t.order.Len() >= maxFailRows {
			old := t.order.Back()
			delete(t.rows, old.Value.(*failRow).key)
			t.order.Remove(old)
		}
		e = t.order.PushFront(&failRow{key: k, first: now})
		t.rows[k] = e
	}
	t.order.MoveToFront(e)
	f := e.Value.(*failRow)
	if st.LockWindow > 0 && now.Sub(f.first) > st.LockWindow && now.After(f.lockedUntil) {
		f.count, f.first = 0, now
	}
	f.count++
	f.last, f.addr = now, src
	if st.Lockout && f.count >= st.LockThreshold && !now.Before(f.lockedUntil) {
		f.lockedUntil = now.Add(st.LockDuration)
	}
}

func (t *failTable) succeed(user string, src netip.Addr) int {
	k := failKey{user, persource.Source(src)}
	e, ok := t.rows[k]
	if !ok {
		return 0
	}
	n := e.Value.(*failRow).count
	delete(t.rows, k)
	t.order.Remove(e)
	return n
}

// failure is one row of the console's failed-login table.
type failure struct {
	User        string    `json:"user"`
	Source      string    `json:"source"`
	Count       int       `json:"count"`
	Last        time.Time `json:"last"`
	LockedUntil time.Time `json:"lockedUntil"`
}

func (s *security) failures(limit int) []failure {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []failure
	for e := s.fails.order.Front(); e != nil && len(out) < limit; e = e.Next() {
		f := e.Value.(*failRow)
		out = append(out, failure{User: f.key.user, Source: f.addr.String(), Count: f.count, Last: f.last, LockedUntil: f.lockedUntil})
	}
	return out
}

// Officers' session cookies. A cookie is the claims, URL-encoded, then
// base64url, a dot and the HMAC-SHA256 of the encoded claims under the
// signing key in hex:
//
//	base64url("u=hungnv.stttt&g=0&s=<sid>&e=<unix expiry>") "." hex(hmac)
//
// The portal trusts any cookie that verifies: that is what makes the
// vendor's default key a weakness. It also remembers the sessions it
// issued (sid → grant), bounded, so that a remedy can end those a brute
// force opened.
const (
	officerCookie   = "PORTALSESSID"
	adminCookie     = "PORTALADMIN"
	sessionLifetime = 8 * time.Hour
	maxIssued       = 20000
	maxAdminSess    = 4096
	adminIdle       = 2 * time.Hour
)

// claims are what an officer's cookie says.
type claims struct {
	User    string
	Gen     uint64
	SID     string
	Expires time.Time
}

func (c claims) encode() string {
	v := url.Values{"u": {c.User}, "g": {strconv.FormatUint(c.Gen, 10)}, "s": {c.SID}, "e": {strconv.FormatInt(c.Expires.Unix(), 10)}}
	return base64.RawURLEncoding.EncodeToString([]byte(v.Encode()))
}

// signCookie makes the cookie value for c under key.
func signCookie(key []byte, c claims) string {
	body := c.encode()
	m := hmac.New(sha256.New, key)
	m.Write([]byte(body))
	return body + "." + hex.EncodeToString(m.Sum(nil))
}

var errBadCookie = errors.New("invalid session cookie")

// maxCookieLen bounds what parseCookie reads.
const maxCookieLen = 1024

// parseCookie verifies a cookie value under key and reads its claims.
func parseCookie(key []byte, value string) (claims, error) {
	if len(value) > maxCookieLen {
		return claims{}, errBadCookie
	}
	body, sig, ok := strings.Cut(value, ".")
	if !ok || len(sig) != 64 {
		return claims{}, errBadCookie
	}
	got, err := hex.DecodeString(sig)
	if err != nil {
		return claims{}, errBadCookie
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(body))
	if !hmac.Equal(got, m.Sum(nil)) {
		return claims{}, errBadCookie
	}
	raw, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil {
		return claims{}, errBadCookie
	}
	v, err := url.ParseQuery(string(raw))
	if err != nil {
		return claims{}, errBadCookie
	}
	gen, err1 := strconv.ParseUint(v.Get("g"), 10, 64)
	exp, err2 := strconv.ParseInt(v.Get("e"), 10, 64)
	if err1 != nil || err2 != nil || v.Get("u") == "" || len(v.Get("s")) > 64 {
		return claims{}, errBadCookie
	}
	return claims{User: v.Get("u"), Gen: gen, SID: v.Get("s"), Expires: time.Unix(exp, 0)}, nil
}

// issued remembers the officer sessions the portal handed out, the most
// recent first, bounded.
type issued struct {
	mu  sync.Mutex
	m   map[string]*list.Element
	lru list.List // of *issuedSession
}

type issuedSession struct {
	sid  string
	g    grant
	seen time.Time
}

func newIssued() *issued { return &issued{m: map[string]*list.Element{}} }

func (is *issued) add(sid string, g grant, now time.Time) {
	is.mu.Lock()
	defer is.mu.Unlock()
	for is.lru.Len() >= maxIssued {
		old := is.lru.Back()
		delete(is.m, old.Value.(*issuedSession).sid)
		is.lru.Remove(old)
	}
	is.m[sid] = is.lru.PushFront(&issuedSession{sid: sid, g: g, seen: now})
}

func (is *issued) get(sid string, now time.Time) (grant, bool) {
	is.mu.Lock()
	defer is.mu.Unlock()
	e, ok := is.m[sid]
	if !ok {
		return grant{}, false
	}
	e.Value.(*issuedSession).seen = now
	is.lru.MoveToFront(e)
	return e.Value.(*issuedSession).g, true
}

func (is *issued) remove(sid string) {
	is.mu.Lock()
	defer is.mu.Unlock()
	if e, ok := is.m[sid]; ok {
		delete(is.m, sid)
		is.lru.Remove(e)
	}
}

// sweep forgets the sessions valid refuses and returns how many.
func (is *issued) sweep(valid func(grant) bool) int {
	is.mu.Lock()
	defer is.mu.Unlock()
	n := 0
	for sid, e := range is.m {
		if !valid(e.Value.(*issuedSession).g) {
			delete(is.m, sid)
			is.lru.Remove(e)
			n++
		}
	}
	return n
}

// sessionRow is a session as the console lists it.
type sessionRow struct {
	Kind   string    `json:"kind"` // officer, console
	ID     string    `json:"id"`
	User   string    `json:"user"`
	Source string    `json:"source"`
	Seen   time.Time `json:"seen"`
	Master bool      `json:"checker,omitempty"`
}

func (is *issued) rows() []sessionRow {
	is.mu.Lock()
	defer is.mu.Unlock()
	out := make([]sessionRow, 0, is.lru.Len())
	for e := is.lru.Front(); e != nil; e = e.Next() {
		s := e.Value.(*issuedSession)
		out = append(out, sessionRow{Kind: "officer", ID: s.sid[:8], User: s.g.officer, Source: s.g.src.String(), Seen: s.seen, Master: s.g.master})
	}
	return out
}

// adminSessions are the console's logged-in browsers, kept server side.
type adminSessions struct {
	mu  sync.Mutex
	m   map[string]*list.Element
	lru list.List // of *adminSession
}

type adminSession struct {
	token string
	g     grant
	seen  time.Time
}

func newAdminSessions() *adminSessions { return &adminSessions{m: map[string]*list.Element{}} }

func randomToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (as *adminSessions) create(g grant, now time.Time) string {
	tok := randomToken()
	as.mu.Lock()
	defer as.mu.Unlock()
	for as.lru.Len() >= maxAdminSess {
		old := as.lru.Back()
		delete(as.m, old.Value.(*adminSession).token)
		as.lru.Remove(old)
	}
	as.m[tok] = as.lru.PushFront(&adminSession{token: tok, g: g, seen: now})
	return tok
}

func (as *adminSessions) get(tok string, now time.Time, valid func(grant) bool) (*adminSession, bool) {
	as.mu.Lock()
	defer as.mu.Unlock()
	e, ok := as.m[tok]
	if !ok {
		return nil, false
	}
	s := e.Value.(*adminSession)
	if now.Sub(s.seen) > adminIdle || !valid(s.g) {
		delete(as.m, tok)
		as.lru.Remove(e)
		return nil, false
	}
	s.seen = now
	as.lru.MoveToFront(e)
	return s, true
}

func (as *adminSessions) regrant(tok string, g grant) {
	as.mu.Lock()
	defer as.mu.Unlock()
	if e, ok := as.m[tok]; ok {
		e.Value.(*adminSession).g = g
	}
}

func (as *adminSessions) remove(tok string) {
	as.mu.Lock()
	defer as.mu.Unlock()
	if e, ok := as.m[tok]; ok {
		delete(as.m, tok)
		as.lru.Remove(e)
	}
}

func (as *adminSessions) sweep(valid func(grant) bool) int {
	as.mu.Lock()
	defer as.mu.Unlock()
	n := 0
	for tok, e := range as.m {
		if !valid(e.Value.(*adminSession).g) {
			delete(as.m, tok)
			as.lru.Remove(e)
			n++
		}
	}
	return n
}

func (as *adminSessions) rows() []sessionRow {
	as.mu.Lock()
	defer as.mu.Unlock()
	out := make([]sessionRow, 0, as.lru.Len())
	for e := as.lru.Front(); e != nil; e = e.Next() {
		s := e.Value.(*adminSession)
		out = append(out, sessionRow{Kind: "console", ID: s.token[:8], User: s.g.admin, Source: s.g.src.String(), Seen: s.seen})
	}
	return out
}
