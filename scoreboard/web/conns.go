package web

import (
	"container/list"
	"net"
	"net/http"
	"sync"
)

// connBudget bounds the connections a web port holds at once, beyond the
// per-source bounds: a player with many addresses could otherwise hold
// the port with connections of every one. When a connection arrives with
// the budget spent, the connection idle the longest (kept alive between
// requests) is closed to make room; only when none is idle is the
// newcomer refused. Idle keep-alives cost nothing to drop, a request in
// progress ends within the server's timeouts, and websockets leave the
// budget once upgraded: the live hub bounds them with its own capacities,
// the organizer's and the defence's kept apart.
type connBudget struct {
	max     int
	refused func()

	mu   sync.Mutex
	open int
	idle list.List // of net.Conn, idle the longest first
	at   map[net.Conn]*list.Element
	in   map[net.Conn]bool // counted in open
}

func newConnBudget(max int, refused func()) *connBudget {
	return &connBudget{max: max, refused: refused, at: map[net.Conn]*list.Element{}, in: map[net.Conn]bool{}}
}

// listen wraps ln so that its connections count against the budget; the
// server using it must report their states to state.
func (b *connBudget) listen(ln net.Listener) net.Listener { return &budgetListener{Listener: ln, b: b} }

type budgetListener struct {
	net.Listener
	b *connBudget
}

func (l *budgetListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.b.admit(c) {
			return c, nil
		}
		c.Close()
		if l.b.refused != nil {
			l.b.refused()
		}
	}
}

// admit counts c, making room by closing the connection idle the longest
// when the budget is spent; false when there is none to close.
func (b *connBudget) admit(c net.Conn) bool {
	b.mu.Lock()
	var victim net.Conn
	if b.open >= b.max {
		e := b.idle.Front()
		if e == nil {
			b.mu.Unlock()
			return false
		}
		victim = e.Value.(net.Conn)
		b.forgetLocked(victim)
	}
	b.open++
	b.in[c] = true
	b.mu.Unlock()
	if victim != nil {
		// Its server sees it closed and reports StateClosed, which finds
		// nothing left to forget.
		victim.Close()
	}
	return true
}

// state follows a connection's life (http.Server.ConnState).
func (b *connBudget) state(c net.Conn, s http.ConnState) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch s {
	case http.StateIdle:
		if b.in[c] && b.at[c] == nil {
			b.at[c] = b.idle.PushBack(c)
		}
	case http.StateActive:
		if e := b.at[c]; e != nil {
			b.idle.Remove(e)
			delete(b.at, c)
		}
	case http.StateHijacked, http.StateClosed:
		b.forgetLocked(c)
	}
}

func (b *connBudget) forgetLocked(c net.Conn) {
	if e := b.at[c]; e != nil {
		b.idle.Remove(e)
		delete(b.at, c)
	}
	if b.in[c] {
		delete(b.in, c)
		b.open--
	}
}
