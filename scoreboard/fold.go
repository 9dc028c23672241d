package scoreboard

import (
	"bytes"
	"encoding/gob"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"time"
)

// historyLen is how many ticks of status history each replica keeps for the
// status matrix.
const historyLen = 32

// recentLen is how many ticker items the state keeps for a new viewer.
const recentLen = 50

// TeamScore is one team's running account. Every figure is a pure function
// of the events folded so far.
type TeamScore struct {
	Attack    float64
	SLA       float64
	Lost      float64
	Protected float64
	Detection float64

	Captures        int
	FirstBloods     int
	FlagsLost       int
	FlagsProtected  int
	ChecksTotal     int
	ChecksUp        int
	DetectionsTrue  int
	DetectionsFalse int
	DetectionsDup   int

	// LastScoreSeq orders ties: the team whose last scoring event came
	// first ranks first.
	LastScoreSeq uint64
}

// DefenceTotal is availability + protected − lost + detections.
func (t *TeamScore) DefenceTotal() float64 { return t.SLA + t.Protected - t.Lost + t.Detection }

// FlagState is what the fold remembers of one live flag.
type FlagState struct {
	Planted   bool
	Capturers []int16
}

// ReplicaStatus is one (owner, service) pair's check history.
type ReplicaStatus struct {
	Status  Status
	Message string
	// History holds the statuses of the last ticks, oldest first.
	History []TickStatus
}

// TickStatus is one tick's status of a replica.
type TickStatus struct {
	Tick   int32  `json:"tick"`
	Status Status `json:"status"`
}

// TickerItem is one public line of the live ticker. It never holds a flag,
// a token or an unjudged detection's details.
type TickerItem struct {
	Seq     uint64    `json:"seq"`
	Time    time.Time `json:"time"`
	Kind    string    `json:"kind"`
	Team    string    `json:"team,omitempty"`
	Target  string    `json:"target,omitempty"`
	Service string    `json:"service,omitempty"`
	Text    string    `json:"text,omitempty"`
	Points  float64   `json:"points,omitempty"`
}

// State is the fold of the event log: apply events in log order and it
// holds the game as of the last one.
type State struct {
	cfg *Config
	// sqrtA and weights are derived from cfg once.
	sqrtA float64

	LastSeq uint64
	Phase   Phase
	Frozen  bool
	Tick    int32
	// TickStartedAt and TickLength describe the current tick.
	TickStartedAt time.Time
	TickLength    time.Duration
	// Running accumulates running time before RunningSince; RunningSince
	// is when the current running period began (zero when not running).
	Running      time.Duration
	RunningSince time.Time
	StartedAt    time.Time

	Teams      []TeamScore
	Flags      map[FlagID]*FlagState
	FirstBlood map[[2]int16]bool
	Replicas   map[[2]int16]*ReplicaStatus
	Recent     []TickerItem
	// AttackInfo holds the latest putflag hints: slot → attackInfo.
	AttackInfo map[FlagID]string
	// Remedies lists applied remedies in order.
	Remedies []TickerItem
	// Board is what the public sees while the board is frozen.
	Board *FrozenBoard
}

// FrozenBoard is the public board as of the freeze.
type FrozenBoard struct {
	Standings []Standing
	Status    map[string]map[string]Status
	Recent    []TickerItem
}

// NewState returns the empty fold for cfg.
func NewState(cfg *Config) *State {
	s := &State{
		Teams:      make([]TeamScore, len(cfg.Teams)),
		Flags:      map[FlagID]*FlagState{},
		FirstBlood: map[[2]int16]bool{},
		Replicas:   map[[2]int16]*ReplicaStatus{},
		AttackInfo: map[FlagID]string{},
	}
	s.bind(cfg)
	return s
}

func (s *State) bind(cfg *Config) {
	s.cfg = cfg
	s.sqrtA = math.Sqrt(float64(cfg.attackers()))
}

// Applied tells the caller what an event did that the log alone does not
// say directly: the points a capture was worth when it was applied, and the
// public ticker items it produced.
type Applied struct {
	Points float64
	Items  []TickerItem
}

// Apply folds one event into the state. Events must come in log order.
// An event that refers to unknown teams or services is an error and
// changes nothing.
func (s *State) Apply(e *Event) (Applied, error) {
	var out Applied
	if e.Seq != 0 && e.Seq <= s.LastSeq {
		return out, fmt.Errorf("scoreboard: event %d applied after %d: %w", e.Seq, s.LastSeq, ErrConflict)
	}
	if err := s.check(e); err != nil {
		return out, err
	}
	switch e.Kind {
	case KindPhaseChanged:
		s.applyPhase(e, &out)
	case KindTickStarted:
		s.applyTick(e)
	case KindFlagIssued:
		id := FlagID{Tick: e.Tick, Owner: e.Owner, Service: e.Service, Store: e.Store}
		f := s.flag(id)
		f.Planted = Status(e.Code) == StatusOK
		if f.Planted && e.Text != "" {
			s.AttackInfo[id] = e.Text
		}
	case KindCheckResult:
		s.applyCheck(e, &out)
	case KindFlagCaptured:
		s.applyCapture(e, &out)
	case KindDetectionJudged:
		s.applyJudged(e, &out)
	case KindRemedyApplied:
		it := TickerItem{Seq: e.Seq, Time: e.Time, Kind: "remedy", Team: s.teamName(e.Owner),
			Service: s.serviceName(e.Service), Text: e.Text}
		s.Remedies = append(s.Remedies, it)
	case KindDetectionReported, KindTelemetrySummary:
		// Recorded for the defence's game; judged and summarised by later
		// events, so nothing to fold here.
	}
	if e.Seq != 0 {
		s.LastSeq = e.Seq
	}
	for _, it := range out.Items {
		s.pushRecent(it)
	}
	return out, nil
}

func (s *State) check(e *Event) error {
	team := func(t int16) bool { return t >= 0 && int(t) < len(s.cfg.Teams) }
	svc := func(v int16) bool { return v >= 0 && int(v) < len(s.cfg.Services) }
	store := func(v, st int16) bool { return st >= 0 && int(st) < len(s.cfg.Services[v].Stores) }
	bad := func(what string) error {
		return fmt.Errorf("scoreboard: event %d (%s): %s: %w", e.Seq, e.Kind, what, ErrInvalid)
	}
	switch e.Kind {
	case KindFlagIssued:
		if !team(e.Owner) || !svc(e.Service) || !store(e.Service, e.Store) {
			return bad("unknown slot")
		}
	case KindCheckResult, KindRemedyApplied:
		if !team(e.Owner) || !svc(e.Service) {
			return bad("unknown replica")
		}
	case KindFlagCaptured:
		if !team(e.Team) || !team(e.Owner) || !svc(e.Service) || !store(e.Service, e.Store) {
			return bad("unknown capture")
		}
	case KindDetectionReported, KindDetectionJudged:
		if !team(e.Team) {
			return bad("unknown team")
		}
	case KindPhaseChanged:
		if e.Code > uint8(PhaseEnded) {
			return bad("unknown phase")
		}
	}
	return nil
}

func (s *State) flag(id FlagID) *FlagState {
	f := s.Flags[id]
	if f == nil {
		f = &FlagState{}
		s.Flags[id] = f
	}
	return f
}

func (s *State) applyPhase(e *Event, out *Applied) {
	next := Phase(e.Code)
	if s.Phase == PhaseRunning && next != PhaseRunning && !s.RunningSince.IsZero() {
		s.Running += e.Time.Sub(s.RunningSince)
		s.RunningSince = time.Time{}
	}
	if next == PhaseRunning && s.RunningSince.IsZero() {
		s.RunningSince = e.Time
		if s.StartedAt.IsZero() {
			s.StartedAt = e.Time
		}
	}
	s.Phase = next
	wasFrozen := s.Frozen
	s.Frozen = e.Value == 1
	switch {
	case next == PhaseEnded:
		// The end reveals the final board.
		s.Board = nil
	case s.Frozen && !wasFrozen:
		// Kept in the state, not beside it, so that a restart shows the
		// public exactly the board of the moment of the freeze.
		s.Board = &FrozenBoard{Standings: s.Standings(), Status: s.StatusMatrix(), Recent: s.RecentItems()}
	}
	out.Items = append(out.Items, TickerItem{Seq: e.Seq, Time: e.Time, Kind: "phase", Text: e.Text})
}

// RunningTime is the game's running time at now (pauses excluded).
func (s *State) RunningTime(now time.Time) time.Duration {
	d := s.Running
	if !s.RunningSince.IsZero() && now.After(s.RunningSince) {
		d += now.Sub(s.RunningSince)
	}
	return d
}

func (s *State) applyTick(e *Event) {
	s.Tick = e.Tick
	s.TickStartedAt = e.Time
	s.TickLength = time.Duration(e.Value)
	// Flags of tick Tick-L and older have expired: credit the ones that
	// were planted and never captured, then forget them all.
	horizon := e.Tick - int32(s.cfg.FlagLifetime)
	var expired []FlagID
	for id := range s.Flags {
		if id.Tick <= horizon {
			expired = append(expired, id)
		}
	}
	// Map order is random; sort so that the order of the float additions,
	// and so every total, is the same in every fold.
	sort.Slice(expired, func(i, j int) bool { return lessFlag(expired[i], expired[j]) })
	for _, id := range expired {
		f := s.Flags[id]
		if f.Planted && len(f.Capturers) == 0 {
			t := &s.Teams[id.Owner]
			t.Protected += s.cfg.Services[id.Service].Weight
			t.FlagsProtected++
			t.LastScoreSeq = e.Seq
		}
		delete(s.Flags, id)
		delete(s.AttackInfo, id)
	}
}

func lessFlag(a, b FlagID) bool {
	if a.Tick != b.Tick {
		return a.Tick < b.Tick
	}
	if a.Owner != b.Owner {
		return a.Owner < b.Owner
	}
	if a.Service != b.Service {
		return a.Service < b.Service
	}
	return a.Store < b.Store
}

func (s *State) applyCheck(e *Event, out *Applied) {
	key := [2]int16{e.Owner, e.Service}
	r := s.Replicas[key]
	if r == nil {
		r = &ReplicaStatus{}
		s.Replicas[key] = r
	}
	st := Status(e.Code)
	prev := r.Status
	r.Status = st
	r.Message = e.Text
	r.History = append(r.History, TickStatus{Tick: e.Tick, Status: st})
	if len(r.History) > historyLen {
		r.History = append(r.History[:0], r.History[len(r.History)-historyLen:]...)
	}
	w := s.cfg.Services[e.Service].Weight
	t := &s.Teams[e.Owner]
	t.ChecksTotal++
	switch st {
	case StatusOK, StatusError:
		t.SLA += w * s.sqrtA
		t.ChecksUp++
		t.LastScoreSeq = e.Seq
	case StatusRecovering:
		t.SLA += w * s.sqrtA / 2
		t.ChecksUp++
		t.LastScoreSeq = e.Seq
	}
	if prev != StatusUnknown && prev.up() != st.up() {
		kind := "service_down"
		if st.up() {
			kind = "service_up"
		}
		out.Items = append(out.Items, TickerItem{Seq: e.Seq, Time: e.Time, Kind: kind,
			Target: s.teamName(e.Owner), Service: s.serviceName(e.Service), Text: st.String()})
	}
}

func (s *State) applyCapture(e *Event, out *Applied) {
	id := FlagID{Tick: e.FlagTick, Owner: e.Owner, Service: e.Service, Store: e.Store}
	f := s.flag(id)
	for _, c := range f.Capturers {
		if c == e.Team {
			return
		}
	}
	w := s.cfg.Services[e.Service].Weight
	n := float64(len(f.Capturers))
	// Every earlier capturer's share shrinks from w/n to w/(n+1).
	for _, c := range f.Capturers {
		s.Teams[c].Attack += w/(n+1) - w/n
	}
	f.Capturers = append(f.Capturers, e.Team)
	pts := w * (1 + 1/(n+1))
	a := &s.Teams[e.Team]
	a.Attack += pts
	a.Captures++
	a.LastScoreSeq = e.Seq
	o := &s.Teams[e.Owner]
	o.Lost += w*math.Pow(n+1, 0.75) - w*math.Pow(n, 0.75)
	if n == 0 {
		o.FlagsLost++
	}
	out.Points = pts
	item := TickerItem{Seq: e.Seq, Time: e.Time, Kind: "capture", Team: s.teamName(e.Team),
		Target: s.teamName(e.Owner), Service: s.serviceName(e.Service), Points: pts}
	out.Items = append(out.Items, item)
	fb := [2]int16{e.Service, e.Store}
	if !s.FirstBlood[fb] {
		s.FirstBlood[fb] = true
		bonus := s.cfg.Scoring.FirstBlood * w
		a.Attack += bonus
		a.FirstBloods++
		out.Points += bonus
		item.Kind = "first_blood"
		item.Points = bonus
		item.Text = s.cfg.Services[e.Service].Stores[e.Store]
		out.Items = append(out.Items, item)
	}
}

// judgement is the JSON body of a KindDetectionJudged event's Text.
type judgement struct {
	Verdict  string  `json:"verdict"`
	Points   float64 `json:"points"`
	Attacker string  `json:"attacker,omitempty"`
	Service  string  `json:"service,omitempty"`
}

// Detection verdicts, the Code of a KindDetectionJudged event.
const (
	VerdictPending uint8 = iota
	VerdictTrue
	VerdictFalse
	VerdictDuplicate
)

func (s *State) applyJudged(e *Event, out *Applied) {
	var j judgement
	if err := json.Unmarshal([]byte(e.Text), &j); err != nil || math.IsNaN(j.Points) || math.IsInf(j.Points, 0) {
		return
	}
	t := &s.Teams[e.Team]
	t.Detection += j.Points
	switch e.Code {
	case VerdictTrue:
		t.DetectionsTrue++
		out.Items = append(out.Items, TickerItem{Seq: e.Seq, Time: e.Time, Kind: "detection",
			Team: s.teamName(e.Team), Service: j.Service, Points: j.Points})
	case VerdictFalse:
		t.DetectionsFalse++
	case VerdictDuplicate:
		t.DetectionsDup++
	}
	if j.Points != 0 {
		t.LastScoreSeq = e.Seq
	}
}

func (s *State) pushRecent(it TickerItem) {
	s.Recent = append(s.Recent, it)
	if len(s.Recent) > recentLen*2 {
		s.Recent = append(s.Recent[:0], s.Recent[len(s.Recent)-recentLen:]...)
	}
}

// RecentItems returns up to the last recentLen ticker items, oldest first.
func (s *State) RecentItems() []TickerItem {
	r := s.Recent
	if len(r) > recentLen {
		r = r[len(r)-recentLen:]
	}
	return append([]TickerItem(nil), r...)
}

func (s *State) teamName(t int16) string {
	if t >= 0 && int(t) < len(s.cfg.Teams) {
		return s.cfg.Teams[t].Name
	}
	return ""
}

func (s *State) serviceName(v int16) string {
	if v >= 0 && int(v) < len(s.cfg.Services) {
		return s.cfg.Services[v].Name
	}
	return ""
}

// Standing is one team's line on the board.
type Standing struct {
	Team      string  `json:"team"`
	TeamID    int     `json:"teamId"`
	Role      Role    `json:"role"`
	Rank      int     `json:"rank"`
	Total     float64 `json:"total"`
	Attack    float64 `json:"attack"`
	Defence   float64 `json:"defence"`
	SLA       float64 `json:"sla"`
	Lost      float64 `json:"lost"`
	Protected float64 `json:"protected"`
	Detection float64 `json:"detection"`

	Captures       int     `json:"captures"`
	FirstBloods    int     `json:"firstBloods"`
	FlagsLost      int     `json:"flagsLost"`
	FlagsProtected int     `json:"flagsProtected"`
	Availability   float64 `json:"availability"`
}

// Standings ranks the teams. Attack teams are ranked by attack points,
// defence teams by their defence total, and teams with role both by attack
// plus defence; each role is ranked among its own kind. Ties go to the team
// whose last scoring event came first.
func (s *State) Standings() []Standing {
	out := make([]Standing, len(s.cfg.Teams))
	for i, t := range s.cfg.Teams {
		sc := &s.Teams[i]
		st := Standing{Team: t.Name, TeamID: i, Role: t.Role, Attack: sc.Attack, SLA: sc.SLA,
			Lost: sc.Lost, Protected: sc.Protected, Detection: sc.Detection,
			Captures: sc.Captures, FirstBloods: sc.FirstBloods, FlagsLost: sc.FlagsLost,
			FlagsProtected: sc.FlagsProtected}
		if t.Role.Defends() {
			st.Defence = sc.DefenceTotal()
			if sc.ChecksTotal > 0 {
				st.Availability = float64(sc.ChecksUp) / float64(sc.ChecksTotal)
			}
		}
		switch t.Role {
		case RoleAttack:
			st.Total = st.Attack
		case RoleDefence:
			st.Total = st.Defence
		default:
			st.Total = st.Attack + st.Defence
		}
		out[i] = st
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := &out[i], &out[j]
		if a.Role != b.Role {
			return roleOrder(a.Role) < roleOrder(b.Role)
		}
		if a.Total != b.Total {
			return a.Total > b.Total
		}
		sa, sb := s.Teams[a.TeamID].LastScoreSeq, s.Teams[b.TeamID].LastScoreSeq
		if sa != sb {
			return sa < sb
		}
		return a.TeamID < b.TeamID
	})
	rank := 0
	for i := range out {
		if i == 0 || out[i].Role != out[i-1].Role {
			rank = 0
		}
		rank++
		out[i].Rank = rank
	}
	return out
}

func roleOrder(r Role) int {
	switch r {
	case RoleBoth:
		return 0
	case RoleAttack:
		return 1
	}
	return 2
}

// StatusMatrix returns owner → service → status for every checked replica.
func (s *State) StatusMatrix() map[string]map[string]Status {
	m := map[string]map[string]Status{}
	for k, r := range s.Replicas {
		tn := s.teamName(k[0])
		if m[tn] == nil {
			m[tn] = map[string]Status{}
		}
		m[tn][s.serviceName(k[1])] = r.Status
	}
	return m
}

// Encode serialises the state for a snapshot.
func (s *State) Encode() ([]byte, error) {
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(s); err != nil {
		return nil, fmt.Errorf("scoreboard: encoding state: %w", err)
	}
	return buf.Bytes(), nil
}

// DecodeState restores a snapshot made by Encode for cfg.
func DecodeState(cfg *Config, b []byte) (*State, error) {
	s := NewState(cfg)
	if err := gob.NewDecoder(bytes.NewReader(b)).Decode(s); err != nil {
		return nil, fmt.Errorf("scoreboard: decoding state: %w", err)
	}
	if len(s.Teams) != len(cfg.Teams) {
		return nil, fmt.Errorf("scoreboard: snapshot has %d teams, scenario %d: %w", len(s.Teams), len(cfg.Teams), ErrConflict)
	}
	for _, m := range []*map[FlagID]*FlagState{&s.Flags} {
		if *m == nil {
			*m = map[FlagID]*FlagState{}
		}
	}
	if s.FirstBlood == nil {
		s.FirstBlood = map[[2]int16]bool{}
	}
	if s.Replicas == nil {
		s.Replicas = map[[2]int16]*ReplicaStatus{}
	}
	if s.AttackInfo == nil {
		s.AttackInfo = map[FlagID]string{}
	}
	s.bind(cfg)
	return s, nil
}
