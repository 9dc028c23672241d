package loadgen

import (
	"bytes"
	"testing"
	"time"

	"github.com/cyrange/cyrange/scoreboard/live"
	"github.com/cyrange/cyrange/scoreboard/submit"
)

// The reports are quoted by the README and read by scripts: these pin
// them byte for byte.

func TestSubmitResultReport(t *testing.T) {
	r := SubmitResult{LoadResult: submit.LoadResult{Sent: 600, OK: 598, Other: 2, Elapsed: 1500 * time.Millisecond,
		PerSecond: 281100, P50: 1250 * time.Microsecond, P90: 2500 * time.Microsecond, P99: 4200 * time.Microsecond, Max: 10 * time.Millisecond},
		Proto: "tcp", Teams: 2, Baseline: 93700, FdatasyncP50: 250 * time.Microsecond, FdatasyncP99: 1500 * time.Microsecond}
	var text, js bytes.Buffer
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	want := `bench submit tcp: 2 teams, 600 flags sent, 598 OK, 2 other, in 1.50s
  durable acceptance: 281100 flags/s
  latency per flag: p50 1.25 ms, p90 2.50 ms, p99 4.20 ms, max 10.00 ms
  baseline, raw bbolt group commit (64 submitters, 100 B): 93700 appends/s; ratio 3.00
  disk fdatasync of 8 KiB: p50 0.250 ms, p99 1.500 ms (latency target p99 ≤ 5.00 ms)
`
	if text.String() != want {
		t.Errorf("text:\n%s\nwant:\n%s", text.String(), want)
	}
	if err := r.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	want = `{"baselinePerSecond":93700,"elapsed":1.5,"fdatasyncP50ms":0.25,"fdatasyncP99ms":1.5,"flagsPerSecond":281100,` +
		`"latencyTargetMs":5,"maxms":10,"ok":598,"other":2,"p50ms":1.25,"p90ms":2.5,"p99ms":4.2,"proto":"tcp","ratio":3,"sent":600,"teams":2}` + "\n"
	if js.String() != want {
		t.Errorf("JSON:\n%s\nwant:\n%s", js.String(), want)
	}
}

func TestLiveResultReport(t *testing.T) {
	r := LiveResult{ViewerResult: live.ViewerResult{Viewers: 20, Failed: 1, ConnectTime: 250 * time.Millisecond, Frames: 12,
		MinReach: 19, FullyReached: 11, Gaps: 1, P50: 12500 * time.Microsecond, P99: 54300 * time.Microsecond, Max: 80 * time.Millisecond},
		RSSIdle: 30 << 20, RSSWatched: 30<<20 + 20*14<<10}
	var b bytes.Buffer
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	want := `bench live: 20 viewers connected (1 failed) in 0.25s
  frames: 12, each reached at least 19 viewers, 11 frames reached all; 0 viewers dropped, 1 gaps
  commit → frame received: p50 12.5 ms, p99 54.3 ms, max 80.0 ms (target p99 ≤ 100 ms)
  server memory: 30.0 MiB with 0 viewers, 30.3 MiB with 20: 14.0 KiB per viewer (target ≤ 16 KiB)
`
	if b.String() != want {
		t.Errorf("text:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestReplayResultReport(t *testing.T) {
	r := ReplayResult{Events: 1_000_000, Teams: 23, Best: 400 * time.Millisecond}
	var b bytes.Buffer
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	want := "bench replay: 1000000 events from bbolt into standings of 23 teams in 0.400s (best of 3): 2500000 events/s (target ≤ 1s)\n"
	if b.String() != want {
		t.Errorf("text:\n%s\nwant:\n%s", b.String(), want)
	}
}
