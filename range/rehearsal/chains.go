package rehearsal

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cyrange/cyrange/images/target"
	"github.com/cyrange/cyrange/scoreboard"
)

// chainRun is one chain against one defending team's replicas.
type chainRun struct {
	chain target.Chain
	owner int
	// replicas are the owner's replicas the chain crosses, by target.
	replicas map[string]scoreboard.Replica
	// on says whether every weakness of its route is on.
	on bool
}

// chainRuns lists every chain of the build against every defending team
// that has a replica of each target it crosses.
func (r *Rehearsal) chainRuns() []chainRun {
	byOwner := map[int]map[string]scoreboard.Replica{}
	for _, rp := range r.cfg.Replicas {
		t, ok := r.o.Targets.Of(r.o.Scenario.Services[rp.Service])
		if !ok {
			continue
		}
		if byOwner[rp.Owner] == nil {
			byOwner[rp.Owner] = map[string]scoreboard.Replica{}
		}
		byOwner[rp.Owner][t.Name()] = rp
	}
	var out []chainRun
	for _, c := range r.o.Targets.Chains() {
		for owner := range r.cfg.Teams {
			reps := byOwner[owner]
			run := chainRun{chain: c, owner: owner, replicas: reps, on: true}
			complete := true
			for _, name := range c.Targets {
				if _, ok := reps[name]; !ok {
					complete = false
				}
			}
			if !complete {
				continue
			}
			for _, s := range c.Route {
				t, _ := r.o.Targets.Lookup(s.Target)
				if t == nil || !t.WeaknessOn(r.o.Scenario.Services[reps[s.Target].Service].Options, s.Weakness) {
					run.on = false
				}
			}
			out = append(out, run)
		}
	}
	return out
}

// chainName names a chain's row after the replicas it crosses.
func (r *Rehearsal) chainName(cr chainRun) string {
	names := make([]string, 0, len(cr.chain.Targets))
	for _, t := range cr.chain.Targets {
		names = append(names, r.replicaName(cr.replicas[t]))
	}
	return strings.Join(names, " → ")
}

// runChain runs a chain from team's gateway and returns the flags planted
// by this rehearsal in the owner's replicas that it found.
func (r *Rehearsal) runChain(ctx context.Context, cr chainRun, team int) ([]string, error) {
	d, err := r.gatewayDialer(ctx, team, r.toks.TeamToken(team))
	if err != nil {
		return nil, err
	}
	reps := map[string]target.Replica{}
	for name, rp := range cr.replicas {
		host, _, ok := r.rg.Plan.TargetFor(team, rp.Owner, rp.Service)
		if !ok {
			return nil, fmt.Errorf("the attack team has no way to %s", r.replicaName(rp))
		}
		reps[name] = target.Replica{Host: host.String(), Ports: r.rg.Plan.KnownPorts(rp.Owner, rp.Service),
			AttackInfo: r.infos[replicaKey(rp)], Options: r.o.Scenario.Services[rp.Service].Options}
	}
	cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	got, err := cr.chain.Run(cctx, d, reps)
	var planted []string
	for _, f := range got {
		for _, rp := range cr.replicas {
			if strings.HasPrefix(r.flags[f], replicaKey(rp)+"/") {
				planted = append(planted, f)
				break
			}
		}
	}
	return planted, err
}

// checkChains runs every cross-target chain from an attack team's
// gateway. Before the remedies, a chain whose route is all on must take
// flags from the defending team's replicas, and one with a weakness off
// must take none; once every remedy is in (remedied), none may.
func (r *Rehearsal) checkChains(ctx context.Context, remedied bool) {
	for _, cr := range r.chainRuns() {
		name := r.chainName(cr)
		check := "chain " + cr.chain.Name
		team, ok := r.attacker(cr.owner)
		if !ok {
			r.skip(check, name, "no attack team with a gateway")
			continue
		}
		got, err := r.runChain(ctx, cr, team)
		switch {
		case remedied:
			var ferr error
			if len(got) > 0 {
				ferr = fmt.Errorf("the chain still got %d flags after the remedies", len(got))
			}
			r.Record(check+" (remedied)", name, ferr)
		case !cr.on:
			var ferr error
			if len(got) > 0 {
				ferr = fmt.Errorf("a weakness of its route is off in the scenario but the chain got %d flags", len(got))
			}
			r.Record(check+" (off)", name, ferr)
		case len(got) == 0:
			if err == nil {
				err = errors.New("no error")
			}
			r.Record(check, name, fmt.Errorf("chain %s got no flag: %w", cr.chain.Name, err))
		default:
			r.Record(check, name, nil)
		}
	}
}
