package cyberrange_test

import (
	"io"
	"net/netip"
	"slices"
	"testing"

	cyberrange "github.com/cyrange/cyrange/range"
	"github.com/cyrange/cyrange/range/gateway"
	"github.com/cyrange/cyrange/scenarios"
)

// twoDefences is the demo with a second defending team, so that each
// defence gateway has another team's replica it must not reach.
func twoDefences(t *testing.T) *scenarios.Scenario {
	t.Helper()
	sc := builtin(t, "demo").Clone()
	sc.Teams = append(sc.Teams, scenarios.Team{Name: "Đội phòng thủ 2", Short: "d02", Role: scenarios.RoleDefence})
	sc.DefenceBox = true
	return sc
}

// TestDefenceGatewayPlan: every defending team gets a gateway on its
// replica network that reaches its own targets on every port (the admin
// console's too) and its box, by the names and addresses the team sees
// elsewhere, and nothing of any other team, the checkers or the host.
func TestDefenceGatewayPlan(t *testing.T) {
	for _, driver := range []string{cyberrange.DriverDocker, cyberrange.DriverLocal} {
		t.Run(driver, func(t *testing.T) {
			sc := twoDefences(t)
			p := planFor(t, sc, driver)
			tokens := fakeTokens(sc)
			var defenders []int
			for i, tm := range sc.Teams {
				if tm.Role.CanDefend() {
					defenders = append(defenders, i)
				}
			}
			published := map[string]bool{}
			for _, c := range p.Containers {
				for _, port := range c.Ports {
					if port.Publish != "" {
						if published[port.Publish] {
							t.Errorf("%s published twice", port.Publish)
						}
						published[port.Publish] = true
					}
				}
			}
			for _, team := range defenders {
				gi, ok := p.DefenceGateway(team)
				if !ok {
					t.Fatalf("team %d has no defence gateway", team)
				}
				if !gi.Defence || gi.Short != sc.Teams[team].Short {
					t.Errorf("gateway info %+v", gi)
				}
				if _, ok := p.Gateway(team); ok {
					t.Errorf("defence-only team %d has an attack gateway", team)
				}
				c, _ := p.Container(gi.Container)
				if c.Kind != cyberrange.KindDefenceGateway || c.Env[cyberrange.EnvGatewayToken] != tokens[team] {
					t.Fatalf("%s: kind %s, env %v", c.Name, c.Kind, c.Env)
				}
				rnet, _ := p.ReplicaNetwork(team)
				if c.Networks[0].Address != netip.MustParseAddr(rnet.Addr().String()).Next().Next() || len(c.Networks) != 1 {
					t.Errorf("%s is at %v, want .2 of %s only", c.Name, c.Networks, rnet)
				}
				cmd, err := gateway.ParseCommand(c.Command[1:], io.Discard)
				if err != nil {
					t.Fatal(err)
				}
				for _, owner := range defenders {
					ports := p.ReplicaPorts(owner, 0)
					tc, _ := p.Target(owner, 0)
					addrs := []netip.Addr{}
					for _, a := range tc.Networks {
						addrs = append(addrs, a.Address)
					}
					name := cyberrange.TargetName(sc.Services[0].Name, sc.Teams[owner].Short)
					_, named := cmd.Resolve[name]
					if named != (owner == team) {
						t.Errorf("%s resolves %s: %v", c.Name, name, named)
					}
					for _, a := range addrs {
						for _, port := range ports {
							allowed := slices.ContainsFunc(cmd.Allow, func(r gateway.Rule) bool { return r.Allows(a, uint16(port.Number)) })
							// Its own replica, by its replica and its checkers address.
							want := owner == team && (a == tc.Networks[0].Address || a.String() == p.Placement().ReplicaAddress(owner, 0))
							if allowed != want {
								t.Errorf("%s: %s:%d (%s of team %d) allowed %v", c.Name, a, port.Number, port.Name, owner, allowed)
							}
							if allowed {
								if d := cmd.Allow[slices.IndexFunc(cmd.Allow, func(r gateway.Rule) bool { return r.Allows(a, uint16(port.Number)) })].Destination(a, uint16(port.Number)); d.Addr() != tc.Networks[0].Address {
									t.Errorf("%s: %s dialled as %s", c.Name, a, d)
								}
							}
						}
					}
				}
				for _, other := range p.Containers {
					if other.Kind == cyberrange.KindTarget {
						continue
					}
					for _, a := range other.Networks {
						for _, port := range other.Ports {
							mine := other.Kind == cyberrange.KindDefenceBox && other.Team == team && port.Number == cyberrange.PortSSH
							if allowed := slices.ContainsFunc(cmd.Allow, func(r gateway.Rule) bool { return r.Allows(a.Address, uint16(port.Number)) }); allowed != mine {
								t.Errorf("%s: %s %s:%d allowed %v", c.Name, other.Name, a.Address, port.Number, allowed)
							}
						}
					}
				}
			}
		})
	}
}

// TestDefenceBoxPlan: the box is on its team's replica network, logs in
// as the team with its token (never on a command line), mounts each of
// its replicas' logs read-only where the target writes them, and exists
// on Docker only.
func TestDefenceBoxPlan(t *testing.T) {
	sc := twoDefences(t)
	p := planFor(t, sc, cyberrange.DriverDocker)
	tokens := fakeTokens(sc)
	boxes := 0
	for _, c := range p.Containers {
		if c.Kind != cyberrange.KindDefenceBox {
			continue
		}
		boxes++
		team := sc.Teams[c.Team]
		if c.Env[cyberrange.EnvBoxUser] != team.Short || c.Env[cyberrange.EnvBoxPassword] != tokens[c.Team] || len(c.Command) != 0 {
			t.Errorf("%s: env %v, command %q", c.Name, c.Env, c.Command)
		}
		rnet, _ := p.ReplicaNetwork(c.Team)
		if len(c.Networks) != 1 || !rnet.Contains(c.Networks[0].Address) {
			t.Errorf("%s on %v", c.Name, c.Networks)
		}
		gi, _ := p.DefenceGateway(c.Team)
		if gi.Box != cyberrange.DefenceBoxName || gi.BoxAddress != c.Networks[0].Address.String() {
			t.Errorf("gateway info %+v", gi)
		}
		if len(c.Mounts) != len(sc.Services) {
			t.Fatalf("box mounts %v, want one per service", c.Mounts)
		}
		for svc := range sc.Services {
			target, _ := p.Target(c.Team, svc)
			if len(target.Mounts) != 1 || c.Mounts[svc].Volume != target.Mounts[0].Volume ||
				!c.Mounts[svc].ReadOnly || target.Mounts[0].ReadOnly {
				t.Fatalf("target mounts %v, box mounts %v", target.Mounts, c.Mounts)
			}
			if got := flagValue(target.Command, "--log-file"); got != target.Mounts[0].Path+"/"+sc.Services[svc].Name+".log" {
				t.Errorf("%s writes its log to %q", target.Name, got)
			}
		}
		for _, o := range p.Containers {
			if o.Kind == cyberrange.KindTarget && o.Team != c.Team && slices.ContainsFunc(c.Mounts, func(m cyberrange.Mount) bool { return m.Volume == o.Mounts[0].Volume }) {
				t.Errorf("%s mounts %s's log", c.Name, o.Name)
			}
		}
	}
	if boxes != 2 {
		t.Errorf("%d defence boxes, want 2", boxes)
	}
	for _, c := range planFor(t, sc, cyberrange.DriverLocal).Containers {
		if c.Kind == cyberrange.KindDefenceBox || len(c.Mounts) > 0 {
			t.Errorf("local plan has %s with mounts %v", c.Name, c.Mounts)
		}
	}
	sc.DefenceBox = false
	for _, c := range planFor(t, sc, cyberrange.DriverDocker).Containers {
		if c.Kind == cyberrange.KindDefenceBox || len(c.Mounts) > 0 || flagValue(c.Command, "--log-file") != "" {
			t.Errorf("no defence box asked, yet %s (mounts %v)", c.Name, c.Mounts)
		}
	}
}

// TestDefenceGatewayNeedsToken: a defending team without a token has no
// defence gateway password, which the plan refuses.
func TestDefenceGatewayNeedsToken(t *testing.T) {
	sc := builtin(t, "demo")
	toks := fakeTokens(sc)
	toks[len(toks)-1] = ""
	_, err := cyberrange.NewPlan(sc, cyberrange.PlanOptions{Driver: cyberrange.DriverDocker, TeamTokens: toks, CheckerSecret: "s"})
	if err == nil {
		t.Fatal("a plan without the defence's token")
	}
}

// TestAdminPortIsTheTargets: the admin console is on the port the target
// names, for the target, the defence gateway and nobody else.
func TestAdminPortIsTheTargets(t *testing.T) {
	sc := builtin(t, "demo")
	p, err := cyberrange.NewPlan(sc, cyberrange.PlanOptions{Driver: cyberrange.DriverDocker, TeamTokens: fakeTokens(sc),
		CheckerSecret: "s", AdminPorts: map[string]int{sc.Services[0].Image: 9443}})
	if err != nil {
		t.Fatal(err)
	}
	owner := len(sc.Teams) - 1
	ap, ok := p.AdminConsole(owner, 0)
	if !ok || ap.Port() != 9443 {
		t.Fatalf("admin console at %v", ap)
	}
	tc, _ := p.Target(owner, 0)
	if got := flagValue(tc.Command, "--admin-port"); got != "9443" {
		t.Errorf("the target listens on --admin-port %q", got)
	}
	for _, c := range p.Containers {
		if c.Kind != cyberrange.KindGateway && c.Kind != cyberrange.KindDefenceGateway {
			continue
		}
		cmd, err := gateway.ParseCommand(c.Command[1:], io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		allowed := slices.ContainsFunc(cmd.Allow, func(r gateway.Rule) bool { return r.Allows(ap.Addr(), 9443) })
		if allowed != (c.Kind == cyberrange.KindDefenceGateway) {
			t.Errorf("%s lets in the admin console: %v", c.Name, allowed)
		}
	}
}
