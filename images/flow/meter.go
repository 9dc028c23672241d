// Package flow records TCP connections the way a network flow sensor does:
// a record when a connection opens, an interim record at a fixed interval
// while it lasts and a record when it closes, each with the bytes since the
// connection's previous record, and a heartbeat at the same interval. The
// game's ground truth is built from such records: a connection counts from
// the moment it opens, for as long as it stays open, and a heartbeat says
// how far a recorder's records are complete.
//
// Two kinds of recorder use it. Every built-in target wraps its listeners
// with a Recorder (Recorder.Listen), which writes one flow line per record
// to the target's log ({"flow":{...}}: addresses, ports, times and bytes,
// never a team's name), so that traffic reaching a target without a gateway
// (from a team's attack box) is seen too. A team's gateway counts its
// connections with a Meter of its own and writes them as its telemetry.
//
// This package must never import the range, the scoreboard or a target:
// targets and gateways import it.
package flow

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultInterval is how often a Meter reports each live connection and
// its heartbeat when no interval is set.
const DefaultInterval = 5 * time.Second

// Kind says what a record reports.
type Kind string

// Kinds of record.
const (
	// Open: the connection is established.
	Open Kind = "open"
	// Interim: the connection is still open.
	Interim Kind = "interim"
	// Close: the connection has ended.
	Close Kind = "close"
	// Heartbeat: the recorder lives, and every record it made before At
	// has been written.
	Heartbeat Kind = "heartbeat"
)

// Valid reports whether k is one of the kinds above.
func (k Kind) Valid() bool {
	switch k {
	case Open, Interim, Close, Heartbeat:
		return true
	}
	return false
}

// Report is one record of a Meter: a connection's open, interim or close
// record, or a heartbeat.
type Report[T any] struct {
	Kind Kind
	// Run names the Meter (one per process); ID the connection within it.
	Run string
	ID  uint64
	// Start is when the connection was made, At when the report was made.
	Start, At time.Time
	// Read and Written are what the connection read and wrote since its
	// previous report, so that adding up a connection's reports never
	// counts a byte twice.
	Read, Written int64
	// Info is what the caller said about the connection when it tracked
	// it; zero for a heartbeat.
	Info T
}

// MeterOptions configure a Meter. Report is required.
type MeterOptions[T any] struct {
	// Report receives every report. Calls are serialised and come in the
	// order of their At, so that a heartbeat at time t promises every
	// report of an earlier time has been delivered. A slow Report holds
	// up only the reports behind it: connections are tracked and closed
	// meanwhile, their reports queued.
	Report func(Report[T])
	// Interval is how often live connections and the heartbeat are
	// reported (DefaultInterval when zero).
	Interval time.Duration
	Now      func() time.Time
}

// Meter follows live connections and reports each from the moment it is
// tracked until it is closed. The interim reports and heartbeats come from
// a goroutine that runs while the Meter is started (Start).
type Meter[T any] struct {
	o   MeterOptions[T]
	run string

	// mu is held while a report is made and its time taken, and the
	// report queued: the queue is in the order of the reports' times.
	mu     sync.Mutex
	next   uint64
	live   map[uint64]*Conn[T]
	queued []Report[T]

	// outMu is held by whoever delivers the queue. Delivery is outside
	// mu, so that a slow output (a full pipe, a slow disk) never holds up
	// a connection being accepted or closed: Track and Close leave their
	// report to whoever is delivering already (flush).
	outMu sync.Mutex

	startMu sync.Mutex
	starts  int
	stop    chan struct{}
	done    chan struct{}
}

// NewMeter returns a meter with a run name of its own, random, so that the
// connection ids of a restarted process never mix with its predecessor's.
func NewMeter[T any](o MeterOptions[T]) *Meter[T] {
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Report == nil {
		o.Report = func(Report[T]) {}
	}
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return &Meter[T]{o: o, run: hex.EncodeToString(b[:]), live: map[uint64]*Conn[T]{}}
}

// Run is the meter's run name, which every report carries.
func (m *Meter[T]) Run() string { return m.run }

// Live counts the connections tracked and not yet closed.
func (m *Meter[T]) Live() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.live)
}

// Start makes the meter report its live connections and a heartbeat at
// every interval, beginning with a heartbeat now, until every Start has
// been matched by a call of the stop function it returned. The last stop
// reports a final heartbeat and waits for the reporting goroutine.
func (m *Meter[T]) Start() (stop func()) {
	m.startMu.Lock()
	defer m.startMu.Unlock()
	m.starts++
	if m.starts == 1 {
		m.stop, m.done = make(chan struct{}), make(chan struct{})
		m.heartbeat()
		go m.loop(m.stop, m.done)
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			m.startMu.Lock()
			defer m.startMu.Unlock()
			m.starts--
			if m.starts == 0 {
				close(m.stop)
				<-m.done
				m.heartbeat()
			}
		})
	}
}

func (m *Meter[T]) loop(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(m.o.Interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			m.interim()
		}
	}
}

// interim reports every live connection, then a heartbeat.
func (m *Meter[T]) interim() {
	m.mu.Lock()
	for _, c := range m.live {
		m.reportLocked(c, Interim)
	}
	m.queued = append(m.queued, Report[T]{Kind: Heartbeat, Run: m.run, At: m.o.Now()})
	m.mu.Unlock()
	m.flush(true)
}

// heartbeat reports a heartbeat and returns once it, and every report
// queued before it, has been delivered.
func (m *Meter[T]) heartbeat() {
	m.mu.Lock()
	m.queued = append(m.queued, Report[T]{Kind: Heartbeat, Run: m.run, At: m.o.Now()})
	m.mu.Unlock()
	m.flush(true)
}

// reportLocked queues a report of c with the bytes since its previous
// report; the caller holds m.mu and flushes after releasing it.
func (m *Meter[T]) reportLocked(c *Conn[T], k Kind) {
	r, w := c.read.Load(), c.written.Load()
	m.queued = append(m.queued, Report[T]{Kind: k, Run: m.run, ID: c.id, Start: c.start, At: m.o.Now(),
		Read: r - c.sentRead, Written: w - c.sentWritten, Info: c.info})
	c.sentRead, c.sentWritten = r, w
}

// flush delivers the queue in order. With wait, it returns once
// everything queued before the call has been delivered; without, it
// returns at once when another goroutine is delivering, which then
// delivers what this one queued too: that one checks the queue again
// after it lets outMu go, so nothing queued is left behind.
func (m *Meter[T]) flush(wait bool) {
	for {
		if wait {
			m.outMu.Lock()
		} else if !m.outMu.TryLock() {
			return
		}
		for {
			m.mu.Lock()
			batch := m.queued
			m.queued = nil
			m.mu.Unlock()
			if len(batch) == 0 {
				break
			}
			for _, r := range batch {
				m.o.Report(r)
			}
		}
		m.outMu.Unlock()
		m.mu.Lock()
		more := len(m.queued) > 0
		m.mu.Unlock()
		if !more {
			return
		}
		wait = false
	}
}

// Track starts following c, made at start, and reports it open. The
// returned connection counts what crosses it; closing it reports the
// connection closed, once.
func (m *Meter[T]) Track(c net.Conn, start time.Time, info T) *Conn[T] {
	m.mu.Lock()
	m.next++
	tc := &Conn[T]{Conn: c, m: m, id: m.next, start: start, info: info}
	m.live[tc.id] = tc
	m.reportLocked(tc, Open)
	m.mu.Unlock()
	m.flush(false)
	return tc
}

// Conn is a tracked connection.
type Conn[T any] struct {
	net.Conn
	m     *Meter[T]
	id    uint64
	start time.Time
	info  T

	read, written atomic.Int64
	// sentRead and sentWritten are what the reports so far carried;
	// guarded by m.mu.
	sentRead, sentWritten int64
	closeOnce             sync.Once
}

// ID is the connection's id within its meter's run.
func (c *Conn[T]) ID() uint64 { return c.id }

func (c *Conn[T]) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.read.Add(int64(n))
	return n, err
}

func (c *Conn[T]) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.written.Add(int64(n))
	return n, err
}

// errNoHalfClose is CloseWrite's answer for a connection without one.
var errNoHalfClose = errors.New("flow: the connection cannot half-close")

// CloseWrite passes a half-close on (go-socks5 and net/http look for it;
// tools like ncat end a request with it).
func (c *Conn[T]) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errNoHalfClose
}

// Close closes the connection and reports it closed, the first time.
func (c *Conn[T]) Close() error {
	err := c.Conn.Close()
	c.closeOnce.Do(func() {
		m := c.m
		m.mu.Lock()
		delete(m.live, c.id)
		m.reportLocked(c, Close)
		m.mu.Unlock()
		m.flush(false)
	})
	return err
}
