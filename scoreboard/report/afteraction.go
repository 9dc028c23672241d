// Package report renders the after-action report (scoreboard.AfterAction,
// which the scoreboard folds from the event log) as one self-contained
// HTML page for the organizers to keep and hand out: no script, no request
// to anywhere, charts as inline SVG. The figures are the scoreboard's; this
// package only lays them out.
//
// It must never import bbolt, echo, the Docker SDK or the store: it reads
// nothing but the report it is given.
package report

import (
	_ "embed"
	"fmt"
	"html"
	"html/template"
	"io"
	"math"
	"strings"
	"time"

	"github.com/cyrange/cyrange/scoreboard"
)

//go:embed afteraction.html
var afterActionPage string

var afterActionTmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"pts":  func(v float64) string { return fmt.Sprintf("%.2f", v) },
	"pct":  func(v float64) string { return fmt.Sprintf("%.1f%%", v*100) },
	"secs": fmtSeconds,
	"at": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.Format("2006-01-02 15:04:05")
	},
	"atp": func(t *time.Time) string {
		if t == nil {
			return "—"
		}
		return t.Format("2006-01-02 15:04:05")
	},
	"ttd": func(v *float64) string {
		if v == nil {
			return "—"
		}
		return fmtSeconds(*v)
	},
	"defends": func(r scoreboard.Role) bool { return r.Defends() },
	"inc":     func(i int) int { return i + 1 },
	"attacks": func(r scoreboard.Role) bool { return r.Attacks() },
	"join":    func(s []string) string { return strings.Join(s, ", ") },
}).Parse(afterActionPage))

func fmtSeconds(s float64) string {
	d := time.Duration(s * float64(time.Second)).Round(time.Second)
	return d.String()
}

// afterActionPageData is what the page template reads.
type afterActionPageData struct {
	*scoreboard.AfterAction
	Generated    string
	Timelines    []serviceChart
	TTDChart     template.HTML
	Availability template.HTML
	// CapturesShown bounds the capture table; the JSON has them all.
	CapturesShown []scoreboard.AACapture
}

// maxCaptureRows bounds the HTML report's capture table.
const maxCaptureRows = 1000

type serviceChart struct {
	Name  string
	Title string
	SVG   template.HTML
}

// WriteHTML writes aa as one self-contained HTML page: no script, no
// request to anywhere, charts as inline SVG. generated is the time the
// page says it was written.
func WriteHTML(w io.Writer, aa *scoreboard.AfterAction, generated time.Time) error {
	// A copy, so that the page's fallback title never leaks into the
	// caller's report (its JSON says the scenario had none).
	c := *aa
	aa = &c
	if aa.Title == "" {
		aa.Title = aa.Exercise
	}
	d := afterActionPageData{AfterAction: aa, Generated: generated.Format(time.RFC3339),
		TTDChart: ttdChart(aa), Availability: availabilityChart(aa),
		CapturesShown: aa.Captures[:min(len(aa.Captures), maxCaptureRows)]}
	for _, s := range aa.Services {
		d.Timelines = append(d.Timelines, serviceChart{Name: s.Name, Title: s.Title, SVG: timeline(aa, s.Name)})
	}
	if err := afterActionTmpl.Execute(w, d); err != nil {
		return fmt.Errorf("scoreboard: writing the report: %w", err)
	}
	return nil
}

// Chart geometry.
const (
	chartWidth = 1000
	labelWidth = 200
	rowHeight  = 22
	axisHeight = 28
)

// svg builds one chart; every text it takes is escaped.
type svg struct {
	b strings.Builder
}

func (s *svg) add(format string, args ...any) { fmt.Fprintf(&s.b, format, args...) }

func (s *svg) text(x, y float64, anchor, class, txt string) {
	s.add(`<text x="%.1f" y="%.1f" text-anchor="%s" class="%s">%s</text>`, x, y, anchor, class, html.EscapeString(txt))
}

func esc(s string) string { return html.EscapeString(s) }

// clip shortens a label to n characters.
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// span is the report's time axis.
func span(aa *scoreboard.AfterAction) (time.Time, time.Time) {
	var from, to time.Time
	if aa.Start != nil {
		from = *aa.Start
	} else if len(aa.Ticks) > 0 {
		from = aa.Ticks[0].Start
	}
	if aa.End != nil {
		to = *aa.End
	}
	if from.IsZero() {
		from = to
	}
	if !to.After(from) {
		to = from.Add(time.Minute)
	}
	return from, to
}

type timelineRow struct {
	attacker, target string
}

// timeline draws one service: a row per attacker and target, with its
// incidents as bars (green detected, red missed, grey open), captures as
// dots, reports as triangles, and remedies as dashed lines across.
func timeline(aa *scoreboard.AfterAction, service string) template.HTML {
	from, to := span(aa)
	x := func(t time.Time) float64 {
		f := float64(t.Sub(from)) / float64(to.Sub(from))
		return labelWidth + math.Max(0, math.Min(1, f))*(chartWidth-labelWidth-10)
	}
	var rows []timelineRow
	index := map[timelineRow]int{}
	row := func(a, t string) int {
		k := timelineRow{a, t}
		if i, ok := index[k]; ok {
			return i
		}
		index[k] = len(rows)
		rows = append(rows, k)
		return len(rows) - 1
	}
	targets := map[string]bool{}
	for _, in := range aa.Incidents {
		if in.Service == service {
			row(in.Attacker, in.Target)
			targets[in.Target] = true
		}
	}
	for _, c := range aa.Captures {
		if c.Service == service {
			row(c.Team, c.Target)
			targets[c.Target] = true
		}
	}
	for _, r := range aa.Reports {
		if r.Service == service {
			a := r.AttackerTeam
			if a == "" {
				a = "(no team: " + r.Attacker + ")"
			}
			row(a, r.Team)
			targets[r.Team] = true
		}
	}
	if len(rows) == 0 {
		return template.HTML(`<p class="none">No attack, capture or report on this service.</p>`)
	}
	label := func(r timelineRow) string {
		if len(targets) <= 1 {
			return r.attacker
		}
		return r.attacker + " → " + r.target
	}
	height := axisHeight + len(rows)*rowHeight + 10
	var s svg
	s.add(`<svg class="chart" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-label="%s">`,
		chartWidth, height, chartWidth, height, esc("timeline of "+service))
	for i, r := range rows {
		y := float64(axisHeight + i*rowHeight)
		if i%2 == 0 {
			s.add(`<rect x="0" y="%.1f" width="%d" height="%d" class="band"/>`, y, chartWidth, rowHeight)
		}
		s.text(labelWidth-6, y+15, "end", "label", clip(label(r), 32))
	}
	axis(aa, &s, x, float64(height-10))
	for _, in := range aa.Incidents {
		if in.Service != service {
			continue
		}
		y := float64(axisHeight + index[timelineRow{in.Attacker, in.Target}]*rowHeight)
		x0, x1 := x(in.Start), x(in.End)
		s.add(`<rect x="%.1f" y="%.1f" width="%.1f" height="12" class="inc %s"><title>%s</title></rect>`,
			x0, y+5, math.Max(x1-x0, 3), in.Status, esc(fmt.Sprintf("incident #%d: %s → %s, ticks %d–%d, %d connections, %s",
				in.ID, in.Attacker, in.Target, in.FirstTick, in.LastTick, in.Connections, in.Status)))
	}
	for _, c := range aa.Captures {
		if c.Service != service {
			continue
		}
		y := float64(axisHeight + index[timelineRow{c.Team, c.Target}]*rowHeight)
		s.add(`<circle cx="%.1f" cy="%.1f" r="3.5" class="cap %s"><title>%s</title></circle>`, x(c.Time), y+11, c.Status,
			esc(fmt.Sprintf("%s captured %s's %s flag of tick %d (%s, %.2f points)", c.Team, c.Target, c.Store, c.FlagTick, c.Status, c.Points)))
	}
	for _, r := range aa.Reports {
		if r.Service != service {
			continue
		}
		a := r.AttackerTeam
		if a == "" {
			a = "(no team: " + r.Attacker + ")"
		}
		y := float64(axisHeight + index[timelineRow{a, r.Team}]*rowHeight)
		cx := x(r.ReportedAt)
		s.add(`<path d="M%.1f %.1f l5 9 l-10 0 z" class="rep %s"><title>%s</title></path>`, cx, y+2, r.Verdict,
			esc(fmt.Sprintf("report #%d by %s: %s, %s (%.2f points)", r.ID, r.Team, r.Attacker, r.Verdict, r.Points)))
	}
	for i, r := range aa.Remedies {
		if r.Service != service {
			continue
		}
		rx := x(r.Time)
		s.add(`<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" class="remedy"><title>%s</title></line>`, rx, axisHeight-4, rx,
			height-10, esc(fmt.Sprintf("remedy %d (%s): %s", i+1, r.Team, r.Remedy)))
		s.text(rx+2, axisHeight-6, "start", "remlabel", fmt.Sprintf("R%d", i+1))
	}
	s.add(`</svg>`)
	return template.HTML(s.b.String())
}

// axis draws the tick boundaries, labelling enough of them to stay
// readable.
func axis(aa *scoreboard.AfterAction, s *svg, x func(time.Time) float64, bottom float64) {
	lastLabel := -1e9
	for _, t := range aa.Ticks {
		px := x(t.Start)
		s.add(`<line x1="%.1f" y1="%d" x2="%.1f" y2="%.1f" class="grid"/>`, px, axisHeight-2, px, bottom)
		if px-lastLabel >= 44 && px < chartWidth-30 {
			s.text(px+2, 12, "start", "axis", fmt.Sprintf("T%d", t.Tick))
			lastLabel = px
		}
	}
}

// ttdChart draws the time to detect of each detected incident against
// L×tick, past which a detection earns no timeliness bonus; missed
// incidents are listed in the table below it.
func ttdChart(aa *scoreboard.AfterAction) template.HTML {
	var det []scoreboard.AAIncident
	scale := aa.Tick * float64(aa.FlagLifetime)
	for _, in := range aa.Incidents {
		if in.TimeToDetect != nil {
			det = append(det, in)
			scale = math.Max(scale, *in.TimeToDetect)
		}
	}
	if len(det) == 0 {
		return template.HTML(`<p class="none">No incident was detected.</p>`)
	}
	if scale <= 0 {
		scale = 1
	}
	height := axisHeight + len(det)*rowHeight + 10
	w := float64(chartWidth - labelWidth - 60)
	var s svg
	s.add(`<svg class="chart" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-label="time to detect">`,
		chartWidth, height, chartWidth, height)
	for i, in := range det {
		y := float64(axisHeight + i*rowHeight)
		s.text(labelWidth-6, y+15, "end", "label", clip(fmt.Sprintf("#%d %s → %s", in.ID, in.Attacker, in.Service), 32))
		bw := *in.TimeToDetect / scale * w
		s.add(`<rect x="%d" y="%.1f" width="%.1f" height="12" class="ttd"/>`, labelWidth, y+5, math.Max(bw, 1))
		s.text(float64(labelWidth)+bw+4, y+15, "start", "value", fmtSeconds(*in.TimeToDetect))
	}
	lx := float64(labelWidth) + aa.Tick*float64(aa.FlagLifetime)/scale*w
	s.add(`<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" class="limit"/>`, lx, axisHeight-6, lx, height-10)
	s.text(lx, 14, "middle", "axis", "L×tick = "+fmtSeconds(aa.Tick*float64(aa.FlagLifetime)))
	s.add(`</svg>`)
	return template.HTML(s.b.String())
}

// availabilityChart draws each replica's status in every tick as a strip
// of cells.
func availabilityChart(aa *scoreboard.AfterAction) template.HTML {
	if len(aa.Replicas) == 0 {
		return template.HTML(`<p class="none">No replica.</p>`)
	}
	maxTick := int32(1)
	for _, t := range aa.Ticks {
		maxTick = max(maxTick, t.Tick)
	}
	cell := float64(chartWidth-labelWidth-70) / float64(maxTick)
	height := axisHeight + len(aa.Replicas)*rowHeight + 4
	var s svg
	s.add(`<svg class="chart" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-label="availability">`,
		chartWidth, height, chartWidth, height)
	lastLabel := -1e9
	for tick := int32(1); tick <= maxTick; tick++ {
		px := float64(labelWidth) + float64(tick-1)*cell
		if px-lastLabel >= 44 {
			s.text(px, 14, "start", "axis", fmt.Sprintf("T%d", tick))
			lastLabel = px
		}
	}
	for i, r := range aa.Replicas {
		y := float64(axisHeight + i*rowHeight)
		s.text(labelWidth-6, y+15, "end", "label", clip(r.Team+" / "+r.Service, 32))
		for _, st := range r.Statuses {
			px := float64(labelWidth) + float64(st.Tick-1)*cell
			s.add(`<rect x="%.2f" y="%.1f" width="%.2f" height="14" class="st-%s"><title>T%d %s</title></rect>`,
				px, y+4, math.Max(cell-0.5, 0.5), strings.ToLower(st.Status.String()), st.Tick, st.Status)
		}
		s.text(float64(chartWidth-60), y+15, "start", "value", fmt.Sprintf("%.1f%%", r.Availability*100))
	}
	s.add(`</svg>`)
	return template.HTML(s.b.String())
}
