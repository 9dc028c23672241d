// Package floodtest holds floods of real connections for the tests of the
// servers players can reach (the submission port, the gateways): a
// flood is opened from a chosen loopback source address, answered by the
// server connection by connection, and kept open until the test ends.
//
// It is for tests only and imports only the standard library.
package floodtest

import (
	"errors"
	"net"
	"os"
	"sync"
	"testing"
	"time"
)

// Held is a flood of connections kept open until the test ends.
type Held struct {
	mu    sync.Mutex
	conns []net.Conn
}

// Hold returns an empty flood whose connections close when t ends.
func Hold(t testing.TB) *Held {
	h := &Held{}
	t.Cleanup(func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		for _, c := range h.conns {
			c.Close()
		}
	})
	return h
}

// Add keeps c open until the test ends.
func (h *Held) Add(c net.Conn) {
	h.mu.Lock()
	h.conns = append(h.conns, c)
	h.mu.Unlock()
}

// Open opens n connections from the loopback address src to addr and
// hands each to open, which sends what the flooder sends and reads the
// server's first answer. It returns once the server has answered (or
// closed) every one of them, that is, once it has accepted them all; a
// server that never answers one fails the test, after a hang guard.
func (h *Held) Open(t testing.TB, src, addr string, n int, open func(net.Conn) error) {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 10 * time.Second}
	for range n {
		c, err := d.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("flood from %s: %v", src, err)
		}
		h.Add(c)
		c.SetDeadline(time.Now().Add(10 * time.Second))
		if err := open(c); errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("flood from %s: the server never answered a connection", src)
		}
	}
}
