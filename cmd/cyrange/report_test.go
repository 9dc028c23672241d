package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cyrange/cyrange/scoreboard"
)

// TestReportNavigator: --navigator writes a layer file for the one
// defence team beside the report, and the JSON report carries the team's
// technique table (empty: this exercise saw no attack).
func TestReportNavigator(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	s := startServer(t, burstScenario(t, dir), data)
	s.stop(t)
	layerPath := filepath.Join(dir, "layer.json")
	code, out, errs := runMain(t, "report", "--data", data, "--json", "--out", filepath.Join(dir, "report.json"),
		"--navigator", layerPath)
	if code != 0 || !strings.Contains(out, "wrote "+layerPath+": ATT&CK Navigator layer of 1 defence team(s)") {
		t.Fatalf("report: exit %d, %q %q", code, out, errs)
	}
	b, err := os.ReadFile(layerPath)
	if err != nil {
		t.Fatal(err)
	}
	var layer struct {
		Name     string `json:"name"`
		Domain   string `json:"domain"`
		Versions struct {
			Layer string `json:"layer"`
		} `json:"versions"`
		Techniques []json.RawMessage `json:"techniques"`
	}
	if err := json.Unmarshal(b, &layer); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	if layer.Name != "Thử tải: Đội phòng thủ" || layer.Domain != "enterprise-attack" || layer.Versions.Layer != "4.5" ||
		layer.Techniques == nil || len(layer.Techniques) != 0 {
		t.Fatalf("layer %s", b)
	}
	b, err = os.ReadFile(filepath.Join(dir, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var aa scoreboard.AfterAction
	if err := json.Unmarshal(b, &aa); err != nil {
		t.Fatal(err)
	}
	if len(aa.TechniqueTables) != 1 || aa.TechniqueTables[0].Team != "Đội phòng thủ" || len(aa.TechniqueTables[0].Techniques) != 0 {
		t.Fatalf("technique tables %+v", aa.TechniqueTables)
	}
}
