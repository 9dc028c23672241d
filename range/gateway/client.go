package gateway

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"golang.org/x/net/proxy"

	cyberrange "github.com/cyrange/cyrange/range"
)

// Dialer opens connections through a gateway.
type Dialer interface {
	DialContext(ctx context.Context, network, addr string) (net.Conn, error)
}

// dialTimeout bounds the connection to the gateway itself.
const dialTimeout = 10 * time.Second

// Client returns a dialer through the SOCKS5 gateway at addr, which
// authenticates as user (the team's short name) with password (the
// team's token).
func Client(addr, user, password string) (Dialer, error) {
	d, err := proxy.SOCKS5("tcp", addr, &proxy.Auth{User: user, Password: password}, &net.Dialer{Timeout: dialTimeout})
	if err != nil {
		return nil, fmt.Errorf("gateway: client of %s: %w", addr, err)
	}
	cd, ok := d.(proxy.ContextDialer)
	if !ok {
		return nil, errors.New("gateway: the SOCKS5 dialer cannot take a context")
	}
	return cd, nil
}

// TeamDialer returns a dialer through team's gateway as the host reaches
// it: where the driver published its SOCKS5 port (rep), or the plan's
// address of the gateway.
func TeamDialer(p *cyberrange.Plan, rep cyberrange.Report, team int, password string) (Dialer, error) {
	gw, ok := p.Gateway(team)
	if !ok {
		return nil, fmt.Errorf("gateway: team %d has none: %w", team, cyberrange.ErrNotFound)
	}
	return Client(HostAddr(gw, rep), gw.Short, password)
}

// HostAddr is where the host reaches a gateway.
func HostAddr(gw cyberrange.GatewayInfo, rep cyberrange.Report) string {
	if a, ok := rep.HostAddr(gw.Container, cyberrange.PortSocks); ok {
		return a
	}
	return gw.Address
}
