package main

import (
	"bufio"
	"bytes"
	"context"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"sync"
	"time"

	"github.com/cyrange/cyrange/images/mailserver/contract"
	cyberrange "github.com/cyrange/cyrange/range"
	"github.com/cyrange/cyrange/scoreboard"
	"github.com/cyrange/cyrange/scoreboard/ingest"
)

// remedyEvery is how many ticks the bot defence takes per remedy: the
// captures thin out over the demo instead of stopping at once.
const remedyEvery = 2

// runDefenders plays every defence team: it reads its targets' action
// logs, reports the sources of suspicious actions, and remedies one
// weakness every couple of ticks in the admin console.
func (d *demo) runDefenders(ctx context.Context, x *exercise, rg *exerciseRange) {
	cfg := x.game.Config()
	for team, t := range cfg.Teams {
		if !t.Role.Defends() {
			continue
		}
		f := &defender{d: d, x: x, rg: rg, team: team, log: d.logger.With("defender", t.Name), lastSeen: map[int]int32{}}
		for _, rp := range cfg.Replicas {
			if rp.Owner != team {
				continue
			}
			for _, c := range rg.plan.Containers {
				if c.Kind == cyberrange.KindTarget && c.Team == team && c.Service == rp.Service {
					go f.follow(ctx, c.Name, rp.Service)
				}
			}
			if isMailTarget(d.sc.Services[rp.Service]) {
				go f.remedy(ctx, rp.Service)
			}
		}
	}
}

type defender struct {
	d    *demo
	x    *exercise
	rg   *exerciseRange
	team int
	log  *slog.Logger
	// lastSeen is the tick of each attacker team's last suspicious
	// action: a report goes out on the first one after a quiet tick, as a
	// second report of the same incident would earn nothing.
	mu       sync.Mutex
	lastSeen map[int]int32
}

// follow reads the target's action log from now on, again after the
// target restarts, until ctx is done.
func (f *defender) follow(ctx context.Context, container string, svc int) {
	since := time.Now()
	for ctx.Err() == nil {
		rc, err := f.rg.driver.Logs(ctx, container, since)
		if err != nil {
			f.log.Debug("defender: the target's log", "err", err)
		} else {
			sc := bufio.NewScanner(rc)
			sc.Buffer(make([]byte, 64<<10), 1<<20)
			for sc.Scan() {
				since = time.Now()
				f.line(ctx, sc.Bytes(), svc)
			}
			rc.Close()
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// suspicious says whether a target's log line is worth a report, and
// which ATT&CK technique it shows: a refused login (brute force), a
// VRFY or EXPN (account discovery), a download whose file name climbs out
// of the message (a traversal of the public-facing webmail).
func suspicious(l ingest.TargetLine, raw []byte) (string, bool) {
	switch {
	case l.Action == "vrfy" || l.Action == "expn":
		return "T1087", true
	case l.Action == "download" && bytes.Contains(raw, []byte("..")):
		return "T1190", true
	case (l.Action == "login" || l.Action == "auth") && l.Level == "WARN":
		return "T1110", true
	}
	return "", false
}

// attackerOf maps a source address to the attack team whose network it
// is in, so that the defence never reports the checkers or the staff.
func (f *defender) attackerOf(src string) (int, bool) {
	a, err := netip.ParseAddr(src)
	if err != nil {
		return 0, false
	}
	place := f.rg.plan.Placement()
	for team, t := range f.x.game.Config().Teams {
		if !t.Role.Attacks() {
			continue
		}
		if p, err := netip.ParsePrefix(place.TeamNetwork(team)); err == nil && p.Contains(a) {
			return team, true
		}
	}
	return 0, false
}

func (f *defender) line(ctx context.Context, raw []byte, svc int) {
	l, ok := ingest.ParseTargetLine(raw)
	if !ok {
		return
	}
	technique, ok := suspicious(l, raw)
	if !ok {
		return
	}
	src := l.Source()
	attacker, ok := f.attackerOf(src)
	if !ok {
		return
	}
	if p, _ := f.x.game.Phase(); p != scoreboard.PhaseRunning {
		return
	}
	tick := f.x.game.PublicView().Tick
	f.mu.Lock()
	last, known := f.lastSeen[attacker]
	f.lastSeen[attacker] = tick
	f.mu.Unlock()
	if known && tick <= last+1 {
		return
	}
	seen := l.Time
	if seen.IsZero() {
		seen = time.Now()
	}
	in := scoreboard.DetectionInput{Attacker: src, Service: f.d.sc.Services[svc].Name, SeenAt: seen,
		Technique: technique, Notes: l.Msg}
	if _, err := f.x.game.ReportDetection(ctx, f.team, in); err != nil {
		f.log.Debug("defender: report not taken", "err", err)
		return
	}
	f.log.Info("defender reported an attack", "source", src, "technique", technique, "what", l.Msg)
}

// remedy applies, every remedyEvery ticks of the running game, the next
// remedy of a weakness the scenario switches on.
func (f *defender) remedy(ctx context.Context, svc int) {
	var todo []string
	for _, w := range contract.Weaknesses() {
		if weaknessOn(f.d.sc.Services[svc], w) {
			todo = append(todo, w)
		}
	}
	// A random order per seed, so that the demo is not the same each time.
	rng := rand.New(rand.NewPCG(uint64(f.d.seed), uint64(f.team)+1000))
	rng.Shuffle(len(todo), func(i, j int) { todo[i], todo[j] = todo[j], todo[i] })
	last := int32(0)
	for len(todo) > 0 {
		select {
		case <-ctx.Done():
			return
		case <-time.After(f.d.sc.Tick / 4):
		}
		if p, _ := f.x.game.Phase(); p != scoreboard.PhaseRunning {
			continue
		}
		tick := f.x.game.PublicView().Tick
		if tick < last+remedyEvery {
			continue
		}
		a, err := replicaConsole(ctx, f.rg, cyberrange.DriverLocal, f.team, svc)
		if err != nil {
			f.log.Warn("defender: the admin console", "err", err)
			continue
		}
		actx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err = applyWeaknessRemedy(actx, a, todo[0])
		cancel()
		a.Close()
		if err != nil {
			f.log.Warn("defender: remedy failed", "weakness", todo[0], "err", err)
			continue
		}
		f.log.Info("defender applied a remedy", "weakness", todo[0], "tick", tick)
		last, todo = tick, todo[1:]
	}
}
