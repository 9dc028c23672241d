package operator

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/cyrange/cyrange/images/target"
	cyberrange "github.com/cyrange/cyrange/range"
	"github.com/cyrange/cyrange/range/gateway"
)

// Defence reaches a defending team's replicas the way the team itself
// does: through its defence gateway, with its token, by the names the
// gateway resolves. The defence console's proxy and the rehearsal's
// remedies go this way, so what they do is what a defender can do, and
// the admin console's own rules (it lets in the replica's network) are
// the only thing that decides.
type Defence struct {
	Operator *Operator
	// Status tells where the driver published the gateways when the plan
	// leaves the port to the engine; nil means the plan's addresses.
	Status func(ctx context.Context) (cyberrange.Report, error)
}

// Gateway returns team's defence gateway as the host reaches it.
func (d *Defence) Gateway(ctx context.Context, team int) (cyberrange.GatewayInfo, error) {
	gi, ok := d.Operator.Plan.DefenceGateway(team)
	if !ok {
		return cyberrange.GatewayInfo{}, fmt.Errorf("operator: team %d has no defence gateway: %w", team, cyberrange.ErrNotFound)
	}
	if d.Status != nil {
		rep, err := d.Status(ctx)
		if err != nil {
			return cyberrange.GatewayInfo{}, fmt.Errorf("operator: defence gateway of team %d: %w", team, err)
		}
		gi.Address = gateway.HostAddr(gi, rep)
	}
	return gi, nil
}

// Dialer returns a dialer through team's defence gateway, logged in with
// the team's token.
func (d *Defence) Dialer(ctx context.Context, team int) (gateway.Dialer, error) {
	gi, err := d.Gateway(ctx, team)
	if err != nil {
		return nil, err
	}
	c, _ := d.Operator.Plan.Container(gi.Container)
	token := c.Env[cyberrange.EnvGatewayToken]
	if token == "" {
		return nil, fmt.Errorf("operator: defence gateway %s has no token in the plan", gi.Container)
	}
	return gateway.Client(gi.Address, gi.Short, token)
}

// AdminConsole is one replica's admin console as its defending team
// reaches it.
type AdminConsole struct {
	target.Console
	// User is the operator's login name; Console.Password its password.
	User string
}

// AdminConsole returns how team reaches the admin console of its replica
// of service svc: the URL by the replica's name, which the defence
// gateway resolves, a dialer through that gateway and the operator's
// login, which the target printed for the operator at start.
func (d *Defence) AdminConsole(ctx context.Context, team, svc int) (AdminConsole, error) {
	t, err := d.Operator.targetOf(svc)
	if err != nil {
		return AdminConsole{}, err
	}
	ports := d.Operator.Plan.ReplicaPorts(team, svc)
	if ports == nil {
		return AdminConsole{}, fmt.Errorf("operator: team %d has no replica of service %d: %w", team, svc, cyberrange.ErrNotFound)
	}
	admin := cyberrange.PortMap(ports)[cyberrange.PortAdmin]
	if admin == 0 {
		return AdminConsole{}, fmt.Errorf("operator: the replica of service %d owned by team %d has no admin console: %w", svc, team, cyberrange.ErrNotFound)
	}
	dialer, err := d.Dialer(ctx, team)
	if err != nil {
		return AdminConsole{}, err
	}
	password, err := d.Operator.passwordSince(ctx, team, svc, d.lastStart(ctx, team, svc))
	if err != nil {
		return AdminConsole{}, err
	}
	sc := d.Operator.Scenario
	host := cyberrange.TargetName(sc.Services[svc].Name, sc.Teams[team].Short)
	return AdminConsole{
		Console: target.Console{URL: "http://" + net.JoinHostPort(host, strconv.Itoa(admin)) + "/", Dialer: dialer, Password: password},
		User:    t.OperatorUser(),
	}, nil
}

// lastStart is when the Docker driver last started team's target of
// service svc, zero when it cannot tell or the driver is another: the
// output before it is an earlier run's, with an earlier password. The
// local driver reads from the end of the output for any non-zero time,
// so there the first run's password is the one read: a local target that
// restarted shows a stale one (local ranges are for rehearsals).
func (d *Defence) lastStart(ctx context.Context, team, svc int) time.Time {
	c, ok := d.Operator.Plan.Target(team, svc)
	if d.Status == nil || !ok || d.Operator.Plan.Driver != cyberrange.DriverDocker {
		return time.Time{}
	}
	rep, err := d.Status(ctx)
	if err != nil {
		return time.Time{}
	}
	for _, cr := range rep.Containers {
		if cr.Name == c.Name {
			return cr.Started
		}
	}
	return time.Time{}
}

// Remedy applies the remedy of weakness w to team's replica of service
// svc as the team would: in the admin console, through its defence
// gateway.
func (d *Defence) Remedy(ctx context.Context, team, svc int, w string) error {
	t, err := d.Operator.targetOf(svc)
	if err != nil {
		return err
	}
	if _, ok := target.Find(t, w); !ok {
		return fmt.Errorf("operator: %s has no weakness %q: %w", t.Name(), w, cyberrange.ErrNotFound)
	}
	c, err := d.AdminConsole(ctx, team, svc)
	if err != nil {
		return err
	}
	rctx, cancel := context.WithTimeout(ctx, remedyTimeout)
	defer cancel()
	if err := t.Remedy(rctx, c.Console, w); err != nil {
		return fmt.Errorf("operator: remedy of %s through the defence gateway: %w", w, err)
	}
	return nil
}
