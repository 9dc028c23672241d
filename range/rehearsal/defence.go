package rehearsal

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"golang.org/x/crypto/ssh"

	cyberrange "github.com/cyrange/cyrange/range"
	"github.com/cyrange/cyrange/range/gateway"
)

// defenceDialer dials through team's defence gateway with password.
func (r *Rehearsal) defenceDialer(ctx context.Context, team int, password string) (gateway.Dialer, error) {
	gi, ok := r.rg.Plan.DefenceGateway(team)
	if !ok {
		return nil, fmt.Errorf("team %d has no defence gateway: %w", team, cyberrange.ErrNotFound)
	}
	rep, err := r.rg.Status(ctx)
	if err != nil {
		return nil, err
	}
	return gateway.Client(gateway.HostAddr(gi, rep), gi.Short, password)
}

// dialThrough opens and closes one connection to dest through d.
func dialThrough(ctx context.Context, d gateway.Dialer, dest string) error {
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c, err := d.DialContext(dctx, "tcp", dest)
	if err != nil {
		return err
	}
	return c.Close()
}

// checkDefenceGateways proves every defending team's gateway lets the team
// in with its token to its own replicas' admin consoles, keeps a wrong
// token out, and reaches nothing of the checkers; and that the team logs
// in to its defence box, when it has one, with its token and not with a
// wrong one.
func (r *Rehearsal) checkDefenceGateways(ctx context.Context) {
	for team, t := range r.cfg.Teams {
		gw, ok := r.rg.Plan.DefenceGateway(team)
		if !ok {
			continue
		}
		name := t.Name + " (" + gw.Short + ")"
		console := r.ownConsole(team)
		if console == "" {
			r.skip("defence gateway token", name, "no replica with an admin console")
			continue
		}
		token := r.toks.TeamToken(team)
		d, err := r.defenceDialer(ctx, team, token)
		if err == nil {
			err = dialThrough(ctx, d, console)
		}
		if err != nil {
			err = fmt.Errorf("with the team's token, its admin console %s not reached: %w", console, err)
		}
		r.Record("defence gateway token", name, err)
		err = nil
		if wrong, derr := r.defenceDialer(ctx, team, "not-"+token); derr == nil && dialThrough(ctx, wrong, console) == nil {
			err = errors.New("a wrong token was let in")
		}
		r.Record("defence gateway wrong token", name, err)
		if d != nil {
			err = nil
			for _, dest := range r.checkerAddrs() {
				if dialThrough(ctx, d, dest) == nil {
					err = fmt.Errorf("the checker at %s was reached", dest)
					break
				}
			}
			r.Record("defence gateway boundary", name, err)
		}
		if gw.Box != "" {
			r.checkDefenceBox(ctx, team, name, gw.Short, token)
		}
	}
}

// ownConsole is team's first admin console as it asks its defence
// gateway for it: "<service>.<short>:port".
func (r *Rehearsal) ownConsole(team int) string {
	for _, rp := range r.cfg.Replicas {
		if rp.Owner != team {
			continue
		}
		if n := cyberrange.PortMap(r.rg.Plan.ReplicaPorts(rp.Owner, rp.Service))[cyberrange.PortAdmin]; n != 0 {
			host := cyberrange.TargetName(r.cfg.Services[rp.Service].Name, r.o.Scenario.Teams[team].Short)
			return net.JoinHostPort(host, strconv.Itoa(n))
		}
	}
	return ""
}

// checkerAddrs are the checkers' service addresses.
func (r *Rehearsal) checkerAddrs() []string {
	var out []string
	for _, c := range r.rg.Plan.Containers {
		if c.Kind != cyberrange.KindChecker || len(c.Networks) == 0 {
			continue
		}
		for _, p := range c.Ports {
			out = append(out, net.JoinHostPort(c.Networks[0].Address.String(), strconv.Itoa(p.Number)))
		}
	}
	return out
}

// checkDefenceBox logs in to team's defence box over SSH through its
// defence gateway, as the team's short name with its token, and with a
// wrong token.
func (r *Rehearsal) checkDefenceBox(ctx context.Context, team int, name, user, token string) {
	login := func(password string) error {
		d, err := r.defenceDialer(ctx, team, token)
		if err != nil {
			return err
		}
		dest := net.JoinHostPort(cyberrange.DefenceBoxName, strconv.Itoa(cyberrange.PortSSH))
		dctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		conn, err := d.DialContext(dctx, "tcp", dest)
		if err != nil {
			return err
		}
		defer conn.Close()
		if dl, ok := dctx.Deadline(); ok {
			conn.SetDeadline(dl)
		}
		cc, chans, reqs, err := ssh.NewClientConn(conn, dest, &ssh.ClientConfig{User: user,
			Auth: []ssh.AuthMethod{ssh.Password(password)},
			// Every box makes its host key when it starts: nothing to pin.
			HostKeyCallback: ssh.InsecureIgnoreHostKey()})
		if err != nil {
			return err
		}
		return ssh.NewClient(cc, chans, reqs).Close()
	}
	// The SSH server may still be making its host keys.
	var err error
	for range 10 {
		if err = login(token); err == nil || ctx.Err() != nil {
			break
		}
		time.Sleep(time.Second)
	}
	if err != nil {
		err = fmt.Errorf("SSH login with the team's token: %w", err)
	}
	r.Record("defence box login", name, err)
	err = nil
	if login("not-"+token) == nil {
		err = errors.New("a wrong token logged in")
	}
	r.Record("defence box wrong token", name, err)
}
