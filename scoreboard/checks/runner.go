package checks

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cyrange/cyrange/scoreboard"
)

// RunnerOptions configure a Runner.
type RunnerOptions struct {
	// Checkers maps a service id to its checker. Wrap in-process checkers
	// with InProcess so they get the same deadlines as remote ones.
	Checkers map[int]Checker
	Logger   *slog.Logger
	// Now is the game's clock: a plan's Deadline is read against it.
	Now func() time.Time
	// Parallel bounds how many tasks of one tick run at once; 0 means 32.
	Parallel int
	// TaskTimeout is how long a task of method m may take in a tick of
	// the given length; nil (or a result <= 0) means DefaultTaskTimeout.
	// Whatever it says, every task ends before the tick does.
	TaskTimeout func(m Method, tick time.Duration) time.Duration
}

// DefaultTaskTimeout gives putflag, getflag, putnoise, getnoise and exploit
// a third of the tick, so that a putnoise and the getnoise that follows it
// both fit in the tick with room to spare, and havoc, which only probes, a
// fifth.
func DefaultTaskTimeout(m Method, tick time.Duration) time.Duration {
	if m == Havoc {
		return tick / 5
	}
	return tick / 3
}

// Runner turns a game tick into checker tasks and the tasks' results into
// the replicas' statuses for the tick.
//
// Per replica and tick it sends a putflag per flag store (variantId = store,
// taskChainId flag_s{service}_r{tick}_t{owner}_i{store}), a getflag per
// earlier flag still to retrieve (same taskChainId as the putflag that
// planted it), a putnoise then a getnoise per noise variant, and a havoc per
// havoc variant; variant counts come from the checker's GET /service,
// remembered once it answered.
type Runner struct {
	checkers map[int]Checker
	log      *slog.Logger
	now      func() time.Time
	parallel int
	timeout  func(Method, time.Duration) time.Duration

	mu   sync.Mutex
	info map[int]ServiceInfo
}

var _ scoreboard.TickChecker = (*Runner)(nil)

// NewRunner returns a runner with o's checkers.
func NewRunner(o RunnerOptions) *Runner {
	r := &Runner{checkers: make(map[int]Checker, len(o.Checkers)), log: o.Logger, now: o.Now,
		parallel: o.Parallel, timeout: o.TaskTimeout, info: map[int]ServiceInfo{}}
	for id, c := range o.Checkers {
		if c != nil {
			r.checkers[id] = c
		}
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if r.now == nil {
		r.now = time.Now
	}
	if r.parallel <= 0 {
		r.parallel = 32
	}
	return r
}

// Public messages of the outcomes the runner makes up itself.
const (
	msgNotRun     = "not checked: the tick ended first"
	msgCanceled   = "not checked: checks canceled"
	msgChecker    = "checker error"
	msgNoChecker  = "no checker for this service"
	msgNoInfo     = "checker unavailable"
	msgFlagMasked = "[flag]"
)

// CheckTick runs plan's tasks and returns one ReplicaCheck per replica, in
// plan order. It returns by plan.Deadline whatever the checkers do: a task
// still running then counts as OFFLINE, and a task that never got to run
// (the tick ended first, or ctx was canceled) as INTERNAL_ERROR.
func (r *Runner) CheckTick(ctx context.Context, plan scoreboard.TickPlan) []scoreboard.ReplicaCheck {
	// The tick's results must be back before the next tick starts, so the
	// checks stop a little before the deadline.
	left := plan.Deadline.Sub(r.now()) - min(max(plan.Length/10, 10*time.Millisecond), time.Second)
	ctx, cancel := context.WithTimeout(ctx, max(left, 0))
	defer cancel()

	tr := &tickRun{r: r, plan: plan, sem: make(chan struct{}, r.parallel)}
	if plan.Regex != "" {
		// A flag regex that does not compile only loses the regex half
		// of the masking; the replica's own flags are still masked.
		tr.flagRE, _ = regexp.Compile(plan.Regex)
	}
	infos := tr.fetchInfos(ctx)
	out := make([]scoreboard.ReplicaCheck, len(plan.Replicas))
	var wg sync.WaitGroup
	for i := range plan.Replicas {
		rp := &plan.Replicas[i]
		wg.Go(func() { out[i] = tr.replica(ctx, rp, infos[rp.Service]) })
	}
	wg.Wait()
	return out
}

// tickRun is one CheckTick's state.
type tickRun struct {
	r      *Runner
	plan   scoreboard.TickPlan
	sem    chan struct{}
	seq    atomic.Int64
	flagRE *regexp.Regexp
}

// infoFuture is a checker's GET /service, fetched once per service and tick
// unless remembered from an earlier tick.
type infoFuture struct {
	done chan struct{}
	info ServiceInfo
	err  error
}

var errNoChecker = errors.New("checks: no checker for this service")

func (tr *tickRun) fetchInfos(ctx context.Context) map[int]*infoFuture {
	d := min(tr.plan.Length/5, defaultInfoTimeout)
	if d <= 0 {
		d = defaultInfoTimeout
	}
	m := map[int]*infoFuture{}
	for _, rp := range tr.plan.Replicas {
		if m[rp.Service] != nil {
			continue
		}
		f := &infoFuture{done: make(chan struct{})}
		m[rp.Service] = f
		c := tr.r.checkers[rp.Service]
		if c == nil {
			f.err = errNoChecker
			close(f.done)
			continue
		}
		tr.r.mu.Lock()
		info, ok := tr.r.info[rp.Service]
		tr.r.mu.Unlock()
		if ok {
			f.info = info
			close(f.done)
			continue
		}
		service, name := rp.Service, rp.ServiceName
		go func() {
			defer close(f.done)
			ictx, cancel := context.WithTimeout(ctx, d)
			defer cancel()
			f.info, f.err = callInfo(ictx, c)
			if f.err != nil {
				tr.r.log.Warn("checker did not describe its service", "service", name, "err", f.err)
				return
			}
			tr.r.mu.Lock()
			tr.r.info[service] = f.info
			tr.r.mu.Unlock()
		}()
	}
	return m
}

func callInfo(ctx context.Context, c Checker) (info ServiceInfo, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("checks: checker info panicked: %v", p)
		}
	}()
	if info, err = c.Info(ctx); err != nil {
		return info, err
	}
	return info, info.validate()
}

// outcome is one task's result and its place in the replica's task list,
// which decides whose message is shown when several tasks are equally bad.
type outcome struct {
	order int
	res   TaskResult
}

type outcomes struct {
	mu  sync.Mutex
	all []outcome
}

func (o *outcomes) add(order int, res TaskResult) {
	o.mu.Lock()
	o.all = append(o.all, outcome{order, res})
	o.mu.Unlock()
}

func (tr *tickRun) replica(ctx context.Context, rp *scoreboard.ReplicaPlan, fut *infoFuture) scoreboard.ReplicaCheck {
	rc := scoreboard.ReplicaCheck{Tick: tr.plan.Tick, Owner: rp.Owner, Service: rp.Service,
		Planted: make([]scoreboard.Planted, len(rp.Put))}
	for i, pf := range rp.Put {
		rc.Planted[i].ID = pf.ID
	}
	c := tr.r.checkers[rp.Service]
	if c == nil {
		rc.Status, rc.Message = scoreboard.StatusError, msgNoChecker
		return rc
	}
	log := tr.r.log.With("tick", tr.plan.Tick, "owner", rp.OwnerName, "service", rp.ServiceName)
	base := Task{Address: rp.Address, TeamID: rp.Owner, TeamName: rp.OwnerName,
		CurrentRoundID: int64(tr.plan.Tick), RoundLength: tr.plan.Length.Milliseconds(),
		FlagRegex: Str(tr.plan.Regex)}
	var got outcomes
	var wg sync.WaitGroup
	order := 0
	for i, pf := range rp.Put {
		t := base
		t.Method, t.Flag, t.VariantID = PutFlag, Str(pf.Flag), int(pf.ID.Store)
		t.RelatedRoundID = int64(pf.ID.Tick)
		t.TaskChainID = ChainID("flag", rp.Service, int64(pf.ID.Tick), rp.Owner, int(pf.ID.Store))
		n := order
		order++
		wg.Go(func() {
			res := tr.run(ctx, log, c, t)
			got.add(n, res)
			rc.Planted[i].OK = res.Result == OK
			if res.Result == OK && res.AttackInfo != nil {
				rc.Planted[i].AttackInfo = *res.AttackInfo
			}
		})
	}
	for _, gf := range rp.Get {
		t := base
		t.Method, t.Flag, t.VariantID = GetFlag, Str(gf.Flag), int(gf.ID.Store)
		t.RelatedRoundID = int64(gf.ID.Tick)
		t.TaskChainID = ChainID("flag", rp.Service, int64(gf.ID.Tick), rp.Owner, int(gf.ID.Store))
		sum := sha256.Sum256([]byte(gf.Flag))
		t.FlagHash = Str(hex.EncodeToString(sum[:]))
		n := order
		order++
		wg.Go(func() { got.add(n, tr.run(ctx, log, c, t)) })
	}
	first := order
	wg.Go(func() {
		info, ok := tr.await(ctx, fut)
		if !ok {
			got.add(first, TaskResult{Result: InternalError, Message: Str(msgNoInfo)})
			return
		}
		chain := func(kind string, v int) string {
			return ChainID(kind, rp.Service, int64(tr.plan.Tick), rp.Owner, v)
		}
		for v := range info.NoiseVariants {
			n := first + 2*v
			wg.Go(func() {
				t := base
				t.Method, t.VariantID, t.RelatedRoundID = PutNoise, v, int64(tr.plan.Tick)
				t.TaskChainID = chain("noise", v)
				res := tr.run(ctx, log, c, t)
				got.add(n, res)
				if res.Result != OK {
					// Nothing was stored to get back, and the
					// replica already shows why.
					return
				}
				t.Method = GetNoise
				got.add(n+1, tr.run(ctx, log, c, t))
			})
		}
		for v := range info.HavocVariants {
			n := first + 2*info.NoiseVariants + v
			wg.Go(func() {
				t := base
				t.Method, t.VariantID, t.RelatedRoundID = Havoc, v, int64(tr.plan.Tick)
				t.TaskChainID = chain("havoc", v)
				got.add(n, tr.run(ctx, log, c, t))
			})
		}
	})
	wg.Wait()
	worst := worstOutcome(got.all)
	rc.Status = statusOf(worst.Result)
	if worst.Message != nil {
		rc.Message = tr.mask(*worst.Message, rp)
	}
	return rc
}

// await returns the service's description once fetched, or false if the
// checker failed to give one before the tick ended.
func (tr *tickRun) await(ctx context.Context, f *infoFuture) (ServiceInfo, bool) {
	select {
	case <-f.done:
	case <-ctx.Done():
		select {
		case <-f.done:
		default:
			return ServiceInfo{}, false
		}
	}
	return f.info, f.err == nil
}

type reply struct {
	res TaskResult
	err error
}

// run sends one task and waits for its verdict no longer than the task's
// timeout. A checker that ignores its context is left behind, still holding
// its slot of the tick's parallelism until it returns.
func (tr *tickRun) run(ctx context.Context, log *slog.Logger, c Checker, t Task) TaskResult {
	if ctx.Err() != nil {
		return tr.notRun(ctx)
	}
	select {
	case tr.sem <- struct{}{}:
	case <-ctx.Done():
		return tr.notRun(ctx)
	}
	d := DefaultTaskTimeout(t.Method, tr.plan.Length)
	if tr.r.timeout != nil {
		if o := tr.r.timeout(t.Method, tr.plan.Length); o > 0 {
			d = o
		}
	}
	// A tick of no length gives no timeout of its own; the tick's end
	// still bounds the task.
	var tctx context.Context
	var cancel context.CancelFunc
	if d > 0 {
		tctx, cancel = context.WithTimeout(ctx, d)
	} else {
		tctx, cancel = context.WithCancel(ctx)
	}
	defer cancel()
	dl, _ := tctx.Deadline()
	t.Timeout = max(time.Until(dl).Milliseconds(), 1)
	t.TaskID = int64(tr.plan.Tick)<<32 | tr.seq.Add(1)
	ch := make(chan reply, 1)
	go func() {
		defer func() { <-tr.sem }()
		ch <- callRun(tctx, c, t)
	}()
	var rep reply
	select {
	case rep = <-ch:
	case <-tctx.Done():
		select {
		case rep = <-ch:
		default:
			if errors.Is(tctx.Err(), context.Canceled) {
				return TaskResult{Result: InternalError, Message: Str(msgCanceled)}
			}
			log.Info("checker task timed out", "method", t.Method, "chain", t.TaskChainID, "task", t.TaskID)
			return TaskResult{Result: Offline, Message: Str(msgTimeout)}
		}
	}
	res, err := settle(tctx, rep.res, rep.err)
	if err != nil {
		log.Warn("checker failed", "method", t.Method, "chain", t.TaskChainID, "task", t.TaskID, "err", err)
		return TaskResult{Result: InternalError, Message: Str(msgChecker)}
	}
	if res.Result != OK {
		log.Info("checker task not OK", "method", t.Method, "chain", t.TaskChainID, "task", t.TaskID,
			"result", res.Result, "message", deref(res.Message))
	}
	return res
}

func (tr *tickRun) notRun(ctx context.Context) TaskResult {
	if errors.Is(ctx.Err(), context.Canceled) {
		return TaskResult{Result: InternalError, Message: Str(msgCanceled)}
	}
	return TaskResult{Result: InternalError, Message: Str(msgNotRun)}
}

func callRun(ctx context.Context, c Checker, t Task) (rep reply) {
	defer func() {
		if p := recover(); p != nil {
			rep = reply{err: fmt.Errorf("checks: checker panicked on %s %s: %v", t.Method, t.TaskChainID, p)}
		}
	}()
	rep.res, rep.err = c.Run(ctx, t)
	return rep
}

// mask keeps flags out of a message that the teams will read: a checker
// may echo what it failed to find.
func (tr *tickRun) mask(msg string, rp *scoreboard.ReplicaPlan) string {
	for _, fs := range [][]scoreboard.PlannedFlag{rp.Put, rp.Get} {
		for _, f := range fs {
			if f.Flag != "" {
				msg = strings.ReplaceAll(msg, f.Flag, msgFlagMasked)
			}
		}
	}
	if tr.flagRE != nil {
		msg = tr.flagRE.ReplaceAllLiteralString(msg, msgFlagMasked)
	}
	return msg
}

// severity orders results for a replica's status: a checker error only
// shows when nothing the team did wrong was seen.
func severity(r Result) int {
	switch r {
	case Offline:
		return 3
	case Mumble:
		return 2
	case InternalError:
		return 1
	}
	return 0
}

// worstOutcome is the most severe result, the earliest task's among equals;
// OK when there were no tasks.
func worstOutcome(all []outcome) TaskResult {
	slices.SortFunc(all, func(a, b outcome) int { return cmp.Compare(a.order, b.order) })
	worst := TaskResult{Result: OK}
	for i, o := range all {
		if i == 0 || severity(o.res.Result) > severity(worst.Result) {
			worst = o.res
		}
	}
	return worst
}

func statusOf(r Result) scoreboard.Status {
	switch r {
	case OK:
		return scoreboard.StatusOK
	case Mumble:
		return scoreboard.StatusMumble
	case Offline:
		return scoreboard.StatusOffline
	}
	return scoreboard.StatusError
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
