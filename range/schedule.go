package cyberrange

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// work is one thing Up or Down does to one network or container.
type work struct {
	name   string
	kind   Kind
	action Action
	step   Step
	// do is nil for what needs nothing done (an adoption).
	do func(ctx context.Context) error
	// after holds the keys of the items of the same run that must succeed
	// first. An item whose prerequisite failed is not done: it fails too.
	after []string
	// wait holds keys of items that must have finished first, whether
	// they succeeded or not.
	wait []string
	// rank orders the items that are ready: higher first. Items that hold
	// up the most others (a target on every team's network, whose
	// networks cannot go before it does) go first.
	rank int
}

// key names an item among a run's items: networks and containers may
// share a name.
func (w work) key() string { return workKey(w.kind == KindNetwork, w.name) }

func workKey(network bool, name string) string {
	if network {
		return "network/" + name
	}
	return "container/" + name
}

// run does items, each as soon as what it comes after has succeeded and
// what it waits for has finished, at most o.parallel at once, the ready
// ones in rank order. A dependency graph rather than fixed steps lets a
// failure hold back only what depends on it, and the slowest items start
// first.
//
// Each item is reported when it finishes, under one lock, so that within
// a step Done rises by one from 1 to the step's Total; a step's items may
// finish between another step's. run returns every item's error, joined,
// and the context's error if it ended first, when items not yet begun
// are left undone and unreported.
func (o *Orchestrator) run(ctx context.Context, items []work) error {
	if len(items) == 0 {
		return nil
	}
	s := newSchedule(items)
	var wg sync.WaitGroup
	for range min(o.parallel, len(items)) {
		wg.Go(func() {
			for {
				i, ok := s.take(ctx)
				if !ok {
					return
				}
				w := items[i]
				start := o.now()
				var err error
				if w.do != nil {
					err = w.do(ctx)
				}
				if err != nil {
					err = fmt.Errorf("%s %s: %w", w.action, w.name, err)
					o.logger.Warn("range step failed", "step", w.step, "name", w.name, "action", w.action, "err", err)
				} else {
					o.logger.Debug("range step", "step", w.step, "name", w.name, "action", w.action, "elapsed", o.now().Sub(start))
				}
				s.finish(i, err, o.now().Sub(start), o.report)
			}
		})
	}
	// Wake the workers waiting for work when the context ends.
	stop := context.AfterFunc(ctx, s.wake)
	wg.Wait()
	stop()
	err := errors.Join(s.errs...)
	if s.skipped > 0 {
		err = errors.Join(err, fmt.Errorf("cyberrange: %d not done: %w", s.skipped, errPrerequisite))
	}
	if s.left > 0 && ctx.Err() != nil {
		err = errors.Join(err, fmt.Errorf("cyberrange: %d not done: %w", s.left, ctx.Err()))
	}
	return err
}

// networkParallel bounds the networks made or removed at once.
const networkParallel = 2

// schedule is run's shared state.
type schedule struct {
	items []work

	mu      sync.Mutex
	cond    *sync.Cond
	ready   []int         // indexes, best last
	waiting []int         // per item, prerequisites not yet done
	next    map[int][]int // item → items that come after it
	soft    map[int][]int // item → items that only wait for it
	left    int           // items neither done nor failed
	skipped int           // items failed because a prerequisite did
	running int
	nets    int // networks among the running
	done    map[Step]int
	total   map[Step]int
	errs    []error
}

func newSchedule(items []work) *schedule {
	s := &schedule{items: items, waiting: make([]int, len(items)), next: map[int][]int{}, soft: map[int][]int{},
		left: len(items), done: map[Step]int{}, total: map[Step]int{}}
	s.cond = sync.NewCond(&s.mu)
	at := make(map[string]int, len(items))
	for i, w := range items {
		at[w.key()] = i
		s.total[w.step]++
	}
	for i, w := range items {
		for _, k := range w.after {
			j, ok := at[k]
			if !ok || j == i {
				continue // not part of this run: nothing to wait for
			}
			s.waiting[i]++
			s.next[j] = append(s.next[j], i)
		}
		for _, k := range w.wait {
			j, ok := at[k]
			if !ok || j == i || slices.Contains(w.after, k) {
				continue
			}
			s.waiting[i]++
			s.soft[j] = append(s.soft[j], i)
		}
		if s.waiting[i] == 0 {
			s.push(i)
		}
	}
	return s
}

// push makes item i ready, keeping ready sorted so that the best item is
// last: the highest rank, then the earliest in the run's order.
func (s *schedule) push(i int) {
	better := func(a, b int) bool { // a goes before b
		if s.items[a].rank != s.items[b].rank {
			return s.items[a].rank > s.items[b].rank
		}
		return a < b
	}
	// ready is ordered worst first: i goes before the first item that
	// is better than it.
	at := 0
	for at < len(s.ready) && !better(s.ready[at], i) {
		at++
	}
	s.ready = slices.Insert(s.ready, at, i)
	s.cond.Signal()
}

// take waits for a ready item; false when there is nothing left to do or
// the context ended.
func (s *schedule) take(ctx context.Context) (int, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		if ctx.Err() != nil {
			return 0, false
		}
		// The best ready item, unless it is a network and enough are
		// being handled: an engine makes and removes networks one at a
		// time, so more at once would only queue up in it.
		for at := len(s.ready) - 1; at >= 0; at-- {
			i := s.ready[at]
			net := s.items[i].kind == KindNetwork
			if net && s.nets >= networkParallel {
				continue
			}
			s.ready = slices.Delete(s.ready, at, at+1)
			s.running++
			if net {
				s.nets++
			}
			return i, true
		}
		// Nothing to take and nothing running means nothing will become
		// ready.
		if s.running == 0 {
			return 0, false
		}
		s.cond.Wait()
	}
}

// wake lets every waiting worker look again.
func (s *schedule) wake() {
	s.mu.Lock()
	s.cond.Broadcast()
	s.mu.Unlock()
}

// finish records item i's outcome, reports it, and readies what came
// after it, or fails that too when i failed.
func (s *schedule) finish(i int, err error, elapsed time.Duration, report func(Progress)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.running--
	if s.items[i].kind == KindNetwork {
		s.nets--
	}
	s.settle(i, err, elapsed, report)
	s.cond.Broadcast()
}

func (s *schedule) settle(i int, err error, elapsed time.Duration, report func(Progress)) {
	w := s.items[i]
	s.left--
	s.done[w.step]++
	switch {
	case errors.Is(err, errPrerequisite):
		s.skipped++
	case err != nil:
		s.errs = append(s.errs, err)
	}
	report(Progress{Step: w.step, Total: s.total[w.step], Done: s.done[w.step], Name: w.name, Kind: w.kind,
		Action: w.action, Err: err, Elapsed: elapsed})
	for _, j := range s.soft[i] {
		if s.waiting[j] < 0 {
			continue
		}
		s.waiting[j]--
		if s.waiting[j] == 0 {
			s.push(j)
		}
	}
	for _, j := range s.next[i] {
		if s.waiting[j] < 0 {
			continue // already failed by another prerequisite
		}
		if err != nil {
			s.waiting[j] = -1
			s.settle(j, fmt.Errorf("%s %s: not done: %s %s failed: %w", s.items[j].action, s.items[j].name, w.kind, w.name, errPrerequisite), 0, report)
			continue
		}
		s.waiting[j]--
		if s.waiting[j] == 0 {
			s.push(j)
		}
	}
}

// errPrerequisite is what an item not done because another failed
// reports; the other's error is reported with the other.
var errPrerequisite = errors.New("a prerequisite failed")
