package swarm

import (
	"context"
	"testing"

	cyberrange "github.com/cyrange/cyrange/range"
	"github.com/cyrange/cyrange/range/rangetest"
)

// killable is the driver with the contract's Killer, on the fake swarm.
// The driver itself has no Kill: killing a task's container takes the
// engine of the node that runs it, which a manager's API does not reach.
// On the fake, a kill fails the service's task, and Swarm's restart (a
// new task) comes with the next look at the service, which the
// orchestrator's Start makes.
type killable struct {
	*Driver
	f *fakeEngine
}

func (k killable) Kill(_ context.Context, name string) error {
	k.f.crash(name, 137)
	k.f.mu.Lock()
	k.f.restartOnInspect[name] = true
	k.f.mu.Unlock()
	return nil
}

// TestContractOnFake runs the range's contract suite on the fake swarm:
// the driver's reconciliation (adopt, restart through Swarm, down
// leaving nothing) against a swarm that behaves as the fake says. The
// same suite on a real single-node swarm, made and left by the test, is
// still to come (issue 15).
func TestContractOnFake(t *testing.T) {
	f := newFake()
	f.linger = 2
	rangetest.Contract(t, func(t *testing.T) cyberrange.Driver { return killable{Driver: testDriver(f), f: f} },
		func(t *testing.T) *cyberrange.Plan { return planFor(t, "demo") })
	if len(f.secrets) != 0 {
		t.Errorf("%d secrets left after down", len(f.secrets))
	}
}
