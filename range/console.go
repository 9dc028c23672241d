package cyberrange

import (
	"context"
	"fmt"
)

// ConsoleURL returns the admin console of owner's replica of service svc
// as the defence reaches it from the exercise's host, or "" when the host
// cannot reach it: the local driver's replicas listen on loopback
// addresses, while the docker driver's replica networks are closed to the
// host by design.
func (o *Orchestrator) ConsoleURL(_ context.Context, owner, svc int) (string, error) {
	p := o.plan.Load()
	if p == nil {
		return "", nil
	}
	if p.Driver != DriverLocal {
		return "", nil
	}
	if _, ok := p.Target(owner, svc); !ok {
		return "", fmt.Errorf("cyberrange: no replica of service %d owned by team %d: %w", svc, owner, ErrNotFound)
	}
	ap, ok := p.AdminConsole(owner, svc)
	if !ok {
		return "", nil
	}
	return "http://" + ap.String() + "/", nil
}
