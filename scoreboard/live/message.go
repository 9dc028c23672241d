package live

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/gorilla/websocket"

	"github.com/cyrange/cyrange/scoreboard"
)

// Message types on the wire.
const (
	TypeSnapshot = "snapshot"
	TypeDelta    = "delta"
	TypeTick     = "tick"
	TypeEvent    = "event"
)

// Clock is where the game stands: snapshots and tick messages carry it.
type Clock struct {
	Phase      string     `json:"phase"`
	Tick       int32      `json:"tick"`
	TickEndsAt *time.Time `json:"tickEndsAt"`
	Frozen     bool       `json:"frozen"`
}

// Message is any message of a stream, as a client decodes it; fields its
// type does not carry stay zero. A snapshot carries every field but At,
// Events and Skipped; a tick message carries the Clock; a delta only the
// changed Standings and Status cells; any may carry Events. Clock is nil
// in deltas and events: check it before reading Phase or Tick.
type Message struct {
	Type string `json:"type"`
	Seq  uint64 `json:"seq"`
	// At is when the server applied the first change the message
	// carries, in unix nanoseconds (not in snapshots).
	At int64 `json:"at,omitempty"`
	*Clock
	// Team names the team whose private stream this is.
	Team      string                                  `json:"team,omitempty"`
	Teams     []scoreboard.TeamInfo                   `json:"teams,omitempty"`
	Services  []scoreboard.ServiceInfo                `json:"services,omitempty"`
	Standings []scoreboard.Standing                   `json:"standings,omitempty"`
	Status    map[string]map[string]scoreboard.Status `json:"status,omitempty"`
	Recent    []scoreboard.TickerItem                 `json:"recent,omitempty"`
	Events    []scoreboard.TickerItem                 `json:"events,omitempty"`
	// Skipped counts ticker items left out of Events.
	Skipped int `json:"skipped,omitempty"`
	// LogsDropped counts the team's target log lines dropped since the
	// previous message because they came faster than the stream goes.
	LogsDropped int `json:"logsDropped,omitempty"`
}

// snapshotMsg is the snapshot's wire form: unlike Message, every field is
// present even when empty, so a client can rely on the shape.
type snapshotMsg struct {
	Type string `json:"type"`
	Seq  uint64 `json:"seq"`
	Clock
	Team      string                                  `json:"team,omitempty"`
	Teams     []scoreboard.TeamInfo                   `json:"teams"`
	Services  []scoreboard.ServiceInfo                `json:"services"`
	Standings []scoreboard.Standing                   `json:"standings"`
	Status    map[string]map[string]scoreboard.Status `json:"status"`
	Recent    []scoreboard.TickerItem                 `json:"recent"`
}

// audKind is who a stream is for.
type audKind uint8

const (
	audPublic audKind = iota
	audTeam
	audAdmin
)

func (k audKind) String() string {
	switch k {
	case audTeam:
		return "team"
	case audAdmin:
		return "admin"
	}
	return "public"
}

// audKey names one audience: the public, the organizer, or one team.
type audKey struct {
	kind audKind
	team int
}

func (k audKey) String() string {
	if k.kind == audTeam {
		return fmt.Sprintf("team %d", k.team)
	}
	return k.kind.String()
}

// audience is one stream: its counter, the board it last sent, and its
// viewers. Owned by the hub goroutine.
type audience struct {
	key     audKey
	name    string
	seq     uint64
	view    scoreboard.View
	snap    *websocket.PreparedMessage
	viewers map[*viewer]struct{}
}

// newAudience starts a stream from the board as it is now; nil if the
// team does not exist.
func (h *Hub) newAudience(k audKey) *audience {
	a := &audience{key: k, viewers: map[*viewer]struct{}{}}
	var v scoreboard.View
	if k.kind == audPublic {
		v = h.src.PublicView()
	} else {
		v = h.src.FullView()
	}
	if k.kind == audTeam {
		if k.team < 0 || k.team >= len(v.Teams) {
			return nil
		}
		a.name = v.Teams[k.team].Name
	}
	a.view = a.derive(v)
	return a
}

// derive cuts the audience's part out of a view. A team sees its own
// standing (never frozen), its own replicas and its own ticker items.
func (a *audience) derive(v scoreboard.View) scoreboard.View {
	if a.key.kind != audTeam {
		return v
	}
	out := scoreboard.View{Seq: v.Seq, Phase: v.Phase, Frozen: v.Frozen, Tick: v.Tick, TickEndsAt: v.TickEndsAt,
		Teams: v.Teams, Services: v.Services, Status: map[string]map[string]scoreboard.Status{}}
	for _, s := range v.Standings {
		if s.TeamID == a.key.team {
			out.Standings = append(out.Standings, s)
		}
	}
	if m, ok := v.Status[a.name]; ok {
		out.Status[a.name] = m
	}
	for _, it := range v.Recent {
		if teamItem(it, a.name) {
			out.Recent = append(out.Recent, it)
		}
	}
	return out
}

func (a *audience) setView(v scoreboard.View) {
	a.view = v
	a.snap = nil
}

// snapshot returns the audience's snapshot, encoded once per state. Its
// ticker shows only items up to hwm: later ones reach the viewer in the
// next message.
func (a *audience) snapshot(hwm uint64) (*websocket.PreparedMessage, error) {
	if a.snap != nil {
		return a.snap, nil
	}
	v := &a.view
	m := snapshotMsg{Type: TypeSnapshot, Seq: a.seq, Team: a.name,
		Clock: Clock{Phase: v.Phase, Tick: v.Tick, TickEndsAt: v.TickEndsAt, Frozen: v.Frozen},
		Teams: v.Teams, Services: v.Services, Standings: v.Standings, Status: v.Status,
		Recent: []scoreboard.TickerItem{}}
	for _, it := range v.Recent {
		if logSeq(it) <= hwm {
			m.Recent = append(m.Recent, it)
		}
	}
	if m.Teams == nil {
		m.Teams = []scoreboard.TeamInfo{}
	}
	if m.Services == nil {
		m.Services = []scoreboard.ServiceInfo{}
	}
	if m.Standings == nil {
		m.Standings = []scoreboard.Standing{}
	}
	if m.Status == nil {
		m.Status = map[string]map[string]scoreboard.Status{}
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("live: encoding the %s snapshot: %w", a.key, err)
	}
	pm, err := websocket.NewPreparedMessage(websocket.TextMessage, b)
	if err != nil {
		return nil, fmt.Errorf("live: preparing the %s snapshot: %w", a.key, err)
	}
	a.snap = pm
	return pm, nil
}

// frame is what changed between the audience's last view and nv, or nil
// when nothing did. Seq and At are the caller's.
func (a *audience) frame(nv scoreboard.View, events []scoreboard.TickerItem, skipped int) *Message {
	old := &a.view
	m := &Message{Events: events}
	// Skipped items are news in themselves, so the public and the teams
	// are not told of them while the board is frozen.
	if skipped > 0 && (a.key.kind == audAdmin || !boardFrozen(nv)) {
		m.Skipped = skipped
	}
	if len(m.Events) > 0 || m.Skipped > 0 {
		m.Type = TypeEvent
	}
	m.Standings = diffStandings(old.Standings, nv.Standings)
	m.Status = diffStatus(old.Status, nv.Status)
	if len(m.Standings) > 0 || len(m.Status) > 0 {
		m.Type = TypeDelta
	}
	if old.Phase != nv.Phase || old.Tick != nv.Tick || old.Frozen != nv.Frozen || !sameTime(old.TickEndsAt, nv.TickEndsAt) {
		m.Type = TypeTick
		m.Clock = &Clock{Phase: nv.Phase, Tick: nv.Tick, TickEndsAt: nv.TickEndsAt, Frozen: nv.Frozen}
	}
	if m.Type == "" {
		return nil
	}
	return m
}

func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}

// diffStandings returns the entries of next that differ from prev's entry
// of the same team (ranks included), in next's order.
func diffStandings(prev, next []scoreboard.Standing) []scoreboard.Standing {
	byTeam := make(map[int]scoreboard.Standing, len(prev))
	for _, s := range prev {
		byTeam[s.TeamID] = s
	}
	var out []scoreboard.Standing
	for _, s := range next {
		if p, ok := byTeam[s.TeamID]; !ok || p != s {
			out = append(out, s)
		}
	}
	return out
}

// diffStatus returns the cells of next that are new or differ from prev.
// Cells never disappear from a board, so removals need no encoding.
func diffStatus(prev, next map[string]map[string]scoreboard.Status) map[string]map[string]scoreboard.Status {
	var out map[string]map[string]scoreboard.Status
	for team, row := range next {
		old := prev[team]
		for svc, st := range row {
			if o, ok := old[svc]; ok && o == st {
				continue
			}
			if out == nil {
				out = map[string]map[string]scoreboard.Status{}
			}
			if out[team] == nil {
				out[team] = map[string]scoreboard.Status{}
			}
			out[team][svc] = st
		}
	}
	return out
}
