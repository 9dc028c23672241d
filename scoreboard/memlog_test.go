package scoreboard

import (
	"context"
	"errors"
	"sync"
)

// memLog is an in-memory Log for tests: Append "commits" at once and calls
// applied in sequence order.
type memLog struct {
	mu      sync.Mutex
	recs    [][]byte
	snapSeq uint64
	snap    []byte
	fail    error
}

func (l *memLog) Append(_ context.Context, recs [][]byte, applied func(uint64)) (uint64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fail != nil {
		return 0, l.fail
	}
	first := uint64(len(l.recs)) + 1
	for _, r := range recs {
		l.recs = append(l.recs, append([]byte(nil), r...))
	}
	if applied != nil {
		applied(first)
	}
	return first, nil
}

func (l *memLog) Iterate(ctx context.Context, from uint64, fn func(uint64, []byte) error) error {
	l.mu.Lock()
	recs := l.recs
	l.mu.Unlock()
	if from == 0 {
		from = 1
	}
	for i := from; i <= uint64(len(recs)); i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(i, recs[i-1]); err != nil {
			return err
		}
	}
	return nil
}

func (l *memLog) PutSnapshot(_ context.Context, seq uint64, data []byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.snapSeq, l.snap = seq, append([]byte(nil), data...)
	return nil
}

func (l *memLog) LatestSnapshot() (uint64, []byte, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.snap == nil {
		return 0, nil, false, nil
	}
	return l.snapSeq, l.snap, true, nil
}

var errDiskFull = errors.New("disk full")
