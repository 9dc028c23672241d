package browser

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/cyrange/cyrange/internal/browsertest"
	cyberrange "github.com/cyrange/cyrange/range"
	"github.com/cyrange/cyrange/scoreboard/web"
)

// operatorPassword is the mail console's operator password in these
// tests.
const operatorPassword = "Vận-hành-2026"

// consoleRange is the test range with the defence's own gateway: it
// leads the defence to the mail replica's admin console (the portal has
// none), served here by fakeAdminConsole.
type consoleRange struct {
	fakeRange
	console *httptest.Server
}

func (r consoleRange) DefenceGateway(_ context.Context, team int) (any, error) {
	if team != defenceTeam() {
		return nil, fmt.Errorf("fake: no defence gateway of team %d: %w", team, cyberrange.ErrNotFound)
	}
	return map[string]string{"socks5": "127.0.0.1:21080", "user": defenceName, "short": "d01"}, nil
}

func (r consoleRange) AdminConsole(_ context.Context, team, service int) (web.AdminConsole, error) {
	if team != defenceTeam() || service != mail {
		return web.AdminConsole{}, fmt.Errorf("fake: no console of team %d service %d: %w", team, service, cyberrange.ErrNotFound)
	}
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		if addr != "mail.d01:8025" {
			return nil, fmt.Errorf("fake gateway: %s refused", addr)
		}
		var d net.Dialer
		return d.DialContext(ctx, network, r.console.Listener.Addr().String())
	}
	return web.AdminConsole{URL: "http://mail.d01:8025/", Dial: dial, User: "operator", Password: operatorPassword}, nil
}

// withConsoles gives the defence its gateway and the mail replica's admin
// console.
func withConsoles(t *testing.T) serverOpt {
	console := httptest.NewServer(http.HandlerFunc(fakeAdminConsole))
	t.Cleanup(console.Close)
	return serverOpt{web: func(o *web.Options) {
		o.Range = consoleRange{fakeRange: o.Range.(fakeRange), console: console}
	}}
}

// fakeAdminConsole is a console like the mail server's: absolute links,
// its session cookie on /admin/, a redirect to /admin/ after the login,
// and a script the proxy's policy must keep from running.
func fakeAdminConsole(w http.ResponseWriter, r *http.Request) {
	page := func(s string) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, `<!doctype html><html lang="vi"><head><meta charset="utf-8">`+s+`<script>document.title = 'pwned'</script></body></html>`)
	}
	switch r.Method + " " + r.URL.Path {
	case "GET /":
		http.Redirect(w, r, "/admin/", http.StatusFound)
	case "GET /admin/login":
		page(`<title>VNMail Admin</title></head><body><form method="post" action="/admin/login">` +
			`<label>Tài khoản <input id="u" name="username"></label><label>Mật khẩu <input id="p" name="password" type="password"></label>` +
			`<button id="go">Đăng nhập</button></form>` +
			// A console in the attackers' hands posts to the API, with
			// the defence's session, when a member clicks.
			`<form method="post" action="../../../../api/v1/logout"><button id="away">Tiếp tục</button></form>`)
	case "POST /admin/login":
		if r.ParseForm() != nil || r.PostForm.Get("username") != "operator" || r.PostForm.Get("password") != operatorPassword {
			http.Error(w, "sai mật khẩu", http.StatusUnauthorized)
			return
		}
		http.SetCookie(w, &http.Cookie{Name: "console_sess", Value: "ok", Path: "/admin/", HttpOnly: true})
		http.Redirect(w, r, "/admin/", http.StatusSeeOther)
	case "GET /admin/":
		if ck, err := r.Cookie("console_sess"); err != nil || ck.Value != "ok" {
			http.Redirect(w, r, "/admin/login", http.StatusFound)
			return
		}
		page(`<title>Tổng quan</title></head><body><h1>Bảng điều khiển</h1><a id="users" href="/admin/users">Tài khoản</a>`)
	default:
		http.NotFound(w, r)
	}
}

// TestDefenceOpensItsConsole: the defence console shows each replica's
// way in, the operator's login behind a toggle and the team's tools,
// and the defence logs in to its mail console through the proxy, in the
// browser, with the console's script kept from running.
func TestDefenceOpensItsConsole(t *testing.T) {
	srv := newServer(t, withConsoles(t))
	srv.play(1)
	tb := newTab(t, 1280, 900)
	tb.login(srv.url+"/team.html", srv.teamToken(defenceTeam()))
	tb.WaitJS("the consoles", `document.querySelectorAll('#consoles .console-card').length === 2`, 3*time.Second)

	link := `#consoles .console-card[data-service="mail"] a.open-console`
	if got := eval[[]string](tb, fmt.Sprintf(`(() => { const a = document.querySelector(%q); return a ? [a.getAttribute('href'), a.target, a.rel] : []; })()`, link)); strings.Join(got, " ") != "/console/replicas/mail/ _blank noopener" {
		t.Errorf("the mail console's link: %q", got)
	}
	if eval[bool](tb, `!!document.querySelector('#consoles .console-card[data-service="portal"] a.open-console')`) {
		t.Error("a link to the portal, which has no console")
	}
	secret := `#consoles .console-card[data-service="mail"] .secret`
	if got := tb.Text(secret); got == operatorPassword || !strings.Contains(tb.Text(`#consoles .console-card[data-service="mail"]`), "operator") {
		t.Errorf("the login before the toggle: %q", got)
	}
	tb.Run("showing the password", browsertest.Press(secret+" + button"))
	if got := tb.Text(secret); got != operatorPassword {
		t.Errorf("the password shown reads %q", got)
	}
	if eval[string](tb, fmt.Sprintf(`document.querySelector(%q).getAttribute('aria-pressed')`, secret+" + button")) != "true" {
		t.Error("the toggle is not pressed")
	}
	tools := tb.Text("#defence-tools")
	for _, want := range []string{"127.0.0.1:21080", "curl --socks5-hostname d01:$TOKEN@127.0.0.1:21080 http://mail.d01:8025/",
		"socks5 127.0.0.1 21080 d01 $TOKEN", "proxychains4 ssh d01@defencebox", "/var/log/replica/"} {
		if !strings.Contains(tools, want) {
			t.Errorf("the tools lack %q: %s", want, tools)
		}
	}
	if strings.Contains(tools, srv.teamToken(defenceTeam())) {
		t.Error("the tools show the team's token")
	}
	for _, b := range eval[[]string](tb, auditJS) {
		t.Errorf("the defence console: %s", b)
	}
	tb.Run("English", browsertest.Press("#lang"))
	tb.WaitJS("English", `document.querySelector('#consoles a.open-console')?.textContent === 'Open admin console'`, 2*time.Second)
	if got := tb.Text(secret); got != operatorPassword {
		t.Errorf("the password hid again with the language: %q", got)
	}
	for _, b := range eval[[]string](tb, auditJS) {
		t.Errorf("the defence console in English: %s", b)
	}

	// The link opens a new tab; the same tab, with the same session, is
	// where a test can follow it.
	href := eval[string](tb, fmt.Sprintf(`document.querySelector(%q).href`, link))
	tb.Open(href)
	tb.WaitJS("the console's login", `document.querySelector('form #u') !== null`, 5*time.Second)
	if got := eval[string](tb, `location.pathname`); got != "/console/replicas/mail/admin/login" {
		t.Errorf("the console opened at %s", got)
	}
	if got := eval[string](tb, `document.title`); got != "VNMail Admin" {
		t.Errorf("the console's script ran: title %q", got)
	}
	tb.Run("a hostile form", browsertest.Press("#away"))
	time.Sleep(300 * time.Millisecond)
	if got := eval[string](tb, `location.pathname`); got != "/console/replicas/mail/admin/login" {
		t.Errorf("the console's form left for %s", got)
	}
	if got := tb.status("/api/v1/me"); got != http.StatusOK {
		t.Errorf("the console's form ended the session: /api/v1/me answers %d", got)
	}
	tb.Run("logging in to the console", chromedp.SetValue(chromedp.CSS("#u"), "operator"),
		chromedp.SetValue(chromedp.CSS("#p"), operatorPassword), browsertest.Press("#go"))
	tb.AfterNavigation("the dashboard", `document.querySelector('h1')?.textContent === 'Bảng điều khiển'`, 5*time.Second)
	u, _ := url.Parse(eval[string](tb, `document.querySelector('#users').href`))
	if got := eval[string](tb, `location.pathname`); got != "/console/replicas/mail/admin/" || u.Path != "/console/replicas/mail/admin/users" {
		t.Errorf("the dashboard at %s links %s", got, u.Path)
	}
	if got := eval[string](tb, `document.title`); got != "Tổng quan" {
		t.Errorf("the console's script ran: title %q", got)
	}
	// The defence's session here is still its own.
	if got := tb.status("/api/v1/me"); got != http.StatusOK {
		t.Errorf("after the console /api/v1/me answers %d", got)
	}
}
