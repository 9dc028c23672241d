package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	cyberrange "github.com/cyrange/cyrange/range"
)

// TestDemoShowsCaptures runs the built binary's demo (local driver, bot
// teams, no Docker) in a temporary directory and watches its public live
// stream until a capture shows up.
func TestDemoShowsCaptures(t *testing.T) {
	if testing.Short() {
		t.Skip("the demo runs for tens of seconds")
	}
	dir := t.TempDir()
	scen := ownScenario(t, dir, "demo", "", nil)
	downAtCleanup(t, scen, filepath.Join(dir, "data"), cyberrange.DriverLocal)
	d := startCyrange(t, dir, 60*time.Second, "demo", "--scenario", scen, "--tick", "4s", "--data", filepath.Join(dir, "data"),
		"--http", "127.0.0.1:0", "--submit", "127.0.0.1:0")
	httpAddr := d.http
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+httpAddr+"/api/v1/live", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	deadline := time.Now().Add(90 * time.Second)
	ws.SetReadDeadline(deadline)
	kinds := map[string]bool{}
	for !kinds["capture"] || !kinds["first_blood"] {
		_, msg, err := ws.ReadMessage()
		if err != nil {
			chk, _ := os.ReadFile(filepath.Join(dir, "data", "range", "containers", "cyrange-demo-checker-mailserver", "output.log"))
			t.Fatalf("no capture on the live stream in time (saw %v): %v; log:\n%s\nchecker:\n%s", kinds, err, tail(d.logs.text(), 3000), tail(string(chk), 2000))
		}
		var m struct {
			Recent []struct{ Kind string } `json:"recent"`
			Events []struct{ Kind string } `json:"events"`
		}
		if err := json.Unmarshal(msg, &m); err != nil {
			t.Fatal(err)
		}
		for _, e := range append(m.Recent, m.Events...) {
			kinds[e.Kind] = true
		}
	}
	d.stop(t)
	// The demo takes its range down: no process of it is left.
	entries, _ := os.ReadDir(filepath.Join(dir, "data", "range", "containers"))
	if len(entries) != 0 {
		t.Fatalf("%d range processes left after the demo", len(entries))
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
