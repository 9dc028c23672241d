package cyberrange

import "net/netip"

func (p *Plan) Target(owner, svc int) (Container, bool) { return p.target(owner, svc) }

func (p *Plan) Checker(name string) (Container, bool) {
	for _, c := range p.Containers {
		if c.Kind == KindChecker && c.Labels[LabelService] == name {
			return c, true
		}
	}
	return Container{}, false
}

func (p *Plan) AdminConsole(owner, svc int) (netip.AddrPort, bool) {
	c, ok := p.target(owner, svc)
	if !ok {
		return netip.AddrPort{}, false
	}
	for _, port := range c.Ports {
		if port.Name == PortAdmin {
			return netip.AddrPortFrom(p.replicaAddr(c), uint16(port.Number)), true
		}
	}
	return netip.AddrPort{}, false
}

func (r Report) HostAddr(container, port string) (string, bool) {
	for _, c := range r.Containers {
		if c.Name == container && c.Ports[port] != "" {
			return c.Ports[port], true
		}
	}
	return "", false
}
