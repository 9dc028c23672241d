package browser

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/cyrange/cyrange/internal/browsertest"
	"github.com/cyrange/cyrange/scoreboard"
)

// login fills the page's login form with token and sends it.
func (tb *tab) login(url, token string) {
	tb.T.Helper()
	tb.Open(url)
	tb.Run("logging in", chromedp.WaitVisible(chromedp.CSS("#token")), chromedp.SetValue(chromedp.CSS("#token"), token),
		browsertest.Press(`#login-form button[type="submit"]`))
}

// status fetches path from inside the page, with the page's session.
func (tb *tab) status(path string) int {
	tb.T.Helper()
	return eval[int](tb, fmt.Sprintf(`fetch(%q, {credentials: 'same-origin'}).then((r) => r.status)`, path))
}

func visible(id string) string {
	return fmt.Sprintf(`(() => { const e = document.getElementById(%q); return !!e && !e.hidden && e.offsetParent !== null; })()`, id)
}

func TestLoginWrongToken(t *testing.T) {
	srv := newServer(t)
	for _, page := range []string{"/team.html", "/admin.html"} {
		t.Run(page, func(t *testing.T) {
			tb := newTab(t, 1280, 800)
			tb.login(srv.url+page, "00000000000000000000000000000000")
			tb.WaitJS("the refusal", visible("login-error"), 3*time.Second)
			msg := tb.Text("#login-error")
			if !strings.Contains(msg, "Mã đội không đúng") || !strings.Contains(msg, "invalid team token") {
				t.Errorf("refusal reads %q", msg)
			}
			if eval[string](tb, `document.getElementById('token').getAttribute('aria-invalid')`) != "true" {
				t.Error("the token field is not marked invalid")
			}
			if got := tb.status("/api/v1/me"); got != 401 {
				t.Errorf("after a refused login /api/v1/me answers %d", got)
			}
			for _, id := range []string{"portal", "console"} {
				if eval[bool](tb, visible(id)) {
					t.Errorf("%s shown after a refused login", id)
				}
			}
		})
	}
}

// TestTeamIsolation logs an attack team in and checks it sees its own
// data only, and nothing of the organizer's.
func TestTeamIsolation(t *testing.T) {
	srv := newServer(t)
	srv.play(2) // Hà Nội (0) captured twice; others too
	tb := newTab(t, 1280, 800)
	tb.login(srv.url+"/team.html", srv.teamToken(0))
	tb.WaitJS("the portal", visible("portal"), 3*time.Second)
	if got := tb.Text("#team-name"); got != attackTeams[0] {
		t.Fatalf("portal of %q", got)
	}
	tb.WaitJS("own captures", `document.querySelectorAll('#captures tbody tr').length === 2`, 3*time.Second)
	// Each target with its ports, and examples on the ports the range chose.
	tb.WaitJS("the targets", `document.querySelectorAll('#targets tbody tr').length === 2`, 3*time.Second)
	if got := tb.Text("#targets tbody tr"); !strings.Contains(got, "smtp 10025 · imap 10143 · http 10080") {
		t.Errorf("first target row %q lacks its ports", got)
	}
	if got := tb.Text("#gateway"); !strings.Contains(got, "http://127.0.20.10:10080/") {
		t.Errorf("gateway examples %q do not use the target's ports", got)
	}

	for path, want := range map[string]int{
		"/api/v1/me":               200,
		"/api/v1/targets":          200,
		"/api/v1/admin/teams":      403,
		"/api/v1/admin/flags":      403,
		"/api/v1/admin/events":     403,
		"/api/v1/admin/export":     403,
		"/api/v1/admin/range":      403,
		"/api/v1/admin/scoreboard": 403,
		"/api/v1/detections":       403,
		"/api/v1/team/replicas":    403,
	} {
		if got := tb.status(path); got != want {
			t.Errorf("%s: %d, want %d", path, got, want)
		}
	}
	// The team's stream is its own: its line and its events only.
	var snap struct {
		Team      string `json:"team"`
		Standings []struct {
			Team string `json:"team"`
		} `json:"standings"`
		Recent []struct {
			Kind, Team, Target string
		} `json:"recent"`
	}
	raw := eval[string](tb, `new Promise((resolve, reject) => {
		const ws = new WebSocket('ws://' + location.host + '/api/v1/team/live');
		ws.onmessage = (ev) => { ws.close(); resolve(ev.data); };
		ws.onerror = () => reject(new Error('team stream refused'));
	})`)
	if err := json.Unmarshal([]byte(raw), &snap); err != nil {
		t.Fatal(err)
	}
	if snap.Team != attackTeams[0] || len(snap.Standings) != 1 || snap.Standings[0].Team != attackTeams[0] {
		t.Errorf("team stream of %q with standings %+v", snap.Team, snap.Standings)
	}
	for _, it := range snap.Recent {
		if it.Kind != "phase" && it.Team != attackTeams[0] && it.Target != attackTeams[0] {
			t.Errorf("team stream carries another team's item %+v", it)
		}
	}

	// The organizer console refuses the team and shows no token.
	tb.Open(srv.url + "/admin.html")
	tb.WaitJS("the refusal", visible("admin-denied"), 3*time.Second)
	if msg := tb.Text("#denied-text"); !strings.Contains(msg, attackTeams[0]) || !strings.Contains(msg, "ban tổ chức") {
		t.Errorf("refusal reads %q", msg)
	}
	time.Sleep(200 * time.Millisecond)
	html := eval[string](tb, `document.documentElement.outerHTML`)
	for i := range srv.cfg.Teams {
		if strings.Contains(html, srv.teamToken(i)) {
			t.Errorf("the organizer page shows %s's token to a team", srv.cfg.Teams[i].Name)
		}
	}
	if strings.Contains(html, srv.toks.OrganizerToken()) || eval[bool](tb, visible("console")) {
		t.Error("the organizer console opened for a team")
	}
}

// TestFlagFormVerdicts pastes several flags and expects one verdict row
// per distinct flag, in order, with its code in words.
func TestFlagFormVerdicts(t *testing.T) {
	srv := newServer(t)
	srv.play(2) // Hải Phòng (1) captured mail/inbox in tick 2
	tb := newTab(t, 1280, 900)
	tb.login(srv.url+"/team.html", srv.teamToken(1))
	tb.WaitJS("the flag form", visible("flag-form"), 3*time.Second)
	tb.WaitJS("the stats", `document.querySelectorAll('#stats .stat').length >= 4`, 3*time.Second)
	capturesBefore := tb.Text("#stats .stat:nth-child(4) .v")

	fresh := srv.flag(mail, "attachments")
	dup := srv.flag(mail, "inbox")
	paste := strings.Join([]string{fresh, "  " + dup, "", "NOT-A-FLAG", fresh}, "\n")
	tb.Run("submitting", chromedp.SetValue(chromedp.CSS("#flags"), paste), browsertest.Press(`#flag-form button[type="submit"]`))
	tb.WaitJS("the verdicts", `document.querySelectorAll('#flag-results tbody tr').length === 3`, 3*time.Second)
	rows := eval[[][]string](tb, `[...document.querySelectorAll('#flag-results tbody tr')].map((tr) => [tr.dataset.code, ...[...tr.cells].map((c) => c.textContent)])`)
	want := []struct{ code, flag, words, msg string }{
		{"OK", fresh, "được chấp nhận", "Accepted"},
		{"DUP", dup, "đã nộp trước đó", "already submitted"},
		{"INV", "NOT-A-FLAG", "không hợp lệ", "invalid flag"},
	}
	for i, w := range want {
		r := rows[i]
		if r[0] != w.code || r[1] != w.flag || !strings.Contains(r[2], w.words) || !strings.Contains(r[3], w.msg) {
			t.Errorf("row %d: %q, want %s %s %q %q", i, r, w.code, w.flag, w.words, w.msg)
		}
	}
	if got := tb.Text("#flag-summary"); !strings.Contains(got, "3") || !strings.Contains(got, "OK 1") {
		t.Errorf("summary %q", got)
	}
	if got := eval[string](tb, `document.getElementById('flags').value`); got != "" {
		t.Errorf("the settled flags stay in the box: %q", got)
	}
	// The team's own numbers follow from its stream.
	tb.WaitJS("the new capture count", fmt.Sprintf(`document.querySelector('#stats .stat:nth-child(4) .v').textContent !== %q`, capturesBefore), 2*time.Second)

	// A refused request shows the server's status and reason, and keeps
	// the flags for later.
	srv.act(scoreboard.ActPause)
	news := srv.flag(portal, "news")
	tb.Run("submitting while paused", chromedp.SetValue(chromedp.CSS("#flags"), news), browsertest.Press(`#flag-form button[type="submit"]`))
	tb.WaitJS("the refusal", visible("flag-error"), 3*time.Second)
	if got := tb.Text("#flag-error"); !strings.Contains(got, "409") || !strings.Contains(got, "paused") {
		t.Errorf("refusal reads %q", got)
	}
	if got := eval[string](tb, `document.getElementById('flags').value`); got != news {
		t.Errorf("the box holds %q after a refusal", got)
	}
}

func TestDefenceConsole(t *testing.T) {
	srv := newServer(t, withoutDetections())
	srv.play(5) // the portal was MUMBLE, OFFLINE, then RECOVERING
	tb := newTab(t, 1920, 1080)
	tb.login(srv.url+"/team.html", srv.teamToken(defenceTeam()))
	tb.WaitJS("the services", `document.querySelectorAll('#services .svc-card').length === 2`, 3*time.Second)

	portalCard := `#services .svc-card[data-service="portal"]`
	tb.WaitJS("the portal's status", fmt.Sprintf(`document.querySelector('%s .st')?.textContent === 'RECOVERING'`, portalCard), 3*time.Second)
	strip := eval[[]string](tb, fmt.Sprintf(`[...document.querySelectorAll('%s .tk')].map((e) => e.className.replace('tk tk-', ''))`, portalCard))
	if strings.Join(strip, " ") != "OK OK MUMBLE OFFLINE RECOVERING" {
		t.Errorf("portal strip %v", strip)
	}
	if label := eval[string](tb, fmt.Sprintf(`document.querySelector('%s .strip').getAttribute('aria-label')`, portalCard)); !strings.Contains(label, "OFFLINE ×1") {
		t.Errorf("the strip's text %q does not say what the colours do", label)
	}
	if href := eval[string](tb, fmt.Sprintf(`document.querySelector('%s a')?.href ?? ''`, portalCard)); href != "http://127.0.20.11:18025/" {
		t.Errorf("console link %q", href)
	}
	st, err := srv.game.Standing(defenceTeam())
	if err != nil {
		t.Fatal(err)
	}
	if got := tb.Text("#stats"); st.FlagsLost == 0 || !strings.Contains(got, fmt.Sprintf("Cờ bị mất%d ·", st.FlagsLost)) || !strings.Contains(got, fmt.Sprintf("Cờ giữ được%d ·", st.FlagsProtected)) {
		t.Errorf("lost %d / protected %d flags not in %q", st.FlagsLost, st.FlagsProtected, got)
	}
	tb.WaitJS("the log panel's empty state", visible("logs-empty"), time.Second)

	// This server takes no detection reports yet: the form says so.
	tb.Run("reporting", chromedp.SetValue(chromedp.CSS("#det-attacker"), attackTeams[2]),
		browsertest.Press(`#det-form button[type="submit"]`))
	tb.WaitJS("the refusal", visible("det-result"), 3*time.Second)
	if got := tb.Text("#det-result"); !strings.Contains(got, "501") || !strings.Contains(got, "detection reports are not available") {
		t.Errorf("refusal reads %q", got)
	}
	if !strings.Contains(tb.Text("#verdicts"), "501") {
		t.Errorf("verdict list: %q", tb.Text("#verdicts"))
	}

	// With detections wired, a report goes through, waits, and is judged
	// against the gateways' telemetry: Đà Nẵng did reach the mail.
	srv2 := newServer(t)
	srv2.play(2)
	tb2 := newTab(t, 1280, 900)
	tb2.login(srv2.url+"/team.html", srv2.teamToken(defenceTeam()))
	tb2.WaitJS("the form", visible("det-form"), 3*time.Second)
	tb2.WaitJS("the services in the form", `document.querySelectorAll('#det-service option').length === 2`, 3*time.Second)
	tb2.waitLive(10 * time.Second)
	tb2.Run("reporting", chromedp.SetValue(chromedp.CSS("#det-attacker"), attackTeams[2]),
		chromedp.SetValue(chromedp.CSS("#det-technique"), "T1110"),
		chromedp.SetValue(chromedp.CSS("#det-notes"), "dò mật khẩu IMAP"),
		browsertest.Press(`#det-form button[type="submit"]`))
	tb2.WaitJS("the receipt", `document.getElementById('det-result').classList.contains('ok')`, 3*time.Second)
	if got := tb2.Text("#det-result"); !strings.Contains(got, "#1") || !strings.Contains(got, "đang chờ chấm") {
		t.Errorf("receipt %q", got)
	}
	// The game may judge it at once when the evidence is already in.
	tb2.WaitJS("the listed report", `document.querySelector('#verdicts tr[data-verdict]') !== null`, 3*time.Second)
	reports := srv2.game.DetectionReports(defenceTeam())
	if len(reports) != 1 || reports[0].Attacker != attackTeams[2] || reports[0].Service != "mail" || reports[0].Technique != "T1110" ||
		time.Since(reports[0].SeenAt) > time.Hour {
		t.Fatalf("reports filed %+v", reports)
	}
	// The tick ends: the report is judged for good, and the verdict
	// comes live.
	srv2.tick()
	tb2.WaitJS("the verdict", `document.querySelector('#verdicts tr[data-verdict="true_positive"]') !== null`, 3*time.Second)
	if got := tb2.Text(`#verdicts tr[data-verdict="true_positive"]`); !strings.Contains(got, "chính xác") {
		t.Errorf("verdict row %q", got)
	}
	tb2.WaitJS("the detection points", `document.querySelector('#stats').textContent.includes('Điểm phát hiện+')`, 3*time.Second)
}

// TestTargetLogs streams target log lines to the defence console and
// filters them by service, source address and text.
func TestTargetLogs(t *testing.T) {
	srv := newServer(t)
	srv.play(1)
	tb := newTab(t, 1280, 900)
	tb.login(srv.url+"/team.html", srv.teamToken(defenceTeam()))
	tb.WaitJS("the empty log panel", visible("logs-empty"), 5*time.Second)
	tb.waitLive(10 * time.Second)
	now := time.Now()
	lines := []scoreboard.TickerItem{
		{Time: now, Service: "mail", Source: "127.0.13.5", Text: "AUTH LOGIN failed for user=admin"},
		{Time: now, Service: "portal", Source: "127.0.11.7", Text: "GET /../../etc/passwd 400"},
		{Time: now, Service: "mail", Source: "127.0.11.7", Text: "VRFY root 252"},
		{Time: now, Service: "mail", Source: "127.0.13.5", Text: "AUTH LOGIN failed for user=vanthu"},
	}
	for _, l := range lines {
		srv.hub.PublishLog(defenceTeam(), l)
	}
	// Another team's line never reaches this console.
	srv.hub.PublishLog(0, scoreboard.TickerItem{Time: now, Service: "mail", Source: "127.0.9.9", Text: "not yours"})
	tb.WaitJS("the lines", `document.querySelectorAll('#logs tbody tr').length === 4`, 2*time.Second)
	if eval[bool](tb, visible("logs-empty")) {
		t.Error("the empty state stays with lines shown")
	}
	rows := func() int { return eval[int](tb, `document.querySelectorAll('#logs tbody tr').length`) }
	filter := func(service, source, text string) {
		t.Helper()
		eval[bool](tb, fmt.Sprintf(`(() => {
			const set = (id, v) => { const e = document.getElementById(id); e.value = v; e.dispatchEvent(new Event('input', {bubbles: true})); };
			set('log-service', %q); set('log-source', %q); set('log-text', %q); return true; })()`, service, source, text))
	}
	for _, tc := range []struct {
		service, source, text string
		want                  int
	}{
		{"mail", "", "", 3},
		{"", "127.0.11.7", "", 2},
		{"", "", "passwd", 1},
		{"mail", "127.0.13.5", "vanthu", 1},
		{"portal", "127.0.13.5", "", 0},
		{"", "", "", 4},
	} {
		filter(tc.service, tc.source, tc.text)
		if got := rows(); got != tc.want {
			t.Errorf("filter %q %q %q: %d rows, want %d", tc.service, tc.source, tc.text, got, tc.want)
		}
		if tc.want == 0 && !strings.Contains(tb.Text("#logs-empty"), "Không dòng nào khớp") {
			t.Errorf("no-match state: %q", tb.Text("#logs-empty"))
		}
	}
	if got := tb.Text("#logs tbody"); strings.Contains(got, "not yours") || !strings.Contains(got, "Thư điện tử công vụ") {
		t.Errorf("log rows %q", got)
	}
}

// TestSuspectsPanel shares a flag between teams that never reached the
// service, and expects the organizer to see it with its evidence.
func TestSuspectsPanel(t *testing.T) {
	srv := newServer(t, withRequireTelemetry())
	srv.act(scoreboard.ActStart)
	srv.tick()
	srv.capture(0, mail, "inbox") // the team that did the work
	srv.submit(3, mail, "inbox")  // and two that did not
	srv.submit(5, mail, "inbox")
	for range srv.cfg.FlagLifetime + 1 {
		srv.tick()
	}
	tb := newTab(t, 1920, 1080)
	tb.login(srv.url+"/admin.html", srv.toks.OrganizerToken())
	tb.WaitJS("the suspects", `document.querySelectorAll('#suspects tr[data-kind]').length === 3`, 5*time.Second)
	cluster := tb.Text(`#suspects tr[data-kind="cluster"]`)
	for _, want := range []string{attackTeams[3] + ", " + attackTeams[5], attackTeams[0], "inbox"} {
		if !strings.Contains(cluster, want) {
			t.Errorf("cluster row %q lacks %q", cluster, want)
		}
	}
	if got := tb.Text("#suspects"); !strings.Contains(got, "chưa từng") {
		t.Errorf("no 'never' contact in %q", got)
	}
	// Without require_telemetry the panel says why it is empty.
	plain := newServer(t)
	tb2 := newTab(t, 1280, 800)
	tb2.login(plain.url+"/admin.html", plain.toks.OrganizerToken())
	tb2.WaitJS("the explanation", `document.getElementById('suspects').textContent.includes('require_telemetry')`, 5*time.Second)
}

func TestOrganizerConsole(t *testing.T) {
	srv := newServer(t)
	tb := newTab(t, 1920, 1080)
	tb.login(srv.url+"/admin.html", srv.toks.OrganizerToken())
	tb.WaitJS("the console", visible("console"), 3*time.Second)
	tb.waitLive(10 * time.Second)
	button := func(action string) string { return fmt.Sprintf(`#phase-buttons button[data-action=%q]`, action) }
	enabled := func(action string) bool {
		return eval[bool](tb, fmt.Sprintf(`!document.querySelector(%q).disabled`, button(action)))
	}
	tb.WaitJS("start enabled", fmt.Sprintf(`!document.querySelector(%q).disabled`, button("start")), 2*time.Second)
	if enabled("pause") || enabled("end") {
		t.Error("pause or end enabled before the start")
	}

	// Cancelling the confirmation changes nothing.
	tb.Run("start, then cancel", browsertest.Press(button("start")), chromedp.WaitVisible(chromedp.CSS("#confirm")),
		browsertest.Press("#confirm-cancel"))
	time.Sleep(200 * time.Millisecond)
	if p, _ := srv.game.Phase(); p != scoreboard.PhaseSetup {
		t.Fatalf("phase %v after a cancelled start", p)
	}
	tb.Run("start, confirmed", browsertest.Press(button("start")), chromedp.WaitVisible(chromedp.CSS("#confirm")),
		browsertest.Press("#confirm-ok"))
	tb.WaitJS("running", fmt.Sprintf(`!document.querySelector(%q).disabled`, button("pause")), 3*time.Second)
	if p, _ := srv.game.Phase(); p != scoreboard.PhaseRunning {
		t.Fatalf("phase %v after a confirmed start", p)
	}
	tb.Run("freeze", browsertest.Press(button("freeze")), chromedp.WaitVisible(chromedp.CSS("#confirm")),
		browsertest.Press("#confirm-ok"))
	tb.WaitJS("frozen", fmt.Sprintf(`document.querySelector(%q).disabled && document.getElementById('phase-result').classList.contains('ok')`, button("freeze")), 3*time.Second)
	if _, frozen := srv.game.Phase(); !frozen {
		t.Error("not frozen after a confirmed freeze")
	}

	// Tokens are masked until asked for, and the CSV holds them.
	tb.WaitJS("the tokens", `document.querySelectorAll('#tokens-table tbody tr').length === 10`, 3*time.Second)
	tok := srv.teamToken(3)
	if strings.Contains(tb.Text("#tokens-table"), tok) {
		t.Error("tokens shown before asked for")
	}
	tb.Run("show tokens", browsertest.Press("#tokens-toggle"))
	if !strings.Contains(tb.Text("#tokens-table"), tok) {
		t.Error("tokens not shown when asked for")
	}
	csv := eval[string](tb, `fetch(document.querySelector('a[href*="teams?format=csv"]').href).then((r) => r.text())`)
	if !strings.Contains(csv, attackTeams[3]+",attack,"+tok) {
		t.Errorf("tokens CSV: %q", csv)
	}
	tb.WaitJS("the range", `document.getElementById('range').textContent.includes('local')`, 3*time.Second)
	for _, href := range []string{"/api/v1/export/ctftime", "/api/v1/admin/export?format=csv", "/api/v1/admin/export?format=json", "/api/v1/admin/events"} {
		if got := tb.status(href); got != 200 {
			t.Errorf("export %s: %d", href, got)
		}
	}
}

// TestClassicTeam gives a team role both (it attacks and defends, as in a
// classic attack/defence game) and expects its portal to have both halves.
func TestClassicTeam(t *testing.T) {
	srv := newServer(t, serverOpt{cfg: func(c *scoreboard.Config) {
		c.Teams[0].Role = scoreboard.RoleBoth
		c.Replicas = append(c.Replicas, scoreboard.Replica{Owner: 0, Service: mail, Address: "127.0.20.20"})
	}})
	srv.play(2)
	tb := newTab(t, 1280, 900)
	tb.login(srv.url+"/team.html", srv.teamToken(0))
	tb.WaitJS("both halves", visible("flag-form")+" && "+visible("det-form")+" && "+visible("logs-panel"), 5*time.Second)
	tb.WaitJS("its own service", `document.querySelectorAll('#services .svc-card').length === 1`, 5*time.Second)
	tb.WaitJS("its targets", `document.querySelectorAll('#targets tbody tr').length === 2`, 5*time.Second)
	if got := tb.Text("#team-role"); got != "Tấn công & phòng thủ" {
		t.Errorf("role %q", got)
	}
	if got := eval[int](tb, `document.querySelectorAll('#stats .stat').length`); got != 9 {
		t.Errorf("%d figures, want rank, total, attack's three and defence's four", got)
	}
}
