package scoreboard

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// AfterAction is the after-action report of an exercise: what happened
// when, per service, folded from the event log (cyrange report). Every
// figure comes from the same fold as the board.
type AfterAction struct {
	Exercise string `json:"exercise"`
	Title    string `json:"title"`
	Phase    string `json:"phase"`
	// Start is when the game first ran, End its last event (or the end).
	Start        *time.Time `json:"start"`
	End          *time.Time `json:"end"`
	Tick         float64    `json:"tick"` // seconds
	FlagLifetime int        `json:"flagLifetime"`
	Events       uint64     `json:"events"`
	// Verified is how many detection verdicts were judged again on the
	// log and found right (VerifyJudgements).
	Verified int `json:"verifiedVerdicts"`
	// Mismatches lists the verdicts the rules do not give (none, unless
	// the log was tampered with or written by another version).
	Mismatches []string        `json:"mismatches"`
	Teams      []TeamInfo      `json:"teams"`
	Services   []ServiceInfo   `json:"services"`
	Ticks      []AATick        `json:"ticks"`
	Standings  []Standing      `json:"standings"`
	Incidents  []AAIncident    `json:"incidents"`
	Captures   []AACapture     `json:"captures"`
	Reports    []AADetection   `json:"detections"`
	Remedies   []AARemedy      `json:"remedies"`
	Replicas   []AAReplica     `json:"availability"`
	Suspects   Suspects        `json:"suspects"`
	Phases     []AAPhaseChange `json:"phases"`
	// TechniqueTables are, per defending team, the ATT&CK techniques used
	// against it, detected and missed (AttributeTechniques).
	TechniqueTables []AATechniqueTable `json:"techniques"`
}

// AATick is when a tick began.
type AATick struct {
	Tick  int32     `json:"tick"`
	Start time.Time `json:"start"`
}

// AAIncident is one incident and whether (and how fast) it was detected.
type AAIncident struct {
	ID          int       `json:"id"`
	Attacker    string    `json:"attacker"`
	Target      string    `json:"target"`
	Service     string    `json:"service"`
	FirstTick   int32     `json:"firstTick"`
	LastTick    int32     `json:"lastTick"`
	Start       time.Time `json:"start"`
	End         time.Time `json:"end"`
	Connections int64     `json:"connections"`
	BytesUp     int64     `json:"bytesUp"`
	BytesDown   int64     `json:"bytesDown"`
	// Status is detected, missed, or open (may still be credited).
	Status       string     `json:"status"`
	Report       int64      `json:"report,omitempty"`
	DetectedAt   *time.Time `json:"detectedAt,omitempty"`
	TimeToDetect *float64   `json:"timeToDetect,omitempty"` // seconds
}

// DetectedIncidents is how many of the incidents were detected.
func (a *AfterAction) DetectedIncidents() int {
	n := 0
	for _, in := range a.Incidents {
		if in.Status == "detected" {
			n++
		}
	}
	return n
}

// AACapture is one submitted capture. Status is scored, pending (waiting
// for telemetry) or unverified; Points what it earned when it scored.
type AACapture struct {
	Time     time.Time `json:"time"`
	Tick     int32     `json:"tick"`
	Team     string    `json:"team"`
	Target   string    `json:"target"`
	Service  string    `json:"service"`
	Store    string    `json:"store"`
	FlagTick int32     `json:"flagTick"`
	Status   string    `json:"status"`
	Points   float64   `json:"points"`
}

// AADetection is one detection report with its team.
type AADetection struct {
	Team string `json:"team"`
	DetectionView
	// Incident is the incident credited or duplicated, -1 for none.
	Incident int `json:"incident"`
}

// AARemedy is one remedy the defence applied.
type AARemedy struct {
	Time    time.Time `json:"time"`
	Tick    int32     `json:"tick"`
	Team    string    `json:"team"`
	Service string    `json:"service"`
	Remedy  string    `json:"remedy"`
}

// AAReplica is one replica's status in every tick it was checked.
type AAReplica struct {
	Team         string       `json:"team"`
	Service      string       `json:"service"`
	Availability float64      `json:"availability"` // share of checks up
	Statuses     []TickStatus `json:"statuses"`
}

// AAPhaseChange is one move of the game's phase.
type AAPhaseChange struct {
	Time   time.Time `json:"time"`
	Action string    `json:"action"`
}

// BuildAfterAction folds the log from its first event into the
// after-action report.
func BuildAfterAction(ctx context.Context, cfg *Config, src EventSource) (*AfterAction, error) {
	st := NewState(cfg)
	aa := &AfterAction{Exercise: cfg.Name, Title: cfg.Title, Tick: cfg.Tick.Seconds(), FlagLifetime: cfg.FlagLifetime,
		Ticks: []AATick{}, Incidents: []AAIncident{}, Captures: []AACapture{}, Reports: []AADetection{},
		Remedies: []AARemedy{}, Replicas: []AAReplica{}, Phases: []AAPhaseChange{}, Mismatches: []string{}}
	for _, t := range cfg.Teams {
		aa.Teams = append(aa.Teams, TeamInfo{Name: t.Name, Role: t.Role})
	}
	for _, s := range cfg.Services {
		aa.Services = append(aa.Services, ServiceInfo{Name: s.Name, Title: s.Title, Weight: s.Weight, Stores: s.Stores})
	}
	statuses := map[[2]int16][]TickStatus{}
	capIdx := map[uint64]int{} // a pending capture's seq → its index in Captures
	late := map[lateKey][]int{}
	var last time.Time
	err := src.Iterate(ctx, 1, func(seq uint64, rec []byte) error {
		e, err := Decode(seq, rec)
		if err != nil {
			return err
		}
		if e.Kind == KindDetectionJudged {
			if err := st.verifyJudged(&e); err != nil {
				aa.Mismatches = append(aa.Mismatches, err.Error())
			} else {
				aa.Verified++
			}
		}
		a, err := st.Apply(&e)
		if err != nil {
			// The game refused it too (and logged it): skip it alike.
			return nil
		}
		if e.Time.After(last) {
			last = e.Time
		}
		switch e.Kind {
		case KindPhaseChanged:
			aa.Phases = append(aa.Phases, AAPhaseChange{Time: e.Time, Action: e.Text})
		case KindTickStarted:
			aa.Ticks = append(aa.Ticks, AATick{Tick: e.Tick, Start: e.Time})
		case KindCheckResult:
			k := [2]int16{e.Owner, e.Service}
			statuses[k] = append(statuses[k], TickStatus{Tick: e.Tick, Status: Status(e.Code)})
		case KindFlagCaptured:
			svc := cfg.Services[e.Service]
			c := AACapture{Time: e.Time, Tick: e.Tick, Team: st.teamName(e.Team), Target: st.teamName(e.Owner),
				Service: svc.Name, Store: svc.Stores[e.Store], FlagTick: e.FlagTick, Status: "scored", Points: a.Points}
			switch {
			case a.Pending:
				c.Status = "pending"
				capIdx[e.Seq] = len(aa.Captures)
				k := lateKey{e.Time.UnixNano(), c.Team, c.Target, c.Service}
				late[k] = append(late[k], len(aa.Captures))
			case len(a.Items) == 0:
				return nil // a duplicate the game let through: nothing happened
			}
			aa.Captures = append(aa.Captures, c)
		}
		// Captures confirmed late score in the event that settles them:
		// a capture item, then perhaps its first blood.
		if e.Kind != KindTickStarted && e.Kind != KindPhaseChanged {
			return nil
		}
		matched := -1
		for _, it := range a.Items {
			switch it.Kind {
			case "capture":
				k := lateKey{it.Time.UnixNano(), it.Team, it.Target, it.Service}
				matched = -1
				if idx := late[k]; len(idx) > 0 {
					matched, late[k] = idx[0], idx[1:]
					c := &aa.Captures[matched]
					c.Status, c.Points = "scored", it.Points
				}
			case "first_blood":
				if matched >= 0 {
					aa.Captures[matched].Points += it.Points
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("scoreboard: after-action report: %w", err)
	}
	for _, u := range st.Unverified {
		if i, ok := capIdx[u.Seq]; ok {
			aa.Captures[i].Status = "unverified"
		}
	}
	aa.Phase = st.Phase.String()
	if !st.StartedAt.IsZero() {
		s := st.StartedAt
		aa.Start = &s
	}
	if !last.IsZero() {
		aa.End = &last
	}
	aa.Events = st.LastSeq
	aa.Standings = st.Standings()
	for i := range st.Incidents {
		in := &st.Incidents[i]
		ai := AAIncident{ID: in.ID, Attacker: st.teamName(in.Team), Target: st.teamName(in.Owner),
			Service: st.serviceName(in.Service), FirstTick: in.FirstTick, LastTick: in.LastTick, Start: in.First,
			End: in.Last, Connections: in.Conns, BytesUp: in.BytesUp, BytesDown: in.BytesDown, Status: "open"}
		switch {
		case in.Credited:
			ai.Status, ai.Report = "detected", in.Report
			r := &st.Reports[in.Report-1]
			at, ttd := r.ReportedAt, r.TTD.Seconds()
			ai.DetectedAt, ai.TimeToDetect = &at, &ttd
		case in.Missed:
			ai.Status = "missed"
		}
		aa.Incidents = append(aa.Incidents, ai)
	}
	for i := range st.Reports {
		r := &st.Reports[i]
		aa.Reports = append(aa.Reports, AADetection{Team: st.teamName(r.Team), DetectionView: st.detectionView(r),
			Incident: r.Incident})
	}
	for _, it := range st.Remedies {
		aa.Remedies = append(aa.Remedies, AARemedy{Time: it.Time, Tick: tickAtTime(aa.Ticks, it.Time), Team: it.Team,
			Service: it.Service, Remedy: it.Text})
	}
	for _, r := range cfg.Replicas {
		k := [2]int16{int16(r.Owner), int16(r.Service)}
		rep := AAReplica{Team: cfg.Teams[r.Owner].Name, Service: cfg.Services[r.Service].Name, Statuses: statuses[k]}
		if rep.Statuses == nil {
			rep.Statuses = []TickStatus{}
		}
		up := 0
		for _, s := range rep.Statuses {
			if s.Status.up() {
				up++
			}
		}
		if len(rep.Statuses) > 0 {
			rep.Availability = float64(up) / float64(len(rep.Statuses))
		}
		aa.Replicas = append(aa.Replicas, rep)
	}
	aa.Suspects = st.suspects()
	aa.AttributeTechniques(nil)
	return aa, nil
}

// lateKey finds the pending capture a late award is for.
type lateKey struct {
	at                    int64
	team, target, service string
}

// tickAtTime is the tick running at t, 0 before the first.
func tickAtTime(ticks []AATick, t time.Time) int32 {
	i, _ := slices.BinarySearchFunc(ticks, t, func(a AATick, t time.Time) int {
		if a.Start.After(t) {
			return 1
		}
		return -1
	})
	if i == 0 {
		return 0
	}
	return ticks[i-1].Tick
}
