package cyberrange_test

import (
	"context"
	"fmt"
	"maps"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"time"

	cyberrange "github.com/cyrange/cyrange/range"
)

// fakeHost is the state a fake engine keeps: what every fakeDriver on it
// sees, so a new driver instance stands for a restarted process on the
// same host.
type fakeHost struct {
	mu         sync.Mutex
	networks   map[string]cyberrange.NetworkStatus
	containers map[string]*fakeContainer
	subs       []fakeSub
	calls      map[string]int
	// fail makes the call "Method name" fail once per listed error.
	fail map[string][]error
	// delay is how long each mutating call takes.
	delay    time.Duration
	inFlight int
	maxIn    int
	// hideNetworks makes List leave out the containers' networks, as a
	// driver that cannot tell would.
	hideNetworks bool
	clock        time.Time
}

type fakeContainer struct {
	spec     cyberrange.Container
	labels   map[string]string
	state    cyberrange.State
	restarts int
	started  time.Time
	exitCode int
}

type fakeSub struct {
	exercise string
	ch       chan cyberrange.RangeEvent
	ctx      context.Context
}

func newFakeHost() *fakeHost {
	return &fakeHost{networks: map[string]cyberrange.NetworkStatus{}, containers: map[string]*fakeContainer{},
		calls: map[string]int{}, fail: map[string][]error{}, clock: time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)}
}

// fakeDriver is one process's view of a fakeHost. It embeds the interface
// so that a method the orchestrator should not call panics.
type fakeDriver struct {
	cyberrange.Driver
	h *fakeHost
}

func (h *fakeHost) driver() *fakeDriver { return &fakeDriver{h: h} }

func (d *fakeDriver) Name() string { return "fake" }

// enter counts a call, holds it for the host's delay (tracking how many
// run at once) and returns an injected failure, if any.
func (h *fakeHost) enter(ctx context.Context, method, name string) error {
	h.mu.Lock()
	h.calls[method]++
	h.inFlight++
	h.maxIn = max(h.maxIn, h.inFlight)
	key := method + " " + name
	var err error
	if errs := h.fail[key]; len(errs) > 0 {
		err, h.fail[key] = errs[0], errs[1:]
	}
	delay := h.delay
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		h.inFlight--
		h.mu.Unlock()
	}()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return err
}

func (h *fakeHost) count(method string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.calls[method]
}

func (h *fakeHost) resetCalls() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls = map[string]int{}
	h.maxIn = 0
}

func (h *fakeHost) failNext(method, name string, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.fail[method+" "+name] = append(h.fail[method+" "+name], err)
}

func (d *fakeDriver) List(ctx context.Context, exercise string) (cyberrange.Actual, error) {
	if err := d.h.enter(ctx, "List", exercise); err != nil {
		return cyberrange.Actual{}, err
	}
	h := d.h
	h.mu.Lock()
	defer h.mu.Unlock()
	var a cyberrange.Actual
	for _, n := range h.networks {
		if n.Labels[cyberrange.LabelExercise] == exercise {
			n.Labels = maps.Clone(n.Labels)
			a.Networks = append(a.Networks, n)
		}
	}
	for name, c := range h.containers {
		if c.labels[cyberrange.LabelExercise] != exercise {
			continue
		}
		ports := map[string]string{}
		for _, p := range c.spec.Ports {
			if p.Publish != "" {
				// An engine picks port 0's port: say 40000 and up.
				ports[p.Name] = strings.Replace(p.Publish, ":0", fmt.Sprintf(":%d", 40000+len(name)), 1)
				if !strings.HasSuffix(p.Publish, ":0") {
					ports[p.Name] = p.Publish
				}
			}
		}
		st := cyberrange.ContainerStatus{Name: name, Kind: c.spec.Kind, State: c.state,
			Labels: maps.Clone(c.labels), Restarts: c.restarts, Started: c.started, ExitCode: c.exitCode, Ports: ports}
		if !h.hideNetworks {
			st.Networks = []string{}
			for _, n := range c.spec.Networks {
				st.Networks = append(st.Networks, n.Network)
			}
		}
		a.Containers = append(a.Containers, st)
	}
	sort.Slice(a.Networks, func(i, j int) bool { return a.Networks[i].Name < a.Networks[j].Name })
	sort.Slice(a.Containers, func(i, j int) bool { return a.Containers[i].Name < a.Containers[j].Name })
	return a, nil
}

func (d *fakeDriver) EnsureNetwork(ctx context.Context, n cyberrange.Network) error {
	if err := d.h.enter(ctx, "EnsureNetwork", n.Name); err != nil {
		return err
	}
	h := d.h
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.networks[n.Name]; !ok {
		h.networks[n.Name] = cyberrange.NetworkStatus{Name: n.Name, Subnet: n.Subnet, Labels: maps.Clone(n.Labels)}
	}
	return nil
}

func (d *fakeDriver) RemoveNetwork(ctx context.Context, name string) error {
	if err := d.h.enter(ctx, "RemoveNetwork", name); err != nil {
		return err
	}
	h := d.h
	h.mu.Lock()
	defer h.mu.Unlock()
	for cname, c := range h.containers {
		for _, a := range c.spec.Networks {
			if a.Network == name {
				return fmt.Errorf("fake: network %s in use by %s", name, cname)
			}
		}
	}
	delete(h.networks, name)
	return nil
}

func (d *fakeDriver) Start(ctx context.Context, c cyberrange.Container) error {
	if err := d.h.enter(ctx, "Start", c.Name); err != nil {
		return err
	}
	h := d.h
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, a := range c.Networks {
		if _, ok := h.networks[a.Network]; !ok {
			return fmt.Errorf("fake: %s: no network %s", c.Name, a.Network)
		}
	}
	fc, ok := h.containers[c.Name]
	if !ok {
		fc = &fakeContainer{spec: c, labels: maps.Clone(c.Labels)}
		h.containers[c.Name] = fc
	} else if fc.state != cyberrange.StateRunning {
		fc.restarts++
	}
	if fc.state != cyberrange.StateRunning {
		h.clock = h.clock.Add(time.Second)
		fc.state, fc.started = cyberrange.StateRunning, h.clock
		h.emitLocked(fc, cyberrange.EventStart, 0)
	}
	return nil
}

func (d *fakeDriver) Remove(ctx context.Context, name string) error {
	if err := d.h.enter(ctx, "Remove", name); err != nil {
		return err
	}
	h := d.h
	h.mu.Lock()
	defer h.mu.Unlock()
	if fc, ok := h.containers[name]; ok {
		delete(h.containers, name)
		h.emitLocked(fc, cyberrange.EventRemove, 0)
	}
	return nil
}

// Kill makes a container die as a crash would.
func (d *fakeDriver) Kill(ctx context.Context, name string) error {
	h := d.h
	h.mu.Lock()
	defer h.mu.Unlock()
	fc, ok := h.containers[name]
	if !ok {
		return fmt.Errorf("fake: kill %s: %w", name, cyberrange.ErrNotFound)
	}
	fc.state, fc.exitCode = cyberrange.StateExited, 137
	h.emitLocked(fc, cyberrange.EventDie, 137)
	return nil
}

func (d *fakeDriver) Events(ctx context.Context, exercise string) (<-chan cyberrange.RangeEvent, error) {
	if err := d.h.enter(ctx, "Events", exercise); err != nil {
		return nil, err
	}
	h := d.h
	ch := make(chan cyberrange.RangeEvent, 64)
	h.mu.Lock()
	h.subs = append(h.subs, fakeSub{exercise: exercise, ch: ch, ctx: ctx})
	h.mu.Unlock()
	go func() {
		<-ctx.Done()
		h.mu.Lock()
		defer h.mu.Unlock()
		for i, s := range h.subs {
			if s.ch == ch {
				// Still subscribed: closeEvents has not closed it.
				h.subs = append(h.subs[:i], h.subs[i+1:]...)
				close(ch)
				break
			}
		}
	}()
	return ch, nil
}

// closeEvents ends every subscription, as a driver losing its engine
// would.
func (h *fakeHost) closeEvents() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, s := range h.subs {
		close(s.ch)
	}
	h.subs = nil
}

func (h *fakeHost) emitLocked(fc *fakeContainer, action string, code int) {
	ev := cyberrange.RangeEvent{Time: h.clock, Container: fc.spec.Name, Kind: fc.spec.Kind, Action: action, ExitCode: code}
	for _, s := range h.subs {
		if s.exercise != fc.labels[cyberrange.LabelExercise] {
			continue
		}
		select {
		case s.ch <- ev:
		default:
		}
	}
}

// addForeign puts a container and a network of another exercise (or of
// none) on the host.
func (h *fakeHost) addForeign(exercise, name string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	labels := map[string]string{cyberrange.LabelExercise: exercise, cyberrange.LabelKind: string(cyberrange.KindTarget)}
	h.containers[name] = &fakeContainer{spec: cyberrange.Container{Name: name, Kind: cyberrange.KindTarget},
		labels: labels, state: cyberrange.StateRunning}
	h.networks[name+"-net"] = cyberrange.NetworkStatus{Name: name + "-net", Subnet: netip.MustParsePrefix("10.99.0.0/24"), Labels: maps.Clone(labels)}
}

func (h *fakeHost) state(name string) (cyberrange.State, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	c, ok := h.containers[name]
	if !ok {
		return cyberrange.StateMissing, false
	}
	return c.state, true
}

func (h *fakeHost) setState(name string, s cyberrange.State) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.containers[name].state = s
}

func (h *fakeHost) setLabel(name, key, value string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if c, ok := h.containers[name]; ok {
		c.labels[key] = value
		return
	}
	n := h.networks[name]
	n.Labels[key] = value
}

func (h *fakeHost) has(name string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	_, c := h.containers[name]
	_, n := h.networks[name]
	return c || n
}
