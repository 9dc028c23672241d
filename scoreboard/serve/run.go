package serve

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/cyrange/cyrange/scoreboard"
	"github.com/cyrange/cyrange/scoreboard/datadir"
	"github.com/cyrange/cyrange/scoreboard/web"
)

// snapshotTimeout bounds the last snapshot Run takes once its context is
// done.
const snapshotTimeout = 10 * time.Second

// Run serves until ctx is done or a part fails, then stops everything in
// order and takes a last snapshot so the next start folds nothing.
func (x *Exercise) Run(ctx context.Context) error {
	if x.o.AutoStart {
		if p, _ := x.game.Phase(); p == scoreboard.PhaseSetup {
			if err := x.game.Act(ctx, scoreboard.ActStart); err != nil {
				return err
			}
		}
	}
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	g := &group{errs: make(chan error, 6), stop: stop}
	g.run("game", func() error { return x.game.Run(sctx) })
	g.run("live", func() error { return x.hub.Run(sctx) })
	g.run("web", func() error { return x.web.Serve(sctx, x.lns.http) })
	g.run("submit", func() error { return x.tcp.Serve(sctx, x.lns.submit) })
	if x.lns.metrics != nil {
		g.run("metrics", func() error { return x.web.ServeMetrics(sctx, x.lns.metrics) })
	}
	if x.ingest != nil {
		g.run("ingest", func() error { return x.ingest.Run(sctx) })
	}
	<-sctx.Done()
	x.tcp.Close()
	err := g.wait()
	// A last snapshot with a fresh context: the caller's is done.
	sctx2, cancel := context.WithTimeout(context.WithoutCancel(ctx), snapshotTimeout)
	defer cancel()
	if serr := x.game.Snapshot(sctx2); serr != nil && err == nil {
		err = serr
	}
	datadir.RemoveServerInfo(x.o.DataDir)
	return err
}

// Close releases the log.
func (x *Exercise) Close() error { return x.db.Close() }

// group runs the exercise's parts, and stops them all when one fails.
type group struct {
	wg   sync.WaitGroup
	errs chan error // holds one error per part
	stop context.CancelFunc
}

func (g *group) run(name string, f func() error) {
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		// Those are how a part says it was stopped, not that it failed.
		if err := f(); err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, http.ErrServerClosed) &&
			!errors.Is(err, net.ErrClosed) {
			g.errs <- fmt.Errorf("serve: %s: %w", name, err)
			g.stop()
		}
	}()
}

// wait waits for every part and returns the first failure.
func (g *group) wait() error {
	g.wg.Wait()
	close(g.errs)
	return <-g.errs
}

// tickObserver times every tick's checks for the metrics.
type tickObserver struct {
	r   scoreboard.TickChecker
	m   *web.Metrics
	now func() time.Time
}

func (t tickObserver) CheckTick(ctx context.Context, p scoreboard.TickPlan) []scoreboard.ReplicaCheck {
	start := t.now()
	defer func() { t.m.ObserveTick(t.now().Sub(start)) }()
	return t.r.CheckTick(ctx, p)
}
