package main

import (
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	cyberrange "github.com/cyrange/cyrange/range"
	"github.com/cyrange/cyrange/scenarios"
)

// TestFailedRunLeavesNothing: when the range cannot come up (here its
// target cannot listen: a stranger holds its SMTP address), run takes down
// the gateways and checker it had started and says so: nothing is left to
// answer on the plan's addresses for the next range.
func TestFailedRunLeavesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("brings a local range up")
	}
	dir := t.TempDir()
	scen := ownScenario(t, dir, "demo", "refused", nil)
	sc, err := scenarios.Open(scen)
	if err != nil {
		t.Fatal(err)
	}
	// The first replica's /24 is the one after the reserved one, and its
	// first target sits at .10.
	a := sc.Network.Local.Replicas.Addr().As4()
	a[2], a[3] = 1, cyberrange.HostTarget
	smtp := netip.AddrPortFrom(netip.AddrFrom4(a), 0)
	for _, p := range sc.Services[0].Ports {
		if p.Name == "smtp" {
			smtp = netip.AddrPortFrom(smtp.Addr(), uint16(p.Number+cyberrange.LocalPortOffset))
		}
	}
	ln, err := net.Listen("tcp", smtp.String())
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	data := filepath.Join(dir, "data")
	downAtCleanup(t, scen, data, cyberrange.DriverLocal)
	before := rangeProcesses(t)
	code, stderr := runBinary(t, "run", scen, "--driver", "local", "--data", data, "--http", "127.0.0.1:0", "--submit", "127.0.0.1:0")
	// The target either dies on its taken address or is caught beside the
	// stranger first, whichever the race gives: both refuse the range.
	refused := strings.Contains(stderr, "exited before it listened") || strings.Contains(stderr, "another process listens")
	if code != 1 || !refused || !strings.Contains(stderr, "nothing it made is left") {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	for pid, args := range rangeProcesses(t) {
		if _, ok := before[pid]; !ok {
			t.Errorf("left running: %s %s", pid, args)
		}
	}
}

// TestRunRefusesAForeignChecker: with a stranger listening where the plan
// puts the checker, run does not play against it (every check would go to
// the stranger): it fails, names the address, and leaves nothing.
func TestRunRefusesAForeignChecker(t *testing.T) {
	if testing.Short() {
		t.Skip("brings a local range up")
	}
	dir := t.TempDir()
	scen := ownScenario(t, dir, "demo", "squatted", nil)
	sc, err := scenarios.Open(scen)
	if err != nil {
		t.Fatal(err)
	}
	checker := netip.AddrPortFrom(sc.Network.Local.Checkers.Addr().Next().Next(), cyberrange.CheckerPort+cyberrange.LocalPortOffset)
	ln, err := net.Listen("tcp", checker.String())
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	data := filepath.Join(dir, "data")
	downAtCleanup(t, scen, data, cyberrange.DriverLocal)
	before := rangeProcesses(t)
	code, stderr := runBinary(t, "run", scen, "--driver", "local", "--data", data, "--http", "127.0.0.1:0", "--submit", "127.0.0.1:0")
	if code != 1 || !strings.Contains(stderr, checker.Addr().String()) {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	for pid, args := range rangeProcesses(t) {
		if _, ok := before[pid]; !ok {
			t.Errorf("left running: %s %s", pid, args)
		}
	}
}

// TestRunReportsEveryBadOption: options a target would refuse stop the
// scenario at load, every one of them with its line, before anything
// starts.
func TestRunReportsEveryBadOption(t *testing.T) {
	dir := t.TempDir()
	scen := ownScenario(t, dir, "demo", "badopts", func(sc *scenarios.Scenario) {
		sc.Services[0].Options["acounts"] = 300
		sc.Services[0].Options["accounts"] = 3
		sc.Services[0].Options["weaknesses"].(scenarios.Options)["nope"] = true
	})
	data := filepath.Join(dir, "data")
	code, stderr := runBinary(t, "run", scen, "--driver", "local", "--data", data, "--http", "127.0.0.1:0", "--submit", "127.0.0.1:0")
	for _, want := range []string{"services[0].options.acounts: unknown option", "services[0].options.accounts: must be 100",
		"services[0].options.weaknesses.nope: unknown weakness"} {
		if code != 1 || !strings.Contains(stderr, want) {
			t.Errorf("exit %d, stderr lacks %q:\n%s", code, want, stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(data, "range")); err == nil {
		t.Error("a range was started for a scenario with bad options")
	}
}

// TestRunWithItsAddressTakenStartsNothing: a web or submission address in
// use fails run before it brings a range up.
func TestRunWithItsAddressTakenStartsNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("would bring a local range up")
	}
	dir := t.TempDir()
	scen := ownScenario(t, dir, "demo", "busyport", nil)
	data := filepath.Join(dir, "data")
	downAtCleanup(t, scen, data, cyberrange.DriverLocal)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	before := rangeProcesses(t)
	code, stderr := runBinary(t, "run", scen, "--driver", "local", "--data", data, "--http", ln.Addr().String(), "--submit", "127.0.0.1:0")
	if code != 1 || !strings.Contains(stderr, "web listener") {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	for pid, args := range rangeProcesses(t) {
		if _, ok := before[pid]; !ok {
			t.Errorf("started for nothing: %s %s", pid, args)
		}
	}
	if _, err := os.Stat(filepath.Join(data, "range")); err == nil {
		t.Error("the range's state was made for a run that could not serve")
	}
}
