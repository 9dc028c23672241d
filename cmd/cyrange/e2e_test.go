package main

import (
	"context"
	"encoding/json"
	"fmt"

	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/proxy"

	"github.com/cyrange/cyrange/images/mailserver/contract"
	"github.com/cyrange/cyrange/images/mailserver/exploits"
	cyberrange "github.com/cyrange/cyrange/range"
	"github.com/cyrange/cyrange/range/bringup"
	"github.com/cyrange/cyrange/range/docker"
	"github.com/cyrange/cyrange/range/local"
	"github.com/cyrange/cyrange/scenarios"
	"github.com/cyrange/cyrange/scoreboard"
)

// e2eTick is the tick of the end-to-end exercises: short, but long enough
// for a round of every exploit through a gateway.
const e2eTick = 3 * time.Second

// shortScenario writes a copy of a built-in scenario renamed, with a
// short tick, on address plans of the test's own, so that the test's
// range meets no other.
func shortScenario(t *testing.T, dir, builtin, name string) string {
	t.Helper()
	return ownScenario(t, dir, builtin, name, func(sc *scenarios.Scenario) { sc.Tick = e2eTick })
}

// startExercise starts `cyrange run` with a range and returns it once it
// prints where it listens.
func startExercise(t *testing.T, scenario, data, driver string) *server {
	t.Helper()
	return startCyrange(t, filepath.Dir(data), 90*time.Second, "run", scenario, "--driver", driver, "--data", data,
		"--http", "127.0.0.1:0", "--submit", "127.0.0.1:0")
}

// attackTeam is one attack team the test plays, as a bot would.
type attackTeam struct {
	name, token string
	acked       []string
	sent        map[string]bool
}

// attackRound runs the exploits through the team's gateway against every
// target the API lists, and submits what they found; it returns how many
// flags were accepted.
func attackRound(t *testing.T, s *server, team *attackTeam, ports map[string]int, domain string, only ...string) (int, error) {
	t.Helper()
	var tg struct {
		Gateway cyberrange.GatewayInfo    `json:"gateway"`
		Targets []scoreboard.AttackTarget `json:"targets"`
	}
	getJSON(t, "http://"+s.http+"/api/v1/targets", team.token, &tg)
	d, err := proxy.SOCKS5("tcp", tg.Gateway.Address, &proxy.Auth{User: tg.Gateway.Short, Password: team.token}, proxy.Direct)
	if err != nil {
		return 0, err
	}
	cd := d.(proxy.ContextDialer)
	var found []string
	var lastErr error
	for _, target := range tg.Targets {
		if target.Service != "mail" {
			continue // the mail's exploits, against the mail replicas
		}
		et := exploits.Target{Host: target.Address, Domain: domain, SMTPPort: ports["smtp"], IMAPPort: ports["imap"], HTTPPort: ports["http"]}
		for _, ai := range target.AttackInfo {
			et.AttackInfo = append(et.AttackInfo, ai.Info)
		}
		for _, e := range exploits.All() {
			if len(only) > 0 && e.Name != only[0] {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			flags, err := e.Run(ctx, cd, et)
			cancel()
			if err != nil {
				lastErr = err
			}
			for _, f := range flags {
				if !team.sent[f] {
					team.sent[f] = true
					found = append(found, f)
				}
			}
		}
	}
	if len(found) == 0 {
		return 0, lastErr
	}
	ok, _ := submitTCP(s.submit, team.token, found)
	team.acked = append(team.acked, ok...)
	return len(ok), nil
}

// rangeProcesses lists the processes of the test binary running range
// roles (targets, checkers, gateways), by pid.
func rangeProcesses(t *testing.T) map[string]string {
	t.Helper()
	out, err := exec.Command("ps", "-eo", "pid=,args=").Output()
	if err != nil {
		t.Fatal(err)
	}
	procs := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && f[1] == binary && (f[2] == "target" || f[2] == "checker" || f[2] == "gateway") {
			procs[f[0]] = strings.Join(f[1:], " ")
		}
	}
	return procs
}

func gameAction(t *testing.T, data, action string) {
	t.Helper()
	if code, out, errs := runMain(t, "game", action, "--data", data); code != 0 {
		t.Fatalf("game %s: %d %s %s", action, code, out, errs)
	}
}

// waitStatus waits for the replica's checker status of a tick after
// after, and returns it.
func waitStatus(t *testing.T, s *server, team, service string, after int32) (string, int32) {
	t.Helper()
	deadline := time.Now().Add(6 * e2eTick)
	for {
		var v struct {
			Tick   int32                        `json:"tick"`
			Status map[string]map[string]string `json:"status"`
		}
		getJSON(t, "http://"+s.http+"/api/v1/scoreboard", "", &v)
		if st := v.Status[team][service]; v.Tick > after+1 && st != "" && st != "UNKNOWN" {
			return st, v.Tick
		}
		if time.Now().After(deadline) {
			t.Fatalf("no status of %s/%s after tick %d: %+v\nlog:\n%s", team, service, after, v, tail(s.logs.text(), 3000))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// okWithin says whether the replica's status is OK in one of the ticks
// after tick after, up to within of them, and lists what it saw: a
// machine under load may miss a tick's deadline (OFFLINE) now and then,
// which is not what the tests of a range or a remedy are about, while a
// replica the range or the remedy broke never comes back OK.
func okWithin(t *testing.T, s *server, team, service string, after int32, within int) (bool, []string) {
	t.Helper()
	var seen []string
	for range within {
		st, tick := waitStatus(t, s, team, service, after)
		seen = append(seen, fmt.Sprintf("tick %d: %s", tick-1, st))
		if st == "OK" {
			return true, seen
		}
		after = tick
	}
	return false, seen
}

// TestExerciseEndToEndLocal plays a whole exercise of the demo scenario on
// the local driver with the real binary: the checkers report OK, three
// attack teams capture flags through their gateways and submit them, a
// remedy in the admin console stops its exploit while the checker stays
// OK, the standings equal a replay of the log, and range down leaves
// nothing. Its second variant kills the game server with SIGKILL midway
// and restarts it: nothing acknowledged is lost and the range's processes
// are adopted, not started twice.
func TestExerciseEndToEndLocal(t *testing.T) {
	if testing.Short() {
		t.Skip("an exercise runs for tens of seconds")
	}
	for _, kill := range []bool{false, true} {
		name := map[bool]string{false: "plain", true: "server killed midway"}[kill]
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			scen := shortScenario(t, dir, "demo", map[bool]string{false: "e2e-plain", true: "e2e-killed"}[kill])
			data := filepath.Join(dir, "data")
			playExercise(t, scen, data, cyberrange.DriverLocal, kill)
		})
	}
}

// rangeMembers lists what the range of exercise is made of on the host:
// the test binary's range processes (local), or the containers and
// networks labelled with the exercise (docker).
func rangeMembers(t *testing.T, driver, exercise string) map[string]string {
	t.Helper()
	if driver == cyberrange.DriverLocal {
		return rangeProcesses(t)
	}
	out := map[string]string{}
	filter := "label=" + cyberrange.LabelExercise + "=" + exercise
	for _, args := range [][]string{
		{"ps", "-a", "--filter", filter, "--format", "{{.ID}} {{.Names}}"},
		{"network", "ls", "--filter", filter, "--format", "{{.ID}} {{.Name}}"},
	} {
		b, err := exec.Command("docker", args...).Output()
		if err != nil {
			t.Fatalf("docker %v: %v", args, err)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			if f := strings.Fields(line); len(f) == 2 {
				out[f[0]] = f[1]
			}
		}
	}
	return out
}

func playExercise(t *testing.T, scen, data, driver string, kill bool) {
	sc, err := scenarios.Open(scen)
	if err != nil {
		t.Fatal(err)
	}
	before := rangeMembers(t, driver, sc.Name)
	// Whatever happens, the range goes (after the server: cleanups run
	// last registered first).
	t.Cleanup(func() { runMain(t, "range", "down", scen, "--driver", driver, "--data", data, "--force") })
	s := startExercise(t, scen, data, driver)
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf(format+"\nlog:\n%s", append(args, tail(s.logs.text(), 4000))...)
	}
	gameAction(t, data, "start")
	toks := readTokens(t, data)
	var teams []*attackTeam
	defence := ""
	for _, tm := range toks.Teams {
		switch tm.Role {
		case "attack":
			if len(teams) < 3 {
				teams = append(teams, &attackTeam{name: tm.Name, token: tm.Token, sent: map[string]bool{}})
			}
		case "defence":
			defence = tm.Name
		}
	}
	svc := sc.Services[0]
	ports := map[string]int{}
	for _, p := range svc.Ports {
		ports[p.Name] = p.Number
		if driver == cyberrange.DriverLocal {
			ports[p.Name] += cyberrange.LocalPortOffset
		}
	}
	domain := svc.Options.String("domain", "")

	// The checkers find the defence's replica OK.
	if ok, seen := okWithin(t, s, defence, svc.Name, 0, 4); !ok {
		fail("the replica's status is not OK: %v", seen)
	}

	// Three attack teams capture and submit flags; the server is killed
	// once each has some acknowledged.
	capture := func(s *server) {
		deadline := time.Now().Add(10 * e2eTick)
		for _, team := range teams {
			start := len(team.acked)
			for len(team.acked) == start {
				if _, err := attackRound(t, s, team, ports, domain); err != nil {
					t.Logf("%s: %v", team.name, err)
				}
				if time.Now().After(deadline) {
					fail("%s captured nothing in %v", team.name, 10*e2eTick)
				}
			}
		}
	}
	capture(s)
	if kill {
		up := rangeMembers(t, driver, sc.Name)
		s.cmd.Process.Signal(syscall.SIGKILL)
		s.cmd.Wait()
		s = startExercise(t, scen, data, driver)
		for _, team := range teams {
			ok, replies := submitTCP(s.submit, team.token, team.acked)
			if replies != len(team.acked) || len(ok) != 0 {
				fail("%s: %d of %d acknowledged flags accepted again after the restart (%d replies): lost", team.name,
					len(ok), len(team.acked), replies)
			}
		}
		again := rangeMembers(t, driver, sc.Name)
		if fmt.Sprint(keys(up)) != fmt.Sprint(keys(again)) {
			fail("range processes before the kill %v, after the restart %v", up, again)
		}
		capture(s)
	}

	// The defence remedies the IDOR: its exploit stops, the checker stays OK.
	{
		remedyIDOR(t, sc, data, driver)
		_, tick := waitStatus(t, s, defence, svc.Name, 0)
		if ok, seen := okWithin(t, s, defence, svc.Name, tick, 4); !ok {
			fail("the replica's status after the remedy is not OK: %v", seen)
		}
		probe := &attackTeam{name: teams[0].name, token: teams[0].token, sent: map[string]bool{}}
		if n, err := attackRound(t, s, probe, ports, domain, "webmail-message-idor"); n > 0 || len(probe.sent) > 0 {
			fail("the IDOR exploit still gets %d flags after its remedy (%v)", len(probe.sent), err)
		}
	}

	// The standings equal a replay of the log.
	gameAction(t, data, "end")
	// The checks of the tick in flight at the end still land in the log.
	time.Sleep(e2eTick + e2eTick/2)
	var live struct {
		Standings []map[string]any `json:"standings"`
	}
	getJSON(t, "http://"+s.http+"/api/v1/admin/scoreboard", toks.Organizer, &live)
	s.stop(t)
	code, out, errs := runMain(t, "replay", "--data", data, "--json")
	if code != 0 {
		t.Fatalf("replay: exit %d: %s", code, errs)
	}
	var rep struct {
		Match     bool             `json:"match"`
		Standings []map[string]any `json:"standings"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if !rep.Match || fmt.Sprint(rep.Standings) != fmt.Sprint(live.Standings) {
		t.Fatalf("replay %v does not match the server's standings %v", rep.Standings, live.Standings)
	}
	for _, st := range live.Standings {
		for _, team := range teams {
			if st["team"] == team.name && st["attack"].(float64) <= 0 {
				t.Errorf("%s has %v attack points after %d captures", team.name, st["attack"], len(team.acked))
			}
		}
	}

	// range down leaves nothing.
	if code, out, errs := runMain(t, "range", "down", scen, "--driver", driver, "--data", data); code != 0 {
		t.Fatalf("range down: %d %s %s", code, out, errs)
	}
	if left := rangeMembers(t, driver, sc.Name); fmt.Sprint(keys(left)) != fmt.Sprint(keys(before)) {
		t.Fatalf("range processes left after range down: %v", left)
	}
	if driver == cyberrange.DriverLocal {
		if entries, _ := os.ReadDir(filepath.Join(data, rangeStateDir, "containers")); len(entries) != 0 {
			t.Fatalf("%d range containers left after range down", len(entries))
		}
	}
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// remedyIDOR patches the webmail's IDOR in the defence's admin console.
func remedyIDOR(t *testing.T, sc *scenarios.Scenario, data, driver string) {
	t.Helper()
	plan, err := rangePlan(sc, data, driver, "", false)
	if err != nil {
		t.Fatal(err)
	}
	var d cyberrange.Driver
	if driver == cyberrange.DriverLocal {
		d, err = local.New(local.Options{Binary: binary, StateDir: filepath.Join(data, rangeStateDir)})
	} else {
		var dd *docker.Driver
		dd, err = docker.New(context.Background(), docker.Options{})
		if err == nil {
			defer dd.Close()
		}
		d = dd
	}
	if err != nil {
		t.Fatal(err)
	}
	owner := -1
	for i, tm := range sc.Teams {
		if tm.Role.CanDefend() {
			owner = i
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := bringup.Adopt(plan, d).Operator(sc, targets()).Remedy(ctx, owner, 0, contract.WebmailIDOR); err != nil {
		t.Fatalf("the IDOR remedy: %v", err)
	}
}

// TestExerciseEndToEndDocker is the exercise of the 17-team drill on the
// docker driver, short ticks, with an image built from a static build of
// this source: checkers OK, three teams capturing through their gateways,
// the game server killed and restarted without losing an acknowledged
// flag or starting a container twice, the standings equal to a replay,
// and nothing labelled with the exercise left after range down.
func TestExerciseEndToEndDocker(t *testing.T) {
	if testing.Short() {
		t.Skip("an exercise runs for tens of seconds")
	}
	needDockerImage(t)
	dir := t.TempDir()
	// Docker names are the engine's: a name of this run's own.
	scen := shortScenario(t, dir, "tiengiang-2023", fmt.Sprintf("e2e-docker-%d", os.Getpid()))
	playExercise(t, scen, filepath.Join(dir, "data"), cyberrange.DriverDocker, true)
}
