package mailserver

import (
	"errors"
	"net/netip"
	"sync"

	"github.com/cyrange/cyrange/internal/persource"
)

// Limits bound the mail the server keeps in memory, so that no sender can
// exhaust it (the target runs in 512 MiB and an out-of-memory kill loses
// every planted flag). Mail that arrives while the server runs is charged
// to the mailbox it lands in, to the source address that sent it and to a
// pool shared by everybody; the checker, logged in with a master password,
// has a pool of its own that nobody else can fill, whose oldest mail is
// dropped when it is full. The province's generated past mail is charged
// to nobody. Zero fields take the defaults (DefaultLimits).
type Limits struct {
	// MessageBytes bounds one message: SMTP SIZE and DATA, IMAP APPEND, a
	// webmail message.
	MessageBytes int64
	// MailboxBytes bounds the mail others than the checker keep in one
	// mailbox.
	MailboxBytes int64
	// SourceBytes bounds the mail one source address wrote, over every
	// mailbox.
	SourceBytes int64
	// TotalBytes bounds the mail all but the checker keep, server-wide.
	TotalBytes int64
	// SystemBytes bounds the checker's own mail; past it the oldest goes.
	SystemBytes int64
	// InflightBytes bounds the message bodies being received at once from
	// others than the checker; the checker has a quarter of it besides
	// (at least one message of the largest size).
	InflightBytes int64
}

// DefaultLimits are the limits of a server whose Config leaves them zero:
// with them the mail held stays under about 250 MiB whatever senders do.
func DefaultLimits() Limits {
	return Limits{
		MessageBytes:  10 << 20,
		MailboxBytes:  32 << 20,
		SourceBytes:   32 << 20,
		TotalBytes:    96 << 20,
		SystemBytes:   64 << 20,
		InflightBytes: 32 << 20,
	}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	set := func(v *int64, def int64) {
		if *v <= 0 {
			*v = def
		}
	}
	set(&l.MessageBytes, d.MessageBytes)
	set(&l.MailboxBytes, d.MailboxBytes)
	set(&l.SourceBytes, d.SourceBytes)
	set(&l.TotalBytes, d.TotalBytes)
	set(&l.SystemBytes, d.SystemBytes)
	set(&l.InflightBytes, d.InflightBytes)
	// One message of the largest size must always fit.
	l.InflightBytes = max(l.InflightBytes, l.MessageBytes+dataChunk)
	return l
}

// msgOverhead is what a stored message costs besides its bytes (its
// bookkeeping, its parsed header), so that a quota in bytes also bounds
// the number of tiny messages.
const msgOverhead = 1 << 10

func costOf(n int) int64 { return int64(n) + msgOverhead }

// writer is who stores a message, for the quotas.
type writer struct {
	system bool       // the checker, with a master password
	src    netip.Addr // where the writer connected from
}

// source is what the quotas count w's mail under: its address, or its
// IPv6 /64 (internal/persource), so that one machine cycling through its
// network's addresses is still one sender.
func (w writer) source() netip.Prefix { return persource.Source(w.src) }

// charge is what one stored message was charged to; it is refunded when
// the message goes.
type charge struct {
	cost   int64
	system bool
	src    netip.Prefix
}

// Why a message could not be stored.
var (
	errMailboxFull = errors.New("mailbox full")
	errStorageFull = errors.New("insufficient system storage")
	errSourceFull  = errors.New("insufficient system storage for this sender")
	errBusy        = errors.New("too many messages being received, try again later")
)

// sysRef is a message of the checker's pool, oldest first in the queue.
type sysRef struct {
	acct int
	id   int64
}

// admits reports whether w may still deliver to acct (at RCPT time, before
// the size is known).
func (s *store) admits(w writer, acct *Account) error {
	if w.system {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.used[acct.Index]+msgOverhead > s.limits.MailboxBytes:
		return errMailboxFull
	case s.bySource[w.source()]+msgOverhead > s.limits.SourceBytes:
		return errSourceFull
	case s.total+msgOverhead > s.limits.TotalBytes:
		return errStorageFull
	}
	return nil
}

// room is how many bytes w may still store, for one copy.
func (s *store) room(w writer) int64 {
	if w.system {
		return s.limits.SystemBytes
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return min(s.limits.SourceBytes-s.bySource[w.source()], s.limits.TotalBytes-s.total)
}

// fits reports whether one copy of cost to each of accts would be
// admitted now, without charging anything.
func (s *store) fits(w writer, accts []*Account, cost int64) error {
	if w.system {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fitsLocked(w, accts, cost)
}

func (s *store) fitsLocked(w writer, accts []*Account, cost int64) error {
	all := cost * int64(len(accts))
	for _, a := range accts {
		if s.used[a.Index]+cost > s.limits.MailboxBytes {
			return errMailboxFull
		}
	}
	if s.bySource[w.source()]+all > s.limits.SourceBytes {
		return errSourceFull
	}
	if s.total+all > s.limits.TotalBytes {
		return errStorageFull
	}
	return nil
}

// reserve charges one copy of cost to each of accts for w, all or none.
// The checker's pool is never refused: trimSystem makes room afterwards.
func (s *store) reserve(w writer, accts []*Account, cost int64) (charge, error) {
	ch := charge{cost: cost, system: w.system, src: w.source()}
	all := cost * int64(len(accts))
	s.mu.Lock()
	defer s.mu.Unlock()
	if w.system {
		s.system += all
		return ch, nil
	}
	if err := s.fitsLocked(w, accts, cost); err != nil {
		return charge{}, err
	}
	for _, a := range accts {
		s.used[a.Index] += cost
	}
	s.bySource[w.source()] += all
	s.total += all
	return ch, nil
}

// refundLocked gives back what a message of mailbox acct was charged; s.mu
// is held.
func (s *store) refundLocked(acct int, ch charge) {
	switch {
	case ch.cost == 0:
	case ch.system:
		s.system -= ch.cost
	default:
		s.used[acct] -= ch.cost
		s.total -= ch.cost
		if s.bySource[ch.src] -= ch.cost; s.bySource[ch.src] <= 0 {
			delete(s.bySource, ch.src)
		}
	}
}

func (s *store) refund(acct int, ch charge) {
	s.mu.Lock()
	s.refundLocked(acct, ch)
	s.mu.Unlock()
}

// trimSystem drops the checker's oldest mail until its pool is within its
// limit. The caller holds no mailbox lock.
func (s *store) trimSystem() {
	for {
		s.mu.Lock()
		if s.system <= s.limits.SystemBytes || s.sysHead >= len(s.sysq) {
			s.mu.Unlock()
			return
		}
		ref := s.sysq[s.sysHead]
		s.sysHead++
		if s.sysHead > 1024 && s.sysHead*2 > len(s.sysq) {
			s.sysq = append(s.sysq[:0], s.sysq[s.sysHead:]...)
			s.sysHead = 0
		}
		s.mu.Unlock()
		s.drop(ref)
	}
}

// drop removes one message of the checker's pool, wherever it still is.
func (s *store) drop(ref sysRef) {
	b := &s.boxes[ref.acct]
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.loaded {
		for i, p := range b.pending {
			if p.m.id == ref.id {
				b.pending = append(b.pending[:i], b.pending[i+1:]...)
				s.release(ref.acct, p.m)
				return
			}
		}
		return
	}
	if f, i, ok := b.byID(ref.id); ok && f.msgs[i].ch.system {
		s.removeLocked(b, f, i)
	}
}

// budget bounds bytes held at once, without waiting: what cannot be had
// now is refused. With a share, it also bounds what one source holds, so
// that one sender's large messages cannot take the whole budget and keep
// everybody else's mail out.
type budget struct {
	mu    sync.Mutex
	left  int64
	share int64 // at most this much per source; 0 for no bound
	held  map[netip.Prefix]int64
}

func newBudget(size, share int64) *budget {
	return &budget{left: size, share: share, held: make(map[netip.Prefix]int64)}
}

func (b *budget) take(src netip.Prefix, n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if n > b.left || b.share > 0 && b.held[src]+n > b.share {
		return false
	}
	b.left -= n
	b.held[src] += n
	return true
}

func (b *budget) give(src netip.Prefix, n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.left += n
	if b.held[src] -= n; b.held[src] <= 0 {
		delete(b.held, src)
	}
}
