package portalbench

import (
	"context"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"
)

// userAgent is team n's scanner's, as the tool sends it by default: the
// teams take ffuf and gobuster in turn.
func userAgent(n int) string {
	if n%2 == 1 {
		return "Fuzz Faster U Fool v2.1.0-dev"
	}
	return "gobuster/3.6"
}

// paceTick is how often a team's pace is looked at.
const paceTick = 5 * time.Millisecond

// scanTimeout is ffuf's and gobuster's default request timeout.
const scanTimeout = 10 * time.Second

// TeamResult is what one attack team sent and got back.
type TeamResult struct {
	Team   int
	Source netip.Addr
	// Sent counts the requests sent; Rate is Sent over the scan's
	// length.
	Sent int
	Rate float64
	// Held counts the sends the pace called for while every worker was
	// still waiting for an answer: as with ffuf's -rate, they are not
	// made up later.
	Held int
	// Statuses counts the answers by HTTP status; Errors the requests
	// that got none (refused, reset, timed out).
	Statuses map[int]int
	Errors   int
}

// team is one attack team's fuzzer: Workers requests in flight at most
// (ffuf's -t), at most Rate a second (ffuf's -rate), from its own source
// address, walking its wordlist round and round.
type team struct {
	n       int
	src     netip.Addr
	base    string
	list    []string
	agent   string
	rate    float64
	workers int
	hc      *http.Client
	now     func() time.Time

	mu  sync.Mutex
	res TeamResult
}

func newTeam(n int, src netip.Addr, base string, rate float64, workers int, dossiers int, seed uint64, now func() time.Time) *team {
	d := &net.Dialer{Timeout: scanTimeout, LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(src, 0))}
	tr := &http.Transport{DialContext: d.DialContext, MaxIdleConns: workers, MaxIdleConnsPerHost: workers,
		MaxConnsPerHost: workers, IdleConnTimeout: 30 * time.Second, DisableCompression: true}
	return &team{
		n: n, src: src, base: base, rate: rate, workers: workers, now: now,
		list:  scanList(rand.New(rand.NewPCG(seed, uint64(n))), dossiers),
		agent: userAgent(n),
		// The scanners do not follow redirects: a 301 is a finding.
		hc: &http.Client{Transport: tr, Timeout: scanTimeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		res: TeamResult{Team: n, Source: src, Statuses: map[int]int{}},
	}
}

// run scans until stop is closed, then waits for the requests in flight.
// ctx ends them early (the bench was interrupted).
func (t *team) run(ctx context.Context, stop <-chan struct{}) {
	defer t.hc.CloseIdleConnections()
	tokens := make(chan int)
	var wg sync.WaitGroup
	for range t.workers {
		wg.Go(func() {
			for i := range tokens {
				t.send(ctx, t.list[i%len(t.list)])
			}
		})
	}
	// The pace is kept by the clock, not by counting ticks: a tick the
	// scheduler delays (the machine is shared) is made up at the next,
	// so that the team sends Rate a second whatever the ticker does.
	// Only a send due while every worker waits for an answer is dropped,
	// as ffuf's rate limiter drops it.
	tick := time.NewTicker(paceTick)
	defer tick.Stop()
	start, slots, next := t.now(), 0, 0
pace:
	for {
		select {
		case <-stop:
			break pace
		case <-ctx.Done():
			break pace
		case <-tick.C:
		}
		due := int(t.now().Sub(start).Seconds() * t.rate)
		for ; slots < due; slots++ {
			select {
			case tokens <- next:
				next++
			default:
				t.mu.Lock()
				t.res.Held++
				t.mu.Unlock()
			}
		}
	}
	close(tokens)
	wg.Wait()
}

func (t *team) send(ctx context.Context, path string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.base+path, nil)
	if err != nil {
		t.count(0)
		return
	}
	req.Header.Set("User-Agent", t.agent)
	resp, err := t.hc.Do(req)
	if err != nil {
		t.count(0)
		return
	}
	// The body is read to its end, as the scanners do to size the
	// answer, which also lets the connection be reused.
	_, err = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		t.count(0)
		return
	}
	t.count(resp.StatusCode)
}

// count records an answer's status, or an error for 0.
func (t *team) count(status int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.res.Sent++
	if status == 0 {
		t.res.Errors++
		return
	}
	t.res.Statuses[status]++
}

// result is the team's result for a scan of length d.
func (t *team) result(d time.Duration) TeamResult {
	t.mu.Lock()
	defer t.mu.Unlock()
	r := t.res
	if d > 0 {
		r.Rate = float64(r.Sent) / d.Seconds()
	}
	return r
}
