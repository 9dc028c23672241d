package cyberrange_test

import (
	"net/netip"
	"testing"

	cyberrange "github.com/cyrange/cyrange/range"
)

// TestTeamBehind: a target's flow record is a team's when it comes from
// the team's own network but not from its gateway (whose telemetry counts
// it), the host's end of the network or a target.
func TestTeamBehind(t *testing.T) {
	sc := builtin(t, "tiengiang-2023").Clone()
	sc.AttackBox = true
	p := planFor(t, sc, cyberrange.DriverDocker)
	checked := 0
	for _, c := range p.Containers {
		if c.Kind != cyberrange.KindAttackBox {
			continue
		}
		box := c.Networks[0].Address
		sub := netip.PrefixFrom(box, 24).Masked()
		host := func(h byte) netip.Addr {
			a := sub.Addr().As4()
			a[3] = h
			return netip.AddrFrom4(a)
		}
		gi, _ := p.Gateway(c.Team)
		gc, _ := p.Container(gi.Container)
		cases := []struct {
			what string
			addr netip.Addr
			ok   bool
		}{
			{"the attack box", box, true},
			{"the box, IPv4 in IPv6", netip.AddrFrom16(box.As16()), true},
			{"another host of the team's network", host(200), true},
			{"the team's gateway", gc.Networks[0].Address, false},
			{"the host's end", host(1), false},
			{"the network's address", host(0), false},
			{"broadcast", host(255), false},
			{"a target on the team's network", host(cyberrange.HostTarget), false},
		}
		for _, tc := range cases {
			team, ok := p.TeamBehind(tc.addr)
			if ok != tc.ok || (ok && team != c.Team) {
				t.Errorf("team %d, %s (%s): %d %v, want %v", c.Team, tc.what, tc.addr, team, ok, tc.ok)
			}
		}
		checked++
	}
	if checked == 0 {
		t.Fatal("no attack box in the plan")
	}
	for _, c := range p.Containers {
		if c.Kind != cyberrange.KindTarget && c.Kind != cyberrange.KindChecker {
			continue
		}
		for _, a := range c.Networks {
			if team, ok := p.TeamBehind(a.Address); ok {
				t.Errorf("%s at %s taken for team %d", c.Name, a.Address, team)
			}
		}
	}
	if _, ok := p.TeamBehind(netip.MustParseAddr("192.0.2.1")); ok {
		t.Error("an address of no network taken for a team")
	}
}
