package portalbench

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cyrange/cyrange/images/portal/portalclient"
)

// Pages are the kinds of citizens' pages, in the order a citizen opens
// them and the report lists them.
func Pages() []string { return []string{"home", "site", "procedures", "lookup", "search"} }

// citizenTerms are what citizens search the news for.
func citizenTerms() []string {
	return []string{"chuyển đổi số", "thủ tục", "hội nghị", "giáo dục", "y tế", "nông thôn mới", "đất đai", "du lịch"}
}

// phase is the part of the run a citizen's page was opened in.
type phase int32

const (
	phaseWarmup phase = iota
	phaseBaseline
	phaseScan
)

// samples collects the citizens' page times by phase and page kind.
type samples struct {
	mu     sync.Mutex
	times  [phaseScan + 1]map[string][]time.Duration
	failed [phaseScan + 1]map[string]int
}

func newSamples() *samples {
	s := &samples{}
	for i := range s.times {
		s.times[i], s.failed[i] = map[string][]time.Duration{}, map[string]int{}
	}
	return s
}

// add records a page opened in phase p: its time when it was served, a
// failure when it was not.
func (s *samples) add(p phase, kind string, d time.Duration, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ok {
		s.times[p][kind] = append(s.times[p][kind], d)
	} else {
		s.failed[p][kind]++
	}
}

// latency summarises phase p's pages of the given kinds.
func (s *samples) latency(p phase, kinds ...string) Latency {
	s.mu.Lock()
	defer s.mu.Unlock()
	var all []time.Duration
	failed := 0
	for _, k := range kinds {
		all = append(all, s.times[p][k]...)
		failed += s.failed[p][k]
	}
	return summarize(all, failed)
}

// citizen is one person browsing the portal from an address of their own,
// one page at a time, as a browser does: the home page, a component
// site, its procedures, the status of the dossier they submitted, a
// search.
type citizen struct {
	pc     *portalclient.Client
	r      *rand.Rand
	sites  []string
	code   string // their dossier's receipt code
	cid    string // and their citizen ID
	terms  []string
	pause  time.Duration
	now    func() time.Time
	phase  *atomic.Int32
	record *samples
}

// newCitizen opens the portal as a citizen from src: reads the component
// sites off the home page and submits a dossier to look up later.
func newCitizen(ctx context.Context, n int, src netip.Addr, base string, seed uint64, o Options, ph *atomic.Int32, rec *samples) (*citizen, error) {
	d := &net.Dialer{Timeout: 10 * time.Second, LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(src, 0))}
	c := &citizen{pc: portalclient.New(base, d), r: rand.New(rand.NewPCG(seed, 0xc171+uint64(n))), terms: citizenTerms(),
		pause: o.CitizenPause, now: o.Now, phase: ph, record: rec}
	home, err := c.pc.Get(ctx, "/")
	if err != nil {
		c.pc.Close()
		return nil, fmt.Errorf("portalbench: citizen %d: home page: %w", n, err)
	}
	for _, m := range regexp.MustCompile(`href="/p/([a-z0-9]{1,40})/"`).FindAllSubmatch(home, -1) {
		if s := string(m[1]); !slices.Contains(c.sites, s) {
			c.sites = append(c.sites, s)
		}
	}
	if len(c.sites) == 0 {
		// A province of one site has no component sites.
		c.sites = []string{"tinh"}
	}
	procs, err := c.pc.Procedures(ctx, "tinh")
	if err != nil || len(procs) == 0 {
		c.pc.Close()
		return nil, fmt.Errorf("portalbench: citizen %d: procedures: %d, %v", n, len(procs), err)
	}
	c.cid = fmt.Sprintf("0%02d%09d", 1+c.r.IntN(96), c.r.Int64N(1e9))
	c.code, err = c.pc.Submit(ctx, portalclient.Dossier{Procedure: procs[c.r.IntN(len(procs))].ID,
		Applicant: fmt.Sprintf("Nguyễn Văn Dân %d", n), CitizenID: c.cid, Phone: fmt.Sprintf("09%08d", c.r.IntN(1e8)),
		Address: "Ấp Bình Hòa, xã Long Định", Notes: "Nộp trực tuyến."})
	if err != nil {
		c.pc.Close()
		return nil, fmt.Errorf("portalbench: citizen %d: dossier submission: %w", n, err)
	}
	return c, nil
}

// path is a page of the given kind, picked as this citizen would.
func (c *citizen) path(kind string) string {
	site := c.sites[c.r.IntN(len(c.sites))]
	switch kind {
	case "site":
		return "/p/" + site + "/"
	case "procedures":
		return "/dich-vu-cong/thu-tuc?site=" + url.QueryEscape(site)
	case "lookup":
		return "/dich-vu-cong/tra-cuu?" + url.Values{"ma": {c.code}, "cccd": {c.cid}}.Encode()
	case "search":
		return "/tim-kiem?q=" + url.QueryEscape(c.terms[c.r.IntN(len(c.terms))])
	}
	return "/"
}

// run browses until stop is closed, recording each page's time under the
// phase it was opened in.
func (c *citizen) run(ctx context.Context, stop <-chan struct{}) {
	defer c.pc.Close()
	pages := Pages()
	pause := time.NewTimer(0)
	defer pause.Stop()
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		case <-ctx.Done():
			return
		case <-pause.C:
		}
		kind := pages[i%len(pages)]
		ph := phase(c.phase.Load())
		start := c.now()
		code, _, err := c.pc.Do(ctx, http.MethodGet, c.path(kind), nil, "")
		took := c.now().Sub(start)
		if ctx.Err() == nil {
			c.record.add(ph, kind, took, err == nil && code == http.StatusOK)
		}
		pause.Reset(c.pause)
	}
}

// Latency summarises page times.
type Latency struct {
	Pages, Failed      int
	P50, P95, P99, Max time.Duration
}

// summarize takes the nearest-rank percentiles of ds (which it sorts).
func summarize(ds []time.Duration, failed int) Latency {
	l := Latency{Pages: len(ds), Failed: failed}
	if len(ds) == 0 {
		return l
	}
	slices.Sort(ds)
	at := func(p float64) time.Duration {
		i := int(math.Ceil(p*float64(len(ds)))) - 1
		return ds[min(max(i, 0), len(ds)-1)]
	}
	l.P50, l.P95, l.P99, l.Max = at(0.50), at(0.95), at(0.99), ds[len(ds)-1]
	return l
}
