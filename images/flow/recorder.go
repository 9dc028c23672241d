package flow

import (
	"io"
	"net"
	"net/netip"
	"sync"
	"time"
)

// Options configure a Recorder. Output is required.
type Options struct {
	// Output receives one flow line per record, each in a single Write.
	// A writer other records or log lines share must take concurrent
	// Writes (an *os.File does; see SyncWriter).
	Output io.Writer
	// Interval is how often open connections and the heartbeat are
	// recorded (DefaultInterval when zero).
	Interval time.Duration
	Now      func() time.Time
	// OnError hears write errors (may be nil): a record that cannot be
	// written is lost, and the target serves on.
	OnError func(error)
}

// Recorder records the connections its listeners accept as flow lines.
// A nil *Recorder records nothing.
type Recorder struct {
	o Options
	m *Meter[endpoints]
}

// endpoints are a connection's two ends as the target sees them.
type endpoints struct{ src, dst netip.AddrPort }

// NewRecorder returns a recorder writing to o.Output.
func NewRecorder(o Options) *Recorder {
	r := &Recorder{o: o}
	if r.o.Now == nil {
		r.o.Now = time.Now
	}
	r.m = NewMeter(MeterOptions[endpoints]{Report: r.write, Interval: o.Interval, Now: r.o.Now})
	return r
}

// write is the meter's Report: it runs under the meter's lock, so lines
// leave in the order of their times.
func (r *Recorder) write(rep Report[endpoints]) {
	rec := Record{State: rep.Kind, Run: rep.Run, ID: rep.ID, At: rep.At.UTC()}
	if rep.Kind != Heartbeat {
		rec.Proto, rec.Src, rec.Dst, rec.Start = "tcp", rep.Info.src, rep.Info.dst, rep.Start.UTC()
		rec.Duration = max(rep.At.Sub(rep.Start), 0).Seconds()
		// A target reads what the client sent and writes the answer.
		rec.BytesUp, rec.BytesDown = rep.Read, rep.Written
	}
	b, err := MarshalLine(rec)
	if err == nil {
		_, err = r.o.Output.Write(append(b, '\n'))
	}
	if err != nil && r.o.OnError != nil {
		r.o.OnError(err)
	}
}

// Listen returns ln with every connection it accepts recorded, from the
// moment it is accepted until it is closed. The recorder writes interim
// records and heartbeats while any listener it wrapped is open. For a nil
// recorder it returns ln itself.
func (r *Recorder) Listen(ln net.Listener) net.Listener {
	if r == nil {
		return ln
	}
	return &listener{Listener: ln, r: r, stop: r.m.Start()}
}

type listener struct {
	net.Listener
	r     *Recorder
	stop  func()
	close sync.Once
}

func (l *listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	// Taken before the meter's lock, like every connection's start.
	start := l.r.o.Now()
	return l.r.m.Track(c, start, endpoints{src: AddrPort(c.RemoteAddr()), dst: AddrPort(c.LocalAddr())}), nil
}

func (l *listener) Close() error {
	err := l.Listener.Close()
	l.close.Do(l.stop)
	return err
}

// AddrPort is a connection end's address and port, IPv4 in its own form
// (not mapped into IPv6), as records and sources compare them.
func AddrPort(a net.Addr) netip.AddrPort {
	var ap netip.AddrPort
	if t, ok := a.(*net.TCPAddr); ok {
		ap = t.AddrPort()
	} else {
		ap, _ = netip.ParseAddrPort(a.String())
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// SyncWriter makes w safe for the concurrent Writes of a recorder and a
// logger that share it: each Write reaches w whole, never interleaved.
func SyncWriter(w io.Writer) io.Writer { return &syncWriter{w: w} }

type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
