package mailserver

import (
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
}

// sessions keeps logged-in sessions in memory, keyed by a 128-bit cookie.
type sessions struct {
	now    func() time.Time
	cookie string
	idle   time.Duration
	// valid says whether a session's login still holds (security.valid):
	// every request checks it, so that a remedy ends the cookies it makes
	// invalid even when its sweep raced with a login.
	valid func(grant) bool

	mu sync.Mutex
	m  map[string]*session
}

func newSessions(now func() time.Time, cookie string) *sessions {
	return &sessions{now: now, cookie: cookie, idle: 2 * time.Hour, m: make(map[string]*session)}
}

func (ss *sessions) create(w http.ResponseWriter, sess *session, path string) {
	var b [16]byte
	_, _ = rand.Read(b[:])
	sess.token = hex.EncodeToString(b[:])
	sess.seen = ss.now()
	ss.mu.Lock()
	if len(ss.m) > 20000 {
		for k, v := range ss.m {
			if ss.now().Sub(v.seen) > ss.idle {
				delete(ss.m, k)
			}
		}
	}
	ss.m[sess.token] = sess
	ss.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: ss.cookie, Value: sess.token, Path: path, HttpOnly: true, SameSite: http.SameSiteLaxMode})
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
		delete(ss.m, c.Value)
		return nil, false
	}
	sess.seen = now
	return sess, true
}

// sweep ends every session whose login a remedy made invalid and returns
// how many.
func (ss *sessions) sweep() int {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	n := 0
	for k, sess := range ss.m {
		if ss.valid != nil && !ss.valid(sess.grant) {
			delete(ss.m, k)
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
		delete(ss.m, c.Value)
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
