package web

import (
	"math"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/cyrange/cyrange/scoreboard/tokens"
)

// Login rate limits. Tokens are 128-bit random, so guessing is hopeless
// anyway; the limits keep a flood of logins from costing the server and
// from churning sessions. Every attempt costs its source one, a wrong
// token costs it loginFailExtra more, and every good one costs its
// principal one: a team that floods with its own token from many
// addresses runs out of its own budget, and nobody else's.
const (
	loginBurst     = 20
	loginEvery     = 3 * time.Second // one attempt back every 3s: 20 a minute sustained
	loginFailExtra = 4               // a failed login costs five attempts
	// maxLoginSources bounds the sources the limiter remembers; past it,
	// sources with a full budget are forgotten first (they are no
	// different from new ones).
	maxLoginSources = 1 << 14
)

// loginLimiter holds a token bucket per source and per principal.
type loginLimiter struct {
	now        func() time.Time
	mu         sync.Mutex
	sources    map[netip.Prefix]*rate.Limiter
	principals map[tokens.Principal]*rate.Limiter
}

func newLoginLimiter(now func() time.Time) *loginLimiter {
	return &loginLimiter{now: now, sources: map[netip.Prefix]*rate.Limiter{},
		principals: map[tokens.Principal]*rate.Limiter{}}
}

// attempt charges src one attempt: 0 if it may go on, or how long until
// it may try again.
func (l *loginLimiter) attempt(src netip.Prefix) time.Duration {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.sources[src]
	if b == nil {
		if len(l.sources) >= maxLoginSources {
			l.forgetSources(now)
		}
		b = rate.NewLimiter(rate.Every(loginEvery), loginBurst)
		l.sources[src] = b
	}
	return take(b, now)
}

// refused charges src for a wrong token: 0 when it was answered (and
// the source charged the extra cost, into debt if need be), or how long
// the source must wait before it may try again.
func (l *loginLimiter) refused(src netip.Prefix) time.Duration {
	if wait := l.attempt(src); wait > 0 {
		return wait
	}
	l.failed(src)
	return 0
}

// failed charges src for a wrong token. The bucket may go into debt: the
// next attempts wait until it is paid.
func (l *loginLimiter) failed(src netip.Prefix) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if b := l.sources[src]; b != nil {
		b.ReserveN(now, loginFailExtra)
	}
}

// admit charges p one login: 0 if it may log in, or how long to wait.
func (l *loginLimiter) admit(p tokens.Principal) time.Duration {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.principals[p]
	if b == nil {
		// Principals are the exercise's tokens: a bounded set.
		b = rate.NewLimiter(rate.Every(loginEvery), loginBurst)
		l.principals[p] = b
	}
	return take(b, now)
}

// take takes one token from b, or returns how long until there is one.
func take(b *rate.Limiter, now time.Time) time.Duration {
	if b.AllowN(now, 1) {
		return 0
	}
	need := 1 - b.TokensAt(now)
	return time.Duration(need / float64(b.Limit()) * float64(time.Second))
}

// forgetSources makes room: first every source whose budget is full, and
// if that frees nothing, one source at random — forgiving one source is
// better than refusing every new one. The caller holds l.mu.
func (l *loginLimiter) forgetSources(now time.Time) {
	for k, b := range l.sources {
		if b.TokensAt(now) >= loginBurst {
			delete(l.sources, k)
		}
	}
	for k := range l.sources {
		if len(l.sources) < maxLoginSources {
			break
		}
		delete(l.sources, k)
	}
}

// retryAfter words a wait for the Retry-After header: whole seconds,
// at least one.
func retryAfter(d time.Duration) string {
	return strconv.Itoa(max(1, int(math.Ceil(d.Seconds()))))
}
