package local

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cyberrange "github.com/cyrange/cyrange/range"
	"github.com/cyrange/cyrange/range/gateway"
	"golang.org/x/net/proxy"
)

// buildCyrange builds the cyrange binary into a temporary directory.
func buildCyrange(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the cyrange binary")
	}
	bin := filepath.Join(t.TempDir(), "cyrange")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/cyrange/cyrange/cmd/cyrange").CombinedOutput()
	if err != nil {
		t.Fatalf("go build cmd/cyrange: %v\n%s", err, out)
	}
	return bin
}

// TestAttributionThroughRealGateway runs team 7's gateway from the local
// plan of the 17-team scenario with the real cyrange binary, and proves
// that a connection through it reaches the target from team 7's range
// and is recorded as telemetry in the gateway's output.
func TestAttributionThroughRealGateway(t *testing.T) {
	bin := buildCyrange(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p, sc := localPlan(t, "tiengiang-2023")
	const team = 6 // team 7, 0-based
	gi, ok := p.Gateway(team)
	if !ok {
		t.Fatal("no gateway for team 7")
	}
	gw, _ := p.Container(gi.Container)
	var teamNet cyberrange.Network
	for _, n := range p.Networks {
		if n.Team == team && n.Labels[cyberrange.LabelNetwork] == cyberrange.NetTeam {
			teamNet = n
		}
	}
	if teamNet.Subnet != netip.MustParsePrefix("127.60.7.0/24") {
		t.Fatalf("team 7's network is %v", teamNet.Subnet)
	}
	owner := sc.Teams[len(sc.Teams)-1]
	ownerIdx := len(sc.Teams) - 1
	if !owner.Role.CanDefend() {
		t.Fatalf("last team %s does not defend", owner.Name)
	}
	ask, ports, ok := p.TargetFor(team, ownerIdx, 0)
	if !ok {
		t.Fatal("no target for team 7")
	}
	var httpPort, adminPort int
	for _, port := range p.ReplicaPorts(ownerIdx, 0) {
		switch port.Name {
		case "http":
			httpPort = port.Number
		case cyberrange.PortAdmin:
			adminPort = port.Number
		}
	}
	if httpPort == 0 || adminPort == 0 || len(ports) == 0 {
		t.Fatalf("ports %+v", p.ReplicaPorts(ownerIdx, 0))
	}
	// The target: a web server on the replica's address that says whom
	// it sees.
	ln, err := net.Listen("tcp", netip.AddrPortFrom(ask, uint16(httpPort)).String())
	if err != nil {
		t.Fatalf("the target's address is taken (another range running?): %v", err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "seen %s\n", r.RemoteAddr)
	})}
	go srv.Serve(ln)
	defer srv.Close()

	d := newDriver(t, t.TempDir(), Options{Binary: bin})
	cleanupOf(t, d, p.Exercise)
	if err := d.EnsureNetwork(ctx, teamNet); err != nil {
		t.Fatal(err)
	}
	if err := d.Start(ctx, gw); err != nil {
		t.Fatal(err)
	}
	st, _ := statusIn(t, d, p.Exercise, gw.Name)
	socks := st.Ports[cyberrange.PortSocks]
	if st.State != cyberrange.StateRunning || socks == "" || strings.HasSuffix(socks, ":0") {
		t.Fatalf("gateway status %+v", st)
	}
	user, token := sc.Teams[team].Short, gw.Env[cyberrange.EnvGatewayToken]
	host := hostFor(t, gw.Command, ask)
	url := fmt.Sprintf("http://%s:%d/", host, httpPort)

	body := fetchThrough(t, socks, user, token, url)
	if !strings.HasPrefix(body, "seen 127.60.7.2:") {
		t.Fatalf("the target saw %q, want a connection from team 7's gateway address 127.60.7.2", body)
	}
	// The admin console is not for attackers.
	if _, err := fetchErr(socks, user, token, fmt.Sprintf("http://%s:%d/", host, adminPort)); err == nil {
		t.Error("team 7 reached the admin console")
	}

	logs, err := d.Logs(ctx, gw.Name, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	defer logs.Close()
	// One record per connection or refusal: a connection's open, interim
	// and close records added up, heartbeats left out.
	var got []gateway.Conn
	sums := map[uint64][2]int64{}
	sc2 := bufio.NewScanner(logs)
	for len(got) < 2 && sc2.Scan() {
		c, ok, err := gateway.ParseTelemetry(sc2.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case !ok || c.State == "heartbeat":
		case c.State == "open" || c.State == "interim":
			s := sums[c.ID]
			sums[c.ID] = [2]int64{s[0] + c.BytesUp, s[1] + c.BytesDown}
		default:
			s := sums[c.ID]
			c.BytesUp, c.BytesDown = c.BytesUp+s[0], c.BytesDown+s[1]
			got = append(got, c)
		}
	}
	if len(got) < 2 {
		t.Fatalf("telemetry %+v (%v)", got, sc2.Err())
	}
	ok1 := got[0].Team == sc.Teams[team].Name && got[0].Host == host && got[0].Target == ask && int(got[0].Port) == httpPort &&
		got[0].BytesUp > 0 && got[0].BytesDown > int64(len(body)) && !got[0].Refused
	ok2 := got[1].Refused && int(got[1].Port) == adminPort
	if !ok1 || !ok2 {
		t.Errorf("telemetry:\n%+v\n%+v", got[0], got[1])
	}
	if err := d.Remove(ctx, gw.Name); err != nil {
		t.Fatal(err)
	}
}

// hostFor is a name the gateway resolves to addr (--resolve), so that the
// test goes through name resolution like curl --socks5-hostname.
func hostFor(t *testing.T, cmd []string, addr netip.Addr) string {
	t.Helper()
	c, err := gateway.ParseCommand(cmd[1:], io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	for n, a := range c.Resolve {
		if a == addr {
			return n
		}
	}
	t.Fatalf("the gateway resolves no name to %v: %v", addr, c.Resolve)
	return ""
}

// fetchThrough gets url through the SOCKS5 gateway with curl
// --socks5-hostname, or Go's client when curl is missing (which CI does
// not allow).
func fetchThrough(t *testing.T, socks, user, token, url string) string {
	t.Helper()
	var body string
	var err error
	deadline := time.Now().Add(10 * time.Second)
	for {
		if body, err = fetchErr(socks, user, token, url); err == nil {
			return body
		}
		if time.Now().After(deadline) {
			t.Fatalf("through %s: %v", socks, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func fetchErr(socks, user, token, url string) (string, error) {
	if curl, err := exec.LookPath("curl"); err == nil {
		var out, errb bytes.Buffer
		cmd := exec.Command(curl, "-sS", "--max-time", "5", "--socks5-hostname", socks, "--proxy-user", user+":"+token, url)
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			return "", fmt.Errorf("curl: %v: %s", err, errb.String())
		}
		return out.String(), nil
	}
	if os.Getenv("CYRANGE_REQUIRE_DOCKER") == "1" {
		return "", fmt.Errorf("curl not installed but CYRANGE_REQUIRE_DOCKER=1")
	}
	d, err := proxy.SOCKS5("tcp", socks, &proxy.Auth{User: user, Password: token}, proxy.Direct)
	if err != nil {
		return "", err
	}
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return d.(proxy.ContextDialer).DialContext(ctx, network, addr)
		}}}
	resp, err := client.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}
