package scoreboard

import (
	"encoding/json"
	"slices"
	"time"
)

// Conn is a telemetry record of one connection an attack team made to a
// replica, as a sensor saw it (the team's gateway, or the target's flow
// recorder for traffic that bypasses the gateway): the ground truth
// detections are judged against.
//
// A record of State ConnWhole is a whole connection, reported once it
// ended. The others follow a connection through its life, so that it
// counts from the moment it opens: ConnOpen when it is made, ConnInterim
// at an interval while it lasts, ConnClose when it ends; their bytes are
// those since the connection's previous record, and Source, Run and ID
// name the connection.
type Conn struct {
	Team    int
	Owner   int
	Service int
	// Start is when the connection was made, End when it ended (ConnWhole
	// and ConnClose), At when the record was made (all but ConnWhole).
	Start time.Time
	End   time.Time
	At    time.Time
	// BytesUp went from the team to the target, BytesDown back.
	BytesUp   int64
	BytesDown int64
	State     ConnState
	// Source names the sensor that made the record (a container), Run
	// its process and ID the connection within that process.
	Source string
	Run    string
	ID     uint64
}

// ConnState says what a telemetry record reports of its connection.
type ConnState uint8

// Telemetry record states.
const (
	ConnWhole ConnState = iota
	ConnOpen
	ConnInterim
	ConnClose
)

// DefaultTelemetryStale is how long a telemetry source or an open
// connection may stay silent before the game takes it for gone. Sensors
// report every open connection and a heartbeat every 5 s (flow's
// DefaultInterval), so it is four of their intervals; a test of the
// ingest, which knows both, holds the two together.
const DefaultTelemetryStale = 20 * time.Second

// maxLiveConns bounds the open connections the game follows; beyond it a
// new connection is counted in the tick it opens, and again in the ticks
// its interim records reach, but not in every tick it stays open.
const maxLiveConns = 1 << 17

// telAgg is what the game keeps of one (team, owner, service) during the
// current tick: the log gets one summary of it at the tick's end, never
// one event per connection.
type telAgg struct {
	n           int64
	up, down    int64
	first, last int64 // unix nanoseconds
}

// liveKey names an open connection: its sensor (telSource.idx) and the
// connection's id in the sensor's current process. A sensor's
// connections of an earlier process are ended when a new one appears, so
// the process need not be part of the key.
type liveKey struct {
	source uint32
	id     uint64
}

// liveConn is an open connection the game follows (by value in its map:
// one allocation fewer per connection).
type liveConn struct {
	key   [3]int16
	start int64 // unix nanoseconds
	// heard is the game's time of its latest record.
	heard time.Time
}

// telSource is what the game knows of one sensor: its process, how far
// its records are complete (the time of its latest record or heartbeat,
// by its clock) and when the game last heard from it.
type telSource struct {
	idx   uint32
	name  string
	run   string
	upTo  time.Time
	heard time.Time
}

// summaryText is the JSON body of a KindTelemetrySummary event. Times are
// unix nanoseconds to keep the summaries small and exact.
type summaryText struct {
	First int64 `json:"first"`
	Last  int64 `json:"last"`
	Up    int64 `json:"up"`
	Down  int64 `json:"down"`
}

// ObserveConns adds telemetry records to the current tick. It is cheap
// and never blocks on the log: the tick's summaries are written when it
// ends (StartTick, or the end of the game), and every connection still
// open then counts in that tick too. Connections that name no attack
// team, no defended replica, or the team's own replica are ignored, and
// so is what is observed before the first tick, but for the connections
// it leaves open.
//
// A record of a connection's life also says its source is alive and
// complete up to the record's time (see ObserveWatermark); a source that
// starts a new run (a restarted process) ends the open connections of its
// old one at once.
func (g *Game) ObserveConns(cs []Conn) {
	var now time.Time
	// A batch comes from one sensor: its state is looked up once.
	var src *telSource
	g.telMu.Lock()
	defer g.telMu.Unlock()
	for i := range cs {
		c := &cs[i]
		if c.State != ConnWhole {
			if now.IsZero() {
				now = g.now()
			}
			if src == nil || src.name != c.Source || src.run != c.Run {
				src = g.heardLocked(c.Source, c.Run, c.At, now)
			} else if c.At.After(src.upTo) {
				src.upTo = c.At
			}
		}
		if c.Team < 0 || c.Team >= len(g.cfg.Teams) || c.Owner < 0 || c.Owner >= len(g.cfg.Teams) ||
			c.Service < 0 || c.Service >= len(g.cfg.Services) || c.Team == c.Owner ||
			!g.cfg.Teams[c.Team].Role.Attacks() || !g.cfg.Teams[c.Owner].Role.Defends() || c.State > ConnClose {
			g.telIgnored++
			continue
		}
		k := [3]int16{int16(c.Team), int16(c.Owner), int16(c.Service)}
		start := c.Start.UnixNano()
		last := c.End.UnixNano()
		switch c.State {
		case ConnOpen, ConnInterim:
			last = c.At.UnixNano()
			lk := liveKey{src.idx, c.ID}
			if _, ok := g.live[lk]; ok || len(g.live) < maxLiveConns {
				// An interim record of a connection the game does not
				// know (it restarted since the open record) is followed
				// from now on.
				g.live[lk] = liveConn{key: k, start: start, heard: now}
			}
		case ConnClose:
			delete(g.live, liveKey{src.idx, c.ID})
		}
		a := g.tel[k]
		if a == nil {
			a = &telAgg{first: start, last: last}
			g.tel[k] = a
		}
		// A connection is counted once, when it opens (or, from older
		// gateways, as a whole); its other records add bytes and time.
		if c.State == ConnWhole || c.State == ConnOpen {
			a.n++
		}
		a.up += max(c.BytesUp, 0)
		a.down += max(c.BytesDown, 0)
		a.first = min(a.first, start)
		a.last = max(a.last, last, start)
	}
}

// ObserveWatermark records a source's heartbeat: source (a sensor) of run
// run is alive and has reported every connection up to at, by its clock.
// Judging waits for every live source's watermark to pass a report's time
// (see closeTick).
func (g *Game) ObserveWatermark(source, run string, at time.Time) {
	now := g.now()
	g.telMu.Lock()
	defer g.telMu.Unlock()
	g.heardLocked(source, run, at, now)
}

// heardLocked notes a record or heartbeat of source and returns its
// state; the caller holds telMu.
func (g *Game) heardLocked(source, run string, at, now time.Time) *telSource {
	s := g.sources[source]
	if s == nil {
		s = &telSource{idx: uint32(len(g.sources)), name: source, run: run}
		g.sources[source] = s
	}
	if s.run != run {
		// The source's process was replaced: the connections of the old
		// one died with it.
		for lk := range g.live {
			if lk.source == s.idx {
				delete(g.live, lk)
			}
		}
		s.run, s.upTo = run, at
	}
	if at.After(s.upTo) {
		s.upTo = at
	}
	s.heard = now
	return s
}

// TelemetryUpTo is the time of the latest telemetry summary in the log:
// a collector that restarts skips connections that ended before it,
// which the log already counts.
func (g *Game) TelemetryUpTo() time.Time {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.st.TelemetryUpTo
}

// takeTelemetry empties the current tick's aggregates into summary events
// for tick, in key order so that the log is the same for the same input.
// Every connection still open counts in the tick; one not heard of for
// longer than the staleness bound (its sensor was killed) has ended. It
// also returns how far the ground truth in those summaries is complete:
// the earliest watermark of the sources still alive, and false when no
// source is alive to wait for.
func (g *Game) takeTelemetry(tick int32, now time.Time) ([]Event, map[[3]int16]*telAgg, time.Time, bool) {
	g.telMu.Lock()
	for lk, lc := range g.live {
		if now.Sub(lc.heard) > g.stale {
			delete(g.live, lk)
			continue
		}
		a := g.tel[lc.key]
		if a == nil {
			a = &telAgg{first: lc.start, last: now.UnixNano()}
			g.tel[lc.key] = a
		}
		a.first = min(a.first, lc.start)
		a.last = max(a.last, now.UnixNano())
	}
	var upTo time.Time
	alive := false
	for _, s := range g.sources {
		if now.Sub(s.heard) > g.stale {
			continue // gone: it holds nothing up
		}
		if !alive || s.upTo.Before(upTo) {
			upTo, alive = s.upTo, true
		}
	}
	aggs := g.tel
	g.tel = make(map[[3]int16]*telAgg, len(aggs))
	g.telMu.Unlock()
	if tick < 1 || len(aggs) == 0 {
		return nil, nil, upTo, alive
	}
	keys := make([][3]int16, 0, len(aggs))
	for k := range aggs {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b [3]int16) int {
		for i := range a {
			if a[i] != b[i] {
				return int(a[i]) - int(b[i])
			}
		}
		return 0
	})
	evs := make([]Event, 0, len(keys))
	for _, k := range keys {
		a := aggs[k]
		b, _ := json.Marshal(summaryText{First: a.first, Last: a.last, Up: a.up, Down: a.down})
		evs = append(evs, Event{Time: now, Kind: KindTelemetrySummary, Tick: tick, Team: k[0], Owner: k[1],
			Service: k[2], Store: -1, Value: a.n, Text: string(b)})
	}
	return evs, aggs, upTo, alive
}

// putBackTelemetry returns a tick's aggregates whose summaries could not
// be written to the current ones, so that the next close writes them: a
// failed append must not lose the ground truth the reports are judged
// against.
func (g *Game) putBackTelemetry(aggs map[[3]int16]*telAgg) {
	g.telMu.Lock()
	defer g.telMu.Unlock()
	for k, a := range aggs {
		b := g.tel[k]
		if b == nil {
			g.tel[k] = a
			continue
		}
		b.n += a.n
		b.up += a.up
		b.down += a.down
		b.first = min(b.first, a.first)
		b.last = max(b.last, a.last)
	}
}

// Incident is a maximal run of ticks in which attack team Team had
// connections to service Service of Owner's replica (SCORING.md). A
// detection report credits at most one incident; an incident that can no
// longer be credited (L ticks after its last, or at the game's end) and
// never was is missed.
type Incident struct {
	ID        int       `json:"id"`
	Team      int16     `json:"team"`
	Owner     int16     `json:"owner"`
	Service   int16     `json:"service"`
	FirstTick int32     `json:"firstTick"`
	LastTick  int32     `json:"lastTick"`
	First     time.Time `json:"first"`
	Last      time.Time `json:"last"`
	Conns     int64     `json:"connections"`
	BytesUp   int64     `json:"bytesUp"`
	BytesDown int64     `json:"bytesDown"`
	Credited  bool      `json:"credited"`
	Missed    bool      `json:"missed"`
	// Report is the id of the report that credited it, 0 if none.
	Report int64 `json:"report,omitempty"`
}

func (in *Incident) key() [3]int16 { return [3]int16{in.Team, in.Owner, in.Service} }

// applyTelemetry folds one tick's summary of a (team, owner, service):
// it extends that key's incident when the previous tick was touched too,
// or begins a new one.
func (s *State) applyTelemetry(e *Event) {
	var sum summaryText
	if err := json.Unmarshal([]byte(e.Text), &sum); err != nil {
		// Counted, without times: the run of ticks is what matters.
		sum = summaryText{First: e.Time.UnixNano(), Last: e.Time.UnixNano()}
	}
	first, last := time.Unix(0, sum.First), time.Unix(0, sum.Last)
	k := [3]int16{e.Team, e.Owner, e.Service}
	if ids := s.byKey[k]; len(ids) > 0 && s.Incidents[ids[len(ids)-1]].LastTick >= e.Tick-1 {
		in := &s.Incidents[ids[len(ids)-1]]
		in.LastTick = max(in.LastTick, e.Tick)
		if first.Before(in.First) {
			in.First = first
		}
		if last.After(in.Last) {
			in.Last = last
		}
		in.Conns += e.Value
		in.BytesUp += sum.Up
		in.BytesDown += sum.Down
	} else {
		id := len(s.Incidents)
		s.Incidents = append(s.Incidents, Incident{ID: id, Team: e.Team, Owner: e.Owner, Service: e.Service,
			FirstTick: e.Tick, LastTick: e.Tick, First: first, Last: last, Conns: e.Value,
			BytesUp: sum.Up, BytesDown: sum.Down})
		s.byKey[k] = append(s.byKey[k], id)
		s.open = append(s.open, id)
		s.Teams[e.Owner].Incidents++
	}
	if e.Time.After(s.TelemetryUpTo) {
		s.TelemetryUpTo = e.Time
	}
}

// touched reports whether team had connections to service svc of owner's
// replica in some tick from..to (incidents are runs of touched ticks).
func (s *State) touched(team, owner, svc int16, from, to int32) bool {
	// Incidents of one key never overlap and begin in order; walk back
	// from the latest.
	ids := s.byKey[[3]int16{team, owner, svc}]
	for i := len(ids) - 1; i >= 0; i-- {
		in := &s.Incidents[ids[i]]
		if in.LastTick < from {
			return false
		}
		if in.FirstTick <= to {
			return true
		}
	}
	return false
}

// closeIncidents marks missed the open incidents no report can credit any
// more: those whose last tick is more than L ticks back, or all of them at
// the end of the game.
func (s *State) closeIncidents(e *Event, all bool) {
	horizon := s.Tick - int32(s.cfg.FlagLifetime)
	kept := s.open[:0]
	for _, i := range s.open {
		in := &s.Incidents[i]
		switch {
		case in.Credited:
		case all || in.LastTick < horizon:
			in.Missed = true
			s.Teams[in.Owner].DetectionsMissed++
		default:
			kept = append(kept, i)
		}
	}
	s.open = kept
}

// PendingCapture is a capture waiting for the telemetry of its tick.
type PendingCapture struct {
	Seq  uint64
	Time time.Time
	Tick int32
	Team int16
	Flag FlagID
}

// UnverifiedCapture is a capture that scored nothing because the gateway
// saw no connection from its team to the service during the flag's life.
type UnverifiedCapture struct {
	Seq  uint64
	Time time.Time
	Tick int32
	Team int16
	Flag FlagID
	// FromTick..ToTick is the window of telemetry that was searched.
	FromTick, ToTick int32
	// CapturedBy are the teams whose capture of the same flag was
	// verified by then: where a shared flag may have come from.
	CapturedBy []int16
}

// resolveCaptures settles the captures waiting for telemetry, now that the
// summaries of the tick that ends (s.Tick) are folded. A capture of that
// very tick that still lacks telemetry waits one tick more, since a
// connection that ended just before the tick's end may be counted in the
// next one; at the end of the game (final) nothing waits.
func (s *State) resolveCaptures(e *Event, out *Applied, final bool) {
	if len(s.PendingCaptures) == 0 {
		return
	}
	kept := s.PendingCaptures[:0]
	for _, p := range s.PendingCaptures {
		f := s.Flags[p.Flag]
		if f == nil {
			continue
		}
		ok := s.touched(p.Team, p.Flag.Owner, p.Flag.Service, p.Flag.Tick, s.Tick)
		if !ok && !final && p.Tick >= s.Tick {
			kept = append(kept, p)
			continue
		}
		h := s.Held[p.Flag]
		h.Pending = slices.DeleteFunc(h.Pending, func(t int16) bool { return t == p.Team })
		if ok {
			s.award(p.Team, p.Flag, f, e.Seq, p.Time, out)
			continue
		}
		h.Unverified = append(h.Unverified, p.Team)
		s.Unverified = append(s.Unverified, UnverifiedCapture{Seq: p.Seq, Time: p.Time, Tick: p.Tick, Team: p.Team,
			Flag: p.Flag, FromTick: p.Flag.Tick, ToTick: s.Tick, CapturedBy: slices.Clone(f.Capturers)})
	}
	s.PendingCaptures = kept
}
