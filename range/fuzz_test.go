package cyberrange_test

import (
	"errors"
	"net/netip"
	"os"
	"testing"

	cyberrange "github.com/cyrange/cyrange/range"
	"github.com/cyrange/cyrange/scenarios"
)

// FuzzPlan feeds scenario files, which organizers write, through Load and
// NewPlan: a scenario Load accepts either gets a plan that keeps the
// address plan's promises or an ErrInvalid, never a panic.
func FuzzPlan(f *testing.F) {
	for _, name := range []string{"../scenarios/demo.yaml", "../scenarios/tiengiang-2023.yaml"} {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, false)
		f.Add(b, true)
	}
	f.Fuzz(func(t *testing.T, data []byte, local bool) {
		sc, err := scenarios.Load("fuzz.yaml", data)
		if err != nil {
			return
		}
		driver := cyberrange.DriverDocker
		if local {
			driver = cyberrange.DriverLocal
		}
		p, err := cyberrange.NewPlan(sc, cyberrange.PlanOptions{Driver: driver, TeamTokens: fakeTokens(sc), CheckerSecret: "s"})
		if err != nil {
			if !errors.Is(err, cyberrange.ErrInvalid) {
				t.Fatalf("error not ErrInvalid: %v", err)
			}
			return
		}
		subnets := map[string]netip.Prefix{}
		for _, n := range p.Networks {
			if _, dup := subnets[n.Name]; dup {
				t.Fatalf("network %s twice", n.Name)
			}
			subnets[n.Name] = n.Subnet
		}
		names := map[string]bool{}
		for _, c := range p.Containers {
			if names[c.Name] {
				t.Fatalf("container %s twice", c.Name)
			}
			names[c.Name] = true
			for _, a := range c.Networks {
				sub, ok := subnets[a.Network]
				if !ok || !sub.Contains(a.Address) {
					t.Fatalf("%s: %s not in %s", c.Name, a.Address, a.Network)
				}
			}
			for _, port := range c.Ports {
				if port.Number < 0 || port.Number > 65535 {
					t.Fatalf("%s: port %d", c.Name, port.Number)
				}
			}
		}
		pl := p.Placement()
		for i, team := range sc.Teams {
			if team.Role.CanAttack() != (pl.TeamNetwork(i) != "") {
				t.Fatalf("team %d (%s) network %q", i, team.Role, pl.TeamNetwork(i))
			}
			for s := range sc.Services {
				if team.Role.CanDefend() != (pl.ReplicaAddress(i, s) != "") {
					t.Fatalf("team %d service %d replica %q", i, s, pl.ReplicaAddress(i, s))
				}
			}
		}
	})
}
