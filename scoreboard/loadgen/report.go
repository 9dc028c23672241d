package loadgen

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// The reports below are what `cyrange bench` prints: the README and
// task bench quote them, and scripts read the JSON, so their wording and
// keys stay as they are. Each is written to w in one write.

// WriteText writes the result as `cyrange bench submit` prints it.
func (r SubmitResult) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "bench submit %s: %d teams, %d flags sent, %d OK, %d other, in %.2fs\n",
		r.Proto, r.Teams, r.Sent, r.OK, r.Other, r.Elapsed.Seconds())
	fmt.Fprintf(&b, "  durable acceptance: %.0f flags/s\n", r.PerSecond)
	fmt.Fprintf(&b, "  latency per flag: p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms\n",
		ms(r.P50), ms(r.P90), ms(r.P99), ms(r.Max))
	fmt.Fprintf(&b, "  baseline, raw bbolt group commit (64 submitters, 100 B): %.0f appends/s; ratio %.2f\n",
		r.Baseline, r.Ratio())
	fmt.Fprintf(&b, "  disk fdatasync of 8 KiB: p50 %.3f ms, p99 %.3f ms (latency target p99 ≤ %.2f ms)\n",
		ms(r.FdatasyncP50), ms(r.FdatasyncP99), ms(2*r.FdatasyncP99)+2)
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteJSON writes the result as one JSON object on a line, as `cyrange
// bench submit --json` prints it; times are in milliseconds, except the
// elapsed seconds.
func (r SubmitResult) WriteJSON(w io.Writer) error {
	return json.NewEncoder(w).Encode(map[string]any{"proto": r.Proto, "teams": r.Teams, "sent": r.Sent, "ok": r.OK,
		"other": r.Other, "elapsed": r.Elapsed.Seconds(), "flagsPerSecond": r.PerSecond,
		"p50ms": ms(r.P50), "p90ms": ms(r.P90), "p99ms": ms(r.P99), "maxms": ms(r.Max),
		"baselinePerSecond": r.Baseline, "ratio": r.Ratio(),
		"fdatasyncP50ms": ms(r.FdatasyncP50), "fdatasyncP99ms": ms(r.FdatasyncP99), "latencyTargetMs": ms(2*r.FdatasyncP99) + 2})
}

// WriteText writes the result as `cyrange bench live` prints it.
func (r LiveResult) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "bench live: %d viewers connected (%d failed) in %.2fs\n", r.Viewers, r.Failed, r.ConnectTime.Seconds())
	fmt.Fprintf(&b, "  frames: %d, each reached at least %d viewers, %d frames reached all; %d viewers dropped, %d gaps\n",
		r.Frames, r.MinReach, r.FullyReached, r.Dropped, r.Gaps)
	fmt.Fprintf(&b, "  commit → frame received: p50 %.1f ms, p99 %.1f ms, max %.1f ms (target p99 ≤ 100 ms)\n",
		ms(r.P50), ms(r.P99), ms(r.Max))
	fmt.Fprintf(&b, "  server memory: %.1f MiB with 0 viewers, %.1f MiB with %d: %.1f KiB per viewer (target ≤ 16 KiB)\n",
		float64(r.RSSIdle)/(1<<20), float64(r.RSSWatched)/(1<<20), r.Viewers, r.PerViewerKiB())
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteText writes the result as `cyrange bench replay` prints it.
func (r ReplayResult) WriteText(w io.Writer) error {
	_, err := fmt.Fprintf(w, "bench replay: %d events from bbolt into standings of %d teams in %.3fs (best of 3): %.0f events/s (target ≤ 1s)\n",
		r.Events, r.Teams, r.Best.Seconds(), r.PerSecond())
	return err
}

// ms is d in milliseconds, the unit the reports give latencies in.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
