package bots

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"strings"
	"time"

	"github.com/cyrange/cyrange/images/target"
	"github.com/cyrange/cyrange/range/gateway"
)

// skill is how a bot team plays: how many exploits it knows, from which
// tick it starts, and how long it thinks between rounds (a share of the
// tick).
type skill struct {
	name     string
	exploits int
	from     int32
	think    float64
	// chains: it also pivots from one replica of a defending team into
	// the next (the targets' cross-target chains).
	chains bool
}

// skills go from a strong team to a weak one; team i gets skills[i%3].
var skills = [...]skill{
	{name: "strong", exploits: 6, from: 1, think: 0.2, chains: true},
	{name: "medium", exploits: 3, from: 2, think: 0.5},
	{name: "weak", exploits: 1, from: 3, think: 0.8},
}

// exploit is one weakness of one target a bot knows.
type exploit struct {
	target string
	w      target.Weakness
}

// Attack plays every attack team until ctx is done: each round a team
// runs the exploits it knows through its own SOCKS5 gateway against every
// replica, and submits what it found over the TCP submission protocol.
func Attack(ctx context.Context, o Options) {
	var all []exploit
	for _, t := range o.Targets {
		for _, w := range t.Weaknesses() {
			all = append(all, exploit{target: t.Name(), w: w})
		}
	}
	rng := rand.New(rand.NewPCG(uint64(o.Seed), 7))
	k := 0
	for team, t := range o.Game.Config().Teams {
		if !t.Role.Attacks() {
			continue
		}
		sk := skills[k%len(skills)]
		k++
		// Each team learns the exploits in its own order.
		order := rng.Perm(len(all))
		known := make([]exploit, 0, sk.exploits)
		for _, i := range order[:min(sk.exploits, len(all))] {
			known = append(known, all[i])
		}
		var chains []target.Chain
		if sk.chains {
			chains = o.Targets.Chains()
		}
		b := &attacker{o: o, team: team, skill: sk, known: known, chains: chains,
			rng: rand.New(rand.NewPCG(uint64(o.Seed), uint64(team))),
			log: o.Logger.With("bot", t.Name, "skill", sk.name), sent: map[string]bool{}}
		go b.run(ctx)
	}
}

type attacker struct {
	o      Options
	team   int
	skill  skill
	known  []exploit
	chains []target.Chain
	rng    *rand.Rand
	log    *slog.Logger
	sent   map[string]bool
}

func (b *attacker) run(ctx context.Context) {
	tick := b.o.Scenario.Tick
	for sleep(ctx, time.Duration((b.skill.think+0.3*b.rng.Float64())*float64(tick))) {
		if !running(b.o.Game) || b.o.Game.PublicView().Tick < b.skill.from {
			continue
		}
		var flags []string
		for _, f := range b.round(ctx) {
			// A farm remembers what it sent.
			if !b.sent[f] {
				b.sent[f] = true
				flags = append(flags, f)
			}
		}
		if len(flags) == 0 {
			continue
		}
		if err := b.submit(ctx, flags); err != nil {
			b.log.Warn("bot submission failed", "err", err)
		}
	}
}

// round runs every known exploit against every replica once, and every
// known chain against every defending team it can cross.
func (b *attacker) round(ctx context.Context) []string {
	rep, err := b.o.Status(ctx)
	if err != nil {
		return nil
	}
	d, err := gateway.TeamDialer(b.o.Plan, rep, b.team, b.o.Token(b.team))
	if err != nil {
		return nil
	}
	infos := map[string][]string{}
	for _, t := range b.o.Game.Targets(b.team) {
		for _, ai := range t.AttackInfo {
			infos[t.Team+"/"+t.Service] = append(infos[t.Team+"/"+t.Service], ai.Info)
		}
	}
	cfg := b.o.Game.Config()
	seen := map[string]bool{}
	var found []string
	keep := func(flags []string) {
		for _, f := range flags {
			if !seen[f] {
				seen[f] = true
				found = append(found, f)
			}
		}
	}
	// Each defending team's replicas by target, for the chains.
	byOwner := map[int]map[string]target.Replica{}
	for _, r := range cfg.Replicas {
		if r.Owner == b.team {
			continue
		}
		host, _, ok := b.o.Plan.TargetFor(b.team, r.Owner, r.Service)
		svc := b.o.Scenario.Services[r.Service]
		if !ok {
			continue
		}
		t := target.Replica{Host: host.String(), Ports: b.o.Plan.KnownPorts(r.Owner, r.Service), Options: svc.Options,
			AttackInfo: infos[cfg.Teams[r.Owner].Name+"/"+cfg.Services[r.Service].Name]}
		if byOwner[r.Owner] == nil {
			byOwner[r.Owner] = map[string]target.Replica{}
		}
		byOwner[r.Owner][svc.Image] = t
		for _, ex := range b.known {
			if ex.target != svc.Image {
				continue
			}
			rctx, cancel := context.WithTimeout(ctx, b.o.Scenario.Tick/2)
			flags, err := ex.w.Exploit(rctx, d, t)
			cancel()
			if err != nil {
				b.log.Debug("exploit failed", "exploit", ex.w.ExploitName, "err", err)
			}
			keep(flags)
		}
	}
	for _, c := range b.chains {
		for _, reps := range byOwner {
			if !crosses(c, reps) {
				continue
			}
			rctx, cancel := context.WithTimeout(ctx, b.o.Scenario.Tick/2)
			flags, err := c.Run(rctx, d, reps)
			cancel()
			if err != nil {
				b.log.Debug("chain failed", "chain", c.Name, "err", err)
			}
			keep(flags)
		}
	}
	return found
}

// crosses says whether reps holds a replica of every target c crosses.
func crosses(c target.Chain, reps map[string]target.Replica) bool {
	for _, name := range c.Targets {
		if _, ok := reps[name]; !ok {
			return false
		}
	}
	return true
}

// submit sends flags over the TCP protocol with the team's token.
func (b *attacker) submit(ctx context.Context, flags []string) error {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", b.o.SubmitAddr)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	w := bufio.NewWriter(c)
	fmt.Fprintf(w, "%s\n", b.o.Token(b.team))
	for _, f := range flags {
		fmt.Fprintf(w, "%s\n", f)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	sc := bufio.NewScanner(c)
	ok, n := 0, 0
	for n < len(flags) && sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && len(f[0]) == 32 {
			n++
			if f[1] == "OK" {
				ok++
			}
		}
	}
	b.log.Info("bot submitted flags", "flags", len(flags), "accepted", ok)
	return sc.Err()
}
