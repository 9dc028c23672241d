package rangetest

import (
	"net/netip"
	"testing"

	"github.com/cyrange/cyrange/scenarios"
)

func TestNetworkSlotsAreValidAndApart(t *testing.T) {
	seen := map[string]bool{}
	reserved := []netip.Prefix{netip.MustParsePrefix("10.60.0.0/15"), netip.MustParsePrefix("10.62.0.0/16"),
		netip.MustParsePrefix("10.170.0.0/15"), netip.MustParsePrefix("10.172.0.0/14"), netip.MustParsePrefix("10.176.0.0/12")}
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
		for _, p := range []netip.Prefix{n.Local.Teams, n.Local.Replicas, n.Local.Checkers,
			n.Docker.Teams, n.Docker.Replicas, n.Docker.Checkers} {
			for q := range seen {
				if netip.MustParsePrefix(q).Overlaps(p) {
					t.Fatalf("slot %d's %s overlaps %s", k, p, q)
				}
			}
			for _, r := range reserved {
				if r.Overlaps(p) {
					t.Fatalf("slot %d's %s overlaps %s, a default or range/docker's own", k, p, r)
				}
			}
			seen[p.String()] = true
		}
	}
	a, b := Network(t), Network(t)
	if a.Local.Teams == b.Local.Teams {
		t.Fatalf("two holders got the same network %s", a.Local.Teams)
	}
}
