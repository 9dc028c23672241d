// Package admit decides which connections a server keeps when more
// arrive than it can hold, so that a flood of strangers never locks out
// the players who hold a token.
//
// A connection that has not authenticated yet waits in a bounded pool.
// Its source (an IPv4 address, or an IPv6 /64) may hold only so many
// places there, and a newcomer beyond either bound pushes out the oldest
// waiting connection (of its own source first) instead of being turned
// away: a flooder then only churns through its own connections, and a
// real client, which authenticates within a round trip or two, is out of
// the pool long before a flood has cycled through it. A source shared by
// many honest clients (a NAT, or Docker's port publishing, where every
// client may show the same address) is thus never locked out either.
// Once authenticated, a connection leaves the pool and counts only
// against its principal's own bound, so that neither strangers nor
// another principal can take its room.
//
// The package knows nothing of the protocols; the servers (the flag
// submission port, the gateways) call it from their accept loop and
// authentication path. It imports only the standard library.
package admit

import (
	"container/list"
	"errors"
	"net/netip"
	"sync"

	"github.com/cyrange/cyrange/internal/persource"
)

// Errors of Ticket.Authenticate and Pool.AdmitAs.
var (
	// ErrEvicted: the connection was pushed out of the pool by newer
	// ones before it authenticated; drop it.
	ErrEvicted = errors.New("admit: pushed out by newer connections")
	// ErrTooMany: the principal already holds its bound of connections.
	ErrTooMany = errors.New("admit: too many connections")
)

// Limits bound a pool. Pending and PendingPerSource below 1 count as 1.
type Limits struct {
	// Pending bounds the connections that have not authenticated yet.
	Pending int
	// PendingPerSource bounds those of one source.
	PendingPerSource int
	// PerPrincipal bounds the authenticated connections of one
	// principal; 0 means no bound.
	PerPrincipal int
}

// Pool tracks a server's connections. It is safe for concurrent use.
type Pool struct {
	lim Limits

	mu         sync.Mutex
	pending    list.List // of *Ticket, oldest first
	sources    map[netip.Prefix]*list.List
	principals map[int]int
	authed     int
	evicted    uint64
}

// NewPool returns an empty pool with the limits l.
func NewPool(l Limits) *Pool {
	l.Pending = max(l.Pending, 1)
	l.PendingPerSource = max(l.PendingPerSource, 1)
	return &Pool{lim: l, sources: map[netip.Prefix]*list.List{}, principals: map[int]int{}}
}

type state uint8

const (
	statePending state = iota
	stateAuthenticated
	stateEvicted
	stateReleased
)

// Ticket is one connection's place in its pool.
type Ticket struct {
	p         *Pool
	src       netip.Prefix
	el, sel   *list.Element // in p.pending and in its source's list
	state     state
	principal int
	drop      func()
}

// Source is the key a connection's address counts under: see
// persource.Source.
func Source(a netip.Addr) netip.Prefix { return persource.Source(a) }

// Admit places a new, unauthenticated connection from src. drop closes
// it: the pool calls it if the connection is later pushed out. Admit calls
// the drop functions of the connections it pushes out itself, after
// releasing the pool's lock.
func (p *Pool) Admit(src netip.Addr, drop func()) *Ticket {
	t := &Ticket{p: p, src: Source(src), drop: drop}
	var victims [2]*Ticket
	p.mu.Lock()
	sl := p.sources[t.src]
	if sl == nil {
		sl = &list.List{}
		p.sources[t.src] = sl
	}
	if sl.Len() >= p.lim.PendingPerSource {
		victims[0] = p.evictLocked(sl.Front().Value.(*Ticket))
	}
	if p.pending.Len() >= p.lim.Pending {
		victims[1] = p.evictLocked(p.pending.Front().Value.(*Ticket))
	}
	// The victim may have been the last of its source, this one's own
	// list included.
	if sl = p.sources[t.src]; sl == nil {
		sl = &list.List{}
		p.sources[t.src] = sl
	}
	t.el = p.pending.PushBack(t)
	t.sel = sl.PushBack(t)
	p.mu.Unlock()
	for _, v := range victims {
		if v != nil && v.drop != nil {
			v.drop()
		}
	}
	return t
}

// AdmitAs places a new connection already known as principal's (its
// source address proves it). It returns ErrTooMany, and no ticket, when
// principal holds its bound.
func (p *Pool) AdmitAs(src netip.Addr, principal int) (*Ticket, error) {
	t := &Ticket{p: p, src: Source(src), state: stateAuthenticated, principal: principal}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.roomLocked(principal) {
		return nil, ErrTooMany
	}
	p.principals[principal]++
	p.authed++
	return t, nil
}

func (p *Pool) roomLocked(principal int) bool {
	return p.lim.PerPrincipal <= 0 || p.principals[principal] < p.lim.PerPrincipal
}

// evictLocked takes a pending ticket out of the pool and returns it.
func (p *Pool) evictLocked(t *Ticket) *Ticket {
	p.unlinkLocked(t)
	t.state = stateEvicted
	p.evicted++
	return t
}

func (p *Pool) unlinkLocked(t *Ticket) {
	p.pending.Remove(t.el)
	sl := p.sources[t.src]
	sl.Remove(t.sel)
	if sl.Len() == 0 {
		delete(p.sources, t.src)
	}
	t.el, t.sel = nil, nil
}

// Authenticate moves t, once its connection has proved it is principal's,
// out of the pending pool into principal's share; a ticket already
// authenticated moves to principal's share. It returns ErrEvicted when t
// was pushed out meanwhile, and ErrTooMany, leaving t as it was, when
// principal holds its bound.
func (t *Ticket) Authenticate(principal int) error {
	p := t.p
	p.mu.Lock()
	defer p.mu.Unlock()
	switch t.state {
	case stateEvicted, stateReleased:
		return ErrEvicted
	case stateAuthenticated:
		if t.principal == principal {
			return nil
		}
		if !p.roomLocked(principal) {
			return ErrTooMany
		}
		p.leaveLocked(t.principal)
	case statePending:
		if !p.roomLocked(principal) {
			return ErrTooMany
		}
		p.unlinkLocked(t)
		t.state = stateAuthenticated
	}
	t.principal = principal
	p.principals[principal]++
	p.authed++
	return nil
}

func (p *Pool) leaveLocked(principal int) {
	p.authed--
	if p.principals[principal]--; p.principals[principal] <= 0 {
		delete(p.principals, principal)
	}
}

// Release gives t's place back when its connection ends. It may be called
// more than once.
func (t *Ticket) Release() {
	p := t.p
	p.mu.Lock()
	defer p.mu.Unlock()
	switch t.state {
	case statePending:
		p.unlinkLocked(t)
	case stateAuthenticated:
		p.leaveLocked(t.principal)
	}
	t.state = stateReleased
}

// Stats is a pool's state.
type Stats struct {
	Pending       int    // connections not authenticated yet
	Authenticated int    // authenticated connections
	Sources       int    // sources with pending connections
	Evicted       uint64 // connections pushed out since the pool was made
}

// Stats returns the pool's state.
func (p *Pool) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return Stats{Pending: p.pending.Len(), Authenticated: p.authed, Sources: len(p.sources), Evicted: p.evicted}
}
