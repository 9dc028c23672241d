package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cyrange/cyrange/scoreboard"
	"github.com/cyrange/cyrange/static"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// golden compares a JSON response with testdata/golden/<name>.json,
// indented so that a diff reads well.
func golden(t *testing.T, name string, body []byte) {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Indent(&buf, body, "", "  "); err != nil {
		t.Fatalf("%s: response is not JSON: %v\n%s", name, err, body)
	}
	buf.WriteByte('\n')
	path := filepath.Join("testdata", "golden", name+".json")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("%s differs from %s (run with -update if intended)\ngot:\n%s", name, path, buf.Bytes())
	}
}

func TestGoldenResponses(t *testing.T) {
	fx := newFixture(t)
	fx.play()
	org := cred{bearer: fx.toks.OrganizerToken()}
	if w := fx.do(http.MethodPost, "/api/v1/detections",
		`{"attacker":"Đội Hà Nội","service":"mail","seenAt":"2026-03-02T08:00:30+07:00"}`,
		cred{header: fx.teamToken(teamDef)}); w.Code != http.StatusCreated {
		t.Fatalf("detection report: %d %s", w.Code, w.Body)
	}
	for _, tc := range []struct {
		name, method, path, body string
		c                        cred
		status                   int
	}{
		{"healthz", "GET", "/healthz", "", cred{}, 200},
		{"scoreboard", "GET", "/api/v1/scoreboard", "", cred{}, 200},
		{"ctftime", "GET", "/api/v1/export/ctftime", "", cred{}, 200},
		{"me_attack", "GET", "/api/v1/me", "", cred{header: fx.teamToken(teamHaNoi)}, 200},
		{"me_defence", "GET", "/api/v1/me", "", cred{header: fx.teamToken(teamDef)}, 200},
		{"me_organizer", "GET", "/api/v1/me", "", org, 200},
		{"targets_both", "GET", "/api/v1/targets", "", cred{bearer: fx.teamToken(teamCanTho)}, 200},
		{"detections_defence", "GET", "/api/v1/detections", "", cred{header: fx.teamToken(teamDef)}, 200},
		{"admin_scoreboard", "GET", "/api/v1/admin/scoreboard", "", org, 200},
		{"admin_teams", "GET", "/api/v1/admin/teams", "", org, 200},
		{"admin_flags_tick1", "GET", "/api/v1/admin/flags?tick=1", "", org, 200},
		{"admin_range", "GET", "/api/v1/admin/range", "", org, 200},
		{"admin_phase_bogus", "POST", "/api/v1/admin/phase", `{"action":"bogus"}`, org, 400},
		{"admin_phase_pause", "POST", "/api/v1/admin/phase", `{"action":"pause"}`, org, 200},
		{"unauthenticated", "GET", "/api/v1/me", "", cred{}, 401},
		{"not_found", "GET", "/no/such/file.txt", "", cred{}, 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := fx.do(tc.method, tc.path, tc.body, tc.c)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.status, w.Body)
			}
			if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type %q", ct)
			}
			golden(t, tc.name, w.Body.Bytes())
		})
	}
}

func TestPhaseEndpoint(t *testing.T) {
	fx := newFixture(t)
	org := cred{bearer: fx.toks.OrganizerToken()}
	for _, tc := range []struct {
		desc, body string
		status     int
		want       string // in the body
	}{
		{"pause before start", `{"action":"pause"}`, 409, "cannot pause while setup"},
		{"unknown action", `{"action":"bogus"}`, 400, "unknown action"},
		{"missing action", `{}`, 400, "action is required"},
		{"not JSON", `start`, 400, "invalid JSON body"},
		{"empty body", ``, 400, "empty request body"},
		{"truncated", `{"action":"sta`, 400, "unexpected end"},
		{"unknown field", `{"action":"start","now":true}`, 400, `unknown field \"now\"`},
		{"two values", `{"action":"start"} {"action":"end"}`, 400, "more than one value"},
		{"wrong type", `{"action":5}`, 400, "invalid JSON body"},
		{"too large", `{"action":"` + strings.Repeat("a", 8<<10) + `"}`, 413, "larger than"},
		{"start", `{"action":"start"}`, 200, `"phase":"running"`},
		{"start twice", `{"action":"start"}`, 409, "cannot start while running"},
		{"freeze", `{"action":"freeze"}`, 200, `"frozen":true`},
		{"freeze twice", `{"action":"freeze"}`, 409, "cannot freeze"},
		{"pause", `{"action":"pause"}`, 200, `"phase":"paused"`},
		{"resume", `{"action":"resume"}`, 200, `"phase":"running"`},
		{"end", `{"action":"end"}`, 200, `"phase":"ended"`},
		{"resume after end", `{"action":"resume"}`, 409, "cannot resume while ended"},
	} {
		// Sequential: each step depends on the phase the one before left.
		w := fx.do(http.MethodPost, "/api/v1/admin/phase", tc.body, org)
		if w.Code != tc.status || !strings.Contains(w.Body.String(), tc.want) {
			t.Errorf("%s: got %d %s, want %d containing %q", tc.desc, w.Code, w.Body, tc.status, tc.want)
		}
		if w.Code != 200 {
			var e errorBody
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Error == "" {
				t.Errorf("%s: error body %s", tc.desc, w.Body)
			}
		}
	}
	if p, _ := fx.game.Phase(); p != scoreboard.PhaseEnded {
		t.Errorf("phase %v after the sequence, want ended", p)
	}
}

func TestAdminFlagsTick(t *testing.T) {
	fx := newFixture(t)
	org := cred{bearer: fx.toks.OrganizerToken()}
	if w := fx.do("GET", "/api/v1/admin/flags", "", org); w.Code != http.StatusNotFound {
		t.Errorf("before the first tick: %d %s, want 404", w.Code, w.Body)
	}
	fx.play()
	for _, tc := range []struct {
		query  string
		status int
	}{
		{"", 200}, {"?tick=0", 200}, {"?tick=1", 200},
		{"?tick=2", 404}, {"?tick=2147483647", 404},
		{"?tick=-1", 400}, {"?tick=abc", 400}, {"?tick=1.5", 400}, {"?tick=99999999999", 400},
	} {
		w := fx.do("GET", "/api/v1/admin/flags"+tc.query, "", org)
		if w.Code != tc.status {
			t.Errorf("%q: %d %s, want %d", tc.query, w.Code, w.Body, tc.status)
		}
		if w.Code == 200 {
			var fl []scoreboard.IssuedFlag
			if err := json.Unmarshal(w.Body.Bytes(), &fl); err != nil || len(fl) != 4 {
				t.Errorf("%q: %d flags (%v), want 2 replicas × 2 stores", tc.query, len(fl), err)
			}
		}
	}
}

func TestLoginCookie(t *testing.T) {
	for _, secure := range []bool{false, true} {
		t.Run(fmt.Sprintf("secure=%v", secure), func(t *testing.T) {
			fx := newFixture(t, func(o *Options) { o.SecureCookies = secure; o.SessionTTL = time.Hour })
			tok := fx.teamToken(teamHaNoi)
			w := fx.do(http.MethodPost, "/api/v1/login", `{"token":"`+tok+`"}`, cred{})
			if w.Code != http.StatusOK {
				t.Fatalf("login: %d %s", w.Code, w.Body)
			}
			if strings.Contains(w.Body.String(), tok) || strings.Contains(w.Header().Get("Set-Cookie"), tok) {
				t.Fatal("the login response carries the token")
			}
			cookies := w.Result().Cookies()
			if len(cookies) != 1 {
				t.Fatalf("%d cookies", len(cookies))
			}
			ck := cookies[0]
			if ck.Name != sessionCookie || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode ||
				ck.Path != "/" || ck.Secure != secure || ck.MaxAge != 3600 || len(ck.Value) < 32 {
				t.Fatalf("cookie %+v", ck)
			}
			if w := fx.do("GET", "/api/v1/me", "", cred{cookie: ck.Value}); w.Code != 200 ||
				!strings.Contains(w.Body.String(), "Đội Hà Nội") {
				t.Fatalf("me with the session: %d %s", w.Code, w.Body)
			}
			// A second login gets a different session.
			if other := fx.login(tok); other.Value == ck.Value {
				t.Fatal("two logins share a session id")
			}
			// Expiry: the session dies with its TTL.
			fx.advance(time.Hour)
			if w := fx.do("GET", "/api/v1/me", "", cred{cookie: ck.Value}); w.Code != 401 {
				t.Fatalf("me with an expired session: %d %s", w.Code, w.Body)
			}
		})
	}
}

func TestLoginErrorsAndLogout(t *testing.T) {
	fx := newFixture(t)
	for _, tc := range []struct {
		body   string
		status int
	}{
		{`{"token":"00000000000000000000000000000000"}`, 401},
		{`{"token":""}`, 400},
		{`{"token":42}`, 400},
		{`{"token":"x","role":"organizer"}`, 400},
		{`[]`, 400},
		{`{"token":"` + strings.Repeat("a", 5000) + `"}`, 413},
	} {
		w := fx.do(http.MethodPost, "/api/v1/login", tc.body, cred{})
		if w.Code != tc.status || len(w.Result().Cookies()) != 0 {
			t.Errorf("%.40s: %d %s (cookies %v), want %d and no cookie", tc.body, w.Code, w.Body, w.Result().Cookies(), tc.status)
		}
	}
	ck := fx.login(fx.toks.OrganizerToken())
	w := fx.do(http.MethodPost, "/api/v1/logout", "", cred{cookie: ck.Value})
	if w.Code != http.StatusNoContent {
		t.Fatalf("logout: %d", w.Code)
	}
	if cl := w.Result().Cookies(); len(cl) != 1 || cl[0].MaxAge >= 0 || cl[0].Value != "" {
		t.Fatalf("logout cookie %+v", cl)
	}
	if w := fx.do("GET", "/api/v1/admin/teams", "", cred{cookie: ck.Value}); w.Code != 401 {
		t.Fatalf("admin after logout: %d", w.Code)
	}
	// A stale cookie never breaks the public board.
	if w := fx.do("GET", "/api/v1/scoreboard", "", cred{cookie: ck.Value}); w.Code != 200 {
		t.Fatalf("scoreboard with a stale cookie: %d", w.Code)
	}
}

func TestCredentialForms(t *testing.T) {
	fx := newFixture(t)
	tok := fx.teamToken(teamDaNang)
	for _, tc := range []struct {
		desc   string
		header http.Header
		status int
	}{
		{"bearer", http.Header{"Authorization": {"Bearer " + tok}}, 200},
		{"bearer lower case", http.Header{"Authorization": {"bearer " + tok}}, 200},
		{"x-team-token", http.Header{"X-Team-Token": {tok}}, 200},
		{"basic scheme", http.Header{"Authorization": {"Basic " + tok}}, 401},
		{"bearer without token", http.Header{"Authorization": {"Bearer"}}, 401},
		{"bearer wins over header", http.Header{"Authorization": {"Bearer nope-nope-nope-nope"}, "X-Team-Token": {tok}}, 401},
		{"none", http.Header{}, 401},
	} {
		r := httptest.NewRequest("GET", "/api/v1/me", nil)
		for k, v := range tc.header {
			r.Header[k] = v
		}
		w := httptest.NewRecorder()
		fx.srv.Handler().ServeHTTP(w, r)
		if w.Code != tc.status {
			t.Errorf("%s: %d %s, want %d", tc.desc, w.Code, w.Body, tc.status)
		}
	}
}

func TestFlagsForwarding(t *testing.T) {
	fx := newFixture(t)
	tok := fx.teamToken(teamHaNoi)
	body := `["VNAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="]`
	ck := fx.login(tok)
	for _, c := range []cred{
		{header: tok},
		{bearer: tok},
		{cookie: ck.Value},
		// The resolved caller wins over a second, different header.
		{bearer: tok, header: fx.teamToken(teamDaNang)},
	} {
		for _, path := range []struct{ method, path string }{{"PUT", "/flags"}, {"POST", "/api/v1/flags"}} {
			w := fx.do(path.method, path.path, body, c)
			if w.Code != 200 || w.Body.String() != "[]" {
				t.Fatalf("%s %s: %d %s", path.method, path.path, w.Code, w.Body)
			}
		}
	}
	fx.flags.mu.Lock()
	defer fx.flags.mu.Unlock()
	if len(fx.flags.tokens) != 8 {
		t.Fatalf("%d forwarded requests, want 8", len(fx.flags.tokens))
	}
	for i := range fx.flags.tokens {
		if fx.flags.tokens[i] != tok || fx.flags.bodies[i] != body {
			t.Errorf("request %d forwarded with token %q body %q", i, fx.flags.tokens[i], fx.flags.bodies[i])
		}
	}
}

func TestLiveStreamsGetTheCaller(t *testing.T) {
	fx := newFixture(t)
	for _, team := range []int{teamHaNoi, teamCanTho, teamDef} {
		w := fx.do("GET", "/api/v1/team/live", "", cred{header: fx.teamToken(team)})
		if want := fmt.Sprintf("team %d stream", team); w.Body.String() != want {
			t.Errorf("team %d: %q", team, w.Body)
		}
	}
	if w := fx.do("GET", "/api/v1/admin/live", "", cred{bearer: fx.toks.OrganizerToken()}); w.Body.String() != "admin stream" {
		t.Errorf("admin: %q", w.Body)
	}
}

func TestOriginChecks(t *testing.T) {
	fx := newFixture(t, func(o *Options) {
		o.AllowedOrigins = []string{"https://bang-diem.example.vn/", "relay.example.vn:8443"}
	})
	org := fx.toks.OrganizerToken()
	ck := fx.login(org)
	for _, tc := range []struct {
		desc, method, path, body, origin string
		status                           int
	}{
		{"foreign page, phase", "POST", "/api/v1/admin/phase", `{"action":"bogus"}`, "https://evil.example", 403},
		{"own page, phase", "POST", "/api/v1/admin/phase", `{"action":"bogus"}`, "http://example.com", 400},
		{"allowed page, phase", "POST", "/api/v1/admin/phase", `{"action":"bogus"}`, "https://BANG-DIEM.example.vn", 400},
		{"no origin, phase", "POST", "/api/v1/admin/phase", `{"action":"bogus"}`, "", 400},
		{"allowed host, phase", "POST", "/api/v1/admin/phase", `{"action":"bogus"}`, "https://relay.example.vn:8443", 400},
		{"allowed page, other scheme", "POST", "/api/v1/admin/phase", `{"action":"bogus"}`, "http://bang-diem.example.vn", 403},
		{"garbage origin", "POST", "/api/v1/admin/phase", `{"action":"bogus"}`, "null", 403},
		{"file origin", "POST", "/api/v1/admin/phase", `{"action":"bogus"}`, "file://example.com", 403},
		{"foreign page, admin live", "GET", "/api/v1/admin/live", "", "https://evil.example", 403},
		{"foreign page, public live", "GET", "/api/v1/live", "", "https://evil.example", 403},
		{"own page, public live", "GET", "/api/v1/live", "", "http://example.com", 200},
		{"foreign page, plain GET", "GET", "/api/v1/admin/teams", "", "https://evil.example", 200},
	} {
		w := fx.do(tc.method, tc.path, tc.body, cred{cookie: ck.Value, origin: tc.origin})
		if w.Code != tc.status {
			t.Errorf("%s: %d %s, want %d", tc.desc, w.Code, w.Body, tc.status)
		}
	}
	if p, _ := fx.game.Phase(); p != scoreboard.PhaseSetup {
		t.Errorf("a refused request changed the phase to %v", p)
	}
	anyOrigin := newFixture(t, func(o *Options) { o.AllowedOrigins = []string{"*"} })
	if w := anyOrigin.do("GET", "/api/v1/live", "", cred{origin: "https://evil.example"}); w.Code != 200 {
		t.Errorf("\"*\" refused a foreign page: %d", w.Code)
	}
}

func TestErrorMapping(t *testing.T) {
	fx := newFixture(t)
	for _, tc := range []struct {
		err    error
		status int
		body   string
	}{
		{fmt.Errorf("detections: bad field seenAt: %w", scoreboard.ErrInvalid), 400, "bad field seenAt"},
		{fmt.Errorf("tokens: invalid team token: %w", scoreboard.ErrUnauthorized), 401, "invalid team token"},
		{fmt.Errorf("submit: team does not attack: %w", scoreboard.ErrForbidden), 403, "team does not attack"},
		{fmt.Errorf("web: outer: %w", fmt.Errorf("scoreboard: tick 9: %w", scoreboard.ErrNotFound)), 404, "outer: scoreboard: tick 9"},
		{fmt.Errorf("Game Over: %w", scoreboard.ErrConflict), 409, "Game Over"},
		{fmt.Errorf("submit: slow down: %w", scoreboard.ErrRateLimited), 429, "slow down"},
		{scoreboard.ErrUnavailable, 503, "unavailable"},
		{errorf(418, "short and stout"), 418, "short and stout"},
		{&http.MaxBytesError{Limit: 10}, 413, "request body larger than 10 bytes"},
		{errors.New("open /var/lib/cyrange/secret.db: disk on fire"), 500, "internal error"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		w := httptest.NewRecorder()
		fx.srv.handleError(tc.err, fx.srv.echo.NewContext(r, w))
		var e errorBody
		if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || w.Code != tc.status || e.Error != tc.body {
			t.Errorf("%v: %d %s, want %d %q", tc.err, w.Code, w.Body, tc.status, tc.body)
		}
		if tc.status == 429 && w.Header().Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
	}
	if logs := fx.logs.String(); !strings.Contains(logs, "disk on fire") || strings.Contains(logs, "short and stout") {
		t.Errorf("only internal errors must be logged; log:\n%s", logs)
	}
}

func TestRangeErrorsAndMissingParts(t *testing.T) {
	fx := newFixture(t, func(o *Options) {
		o.Range = fakeRange{err: fmt.Errorf("range: docker: %w", scoreboard.ErrUnavailable)}
	})
	if w := fx.do("GET", "/api/v1/admin/range", "", cred{bearer: fx.toks.OrganizerToken()}); w.Code != 503 {
		t.Errorf("range down: %d %s", w.Code, w.Body)
	}

	bare := newFixture(t, func(o *Options) { o.Live, o.Flags, o.Detections, o.Range = nil, nil, nil, nil })
	bare.play()
	org := cred{bearer: bare.toks.OrganizerToken()}
	def := cred{header: bare.teamToken(teamDef)}
	att := cred{header: bare.teamToken(teamHaNoi)}
	for _, tc := range []struct {
		method, path, body string
		c                  cred
		status             int
		want               string
	}{
		{"GET", "/api/v1/admin/range", "", org, 200, `{"driver":"none"}`},
		{"GET", "/api/v1/targets", "", att, 200, `"gateway":null`},
		{"GET", "/api/v1/live", "", cred{}, 501, "live stream"},
		{"GET", "/api/v1/team/live", "", att, 501, "live stream"},
		{"GET", "/api/v1/admin/live", "", org, 501, "live stream"},
		{"PUT", "/flags", "[]", att, 501, "flag submission"},
		{"POST", "/api/v1/detections", "{}", def, 501, "detection reports"},
		{"GET", "/api/v1/detections", "", def, 501, "detection reports"},
	} {
		w := bare.do(tc.method, tc.path, tc.body, tc.c)
		if w.Code != tc.status || !strings.Contains(w.Body.String(), tc.want) {
			t.Errorf("%s %s: %d %s, want %d with %q", tc.method, tc.path, w.Code, w.Body, tc.status, tc.want)
		}
	}
}

func TestDetections(t *testing.T) {
	fx := newFixture(t)
	def := cred{header: fx.teamToken(teamDef)}
	for _, tc := range []struct {
		body   string
		status int
		want   string
	}{
		{`{"attacker":"127.0.10.5","service":"mail","seenAt":"2026-03-02T08:00:30+07:00"}`, 201, `"verdict":"pending"`},
		{`{"service":"mail"}`, 400, "attacker is required"},
		{`[1,2]`, 400, "invalid JSON body"},
		{`null`, 400, "want an object"},
		{`{"attacker":`, 400, "invalid JSON body"},
		{`{"notes":"` + strings.Repeat("x", 70<<10) + `"}`, 413, "larger than"},
	} {
		w := fx.do("POST", "/api/v1/detections", tc.body, def)
		if w.Code != tc.status || !strings.Contains(w.Body.String(), tc.want) {
			t.Errorf("%.40s: %d %s, want %d with %q", tc.body, w.Code, w.Body, tc.status, tc.want)
		}
	}
	// Each defending team sees its own reports only.
	if w := fx.do("GET", "/api/v1/detections", "", cred{header: fx.teamToken(teamCanTho)}); w.Body.String() != "[]\n" {
		t.Errorf("another team's list: %s", w.Body)
	}
	if w := fx.do("GET", "/api/v1/detections", "", def); !strings.Contains(w.Body.String(), "127.0.10.5") {
		t.Errorf("own list: %s", w.Body)
	}
}

// TestFreezeHidesScores checks that the public surfaces show the board of
// the freeze while the game goes on, and the truth after the end.
func TestFreezeHidesScores(t *testing.T) {
	fx := newFixture(t)
	fx.play()
	org := cred{bearer: fx.toks.OrganizerToken()}
	get := func(path string, c cred) string {
		w := fx.do("GET", path, "", c)
		if w.Code != 200 {
			t.Fatalf("%s: %d %s", path, w.Code, w.Body)
		}
		return w.Body.String()
	}
	standings := func(body string) string {
		var v scoreboard.View
		if err := json.Unmarshal([]byte(body), &v); err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(v.Standings)
		return string(b)
	}
	if w := fx.do("POST", "/api/v1/admin/phase", `{"action":"freeze"}`, org); w.Code != 200 {
		t.Fatalf("freeze: %d %s", w.Code, w.Body)
	}
	ctfBefore := get("/api/v1/export/ctftime", cred{})
	boardBefore := standings(get("/api/v1/scoreboard", cred{}))
	meBefore := get("/api/v1/me", cred{header: fx.teamToken(teamDaNang)})

	fx.capture(teamDaNang, teamDef, "inbox")
	fx.capture(teamDaNang, teamDef, "draft")

	if got := get("/api/v1/export/ctftime", cred{}); got != ctfBefore {
		t.Errorf("ctftime moved during the freeze:\n%s\n%s", ctfBefore, got)
	}
	if got := standings(get("/api/v1/scoreboard", cred{})); got != boardBefore {
		t.Errorf("public standings moved during the freeze")
	}
	if got := standings(get("/api/v1/admin/scoreboard", org)); got == boardBefore {
		t.Errorf("the organizer's board is frozen too")
	}
	if got := get("/api/v1/me", cred{header: fx.teamToken(teamDaNang)}); got == meBefore {
		t.Errorf("a team's own line is frozen")
	}
	if w := fx.do("POST", "/api/v1/admin/phase", `{"action":"end"}`, org); w.Code != 200 {
		t.Fatalf("end: %d %s", w.Code, w.Body)
	}
	var feed scoreboard.CTFtimeFeed
	public := get("/api/v1/export/ctftime", cred{})
	if err := json.Unmarshal([]byte(public), &feed); err != nil {
		t.Fatal(err)
	}
	if export := get("/api/v1/admin/export?format=ctftime", org); strings.TrimSpace(export) != strings.TrimSpace(public) {
		t.Errorf("the organizer's feed and the public one differ after the end:\n%s\n%s", export, public)
	}
	if len(feed.Standings) != 3 || feed.Standings[0].Team != "Đội Đà Nẵng" || feed.Standings[0].Pos != 1 {
		t.Errorf("final feed %+v: want the three attack-capable teams, Đà Nẵng first", feed)
	}
	for i := 1; i < len(feed.Standings); i++ {
		if feed.Standings[i].Score > feed.Standings[i-1].Score || feed.Standings[i].Pos != i+1 {
			t.Errorf("feed not ranked: %+v", feed.Standings)
		}
	}
}

// TestNoSecretsOnPublicSurfaces scans every route open to the audience for
// every token and every flag issued, during the game and after the freeze.
func TestNoSecretsOnPublicSurfaces(t *testing.T) {
	fx := newFixture(t)
	fx.play()
	org := cred{bearer: fx.toks.OrganizerToken()}
	scan := func(stage string) {
		secrets := fx.secrets()
		if len(secrets) < 5+4 {
			t.Fatalf("only %d secrets to look for", len(secrets))
		}
		// The scan must be able to fail: the organizer's routes do hold them.
		if w := fx.do("GET", "/api/v1/admin/teams", "", org); !strings.Contains(w.Body.String(), secrets[1]) {
			t.Fatal("the scan's secrets are not the server's tokens")
		}
		if w := fx.do("GET", "/api/v1/admin/flags", "", org); !strings.Contains(w.Body.String(), secrets[len(secrets)-1]) {
			t.Fatal("the scan's secrets are not the issued flags")
		}
		paths := map[string]bool{}
		for _, rt := range fx.srv.routes() {
			if rt.roles&roleAnonymous == 0 {
				continue
			}
			p := concretePath(rt.path)
			paths[p] = true
			w := fx.do(rt.method, p, probeBody(rt), cred{})
			var all strings.Builder
			all.Write(w.Body.Bytes())
			for k, v := range w.Header() {
				fmt.Fprintf(&all, "%s: %s\n", k, v)
			}
			for _, s := range secrets {
				if strings.Contains(all.String(), s) {
					t.Errorf("%s: %s %s shows secret %s", stage, rt.method, p, s)
				}
			}
		}
		for _, p := range []string{"/", "/index.html", "/app.js", "/style.css"} {
			w := fx.do("GET", p, "", cred{})
			for _, s := range secrets {
				if strings.Contains(w.Body.String(), s) {
					t.Errorf("%s: %s shows secret %s", stage, p, s)
				}
			}
		}
		if !paths["/api/v1/scoreboard"] || !paths["/healthz"] || !paths["/api/v1/export/ctftime"] {
			t.Fatal("the scan missed the public routes")
		}
	}
	scan("running")
	if w := fx.do("POST", "/api/v1/admin/phase", `{"action":"freeze"}`, org); w.Code != 200 {
		t.Fatal(w.Body)
	}
	fx.advance(time.Minute)
	if err := fx.game.StartTick(context.Background()); err != nil {
		t.Fatal(err)
	}
	fx.game.WaitChecks()
	fx.capture(teamHaNoi, teamCanTho, "inbox")
	scan("frozen")
}

func TestSecurityHeadersAndStatic(t *testing.T) {
	fx := newFixture(t)
	for _, tc := range []struct {
		path, ctype string
		status      int
		want        string
	}{
		{"/", "text/html", 200, `<meta charset="utf-8">`},
		{"/app.js", "javascript", 200, "/api/v1/live"},
		{"/style.css", "text/css", 200, ".st-OK"},
		{"/api/v1/scoreboard", "application/json", 200, `"standings"`},
		{"/missing.js", "application/json", 404, `{"error":"not found"}`},
		{"/../../etc/passwd", "application/json", 404, `"error"`},
	} {
		w := fx.do("GET", tc.path, "", cred{})
		h := w.Header()
		if w.Code != tc.status || !strings.Contains(h.Get("Content-Type"), tc.ctype) || !strings.Contains(w.Body.String(), tc.want) {
			t.Errorf("%s: %d %q %.80s", tc.path, w.Code, h.Get("Content-Type"), w.Body)
		}
		csp := h.Get("Content-Security-Policy")
		if !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") ||
			h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") == "" {
			t.Errorf("%s: security headers missing: %v", tc.path, h)
		}
	}
	if w := fx.do("GET", "/api/v1/admin/teams", "", cred{bearer: fx.toks.OrganizerToken()}); w.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("tokens may be cached: %q", w.Header().Get("Cache-Control"))
	}
	// No page may need anything the policy forbids.
	pages, err := fs.Glob(static.FS, "*.html")
	if err != nil || len(pages) < 5 {
		t.Fatalf("pages %v %v", pages, err)
	}
	for _, p := range pages {
		path := "/" + p
		if p == "index.html" {
			path = "/" // served at the root; /index.html redirects there
		}
		w := fx.do("GET", path, "", cred{})
		if w.Code != 200 {
			t.Errorf("%s: %d", p, w.Code)
		}
		for _, bad := range []string{"<script>", "style=", "http://", "https://", "onclick", "javascript:"} {
			if strings.Contains(w.Body.String(), bad) {
				t.Errorf("%s contains %q, which the policy or the no-external-resources rule forbids", p, bad)
			}
		}
	}
}

func TestMetrics(t *testing.T) {
	fx := newFixture(t)
	m := fx.srv.Metrics()
	m.ObserveSubmission("OK", 3)
	m.ObserveSubmission("DUP", 1)
	m.ObserveSubmission("<script>", 2)
	m.ObserveCommit(300 * time.Microsecond)
	m.SetViewers(2)
	m.ViewersOf("public", 5)
	m.ViewersOf("team", 3)
	m.ViewersOf("public", 4)
	m.ObserveTick(2 * time.Second)
	var nilM *Metrics
	nilM.ObserveSubmission("OK", 1)
	nilM.ObserveCommit(time.Second)
	nilM.SetViewers(1)
	nilM.ViewersOf("public", 1)
	nilM.ObserveTick(time.Second)
	fx.do("GET", "/healthz", "", cred{})
	fx.do("GET", "/api/v1/me", "", cred{})
	// The organizer's alone: the counts move with captures.
	if w := fx.do("GET", "/metrics", "", cred{}); w.Code != http.StatusUnauthorized {
		t.Fatalf("anonymous /metrics: %d, want 401", w.Code)
	}
	if w := fx.do("GET", "/metrics", "", cred{bearer: fx.teamToken(teamHaNoi)}); w.Code != http.StatusForbidden {
		t.Fatalf("a team's /metrics: %d, want 403", w.Code)
	}
	w := fx.do("GET", "/metrics", "", cred{bearer: fx.toks.OrganizerToken()})
	if w.Code != 200 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	body := w.Body.String()
	for _, want := range []string{
		`cyrange_submissions_total{code="OK"} 3`,
		`cyrange_submissions_total{code="DUP"} 1`,
		`cyrange_submissions_total{code="INV"} 0`,
		`cyrange_submissions_total{code="other"} 2`,
		`cyrange_commit_seconds_count 1`,
		`cyrange_commit_seconds_bucket{le="0.0004"} 1`,
		`cyrange_live_viewers 7`,
		`cyrange_tick_duration_seconds_count 1`,
		`cyrange_http_requests_total{code="200",route="/healthz"} 1`,
		`cyrange_http_requests_total{code="401",route="/api/v1/me"} 1`,
		`cyrange_http_requests_total{code="401",route="/metrics"} 1`,
		`cyrange_http_refused_connections_total 0`,
		`go_goroutines`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("exposition lacks %q", want)
		}
	}
	if strings.Contains(body, "<script>") {
		t.Error("a caller's code reached the label set")
	}
}

// TestTargetsCarryPorts: an attack team learns from /api/v1/targets the
// ports of every target, not only its address (PROTOCOLS.md §5).
func TestTargetsCarryPorts(t *testing.T) {
	fx := newFixture(t)
	fx.play()
	w := fx.do("GET", "/api/v1/targets", "", cred{bearer: fx.teamToken(teamHaNoi)})
	if w.Code != http.StatusOK {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	var b struct {
		Targets []struct {
			Team    string `json:"team"`
			Address string `json:"address"`
			Ports   []struct {
				Name   string `json:"name"`
				Number int    `json:"port"`
			} `json:"ports"`
		} `json:"targets"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &b); err != nil {
		t.Fatal(err)
	}
	if len(b.Targets) != 2 {
		t.Fatalf("targets %s", w.Body)
	}
	for _, tg := range b.Targets {
		if len(tg.Ports) != 3 || tg.Ports[0].Name != "smtp" || tg.Ports[0].Number != 10025 || tg.Ports[2].Number != 10080 {
			t.Errorf("target %s at %s: ports %+v, want smtp 10025, imap 10143, http 10080", tg.Team, tg.Address, tg.Ports)
		}
	}
}

// TestServeMetrics: with a listen address of its own, /metrics answers
// there without a token (a Prometheus on a private network), and nothing
// else does.
func TestServeMetrics(t *testing.T) {
	fx := newFixture(t)
	fx.srv.Metrics().ObserveSubmission("OK", 2)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- fx.srv.ServeMetrics(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ServeMetrics after cancel: %v", err)
		}
	})
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := client.Get("http://" + ln.Addr().String() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/metrics"); code != 200 || !strings.Contains(body, `cyrange_submissions_total{code="OK"} 2`) {
		t.Fatalf("/metrics: %d %.200s", code, body)
	}
	for _, p := range []string{"/", "/healthz", "/api/v1/scoreboard", "/api/v1/admin/teams"} {
		if code, _ := get(p); code != http.StatusNotFound {
			t.Errorf("%s on the metrics address: %d, want 404", p, code)
		}
	}
}
