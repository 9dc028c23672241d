package web

import (
	"errors"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// TestConnBudgetClosesIdleLongest: with the budget spent, a newcomer
// closes the connection idle the longest; a connection at work is never
// closed, and with none idle the newcomer is refused.
func TestConnBudgetClosesIdleLongest(t *testing.T) {
	refused := 0
	b := newConnBudget(3, func() { refused++ })
	pipe := func() net.Conn {
		a, z := net.Pipe()
		t.Cleanup(func() { a.Close(); z.Close() })
		return a
	}
	conns := []net.Conn{pipe(), pipe(), pipe()}
	for _, c := range conns {
		if !b.admit(c) {
			t.Fatal("refused within the budget")
		}
		b.state(c, http.StateActive)
	}
	// Idle in the order 2, 0; 1 stays at work.
	b.state(conns[2], http.StateIdle)
	b.state(conns[0], http.StateIdle)
	if !b.admit(pipe()) {
		t.Fatal("a newcomer was refused while connections were idle")
	}
	_ = conns[2].SetWriteDeadline(time.Now().Add(30 * time.Second)) // a hang guard
	if _, err := conns[2].Write([]byte("x")); !errors.Is(err, io.ErrClosedPipe) {
		t.Error("the connection idle the longest was not closed")
	}
	// Back at work: 0 is not idle any more; nothing is.
	b.state(conns[0], http.StateActive)
	if b.admit(pipe()) {
		t.Error("a newcomer got in by closing a connection at work")
	}
	// A closed connection gives its place back.
	b.state(conns[1], http.StateClosed)
	if !b.admit(pipe()) {
		t.Error("the place of a closed connection was not given back")
	}
}
