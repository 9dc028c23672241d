package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/cyrange/cyrange/images/mailserver/contract"
	"github.com/cyrange/cyrange/images/mailserver/mailtarget"
	"github.com/cyrange/cyrange/images/target"
	cyberrange "github.com/cyrange/cyrange/range"
	"github.com/cyrange/cyrange/range/gateway"
	"github.com/cyrange/cyrange/scenarios"
	"github.com/cyrange/cyrange/scoreboard"
)

// needChromium returns a browser context of a headless Chromium of the
// test's own, or skips (fails with CYRANGE_REQUIRE_BROWSER=1) without one.
func needChromium(t *testing.T) context.Context {
	t.Helper()
	path := ""
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		if os.Getenv("CYRANGE_REQUIRE_BROWSER") == "1" {
			t.Fatal("no chromium in PATH and CYRANGE_REQUIRE_BROWSER=1 (apt-get install chromium)")
		}
		t.Skip("no chromium in PATH (apt-get install chromium; CYRANGE_REQUIRE_BROWSER=1 makes this a failure)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()))
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	// The first Run starts the browser and must carry no timeout.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	return ctx
}

// TestDefenceConsoleDocker is the defence hardening its own system on the
// Docker driver with nothing but a browser: it logs in to the web
// console, opens its replica's admin console through cyrange's proxy
// (which goes through the team's defence gateway), logs in as the
// console's operator and applies the IDOR patch. The remedy is in the
// game's log, the IDOR exploit that worked before now fails, and the
// checker stays OK. An attack team's token opens neither the proxy nor
// the defence gateway.
func TestDefenceConsoleDocker(t *testing.T) {
	if testing.Short() {
		t.Skip("an exercise runs for tens of seconds")
	}
	needDockerImage(t)
	browser := needChromium(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	scen := ownScenario(t, dir, "demo", fmt.Sprintf("dfconsole-%d", os.Getpid()), func(sc *scenarios.Scenario) {
		sc.Tick = e2eTick
	})
	downAtCleanup(t, scen, data, cyberrange.DriverDocker)
	s := startExercise(t, scen, data, cyberrange.DriverDocker)
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf(format+"\nlog:\n%s", append(args, tail(s.logs.text(), 3000))...)
	}
	gameAction(t, data, "start")
	toks := readTokens(t, data)
	var defence, attacker string
	for _, tm := range toks.Teams {
		switch tm.Name {
		case "Đội phòng thủ":
			defence = tm.Token
		case "Đội tấn công 01":
			attacker = tm.Token
		}
	}
	base := "http://" + s.http
	const team, service = "Đội phòng thủ", "mail"
	if ok, seen := okWithin(t, s, team, service, 0, 4); !ok {
		fail("the replica is not OK: %v", seen)
	}

	// What the console shows: the proxy, the operator's login, the gateway.
	var reps []struct {
		Service  string `json:"service"`
		Proxy    string `json:"proxy"`
		Operator struct {
			User     string `json:"user"`
			Password string `json:"password"`
		} `json:"operator"`
		Gateway cyberrange.GatewayInfo `json:"gateway"`
	}
	getJSON(t, base+"/api/v1/team/replicas", defence, &reps)
	if len(reps) != 2 || reps[0].Service != service || reps[0].Proxy == "" || reps[0].Operator.Password == "" || !reps[0].Gateway.Defence {
		fail("replicas: %+v", reps)
	}
	rep := reps[0]

	// An attack team's token opens neither the proxy nor the defence
	// gateway.
	req, _ := http.NewRequest(http.MethodGet, base+rep.Proxy, nil)
	req.Header.Set("X-Team-Token", attacker)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusForbidden {
		fail("the proxy with an attack team's token: %v %v", err, resp)
	} else {
		resp.Body.Close()
	}
	sc, err := scenarios.Open(scen)
	if err != nil {
		t.Fatal(err)
	}
	console := net.JoinHostPort(cyberrange.TargetName(service, sc.Teams[len(sc.Teams)-1].Short), strconv.Itoa(cyberrange.AdminPort))
	if d, err := gateway.Client(rep.Gateway.Address, "a01", attacker); err == nil {
		if c, err := d.DialContext(t.Context(), "tcp", console); err == nil {
			c.Close()
			fail("an attack team's token opened the defence gateway")
		}
	}

	// The IDOR exploit works through an attack team's gateway.
	idor := func() ([]string, error) {
		var tg struct {
			Gateway cyberrange.GatewayInfo    `json:"gateway"`
			Targets []scoreboard.AttackTarget `json:"targets"`
		}
		getJSON(t, base+"/api/v1/targets", attacker, &tg)
		d, err := gateway.Client(tg.Gateway.Address, tg.Gateway.Short, attacker)
		if err != nil {
			return nil, err
		}
		w, _ := target.Find(mailtarget.New(), contract.WebmailIDOR)
		rp := target.Replica{Host: tg.Targets[0].Address, Ports: map[string]int{}, Options: sc.Services[0].Options}
		for _, p := range tg.Targets[0].Ports {
			rp.Ports[p.Name] = p.Number
		}
		for _, ai := range tg.Targets[0].AttackInfo {
			rp.AttackInfo = append(rp.AttackInfo, ai.Info)
		}
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		return w.Exploit(ctx, d, rp)
	}
	if got, err := idor(); len(got) == 0 {
		fail("the IDOR exploit before the remedy got nothing: %v", err)
	}

	// The defence, in its browser.
	ctx, cancel := context.WithTimeout(browser, 2*time.Minute)
	defer cancel()
	err = chromedp.Do(ctx,
		chromedp.Navigate(base+"/team.html"),
		chromedp.WaitVisible(chromedp.CSS("#token")),
		chromedp.SetValue(chromedp.CSS("#token"), defence),
		chromedp.Click(chromedp.CSS(`#login-form button[type="submit"]`)),
		// The console lists the replica with the way to its admin console.
		chromedp.WaitVisible(chromedp.CSS(`a[href="`+rep.Proxy+`"]`)),
		chromedp.Navigate(base+rep.Proxy),
		// The replica's own login page, through the proxy.
		chromedp.WaitVisible(chromedp.CSS(`input[name="username"]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name="username"]`), rep.Operator.User),
		chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), rep.Operator.Password),
		chromedp.Click(chromedp.CSS(`form[action$="/admin/login"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`input[name="patch_idor"]`)),
		chromedp.Click(chromedp.CSS(`input[name="patch_idor"]`)),
		chromedp.Click(chromedp.CSS(`form[action$="/admin/settings"] button`)),
		// The console's notice that it saved, on the page it answers with.
		chromedp.WaitVisible(chromedp.CSS(`nav + p > b`)),
	)
	if err != nil {
		// Where the browser got stuck, for the failure's message.
		dctx, dcancel := context.WithTimeout(browser, 10*time.Second)
		page, _ := chromedp.Run(dctx, chromedp.Evaluate[string](`location.href + "\n" + document.body.innerText`))
		dcancel()
		fail("in the browser: %v\npage: %s", err, page)
	}
	if on, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector('input[name="patch_idor"]').checked`)); err != nil || !on {
		fail("the console does not show the patch on after saving: %v", err)
	}

	// The remedy is in the game's log.
	remedied := false
	for deadline := time.Now().Add(30 * time.Second); !remedied; time.Sleep(500 * time.Millisecond) {
		req, _ := http.NewRequest(http.MethodGet, base+"/api/v1/admin/events", nil)
		req.Header.Set("Authorization", "Bearer "+toks.Organizer)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			remedied = remedied || strings.Contains(sc.Text(), `"remedy"`) && strings.Contains(sc.Text(), "patch_idor: false -> true")
		}
		resp.Body.Close()
		if !remedied && time.Now().After(deadline) {
			fail("no remedy event in the log")
		}
	}

	// The exploit now fails, and the checker stays OK.
	if got, _ := idor(); len(got) > 0 {
		fail("the IDOR exploit still got %d flags after the remedy", len(got))
	}
	_, now := waitStatus(t, s, team, service, 0)
	if ok, seen := okWithin(t, s, team, service, now, 4); !ok {
		fail("the replica is not OK after the remedy: %v", seen)
	}
}
