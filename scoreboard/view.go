package scoreboard

import (
	"fmt"
	"time"
)

// View is the board at one moment: the live stream's snapshot and the
// scoreboard API return it. A public view never carries a flag, a token or
// an unjudged detection, and while frozen it shows the board of the freeze.
type View struct {
	Seq        uint64                       `json:"seq"`
	Phase      string                       `json:"phase"`
	Frozen     bool                         `json:"frozen"`
	Tick       int32                        `json:"tick"`
	TickEndsAt *time.Time                   `json:"tickEndsAt"`
	Teams      []TeamInfo                   `json:"teams"`
	Services   []ServiceInfo                `json:"services"`
	Standings  []Standing                   `json:"standings"`
	Status     map[string]map[string]Status `json:"status"`
	Recent     []TickerItem                 `json:"recent"`
}

// TeamInfo is what anyone may know of a team.
type TeamInfo struct {
	Name string `json:"name"`
	Role Role   `json:"role"`
}

// ServiceInfo is what anyone may know of a service.
type ServiceInfo struct {
	Name   string   `json:"name"`
	Title  string   `json:"title,omitempty"`
	Weight float64  `json:"weight"`
	Stores []string `json:"stores"`
}

// PublicView returns the board for the audience.
func (g *Game) PublicView() View { return g.view(true) }

// FullView returns the board as it is, frozen or not, for the organizer.
func (g *Game) FullView() View { return g.view(false) }

func (g *Game) view(public bool) View {
	g.mu.RLock()
	defer g.mu.RUnlock()
	st := g.st
	v := View{Seq: st.LastSeq, Phase: st.Phase.String(), Frozen: st.Frozen, Tick: st.Tick}
	if st.Phase == PhaseRunning && st.Tick > 0 {
		t := st.TickStartedAt.Add(st.TickLength)
		v.TickEndsAt = &t
	}
	for _, t := range g.cfg.Teams {
		v.Teams = append(v.Teams, TeamInfo{Name: t.Name, Role: t.Role})
	}
	for _, s := range g.cfg.Services {
		v.Services = append(v.Services, ServiceInfo{Name: s.Name, Title: s.Title, Weight: s.Weight, Stores: s.Stores})
	}
	if public && st.Board != nil {
		// Nothing here may move with what the freeze hides: not even
		// the count of events (FrozenBoard.Seq).
		v.Seq = st.Board.Seq
		v.Standings = append([]Standing(nil), st.Board.Standings...)
		v.Status = st.Board.Status
		v.Recent = append([]TickerItem(nil), st.Board.Recent...)
		return v
	}
	v.Standings = st.Standings()
	v.Status = st.StatusMatrix()
	v.Recent = st.RecentItems()
	return v
}

// phaseItems returns the phase changes of items that came after the last
// item of before: the only ticker news a frozen board still shows. Only
// snapshots of before FrozenBoard kept them need it (DecodeState).
func phaseItems(items, before []TickerItem) []TickerItem {
	var last uint64
	if len(before) > 0 {
		last = before[len(before)-1].Seq
	}
	var out []TickerItem
	for _, it := range items {
		if it.Seq > last && it.Kind == "phase" {
			out = append(out, it)
		}
	}
	return out
}

// Standing returns one team's current line (never frozen: a team sees its
// own score).
func (g *Game) Standing(team int) (Standing, error) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	for _, s := range g.st.Standings() {
		if s.TeamID == team {
			return s, nil
		}
	}
	return Standing{}, fmt.Errorf("scoreboard: team %d: %w", team, ErrNotFound)
}

// IssuedFlag is one flag of a tick, for the organizer.
type IssuedFlag struct {
	Flag    string `json:"flag"`
	Team    string `json:"team"`
	Service string `json:"service"`
	Store   string `json:"store"`
	Tick    int32  `json:"tick"`
}

// IssuedFlags returns the flags of every replica's stores for tick (the
// current tick when tick is 0).
func (g *Game) IssuedFlags(tick int32) ([]IssuedFlag, error) {
	g.mu.RLock()
	cur := g.st.Tick
	g.mu.RUnlock()
	if tick == 0 {
		tick = cur
	}
	if tick < 1 || tick > cur {
		return nil, fmt.Errorf("scoreboard: tick %d not issued yet (current %d): %w", tick, cur, ErrNotFound)
	}
	out := []IssuedFlag{}
	for _, r := range g.cfg.Replicas {
		svc := g.cfg.Services[r.Service]
		for st, name := range svc.Stores {
			id := FlagID{Tick: tick, Owner: int16(r.Owner), Service: int16(r.Service), Store: int16(st)}
			out = append(out, IssuedFlag{Flag: g.flags.Issue(id), Team: g.cfg.Teams[r.Owner].Name,
				Service: svc.Name, Store: name, Tick: tick})
		}
	}
	return out, nil
}

// AttackTarget is one replica a team may attack and what the checker
// published about its live flags.
type AttackTarget struct {
	Team       string            `json:"team"`
	Service    string            `json:"service"`
	Address    string            `json:"address"`
	Ports      []Port            `json:"ports"`
	AttackInfo []AttackInfoEntry `json:"attackInfo"`
}

// AttackInfoEntry is the public hint of one live flag.
type AttackInfoEntry struct {
	Tick  int32  `json:"tick"`
	Store string `json:"store"`
	Info  string `json:"info"`
}

// Targets returns the replicas team may attack: every replica but its own.
func (g *Game) Targets(team int) []AttackTarget {
	g.mu.RLock()
	defer g.mu.RUnlock()
	out := []AttackTarget{}
	for _, r := range g.cfg.Replicas {
		if r.Owner == team {
			continue
		}
		t := AttackTarget{Team: g.cfg.Teams[r.Owner].Name, Service: g.cfg.Services[r.Service].Name,
			Address: r.Address, Ports: append([]Port{}, r.Ports...), AttackInfo: []AttackInfoEntry{}}
		for back := int32(0); back < int32(g.cfg.FlagLifetime); back++ {
			tick := g.st.Tick - back
			for st, name := range g.cfg.Services[r.Service].Stores {
				id := FlagID{Tick: tick, Owner: int16(r.Owner), Service: int16(r.Service), Store: int16(st)}
				if info, ok := g.st.AttackInfo[id]; ok {
					t.AttackInfo = append(t.AttackInfo, AttackInfoEntry{Tick: tick, Store: name, Info: info})
				}
			}
		}
		out = append(out, t)
	}
	return out
}

// LastSeq returns the sequence of the last applied event.
func (g *Game) LastSeq() uint64 {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.st.LastSeq
}

// Phase returns the current phase and whether the board is frozen.
func (g *Game) Phase() (Phase, bool) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.st.Phase, g.st.Frozen
}
