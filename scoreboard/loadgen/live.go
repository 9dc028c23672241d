package loadgen

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/cyrange/cyrange/scoreboard"
	"github.com/cyrange/cyrange/scoreboard/live"
)

// The viewer process speaks to Live on its standard output: readyPrefix
// and the count once every viewer has its snapshot, then the result as
// one JSON line.
const readyPrefix = "ready "

// ServeViewers is the viewer process's side of Live: it runs the viewers
// of o, says on w when they are all watching, and writes their result
// there at the end. Open files are limited per process, so the viewers
// live in a process of their own, not the server's.
func ServeViewers(ctx context.Context, w io.Writer, o live.ViewerOptions) error {
	o.Ready = func(c int) { fmt.Fprintf(w, "%s%d\n", readyPrefix, c) }
	res, err := live.Viewers(ctx, o)
	if err != nil {
		return err
	}
	res.PerFrame = nil
	return json.NewEncoder(w).Encode(res)
}

// LiveOptions configure Live.
type LiveOptions struct {
	// Game is the game of a Scenario, with its ticks started
	// (StartTicks), whose live stream the viewers watch.
	Game *scoreboard.Game
	// Viewers is the viewer process, not yet started: one that runs
	// ServeViewers on the game's stream. Live reads its standard output.
	Viewers *exec.Cmd
	// Changes is how many flags a second are captured while the viewers
	// watch; at least one.
	Changes int
	// CPUProfile, if not empty, is the file to write this process's CPU
	// profile to while the viewers watch.
	CPUProfile string
}

// LiveResult is what the viewers saw, and this process's resident memory
// before and while they watched.
type LiveResult struct {
	live.ViewerResult
	RSSIdle, RSSWatched uint64
}

// PerViewerKiB is the resident memory each viewer cost the server, in
// KiB; zero when nothing was measured.
func (r LiveResult) PerViewerKiB() float64 {
	if r.Viewers == 0 || r.RSSWatched <= r.RSSIdle {
		return 0
	}
	return float64(r.RSSWatched-r.RSSIdle) / float64(r.Viewers) / 1024
}

// Live starts the viewer process and, once every viewer watches, makes
// captures in the game until the process ends; it returns the viewers'
// result and the server's memory.
func Live(ctx context.Context, o LiveOptions) (LiveResult, error) {
	res := LiveResult{RSSIdle: rssBytes()}
	stdout, err := o.Viewers.StdoutPipe()
	if err != nil {
		return res, err
	}
	if err := o.Viewers.Start(); err != nil {
		return res, err
	}
	stopChanges, stopProfile := func() {}, func() {}
	defer func() { stopChanges(); stopProfile() }()
	err = readViewers(stdout, &res.ViewerResult, func() error {
		res.RSSWatched = rssBytes()
		if o.CPUProfile != "" {
			stop, err := startCPUProfile(o.CPUProfile)
			if err != nil {
				return err
			}
			stopProfile = stop
		}
		stopChanges = startChanges(ctx, o.Game, o.Changes)
		return nil
	})
	if err != nil {
		o.Viewers.Process.Kill()
		o.Viewers.Wait()
		return res, err
	}
	stopChanges()
	stopChanges = func() {}
	if err := o.Viewers.Wait(); err != nil {
		return res, fmt.Errorf("viewer process: %w", err)
	}
	return res, nil
}

// readViewers reads the viewer process's output from r into res, calling
// ready once every viewer watches.
func readViewers(r io.Reader, res *live.ViewerResult, ready func() error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	called := false
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, readyPrefix) {
			if !called {
				called = true
				if err := ready(); err != nil {
					return err
				}
			}
			continue
		}
		if err := json.Unmarshal([]byte(line), res); err != nil {
			return fmt.Errorf("viewer process: %q: %w", line, err)
		}
	}
	return nil
}

// startChanges captures perSecond flags a second in g, by the attack
// teams in turn, until stop is called.
func startChanges(ctx context.Context, g *scoreboard.Game, perSecond int) (stop func()) {
	flag, _ := Flags(g)
	teams := g.Config().Teams
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(time.Second / time.Duration(max(perSecond, 1)))
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-quit:
				return
			case <-tick.C:
			}
			team := i % len(teams)
			if !teams[team].Role.Attacks() {
				continue
			}
			_, _ = g.Submit(ctx, team, [][]byte{[]byte(flag(team, i))})
		}
	}()
	return func() { close(quit); <-done }
}

// startCPUProfile writes a CPU profile to path until stop is called.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// rssBytes is this process's resident memory, from /proc; zero where
// there is none.
func rssBytes() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	return parseRSS(string(b))
}

func parseRSS(status string) uint64 {
	for line := range strings.SplitSeq(status, "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			f := strings.Fields(line)
			if len(f) >= 2 {
				kb, _ := strconv.ParseUint(f[1], 10, 64)
				return kb * 1024
			}
		}
	}
	return 0
}
