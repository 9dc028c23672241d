package store

import (
	"context"
	"encoding/binary"
	"fmt"
	"runtime"
	"time"
)

// slowCommit is the commit time above which the committer logs a warning:
// far beyond a healthy fsync, it points at a struggling disk.
const slowCommit = time.Second

// request is one Append waiting for its group commit. It is pooled; the
// committer must not touch it after signalling done.
type request struct {
	recs    [][]byte
	applied func(first uint64)
	first   uint64
	err     error
	done    chan struct{} // buffered 1, so signalling never blocks the committer
}

// Append adds recs to the log as one unit: they get consecutive sequences and
// are committed in the same transaction. It returns the sequence of recs[0]
// once they are durable (written and fsynced).
//
// After the commit and before any waiting Append returns, the committer
// goroutine calls applied(first) for each request of the commit in sequence
// order, so callbacks of all Appends run one at a time in log order. applied
// may be nil; it must be quick and must not call Append or Close (the
// committer would wait for itself).
//
// recs are written as they are, not copied, and must not be modified until
// Append returns. ctx only bounds the wait for room in the queue: once queued,
// a request is committed (or fails) whatever happens to ctx, and Append waits
// for that outcome, so its answer is always the truth about the records.
//
// If the commit fails, every Append of that commit gets the error, applied is
// not called, and no sequence is used up; the records never count, neither
// in this process nor after the log is reopened. When nothing was written
// (ErrFull), later Appends may succeed. When the commit failed after bbolt
// began writing it (its fsync failed, typically), its records may be in the
// file: the error is ErrFailed, every later write fails with ErrFailed too
// (a commit built on the failed one would make it durable), and the next
// Open deletes those records before anything else is written.
// Errors: ErrInvalid (no records, or one larger than Options.MaxRecordSize),
// ErrClosed, ErrFull, ErrFailed (wrapping the write error), or ctx's error.
func (l *Log) Append(ctx context.Context, recs [][]byte, applied func(first uint64)) (uint64, error) {
	if len(recs) == 0 {
		return 0, fmt.Errorf("store: append: no records: %w", ErrInvalid)
	}
	for i, rec := range recs {
		if len(rec) > l.maxRec {
			return 0, fmt.Errorf("store: append: record %d is %d bytes, limit %d: %w", i, len(rec), l.maxRec, ErrInvalid)
		}
	}
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("store: append: %w", err)
	}
	r := l.reqs.Get().(*request)
	r.recs, r.applied = recs, applied

	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		l.release(r)
		return 0, fmt.Errorf("store: append: %w", ErrClosed)
	}
	select {
	case l.queue <- r:
	case <-ctx.Done():
		l.mu.RUnlock()
		l.release(r)
		return 0, fmt.Errorf("store: append: waiting for the queue: %w", ctx.Err())
	}
	l.mu.RUnlock()

	<-r.done
	first, err := r.first, r.err
	l.release(r)
	return first, err
}

func (l *Log) release(r *request) {
	r.recs, r.applied, r.first, r.err = nil, nil, 0, nil
	l.reqs.Put(r)
}

// run is the committer: it takes one request, adds whatever else is waiting
// (up to maxBatch records), commits them together and starts over. It never
// waits on a timer, so a lone Append costs one commit and a crowd shares one.
// It returns once Close has closed the queue and everything queued before
// that is committed.
func (l *Log) run() {
	defer close(l.stopped)
	for {
		r := l.carry
		l.carry = nil
		if r == nil {
			var ok bool
			if r, ok = <-l.queue; !ok {
				return
			}
		}
		l.batch = append(l.batch[:0], r)
		l.n = len(r.recs)
		// The submitters the previous commit woke are runnable but may not
		// have run yet. Yielding lets them reach their next Append and join
		// this commit instead of the next one; without it a closed loop of
		// N submitters settles into two halves taking turns, N/2 records per
		// commit. It is not a timed wait: when nobody else is runnable it
		// returns at once, and it stops as soon as a yield brings nothing.
		_, open := l.drain()
		for range l.maxYields {
			if l.n >= l.maxBatch || l.carry != nil || !open {
				break
			}
			runtime.Gosched()
			var took int
			if took, open = l.drain(); took == 0 {
				break
			}
		}
		l.commit(l.batch, l.n)
		clear(l.batch) // drop references to pooled requests
	}
}

// drain moves the requests already queued into l.batch, without waiting,
// until the batch holds maxBatch records. It reports how many it took and
// whether the queue is still open.
func (l *Log) drain() (took int, open bool) {
	for l.n < l.maxBatch {
		select {
		case r, ok := <-l.queue:
			if !ok {
				return took, false
			}
			if l.n+len(r.recs) > l.maxBatch {
				l.carry = r // a request is never split across commits
				return took, true
			}
			l.batch = append(l.batch, r)
			l.n += len(r.recs)
			took++
		default:
			return took, true
		}
	}
	return took, true
}

// commit writes batch in one transaction, fsyncs it, calls the applied
// callbacks in order and then wakes the waiters.
func (l *Log) commit(batch []*request, n int) {
	start := l.now()
	l.wmu.Lock()
	if l.broken != nil {
		err := fmt.Errorf("store: append: %w", l.broken)
		l.wmu.Unlock()
		l.fail(batch, err)
		return
	}
	committing, err := l.write(batch)
	if err != nil {
		l.failed.Add(1)
		if committing && uncertain(err) {
			err = l.breakOn(err, n)
		} else {
			err = fmt.Errorf("store: commit of %d records: %w", n, mapErr(err))
			l.log.Error("store: commit failed", "records", n, "requests", len(batch), "err", err)
			// Nothing was written: the keys on disk are those of the
			// last good commit.
			if lerr := l.loadLast(); lerr != nil {
				l.log.Error("store: reloading last sequence", "err", lerr)
			}
		}
		l.wmu.Unlock()
		l.fail(batch, err)
		return
	}
	l.wmu.Unlock()
	l.next += uint64(n)
	l.last.Store(l.next - 1)
	l.commits.Add(1)
	l.records.Add(uint64(n))
	d := l.now().Sub(start)
	if d > slowCommit {
		l.log.Warn("store: slow commit", "records", n, "took", d)
	}
	if l.observe != nil {
		l.observe(d, n)
	}
	for _, r := range batch {
		if r.applied != nil {
			r.applied(r.first)
		}
	}
	for _, r := range batch {
		r.done <- struct{}{}
	}
}

// fail answers every request of batch with err.
func (l *Log) fail(batch []*request, err error) {
	for _, r := range batch {
		r.err = err
		r.done <- struct{}{}
	}
}

// breakOn handles a commit of n records from l.next that failed after
// bbolt began writing it. Its records may be in the file, and its callers
// are about to be told they are not: so before they are, the log stops
// writing (a later commit would be built on the failed one and make it
// durable) and records on disk, beside the file, where the refused records
// start, for Open to drop them. Their sequences are not used up, and
// LastSeq and Iterate never show them. It returns the error for the
// callers; l.wmu is held.
func (l *Log) breakOn(cause error, n int) error {
	l.broken = fmt.Errorf("%w: commit of %d records from seq %d: %w", ErrFailed, n, l.next, cause)
	l.refused = l.next
	l.log.Error("store: commit failed; no more writes until the log is reopened, which drops its records",
		"records", n, "from_seq", l.next, "err", cause)
	if err := writeRefused(l.db.Path(), l.refused); err != nil {
		l.markLater = true
		l.log.Error("store: cannot mark the failed commit's records as refused yet; trying again at close",
			"from_seq", l.refused, "err", err)
	}
	return l.broken
}

// write puts batch under sequences l.next... and commits. It assigns each
// request's first sequence but leaves l.next alone, so a failure costs no
// sequence numbers. committing reports that the error came from the commit
// itself, after which bbolt may have written to the file.
func (l *Log) write(batch []*request) (committing bool, err error) {
	tx, err := l.db.Begin(true)
	if err != nil {
		return false, err
	}
	b, err := eventsBucket(tx)
	if err != nil {
		_ = tx.Rollback()
		return false, err
	}
	// Keys only ever go to the right edge, so full pages are never split
	// again: fill them completely.
	b.FillPercent = 1.0
	seq := l.next
	for _, r := range batch {
		r.first = seq
		for _, rec := range r.recs {
			// Put copies the key, so one buffer serves the whole batch.
			binary.BigEndian.PutUint64(l.key[:], seq)
			if err := b.Put(l.key[:], rec); err != nil {
				_ = tx.Rollback()
				return false, err
			}
			seq++
		}
	}
	// Commit writes the pages and fsyncs (bbolt's NoSync stays false).
	if err := l.commitTx(tx); err != nil {
		_ = tx.Rollback()
		return true, err
	}
	return false, nil
}
