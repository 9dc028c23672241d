package web

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// concretePath turns a route template into a path that matches it: the
// test scenario's service for :service, so that the consoles' routes are
// walked to the console.
func concretePath(p string) string {
	return strings.NewReplacer("*", "", ":service", "mail").Replace(p)
}

// probeBody is a body every route accepts as well-formed enough to get
// past authorization without changing anything.
func probeBody(rt route) string {
	switch {
	case rt.method == http.MethodGet:
		return ""
	case strings.HasSuffix(rt.path, "flags"):
		return "[]"
	}
	return "{}"
}

type testRole struct {
	name string
	bit  role // the role the server must see; anonymous for bad tokens
	tok  func(fx *fixture) string
}

func testRoles() []testRole {
	return []testRole{
		{name: "anonymous", bit: roleAnonymous},
		{name: "attack", bit: roleAttack, tok: func(fx *fixture) string { return fx.teamToken(teamHaNoi) }},
		{name: "defence", bit: roleDefence, tok: func(fx *fixture) string { return fx.teamToken(teamDef) }},
		{name: "both", bit: roleBoth, tok: func(fx *fixture) string { return fx.teamToken(teamCanTho) }},
		{name: "organizer", bit: roleOrganizer, tok: func(fx *fixture) string { return fx.toks.OrganizerToken() }},
		{name: "invalid", bit: roleAnonymous, tok: func(*fixture) string { return "00000000deadbeef00000000deadbeef" }},
	}
}

// TestRoleEndpointTable proves every role × endpoint pair of the route
// table, with each way of presenting credentials.
func TestRoleEndpointTable(t *testing.T) {
	fx := newFixture(t)
	fx.play()
	carriers := []string{"bearer", "header", "cookie"}
	// One session per role: logins are rate-limited.
	sessions := map[string]string{}
	for _, tr := range testRoles() {
		if tr.tok != nil && tr.name != "invalid" {
			sessions[tr.name] = fx.login(tr.tok(fx)).Value
		}
	}
	for _, rt := range fx.srv.routes() {
		for _, tr := range testRoles() {
			for _, carrier := range carriers {
				if tr.tok == nil && carrier != "bearer" {
					continue // anonymous has nothing to carry
				}
				name := rt.method + " " + rt.path + "/" + tr.name + "/" + carrier
				t.Run(name, func(t *testing.T) {
					var c cred
					if tr.tok != nil {
						tok := tr.tok(fx)
						switch carrier {
						case "bearer":
							c.bearer = tok
						case "header":
							c.header = tok
						case "cookie":
							if tr.name == "invalid" {
								c.cookie = "no-such-session"
							} else {
								c.cookie = sessions[tr.name]
								if rt.path == "/api/v1/logout" {
									// Ends the session it carries.
									c.cookie = fx.login(tok).Value
								}
							}
						}
					}
					w := fx.do(rt.method, concretePath(rt.path), probeBody(rt), c)
					allowed := rt.roles&tr.bit != 0
					switch {
					case allowed && (w.Code == http.StatusUnauthorized || w.Code == http.StatusForbidden || w.Code >= 500):
						t.Fatalf("allowed, got %d %s", w.Code, w.Body)
					case !allowed && tr.bit == roleAnonymous && w.Code != http.StatusUnauthorized:
						t.Fatalf("unauthenticated, want 401, got %d %s", w.Code, w.Body)
					case !allowed && tr.bit != roleAnonymous && w.Code != http.StatusForbidden:
						t.Fatalf("wrong role, want 403, got %d %s", w.Code, w.Body)
					}
					if !allowed && rt.method != http.MethodHead {
						var e errorBody
						if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Error == "" {
							t.Fatalf("error body %q is not {\"error\": ...}", w.Body)
						}
					}
				})
			}
		}
	}
}

// TestRequiredEndpoints pins the endpoints PROTOCOLS.md §2, §4, §5 and §7
// require to the route table.
func TestRequiredEndpoints(t *testing.T) {
	fx := newFixture(t)
	have := map[string]role{}
	for _, rt := range fx.srv.routes() {
		key := rt.method + " " + rt.path
		if _, dup := have[key]; dup {
			t.Errorf("route %s declared twice", key)
		}
		have[key] = rt.roles
	}
	for _, want := range []struct {
		route string
		roles role
	}{
		{"GET /healthz", everyone},
		{"GET /metrics", organizer},
		{"GET /api/v1/scoreboard", everyone},
		{"GET /api/v1/live", everyone},
		{"GET /api/v1/team/live", teams},
		{"GET /api/v1/admin/live", organizer},
		{"GET /api/v1/me", teams | organizer},
		{"GET /api/v1/targets", attackers},
		{"POST /api/v1/detections", defenders},
		{"GET /api/v1/detections", defenders},
		{"POST /api/v1/admin/phase", organizer},
		{"GET /api/v1/admin/teams", organizer},
		{"GET /api/v1/admin/flags", organizer},
		{"GET /api/v1/admin/range", organizer},
		{"GET /api/v1/admin/suspects", organizer},
		{"GET /api/v1/export/ctftime", everyone},
		{"PUT /flags", attackers},
		{"POST /api/v1/flags", attackers},
		{"POST /api/v1/login", everyone},
		{"POST /api/v1/logout", everyone},
	} {
		got, ok := have[want.route]
		if !ok {
			t.Errorf("route %s missing", want.route)
			continue
		}
		if got != want.roles {
			t.Errorf("route %s admits %v, want %v", want.route, got, want.roles)
		}
	}
	// Every route under /api/v1/admin/ is the organizer's alone.
	for _, rt := range fx.srv.routes() {
		if strings.HasPrefix(rt.path, "/api/v1/admin/") && rt.roles != organizer {
			t.Errorf("%s %s is under /admin but admits %v", rt.method, rt.path, rt.roles)
		}
	}
}
