package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/net/proxy"

	cyberrange "github.com/cyrange/cyrange/range"
	"github.com/cyrange/cyrange/scenarios"
	"github.com/cyrange/cyrange/scoreboard"
)

// TestDefenceEndToEnd plays the defence's game on the local driver, with
// the real binary: an attack team connects to the mail target through its
// SOCKS5 gateway; the defence sees the target's log line on its console
// stream, reports the source address it shows, and the verdict is a true
// positive worth what SCORING.md says; a report naming a team that never
// connected is a false positive. A remedy applied in the admin console is
// recorded, and the after-action report and the replay show it all.
func TestDefenceEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("the demo runs for tens of seconds")
	}
	const tick = 3 * time.Second
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	scen := ownScenario(t, dir, "demo", "", nil)
	downAtCleanup(t, scen, data, cyberrange.DriverLocal)
	d := startCyrange(t, dir, 60*time.Second, "demo", "--scenario", scen, "--no-bots", "--tick", tick.String(), "--data", data,
		"--http", "127.0.0.1:0", "--submit", "127.0.0.1:0")
	httpAddr := d.http
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf(format+"\nlog:\n%s", append(args, tail(d.logs.text(), 3000))...)
	}
	toks := readTokens(t, data)
	var attacker, silent, defence string
	for _, tm := range toks.Teams {
		switch tm.Name {
		case "Đội tấn công 01":
			attacker = tm.Token
		case "Đội tấn công 02":
			silent = tm.Name
		case "Đội phòng thủ":
			defence = tm.Token
		}
	}
	base := "http://" + httpAddr

	// The defence watches its console stream.
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+httpAddr+"/api/v1/team/live", http.Header{"X-Team-Token": {defence}})
	if err != nil {
		fail("the defence's stream: %v", err)
	}
	defer ws.Close()

	// Team 01 finds its gateway and the target, and says hello to the
	// mail server's SMTP port through it.
	var tg struct {
		Gateway cyberrange.GatewayInfo    `json:"gateway"`
		Targets []scoreboard.AttackTarget `json:"targets"`
	}
	getJSON(t, base+"/api/v1/targets", attacker, &tg)
	// The demo's two replicas, the mail server first.
	if tg.Gateway.Address == "" || len(tg.Targets) != 2 || tg.Targets[0].Service != "mail" {
		fail("targets: %+v", tg)
	}
	source := netip.MustParsePrefix(tg.Gateway.Source)
	demo, err := scenarios.Open(scen)
	if err != nil {
		t.Fatal(err)
	}
	smtp := 0
	for _, p := range demo.Services[0].Ports {
		if p.Name == "smtp" {
			smtp = p.Number + cyberrange.LocalPortOffset
		}
	}
	dialer, err := proxy.SOCKS5("tcp", tg.Gateway.Address, &proxy.Auth{User: tg.Gateway.Short, Password: attacker}, proxy.Direct)
	if err != nil {
		t.Fatal(err)
	}
	attackStart := time.Now()
	c, err := dialer.(proxy.ContextDialer).DialContext(context.Background(), "tcp",
		net.JoinHostPort(tg.Targets[0].Address, fmt.Sprint(smtp)))
	if err != nil {
		fail("through the gateway: %v", err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	banner, _ := bufio.NewReader(c).ReadString('\n')
	fmt.Fprintf(c, "EHLO doi01\r\nQUIT\r\n")
	io.Copy(io.Discard, c)
	c.Close()
	if !strings.HasPrefix(banner, "220") {
		fail("SMTP banner %q", banner)
	}

	// The defence's console shows the target's log line, with the
	// source address of the attack team's range.
	ws.SetReadDeadline(time.Now().Add(30 * time.Second))
	seen := ""
	for seen == "" {
		_, msg, err := ws.ReadMessage()
		if err != nil {
			fail("no log line of the attack on the defence's stream: %v", err)
		}
		var m struct {
			Events []scoreboard.TickerItem `json:"events"`
		}
		if err := json.Unmarshal(msg, &m); err != nil {
			t.Fatal(err)
		}
		for _, it := range m.Events {
			if a, err := netip.ParseAddr(it.Source); it.Kind == "log" && it.Service == "mail" && err == nil && source.Contains(a) {
				seen = it.Source
				if !strings.Contains(it.Text, `"action":`) {
					fail("log item %+v", it)
				}
			}
		}
	}

	// Reports: the source address seen, and a team that never connected.
	post := func(body string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/detections", strings.NewReader(body))
		req.Header.Set("X-Team-Token", defence)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated || !strings.Contains(string(b), `"verdict":"pending"`) {
			fail("report %s: %d %s", body, resp.StatusCode, b)
		}
	}
	now := time.Now().Format(time.RFC3339)
	post(fmt.Sprintf(`{"attacker":%q,"service":"mail","seenAt":%q,"technique":"T1595","notes":"EHLO from the attack range"}`, seen, now))
	post(fmt.Sprintf(`{"attacker":%q,"service":"mail","seenAt":%q}`, silent, now))

	// A remedy in the admin console, through the defence's own way in.
	applyRemedy(t, base, defence)

	var list []scoreboard.DetectionView
	// A false positive waits for the sensors' ground truth to pass the
	// report, at most TelemetryStale, then for a tick's end.
	wait := 6*tick + scoreboard.DefaultTelemetryStale
	deadline := time.Now().Add(wait)
	for {
		getJSON(t, base+"/api/v1/detections", defence, &list)
		if len(list) == 2 && list[0].Verdict != "pending" && list[1].Verdict != "pending" {
			break
		}
		if time.Now().After(deadline) {
			fail("verdicts not in after %v: %+v", wait, list)
		}
		time.Sleep(200 * time.Millisecond)
	}
	tp, fp := list[0], list[1]
	if tp.Verdict != "true_positive" || tp.AttackerTeam != "Đội tấn công 01" || tp.TimeToDetect == nil {
		fail("the attack's report: %+v", tp)
	}
	// w = 1, L = 5 ticks: 5 + 5 × max(0, 1 − t/(5 × tick)).
	ttd := *tp.TimeToDetect
	want := 5 + 5*math.Max(0, 1-ttd/(5*tick.Seconds()))
	if math.Abs(tp.Points-want) > 1e-9 || ttd < 0 || ttd > time.Since(attackStart).Seconds() {
		fail("true positive worth %v after %vs, want %v", tp.Points, ttd, want)
	}
	if fp.Verdict != "false_positive" || fp.Points != -2.5 {
		fail("the silent team's report: %+v", fp)
	}
	var me struct {
		Standing scoreboard.Standing `json:"standing"`
	}
	getJSON(t, base+"/api/v1/me", defence, &me)
	if s := me.Standing; s.DetectionsTrue != 1 || s.DetectionsFalse != 1 || s.Incidents < 1 || s.MeanTimeToDetect != ttd {
		fail("the defence's scorecard: %+v", s)
	}

	if err := d.interrupt(60 * time.Second); err != nil {
		fail("%v", err)
	}

	// The replay judges every verdict again; the report shows the game.
	out, err := exec.Command(binary, "replay", "--data", data).CombinedOutput()
	if err != nil || !regexp.MustCompile(`\d+ detection verdicts judged again: all as logged`).Match(out) {
		t.Fatalf("replay: %v\n%s", err, out)
	}
	out, err = exec.Command(binary, "report", "--data", data, "--json", "--out", "-").Output()
	if err != nil {
		t.Fatalf("report: %v\n%s", err, out)
	}
	var aa scoreboard.AfterAction
	if err := json.Unmarshal(out, &aa); err != nil {
		t.Fatal(err)
	}
	detected := false
	for _, in := range aa.Incidents {
		detected = detected || (in.Status == "detected" && in.Attacker == "Đội tấn công 01" && in.Report == tp.ID)
	}
	if !detected || len(aa.Reports) != 2 || len(aa.Remedies) != 1 || !strings.Contains(aa.Remedies[0].Remedy, "lockout: false -> true") {
		t.Fatalf("after-action report: incidents %+v, reports %d, remedies %+v", aa.Incidents, len(aa.Reports), aa.Remedies)
	}
	if out, err := exec.Command(binary, "report", "--data", data).CombinedOutput(); err != nil {
		t.Fatalf("report: %v\n%s", err, out)
	}
	page, err := os.ReadFile(filepath.Join(data, "report.html"))
	if err != nil || !bytes.Contains(page, []byte("<svg")) || !bytes.Contains(page, []byte("EHLO from the attack range")) {
		t.Fatalf("report.html: %v", err)
	}
}

// applyRemedy turns the lockout on in the demo target's admin console as
// the defence does with nothing but its token: through cyrange's proxy of
// the console, which goes through the team's defence gateway, logged in
// as the console's operator with the login the console API shows it.
func applyRemedy(t *testing.T, base, token string) {
	t.Helper()
	var reps []struct {
		Proxy    string `json:"proxy"`
		Operator struct {
			User     string `json:"user"`
			Password string `json:"password"`
		} `json:"operator"`
	}
	getJSON(t, base+"/api/v1/team/replicas", token, &reps)
	if len(reps) != 2 || reps[0].Proxy == "" || reps[0].Operator.Password == "" {
		t.Fatalf("replicas: %+v", reps)
	}
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Timeout: 20 * time.Second,
		Transport: headers{"X-Team-Token": token, "Origin": base}}
	post := func(path string, form url.Values) string {
		t.Helper()
		resp, err := hc.PostForm(base+reps[0].Proxy+path, form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("POST %s through the proxy: %s\n%s", path, resp.Status, b)
		}
		return string(b)
	}
	post("admin/login", url.Values{"username": {reps[0].Operator.User}, "password": {reps[0].Operator.Password}})
	// The form as the demo's console shows it, with the lockout ticked.
	page := post("admin/settings", url.Values{"vrfy": {"on"}, "lockout": {"on"}, "threshold": {"5"}, "admin_on_webmail": {"on"}})
	if !strings.Contains(page, `name="lockout" checked`) {
		t.Fatalf("the console did not take the lockout:\n%s", page)
	}
}

// headers is a transport that sets its headers on every request.
type headers map[string]string

func (h headers) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	for k, v := range h {
		r.Header.Set(k, v)
	}
	return http.DefaultTransport.RoundTrip(r)
}
