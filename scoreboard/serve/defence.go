package serve

import (
	"context"

	cyberrange "github.com/cyrange/cyrange/range"
	"github.com/cyrange/cyrange/range/operator"
	"github.com/cyrange/cyrange/scoreboard/web"
)

// DefenceRange is a range whose defending teams reach their own replicas
// through their defence gateways: the web server reports its health (the
// orchestrator), shows every team its gateway, and proxies the defence's
// admin consoles through Defence.
type DefenceRange struct {
	*cyberrange.Orchestrator
	Defence *operator.Defence
}

var _ web.AdminConsoles = DefenceRange{}

// DefenceGateway returns team's defence gateway as the host reaches it.
func (r DefenceRange) DefenceGateway(ctx context.Context, team int) (any, error) {
	gi, err := r.Defence.Gateway(ctx, team)
	if err != nil {
		return nil, err
	}
	return gi, nil
}

// AdminConsole returns how team reaches the admin console of its replica
// of service: through its defence gateway, as the operator.
func (r DefenceRange) AdminConsole(ctx context.Context, team, service int) (web.AdminConsole, error) {
	c, err := r.Defence.AdminConsole(ctx, team, service)
	if err != nil {
		return web.AdminConsole{}, err
	}
	return web.AdminConsole{URL: c.URL, Dial: c.Dialer.DialContext, User: c.User, Password: c.Password}, nil
}
