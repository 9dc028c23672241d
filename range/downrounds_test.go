package cyberrange_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	cyberrange "github.com/cyrange/cyrange/range"
)

// lateDriver makes a container and its network of the exercise land while
// Down removes (at its first removals), or at every removal with always:
// what a killed range up had asked the engine for, which the engine makes
// after its client has gone.
type lateDriver struct {
	*fakeDriver
	exercise string
	always   bool
	mu       sync.Mutex
	made     int
}

func (d *lateDriver) Remove(ctx context.Context, name string) error {
	d.mu.Lock()
	if d.made == 0 || d.always {
		d.made++
		d.h.addForeign(d.exercise, fmt.Sprintf("cyrange-%s-late-%d", d.exercise, d.made))
	}
	d.mu.Unlock()
	return d.fakeDriver.Remove(ctx, name)
}

func TestDownRemovesWhatLandsMeanwhile(t *testing.T) {
	ctx := context.Background()
	p := demoPlan(t)
	h := newFakeHost()
	if err := newOrch(h, nil).Up(ctx, p); err != nil {
		t.Fatal(err)
	}
	d := &lateDriver{fakeDriver: h.driver(), exercise: p.Exercise}
	o := newOrch(h, nil, func(o *cyberrange.OrchestratorOptions) { o.Driver = d })
	if err := o.Down(ctx, p.Exercise); err != nil {
		t.Fatal(err)
	}
	if a, err := d.List(ctx, p.Exercise); err != nil || len(a.Containers)+len(a.Networks) > 0 {
		t.Fatalf("left: %+v %v", a, err)
	}

	// What keeps appearing is left, and said.
	if err := newOrch(h, nil).Up(ctx, p); err != nil {
		t.Fatal(err)
	}
	d = &lateDriver{fakeDriver: h.driver(), exercise: p.Exercise, always: true}
	o = newOrch(h, nil, func(o *cyberrange.OrchestratorOptions) { o.Driver = d })
	if err := o.Down(ctx, p.Exercise); err == nil || !strings.Contains(err.Error(), "still there") {
		t.Fatalf("down of a range that keeps growing: %v", err)
	}
}
