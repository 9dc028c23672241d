package cyberrange_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cyrange/cyrange/images/mailserver"
	mschecker "github.com/cyrange/cyrange/images/mailserver/checker"
	"github.com/cyrange/cyrange/images/portal/portaltarget"
	cyberrange "github.com/cyrange/cyrange/range"
	"github.com/cyrange/cyrange/range/gateway"
	"github.com/cyrange/cyrange/range/rangetest"
	"github.com/cyrange/cyrange/scenarios"
	"github.com/cyrange/cyrange/scoreboard/checks"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// fakeTokens are fixed so that golden files do not change run to run.
func fakeTokens(sc *scenarios.Scenario) []string {
	out := make([]string, len(sc.Teams))
	for i, t := range sc.Teams {
		out[i] = "token-" + t.Short
	}
	return out
}

func builtin(t *testing.T, name string) *scenarios.Scenario {
	t.Helper()
	sc, err := scenarios.Builtin(name)
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

func planFor(t *testing.T, sc *scenarios.Scenario, driver string) *cyberrange.Plan {
	t.Helper()
	p, err := cyberrange.NewPlan(sc, cyberrange.PlanOptions{Driver: driver, Version: "test",
		TeamTokens: fakeTokens(sc), CheckerSecret: "checker-secret"})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPlanGolden(t *testing.T) {
	for _, name := range scenarios.Builtins() {
		for _, driver := range []string{cyberrange.DriverDocker, cyberrange.DriverLocal} {
			t.Run(name+"/"+driver, func(t *testing.T) {
				p := planFor(t, builtin(t, name), driver)
				got, err := json.MarshalIndent(p, "", "  ")
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, '\n')
				path := filepath.Join("testdata", fmt.Sprintf("plan-%s-%s.golden", name, driver))
				rangetest.Golden(t, "plan", path, got, *update)
			})
		}
	}
}

func TestPlanIsPure(t *testing.T) {
	sc := builtin(t, "tiengiang-2023")
	a, b := planFor(t, sc, cyberrange.DriverDocker), planFor(t, sc.Clone(), cyberrange.DriverDocker)
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if !bytes.Equal(ja, jb) {
		t.Fatal("two plans of the same scenario differ")
	}
}

func TestPlanInvariants(t *testing.T) {
	for _, name := range scenarios.Builtins() {
		for _, driver := range []string{cyberrange.DriverDocker, cyberrange.DriverLocal} {
			t.Run(name+"/"+driver, func(t *testing.T) {
				sc := builtin(t, name)
				p := planFor(t, sc, driver)
				nets := map[string]cyberrange.Network{}
				for _, n := range p.Networks {
					if _, dup := nets[n.Name]; dup {
						t.Errorf("network %s twice", n.Name)
					}
					nets[n.Name] = n
					if n.Labels[cyberrange.LabelExercise] != sc.Name || n.Labels[cyberrange.LabelPlanHash] == "" {
						t.Errorf("network %s labels %v", n.Name, n.Labels)
					}
				}
				names := map[string]bool{}
				addrs := map[netip.Addr]string{}
				for _, c := range p.Containers {
					if names[c.Name] {
						t.Errorf("container %s twice", c.Name)
					}
					names[c.Name] = true
					if c.Labels[cyberrange.LabelExercise] != sc.Name || c.Labels[cyberrange.LabelKind] != string(c.Kind) ||
						c.Labels[cyberrange.LabelPlanHash] != cyberrange.ContainerHash(c) {
						t.Errorf("container %s labels %v", c.Name, c.Labels)
					}
					for _, a := range c.Networks {
						n, ok := nets[a.Network]
						if !ok {
							t.Errorf("%s attached to unknown network %s", c.Name, a.Network)
							continue
						}
						if !n.Subnet.Contains(a.Address) || a.Address == n.Subnet.Addr() {
							t.Errorf("%s: address %s outside %s", c.Name, a.Address, n.Subnet)
						}
						if other, dup := addrs[a.Address]; dup {
							t.Errorf("%s and %s both have %s", c.Name, other, a.Address)
						}
						addrs[a.Address] = c.Name
					}
					for _, v := range c.Command {
						for _, tok := range fakeTokens(sc) {
							if strings.Contains(v, tok) || strings.Contains(v, "checker-secret") && !strings.HasPrefix(v, "--") {
								t.Errorf("%s: secret on the command line: %q", c.Name, v)
							}
						}
					}
				}
			})
		}
	}
}

func TestPlacementAndTargets(t *testing.T) {
	sc := builtin(t, "tiengiang-2023")
	def := len(sc.Teams) - 1 // the one defence team comes last
	tests := []struct {
		driver     string
		replica    string
		team7Net   string
		team7Dial  string
		ports      []int
		gateway7   string
		team7Src   string
		checkerURL string
	}{
		{cyberrange.DriverDocker, "10.62.0.10", "10.60.7.0/24", "10.60.7.10", []int{25, 143, 80}, "127.0.0.1:1087", "10.60.7.0/24", "http://10.62.0.2:8000"},
		{cyberrange.DriverLocal, "127.61.1.10", "127.60.7.0/24", "127.61.1.10", []int{10025, 10143, 10080}, "127.0.0.1:1087", "127.60.7.0/24", "http://127.62.0.2:18000"},
	}
	for _, tt := range tests {
		t.Run(tt.driver, func(t *testing.T) {
			p := planFor(t, sc, tt.driver)
			pl := p.Placement()
			if got := pl.ReplicaAddress(def, 0); got != tt.replica {
				t.Errorf("replica address %q, want %q", got, tt.replica)
			}
			if got := pl.ReplicaAddress(0, 0); got != "" {
				t.Errorf("attack team 0 has a replica at %q", got)
			}
			if got := pl.TeamNetwork(6); got != tt.team7Net {
				t.Errorf("team 7 network %q, want %q", got, tt.team7Net)
			}
			if got := pl.TeamNetwork(def); got != "" {
				t.Errorf("defence team has a source network %q", got)
			}
			addr, ports, ok := p.TargetFor(6, def, 0)
			if !ok || addr.String() != tt.replica {
				t.Errorf("TargetFor = %v %v, want %s", addr, ok, tt.replica)
			}
			var nums []int
			for _, port := range ports {
				nums = append(nums, port.Number)
			}
			if !slices.Equal(nums, tt.ports) {
				t.Errorf("team ports %v, want %v", nums, tt.ports)
			}
			if rp := p.ReplicaPorts(def, 0); len(rp) != len(tt.ports)+1 || rp[len(rp)-1].Name != cyberrange.PortAdmin {
				t.Errorf("replica ports %v", rp)
			}
			if dial, _ := p.TeamAddress(6, def, 0); dial.String() != tt.team7Dial {
				t.Errorf("team address %s, want %s", dial, tt.team7Dial)
			}
			gw, ok := p.Gateway(6)
			if !ok || gw.Address != tt.gateway7 || gw.Source != tt.team7Src || gw.Team != sc.Teams[6].Name {
				t.Errorf("gateway %+v", gw)
			}
			if _, ok := p.Gateway(def); ok {
				t.Error("the defence team has a gateway")
			}
			if u, ok := p.CheckerURL("mailserver"); !ok || u != tt.checkerURL {
				t.Errorf("checker URL %q", u)
			}
			cfg := sc.GameConfig(pl)
			if cfg.Replicas[0].Address != tt.replica || cfg.Teams[6].Network != tt.team7Net {
				t.Errorf("game config: %+v %+v", cfg.Replicas[0], cfg.Teams[6])
			}
			// The game tells teams the same ports the gateway lets them reach.
			var cfgPorts []int
			for _, port := range cfg.Replicas[0].Ports {
				cfgPorts = append(cfgPorts, port.Number)
			}
			if !slices.Equal(cfgPorts, tt.ports) || cfg.Replicas[0].Ports[0].Name != ports[0].Name {
				t.Errorf("game config ports %v, want %v", cfg.Replicas[0].Ports, tt.ports)
			}
		})
	}
}

func TestPlanErrors(t *testing.T) {
	sc := builtin(t, "demo")
	ok := cyberrange.PlanOptions{Driver: cyberrange.DriverDocker, TeamTokens: fakeTokens(sc), CheckerSecret: "s"}
	many := sc.WithAttackTeams(3)
	for i := 0; i < 300; i++ {
		many.Teams = append(many.Teams, scenarios.Team{Name: fmt.Sprint("d", i), Role: scenarios.RoleDefence, Short: fmt.Sprintf("x%03d", i)})
	}
	external := sc.Clone()
	external.Services[0].Image = "registry.example/mail:1"
	tests := []struct {
		desc string
		sc   *scenarios.Scenario
		edit func(o *cyberrange.PlanOptions)
	}{
		{"no scenario", nil, func(*cyberrange.PlanOptions) {}},
		{"unknown driver", sc, func(o *cyberrange.PlanOptions) { o.Driver = "swarm" }},
		{"no secret", sc, func(o *cyberrange.PlanOptions) { o.CheckerSecret = "" }},
		{"missing token", sc, func(o *cyberrange.PlanOptions) { o.TeamTokens = o.TeamTokens[:1] }},
		{"bad gateway host", sc, func(o *cyberrange.PlanOptions) { o.GatewayHost = "localhost" }},
		{"too many replicas", many, func(o *cyberrange.PlanOptions) { o.TeamTokens = fakeTokens(many) }},
		{"external image on local", external, func(o *cyberrange.PlanOptions) { o.Driver = cyberrange.DriverLocal }},
		{"built-in target not in this build", sc, func(o *cyberrange.PlanOptions) { o.Targets = []string{"portal"} }},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			o := ok
			o.TeamTokens = slices.Clone(ok.TeamTokens)
			tt.edit(&o)
			if _, err := cyberrange.NewPlan(tt.sc, o); !errors.Is(err, cyberrange.ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
		})
	}
	// An external image runs as it is on docker.
	p, err := cyberrange.NewPlan(external, ok)
	if err != nil {
		t.Fatal(err)
	}
	if c := p.Containers[0]; c.Image != "registry.example/mail:1" || c.Command != nil {
		t.Errorf("external target %+v", c)
	}
}

func TestPlanHashFollowsSpec(t *testing.T) {
	sc := builtin(t, "demo")
	a := planFor(t, sc, cyberrange.DriverDocker)
	changed := sc.Clone()
	changed.Services[0].Options["accounts"] = 301
	b := planFor(t, changed, cyberrange.DriverDocker)
	if a.Containers[0].Labels[cyberrange.LabelPlanHash] == b.Containers[0].Labels[cyberrange.LabelPlanHash] {
		t.Error("a changed option left the target's hash alone")
	}
	// Gateways are unchanged: their spec does not depend on options.
	ga, _ := a.Container(a.Containers[len(a.Containers)-1].Name)
	gb, _ := b.Container(ga.Name)
	if ga.Labels[cyberrange.LabelPlanHash] != gb.Labels[cyberrange.LabelPlanHash] {
		t.Error("a gateway's hash changed with a target option")
	}
}

// TestGatewayCommandsParse checks the plan's gateway command lines with the
// gateway's own parser: each reads back to the same line, and what a team
// asks for is allowed and dialled on its own network.
func TestGatewayCommandsParse(t *testing.T) {
	for _, name := range scenarios.Builtins() {
		for _, driver := range []string{cyberrange.DriverDocker, cyberrange.DriverLocal} {
			t.Run(name+"/"+driver, func(t *testing.T) {
				sc := builtin(t, name)
				p := planFor(t, sc, driver)
				def := len(sc.Teams) - 1
				for _, c := range p.Containers {
					if c.Kind != cyberrange.KindGateway {
						continue
					}
					cmd, err := gateway.ParseCommand(c.Command[1:], io.Discard)
					if err != nil {
						t.Fatalf("%s: %v", c.Name, err)
					}
					if got := cmd.Args(); !slices.Equal(got, c.Command) {
						t.Errorf("%s: reads back as\n%q\nnot\n%q", c.Name, got, c.Command)
					}
					ask, ports, ok := p.TargetFor(c.Team, def, 0)
					dial, _ := p.TeamAddress(c.Team, def, 0)
					if !ok {
						t.Fatalf("%s: no target", c.Name)
					}
					if got := cmd.Resolve[cyberrange.TargetName(sc.Services[0].Name, sc.Teams[def].Short)]; got != ask {
						t.Errorf("%s: name resolves to %s, want %s", c.Name, got, ask)
					}
					for _, port := range ports {
						i := slices.IndexFunc(cmd.Allow, func(r gateway.Rule) bool { return r.Allows(ask, uint16(port.Number)) })
						if i < 0 {
							t.Errorf("%s: %s:%d not allowed", c.Name, ask, port.Number)
							continue
						}
						if d := cmd.Allow[i].Destination(ask, uint16(port.Number)); d.Addr() != dial || int(d.Port()) != port.Number {
							t.Errorf("%s: %s:%d dialled as %s, want %s", c.Name, ask, port.Number, d, dial)
						}
					}
					rp := p.ReplicaPorts(def, 0)
					admin := rp[slices.IndexFunc(rp, func(p cyberrange.Port) bool { return p.Name == cyberrange.PortAdmin })]
					if slices.ContainsFunc(cmd.Allow, func(r gateway.Rule) bool { return r.Allows(ask, uint16(admin.Number)) }) {
						t.Errorf("%s: the admin console is open to teams", c.Name)
					}
				}
			})
		}
	}
}

// TestRoleCommandsParse hands the plan's target and checker command lines
// to the targets' own flag parsing, followed by -h: it stops there
// with flag.ErrHelp only if every flag before it is one the role knows.
func TestRoleCommandsParse(t *testing.T) {
	roles := map[string]func(ctx context.Context, args []string, stdout, stderr io.Writer) error{
		"target mailserver":  mailserver.RunTarget,
		"checker mailserver": mschecker.RunChecker,
		"target portal":      portaltarget.New().RunTarget,
		"checker portal":     portaltarget.New().RunChecker,
	}
	for _, name := range scenarios.Builtins() {
		for _, driver := range []string{cyberrange.DriverDocker, cyberrange.DriverLocal} {
			t.Run(name+"/"+driver, func(t *testing.T) {
				p := planFor(t, builtin(t, name), driver)
				for _, c := range p.Containers {
					if c.Kind != cyberrange.KindTarget && c.Kind != cyberrange.KindChecker {
						continue
					}
					run, ok := roles[strings.Join(c.Command[:2], " ")]
					if !ok {
						t.Fatalf("%s: no role %q", c.Name, c.Command[:2])
					}
					var stderr bytes.Buffer
					err := run(context.Background(), append(slices.Clone(c.Command[2:]), "-h"), io.Discard, &stderr)
					if !errors.Is(err, flag.ErrHelp) {
						t.Errorf("%s: %v\n%s", c.Name, err, stderr.String())
					}
				}
			})
		}
	}
}

// TestCheckerTargetsArePlacement: each built-in checker is told exactly the
// replicas the game sends it tasks for (the placement's addresses), each
// by the name its target was given with --replica, which the master
// passwords depend on.
func TestCheckerTargetsArePlacement(t *testing.T) {
	for _, name := range scenarios.Builtins() {
		for _, driver := range []string{cyberrange.DriverDocker, cyberrange.DriverLocal} {
			t.Run(name+"/"+driver, func(t *testing.T) {
				sc := builtin(t, name)
				p := planFor(t, sc, driver)
				pl := p.Placement()
				for _, c := range p.Containers {
					if c.Kind != cyberrange.KindChecker {
						continue
					}
					targets, err := checks.ParseTargets(flagValue(c.Command, "--targets"))
					if err != nil {
						t.Fatalf("%s: %v", c.Name, err)
					}
					want := map[string]string{}
					for _, tc := range p.Containers {
						if tc.Kind == cyberrange.KindTarget && tc.Service == c.Service {
							addr := pl.ReplicaAddress(tc.Team, tc.Service)
							want[addr] = flagValue(tc.Command, "--replica")
							if want[addr] != cyberrange.TargetName(sc.Services[tc.Service].Name, sc.Teams[tc.Team].Short) {
								t.Errorf("%s: --replica %q", tc.Name, want[addr])
							}
						}
					}
					if len(want) == 0 || fmt.Sprint(targets) != fmt.Sprint(want) {
						t.Errorf("%s: --targets %v, want %v", c.Name, targets, want)
					}
				}
			})
		}
	}
}

func flagValue(cmd []string, name string) string {
	for i := 0; i+1 < len(cmd); i++ {
		if cmd[i] == name {
			return cmd[i+1]
		}
	}
	return ""
}

// TestAttackBoxPlan: with attack boxes, each attack team gets one on its
// own network, logging in as the team with its token, and only its own
// gateway lets it reach the box's SSH port, by name; the local driver
// has none.
func TestAttackBoxPlan(t *testing.T) {
	sc := builtin(t, "tiengiang-2023").Clone()
	sc.AttackBox = true
	p := planFor(t, sc, cyberrange.DriverDocker)
	tokens := fakeTokens(sc)
	boxes := map[int]cyberrange.Container{}
	for _, c := range p.Containers {
		if c.Kind == cyberrange.KindAttackBox {
			boxes[c.Team] = c
		}
	}
	gateways := 0
	for _, c := range p.Containers {
		if c.Kind != cyberrange.KindGateway {
			continue
		}
		gateways++
		box, ok := boxes[c.Team]
		if !ok {
			t.Fatalf("team %d has a gateway and no attack box", c.Team+1)
		}
		if len(box.Networks) != 1 || box.Networks[0].Network != c.Networks[0].Network {
			t.Errorf("%s is on %v, its gateway on %v", box.Name, box.Networks, c.Networks)
		}
		team := sc.Teams[c.Team]
		if box.Env[cyberrange.EnvBoxUser] != team.Short || box.Env[cyberrange.EnvBoxPassword] != tokens[c.Team] {
			t.Errorf("%s logs in as %v", box.Name, box.Env)
		}
		if slices.ContainsFunc(box.Command, func(s string) bool { return strings.Contains(s, tokens[c.Team]) }) {
			t.Errorf("%s has the token on its command line", box.Name)
		}
		cmd, err := gateway.ParseCommand(c.Command[1:], io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		addr := box.Networks[0].Address
		if got := cmd.Resolve[cyberrange.AttackBoxName]; got != addr {
			t.Errorf("%s: %s resolves to %s, want %s", c.Name, cyberrange.AttackBoxName, got, addr)
		}
		for team, other := range boxes {
			allowed := slices.ContainsFunc(cmd.Allow, func(r gateway.Rule) bool { return r.Allows(other.Networks[0].Address, cyberrange.PortSSH) })
			if allowed != (team == c.Team) {
				t.Errorf("%s: SSH to team %d's box allowed: %v", c.Name, team+1, allowed)
			}
		}
	}
	if gateways == 0 || len(boxes) != gateways {
		t.Errorf("%d gateways, %d attack boxes", gateways, len(boxes))
	}
	for _, c := range planFor(t, sc, cyberrange.DriverLocal).Containers {
		if c.Kind == cyberrange.KindAttackBox {
			t.Errorf("local plan has %s", c.Name)
		}
	}
}

// queryPlans are the demo's plans for the plan's query tests: its one
// defending team (d01, index 3) owns the mail service's replica (service
// 0), which the external plan runs from an image of its own, without an
// admin console.
func queryPlans(t *testing.T) (docker, local, external *cyberrange.Plan) {
	t.Helper()
	sc := builtin(t, "demo")
	ext := sc.Clone()
	ext.Services[0].Image = "registry.example/mail:1"
	return planFor(t, sc, cyberrange.DriverDocker), planFor(t, sc, cyberrange.DriverLocal), planFor(t, ext, cyberrange.DriverDocker)
}

func TestPlanTarget(t *testing.T) {
	docker, local, _ := queryPlans(t)
	tests := []struct {
		desc       string
		p          *cyberrange.Plan
		owner, svc int
		want       string
	}{
		{"docker replica", docker, 3, 0, "cyrange-demo-mail-d01"},
		{"local replica", local, 3, 0, "cyrange-demo-mail-d01"},
		{"an attack team owns none", docker, 0, 0, ""},
		{"the second service", docker, 3, 1, "cyrange-demo-portal-d01"},
		{"no such service", docker, 3, 2, ""},
		{"no such team", local, 9, 0, ""},
		{"a gateway is no target", docker, 0, -1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			c, ok := tt.p.Target(tt.owner, tt.svc)
			if ok != (tt.want != "") || c.Name != tt.want {
				t.Fatalf("Target(%d, %d) = %q, %v; want %q", tt.owner, tt.svc, c.Name, ok, tt.want)
			}
			if ok && (c.Kind != cyberrange.KindTarget || c.Team != tt.owner || c.Service != tt.svc) {
				t.Errorf("Target(%d, %d) = %+v", tt.owner, tt.svc, c)
			}
		})
	}
}

func TestPlanChecker(t *testing.T) {
	docker, local, _ := queryPlans(t)
	tests := []struct {
		desc string
		p    *cyberrange.Plan
		name string
		want string
		addr string
	}{
		{"docker", docker, "mailserver", "cyrange-demo-checker-mailserver", "10.62.0.2"},
		{"local", local, "mailserver", "cyrange-demo-checker-mailserver", "127.62.0.2"},
		{"the second target's", docker, "portal", "cyrange-demo-checker-portal", "10.62.0.3"},
		{"not in the plan", docker, "linetarget", "", ""},
		{"a service's name is not its checker's", docker, "mail", "", ""},
		{"empty", local, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			c, ok := tt.p.Checker(tt.name)
			if ok != (tt.want != "") || c.Name != tt.want {
				t.Fatalf("Checker(%q) = %q, %v; want %q", tt.name, c.Name, ok, tt.want)
			}
			if ok && (c.Kind != cyberrange.KindChecker || c.Networks[0].Address.String() != tt.addr) {
				t.Errorf("Checker(%q) = %+v", tt.name, c)
			}
		})
	}
}

func TestPlanAdminConsole(t *testing.T) {
	docker, local, external := queryPlans(t)
	tests := []struct {
		desc       string
		p          *cyberrange.Plan
		owner, svc int
		want       string
	}{
		// The checkers' view on docker: the replica's address on the
		// checkers network, as the game's placement has it.
		{"docker", docker, 3, 0, "10.62.0.10:8025"},
		{"local, its port shifted", local, 3, 0, "127.61.1.10:18025"},
		{"an external image has none", external, 3, 0, ""},
		{"an attack team owns no replica", docker, 0, 0, ""},
		{"no such service", local, 3, 5, ""},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			ap, ok := tt.p.AdminConsole(tt.owner, tt.svc)
			if tt.want == "" {
				if ok {
					t.Fatalf("AdminConsole(%d, %d) = %s", tt.owner, tt.svc, ap)
				}
				return
			}
			if !ok || ap.String() != tt.want {
				t.Fatalf("AdminConsole(%d, %d) = %s, %v; want %s", tt.owner, tt.svc, ap, ok, tt.want)
			}
			if got := tt.p.Placement().ReplicaAddress(tt.owner, tt.svc); got != ap.Addr().String() {
				t.Errorf("the console is on %s, the replica on %s", ap.Addr(), got)
			}
		})
	}
}

func TestPlanReplicaNetwork(t *testing.T) {
	docker, local, _ := queryPlans(t)
	tests := []struct {
		desc  string
		p     *cyberrange.Plan
		owner int
		want  string
	}{
		{"docker", docker, 3, "10.61.1.0/24"},
		{"local", local, 3, "127.61.1.0/24"},
		{"an attack team has a team network, not a replica's", docker, 0, ""},
		{"the checkers' network is nobody's replica", local, -1, ""},
		{"no such team", docker, 4, ""},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			sub, ok := tt.p.ReplicaNetwork(tt.owner)
			if ok != (tt.want != "") || ok && sub.String() != tt.want {
				t.Fatalf("ReplicaNetwork(%d) = %s, %v; want %q", tt.owner, sub, ok, tt.want)
			}
			if !ok {
				return
			}
			// The replica's target is on it.
			c, _ := tt.p.Target(tt.owner, 0)
			if !sub.Contains(c.Networks[0].Address) {
				t.Errorf("target %s at %s, outside %s", c.Name, c.Networks[0].Address, sub)
			}
		})
	}
}

func TestCommandWords(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"console", "remedy", "--url", "http://x/", "w1"}, "console remedy"},
		{[]string{"probe", "--timeout", "1s"}, "probe"},
		{[]string{"probe", "ready", "a", "b"}, "probe ready"},
		{[]string{"say"}, "say"},
		{[]string{"--help"}, "cyrange"},
	} {
		if got := cyberrange.CommandWords(tc.args); got != tc.want {
			t.Errorf("CommandWords(%q) = %q, want %q", tc.args, got, tc.want)
		}
	}
	if got := cyberrange.LastLine([]byte("one\ntwo\n\n  ")); got != "two" || !strings.Contains(cyberrange.LastLine(nil), "no output") {
		t.Errorf("LastLine: %q", got)
	}
}

// TestPeerSecretPerDefendingTeam: a defending team's built-in targets
// share one peer secret, which no other team's targets have.
func TestPeerSecretPerDefendingTeam(t *testing.T) {
	sc := builtin(t, "province-2024")
	sc.Teams = append(sc.Teams, scenarios.Team{Name: "Đội phòng thủ 2", Short: "d02", Role: scenarios.RoleDefence})
	if err := sc.Validate(); err != nil {
		t.Fatal(err)
	}
	p := planFor(t, sc, cyberrange.DriverDocker)
	byTeam := map[int]map[string]bool{}
	for _, c := range p.Containers {
		if c.Kind != cyberrange.KindTarget {
			continue
		}
		s := c.Env[cyberrange.EnvPeerSecret]
		if s == "" || s == c.Env[cyberrange.EnvCheckerSecret] {
			t.Fatalf("%s: peer secret %q", c.Name, s)
		}
		if byTeam[c.Team] == nil {
			byTeam[c.Team] = map[string]bool{}
		}
		byTeam[c.Team][s] = true
	}
	if len(byTeam) != 2 {
		t.Fatalf("targets of %d defending teams, want 2", len(byTeam))
	}
	seen := map[string]bool{}
	for team, secrets := range byTeam {
		if len(secrets) != 1 {
			t.Errorf("team %d's targets have %d peer secrets, want one", team, len(secrets))
		}
		for s := range secrets {
			if seen[s] {
				t.Errorf("two teams share the peer secret %s", s)
			}
			seen[s] = true
		}
	}
}
