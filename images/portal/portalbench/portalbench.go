// Package portalbench is `cyrange bench portal`: the portal replica at
// its full size, in a process of its own, scanned by attack teams the way
// ffuf and gobuster scan a web server (a wordlist of paths, mostly not
// there, some real pages, searches and dossier lookups, at a fixed rate),
// while the game's checker plays its rounds against it and citizens
// browse it. It reports what the teams sent and got, the checker's
// results, the citizens' page times under the scan against the same
// pages unloaded in the same run, and the target's memory and CPU.
//
// The portal bounds each source address (64 connections, 16 requests in
// flight), so every team, citizen and the checker binds its own loopback
// address (Linux routes all of 127/8 to loopback): team N is 127.0.N.2,
// citizen I 127.0.250.I, the checker 127.0.251.1.
//
// It talks to the target over the network only, as its checker does,
// and must never import the scoreboard's server, the range or the
// exploits.
package portalbench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cyrange/cyrange/images/portal"
	"github.com/cyrange/cyrange/images/portal/checker"
	"github.com/cyrange/cyrange/scoreboard"
	"github.com/cyrange/cyrange/scoreboard/checks"
)

// MaxTeams bounds Teams: each team takes the third byte of a loopback
// address, below the citizens' and the checker's.
const MaxTeams = 200

// Options configure Run. Zero fields take the defaults in brackets.
type Options struct {
	// Target makes the command that runs the portal role, `cyrange
	// target portal`, with args after the role's name; it must be made
	// with exec.CommandContext(ctx, ...) and not started. Run starts it
	// with its standard output in a file in Dir, reads its address
	// there, and stops it with SIGTERM.
	Target func(ctx context.Context, args []string) *exec.Cmd

	Teams   int     // attack teams [17]
	Rate    float64 // requests a second per team [100]
	Workers int     // requests in flight per team at most, ffuf's -t [40]
	// Duration is how long the teams scan [60 s]; Baseline how long the
	// citizens are measured before, with no scan [15 s].
	Duration, Baseline time.Duration
	// Tick is the game's tick the checker plays [15 s, the demo's].
	Tick time.Duration
	// Sites and Dossiers size the province [portal.MaxSites,
	// portal.DefaultDossiers]; Seed generates it [1].
	Sites, Dossiers int
	Seed            uint64
	// Citizens browse at once, each pausing CitizenPause between pages
	// [4, 100 ms].
	Citizens     int
	CitizenPause time.Duration
	// CheckerThink is the checker's longest pause between two steps of a
	// person's session [the checker's own]; negative: none.
	CheckerThink time.Duration
	// Dir takes the target's log [a temporary directory, removed at the
	// end].
	Dir string

	Logger *slog.Logger
	Now    func() time.Time
}

func (o *Options) defaults() error {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defd := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	def(&o.Teams, 17)
	def(&o.Workers, 40)
	def(&o.Sites, portal.MaxSites)
	def(&o.Dossiers, portal.DefaultDossiers)
	def(&o.Citizens, 4)
	defd(&o.Duration, time.Minute)
	defd(&o.Baseline, 15*time.Second)
	defd(&o.Tick, 15*time.Second)
	defd(&o.CitizenPause, 100*time.Millisecond)
	if o.Rate == 0 {
		o.Rate = 100
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	switch {
	case o.Target == nil:
		return errors.New("portalbench: no target command")
	case o.Teams < 1 || o.Teams > MaxTeams:
		return fmt.Errorf("portalbench: teams must be 1 to %d, got %d", MaxTeams, o.Teams)
	case o.Rate < 0.1 || o.Rate > 10000:
		return fmt.Errorf("portalbench: rate must be 0.1 to 10000 requests/s per team, got %g", o.Rate)
	case o.Workers < 1 || o.Citizens < 1 || o.Citizens > 250:
		return fmt.Errorf("portalbench: workers must be positive and citizens 1 to 250")
	case o.Duration < 0 || o.Baseline < 0 || o.Tick < time.Second || o.CitizenPause < 0:
		return fmt.Errorf("portalbench: durations must be positive, the tick at least 1s")
	case o.Sites < 1 || o.Sites > portal.MaxSites:
		return fmt.Errorf("portalbench: sites must be 1 to %d, got %d", portal.MaxSites, o.Sites)
	case o.Dossiers < 1 || o.Dossiers > portal.MaxDossiers:
		return fmt.Errorf("portalbench: dossiers must be 1 to %d, got %d", portal.MaxDossiers, o.Dossiers)
	}
	return nil
}

// Sources of the load: each its own loopback address, the portal's
// per-source bounds counting each apart.
func teamSource(n int) netip.Addr    { return netip.AddrFrom4([4]byte{127, 0, byte(n), 2}) }
func citizenSource(i int) netip.Addr { return netip.AddrFrom4([4]byte{127, 0, 250, byte(i)}) }
func checkerSource() netip.Addr      { return netip.AddrFrom4([4]byte{127, 0, 251, 1}) }

// Result is what Run measured.
type Result struct {
	Options Options // as run, defaults filled in
	PID     int     // the target's process
	Startup time.Duration
	// Scan is how long the teams scanned, Baseline how long the
	// citizens were measured before.
	Scan, Baseline time.Duration
	Teams          []TeamResult
	// Checker counts the checker's results by method; Ticks the ticks
	// played and Statuses the replica's status over them.
	Checker  map[checks.Method]map[checks.Result]int
	Ticks    int
	Statuses map[scoreboard.Status]int
	// Under is the citizens' pages under the scan, Unloaded the same
	// pages during the baseline; PerPage both by page kind.
	Under, Unloaded Latency
	PerPage         map[string][2]Latency // kind → {under the scan, unloaded}
	// The target's resident memory after start, the most sampled during
	// the baseline and the scan, and its peak over its whole life
	// (VmHWM, the start-up included).
	RSSStarted, RSSBaseline, RSSScan, RSSPeak uint64
	// CPU the target used, in cores, during the baseline and the scan;
	// and this process (the teams, the citizens and the checker) under
	// the scan.
	CPUBaseline, CPUScan, CPULoad float64
	// MachineBaseline and MachineScan are the whole machine's busy CPU
	// in each phase, in cores: what is neither the target's nor the load
	// generator's is the neighbours' on a shared machine.
	MachineBaseline, MachineScan float64
	// WaitBaseline and WaitScan are how long the target's threads
	// waited on a run queue while runnable, per second of the phase
	// (schedstat): page time spent not on the target's own work.
	WaitBaseline, WaitScan time.Duration
	// LogBytes is what the target wrote to its log (a JSON line per
	// request and per connection).
	LogBytes int64
	CPUs     int
}

// CheckerOK reports whether every task of the checker and every tick's
// status was OK, with at least one tick played.
func (r Result) CheckerOK() bool {
	if r.Ticks == 0 || r.Statuses[scoreboard.StatusOK] != r.Ticks {
		return false
	}
	for _, byResult := range r.Checker {
		for res, n := range byResult {
			if res != checks.OK && n > 0 {
				return false
			}
		}
	}
	return true
}

// Run starts the portal role, measures the citizens' pages with the
// checker playing its rounds (the baseline), then the same with the
// teams scanning, and stops the role.
func Run(ctx context.Context, o Options) (Result, error) {
	if err := o.defaults(); err != nil {
		return Result{}, err
	}
	res := Result{Options: o, CPUs: runtime.NumCPU()}
	secret, operator := randomHex(16), randomHex(12)
	args := []string{"--listen", "127.0.0.1", "--http-port", "0", "--admin-port", "0",
		"--sites", strconv.Itoa(o.Sites), "--dossiers", strconv.Itoa(o.Dossiers), "--seed", strconv.FormatUint(o.Seed, 10),
		"--replica", replicaName, "--admin-password", operator,
		// As in a range: the checkers' network (and the organizer's host)
		// on the console's allow-list, the teams' and citizens' not.
		"--admin-allow", "127.0.0.1/32," + netip.PrefixFrom(checkerSource(), 24).Masked().String()}
	o.Logger.Info("starting the portal", "sites", o.Sites, "dossiers", o.Dossiers)
	began := o.Now()
	dir := o.Dir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "portalbench-")
		if err != nil {
			return res, fmt.Errorf("portalbench: %w", err)
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	// The secret goes by the environment, where the role reads it, not
	// on a command line anyone on the machine can read.
	p, err := startTarget(ctx, o.Target, args, []string{"CYRANGE_CHECKER_SECRET=" + secret}, dir)
	if err != nil {
		return res, err
	}
	defer p.stop()
	res.PID, res.Startup = p.pid, o.Now().Sub(began)
	o.Logger.Info("portal listening", "addr", p.addr, "pid", p.pid, "took", res.Startup.Round(time.Millisecond))
	m, err := p.memory()
	if err != nil {
		return res, err
	}
	res.RSSStarted = m.RSS
	host, port, err := net.SplitHostPort(p.addr)
	if err != nil {
		return res, fmt.Errorf("portalbench: target address %q: %w", p.addr, err)
	}
	portNum, _ := strconv.Atoi(port)
	base := "http://" + p.addr

	var ph atomic.Int32
	rec := newSamples()
	var citizens []*citizen
	for i := range o.Citizens {
		c, err := newCitizen(ctx, i+1, citizenSource(i+1), base, o.Seed, o, &ph, rec)
		if err != nil {
			for _, c := range citizens {
				c.pc.Close()
			}
			return res, err
		}
		citizens = append(citizens, c)
	}

	flags, err := scoreboard.NewFlags([]byte(randomHex(32)), "")
	if err != nil {
		return res, fmt.Errorf("portalbench: flags: %w", err)
	}
	chk := checker.New(checker.Config{Secret: secret, Replicas: map[string]string{host: replicaName}, HTTPPort: portNum,
		Dialer: &net.Dialer{Timeout: 10 * time.Second, LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(checkerSource(), 0))},
		Think:  o.CheckerThink, Now: o.Now})
	t := &tally{Checker: checks.InProcess(chk), counts: map[checks.Method]map[checks.Result]int{}}
	rd := &rounds{runner: checks.NewRunner(checks.RunnerOptions{Checkers: map[int]checks.Checker{serviceID: t}, Logger: o.Logger, Now: o.Now}),
		flags: flags, address: host, tick: o.Tick, now: o.Now, log: o.Logger}

	mem := &sampler{p: p}
	var wg sync.WaitGroup
	stopSampling := make(chan struct{})
	wg.Go(func() { mem.run(stopSampling, &ph) })
	stopCitizens, stopRounds := make(chan struct{}), make(chan struct{})
	var cwg sync.WaitGroup
	for _, c := range citizens {
		cwg.Go(func() { c.run(ctx, stopCitizens) })
	}
	wg.Go(func() { rd.run(ctx, stopRounds) })
	finish := func() {
		close(stopCitizens)
		cwg.Wait()
		close(stopRounds)
		close(stopSampling)
		wg.Wait()
	}

	// A short warm-up, unmeasured, so that the baseline does not time
	// the first use of each page.
	if err := sleep(ctx, min(2*time.Second, o.Baseline/5)); err != nil {
		finish()
		return res, err
	}
	o.Logger.Info("baseline: citizens and the checker, no scan", "for", o.Baseline)
	m0 := p.mark(o.Now)
	ph.Store(int32(phaseBaseline))
	if err := sleep(ctx, o.Baseline); err != nil {
		finish()
		return res, err
	}
	m1 := p.mark(o.Now)
	ph.Store(int32(phaseScan))
	o.Logger.Info("scan: the teams join", "teams", o.Teams, "rate", o.Rate, "for", o.Duration)
	teams := make([]*team, o.Teams)
	stopScan := make(chan struct{})
	var twg sync.WaitGroup
	for i := range teams {
		teams[i] = newTeam(i+1, teamSource(i+1), base, o.Rate, o.Workers, o.Dossiers, o.Seed, o.Now)
		twg.Go(func() { teams[i].run(ctx, stopScan) })
	}
	err = sleep(ctx, o.Duration)
	close(stopScan)
	m2 := p.mark(o.Now)
	twg.Wait()
	o.Logger.Info("scan over; finishing the checker's tick")
	finish()
	if err != nil {
		return res, err
	}
	select {
	case <-p.done:
		return res, fmt.Errorf("portalbench: the target exited during the run: %v: %s", p.err, p.stderr)
	default:
	}
	m, err = p.memory()
	if err != nil {
		return res, err
	}

	res.Baseline, res.Scan = m1.at.Sub(m0.at), m2.at.Sub(m1.at)
	for _, tm := range teams {
		res.Teams = append(res.Teams, tm.result(res.Scan))
	}
	res.Checker, res.Ticks, res.Statuses = t.snapshot(), rd.ticks, rd.statuses
	res.Under, res.Unloaded = rec.latency(phaseScan, Pages()...), rec.latency(phaseBaseline, Pages()...)
	res.PerPage = map[string][2]Latency{}
	for _, k := range Pages() {
		res.PerPage[k] = [2]Latency{rec.latency(phaseScan, k), rec.latency(phaseBaseline, k)}
	}
	res.RSSBaseline, res.RSSScan = mem.max(phaseBaseline), mem.max(phaseScan)
	// The kernel updates VmHWM lazily (per-thread RSS counters are
	// folded in now and then), so a sample may have seen more.
	res.RSSPeak = max(m.HWM, res.RSSStarted, res.RSSBaseline, res.RSSScan)
	res.CPUBaseline, res.CPUScan = cores(m1.target-m0.target, res.Baseline), cores(m2.target-m1.target, res.Scan)
	res.CPULoad = cores(m2.self-m1.self, res.Scan)
	res.MachineBaseline, res.MachineScan = cores(m1.busy-m0.busy, res.Baseline), cores(m2.busy-m1.busy, res.Scan)
	res.WaitBaseline, res.WaitScan = perSecondOf(m1.wait-m0.wait, res.Baseline), perSecondOf(m2.wait-m1.wait, res.Scan)
	res.LogBytes = p.logBytes()
	return res, nil
}

// mark is where the CPU counters stood at a phase's edge.
type mark struct {
	at                       time.Time
	target, self, busy, wait time.Duration
}

// mark reads the counters. One that cannot be read stays zero, and so
// does its figure: the target has exited (which Run reports), or /proc
// is not there.
func (p *process) mark(now func() time.Time) mark {
	m := mark{at: now(), busy: machineBusy()}
	m.target, _ = p.cpu()
	m.self, _ = cpuOf("self")
	m.wait, _ = p.runWait()
	return m
}

// cores is CPU time used over a wall time, in cores.
func cores(cpu, wall time.Duration) float64 {
	if wall <= 0 || cpu < 0 {
		return 0
	}
	return cpu.Seconds() / wall.Seconds()
}

// perSecondOf is d per second of wall time.
func perSecondOf(d, wall time.Duration) time.Duration {
	if wall <= 0 || d < 0 {
		return 0
	}
	return time.Duration(float64(d) / wall.Seconds())
}

// sampler follows the target's resident memory, keeping the most seen
// in each phase.
type sampler struct {
	p  *process
	mu sync.Mutex
	by [phaseScan + 1]uint64
}

// sampleEvery is how often the sampler reads the target's memory.
const sampleEvery = 250 * time.Millisecond

func (s *sampler) run(stop <-chan struct{}, ph *atomic.Int32) {
	t := time.NewTicker(sampleEvery)
	defer t.Stop()
	for {
		if m, err := s.p.memory(); err == nil {
			p := phase(ph.Load())
			s.mu.Lock()
			s.by[p] = max(s.by[p], m.RSS)
			s.mu.Unlock()
		}
		select {
		case <-stop:
			return
		case <-t.C:
		}
	}
}

func (s *sampler) max(p phase) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.by[p]
}

// sleep waits d, or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return fmt.Errorf("portalbench: %w", ctx.Err())
	case <-t.C:
		return nil
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
