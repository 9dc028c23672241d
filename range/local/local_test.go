package local

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	cyberrange "github.com/cyrange/cyrange/range"
)

const exercise = "localtest"

func newDriver(t *testing.T, dir string, o Options) *Driver {
	t.Helper()
	o.StateDir = dir
	if o.PollInterval == 0 {
		o.PollInterval = 20 * time.Millisecond
	}
	d, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// cleanup removes whatever the test left, by label, as the orchestrator's
// down would.
func cleanup(t *testing.T, d *Driver) { cleanupOf(t, d, exercise) }

func cleanupOf(t *testing.T, d *Driver, exercise string) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		a, err := d.List(ctx, exercise)
		if err != nil {
			t.Error(err)
			return
		}
		for _, c := range a.Containers {
			if err := d.Remove(ctx, c.Name); err != nil {
				t.Error(err)
			}
		}
		for _, n := range a.Networks {
			if err := d.RemoveNetwork(ctx, n.Name); err != nil {
				t.Error(err)
			}
		}
	})
}

func labels(kind cyberrange.Kind) map[string]string {
	return map[string]string{cyberrange.LabelExercise: exercise, cyberrange.LabelKind: string(kind), cyberrange.LabelPlanHash: "h1"}
}

var replicaNet = cyberrange.Network{Name: "replica-d01", Subnet: netip.MustParsePrefix("127.61.1.0/24"), Team: 0, Labels: labels("network")}

// freeAddr returns a free port on host.
func freeAddr(t *testing.T, host string) netip.AddrPort {
	t.Helper()
	ln, err := net.Listen("tcp", host+":0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return netip.MustParseAddrPort(ln.Addr().String())
}

// fakeEnv is the environment of a fake role, with more variables as
// key, value pairs. A race-enabled binary sleeps a second before it exits
// unless told not to, which would slow every stop.
func fakeEnv(kv ...string) map[string]string {
	env := map[string]string{roleEnv: "1", "GORACE": "atexit_sleep_ms=0"}
	for i := 0; i+1 < len(kv); i += 2 {
		env[kv[i]] = kv[i+1]
	}
	return env
}

// fakeTarget is a container running the test binary's fake role.
func fakeTarget(t *testing.T, name string, extra ...string) (cyberrange.Container, netip.AddrPort) {
	t.Helper()
	addr := freeAddr(t, "127.61.1.10")
	return cyberrange.Container{
		Name:     name,
		Kind:     cyberrange.KindTarget,
		Command:  append([]string{"fake", "--listen", addr.String()}, extra...),
		Env:      fakeEnv("CYRANGE_TEST_SECRET", "s3cret"),
		Networks: []cyberrange.Attachment{{Network: replicaNet.Name, Address: addr.Addr()}},
		Ports:    []cyberrange.Port{{Name: "greet", Number: int(addr.Port())}},
		Labels:   labels(cyberrange.KindTarget),
		Team:     0,
		Service:  0,
	}, addr
}

// greet connects to a fake role and returns its greeting, retrying while
// it starts.
func greet(t *testing.T, addr string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.SetReadDeadline(time.Now().Add(30 * time.Second))
			line, err := bufio.NewReader(c).ReadString('\n')
			c.Close()
			if err == nil {
				return line
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never answered: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func status(t *testing.T, d *Driver, name string) (cyberrange.ContainerStatus, bool) {
	t.Helper()
	return statusIn(t, d, exercise, name)
}

func statusIn(t *testing.T, d *Driver, exercise, name string) (cyberrange.ContainerStatus, bool) {
	t.Helper()
	a, err := d.List(context.Background(), exercise)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range a.Containers {
		if c.Name == name {
			return c, true
		}
	}
	return cyberrange.ContainerStatus{}, false
}

func readState(t *testing.T, d *Driver, name string) *containerRecord {
	t.Helper()
	r, err := d.readContainer(name)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func setup(t *testing.T, o Options) *Driver {
	t.Helper()
	d := newDriver(t, t.TempDir(), o)
	cleanup(t, d)
	if err := d.EnsureNetwork(context.Background(), replicaNet); err != nil {
		t.Fatal(err)
	}
	return d
}

func TestNewValidates(t *testing.T) {
	if _, err := New(Options{}); !errors.Is(err, cyberrange.ErrInvalid) {
		t.Errorf("no state dir: %v", err)
	}
	if _, err := New(Options{StateDir: t.TempDir(), Binary: t.TempDir()}); err == nil {
		t.Error("a directory accepted as the binary")
	}
	if _, err := New(Options{StateDir: t.TempDir(), Binary: filepath.Join(t.TempDir(), "missing")}); err == nil {
		t.Error("a missing binary accepted")
	}
	d, err := New(Options{StateDir: filepath.Join(t.TempDir(), "a", "b")})
	if err != nil {
		t.Fatal(err)
	}
	if exe, _ := os.Executable(); d.o.Binary != exe || d.Name() != "local" {
		t.Errorf("binary %s, name %s", d.o.Binary, d.Name())
	}
}

func TestNetworks(t *testing.T) {
	ctx := context.Background()
	d := newDriver(t, t.TempDir(), Options{})
	team := cyberrange.Network{Name: "team-a07", Subnet: netip.MustParsePrefix("127.60.7.0/24"), Team: 6, Labels: labels("network")}
	for range 2 {
		if err := d.EnsureNetwork(ctx, team); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		desc string
		n    cyberrange.Network
	}{
		{"not loopback", cyberrange.Network{Name: "n1", Subnet: netip.MustParsePrefix("10.60.7.0/24"), Labels: labels("network")}},
		{"wider than loopback", cyberrange.Network{Name: "n2", Subnet: netip.MustParsePrefix("0.0.0.0/0"), Labels: labels("network")}},
		{"ipv6", cyberrange.Network{Name: "n3", Subnet: netip.MustParsePrefix("::1/128"), Labels: labels("network")}},
		{"no exercise label", cyberrange.Network{Name: "n4", Subnet: netip.MustParsePrefix("127.60.8.0/24")}},
		{"bad name", cyberrange.Network{Name: "../n5", Subnet: netip.MustParsePrefix("127.60.8.0/24"), Labels: labels("network")}},
		{"same name, other subnet", cyberrange.Network{Name: "team-a07", Subnet: netip.MustParsePrefix("127.60.8.0/24"), Labels: labels("network")}},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			if err := d.EnsureNetwork(ctx, tc.n); !errors.Is(err, cyberrange.ErrInvalid) {
				t.Fatalf("err %v, want ErrInvalid", err)
			}
		})
	}
	other := cyberrange.Network{Name: "other", Subnet: netip.MustParsePrefix("127.60.9.0/24"),
		Labels: map[string]string{cyberrange.LabelExercise: "another-exercise"}}
	if err := d.EnsureNetwork(ctx, other); err != nil {
		t.Fatal(err)
	}
	a, err := d.List(ctx, exercise)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Networks) != 1 || a.Networks[0].Name != "team-a07" || a.Networks[0].Subnet != team.Subnet || a.Networks[0].Labels[cyberrange.LabelPlanHash] != "h1" {
		t.Fatalf("list %+v", a.Networks)
	}
	for range 2 {
		if err := d.RemoveNetwork(ctx, "team-a07"); err != nil {
			t.Fatal(err)
		}
	}
	if a, _ := d.List(ctx, exercise); len(a.Networks) != 0 {
		t.Errorf("left %+v", a.Networks)
	}
	if a, _ := d.List(ctx, "another-exercise"); len(a.Networks) != 1 {
		t.Errorf("another exercise's network touched: %+v", a.Networks)
	}
	d.RemoveNetwork(ctx, "other")
}

func TestStartListRemove(t *testing.T) {
	ctx := context.Background()
	d := setup(t, Options{})
	c, addr := fakeTarget(t, "cyrange-localtest-d01-mail")
	before := time.Now()
	if err := d.Start(ctx, c); err != nil {
		t.Fatal(err)
	}
	if got := greet(t, addr.String()); !strings.HasPrefix(got, "hello from "+addr.String()) {
		t.Fatalf("greeting %q", got)
	}
	st, ok := status(t, d, c.Name)
	if !ok || st.State != cyberrange.StateRunning || st.Kind != cyberrange.KindTarget || st.Labels[cyberrange.LabelPlanHash] != "h1" ||
		st.Started.Before(before) || st.Restarts != 0 {
		t.Fatalf("status %+v", st)
	}
	pid := readState(t, d, c.Name).Process.Pid
	if pgid, err := syscallGetpgid(pid); err != nil || pgid != pid {
		t.Errorf("process group %d (%v), want its own (%d)", pgid, err, pid)
	}
	// Idempotent: a second Start adopts the running process.
	if err := d.Start(ctx, c); err != nil {
		t.Fatal(err)
	}
	if again := readState(t, d, c.Name).Process.Pid; again != pid {
		t.Errorf("second start replaced pid %d with %d", pid, again)
	}
	if err := d.Remove(ctx, c.Name); err != nil {
		t.Fatal(err)
	}
	if processExists(pid) {
		t.Errorf("pid %d still runs after Remove", pid)
	}
	if _, ok := status(t, d, c.Name); ok {
		t.Error("still listed after Remove")
	}
	if _, err := os.Stat(d.containerDir(c.Name)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state left: %v", err)
	}
	if err := d.Remove(ctx, c.Name); err != nil {
		t.Errorf("removing twice: %v", err)
	}
}

func TestEnvironmentIsExactlyTheContainers(t *testing.T) {
	ctx := context.Background()
	t.Setenv("CYRANGE_ORGANIZER_SECRET", "must-not-leak")
	d := setup(t, Options{})
	c, addr := fakeTarget(t, "envcheck")
	if err := d.Start(ctx, c); err != nil {
		t.Fatal(err)
	}
	greet(t, addr.String())
	logs, err := d.Logs(ctx, c.Name, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	defer logs.Close()
	line, err := bufio.NewReader(logs).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	if want := "env: CYRANGE_LOCAL_TEST_ROLE=1 CYRANGE_TEST_SECRET=s3cret GORACE=atexit_sleep_ms=0\n"; line != want {
		t.Errorf("the process got %q, want %q", line, want)
	}
	info, err := os.Stat(filepath.Join(d.containerDir(c.Name), "state.json"))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("state file holding secrets: %v %v", info.Mode(), err)
	}
}

func TestStartRejects(t *testing.T) {
	ctx := context.Background()
	d := setup(t, Options{})
	good, _ := fakeTarget(t, "good")
	for _, tc := range []struct {
		desc   string
		change func(c *cyberrange.Container)
		want   error
	}{
		{"no command", func(c *cyberrange.Container) { c.Command = nil }, cyberrange.ErrInvalid},
		{"no exercise label", func(c *cyberrange.Container) { c.Labels = nil }, cyberrange.ErrInvalid},
		{"bad name", func(c *cyberrange.Container) { c.Name = "a/b" }, cyberrange.ErrInvalid},
		{"missing network", func(c *cyberrange.Container) { c.Networks[0].Network = "nope" }, cyberrange.ErrNotFound},
		{"address outside its network", func(c *cyberrange.Container) { c.Networks[0].Address = netip.MustParseAddr("127.62.0.2") }, cyberrange.ErrInvalid},
		{"port 0 not in the command", func(c *cyberrange.Container) {
			c.Ports = []cyberrange.Port{{Name: "socks", Publish: "127.0.0.1:0"}}
		}, cyberrange.ErrInvalid},
		{"bad publish", func(c *cyberrange.Container) { c.Ports = []cyberrange.Port{{Name: "socks", Publish: "localhost:0"}} }, cyberrange.ErrInvalid},
		{"bad env", func(c *cyberrange.Container) { c.Env = map[string]string{"A=B": "c"} }, cyberrange.ErrInvalid},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			c := good
			c.Networks = append([]cyberrange.Attachment(nil), good.Networks...)
			tc.change(&c)
			if err := d.Start(ctx, c); !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
			if _, ok := status(t, d, c.Name); ok {
				t.Error("listed after a failed start")
			}
		})
	}
}

func TestAdoptAfterRestart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	d1 := newDriver(t, dir, Options{})
	cleanup(t, d1)
	if err := d1.EnsureNetwork(ctx, replicaNet); err != nil {
		t.Fatal(err)
	}
	c, addr := fakeTarget(t, "adopted")
	if err := d1.Start(ctx, c); err != nil {
		t.Fatal(err)
	}
	greet(t, addr.String())
	pid := readState(t, d1, c.Name).Process.Pid

	// A new driver on the same directory stands for a restarted
	// orchestrator: it finds the process and leaves it alone.
	d2 := newDriver(t, dir, Options{})
	st, ok := status(t, d2, c.Name)
	if !ok || st.State != cyberrange.StateRunning {
		t.Fatalf("status %+v", st)
	}
	if err := d2.Start(ctx, c); err != nil {
		t.Fatal(err)
	}
	if readState(t, d2, c.Name).Process.Pid != pid {
		t.Error("adoption replaced the process")
	}
	if err := d2.Remove(ctx, c.Name); err != nil {
		t.Fatal(err)
	}
	if processExists(pid) {
		t.Errorf("pid %d survives", pid)
	}
}

func TestKillThenStartAgain(t *testing.T) {
	ctx := context.Background()
	d := setup(t, Options{})
	c, addr := fakeTarget(t, "crashy")
	if err := d.Start(ctx, c); err != nil {
		t.Fatal(err)
	}
	greet(t, addr.String())
	first := readState(t, d, c.Name).Process
	if err := d.Kill(ctx, c.Name); err != nil {
		t.Fatal(err)
	}
	st := waitExitCode(t, d, c.Name)
	if st.State != cyberrange.StateExited || st.ExitCode != 137 {
		t.Fatalf("after kill: %+v", st)
	}
	if err := d.Start(ctx, c); err != nil {
		t.Fatal(err)
	}
	greet(t, addr.String())
	st, _ = status(t, d, c.Name)
	if st.State != cyberrange.StateRunning || st.Restarts != 1 || readState(t, d, c.Name).Process == first {
		t.Fatalf("after restart: %+v", st)
	}
	if err := d.Kill(ctx, "nope"); !errors.Is(err, cyberrange.ErrNotFound) {
		t.Errorf("kill of a missing container: %v", err)
	}
}

func TestExitCodeOfAProcessThatEnds(t *testing.T) {
	ctx := context.Background()
	d := setup(t, Options{})
	c, _ := fakeTarget(t, "short-lived", "--exit-after", "100ms")
	if err := d.Start(ctx, c); err != nil {
		t.Fatal(err)
	}
	if st := waitExitCode(t, d, c.Name); st.State != cyberrange.StateExited || st.ExitCode != 3 {
		t.Fatalf("status %+v", st)
	}
}

// waitExitCode waits until the container has exited and its exit code is
// recorded.
func waitExitCode(t *testing.T, d *Driver, name string) cyberrange.ContainerStatus {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, ok := status(t, d, name)
		if ok && st.State == cyberrange.StateExited && st.ExitCode != -1 {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %+v", name, st)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestRecycledPidIsNotTrusted(t *testing.T) {
	ctx := context.Background()
	d := setup(t, Options{})
	c, _ := fakeTarget(t, "recycled")
	// A record naming this very test process, with another start time: a
	// pid the kernel gave to somebody else since.
	own, err := readStat(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	ticks := own.StartTicks
	dir := d.containerDir(c.Name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	rec := containerRecord{Version: stateVersion, Container: c, Process: identity{Pid: os.Getpid(), StartTicks: ticks + 1}}
	if err := writeJSON(filepath.Join(dir, "state.json"), rec); err != nil {
		t.Fatal(err)
	}
	if st, _ := status(t, d, c.Name); st.State != cyberrange.StateExited {
		t.Fatalf("a stranger's pid taken for the container: %+v", st)
	}
	// Kill and Remove must not signal this process (the test would die).
	if err := d.Kill(ctx, c.Name); err != nil {
		t.Fatal(err)
	}
	if err := d.Remove(ctx, c.Name); err != nil {
		t.Fatal(err)
	}
}

func TestRemoveEscalatesToSIGKILL(t *testing.T) {
	ctx := context.Background()
	d := setup(t, Options{StopGrace: 200 * time.Millisecond})
	c, addr := fakeTarget(t, "stubborn", "--ignore-term")
	if err := d.Start(ctx, c); err != nil {
		t.Fatal(err)
	}
	greet(t, addr.String())
	pid := readState(t, d, c.Name).Process.Pid
	start := time.Now()
	if err := d.Remove(ctx, c.Name); err != nil {
		t.Fatal(err)
	}
	if processExists(pid) {
		t.Fatal("survived Remove")
	}
	if e := time.Since(start); e < 200*time.Millisecond {
		t.Errorf("removed after %v: SIGTERM was not ignored?", e)
	}
}

func TestPublishedPortZero(t *testing.T) {
	ctx := context.Background()
	d := setup(t, Options{})
	team := cyberrange.Network{Name: "team-a07", Subnet: netip.MustParsePrefix("127.60.7.0/24"), Team: 6, Labels: labels("network")}
	if err := d.EnsureNetwork(ctx, team); err != nil {
		t.Fatal(err)
	}
	c := cyberrange.Container{
		Name:     "gw",
		Kind:     cyberrange.KindGateway,
		Command:  []string{"fake", "--listen", "127.0.0.1:0"},
		Env:      fakeEnv(),
		Networks: []cyberrange.Attachment{{Network: team.Name, Address: netip.MustParseAddr("127.60.7.2")}},
		Ports:    []cyberrange.Port{{Name: "socks", Number: 0, Publish: "127.0.0.1:0"}},
		Labels:   labels(cyberrange.KindGateway),
		Team:     6,
		Service:  -1,
	}
	if err := d.Start(ctx, c); err != nil {
		t.Fatal(err)
	}
	st, _ := status(t, d, c.Name)
	pub := st.Ports["socks"]
	ap, err := netip.ParseAddrPort(pub)
	if err != nil || ap.Port() == 0 || ap.Addr() != netip.MustParseAddr("127.0.0.1") {
		t.Fatalf("published %q (%v)", pub, err)
	}
	if got := greet(t, pub); !strings.HasPrefix(got, "hello from "+pub) {
		t.Fatalf("greeting %q", got)
	}
	// A restart keeps the port its team was told.
	if err := d.Kill(ctx, c.Name); err != nil {
		t.Fatal(err)
	}
	if err := d.Start(ctx, c); err != nil {
		t.Fatal(err)
	}
	if st, _ := status(t, d, c.Name); st.Ports["socks"] != pub {
		t.Errorf("restarted on %q, was %q", st.Ports["socks"], pub)
	}
	greet(t, pub)
	if err := d.RemoveNetwork(ctx, team.Name); err == nil {
		t.Error("removed a network a running container is attached to")
	}
}

func TestLogsFollow(t *testing.T) {
	ctx := context.Background()
	d := setup(t, Options{})
	c, addr := fakeTarget(t, "chatty")
	if err := d.Start(ctx, c); err != nil {
		t.Fatal(err)
	}
	greet(t, addr.String())
	all, err := d.Logs(ctx, c.Name, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	defer all.Close()
	fromNow, err := d.Logs(ctx, c.Name, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	defer fromNow.Close()

	lines := bufio.NewScanner(all)
	for _, want := range []string{"env: ", "listening on " + addr.String(), "served 127.0.0.1:"} {
		if !lines.Scan() || !strings.HasPrefix(lines.Text(), want) {
			t.Fatalf("line %q, want %q... (%v)", lines.Text(), want, lines.Err())
		}
	}
	// New output reaches both readers while they wait.
	greet(t, addr.String())
	if !lines.Scan() || !strings.HasPrefix(lines.Text(), "served ") {
		t.Fatalf("followed %q", lines.Text())
	}
	now := bufio.NewScanner(fromNow)
	if !now.Scan() || !strings.HasPrefix(now.Text(), "served ") {
		t.Fatalf("from now: %q", now.Text())
	}
	// The end of the process ends the stream after its last words.
	if err := d.Remove(ctx, c.Name); err != nil {
		t.Fatal(err)
	}
	rest, err := io.ReadAll(fromNow)
	if err != nil || string(rest) != "terminated\n" {
		t.Errorf("after stop: %q, %v", rest, err)
	}
	if _, err := d.Logs(ctx, "nope", time.Time{}); !errors.Is(err, cyberrange.ErrNotFound) {
		t.Errorf("logs of a missing container: %v", err)
	}
}

func TestLogsEndWithContextAndClose(t *testing.T) {
	d := setup(t, Options{})
	c, addr := fakeTarget(t, "quiet")
	if err := d.Start(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	greet(t, addr.String())
	ctx, cancel := context.WithCancel(context.Background())
	r1, err := d.Logs(ctx, c.Name, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	r2, err := d.Logs(context.Background(), c.Name, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 2)
	go func() { _, err := io.ReadAll(r1); done <- err }()
	go func() { _, err := io.ReadAll(r2); done <- err }()
	cancel()
	r2.Close()
	for range 2 {
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("read: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("a follower did not end")
		}
	}
	r1.Close()
}

func TestEvents(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d := setup(t, Options{})
	events, err := d.Events(ctx, exercise)
	if err != nil {
		t.Fatal(err)
	}
	c, addr := fakeTarget(t, "watched")
	if err := d.Start(ctx, c); err != nil {
		t.Fatal(err)
	}
	greet(t, addr.String())
	next := func(want string) cyberrange.RangeEvent {
		t.Helper()
		select {
		case ev := <-events:
			if ev.Action != want || ev.Container != c.Name || ev.Kind != cyberrange.KindTarget {
				t.Fatalf("event %+v, want %s of %s", ev, want, c.Name)
			}
			return ev
		case <-time.After(30 * time.Second):
			t.Fatalf("no %s event", want)
			return cyberrange.RangeEvent{}
		}
	}
	next(cyberrange.EventStart)
	if err := d.Kill(ctx, c.Name); err != nil {
		t.Fatal(err)
	}
	if ev := next(cyberrange.EventDie); ev.ExitCode != 137 && ev.ExitCode != -1 {
		t.Errorf("die with exit code %d", ev.ExitCode)
	}
	if err := d.Start(ctx, c); err != nil {
		t.Fatal(err)
	}
	next(cyberrange.EventStart)
	if err := d.Remove(ctx, c.Name); err != nil {
		t.Fatal(err)
	}
	next(cyberrange.EventDie)
	next(cyberrange.EventRemove)
	cancel()
	for range events {
	}
}

func TestDiff(t *testing.T) {
	now := time.Unix(1000, 0)
	p1, p2 := identity{Pid: 1, StartTicks: 1}, identity{Pid: 2, StartTicks: 2}
	exit := &exitRecord{Process: p1, Code: 3, At: time.Unix(999, 0)}
	for _, tc := range []struct {
		desc      string
		prev, cur map[string]seen
		want      []string
	}{
		{"nothing", map[string]seen{"a": {process: p1, running: true}}, map[string]seen{"a": {process: p1, running: true}}, nil},
		{"new", nil, map[string]seen{"a": {process: p1, running: true}}, []string{"start a"}},
		{"new but dead", nil, map[string]seen{"a": {process: p1}}, nil},
		{"died", map[string]seen{"a": {process: p1, running: true}}, map[string]seen{"a": {process: p1, exit: exit}}, []string{"die a 3"}},
		{"died, no code yet", map[string]seen{"a": {process: p1, running: true}}, map[string]seen{"a": {process: p1}}, []string{"die a -1"}},
		{"restarted between looks", map[string]seen{"a": {process: p1, running: true}}, map[string]seen{"a": {process: p2, running: true}}, []string{"die a -1", "start a"}},
		{"started again", map[string]seen{"a": {process: p1}}, map[string]seen{"a": {process: p2, running: true}}, []string{"start a"}},
		{"removed running", map[string]seen{"a": {process: p1, running: true}}, nil, []string{"die a -1", "remove a"}},
		{"removed dead", map[string]seen{"a": {process: p1}}, nil, []string{"remove a"}},
		{"sorted", nil, map[string]seen{"b": {process: p1, running: true}, "a": {process: p2, running: true}}, []string{"start a", "start b"}},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			var got []string
			for _, ev := range diff(tc.prev, tc.cur, now) {
				s := ev.Action + " " + ev.Container
				if ev.Action == cyberrange.EventDie {
					s += fmt.Sprintf(" %d", ev.ExitCode)
				}
				got = append(got, s)
			}
			if strings.Join(got, ";") != strings.Join(tc.want, ";") {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestParseStat(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    procStat
		wantErr bool
	}{
		{in: "1234 (cyrange) S 1 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 8 0 987654 0 0", want: procStat{'S', 8, 987654}},
		{in: "1234 (a) b) (c) Z 1 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 42\n", want: procStat{'Z', 1, 42}},
		{in: "1234 (x) S 1 2 3", wantErr: true},
		{in: "no parens at all", wantErr: true},
		{in: "1 (x) SS 1 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 8 0 42", wantErr: true},
		{in: "1 (x) S 1 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 8 0 -42", wantErr: true},
		{in: "1 (x) S 1 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 many 0 42", wantErr: true},
	} {
		got, err := parseStat([]byte(tc.in))
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("%q: %+v %v", tc.in, got, err)
		}
	}
	// And the real thing.
	if st, err := readStat(os.Getpid()); err != nil || st.State != 'R' && st.State != 'S' || st.StartTicks == 0 || st.Threads < 1 {
		t.Errorf("own stat: %+v %v", st, err)
	}
}

func processExists(pid int) bool {
	st, err := readStat(pid)
	return err == nil && (st.State != 'Z' && st.State != 'X' || st.Threads > 1)
}

func syscallGetpgid(pid int) (int, error) { return syscall.Getpgid(pid) }

func FuzzParseStat(f *testing.F) {
	f.Add([]byte("1234 (cyrange) S 1 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 8 0 987654 0 0"))
	f.Add([]byte("1 ()) R 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 1"))
	f.Fuzz(func(t *testing.T, b []byte) {
		// Whatever the kernel (or a corrupted file) says, no panic, and a
		// state is one visible character.
		st, err := parseStat(b)
		if err == nil && (st.State <= ' ' || st.State == ')' || st.Threads < 0) {
			t.Fatalf("%q: %+v", b, st)
		}
	})
}
