package main

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"strings"
	"time"

	"golang.org/x/net/proxy"

	"github.com/cyrange/cyrange/images/mailserver/exploits"
	"github.com/cyrange/cyrange/scenarios"
)

// demo holds the demo's settings.
type demo struct {
	sc     *scenarios.Scenario
	seed   int64
	bots   bool
	logger *slog.Logger
}

// botSkill is how a bot team plays: which exploits it knows, from which
// tick it starts, and how long it thinks between rounds (a share of the
// tick).
type botSkill struct {
	name     string
	exploits int
	from     int32
	think    float64
}

// skills go from a strong team to a weak one; team i gets skills[i%3].
var skills = [...]botSkill{
	{name: "strong", exploits: 6, from: 1, think: 0.2},
	{name: "medium", exploits: 3, from: 2, think: 0.5},
	{name: "weak", exploits: 1, from: 3, think: 0.8},
}

// runBots plays every attack team: each round it runs the exploits it
// knows through its own SOCKS5 gateway against every replica, and submits
// what it found over the TCP submission protocol, as a farm would.
func (d *demo) runBots(ctx context.Context, x *exercise, rg *exerciseRange) {
	cfg := x.game.Config()
	all := exploits.All()
	rng := rand.New(rand.NewPCG(uint64(d.seed), 7))
	// Each team learns the exploits in its own order.
	k := 0
	for team, t := range cfg.Teams {
		if !t.Role.Attacks() {
			continue
		}
		sk := skills[k%len(skills)]
		k++
		order := rng.Perm(len(all))
		known := make([]exploits.Exploit, 0, sk.exploits)
		for _, i := range order[:min(sk.exploits, len(all))] {
			known = append(known, all[i])
		}
		b := &bot{d: d, x: x, rg: rg, team: team, skill: sk, known: known,
			rng: rand.New(rand.NewPCG(uint64(d.seed), uint64(team))),
			log: d.logger.With("bot", t.Name, "skill", sk.name), sent: map[string]bool{}}
		go b.run(ctx)
	}
}

type bot struct {
	d     *demo
	x     *exercise
	rg    *exerciseRange
	team  int
	skill botSkill
	known []exploits.Exploit
	rng   *rand.Rand
	log   *slog.Logger
	sent  map[string]bool
}

func (b *bot) run(ctx context.Context) {
	tick := b.d.sc.Tick
	for {
		wait := time.Duration((b.skill.think + 0.3*b.rng.Float64()) * float64(tick))
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		if p, _ := b.x.game.Phase(); p.String() != "running" {
			continue
		}
		if b.x.game.PublicView().Tick < b.skill.from {
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

// round runs every known exploit against every replica once.
func (b *bot) round(ctx context.Context) []string {
	gw, ok := b.rg.plan.Gateway(b.team)
	if !ok {
		return nil
	}
	addr := gw.Address
	if rep, err := b.rg.orch.Status(ctx, b.rg.plan); err == nil {
		for _, c := range rep.Containers {
			if c.Name == gw.Container && c.Ports["socks"] != "" {
				addr = c.Ports["socks"]
			}
		}
	}
	dialer, err := proxy.SOCKS5("tcp", addr, &proxy.Auth{User: gw.Short, Password: b.x.tokens.TeamToken(b.team)}, proxy.Direct)
	if err != nil {
		return nil
	}
	cd, ok := dialer.(proxy.ContextDialer)
	if !ok {
		return nil
	}
	infos := map[string][]string{}
	for _, t := range b.x.game.Targets(b.team) {
		for _, ai := range t.AttackInfo {
			infos[t.Team+"/"+t.Service] = append(infos[t.Team+"/"+t.Service], ai.Info)
		}
	}
	cfg := b.x.game.Config()
	seen := map[string]bool{}
	var found []string
	for _, r := range cfg.Replicas {
		if r.Owner == b.team {
			continue
		}
		host, ports, ok := b.rg.plan.TargetFor(b.team, r.Owner, r.Service)
		if !ok {
			continue
		}
		t := exploits.Target{Host: host.String(), AttackInfo: infos[cfg.Teams[r.Owner].Name+"/"+cfg.Services[r.Service].Name],
			Domain: b.d.sc.Services[r.Service].Options.String("domain", "")}
		for _, p := range ports {
			switch p.Name {
			case "smtp":
				t.SMTPPort = p.Number
			case "imap":
				t.IMAPPort = p.Number
			case "http":
				t.HTTPPort = p.Number
			}
		}
		for _, ex := range b.known {
			rctx, cancel := context.WithTimeout(ctx, b.d.sc.Tick/2)
			flags, err := ex.Run(rctx, cd, t)
			cancel()
			if err != nil {
				b.log.Debug("exploit failed", "exploit", ex.Name, "err", err)
			}
			for _, f := range flags {
				if !seen[f] {
					seen[f] = true
					found = append(found, f)
				}
			}
		}
	}
	return found
}

// submit sends flags over the TCP protocol with the team's token.
func (b *bot) submit(ctx context.Context, flags []string) error {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", b.x.SubmitAddr())
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	w := bufio.NewWriter(c)
	fmt.Fprintf(w, "%s\n", b.x.tokens.TeamToken(b.team))
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
