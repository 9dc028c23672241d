package scoreboard

import (
	"slices"
	"time"
)

// The game's ground truth is connections (gateway and flow telemetry):
// an incident says who reached which replica of which service and when,
// never which ATT&CK technique the attacker used, since the targets'
// readings of their own log lines (target.Line.Technique) go to the
// defence's console and never into the log. So the technique table
// attributes techniques to an incident from what the fold does know:
//
//   - the techniques named by the reports judged against it (the true
//     positive that credited it and any duplicate of it), and
//   - the techniques of the planted weaknesses whose exploits reach a flag
//     store the incident's attacker captured from that replica while the
//     incident ran (its ticks, or the one after), when an Exposure says
//     which weaknesses the service plants.
//
// An incident with neither is listed under the technique "" (not
// attributable), so that nothing the scores count is left out.

// Exposure is, per service name, the weaknesses the scenario plants in
// it. The game does not know them (targets do); the caller brings them.
type Exposure map[string][]ExposedWeakness

// ExposedWeakness is one planted weakness: its ATT&CK techniques and the
// flag stores its exploit reaches.
type ExposedWeakness struct {
	Name       string   `json:"name"`
	Techniques []string `json:"techniques"`
	Stores     []string `json:"stores"`
}

// AATechniqueTable is one defending team's techniques: what was used
// against it, what it detected and what it missed.
type AATechniqueTable struct {
	Team       string        `json:"team"`
	Techniques []AATechnique `json:"techniques"`
}

// AATechnique is one technique used against a team. Technique "" holds
// the incidents no technique could be attributed to.
type AATechnique struct {
	Technique string `json:"technique"`
	// Used counts the incidents attributed to it; Detected, Missed and
	// Open split them by the incident's status.
	Used     int `json:"used"`
	Detected int `json:"detected"`
	Missed   int `json:"missed"`
	Open     int `json:"open"`
	// Attackers are the teams behind those incidents, in order of name.
	Attackers []string `json:"attackers"`
	// MeanTimeToDetect and FastestToDetect are over the detected
	// incidents, in seconds; nil when none was.
	MeanTimeToDetect *float64 `json:"meanTimeToDetect,omitempty"`
	FastestToDetect  *float64 `json:"fastestToDetect,omitempty"`
	// Incidents are the incidents, in the fold's order.
	Incidents []AATechniqueIncident `json:"incidents"`
}

// AATechniqueIncident is one incident under a technique.
type AATechniqueIncident struct {
	Incident int    `json:"incident"` // AAIncident.ID
	Attacker string `json:"attacker"`
	Service  string `json:"service"`
	Status   string `json:"status"`
	// From says how the technique was attributed: "report" (a report on
	// the incident named it), "capture" (a capture reached a store of a
	// weakness carrying it) or "" (not attributable).
	From string `json:"from"`
	// Report is the report that detected it for this technique: the
	// first one on the incident naming the technique, else the one that
	// credited the incident; By is the team that filed it.
	Report       int64    `json:"report,omitempty"`
	By           string   `json:"by,omitempty"`
	TimeToDetect *float64 `json:"timeToDetect,omitempty"` // seconds
}

// AttributeTechniques (re)builds aa.TechniqueTables from the report's own
// incidents, reports and captures (the fold's), with exp saying which
// weaknesses each service plants; exp may be nil.
func (aa *AfterAction) AttributeTechniques(exp Exposure) {
	aa.TechniqueTables = []AATechniqueTable{}
	onIncident := map[int][]*AADetection{} // incident index → its reports
	for i := range aa.Reports {
		r := &aa.Reports[i]
		if r.Incident >= 0 && (r.Verdict == VerdictName(VerdictTrue) || r.Verdict == VerdictName(VerdictDuplicate)) {
			onIncident[r.Incident] = append(onIncident[r.Incident], r)
		}
	}
	tables := map[string]map[string]*AATechnique{}
	for idx, in := range aa.Incidents {
		reps := onIncident[idx]
		from := map[string]string{}
		for _, r := range reps {
			if r.Technique != "" {
				from[r.Technique] = "report"
			}
		}
		for _, c := range aa.Captures {
			if c.Team != in.Attacker || c.Target != in.Target || c.Service != in.Service ||
				c.Tick < in.FirstTick || c.Tick > in.LastTick+1 {
				continue
			}
			for _, w := range exp[in.Service] {
				if !slices.Contains(w.Stores, c.Store) {
					continue
				}
				for _, t := range w.Techniques {
					if _, ok := from[t]; !ok {
						from[t] = "capture"
					}
				}
			}
		}
		if len(from) == 0 {
			from[""] = ""
		}
		tab := tables[in.Target]
		if tab == nil {
			tab = map[string]*AATechnique{}
			tables[in.Target] = tab
		}
		for tech, how := range from {
			row := tab[tech]
			if row == nil {
				row = &AATechnique{Technique: tech, Attackers: []string{}}
				tab[tech] = row
			}
			ti := AATechniqueIncident{Incident: in.ID, Attacker: in.Attacker, Service: in.Service, Status: in.Status, From: how}
			row.Used++
			switch in.Status {
			case "detected":
				row.Detected++
				ti.Report, ti.By, ti.TimeToDetect = detectedBy(&in, reps, tech)
			case "missed":
				row.Missed++
			default:
				row.Open++
			}
			if !slices.Contains(row.Attackers, in.Attacker) {
				row.Attackers = append(row.Attackers, in.Attacker)
			}
			row.Incidents = append(row.Incidents, ti)
		}
	}
	for _, t := range aa.Teams {
		if !t.Role.Defends() {
			continue
		}
		tt := AATechniqueTable{Team: t.Name, Techniques: []AATechnique{}}
		for _, row := range tables[t.Name] {
			slices.Sort(row.Attackers)
			slices.SortFunc(row.Incidents, func(a, b AATechniqueIncident) int { return a.Incident - b.Incident })
			var sum float64
			n := 0
			for _, ti := range row.Incidents {
				if ti.TimeToDetect == nil {
					continue
				}
				sum += *ti.TimeToDetect
				n++
				if row.FastestToDetect == nil || *ti.TimeToDetect < *row.FastestToDetect {
					v := *ti.TimeToDetect
					row.FastestToDetect = &v
				}
			}
			if n > 0 {
				m := sum / float64(n)
				row.MeanTimeToDetect = &m
			}
			tt.Techniques = append(tt.Techniques, *row)
		}
		// Named techniques first, by id; the unattributable last.
		slices.SortFunc(tt.Techniques, func(a, b AATechnique) int {
			switch {
			case a.Technique == b.Technique:
				return 0
			case a.Technique == "":
				return 1
			case b.Technique == "":
				return -1
			case a.Technique < b.Technique:
				return -1
			}
			return 1
		})
		aa.TechniqueTables = append(aa.TechniqueTables, tt)
	}
}

// detectedBy is the report that detected a detected incident for
// technique tech: the first on it naming tech, else the one that credited
// it (whose time to detect is the fold's).
func detectedBy(in *AAIncident, reps []*AADetection, tech string) (int64, string, *float64) {
	var first *AADetection
	for _, r := range reps {
		if tech != "" && r.Technique == tech && (first == nil || r.ReportedAt.Before(first.ReportedAt)) {
			first = r
		}
	}
	if first == nil {
		for _, r := range reps {
			if r.ID == in.Report {
				first = r
			}
		}
	}
	if first == nil {
		return in.Report, "", in.TimeToDetect
	}
	if first.ID == in.Report && in.TimeToDetect != nil {
		v := *in.TimeToDetect
		return first.ID, first.Team, &v
	}
	v := max(first.ReportedAt.Sub(in.Start), 0) / time.Millisecond
	s := float64(v) / 1000
	return first.ID, first.Team, &s
}
