package live

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// ViewerOptions configure Viewers, the load generator of `cyrange bench
// live`. It opens many connections, so run it in a process of its own: open
// files are limited per process.
type ViewerOptions struct {
	// URL is the stream, e.g. ws://127.0.0.1:8080/api/v1/live.
	URL string
	// Viewers is how many connections to open.
	Viewers int
	// Header goes with every handshake (Origin, Authorization...).
	Header http.Header
	// Concurrency bounds the handshakes in flight. Default 64.
	Concurrency int
	// HandshakeTimeout bounds each handshake and its snapshot. Default 10s.
	HandshakeTimeout time.Duration
	// Duration is how long to measure once every viewer has its
	// snapshot; 0 measures until ctx is done.
	Duration time.Duration
	// Settle is how long frames stamped within the measured period may
	// still arrive after it. Default 2s.
	Settle time.Duration
	// Ready, if set, is called once every connection has its snapshot or
	// has failed, just before measuring starts: the caller starts making
	// changes then.
	Ready func(connected int)
}

// ViewerResult is what Viewers measured. Latencies run from the change's
// application on the server ("at") to the frame's arrival; only frames
// stamped within the measured period count.
type ViewerResult struct {
	// Viewers got their snapshot; Failed did not.
	Viewers int
	Failed  int
	// ConnectTime is how long it took until every viewer had its
	// snapshot.
	ConnectTime time.Duration
	// Frames is how many distinct frames were counted, Received how many
	// arrivals (frames × viewers that got them).
	Frames   int
	Received int
	P50      time.Duration
	P90      time.Duration
	P99      time.Duration
	Max      time.Duration
	// MinReach is the fewest viewers any counted frame reached;
	// FullyReached counts the frames every connected viewer received.
	MinReach     int
	FullyReached int
	// Dropped counts viewers the server closed before the end; Gaps the
	// viewers that saw a hole in seq.
	Dropped int
	Gaps    int
	// PerFrame lists each counted frame in seq order.
	PerFrame []FrameReach
}

// FrameReach is how many viewers one frame reached, and how late.
type FrameReach struct {
	Seq     uint64
	At      time.Time
	Viewers int
	P99     time.Duration
}

// sample is one frame's arrival at one viewer.
type sample struct {
	seq uint64
	at  int64
	lat int64
}

// stamp is the part of a message the load generator reads.
type stamp struct {
	Type string `json:"type"`
	Seq  uint64 `json:"seq"`
	At   int64  `json:"at"`
}

// decodeStamp reads a message's type, seq and at. The server writes them
// first, in that order, so a quick look at the start usually suffices;
// anything else goes through the JSON decoder.
func decodeStamp(b []byte) (stamp, error) {
	if s, ok := quickStamp(b); ok {
		return s, nil
	}
	var s stamp
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("live: decoding a message: %w", err)
	}
	switch s.Type {
	case TypeSnapshot, TypeDelta, TypeTick, TypeEvent:
		return s, nil
	}
	return s, fmt.Errorf("live: unknown message type %q", s.Type)
}

// quickStamp parses `{"type":"T","seq":N` and an optional `,"at":N` at
// the start of b, followed by `,` or `}`. It reports false for anything
// else, leaving the decision to the JSON decoder.
func quickStamp(b []byte) (stamp, bool) {
	var s stamp
	rest, ok := bytes.CutPrefix(b, []byte(`{"type":"`))
	if !ok {
		return s, false
	}
	i := bytes.IndexByte(rest, '"')
	if i < 0 {
		return s, false
	}
	s.Type = string(rest[:i])
	switch s.Type {
	case TypeSnapshot, TypeDelta, TypeTick, TypeEvent:
	default:
		return s, false
	}
	rest, ok = bytes.CutPrefix(rest[i+1:], []byte(`,"seq":`))
	if !ok {
		return s, false
	}
	var n uint64
	if n, rest, ok = quickUint(rest); !ok {
		return s, false
	}
	s.Seq = n
	if r, ok := bytes.CutPrefix(rest, []byte(`,"at":`)); ok {
		if n, rest, ok = quickUint(r); !ok || n > 1<<63-1 {
			return s, false
		}
		s.At = int64(n)
	}
	if len(rest) == 0 || (rest[0] != ',' && rest[0] != '}') {
		return s, false
	}
	return s, true
}

// quickUint parses the decimal digits at the start of b; no leading zero,
// no overflow.
func quickUint(b []byte) (uint64, []byte, bool) {
	var n uint64
	i := 0
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		if n > (1<<64-1)/10 {
			return 0, b, false
		}
		d := uint64(b[i] - '0')
		if n*10 > 1<<64-1-d {
			return 0, b, false
		}
		n = n*10 + d
	}
	if i == 0 || (i > 1 && b[0] == '0') {
		return 0, b, false
	}
	return n, b[i:], true
}

// swarm is a set of stream clients.
type swarm struct {
	dialer websocket.Dialer
	header http.Header
	url    string
	// from: arrivals of frames stamped before it are not recorded.
	from atomic.Int64
	// onFrame, if set, hears every stamped arrival.
	onFrame func(seq uint64, lat time.Duration)

	mu      sync.Mutex
	clients []*client
	wg      sync.WaitGroup
	closing atomic.Bool
}

type client struct {
	conn    *websocket.Conn
	samples []sample
	gap     bool
	dropped bool
}

func newSwarm(url string, header http.Header, timeout time.Duration) *swarm {
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	nd := &net.Dialer{Timeout: timeout, KeepAlive: -1}
	return &swarm{url: url, header: header, dialer: websocket.Dialer{
		NetDialContext:   nd.DialContext,
		HandshakeTimeout: timeout,
		ReadBufferSize:   1024,
		WriteBufferSize:  256,
		WriteBufferPool:  &sync.Pool{},
	}}
}

// connect opens n clients, at most conc handshakes at a time, and returns
// once each has its snapshot or has failed.
func (s *swarm) connect(ctx context.Context, n, conc int) (ok int, firstErr error) {
	if conc <= 0 {
		conc = 64
	}
	sem := make(chan struct{}, conc)
	var wg sync.WaitGroup
	var mu sync.Mutex
	for range n {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return ok, ctx.Err()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			err := s.dial(ctx)
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				ok++
			} else if firstErr == nil {
				firstErr = err
			}
		}()
	}
	wg.Wait()
	return ok, firstErr
}

func (s *swarm) dial(ctx context.Context) error {
	conn, resp, err := s.dialer.DialContext(ctx, s.url, s.header)
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	if err != nil {
		return fmt.Errorf("live: dialing %s: %w", s.url, err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(s.dialer.HandshakeTimeout))
	_, b, err := conn.ReadMessage()
	if err == nil {
		var st stamp
		if st, err = decodeStamp(b); err == nil && st.Type != TypeSnapshot {
			err = fmt.Errorf("live: first message is %q, not a snapshot", st.Type)
		}
		if err == nil {
			c := &client{conn: conn}
			_ = conn.SetReadDeadline(time.Time{})
			s.mu.Lock()
			s.clients = append(s.clients, c)
			s.mu.Unlock()
			s.wg.Add(1)
			go s.read(c, st.Seq)
			return nil
		}
	}
	_ = conn.Close()
	return fmt.Errorf("live: waiting for the snapshot: %w", err)
}

func (s *swarm) read(c *client, seq uint64) {
	defer s.wg.Done()
	for {
		_, b, err := c.conn.ReadMessage()
		now := time.Now().UnixNano()
		if err != nil {
			c.dropped = !s.closing.Load()
			return
		}
		st, err := decodeStamp(b)
		if err != nil {
			continue
		}
		if st.Seq != seq+1 {
			c.gap = true
		}
		seq = st.Seq
		if st.At == 0 || st.At < s.from.Load() {
			continue
		}
		c.samples = append(c.samples, sample{seq: st.Seq, at: st.At, lat: now - st.At})
		if s.onFrame != nil {
			s.onFrame(st.Seq, time.Duration(now-st.At))
		}
	}
}

// close ends every client and waits for their readers.
func (s *swarm) close() {
	s.closing.Store(true)
	s.mu.Lock()
	cs := s.clients
	s.mu.Unlock()
	for _, c := range cs {
		_ = c.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""),
			time.Now().Add(time.Second))
		_ = c.conn.Close()
	}
	s.wg.Wait()
}

// Viewers opens o.Viewers stream clients, waits for their snapshots, then
// records every stamped frame they receive for o.Duration (or until ctx is
// done) and summarises the arrivals.
func Viewers(ctx context.Context, o ViewerOptions) (*ViewerResult, error) {
	if o.URL == "" || o.Viewers <= 0 {
		return nil, errors.New("live: viewers: need a URL and at least one viewer")
	}
	if o.Settle <= 0 {
		o.Settle = 2 * time.Second
	}
	s := newSwarm(o.URL, o.Header, o.HandshakeTimeout)
	// Nothing stamped before the measurement counts.
	s.from.Store(1<<63 - 1)
	begin := time.Now()
	ok, err := s.connect(ctx, o.Viewers, o.Concurrency)
	res := &ViewerResult{Viewers: ok, Failed: o.Viewers - ok, ConnectTime: time.Since(begin)}
	if ok == 0 {
		s.close()
		if err == nil {
			err = errors.New("live: viewers: no connection")
		}
		return res, err
	}
	start := time.Now()
	s.from.Store(start.UnixNano())
	if o.Ready != nil {
		o.Ready(ok)
	}
	var end <-chan time.Time
	if o.Duration > 0 {
		t := time.NewTimer(o.Duration)
		defer t.Stop()
		end = t.C
	}
	stop := start
	select {
	case <-ctx.Done():
		stop = time.Now()
	case <-end:
		stop = time.Now()
		select {
		case <-ctx.Done():
		case <-time.After(o.Settle):
		}
	}
	s.close()
	summarise(res, s.clients, stop.UnixNano())
	return res, nil
}

// summarise fills res from the clients' samples of frames stamped before
// until.
func summarise(res *ViewerResult, clients []*client, until int64) {
	type frameAcc struct {
		at   int64
		lats []int64
	}
	frames := map[uint64]*frameAcc{}
	var all []int64
	for _, c := range clients {
		if c.dropped {
			res.Dropped++
		}
		if c.gap {
			res.Gaps++
		}
		for _, sm := range c.samples {
			if sm.at > until {
				continue
			}
			f := frames[sm.seq]
			if f == nil {
				f = &frameAcc{at: sm.at}
				frames[sm.seq] = f
			}
			f.lats = append(f.lats, sm.lat)
			all = append(all, sm.lat)
		}
	}
	res.Frames = len(frames)
	res.Received = len(all)
	slices.Sort(all)
	res.P50, res.P90, res.P99 = pct(all, 50), pct(all, 90), pct(all, 99)
	if len(all) > 0 {
		res.Max = time.Duration(all[len(all)-1])
	}
	seqs := make([]uint64, 0, len(frames))
	for q := range frames {
		seqs = append(seqs, q)
	}
	slices.Sort(seqs)
	res.MinReach = 0
	for i, q := range seqs {
		f := frames[q]
		slices.Sort(f.lats)
		n := len(f.lats)
		if i == 0 || n < res.MinReach {
			res.MinReach = n
		}
		if n >= len(clients) {
			res.FullyReached++
		}
		res.PerFrame = append(res.PerFrame, FrameReach{Seq: q, At: time.Unix(0, f.at), Viewers: n, P99: pct(f.lats, 99)})
	}
}

// pct returns the p-th percentile of sorted nanoseconds (nearest rank).
func pct(sorted []int64, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := (len(sorted)*p + 99) / 100
	if i > 0 {
		i--
	}
	return time.Duration(sorted[i])
}
