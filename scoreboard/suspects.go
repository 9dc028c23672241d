package scoreboard

import (
	"slices"
	"time"
)

// SuspectWindow is how close in time captures of one flag by several
// teams without telemetry must be to be reported together as a cluster.
const SuspectWindow = 30 * time.Second

// Suspects is the organizer's report on suspected flag sharing
// (GET /api/v1/admin/suspects). With require_telemetry, a capture for
// which the team's gateway saw no connection to the service during the
// flag's life scores nothing and is listed here with the evidence.
type Suspects struct {
	RequireTelemetry bool `json:"requireTelemetry"`
	// ClusterWindow is SuspectWindow in seconds.
	ClusterWindow float64 `json:"clusterWindow"`
	// Pending counts the captures still waiting for their tick's
	// telemetry.
	Pending    int              `json:"pending"`
	Unverified []SuspectCapture `json:"unverified"`
	Clusters   []SuspectCluster `json:"clusters"`
}

// SuspectCapture is one capture without telemetry.
type SuspectCapture struct {
	Time     time.Time       `json:"time"`
	Tick     int32           `json:"tick"`
	Team     string          `json:"team"`
	Target   string          `json:"target"`
	Service  string          `json:"service"`
	Store    string          `json:"store"`
	FlagTick int32           `json:"flagTick"`
	Evidence SuspectEvidence `json:"evidence"`
}

// SuspectEvidence is why a capture is suspect: the ticks of telemetry
// searched, the team's last contact with the service before them (null:
// never), and the teams whose capture of the same flag was verified.
type SuspectEvidence struct {
	FromTick        int32      `json:"fromTick"`
	ToTick          int32      `json:"toTick"`
	Connections     int64      `json:"connections"`
	LastContact     *time.Time `json:"lastContact"`
	LastContactTick int32      `json:"lastContactTick,omitempty"`
	CapturedBy      []string   `json:"capturedBy"`
}

// SuspectCluster is one flag submitted by several teams without telemetry
// within SuspectWindow of each other.
type SuspectCluster struct {
	Target   string `json:"target"`
	Service  string `json:"service"`
	Store    string `json:"store"`
	FlagTick int32  `json:"flagTick"`
	// Teams lists the teams in the order they submitted.
	Teams []string  `json:"teams"`
	First time.Time `json:"first"`
	Last  time.Time `json:"last"`
	// Spread is Last − First in seconds.
	Spread float64 `json:"spread"`
	// CapturedBy are the teams whose capture of the flag was verified.
	CapturedBy []string `json:"capturedBy"`
}

// Suspects returns the report on suspected flag sharing.
func (g *Game) Suspects() Suspects {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.st.suspects()
}

func (s *State) suspects() Suspects {
	out := Suspects{RequireTelemetry: s.cfg.RequireTelemetry, ClusterWindow: SuspectWindow.Seconds(),
		Pending: len(s.PendingCaptures), Unverified: []SuspectCapture{}, Clusters: []SuspectCluster{}}
	names := func(ts []int16) []string {
		out := []string{}
		for _, t := range ts {
			out = append(out, s.teamName(t))
		}
		return out
	}
	groups := map[FlagID][]int{}
	var order []FlagID
	for i := range s.Unverified {
		u := &s.Unverified[i]
		svc := s.cfg.Services[u.Flag.Service]
		sc := SuspectCapture{Time: u.Time, Tick: u.Tick, Team: s.teamName(u.Team), Target: s.teamName(u.Flag.Owner),
			Service: svc.Name, Store: svc.Stores[u.Flag.Store], FlagTick: u.Flag.Tick,
			Evidence: SuspectEvidence{FromTick: u.FromTick, ToTick: u.ToTick, CapturedBy: names(u.CapturedBy)}}
		ids := s.byKey[[3]int16{u.Team, u.Flag.Owner, u.Flag.Service}]
		for j := len(ids) - 1; j >= 0; j-- {
			in := &s.Incidents[ids[j]]
			if in.LastTick < u.FromTick {
				at := in.Last
				sc.Evidence.LastContact, sc.Evidence.LastContactTick = &at, in.LastTick
				break
			}
			if in.FirstTick <= u.ToTick {
				// Telemetry that arrived after the verdict (a late
				// line): shown, so the organizer can weigh it.
				sc.Evidence.Connections += in.Conns
			}
		}
		out.Unverified = append(out.Unverified, sc)
		if _, ok := groups[u.Flag]; !ok {
			order = append(order, u.Flag)
		}
		groups[u.Flag] = append(groups[u.Flag], i)
	}
	for _, id := range order {
		idx := groups[id]
		slices.SortStableFunc(idx, func(a, b int) int { return s.Unverified[a].Time.Compare(s.Unverified[b].Time) })
		start := 0
		for k := 1; k <= len(idx); k++ {
			if k < len(idx) && s.Unverified[idx[k]].Time.Sub(s.Unverified[idx[k-1]].Time) <= SuspectWindow {
				continue
			}
			if k-start >= 2 {
				out.Clusters = append(out.Clusters, s.cluster(id, idx[start:k], names))
			}
			start = k
		}
	}
	slices.SortStableFunc(out.Clusters, func(a, b SuspectCluster) int { return a.First.Compare(b.First) })
	return out
}

func (s *State) cluster(id FlagID, idx []int, names func([]int16) []string) SuspectCluster {
	svc := s.cfg.Services[id.Service]
	c := SuspectCluster{Target: s.teamName(id.Owner), Service: svc.Name, Store: svc.Stores[id.Store], FlagTick: id.Tick,
		First: s.Unverified[idx[0]].Time, Last: s.Unverified[idx[len(idx)-1]].Time}
	var by []int16
	for _, i := range idx {
		u := &s.Unverified[i]
		c.Teams = append(c.Teams, s.teamName(u.Team))
		for _, t := range u.CapturedBy {
			if !slices.Contains(by, t) {
				by = append(by, t)
			}
		}
	}
	c.CapturedBy = names(by)
	c.Spread = c.Last.Sub(c.First).Seconds()
	return c
}
