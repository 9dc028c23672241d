package navigator

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"

	"github.com/cyrange/cyrange/scoreboard"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// readReport reads testdata/afteraction.json, the report of the
// scoreboard's game of techniques (playTechniques in its tests, pinned
// there by TestTechniqueReportJSON).
func readReport(t *testing.T) *scoreboard.AfterAction {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "afteraction.json"))
	mustNoErr(t, err)
	var aa scoreboard.AfterAction
	mustNoErr(t, json.Unmarshal(b, &aa))
	return &aa
}

// TestLayerGolden builds the layer of the one defending team, checks it
// against the layer format 4.5 and its colours against the table, and
// compares the file with testdata/layer.json.
func TestLayerGolden(t *testing.T) {
	aa := readReport(t)
	layers := Layers(aa)
	if len(layers) != 1 {
		t.Fatalf("%d layers, want 1", len(layers))
	}
	var out bytes.Buffer
	mustNoErr(t, Write(&out, layers))
	var doc any
	mustNoErr(t, json.Unmarshal(out.Bytes(), &doc))
	layer, ok := doc.(map[string]any)
	if !ok {
		t.Fatalf("one team's file is a %T, want one layer object", doc)
	}
	if err := validateLayer(layer); err != nil {
		t.Fatal(err)
	}
	colors := map[string]string{}
	for _, te := range layers[0].Techniques {
		colors[te.TechniqueID] = te.Color
	}
	want := map[string]string{"T1078": ColorDetected, "T1110": ColorDetected, "T1110.001": ColorDetected, "T1190": ColorMissed}
	for id, c := range want {
		if colors[id] != c {
			t.Errorf("%s: colour %q, want %q", id, colors[id], c)
		}
	}
	if len(colors) != len(want) {
		t.Errorf("techniques %v, want those of %v (the unattributable incident has no technique)", colors, want)
	}
	path := filepath.Join("testdata", "layer.json")
	if *update {
		mustNoErr(t, os.WriteFile(path, out.Bytes(), 0o644))
		return
	}
	golden, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(out.Bytes(), golden) {
		t.Errorf("the layer differs from %s (run with -update if intended)", path)
	}
}

// TestLayersPerTeam: several defending teams make a list of layers, one
// each, and none makes no file.
func TestLayersPerTeam(t *testing.T) {
	aa := readReport(t)
	second := aa.TechniqueTables[0]
	second.Team = "Đội phòng thủ 2"
	second.Techniques = []scoreboard.AATechnique{{Technique: "T1110.001", Used: 2, Detected: 1, Missed: 1,
		Attackers: []string{"Đội tấn công 01"}, Incidents: []scoreboard.AATechniqueIncident{}},
		{Technique: "T1005", Used: 1, Open: 1, Attackers: []string{"Đội tấn công 02"}, Incidents: []scoreboard.AATechniqueIncident{}}}
	aa.TechniqueTables = append(aa.TechniqueTables, second)
	var out bytes.Buffer
	mustNoErr(t, Write(&out, Layers(aa)))
	var doc []map[string]any
	mustNoErr(t, json.Unmarshal(out.Bytes(), &doc))
	if len(doc) != 2 {
		t.Fatalf("%d layers, want 2", len(doc))
	}
	for _, l := range doc {
		if err := validateLayer(l); err != nil {
			t.Error(err)
		}
	}
	tech := doc[1]["techniques"].([]any)
	if len(tech) != 2 {
		t.Fatalf("second layer: %v", tech)
	}
	partly, open := tech[0].(map[string]any), tech[1].(map[string]any)
	if partly["color"] != ColorPartly || partly["score"] != 50.0 || open["color"] != ColorOpen || open["score"] != nil {
		t.Errorf("partly detected %v, not judged %v", partly, open)
	}
	aa.TechniqueTables = nil
	if err := Write(&out, Layers(aa)); !errors.Is(err, scoreboard.ErrInvalid) {
		t.Errorf("no team: %v", err)
	}
}

// Layer format 4.5 (mitre-attack/attack-navigator, layers/LAYERFORMATv4_5.md):
// the properties a layer may have, and those it must.
var (
	layerProps = []string{"versions", "name", "description", "domain", "customDataURL", "filters", "sorting", "layout",
		"hideDisabled", "techniques", "gradient", "legendItems", "showTacticRowBackground", "tacticRowBackground",
		"selectTechniquesAcrossTactics", "selectSubtechniquesWithParent", "selectVisibleTechniques", "metadata", "links"}
	techniqueProps = []string{"techniqueID", "tactic", "comment", "enabled", "score", "color", "metadata", "links",
		"showSubtechniques"}
	layoutProps = []string{"layout", "showID", "showName", "showAggregateScores", "countUnscored", "aggregateFunction",
		"expandedSubtechniques"}
	techniqueIDRE = regexp.MustCompile(`^T[0-9]{4}(\.[0-9]{3})?$`)
	colorRE       = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)
)

// validateLayer checks a decoded layer against the format's required
// fields, their types and the properties it defines.
func validateLayer(l map[string]any) error {
	if err := known(l, layerProps, "layer"); err != nil {
		return err
	}
	if s, ok := l["name"].(string); !ok || s == "" {
		return fmt.Errorf("name: %v, want a non-empty string", l["name"])
	}
	if d := l["domain"]; d != "enterprise-attack" && d != "mobile-attack" && d != "ics-attack" {
		return fmt.Errorf("domain: %v", d)
	}
	if d, ok := l["description"]; ok {
		if _, ok := d.(string); !ok {
			return fmt.Errorf("description: %T", d)
		}
	}
	v, ok := l["versions"].(map[string]any)
	if !ok {
		return fmt.Errorf("versions: %T", l["versions"])
	}
	if err := known(v, []string{"attack", "navigator", "layer"}, "versions"); err != nil {
		return err
	}
	if n, ok := v["navigator"].(string); !ok || n == "" || v["layer"] != "4.5" {
		return fmt.Errorf("versions: %v, want navigator set and layer 4.5", v)
	}
	if s, ok := l["sorting"]; ok {
		if f, ok := s.(float64); !ok || f < 0 || f > 3 || f != float64(int(f)) {
			return fmt.Errorf("sorting: %v", s)
		}
	}
	if lo, ok := l["layout"]; ok {
		m, ok := lo.(map[string]any)
		if !ok {
			return fmt.Errorf("layout: %T", lo)
		}
		if err := known(m, layoutProps, "layout"); err != nil {
			return err
		}
		if x := m["layout"]; x != nil && x != "side" && x != "flat" && x != "mini" {
			return fmt.Errorf("layout.layout: %v", x)
		}
		if x := m["expandedSubtechniques"]; x != nil && x != "none" && x != "all" && x != "annotated" {
			return fmt.Errorf("layout.expandedSubtechniques: %v", x)
		}
	}
	techs, ok := l["techniques"].([]any)
	if !ok {
		return fmt.Errorf("techniques: %T", l["techniques"])
	}
	for i, x := range techs {
		te, ok := x.(map[string]any)
		if !ok {
			return fmt.Errorf("techniques[%d]: %T", i, x)
		}
		if err := known(te, techniqueProps, "technique"); err != nil {
			return err
		}
		if id, ok := te["techniqueID"].(string); !ok || !techniqueIDRE.MatchString(id) {
			return fmt.Errorf("techniques[%d].techniqueID: %v", i, te["techniqueID"])
		}
		if s, ok := te["score"]; ok {
			if _, ok := s.(float64); !ok {
				return fmt.Errorf("techniques[%d].score: %T", i, s)
			}
		}
		if c, ok := te["color"]; ok {
			if s, ok := c.(string); !ok || (s != "" && !colorRE.MatchString(s)) {
				return fmt.Errorf("techniques[%d].color: %v", i, c)
			}
		}
		if c, ok := te["comment"]; ok {
			if _, ok := c.(string); !ok {
				return fmt.Errorf("techniques[%d].comment: %T", i, c)
			}
		}
		if e, ok := te["enabled"]; ok {
			if _, ok := e.(bool); !ok {
				return fmt.Errorf("techniques[%d].enabled: %T", i, e)
			}
		}
		if err := metadata(te["metadata"]); err != nil {
			return fmt.Errorf("techniques[%d]: %w", i, err)
		}
	}
	if g, ok := l["gradient"]; ok {
		m, ok := g.(map[string]any)
		if !ok {
			return fmt.Errorf("gradient: %T", g)
		}
		cs, ok := m["colors"].([]any)
		lo, ok1 := m["minValue"].(float64)
		hi, ok2 := m["maxValue"].(float64)
		if !ok || len(cs) < 2 || !ok1 || !ok2 || !(hi > lo) {
			return fmt.Errorf("gradient: %v", m)
		}
		for _, c := range cs {
			if s, ok := c.(string); !ok || !colorRE.MatchString(s) {
				return fmt.Errorf("gradient colour %v", c)
			}
		}
	}
	if li, ok := l["legendItems"]; ok {
		items, ok := li.([]any)
		if !ok {
			return fmt.Errorf("legendItems: %T", li)
		}
		for _, x := range items {
			m, ok := x.(map[string]any)
			label, ok1 := m["label"].(string)
			color, ok2 := m["color"].(string)
			if !ok || !ok1 || !ok2 || label == "" || !colorRE.MatchString(color) {
				return fmt.Errorf("legend item %v", x)
			}
		}
	}
	return metadata(l["metadata"])
}

// metadata checks an optional array of metadata (name and value strings)
// and dividers.
func metadata(x any) error {
	if x == nil {
		return nil
	}
	items, ok := x.([]any)
	if !ok {
		return fmt.Errorf("metadata: %T", x)
	}
	for _, it := range items {
		m, ok := it.(map[string]any)
		if !ok {
			return fmt.Errorf("metadata item %T", it)
		}
		if d, ok := m["divider"]; ok {
			if _, ok := d.(bool); !ok {
				return fmt.Errorf("metadata divider %v", d)
			}
			continue
		}
		_, ok1 := m["name"].(string)
		_, ok2 := m["value"].(string)
		if !ok1 || !ok2 || len(m) != 2 {
			return fmt.Errorf("metadata item %v", m)
		}
	}
	return nil
}

// known fails on a property the format does not define for what.
func known(m map[string]any, props []string, what string) error {
	for k := range m {
		if !slices.Contains(props, k) {
			return fmt.Errorf("%s: property %q is not in layer format 4.5", what, k)
		}
	}
	return nil
}

func mustNoErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
