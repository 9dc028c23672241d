package cyberrange

import (
	"context"
	"fmt"
	"net/netip"
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
	c, ok := p.target(owner, svc)
	if !ok {
		return "", fmt.Errorf("cyberrange: no replica of service %d owned by team %d: %w", svc, owner, ErrNotFound)
	}
	for _, port := range c.Ports {
		if port.Name == PortAdmin {
			return "http://" + netip.AddrPortFrom(p.replicaAddr(c), uint16(port.Number)).String() + "/", nil
		}
	}
	return "", nil
}
