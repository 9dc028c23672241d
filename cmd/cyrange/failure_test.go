package main

import (
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"

	cyberrange "github.com/cyrange/cyrange/range"
	"github.com/cyrange/cyrange/scenarios"
)

// TestFailedRunLeavesNothing: when the range cannot come up (here its
// target refuses its options), run takes down the gateways and checker it
// had started and says so: nothing is left to answer on the plan's
// addresses for the next range.
func TestFailedRunLeavesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("brings a local range up")
	}
	dir := t.TempDir()
	scen := ownScenario(t, dir, "demo", "refused", func(sc *scenarios.Scenario) {
		sc.Services[0].Options["accounts"] = 3
	})
	data := filepath.Join(dir, "data")
	downAtCleanup(t, scen, data, cyberrange.DriverLocal)
	before := rangeProcesses(t)
	code, stderr := runBinary(t, "run", scen, "--driver", "local", "--data", data, "--http", "127.0.0.1:0", "--submit", "127.0.0.1:0")
	if code != 1 || !strings.Contains(stderr, "exited before it listened") || !strings.Contains(stderr, "nothing it made is left") {
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
