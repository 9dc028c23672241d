package submit

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cyrange/cyrange/internal/admit"
	"github.com/cyrange/cyrange/scoreboard"
	"github.com/cyrange/cyrange/scoreboard/tokens"
)

// Lines of the TCP protocol (PROTOCOLS.md §1) that do not depend on a flag.
const (
	greeting = "Welcome to the cyrange flag submission service.\n" +
		"Enter your flags, one per line. Send your team token first, unless you connect from your team's network.\n\n"
	replyTokenOK      = "team token accepted, enter your flags\n"
	replyBadToken     = "invalid team token\n"
	replyLineTooLong  = "ERR line too long\n"
	replyTooManyConns = "ERR too many connections, try again later\n"
)

// Defaults of TCPOptions.
const (
	DefaultIdleTimeout         = 60 * time.Second
	DefaultAuthTimeout         = 10 * time.Second
	DefaultMaxPending          = 1024
	DefaultMaxPendingPerSource = 128
	DefaultMaxConnsPerTeam     = 64
	DefaultMaxBatch            = 1000
	DefaultMaxInFlight         = 8
)

// linger is how long a connection we close keeps reading (and dropping)
// what the client still sends, so that the kernel does not reset it and
// throw away our last reply before the client reads it.
const linger = time.Second

// readBufSize holds a full batch of flags with room to spare; it must
// exceed MaxLine+1. A connection gets it once authenticated: until then it
// reads into authBufSize, so that a flood of strangers costs little memory.
const (
	readBufSize = 64 << 10
	authBufSize = 512
)

// TCPOptions configure a TCPServer. Judge and Auth are required.
type TCPOptions struct {
	Judge Judge
	Auth  Authenticator
	// Limiter throttles each team; nil means no limit.
	Limiter *Limiter
	Logger  *slog.Logger
	// IdleTimeout closes a connection that sends nothing (or reads
	// nothing we write) for that long; 0 means DefaultIdleTimeout.
	IdleTimeout time.Duration
	// AuthTimeout is how long a connection has, from its accept, to send
	// its token; nothing it sends meanwhile (blank lines, a token in
	// pieces) extends it. 0 means DefaultAuthTimeout; it is never longer
	// than IdleTimeout.
	AuthTimeout time.Duration
	// AddressIdentity identifies a connection from a team's network by its
	// source address (Judge.TeamByAddr), without a token. Set it only
	// where a team's addresses cannot be forged: the Docker driver's team
	// networks are bridges of their own, but on the local driver any
	// process of the machine can bind a team's loopback address.
	AddressIdentity bool
	// MaxPending bounds the connections that have not sent a valid token
	// yet, MaxPendingPerSource those of one source address (IPv6: one
	// /64). Beyond either bound a new connection pushes out the oldest of
	// them (of its own source first) rather than being turned away. 0
	// means DefaultMaxPending, DefaultMaxPendingPerSource.
	MaxPending          int
	MaxPendingPerSource int
	// MaxConnsPerTeam bounds each team's authenticated connections; one
	// more gets "ERR too many connections" and is closed. 0 means
	// DefaultMaxConnsPerTeam.
	MaxConnsPerTeam int
	// MaxBatch is the most lines handed to the judge at once; 0 means
	// DefaultMaxBatch.
	MaxBatch int
	// MaxInFlight is how many batches of one connection may be judged at
	// once; 0 means DefaultMaxInFlight.
	MaxInFlight int
	// Observe, if set, counts the verdicts sent.
	Observe Observer
}

// TCPServer serves the line protocol of PROTOCOLS.md §1.
//
// A connection is identified by a first line holding a team token or, with
// AddressIdentity, by its source address (a team's network,
// Judge.TeamByAddr). A connection identified by its address may still send
// a token as its first line (farm clients written for token servers do): a
// line that is not flag-shaped and is a valid token is then taken as a
// token line, and the token's team wins over the address's. Blank lines are
// ignored, and the spaces, tabs and "\r" around a flag are dropped.
//
// No flood keeps a team out (see package admit): a connection must send
// its token within AuthTimeout of its accept, strangers wait in a bounded
// pool where a newcomer pushes out the oldest, and each team's
// authenticated connections count only against that team's own bound.
// Until it has sent its token a connection is served by one goroutine and
// a small buffer.
//
// Each connection has a reader, which cuts everything the client has
// already sent into batches, and a writer, which writes the replies batch
// by batch in order; up to MaxInFlight batches are judged concurrently in
// between, so one fsync per batch rather than per flag bounds a pipelining
// client. A slow client stalls only its own connection.
type TCPServer struct {
	o       TCPOptions
	log     *slog.Logger
	batches sync.Pool // of *batch
	bufs    sync.Pool // of *[]byte, read buffers
	writers sync.Pool // of *bufio.Writer

	pool *admit.Pool

	mu     sync.Mutex
	closed bool
	serves map[*serving]struct{}
}

// serving is one Serve call: its listener and the connections it accepted.
type serving struct {
	ln    net.Listener
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// NewTCPServer returns a server; call Serve to run it.
func NewTCPServer(o TCPOptions) *TCPServer {
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.AuthTimeout <= 0 {
		o.AuthTimeout = DefaultAuthTimeout
	}
	o.AuthTimeout = min(o.AuthTimeout, o.IdleTimeout)
	if o.MaxPending <= 0 {
		o.MaxPending = DefaultMaxPending
	}
	if o.MaxPendingPerSource <= 0 {
		o.MaxPendingPerSource = DefaultMaxPendingPerSource
	}
	if o.MaxConnsPerTeam <= 0 {
		o.MaxConnsPerTeam = DefaultMaxConnsPerTeam
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = DefaultMaxBatch
	}
	if o.MaxInFlight <= 0 {
		o.MaxInFlight = DefaultMaxInFlight
	}
	s := &TCPServer{o: o, log: o.Logger, serves: map[*serving]struct{}{},
		pool: admit.NewPool(admit.Limits{Pending: o.MaxPending, PendingPerSource: o.MaxPendingPerSource, PerPrincipal: o.MaxConnsPerTeam})}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.batches.New = func() any { return &batch{done: make(chan struct{}, 1)} }
	s.bufs.New = func() any { b := make([]byte, readBufSize); return &b }
	s.writers.New = func() any { return bufio.NewWriterSize(nil, 32<<10) }
	return s
}

// Serve accepts connections on ln until ctx is done or Close is called,
// then closes the connections it accepted, waits for them and returns nil.
// It returns an error only when ln fails for good. Serve may run on several
// listeners at once.
func (s *TCPServer) Serve(ctx context.Context, ln net.Listener) error {
	if s.o.Judge == nil || s.o.Auth == nil {
		return fmt.Errorf("submit: tcp server needs a judge and an authenticator: %w", scoreboard.ErrInvalid)
	}
	sv := &serving{ln: ln, conns: map[net.Conn]struct{}{}}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ln.Close()
		return nil
	}
	s.serves[sv] = struct{}{}
	s.mu.Unlock()

	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	err := s.accept(ctx, sv)

	s.mu.Lock()
	delete(s.serves, sv)
	for c := range sv.conns {
		c.Close()
	}
	s.mu.Unlock()
	ln.Close()
	sv.wg.Wait()
	return err
}

func (s *TCPServer) accept(ctx context.Context, sv *serving) error {
	backoff := 5 * time.Millisecond
	for {
		nc, err := sv.ln.Accept()
		if err != nil {
			if ctx.Err() != nil || s.isClosed() {
				return nil
			}
			if errors.Is(err, net.ErrClosed) {
				return fmt.Errorf("submit: accepting: %w", err)
			}
			// Out of file descriptors and the like: wait and retry
			// rather than drop the door.
			s.log.Warn("accepting a submission connection", "err", err)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 5 * time.Millisecond
		accepted := time.Now()
		// Admitted here, in accept order, so that "the oldest" is the
		// oldest accepted.
		t, team, known := s.admit(nc)
		if t == nil {
			// A team at its bound, known by its address. A fresh
			// socket's send buffer is empty: this write does not block.
			nc.SetWriteDeadline(time.Now().Add(time.Second))
			io.WriteString(nc, replyTooManyConns)
			nc.Close()
			continue
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			t.Release()
			nc.Close()
			return nil
		}
		sv.conns[nc] = struct{}{}
		sv.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer sv.wg.Done()
			s.handle(ctx, nc, t, team, known, accepted)
			nc.Close()
			t.Release()
			s.mu.Lock()
			delete(sv.conns, nc)
			s.mu.Unlock()
		}()
	}
}

// admit places a new connection: as its team's when AddressIdentity knows
// its address (nil when that team holds its bound), else among the
// strangers, pushing out the oldest of them if need be.
func (s *TCPServer) admit(nc net.Conn) (t *admit.Ticket, team int, known bool) {
	addr, _ := remoteAddr(nc)
	if s.o.AddressIdentity {
		if team, ok := s.o.Judge.TeamByAddr(addr); ok {
			t, err := s.pool.AdmitAs(addr, team)
			if err != nil {
				return nil, 0, false
			}
			return t, team, true
		}
	}
	return s.pool.Admit(addr, func() { nc.Close() }), 0, false
}

func (s *TCPServer) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Close stops every Serve and closes every connection; the Serve calls
// return once their connections are done.
func (s *TCPServer) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for sv := range s.serves {
		sv.ln.Close()
		for c := range sv.conns {
			c.Close()
		}
	}
}

// lineKind is what the reader made of one line of a batch.
type lineKind uint8

const (
	lineFlag     lineKind = iota // flag-shaped: for the judge
	lineNotShape                 // not even flag-shaped: invalid
)

type lineRef struct {
	start, end int32
	kind       lineKind
}

// batch is a run of lines judged together, and their replies. The reader
// fills it, a worker judges it and writes out, the writer sends out.
type batch struct {
	data  []byte
	lines []lineRef
	flags [][]byte // flag-shaped lines granted by the limiter, in order
	// shaped counts flag-shaped lines; those after the granted ones are
	// refused as rate-limited.
	shaped int
	phase  string // why the game takes no flag now, or ""
	out    []byte
	// closeAfter closes the connection once out is written.
	closeAfter bool
	done       chan struct{}
}

func (b *batch) reset() {
	b.data, b.lines, b.out = b.data[:0], b.lines[:0], b.out[:0]
	clear(b.flags)
	b.flags = b.flags[:0]
	b.shaped, b.phase, b.closeAfter = 0, "", false
}

// conn is one client connection.
type conn struct {
	s      *TCPServer
	ctx    context.Context
	nc     net.Conn
	ticket *admit.Ticket
	lr     *lineReader
	team   int
	known  bool
	// maybeToken: the first line of a connection identified by address
	// may still be a token.
	maybeToken bool
	queue      chan *batch
	slots      chan struct{}
	bw         *bufio.Writer

	// mu orders the reader's idle deadlines against the writer's linger
	// deadline, which must win once closing is set.
	mu      sync.Mutex
	closing atomic.Bool
}

func (s *TCPServer) handle(ctx context.Context, nc net.Conn, t *admit.Ticket, team int, known bool, accepted time.Time) {
	c := &conn{s: s, ctx: ctx, nc: nc, ticket: t, team: team, known: known, maybeToken: known}
	authBy := accepted.Add(s.o.AuthTimeout)
	// Nothing is queued yet: the greeting goes out directly.
	nc.SetWriteDeadline(authBy)
	if _, err := io.WriteString(nc, greeting); err != nil {
		return
	}
	c.lr = newLineReader(nc, make([]byte, authBufSize), MaxLine)
	if !known && !c.authenticate(authBy) {
		return
	}
	bufp := s.bufs.Get().(*[]byte)
	c.lr.moveTo(*bufp)
	bw := s.writers.Get().(*bufio.Writer)
	bw.Reset(nc)
	c.bw = bw
	c.queue, c.slots = make(chan *batch, s.o.MaxInFlight), make(chan struct{}, s.o.MaxInFlight)
	written := make(chan struct{})
	go c.writeLoop(written)
	if !known {
		c.control(replyTokenOK, false)
	}
	c.readLoop()
	close(c.queue)
	<-written
	bw.Reset(nil)
	s.writers.Put(bw)
	s.bufs.Put(bufp)
}

// authenticate reads the token line, ignoring blank lines, until authBy.
// It reports whether the connection goes on as a team's; otherwise it has
// answered the client if there was anything to answer.
func (c *conn) authenticate(authBy time.Time) bool {
	c.nc.SetReadDeadline(authBy)
	for {
		line, ok, err := c.lr.next()
		if err != nil {
			c.refuse(replyLineTooLong)
			return false
		}
		if !ok {
			if c.lr.eof {
				return false
			}
			if err := c.lr.fill(); err != nil && !errors.Is(err, io.EOF) {
				return false // the deadline, typically
			}
			continue
		}
		if line = trimBlank(line); len(line) == 0 {
			continue
		}
		p, err := c.s.o.Auth.Lookup(string(line))
		switch {
		case err != nil:
			c.refuse(replyBadToken)
			return false
		case p.Kind != tokens.TeamToken:
			c.refuse(msgOrganizer + "\n")
			return false
		case !p.Role.Attacks():
			c.refuse(msgNoAttack + "\n")
			return false
		}
		switch err := c.ticket.Authenticate(p.Team); {
		case errors.Is(err, admit.ErrTooMany):
			c.refuse(replyTooManyConns)
			return false
		case err != nil:
			return false // pushed out by newer connections meanwhile
		}
		c.team, c.known = p.Team, true
		return true
	}
}

// refuse answers a connection that has not authenticated and closes it
// gently (see closeGently); only the reader goroutine runs yet.
func (c *conn) refuse(text string) {
	c.nc.SetWriteDeadline(time.Now().Add(linger))
	if _, err := io.WriteString(c.nc, text); err != nil {
		return
	}
	if cw, ok := c.nc.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	c.nc.SetReadDeadline(time.Now().Add(linger))
	for {
		if _, err := c.nc.Read(c.lr.buf); err != nil {
			return
		}
	}
}

func (c *conn) newBatch() *batch {
	b := c.s.batches.Get().(*batch)
	b.reset()
	return b
}

// control queues a reply that needs no judging.
func (c *conn) control(text string, closeAfter bool) {
	b := c.newBatch()
	b.out = append(b.out, text...)
	b.closeAfter = closeAfter
	b.done <- struct{}{}
	c.slots <- struct{}{}
	c.queue <- b
}

// readLoop reads until the client leaves, idles, or must be closed.
func (c *conn) readLoop() {
	b := c.newBatch()
	defer func() {
		if b != nil {
			c.s.batches.Put(b)
		}
	}()
	for {
		if c.closing.Load() {
			c.drain()
			return
		}
		line, ok, err := c.lr.next()
		if err != nil {
			if len(b.lines) > 0 {
				c.dispatch(b)
				b = nil
			}
			c.control(replyLineTooLong, true)
			c.drain()
			return
		}
		if ok {
			var stop bool
			if b, stop = c.take(b, line); stop {
				c.drain()
				return
			}
			continue
		}
		if len(b.lines) > 0 {
			c.dispatch(b)
			b = c.newBatch()
		}
		if c.lr.eof {
			return
		}
		c.mu.Lock()
		if !c.closing.Load() {
			c.nc.SetReadDeadline(time.Now().Add(c.s.o.IdleTimeout))
		}
		c.mu.Unlock()
		if err := c.lr.fill(); err != nil && !errors.Is(err, io.EOF) {
			return
		}
	}
}

// take adds one line to the batch, or handles it as the token line of a
// connection identified by its address. It returns the batch to go on
// with, and stop when the connection is done.
func (c *conn) take(b *batch, line []byte) (*batch, bool) {
	line = trimBlank(line)
	if len(line) == 0 {
		return b, false
	}
	if c.maybeToken && !flagShaped(line) {
		c.maybeToken = false
		// Not a token: a line like any other (a flag, after all).
		if p, err := c.s.o.Auth.Lookup(string(line)); err == nil {
			switch {
			case p.Kind != tokens.TeamToken:
				c.control(msgOrganizer+"\n", true)
				return b, true
			case !p.Role.Attacks():
				c.control(msgNoAttack+"\n", true)
				return b, true
			case c.ticket.Authenticate(p.Team) != nil:
				c.control(replyTooManyConns, true)
				return b, true
			}
			c.team = p.Team
			c.control(replyTokenOK, false)
			return b, false
		}
	}
	c.maybeToken = false
	kind := lineNotShape
	if flagShaped(line) {
		kind = lineFlag
		b.shaped++
	}
	start := len(b.data)
	b.data = append(b.data, line...)
	b.lines = append(b.lines, lineRef{start: int32(start), end: int32(len(b.data)), kind: kind})
	if len(b.lines) >= c.s.o.MaxBatch {
		c.dispatch(b)
		b = c.newBatch()
	}
	return b, false
}

// trimBlank drops the spaces and tabs around a line: people type flags
// by hand too.
func trimBlank(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// dispatch decides the batch's phase and rate limit in submission order,
// then judges it concurrently with the batches before it.
func (c *conn) dispatch(b *batch) {
	if b.shaped > 0 {
		if b.phase = c.s.o.Judge.PhaseError(); b.phase == "" {
			granted, _ := c.s.o.Limiter.Take(c.team, b.shaped)
			for _, l := range b.lines {
				if len(b.flags) == granted {
					break
				}
				if l.kind == lineFlag {
					b.flags = append(b.flags, b.data[l.start:l.end:l.end])
				}
			}
		}
	}
	c.slots <- struct{}{}
	c.queue <- b
	if len(b.flags) == 0 {
		c.judge(b)
		return
	}
	go c.judge(b)
}

// judge asks the judge about the batch's flags and writes the replies.
func (c *conn) judge(b *batch) {
	defer func() { b.done <- struct{}{} }()
	var vs []scoreboard.Verdict
	var err error
	if len(b.flags) > 0 {
		vs, err = c.s.o.Judge.Submit(c.ctx, c.team, b.flags)
		if err == nil && len(vs) != len(b.flags) {
			err = fmt.Errorf("submit: %d verdicts for %d flags", len(vs), len(b.flags))
		}
		if err != nil {
			if errors.Is(err, scoreboard.ErrForbidden) {
				b.out = append(b.out, msgNoAttack+"\n"...)
				b.closeAfter = true
				return
			}
			c.s.log.Warn("flags not judged", "team", c.team, "flags", len(b.flags), "err", err)
			vs = nil
		}
	}
	var t tally
	j := 0
	for _, l := range b.lines {
		code, msg := scoreboard.CodeINV, scoreboard.MsgInvalid
		if l.kind == lineFlag {
			switch {
			case b.phase != "":
				code, msg = scoreboard.CodeERR, b.phase
			case j >= len(b.flags):
				code, msg = scoreboard.CodeERR, msgRateLimited
			case vs == nil:
				code, msg = scoreboard.CodeERR, msgSubmitFailed
			default:
				code, msg = vs[j].Code, vs[j].Msg
			}
			j++
		}
		t.add(code, 1)
		b.out = append(b.out, b.data[l.start:l.end]...)
		b.out = append(b.out, ' ')
		b.out = append(b.out, code.String()...)
		b.out = append(b.out, ' ')
		b.out = append(b.out, msg...)
		b.out = append(b.out, '\n')
	}
	t.report(c.s.o.Observe)
}

// writeLoop sends the batches' replies in order, flushing only when the
// next batch is not ready, so a pipelining client gets few large writes.
func (c *conn) writeLoop(written chan<- struct{}) {
	defer close(written)
	broken := false
	for {
		var b *batch
		var ok bool
		select {
		case b, ok = <-c.queue:
		default:
			broken = c.flush(broken)
			b, ok = <-c.queue
		}
		if !ok {
			c.flush(broken)
			return
		}
		select {
		case <-b.done:
		default:
			broken = c.flush(broken)
			<-b.done
		}
		if !broken {
			c.nc.SetWriteDeadline(time.Now().Add(c.s.o.IdleTimeout))
			if _, err := c.bw.Write(b.out); err != nil {
				broken = c.fail()
			}
		}
		if b.closeAfter && !broken {
			broken = c.flush(false)
			if !broken {
				c.closeGently()
				broken = true
			}
		}
		<-c.slots
		c.s.batches.Put(b)
	}
}

func (c *conn) flush(broken bool) bool {
	if broken || c.bw.Buffered() == 0 {
		return broken
	}
	c.nc.SetWriteDeadline(time.Now().Add(c.s.o.IdleTimeout))
	if err := c.bw.Flush(); err != nil {
		return c.fail()
	}
	return false
}

// fail gives up on a connection we cannot write to; the reader sees it
// closed and stops.
func (c *conn) fail() bool {
	c.closing.Store(true)
	c.nc.Close()
	return true
}

// closeGently ends our side after the last reply and lets the reader drop
// what the client still sends for a moment, so that our last reply is
// not lost to a reset.
func (c *conn) closeGently() {
	c.mu.Lock()
	c.closing.Store(true)
	c.nc.SetReadDeadline(time.Now().Add(linger))
	c.mu.Unlock()
	if cw, ok := c.nc.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
}

// drain reads and drops input until the writer's linger deadline, the
// idle timeout or the end of the stream.
func (c *conn) drain() {
	buf := c.lr.buf
	for {
		c.mu.Lock()
		if !c.closing.Load() {
			c.nc.SetReadDeadline(time.Now().Add(c.s.o.IdleTimeout))
		}
		c.mu.Unlock()
		if _, err := c.nc.Read(buf); err != nil {
			return
		}
	}
}

func remoteAddr(nc net.Conn) (netip.Addr, bool) {
	if a, ok := nc.RemoteAddr().(*net.TCPAddr); ok {
		return a.AddrPort().Addr().Unmap(), true
	}
	ap, err := netip.ParseAddrPort(nc.RemoteAddr().String())
	return ap.Addr().Unmap(), err == nil
}
