package docker

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"

	cyberrange "github.com/cyrange/cyrange/range"
	"github.com/cyrange/cyrange/range/internal/dockerapi"
)

func testContainer(mod ...func(*cyberrange.Container)) cyberrange.Container {
	c := cyberrange.Container{
		Name:    "cyrange-ex-mail-d01",
		Kind:    cyberrange.KindTarget,
		Image:   "cyrange:test",
		Command: []string{"target", "mailserver", "--listen", "0.0.0.0"},
		Env:     map[string]string{"B": "2", "A": "1"},
		Networks: []cyberrange.Attachment{
			{Network: "ex-replica-d01", Address: netip.MustParseAddr("10.61.1.10")},
			{Network: "ex-team-a01", Address: netip.MustParseAddr("10.60.1.10")},
		},
		Ports:    []cyberrange.Port{{Name: "smtp", Number: 25}, {Name: "admin", Number: 8025}},
		Labels:   map[string]string{cyberrange.LabelExercise: "ex", cyberrange.LabelKind: "target", cyberrange.LabelPlanHash: "h1"},
		Limits:   cyberrange.Limits{MemoryBytes: 64 << 20, NanoCPUs: 5e8, Pids: 100},
		ReadOnly: true,
		Team:     1,
		Service:  0,
	}
	for _, m := range mod {
		m(&c)
	}
	return c
}

func TestCreateOptions(t *testing.T) {
	tests := []struct {
		desc  string
		c     cyberrange.Container
		check func(t *testing.T, cfg *container.Config, hc *container.HostConfig, nc *network.NetworkingConfig)
	}{
		{"restrictions", testContainer(), func(t *testing.T, cfg *container.Config, hc *container.HostConfig, _ *network.NetworkingConfig) {
			if !slices.Equal(hc.CapDrop, []string{"ALL"}) || len(hc.CapAdd) != 0 {
				t.Errorf("caps: drop %v add %v", hc.CapDrop, hc.CapAdd)
			}
			if !slices.Equal(hc.SecurityOpt, []string{"no-new-privileges:true"}) {
				t.Errorf("security opts %v", hc.SecurityOpt)
			}
			if !hc.ReadonlyRootfs || hc.Tmpfs["/tmp"] == "" {
				t.Errorf("read-only %v tmpfs %v", hc.ReadonlyRootfs, hc.Tmpfs)
			}
			if len(hc.Binds) != 0 || len(hc.Mounts) != 0 || hc.Privileged {
				t.Errorf("binds %v mounts %v privileged %v", hc.Binds, hc.Mounts, hc.Privileged)
			}
			if hc.Memory != 64<<20 || hc.MemorySwap != 64<<20 || hc.NanoCPUs != 5e8 || hc.PidsLimit == nil || *hc.PidsLimit != 100 {
				t.Errorf("limits: mem %d swap %d cpu %d pids %v", hc.Memory, hc.MemorySwap, hc.NanoCPUs, hc.PidsLimit)
			}
			if hc.LogConfig.Type != "local" {
				t.Errorf("log driver %q", hc.LogConfig.Type)
			}
			if len(hc.PortBindings) != 0 {
				t.Errorf("a target publishes %v", hc.PortBindings)
			}
			if hc.Sysctls[dockerapi.SysctlUnprivPorts] != "0" {
				t.Errorf("sysctls %v", hc.Sysctls)
			}
			if !slices.Equal(cfg.Env, []string{"A=1", "B=2"}) {
				t.Errorf("env %v", cfg.Env)
			}
			if cfg.Labels[labelPorts] != "admin=8025,smtp=25" || cfg.Labels[cyberrange.LabelExercise] != "ex" {
				t.Errorf("labels %v", cfg.Labels)
			}
		}},
		{"first network at create, at its address", testContainer(), func(t *testing.T, _ *container.Config, hc *container.HostConfig, nc *network.NetworkingConfig) {
			if hc.NetworkMode != "ex-replica-d01" || len(nc.EndpointsConfig) != 1 {
				t.Fatalf("network mode %q endpoints %v", hc.NetworkMode, nc.EndpointsConfig)
			}
			ep := nc.EndpointsConfig["ex-replica-d01"]
			if ep == nil || ep.IPAMConfig == nil || ep.IPAMConfig.IPv4Address != netip.MustParseAddr("10.61.1.10") {
				t.Errorf("endpoint %+v", ep)
			}
		}},
		{"zero limits get defaults", testContainer(func(c *cyberrange.Container) { c.Limits = cyberrange.Limits{} }),
			func(t *testing.T, _ *container.Config, hc *container.HostConfig, _ *network.NetworkingConfig) {
				if hc.Memory != dockerapi.DefaultMemory || hc.NanoCPUs != dockerapi.DefaultCPUs || *hc.PidsLimit != dockerapi.DefaultPids {
					t.Errorf("limits: %d %d %d", hc.Memory, hc.NanoCPUs, *hc.PidsLimit)
				}
			}},
		{"writable", testContainer(func(c *cyberrange.Container) { c.ReadOnly = false }),
			func(t *testing.T, _ *container.Config, hc *container.HostConfig, _ *network.NetworkingConfig) {
				if hc.ReadonlyRootfs || len(hc.Tmpfs) != 0 {
					t.Errorf("read-only %v tmpfs %v", hc.ReadonlyRootfs, hc.Tmpfs)
				}
			}},
		{"gateway publishes and logs to json-file", testContainer(func(c *cyberrange.Container) {
			c.Kind = cyberrange.KindGateway
			c.Ports = []cyberrange.Port{{Name: "socks", Number: 1080, Publish: "127.0.0.1:0"}, {Name: "other", Number: 9, Publish: "0.0.0.0:1999"}}
		}), func(t *testing.T, cfg *container.Config, hc *container.HostConfig, _ *network.NetworkingConfig) {
			if hc.LogConfig.Type != "json-file" {
				t.Errorf("log driver %q", hc.LogConfig.Type)
			}
			socks := hc.PortBindings[network.MustParsePort("1080/tcp")]
			if len(socks) != 1 || socks[0].HostIP != netip.MustParseAddr("127.0.0.1") || socks[0].HostPort != "" {
				t.Errorf("socks binding %+v", socks)
			}
			other := hc.PortBindings[network.MustParsePort("9/tcp")]
			if len(other) != 1 || other[0].HostPort != "1999" || !other[0].HostIP.IsUnspecified() {
				t.Errorf("other binding %+v", other)
			}
			if len(cfg.ExposedPorts) != 2 {
				t.Errorf("exposed %v", cfg.ExposedPorts)
			}
		}},
		{"attack box keeps a few capabilities", testContainer(func(c *cyberrange.Container) { c.Kind = cyberrange.KindAttackBox }),
			func(t *testing.T, _ *container.Config, hc *container.HostConfig, _ *network.NetworkingConfig) {
				if !slices.Equal(hc.CapDrop, []string{"ALL"}) || !slices.Equal(hc.CapAdd, dockerapi.BoxCaps) || slices.Contains(hc.CapAdd, "SYS_ADMIN") {
					t.Errorf("caps: drop %v add %v", hc.CapDrop, hc.CapAdd)
				}
			}},
		{"defence box keeps what the attack box keeps, and mounts the logs read-only", testContainer(func(c *cyberrange.Container) {
			c.Kind = cyberrange.KindDefenceBox
			c.ReadOnly = false
			c.Mounts = []cyberrange.Mount{{Volume: "cyrange-ex-log-mail-d01", Path: "/var/log/replica/mail", ReadOnly: true}}
		}), func(t *testing.T, _ *container.Config, hc *container.HostConfig, _ *network.NetworkingConfig) {
			if !slices.Equal(hc.CapDrop, []string{"ALL"}) || !slices.Equal(hc.CapAdd, dockerapi.BoxCaps) {
				t.Errorf("caps: drop %v add %v", hc.CapDrop, hc.CapAdd)
			}
			want := []mount.Mount{{Type: mount.TypeVolume, Source: "cyrange-ex-log-mail-d01", Target: "/var/log/replica/mail", ReadOnly: true}}
			if !reflect.DeepEqual(hc.Mounts, want) || len(hc.Binds) != 0 {
				t.Errorf("mounts %+v binds %v", hc.Mounts, hc.Binds)
			}
			if hc.LogConfig.Type != "local" {
				t.Errorf("log driver %q", hc.LogConfig.Type)
			}
		}},
		{"a target writes its log's copy on its volume", testContainer(func(c *cyberrange.Container) {
			c.Mounts = []cyberrange.Mount{{Volume: "cyrange-ex-log-mail-d01", Path: cyberrange.TargetLogDir}}
		}), func(t *testing.T, _ *container.Config, hc *container.HostConfig, _ *network.NetworkingConfig) {
			want := []mount.Mount{{Type: mount.TypeVolume, Source: "cyrange-ex-log-mail-d01", Target: cyberrange.TargetLogDir}}
			if !reflect.DeepEqual(hc.Mounts, want) || !hc.ReadonlyRootfs || len(hc.CapAdd) != 0 {
				t.Errorf("mounts %+v read-only %v caps %v", hc.Mounts, hc.ReadonlyRootfs, hc.CapAdd)
			}
		}},
		{"defence gateway logs to json-file like a gateway", testContainer(func(c *cyberrange.Container) {
			c.Kind = cyberrange.KindDefenceGateway
			c.Ports = []cyberrange.Port{{Name: "socks", Number: 1080, Publish: "127.0.0.1:0"}}
		}), func(t *testing.T, _ *container.Config, hc *container.HostConfig, _ *network.NetworkingConfig) {
			if want := logConfig(cyberrange.KindGateway); !reflect.DeepEqual(hc.LogConfig, want) {
				t.Errorf("log config %+v, a gateway's %+v", hc.LogConfig, want)
			}
			if len(hc.CapAdd) != 0 || len(hc.PortBindings) != 1 {
				t.Errorf("caps %v bindings %v", hc.CapAdd, hc.PortBindings)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			if err := validContainer(tt.c); err != nil {
				t.Fatal(err)
			}
			o := createOptions(tt.c)
			if o.Name != tt.c.Name || o.Config.Image != tt.c.Image || !slices.Equal(o.Config.Cmd, tt.c.Command) {
				t.Errorf("name %q image %q cmd %v", o.Name, o.Config.Image, o.Config.Cmd)
			}
			tt.check(t, o.Config, o.HostConfig, o.NetworkingConfig)
		})
	}
}

func TestValidContainer(t *testing.T) {
	tests := []struct {
		desc string
		mod  func(*cyberrange.Container)
		ok   bool
	}{
		{"fine", func(*cyberrange.Container) {}, true},
		{"bad name", func(c *cyberrange.Container) { c.Name = "-x" }, false},
		{"slash in name", func(c *cyberrange.Container) { c.Name = "a/b" }, false},
		{"no image", func(c *cyberrange.Container) { c.Image = "" }, false},
		{"no network", func(c *cyberrange.Container) { c.Networks = nil }, false},
		{"no exercise label", func(c *cyberrange.Container) { delete(c.Labels, cyberrange.LabelExercise) }, false},
		{"twice on a network", func(c *cyberrange.Container) { c.Networks[1].Network = c.Networks[0].Network }, false},
		{"no address", func(c *cyberrange.Container) { c.Networks[1].Address = netip.Addr{} }, false},
		{"IPv6 address", func(c *cyberrange.Container) { c.Networks[1].Address = netip.MustParseAddr("::1") }, false},
		{"port zero", func(c *cyberrange.Container) { c.Ports[0].Number = 0 }, false},
		{"port name with comma", func(c *cyberrange.Container) { c.Ports[0].Name = "a,b" }, false},
		{"publish not host:port", func(c *cyberrange.Container) { c.Ports[0].Publish = "localhost:1" }, false},
		{"a volume", func(c *cyberrange.Container) { c.Mounts = []cyberrange.Mount{{Volume: "v-1", Path: "/var/log/x/"}} }, true},
		{"volume with a slash", func(c *cyberrange.Container) { c.Mounts = []cyberrange.Mount{{Volume: "v/1", Path: "/x"}} }, false},
		{"volume at a relative path", func(c *cyberrange.Container) { c.Mounts = []cyberrange.Mount{{Volume: "v", Path: "x"}} }, false},
		{"volume on the root", func(c *cyberrange.Container) { c.Mounts = []cyberrange.Mount{{Volume: "v", Path: "/"}} }, false},
		{"two volumes at one path", func(c *cyberrange.Container) {
			c.Mounts = []cyberrange.Mount{{Volume: "v", Path: "/x"}, {Volume: "w", Path: "/x/"}}
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			c := testContainer(tt.mod)
			err := validContainer(c)
			if (err == nil) != tt.ok {
				t.Fatalf("err %v, want ok %v", err, tt.ok)
			}
			if err != nil && !errors.Is(err, cyberrange.ErrInvalid) {
				t.Errorf("%v does not wrap ErrInvalid", err)
			}
		})
	}
}

func TestNetworkOptions(t *testing.T) {
	n := cyberrange.Network{Name: "ex-team-a01", Subnet: netip.MustParsePrefix("10.60.1.0/24"), Team: 0,
		Labels: map[string]string{cyberrange.LabelExercise: "ex"}}
	if err := validNetwork(n); err != nil {
		t.Fatal(err)
	}
	o := networkOptions(n)
	if o.Driver != "bridge" || !o.Internal || o.Options[optInhibitIPv4] != "true" {
		t.Errorf("driver %q internal %v options %v", o.Driver, o.Internal, o.Options)
	}
	if o.IPAM == nil || o.IPAM.Driver != "default" || len(o.IPAM.Config) != 1 ||
		o.IPAM.Config[0].Subnet != n.Subnet || o.IPAM.Config[0].Gateway != netip.MustParseAddr("10.60.1.1") {
		t.Errorf("ipam %+v", o.IPAM)
	}
	if o.Labels[cyberrange.LabelExercise] != "ex" {
		t.Errorf("labels %v", o.Labels)
	}
	in := ingressOptions("ex", netip.Prefix{})
	if in.Internal || in.Options[optICC] != "false" || in.Options[optMasquerade] != "false" || in.IPAM.Driver != "default" || len(in.IPAM.Config) != 0 {
		t.Errorf("ingress %+v %+v", in, in.IPAM)
	}
	if in.Labels[labelIngress] == "" || in.Labels[cyberrange.LabelExercise] != "ex" {
		t.Errorf("ingress labels %v", in.Labels)
	}
	if got := ingressOptions("ex", netip.MustParsePrefix("10.63.0.0/24")).IPAM.Config; len(got) != 1 || got[0].Subnet.String() != "10.63.0.0/24" {
		t.Errorf("ingress with a subnet: %+v", got)
	}

	bad := []func(*cyberrange.Network){
		func(n *cyberrange.Network) { n.Name = "" },
		func(n *cyberrange.Network) { n.Subnet = netip.Prefix{} },
		func(n *cyberrange.Network) { n.Subnet = netip.MustParsePrefix("fd00::/64") },
		func(n *cyberrange.Network) { n.Labels = nil },
		func(n *cyberrange.Network) {
			n.Labels = map[string]string{cyberrange.LabelExercise: "ex", labelIngress: "true"}
		},
	}
	for i, mod := range bad {
		m := n
		m.Labels = map[string]string{cyberrange.LabelExercise: "ex"}
		mod(&m)
		if err := validNetwork(m); !errors.Is(err, cyberrange.ErrInvalid) {
			t.Errorf("bad network %d: %v", i, err)
		}
	}
}

func TestNeedsIngress(t *testing.T) {
	tests := []struct {
		desc string
		c    cyberrange.Container
		want bool
	}{
		{"target", testContainer(), false},
		{"checker", testContainer(func(c *cyberrange.Container) { c.Kind = cyberrange.KindChecker }), true},
		{"publishes", testContainer(func(c *cyberrange.Container) { c.Ports[0].Publish = "127.0.0.1:0" }), true},
	}
	for _, tt := range tests {
		if got := needsIngress(tt.c); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.desc, got, tt.want)
		}
	}
}

func TestReachable(t *testing.T) {
	labels := map[string]string{labelPorts: "socks=1080", cyberrange.LabelKind: "gateway", cyberrange.LabelExercise: "ex"}
	ns := &container.NetworkSettings{Ports: network.PortMap{
		network.MustParsePort("1080/tcp"): {{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: "40001"}},
	}}
	if got := reachable(labels, ns); got["socks"] != "127.0.0.1:40001" {
		t.Errorf("gateway: %v", got)
	}
	ns.Ports[network.MustParsePort("1080/tcp")] = []network.PortBinding{{HostIP: netip.IPv4Unspecified(), HostPort: "1081"}}
	if got := reachable(labels, ns); got["socks"] != "127.0.0.1:1081" {
		t.Errorf("published on every address: %v", got)
	}
	chk := map[string]string{labelPorts: "checker=8000", cyberrange.LabelKind: "checker", cyberrange.LabelExercise: "ex"}
	ns = &container.NetworkSettings{Networks: map[string]*network.EndpointSettings{
		"ex-checkers":     {IPAddress: netip.MustParseAddr("10.62.0.2")},
		ingressName("ex"): {IPAddress: netip.MustParseAddr("172.20.0.3")},
	}}
	if got := reachable(chk, ns); got["checker"] != "172.20.0.3:8000" || len(got) != 1 {
		t.Errorf("checker: %v", got)
	}
	if got := reachable(map[string]string{labelPorts: "smtp=25"}, ns); got != nil {
		t.Errorf("target: %v", got)
	}
}

func TestState(t *testing.T) {
	for in, want := range map[string]cyberrange.State{
		"running": cyberrange.StateRunning, "restarting": cyberrange.StateRunning, "created": cyberrange.StateCreated,
		"exited": cyberrange.StateExited, "dead": cyberrange.StateExited, "removing": cyberrange.StateExited, "paused": "paused",
	} {
		if got := state(in); got != want {
			t.Errorf("%s: %s, want %s", in, got, want)
		}
	}
}

func TestContainerStatus(t *testing.T) {
	info := container.InspectResponse{
		Name:         "/cyrange-ex-mail-d01",
		RestartCount: 2,
		State:        &container.State{Status: "exited", ExitCode: 137, StartedAt: "2026-05-01T10:00:00.5Z"},
		Config:       &container.Config{Labels: map[string]string{cyberrange.LabelKind: "target", labelPorts: "smtp=25", "x": "y"}},
	}
	st := containerStatus(info)
	if st.Name != "cyrange-ex-mail-d01" || st.State != cyberrange.StateExited || st.ExitCode != 137 || st.Restarts != 2 || st.Kind != cyberrange.KindTarget {
		t.Errorf("%+v", st)
	}
	if !st.Started.Equal(time.Date(2026, 5, 1, 10, 0, 0, 5e8, time.UTC)) {
		t.Errorf("started %v", st.Started)
	}
	if _, ok := st.Labels[labelPorts]; ok || st.Labels["x"] != "y" {
		t.Errorf("labels %v", st.Labels)
	}
	info.State.StartedAt = "0001-01-01T00:00:00Z"
	if st := containerStatus(info); !st.Started.IsZero() {
		t.Errorf("never started: %v", st.Started)
	}
}

func TestRangeEvent(t *testing.T) {
	now := func() time.Time { return time.Unix(100, 0) }
	attrs := map[string]string{"name": "cyrange-ex-mail-d01", cyberrange.LabelKind: "target", "exitCode": "137"}
	tests := []struct {
		desc   string
		m      events.Message
		ok     bool
		action string
		code   int
		at     time.Time
	}{
		{"die", events.Message{Type: events.ContainerEventType, Action: "die", Actor: events.Actor{ID: "x", Attributes: attrs}, TimeNano: 5e9 + 7},
			true, "die", 137, time.Unix(5, 7)},
		{"destroy is remove", events.Message{Type: events.ContainerEventType, Action: "destroy", Actor: events.Actor{Attributes: attrs}, Time: 9},
			true, "remove", 137, time.Unix(9, 0)},
		{"no time", events.Message{Type: events.ContainerEventType, Action: "start", Actor: events.Actor{Attributes: map[string]string{"name": "n"}}},
			true, "start", 0, time.Unix(100, 0)},
		{"exec is noise", events.Message{Type: events.ContainerEventType, Action: "exec_start: sh", Actor: events.Actor{Attributes: attrs}}, false, "", 0, time.Time{}},
		{"network event", events.Message{Type: events.NetworkEventType, Action: "connect", Actor: events.Actor{Attributes: attrs}}, false, "", 0, time.Time{}},
		{"no name", events.Message{Type: events.ContainerEventType, Action: "die"}, false, "", 0, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			ev, ok := rangeEvent(tt.m, now)
			if ok != tt.ok {
				t.Fatalf("ok %v, want %v", ok, tt.ok)
			}
			if !ok {
				return
			}
			if ev.Action != tt.action || ev.ExitCode != tt.code || !ev.Time.Equal(tt.at) || ev.Container != tt.m.Actor.Attributes["name"] {
				t.Errorf("%+v", ev)
			}
		})
	}
}

func TestDedup(t *testing.T) {
	var d dedup
	m := func(id, action string) events.Message {
		return events.Message{Action: events.Action(action), Actor: events.Actor{ID: id}}
	}
	t1, t2 := time.Unix(1, 0), time.Unix(2, 0)
	steps := []struct {
		m    events.Message
		at   time.Time
		want bool
	}{
		{m("a", "start"), t1, true},
		{m("b", "start"), t1, true},
		{m("a", "start"), t1, false}, // replayed
		{m("a", "die"), t2, true},
		{m("b", "start"), t1, false}, // older than the last
		{m("b", "die"), t2, true},
		{m("b", "die"), t2, false},
	}
	for i, s := range steps {
		if got := d.fresh(s.m, s.at); got != s.want {
			t.Errorf("step %d: %v, want %v", i, got, s.want)
		}
	}
}

func TestReadStream(t *testing.T) {
	tests := []struct {
		desc, in, out, err string
	}{
		{"build ok", `{"stream":"Step 1/4 : FROM scratch\n"}` + "\n" + `{"stream":" ---\u003e \n"}` + "\n" + `{"aux":{"ID":"sha256:x"}}` + "\n",
			"Step 1/4 : FROM scratch\n ---> \n", ""},
		{"status lines", `{"status":"Importing"}` + "\n\n" + `{"status":"sha256:abc"}`, "Importing\nsha256:abc\n", ""},
		{"error detail", `{"stream":"Step 1\n"}` + "\n" + `{"errorDetail":{"message":"COPY failed"},"error":"COPY failed"}`, "Step 1\n", "COPY failed"},
		{"error only", `{"error":"no space left"}`, "", "no space left"},
		{"garbage", `{"stream":`, "", "unreadable"},
		{"empty", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			var out bytes.Buffer
			err := readStream(strings.NewReader(tt.in), &out)
			if tt.err == "" && err != nil || tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
				t.Fatalf("err %v, want %q", err, tt.err)
			}
			if out.String() != tt.out {
				t.Errorf("out %q, want %q", out.String(), tt.out)
			}
		})
	}
}

func TestBuildContext(t *testing.T) {
	bin := []byte("\x7fELF binary")
	buf, err := buildContext(bin, time.Unix(1, 0))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(buf)
	got := map[string]*tar.Header{}
	data := map[string][]byte{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got[h.Name] = h
		data[h.Name], _ = io.ReadAll(tr)
	}
	if len(got) != 3 || got["cyrange"] == nil || got["Dockerfile"] == nil || got[logDir+"/"] == nil {
		t.Fatalf("entries %v", got)
	}
	if h := got[logDir+"/"]; h.Typeflag != tar.TypeDir || h.Mode != 0o755 {
		t.Errorf("log directory: type %c mode %o", h.Typeflag, h.Mode)
	}
	if got["cyrange"].Mode != 0o755 || !bytes.Equal(data["cyrange"], bin) {
		t.Errorf("binary: mode %o, %q", got["cyrange"].Mode, data["cyrange"])
	}
	if string(data["Dockerfile"]) != Dockerfile {
		t.Errorf("Dockerfile %q", data["Dockerfile"])
	}
}

// The Dockerfile people build by hand says what BuildImage sends.
func TestShippedDockerfile(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "images", "cyrange.Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for l := range strings.SplitSeq(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			lines = append(lines, l)
		}
	}
	if got, want := strings.Join(lines, "\n")+"\n", Dockerfile; got != want {
		t.Errorf("images/cyrange.Dockerfile says\n%s\nBuildImage sends\n%s", got, want)
	}
}

func TestCheckStatic(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "text")
	os.WriteFile(text, []byte("#!/bin/sh\necho hi\n"), 0o755)
	if err := CheckStatic(text); err == nil || errors.Is(err, ErrNotStatic) {
		t.Errorf("a script: %v", err)
	}
	if err := CheckStatic(filepath.Join(dir, "missing")); err == nil {
		t.Error("a missing file passed")
	}
	// Whatever the machine's shell is, a dynamically linked one is
	// refused and a static one accepted: check against readelf's view.
	sh, err := filepath.EvalSymlinks("/bin/sh")
	if err != nil {
		t.Skip("no /bin/sh")
	}
	b, err := os.ReadFile(sh)
	if err != nil {
		t.Skip(err)
	}
	dynamic := bytes.Contains(b, []byte("ld-linux")) || bytes.Contains(b, []byte("ld-musl"))
	err = CheckStatic(sh)
	if dynamic && !errors.Is(err, ErrNotStatic) {
		t.Errorf("%s is dynamic, CheckStatic says %v", sh, err)
	}
	if dynamic && !strings.Contains(err.Error(), "CGO_ENABLED=0") {
		t.Errorf("no hint how to build it: %v", err)
	}
}

func TestModulePath(t *testing.T) {
	for in, want := range map[string]string{
		"module github.com/cyrange/cyrange\n\ngo 1.26\n": ModulePath,
		"// x\nmodule \"example.com/m\"\n":               "example.com/m",
		"go 1.26\n":                                      "",
	} {
		if got := modulePath([]byte(in)); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
	root, err := FindModule(".")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "cmd", "cyrange")); err != nil {
		t.Errorf("module root %s: %v", root, err)
	}
	if _, err := FindModule(t.TempDir()); !errors.Is(err, cyberrange.ErrNotFound) {
		t.Errorf("outside the module: %v", err)
	}
}

func TestAptSources(t *testing.T) {
	tests := []struct {
		desc, deb822, list string
		mirror, suite      string
	}{
		{"deb822", "Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm bookworm-updates\nComponents: main\n\n" +
			"Types: deb\nURIs: http://deb.debian.org/debian-security\nSuites: bookworm-security\nComponents: main\n", "",
			"http://deb.debian.org/debian", "bookworm"},
		{"deb822 security first, disabled, deb-src", "Types: deb\nURIs: http://security.debian.org/debian-security\nSuites: trixie-security\n\n" +
			"Types: deb\nEnabled: no\nURIs: http://old.example/debian\nSuites: trixie\n\n" +
			"Types: deb-src\nURIs: http://src.example/debian\nSuites: trixie\n\n" +
			"# comment\nTypes: deb deb-src\nURIs: https://mirror.example/debian\nSuites: trixie-updates trixie\n", "",
			"https://mirror.example/debian", "trixie"},
		{"one-line", "", "# deb http://x/debian sid main\ndeb-src http://src/debian bookworm main\n" +
			"deb [arch=amd64 signed-by=/k.gpg] http://ftp.vn.debian.org/debian bookworm main contrib\n",
			"http://ftp.vn.debian.org/debian", "bookworm"},
		{"none", "Types: deb\nURIs: cdrom:/\nSuites: bookworm\n", "deb file:/srv/debian bookworm main\n", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			dir := t.TempDir()
			os.MkdirAll(filepath.Join(dir, "sources.list.d"), 0o755)
			if tt.list != "" {
				os.WriteFile(filepath.Join(dir, "sources.list"), []byte(tt.list), 0o644)
			}
			if tt.deb822 != "" {
				os.WriteFile(filepath.Join(dir, "sources.list.d", "debian.sources"), []byte(tt.deb822), 0o644)
			}
			os.WriteFile(filepath.Join(dir, "sources.list.d", "other.list.disabled"), []byte("deb http://no/debian bookworm main\n"), 0o644)
			mirror, suite, err := AptSource(dir)
			if tt.mirror == "" {
				if !errors.Is(err, cyberrange.ErrNotFound) {
					t.Errorf("err %v", err)
				}
				return
			}
			if err != nil || mirror != tt.mirror || suite != tt.suite {
				t.Errorf("%q %q %v, want %q %q", mirror, suite, err, tt.mirror, tt.suite)
			}
		})
	}
}

func TestParseMountinfo(t *testing.T) {
	in := "22 1 0:21 / /proc rw - proc proc rw\n" +
		"90 30 0:50 / /tmp/w/rootfs/proc rw,relatime - proc proc rw\n" +
		"91 30 0:51 / /tmp/w/rootfs/sys rw - sysfs sysfs rw\n" +
		"92 30 0:52 / /tmp/w2/x rw - tmpfs t rw\n" +
		"93 30 0:53 / /tmp/w/with\\040space rw - tmpfs t rw\n" +
		"short line\n"
	got, err := parseMountinfo(strings.NewReader(in), "/tmp/w")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"/tmp/w/rootfs/proc", "/tmp/w/rootfs/sys", "/tmp/w/with space"}
	if !slices.Equal(got, want) {
		t.Errorf("%q, want %q", got, want)
	}
}

func TestTarDir(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "usr", "bin"), 0o755)
	os.MkdirAll(filepath.Join(root, "proc", "1"), 0o755)
	os.WriteFile(filepath.Join(root, "proc", "1", "status"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(root, "usr", "bin", "tool"), []byte("tool"), 0o755)
	os.Link(filepath.Join(root, "usr", "bin", "tool"), filepath.Join(root, "usr", "bin", "tool2"))
	os.Symlink("usr/bin", filepath.Join(root, "bin"))
	var buf bytes.Buffer
	if err := tarDir(root, &buf); err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(&buf)
	got := map[string]*tar.Header{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got[h.Name] = h
	}
	if h := got["usr/bin/tool"]; h == nil || h.Mode&0o777 != 0o755 || h.Size != 4 {
		t.Errorf("tool: %+v", h)
	}
	if h := got["usr/bin/tool2"]; h == nil || h.Typeflag != tar.TypeLink || h.Linkname != "usr/bin/tool" {
		t.Errorf("hard link: %+v", h)
	}
	if h := got["bin"]; h == nil || h.Typeflag != tar.TypeSymlink || h.Linkname != "usr/bin" {
		t.Errorf("symlink: %+v", h)
	}
	if got["proc/"] == nil || got["proc/1/status"] != nil || got["proc/1/"] != nil {
		t.Errorf("proc's content was packed: %v", slices.Collect(func(yield func(string) bool) {
			for k := range got {
				if !yield(k) {
					return
				}
			}
		}))
	}
}

func TestComposeFile(t *testing.T) {
	gw := testContainer(func(c *cyberrange.Container) {
		c.Name = "cyrange-ex-gateway-a01"
		c.Kind = cyberrange.KindGateway
		c.Networks = c.Networks[1:]
		c.Ports = []cyberrange.Port{{Name: "socks", Number: 1080, Publish: "127.0.0.1:0"}}
	})
	p := &cyberrange.Plan{Exercise: "ex", Networks: []cyberrange.Network{
		{Name: "ex-replica-d01", Subnet: netip.MustParsePrefix("10.61.1.0/24"), Labels: map[string]string{cyberrange.LabelExercise: "ex"}},
		{Name: "ex-team-a01", Subnet: netip.MustParsePrefix("10.60.1.0/24"), Labels: map[string]string{cyberrange.LabelExercise: "ex"}},
	}, Containers: []cyberrange.Container{testContainer(func(c *cyberrange.Container) {
		c.Mounts = []cyberrange.Mount{{Volume: "cyrange-ex-log-mail-d01", Path: cyberrange.TargetLogDir}}
	}), gw}}
	b, err := ComposeFile(p, "cmp")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Version  string
		Networks map[string]struct {
			Internal   bool
			DriverOpts map[string]string `json:"driver_opts"`
			IPAM       struct {
				Driver string
				Config []struct{ Subnet string }
			}
			Labels map[string]string
		}
		Services map[string]struct {
			Networks map[string]*struct {
				IPv4 string `json:"ipv4_address"`
			}
			Ports       []string
			CapDrop     []string `json:"cap_drop"`
			SecurityOpt []string `json:"security_opt"`
			ReadOnly    bool     `json:"read_only"`
			PidsLimit   int64    `json:"pids_limit"`
			Labels      map[string]string
			Volumes     []struct {
				Type, Source, Target string
				ReadOnly             bool `json:"read_only"`
			}
		}
		Volumes map[string]struct {
			Labels map[string]string
		}
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	if f.Version != "2.4" || len(f.Networks) != 3 || len(f.Services) != 2 {
		t.Fatalf("version %q, %d networks, %d services", f.Version, len(f.Networks), len(f.Services))
	}
	team := f.Networks["ex-team-a01"]
	if !team.Internal || team.DriverOpts[optInhibitIPv4] != "true" || team.IPAM.Driver != "default" || team.IPAM.Config[0].Subnet != "10.60.1.0/24" {
		t.Errorf("team network %+v", team)
	}
	if team.Labels[cyberrange.LabelExercise] != "cmp" {
		t.Errorf("the compose network keeps the range's exercise: %v", team.Labels)
	}
	if _, ok := f.Networks[ingressName("cmp")]; !ok {
		t.Errorf("no ingress network: %v", f.Networks)
	}
	tg := f.Services["cyrange-ex-mail-d01"]
	if tg.Networks["ex-team-a01"] == nil || tg.Networks["ex-team-a01"].IPv4 != "10.60.1.10" || len(tg.Ports) != 0 ||
		!tg.ReadOnly || tg.CapDrop[0] != "ALL" || tg.PidsLimit != 100 || tg.Labels[cyberrange.LabelExercise] != "cmp" {
		t.Errorf("target %+v", tg)
	}
	if v := tg.Volumes; len(v) != 1 || v[0].Type != "volume" || v[0].Source != "cyrange-ex-log-mail-d01" || v[0].Target != cyberrange.TargetLogDir || v[0].ReadOnly {
		t.Errorf("target's volumes %+v", v)
	}
	if v, ok := f.Volumes["cyrange-ex-log-mail-d01"]; !ok || len(f.Volumes) != 1 || v.Labels[cyberrange.LabelExercise] != "cmp" {
		t.Errorf("volumes %+v", f.Volumes)
	}
	g := f.Services["cyrange-ex-gateway-a01"]
	if !slices.Equal(g.Ports, []string{"127.0.0.1::1080"}) || g.Networks[ingressName("cmp")] == nil {
		t.Errorf("gateway %+v", g)
	}
	if _, err := ComposeFile(&cyberrange.Plan{}, "x"); !errors.Is(err, cyberrange.ErrInvalid) {
		t.Errorf("empty plan: %v", err)
	}
}

// The attack box people build by hand has the tools BuildAttackBox
// installs.
func TestShippedAttackBoxDockerfile(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "images", "attackbox.Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range AttackBoxPackages {
		if !strings.Contains(string(b), " "+p+" ") && !strings.Contains(string(b), " "+p+"\n") {
			t.Errorf("images/attackbox.Dockerfile does not install %s", p)
		}
	}
	// It starts and serves SSH as the imported image does.
	if !slices.Contains(strings.Split(string(b), "\n"), "CMD "+attackBoxCmd()) {
		t.Errorf("images/attackbox.Dockerfile does not end with\nCMD %s", attackBoxCmd())
	}
	if !strings.Contains(string(b), strings.ReplaceAll(attackBoxSSHConfig, "\n", `\n`)) {
		t.Errorf("images/attackbox.Dockerfile does not write the SSH configuration %q", attackBoxSSHConfig)
	}
}

func TestLoginUIDOptional(t *testing.T) {
	in := "# PAM for sshd\n@include common-auth\nsession    required     pam_loginuid.so\nsession    optional     pam_keyinit.so force revoke\n"
	want := "# PAM for sshd\n@include common-auth\nsession optional pam_loginuid.so\nsession    optional     pam_keyinit.so force revoke\n"
	if got := loginUIDOptional(in); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if got := loginUIDOptional(want); got != want {
		t.Errorf("not idempotent:\n%s", got)
	}
}
