// Package logship forwards what a defence team's SOC would collect (target
// log lines, sensor connection records) to that team's own collector: syslog
// RFC 5424 over TCP (octet counting, RFC 6587) or TLS (RFC 5425), or Splunk
// HEC JSON over HTTP.
//
// One Shipper per destination. Send never blocks: records wait in a bounded
// buffer, and when the collector is dead or slow the oldest records are
// dropped and counted. The oldest go first because a SOC coming back from an
// outage wants what is happening now, and the records kept stay in order.
//
// Counting is exact for what this side sees: Accepted = Sent + Dropped +
// Queued. Plain syslog over TCP has no acknowledgement, so records already
// in the kernel's socket buffers when a collector dies are lost unseen and
// counted as Sent; a dead peer is noticed after the next write at the
// latest (see peerClosed), so while the sender idles nothing more is lost.
//
// It knows nothing of the game: it must never import scoreboard, range or
// any target package. The caller decides what a team may see.
package logship

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Record is one line a SOC receives.
type Record struct {
	Time time.Time
	// Host is the replica's name (syslog HOSTNAME, HEC host).
	Host string
	// App is the target service or "sensor" (syslog APP-NAME, HEC source).
	App string
	// Data is the structured data: service and replica, and for sensor
	// records what a flow sensor sees. Never a team name.
	Data map[string]string
	// Message is one JSON log line of a target, or one connection record.
	Message []byte
}

// Stats are a Shipper's counters since it started.
type Stats struct {
	Accepted   uint64 // records Send took
	Sent       uint64 // records written to the collector
	Dropped    uint64 // records lost to a full buffer, a rejection or Close
	Queued     int    // records waiting now
	Reconnects uint64 // failed writes or connections followed by a retry
}

// ErrClosed is returned by Close when called twice.
var ErrClosed = errors.New("logship: closed")

// transport writes one batch to the collector. It owns its connection.
type transport interface {
	// write returns nil when the batch is written; errRejected when the
	// collector refused it for good (the batch is dropped, not retried).
	write(ctx context.Context, batch []Record) error
	close() error
}

var errRejected = errors.New("logship: rejected by the collector")

// Options tune a Shipper. The zero value is usable.
type Options struct {
	Buffer     int           // records held while the collector is away (default 10000)
	Batch      int           // records per write (default 256)
	MinBackoff time.Duration // first wait after a failure (default 100ms)
	MaxBackoff time.Duration // longest wait (default 30s)
	// After is the clock for backoff; tests inject their own.
	After  func(time.Duration) <-chan time.Time
	Logger *slog.Logger
}

func (o *Options) defaults() {
	if o.Buffer <= 0 {
		o.Buffer = 10000
	}
	if o.Batch <= 0 {
		o.Batch = 256
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = 100 * time.Millisecond
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = max(30*time.Second, o.MinBackoff)
	}
	if o.After == nil {
		o.After = time.After
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Shipper sends records to one destination from its own goroutine.
type Shipper struct {
	opts Options
	tr   transport

	mu     sync.Mutex
	ring   []Record // capacity opts.Buffer; ring[head%len] is the oldest
	head   uint64   // sequence number of the oldest record held
	tail   uint64   // sequence number the next record gets
	stats  Stats
	closed bool

	wake    chan struct{} // one token: there is work or Close was called
	closing chan struct{}
	cancel  context.CancelFunc
	done    chan struct{}
}

func newShipper(tr transport, opts Options) *Shipper {
	opts.defaults()
	ctx, cancel := context.WithCancel(context.Background())
	s := &Shipper{
		opts:    opts,
		tr:      tr,
		ring:    make([]Record, opts.Buffer),
		wake:    make(chan struct{}, 1),
		closing: make(chan struct{}),
		cancel:  cancel,
		done:    make(chan struct{}),
	}
	go s.run(ctx)
	return s
}

// Send queues r and returns at once. It reports false when the shipper is
// closed. A full buffer drops its oldest record to make room.
func (s *Shipper) Send(r Record) bool {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return false
	}
	if s.tail-s.head == uint64(len(s.ring)) {
		s.ring[s.head%uint64(len(s.ring))] = Record{}
		s.head++
		s.stats.Dropped++
	}
	s.ring[s.tail%uint64(len(s.ring))] = r
	s.tail++
	s.stats.Accepted++
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return true
}

// Stats returns the counters.
func (s *Shipper) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Queued = int(s.tail - s.head)
	return st
}

// peek copies up to Batch of the oldest records, with the sequence number
// of the first. The records stay in the buffer until written, so a failed
// write is retried and overflow still drops the oldest.
func (s *Shipper) peek() ([]Record, uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := min(s.tail-s.head, uint64(s.opts.Batch))
	batch := make([]Record, n)
	for i := range n {
		batch[i] = s.ring[(s.head+i)%uint64(len(s.ring))]
	}
	return batch, s.head
}

// ack removes the written (or rejected) records first..first+n.
func (s *Shipper) ack(first uint64, n int, sent bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	end := first + uint64(n)
	if sent && first < s.head {
		// Overflow counted these as dropped while they were being
		// written; they did reach the collector.
		k := min(end, s.head) - first
		s.stats.Dropped -= k
		s.stats.Sent += k
	}
	if end <= s.head {
		return
	}
	k := end - s.head
	for i := range k {
		s.ring[(s.head+i)%uint64(len(s.ring))] = Record{}
	}
	s.head = end
	if sent {
		s.stats.Sent += k
	} else {
		s.stats.Dropped += k
	}
}

func (s *Shipper) run(ctx context.Context) {
	defer close(s.done)
	backoff := s.opts.MinBackoff
	for {
		batch, first := s.peek()
		if len(batch) == 0 {
			select {
			case <-s.wake:
				continue
			case <-s.closing:
				return
			case <-ctx.Done():
				return
			}
		}
		err := s.tr.write(ctx, batch)
		switch {
		case err == nil:
			s.ack(first, len(batch), true)
			backoff = s.opts.MinBackoff
			continue
		case errors.Is(err, errRejected):
			s.opts.Logger.Warn("logship: batch rejected", "records", len(batch), "err", err)
			s.ack(first, len(batch), false)
			continue
		}
		if ctx.Err() != nil {
			return
		}
		s.mu.Lock()
		s.stats.Reconnects++
		s.mu.Unlock()
		s.opts.Logger.Info("logship: collector unavailable", "retry_in", backoff, "err", err)
		select {
		case <-s.opts.After(backoff):
		case <-ctx.Done():
			return
		}
		backoff = min(2*backoff, s.opts.MaxBackoff)
	}
}

// Close stops accepting records and tries to deliver those held until ctx
// ends; what is left then is counted as dropped and reported in the error.
func (s *Shipper) Close(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	s.closed = true
	s.mu.Unlock()
	close(s.closing)
	select {
	case <-s.done:
	case <-ctx.Done():
		s.cancel()
		<-s.done
	}
	s.cancel()
	err := s.tr.close()
	s.mu.Lock()
	left := s.tail - s.head
	s.stats.Dropped += left
	s.head = s.tail
	s.mu.Unlock()
	if left > 0 {
		return fmt.Errorf("logship: %d records undelivered at close: %w", left, context.Cause(ctx))
	}
	return err
}
