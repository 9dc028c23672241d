package cyberrange

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// trace records the order items ran in and how many ran at once.
type trace struct {
	mu       sync.Mutex
	order    []string
	in, most int
}

func (tr *trace) item(name string, rank int, hold time.Duration, err error, after ...string) work {
	return work{name: name, kind: KindTarget, action: ActionCreate, step: StepTargets, rank: rank, after: after,
		do: func(ctx context.Context) error {
			tr.mu.Lock()
			tr.order = append(tr.order, name)
			tr.in++
			tr.most = max(tr.most, tr.in)
			tr.mu.Unlock()
			select {
			case <-time.After(hold):
			case <-ctx.Done():
			}
			tr.mu.Lock()
			tr.in--
			tr.mu.Unlock()
			return err
		}}
}

func orch(parallel int, progress func(Progress)) *Orchestrator {
	return NewOrchestrator(OrchestratorOptions{Parallel: parallel, Progress: progress})
}

func TestRunOrder(t *testing.T) {
	tr := &trace{}
	c := workKey(false, "c")
	items := []work{
		tr.item("a", 0, 0, nil),
		tr.item("b", 5, 0, nil),
		tr.item("c", 9, 0, nil, workKey(false, "b")),
		tr.item("d", 1, 0, nil, c, workKey(false, "a")),
		// A prerequisite outside the run is nothing to wait for.
		tr.item("e", 3, 0, nil, workKey(true, "elsewhere")),
	}
	var got []Progress
	if err := orch(1, func(p Progress) { got = append(got, p) }).run(context.Background(), items); err != nil {
		t.Fatal(err)
	}
	// One at a time, the best ready item first: b (5) before e (3) and a
	// (0); c (9) as soon as b is done; d last, after c and a.
	if s := strings.Join(tr.order, ""); s != "bcead" {
		t.Errorf("order %s, want bcead", s)
	}
	for i, p := range got {
		if p.Done != i+1 || p.Total != len(items) || p.Err != nil {
			t.Errorf("event %d: %+v", i, p)
		}
	}
}

func TestRunPrerequisiteFails(t *testing.T) {
	tr := &trace{}
	boom := errors.New("boom")
	items := []work{
		tr.item("net", 0, 0, boom),
		tr.item("x", 0, 0, nil, workKey(false, "net")),
		tr.item("y", 0, 0, nil, workKey(false, "x")),
		tr.item("free", 0, 0, nil),
	}
	reported := map[string]error{}
	err := orch(2, func(p Progress) { reported[p.Name] = p.Err }).run(context.Background(), items)
	if !errors.Is(err, boom) || !errors.Is(err, errPrerequisite) || !strings.Contains(err.Error(), "2 not done") {
		t.Fatalf("err = %v", err)
	}
	if s := strings.Join(tr.order, ","); s != "net,free" && s != "free,net" {
		t.Errorf("ran %s", s)
	}
	for _, name := range []string{"x", "y"} {
		if !errors.Is(reported[name], errPrerequisite) {
			t.Errorf("%s reported %v", name, reported[name])
		}
	}
	if len(reported) != len(items) || reported["free"] != nil {
		t.Errorf("reported %v", reported)
	}
}

func TestRunBoundAndOverlap(t *testing.T) {
	for _, n := range []int{1, 3} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			tr := &trace{}
			var items []work
			for i := range 12 {
				items = append(items, tr.item(fmt.Sprint(i), 0, 3*time.Millisecond, nil))
			}
			if err := orch(n, nil).run(context.Background(), items); err != nil {
				t.Fatal(err)
			}
			if tr.most > n || n > 1 && tr.most < 2 {
				t.Errorf("%d at once with a bound of %d", tr.most, n)
			}
		})
	}
}

func TestRunCancelled(t *testing.T) {
	tr := &trace{}
	var items []work
	for i := range 10 {
		items = append(items, tr.item(fmt.Sprint(i), 0, time.Hour, nil))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	reported := 0
	err := orch(2, func(Progress) { reported++ }).run(ctx, items)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "8 not done") {
		t.Fatalf("err = %v", err)
	}
	if len(tr.order) != 2 || reported != 2 {
		t.Errorf("%d begun, %d reported; want the 2 in flight", len(tr.order), reported)
	}
}

// TestRunNetworksTwoAtATime: networks, which an engine makes one at a
// time, take at most two workers; the others go to containers meanwhile.
func TestRunNetworksTwoAtATime(t *testing.T) {
	var (
		mu                sync.Mutex
		nets, most        int
		containerStarted  bool
		lastNetworkFinish bool
	)
	var items []work
	for i := range 6 {
		items = append(items, work{name: fmt.Sprint("net", i), kind: KindNetwork, step: StepNetworks, rank: 1 << 20,
			do: func(context.Context) error {
				mu.Lock()
				nets++
				most = max(most, nets)
				mu.Unlock()
				time.Sleep(5 * time.Millisecond)
				mu.Lock()
				nets--
				if i == 5 && containerStarted {
					lastNetworkFinish = true
				}
				mu.Unlock()
				return nil
			}})
	}
	for i := range 4 {
		items = append(items, work{name: fmt.Sprint("c", i), kind: KindGateway, step: StepGateways,
			do: func(context.Context) error {
				mu.Lock()
				containerStarted = true
				mu.Unlock()
				time.Sleep(time.Millisecond)
				return nil
			}})
	}
	if err := orch(4, nil).run(context.Background(), items); err != nil {
		t.Fatal(err)
	}
	if most != networkParallel {
		t.Errorf("%d networks at once, want %d", most, networkParallel)
	}
	if !lastNetworkFinish {
		t.Error("no container ran while networks were being made")
	}
}

// TestRunWaitDoesNotFail: an item that only waits for another runs after
// it even when the other failed.
func TestRunWaitDoesNotFail(t *testing.T) {
	tr := &trace{}
	boom := errors.New("boom")
	net := tr.item("net", 9, 0, boom)
	other := tr.item("other", 0, 0, nil)
	other.wait = []string{net.key()}
	err := orch(2, nil).run(context.Background(), []work{other, net})
	if !errors.Is(err, boom) || errors.Is(err, errPrerequisite) {
		t.Fatalf("err = %v", err)
	}
	if s := strings.Join(tr.order, ","); s != "net,other" {
		t.Errorf("ran %s, want net,other", s)
	}
}
