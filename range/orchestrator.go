package cyberrange

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Event actions every driver reports in RangeEvent.Action (it may report
// others, which the orchestrator ignores).
const (
	EventStart  = "start"
	EventDie    = "die"
	EventRemove = "remove"
)

// KindNetwork is the Kind of a Progress about a network.
const KindNetwork Kind = "network"

// Step is one part of bringing a range up or down, which the CLI draws as
// a progress bar. Up runs StepRemove first, when there is something to
// remove, then StepNetworks, then StepTargets (targets and checkers) and
// StepGateways (gateways and attack boxes) together, so that the events
// of those two interleave. Down runs StepRemove; Watch reports StepWatch.
type Step string

// Steps.
const (
	StepRemove   Step = "remove"
	StepNetworks Step = "networks"
	StepTargets  Step = "targets"
	StepGateways Step = "gateways"
	StepWatch    Step = "watch"
)

// Action is what was done to one network or container.
type Action string

// Actions.
const (
	// ActionCreate made what was missing.
	ActionCreate Action = "create"
	// ActionStart started a container that existed but was not running.
	ActionStart Action = "start"
	// ActionAdopt found it as planned and left it alone.
	ActionAdopt Action = "adopt"
	// ActionRecreate replaced one whose spec had changed.
	ActionRecreate Action = "recreate"
	// ActionRemove removed one the plan does not have.
	ActionRemove Action = "remove"
	// ActionRestart started again a container that died (Watch).
	ActionRestart Action = "restart"
)

// Progress is one network or container finished. Events come one at a
// time, in the order the work finished; within one step, Done counts 1 to
// Total.
type Progress struct {
	Step    Step
	Total   int
	Done    int
	Name    string
	Kind    Kind
	Action  Action
	Err     error
	Elapsed time.Duration
}

// MarshalJSON writes the event as the CLI's --json prints it: times in
// milliseconds, the error as its text.
func (p Progress) MarshalJSON() ([]byte, error) {
	type out struct {
		Step      Step    `json:"step"`
		Total     int     `json:"total"`
		Done      int     `json:"done"`
		Name      string  `json:"name"`
		Kind      Kind    `json:"kind"`
		Action    Action  `json:"action"`
		Error     string  `json:"error,omitempty"`
		ElapsedMS float64 `json:"elapsed_ms"`
	}
	o := out{Step: p.Step, Total: p.Total, Done: p.Done, Name: p.Name, Kind: p.Kind, Action: p.Action,
		ElapsedMS: float64(p.Elapsed.Microseconds()) / 1000}
	if p.Err != nil {
		o.Error = p.Err.Error()
	}
	return json.Marshal(o)
}

// OrchestratorOptions configure an Orchestrator. Driver is required.
type OrchestratorOptions struct {
	Driver Driver
	Logger *slog.Logger
	Now    func() time.Time
	// Parallel bounds how many driver calls run at once; 8 when zero.
	Parallel int
	// Progress receives every step's events, one call at a time; nil
	// drops them.
	Progress func(Progress)
	// RestartBackoff is how long Watch waits before restarting a container
	// that died, doubled at each death up to MaxRestartBackoff; 1s and 30s
	// when zero. A container that ran for StableAfter (default 60s) starts
	// over from RestartBackoff.
	RestartBackoff    time.Duration
	MaxRestartBackoff time.Duration
	StableAfter       time.Duration
	// ReadyTimeout bounds Up's wait for a target, checker or gateway it
	// started to serve; DefaultReadyTimeout when zero. A container that
	// exits meanwhile fails at once (ReadyWaiter), whatever it is.
	ReadyTimeout time.Duration
}

// DefaultReadyTimeout is OrchestratorOptions.ReadyTimeout's default.
const DefaultReadyTimeout = 30 * time.Second

// Orchestrator reconciles a driver's actual state to a plan. It keeps no
// state of its own about what exists: every call asks the driver, so a
// new Orchestrator adopts what an earlier one made.
type Orchestrator struct {
	d        Driver
	logger   *slog.Logger
	now      func() time.Time
	parallel int
	backoff  time.Duration
	maxBack  time.Duration
	stable   time.Duration
	ready    time.Duration

	progressMu sync.Mutex
	progress   func(Progress)

	// plan is the last plan Up, Status or Watch was given, which Health
	// and Gateway report on.
	plan atomic.Pointer[Plan]
}

// NewOrchestrator returns an Orchestrator on o.Driver.
func NewOrchestrator(o OrchestratorOptions) *Orchestrator {
	x := &Orchestrator{d: o.Driver, logger: o.Logger, now: o.Now, parallel: o.Parallel, progress: o.Progress,
		backoff: o.RestartBackoff, maxBack: o.MaxRestartBackoff, stable: o.StableAfter, ready: o.ReadyTimeout}
	if x.logger == nil {
		x.logger = slog.New(slog.DiscardHandler)
	}
	if x.now == nil {
		x.now = time.Now
	}
	if x.parallel <= 0 {
		x.parallel = 8
	}
	if x.backoff <= 0 {
		x.backoff = time.Second
	}
	if x.maxBack <= 0 {
		x.maxBack = 30 * time.Second
	}
	x.maxBack = max(x.maxBack, x.backoff)
	if x.stable <= 0 {
		x.stable = time.Minute
	}
	if x.ready <= 0 {
		x.ready = DefaultReadyTimeout
	}
	if o.Driver != nil {
		x.logger = x.logger.With("driver", o.Driver.Name())
	}
	return x
}

func (o *Orchestrator) report(p Progress) {
	if o.progress == nil {
		return
	}
	o.progressMu.Lock()
	defer o.progressMu.Unlock()
	o.progress(p)
}

// Up makes the driver's actual state match the plan: it removes the
// exercise's containers and networks the plan does not have (or has with
// another spec), then creates missing networks, then creates, starts or
// recreates containers, the one on the most networks first.
// Containers already running as planned are adopted untouched, so Up on
// an up-to-date range changes nothing. It goes on past a failure, doing
// everything that does not depend on what failed (a container is only
// held back by its own networks), and returns every failure, joined.
func (o *Orchestrator) Up(ctx context.Context, p *Plan) error {
	return o.up(ctx, p, nil)
}

// undoTimeout bounds UpOrUndo's removals, which run after Up's context
// may have ended (an interrupted up).
const undoTimeout = 2 * time.Minute

// UpOrUndo is Up for a command whose failure must leave nothing behind:
// when Up fails (or its context ends), it removes what this call made —
// the containers it created or recreated and the networks it created —
// and leaves alone what was there before: what it adopted, and what it
// only started again (a stopped container keeps what its replica held,
// planted flags and the defence's fixes; the error names those). The
// error says what was taken down, or, if removing failed too, exactly
// what is left.
func (o *Orchestrator) UpOrUndo(ctx context.Context, p *Plan) error {
	m := &made{}
	err := o.up(ctx, p, m)
	if err == nil {
		return nil
	}
	cons, nets, started := m.lists()
	if len(started) > 0 {
		err = fmt.Errorf("%w (started again and left running, as they were there before: %s)", err, strings.Join(started, ", "))
	}
	if len(cons)+len(nets) == 0 {
		return err
	}
	uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), undoTimeout)
	defer cancel()
	var cs []ContainerStatus
	for _, name := range cons {
		cs = append(cs, ContainerStatus{Name: name, Labels: map[string]string{LabelExercise: p.Exercise}})
	}
	var ns []NetworkStatus
	for _, name := range nets {
		ns = append(ns, NetworkStatus{Name: name, Labels: map[string]string{LabelExercise: p.Exercise}})
	}
	o.logger.Warn("range up failed: taking down what it made", "containers", len(cons), "networks", len(nets))
	uerr := o.run(uctx, o.removals(cs, ns))
	if uerr == nil {
		o.dropVolumesIfEmpty(uctx, p.Exercise)
		return fmt.Errorf("%w (took down the %d containers and %d networks it had made; nothing it made is left)", err, len(cons), len(nets))
	}
	left := o.leftOf(uctx, p.Exercise, cons, nets)
	return fmt.Errorf("%w; taking down what it had made failed too (%v): left %s; remove them with cyrange range down",
		err, uerr, strings.Join(left, ", "))
}

// dropVolumesIfEmpty removes the exercise's volumes when nothing else of
// it is left: an undone Up that had made the whole range made them too.
// When something is left, the range was there before and its volumes are
// its own. A failure leaves volumes that Down removes, so it is logged.
func (o *Orchestrator) dropVolumesIfEmpty(ctx context.Context, exercise string) {
	vr, ok := o.d.(VolumeRemover)
	if !ok {
		return
	}
	if a, err := o.d.List(ctx, exercise); err != nil || len(a.Containers)+len(a.Networks) > 0 {
		return
	}
	if err := vr.RemoveVolumes(ctx, exercise); err != nil {
		o.logger.Warn("range up undone: volumes left for range down", "exercise", exercise, "err", err)
	}
}

// leftOf lists which of the named containers and networks still exist,
// or all of them when the driver cannot tell.
func (o *Orchestrator) leftOf(ctx context.Context, exercise string, cons, nets []string) []string {
	actual, err := o.d.List(ctx, exercise)
	if err != nil {
		return append(slices.Clone(cons), nets...)
	}
	var left []string
	for _, c := range actual.Containers {
		if slices.Contains(cons, c.Name) {
			left = append(left, "container "+c.Name)
		}
	}
	for _, n := range actual.Networks {
		if slices.Contains(nets, n.Name) {
			left = append(left, "network "+n.Name)
		}
	}
	return left
}

// made records what an Up call began to make, so that UpOrUndo can take
// exactly that down, and what it only started again.
type made struct {
	mu         sync.Mutex
	containers []string
	networks   []string
	started    []string
}

// wrap makes w record itself before it does anything: a container whose
// start failed halfway may exist all the same.
func (m *made) wrap(w work) work {
	if m == nil || w.do == nil {
		return w
	}
	var list *[]string
	switch {
	case w.action == ActionStart:
		list = &m.started
	case w.action != ActionCreate && w.action != ActionRecreate:
		return w
	case w.kind == KindNetwork:
		list = &m.networks
	default:
		list = &m.containers
	}
	do := w.do
	w.do = func(ctx context.Context) error {
		m.mu.Lock()
		*list = append(*list, w.name)
		m.mu.Unlock()
		return do(ctx)
	}
	return w
}

func (m *made) lists() (containers, networks, started []string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.containers), slices.Clone(m.networks), slices.Clone(m.started)
}

func (o *Orchestrator) up(ctx context.Context, p *Plan, m *made) error {
	if err := checkPlan(p); err != nil {
		return err
	}
	o.plan.Store(p)
	actual, err := o.d.List(ctx, p.Exercise)
	if err != nil {
		return fmt.Errorf("cyberrange: up %s: list: %w", p.Exercise, err)
	}
	if err := foreign(actual, p.Exercise, p.Instance()); err != nil {
		return fmt.Errorf("cyberrange: up %s: %w", p.Exercise, err)
	}
	actNets := map[string]NetworkStatus{}
	for _, n := range actual.Networks {
		actNets[n.Name] = n
	}
	actCons := map[string]ContainerStatus{}
	for _, c := range actual.Containers {
		actCons[c.Name] = c
	}

	// What goes: leftovers, and what must be remade before it can be
	// made again (a network cannot change its subnet in place).
	recreateNet := map[string]bool{}
	planNets := map[string]bool{}
	for _, n := range p.Networks {
		planNets[n.Name] = true
		if a, ok := actNets[n.Name]; ok && a.Labels[LabelPlanHash] != n.Labels[LabelPlanHash] {
			recreateNet[n.Name] = true
		}
	}
	var goCons []ContainerStatus
	for _, a := range actual.Containers {
		c, inPlan := p.Container(a.Name)
		// A container on a network to be remade goes now, so that the
		// network can; its own item below makes it again.
		if !inPlan || attachedToAny(c, recreateNet) {
			goCons = append(goCons, a)
		}
	}
	var goNets []NetworkStatus
	for _, a := range actual.Networks {
		if !planNets[a.Name] || recreateNet[a.Name] {
			goNets = append(goNets, a)
		}
	}
	if err := o.run(ctx, o.removals(goCons, goNets)); err != nil {
		return fmt.Errorf("cyberrange: up %s: %w", p.Exercise, err)
	}

	var items []work
	var netKeys []string
	for _, n := range p.Networks {
		w := work{name: n.Name, kind: KindNetwork, step: StepNetworks, action: ActionCreate,
			do: func(ctx context.Context) error { return o.d.EnsureNetwork(ctx, n) }}
		if _, ok := actNets[n.Name]; ok {
			if recreateNet[n.Name] {
				w.action = ActionRecreate
			} else {
				w.action, w.do = ActionAdopt, nil
			}
		}
		// Networks are quick and every container waits for some.
		w.rank = 1 << 20
		items = append(items, m.wrap(w))
		netKeys = append(netKeys, w.key())
	}
	for _, c := range p.Containers {
		w := o.containerWork(c, actCons)
		w.step = StepGateways
		if c.Kind == KindTarget || c.Kind == KindChecker {
			w.step = StepTargets
		}
		for _, a := range c.Networks {
			w.after = append(w.after, workKey(true, a.Network))
		}
		// Every network is made before any container starts: Docker
		// 20.10's network controller is known to deadlock when network
		// and endpoint changes interleave, so the engine sees the two
		// apart.
		w.wait = netKeys
		// The container on the most networks is the slowest to make.
		w.rank = len(c.Networks)
		items = append(items, m.wrap(w))
	}
	if err := o.run(ctx, items); err != nil {
		return fmt.Errorf("cyberrange: up %s: %w", p.Exercise, err)
	}
	return nil
}

// removals removes containers, the ones on the most networks first, then
// networks. A network whose containers could not all be removed is not
// tried.
func (o *Orchestrator) removals(cons []ContainerStatus, nets []NetworkStatus) []work {
	var items []work
	on := map[string][]string{} // network → keys of the containers on it
	var unknown []string        // containers whose networks the driver did not say
	var all []string
	for _, c := range cons {
		w := work{name: c.Name, kind: kindOf(c), step: StepRemove, action: ActionRemove, rank: len(c.Networks),
			do: func(ctx context.Context) error { return o.d.Remove(ctx, c.Name) }}
		items = append(items, w)
		all = append(all, w.key())
		if c.Networks == nil {
			unknown = append(unknown, w.key())
		}
		for _, n := range c.Networks {
			on[n] = append(on[n], w.key())
		}
	}
	for _, n := range nets {
		items = append(items, work{name: n.Name, kind: KindNetwork, step: StepRemove, action: ActionRemove,
			after: append(slices.Clone(on[n.Name]), unknown...),
			// As in Up, the engine sees network and endpoint changes
			// apart: networks go once every container has.
			wait: all,
			do:   func(ctx context.Context) error { return o.d.RemoveNetwork(ctx, n.Name) }})
	}
	return items
}

// containerWork decides what Up does to a planned container given what
// exists.
func (o *Orchestrator) containerWork(c Container, actual map[string]ContainerStatus) work {
	start := func(ctx context.Context) error {
		if err := o.d.Start(ctx, c); err != nil {
			return err
		}
		return o.waitReady(ctx, c)
	}
	a, ok := actual[c.Name]
	switch {
	case !ok:
		return work{name: c.Name, kind: c.Kind, action: ActionCreate, do: start}
	case a.Labels[LabelPlanHash] != c.Labels[LabelPlanHash]:
		return work{name: c.Name, kind: c.Kind, action: ActionRecreate, do: func(ctx context.Context) error {
			if err := o.d.Remove(ctx, c.Name); err != nil {
				return err
			}
			return start(ctx)
		}}
	case a.State != StateRunning:
		return work{name: c.Name, kind: c.Kind, action: ActionStart, do: start}
	default:
		return work{name: c.Name, kind: c.Kind, action: ActionAdopt}
	}
}

// waitReady waits, where the driver can tell, until a target, checker
// or gateway it just started listens on its ports: a gateway that cannot
// (another range's holds its port) must fail the up, not leave the
// players talking to the other range's gateway.
func (o *Orchestrator) waitReady(ctx context.Context, c Container) error {
	rw, ok := o.d.(ReadyWaiter)
	if !ok || len(c.Ports) == 0 || c.Kind != KindTarget && c.Kind != KindChecker && c.Kind != KindGateway && c.Kind != KindDefenceGateway {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, o.ready)
	defer cancel()
	if err := rw.WaitReady(ctx, c); err != nil {
		return fmt.Errorf("started, but not serving: %w", err)
	}
	return nil
}

// kindOf is a container's kind, from its label when the driver left Kind
// out.
func kindOf(c ContainerStatus) Kind {
	if c.Kind != "" {
		return c.Kind
	}
	return Kind(c.Labels[LabelKind])
}

func attachedToAny(c Container, nets map[string]bool) bool {
	for _, a := range c.Networks {
		if nets[a.Network] {
			return true
		}
	}
	return false
}

func checkPlan(p *Plan) error {
	if p == nil || p.Exercise == "" {
		return fmt.Errorf("cyberrange: %w: a plan needs an exercise", ErrInvalid)
	}
	return nil
}

// foreign is ErrConflict when what exists of the exercise belongs to
// another instance: another data directory's exercise of the same
// scenario, whose range this one must never adopt, recreate or remove.
// Resources without the label (a range made before it existed) are
// nobody's in particular and pass.
func foreign(actual Actual, exercise, instance string) error {
	if instance == "" {
		return nil
	}
	var other string
	for _, c := range actual.Containers {
		if in := c.Labels[LabelInstance]; in != "" && in != instance {
			other = in
		}
	}
	for _, n := range actual.Networks {
		if in := n.Labels[LabelInstance]; in != "" && in != instance {
			other = in
		}
	}
	if other == "" {
		return nil
	}
	return fmt.Errorf("the range of %q on this engine belongs to another exercise of that scenario (another data "+
		"directory, instance %s): take it down from its own data directory, or with range down --force: %w",
		exercise, other, ErrConflict)
}

// DownOwn is Down for the instance instance of the exercise: it refuses,
// removing nothing, when what exists belongs to another instance.
func (o *Orchestrator) DownOwn(ctx context.Context, exercise, instance string) error {
	actual, err := o.d.List(ctx, exercise)
	if err != nil {
		return fmt.Errorf("cyberrange: down %s: list: %w", exercise, err)
	}
	if err := foreign(actual, exercise, instance); err != nil {
		return fmt.Errorf("cyberrange: down %s: %w", exercise, err)
	}
	return o.Down(ctx, exercise)
}

// Rounds of Down. The engine carries out a request whose client has gone:
// a range up killed a moment before Down began may still have networks
// and containers being made, which appear after Down has looked. Down
// looks again, and removes them, until it finds nothing; the pause lets
// the rest of what the dead process asked for land first.
const (
	downRounds = 3
	downSettle = time.Second
)

// Down removes every container, then every network, that carries the
// exercise's label, and nothing else, whatever instance it belongs to,
// then the exercise's volumes where the driver has them. It looks again
// after each round, as something may have been made meanwhile (see
// downRounds), and fails if anything is left.
func (o *Orchestrator) Down(ctx context.Context, exercise string) error {
	if exercise == "" {
		return fmt.Errorf("cyberrange: down: %w: no exercise", ErrInvalid)
	}
	var lastErr error
	for round := 1; ; round++ {
		actual, err := o.d.List(ctx, exercise)
		if err != nil {
			return fmt.Errorf("cyberrange: down %s: list: %w", exercise, err)
		}
		var cons []ContainerStatus
		for _, c := range actual.Containers {
			if c.Labels[LabelExercise] == exercise { // a driver's List should never return another; never remove it
				cons = append(cons, c)
			}
		}
		var nets []NetworkStatus
		for _, n := range actual.Networks {
			if n.Labels[LabelExercise] == exercise {
				nets = append(nets, n)
			}
		}
		n := len(cons) + len(nets)
		if n == 0 {
			break
		}
		if round > downRounds {
			if lastErr != nil {
				return fmt.Errorf("cyberrange: down %s: %w", exercise, lastErr)
			}
			return fmt.Errorf("cyberrange: down %s: %d containers and networks still there", exercise, n)
		}
		if round > 1 {
			o.logger.Info("range down: more of the range appeared, removing it too", "exercise", exercise, "round", round, "left", n, "err", lastErr)
			t := time.NewTimer(downSettle)
			select {
			case <-ctx.Done():
				t.Stop()
				return fmt.Errorf("cyberrange: down %s: %w", exercise, ctx.Err())
			case <-t.C:
			}
		}
		if lastErr = o.run(ctx, o.removals(cons, nets)); lastErr != nil && ctx.Err() != nil {
			return fmt.Errorf("cyberrange: down %s: %w", exercise, lastErr)
		}
	}
	// Last, as a volume goes only once no container mounts it. Here, not
	// in the driver's removal of the last network: Down is where a range
	// ends, and it must fail if something is left.
	if vr, ok := o.d.(VolumeRemover); ok {
		if err := vr.RemoveVolumes(ctx, exercise); err != nil {
			return fmt.Errorf("cyberrange: down %s: volumes: %w", exercise, err)
		}
	}
	return nil
}

// Report is a plan against what actually runs.
type Report struct {
	Exercise   string            `json:"exercise"`
	Driver     string            `json:"driver"`
	Healthy    bool              `json:"healthy"`
	Running    int               `json:"running"`
	Total      int               `json:"total"`
	Networks   []NetworkReport   `json:"networks"`
	Containers []ContainerReport `json:"containers"`
	// Leftovers are the exercise's containers and networks the plan does
	// not have; Up removes them.
	Leftovers []string `json:"leftovers,omitempty"`
}

// NetworkReport is one planned network.
type NetworkReport struct {
	Name   string `json:"name"`
	Subnet string `json:"subnet"`
	// Present is false when the network is missing.
	Present bool `json:"present"`
	// Changed is true when it exists with another spec.
	Changed bool `json:"changed,omitempty"`
}

// ContainerReport is one planned container.
type ContainerReport struct {
	Name    string `json:"name"`
	Kind    Kind   `json:"kind"`
	Team    string `json:"team,omitempty"`
	Service string `json:"service,omitempty"`
	State   State  `json:"state"`
	// Changed is true when it runs another spec than the plan's.
	Changed  bool      `json:"changed,omitempty"`
	Restarts int       `json:"restarts"`
	Started  time.Time `json:"started,omitzero"`
	ExitCode int       `json:"exit_code,omitempty"`
	// Ports maps a published port's name to its host address.
	Ports map[string]string `json:"ports,omitempty"`
	// Node is the machine it runs on, where the range spans several.
	Node string `json:"node,omitempty"`
}

// HostAddr returns the host address a container's named port is
// published on, and false when it is not published.
func (r Report) HostAddr(container, port string) (string, bool) {
	for _, c := range r.Containers {
		if c.Name == container {
			addr := c.Ports[port]
			return addr, addr != ""
		}
	}
	return "", false
}

// Status compares the plan with what runs. A range is healthy when every
// planned network exists, every planned container runs its planned spec
// and nothing else carries the exercise's label.
func (o *Orchestrator) Status(ctx context.Context, p *Plan) (Report, error) {
	if err := checkPlan(p); err != nil {
		return Report{}, err
	}
	o.plan.Store(p)
	actual, err := o.d.List(ctx, p.Exercise)
	if err != nil {
		return Report{}, fmt.Errorf("cyberrange: status %s: list: %w", p.Exercise, err)
	}
	return buildReport(p, o.d.Name(), actual), nil
}

func buildReport(p *Plan, driver string, actual Actual) Report {
	r := Report{Exercise: p.Exercise, Driver: driver, Total: len(p.Containers), Healthy: true,
		Networks: []NetworkReport{}, Containers: []ContainerReport{}}
	actNets := map[string]NetworkStatus{}
	for _, n := range actual.Networks {
		actNets[n.Name] = n
	}
	actCons := map[string]ContainerStatus{}
	for _, c := range actual.Containers {
		actCons[c.Name] = c
	}
	planned := map[string]bool{}
	for _, n := range p.Networks {
		planned[n.Name] = true
		a, ok := actNets[n.Name]
		nr := NetworkReport{Name: n.Name, Subnet: n.Subnet.String(), Present: ok,
			Changed: ok && a.Labels[LabelPlanHash] != n.Labels[LabelPlanHash]}
		if !nr.Present || nr.Changed {
			r.Healthy = false
		}
		r.Networks = append(r.Networks, nr)
	}
	for _, c := range p.Containers {
		planned[c.Name] = true
		cr := ContainerReport{Name: c.Name, Kind: c.Kind, Team: c.Labels[LabelTeam], Service: c.Labels[LabelService], State: StateMissing}
		if a, ok := actCons[c.Name]; ok {
			cr.State, cr.Restarts, cr.Started, cr.ExitCode, cr.Ports, cr.Node = a.State, a.Restarts, a.Started, a.ExitCode, a.Ports, a.Node
			cr.Changed = a.Labels[LabelPlanHash] != c.Labels[LabelPlanHash]
		}
		if cr.State == StateRunning {
			r.Running++
		}
		if cr.State != StateRunning || cr.Changed {
			r.Healthy = false
		}
		r.Containers = append(r.Containers, cr)
	}
	for _, c := range actual.Containers {
		if !planned[c.Name] {
			r.Leftovers = append(r.Leftovers, c.Name)
		}
	}
	for _, n := range actual.Networks {
		if !planned[n.Name] {
			r.Leftovers = append(r.Leftovers, n.Name)
		}
	}
	slices.Sort(r.Leftovers)
	if len(r.Leftovers) > 0 {
		r.Healthy = false
	}
	return r
}

// Health is the range as the organizer's range endpoint shows it: the
// Report on the last plan the orchestrator was given or, before it has
// seen one, only the name of its driver.
type Health struct {
	Driver string
	// Report is nil until the orchestrator has seen a plan.
	Report *Report
}

// noPlan is Health's JSON before the orchestrator has seen a plan.
type noPlan struct {
	Driver string  `json:"driver"`
	Plan   *Report `json:"plan"`
}

// MarshalJSON writes the Report itself, or {"driver": ..., "plan": null}
// before there is a plan: the two bodies the range endpoint has always
// sent, which the organizer's console draws as they come.
func (h Health) MarshalJSON() ([]byte, error) {
	if h.Report == nil {
		return json.Marshal(noPlan{Driver: h.Driver})
	}
	return json.Marshal(h.Report)
}

// Health reports the status of the last plan Up, Status or Watch was
// given, for the organizer's range endpoint.
func (o *Orchestrator) Health(ctx context.Context) (Health, error) {
	p := o.plan.Load()
	if p == nil {
		return Health{Driver: o.d.Name()}, nil
	}
	r, err := o.Status(ctx, p)
	if err != nil {
		return Health{}, err
	}
	return Health{Driver: r.Driver, Report: &r}, nil
}

// Gateway tells team how it reaches its targets: its gateway's SOCKS5
// address (as published, when the engine chose the port), user name and
// source network. It returns ErrNotFound when the team has no gateway or
// there is no plan yet.
func (o *Orchestrator) Gateway(ctx context.Context, team int) (any, error) {
	p := o.plan.Load()
	if p == nil {
		return nil, fmt.Errorf("cyberrange: gateway of team %d: %w: no plan", team, ErrNotFound)
	}
	gi, ok := p.Gateway(team)
	if !ok {
		return nil, fmt.Errorf("cyberrange: gateway of team %d: %w", team, ErrNotFound)
	}
	if publishedPortZero(gi.Address) {
		actual, err := o.d.List(ctx, p.Exercise)
		if err != nil {
			return nil, fmt.Errorf("cyberrange: gateway of team %d: %w", team, err)
		}
		if addr, ok := buildReport(p, o.d.Name(), actual).HostAddr(gi.Container, PortSocks); ok {
			gi.Address = addr
		}
	}
	return gi, nil
}

func publishedPortZero(addr string) bool {
	return len(addr) >= 2 && addr[len(addr)-2:] == ":0"
}

// restarter is Watch's memory of one container's deaths.
type restarter struct {
	attempts int
	pending  bool
	started  time.Time
}

// Watch follows the driver's events until ctx is done and starts again
// every planned container that dies, after a backoff that doubles with
// each death (StepWatch events report each restart). It also restarts
// what it finds dead when it (re)subscribes, so deaths missed while not
// subscribed are caught. A container that was removed is not recreated:
// that is Up's job, and Down's removals must stay removed.
func (o *Orchestrator) Watch(ctx context.Context, p *Plan) error {
	if err := checkPlan(p); err != nil {
		return err
	}
	o.plan.Store(p)
	var (
		mu       sync.Mutex
		state    = map[string]*restarter{}
		wg       sync.WaitGroup
		restarts int
	)
	defer wg.Wait()
	var schedule func(name string)
	schedule = func(name string) {
		c, ok := p.Container(name)
		if !ok {
			return
		}
		mu.Lock()
		st := state[name]
		if st == nil {
			st = &restarter{}
			state[name] = st
		}
		if st.pending {
			mu.Unlock()
			return
		}
		if !st.started.IsZero() && o.now().Sub(st.started) >= o.stable {
			st.attempts = 0
		}
		wait := o.backoff << min(st.attempts, 20)
		wait = min(wait, o.maxBack)
		st.attempts++
		st.pending = true
		mu.Unlock()
		o.logger.Info("range container died, restarting", "name", name, "in", wait)
		wg.Go(func() {
			t := time.NewTimer(wait)
			defer t.Stop()
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			start := o.now()
			started, err := o.restart(ctx, p, c)
			mu.Lock()
			st.pending = false
			if started {
				st.started = o.now()
			}
			if started || err != nil {
				restarts++
			}
			n := restarts
			mu.Unlock()
			if !started && err == nil {
				return
			}
			if err != nil && ctx.Err() != nil {
				return
			}
			o.report(Progress{Step: StepWatch, Done: n, Name: name, Kind: c.Kind, Action: ActionRestart, Err: err, Elapsed: o.now().Sub(start)})
			if err != nil {
				// Try again, later each time, until it works or the
				// watch ends.
				o.logger.Warn("range restart failed", "name", name, "err", err)
				schedule(name)
			}
		})
	}
	for wait := o.backoff; ; wait = min(2*wait, o.maxBack) {
		events, err := o.d.Events(ctx, p.Exercise)
		if err == nil {
			wait = o.backoff
			o.sweep(ctx, p, schedule)
			o.follow(ctx, events, schedule)
		} else if ctx.Err() == nil {
			o.logger.Warn("range events unavailable", "err", err, "retry_in", wait)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// follow reads events until the channel closes or ctx is done.
func (o *Orchestrator) follow(ctx context.Context, events <-chan RangeEvent, schedule func(string)) {
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-events:
			if !ok {
				return
			}
			o.logger.Debug("range event", "name", ev.Container, "action", ev.Action, "exit_code", ev.ExitCode)
			if ev.Action == EventDie {
				schedule(ev.Container)
			}
		}
	}
}

// sweep schedules a restart of every planned container found dead.
func (o *Orchestrator) sweep(ctx context.Context, p *Plan, schedule func(string)) {
	actual, err := o.d.List(ctx, p.Exercise)
	if err != nil {
		o.logger.Warn("range list failed", "err", err)
		return
	}
	for _, c := range actual.Containers {
		if c.State == StateExited {
			schedule(c.Name)
		}
	}
}

// restart starts c again if it still exists and is not running, and
// reports whether it did.
func (o *Orchestrator) restart(ctx context.Context, p *Plan, c Container) (bool, error) {
	actual, err := o.d.List(ctx, p.Exercise)
	if err != nil {
		return false, fmt.Errorf("cyberrange: restart %s: list: %w", c.Name, err)
	}
	i := slices.IndexFunc(actual.Containers, func(a ContainerStatus) bool { return a.Name == c.Name })
	if i < 0 || actual.Containers[i].State == StateRunning {
		// Removed since (by Down, which must win) or already back.
		return false, nil
	}
	if err := o.d.Start(ctx, c); err != nil {
		return false, fmt.Errorf("cyberrange: restart %s: %w", c.Name, err)
	}
	return true, nil
}
