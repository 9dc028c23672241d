package scoreboard

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// holdingLog holds the append of the phase change named hold until
// another phase change's append arrives (or a hang guard passes), then
// lets that other append wait until the held one has committed: the
// interleaving in which two phase changes read the same state.
type holdingLog struct {
	*memLog
	hold    string
	held    chan struct{} // closed once the held change is in Append
	arrived chan struct{}
	done    chan struct{}
	once    sync.Once
}

func (l *holdingLog) Append(ctx context.Context, recs [][]byte, applied func(uint64)) (uint64, error) {
	var action string
	for _, r := range recs {
		if e, err := Decode(0, r); err == nil && e.Kind == KindPhaseChanged {
			action = e.Text
		}
	}
	switch {
	case action != ActPause && action != ActFreeze:
	case action == l.hold:
		close(l.held)
		select {
		case <-l.arrived:
		case <-time.After(2 * time.Second):
			// The other change never got this far while this one was
			// in flight: it waits for this one, as it must.
		}
		defer close(l.done)
	default:
		l.once.Do(func() { close(l.arrived) })
		select {
		case <-l.done:
		case <-time.After(2 * time.Second):
			// The held change cannot commit before this one returns.
		}
	}
	return l.memLog.Append(ctx, recs, applied)
}

// TestPhaseChangesDoNotRace: a pause racing the automatic freeze must not
// resume the game: each change is decided on the state the one before it
// left.
func TestPhaseChangesDoNotRace(t *testing.T) {
	clk := newClock()
	cfg := testConfig(roles(RoleAttack, RoleDefence), 1)
	log := &holdingLog{memLog: &memLog{}, hold: ActPause, held: make(chan struct{}), arrived: make(chan struct{}), done: make(chan struct{})}
	g, err := NewGame(context.Background(), Options{Config: cfg, Log: log, Key: testKey, Now: clk.Now})
	mustNoErr(t, err)
	mustNoErr(t, g.Act(context.Background(), ActStart))

	var wg sync.WaitGroup
	errs := make([]error, 2)
	wg.Add(2)
	go func() { defer wg.Done(); errs[0] = g.Act(context.Background(), ActPause) }()
	go func() {
		defer wg.Done()
		// The freeze starts once the pause is in flight: it has read the
		// phase and is appending its change.
		<-log.held
		errs[1] = g.Act(context.Background(), ActFreeze)
	}()
	wg.Wait()
	for _, err := range errs {
		mustNoErr(t, err)
	}
	p, frozen := g.Phase()
	if p != PhasePaused || !frozen {
		t.Fatalf("after a pause and a freeze: phase %s, frozen %v; want paused and frozen", p, frozen)
	}
}

// failedForGood is a log error after which the log takes no more writes.
type failedForGood struct{}

func (failedForGood) Error() string   { return "the disk refused an fsync" }
func (failedForGood) Permanent() bool { return true }

// TestRunStopsWhenTheLogFailsForGood: once the log takes no more writes,
// the game stops with the reason instead of running on recording nothing;
// a passing failure (a full disk) only fails what it refused.
func TestRunStopsWhenTheLogFailsForGood(t *testing.T) {
	clk := newClock()
	cfg := testConfig(roles(RoleAttack, RoleDefence), 1)
	g, log := newTestGame(t, cfg, clk, nil)
	ctx := context.Background()
	mustNoErr(t, g.Act(ctx, ActStart))
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()

	log.mu.Lock()
	log.fail = errDiskFull
	log.mu.Unlock()
	if err := g.Act(ctx, ActPause); err == nil {
		t.Fatal("a refused write succeeded")
	}
	select {
	case err := <-done:
		t.Fatalf("the game stopped on a passing failure: %v", err)
	case <-time.After(100 * time.Millisecond):
	}

	log.mu.Lock()
	log.fail = failedForGood{}
	log.mu.Unlock()
	if err := g.Act(ctx, ActPause); err == nil {
		t.Fatal("a refused write succeeded")
	}
	select {
	case err := <-done:
		var p interface{ Permanent() bool }
		if err == nil || !errors.As(err, &p) {
			t.Fatalf("Run returned %v, want the log's failure", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the game ran on after its log failed for good")
	}
}
