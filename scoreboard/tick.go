package scoreboard

import (
	"context"
	"fmt"
	"time"
)

// Run drives the game's clock until ctx is done: it starts a tick whenever
// the current one is over while the game runs, freezes and ends the game
// at the scenario's times, and snapshots the state now and then. Phase
// changes wake it at once.
//
// It returns an error when the event log has failed for good (it takes no
// more writes until reopened): nothing could be recorded any more, so the
// exercise must stop and be restarted, which drops the failed write.
func (g *Game) Run(ctx context.Context) error {
	defer g.checksWG.Wait()
	for {
		wait, err := g.step(ctx)
		if err != nil {
			g.logger.Error("game step failed", "err", err)
			wait = time.Second
		}
		select {
		case <-ctx.Done():
			return nil
		case <-g.failed:
			return fmt.Errorf("scoreboard: the event log takes no more writes; restart to recover what it acknowledged: %w", g.failErr)
		case <-g.wake:
		case <-g.after(wait):
		}
	}
}

// idleWait is how long Run sleeps when nothing is scheduled; phase
// changes wake it earlier.
const idleWait = time.Minute

// step does whatever is due now and returns how long until the next thing
// is due.
func (g *Game) step(ctx context.Context) (time.Duration, error) {
	now := g.now()
	g.mu.RLock()
	st := g.st
	phase, frozen, tick := st.Phase, st.Frozen, st.Tick
	ends := st.TickStartedAt.Add(st.TickLength)
	running := st.RunningTime(now)
	lastSeq := st.LastSeq
	g.mu.RUnlock()

	if lastSeq >= g.snapSeq+g.snapN {
		if err := g.Snapshot(ctx); err != nil {
			return 0, err
		}
	}
	if phase != PhaseRunning {
		return idleWait, nil
	}
	if g.cfg.Duration > 0 && running >= g.cfg.Duration {
		return 0, g.Act(ctx, ActEnd)
	}
	if g.cfg.FreezeAt > 0 && !frozen && running >= g.cfg.FreezeAt {
		if err := g.Act(ctx, ActFreeze); err != nil {
			return 0, err
		}
	}
	if tick == 0 || !now.Before(ends) {
		if err := g.StartTick(ctx); err != nil {
			return 0, err
		}
		return g.cfg.Tick, nil
	}
	wait := ends.Sub(now)
	for _, at := range []time.Duration{g.cfg.Duration, g.cfg.FreezeAt} {
		if at > running && at-running < wait {
			wait = at - running
		}
	}
	return wait, nil
}

// StartTick ends the current tick and begins the next: it records the
// ending tick's telemetry summaries and the verdicts on the reports whose
// ground truth they complete (closeTick), then TickStarted, and launches the tick's checks, whose
// results are recorded as they finish. Run calls it on time; tests call it
// directly.
func (g *Game) StartTick(ctx context.Context) error {
	g.judgeMu.Lock()
	defer g.judgeMu.Unlock()
	// A tick starting is decided like a phase change: a pause committed
	// while the tick that ends is being settled must keep the next one
	// from starting.
	g.actMu.Lock()
	defer g.actMu.Unlock()
	g.mu.RLock()
	if g.st.Phase != PhaseRunning {
		g.mu.RUnlock()
		return fmt.Errorf("scoreboard: a tick starts only while running: %w", ErrConflict)
	}
	cur := g.st.Tick
	next := cur + 1
	g.mu.RUnlock()
	start := g.now()
	// The tick that ends is settled first, so that the log reads: its
	// telemetry, the verdicts that waited for it, then the next tick.
	if err := g.closeTick(ctx, cur, start, false); err != nil {
		return err
	}
	ev := Event{Time: start, Kind: KindTickStarted, Tick: next, Value: int64(g.cfg.Tick)}
	if _, err := g.append(ctx, []Event{ev}); err != nil {
		return err
	}
	if g.checker == nil {
		return nil
	}
	plan := g.plan(next, start)
	g.checksWG.Add(1)
	go func() {
		defer g.checksWG.Done()
		// The checks belong to the tick, not to the caller: they stop at
		// the tick's end, and a shutdown waits for them.
		cctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), plan.Deadline)
		defer cancel()
		g.recordChecks(context.WithoutCancel(ctx), g.checker.CheckTick(cctx, plan))
	}()
	return nil
}

// WaitChecks waits until every tick's checks launched so far are recorded.
func (g *Game) WaitChecks() { g.checksWG.Wait() }

func (g *Game) plan(tick int32, start time.Time) TickPlan {
	p := TickPlan{Tick: tick, Started: start, Length: g.cfg.Tick, Deadline: start.Add(g.cfg.Tick),
		Regex: g.flags.Regex()}
	g.mu.RLock()
	defer g.mu.RUnlock()
	for _, r := range g.cfg.Replicas {
		rp := ReplicaPlan{Owner: r.Owner, OwnerName: g.cfg.Teams[r.Owner].Name, Service: r.Service,
			ServiceName: g.cfg.Services[r.Service].Name, Address: r.Address}
		for st := range g.cfg.Services[r.Service].Stores {
			id := FlagID{Tick: tick, Owner: int16(r.Owner), Service: int16(r.Service), Store: int16(st)}
			rp.Put = append(rp.Put, PlannedFlag{ID: id, Flag: g.flags.Issue(id)})
		}
		for back := 1; back <= g.cfg.GetflagDepth; back++ {
			t := tick - int32(back)
			if t < 1 {
				break
			}
			for st := range g.cfg.Services[r.Service].Stores {
				id := FlagID{Tick: t, Owner: int16(r.Owner), Service: int16(r.Service), Store: int16(st)}
				if f := g.st.Flags[id]; f != nil && f.Planted {
					rp.Get = append(rp.Get, PlannedFlag{ID: id, Flag: g.flags.Issue(id)})
				}
			}
		}
		p.Replicas = append(p.Replicas, rp)
	}
	return p
}

// recordChecks turns a tick's check outcomes into events. A replica that
// is OK after a tick that was not becomes RECOVERING.
func (g *Game) recordChecks(ctx context.Context, res []ReplicaCheck) {
	now := g.now()
	var evs []Event
	g.mu.RLock()
	for _, rc := range res {
		for _, p := range rc.Planted {
			code := StatusMumble
			info := ""
			if p.OK {
				code, info = StatusOK, p.AttackInfo
			}
			if len(info) > 1024 {
				info = info[:1024]
			}
			evs = append(evs, Event{Time: now, Kind: KindFlagIssued, Code: uint8(code), Tick: p.ID.Tick,
				Owner: p.ID.Owner, Service: p.ID.Service, Store: p.ID.Store, Team: -1})
			evs[len(evs)-1].Text = info
		}
		status := rc.Status
		if r := g.st.Replicas[[2]int16{int16(rc.Owner), int16(rc.Service)}]; status == StatusOK && r != nil &&
			r.Status != StatusUnknown && !r.Status.up() {
			status = StatusRecovering
		}
		msg := rc.Message
		if len(msg) > 512 {
			msg = msg[:512]
		}
		evs = append(evs, Event{Time: now, Kind: KindCheckResult, Code: uint8(status), Tick: rc.Tick,
			Owner: int16(rc.Owner), Service: int16(rc.Service), Team: -1, Text: msg})
	}
	g.mu.RUnlock()
	if len(evs) == 0 {
		return
	}
	if _, err := g.append(ctx, evs); err != nil {
		g.logger.Error("check results not recorded", "err", err)
	}
}

// Snapshot stores the current state so that a restart folds only the
// events after it.
func (g *Game) Snapshot(ctx context.Context) error {
	g.mu.RLock()
	seq := g.st.LastSeq
	data, err := g.st.Encode()
	g.mu.RUnlock()
	if err != nil {
		return err
	}
	if seq == 0 {
		return nil
	}
	if err := g.log.PutSnapshot(ctx, seq, data); err != nil {
		return fmt.Errorf("scoreboard: storing snapshot at %d: %w", seq, err)
	}
	g.mu.Lock()
	g.snapSeq = seq
	g.mu.Unlock()
	return nil
}
