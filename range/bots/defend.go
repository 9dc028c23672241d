package bots

import (
	"bufio"
	"context"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"sync"
	"time"

	"github.com/cyrange/cyrange/images/target"
	"github.com/cyrange/cyrange/scoreboard"
)

// remedyEvery is how many ticks the bot defence takes per remedy: the
// captures thin out over the demo instead of stopping at once.
const remedyEvery = 2

// Defend plays every defence team until ctx is done: it reads its
// targets' action logs, reports the sources of suspicious actions, and
// remedies one weakness every couple of ticks in the admin console.
func Defend(ctx context.Context, o Options) {
	cfg := o.Game.Config()
	for team, t := range cfg.Teams {
		if !t.Role.Defends() {
			continue
		}
		f := &defender{o: o, team: team, log: o.Logger.With("defender", t.Name), lastSeen: map[int]int32{}}
		for _, rp := range cfg.Replicas {
			if rp.Owner != team {
				continue
			}
			tg, ok := o.Targets.Of(o.Scenario.Services[rp.Service])
			if !ok {
				continue
			}
			if c, ok := o.Plan.Target(team, rp.Service); ok {
				go f.follow(ctx, c.Name, rp.Service, tg)
			}
			go f.remedies(ctx, rp.Service, tg)
		}
	}
}

type defender struct {
	o    Options
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
func (f *defender) follow(ctx context.Context, container string, svc int, tg target.Target) {
	since := time.Now()
	for ctx.Err() == nil {
		rc, err := f.o.Logs.Logs(ctx, container, since)
		if err != nil {
			f.log.Debug("defender: the target's log", "err", err)
		} else {
			sc := bufio.NewScanner(rc)
			sc.Buffer(make([]byte, 64<<10), 1<<20)
			for sc.Scan() {
				since = time.Now()
				if l, ok := tg.ReadLine(sc.Bytes()); ok {
					f.line(ctx, l, svc)
				}
			}
			rc.Close()
		}
		sleep(ctx, time.Second)
	}
}

// attackerOf maps a source address to the attack team whose network it
// is in, so that the defence never reports the checkers or the staff.
func (f *defender) attackerOf(src string) (int, bool) {
	a, err := netip.ParseAddr(src)
	if err != nil {
		return 0, false
	}
	place := f.o.Plan.Placement()
	for team, t := range f.o.Game.Config().Teams {
		if !t.Role.Attacks() {
			continue
		}
		if p, err := netip.ParsePrefix(place.TeamNetwork(team)); err == nil && p.Contains(a) {
			return team, true
		}
	}
	return 0, false
}

// line reports a suspicious action of an attack team, once per incident.
func (f *defender) line(ctx context.Context, l target.Line, svc int) {
	if l.Technique == "" {
		return
	}
	src := l.Source()
	attacker, ok := f.attackerOf(src)
	if !ok || !running(f.o.Game) {
		return
	}
	tick := f.o.Game.PublicView().Tick
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
	in := scoreboard.DetectionInput{Attacker: src, Service: f.o.Scenario.Services[svc].Name, SeenAt: seen,
		Technique: l.Technique, Notes: l.Msg}
	if _, err := f.o.Game.ReportDetection(ctx, f.team, in); err != nil {
		f.log.Debug("defender: report not taken", "err", err)
		return
	}
	f.log.Info("defender reported an attack", "source", src, "technique", l.Technique, "what", l.Msg)
}

// remedies applies, every remedyEvery ticks of the running game, the
// next remedy of a weakness the scenario switches on.
func (f *defender) remedies(ctx context.Context, svc int, tg target.Target) {
	var todo []string
	for _, w := range tg.Weaknesses() {
		if tg.WeaknessOn(f.o.Scenario.Services[svc].Options, w.Name) {
			todo = append(todo, w.Name)
		}
	}
	// A random order per seed, so that the demo is not the same each time.
	rng := rand.New(rand.NewPCG(uint64(f.o.Seed), uint64(f.team)+1000))
	rng.Shuffle(len(todo), func(i, j int) { todo[i], todo[j] = todo[j], todo[i] })
	last := int32(0)
	for len(todo) > 0 && sleep(ctx, f.o.Scenario.Tick/4) {
		if !running(f.o.Game) {
			continue
		}
		tick := f.o.Game.PublicView().Tick
		if tick < last+remedyEvery {
			continue
		}
		if err := f.o.Remedy(ctx, f.team, svc, todo[0]); err != nil {
			f.log.Warn("defender: remedy failed", "weakness", todo[0], "err", err)
			continue
		}
		f.log.Info("defender applied a remedy", "weakness", todo[0], "tick", tick)
		last, todo = tick, todo[1:]
	}
}
