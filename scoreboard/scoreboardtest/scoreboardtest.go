// Package scoreboardtest holds test doubles for the game shared by the
// packages that test against a real *scoreboard.Game: an in-memory event
// log and checkers whose verdicts the test decides.
//
// It is imported by tests only. It must never import the store, echo or
// the Docker SDK: a test that needs those brings them itself.
package scoreboardtest

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/cyrange/cyrange/scoreboard"
)

// MemLog is an in-memory scoreboard.Log: Append is "durable" at once and
// calls applied in sequence order, one Append at a time, as the store does.
// The zero value is ready to use.
type MemLog struct {
	mu      sync.Mutex
	recs    [][]byte
	snapSeq uint64
	snap    []byte
}

var _ scoreboard.Log = (*MemLog)(nil)

// Append stores copies of recs and calls applied with the first sequence.
func (l *MemLog) Append(_ context.Context, recs [][]byte, applied func(uint64)) (uint64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	first := uint64(len(l.recs)) + 1
	for _, r := range recs {
		l.recs = append(l.recs, bytes.Clone(r))
	}
	if applied != nil {
		applied(first)
	}
	return first, nil
}

// Iterate calls fn for every record with seq >= from that was stored when
// it was called.
func (l *MemLog) Iterate(ctx context.Context, from uint64, fn func(uint64, []byte) error) error {
	l.mu.Lock()
	recs := l.recs
	l.mu.Unlock()
	for i := max(from, 1); i <= uint64(len(recs)); i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(i, recs[i-1]); err != nil {
			return err
		}
	}
	return nil
}

// PutSnapshot keeps the latest snapshot.
func (l *MemLog) PutSnapshot(_ context.Context, seq uint64, data []byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.snapSeq, l.snap = seq, bytes.Clone(data)
	return nil
}

// LatestSnapshot returns the snapshot PutSnapshot kept, if any.
func (l *MemLog) LatestSnapshot() (uint64, []byte, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.snapSeq, l.snap, l.snap != nil, nil
}

// Len returns how many records the log holds.
func (l *MemLog) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.recs)
}

// Checker is a scoreboard.TickChecker whose verdicts come from a function
// of the tick, the owner and the service; a nil Status means OK everywhere.
// Every putflag of a replica that is not OFFLINE succeeds, with an
// attackInfo naming the slot (never the flag).
type Checker struct {
	Status func(tick int32, owner, service int) scoreboard.Status
}

var _ scoreboard.TickChecker = Checker{}

// CheckTick reports one ReplicaCheck per planned replica.
func (c Checker) CheckTick(_ context.Context, p scoreboard.TickPlan) []scoreboard.ReplicaCheck {
	out := make([]scoreboard.ReplicaCheck, 0, len(p.Replicas))
	for _, r := range p.Replicas {
		st := scoreboard.StatusOK
		if c.Status != nil {
			st = c.Status(p.Tick, r.Owner, r.Service)
		}
		rc := scoreboard.ReplicaCheck{Tick: p.Tick, Owner: r.Owner, Service: r.Service, Status: st}
		for _, f := range r.Put {
			rc.Planted = append(rc.Planted, scoreboard.Planted{ID: f.ID, OK: st != scoreboard.StatusOffline,
				AttackInfo: fmt.Sprintf("user%d-%d@%s", f.ID.Tick, f.ID.Store, r.ServiceName)})
		}
		out = append(out, rc)
	}
	return out
}

// Clock is a clock a test moves by hand, safe for concurrent use: the
// game, servers and limiters take its Now as their injected clock.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock on by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}
