package local

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	cyberrange "github.com/cyrange/cyrange/range"
	"github.com/cyrange/cyrange/range/rangetest"
	"github.com/cyrange/cyrange/scenarios"
)

// localPlan is the real local plan of a built-in scenario, moved to
// loopback ranges no other range on this machine uses, with each
// container's command swapped for the test binary's fake role listening
// where the real role would.
func localPlan(t *testing.T, name string) (*cyberrange.Plan, *scenarios.Scenario) {
	t.Helper()
	sc, err := scenarios.Builtin(name)
	if err != nil {
		t.Fatal(err)
	}
	sc.Network.Local.Replicas = netip.MustParsePrefix("127.71.0.0/16")
	sc.Network.Local.Checkers = netip.MustParsePrefix("127.72.0.0/24")
	tokens := make([]string, len(sc.Teams))
	for i := range tokens {
		tokens[i] = fmt.Sprintf("token-%02d", i+1)
	}
	p, err := cyberrange.NewPlan(sc, cyberrange.PlanOptions{Driver: cyberrange.DriverLocal, Version: "test",
		TeamTokens: tokens, CheckerSecret: "checker-secret", GatewayPortBase: -1})
	if err != nil {
		t.Fatal(err)
	}
	return p, sc
}

// fakeCommands makes every container of p run the fake role on its
// first port: a target or checker on its attachment's address, a gateway
// on its published address (port 0, which the driver fills in).
func fakeCommands(t *testing.T, p *cyberrange.Plan) {
	t.Helper()
	for i := range p.Containers {
		c := &p.Containers[i]
		if len(c.Ports) == 0 || len(c.Networks) == 0 {
			t.Fatalf("%s: no port or network to listen on", c.Name)
		}
		listen := c.Ports[0].Publish
		if listen == "" {
			listen = netip.AddrPortFrom(c.Networks[0].Address, uint16(c.Ports[0].Number)).String()
		}
		c.Command = []string{"fake", "--listen", listen}
		// The fake serves one port: the range waits for what it has.
		c.Ports = c.Ports[:1]
		c.Env = fakeEnv()
	}
}

var _ rangetest.Killer = (*Driver)(nil)

func TestContract(t *testing.T) {
	dir := t.TempDir()
	rangetest.Contract(t,
		func(t *testing.T) cyberrange.Driver {
			return newDriver(t, dir, Options{StopGrace: 2 * time.Second})
		},
		func(t *testing.T) *cyberrange.Plan {
			p, _ := localPlan(t, "demo")
			fakeCommands(t, p)
			return p
		})
}

// TestContractExitWhileStarting runs a target that says why it refuses
// to start, and exits: the range fails with that line, at once.
func TestContractExitWhileStarting(t *testing.T) {
	d := newDriver(t, t.TempDir(), Options{Binary: "/bin/sh"})
	c, _ := fakeTarget(t, "mail-refuses")
	c.Command = []string{"-c", "echo starting; echo 'mailserver: option relay: unknown option' >&2; exit 1"}
	c.Env = nil
	p := &cyberrange.Plan{Exercise: exercise, Driver: cyberrange.DriverLocal,
		Networks: []cyberrange.Network{replicaNet}, Containers: []cyberrange.Container{c}}
	rangetest.ExitWhileStarting(t, d, p, c.Name, "mailserver: option relay: unknown option")
}
