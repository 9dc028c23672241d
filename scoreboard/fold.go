package scoreboard

import (
	"bytes"
	"encoding/gob"
	"fmt"
	"math"
	"slices"
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
	// Incidents counts the incidents against the team's replicas;
	// DetectionsMissed those that can no longer be credited and never
	// were. DetectTime sums the time to detect of the true positives.
	Incidents        int
	DetectionsMissed int
	DetectTime       time.Duration

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

// HeldCaptures are a flag's captures that have not scored
// (Config.RequireTelemetry): Pending wait for telemetry, Unverified came
// without any and are not their teams' to submit again. Kept beside the
// flags, not in them, because only games that require telemetry have any
// and every flag's state stays small.
type HeldCaptures struct {
	Pending    []int16
	Unverified []int16
}

// submitted reports whether team submitted flag id already, whatever
// became of it.
func (s *State) submitted(id FlagID, team int16) bool {
	if f := s.Flags[id]; f != nil && slices.Contains(f.Capturers, team) {
		return true
	}
	return s.held(id, team)
}

// held reports whether team's capture of flag id is held.
func (s *State) held(id FlagID, team int16) bool {
	if len(s.Held) == 0 {
		return false
	}
	if h := s.Held[id]; h != nil {
		return slices.Contains(h.Pending, team) || slices.Contains(h.Unverified, team)
	}
	return false
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
	// Source is where a target log line's activity came from (the
	// client's address), on a defending team's stream only.
	Source string `json:"source,omitempty"`
	// LogSeq is the item's place in the event log when Seq is a frozen
	// board's own numbering (FrozenBoard.Seq); zero otherwise. Never sent.
	LogSeq uint64 `json:"-"`
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

	// Incidents lists every incident (telemetry.go) in the order they
	// began; an incident's ID is its index.
	Incidents []Incident
	// Reports holds the detection reports; report id i is Reports[i-1].
	Reports []DetectionReport
	// PendingCaptures wait for the telemetry of their tick
	// (Config.RequireTelemetry), in log order; Held has them by flag.
	PendingCaptures []PendingCapture
	Held            map[FlagID]*HeldCaptures
	// Unverified lists the captures that scored nothing for want of
	// telemetry, for the organizer.
	Unverified []UnverifiedCapture
	// LastCapture is the tick of each (team, owner, service, store)'s
	// latest capture, which a report naming the store is checked against.
	LastCapture map[[4]int16]int32
	// TelemetryUpTo is the time of the latest telemetry summary: the
	// connections that ended before it are in the log.
	TelemetryUpTo time.Time
	// RemedyUpTo is the time of each replica's latest recorded remedy.
	RemedyUpTo map[[2]int16]time.Time

	// byKey lists the incidents of each (team, owner, service) in order,
	// and open the incidents that may still be credited. Both follow from
	// Incidents and are rebuilt after a snapshot.
	byKey map[[3]int16][]int
	open  []int
}

// FrozenBoard is the public board as of the freeze.
type FrozenBoard struct {
	Standings []Standing
	Status    map[string]map[string]Status
	// Recent is the public ticker: the items of before the freeze, then
	// the phase changes since, the only news the public still gets.
	Recent []TickerItem
	// Seq is the public's own count while the board is frozen: the
	// freeze's place in the log, plus one for each item shown since,
	// which carries it as its Seq. The numbers the public sees thus move
	// with what it is shown, never with how many events the freeze hides.
	Seq uint64
}

// show adds an item to the frozen ticker, numbered in the board's own
// count.
func (b *FrozenBoard) show(it TickerItem) {
	b.Seq++
	it.LogSeq, it.Seq = it.Seq, b.Seq
	b.Recent = append(b.Recent, it)
	if len(b.Recent) > recentLen {
		b.Recent = append(b.Recent[:0], b.Recent[len(b.Recent)-recentLen:]...)
	}
}

// NewState returns the empty fold for cfg.
func NewState(cfg *Config) *State {
	s := &State{
		Teams:       make([]TeamScore, len(cfg.Teams)),
		Flags:       map[FlagID]*FlagState{},
		FirstBlood:  map[[2]int16]bool{},
		Replicas:    map[[2]int16]*ReplicaStatus{},
		AttackInfo:  map[FlagID]string{},
		LastCapture: map[[4]int16]int32{},
		RemedyUpTo:  map[[2]int16]time.Time{},
		Held:        map[FlagID]*HeldCaptures{},
		byKey:       map[[3]int16][]int{},
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
// public ticker items it produced. Pending says the capture waits for the
// telemetry of its tick before it scores.
type Applied struct {
	Points  float64
	Pending bool
	Items   []TickerItem
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
		s.applyTick(e, &out)
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
		key := [2]int16{e.Owner, e.Service}
		if e.Time.After(s.RemedyUpTo[key]) {
			s.RemedyUpTo[key] = e.Time
		}
	case KindDetectionReported:
		s.applyReported(e)
	case KindTelemetrySummary:
		s.applyTelemetry(e)
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
	case KindDetectionReported:
		if !team(e.Team) || !svc(e.Service) || (e.Store != -1 && !store(e.Service, e.Store)) {
			return bad("unknown team, service or store")
		}
	case KindDetectionJudged:
		if !team(e.Team) {
			return bad("unknown team")
		}
	case KindTelemetrySummary:
		if !team(e.Team) || !team(e.Owner) || !svc(e.Service) || e.Team == e.Owner {
			return bad("unknown attacker or replica")
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
	if next == PhaseEnded && s.Phase != PhaseEnded {
		// No tick follows: the captures still waiting are judged on the
		// telemetry there is, and no report can credit an incident now.
		s.resolveCaptures(e, out, true)
		s.closeIncidents(e, true)
	}
	s.Phase = next
	wasFrozen := s.Frozen
	s.Frozen = e.Value == 1
	it := TickerItem{Seq: e.Seq, Time: e.Time, Kind: "phase", Text: e.Text}
	switch {
	case next == PhaseEnded:
		// The end reveals the final board.
		s.Board = nil
	case s.Frozen && !wasFrozen:
		// Kept in the state, not beside it, so that a restart shows the
		// public exactly the board of the moment of the freeze.
		s.Board = &FrozenBoard{Standings: s.Standings(), Status: s.StatusMatrix(),
			Recent: append(s.RecentItems(), it), Seq: e.Seq}
	case s.Board != nil:
		s.Board.show(it)
	}
	out.Items = append(out.Items, it)
}

// RunningTime is the game's running time at now (pauses excluded).
func (s *State) RunningTime(now time.Time) time.Duration {
	d := s.Running
	if !s.RunningSince.IsZero() && now.After(s.RunningSince) {
		d += now.Sub(s.RunningSince)
	}
	return d
}

func (s *State) applyTick(e *Event, out *Applied) {
	// The telemetry of the tick that ends is in the log by now (the game
	// appends it before the next TickStarted): captures that waited for
	// it are settled, before their flags may expire below.
	s.resolveCaptures(e, out, false)
	s.Tick = e.Tick
	s.closeIncidents(e, false)
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
		h := s.Held[id]
		if h != nil && len(h.Pending) > 0 {
			// Kept until its captures are settled at the next tick.
			continue
		}
		delete(s.Held, id)
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
	if s.Phase == PhaseEnded {
		// A check of the tick in flight when the game ended finishes
		// after it: it shows the replica's state, but the final standings
		// were announced at the end and stay as they were.
		return
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
	if slices.Contains(f.Capturers, e.Team) || s.held(id, e.Team) {
		return
	}
	s.LastCapture[[4]int16{e.Team, e.Owner, e.Service, e.Store}] = e.Tick
	// The telemetry of the current tick reaches the log at its end, so a
	// capture is verified at once only by a connection of an earlier tick
	// of the flag's life; otherwise it waits for the tick's end.
	if s.cfg.RequireTelemetry && !s.touched(e.Team, e.Owner, e.Service, e.FlagTick, e.Tick) {
		h := s.Held[id]
		if h == nil {
			h = &HeldCaptures{}
			s.Held[id] = h
		}
		h.Pending = append(h.Pending, e.Team)
		s.PendingCaptures = append(s.PendingCaptures, PendingCapture{Seq: e.Seq, Time: e.Time, Tick: e.Tick,
			Team: e.Team, Flag: id})
		out.Pending = true
		return
	}
	s.award(e.Team, id, f, e.Seq, e.Time, out)
}

// award scores team's capture of flag id: its share, the owner's loss and
// first blood. seq is the event that scores it and at the capture's time.
func (s *State) award(team int16, id FlagID, f *FlagState, seq uint64, at time.Time, out *Applied) {
	w := s.cfg.Services[id.Service].Weight
	n := float64(len(f.Capturers))
	// Every earlier capturer's share shrinks from w/n to w/(n+1).
	for _, c := range f.Capturers {
		s.Teams[c].Attack += w/(n+1) - w/n
	}
	f.Capturers = append(f.Capturers, team)
	pts := w * (1 + 1/(n+1))
	a := &s.Teams[team]
	a.Attack += pts
	a.Captures++
	a.LastScoreSeq = seq
	o := &s.Teams[id.Owner]
	o.Lost += w*math.Pow(n+1, 0.75) - w*math.Pow(n, 0.75)
	if n == 0 {
		o.FlagsLost++
	}
	out.Points += pts
	item := TickerItem{Seq: seq, Time: at, Kind: "capture", Team: s.teamName(team),
		Target: s.teamName(id.Owner), Service: s.serviceName(id.Service), Points: pts}
	out.Items = append(out.Items, item)
	fb := [2]int16{id.Service, id.Store}
	if !s.FirstBlood[fb] {
		s.FirstBlood[fb] = true
		bonus := s.cfg.Scoring.FirstBlood * w
		a.Attack += bonus
		a.FirstBloods++
		out.Points += bonus
		item.Kind = "first_blood"
		item.Points = bonus
		item.Text = s.cfg.Services[id.Service].Stores[id.Store]
		out.Items = append(out.Items, item)
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

	// The defence's detection scorecard (zero for attack-only teams):
	// reports judged true, false and duplicate, the incidents against the
	// team's replicas and those missed (never credited and past their
	// window), and the mean time to detect of the true positives in
	// seconds (0 without any).
	DetectionsTrue      int     `json:"detectionsTrue"`
	DetectionsFalse     int     `json:"detectionsFalse"`
	DetectionsDuplicate int     `json:"detectionsDuplicate"`
	Incidents           int     `json:"incidents"`
	DetectionsMissed    int     `json:"detectionsMissed"`
	MeanTimeToDetect    float64 `json:"meanTimeToDetect"`
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
			st.DetectionsTrue, st.DetectionsFalse, st.DetectionsDuplicate = sc.DetectionsTrue, sc.DetectionsFalse, sc.DetectionsDup
			st.Incidents, st.DetectionsMissed = sc.Incidents, sc.DetectionsMissed
			if sc.DetectionsTrue > 0 {
				st.MeanTimeToDetect = sc.DetectTime.Seconds() / float64(sc.DetectionsTrue)
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
	if s.LastCapture == nil {
		s.LastCapture = map[[4]int16]int32{}
	}
	if s.RemedyUpTo == nil {
		s.RemedyUpTo = map[[2]int16]time.Time{}
	}
	if s.Held == nil {
		s.Held = map[FlagID]*HeldCaptures{}
	}
	if b := s.Board; b != nil && b.Seq == 0 {
		// A snapshot of before the frozen board kept its own ticker and
		// count: rebuild them from what the state still holds.
		if len(b.Recent) > 0 {
			b.Seq = b.Recent[len(b.Recent)-1].Seq
		}
		for _, it := range phaseItems(s.RecentItems(), b.Recent) {
			b.show(it)
		}
	}
	s.byKey = map[[3]int16][]int{}
	for i := range s.Incidents {
		in := &s.Incidents[i]
		s.byKey[in.key()] = append(s.byKey[in.key()], i)
		if !in.Credited && !in.Missed {
			s.open = append(s.open, i)
		}
	}
	s.bind(cfg)
	return s, nil
}
