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

// TestWaitReady: a target counts as serving once every port listens at
// its address.
func TestWaitReady(t *testing.T) {
	ln, err := net.Listen("tcp", "127.73.0.10:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	c := cyberrange.Container{Name: "cyrange-x-mail-d01", Kind: cyberrange.KindTarget,
		Networks: []cyberrange.Attachment{{Network: "x", Address: netip.MustParseAddr("127.73.0.10")}},
		Ports:    []cyberrange.Port{{Name: "smtp", Number: port}}}
	d := &Driver{}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := d.WaitReady(ctx, c); err != nil {
		t.Fatalf("listening, yet: %v", err)
	}
	c.Ports = append(c.Ports, cyberrange.Port{Name: "imap", Number: port + 1})
	ctx, cancel = context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := d.WaitReady(ctx, c); err == nil || !strings.Contains(err.Error(), "(imap)") {
		t.Fatalf("imap never listens, yet: %v", err)
	}
}
