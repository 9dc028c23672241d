package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/cyrange/cyrange/images/mailserver/contract"
	portalcontract "github.com/cyrange/cyrange/images/portal/contract"
	cyberrange "github.com/cyrange/cyrange/range"
	"github.com/cyrange/cyrange/range/rehearsal"
	"github.com/cyrange/cyrange/scenarios"
)

// TestRehearseDemoIsReady rehearses the demo scenario on the local driver
// with the real binary: every check passes, the JSON report says so, and
// nothing of the scratch range is left.
func TestRehearseDemoIsReady(t *testing.T) {
	if testing.Short() {
		t.Skip("a rehearsal brings a range up")
	}
	dir := t.TempDir()
	rep := rehearseJSON(t, binary, dir, ownScenario(t, dir, "demo", "", nil), "local")
	if !rep.Ready || rep.Scenario != "demo-rehearsal" {
		t.Fatalf("report: %+v", rep)
	}
	seen := map[string]int{}
	for _, c := range rep.Checks {
		seen[strings.Fields(c.Check)[0]]++
	}
	// One exploit and one remedy (through the defence gateway) per
	// weakness of both targets' contracts, their three flag stores each
	// planted and got back, every team's gateway both ways, the defence
	// gateway both ways and its boundary, both chains from the portal
	// into the mail server before and after the remedies.
	n := len(contract.Weaknesses()) + len(portalcontract.Weaknesses())
	if seen["exploit"] != n || seen["remedy"] != n || seen["putflag"] != 6 || seen["getflag"] != 12 ||
		seen["gateway"] != 6 || seen["defence"] != 3 || seen["range"] != 3 || seen["chain"] != 4 ||
		seen["havoc"] == 0 || seen["getnoise"] == 0 {
		t.Fatalf("checks made: %v", seen)
	}
	assertNoRehearsalLeft(t, "cyrange-demo-rehearsal")
}

// TestRehearseNamesWhatIsNotReady makes the target disagree with the
// scenario: the IDOR is remedied before the exploits run, so its exploit
// gets nothing although the scenario switches the weakness on, and the
// rehearsal fails naming the exploit.
func TestRehearseNamesWhatIsNotReady(t *testing.T) {
	if testing.Short() {
		t.Skip("a rehearsal brings a range up")
	}
	// A weakness the scenario switches off: its exploit must get nothing.
	dir := t.TempDir()
	t.Chdir(dir)
	scen := ownScenario(t, dir, "demo", "", func(sc *scenarios.Scenario) {
		sc.Services[0].Options["weaknesses"].(scenarios.Options)["path_traversal"] = false
	})
	var out, errb bytes.Buffer
	e := &env{stdout: &out, stderr: &errb, getenv: os.Getenv}
	hooks := rehearsalHooks{binary: binary, beforeExploits: func(ctx context.Context, r *rehearsal.Rehearsal) error {
		return r.Remedy(ctx, r.Config().Replicas[0], contract.WebmailIDOR)
	}}
	err := rehearseCommand(context.Background(), e, []string{scen, "--driver", "local"}, hooks)
	if err == nil {
		t.Fatalf("the rehearsal passed:\n%s", out.String())
	}
	const cause = "exploit webmail-message-idor got no flag"
	if !strings.Contains(err.Error(), "is not ready") || !strings.Contains(out.String(), cause) ||
		!strings.Contains(out.String(), "NOT READY") {
		t.Fatalf("error %v; report:\n%s", err, out.String())
	}
	// Only that exploit failed, and the chain whose route goes through
	// the same weakness: the others and every checker call passed.
	const chain = "chain portal-backup-mail-account "
	if !regexp.MustCompile(`chain portal-backup-mail-account +Đội phòng thủ/portal → Đội phòng thủ/mail +FAIL`).MatchString(out.String()) {
		t.Errorf("the chain through the remedied IDOR did not fail:\n%s", out.String())
	}
	for _, line := range strings.Split(out.String(), "\n") {
		if strings.Contains(line, " FAIL ") && !strings.Contains(line, "webmail-message-idor") && !strings.HasPrefix(line, chain) {
			t.Errorf("unexpected failure: %s", line)
		}
	}
	if !regexp.MustCompile(`exploit attachment-path-traversal \(off\) +Đội phòng thủ/mail +PASS`).MatchString(out.String()) {
		t.Errorf("no passing check of the switched-off weakness:\n%s", out.String())
	}
	assertNoRehearsalLeft(t, "cyrange-demo-rehearsal")
}

// assertNoRehearsalLeft fails if a process of the scratch range still runs.
func assertNoRehearsalLeft(t *testing.T, prefix string) {
	t.Helper()
	out, _ := exec.Command("ps", "-eo", "args").Output()
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, binary) && strings.Contains(line, "-rehearsal") {
			t.Errorf("%s: a range process is left: %s", prefix, line)
		}
	}
}

// TestRehearseRefusesABusyLocalRange: with something listening where the
// local plan puts a target, the rehearsal does not start (its checkers
// would plant flags in another range's targets).
func TestRehearseRefusesABusyLocalRange(t *testing.T) {
	sc, err := scenarios.Open(ownScenario(t, t.TempDir(), "demo", "", nil))
	if err != nil {
		t.Fatal(err)
	}
	sc.Name += rehearsal.Suffix
	data := t.TempDir()
	plan, err := rangePlan(sc, data, cyberrange.DriverLocal, "", true)
	if err != nil {
		t.Fatal(err)
	}
	if err := rehearsal.AddressesFree(context.Background(), plan); err != nil {
		t.Fatalf("nothing listens yet: %v", err)
	}
	var addr string
	for _, c := range plan.Containers {
		if c.Kind == cyberrange.KindTarget {
			addr = net.JoinHostPort(c.Networks[0].Address.String(), fmt.Sprint(c.Ports[0].Number))
		}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("cannot listen on %s: %v", addr, err)
	}
	defer ln.Close()
	if err := rehearsal.AddressesFree(context.Background(), plan); err == nil || !strings.Contains(err.Error(), addr) {
		t.Fatalf("with %s taken: %v", addr, err)
	}
}

// rehearsalReport is the JSON report of `cyrange rehearse --json`.
type rehearsalReport struct {
	Scenario string            `json:"scenario"`
	Ready    bool              `json:"ready"`
	Checks   []rehearsal.Check `json:"checks"`
}

// rehearseJSON rehearses scen with bin on driver, from dir, and returns
// its report; a rehearsal that fails, and every row that does not pass,
// fail the test.
func rehearseJSON(t *testing.T, bin, dir, scen, driver string) rehearsalReport {
	t.Helper()
	cmd := exec.Command(bin, "rehearse", scen, "--driver", driver, "--json")
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("rehearse: %v\n%s\n%s", err, out, tail(stderr.String(), 3000))
	}
	var rep rehearsalReport
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	for _, c := range rep.Checks {
		if c.Result != rehearsal.Pass {
			t.Errorf("%s %s: %s %s", c.Check, c.Target, c.Result, c.Reason)
		}
	}
	return rep
}

// TestRehearseProvinceDocker rehearses the two-target province on the
// Docker driver: every row passes, both chains from the portal into the
// mail server among them. Three of its attack teams are enough for
// every row (the 17 only repeat the gateway rows), and keep the test's
// share of the shared engine small.
func TestRehearseProvinceDocker(t *testing.T) {
	if testing.Short() {
		t.Skip("a rehearsal brings a range up")
	}
	needDockerImage(t)
	dir := t.TempDir()
	scen := ownScenario(t, dir, "province-2024", fmt.Sprintf("prov-%d", os.Getpid()), func(sc *scenarios.Scenario) {
		*sc = *sc.WithAttackTeams(3)
	})
	rep := rehearseJSON(t, binary, dir, scen, "docker")
	seen := map[string]int{}
	for _, c := range rep.Checks {
		seen[strings.Fields(c.Check)[0]]++
	}
	n := len(contract.Weaknesses()) + len(portalcontract.Weaknesses())
	if !rep.Ready || seen["exploit"] != n || seen["remedy"] != n || seen["chain"] != 4 || seen["gateway"] != 6 {
		t.Fatalf("ready %v, checks made: %v", rep.Ready, seen)
	}
}

// TestRehearseProvinceIsReady rehearses the two-target province on the
// local driver: every row passes, among them the portal's checker
// methods, each of its exploits and remedies (through the defence
// gateway), and both chains from the portal into the mail server.
func TestRehearseProvinceIsReady(t *testing.T) {
	if testing.Short() {
		t.Skip("a rehearsal brings a range up")
	}
	dir := t.TempDir()
	rep := rehearseJSON(t, binary, dir, ownScenario(t, dir, "province-2024", "", nil), "local")
	portal := map[string]int{}
	chains := map[string]bool{}
	for _, c := range rep.Checks {
		if strings.HasSuffix(c.Target, "/portal") {
			portal[strings.Fields(c.Check)[0]]++
		}
		if strings.HasPrefix(c.Check, "chain ") && strings.Contains(c.Target, "/portal → ") {
			chains[c.Check] = true
		}
	}
	const weaknesses = 7
	if !rep.Ready || portal["exploit"] != weaknesses || portal["remedy"] != weaknesses || portal["getflag"] != 6 ||
		portal["havoc"] == 0 || portal["getnoise"] == 0 {
		t.Fatalf("ready %v, portal checks %v", rep.Ready, portal)
	}
	// Both chains into the mail server, end to end and then stopped.
	for _, c := range []string{"portal-backup-mail-account", "portal-ssrf-mail-console"} {
		if !chains["chain "+c] || !chains["chain "+c+" (remedied)"] {
			t.Errorf("no rows for chain %s: %v", c, chains)
		}
	}
	assertNoRehearsalLeft(t, "cyrange-province-2024-rehearsal")
}
