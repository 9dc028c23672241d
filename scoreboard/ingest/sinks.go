package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/netip"
	"strings"
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
	l, ok := ParseTargetLine(b)
	if !ok {
		n.unstructured.Add(1)
		return
	}
	at := l.Time
	if at.IsZero() {
		at = t.c.o.Now()
	}
	if rem, ok := l.Remedy(); ok && at.After(t.remedySince) {
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

// TargetLine is one line of a built-in target's action log: a JSON object
// with at least these keys (images/mailserver writes them for every
// action; the defence reads them).
type TargetLine struct {
	Time   time.Time `json:"time"`
	Level  string    `json:"level"`
	Msg    string    `json:"msg"`
	Proto  string    `json:"proto"`
	Src    string    `json:"src"`
	User   string    `json:"user"`
	Action string    `json:"action"`
	// Target and Changes are what an admin console action acted on.
	Target  string `json:"target"`
	Changes string `json:"changes"`
}

// ParseTargetLine decodes one line of a target's output. It reports
// false for anything but an action log line (a JSON object with a msg and
// an action): what else a process prints, on stderr above all, may be a
// secret meant for the operator's terminal and is never streamed.
func ParseTargetLine(b []byte) (TargetLine, bool) {
	var l TargetLine
	b = bytes.TrimSpace(b)
	if len(b) < 2 || b[0] != '{' || b[len(b)-1] != '}' {
		return l, false
	}
	if err := json.Unmarshal(b, &l); err != nil || l.Msg == "" || l.Action == "" {
		return TargetLine{}, false
	}
	return l, true
}

// Source is the address the line's activity came from, without its port;
// "" when it names none.
func (l TargetLine) Source() string {
	s := strings.TrimSpace(l.Src)
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().String()
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap().String()
	}
	if h, _, err := net.SplitHostPort(s); err == nil {
		return h
	}
	return ""
}

// Remedy returns the remedy the line records, if it is one: an action of
// the admin console on the admin port (proto "admin"), which only the
// replica's own network and the checkers reach. The same actions through
// the vendor console on the webmail (proto "http") may be an intruder's
// and are not remedies. Remedies are named after the action:
// "settings: <what changed>", "reset_password: <mailbox>",
// "admin_password: <account>".
func (l TargetLine) Remedy() (string, bool) {
	if l.Proto != "admin" {
		return "", false
	}
	switch l.Action {
	case "settings":
		if strings.TrimSpace(l.Changes) == "" {
			return "", false // saved without a change
		}
		return "settings: " + l.Changes, true
	case "reset_password", "admin_password":
		return l.Action + ": " + l.Target, true
	}
	return "", false
}
