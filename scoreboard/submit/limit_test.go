package submit

import (
	"math"
	"sync"
	"testing"
	"time"

	"github.com/cyrange/cyrange/scoreboard/scoreboardtest"
)

func TestLimiterTake(t *testing.T) {
	clock := scoreboardtest.NewClock(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	l := NewLimiter(2, 5, 3, clock.Now)
	steps := []struct {
		desc    string
		advance time.Duration
		team, n int
		granted int
		retry   time.Duration
	}{
		{"a full burst", 0, 0, 5, 5, 0},
		{"empty bucket", 0, 0, 1, 0, 500 * time.Millisecond},
		{"other teams have their own", 0, 1, 3, 3, 0},
		{"refills at the rate", time.Second, 0, 3, 2, 500 * time.Millisecond},
		{"a fraction is not a flag", 750 * time.Millisecond, 0, 4, 1, 1250 * time.Millisecond},
		{"retry is for a burst at most", 0, 0, 100, 0, 2250 * time.Millisecond},
		{"never more than a burst", time.Hour, 0, 9, 5, 2 * time.Second},
		{"nothing asked", 0, 0, 0, 0, 0},
		{"unknown team is not limited", 0, 7, 1000, 1000, 0},
		{"negative team is not limited", 0, -1, 3, 3, 0},
	}
	for _, s := range steps {
		clock.Advance(s.advance)
		g, r := l.Take(s.team, s.n)
		if g != s.granted || r != s.retry {
			t.Errorf("%s: Take(%d, %d) = %d, %v; want %d, %v", s.desc, s.team, s.n, g, r, s.granted, s.retry)
		}
	}
}

func TestLimiterTakeAll(t *testing.T) {
	clock := scoreboardtest.NewClock(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	l := NewLimiter(4, 10, 2, clock.Now)
	steps := []struct {
		desc    string
		advance time.Duration
		n       int
		ok      bool
		retry   time.Duration
	}{
		{"within the burst", 0, 8, true, 0},
		{"all or nothing", 0, 3, false, 250 * time.Millisecond},
		{"nothing was taken", 0, 2, true, 0},
		{"larger than a burst never passes", time.Hour, 11, false, 0},
		{"a full burst", 0, 10, true, 0},
		{"empty", 0, 0, true, 0},
	}
	for _, s := range steps {
		clock.Advance(s.advance)
		ok, r := l.TakeAll(0, s.n)
		if ok != s.ok || r != s.retry {
			t.Errorf("%s: TakeAll(%d) = %v, %v; want %v, %v", s.desc, s.n, ok, r, s.ok, s.retry)
		}
	}
	if l.Burst() != 10 {
		t.Errorf("Burst() = %d", l.Burst())
	}
}

func TestLimiterUnlimited(t *testing.T) {
	for _, l := range []*Limiter{nil, NewLimiter(0, 0, 3, nil), NewLimiter(math.Inf(1), 0, 3, nil), NewLimiter(-1, 5, 3, nil)} {
		if g, r := l.Take(1, 1e6); g != 1e6 || r != 0 {
			t.Errorf("%+v: Take = %d, %v", l, g, r)
		}
		if ok, _ := l.TakeAll(1, 1e6); !ok {
			t.Errorf("%+v: TakeAll refused", l)
		}
		if l.Burst() != 0 {
			t.Errorf("%+v: Burst() = %d, want 0", l, l.Burst())
		}
	}
}

func TestLimiterDefaultBurst(t *testing.T) {
	if b := NewLimiter(2.5, 0, 1, nil).Burst(); b != 3 {
		t.Errorf("burst %d, want 3", b)
	}
	if b := NewLimiter(0.1, -4, 1, nil).Burst(); b != 1 {
		t.Errorf("burst %d, want 1", b)
	}
}

// Concurrent takers never get more than the bucket holds.
func TestLimiterConcurrent(t *testing.T) {
	clock := scoreboardtest.NewClock(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	l := NewLimiter(1, 1000, 1, clock.Now)
	var wg sync.WaitGroup
	var mu sync.Mutex
	total := 0
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				g, _ := l.Take(0, 3)
				mu.Lock()
				total += g
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if total != 1000 {
		t.Errorf("granted %d in all, want 1000", total)
	}
}
