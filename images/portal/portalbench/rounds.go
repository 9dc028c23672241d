package portalbench

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/cyrange/cyrange/images/portal/contract"
	"github.com/cyrange/cyrange/scoreboard"
	"github.com/cyrange/cyrange/scoreboard/checks"
)

// getflagDepth is how many earlier ticks' flags each tick gets back: a
// scenario's default.
const getflagDepth = 3

// The replica the checker checks, as the game names it.
const (
	replicaName = "portal.bench"
	ownerID     = 1
	serviceID   = 1
)

// tally is the checker as the runner sees it: each task's result is
// counted by method on its way back. It sees what the checker answered;
// a task the runner gave up on before the answer (the checker ignored its
// deadline) shows in the replica's status of the tick instead.
type tally struct {
	checks.Checker

	mu     sync.Mutex
	counts map[checks.Method]map[checks.Result]int
}

func (t *tally) Run(ctx context.Context, task checks.Task) (checks.TaskResult, error) {
	res, err := t.Checker.Run(ctx, task)
	r := res.Result
	if err != nil {
		r = checks.InternalError
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.counts[task.Method] == nil {
		t.counts[task.Method] = map[checks.Result]int{}
	}
	t.counts[task.Method][r]++
	return res, err
}

func (t *tally) snapshot() map[checks.Method]map[checks.Result]int {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[checks.Method]map[checks.Result]int, len(t.counts))
	for m, c := range t.counts {
		out[m] = make(map[checks.Result]int, len(c))
		for r, n := range c {
			out[m][r] = n
		}
	}
	return out
}

// rounds plays the game's side of the checks: a tick every Tick, each
// with its TickPlan (a putflag per flag store, a getflag per flag of the
// last getflagDepth ticks that was planted, the noise and havoc
// variants) run by the game's own checks.Runner, so that the bench
// checks the replica exactly as an exercise does.
type rounds struct {
	runner  *checks.Runner
	flags   *scoreboard.Flags
	address string
	tick    time.Duration
	now     func() time.Time
	log     *slog.Logger

	ticks    int
	statuses map[scoreboard.Status]int
}

// run plays ticks until stop is closed, finishing the tick under way.
func (r *rounds) run(ctx context.Context, stop <-chan struct{}) {
	r.statuses = map[scoreboard.Status]int{}
	planted := map[int32][]scoreboard.PlannedFlag{}
	wait := time.NewTimer(0)
	defer wait.Stop()
	for tick := int32(1); ; tick++ {
		select {
		case <-stop:
			return
		case <-ctx.Done():
			return
		case <-wait.C:
		}
		start := r.now()
		rp := scoreboard.ReplicaPlan{Owner: ownerID, OwnerName: "doi-phong-thu-01", Service: serviceID,
			ServiceName: contract.ServiceName, Address: r.address}
		for st := range contract.Stores() {
			id := scoreboard.FlagID{Tick: tick, Owner: ownerID, Service: serviceID, Store: int16(st)}
			rp.Put = append(rp.Put, scoreboard.PlannedFlag{ID: id, Flag: r.flags.Issue(id)})
		}
		for back := int32(1); back <= getflagDepth && tick-back >= 1; back++ {
			rp.Get = append(rp.Get, planted[tick-back]...)
		}
		plan := scoreboard.TickPlan{Tick: tick, Started: start, Length: r.tick, Deadline: start.Add(r.tick),
			Regex: r.flags.Regex(), Replicas: []scoreboard.ReplicaPlan{rp}}
		rc := r.runner.CheckTick(ctx, plan)[0]
		if ctx.Err() != nil {
			// Interrupted: the tick's checks were cut short, not judged.
			return
		}
		r.ticks++
		r.statuses[rc.Status]++
		if rc.Status != scoreboard.StatusOK {
			r.log.Warn("replica not OK", "tick", tick, "status", rc.Status, "message", rc.Message)
		}
		for i, p := range rc.Planted {
			if p.OK {
				planted[tick] = append(planted[tick], rp.Put[i])
			}
		}
		delete(planted, tick-getflagDepth)
		wait.Reset(max(plan.Deadline.Sub(r.now()), 0))
	}
}

// Methods are the checker's methods the game sends every tick, in the
// order the report lists them.
func Methods() []checks.Method {
	return []checks.Method{checks.PutFlag, checks.GetFlag, checks.PutNoise, checks.GetNoise, checks.Havoc}
}

// Results are the outcomes a task may have, in the order the report
// lists them.
func Results() []checks.Result {
	return []checks.Result{checks.OK, checks.Mumble, checks.Offline, checks.InternalError}
}

// statusNames lists the replica's statuses of the ticks, worst last.
func statusNames(m map[scoreboard.Status]int) []scoreboard.Status {
	var out []scoreboard.Status
	for s := range m {
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}
