package web

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/cyrange/cyrange/internal/persource"
	"github.com/cyrange/cyrange/scoreboard"
	"github.com/cyrange/cyrange/scoreboard/live"
	"github.com/cyrange/cyrange/scoreboard/tokens"
)

// role is one kind of caller; a route admits a set of them.
type role uint8

const (
	roleAnonymous role = 1 << iota
	roleAttack
	roleDefence
	roleBoth
	roleOrganizer
)

// Sets of roles the route table uses.
const (
	teams     = roleAttack | roleDefence | roleBoth
	attackers = roleAttack | roleBoth
	defenders = roleDefence | roleBoth
	organizer = roleOrganizer
	everyone  = roleAnonymous | teams | roleOrganizer
)

func (r role) String() string {
	switch r {
	case roleAnonymous:
		return "anonymous"
	case roleAttack:
		return "attack team"
	case roleDefence:
		return "defence team"
	case roleBoth:
		return "attack/defence team"
	case roleOrganizer:
		return "organizer"
	}
	return fmt.Sprintf("roles(%#x)", uint8(r))
}

// caller is who made a request, as the guard resolved it.
type caller struct {
	p tokens.Principal
	// token is the credential the caller proved, so that the flag
	// handler can be given it whichever way it came.
	token string
	// bad is set when credentials came but were not valid; the caller is
	// then anonymous.
	bad bool
}

func (c caller) role() role {
	switch c.p.Kind {
	case tokens.Organizer:
		return roleOrganizer
	case tokens.TeamToken:
		switch c.p.Role {
		case scoreboard.RoleAttack:
			return roleAttack
		case scoreboard.RoleDefence:
			return roleDefence
		case scoreboard.RoleBoth:
			return roleBoth
		}
	}
	return roleAnonymous
}

// callerKey is where the guard leaves the caller in the echo context.
const callerKey = "web.caller"

func callerOf(c echo.Context) caller {
	cl, _ := c.Get(callerKey).(caller)
	return cl
}

// sessionCookie names the browser session cookie.
const sessionCookie = "cyrange_session"

// resolve finds the caller from, in this order, Authorization: Bearer,
// X-Team-Token and the session cookie.
func (s *Server) resolve(r *http.Request) caller {
	tok := ""
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, rest, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return caller{bad: true}
		}
		tok = strings.TrimSpace(rest)
	} else if h := r.Header.Get("X-Team-Token"); h != "" {
		tok = strings.TrimSpace(h)
	} else if ck, err := r.Cookie(sessionCookie); err == nil {
		sess, ok := s.sessions.get(ck.Value)
		if !ok {
			return caller{bad: true}
		}
		return caller{p: sess.p, token: sess.token}
	} else {
		return caller{}
	}
	p, err := s.auth.Lookup(tok)
	if err != nil || tok == "" {
		return caller{bad: true}
	}
	return caller{p: p, token: tok}
}

// guard enforces a route's roles, its body limit and the origin rule.
func (s *Server) guard(rt route) echo.MiddlewareFunc {
	limit := rt.bodyLimit
	if limit == 0 {
		limit = defaultBodyLimit
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			cl := s.resolve(r)
			if rl := cl.role(); rt.roles&rl == 0 {
				if rl != roleAnonymous {
					return errorf(http.StatusForbidden, "%s %s is not open to the %s", rt.method, rt.path, rl)
				}
				if cl.bad {
					return errorf(http.StatusUnauthorized, "invalid team token")
				}
				return errorf(http.StatusUnauthorized, "missing token: send Authorization: Bearer <token> or X-Team-Token, or log in")
			}
			if (rt.websocket || unsafeMethod(r.Method)) && !s.originAllowed(r) {
				return errorf(http.StatusForbidden, "cross-origin request refused")
			}
			if r.Body != nil {
				r.Body = http.MaxBytesReader(c.Response(), r.Body, limit)
			}
			c.Set(callerKey, cl)
			return next(c)
		}
	}
}

func unsafeMethod(m string) bool {
	return m != http.MethodGet && m != http.MethodHead && m != http.MethodOptions
}

// originAllowed reports whether a browser request comes from this server's
// own pages or an allowed origin, by the live hub's rules.
func (s *Server) originAllowed(r *http.Request) bool { return live.OriginAllowed(r, s.origins) }

// session is one browser login.
type session struct {
	p       tokens.Principal
	token   string
	expires time.Time
}

// maxSessionsPerPrincipal bounds the sessions of one token (a team's
// members and their browsers, or the organizer's); a new login past it
// ends that token's oldest session. Principals are the exercise's tokens,
// so the table as a whole is bounded too, and no team's logins can end
// another's — the organizer's and the defence's included.
const maxSessionsPerPrincipal = 64

// sessions maps session ids to principals. The cookie holds a random id,
// never the token, so a leaked cookie dies with logout or expiry. Ids are
// keyed by their hash so that map timing says nothing about them.
type sessions struct {
	mu sync.Mutex
	m  map[[32]byte]session
	// byPrincipal lists each principal's session keys, oldest first.
	byPrincipal map[tokens.Principal][][32]byte
	ttl         time.Duration
	now         func() time.Time
}

func newSessions(ttl time.Duration, now func() time.Time) *sessions {
	return &sessions{m: map[[32]byte]session{}, byPrincipal: map[tokens.Principal][][32]byte{}, ttl: ttl, now: now}
}

func (ss *sessions) create(p tokens.Principal, tok string) (string, time.Time, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", time.Time{}, fmt.Errorf("web: session id: %w", err)
	}
	id := base64.RawURLEncoding.EncodeToString(b[:])
	k := sha256.Sum256([]byte(id))
	now := ss.now()
	exp := now.Add(ss.ttl)
	ss.mu.Lock()
	defer ss.mu.Unlock()
	// The principal's expired and removed sessions go first, then its
	// oldest if it is still at its bound.
	keys := ss.byPrincipal[p][:0]
	for _, old := range ss.byPrincipal[p] {
		if v, ok := ss.m[old]; ok && v.expires.After(now) {
			keys = append(keys, old)
		} else {
			delete(ss.m, old)
		}
	}
	for len(keys) >= maxSessionsPerPrincipal {
		delete(ss.m, keys[0])
		keys = keys[1:]
	}
	ss.m[k] = session{p: p, token: tok, expires: exp}
	ss.byPrincipal[p] = append(keys, k)
	return id, exp, nil
}

func (ss *sessions) get(id string) (session, bool) {
	k := sha256.Sum256([]byte(id))
	ss.mu.Lock()
	defer ss.mu.Unlock()
	v, ok := ss.m[k]
	if !ok {
		return session{}, false
	}
	if !v.expires.After(ss.now()) {
		// Its key leaves the principal's list at that principal's next
		// login.
		delete(ss.m, k)
		return session{}, false
	}
	return v, true
}

func (ss *sessions) remove(id string) {
	k := sha256.Sum256([]byte(id))
	ss.mu.Lock()
	delete(ss.m, k)
	ss.mu.Unlock()
}

// count returns how many sessions are live at now.
func (ss *sessions) count(now time.Time) int {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	n := 0
	for _, v := range ss.m {
		if v.expires.After(now) {
			n++
		}
	}
	return n
}

type loginRequest struct {
	Token string `json:"token"`
}

// login trades a token for a session cookie. Wrong tokens are limited per
// source, good ones per principal (limits.go): a source guessing tokens
// never keeps the others who share its address (a venue's NAT, Docker's
// published ports), the defence and the organizer among them, from
// logging in with theirs.
func (s *Server) login(c echo.Context) error {
	src := persource.Of(c.Request().RemoteAddr)
	var req loginRequest
	if err := decodeJSON(c.Request(), &req); err != nil {
		return err
	}
	tok := strings.TrimSpace(req.Token)
	if tok == "" {
		return errorf(http.StatusBadRequest, "token is required")
	}
	p, err := s.auth.Lookup(tok)
	if err != nil {
		if wait := s.logins.refused(src); wait > 0 {
			return s.tooManyLogins(c, wait)
		}
		return errorf(http.StatusUnauthorized, "invalid team token")
	}
	if wait := s.logins.admit(p); wait > 0 {
		return s.tooManyLogins(c, wait)
	}
	id, exp, err := s.sessions.create(p, tok)
	if err != nil {
		return err
	}
	c.SetCookie(&http.Cookie{Name: sessionCookie, Value: id, Path: "/", Expires: exp,
		MaxAge: int(exp.Sub(s.now()) / time.Second), HttpOnly: true,
		Secure: s.secure || c.Request().TLS != nil, SameSite: http.SameSiteStrictMode})
	return c.JSON(http.StatusOK, s.whoami(p))
}

func (s *Server) tooManyLogins(c echo.Context, wait time.Duration) error {
	c.Response().Header().Set("Retry-After", retryAfter(wait))
	return errorf(http.StatusTooManyRequests, "too many logins: try again in %s seconds", retryAfter(wait))
}

// logout ends the browser session, if any.
func (s *Server) logout(c echo.Context) error {
	if ck, err := c.Request().Cookie(sessionCookie); err == nil {
		s.sessions.remove(ck.Value)
	}
	c.SetCookie(&http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		Secure: s.secure || c.Request().TLS != nil, SameSite: http.SameSiteStrictMode})
	return c.NoContent(http.StatusNoContent)
}
