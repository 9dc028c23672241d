package mailserver

import (
	"container/list"
	"net/netip"
	"time"

	"github.com/cyrange/cyrange/internal/persource"
)

// Bounds of the failed-login table. Every operation on it is O(1) (the
// console's listing aside, which copies at most maxFailEntries rows), so a
// spray of user names can neither grow it without end nor make logins slow.
const (
	// maxFailSources is how many sources the table follows; past it the
	// source that failed least recently is forgotten.
	maxFailSources = 4096
	// maxFailsPerSource is how many accounts one source's failures are
	// kept for; past it that source's least recent one is forgotten,
	// unless it is locked.
	maxFailsPerSource = 256
	// maxFailEntries bounds the rows of all sources together.
	maxFailEntries = 32768
	// sourceFailLimit is how many failed logins one source may have in a
	// lock window, over all accounts, before the lockout locks the source
	// itself: a spray of names or passwords over many accounts is locked
	// like a brute force of one.
	sourceFailLimit = 100
	// maxUserKey bounds the user name a row keeps.
	maxUserKey = 320
)

type failState struct {
	count       int
	first, last time.Time
	lockedUntil time.Time
}

// userFails is one account's failures from one source.
type userFails struct {
	user string
	failState
}

// sourceFails is one source's failures: per account, and in total over
// the current lock window. A source is what internal/persource counts
// (an IPv4 address, an IPv6 /64), so that a brute force cycling through
// the addresses of one IPv6 network is one source, locked as one.
type sourceFails struct {
	key         netip.Prefix
	addr        netip.Addr    // the last address that failed, for the console
	elem        *list.Element // in failTable.order
	users       map[string]*list.Element
	order       list.List // of *userFails, most recent failure first
	count       int       // failures in the window that began at first
	first       time.Time
	lockedUntil time.Time
}

// failTable holds the failed logins by source, then by account. Callers
// hold security.mu.
type failTable struct {
	sources map[netip.Prefix]*sourceFails
	order   list.List // of *sourceFails, most recent failure first
	entries int
}

func newFailTable() *failTable {
	return &failTable{sources: make(map[netip.Prefix]*sourceFails)}
}

func userKey(user string) string {
	if len(user) > maxUserKey {
		return user[:maxUserKey]
	}
	return user
}

// get returns the failures of user from src, or nil.
func (t *failTable) get(user string, src netip.Addr) (*sourceFails, *userFails) {
	sf := t.sources[persource.Source(src)]
	if sf == nil {
		return nil, nil
	}
	if e, ok := sf.users[userKey(user)]; ok {
		return sf, e.Value.(*userFails)
	}
	return sf, nil
}

// locked reports whether user may not log in from src now.
func (t *failTable) locked(user string, src netip.Addr, now time.Time) bool {
	sf, uf := t.get(user, src)
	return sf != nil && now.Before(sf.lockedUntil) || uf != nil && now.Before(uf.lockedUntil)
}

// fail records a failed login of user from src and locks what went past
// its limit when the lockout is on.
func (t *failTable) fail(user string, src netip.Addr, now time.Time, st Settings) {
	sf := t.source(src)
	if now.Sub(sf.first) > st.LockWindow {
		sf.count, sf.first = 0, now
	}
	sf.count++
	if st.Lockout && sf.count >= sourceFailLimit {
		sf.lockedUntil = now.Add(st.LockDuration)
	}
	key := userKey(user)
	var uf *userFails
	if e, ok := sf.users[key]; ok {
		sf.order.MoveToFront(e)
		uf = e.Value.(*userFails)
	} else {
		if sf.order.Len() >= maxFailsPerSource {
			back := sf.order.Back()
			if now.Before(back.Value.(*userFails).lockedUntil) {
				// Forgetting a locked account would unlock it: the
				// failure counts for the source only.
				return
			}
			t.removeUser(sf, back)
		}
		uf = &userFails{user: key}
		sf.users[key] = sf.order.PushFront(uf)
		t.entries++
		t.trim(sf)
	}
	if now.Sub(uf.first) > st.LockWindow {
		uf.count, uf.first = 0, now
	}
	uf.count++
	uf.last = now
	if st.Lockout && uf.count >= st.LockThreshold {
		uf.lockedUntil = now.Add(st.LockDuration)
	}
}

// succeed forgets user's failures from src, as a successful login does;
// the source's total stays.
func (t *failTable) succeed(user string, src netip.Addr) {
	if sf := t.sources[persource.Source(src)]; sf != nil {
		if e, ok := sf.users[userKey(user)]; ok {
			t.removeUser(sf, e)
		}
	}
}

// source returns src's entry, made most recent, creating it (and
// forgetting the least recent source past the bound) when new.
func (t *failTable) source(src netip.Addr) *sourceFails {
	key := persource.Source(src)
	if sf := t.sources[key]; sf != nil {
		t.order.MoveToFront(sf.elem)
		sf.addr = src
		return sf
	}
	sf := &sourceFails{key: key, addr: src, users: make(map[string]*list.Element)}
	sf.elem = t.order.PushFront(sf)
	t.sources[key] = sf
	t.trim(sf)
	return sf
}

// trim forgets the least recently failing sources, but keep, until the
// table is within its bounds.
func (t *failTable) trim(keep *sourceFails) {
	for len(t.sources) > maxFailSources || t.entries > maxFailEntries {
		back := t.order.Back()
		if back == nil || back.Value.(*sourceFails) == keep {
			return
		}
		t.removeSource(back.Value.(*sourceFails))
	}
}

func (t *failTable) removeUser(sf *sourceFails, e *list.Element) {
	delete(sf.users, e.Value.(*userFails).user)
	sf.order.Remove(e)
	t.entries--
}

func (t *failTable) removeSource(sf *sourceFails) {
	t.entries -= sf.order.Len()
	t.order.Remove(sf.elem)
	delete(t.sources, sf.key)
}

// count returns user's failures from src in the current window.
func (t *failTable) count(user string, src netip.Addr) int {
	if _, uf := t.get(user, src); uf != nil {
		return uf.count
	}
	return 0
}

// rows lists every row, for the console.
func (t *failTable) rows() []failure {
	out := make([]failure, 0, t.entries)
	for e := t.order.Front(); e != nil; e = e.Next() {
		sf := e.Value.(*sourceFails)
		for u := sf.order.Front(); u != nil; u = u.Next() {
			uf := u.Value.(*userFails)
			locked := uf.lockedUntil
			if sf.lockedUntil.After(locked) {
				locked = sf.lockedUntil
			}
			out = append(out, failure{User: uf.user, Source: sf.addr, Count: uf.count, Last: uf.last, LockedUntil: locked})
		}
	}
	return out
}
