package portalbench

import (
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/cyrange/cyrange/scoreboard"
)

// TargetP99 is the benchmark's target for the citizens' pages under the
// scan (BENCHMARKS.md).
const TargetP99 = 200 * time.Millisecond

// Sent is the requests all teams sent.
func (r Result) Sent() int {
	n := 0
	for _, t := range r.Teams {
		n += t.Sent
	}
	return n
}

// StatusCounts adds the teams' answers up by status; errors count under 0.
func (r Result) StatusCounts() map[int]int {
	out := map[int]int{}
	for _, t := range r.Teams {
		for s, n := range t.Statuses {
			out[s] += n
		}
		if t.Errors > 0 {
			out[0] += t.Errors
		}
	}
	return out
}

// WriteText writes the result as `cyrange bench portal` prints it, one
// figure per line, in one write: the README and task bench quote it.
func (r Result) WriteText(w io.Writer) error {
	o := r.Options
	var b strings.Builder
	fmt.Fprintf(&b, "bench portal: %d teams scanning at %g requests/s each for %.1fs, %d citizens browsing, checker ticks of %v; %d sites, %d dossiers; target in its own process (pid %d, up in %.2fs)\n",
		o.Teams, o.Rate, r.Scan.Seconds(), o.Citizens, o.Tick, o.Sites, o.Dossiers, r.PID, r.Startup.Seconds())
	sent, held := r.Sent(), 0
	lo, hi := -1, 0
	for _, t := range r.Teams {
		held += t.Held
		if lo < 0 || t.Sent < lo {
			lo = t.Sent
		}
		hi = max(hi, t.Sent)
	}
	fmt.Fprintf(&b, "  sent: %d requests, %.1f/s in all; per team %d to %d, %.1f to %.1f/s (target %g/s); %d sends held back with all %d workers of a team waiting\n",
		sent, perSecond(sent, r.Scan), lo, hi, perSecond(lo, r.Scan), perSecond(hi, r.Scan), o.Rate, held, o.Workers)
	for _, t := range r.Teams {
		fmt.Fprintf(&b, "  team %d (%s): %d sent, %.1f/s; %s\n", t.Team, t.Source, t.Sent, t.Rate, statusLine(t.Statuses, t.Errors))
	}
	all := r.StatusCounts()
	errs := all[0]
	delete(all, 0)
	fmt.Fprintf(&b, "  statuses: %s\n", statusLine(all, errs))
	fmt.Fprintf(&b, "  checker: %d ticks, replica %s\n", r.Ticks, tickLine(r.Statuses, r.Ticks))
	for _, m := range Methods() {
		c := r.Checker[m]
		var parts []string
		for _, res := range Results() {
			parts = append(parts, fmt.Sprintf("%s %d", res, c[res]))
		}
		fmt.Fprintf(&b, "  checker %s: %s\n", m, strings.Join(parts, ", "))
	}
	u, l := r.Under, r.Unloaded
	fmt.Fprintf(&b, "  citizens' pages under the scan: p50 %.2f ms, p95 %.2f ms, p99 %.2f ms, max %.2f ms (%d pages, %d failed; target p99 ≤ %.0f ms)\n",
		ms(u.P50), ms(u.P95), ms(u.P99), ms(u.Max), u.Pages, u.Failed, ms(TargetP99))
	fmt.Fprintf(&b, "  the same pages with no scan (baseline, same run, %.1fs): p50 %.2f ms, p95 %.2f ms, p99 %.2f ms, max %.2f ms (%d pages, %d failed)\n",
		r.Baseline.Seconds(), ms(l.P50), ms(l.P95), ms(l.P99), ms(l.Max), l.Pages, l.Failed)
	fmt.Fprintf(&b, "  under the scan / baseline: p50 %.2f×, p99 %.2f×\n", ratio(u.P50, l.P50), ratio(u.P99, l.P99))
	for _, k := range Pages() {
		pp := r.PerPage[k]
		fmt.Fprintf(&b, "  page %s: p50 %.2f / %.2f ms, p99 %.2f / %.2f ms (under the scan / baseline)\n",
			k, ms(pp[0].P50), ms(pp[1].P50), ms(pp[0].P99), ms(pp[1].P99))
	}
	fmt.Fprintf(&b, "  target memory: %.1f MiB RSS after start, at most %.1f MiB in the baseline and %.1f MiB under the scan; peak %.1f MiB (VmHWM, start-up included)\n",
		mib(r.RSSStarted), mib(r.RSSBaseline), mib(r.RSSScan), mib(r.RSSPeak))
	fmt.Fprintf(&b, "  target CPU: %.2f cores in the baseline, %.2f under the scan; the load generator %.2f under the scan\n", r.CPUBaseline, r.CPUScan, r.CPULoad)
	fmt.Fprintf(&b, "  target threads runnable but waiting for a CPU: %.0f ms per second in the baseline, %.0f ms per second under the scan\n", ms(r.WaitBaseline), ms(r.WaitScan))
	fmt.Fprintf(&b, "  target log: %.1f MiB of JSON lines, %.0f bytes per request of the teams and citizens\n", mib(uint64(r.LogBytes)), float64(r.LogBytes)/float64(max(sent+r.Under.Pages+r.Unloaded.Pages, 1)))
	fmt.Fprintf(&b, "  machine: %d CPUs, %.2f busy in the baseline, %.2f under the scan (%.2f of it neither the target nor the load generator)\n",
		r.CPUs, r.MachineBaseline, r.MachineScan, max(r.MachineScan-r.CPUScan-r.CPULoad, 0))
	_, err := io.WriteString(w, b.String())
	return err
}

// statusLine lists counts by status, the per-source limit's 429 always.
func statusLine(counts map[int]int, errs int) string {
	c := maps.Clone(counts)
	if c == nil {
		c = map[int]int{}
	}
	c[http.StatusTooManyRequests] += 0
	var parts []string
	for _, s := range slices.Sorted(maps.Keys(c)) {
		parts = append(parts, fmt.Sprintf("%d %d", s, c[s]))
	}
	return fmt.Sprintf("%s; %d errors", strings.Join(parts, ", "), errs)
}

// tickLine says how the replica fared over the ticks: "OK in 12 of 12".
func tickLine(st map[scoreboard.Status]int, ticks int) string {
	if len(st) == 0 {
		return "never checked"
	}
	var parts []string
	for _, s := range statusNames(st) {
		parts = append(parts, fmt.Sprintf("%s in %d of %d", s, st[s], ticks))
	}
	return strings.Join(parts, ", ")
}

func perSecond(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

func ratio(a, b time.Duration) float64 {
	if b <= 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func mib(n uint64) float64 { return float64(n) / (1 << 20) }
