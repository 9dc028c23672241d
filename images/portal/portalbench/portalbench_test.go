package portalbench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/cyrange/cyrange/images/portal"
	"github.com/cyrange/cyrange/scoreboard/checks"
)

// roleEnv makes the test binary the portal role, so that the test runs
// the target in a process of its own as `cyrange target portal` does.
const roleEnv = "CYRANGE_PORTALBENCH_ROLE"

func TestMain(m *testing.M) {
	if os.Getenv(roleEnv) == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		err := portal.Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
		stop()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

func role(ctx context.Context, args []string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, os.Args[0], args...)
	cmd.Env = append(os.Environ(), roleEnv+"=1")
	return cmd
}

// TestRunSmall runs the bench briefly on a small province: the report has
// its shape and the checker stayed OK. No figure is held to a value.
func TestRunSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for about 10 s")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := Run(ctx, Options{Target: role, Teams: 3, Rate: 20, Workers: 8, Duration: 5 * time.Second, Baseline: 2 * time.Second,
		Tick: 6 * time.Second, Sites: 20, Dossiers: 300, Citizens: 2, CheckerThink: -1})
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := res.WriteText(&out); err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + out.String())
	if !res.CheckerOK() {
		t.Errorf("checker not OK: %d ticks, %v, %v", res.Ticks, res.Statuses, res.Checker)
	}
	for _, m := range Methods() {
		if res.Checker[m][checks.OK] == 0 {
			t.Errorf("no %s run", m)
		}
	}
	if len(res.Teams) != 3 {
		t.Fatalf("%d teams", len(res.Teams))
	}
	for i, tm := range res.Teams {
		if tm.Sent == 0 || tm.Source != teamSource(i+1) {
			t.Errorf("team %+v", tm)
		}
	}
	st := res.StatusCounts()
	if st[200] == 0 || st[404] == 0 {
		t.Errorf("statuses %v: want real pages and missing ones", st)
	}
	if res.Under.Pages == 0 || res.Unloaded.Pages == 0 || res.Under.Failed+res.Unloaded.Failed != 0 {
		t.Errorf("citizens: under %+v, unloaded %+v", res.Under, res.Unloaded)
	}
	if res.RSSStarted == 0 || res.RSSPeak < res.RSSStarted || res.RSSScan == 0 {
		t.Errorf("memory: started %d, scan %d, peak %d", res.RSSStarted, res.RSSScan, res.RSSPeak)
	}
	ms := `\d+\.\d\d ms`
	want := []string{
		`^bench portal: 3 teams scanning at 20 requests/s each for \d+\.\ds, 2 citizens browsing, checker ticks of 6s; 20 sites, 300 dossiers; target in its own process \(pid \d+, up in \d+\.\d\ds\)$`,
		`^  sent: \d+ requests, \d+\.\d/s in all; per team \d+ to \d+, \d+\.\d to \d+\.\d/s \(target 20/s\); \d+ sends held back with all 8 workers of a team waiting$`,
		`^  team 1 \(127\.0\.1\.2\): \d+ sent, \d+\.\d/s; (\d+ \d+, )*429 \d+(, \d+ \d+)*; \d+ errors$`,
		`^  team 2 \(127\.0\.2\.2\): `,
		`^  team 3 \(127\.0\.3\.2\): `,
		`^  statuses: (\d+ \d+, )*429 \d+(, \d+ \d+)*; \d+ errors$`,
		`^  checker: \d+ ticks, replica OK in (\d+) of (\d+)$`,
		`^  checker putflag: OK \d+, MUMBLE 0, OFFLINE 0, INTERNAL_ERROR 0$`,
		`^  checker getflag: OK \d+, MUMBLE 0, OFFLINE 0, INTERNAL_ERROR 0$`,
		`^  checker putnoise: OK \d+, MUMBLE 0, OFFLINE 0, INTERNAL_ERROR 0$`,
		`^  checker getnoise: OK \d+, MUMBLE 0, OFFLINE 0, INTERNAL_ERROR 0$`,
		`^  checker havoc: OK \d+, MUMBLE 0, OFFLINE 0, INTERNAL_ERROR 0$`,
		`^  citizens' pages under the scan: p50 ` + ms + `, p95 ` + ms + `, p99 ` + ms + `, max ` + ms + ` \(\d+ pages, 0 failed; target p99 ≤ 200 ms\)$`,
		`^  the same pages with no scan \(baseline, same run, \d+\.\ds\): p50 ` + ms + `, p95 ` + ms + `, p99 ` + ms + `, max ` + ms + ` \(\d+ pages, 0 failed\)$`,
		`^  under the scan / baseline: p50 \d+\.\d\d×, p99 \d+\.\d\d×$`,
		`^  page home: p50 \d+\.\d\d / \d+\.\d\d ms, p99 \d+\.\d\d / \d+\.\d\d ms \(under the scan / baseline\)$`,
		`^  page site: `, `^  page procedures: `, `^  page lookup: `, `^  page search: `,
		`^  target memory: \d+\.\d MiB RSS after start, at most \d+\.\d MiB in the baseline and \d+\.\d MiB under the scan; peak \d+\.\d MiB \(VmHWM, start-up included\)$`,
		`^  target CPU: \d+\.\d\d cores in the baseline, \d+\.\d\d under the scan; the load generator \d+\.\d\d under the scan$`,
		`^  target threads runnable but waiting for a CPU: \d+ ms per second in the baseline, \d+ ms per second under the scan$`,
		`^  target log: \d+\.\d MiB of JSON lines, \d+ bytes per request of the teams and citizens$`,
		`^  machine: \d+ CPUs, \d+\.\d\d busy in the baseline, \d+\.\d\d under the scan \(\d+\.\d\d of it neither the target nor the load generator\)$`,
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), len(want), out.String())
	}
	for i, re := range want {
		if !regexp.MustCompile(re).MatchString(lines[i]) {
			t.Errorf("line %d: %q does not match %s", i+1, lines[i], re)
		}
	}
}

// TestScanList: the wordlist is mostly paths that are not there, with
// searches, dossier lookups and real pages, and each team walks its own
// order.
func TestScanList(t *testing.T) {
	a := scanList(rand.New(rand.NewPCG(1, 1)), 50000)
	b := scanList(rand.New(rand.NewPCG(1, 2)), 50000)
	if len(a) != len(b) || strings.Join(a, "\n") == strings.Join(b, "\n") {
		t.Fatalf("two teams' lists: %d and %d entries, same order: %v", len(a), len(b), strings.Join(a, "") == strings.Join(b, ""))
	}
	kinds := map[string]int{}
	for _, p := range a {
		switch {
		case !strings.HasPrefix(p, "/"):
			t.Fatalf("entry %q", p)
		case strings.HasPrefix(p, "/tim-kiem?q="):
			kinds["search"]++
		case strings.HasPrefix(p, "/dich-vu-cong/tra-cuu?ma=HS"):
			kinds["lookup"]++
		default:
			kinds["other"]++
		}
	}
	if n := len(a); kinds["other"] < n/2 || kinds["search"] < n/20 || kinds["lookup"] < n/20 {
		t.Errorf("mix of %d entries: %v", n, kinds)
	}
}

func TestSummarize(t *testing.T) {
	var ds []time.Duration
	for i := 100; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	l := summarize(ds, 2)
	if l.Pages != 100 || l.Failed != 2 || l.P50 != 50*time.Millisecond || l.P95 != 95*time.Millisecond ||
		l.P99 != 99*time.Millisecond || l.Max != 100*time.Millisecond {
		t.Errorf("%+v", l)
	}
	if l := summarize(nil, 1); l.Pages != 0 || l.P99 != 0 || l.Failed != 1 {
		t.Errorf("empty: %+v", l)
	}
}

func TestParseProc(t *testing.T) {
	m, err := parseStatus("Name:\tcyrange\nVmPeak:\t  900 kB\nVmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\n")
	if err != nil || m.RSS != 1<<20 || m.HWM != 2<<20 {
		t.Errorf("%+v %v", m, err)
	}
	if _, err := parseStatus("Name:\tx\n"); err == nil {
		t.Error("no error without VmRSS")
	}
	// The command name may hold spaces and parentheses.
	cpu, err := parseStat("42 (a (b) c) S 1 2 3 4 5 6 7 8 9 10 150 50 0 0 20 0")
	if err != nil || cpu != 2*time.Second {
		t.Errorf("%v %v", cpu, err)
	}
	if _, err := parseStat("42 (x) S 1 2"); err == nil {
		t.Error("no error for a short line")
	}
	if w, err := parseSchedstat("942194744 1721407547 1265\n"); err != nil || w != 1721407547 {
		t.Errorf("schedstat: %v %v", w, err)
	}
	if _, err := parseSchedstat("1\n"); err == nil {
		t.Error("no error for a short schedstat")
	}
}

func TestOptions(t *testing.T) {
	for _, o := range []Options{
		{},
		{Target: role, Teams: MaxTeams + 1},
		{Target: role, Rate: -1},
		{Target: role, Tick: time.Millisecond},
		{Target: role, Sites: portal.MaxSites + 1},
	} {
		if err := o.defaults(); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
	o := Options{Target: role}
	if err := o.defaults(); err != nil || o.Teams != 17 || o.Rate != 100 || o.Duration != time.Minute || o.Tick != 15*time.Second ||
		o.Sites != portal.MaxSites || o.Dossiers != portal.DefaultDossiers {
		t.Errorf("defaults %+v: %v", o, err)
	}
}
