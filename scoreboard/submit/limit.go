package submit

import (
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limiter is one token bucket per team, shared by the TCP and HTTP doors
// so that a team cannot double its rate by using both. A nil *Limiter, or
// one with a rate <= 0, grants everything.
type Limiter struct {
	now     func() time.Time
	rate    float64
	burst   int
	buckets []bucket
}

type bucket struct {
	// mu makes "how many tokens are there, take that many" one step; the
	// rate.Limiter's own lock covers only each call.
	mu sync.Mutex
	l  *rate.Limiter
	_  [40]byte // keeps neighbouring teams' locks off one cache line
}

// NewLimiter returns a limiter of r flags per second and bursts of burst
// flags for each of teams teams. A burst below 1 becomes max(1, ⌈r⌉). now
// is the clock (time.Now when nil).
func NewLimiter(r float64, burst int, teams int, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	if burst < 1 {
		burst = max(1, int(math.Ceil(r)))
	}
	l := &Limiter{now: now, rate: r, burst: burst}
	if r > 0 && !math.IsInf(r, 1) {
		l.buckets = make([]bucket, max(teams, 0))
		for i := range l.buckets {
			l.buckets[i].l = rate.NewLimiter(rate.Limit(r), burst)
		}
	}
	return l
}

// Burst is the most flags one team can submit at once; 0 means no limit.
func (l *Limiter) Burst() int {
	if l == nil || l.buckets == nil {
		return 0
	}
	return l.burst
}

func (l *Limiter) bucket(team int) *bucket {
	if l == nil || team < 0 || team >= len(l.buckets) {
		return nil
	}
	return &l.buckets[team]
}

// Take grants team up to n flags now. When it grants fewer, retryAfter is
// how long until the rest (at most a burst) would be granted.
// Teams the limiter does not know are not limited: the judge refuses them.
func (l *Limiter) Take(team, n int) (granted int, retryAfter time.Duration) {
	if n <= 0 {
		return 0, 0
	}
	b := l.bucket(team)
	if b == nil {
		return n, 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	now := l.now()
	avail := b.l.TokensAt(now)
	k := min(n, max(0, int(math.Floor(avail))))
	if k > 0 && !b.l.AllowN(now, k) {
		k = 0
	}
	if k == n {
		return n, 0
	}
	return k, l.wait(float64(min(n-k, l.burst)) - (avail - float64(k)))
}

// TakeAll grants team all n flags or none. When it refuses, retryAfter is
// how long until it would grant them; a batch larger than Burst is never
// granted (ok false, retryAfter 0).
func (l *Limiter) TakeAll(team, n int) (ok bool, retryAfter time.Duration) {
	if n <= 0 {
		return true, 0
	}
	b := l.bucket(team)
	if b == nil {
		return true, 0
	}
	if n > l.burst {
		return false, 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	now := l.now()
	if b.l.AllowN(now, n) {
		return true, 0
	}
	return false, l.wait(float64(n) - b.l.TokensAt(now))
}

// wait is how long the bucket takes to gain deficit tokens, rounded up so
// that a client that waits exactly that long is served.
func (l *Limiter) wait(deficit float64) time.Duration {
	if deficit <= 0 {
		return 0
	}
	return time.Duration(math.Ceil(deficit / l.rate * float64(time.Second)))
}
