package cyberrange_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	cyberrange "github.com/cyrange/cyrange/range"
)

// TestUpOrUndoLeavesNothing: an up that fails takes down what it made —
// here everything, including the gateways and checker that did start —
// and says so.
func TestUpOrUndoLeavesNothing(t *testing.T) {
	h := newFakeHost()
	p := demoPlan(t)
	var target string
	for _, c := range p.Containers {
		if c.Kind == cyberrange.KindTarget {
			target = c.Name
		}
	}
	h.failNext("Start", target, errors.New("the target refused its options"))
	err := newOrch(h, nil).UpOrUndo(context.Background(), p)
	if err == nil || !strings.Contains(err.Error(), "refused its options") || !strings.Contains(err.Error(), "nothing it made is left") {
		t.Fatalf("err = %v", err)
	}
	for _, c := range p.Containers {
		if h.has(c.Name) {
			t.Errorf("container %s left behind", c.Name)
		}
	}
	actual, lerr := h.driver().List(context.Background(), p.Exercise)
	if lerr != nil {
		t.Fatal(lerr)
	}
	if len(actual.Networks)+len(actual.Containers) != 0 {
		t.Errorf("left behind: %+v", actual)
	}
}

// TestUpOrUndoKeepsWhatItAdopted: a failed up of a range that was already
// (partly) up removes only what this up made: a container that was there
// but stopped is started again and left, and the error names it.
func TestUpOrUndoKeepsWhatItAdopted(t *testing.T) {
	h := newFakeHost()
	p := demoPlan(t)
	if err := newOrch(h, nil).Up(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	var gw, target string
	for _, c := range p.Containers {
		switch c.Kind {
		case cyberrange.KindGateway:
			gw = c.Name
		case cyberrange.KindTarget:
			target = c.Name
		}
	}
	// The gateway died; the target is gone and will not start again.
	h.setState(gw, cyberrange.StateExited)
	if err := h.driver().Remove(context.Background(), target); err != nil {
		t.Fatal(err)
	}
	h.failNext("Start", target, errors.New("no room"))
	err := newOrch(h, nil).UpOrUndo(context.Background(), p)
	if err == nil || !strings.Contains(err.Error(), "left running, as they were there before: "+gw) {
		t.Fatalf("err = %v", err)
	}
	for _, c := range p.Containers {
		switch c.Name {
		case target:
			if h.has(c.Name) {
				t.Errorf("%s, made by the failed up, is still there", c.Name)
			}
		default:
			if st, ok := h.state(c.Name); !ok || st != cyberrange.StateRunning {
				t.Errorf("%s, adopted, is %v %v", c.Name, st, ok)
			}
		}
	}
	if len(p.Networks) == 0 {
		t.Fatal("no networks")
	}
	actual, err := h.driver().List(context.Background(), p.Exercise)
	if err != nil {
		t.Fatal(err)
	}
	if len(actual.Networks) != len(p.Networks) {
		t.Errorf("%d networks left of %d adopted", len(actual.Networks), len(p.Networks))
	}
}

// TestUpOrUndoSaysWhatIsLeft: when taking down fails too, the error names
// what is left.
func TestUpOrUndoSaysWhatIsLeft(t *testing.T) {
	h := newFakeHost()
	p := demoPlan(t)
	var target, gw string
	for _, c := range p.Containers {
		switch c.Kind {
		case cyberrange.KindTarget:
			target = c.Name
		case cyberrange.KindGateway:
			gw = c.Name
		}
	}
	h.failNext("Start", target, errors.New("refused"))
	h.failNext("Remove", gw, errors.New("engine busy"))
	err := newOrch(h, nil).UpOrUndo(context.Background(), p)
	if err == nil || !strings.Contains(err.Error(), "left container "+gw) || !strings.Contains(err.Error(), "range down") {
		t.Fatalf("err = %v", err)
	}
}

// TestAnotherInstanceIsNeverTouched: two data directories' exercises of
// one scenario share their names on an engine; neither's up or own down
// adopts, recreates or removes the other's range.
func TestAnotherInstanceIsNeverTouched(t *testing.T) {
	sc := builtin(t, "demo")
	mine, err := cyberrange.NewPlan(sc, cyberrange.PlanOptions{Driver: cyberrange.DriverDocker, TeamTokens: fakeTokens(sc),
		CheckerSecret: "mine", Instance: cyberrange.InstanceID("mine")})
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := cyberrange.NewPlan(sc, cyberrange.PlanOptions{Driver: cyberrange.DriverDocker, TeamTokens: fakeTokens(sc),
		CheckerSecret: "theirs", Instance: cyberrange.InstanceID("theirs")})
	if err != nil {
		t.Fatal(err)
	}
	h := newFakeHost()
	ctx := context.Background()
	if err := newOrch(h, nil).Up(ctx, theirs); err != nil {
		t.Fatal(err)
	}
	h.resetCalls()
	for _, step := range []struct {
		name string
		do   func() error
	}{
		{"up", func() error { return newOrch(h, nil).Up(ctx, mine) }},
		{"up or undo", func() error { return newOrch(h, nil).UpOrUndo(ctx, mine) }},
		{"own down", func() error { return newOrch(h, nil).DownOwn(ctx, sc.Name, mine.Instance()) }},
	} {
		if err := step.do(); !errors.Is(err, cyberrange.ErrConflict) {
			t.Errorf("%s of another instance's range: %v, want ErrConflict", step.name, err)
		}
	}
	for _, m := range []string{"Start", "Remove", "EnsureNetwork", "RemoveNetwork"} {
		if n := h.count(m); n != 0 {
			t.Errorf("%d calls of %s on the other instance's range", n, m)
		}
	}
	// Its own down, and a forced one, do remove it.
	if err := newOrch(h, nil).DownOwn(ctx, sc.Name, theirs.Instance()); err != nil {
		t.Fatal(err)
	}
	if mine.Instance() == "" || mine.Instance() == theirs.Instance() || strings.Contains(mine.Instance(), "mine") {
		t.Errorf("instances %q and %q", mine.Instance(), theirs.Instance())
	}
}
