package docker

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/client"

	cyberrange "github.com/cyrange/cyrange/range"
	"github.com/cyrange/cyrange/range/internal/dockerapi"
)

// Reconnection backoff of the event stream.
const (
	eventsBackoff    = 100 * time.Millisecond
	eventsMaxBackoff = 5 * time.Second
)

// eventActions are the container actions that become range events; the
// engine sends only these (exec, attach, resize... would be noise).
var eventActions = []string{"create", "start", "restart", "die", "kill", "oom", "stop", "pause", "unpause", "destroy"}

// Events reports what happens to the exercise's containers until ctx is
// done, when the channel closes. The engine's stream is resumed from the
// last event seen when it breaks, so nothing is lost to a reconnection.
// It returns an error wrapping ErrUnavailable when the engine does not
// answer at first.
func (d *Driver) Events(ctx context.Context, exercise string) (<-chan cyberrange.RangeEvent, error) {
	if exercise == "" {
		return nil, fmt.Errorf("docker: events: %w: no exercise", cyberrange.ErrInvalid)
	}
	since := d.now()
	sub, err := d.subscribe(ctx, exercise, since)
	if err != nil {
		return nil, err
	}
	out := make(chan cyberrange.RangeEvent, 64)
	go d.pump(ctx, exercise, since, sub, out)
	return out, nil
}

// subscription is one connection to the engine's event stream.
type subscription struct {
	msgs   <-chan events.Message
	errs   <-chan error
	cancel context.CancelFunc
}

// subscribe opens the stream of the exercise's container events from
// since, bounding the opening (not the stream) by the call timeout.
func (d *Driver) subscribe(ctx context.Context, exercise string, since time.Time) (*subscription, error) {
	sctx, cancel := context.WithCancel(ctx)
	// A ping first: the stream reports a failed connection only once read.
	pctx, pcancel := d.call(sctx)
	_, err := d.e.Ping(pctx, client.PingOptions{})
	pcancel()
	if err != nil {
		cancel()
		return nil, fmt.Errorf("docker: events of %s: %w: %w", exercise, cyberrange.ErrUnavailable, err)
	}
	f := client.Filters{}.
		Add("type", string(events.ContainerEventType)).
		Add("label", cyberrange.LabelExercise+"="+exercise).
		Add("event", eventActions...)
	timer := time.AfterFunc(d.timeout, cancel)
	res := d.e.Events(sctx, client.EventsListOptions{Filters: f, Since: dockerapi.UnixNano(since)})
	if !timer.Stop() {
		cancel()
		return nil, fmt.Errorf("docker: events of %s: %w: no answer within %v", exercise, cyberrange.ErrUnavailable, d.timeout)
	}
	return &subscription{msgs: res.Messages, errs: res.Err, cancel: cancel}, nil
}

// pump turns the engine's messages into range events, in one select over
// the context, the stream's errors and its messages, and reconnects when
// the stream breaks.
func (d *Driver) pump(ctx context.Context, exercise string, since time.Time, sub *subscription, out chan<- cyberrange.RangeEvent) {
	defer close(out)
	defer func() {
		if sub != nil {
			sub.cancel()
		}
	}()
	var dd dedup
	backoff := eventsBackoff
	for {
		select {
		case <-ctx.Done():
			return
		case err := <-sub.errs:
			sub.cancel()
			sub = nil
			if ctx.Err() != nil {
				return
			}
			d.log.Warn("docker event stream broke, reconnecting", "exercise", exercise, "err", err)
			for sub == nil {
				t := time.NewTimer(backoff)
				select {
				case <-ctx.Done():
					t.Stop()
					return
				case <-t.C:
				}
				backoff = min(2*backoff, eventsMaxBackoff)
				// Resume where the last event was: the engine replays
				// from there, and dedup drops what was already sent.
				from := since
				if !dd.last.IsZero() {
					from = dd.last
				}
				s, err := d.subscribe(ctx, exercise, from)
				if err != nil {
					d.log.Warn("docker event stream unavailable", "exercise", exercise, "err", err, "retry_in", backoff)
					continue
				}
				sub = s
			}
		case m := <-sub.msgs:
			backoff = eventsBackoff
			ev, ok := rangeEvent(m, d.now)
			if !ok || !dd.fresh(m, ev.Time) {
				continue
			}
			select {
			case out <- ev:
			case <-ctx.Done():
				return
			}
		}
	}
}

// dedup drops the events a resumed stream sends again: those before the
// last one sent, and those at its very time already sent.
type dedup struct {
	last time.Time
	seen map[string]bool
}

func (d *dedup) fresh(m events.Message, t time.Time) bool {
	key := m.Actor.ID + "/" + string(m.Action)
	switch {
	case t.Before(d.last):
		return false
	case t.Equal(d.last):
		if d.seen[key] {
			return false
		}
	default:
		d.last = t
		d.seen = map[string]bool{}
	}
	d.seen[key] = true
	return true
}

// rangeEvent turns an engine message into a range event; ok is false for
// what the range does not care about.
func rangeEvent(m events.Message, now func() time.Time) (cyberrange.RangeEvent, bool) {
	if m.Type != events.ContainerEventType {
		return cyberrange.RangeEvent{}, false
	}
	// Some actions carry their detail after a colon ("exec_start: sh").
	action, _, _ := strings.Cut(string(m.Action), ":")
	action = strings.TrimSpace(action)
	known := false
	for _, a := range eventActions {
		known = known || a == action
	}
	name := m.Actor.Attributes["name"]
	if !known || name == "" {
		return cyberrange.RangeEvent{}, false
	}
	if action == "destroy" {
		action = cyberrange.EventRemove
	}
	ev := cyberrange.RangeEvent{
		Container: name,
		Kind:      cyberrange.Kind(m.Actor.Attributes[cyberrange.LabelKind]),
		Action:    action,
	}
	switch {
	case m.TimeNano > 0:
		ev.Time = time.Unix(0, m.TimeNano)
	case m.Time > 0:
		ev.Time = time.Unix(m.Time, 0)
	default:
		ev.Time = now()
	}
	if code, err := strconv.Atoi(m.Actor.Attributes["exitCode"]); err == nil {
		ev.ExitCode = code
	}
	return ev, true
}

// Logs follows the container's standard output and error, interleaved as
// written, from since (from its start when since is zero) until ctx is
// done or the reader is closed. The call timeout bounds the opening of
// the stream only.
func (d *Driver) Logs(ctx context.Context, name string, since time.Time) (io.ReadCloser, error) {
	o := client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Follow: true}
	if !since.IsZero() {
		o.Since = dockerapi.UnixNano(since)
	}
	rc, err := dockerapi.OpenLogs(ctx, d.timeout, func(ctx context.Context) (io.ReadCloser, error) {
		return d.e.ContainerLogs(ctx, name, o)
	})
	if err != nil {
		return nil, fail("logs of", name, err)
	}
	return rc, nil
}
