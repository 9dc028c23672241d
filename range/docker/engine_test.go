package docker

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"golang.org/x/crypto/ssh"

	cyberrange "github.com/cyrange/cyrange/range"
	"github.com/cyrange/cyrange/range/internal/dockerapi"
	"github.com/cyrange/cyrange/range/rangetest"
	"github.com/cyrange/cyrange/scenarios"
	"github.com/cyrange/cyrange/scoreboard/checks"
)

// Tests on the real engine. Each resource they make carries labelTest;
// TestMain removes whatever carries it, before and after.
const (
	labelTest = "cyrange.test"
	testValue = "range-docker"
	testImage = "cyrange:test-range-docker"
)

// requireDocker turns the engine tests' skip into a failure (CI sets it).
const requireDocker = "CYRANGE_REQUIRE_DOCKER"

var engineEnv struct {
	once  sync.Once
	skip  string // why engine tests skip
	err   error  // why the image could not be built
	built bool
	lock  *os.File
}

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if engineEnv.built {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		if err := cleanupTests(ctx, true); err != nil {
			fmt.Fprintln(os.Stderr, "docker tests: cleanup:", err)
			code = max(code, 1)
		}
		cancel()
	}
	os.Exit(code)
}

// needEngine returns a driver on the real engine with the test image
// built (once, from a static build of this module), or skips the test
// when no engine is reachable — a failure when CYRANGE_REQUIRE_DOCKER=1.
func needEngine(t *testing.T) *Driver {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: no tests on the Docker engine")
	}
	engineEnv.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		d, err := New(ctx, Options{CallTimeout: 5 * time.Second})
		if err != nil {
			engineEnv.skip = fmt.Sprintf("no Docker engine reachable (%v); set %s=1 to make this a failure", err, requireDocker)
			return
		}
		defer d.Close()
		// Another run of these tests (go test ./... elsewhere) uses the
		// same names and subnets and cleans up the same label: wait for
		// it to end. The lock goes with the process.
		if err := lockEngineTests(ctx); err != nil {
			engineEnv.err = err
			return
		}
		engineEnv.built = true
		if err := cleanupTests(ctx, false); err != nil {
			engineEnv.err = err
			return
		}
		mod, err := FindModule(".")
		if err != nil {
			engineEnv.err = err
			return
		}
		dir, err := os.MkdirTemp("", "cyrange-docker-test-")
		if err != nil {
			engineEnv.err = err
			return
		}
		defer os.RemoveAll(dir)
		bin := filepath.Join(dir, "cyrange")
		if err := BuildStatic(ctx, mod, bin, "-X main.version=test"); err != nil {
			engineEnv.err = err
			return
		}
		engineEnv.err = d.BuildImage(ctx, testImage, bin)
	})
	if engineEnv.skip != "" {
		if os.Getenv(requireDocker) == "1" {
			t.Fatal(engineEnv.skip)
		}
		t.Skip(engineEnv.skip)
	}
	if engineEnv.err != nil {
		t.Fatalf("building the test image: %v", engineEnv.err)
	}
	d, err := New(t.Context(), Options{CallTimeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// lockEngineTests takes a lock on a file shared by every run of this
// package's tests on this machine, waiting for it as long as ctx allows.
func lockEngineTests(ctx context.Context) error {
	f, err := os.OpenFile(filepath.Join(os.TempDir(), "cyrange-range-docker-tests.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			engineEnv.lock = f // held until the process exits; kept from the finalizer
			return nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return err
		}
		select {
		case <-ctx.Done():
			f.Close()
			return fmt.Errorf("another run of the Docker tests holds %s: %w", f.Name(), ctx.Err())
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// cleanupTests removes every container and network the tests made, and
// the test image when image is set.
func cleanupTests(ctx context.Context, image bool) error {
	d, err := New(ctx, Options{})
	if err != nil {
		return err
	}
	defer d.Close()
	f := client.Filters{}.Add("label", labelTest+"="+testValue)
	cons, err := d.e.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		return err
	}
	for _, c := range cons.Items {
		if _, err := d.e.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true}); err != nil && !cerrdefs.IsNotFound(err) {
			return err
		}
	}
	nets, err := d.e.NetworkList(ctx, client.NetworkListOptions{Filters: f})
	if err != nil {
		return err
	}
	// An exercise's ingress network and its volumes carry the exercise's
	// label only.
	for _, ex := range testExercises {
		more, err := d.e.NetworkList(ctx, client.NetworkListOptions{Filters: client.Filters{}.Add("label", cyberrange.LabelExercise+"="+ex)})
		if err != nil {
			return err
		}
		nets.Items = append(nets.Items, more.Items...)
	}
	for _, n := range nets.Items {
		if _, err := d.e.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{}); err != nil && !cerrdefs.IsNotFound(err) {
			return err
		}
	}
	for _, ex := range testExercises {
		if err := d.RemoveVolumes(ctx, ex); err != nil {
			return err
		}
	}
	if image {
		return d.RemoveImage(ctx, testImage)
	}
	return nil
}

// testExercises are the exercises of the tests' ranges, whose ingress
// networks and volumes cleanupTests finds by their exercise label.
var testExercises = []string{"dkcontract", "dkrange", "dkdefence", "dkattackbox"}

// testPlan is the demo scenario's plan with n attack teams, renamed to
// exercise, on an address plan of its own (10.base.x.0/24 for teams,
// 10.base+1.x.0/24 for replicas, 10.base+2.0.0/24 for checkers) so that it
// never meets a real range on this engine. Every resource carries the
// test label.
func testPlan(t *testing.T, exercise string, teams, base int, adjust ...func(*scenarios.Scenario, *cyberrange.PlanOptions)) (*cyberrange.Plan, *scenarios.Scenario, []string) {
	t.Helper()
	demo, err := scenarios.Builtin("demo")
	if err != nil {
		t.Fatal(err)
	}
	sc := demo.WithAttackTeams(teams)
	sc.Name = exercise
	sc.AttackBox = false
	sc.Network.Docker = scenarios.AddressPlan{
		Teams:    netip.MustParsePrefix(fmt.Sprintf("10.%d.0.0/16", base)),
		Replicas: netip.MustParsePrefix(fmt.Sprintf("10.%d.0.0/16", base+1)),
		Checkers: netip.MustParsePrefix(fmt.Sprintf("10.%d.0.0/24", base+2)),
	}
	o := cyberrange.PlanOptions{Driver: cyberrange.DriverDocker, Image: testImage,
		GatewayPortBase: -1, CheckerSecret: "test-secret"}
	for _, f := range adjust {
		f(sc, &o)
	}
	// After adjust, which may add teams.
	tokens := make([]string, len(sc.Teams))
	for i := range tokens {
		tokens[i] = fmt.Sprintf("token-%02d", i)
	}
	o.TeamTokens = tokens
	if err := sc.Validate(); err != nil {
		t.Fatal(err)
	}
	p, err := cyberrange.NewPlan(sc, o)
	if err != nil {
		t.Fatal(err)
	}
	for i := range p.Networks {
		p.Networks[i].Labels[labelTest] = testValue
	}
	for i := range p.Containers {
		p.Containers[i].Labels[labelTest] = testValue
	}
	return p, sc, tokens
}

func TestContract(t *testing.T) {
	d := needEngine(t)
	p, _, _ := testPlan(t, "dkcontract", 2, 170)
	rangetest.Contract(t, func(t *testing.T) cyberrange.Driver {
		d, err := New(t.Context(), Options{CallTimeout: 20 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
		return d
	}, func(*testing.T) *cyberrange.Plan { return p })
	// Down leaves nothing on the engine either, the ingress network
	// included, which List does not show.
	checkNothingLeft(t, d, p.Exercise)
}

func checkNothingLeft(t *testing.T, d *Driver, exercise string) {
	t.Helper()
	// Called from cleanups too, when t.Context is done.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	f := client.Filters{}.Add("label", cyberrange.LabelExercise+"="+exercise)
	cons, err := d.e.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	nets, err := d.e.NetworkList(ctx, client.NetworkListOptions{Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cons.Items {
		t.Errorf("left: container %v", c.Names)
	}
	for _, n := range nets.Items {
		t.Errorf("left: network %s", n.Name)
	}
	vols, err := d.e.VolumeList(ctx, client.VolumeListOptions{Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vols.Items {
		t.Errorf("left: volume %s", v.Name)
	}
}

// TestRange stands up one range of seven attack teams whose targets
// answer every connection with its source address, and checks on it the
// containers' restrictions, the isolation of teams and of the host, and
// the attribution of a connection through a gateway.
func TestRange(t *testing.T) {
	d := needEngine(t)
	p, sc, tokens := testPlan(t, "dkrange", 7, 173)
	for i, c := range p.Containers {
		if c.Kind != cyberrange.KindTarget {
			continue
		}
		cmd := []string{"probe", "listen"}
		for _, port := range c.Ports {
			cmd = append(cmd, ":"+strconv.Itoa(port.Number))
		}
		c.Command = cmd
		delete(c.Labels, cyberrange.LabelPlanHash)
		c.Labels[cyberrange.LabelPlanHash] = cyberrange.ContainerHash(c)
		p.Containers[i] = c
	}
	o := cyberrange.NewOrchestrator(cyberrange.OrchestratorOptions{Driver: d})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := o.Down(ctx, p.Exercise); err != nil {
			t.Errorf("down: %v", err)
		}
		checkNothingLeft(t, d, p.Exercise)
	})
	if err := o.Up(t.Context(), p); err != nil {
		t.Fatalf("up: %v", err)
	}
	rep, err := o.Status(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Healthy {
		t.Fatalf("not healthy: %+v", rep)
	}
	t.Run("restrictions", func(t *testing.T) { checkRestrictions(t, d, p) })
	t.Run("isolation", func(t *testing.T) { checkIsolation(t, d, p) })
	t.Run("attribution", func(t *testing.T) { checkAttribution(t, d, o, p, sc, tokens) })
	t.Run("a flood of strangers at a gateway", func(t *testing.T) { checkGatewayFlood(t, o, p, sc, tokens) })
	t.Run("the host reaches the checker", func(t *testing.T) { checkChecker(t, p, rep) })
}

// checkChecker calls the checker where the status says the host reaches
// it (its address on the ingress network), as the game would: with the
// token derived from the checker secret, and refused without it.
func checkChecker(t *testing.T, p *cyberrange.Plan, rep cyberrange.Report) {
	for _, c := range rep.Containers {
		if c.Kind != cyberrange.KindChecker {
			continue
		}
		addr := c.Ports[cyberrange.PortChecker]
		if addr == "" {
			t.Fatalf("%s: no reachable address in %v", c.Name, c.Ports)
		}
		spec, _ := p.Container(c.Name)
		hc := &http.Client{Timeout: 5 * time.Second}
		for _, token := range []string{"", checks.CallerToken(spec.Env[cyberrange.EnvCheckerSecret])} {
			req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/service", nil)
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			res, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			switch {
			case token == "" && res.StatusCode != http.StatusUnauthorized:
				t.Errorf("GET /service without the token: %s %s", res.Status, b)
			case token != "" && (res.StatusCode != http.StatusOK || !strings.Contains(string(b), "mail")):
				t.Errorf("GET /service: %s %s", res.Status, b)
			}
		}
		return
	}
	t.Fatal("no checker in the plan")
}

func checkRestrictions(t *testing.T, d *Driver, p *cyberrange.Plan) {
	for _, c := range p.Containers {
		info, found, err := d.inspect(t.Context(), c.Name)
		if err != nil || !found {
			t.Fatalf("%s: found %v, %v", c.Name, found, err)
		}
		hc := info.HostConfig
		// A team's box keeps what its SSH server and nmap need, and no
		// more; every other container keeps nothing.
		var caps []string
		user := "65534:65534"
		if dockerapi.IsBox(c.Kind) {
			caps, user = dockerapi.BoxCaps, ""
		}
		// The engine may sort them and add a CAP_ prefix.
		added := make([]string, len(hc.CapAdd))
		for i, c := range hc.CapAdd {
			added[i] = strings.TrimPrefix(c, "CAP_")
		}
		slices.Sort(added)
		caps = slices.Sorted(slices.Values(caps))
		if len(hc.CapDrop) != 1 || hc.CapDrop[0] != "ALL" || !slices.Equal(added, caps) || hc.Privileged {
			t.Errorf("%s: cap drop %v add %v privileged %v", c.Name, hc.CapDrop, hc.CapAdd, hc.Privileged)
		}
		nnp := false
		for _, o := range hc.SecurityOpt {
			nnp = nnp || strings.HasPrefix(o, "no-new-privileges")
		}
		if !nnp {
			t.Errorf("%s: security options %v", c.Name, hc.SecurityOpt)
		}
		if hc.ReadonlyRootfs != c.ReadOnly {
			t.Errorf("%s: read-only root %v, planned %v", c.Name, hc.ReadonlyRootfs, c.ReadOnly)
		}
		if hc.Memory != c.Limits.MemoryBytes || hc.NanoCPUs != c.Limits.NanoCPUs || hc.PidsLimit == nil || *hc.PidsLimit != c.Limits.Pids {
			t.Errorf("%s: memory %d cpu %d pids %v, planned %+v", c.Name, hc.Memory, hc.NanoCPUs, hc.PidsLimit, c.Limits)
		}
		if len(hc.Binds) != 0 || !onlyPlanned(info.Mounts, c.Mounts) {
			t.Errorf("%s: binds %v mounts %+v, planned %+v", c.Name, hc.Binds, info.Mounts, c.Mounts)
		}
		if c.Kind == cyberrange.KindGateway || c.Kind == cyberrange.KindDefenceGateway {
			if len(hc.PortBindings) != 1 {
				t.Errorf("%s: port bindings %v", c.Name, hc.PortBindings)
			}
		} else if len(hc.PortBindings) != 0 {
			t.Errorf("%s: publishes %v", c.Name, hc.PortBindings)
		}
		if info.Config.User != user {
			t.Errorf("%s: runs as %q", c.Name, info.Config.User)
		}
		for _, a := range c.Networks {
			ep := info.NetworkSettings.Networks[a.Network]
			if ep == nil || ep.IPAddress != a.Address {
				t.Errorf("%s: on %s at %v, planned %s", c.Name, a.Network, ep, a.Address)
			}
		}
		// Inside, the process really has no capability left.
		if c.Kind == cyberrange.KindTarget {
			code, out := probe(t, d, c.Name, "unix", "/var/run/docker.sock")
			if code == 0 {
				t.Errorf("%s reaches the Docker socket: %s", c.Name, out)
			}
		}
	}
	for _, n := range p.Networks {
		got, found, err := d.inspectNetwork(t.Context(), n.Name)
		if err != nil || !found {
			t.Fatalf("network %s: %v %v", n.Name, found, err)
		}
		if !got.Internal || got.Options[optInhibitIPv4] != "true" || got.IPAM.Driver != "default" {
			t.Errorf("network %s: internal %v options %v ipam %q", n.Name, got.Internal, got.Options, got.IPAM.Driver)
		}
	}
}

// onlyPlanned reports whether a container's mounts are tmpfs and exactly
// the planned volumes.
func onlyPlanned(ms []container.MountPoint, planned []cyberrange.Mount) bool {
	var vols []cyberrange.Mount
	for _, m := range ms {
		switch m.Type {
		case "tmpfs":
		case "volume":
			vols = append(vols, cyberrange.Mount{Volume: m.Name, Path: m.Destination, ReadOnly: !m.RW})
		default:
			return false
		}
	}
	less := func(a, b cyberrange.Mount) int { return strings.Compare(a.Path, b.Path) }
	planned = slices.SortedFunc(slices.Values(planned), less)
	slices.SortFunc(vols, less)
	return slices.Equal(vols, planned)
}

func checkIsolation(t *testing.T, d *Driver, p *cyberrange.Plan) {
	// A service of the host on every address, as the game's API would be.
	l, err := net.Listen("tcp4", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "host\n") }),
		ReadHeaderTimeout: time.Second}
	go srv.Serve(l)
	defer srv.Close()
	port := l.Addr().(*net.TCPAddr).Port

	var target, gwA, gwB cyberrange.Container
	for _, c := range p.Containers {
		switch {
		case c.Kind == cyberrange.KindTarget && target.Name == "":
			target = c
		case c.Kind == cyberrange.KindGateway && c.Labels[cyberrange.LabelTeam] == "a01":
			gwA = c
		case c.Kind == cyberrange.KindGateway && c.Labels[cyberrange.LabelTeam] == "a02":
			gwB = c
		}
	}
	at := func(c cyberrange.Container, network string) netip.Addr {
		for _, a := range c.Networks {
			if a.Network == network {
				return a.Address
			}
		}
		t.Fatalf("%s is not on %s", c.Name, network)
		return netip.Addr{}
	}
	netA, netB := gwA.Networks[0].Network, gwB.Networks[0].Network
	ingressIP := func(name string) netip.Addr {
		info, _, err := d.inspect(t.Context(), name)
		if err != nil {
			t.Fatal(err)
		}
		return info.NetworkSettings.Networks[ingressName(p.Exercise)].IPAddress
	}
	ingress, _, err := d.inspectNetwork(t.Context(), ingressName(p.Exercise))
	if err != nil || len(ingress.IPAM.Config) == 0 {
		t.Fatalf("ingress %+v: %v", ingress, err)
	}
	ingressHost := ingress.IPAM.Config[0].Gateway

	// Every address of the host: its interfaces', the ingress bridge's,
	// and the host end of every network of the plan (which must not
	// exist).
	hostAddrs := []netip.Addr{ingressHost}
	ifaddrs, _ := net.InterfaceAddrs()
	for _, a := range ifaddrs {
		if pfx, err := netip.ParsePrefix(a.String()); err == nil && pfx.Addr().Is4() && !pfx.Addr().IsLoopback() {
			hostAddrs = append(hostAddrs, pfx.Addr())
		}
	}
	for _, n := range p.Networks {
		hostAddrs = append(hostAddrs, n.Subnet.Addr().Next())
	}

	type check struct {
		desc  string
		from  string
		addr  string
		reach bool
	}
	checks := []check{
		// Controls: the probe does connect where it should.
		{"gateway A reaches the target on A's network", gwA.Name, netip.AddrPortFrom(at(target, netA), 25).String(), true},
		{"gateway A reaches the host through the ingress", gwA.Name, netip.AddrPortFrom(ingressHost, uint16(port)).String(), true},
		{"the target reaches gateway A's port on A's network", target.Name, netip.AddrPortFrom(at(gwA, netA), 1080).String(), true},
		// Teams apart.
		{"gateway A to the target on B's network", gwA.Name, netip.AddrPortFrom(at(target, netB), 25).String(), false},
		{"gateway A to the target's replica network", gwA.Name, netip.AddrPortFrom(target.Networks[0].Address, 25).String(), false},
		{"gateway A to gateway B on B's network", gwA.Name, netip.AddrPortFrom(at(gwB, netB), 1080).String(), false},
		{"gateway A to gateway B on the ingress", gwA.Name, netip.AddrPortFrom(ingressIP(gwB.Name), 1080).String(), false},
	}
	for _, h := range hostAddrs {
		checks = append(checks, check{"the target to the host at " + h.String(), target.Name, netip.AddrPortFrom(h, uint16(port)).String(), false})
	}
	var wg sync.WaitGroup
	results := make([]string, len(checks))
	sem := make(chan struct{}, 4)
	for i, c := range checks {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			code, out := probe(t, d, c.from, "tcp", c.addr, "--timeout", "1500ms")
			if (code == 0) != c.reach {
				results[i] = fmt.Sprintf("%s (%s): reached %v, want %v; %s", c.desc, c.addr, code == 0, c.reach, strings.TrimSpace(out))
			}
		})
	}
	wg.Wait()
	for _, r := range results {
		if r != "" {
			t.Error(r)
		}
	}
}

func checkAttribution(t *testing.T, d *Driver, o *cyberrange.Orchestrator, p *cyberrange.Plan, sc *scenarios.Scenario, tokens []string) {
	const team = 6 // team number 7
	var owner int
	for i, tm := range sc.Teams {
		if tm.Role.CanDefend() {
			owner = i
			break
		}
	}
	addr, ports, ok := p.TargetFor(team, owner, 0)
	if !ok || len(ports) == 0 {
		t.Fatalf("no target for team 7: %v %v", addr, ports)
	}
	info, err := o.Gateway(t.Context(), team)
	if err != nil {
		t.Fatal(err)
	}
	gi := info.(cyberrange.GatewayInfo)
	subnet, _ := sc.Network.Docker.TeamSubnet(team + 1)
	if gi.Source != subnet.String() {
		t.Fatalf("gateway source %s, team 7's subnet %s", gi.Source, subnet)
	}
	dst := netip.AddrPortFrom(addr, uint16(ports[0].Number)).String()
	conn, err := socks5Dial(t.Context(), gi.Address, gi.Team, tokens[team], dst)
	if err != nil {
		t.Fatalf("through %s to %s: %v", gi.Address, dst, err)
	}
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	line, err := bufio.NewReader(conn).ReadString('\n')
	conn.Close()
	if err != nil {
		t.Fatalf("reading the target's answer: %v", err)
	}
	src, err := netip.ParseAddrPort(strings.TrimSpace(line))
	if err != nil || !subnet.Contains(src.Addr()) {
		t.Fatalf("the target saw the connection from %q, not from team 7's %s", line, subnet)
	}
	// The gateway recorded it.
	rc, err := d.Logs(t.Context(), gi.Container, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(rc)
		for sc.Scan() {
			if l := sc.Text(); strings.HasPrefix(l, `{"telemetry":`) && strings.Contains(l, `"port":`+strconv.Itoa(ports[0].Number)) {
				found <- l
				return
			}
		}
	}()
	select {
	case l := <-found:
		if !strings.Contains(l, addr.String()) {
			t.Errorf("telemetry %s does not name the target %s", l, addr)
		}
	case <-time.After(10 * time.Second):
		t.Error("no telemetry of the connection in the gateway's output")
	}
}

// checkGatewayFlood holds many more unauthenticated connections to team
// 7's gateway than it keeps, through the port the engine publishes (where
// every client may show the gateway the same source address), and proves
// the team still gets through.
func checkGatewayFlood(t *testing.T, o *cyberrange.Orchestrator, p *cyberrange.Plan, sc *scenarios.Scenario, tokens []string) {
	const team = 6 // team number 7
	info, err := o.Gateway(t.Context(), team)
	if err != nil {
		t.Fatal(err)
	}
	gi := info.(cyberrange.GatewayInfo)
	var flood []net.Conn
	t.Cleanup(func() {
		for _, c := range flood {
			c.Close()
		}
	})
	var dialer net.Dialer
	for range 1500 {
		c, err := dialer.DialContext(t.Context(), "tcp", gi.Address)
		if err != nil {
			t.Fatalf("flood: %v", err)
		}
		flood = append(flood, c)
		// The method reply (or a close) proves the gateway took it.
		c.SetDeadline(time.Now().Add(30 * time.Second))
		c.Write([]byte{5, 1, 2})
		if _, err := io.ReadFull(c, make([]byte, 2)); errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatal("flood: the gateway never answered a connection")
		}
	}
	var dst string
	for owner, tm := range sc.Teams {
		if addr, ports, ok := p.TargetFor(team, owner, 0); tm.Role.CanDefend() && ok && len(ports) > 0 {
			dst = netip.AddrPortFrom(addr, uint16(ports[0].Number)).String()
			break
		}
	}
	conn, err := socks5Dial(t.Context(), gi.Address, gi.Team, tokens[team], dst)
	if err != nil {
		t.Fatalf("the team, during the flood, through %s to %s: %v", gi.Address, dst, err)
	}
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := bufio.NewReader(conn).ReadString('\n'); err != nil {
		t.Fatalf("reading the target's answer during the flood: %v", err)
	}
}

// socksReply is a SOCKS5 server's refusal of a CONNECT: 2 is "not
// allowed by ruleset", 4 "host unreachable" (a name it does not resolve).
type socksReply byte

func (r socksReply) Error() string { return fmt.Sprintf("SOCKS5 reply %d", byte(r)) }

// errSocksAuth is a SOCKS5 server's refusal of the user and password.
var errSocksAuth = errors.New("SOCKS5 authentication refused")

// socks5Dial connects to dst (an address or a name, with a port) through
// a SOCKS5 server with user/password authentication (RFC 1928, 1929).
func socks5Dial(ctx context.Context, server, user, pass, dst string) (net.Conn, error) {
	var dialer net.Dialer
	c, err := dialer.DialContext(ctx, "tcp", server)
	if err != nil {
		return nil, err
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	fail := func(err error) (net.Conn, error) { c.Close(); return nil, err }
	buf := make([]byte, 512)
	if _, err := c.Write([]byte{5, 1, 2}); err != nil {
		return fail(err)
	}
	if _, err := io.ReadFull(c, buf[:2]); err != nil || buf[1] != 2 {
		return fail(fmt.Errorf("method %v: %v", buf[:2], err))
	}
	auth := append([]byte{1, byte(len(user))}, user...)
	auth = append(append(auth, byte(len(pass))), pass...)
	if _, err := c.Write(auth); err != nil {
		return fail(err)
	}
	if _, err := io.ReadFull(c, buf[:2]); err != nil {
		return fail(fmt.Errorf("authentication: %w", err))
	}
	if buf[1] != 0 {
		return fail(errSocksAuth)
	}
	host, portStr, err := net.SplitHostPort(dst)
	if err != nil {
		return fail(err)
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil {
		return fail(err)
	}
	req := []byte{5, 1, 0}
	if a, err := netip.ParseAddr(host); err == nil {
		a4 := a.As4()
		req = append(append(req, 1), a4[:]...)
	} else {
		req = append(append(req, 3, byte(len(host))), host...)
	}
	req = append(req, byte(port>>8), byte(port))
	if _, err := c.Write(req); err != nil {
		return fail(err)
	}
	if _, err := io.ReadFull(c, buf[:10]); err != nil {
		return fail(fmt.Errorf("connect reply: %w", err))
	}
	if buf[1] != 0 {
		return fail(socksReply(buf[1]))
	}
	c.SetDeadline(time.Time{})
	return c, nil
}

var probeSeq struct {
	mu sync.Mutex
	n  int
}

// probe runs `cyrange probe ARGS...` in the network namespace of the
// container netns and returns its exit code and output.
func probe(t *testing.T, d *Driver, netns string, args ...string) (int, string) {
	t.Helper()
	probeSeq.mu.Lock()
	probeSeq.n++
	name := fmt.Sprintf("cyrange-test-probe-%d-%d", os.Getpid(), probeSeq.n)
	probeSeq.mu.Unlock()
	ctx := t.Context()
	pids := int64(16)
	_, err := d.e.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name:   name,
		Config: &container.Config{Image: testImage, Cmd: append([]string{"probe"}, args...), Labels: map[string]string{labelTest: testValue}},
		HostConfig: &container.HostConfig{NetworkMode: container.NetworkMode("container:" + netns), CapDrop: []string{"ALL"},
			SecurityOpt: []string{"no-new-privileges:true"}, ReadonlyRootfs: true,
			Resources: container.Resources{Memory: 64 << 20, PidsLimit: &pids}},
	})
	if err != nil {
		t.Fatalf("probe: %v", err)
	}
	defer d.e.ContainerRemove(context.WithoutCancel(ctx), name, client.ContainerRemoveOptions{Force: true})
	if _, err := d.e.ContainerStart(ctx, name, client.ContainerStartOptions{}); err != nil {
		t.Fatalf("probe: %v", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		info, _, err := d.inspect(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if !info.State.Running {
			rc, err := d.Logs(ctx, name, time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			out, _ := io.ReadAll(rc)
			rc.Close()
			return info.State.ExitCode, string(out)
		}
		if time.Now().After(deadline) {
			t.Fatalf("probe %v still running", args)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// listenerOnNetwork makes exercise ex's network on net24.0/24 and returns
// a target that, once started, listens on port at net24.10; both go when
// the test ends.
func listenerOnNetwork(t *testing.T, d *Driver, ex, net24 string, port int) cyberrange.Container {
	t.Helper()
	ctx := t.Context()
	n := cyberrange.Network{Name: ex + "-net", Subnet: netip.MustParsePrefix(net24 + ".0/24"),
		Labels: map[string]string{cyberrange.LabelExercise: ex, labelTest: testValue}}
	c := cyberrange.Container{Name: "cyrange-" + ex + "-probe", Kind: cyberrange.KindTarget, Image: testImage,
		Command:  []string{"probe", "listen", ":" + strconv.Itoa(port)},
		Networks: []cyberrange.Attachment{{Network: n.Name, Address: netip.MustParseAddr(net24 + ".10")}},
		Ports:    []cyberrange.Port{{Name: "listen", Number: port}},
		Labels:   map[string]string{cyberrange.LabelExercise: ex, cyberrange.LabelKind: "target", labelTest: testValue},
		ReadOnly: true}
	t.Cleanup(func() {
		ctx := context.WithoutCancel(ctx)
		d.Remove(ctx, c.Name)
		d.RemoveNetwork(ctx, n.Name)
		checkNothingLeft(t, d, ex)
	})
	if err := d.EnsureNetwork(ctx, n); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestWaitReady: the probe run inside a container tells a port that
// listens from one that does not, on an internal network the host cannot
// reach.
func TestWaitReady(t *testing.T) {
	d := needEngine(t)
	ctx := t.Context()
	c := listenerOnNetwork(t, d, "dkready", "10.179.3", 7001)
	if err := d.Start(ctx, c); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := d.WaitReady(wctx, c); err != nil {
		t.Fatalf("port 7001 listens, yet: %v", err)
	}
	c.Ports = append(c.Ports, cyberrange.Port{Name: "two", Number: 7002})
	// The probe gives up after its own second; the context is only a
	// hang guard, generous enough that a loaded engine's slow exec
	// calls never decide the answer.
	d.probeTimeout = time.Second
	wctx, cancel = context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := d.WaitReady(wctx, c); err == nil || !strings.Contains(err.Error(), "nothing listens") {
		t.Fatalf("port 7002 never listens, yet: %v", err)
	}
}

// TestExitWhileStarting: a target that exits as it starts (here the
// probe's listener, refusing its address) fails the range with its last
// line, not with the probe's "nothing listens".
func TestExitWhileStarting(t *testing.T) {
	d := needEngine(t)
	const ex = "dkexit"
	c := listenerOnNetwork(t, d, ex, "10.179.5", 7003)
	c.Command = []string{"probe", "listen", "not-an-address"}
	p := &cyberrange.Plan{Exercise: ex, Driver: cyberrange.DriverDocker, Containers: []cyberrange.Container{c},
		Networks: []cyberrange.Network{{Name: ex + "-net", Subnet: netip.MustParsePrefix("10.179.5.0/24"),
			Labels: map[string]string{cyberrange.LabelExercise: ex, labelTest: testValue}}}}
	rangetest.ExitWhileStarting(t, d, p, c.Name, "missing port in address")
}

func TestEngineEventsAndLogs(t *testing.T) {
	d := needEngine(t)
	ctx := t.Context()
	const ex = "dkevents"
	c := listenerOnNetwork(t, d, ex, "10.179.1", 8080)
	ectx, stop := context.WithCancel(ctx)
	defer stop()
	evs, err := d.Events(ectx, ex)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Start(ctx, c); err != nil {
		t.Fatal(err)
	}
	want := func(action string) cyberrange.RangeEvent {
		t.Helper()
		timeout := time.After(20 * time.Second)
		for {
			select {
			case ev := <-evs:
				if ev.Container == c.Name && ev.Action == action {
					return ev
				}
			case <-timeout:
				t.Fatalf("no %s event", action)
			}
		}
	}
	if ev := want("start"); ev.Kind != cyberrange.KindTarget || ev.Time.IsZero() {
		t.Errorf("start event %+v", ev)
	}
	rc, err := d.Logs(ctx, c.Name, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(rc).ReadString('\n')
	rc.Close()
	if err != nil || !strings.Contains(line, "listening on [::]:8080") {
		t.Errorf("logs: %q %v", line, err)
	}
	if err := d.Kill(ctx, c.Name); err != nil {
		t.Fatal(err)
	}
	if ev := want("die"); ev.ExitCode != 137 {
		t.Errorf("die event %+v", ev)
	}
	a, err := d.List(ctx, ex)
	if err != nil || len(a.Containers) != 1 || a.Containers[0].State != cyberrange.StateExited || a.Containers[0].ExitCode != 137 {
		t.Errorf("list after kill: %+v %v", a, err)
	}
	if err := d.Start(ctx, c); err != nil {
		t.Fatal(err)
	}
	want("start")
	if err := d.Remove(ctx, c.Name); err != nil {
		t.Fatal(err)
	}
	want("remove")
	stop()
	for range evs {
	}
}

// TestAttackBox builds the attack box with debootstrap, which takes
// minutes and the Debian mirror: only with CYRANGE_ATTACKBOX=1 (CI runs
// it as a step of its own). A range with attack boxes and defence boxes
// comes up; an attack team logs in to its box over SSH through its
// gateway with its token, where the tools run, and so does the defence
// team to its box through its defence gateway, where its replica's log
// grows, read-only.
func TestAttackBox(t *testing.T) {
	if os.Getenv("CYRANGE_ATTACKBOX") != "1" {
		t.Skip("set CYRANGE_ATTACKBOX=1 to build the attack box (debootstrap, minutes)")
	}
	d := needEngine(t)
	const tag = "cyrange-attackbox:test-range-docker"
	var out bytes.Buffer
	// CYRANGE_ATTACKBOX_CACHE keeps the packages between runs.
	err := d.BuildAttackBox(t.Context(), AttackBoxOptions{Tag: tag, Output: &out, CacheDir: os.Getenv("CYRANGE_ATTACKBOX_CACHE")})
	t.Cleanup(func() { d.RemoveImage(context.Background(), tag) })
	if err != nil {
		t.Fatalf("%v\n%s", err, tail(out.String(), 40))
	}
	p, sc, tokens := testPlan(t, "dkattackbox", 2, 182, func(sc *scenarios.Scenario, o *cyberrange.PlanOptions) {
		sc.AttackBox = true
		sc.DefenceBox = true
		o.AttackBoxImage = tag
	})
	ctx := t.Context()
	o := cyberrange.NewOrchestrator(cyberrange.OrchestratorOptions{Driver: d})
	t.Cleanup(func() {
		if err := o.Down(context.WithoutCancel(ctx), p.Exercise); err != nil {
			t.Error(err)
		}
		checkNothingLeft(t, d, p.Exercise)
	})
	if err := o.Up(ctx, p); err != nil {
		t.Fatal(err)
	}
	var box cyberrange.Container
	for _, c := range p.Containers {
		if c.Kind == cyberrange.KindAttackBox {
			box = c
			break
		}
	}
	if box.Name == "" {
		t.Fatal("the plan has no attack box")
	}
	checkRestrictions(t, d, p)
	info, err := o.Gateway(ctx, box.Team)
	if err != nil {
		t.Fatal(err)
	}
	gi := info.(cyberrange.GatewayInfo)
	user, token := sc.Teams[box.Team].Short, tokens[box.Team]
	boxSSH := netip.AddrPortFrom(box.Networks[0].Address, cyberrange.PortSSH).String()
	login := func(user, password string) (*ssh.Client, error) {
		return boxLogin(ctx, gi.Address, gi.Team, token, boxSSH, user, password)
	}
	c := waitLogin(t, login, user, token)
	defer c.Close()
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	got, err := sess.CombinedOutput("id -un; nmap --version; curl --version; python3 --version; hydra -h | head -1; swaks --version; nc -h 2>&1 | head -1; ip -4 -o addr show")
	sess.Close()
	if err != nil {
		t.Fatalf("tools: %v\n%s", err, got)
	}
	for _, want := range []string{user + "\n", "Nmap version", "curl ", "Python 3", "Hydra", "swaks", box.Networks[0].Address.String() + "/24"} {
		if !strings.Contains(string(got), want) {
			t.Errorf("the box's answer lacks %q:\n%s", want, got)
		}
	}
	checkBoxGroundTruth(t, d, p, sc, box, c)
	// Nobody else gets in: a wrong password, or root.
	for _, bad := range [][2]string{{user, token + "x"}, {"root", token}} {
		if c, err := login(bad[0], bad[1]); err == nil {
			c.Close()
			t.Errorf("logged in as %s with password %q", bad[0], bad[1])
		}
	}
	t.Run("defence box", func(t *testing.T) { checkDefenceBox(t, o, p, sc, tokens) })
}

// boxLogin opens an SSH session as user to a box at dst through a team's
// gateway.
func boxLogin(ctx context.Context, gateway, gwUser, token, dst, user, password string) (*ssh.Client, error) {
	conn, err := socks5Dial(ctx, gateway, gwUser, token, dst)
	if err != nil {
		return nil, fmt.Errorf("through the gateway: %w", err)
	}
	cc, chans, reqs, err := ssh.NewClientConn(conn, dst, &ssh.ClientConfig{User: user,
		Auth: []ssh.AuthMethod{ssh.Password(password)},
		// Each box makes its host key when it starts: nothing to pin.
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 10 * time.Second})
	if err != nil {
		conn.Close()
		return nil, err
	}
	return ssh.NewClient(cc, chans, reqs), nil
}

// waitLogin logs in with login as the SSH server comes up.
func waitLogin(t *testing.T, login func(user, password string) (*ssh.Client, error), user, password string) *ssh.Client {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := login(user, password)
		if err == nil {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("logging in to the box as %s: %v", user, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// checkDefenceBox logs the defending team in to its box through its
// defence gateway, by the box's name, with its token (and nobody else),
// and checks there the defence's tools and its replica's log: there,
// growing with what the replica does, and read-only.
func checkDefenceBox(t *testing.T, o *cyberrange.Orchestrator, p *cyberrange.Plan, sc *scenarios.Scenario, tokens []string) {
	ctx := t.Context()
	rep, err := o.Status(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	x := slices.IndexFunc(sc.Teams, func(tm scenarios.Team) bool { return tm.Role.CanDefend() })
	gw := defenceGateway(t, p, rep, x)
	if gw.Box != cyberrange.DefenceBoxName || gw.BoxAddress == "" {
		t.Fatalf("defence gateway %+v has no box", gw)
	}
	user, token := sc.Teams[x].Short, tokens[x]
	byName := net.JoinHostPort(cyberrange.DefenceBoxName, strconv.Itoa(cyberrange.PortSSH))
	login := func(user, password string) (*ssh.Client, error) {
		return boxLogin(ctx, gw.Address, gw.Short, token, byName, user, password)
	}
	c := waitLogin(t, login, user, token)
	defer c.Close()
	for _, bad := range [][2]string{{user, token + "x"}, {"root", token}, {sc.Teams[0].Short, tokens[0]}} {
		if c, err := login(bad[0], bad[1]); err == nil {
			c.Close()
			t.Errorf("logged in to the defence box as %s with password %q", bad[0], bad[1])
		}
	}
	// Its address, as the gateway tells it, is the same box.
	if c, err := boxLogin(ctx, gw.Address, gw.Short, token, net.JoinHostPort(gw.BoxAddress, strconv.Itoa(cyberrange.PortSSH)), user, token); err != nil {
		t.Errorf("the defence box at %s: %v", gw.BoxAddress, err)
	} else {
		c.Close()
	}
	run := func(cmd string) (string, error) {
		sess, err := c.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		defer sess.Close()
		out, err := sess.CombinedOutput(cmd)
		return string(out), err
	}
	if out, err := run("id -un; command -v jq sqlite3 openssl curl nmap"); err != nil || !strings.HasPrefix(out, user+"\n") || strings.Count(out, "/") < 5 {
		t.Errorf("the defence's tools: %v\n%s", err, out)
	}
	tx := replicaOf(t, p, x)
	svc := tx.Labels[cyberrange.LabelService]
	logPath := cyberrange.DefenceLogDir + "/" + svc + "/" + svc + ".log"
	imap := 0
	for _, port := range tx.Ports {
		if port.Name == "imap" {
			imap = port.Number
		}
	}
	// A failed login to the replica, from the box, over the replica
	// network, shows in the log within seconds.
	probeUser := fmt.Sprintf("box-probe-%d", time.Now().UnixNano())
	script := fmt.Sprintf(`set -e
test -f %[1]s
before=$(wc -l < %[1]s)
python3 -c 'import socket; s = socket.create_connection(("%[2]s", %[3]d), 5); s.recv(512); s.sendall(b"a1 LOGIN %[4]s wrong\r\n"); s.recv(512)'
for i in $(seq 100); do
  if grep -q %[4]s %[1]s; then break; fi
  sleep 0.1
done
grep %[4]s %[1]s | jq -e .action >/dev/null
echo "lines $before $(wc -l < %[1]s)"
if echo x >> %[1]s 2>/dev/null || touch %[5]s/new 2>/dev/null; then echo WRITABLE; else echo READ-ONLY; fi
`, logPath, tx.Networks[0].Address, imap, probeUser, cyberrange.DefenceLogDir+"/"+svc)
	out, err := run(script)
	if err != nil || !strings.Contains(out, "READ-ONLY") {
		t.Fatalf("the replica's log on the defence box: %v\n%s", err, out)
	}
	var before, after int
	i := max(strings.Index(out, "lines "), 0)
	if _, err := fmt.Sscanf(out[i:], "lines %d %d", &before, &after); err != nil || after <= before || before == 0 {
		t.Errorf("the log did not grow: %q", out)
	}
}

func tail(s string, lines int) string {
	l := strings.Split(s, "\n")
	return strings.Join(l[max(0, len(l)-lines):], "\n")
}

// TestDefenceGateway stands up a range of one attack team and two
// defending teams, with the targets' log volumes, and checks that a
// defending team's gateway takes that team only and reaches its own
// replica, on every port and by the names and addresses the team knows
// it by, and nothing else; and that a target writes the copy of its log
// on its volume as nobody.
func TestDefenceGateway(t *testing.T) {
	d := needEngine(t)
	p, sc, tokens := testPlan(t, "dkdefence", 1, 185, func(sc *scenarios.Scenario, _ *cyberrange.PlanOptions) {
		sc.Teams = append(sc.Teams, scenarios.Team{Name: "Đội phòng thủ 2", Role: scenarios.RoleDefence, Short: "d02"})
		sc.DefenceBox = true
	})
	// The targets' log volumes stay; the boxes go, as their image is
	// only built by TestAttackBox.
	p.Containers = slices.DeleteFunc(p.Containers, func(c cyberrange.Container) bool { return c.Kind == cyberrange.KindDefenceBox })
	ctx := t.Context()
	o := cyberrange.NewOrchestrator(cyberrange.OrchestratorOptions{Driver: d})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := o.Down(ctx, p.Exercise); err != nil {
			t.Errorf("down: %v", err)
		}
		checkNothingLeft(t, d, p.Exercise)
	})
	if err := o.Up(ctx, p); err != nil {
		t.Fatalf("up: %v", err)
	}
	rep, err := o.Status(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Healthy {
		t.Fatalf("not healthy: %+v", rep)
	}
	team := func(short string) int {
		i := slices.IndexFunc(sc.Teams, func(tm scenarios.Team) bool { return tm.Short == short })
		if i < 0 {
			t.Fatalf("no team %s", short)
		}
		return i
	}
	x, y, a := team("d01"), team("d02"), team("a01")
	t.Run("restrictions", func(t *testing.T) { checkRestrictions(t, d, p) })
	t.Run("isolation", func(t *testing.T) { checkDefenceIsolation(t, p, sc, rep, tokens, x, y, a) })
	t.Run("log volume", func(t *testing.T) { checkLogVolume(t, d, p, sc, rep, tokens, x, y) })
}

// defenceGateway is team's defence gateway, at the address the engine
// published it on.
func defenceGateway(t *testing.T, p *cyberrange.Plan, rep cyberrange.Report, team int) cyberrange.GatewayInfo {
	t.Helper()
	gi, ok := p.DefenceGateway(team)
	if !ok {
		t.Fatalf("team %d has no defence gateway", team)
	}
	addr, ok := rep.HostAddr(gi.Container, cyberrange.PortSocks)
	if !ok {
		t.Fatalf("%s publishes no port", gi.Container)
	}
	gi.Address = addr
	return gi
}

// replicaOf is team's target of the plan's first service.
func replicaOf(t *testing.T, p *cyberrange.Plan, team int) cyberrange.Container {
	t.Helper()
	for _, c := range p.Containers {
		if c.Kind == cyberrange.KindTarget && c.Team == team && c.Service == 0 {
			return c
		}
	}
	t.Fatalf("team %d has no replica", team)
	return cyberrange.Container{}
}

func checkDefenceIsolation(t *testing.T, p *cyberrange.Plan, sc *scenarios.Scenario, rep cyberrange.Report, tokens []string, x, y, a int) {
	gwX, gwY := defenceGateway(t, p, rep, x), defenceGateway(t, p, rep, y)
	tx, ty := replicaOf(t, p, x), replicaOf(t, p, y)
	svc := tx.Labels[cyberrange.LabelService]
	var checkersNet, teamNet cyberrange.Network
	for _, n := range p.Networks {
		switch {
		case n.Labels[cyberrange.LabelNetwork] == cyberrange.NetCheckers:
			checkersNet = n
		case n.Labels[cyberrange.LabelNetwork] == cyberrange.NetTeam && n.Team == a:
			teamNet = n
		}
	}
	replicaNetX := tx.Networks[0]
	var replicaHost netip.Addr // the host's end, .1, which must not exist
	for _, n := range p.Networks {
		if n.Name == replicaNetX.Network {
			replicaHost = n.Subnet.Addr().Next()
		}
	}
	on := func(c cyberrange.Container, network string) netip.Addr {
		for _, at := range c.Networks {
			if at.Network == network {
				return at.Address
			}
		}
		t.Fatalf("%s is not on %s", c.Name, network)
		return netip.Addr{}
	}
	hostPort := func(host string, port int) string { return net.JoinHostPort(host, strconv.Itoa(port)) }

	type check struct {
		desc  string
		gw    cyberrange.GatewayInfo
		user  string
		token string
		dst   string
		want  error // nil: reached
	}
	var checks []check
	admin := false
	for _, port := range tx.Ports {
		admin = admin || port.Name == "admin"
		for _, dst := range []string{
			cyberrange.TargetName(svc, sc.Teams[x].Short), // by name
			on(tx, checkersNet.Name).String(),             // as the checkers reach it
			on(tx, replicaNetX.Network).String(),          // on its own network
		} {
			checks = append(checks, check{"own replica's " + port.Name + " at " + dst, gwX, gwX.Short, tokens[x], hostPort(dst, port.Number), nil})
		}
		for _, dst := range []string{on(ty, checkersNet.Name).String(), on(ty, ty.Networks[0].Network).String()} {
			checks = append(checks, check{"the other team's replica's " + port.Name + " at " + dst, gwX, gwX.Short, tokens[x],
				hostPort(dst, port.Number), socksReply(2)})
		}
		checks = append(checks,
			check{"the other team's replica's " + port.Name + " by name", gwX, gwX.Short, tokens[x],
				hostPort(cyberrange.TargetName(svc, sc.Teams[y].Short), port.Number), socksReply(2)},
			check{"own replica's " + port.Name + " on the attack team's network", gwX, gwX.Short, tokens[x],
				hostPort(on(tx, teamNet.Name).String(), port.Number), socksReply(2)},
		)
	}
	if !admin {
		t.Fatalf("the replica has no admin console port: %+v", tx.Ports)
	}
	gwA, _ := p.Gateway(a)
	var gwAC cyberrange.Container
	for _, c := range p.Containers {
		if c.Name == gwA.Container {
			gwAC = c
		}
	}
	checks = append(checks,
		check{"the attack team's gateway on its network", gwX, gwX.Short, tokens[x], hostPort(on(gwAC, teamNet.Name).String(), cyberrange.GatewayPort), socksReply(2)},
		check{"the host's end of the replica network", gwX, gwX.Short, tokens[x], hostPort(replicaHost.String(), 80), socksReply(2)},
	)
	for _, c := range p.Containers {
		if c.Kind == cyberrange.KindChecker {
			checks = append(checks, check{"checker " + c.Name, gwX, gwX.Short, tokens[x], hostPort(on(c, checkersNet.Name).String(), c.Ports[0].Number), socksReply(2)})
		}
	}
	own := hostPort(on(tx, replicaNetX.Network).String(), tx.Ports[0].Number)
	checks = append(checks,
		// Only the team's token opens the team's gateway.
		check{"an attack team's token", gwX, sc.Teams[a].Short, tokens[a], own, errSocksAuth},
		check{"an attack team's token with the team's name", gwX, gwX.Short, tokens[a], own, errSocksAuth},
		check{"the team's token on the other team's gateway", gwY, gwX.Short, tokens[x], own, errSocksAuth},
		check{"the team's token with the other team's name", gwY, gwY.Short, tokens[x], own, errSocksAuth},
		// Control: the other team gets in through its own.
		check{"the other team through its own", gwY, gwY.Short, tokens[y], hostPort(on(ty, ty.Networks[0].Network).String(), ty.Ports[0].Number), nil},
	)
	for _, c := range checks {
		conn, err := socks5Dial(t.Context(), c.gw.Address, c.user, c.token, c.dst)
		if err == nil {
			conn.Close()
		}
		if !errors.Is(err, c.want) {
			t.Errorf("%s (%s through %s as %s): %v, want %v", c.desc, c.dst, c.gw.Container, c.user, err, c.want)
		}
	}
}

// checkLogVolume makes the replica of team x log a failed login through
// the team's defence gateway, and finds the line in the copy of its log
// on its volume, which the target wrote as nobody; the other team's
// replica's copy does not have it.
func checkLogVolume(t *testing.T, d *Driver, p *cyberrange.Plan, sc *scenarios.Scenario, rep cyberrange.Report, tokens []string, x, y int) {
	gw := defenceGateway(t, p, rep, x)
	tx, ty := replicaOf(t, p, x), replicaOf(t, p, y)
	svc := tx.Labels[cyberrange.LabelService]
	path := cyberrange.TargetLogDir + "/" + svc + ".log"
	if !slices.Contains(tx.Command, path) || len(tx.Mounts) != 1 || tx.Mounts[0].Path != cyberrange.TargetLogDir {
		t.Fatalf("%s: command %q mounts %+v", tx.Name, tx.Command, tx.Mounts)
	}
	imap := -1
	for _, port := range tx.Ports {
		if port.Name == "imap" {
			imap = port.Number
		}
	}
	user := fmt.Sprintf("defence-probe-%d", time.Now().UnixNano())
	conn, err := socks5Dial(t.Context(), gw.Address, gw.Short, tokens[x], net.JoinHostPort(cyberrange.TargetName(svc, sc.Teams[x].Short), strconv.Itoa(imap)))
	if err != nil {
		t.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(conn)
	greeting, err := r.ReadString('\n')
	if err == nil {
		fmt.Fprintf(conn, "a1 LOGIN %s wrong\r\n", user)
		_, err = r.ReadString('\n')
	}
	conn.Close()
	if err != nil {
		t.Fatalf("IMAP through the defence gateway: %q %v", greeting, err)
	}
	cli, ok := d.e.(*client.Client)
	if !ok {
		t.Fatal("not the engine's client")
	}
	read := func(name string) (*tar.Header, string) {
		t.Helper()
		res, err := cli.CopyFromContainer(t.Context(), name, client.CopyFromContainerOptions{SourcePath: path})
		if err != nil {
			t.Fatalf("%s:%s: %v", name, path, err)
		}
		defer res.Content.Close()
		tr := tar.NewReader(res.Content)
		h, err := tr.Next()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		return h, string(b)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		h, text := read(tx.Name)
		if strings.Contains(text, user) {
			if h.Uid != 65534 || h.Mode&0o777 != 0o644 {
				t.Errorf("%s: owner %d mode %o", path, h.Uid, h.Mode)
			}
			for l := range strings.SplitSeq(strings.TrimSpace(text), "\n") {
				if !strings.HasPrefix(l, "{") || !strings.HasSuffix(l, "}") {
					t.Errorf("%s: not a JSON line: %q", path, l)
				}
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s of %s never logged the login of %s:\n%s", path, tx.Name, user, text)
		}
		time.Sleep(250 * time.Millisecond)
	}
	if _, text := read(ty.Name); strings.Contains(text, user) || !strings.Contains(text, `"action":"start"`) {
		t.Errorf("%s of %s:\n%s", path, ty.Name, text)
	}
}
