package cyberrange_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	cyberrange "github.com/cyrange/cyrange/range"
)

// volumeDriver is the fake with volumes: it records RemoveVolumes and
// what of the exercise was still there when it came.
type volumeDriver struct {
	*fakeDriver
	mu    sync.Mutex
	calls []string
	left  int
	err   error
}

var _ cyberrange.VolumeRemover = (*volumeDriver)(nil)

func (d *volumeDriver) RemoveVolumes(ctx context.Context, exercise string) error {
	a, err := d.List(ctx, exercise)
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls = append(d.calls, exercise)
	d.left += len(a.Containers) + len(a.Networks)
	return d.err
}

func volumeOrch(h *fakeHost) (*cyberrange.Orchestrator, *volumeDriver) {
	d := &volumeDriver{fakeDriver: h.driver()}
	return newOrch(h, nil, func(o *cyberrange.OrchestratorOptions) { o.Driver = d }), d
}

// Down removes the exercise's volumes once nothing mounts them, and fails
// when it cannot.
func TestDownRemovesVolumes(t *testing.T) {
	h := newFakeHost()
	ctx := context.Background()
	p := demoPlan(t)
	o, d := volumeOrch(h)
	if err := o.Up(ctx, p); err != nil {
		t.Fatal(err)
	}
	if len(d.calls) != 0 {
		t.Fatalf("up removed volumes: %v", d.calls)
	}
	if err := o.Down(ctx, p.Exercise); err != nil {
		t.Fatal(err)
	}
	if len(d.calls) != 1 || d.calls[0] != p.Exercise || d.left != 0 {
		t.Errorf("volumes removed %v with %d containers and networks left", d.calls, d.left)
	}
	d.err = cyberrange.ErrConflict
	if err := o.Down(ctx, p.Exercise); !errors.Is(err, cyberrange.ErrConflict) {
		t.Errorf("down with a volume it could not remove: %v", err)
	}
}

// An undone up that had made the whole range takes its volumes too; one
// that leaves a range that was there before leaves them.
func TestUpOrUndoRemovesVolumesOfWhatItMade(t *testing.T) {
	ctx := context.Background()
	p := demoPlan(t)
	var target string
	for _, c := range p.Containers {
		if c.Kind == cyberrange.KindTarget {
			target = c.Name
		}
	}
	h := newFakeHost()
	o, d := volumeOrch(h)
	h.failNext("Start", target, errors.New("refused"))
	if err := o.UpOrUndo(ctx, p); err == nil {
		t.Fatal("up did not fail")
	}
	if len(d.calls) != 1 || d.left != 0 {
		t.Errorf("volumes removed %v with %d left", d.calls, d.left)
	}

	h = newFakeHost()
	o, d = volumeOrch(h)
	if err := o.Up(ctx, p); err != nil {
		t.Fatal(err)
	}
	if err := h.driver().Remove(ctx, target); err != nil {
		t.Fatal(err)
	}
	h.failNext("Start", target, errors.New("refused"))
	if err := o.UpOrUndo(ctx, p); err == nil {
		t.Fatal("up did not fail")
	}
	if len(d.calls) != 0 {
		t.Errorf("volumes of the range that was there removed: %v", d.calls)
	}
}
