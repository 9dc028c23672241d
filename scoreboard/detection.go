package scoreboard

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/netip"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// Detection verdicts, the Code of a KindDetectionJudged event.
const (
	VerdictPending uint8 = iota
	VerdictTrue
	VerdictFalse
	VerdictDuplicate
)

// VerdictName is a verdict's wire name (PROTOCOLS.md §7).
func VerdictName(code uint8) string {
	switch code {
	case VerdictTrue:
		return "true_positive"
	case VerdictFalse:
		return "false_positive"
	case VerdictDuplicate:
		return "duplicate"
	}
	return "pending"
}

// Bounds of a detection report's fields.
const (
	MaxReportNotes    = 2000 // characters
	maxReportName     = 128  // bytes of attacker, service, store
	maxReportsPerTick = 60   // per team
	// seenAtSkew is how far in the future a report's seenAt may lie: the
	// defence's clocks are not the game's.
	seenAtSkew = 5 * time.Minute
)

var techniqueRE = regexp.MustCompile(`^T[0-9]{4}(\.[0-9]{3})?$`)

// DetectionInput is a detection report as the defence files it
// (PROTOCOLS.md §7).
type DetectionInput struct {
	// Attacker is a team's name or a source address (with or without a
	// port) that the address plan maps to a team.
	Attacker string
	Service  string
	SeenAt   time.Time
	// Technique is an ATT&CK technique id (T1110 or T1110.001), Store a
	// flag store of Service the attacker reached, Notes free text; all
	// optional.
	Technique string
	Store     string
	Notes     string
}

// detectionBody is the wire form, with pointers so that a missing field
// and an empty one read alike and a wrong type names its field.
type detectionBody struct {
	Attacker  *string `json:"attacker"`
	Service   *string `json:"service"`
	SeenAt    *string `json:"seenAt"`
	Technique *string `json:"technique"`
	Store     *string `json:"store"`
	Notes     *string `json:"notes"`
}

func fieldErr(field, format string, args ...any) error {
	return fmt.Errorf("scoreboard: field %q: %s: %w", field, fmt.Sprintf(format, args...), ErrInvalid)
}

// ParseDetection decodes a report body and checks each field on its own;
// what needs the game (the team, the service, the store) is checked by
// ReportDetection. Errors wrap ErrInvalid and name the field at fault.
func ParseDetection(body []byte) (DetectionInput, error) {
	var in DetectionInput
	var b detectionBody
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &te) && te.Field != "":
			return in, fieldErr(te.Field, "want a string")
		case errors.As(err, &te):
			return in, fmt.Errorf("scoreboard: detection report: want a JSON object: %w", ErrInvalid)
		case errors.Is(err, io.EOF):
			return in, fmt.Errorf("scoreboard: detection report: empty body: %w", ErrInvalid)
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			return in, fmt.Errorf("scoreboard: detection report: unknown field %s (want attacker, service, seenAt, technique, store, notes): %w",
				strings.TrimPrefix(err.Error(), "json: unknown field "), ErrInvalid)
		}
		return in, fmt.Errorf("scoreboard: detection report: invalid JSON: %v: %w", err, ErrInvalid)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return in, fmt.Errorf("scoreboard: detection report: data after the JSON object: %w", ErrInvalid)
	}
	str := func(p *string) string {
		if p == nil {
			return ""
		}
		return strings.TrimSpace(*p)
	}
	in.Attacker, in.Service, in.Store = str(b.Attacker), str(b.Service), str(b.Store)
	in.Technique, in.Notes = strings.ToUpper(str(b.Technique)), str(b.Notes)
	for _, f := range []struct{ name, v string }{{"attacker", in.Attacker}, {"service", in.Service}, {"store", in.Store}} {
		if len(f.v) > maxReportName {
			return in, fieldErr(f.name, "longer than %d bytes", maxReportName)
		}
		if strings.ContainsFunc(f.v, func(r rune) bool { return r < ' ' || r == 0x7f }) {
			return in, fieldErr(f.name, "contains control characters")
		}
	}
	if in.Attacker == "" {
		return in, fieldErr("attacker", "required: a team's name or a source address")
	}
	if in.Service == "" {
		return in, fieldErr("service", "required")
	}
	seen := str(b.SeenAt)
	if seen == "" {
		return in, fieldErr("seenAt", "required: when the attack was seen, RFC 3339 (2026-03-02T08:00:30+07:00)")
	}
	t, err := time.Parse(time.RFC3339Nano, seen)
	if err != nil {
		return in, fieldErr("seenAt", "want an RFC 3339 time such as 2026-03-02T08:00:30+07:00, got %q", seen)
	}
	in.SeenAt = t
	if in.Technique != "" && !techniqueRE.MatchString(in.Technique) {
		return in, fieldErr("technique", "want an ATT&CK technique id such as T1110 or T1110.001, got %q", in.Technique)
	}
	if !utf8.ValidString(in.Notes) {
		return in, fieldErr("notes", "not valid UTF-8")
	}
	if n := utf8.RuneCountInString(in.Notes); n > MaxReportNotes {
		return in, fieldErr("notes", "%d characters, at most %d", n, MaxReportNotes)
	}
	return in, nil
}

// DetectionReport is one report as the fold keeps it.
type DetectionReport struct {
	ID   int64
	Team int16
	// Attacker is the team the report names, -1 for an address of no
	// team; AttackerText is what the defence wrote.
	Attacker     int16
	AttackerText string
	Service      int16
	// Store is the flag store named, -1 for none.
	Store      int16
	Technique  string
	Notes      string
	SeenAt     time.Time
	ReportedAt time.Time
	Tick       int32

	Verdict uint8
	// Points is Base + Timeliness + StoreBonus.
	Points     float64
	Base       float64
	Timeliness float64
	StoreBonus float64
	// Incident is the incident credited (true positive) or already
	// credited (duplicate), -1 for none.
	Incident int
	JudgedAt time.Time
	// TTD is the time to detect of a true positive: from the incident's
	// first connection to the report.
	TTD time.Duration
}

// reportText is the JSON body of a KindDetectionReported event.
type reportText struct {
	Attacker     string    `json:"attacker"`
	AttackerTeam int       `json:"attackerTeam"`
	SeenAt       time.Time `json:"seenAt"`
	Technique    string    `json:"technique,omitempty"`
	Notes        string    `json:"notes,omitempty"`
}

// judgement is the JSON body of a KindDetectionJudged event.
type judgement struct {
	Verdict    string  `json:"verdict"`
	Points     float64 `json:"points"`
	Attacker   string  `json:"attacker,omitempty"`
	Service    string  `json:"service,omitempty"`
	Incident   int     `json:"incident"`
	Base       float64 `json:"base"`
	Timeliness float64 `json:"timeliness"`
	Store      float64 `json:"store"`
}

func (s *State) applyReported(e *Event) {
	var rt reportText
	if err := json.Unmarshal([]byte(e.Text), &rt); err != nil {
		return
	}
	if e.Value != int64(len(s.Reports))+1 {
		return
	}
	att := int16(-1)
	if rt.AttackerTeam >= 0 && rt.AttackerTeam < len(s.cfg.Teams) {
		att = int16(rt.AttackerTeam)
	}
	s.Reports = append(s.Reports, DetectionReport{ID: e.Value, Team: e.Team, Attacker: att, AttackerText: rt.Attacker,
		Service: e.Service, Store: e.Store, Technique: rt.Technique, Notes: rt.Notes, SeenAt: rt.SeenAt,
		ReportedAt: e.Time, Tick: e.Tick, Incident: -1})
}

func (s *State) applyJudged(e *Event, out *Applied) {
	var j judgement
	if err := json.Unmarshal([]byte(e.Text), &j); err != nil || math.IsNaN(j.Points) || math.IsInf(j.Points, 0) {
		return
	}
	if e.Value < 1 || e.Value > int64(len(s.Reports)) {
		return
	}
	r := &s.Reports[e.Value-1]
	if r.Team != e.Team || r.Verdict != VerdictPending || e.Code == VerdictPending || e.Code > VerdictDuplicate {
		return
	}
	r.Verdict, r.Points, r.Base, r.Timeliness, r.StoreBonus = e.Code, j.Points, j.Base, j.Timeliness, j.Store
	r.JudgedAt = e.Time
	if j.Incident >= 0 && j.Incident < len(s.Incidents) {
		r.Incident = j.Incident
	}
	t := &s.Teams[e.Team]
	t.Detection += j.Points
	switch e.Code {
	case VerdictTrue:
		t.DetectionsTrue++
		if r.Incident >= 0 {
			in := &s.Incidents[r.Incident]
			in.Credited, in.Report = true, r.ID
			r.TTD = max(r.ReportedAt.Sub(in.First), 0)
			t.DetectTime += r.TTD
		}
		out.Items = append(out.Items, TickerItem{Seq: e.Seq, Time: e.Time, Kind: "detection",
			Team: s.teamName(e.Team), Service: s.serviceName(r.Service), Text: VerdictName(VerdictTrue), Points: j.Points})
	case VerdictFalse:
		t.DetectionsFalse++
	case VerdictDuplicate:
		t.DetectionsDup++
	}
	if j.Points != 0 {
		t.LastScoreSeq = e.Seq
	}
}

// verdict is a judgement before it is an event.
type verdict struct {
	code                            uint8
	points, base, timeliness, store float64
	incident                        int
}

// judge applies SCORING.md's rules to report r on the state as it is. A
// report that matches an uncredited incident of its attacker on its
// service, active within the last L ticks before the report and begun
// before it, is a true positive; one whose matches are all credited is a
// duplicate, and one that matches nothing is false. Until final, only a
// true positive (or an address of no team, which nothing can ever match)
// is decided: telemetry of the report's time may still come. credited
// holds incidents credited by judgements not yet folded.
//
// An incident's run of ticks may begin after the report's tick, when the
// record of a connection made before the report reached the game only
// after the tick ended: what counts is that its first connection was
// made before the report.
//
// Among several candidates the one nearest to the report's seenAt wins,
// then the earliest: seenAt points at which incident the defence saw, but
// never decides whether it saw one.
func (s *State) judge(r *DetectionReport, final bool, credited map[int]bool) (verdict, bool) {
	w := s.cfg.Services[r.Service].Weight
	sc := s.cfg.Scoring
	falsePos := verdict{code: VerdictFalse, points: -sc.DetectionFalse * w, base: -sc.DetectionFalse * w, incident: -1}
	if r.Attacker < 0 {
		return falsePos, true
	}
	window := r.Tick - int32(s.cfg.FlagLifetime)
	best, dup := -1, -1
	var bestD, dupD time.Duration
	for _, i := range s.byKey[[3]int16{r.Attacker, r.Team, r.Service}] {
		in := &s.Incidents[i]
		if in.LastTick < window || in.First.After(r.ReportedAt) {
			continue
		}
		d := distance(r.SeenAt, in.First, in.Last)
		if in.Credited || credited[i] {
			if dup < 0 || d < dupD {
				dup, dupD = i, d
			}
			continue
		}
		if best < 0 || d < bestD {
			best, bestD = i, d
		}
	}
	switch {
	case best >= 0:
		in := &s.Incidents[best]
		t := max(r.ReportedAt.Sub(in.First), 0)
		span := time.Duration(s.cfg.FlagLifetime) * s.cfg.Tick
		v := verdict{code: VerdictTrue, base: sc.DetectionTrue * w, incident: best,
			timeliness: sc.DetectionTimeliness * w * max(0, 1-float64(t)/float64(span))}
		if r.Store >= 0 {
			if tk, ok := s.LastCapture[[4]int16{r.Attacker, r.Team, r.Service, r.Store}]; ok && tk >= in.FirstTick {
				v.store = sc.DetectionStore * w
			}
		}
		v.points = v.base + v.timeliness + v.store
		return v, true
	case !final:
		return verdict{}, false
	case dup >= 0:
		return verdict{code: VerdictDuplicate, incident: dup}, true
	}
	return falsePos, true
}

// distance is how far at lies from the span from..to.
func distance(at, from, to time.Time) time.Duration {
	switch {
	case at.Before(from):
		return from.Sub(at)
	case at.After(to):
		return at.Sub(to)
	}
	return 0
}

func (s *State) judgedEvent(r *DetectionReport, v verdict, now time.Time) Event {
	j := judgement{Verdict: VerdictName(v.code), Points: v.points, Service: s.serviceName(r.Service),
		Incident: v.incident, Base: v.base, Timeliness: v.timeliness, Store: v.store, Attacker: r.AttackerText}
	if r.Attacker >= 0 {
		j.Attacker = s.teamName(r.Attacker)
	}
	b, _ := json.Marshal(j)
	return Event{Time: now, Kind: KindDetectionJudged, Code: v.code, Tick: s.Tick, Team: r.Team, Owner: -1,
		Service: r.Service, Store: -1, Value: r.ID, Text: string(b)}
}

// DetectionAck answers a report that is durable (PROTOCOLS.md §7).
type DetectionAck struct {
	ID      int64  `json:"id"`
	Verdict string `json:"verdict"`
}

// ReportDetection records a detection report of defending team team and
// returns once it is durable, with its id and the verdict "pending". A
// report that matches an incident already in the log is judged a true
// positive at once; any other waits for the end of a tick whose telemetry
// holds the ground truth of its time, and is judged then for good (see
// closeTick and judge).
// The verdicts are KindDetectionJudged events the fold applies, so they
// are part of the log and a replay reproduces them.
//
// Errors: ErrNotFound (unknown team), ErrForbidden (a team that defends
// nothing), ErrInvalid naming the field at fault, ErrConflict before the
// start or after the end, ErrRateLimited past the reports a team may file
// in a tick, ErrUnavailable when the log cannot take it.
func (g *Game) ReportDetection(ctx context.Context, team int, in DetectionInput) (DetectionAck, error) {
	var ack DetectionAck
	cfg := g.cfg
	if team < 0 || team >= len(cfg.Teams) {
		return ack, fmt.Errorf("scoreboard: report: team %d: %w", team, ErrNotFound)
	}
	if !cfg.Teams[team].Role.Defends() {
		return ack, fmt.Errorf("scoreboard: report: team %q defends nothing: %w", cfg.Teams[team].Name, ErrForbidden)
	}
	svc := -1
	var names []string
	for i, s := range cfg.Services {
		names = append(names, s.Name)
		if s.Name == in.Service {
			svc = i
		}
	}
	if svc < 0 {
		return ack, fieldErr("service", "unknown service %q (want one of %s)", in.Service, strings.Join(names, ", "))
	}
	owns := false
	for _, r := range cfg.Replicas {
		owns = owns || (r.Owner == team && r.Service == svc)
	}
	if !owns {
		return ack, fieldErr("service", "your team defends no replica of %q", in.Service)
	}
	store := -1
	if in.Store != "" {
		for i, st := range cfg.Services[svc].Stores {
			if st == in.Store {
				store = i
			}
		}
		if store < 0 {
			return ack, fieldErr("store", "service %q has no flag store %q (want one of %s)", in.Service, in.Store,
				strings.Join(cfg.Services[svc].Stores, ", "))
		}
	}
	attacker, err := g.resolveAttacker(in.Attacker)
	if err != nil {
		return ack, err
	}
	if attacker == team {
		return ack, fieldErr("attacker", "%q is your own team", in.Attacker)
	}
	now := g.now()
	if in.SeenAt.After(now.Add(seenAtSkew)) {
		return ack, fieldErr("seenAt", "%s is in the future", in.SeenAt.Format(time.RFC3339))
	}

	g.judgeMu.Lock()
	defer g.judgeMu.Unlock()
	g.mu.RLock()
	st := g.st
	phase, tick := st.Phase, st.Tick
	id := int64(len(st.Reports)) + 1
	n := 0
	for i := len(st.Reports) - 1; i >= 0 && st.Reports[i].Tick == tick; i-- {
		if int(st.Reports[i].Team) == team {
			n++
		}
	}
	g.mu.RUnlock()
	switch {
	case phase == PhaseSetup || tick < 1:
		return ack, fmt.Errorf("scoreboard: report: %s: %w", MsgNotStarted, ErrConflict)
	case phase == PhaseEnded:
		return ack, fmt.Errorf("scoreboard: report: %s: %w", MsgOver, ErrConflict)
	case n >= maxReportsPerTick:
		return ack, fmt.Errorf("scoreboard: report: at most %d reports a tick: %w", maxReportsPerTick, ErrRateLimited)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(reportText{Attacker: in.Attacker, AttackerTeam: attacker, SeenAt: in.SeenAt,
		Technique: in.Technique, Notes: in.Notes})
	ev := Event{Time: now, Kind: KindDetectionReported, Tick: tick, Team: int16(team), Owner: int16(team),
		Service: int16(svc), Store: int16(store), Value: id, Text: strings.TrimSuffix(buf.String(), "\n")}
	if _, err := g.append(ctx, []Event{ev}); err != nil {
		g.logger.Error("detection report not recorded", "team", cfg.Teams[team].Name, "err", err)
		return ack, fmt.Errorf("scoreboard: report not recorded, try again: %w", ErrUnavailable)
	}
	// Acknowledged as pending either way; a judgement that cannot be
	// recorded now is made again at the tick's end.
	if err := g.judgeReports(ctx, nil, id); err != nil {
		g.logger.Error("detection verdict not recorded", "report", id, "err", err)
	}
	return DetectionAck{ID: id, Verdict: VerdictName(VerdictPending)}, nil
}

// resolveAttacker maps a report's attacker to a team: an address (or
// address:port) through the address plan, -1 when no team has it; else a
// team's name, compared without regard to case.
func (g *Game) resolveAttacker(s string) (int, error) {
	addr, err := netip.ParseAddr(s)
	if err != nil {
		if ap, perr := netip.ParseAddrPort(s); perr == nil {
			addr, err = ap.Addr(), nil
		}
	}
	if err == nil {
		if t, ok := g.TeamByAddr(addr); ok {
			return t, nil
		}
		// Reported all the same: attributing the checker's or some other
		// address to an attack is exactly what a false positive is.
		return -1, nil
	}
	for i, t := range g.cfg.Teams {
		if t.Name == s || strings.EqualFold(t.Name, s) {
			if !t.Role.Attacks() {
				return 0, fieldErr("attacker", "team %q does not attack", t.Name)
			}
			return i, nil
		}
	}
	return 0, fieldErr("attacker", "%q is neither a team's name nor an IP address", s)
}

// judgeReports judges the pending reports (only report only, if not 0)
// and records the verdicts. A report for which settled says yes (nil
// means none) is decided for good; any other only if judge decides it
// early. The caller holds judgeMu, so nothing that judging reads changes
// between the state it reads and the verdicts' place in the log.
func (g *Game) judgeReports(ctx context.Context, settled func(*DetectionReport) bool, only int64) error {
	now := g.now()
	var evs []Event
	credited := map[int]bool{}
	g.mu.RLock()
	st := g.st
	for i := range st.Reports {
		r := &st.Reports[i]
		if r.Verdict != VerdictPending || (only != 0 && r.ID != only) {
			continue
		}
		v, ok := st.judge(r, settled != nil && settled(r), credited)
		if !ok {
			continue
		}
		if v.code == VerdictTrue {
			credited[v.incident] = true
		}
		evs = append(evs, st.judgedEvent(r, v, now))
	}
	g.mu.RUnlock()
	if len(evs) == 0 {
		return nil
	}
	_, err := g.append(ctx, evs)
	return err
}

// closeTick ends the telemetry of tick: its summaries go to the log, then
// the pending reports are judged. A report is judged for good only once
// the ground truth of its time can no longer change: when every source of
// telemetry still alive has reported past the report's time (what it
// reported is in the summaries just written), or when TelemetryStale has
// passed since the report, so that a source that lags or is gone holds no
// judgement for long; at the end of the game (end) every report is. A
// report left pending is judged at a later tick's end. The caller holds
// judgeMu.
func (g *Game) closeTick(ctx context.Context, tick int32, now time.Time, end bool) error {
	evs, aggs, upTo, wait := g.takeTelemetry(tick, now)
	if len(evs) > 0 {
		if _, err := g.append(ctx, evs); err != nil {
			g.putBackTelemetry(aggs)
			return fmt.Errorf("scoreboard: telemetry of tick %d: %w", tick, err)
		}
	}
	if tick < 1 {
		return nil
	}
	settled := func(r *DetectionReport) bool {
		return end || !wait || !upTo.Before(r.ReportedAt) || now.Sub(r.ReportedAt) >= g.stale
	}
	return g.judgeReports(ctx, settled, 0)
}

// DetectionView is one report as its team sees it (GET /api/v1/detections).
type DetectionView struct {
	ID int64 `json:"id"`
	// Attacker is what the report said; AttackerTeam the team it named,
	// empty for an address of no team.
	Attacker     string    `json:"attacker"`
	AttackerTeam string    `json:"attackerTeam,omitempty"`
	Service      string    `json:"service"`
	Store        string    `json:"store,omitempty"`
	Technique    string    `json:"technique,omitempty"`
	Notes        string    `json:"notes,omitempty"`
	SeenAt       time.Time `json:"seenAt"`
	ReportedAt   time.Time `json:"reportedAt"`
	Tick         int32     `json:"tick"`
	// Verdict is pending, true_positive, false_positive or duplicate.
	Verdict   string     `json:"verdict"`
	Points    float64    `json:"points"`
	JudgedAt  *time.Time `json:"judgedAt,omitempty"`
	Breakdown *Breakdown `json:"breakdown,omitempty"`
	// TimeToDetect is a true positive's time from the incident's first
	// connection to the report, in seconds.
	TimeToDetect *float64 `json:"timeToDetect,omitempty"`
}

// Breakdown splits a judged report's points as SCORING.md does: base
// (+5w for a true positive, −2.5w for a false one), the timeliness bonus
// and the flag store bonus.
type Breakdown struct {
	Base       float64 `json:"base"`
	Timeliness float64 `json:"timeliness"`
	Store      float64 `json:"store"`
}

func (s *State) detectionView(r *DetectionReport) DetectionView {
	v := DetectionView{ID: r.ID, Attacker: r.AttackerText, Service: s.serviceName(r.Service),
		Technique: r.Technique, Notes: r.Notes, SeenAt: r.SeenAt, ReportedAt: r.ReportedAt, Tick: r.Tick,
		Verdict: VerdictName(r.Verdict), Points: r.Points}
	if r.Attacker >= 0 {
		v.AttackerTeam = s.teamName(r.Attacker)
	}
	if r.Store >= 0 && int(r.Store) < len(s.cfg.Services[r.Service].Stores) {
		v.Store = s.cfg.Services[r.Service].Stores[r.Store]
	}
	if r.Verdict != VerdictPending {
		at := r.JudgedAt
		v.JudgedAt = &at
		v.Breakdown = &Breakdown{Base: r.Base, Timeliness: r.Timeliness, Store: r.StoreBonus}
	}
	if r.Verdict == VerdictTrue {
		ttd := r.TTD.Seconds()
		v.TimeToDetect = &ttd
	}
	return v
}

// DetectionReports returns team's reports, oldest first.
func (g *Game) DetectionReports(team int) []DetectionView {
	g.mu.RLock()
	defer g.mu.RUnlock()
	out := []DetectionView{}
	for i := range g.st.Reports {
		if r := &g.st.Reports[i]; int(r.Team) == team {
			out = append(out, g.st.detectionView(r))
		}
	}
	return out
}

// Detections adapts the game to the web layer's detection endpoints: it
// parses a report's body and files it, and lists a team's reports.
type Detections struct{ g *Game }

// Detections returns the game's detection desk.
func (g *Game) Detections() Detections { return Detections{g: g} }

// Report parses body (ParseDetection) and files it (ReportDetection).
func (d Detections) Report(ctx context.Context, team int, body json.RawMessage) (DetectionAck, error) {
	in, err := ParseDetection(body)
	if err != nil {
		return DetectionAck{}, err
	}
	return d.g.ReportDetection(ctx, team, in)
}

// List returns team's reports (DetectionReports).
func (d Detections) List(_ context.Context, team int) ([]DetectionView, error) {
	return d.g.DetectionReports(team), nil
}
