package rangetest

import (
	"testing"

	"github.com/cyrange/cyrange/scenarios"
)

func TestNetworkSlotsAreValidAndApart(t *testing.T) {
	seen := map[string]bool{}
	for k := range addressSlots {
		n := slotNetwork(k)
		sc, err := scenarios.Builtin("demo")
		if err != nil {
			t.Fatal(err)
		}
		sc.Network = n
		if err := sc.Validate(); err != nil {
			t.Fatalf("slot %d: %v", k, err)
		}
		for _, p := range []string{n.Local.Teams.String(), n.Local.Replicas.String(), n.Local.Checkers.String(),
			n.Docker.Teams.String(), n.Docker.Replicas.String(), n.Docker.Checkers.String()} {
			if seen[p] {
				t.Fatalf("slot %d reuses %s", k, p)
			}
			seen[p] = true
		}
	}
	a, b := Network(t), Network(t)
	if a.Local.Teams == b.Local.Teams {
		t.Fatalf("two holders got the same network %s", a.Local.Teams)
	}
}
