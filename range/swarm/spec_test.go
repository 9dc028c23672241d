package swarm

import (
	"encoding/json"
	"flag"
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	cyberrange "github.com/cyrange/cyrange/range"
	"github.com/cyrange/cyrange/range/internal/dockerapi"
	"github.com/cyrange/cyrange/range/rangetest"
	"github.com/cyrange/cyrange/scenarios"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

const testSecret = "checker-secret-for-tests"

func mustPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }

// fakeTokens are fixed so that golden files do not change run to run.
func fakeTokens(sc *scenarios.Scenario) []string {
	out := make([]string, len(sc.Teams))
	for i, t := range sc.Teams {
		out[i] = "token-for-team-" + t.Short
	}
	return out
}

// planFor is a scenario's plan as the swarm driver takes it for now: a
// docker plan (cyberrange.NewPlan has no swarm driver yet).
func planFor(t *testing.T, name string) *cyberrange.Plan {
	t.Helper()
	sc, err := scenarios.Builtin(name)
	if err != nil {
		t.Fatal(err)
	}
	p, err := cyberrange.NewPlan(sc, cyberrange.PlanOptions{Driver: cyberrange.DriverDocker, Version: "test",
		TeamTokens: fakeTokens(sc), CheckerSecret: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// translation is what the golden files hold: everything the driver
// would ask of the swarm for a plan, secrets' values left out.
type translation struct {
	Networks []namedNetwork
	Services []service
}

type namedNetwork struct {
	Name    string
	Options client.NetworkCreateOptions
}

type service struct {
	Spec    swarm.ServiceSpec
	Edge    *client.NetworkCreateOptions `json:",omitempty"`
	Secrets []serviceSecret              `json:",omitempty"`
}

func translate(p *cyberrange.Plan, o specOptions, encrypt bool) translation {
	var tr translation
	for _, n := range p.Networks {
		tr.Networks = append(tr.Networks, namedNetwork{Name: n.Name, Options: networkOptions(n, encrypt)})
	}
	for _, c := range p.Containers {
		s := service{Spec: serviceSpec(c, o), Secrets: secretsOf(c)}
		if publishes(c) {
			e := edgeOptions(c, encrypt)
			s.Edge = &e
		}
		tr.Services = append(tr.Services, s)
	}
	return tr
}

func TestSpecGolden(t *testing.T) {
	for _, name := range scenarios.Builtins() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := json.MarshalIndent(translate(planFor(t, name), specOptions{Placement: DefaultPlacement}, true), "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			path := filepath.Join("testdata", fmt.Sprintf("swarm-%s.golden", name))
			rangetest.Golden(t, "translation", path, got, *update)
		})
	}
}

// TestServiceSpecConfinement checks, container by container, the
// Docker driver's confinement on every service, and that no secret
// travels in a spec.
func TestServiceSpecConfinement(t *testing.T) {
	t.Parallel()
	p := planFor(t, "demo")
	sc, _ := scenarios.Builtin("demo")
	secrets := append([]string{testSecret}, fakeTokens(sc)...)
	for _, c := range p.Containers {
		t.Run(c.Name, func(t *testing.T) {
			spec := serviceSpec(c, specOptions{Placement: DefaultPlacement})
			cs := spec.TaskTemplate.ContainerSpec
			if cs.Image != c.Image || !slices.Equal(cs.Args, c.Command) || cs.Command != nil {
				t.Errorf("image %q args %q command %q, want %q %q and no command", cs.Image, cs.Args, cs.Command, c.Image, c.Command)
			}
			if !slices.Equal(cs.CapabilityDrop, []string{"ALL"}) {
				t.Errorf("capabilities dropped: %q", cs.CapabilityDrop)
			}
			if dockerapi.IsBox(c.Kind) != (len(cs.CapabilityAdd) > 0) {
				t.Errorf("capabilities added: %q", cs.CapabilityAdd)
			}
			if cs.Privileges == nil || !cs.Privileges.NoNewPrivileges {
				t.Error("new privileges allowed")
			}
			if cs.ReadOnly != c.ReadOnly {
				t.Errorf("read-only root %v, plan says %v", cs.ReadOnly, c.ReadOnly)
			}
			hasTmp := slices.ContainsFunc(cs.Mounts, func(m mount.Mount) bool { return m.Type == mount.TypeTmpfs && m.Target == "/tmp" })
			if hasTmp != c.ReadOnly {
				t.Errorf("tmpfs /tmp %v, read-only %v", hasTmp, c.ReadOnly)
			}
			if cs.User != "" {
				t.Errorf("user %q: the image's user (65534 in the range's image) must stand, as with the Docker driver", cs.User)
			}
			if cs.Sysctls[dockerapi.SysctlUnprivPorts] != "0" {
				t.Errorf("sysctls %v", cs.Sysctls)
			}
			lim := spec.TaskTemplate.Resources.Limits
			want := cyberrange.DefaultLimits(c.Kind)
			if lim.MemoryBytes != want.MemoryBytes || lim.NanoCPUs != want.NanoCPUs || lim.Pids != want.Pids {
				t.Errorf("limits %+v, want %+v", *lim, want)
			}
			if sw := spec.TaskTemplate.Resources.SwapBytes; sw == nil || *sw != 0 {
				t.Errorf("swap %v, want none", sw)
			}
			if r := spec.Mode.Replicated; r == nil || r.Replicas == nil || *r.Replicas != 1 {
				t.Errorf("mode %+v, want one replica", spec.Mode)
			}
			if rp := spec.TaskTemplate.RestartPolicy; rp == nil || rp.Condition != swarm.RestartPolicyConditionAny {
				t.Errorf("restart policy %+v", rp)
			}
			if spec.EndpointSpec.Mode != swarm.ResolutionModeDNSRR {
				t.Errorf("endpoint mode %q, want dnsrr", spec.EndpointSpec.Mode)
			}
			for _, port := range spec.EndpointSpec.Ports {
				if port.PublishMode != swarm.PortConfigPublishModeHost {
					t.Errorf("port %s published in %q mode", port.Name, port.PublishMode)
				}
			}
			if got, want := len(spec.EndpointSpec.Ports) > 0, publishes(c); got != want {
				t.Errorf("publishes %v, plan says %v", got, want)
			}
			if got := spec.TaskTemplate.Placement.Constraints; len(got) != 1 || !strings.HasPrefix(got[0], "node.labels.cyrange.role==") {
				t.Errorf("constraints %q", got)
			}
			if spec.Labels[cyberrange.LabelPlanHash] != c.Labels[cyberrange.LabelPlanHash] || cs.Labels[cyberrange.LabelExercise] != c.Labels[cyberrange.LabelExercise] {
				t.Errorf("labels %v / %v", spec.Labels, cs.Labels)
			}
			js, err := json.Marshal(spec)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range secrets {
				if strings.Contains(string(js), s) {
					t.Errorf("secret %q in the service's spec", s)
				}
			}
			for k := range c.Env {
				if slices.Contains(secretEnv, k) && !slices.Contains(cs.Env, k+FileSuffix+"=/run/secrets/"+strings.ToLower(k)) {
					t.Errorf("env %q lacks %s%s", cs.Env, k, FileSuffix)
				}
			}
			if got, want := len(cs.Secrets), len(secretsOf(c)); got != want {
				t.Errorf("%d secret references, %d secrets", got, want)
			}
		})
	}
}

func TestPlacementConstraints(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		desc string
		p    Placement
		kind cyberrange.Kind
		want []string
	}{
		{"target", DefaultPlacement, cyberrange.KindTarget, []string{"node.labels.cyrange.role==replicas"}},
		{"gateway", DefaultPlacement, cyberrange.KindGateway, []string{"node.labels.cyrange.role==gateways"}},
		{"defence gateway", DefaultPlacement, cyberrange.KindDefenceGateway, []string{"node.labels.cyrange.role==gateways"}},
		{"checker", DefaultPlacement, cyberrange.KindChecker, []string{"node.labels.cyrange.role==checkers"}},
		{"attack box", DefaultPlacement, cyberrange.KindAttackBox, []string{"node.labels.cyrange.role==boxes"}},
		{"defence box", DefaultPlacement, cyberrange.KindDefenceBox, []string{"node.labels.cyrange.role==boxes"}},
		{"single node", Placement{}, cyberrange.KindTarget, nil},
		{"custom", Placement{Targets: "big"}, cyberrange.KindTarget, []string{"node.labels.cyrange.role==big"}},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			if got := tc.p.constraints(tc.kind); !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestNetworkOptions(t *testing.T) {
	t.Parallel()
	p := planFor(t, "demo")
	for _, n := range p.Networks {
		for _, encrypt := range []bool{false, true} {
			o := networkOptions(n, encrypt)
			if o.Driver != "overlay" || o.Scope != "swarm" || !o.Internal {
				t.Errorf("%s: driver %q scope %q internal %v", n.Name, o.Driver, o.Scope, o.Internal)
			}
			if want := n.Labels[cyberrange.LabelNetwork] == cyberrange.NetCheckers; o.Attachable != want {
				t.Errorf("%s: attachable %v", n.Name, o.Attachable)
			}
			if _, ok := o.Options[optEncrypted]; ok != encrypt {
				t.Errorf("%s: options %v with encrypt %v", n.Name, o.Options, encrypt)
			}
			if o.IPAM.Config[0].Subnet != n.Subnet || o.Labels[cyberrange.LabelExercise] != p.Exercise {
				t.Errorf("%s: ipam %+v labels %v", n.Name, o.IPAM, o.Labels)
			}
		}
	}
	gw := p.Containers[slices.IndexFunc(p.Containers, func(c cyberrange.Container) bool { return c.Kind == cyberrange.KindGateway })]
	e := edgeOptions(gw, false)
	if e.Internal || e.Attachable || e.Labels[labelEdge] != gw.Name || e.Labels[cyberrange.LabelExercise] != p.Exercise {
		t.Errorf("edge network %+v", e)
	}
}

func TestSecretNames(t *testing.T) {
	t.Parallel()
	c := cyberrange.Container{Name: "cyrange-" + strings.Repeat("x", 80) + "-gateway-a01",
		Env:    map[string]string{cyberrange.EnvGatewayToken: "t", cyberrange.EnvBoxUser: "a01"},
		Labels: map[string]string{cyberrange.LabelExercise: "ex", cyberrange.LabelPlanHash: "0123456789abcdef"}}
	got := secretsOf(c)
	if len(got) != 1 {
		t.Fatalf("secrets %+v, want the token's only", got)
	}
	s := got[0]
	if len(s.Name) > maxSecretName || !strings.HasSuffix(s.Name, "-gateway-token-0123456789abcdef") || !dockerapi.ValidName(s.Name) {
		t.Errorf("name %q (%d characters)", s.Name, len(s.Name))
	}
	if s.File != "cyrange_gateway_token" || string(s.Data) != "t" || s.Labels[labelOwner] != c.Name || s.Labels[cyberrange.LabelExercise] != "ex" {
		t.Errorf("secret %+v", s)
	}
	c.Env[cyberrange.EnvGatewayToken] = "u"
	c.Labels[cyberrange.LabelPlanHash] = cyberrange.ContainerHash(c)
	if secretsOf(c)[0].Name == s.Name {
		t.Error("a new value kept the secret's name: Swarm secrets cannot change")
	}
}

func TestValidContainer(t *testing.T) {
	t.Parallel()
	good := planFor(t, "demo").Containers[0]
	for _, tc := range []struct {
		desc string
		edit func(c *cyberrange.Container)
	}{
		{"bad name", func(c *cyberrange.Container) { c.Name = "-x" }},
		{"no image", func(c *cyberrange.Container) { c.Image = "" }},
		{"no network", func(c *cyberrange.Container) { c.Networks = nil }},
		{"no exercise", func(c *cyberrange.Container) { c.Labels = map[string]string{} }},
		{"twice on a network", func(c *cyberrange.Container) { c.Networks = append(c.Networks, c.Networks[0]) }},
		{"bad port", func(c *cyberrange.Container) { c.Ports = []cyberrange.Port{{Name: "a=b", Number: 1}} }},
		{"bad publish", func(c *cyberrange.Container) { c.Ports = []cyberrange.Port{{Name: "a", Number: 1, Publish: "x"}} }},
		{"volume over tmp", func(c *cyberrange.Container) {
			c.ReadOnly = true
			c.Mounts = []cyberrange.Mount{{Volume: "v", Path: "/tmp"}}
		}},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			c := good
			c.Labels = map[string]string{cyberrange.LabelExercise: "demo"}
			tc.edit(&c)
			if err := validContainer(c); err == nil {
				t.Error("accepted")
			}
		})
	}
	if err := validContainer(good); err != nil {
		t.Errorf("a plan's container refused: %v", err)
	}
}
