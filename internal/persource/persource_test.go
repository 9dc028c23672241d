package persource

import (
	"io"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestOf(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"192.0.2.7:4000", "192.0.2.7/32"},
		{"192.0.2.7", "192.0.2.7/32"},
		{"[::ffff:192.0.2.7]:80", "192.0.2.7/32"},
		{"[2001:db8:1:2:3:4:5:6]:443", "2001:db8:1:2::/64"},
		{"[2001:db8:1:2:ffff::1]:443", "2001:db8:1:2::/64"},
		{"[fe80::1%eth0]:22", "fe80::/64"},
		{"2001:db8::9", "2001:db8::/64"},
	} {
		if got := Of(tc.in); got.String() != tc.want {
			t.Errorf("Of(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
	for _, bad := range []string{"", "pipe", "[::1", "example.org:80"} {
		if got := Of(bad); got.IsValid() {
			t.Errorf("Of(%q) = %s, want the invalid prefix", bad, got)
		}
	}
}

func TestCounter(t *testing.T) {
	c := NewCounter(2)
	a, b := Of("192.0.2.1"), Of("192.0.2.2")
	for i := 0; i < 2; i++ {
		if !c.Acquire(a) {
			t.Fatalf("a source could not take its place %d of 2", i+1)
		}
	}
	if c.Acquire(a) {
		t.Fatal("a source took a third")
	}
	if !c.Acquire(b) {
		t.Fatal("another source was refused")
	}
	c.Release(a)
	if !c.Acquire(a) {
		t.Fatal("a released place was not given back")
	}
	c.Release(a)
	c.Release(a)
	c.Release(a) // one too many: ignored
	c.Release(b)
	if c.Held(a) != 0 || c.Sources() != 0 {
		t.Fatalf("held %d by %d sources after releasing all", c.Held(a), c.Sources())
	}
	unbounded := NewCounter(0)
	for i := 0; i < 1000; i++ {
		if !unbounded.Acquire(a) {
			t.Fatal("an unbounded counter refused")
		}
	}
}

// TestListen holds a source at its bound over real TCP and expects its
// next connection to be closed while another source still gets in, and
// its place to come back when one of its connections closes.
func TestListen(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var refused atomic.Int64
	ln := Listen(inner, 3, func(netip.Prefix) { refused.Add(1) })
	t.Cleanup(func() { ln.Close() })
	accepted := make(chan net.Conn, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		for c := range accepted {
			c.Close()
		}
	})
	dial := func(local string) net.Conn {
		t.Helper()
		d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
		c, err := d.Dial("tcp", inner.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	server := func() net.Conn {
		t.Helper()
		select {
		case c := <-accepted:
			return c
		case <-time.After(10 * time.Second):
			t.Fatal("no connection accepted")
		}
		return nil
	}
	var held []net.Conn
	for i := 0; i < 3; i++ {
		dial("127.0.0.1")
		held = append(held, server())
	}
	over := dial("127.0.0.1")
	_ = over.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := over.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("the connection over the bound: read %v, want EOF", err)
	}
	waitRefused(t, &refused, 1)
	dial("127.0.0.2")
	if c := server(); c.RemoteAddr().(*net.TCPAddr).IP.String() != "127.0.0.2" {
		t.Fatalf("accepted %s, want the other source", c.RemoteAddr())
	}
	held[0].Close()
	held[0].Close() // twice: released once
	dial("127.0.0.1")
	if c := server(); c.RemoteAddr().(*net.TCPAddr).IP.String() != "127.0.0.1" {
		t.Fatalf("accepted %s after a place came back", c.RemoteAddr())
	}
	dial("127.0.0.1")
	waitRefused(t, &refused, 2)
}

// waitRefused waits for the listener to report n refusals: the refused
// client may see its connection closed just before the report.
func waitRefused(t *testing.T, refused *atomic.Int64, n int64) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); refused.Load() < n && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	if got := refused.Load(); got != n {
		t.Fatalf("refused %d, want %d", got, n)
	}
}
