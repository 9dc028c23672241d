// Package navigator writes the after-action report's technique tables
// (scoreboard.AfterAction.TechniqueTables) as MITRE ATT&CK Navigator
// layers, layer format 4.5: the techniques used against each defending
// team, coloured by whether the team detected them, to open in the
// Navigator (https://mitre-attack.github.io/attack-navigator/) as is.
//
// One layer per defending team: a technique has one colour in a layer,
// and one team's detection must not hide another's miss. A file with one
// team holds one layer object, which every version of the Navigator and
// every tool reading layers opens; with several it holds the list of
// layers that the Navigator (4.9 and later, layer format 4.5) opens as
// one tab each.
//
// It reads nothing but the report it is given; it must never import
// bbolt, echo, the Docker SDK or the store.
package navigator

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/cyrange/cyrange/scoreboard"
)

// The layer format's fixed values. NavigatorVersion is the first
// Navigator release that reads layer format 4.5 (its required minimum).
const (
	LayerVersion     = "4.5"
	NavigatorVersion = "4.9.0"
	Domain           = "enterprise-attack"
)

// Colours: detected every time, sometimes, never, and not judged yet.
const (
	ColorDetected = "#8ec843"
	ColorPartly   = "#ffe766"
	ColorMissed   = "#ff6666"
	ColorOpen     = "#bdbdbd"
)

// Layer is one Navigator layer (LAYERFORMATv4_5.md), with the fields
// cyrange fills.
type Layer struct {
	Name        string       `json:"name"`
	Versions    Versions     `json:"versions"`
	Domain      string       `json:"domain"`
	Description string       `json:"description"`
	Sorting     int          `json:"sorting"`
	Layout      Layout       `json:"layout"`
	Techniques  []Technique  `json:"techniques"`
	Gradient    Gradient     `json:"gradient"`
	LegendItems []LegendItem `json:"legendItems"`
	Metadata    []Metadata   `json:"metadata"`
}

// Versions says which format the layer is in. Attack is left out: the
// Navigator then uses its current ATT&CK, which holds every technique id
// the built-in targets name.
type Versions struct {
	Attack    string `json:"attack,omitempty"`
	Navigator string `json:"navigator"`
	Layer     string `json:"layer"`
}

// Layout shows the ids (the report's table speaks in ids) and expands the
// techniques whose sub-techniques the layer annotates.
type Layout struct {
	Layout                string `json:"layout"`
	ShowID                bool   `json:"showID"`
	ShowName              bool   `json:"showName"`
	ExpandedSubtechniques string `json:"expandedSubtechniques"`
}

// Technique is one annotated technique or sub-technique (T1110.001).
// Score is the share of its judged incidents detected, in percent; nil
// (unscored) when none is judged yet.
type Technique struct {
	TechniqueID string     `json:"techniqueID"`
	Score       *float64   `json:"score,omitempty"`
	Color       string     `json:"color"`
	Comment     string     `json:"comment"`
	Enabled     bool       `json:"enabled"`
	Metadata    []Metadata `json:"metadata,omitempty"`
}

// Gradient maps scores to colours, for techniques a user rescored.
type Gradient struct {
	Colors   []string `json:"colors"`
	MinValue float64  `json:"minValue"`
	MaxValue float64  `json:"maxValue"`
}

// LegendItem is one entry of the layer's legend.
type LegendItem struct {
	Label string `json:"label"`
	Color string `json:"color"`
}

// Metadata is one name and value shown with a layer or a technique.
type Metadata struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Layers builds one layer per defending team of aa. Incidents no
// technique could be attributed to have no place in the matrix; the
// layer's description counts them.
func Layers(aa *scoreboard.AfterAction) []Layer {
	var out []Layer
	for _, tab := range aa.TechniqueTables {
		l := Layer{Name: clip(fmt.Sprintf("%s: %s", exerciseName(aa), tab.Team), 100),
			Versions: Versions{Navigator: NavigatorVersion, Layer: LayerVersion}, Domain: Domain,
			Sorting: 3, Layout: Layout{Layout: "side", ShowID: true, ShowName: true, ExpandedSubtechniques: "annotated"},
			Techniques: []Technique{},
			Gradient:   Gradient{Colors: []string{ColorMissed, ColorPartly, ColorDetected}, MinValue: 0, MaxValue: 100},
			LegendItems: []LegendItem{{Label: "attacked, always detected", Color: ColorDetected},
				{Label: "attacked, sometimes detected", Color: ColorPartly},
				{Label: "attacked, never detected", Color: ColorMissed},
				{Label: "attacked, not judged yet", Color: ColorOpen}},
			Metadata: []Metadata{{Name: "exercise", Value: aa.Exercise}, {Name: "defence team", Value: tab.Team}},
		}
		if aa.Start != nil {
			l.Metadata = append(l.Metadata, Metadata{Name: "start", Value: aa.Start.UTC().Format(time.RFC3339)})
		}
		if aa.End != nil {
			l.Metadata = append(l.Metadata, Metadata{Name: "end", Value: aa.End.UTC().Format(time.RFC3339)})
		}
		unattributed := 0
		for _, row := range tab.Techniques {
			if row.Technique == "" {
				unattributed = row.Used
				continue
			}
			l.Techniques = append(l.Techniques, technique(row))
		}
		l.Description = fmt.Sprintf("ATT&CK techniques used against %s in exercise %s (cyrange report): score = %% of "+
			"its judged incidents detected; colour green always, yellow sometimes, red never detected, grey not judged. "+
			"Techniques come from the reports on an incident and from the planted weaknesses whose flag stores the "+
			"attacker captured.", tab.Team, exerciseName(aa))
		if unattributed > 0 {
			l.Description += fmt.Sprintf(" %d incident(s) could not be attributed to a technique and are not shown.", unattributed)
		}
		out = append(out, l)
	}
	return out
}

func technique(row scoreboard.AATechnique) Technique {
	t := Technique{TechniqueID: row.Technique, Enabled: true, Color: ColorOpen}
	if judged := row.Detected + row.Missed; judged > 0 {
		s := float64(row.Detected*100) / float64(judged)
		s = float64(int(s*10+0.5)) / 10
		t.Score = &s
		switch {
		case row.Missed == 0:
			t.Color = ColorDetected
		case row.Detected == 0:
			t.Color = ColorMissed
		default:
			t.Color = ColorPartly
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d incident(s) by %s: %d detected, %d missed", row.Used, strings.Join(row.Attackers, ", "),
		row.Detected, row.Missed)
	if row.Open > 0 {
		fmt.Fprintf(&b, ", %d not judged yet", row.Open)
	}
	b.WriteString(".")
	for _, in := range row.Incidents {
		fmt.Fprintf(&b, " #%d %s on %s: %s", in.Incident, in.Attacker, in.Service, in.Status)
		if in.Report > 0 {
			fmt.Fprintf(&b, " by report #%d", in.Report)
			if in.TimeToDetect != nil {
				fmt.Fprintf(&b, " after %s", seconds(*in.TimeToDetect))
			}
		}
		if in.From == "capture" {
			b.WriteString(" (technique inferred from a capture)")
		}
		b.WriteString(";")
	}
	t.Comment = strings.TrimSuffix(b.String(), ";")
	t.Metadata = []Metadata{{Name: "used", Value: fmt.Sprint(row.Used)}, {Name: "detected", Value: fmt.Sprint(row.Detected)},
		{Name: "missed", Value: fmt.Sprint(row.Missed)}}
	if row.MeanTimeToDetect != nil {
		t.Metadata = append(t.Metadata, Metadata{Name: "mean time to detect", Value: seconds(*row.MeanTimeToDetect)})
	}
	return t
}

// Write writes layers as a layer file: one layer object, or the list of
// them when there are several. Zero layers (no defending team) is an
// error: the Navigator opens no empty file.
func Write(w io.Writer, layers []Layer) error {
	var v any = layers
	switch len(layers) {
	case 0:
		return fmt.Errorf("navigator: no defending team, so no layer: %w", scoreboard.ErrInvalid)
	case 1:
		v = layers[0]
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // "ATT&CK" in the text, not "ATT\u0026CK"
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("navigator: writing the layer: %w", err)
	}
	return nil
}

func exerciseName(aa *scoreboard.AfterAction) string {
	if aa.Title != "" {
		return aa.Title
	}
	return aa.Exercise
}

func seconds(s float64) string {
	return time.Duration(s * float64(time.Second)).Round(time.Second).String()
}

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
