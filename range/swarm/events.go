package swarm

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	cyberrange "github.com/cyrange/cyrange/range"
	"github.com/cyrange/cyrange/range/internal/dockerapi"
)

// taskView is what Events remembers of a task between two looks.
type taskView struct {
	service string
	kind    cyberrange.Kind
	state   swarm.TaskState
	exit    int
}

// snapshot is one look at the exercise: its tasks by ID, and its
// services' kinds by name (a service between two tasks has none).
type snapshot struct {
	tasks    map[string]taskView
	services map[string]cyberrange.Kind
}

// look returns the exercise's services and tasks now.
func (d *Driver) look(ctx context.Context, exercise string) (snapshot, error) {
	cctx, cancel := d.call(ctx)
	svcs, err := d.e.ServiceList(cctx, client.ServiceListOptions{Filters: exerciseFilter(exercise)})
	cancel()
	if err != nil {
		return snapshot{}, fail("list services of", exercise, err)
	}
	var mine []swarm.Service
	for _, s := range svcs.Items {
		if s.Spec.Labels[cyberrange.LabelExercise] == exercise {
			mine = append(mine, s)
		}
	}
	tasks, err := d.tasksOf(ctx, mine)
	if err != nil {
		return snapshot{}, err
	}
	out := snapshot{tasks: map[string]taskView{}, services: map[string]cyberrange.Kind{}}
	for _, s := range mine {
		kind := cyberrange.Kind(s.Spec.Labels[cyberrange.LabelKind])
		out.services[s.Spec.Name] = kind
		for _, t := range tasks[s.ID] {
			v := taskView{service: s.Spec.Name, kind: kind, state: t.Status.State}
			if cs := t.Status.ContainerStatus; cs != nil {
				v.exit = cs.ExitCode
			}
			out.tasks[t.ID] = v
		}
	}
	return out, nil
}

// Events reports what happens to the exercise's services' tasks until
// ctx is done, when the channel closes. Swarm's event stream has no task
// events (a service's update, not its task dying; container events come
// only from the node that runs the container), so the driver looks at
// the tasks every Options.Poll and reports the changes: a task that
// reaches running is "start", one that fails or completes "die" with its
// exit code, one shut down "stop", a service gone "remove". It returns
// an error wrapping ErrUnavailable when the manager does not answer at
// first; a later failure to look is logged and retried.
func (d *Driver) Events(ctx context.Context, exercise string) (<-chan cyberrange.RangeEvent, error) {
	if exercise == "" {
		return nil, fmt.Errorf("swarm: events: %w: no exercise", cyberrange.ErrInvalid)
	}
	seen, err := d.look(ctx, exercise)
	if err != nil {
		return nil, fmt.Errorf("swarm: events of %s: %w: %w", exercise, cyberrange.ErrUnavailable, err)
	}
	out := make(chan cyberrange.RangeEvent, 64)
	go func() {
		defer close(out)
		t := time.NewTicker(d.poll)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			now, err := d.look(ctx, exercise)
			if err != nil {
				if ctx.Err() == nil {
					d.log.Warn("swarm tasks unavailable", "exercise", exercise, "err", err)
				}
				continue
			}
			for _, ev := range changes(seen, now, d.now()) {
				select {
				case out <- ev:
				case <-ctx.Done():
					return
				}
			}
			seen = now
		}
	}()
	return out, nil
}

// changes are the events between two looks, at time at, in container
// then action order so that they come the same way every time.
func changes(before, after snapshot, at time.Time) []cyberrange.RangeEvent {
	var out []cyberrange.RangeEvent
	for id, t := range after.tasks {
		was, known := before.tasks[id]
		ev := cyberrange.RangeEvent{Time: at, Container: t.service, Kind: t.kind}
		switch taskState(t.state) {
		case cyberrange.StateRunning:
			if known && was.state == swarm.TaskStateRunning {
				continue
			}
			ev.Action = cyberrange.EventStart
		case cyberrange.StateExited:
			if known && taskState(was.state) == cyberrange.StateExited {
				continue
			}
			switch t.state {
			case swarm.TaskStateFailed, swarm.TaskStateComplete, swarm.TaskStateRejected:
				ev.Action = cyberrange.EventDie
				ev.ExitCode = t.exit
			default:
				ev.Action = "stop"
			}
		default:
			continue
		}
		out = append(out, ev)
	}
	for name, kind := range before.services {
		if _, ok := after.services[name]; !ok {
			out = append(out, cyberrange.RangeEvent{Time: at, Container: name, Kind: kind, Action: cyberrange.EventRemove})
		}
	}
	slices.SortFunc(out, func(a, b cyberrange.RangeEvent) int {
		if c := strings.Compare(a.Container, b.Container); c != 0 {
			return c
		}
		return strings.Compare(a.Action, b.Action)
	})
	return out
}

// Logs follows the service's standard output and error (every task's,
// from every node, as `docker service logs` shows them) from since, or
// from the start when since is zero, until ctx is done or the reader is
// closed. The call timeout bounds the opening of the stream only.
func (d *Driver) Logs(ctx context.Context, name string, since time.Time) (io.ReadCloser, error) {
	o := client.ServiceLogsOptions{ShowStdout: true, ShowStderr: true, Follow: true}
	if !since.IsZero() {
		o.Since = dockerapi.UnixNano(since)
	}
	rc, err := dockerapi.OpenLogs(ctx, d.timeout, func(ctx context.Context) (io.ReadCloser, error) {
		return d.e.ServiceLogs(ctx, name, o)
	})
	if err != nil {
		return nil, fail("logs of", name, err)
	}
	return rc, nil
}

// WaitReady waits until the service's current task runs. It cannot tell,
// as the Docker driver's does, that something listens on the ports: the
// task's container may be on another node, whose engine a manager
// cannot exec in. A task that fails or is rejected meanwhile (a missing
// image on its node, a port taken) ends the wait at once with Swarm's
// reason.
func (d *Driver) WaitReady(ctx context.Context, c cyberrange.Container) error {
	for {
		got, found, err := d.inspectService(ctx, c.Name)
		if err != nil {
			return err
		}
		if !found {
			return fmt.Errorf("swarm: %s: removed while starting: %w", c.Name, cyberrange.ErrNotFound)
		}
		tasks, err := d.tasksOf(ctx, []swarm.Service{got})
		if err != nil {
			return err
		}
		if ts := tasks[got.ID]; len(ts) > 0 {
			t := ts[0]
			switch t.Status.State {
			case swarm.TaskStateRunning:
				return nil
			case swarm.TaskStateFailed, swarm.TaskStateRejected:
				why := t.Status.Err
				if why == "" {
					why = t.Status.Message
				}
				code := 0
				if t.Status.ContainerStatus != nil {
					code = t.Status.ContainerStatus.ExitCode
				}
				return fmt.Errorf("swarm: %s: its task %s (exit code %d) before it ran: %s", c.Name, t.Status.State, code, why)
			}
		}
		if err := sleep(ctx, d.poll); err != nil {
			return fmt.Errorf("swarm: %s: waiting for its task to run: %w", c.Name, err)
		}
	}
}
