package web

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/cyrange/cyrange/scoreboard"
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
// own pages or an allowed origin. Requests without Origin are not from a
// browser page and carry no ambient credentials worth forging. The rules
// are the live hub's, so one AllowedOrigins list means the same to both.
func (s *Server) originAllowed(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	for _, a := range s.origins {
		switch {
		case a == "*":
			return true
		case strings.Contains(a, "://"):
			if strings.EqualFold(a, u.Scheme+"://"+u.Host) {
				return true
			}
		case strings.EqualFold(a, u.Host):
			return true
		}
	}
	return false
}

// session is one browser login.
type session struct {
	p       tokens.Principal
	token   string
	expires time.Time
}

// maxSessions bounds the session table; only valid tokens create
// sessions, so reaching it means many logins, and the oldest go first.
const maxSessions = 10000

// sessions maps session ids to principals. The cookie holds a random id,
// never the token, so a leaked cookie dies with logout or expiry. Ids are
// keyed by their hash so that map timing says nothing about them.
type sessions struct {
	mu  sync.Mutex
	m   map[[32]byte]session
	ttl time.Duration
	now func() time.Time
}

func newSessions(ttl time.Duration, now func() time.Time) *sessions {
	return &sessions{m: map[[32]byte]session{}, ttl: ttl, now: now}
}

func (ss *sessions) create(p tokens.Principal, tok string) (string, time.Time, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", time.Time{}, fmt.Errorf("web: session id: %w", err)
	}
	id := base64.RawURLEncoding.EncodeToString(b[:])
	now := ss.now()
	exp := now.Add(ss.ttl)
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if len(ss.m) >= maxSessions {
		var oldest [32]byte
		var oldestExp time.Time
		for k, v := range ss.m {
			if !v.expires.After(now) {
				delete(ss.m, k)
				continue
			}
			if oldestExp.IsZero() || v.expires.Before(oldestExp) {
				oldest, oldestExp = k, v.expires
			}
		}
		if len(ss.m) >= maxSessions {
			delete(ss.m, oldest)
		}
	}
	ss.m[sha256.Sum256([]byte(id))] = session{p: p, token: tok, expires: exp}
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

type loginRequest struct {
	Token string `json:"token"`
}

// login trades a token for a session cookie.
func (s *Server) login(c echo.Context) error {
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
		return errorf(http.StatusUnauthorized, "invalid team token")
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

// logout ends the browser session, if any.
func (s *Server) logout(c echo.Context) error {
	if ck, err := c.Request().Cookie(sessionCookie); err == nil {
		s.sessions.remove(ck.Value)
	}
	c.SetCookie(&http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		Secure: s.secure || c.Request().TLS != nil, SameSite: http.SameSiteStrictMode})
	return c.NoContent(http.StatusNoContent)
}
