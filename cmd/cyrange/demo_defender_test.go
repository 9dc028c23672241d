package main

import (
	"bufio"
	"encoding/json"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cyberrange "github.com/cyrange/cyrange/range"
	"github.com/cyrange/cyrange/scoreboard"
)

// TestDemoDefenderDetectsAndRemedies runs the demo with its bot teams and
// watches the bot defence: it files reports the game judges true
// positives, and remedies weaknesses in the admin console over the ticks,
// which the after-action report lists.
func TestDemoDefenderDetectsAndRemedies(t *testing.T) {
	if testing.Short() {
		t.Skip("the demo runs for tens of seconds")
	}
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	scen := ownScenario(t, dir, "demo", "", nil)
	downAtCleanup(t, scen, data, cyberrange.DriverLocal)
	d := startCyrange(t, dir, 60*time.Second, "demo", "--scenario", scen, "--tick", e2eTick.String(), "--data", data,
		"--http", "127.0.0.1:0", "--submit", "127.0.0.1:0")
	httpAddr := d.http
	defence := ""
	for _, tm := range readTokens(t, data).Teams {
		if tm.Role == "defence" {
			defence = tm.Token
		}
	}
	// Remedies come every remedyEvery ticks: wait for two, and a true
	// positive report.
	deadline := time.Now().Add(20 * e2eTick)
	for {
		var list []scoreboard.DetectionView
		getJSON(t, "http://"+httpAddr+"/api/v1/detections", defence, &list)
		tp := 0
		for _, d := range list {
			if d.Verdict == "true_positive" {
				tp++
			}
		}
		// The remedies count once the game has them in its log (the
		// bot's word that it applied them comes before the target's log
		// line reaches the game).
		if tp > 0 && strings.Count(d.logs.text(), "defender applied a remedy") >= 2 &&
			remediesRecorded(t, httpAddr, readTokens(t, data).Organizer) >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %d reports, %d true positives; log:\n%s", 20*e2eTick, len(list), tp, tail(d.logs.text(), 3000))
		}
		time.Sleep(500 * time.Millisecond)
	}
	d.stop(t)
	out, err := exec.Command(binary, "report", "--data", data, "--json", "--out", "-").Output()
	if err != nil {
		t.Fatalf("report: %v", err)
	}
	var aa scoreboard.AfterAction
	if err := json.Unmarshal(out, &aa); err != nil {
		t.Fatal(err)
	}
	if len(aa.Remedies) < 2 {
		t.Fatalf("the after-action report lists %d remedies: %+v", len(aa.Remedies), aa.Remedies)
	}
}

// remediesRecorded counts the remedies in the exercise's event log.
func remediesRecorded(t *testing.T, httpAddr, organizer string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+httpAddr+"/api/v1/admin/events", nil)
	req.Header.Set("Authorization", "Bearer "+organizer)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	n := 0
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var e struct{ Kind string }
		if json.Unmarshal(sc.Bytes(), &e) == nil && e.Kind == scoreboard.KindRemedyApplied.String() {
			n++
		}
	}
	return n
}
