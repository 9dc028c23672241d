package rehearsal

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/cyrange/cyrange/images/target"
	cyberrange "github.com/cyrange/cyrange/range"
	"github.com/cyrange/cyrange/range/gateway"
	"github.com/cyrange/cyrange/range/probe"
	"github.com/cyrange/cyrange/scoreboard"
	"github.com/cyrange/cyrange/scoreboard/checks"
)

// AddressesFree fails if anything answers on an address a local plan
// listens on: local ranges share the loopback addresses whatever their
// name, so with another one up the scratch checkers would plant flags in
// the real targets.
func AddressesFree(ctx context.Context, plan *cyberrange.Plan) error {
	for _, c := range plan.Containers {
		if len(c.Networks) == 0 {
			continue
		}
		for _, p := range c.Ports {
			addr := net.JoinHostPort(c.Networks[0].Address.String(), fmt.Sprint(p.Number))
			if p.Publish != "" {
				addr = p.Publish
			}
			d := net.Dialer{Timeout: 300 * time.Millisecond}
			if conn, err := d.DialContext(ctx, "tcp", addr); err == nil {
				conn.Close()
				return fmt.Errorf("%s (%s) is in use: another local range is up; take it down or rehearse on docker", addr, c.Name)
			}
		}
	}
	return nil
}

// readyWithin bounds how long the range's processes may take to listen
// once their containers run.
const readyWithin = time.Minute

// waitListening waits until every replica's ports, every gateway and
// every checker answer: a running container is not yet a listening one.
func (r *Rehearsal) waitListening(ctx context.Context) error {
	wctx, cancel := context.WithTimeout(ctx, readyWithin)
	defer cancel()
	var addrs []string
	// With docker only the checkers and the gateways are published to the
	// host; the exploits find out whether the targets listen.
	if r.o.Driver == cyberrange.DriverLocal {
		for _, rp := range r.cfg.Replicas {
			for _, p := range r.rg.Plan.ReplicaPorts(rp.Owner, rp.Service) {
				addrs = append(addrs, net.JoinHostPort(rp.Address, fmt.Sprint(p.Number)))
			}
		}
	}
	rep, err := r.rg.Status(wctx)
	if err != nil {
		return err
	}
	for team := range r.cfg.Teams {
		if gw, ok := r.rg.Plan.Gateway(team); ok {
			addrs = append(addrs, gateway.HostAddr(gw, rep))
		}
	}
	for _, addr := range addrs {
		if err := probe.DialUntil(wctx, addr, 100*time.Millisecond); err != nil {
			return fmt.Errorf("%s not listening after %v: %w", addr, readyWithin, err)
		}
	}
	for i, c := range r.rg.Checkers {
		for {
			_, err := c.Info(wctx)
			if err == nil {
				break
			}
			if wctx.Err() != nil {
				return fmt.Errorf("the checker of %s not answering after %v: %w", r.cfg.Services[i].Name, readyWithin, err)
			}
			sleep(wctx, 100*time.Millisecond)
		}
	}
	return nil
}

// checkTimeout bounds one checker task, as a tick would.
const checkTimeout = 30 * time.Second

// task runs one checker task and returns the putflag's attack info.
func (r *Rehearsal) task(ctx context.Context, c checks.Checker, t checks.Task) (string, error) {
	tctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	t.Timeout = checkTimeout.Milliseconds()
	t.RoundLength = r.o.Scenario.Tick.Milliseconds()
	t.CurrentRoundID = r.round
	if t.RelatedRoundID == 0 {
		t.RelatedRoundID = r.round
	}
	res, err := c.Run(tctx, t)
	if err != nil {
		return "", err
	}
	if res.Result != checks.OK {
		msg := ""
		if res.Message != nil {
			msg = ": " + *res.Message
		}
		return "", fmt.Errorf("%s%s", res.Result, msg)
	}
	if t.Method == checks.PutFlag && res.AttackInfo != nil {
		return *res.AttackInfo, nil
	}
	return "", nil
}

// replicaKey names a replica in flags and infos.
func replicaKey(rp scoreboard.Replica) string { return fmt.Sprint(rp.Owner, "/", rp.Service) }

// checkReplica runs every checker method against one defended replica:
// putflag and getflag of each store (when plant is set), putnoise and
// getnoise, havoc; without plant it gets the flags planted before.
func (r *Rehearsal) checkReplica(ctx context.Context, rp scoreboard.Replica, plant bool) bool {
	c, ok := r.rg.Checkers[rp.Service]
	name := r.replicaName(rp)
	if !ok {
		r.skip("checker", name, "the service has no checker")
		return true
	}
	info, err := c.Info(ctx)
	if !r.Record("checker info", name, err) {
		return false
	}
	base := checks.Task{Address: rp.Address, TeamID: rp.Owner, TeamName: r.cfg.Teams[rp.Owner].Name}
	allOK := true
	step := func(check string, t checks.Task) {
		ai, err := r.task(ctx, c, t)
		if ai != "" {
			r.infos[replicaKey(rp)] = append(r.infos[replicaKey(rp)], ai)
		}
		allOK = r.Record(check, name, err) && allOK
	}
	for v := range info.FlagVariants {
		r.checkStore(rp, v, plant, base, step)
	}
	for v := range info.NoiseVariants {
		t := base
		t.Method, t.VariantID, t.TaskChainID = checks.PutNoise, v, checks.ChainID("noise", rp.Service, r.round, rp.Owner, v)
		step(fmt.Sprintf("putnoise %d", v), t)
		t.Method = checks.GetNoise
		step(fmt.Sprintf("getnoise %d", v), t)
	}
	for v := range info.HavocVariants {
		t := base
		t.Method, t.VariantID, t.TaskChainID = checks.Havoc, v, checks.ChainID("havoc", rp.Service, r.round, rp.Owner, v)
		step(fmt.Sprintf("havoc %d", v), t)
	}
	return allOK
}

// checkStore plants a flag in variant v's store (when plant is set) and
// gets back every flag planted there.
func (r *Rehearsal) checkStore(rp scoreboard.Replica, v int, plant bool, base checks.Task, step func(string, checks.Task)) {
	svc := r.cfg.Services[rp.Service]
	store := fmt.Sprintf("variant %d", v)
	if v < len(svc.Stores) {
		store = svc.Stores[v]
	}
	where := replicaKey(rp) + "/" + store
	chain := checks.ChainID("flag", rp.Service, 1, rp.Owner, v)
	if plant {
		flag := NewFlag()
		t := base
		t.Method, t.VariantID, t.Flag, t.TaskChainID = checks.PutFlag, v, checks.Str(flag), chain
		step("putflag "+store, t)
		r.flags[flag] = where
	}
	for flag, at := range r.flags {
		if at != where {
			continue
		}
		t := base
		t.Method, t.VariantID, t.Flag, t.TaskChainID, t.RelatedRoundID = checks.GetFlag, v, checks.Str(flag), chain, 1
		step("getflag "+store, t)
	}
}

// gatewayDialer dials through team's gateway with password.
func (r *Rehearsal) gatewayDialer(ctx context.Context, team int, password string) (gateway.Dialer, error) {
	rep, err := r.rg.Status(ctx)
	if err != nil {
		return nil, err
	}
	return gateway.TeamDialer(r.rg.Plan, rep, team, password)
}

// checkGateways proves every team's gateway lets the team in with its
// token and keeps anyone with a wrong one out.
func (r *Rehearsal) checkGateways(ctx context.Context) {
	for team, t := range r.cfg.Teams {
		gw, ok := r.rg.Plan.Gateway(team)
		if !ok {
			continue
		}
		name := t.Name + " (" + gw.Short + ")"
		dest := r.reachable(team)
		if dest == "" {
			r.skip("gateway token", name, "no replica of another team to reach")
			continue
		}
		dial := func(password string) error {
			d, err := r.gatewayDialer(ctx, team, password)
			if err != nil {
				return err
			}
			return dialThrough(ctx, d, dest)
		}
		err := dial(r.toks.TeamToken(team))
		if err != nil {
			err = fmt.Errorf("with the team's token, %s not reached: %w", dest, err)
		}
		r.Record("gateway token", name, err)
		err = nil
		if dial("not-"+r.toks.TeamToken(team)) == nil {
			err = errors.New("a wrong token was let in")
		}
		r.Record("gateway wrong token", name, err)
	}
}

// reachable is the first port of any replica team may reach, as the team
// dials it; "" when there is none.
func (r *Rehearsal) reachable(team int) string {
	for _, rp := range r.cfg.Replicas {
		if rp.Owner == team {
			continue
		}
		if host, ports, ok := r.rg.Plan.TargetFor(team, rp.Owner, rp.Service); ok && len(ports) > 0 {
			return net.JoinHostPort(host.String(), fmt.Sprint(ports[0].Number))
		}
	}
	return ""
}

// attacker is the attack team whose gateway the exploits go through.
func (r *Rehearsal) attacker(owner int) (int, bool) {
	for team, t := range r.cfg.Teams {
		if team == owner || !t.Role.Attacks() {
			continue
		}
		if _, ok := r.rg.Plan.Gateway(team); ok {
			return team, true
		}
	}
	return 0, false
}

// runExploit runs w's exploit from team's gateway against the replica and
// returns the flags planted by this rehearsal it found.
func (r *Rehearsal) runExploit(ctx context.Context, w target.Weakness, team int, rp scoreboard.Replica) ([]string, error) {
	d, err := r.gatewayDialer(ctx, team, r.toks.TeamToken(team))
	if err != nil {
		return nil, err
	}
	host, _, ok := r.rg.Plan.TargetFor(team, rp.Owner, rp.Service)
	if !ok {
		return nil, errors.New("the attack team has no way to the replica")
	}
	t := target.Replica{Host: host.String(), Ports: r.rg.Plan.KnownPorts(rp.Owner, rp.Service), AttackInfo: r.infos[replicaKey(rp)],
		Options: r.o.Scenario.Services[rp.Service].Options}
	ectx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	got, err := w.Exploit(ectx, d, t)
	prefix := replicaKey(rp) + "/"
	var planted []string
	for _, f := range got {
		if strings.HasPrefix(r.flags[f], prefix) {
			planted = append(planted, f)
		}
	}
	return planted, err
}

// checkExploits runs each reference exploit against a replica of a
// built-in target: one whose weakness is on must get a flag, and after
// its remedy must not while the checker stays OK; one whose weakness is
// off must get nothing.
func (r *Rehearsal) checkExploits(ctx context.Context, rp scoreboard.Replica) {
	svc := r.o.Scenario.Services[rp.Service]
	t, ok := r.o.Targets.Of(svc)
	if !ok {
		return
	}
	name := r.replicaName(rp)
	team, ok := r.attacker(rp.Owner)
	if !ok {
		r.skip("exploits", name, "no attack team with a gateway")
		return
	}
	var remedied []target.Weakness
	for _, w := range t.Weaknesses() {
		check := "exploit " + w.ExploitName
		got, err := r.runExploit(ctx, w, team, rp)
		if !t.WeaknessOn(svc.Options, w.Name) {
			var ferr error
			if len(got) > 0 {
				ferr = fmt.Errorf("weakness %s is off in the scenario but the exploit got %d flags", w.Name, len(got))
			}
			r.Record(check+" (off)", name, ferr)
			continue
		}
		if len(got) == 0 {
			if err == nil {
				err = errors.New("no error")
			}
			r.Record(check, name, fmt.Errorf("exploit %s got no flag: %w", w.ExploitName, err))
			continue
		}
		r.Record(check, name, nil)
		remedied = append(remedied, w)
	}
	if len(remedied) == 0 {
		return
	}
	for _, w := range remedied {
		check := "remedy " + w.Name
		if err := r.rg.Remedy(ctx, rp.Owner, rp.Service, w.Name); err != nil {
			r.Record(check, name, fmt.Errorf("applying it in the console: %w", err))
			continue
		}
		got, _ := r.runExploit(ctx, w, team, rp)
		var err error
		if len(got) > 0 {
			err = fmt.Errorf("exploit %s still got %d flags after the remedy", w.ExploitName, len(got))
		}
		r.Record(check, name, err)
	}
	// The staff and the checker are still served once every remedy is in.
	r.round++
	r.checkReplica(ctx, rp, false)
}
