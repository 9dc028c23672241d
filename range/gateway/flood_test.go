package gateway

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"golang.org/x/net/proxy"

	"github.com/cyrange/cyrange/internal/floodtest"
)

// These tests hold floods of real connections on loopback, from extra
// loopback source addresses where they need distinct sources, and prove
// that the team still gets through its gateway. Every flood is fully
// accepted before the team connects; deadlines are hang guards only.

// floodUnauthenticated opens n connections from src that offer the SOCKS
// user/password method and then say nothing more, once the gateway has
// answered every one of them.
func floodUnauthenticated(t *testing.T, h *floodtest.Held, src, addr string, n int) {
	t.Helper()
	h.Open(t, src, addr, n, func(c net.Conn) error {
		c.Write([]byte{5, 1, 2})
		_, err := io.ReadFull(c, make([]byte, 2))
		return err
	})
}

// dialerFrom is the team's SOCKS client, connecting to the gateway from
// src.
func (f *fixture) dialerFrom(t *testing.T, src string) proxy.Dialer {
	t.Helper()
	fwd := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 10 * time.Second}
	d, err := proxy.SOCKS5("tcp", f.addr, &proxy.Auth{User: short, Password: token}, fwd)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// through proves the team reaches x through the gateway from src.
func through(t *testing.T, f *fixture, x *exactTarget, src string) {
	t.Helper()
	c, err := f.dialerFrom(t, src).Dial("tcp", x.addr().String())
	if err != nil {
		t.Fatalf("the team, from %s: %v", src, err)
	}
	if got := exchange(t, c, 10); got != 3 {
		t.Fatalf("the team read %d bytes, want 3", got)
	}
}

// Unauthenticated connections from the team's own address (on Docker every
// client of a published port may show the same address) used to lock the
// team out at 512; now a newcomer pushes out the oldest of them.
func TestFloodFromTheTeamsAddress(t *testing.T) {
	x := startExactTarget(t, 3)
	f := startGateway(t, Options{Allow: []Rule{AllowAddrPort(x.addr())}})
	h := floodtest.Hold(t)
	floodUnauthenticated(t, h, "127.0.0.1", f.addr, 1500)
	through(t, f, x, "127.0.0.1")
}

// Many sources together fill the pool of unauthenticated connections; the
// team still gets in, and a session it opened before the flood is not
// touched.
func TestFloodFromManySources(t *testing.T) {
	x := startExactTarget(t, 3)
	f := startGateway(t, Options{Allow: []Rule{AllowAddrPort(x.addr())}})
	early, err := f.dialerFrom(t, "127.0.0.1").Dial("tcp", x.addr().String())
	if err != nil {
		t.Fatal(err)
	}
	h := floodtest.Hold(t)
	for i := range 16 {
		floodUnauthenticated(t, h, fmt.Sprintf("127.0.0.%d", 10+i), f.addr, 64)
	}
	through(t, f, x, "127.0.0.1")
	through(t, f, x, "127.0.0.12")
	if got := exchange(t, early, 10); got != 3 {
		t.Fatalf("the session opened before the flood read %d bytes, want 3", got)
	}
}

// MaxConns bounds the team's sessions; unauthenticated connections do not
// count against it.
func TestMaxConns(t *testing.T) {
	x := startExactTarget(t, 3)
	f := startGateway(t, Options{MaxConns: 1, Allow: []Rule{AllowAddrPort(x.addr())}})
	idle, err := net.Dial("tcp", f.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	idle.Write([]byte{5, 1, 2})
	idle.SetReadDeadline(time.Now().Add(10 * time.Second))
	io.ReadFull(idle, make([]byte, 2))
	first, err := f.dialer(t, short, token).Dial("tcp", x.addr().String())
	if err != nil {
		t.Fatalf("with an unauthenticated connection open: %v", err)
	}
	if c, err := f.dialer(t, short, token).Dial("tcp", x.addr().String()); err == nil {
		c.Close()
		t.Fatal("a second session with MaxConns 1")
	}
	if got := exchange(t, first, 1); got != 3 {
		t.Fatalf("first session read %d bytes", got)
	}
	// The slot frees once the first session has ended.
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := f.dialer(t, short, token).Dial("tcp", x.addr().String())
		if err == nil {
			exchange(t, c, 1)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no session after the first ended: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A client has AuthTimeout from its accept to authenticate, however it
// trickles its bytes; once authenticated, the rest of HandshakeTimeout to
// ask for its target.
func TestAuthTimeout(t *testing.T) {
	x := startExactTarget(t, 3)
	f := startGateway(t, Options{AuthTimeout: 200 * time.Millisecond, Allow: []Rule{AllowAddrPort(x.addr())}})
	t.Run("trickling", func(t *testing.T) {
		c, err := net.Dial("tcp", f.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(60 * time.Second)) // a hang guard only
		c.Write([]byte{5, 1, 2})
		if _, err := io.ReadFull(c, make([]byte, 2)); err != nil {
			t.Fatal(err)
		}
		// A user name, then a 255-byte password a byte at a time: it
		// would take 12 s to complete, the gateway gives up after 0.2 s.
		auth := append(append([]byte{1, byte(len(short))}, short...), 255)
		auth = append(auth, bytes.Repeat([]byte{'x'}, 255)...)
		closed := false
		for _, b := range auth {
			if _, err := c.Write([]byte{b}); err != nil {
				closed = true
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if !closed {
			t.Fatal("a trickling client kept its connection until it had sent everything")
		}
		if _, err := c.Read(make([]byte, 1)); errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatal("a trickling client kept its connection past AuthTimeout")
		}
	})
	t.Run("authenticated in time, asks later", func(t *testing.T) {
		// A timeout a loaded machine's scheduling cannot eat up before
		// the gateway reads the credentials sent at once.
		f := startGateway(t, Options{AuthTimeout: 2 * time.Second, Allow: []Rule{AllowAddrPort(x.addr())}})
		c, err := net.Dial("tcp", f.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(20 * time.Second))
		req := []byte{5, 1, 2, 1, byte(len(short))}
		req = append(append(req, short...), byte(len(token)))
		c.Write(append(req, token...))
		reply := make([]byte, 4)
		if _, err := io.ReadFull(c, reply); err != nil || reply[3] != 0 {
			t.Fatalf("authentication: %v %v", reply, err)
		}
		// Well past AuthTimeout, well within HandshakeTimeout.
		time.Sleep(3 * time.Second)
		a := x.addr().Addr().As4()
		connect := append([]byte{5, 1, 0, 1}, a[:]...)
		connect = append(connect, byte(x.addr().Port()>>8), byte(x.addr().Port()))
		if _, err := c.Write(connect); err != nil {
			t.Fatal(err)
		}
		resp := make([]byte, 10)
		if _, err := io.ReadFull(c, resp); err != nil || resp[1] != 0 {
			t.Fatalf("CONNECT after AuthTimeout: %v %v", resp, err)
		}
		if got := exchange(t, c, 4); got != 3 {
			t.Fatalf("read %d bytes, want 3", got)
		}
	})
}
