package scoreboard

import (
	"encoding/json"
	"slices"
	"time"
)

// Conn is one connection an attack team made to a replica, as the team's
// gateway recorded it: the ground truth detections are judged against.
type Conn struct {
	Team    int
	Owner   int
	Service int
	Start   time.Time
	End     time.Time
	// BytesUp went from the team to the target, BytesDown back.
	BytesUp   int64
	BytesDown int64
}

// telAgg is what the game keeps of one (team, owner, service) during the
// current tick: the log gets one summary of it at the tick's end, never
// one event per connection.
type telAgg struct {
	n           int64
	up, down    int64
	first, last int64 // unix nanoseconds
}

// summaryText is the JSON body of a KindTelemetrySummary event. Times are
// unix nanoseconds to keep the summaries small and exact.
type summaryText struct {
	First int64 `json:"first"`
	Last  int64 `json:"last"`
	Up    int64 `json:"up"`
	Down  int64 `json:"down"`
}

// ObserveConns adds connections to the current tick's telemetry. It is
// cheap and never blocks on the log: the tick's summaries are written when
// it ends (StartTick, or the end of the game). Connections that name no
// attack team, no defended replica, or the team's own replica are
// ignored, and so is everything observed before the first tick.
func (g *Game) ObserveConns(cs []Conn) {
	g.telMu.Lock()
	defer g.telMu.Unlock()
	for i := range cs {
		c := &cs[i]
		if c.Team < 0 || c.Team >= len(g.cfg.Teams) || c.Owner < 0 || c.Owner >= len(g.cfg.Teams) ||
			c.Service < 0 || c.Service >= len(g.cfg.Services) || c.Team == c.Owner ||
			!g.cfg.Teams[c.Team].Role.Attacks() || !g.cfg.Teams[c.Owner].Role.Defends() {
			g.telIgnored++
			continue
		}
		k := [3]int16{int16(c.Team), int16(c.Owner), int16(c.Service)}
		a := g.tel[k]
		if a == nil {
			a = &telAgg{first: c.Start.UnixNano(), last: c.End.UnixNano()}
			g.tel[k] = a
		}
		a.n++
		a.up += max(c.BytesUp, 0)
		a.down += max(c.BytesDown, 0)
		a.first = min(a.first, c.Start.UnixNano())
		a.last = max(a.last, c.End.UnixNano(), c.Start.UnixNano())
	}
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
func (g *Game) takeTelemetry(tick int32, now time.Time) []Event {
	g.telMu.Lock()
	aggs := g.tel
	g.tel = make(map[[3]int16]*telAgg, len(aggs))
	g.telMu.Unlock()
	if tick < 1 || len(aggs) == 0 {
		return nil
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
	return evs
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
