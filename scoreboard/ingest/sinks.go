package ingest

import (
	"context"
	"time"

	"github.com/cyrange/cyrange/images/flow"
	"github.com/cyrange/cyrange/range/gateway"
	"github.com/cyrange/cyrange/scoreboard"
)

// gatewaySink turns one gateway's telemetry lines into connections for
// the game, in batches.
type gatewaySink struct {
	c *Collector
	// source is the gateway's container, team its team.
	source string
	team   int
	since  time.Time
	batch  []scoreboard.Conn
}

// defenceSink counts a defence gateway's connections and hands the game
// nothing: they are the defence's own, neither an incident nor anyone's
// ground truth.
type defenceSink struct{ c *Collector }

func (d defenceSink) line(b []byte) {
	conn, ok, err := gateway.ParseTelemetry(b)
	if !ok || err != nil || conn.Refused || conn.Error != "" {
		return
	}
	if conn.State == "" || conn.State == string(flow.Open) {
		d.c.n.defence.Add(1)
	}
}

func (defenceSink) flush() {}

// connStates maps the telemetry's states to the game's.
var connStates = map[flow.Kind]scoreboard.ConnState{
	"": scoreboard.ConnWhole, flow.Open: scoreboard.ConnOpen, flow.Interim: scoreboard.ConnInterim, flow.Close: scoreboard.ConnClose,
}

func (g *gatewaySink) line(b []byte) {
	n := &g.c.n
	conn, ok, err := gateway.ParseTelemetry(b)
	switch {
	case !ok:
		return // the gateway's own log line
	case err != nil:
		n.malformed.Add(1)
		return
	case conn.State == string(flow.Heartbeat):
		g.heartbeat(conn.Run, conn.At)
		return
	case conn.Refused || conn.Error != "" || conn.Start.IsZero():
		// Never reached the target: nothing the defence could see.
		n.refused.Add(1)
		return
	case conn.State == "" && conn.End.Before(g.since), conn.State != "" && conn.At.Before(g.since):
		n.stale.Add(1)
		return
	}
	r, ok := g.c.targets[conn.Target]
	if !ok && conn.Dialed.IsValid() {
		r, ok = g.c.targets[conn.Dialed.Addr()]
	}
	if !ok {
		n.unmapped.Add(1)
		return
	}
	c := scoreboard.Conn{Team: g.team, Owner: r.owner, Service: r.service, Start: conn.Start, End: conn.End,
		At: conn.At, BytesUp: conn.BytesUp, BytesDown: conn.BytesDown, State: connStates[flow.Kind(conn.State)],
		Source: g.source, Run: conn.Run, ID: conn.ID}
	if (c.State == scoreboard.ConnWhole || c.State == scoreboard.ConnClose) && c.End.Before(c.Start) {
		c.End = c.Start
	}
	g.batch = append(g.batch, c)
	if len(g.batch) >= batchLen {
		g.flush()
	}
}

// heartbeat hands the game a gateway's watermark, after the records
// before it: a watermark never passes a record the game has not seen.
func (g *gatewaySink) heartbeat(run string, at time.Time) {
	g.c.n.heartbeats.Add(1)
	if at.Before(g.since) {
		return
	}
	g.flush()
	g.c.o.Game.ObserveWatermark(g.source, run, at)
}

func (g *gatewaySink) flush() {
	if len(g.batch) == 0 {
		return
	}
	g.c.o.Game.ObserveConns(g.batch)
	g.c.n.conns.Add(int64(len(g.batch)))
	g.batch = g.batch[:0]
}

// flowSink turns one target's flow records into connections for the
// game: those from an address of an attack team other than its gateway,
// which no gateway saw.
type flowSink struct {
	c *Collector
	// source is the target's container, owner and service its replica.
	source         string
	owner, service int
	since          time.Time
	batch          []scoreboard.Conn
}

func (f *flowSink) record(r flow.Record, err error) {
	n := &f.c.n
	switch {
	case err != nil:
		n.malformed.Add(1)
		return
	case r.State == flow.Heartbeat:
		n.heartbeats.Add(1)
		if !r.At.Before(f.since) {
			f.flush()
			f.c.o.Game.ObserveWatermark(f.source, r.Run, r.At)
		}
		return
	}
	team, ok := f.c.o.Plan.TeamBehind(r.Src.Addr())
	switch {
	case !ok:
		n.unattributed.Add(1)
		return
	case r.At.Before(f.since):
		n.stale.Add(1)
		return
	}
	c := scoreboard.Conn{Team: team, Owner: f.owner, Service: f.service, Start: r.Start, At: r.At,
		BytesUp: r.BytesUp, BytesDown: r.BytesDown, State: connStates[r.State], Source: f.source, Run: r.Run, ID: r.ID}
	if c.State == scoreboard.ConnClose {
		c.End = r.At
		if c.End.Before(c.Start) {
			c.End = c.Start
		}
	}
	f.batch = append(f.batch, c)
	if len(f.batch) >= batchLen {
		f.flush()
	}
}

func (f *flowSink) flush() {
	if len(f.batch) == 0 {
		return
	}
	f.c.o.Game.ObserveConns(f.batch)
	f.c.n.flows.Add(int64(len(f.batch)))
	f.batch = f.batch[:0]
}

// targetSink streams one target's action log to its owner's console,
// records the remedies it shows, and hands its flow records on.
type targetSink struct {
	c           *Collector
	ctx         context.Context
	r           replica
	read        LineReader
	remedySince time.Time
	flows       flowSink
}

func (t *targetSink) flush() { t.flows.flush() }

func (t *targetSink) line(b []byte) {
	n := &t.c.n
	if r, ok, err := flow.ParseLine(b); ok {
		// The sensor's record, not the target's action: ground truth.
		t.flows.record(r, err)
		return
	}
	l, ok := t.read.ReadLine(b)
	if !ok {
		n.unstructured.Add(1)
		return
	}
	at := l.Time
	if at.IsZero() {
		at = t.c.o.Now()
	}
	if rem := l.Remedy; rem != "" && at.After(t.remedySince) {
		if err := t.c.o.Game.RecordRemedy(t.ctx, t.r.owner, t.r.service, at, rem); err != nil {
			if t.ctx.Err() == nil {
				t.c.logger.Error("remedy not recorded", "owner", t.r.owner, "service", t.r.name, "remedy", rem, "err", err)
			}
		} else {
			n.remedies.Add(1)
			t.remedySince = at
		}
	}
	if t.c.o.Console == nil || at.Before(t.c.started) {
		// Read again after a restart: the console saw it, or it is
		// history nobody is waiting for.
		return
	}
	t.c.o.Console.PublishLog(t.r.owner, scoreboard.TickerItem{Time: at, Service: t.r.name, Source: l.Source(),
		Text: string(b)})
	n.logLines.Add(1)
}
