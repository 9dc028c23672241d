// Package ingest is the bridge between the range (range, range/gateway,
// images/flow) and the game (scoreboard): the one place where what the
// range's containers write becomes the game's events, so that the game
// never parses a container's output and the range's sensors (the gateway,
// the flow recorder) never depend on the game.
//
// It carries what the range's containers print into the game:
// each attack team's gateway telemetry (range/gateway) and each built-in
// target's flow records (images/flow) become the game's ground truth for
// detections, and each target's action log is streamed to the console of
// the defending team that owns it, with the remedies the defence applies
// in the target's admin console recorded as game events on the way.
//
// Ground truth sees every path a team takes to a target: through its
// gateway, whose records name the team, or from the team's own network
// without it (the attack box), which the targets' flow records show by
// source address. A target's flow record is the team's when its source is
// an address of the team's network other than its gateway
// (cyberrange.Plan.TeamBehind); the gateway's own connections are counted
// from its telemetry, once. Both sensors report a connection when it opens,
// while it lasts and when it ends, and a heartbeat, which the game reads as
// how far each source's ground truth is complete.
//
// A Collector follows every gateway and target of a plan through the
// driver's Logs, one goroutine each. Nothing here may slow a target or the
// game: the driver buffers the containers' output (a file, or the
// engine's log), telemetry is aggregated in memory by the game and
// summarised once a tick, and log lines go to the live hub's bounded
// per-team queue, which drops the oldest when a console falls behind.
//
// When a container's log ends (its process died and was restarted) the
// collector opens it again and skips the lines it has read, recognising
// the log by its first line; a log that starts over is read from its
// start. After a restart of the game itself, telemetry from before the
// latest summary in the log, and remedies up to the latest recorded, are
// skipped, and log lines from before the collector started are not
// streamed.
//
// This package must never import the Docker SDK, bbolt or echo: it reads
// containers through the Driver's Logs and feeds the game and the hub
// through the small interfaces declared here.
package ingest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cyrange/cyrange/images/target"
	cyberrange "github.com/cyrange/cyrange/range"
	"github.com/cyrange/cyrange/scoreboard"
)

// Game is what the collector feeds; *scoreboard.Game implements it.
type Game interface {
	ObserveConns(cs []scoreboard.Conn)
	ObserveWatermark(source, run string, at time.Time)
	TelemetryUpTo() time.Time
	RecordRemedy(ctx context.Context, owner, service int, at time.Time, remedy string) error
	RemediesUpTo(owner, service int) time.Time
}

// LogSource follows a container's output; every cyberrange.Driver is one.
type LogSource interface {
	Logs(ctx context.Context, name string, since time.Time) (io.ReadCloser, error)
}

// Console takes a target's log lines for the private stream of the
// defending team that owns it; *live.Hub implements it. PublishLog must
// never block.
type Console interface {
	PublishLog(team int, it scoreboard.TickerItem)
}

var (
	_ Game      = (*scoreboard.Game)(nil)
	_ LogSource = cyberrange.Driver(nil)
)

// Options configure a Collector. Plan, Logs and Game are required.
type Options struct {
	Plan *cyberrange.Plan
	Logs LogSource
	Game Game
	// Console receives the targets' log lines; nil streams none.
	Console Console
	// Readers read the log lines of each service's built-in target, by
	// service index: only the target knows which of its actions are
	// remedies. A service without one has its lines read in the common
	// form (target.ReadJSONLine), which names no remedy.
	Readers map[int]LineReader
	Logger  *slog.Logger
	Now     func() time.Time
	// Retry is how long a follower waits before it opens a log again
	// after it ended or could not be opened. Default 1s.
	Retry time.Duration
}

// LineReader reads one line of a target's output as an action.
type LineReader interface {
	ReadLine(b []byte) (target.Line, bool)
}

// commonLines reads lines in the form every built-in target shares.
type commonLines struct{}

func (commonLines) ReadLine(b []byte) (target.Line, bool) { return target.ReadJSONLine(b) }

// reader is service svc's line reader.
func (c *Collector) reader(svc int) LineReader {
	if r, ok := c.o.Readers[svc]; ok && r != nil {
		return r
	}
	return commonLines{}
}

// Defaults of Options.
const DefaultRetry = time.Second

// maxLine bounds a line the collector reads; longer lines are skipped
// (and counted), never buffered whole. firstLen is how much of a log's
// first line identifies the log.
const (
	maxLine  = 32 << 10
	firstLen = 256
)

// batchLen bounds the connections handed to the game at once.
const batchLen = 256

// Stats counts what the collector saw, since it was made.
type Stats struct {
	// Lines read from every log, Opens of a log (the first included).
	Lines, Opens int64
	// Conns are the gateways' connection records handed to the game;
	// Stale ones skipped because the log already counts them; Refused or
	// failed ones (not a contact with the target); Unmapped ones to an
	// address that is no target; Malformed telemetry and flow lines;
	// Heartbeats of gateways and targets.
	Conns, Stale, Refused, Unmapped, Malformed, Heartbeats int64
	// Flows are the targets' flow records handed to the game (traffic of
	// a team that bypassed its gateway); Unattributed ones came from no
	// team's own address (its gateway, the checkers, the defence).
	Flows, Unattributed int64
	// LogLines streamed to the consoles; Unstructured lines not streamed
	// (not a JSON action log line: they may be anything the process
	// printed on stderr); Remedies recorded; Long lines skipped.
	LogLines, Unstructured, Remedies, Long int64
	// Defence counts the connections the defence gateways opened: the
	// defence working on its own systems, recorded (in the gateway's log)
	// but never handed to the game as anyone's contact.
	Defence int64
}

type counters struct {
	lines, opens, conns, stale, refused, unmapped, malformed, heartbeats atomic.Int64
	flows, unattributed                                                  atomic.Int64
	logLines, unstructured, remedies, long                               atomic.Int64
	defence                                                              atomic.Int64
}

// Collector follows the gateways' and targets' logs of one plan.
type Collector struct {
	o       Options
	logger  *slog.Logger
	targets map[netip.Addr]replica
	n       counters
	started time.Time
}

// replica is one target: its owner, service and service name.
type replica struct {
	owner, service int
	name           string
}

// New returns a collector for o.Plan.
func New(o Options) (*Collector, error) {
	if o.Plan == nil || o.Logs == nil || o.Game == nil {
		return nil, fmt.Errorf("ingest: a plan, a log source and a game are required: %w", scoreboard.ErrInvalid)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Retry <= 0 {
		o.Retry = DefaultRetry
	}
	c := &Collector{o: o, logger: o.Logger.With("component", "ingest"), targets: map[netip.Addr]replica{}}
	for _, ct := range o.Plan.Containers {
		if ct.Kind != cyberrange.KindTarget {
			continue
		}
		// Every address of a target names it: the one teams ask their
		// gateway for and the one the gateway dials on a team's network.
		for _, a := range ct.Networks {
			c.targets[a.Address] = replica{owner: ct.Team, service: ct.Service, name: ct.Labels[cyberrange.LabelService]}
		}
	}
	return c, nil
}

// Stats returns the counts so far.
func (c *Collector) Stats() Stats {
	n := &c.n
	return Stats{Lines: n.lines.Load(), Opens: n.opens.Load(), Conns: n.conns.Load(), Stale: n.stale.Load(),
		Refused: n.refused.Load(), Unmapped: n.unmapped.Load(), Malformed: n.malformed.Load(), Heartbeats: n.heartbeats.Load(),
		Flows: n.flows.Load(), Unattributed: n.unattributed.Load(),
		LogLines: n.logLines.Load(), Unstructured: n.unstructured.Load(), Remedies: n.remedies.Load(), Long: n.long.Load(),
		Defence: n.defence.Load()}
}

// Run follows every gateway and target of the plan until ctx is done,
// then waits for its goroutines and returns nil.
func (c *Collector) Run(ctx context.Context) error {
	c.started = c.o.Now()
	telSince := c.o.Game.TelemetryUpTo()
	var wg sync.WaitGroup
	for _, ct := range c.o.Plan.Containers {
		var s sink
		switch ct.Kind {
		case cyberrange.KindGateway:
			s = &gatewaySink{c: c, source: ct.Name, team: ct.Team, since: telSince}
		case cyberrange.KindDefenceGateway:
			s = defenceSink{c: c}
		case cyberrange.KindTarget:
			s = &targetSink{c: c, ctx: ctx, r: replica{owner: ct.Team, service: ct.Service, name: ct.Labels[cyberrange.LabelService]},
				read:        c.reader(ct.Service),
				remedySince: c.o.Game.RemediesUpTo(ct.Team, ct.Service), flows: flowSink{c: c, source: ct.Name,
					owner: ct.Team, service: ct.Service, since: telSince}}
		default:
			continue
		}
		wg.Add(1)
		go func(name string) {
			defer wg.Done()
			c.follow(ctx, name, s)
		}(ct.Name)
	}
	wg.Wait()
	return nil
}

// sink handles the lines of one log; flush is called whenever no more
// input is buffered, so batches never wait for more lines.
type sink interface {
	line(b []byte)
	flush()
}

// follow reads one container's log until ctx is done, opening it again
// whenever it ends.
func (c *Collector) follow(ctx context.Context, name string, s sink) {
	var consumed int64
	var first []byte
	for ctx.Err() == nil {
		rc, err := c.o.Logs.Logs(ctx, name, time.Time{})
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, cyberrange.ErrNotFound) {
				c.logger.Warn("cannot follow a log", "container", name, "err", err)
			}
			c.wait(ctx)
			continue
		}
		c.n.opens.Add(1)
		stop := context.AfterFunc(ctx, func() { _ = rc.Close() })
		consumed, first = c.read(rc, s, consumed, first)
		stop()
		_ = rc.Close()
		c.wait(ctx)
	}
}

func (c *Collector) wait(ctx context.Context) {
	t := time.NewTimer(c.o.Retry)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// read consumes one opening of a log: it skips the consumed lines it has
// already handled (when the log starts with the same first line) and
// hands the rest to s. It returns the new count and first line.
func (c *Collector) read(rc io.Reader, s sink, consumed int64, first []byte) (int64, []byte) {
	r := bufio.NewReaderSize(rc, maxLine)
	var n int64
	skip := consumed
	var longHead []byte // the start of a line longer than maxLine
	for {
		b, err := r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			if longHead == nil {
				longHead = append([]byte(nil), b[:min(len(b), firstLen)]...)
			}
			continue
		}
		if len(b) == 0 && longHead == nil {
			s.flush()
			return consumed, first
		}
		head := b[:min(len(b), firstLen)]
		long := longHead != nil
		if long {
			head, longHead = longHead, nil
		}
		if n == 0 && (first == nil || !bytes.Equal(first, head)) {
			// A new log, or one that started over: nothing of it was
			// read.
			first, skip, consumed = append([]byte(nil), head...), 0, 0
		}
		n++
		if n > skip {
			consumed++
			c.n.lines.Add(1)
			if long {
				// Too long to be telemetry or a line worth streaming,
				// but a line all the same: it counts.
				c.n.long.Add(1)
			} else {
				s.line(bytes.TrimRight(b, "\r\n"))
			}
			if r.Buffered() == 0 {
				s.flush()
			}
		}
		if err != nil {
			s.flush()
			return consumed, first
		}
	}
}
