package local

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	cyberrange "github.com/cyrange/cyrange/range"
)

// TestWaitReady: a container counts as serving once its own process
// listens on every port; a port it never opens is named when the wait
// ends.
func TestWaitReady(t *testing.T) {
	d := setup(t, Options{})
	ctx := context.Background()
	c, _ := fakeTarget(t, "ready")
	if err := d.Start(ctx, c); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := d.WaitReady(wctx, c); err != nil {
		t.Fatalf("listening, yet: %v", err)
	}
	c.Ports = append(c.Ports, cyberrange.Port{Name: "imap", Number: int(freeAddr(t, c.Networks[0].Address.String()).Port())})
	// The wait for a port that never opens ends with its context, which
	// is why this one is short; the answer names the port whatever the
	// machine's load, since the first port is known to listen already.
	wctx, cancel = context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if err := d.WaitReady(wctx, c); err == nil || !strings.Contains(err.Error(), "(imap)") {
		t.Fatalf("imap never listens, yet: %v", err)
	}
}

// TestWaitReadyRefusesAForeignListener: a process that is not the
// container's, listening where the container should, is never taken for
// it (a range left behind would otherwise answer the exercise's checks).
func TestWaitReadyRefusesAForeignListener(t *testing.T) {
	d := setup(t, Options{})
	ctx := context.Background()
	c, addr := fakeTarget(t, "squatted")
	ln, err := net.Listen("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if err := d.Start(ctx, c); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	err = d.WaitReady(wctx, c)
	if err == nil || !(strings.Contains(err.Error(), "another process listens") || strings.Contains(err.Error(), "exited before it listened")) {
		t.Fatalf("a foreign listener was taken for the container: %v", err)
	}
}

// TestWaitReadyEndsWhenTheProcessDies: a process that exits while
// starting ends the wait at once, with its last words.
func TestWaitReadyEndsWhenTheProcessDies(t *testing.T) {
	d := setup(t, Options{})
	ctx := context.Background()
	c, _ := fakeTarget(t, "dies")
	c.Command = []string{"fake", "--listen", "not-an-address"}
	if err := d.Start(ctx, c); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	err := d.WaitReady(wctx, c)
	if err == nil || !strings.Contains(err.Error(), "exited before it listened") || !strings.Contains(err.Error(), "listen:") {
		t.Fatalf("err = %v", err)
	}
}

func TestParseProcAddr(t *testing.T) {
	for in, want := range map[string]string{
		"0100007F:1F90":                         "127.0.0.1:8080",
		"0A013D7F:2739":                         "127.61.1.10:10041",
		"00000000:0050":                         "0.0.0.0:80",
		"00000000000000000000000000000000:0016": "[::]:22",
		"0000000000000000FFFF00000100007F:0019": "[::ffff:127.0.0.1]:25",
	} {
		got, ok := parseProcAddr(in)
		if !ok || got != netip.MustParseAddrPort(want) {
			t.Errorf("%s: %v %v, want %s", in, got, ok, want)
		}
	}
	for _, bad := range []string{"", "zz:1", "0100007F", "0100007F:zz", "01007F:0001"} {
		if _, ok := parseProcAddr(bad); ok {
			t.Errorf("%q parsed", bad)
		}
	}
}

// TestWaitReadyGatewayOnItsPublishedPort: a gateway listens where it is
// published, not on its team address; a stranger holding that port (a
// gateway of another range) is refused, not taken for it.
func TestWaitReadyGatewayOnItsPublishedPort(t *testing.T) {
	d := setup(t, Options{})
	ctx := context.Background()
	pub := freeAddr(t, "127.0.0.1")
	gw := func(name string) cyberrange.Container {
		c, _ := fakeTarget(t, name)
		c.Kind = cyberrange.KindGateway
		c.Command = []string{"fake", "--listen", pub.String()}
		c.Ports = []cyberrange.Port{{Name: "socks", Number: int(pub.Port()), Publish: pub.String()}}
		return c
	}
	c := gw("gateway-ready")
	if err := d.Start(ctx, c); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := d.WaitReady(wctx, c); err != nil {
		t.Fatalf("listening on its published port, yet: %v", err)
	}
	if err := d.Remove(ctx, c.Name); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", pub.String())
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c = gw("gateway-squatted")
	if err := d.Start(ctx, c); err != nil {
		t.Fatal(err)
	}
	err = d.WaitReady(wctx, c)
	if err == nil || !(strings.Contains(err.Error(), "another process listens") || strings.Contains(err.Error(), "exited before it listened")) {
		t.Fatalf("a stranger on the gateway's port was taken for it: %v", err)
	}
}
