package mailserver

import (
	"container/list"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// session is a logged-in browser of the webmail or of the admin console.
type session struct {
	token    string
	acct     *Account // webmail
	admin    string   // admin console user
	operator bool
	grant    grant // what the login got; a remedy may make it invalid
	seen     time.Time

	// Where the session sits in its pool's and its login's recency
	// lists, guarded by sessions.mu.
	inPool, inLogin *list.Element
}

// login names whose session it is, for the per-login bound. The
// checker's master logins to a mailbox are a login apart from its
// owner's, so that whoever has the owner's password cannot push the
// checker out.
func (s *session) login() string {
	k := "admin " + s.admin
	if s.acct != nil {
		k = "mailbox " + strconv.Itoa(s.acct.Index)
	}
	if s.grant.master {
		k = "master " + k
	}
	return k
}

// Bounds of a session table. Each login keeps its most recent sessions,
// so that somebody logging in over and over with a stolen password only
// replaces their own sessions; the table as a whole is bounded too, and
// there the sessions seen the longest ago go first. The checker's
// sessions (master logins) are a pool of their own, which no other login
// can push out.
const (
	maxSessionsPerLogin = 32
	maxSessions         = 20000
	maxMasterSessions   = 4096
)

// sessionPool is a bounded set of sessions, the most recently seen first.
type sessionPool struct {
	max int
	lru list.List
}

// sessions keeps logged-in sessions in memory, keyed by a 128-bit cookie.
type sessions struct {
	now    func() time.Time
	cookie string
	idle   time.Duration
	// valid says whether a session's login still holds (security.valid):
	// every request checks it, so that a remedy ends the cookies it makes
	// invalid even when its sweep raced with a login.
	valid    func(grant) bool
	perLogin int // maxSessionsPerLogin

	mu      sync.Mutex
	m       map[string]*session
	users   sessionPool
	master  sessionPool
	byLogin map[string]*list.List // login → its sessions, the most recent first
}

func newSessions(now func() time.Time, cookie string) *sessions {
	ss := &sessions{now: now, cookie: cookie, idle: 2 * time.Hour, perLogin: maxSessionsPerLogin,
		m: make(map[string]*session), byLogin: make(map[string]*list.List)}
	ss.users.max, ss.master.max = maxSessions, maxMasterSessions
	return ss
}

func (ss *sessions) poolOf(sess *session) *sessionPool {
	if sess.grant.master {
		return &ss.master
	}
	return &ss.users
}

func (ss *sessions) create(w http.ResponseWriter, sess *session, path string) {
	var b [16]byte
	_, _ = rand.Read(b[:])
	sess.token = hex.EncodeToString(b[:])
	sess.seen = ss.now()
	ss.mu.Lock()
	pool := ss.poolOf(sess)
	// Sessions idle past the limit go first, from the least recent end;
	// then whatever keeps the login and the pool within their bounds.
	for e := pool.lru.Back(); e != nil && sess.seen.Sub(e.Value.(*session).seen) > ss.idle; e = pool.lru.Back() {
		ss.removeLocked(e.Value.(*session))
	}
	key := sess.login()
	mine := ss.byLogin[key]
	if mine == nil {
		mine = list.New()
		ss.byLogin[key] = mine
	}
	for mine.Len() >= ss.perLogin {
		ss.removeLocked(mine.Back().Value.(*session))
	}
	for pool.lru.Len() >= pool.max {
		ss.removeLocked(pool.lru.Back().Value.(*session))
	}
	if ss.byLogin[key] == nil { // the loops above emptied and dropped it
		ss.byLogin[key] = mine
	}
	sess.inPool = pool.lru.PushFront(sess)
	sess.inLogin = mine.PushFront(sess)
	ss.m[sess.token] = sess
	ss.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: ss.cookie, Value: sess.token, Path: path, HttpOnly: true, SameSite: http.SameSiteLaxMode})
}

// removeLocked takes sess out of the table; ss.mu is held.
func (ss *sessions) removeLocked(sess *session) {
	if ss.m[sess.token] != sess {
		return
	}
	delete(ss.m, sess.token)
	ss.poolOf(sess).lru.Remove(sess.inPool)
	key := sess.login()
	if mine := ss.byLogin[key]; mine != nil {
		mine.Remove(sess.inLogin)
		if mine.Len() == 0 {
			delete(ss.byLogin, key)
		}
	}
}

// len counts the sessions in the table.
func (ss *sessions) len() int {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return len(ss.m)
}

func (ss *sessions) get(r *http.Request) (*session, bool) {
	c, err := r.Cookie(ss.cookie)
	if err != nil {
		return nil, false
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	sess, ok := ss.m[c.Value]
	if !ok {
		return nil, false
	}
	now := ss.now()
	if now.Sub(sess.seen) > ss.idle || ss.valid != nil && !ss.valid(sess.grant) {
		ss.removeLocked(sess)
		return nil, false
	}
	sess.seen = now
	ss.poolOf(sess).lru.MoveToFront(sess.inPool)
	ss.byLogin[sess.login()].MoveToFront(sess.inLogin)
	return sess, true
}

// sweep ends every session whose login a remedy made invalid and returns
// how many.
func (ss *sessions) sweep() int {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	n := 0
	for _, sess := range ss.m {
		if ss.valid != nil && !ss.valid(sess.grant) {
			ss.removeLocked(sess)
			n++
		}
	}
	return n
}

// regrant gives sess (a session in the table) a renewed grant, as after
// its own user changed its password.
func (ss *sessions) regrant(sess *session, g grant) {
	ss.mu.Lock()
	sess.grant = g
	ss.mu.Unlock()
}

func (ss *sessions) destroy(w http.ResponseWriter, r *http.Request, path string) {
	if c, err := r.Cookie(ss.cookie); err == nil {
		ss.mu.Lock()
		if sess, ok := ss.m[c.Value]; ok {
			ss.removeLocked(sess)
		}
		ss.mu.Unlock()
	}
	http.SetCookie(w, &http.Cookie{Name: ss.cookie, Value: "", Path: path, MaxAge: -1, HttpOnly: true})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func jsonError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// maxFormBytes bounds request bodies other than compose uploads.
const maxFormBytes = 1 << 20

// decodeJSON reads a bounded JSON body into v.
func decodeJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, maxFormBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("invalid JSON body: %w", err)
	}
	return nil
}

var errBadID = errors.New("invalid message id")

// parseID reads a message id parameter: a positive decimal number.
func parseID(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 19 {
		return 0, errBadID
	}
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, errBadID
	}
	return id, nil
}

// parsePage reads a 1-based page number, defaulting to 1.
func parsePage(s string) int {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 1 {
		return 1
	}
	return min(n, 100000)
}

// splitAddresses reads a recipients field: addresses separated by commas or
// semicolons (Outlook's habit), with or without display names.
func splitAddresses(field string) []string {
	var out []string
	for _, part := range strings.FieldsFunc(field, func(r rune) bool { return r == ',' || r == ';' || r == '\n' }) {
		part = strings.TrimSpace(part)
		if i := strings.LastIndexByte(part, '<'); i >= 0 {
			if j := strings.IndexByte(part[i:], '>'); j > 0 {
				part = part[i+1 : i+j]
			}
		}
		part = strings.TrimSpace(part)
		if part != "" && strings.Count(part, "@") == 1 && !strings.ContainsAny(part, " \t\r\"<>") {
			out = append(out, strings.ToLower(part))
		}
	}
	return out
}
