package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	cyberrange "github.com/cyrange/cyrange/range"
)

// Logs follows the container's output file: from its beginning when
// since is zero, else from its current end. Reading ends (io.EOF) once
// the process that ran when Logs was called has ended and its output is
// read, when ctx is done, or after Close.
func (d *Driver) Logs(ctx context.Context, name string, since time.Time) (io.ReadCloser, error) {
	if err := checkName(name); err != nil {
		return nil, fmt.Errorf("local: logs: %w", err)
	}
	r, err := d.readContainer(name)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("local: logs %s: %w", name, cyberrange.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("local: logs %s: %w", name, err)
	}
	f, err := os.Open(filepath.Join(d.containerDir(name), "output.log"))
	if err != nil {
		return nil, fmt.Errorf("local: logs %s: %w", name, err)
	}
	if !since.IsZero() {
		if _, err := f.Seek(0, io.SeekEnd); err != nil {
			f.Close()
			return nil, fmt.Errorf("local: logs %s: %w", name, err)
		}
	}
	return &follower{f: f, id: r.Process, ctx: ctx, poll: d.o.PollInterval / 2, closed: make(chan struct{})}, nil
}

// follower reads a growing file without a goroutine of its own: at the
// end of the file it waits in Read for more, or for the end.
type follower struct {
	f         *os.File
	id        identity
	ctx       context.Context
	poll      time.Duration
	closed    chan struct{}
	closeOnce sync.Once
}

func (l *follower) Read(p []byte) (int, error) {
	for {
		select {
		case <-l.closed:
			return 0, io.EOF
		default:
		}
		n, err := l.f.Read(p)
		if errors.Is(err, os.ErrClosed) {
			return n, io.EOF
		}
		if n > 0 || err != nil && err != io.EOF {
			return n, err
		}
		if !l.id.alive() {
			// Whatever it wrote before it ended is in the file by now.
			n, err := l.f.Read(p)
			if n > 0 {
				return n, nil
			}
			if err == nil {
				err = io.EOF
			}
			return 0, err
		}
		select {
		case <-l.ctx.Done():
			return 0, io.EOF
		case <-l.closed:
			return 0, io.EOF
		case <-time.After(l.poll):
		}
	}
}

func (l *follower) Close() error {
	var err error
	l.closeOnce.Do(func() {
		close(l.closed)
		err = l.f.Close()
	})
	return err
}

// Events reports, every PollInterval, what changed among the exercise's
// containers since the call: "start" for a new process, "die" when one
// ends (with its exit code when this driver or another one in the same
// state directory saw it, else -1), "remove" when a container goes.
func (d *Driver) Events(ctx context.Context, exercise string) (<-chan cyberrange.RangeEvent, error) {
	prev, err := d.snapshot(exercise)
	if err != nil {
		return nil, err
	}
	ch := make(chan cyberrange.RangeEvent, 64)
	go func() {
		defer close(ch)
		tick := time.NewTicker(d.o.PollInterval)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			cur, err := d.snapshot(exercise)
			if err != nil {
				d.logger.Warn("local: events", "err", err)
				continue
			}
			for _, ev := range diff(prev, cur, d.o.Now()) {
				select {
				case ch <- ev:
				case <-ctx.Done():
					return
				}
			}
			prev = cur
		}
	}()
	return ch, nil
}

// seen is what Events remembers of a container between two looks.
type seen struct {
	kind    cyberrange.Kind
	process identity
	running bool
	started time.Time
	exit    *exitRecord
}

func (d *Driver) snapshot(exercise string) (map[string]seen, error) {
	recs, err := d.containerRecords()
	if err != nil {
		return nil, err
	}
	out := map[string]seen{}
	for _, r := range recs {
		if r.Container.Labels[cyberrange.LabelExercise] != exercise {
			continue
		}
		out[r.Container.Name] = seen{kind: r.Container.Kind, process: r.Process, running: r.alive(), started: r.Started, exit: r.exit}
	}
	return out, nil
}

// diff turns two looks into events, in name order.
func diff(prev, cur map[string]seen, now time.Time) []cyberrange.RangeEvent {
	names := make([]string, 0, len(prev)+len(cur))
	for n := range prev {
		names = append(names, n)
	}
	for n := range cur {
		if _, ok := prev[n]; !ok {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	var out []cyberrange.RangeEvent
	die := func(n string, s seen, exit *exitRecord) {
		ev := cyberrange.RangeEvent{Time: now, Container: n, Kind: s.kind, Action: cyberrange.EventDie, ExitCode: -1}
		if exit != nil && exit.Process == s.process {
			ev.Time, ev.ExitCode = exit.At, exit.Code
		}
		out = append(out, ev)
	}
	for _, n := range names {
		p, had := prev[n]
		c, has := cur[n]
		switch {
		case !has:
			if p.running {
				die(n, p, nil)
			}
			out = append(out, cyberrange.RangeEvent{Time: now, Container: n, Kind: p.kind, Action: cyberrange.EventRemove})
		case had && p.running && (!c.running || c.process != p.process):
			die(n, p, c.exit)
			if c.running {
				out = append(out, cyberrange.RangeEvent{Time: c.started, Container: n, Kind: c.kind, Action: cyberrange.EventStart})
			}
		case c.running && (!had || !p.running || c.process != p.process):
			out = append(out, cyberrange.RangeEvent{Time: c.started, Container: n, Kind: c.kind, Action: cyberrange.EventStart})
		}
	}
	return out
}
