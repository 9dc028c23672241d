package web

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"golang.org/x/net/html"

	cyberrange "github.com/cyrange/cyrange/range"
	"github.com/cyrange/cyrange/scoreboard"
)

// fakeConsoles is the mail replicas' admin console behind the defending
// teams' gateways: one HTTP server that tells the replicas apart by the
// Host its gateway was asked for ("mail.d03:8025"), as a console behind
// a name would. Like the mail server's, it uses absolute links, sets its
// session cookie on /admin/ and redirects to /admin/.
type fakeConsoles struct {
	srv *httptest.Server

	mu sync.Mutex
	// asked lists the teams AdminConsole was asked about.
	asked []int
	// seen lists the requests the console received.
	seen []seenRequest
	// down makes every gateway refuse its connections.
	down bool
}

type seenRequest struct {
	method, host, path string
	header             http.Header
	body               int
}

func newFakeConsoles(t testing.TB) *fakeConsoles {
	fc := &fakeConsoles{}
	fc.srv = httptest.NewServer(http.HandlerFunc(fc.serve))
	t.Cleanup(fc.srv.Close)
	return fc
}

// consoleHost is the name team's gateway knows its mail console by.
func consoleHost(team int) string { return fmt.Sprintf("mail.d%02d:8025", team) }

func operatorPassword(team int) string { return fmt.Sprintf("vận-hành-%d", team) }

func (fc *fakeConsoles) admin(_ context.Context, team, service int) (AdminConsole, error) {
	fc.mu.Lock()
	fc.asked = append(fc.asked, team)
	fc.mu.Unlock()
	// The mail replicas have a console, any other service none.
	if service != 0 || (team != teamCanTho && team != teamDef) {
		return AdminConsole{}, fmt.Errorf("fake: team %d has no console of service %d: %w", team, service, cyberrange.ErrNotFound)
	}
	host := consoleHost(team)
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		fc.mu.Lock()
		down := fc.down
		fc.mu.Unlock()
		// A team's gateway reaches its own replicas only.
		if down || addr != host {
			return nil, fmt.Errorf("fake gateway of team %d: connection to %s refused", team, addr)
		}
		var d net.Dialer
		return d.DialContext(ctx, network, fc.srv.Listener.Addr().String())
	}
	return AdminConsole{URL: "http://" + host + "/", Dial: dial, User: "operator", Password: operatorPassword(team)}, nil
}

func (fc *fakeConsoles) setDown(down bool) {
	fc.mu.Lock()
	fc.down = down
	fc.mu.Unlock()
}

func (fc *fakeConsoles) requests() []seenRequest {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	return slices.Clone(fc.seen)
}

func (fc *fakeConsoles) teamsAsked() []int {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	return slices.Clone(fc.asked)
}

const loginPage = `<!doctype html><html><head><title>VNMail Admin</title>
<link rel="stylesheet" href="/static/admin.css"><script>document.title = 'pwned'</script></head>
<body><img src="/static/logo.png" alt=""><a href="/admin/help">Help</a>
<a href="http://%[1]s/admin/users?q=1#top">Users</a> <a href="//elsewhere.example/x">away</a>
<a href="https://example.org/">docs</a> <a href="help">relative</a>
<form method="post" action="/admin/login"><input name="username"><input name="password" type="password">
<button formaction="/admin/login?again=1">Again</button><button>Log in</button></form></body></html>`

func (fc *fakeConsoles) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	fc.mu.Lock()
	fc.seen = append(fc.seen, seenRequest{method: r.Method, host: r.Host, path: r.URL.RequestURI(), header: r.Header.Clone(), body: len(body)})
	fc.mu.Unlock()
	team := -1
	for _, t := range []int{teamCanTho, teamDef} {
		if r.Host == consoleHost(t) {
			team = t
		}
	}
	if team < 0 {
		http.Error(w, "unknown host "+r.Host, http.StatusMisdirectedRequest)
		return
	}
	session := "ok-" + r.Host
	page := func(status int, s string) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(status)
		io.WriteString(w, s)
	}
	switch r.Method + " " + r.URL.Path {
	case "GET /", "HEAD /":
		http.Redirect(w, r, "/admin/", http.StatusFound)
	case "GET /admin/", "HEAD /admin/":
		if ck, err := r.Cookie("console_sess"); err != nil || ck.Value != session {
			http.Redirect(w, r, "/admin/login", http.StatusFound)
			return
		}
		page(http.StatusOK, `<h1>Bảng điều khiển</h1><a href="/admin/users">Hộp thư</a>`)
	case "GET /admin/login", "HEAD /admin/login":
		page(http.StatusOK, fmt.Sprintf(loginPage, r.Host))
	case "POST /admin/login":
		form, _ := url.ParseQuery(string(body))
		if form.Get("username") != "operator" || form.Get("password") != operatorPassword(team) {
			page(http.StatusUnauthorized, `<p>Sai tên đăng nhập hoặc mật khẩu.</p>`)
			return
		}
		http.SetCookie(w, &http.Cookie{Name: "console_sess", Value: session, Path: "/admin/", Domain: "mail.d03", HttpOnly: true})
		// A console in the attackers' hands would try to shadow the
		// defence's session.
		http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "planted", Path: "/"})
		w.Header().Set("Location", "http://"+r.Host+"/admin/")
		w.WriteHeader(http.StatusSeeOther)
	case "GET /admin/hostile":
		h := w.Header()
		h.Set("Content-Security-Policy", "script-src *")
		h.Set("Clear-Site-Data", `"cookies"`)
		h.Set("Strict-Transport-Security", "max-age=31536000")
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("WWW-Authenticate", `Basic realm="console"`)
		h.Set("Refresh", "0; url=/admin/")
		h.Set("X-Console", "1")
		page(http.StatusOK, `<script>alert(1)</script>`)
	case "GET /admin/early":
		// An early hint clears the proxy's header map once relayed.
		w.Header().Set("Link", "</static/x.js>; rel=preload; as=script")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Del("Link")
		page(http.StatusOK, `<script>alert(1)</script>`)
	case "GET /admin/big":
		page(http.StatusOK, "<p>"+strings.Repeat("x", consolePageLimit)+"</p>")
	case "GET /static/logo.png":
		w.Header().Set("Content-Type", "image/png")
		w.Write([]byte("\x89PNG\r\n\x1a\n"))
	case "POST /admin/upload":
		fmt.Fprintf(w, "%d bytes", len(body))
	default:
		http.NotFound(w, r)
	}
}

// browser is a defence member's browser on the server: a cookie jar
// logged in with tok, an Origin on every request like a page of the
// server's sends.
type browser struct {
	t    *testing.T
	base string
	jar  *cookiejar.Jar
	cl   *http.Client
}

func newBrowser(t *testing.T, base, tok string) *browser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	b := &browser{t: t, base: base, jar: jar, cl: &http.Client{Jar: jar}}
	if r := b.send(http.MethodPost, "/api/v1/login", "application/json", fmt.Sprintf(`{"token":%q}`, tok)); r.StatusCode != http.StatusOK {
		t.Fatalf("login: %d", r.StatusCode)
	}
	return b
}

func (b *browser) send(method, path, ctype, body string) *http.Response {
	b.t.Helper()
	req, err := http.NewRequest(method, b.base+path, strings.NewReader(body))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Origin", b.base)
	req.Header.Set("Referer", b.base+"/team.html")
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	r, err := b.cl.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	b.t.Cleanup(func() { r.Body.Close() })
	return r
}

func readAll(t *testing.T, r *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestAdminConsoleThroughProxy is a defence member's visit: open the
// console, follow its redirects, log in with the operator's login from
// /api/v1/team/replicas, and reach the dashboard behind the console's
// own cookie — while the console learns nothing of the session here.
func TestAdminConsoleThroughProxy(t *testing.T) {
	fx := newFixture(t)
	srv := httptest.NewServer(fx.srv.Handler())
	defer srv.Close()
	b := newBrowser(t, srv.URL, fx.teamToken(teamDef))

	var reps []replicaLine
	if err := json.Unmarshal([]byte(readAll(t, b.send(http.MethodGet, "/api/v1/team/replicas", "", ""))), &reps); err != nil {
		t.Fatal(err)
	}
	if len(reps) != 1 || reps[0].Proxy != "/console/replicas/mail/" || reps[0].Operator == nil ||
		reps[0].ViaGateway != "http://"+consoleHost(teamDef)+"/" {
		t.Fatalf("replicas %+v", reps)
	}

	r := b.send(http.MethodGet, "/console/replicas/mail", "", "")
	page := readAll(t, r)
	if r.StatusCode != http.StatusOK || r.Request.URL.Path != "/console/replicas/mail/admin/login" {
		t.Fatalf("opening the console ended at %s with %d: %s", r.Request.URL, r.StatusCode, page)
	}
	csp := r.Header.Get("Content-Security-Policy")
	for _, want := range []string{"script-src 'none'", "frame-ancestors 'none'", "base-uri 'none'", "object-src 'none'",
		"form-action http://" + r.Request.URL.Host + "/console/replicas/mail/ "} {
		if !strings.Contains(csp, want) {
			t.Errorf("policy %q lacks %q", csp, want)
		}
	}
	if got := r.Header.Values("Content-Security-Policy"); len(got) != 1 {
		t.Errorf("%d policies: %q", len(got), got)
	}
	if r.Header.Get("X-Content-Type-Options") != "nosniff" || r.Header.Get("Cache-Control") != "no-store" ||
		r.Header.Get("Referrer-Policy") != "same-origin" {
		t.Errorf("headers %v", r.Header)
	}
	for _, want := range []string{
		`<link rel="stylesheet" href="/console/replicas/mail/static/admin.css">`,
		`<img src="/console/replicas/mail/static/logo.png" alt="">`,
		`<a href="/console/replicas/mail/admin/help">`,
		`<a href="/console/replicas/mail/admin/users?q=1#top">`,
		`<a href="//elsewhere.example/x">`,
		`<a href="https://example.org/">`,
		`<a href="help">`,
		`<form method="post" action="/console/replicas/mail/admin/login">`,
		`<button formaction="/console/replicas/mail/admin/login?again=1">`,
		`<input name="username">`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %s:\n%s", want, page)
		}
	}

	form := url.Values{"username": {reps[0].Operator.User}, "password": {reps[0].Operator.Password}}
	r = b.send(http.MethodPost, "/console/replicas/mail/admin/login", "application/x-www-form-urlencoded", form.Encode())
	page = readAll(t, r)
	if r.StatusCode != http.StatusOK || r.Request.URL.Path != "/console/replicas/mail/admin/" || !strings.Contains(page, "Bảng điều khiển") {
		t.Fatalf("after logging in: %s %d %s", r.Request.URL, r.StatusCode, page)
	}
	if !strings.Contains(page, `href="/console/replicas/mail/admin/users"`) {
		t.Errorf("dashboard links not rewritten: %s", page)
	}
	at := func(p string) map[string]string {
		u, _ := url.Parse(srv.URL + p)
		m := map[string]string{}
		for _, c := range b.jar.Cookies(u) {
			m[c.Name] = c.Value
		}
		return m
	}
	if got := at("/console/replicas/mail/admin/"); got["console_sess"] == "" || got[sessionCookie] == "planted" {
		t.Errorf("cookies on the console: %v", got)
	}
	if got := at("/console/replicas/mail/"); got["console_sess"] != "" {
		t.Errorf("the console's cookie escaped its path: %v", got)
	}
	if r := b.send(http.MethodGet, "/api/v1/me", "", ""); r.StatusCode != http.StatusOK {
		t.Errorf("the session ended after the visit: %d", r.StatusCode)
	}

	// A tool with the token in a header, and a proxy in front that adds
	// its own.
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/console/replicas/mail/admin/login", nil)
	req.Header.Set("Authorization", "Bearer "+fx.teamToken(teamDef))
	req.Header.Set("X-Forwarded-For", "203.0.113.7")
	req.Header.Set("Forwarded", "for=203.0.113.7")
	req.Header.Set("X-Real-Ip", "203.0.113.7")
	tr, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	tr.Body.Close()
	if tr.StatusCode != http.StatusOK {
		t.Fatalf("with a bearer token: %d", tr.StatusCode)
	}

	sid := at("/")[sessionCookie]
	seen := fx.consoles.requests()
	if len(seen) < 6 {
		t.Fatalf("the console saw %d requests", len(seen))
	}
	for _, s := range seen {
		if s.host != consoleHost(teamDef) {
			t.Errorf("%s %s reached %s", s.method, s.path, s.host)
		}
		for k, v := range s.header {
			all := strings.Join(v, "\n")
			if strings.Contains(all, sid) || strings.Contains(all, fx.teamToken(teamDef)) || strings.Contains(all, sessionCookie) {
				t.Errorf("%s %s: the console saw the defence's credentials in %s: %q", s.method, s.path, k, v)
			}
			if k == "Authorization" || k == "X-Team-Token" || strings.HasPrefix(k, "X-Forwarded") || k == "Forwarded" || k == "X-Real-Ip" || k == "Referer" {
				t.Errorf("%s %s: the console saw %s: %q", s.method, s.path, k, v)
			}
		}
		if s.method == http.MethodPost && s.header.Get("Origin") != "http://"+consoleHost(teamDef) {
			t.Errorf("the console's form post came from %q", s.header.Get("Origin"))
		}
	}
	if last := seen[len(seen)-2]; last.path != "/admin/" || !strings.Contains(last.header.Get("Cookie"), "console_sess=ok-") {
		t.Errorf("the dashboard's request %+v", last)
	}
	for _, team := range fx.consoles.teamsAsked() {
		if team != teamDef {
			t.Errorf("the range was asked for team %d's console", team)
		}
	}
}

// TestAdminConsoleHostileAnswers checks that what a console in the
// attackers' hands answers does not become this origin's: its headers are
// dropped and the policy forbids its scripts, also after an early hint.
func TestAdminConsoleHostileAnswers(t *testing.T) {
	fx := newFixture(t)
	def := cred{header: fx.teamToken(teamDef)}
	for _, path := range []string{"/admin/hostile", "/admin/early"} {
		w := fx.do(http.MethodGet, "/console/replicas/mail"+path, "", def)
		if w.Code != http.StatusOK {
			t.Fatalf("%s: %d %s", path, w.Code, w.Body)
		}
		if got := w.Header().Values("Content-Security-Policy"); len(got) != 1 || !strings.Contains(got[0], "script-src 'none'") {
			t.Errorf("%s: policies %q", path, got)
		}
		for _, k := range []string{"Clear-Site-Data", "Strict-Transport-Security", "Access-Control-Allow-Origin", "Www-Authenticate", "Refresh", "X-Console", "Link"} {
			if v := w.Header().Values(k); len(v) != 0 {
				t.Errorf("%s: %s %q reached the browser", path, k, v)
			}
		}
		if w.Header().Get("X-Content-Type-Options") != "nosniff" || w.Header().Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s: headers %v", path, w.Header())
		}
	}
}

// TestAdminConsoleAccess: the defending teams reach their own console,
// nobody else reaches any, and the range is asked about the caller's team
// only.
func TestAdminConsoleAccess(t *testing.T) {
	fx := newFixtureWith(t, func(c *scoreboard.Config) {
		// A second service, whose replica (the defence's only) has no
		// console.
		c.Services = append(c.Services, scoreboard.Service{ID: 1, Name: "portal", Weight: 1, Stores: []string{"news"}})
		c.Replicas = append(c.Replicas, scoreboard.Replica{Owner: teamDef, Service: 1, Address: "127.0.20.4"})
	})
	for _, tc := range []struct {
		desc, path string
		c          cred
		status     int
		host       string // the console the request must reach
	}{
		{"anonymous", "/console/replicas/mail/admin/login", cred{}, 401, ""},
		{"invalid token", "/console/replicas/mail/admin/login", cred{bearer: "00000000deadbeef00000000deadbeef"}, 401, ""},
		{"attack team", "/console/replicas/mail/admin/login", cred{bearer: fx.teamToken(teamHaNoi)}, 403, ""},
		{"organizer", "/console/replicas/mail/admin/login", cred{bearer: fx.toks.OrganizerToken()}, 403, ""},
		{"defence", "/console/replicas/mail/admin/login", cred{bearer: fx.teamToken(teamDef)}, 200, consoleHost(teamDef)},
		{"both", "/console/replicas/mail/admin/login", cred{header: fx.teamToken(teamCanTho)}, 200, consoleHost(teamCanTho)},
		{"root without slash", "/console/replicas/mail", cred{bearer: fx.teamToken(teamDef)}, 302, ""},
		{"unknown service", "/console/replicas/dns/", cred{bearer: fx.teamToken(teamDef)}, 404, ""},
		{"no console", "/console/replicas/portal/", cred{bearer: fx.teamToken(teamDef)}, 404, ""},
		{"another team's replica only", "/console/replicas/portal/", cred{bearer: fx.teamToken(teamCanTho)}, 404, ""},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			before := len(fx.consoles.requests())
			w := fx.do(http.MethodGet, tc.path, "", tc.c)
			if w.Code != tc.status {
				t.Fatalf("%d, want %d: %s", w.Code, tc.status, w.Body)
			}
			seen := fx.consoles.requests()[before:]
			switch {
			case tc.host == "" && len(seen) != 0:
				t.Errorf("the console was reached: %+v", seen)
			case tc.host != "" && (len(seen) != 1 || seen[0].host != tc.host):
				t.Errorf("reached %+v, want %s", seen, tc.host)
			}
			if w.Code >= 400 && !strings.Contains(w.Body.String(), `"error"`) {
				t.Errorf("error body %s", w.Body)
			}
		})
	}
	if w := fx.do(http.MethodGet, "/console/replicas/mail", "", cred{bearer: fx.teamToken(teamDef)}); w.Header().Get("Location") != "/console/replicas/mail/" {
		t.Errorf("root redirects to %q", w.Header().Get("Location"))
	}
	asked := fx.consoles.teamsAsked()
	if !slices.Equal(asked, []int{teamDef, teamCanTho, teamDef}) {
		t.Errorf("the range was asked about teams %v", asked)
	}
}

// TestAdminConsoleOrigin: a form post to the console passes the check
// every cookie-authenticated unsafe request passes.
func TestAdminConsoleOrigin(t *testing.T) {
	fx := newFixture(t)
	ck := fx.login(fx.teamToken(teamDef)).Value
	for _, tc := range []struct {
		origin string
		status int
	}{
		{"http://evil.example", http.StatusForbidden},
		{"null", http.StatusForbidden},
		{"http://example.com", http.StatusOK}, // httptest's own host
	} {
		before := len(fx.consoles.requests())
		w := fx.do(http.MethodPost, "/console/replicas/mail/admin/upload", "a=1", cred{cookie: ck, origin: tc.origin})
		if w.Code != tc.status {
			t.Errorf("Origin %s: %d, want %d: %s", tc.origin, w.Code, tc.status, w.Body)
		}
		if reached := len(fx.consoles.requests()) > before; reached != (tc.status == http.StatusOK) {
			t.Errorf("Origin %s: console reached %v", tc.origin, reached)
		}
	}
}

// TestAdminConsoleFailures: bodies over the limits and a gateway that
// does not answer get clear errors, and a server without the range's
// consoles says so.
func TestAdminConsoleFailures(t *testing.T) {
	fx := newFixture(t)
	def := cred{bearer: fx.teamToken(teamDef)}
	w := fx.do(http.MethodPost, "/console/replicas/mail/admin/upload", strings.Repeat("x", consoleBodyLimit), def)
	if w.Code != http.StatusOK || w.Body.String() != fmt.Sprintf("%d bytes", consoleBodyLimit) {
		t.Errorf("a body at the limit: %d %s", w.Code, w.Body)
	}
	w = fx.do(http.MethodPost, "/console/replicas/mail/admin/upload", strings.Repeat("x", consoleBodyLimit+1), def)
	if w.Code != http.StatusRequestEntityTooLarge || !strings.Contains(w.Body.String(), "larger than") {
		t.Errorf("a body over the limit: %d %s", w.Code, w.Body)
	}
	w = fx.do(http.MethodGet, "/console/replicas/mail/admin/big", "", def)
	if w.Code != http.StatusBadGateway || !strings.Contains(w.Body.String(), "larger than 4 MiB") {
		t.Errorf("a page over the limit: %d %.200s", w.Code, w.Body)
	}
	w = fx.do(http.MethodHead, "/console/replicas/mail/admin/login", "", def)
	if w.Code != http.StatusOK || w.Body.Len() != 0 {
		t.Errorf("HEAD: %d %q", w.Code, w.Body)
	}

	fx.consoles.setDown(true)
	w = fx.do(http.MethodGet, "/console/replicas/mail/admin/", "", def)
	var e errorBody
	if w.Code != http.StatusBadGateway || json.Unmarshal(w.Body.Bytes(), &e) != nil || !strings.Contains(e.Error, "did not answer through your defence gateway") {
		t.Errorf("gateway down: %d %s", w.Code, w.Body)
	}
	if strings.Contains(w.Body.String(), "refused") {
		t.Errorf("the gateway's error reached the browser: %s", w.Body)
	}
	if !strings.Contains(fx.logs.String(), "admin console proxy failed") {
		t.Error("the failure was not logged")
	}

	// A console that does not answer in time is a 504, however the wait
	// ended.
	for _, err := range []error{fmt.Errorf("proxy: %w", context.DeadlineExceeded), &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}} {
		rec := httptest.NewRecorder()
		fx.srv.consoleError("mail", "x")(rec, httptest.NewRequest(http.MethodGet, "/console/replicas/mail/", nil), err)
		if rec.Code != http.StatusGatewayTimeout || !strings.Contains(rec.Body.String(), "did not answer within 30s") {
			t.Errorf("%v: %d %s", err, rec.Code, rec.Body)
		}
	}

	bare := newFixture(t, func(o *Options) { o.Range = nil })
	w = bare.do(http.MethodGet, "/console/replicas/mail/", "", cred{bearer: bare.teamToken(teamDef)})
	if w.Code != http.StatusNotImplemented {
		t.Errorf("without the range's consoles: %d %s", w.Code, w.Body)
	}
	var reps []replicaLine
	bare.getJSON("/api/v1/team/replicas", cred{bearer: bare.teamToken(teamDef)}, &reps)
	if len(reps) != 1 || reps[0].Proxy != "" || reps[0].Operator != nil || reps[0].Gateway != nil {
		t.Errorf("replicas without the range's consoles: %+v", reps)
	}
}

func TestConsoleURLs(t *testing.T) {
	p, err := newConsoleProxy("mail", "http://mail.d01:8025")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		in, want string
		local    bool
	}{
		{"/admin/", "/console/replicas/mail/admin/", true},
		{"/", "/console/replicas/mail/", true},
		{" /admin/x?y=1#z ", "/console/replicas/mail/admin/x?y=1#z", true},
		{`\admin`, "/console/replicas/mail/admin", true},
		{"http://mail.d01:8025/admin/", "/console/replicas/mail/admin/", true},
		{"HTTP://MAIL.D01:8025", "/console/replicas/mail/", true},
		{"//mail.d01:8025/admin/", "/console/replicas/mail/admin/", true},
		{"//elsewhere.example/", "//elsewhere.example/", false},
		{"/\t/elsewhere.example/", "/\t/elsewhere.example/", false},
		{`/\elsewhere.example/`, `/\elsewhere.example/`, false},
		{"http://mail.d02:8025/admin/", "http://mail.d02:8025/admin/", false},
		{"https://mail.d01:8025/admin/", "https://mail.d01:8025/admin/", false},
		{"http://user@mail.d01:8025/", "http://user@mail.d01:8025/", false},
		{"admin/", "admin/", false},
		{"javascript:alert(1)", "javascript:alert(1)", false},
		{"", "", false},
	} {
		got, local := p.localURL(tc.in)
		if got != tc.want || local != tc.local {
			t.Errorf("localURL(%q) = %q, %v; want %q, %v", tc.in, got, local, tc.want, tc.local)
		}
	}
	for _, tc := range []struct{ line, reqPath, want string }{
		{"s=1; Path=/admin/; Domain=mail.d01; HttpOnly", "/admin/login", "s=1; Path=/console/replicas/mail/admin/; HttpOnly"},
		{"s=1", "/admin/login", "s=1; Path=/console/replicas/mail/admin"},
		{"s=1", "/login", "s=1; Path=/console/replicas/mail/"},
		{"s=1; Path=relative", "/admin/x", "s=1; Path=/console/replicas/mail/admin"},
		{"s=1; Path=/; SameSite=Lax; Max-Age=0", "/", "s=1; Path=/console/replicas/mail/; Max-Age=0; SameSite=Lax"},
		{sessionCookie + "=planted; Path=/", "/", ""},
		{"=broken", "/", ""},
	} {
		if got := p.cookie(tc.line, tc.reqPath); got != tc.want {
			t.Errorf("cookie(%q, %q) = %q, want %q", tc.line, tc.reqPath, got, tc.want)
		}
	}
	if got := consoleCookies([]string{"a=1; " + sessionCookie + "=secret;b=\"2\"", sessionCookie + "=x", " c=3 "}); got != `a=1; b="2"; c=3` {
		t.Errorf("cookies forwarded: %q", got)
	}

	sub, err := newConsoleProxy("web", "https://portal.d01/panel")
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := sub.localURL("/panel/users"); got != "/console/replicas/web/users" {
		t.Errorf("under a base path: %q", got)
	}
	for _, bad := range []string{"ftp://x/", "mail.d01:8025", "http:///x", "http://u:p@x/", "%zz"} {
		if _, err := newConsoleProxy("mail", bad); err == nil {
			t.Errorf("console URL %q accepted", bad)
		}
	}
}

// FuzzRewriteHTML feeds the rewriter pages it may meet from a console in
// the attackers' hands. A page with nothing to rewrite must come back
// byte for byte; a rewritten page must tokenize into the same tags, and
// no link in it may be an absolute path outside the console's prefix.
func FuzzRewriteHTML(f *testing.F) {
	for _, s := range []string{
		fmt.Sprintf(loginPage, "mail.d01:8025"),
		`<a href=/x>`, `<a href='/x' href="/y">`, `<A HREF=/x/>`, `<img src=/x/>`, `<a href="/x`,
		`<script><a href="/x"></script><a href="/y">`, `<textarea><a href=/x></textarea>`,
		`<svg><a xlink:href="/x"/></svg>`, `<a href="&#x2f;x">`, "<a href=\"\t/\t/x\">", "<a href=\x00/x>",
		`<!-- <a href=/x> --><a href=/y>`, `<a/href=/x>`, `<a href=/x<b>`, `<form action="/">`,
	} {
		f.Add([]byte(s))
	}
	p, err := newConsoleProxy("mail", "http://mail.d01:8025/")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, page []byte) {
		if got := rewriteHTML(page, func(v string) (string, bool) { return v, false }); !bytes.Equal(got, page) {
			t.Fatalf("a page with nothing to rewrite changed:\n%q\n%q", page, got)
		}
		out := rewriteHTML(page, p.localURL)
		want, got := tags(page), tags(out)
		if !slices.Equal(want, got) {
			t.Fatalf("tags changed:\n%q\n%q\nin  %q\nout %q", want, got, page, out)
		}
		z := html.NewTokenizer(bytes.NewReader(out))
		for tt := z.Next(); tt != html.ErrorToken; tt = z.Next() {
			if tt != html.StartTagToken && tt != html.SelfClosingTagToken {
				continue
			}
			for _, a := range z.Token().Attr {
				v := browserURL(a.Val)
				if linkAttrs[a.Key] && len(v) > 0 && isSlash(v[0]) && (len(v) == 1 || !isSlash(v[1])) &&
					!strings.HasPrefix(v, "/console/replicas/mail/") {
					t.Fatalf("link %s=%q left outside the prefix in %q", a.Key, a.Val, out)
				}
			}
		}
	})
}

// tags lists a page's token types and tag names, as a browser's
// tokenizer sees them.
func tags(page []byte) []string {
	var out []string
	z := html.NewTokenizer(bytes.NewReader(page))
	for tt := z.Next(); tt != html.ErrorToken; tt = z.Next() {
		name, _ := z.TagName()
		out = append(out, tt.String()+" "+string(name))
	}
	return out
}
