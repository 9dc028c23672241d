package live

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cyrange/cyrange/scoreboard"
)

// benchHub runs a hub over a fake source on a loopback server until the
// benchmark ends.
func benchHub(b *testing.B, o Options) (*fakeSource, string) {
	b.Helper()
	src := newFakeSource()
	o.Source = src
	// Every viewer comes from this machine's one address.
	o.MaxViewersPerSource = 1 << 20
	h := NewHub(o)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	srv := httptest.NewServer(routes(h))
	b.Cleanup(func() {
		cancel()
		<-done
		srv.Close()
	})
	return src, "ws" + strings.TrimPrefix(srv.URL, "http") + "/api/v1/live"
}

// BenchmarkFanOut1000 sends one change at a time to 1000 viewers over
// loopback and waits until every viewer has its frame: frames/s is the
// rate of such full round trips, and the latencies run from the change to
// each arrival.
func BenchmarkFanOut1000(b *testing.B) {
	const n = 1000
	src, url := benchHub(b, Options{Interval: time.Microsecond, QueueLen: 64})
	s := newSwarm(url, nil, 10*time.Second)
	var got, target atomic.Int64
	reached := make(chan struct{}, 1)
	s.onFrame = func(uint64, time.Duration) {
		if got.Add(1) == target.Load() {
			reached <- struct{}{}
		}
	}
	if ok, err := s.connect(context.Background(), n, 64); ok != n {
		s.close()
		b.Fatalf("%d of %d viewers connected: %v", ok, n, err)
	}
	s.from.Store(time.Now().UnixNano())
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		target.Store(int64(i+1) * n)
		src.commit(scoreboard.Event{Kind: scoreboard.KindFlagCaptured}, points(i%3, 1))
		select {
		case <-reached:
		case <-time.After(10 * time.Second):
			b.Fatalf("frame %d reached %d arrivals of %d", i, got.Load(), target.Load())
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	s.close()
	var res ViewerResult
	summarise(&res, s.clients, time.Now().UnixNano())
	if res.Dropped != 0 || res.Gaps != 0 || res.FullyReached != b.N {
		b.Fatalf("dropped %d, gaps %d, %d of %d frames fully reached", res.Dropped, res.Gaps, res.FullyReached, b.N)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "frames/s")
	b.ReportMetric(float64(res.P50.Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(res.P99.Microseconds())/1000, "p99-ms")
}

const (
	childURLEnv      = "LIVE_BENCH_CHILD_URL"
	childViewersEnv  = "LIVE_BENCH_CHILD_VIEWERS"
	childDurationEnv = "LIVE_BENCH_CHILD_DURATION"
)

// runViewerChild is the viewers' process of the benchmarks below. With a
// duration it runs Viewers and prints the result as JSON; without, it
// connects, says "ready", and holds the connections until stdin closes.
func runViewerChild() int {
	n, _ := strconv.Atoi(os.Getenv(childViewersEnv))
	url := os.Getenv(childURLEnv)
	if d, err := time.ParseDuration(os.Getenv(childDurationEnv)); err == nil {
		res, err := Viewers(context.Background(), ViewerOptions{URL: url, Viewers: n, Duration: d, Concurrency: 128,
			Ready: func(ok int) { fmt.Printf("ready %d\n", ok) }})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		res.PerFrame = nil
		b, _ := json.Marshal(res)
		fmt.Printf("%s\n", b)
		return 0
	}
	s := newSwarm(url, nil, 30*time.Second)
	ok, err := s.connect(context.Background(), n, 128)
	fmt.Printf("ready %d\n", ok)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
	s.close()
	return 0
}

// child is the viewers' process.
type child struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Reader
}

func startChild(b *testing.B, url string, n int, d time.Duration) *child {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childURLEnv+"="+url, childViewersEnv+"="+strconv.Itoa(n))
	if d > 0 {
		cmd.Env = append(cmd.Env, childDurationEnv+"="+d.String())
	}
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	c := &child{cmd: cmd, stdin: stdin, out: bufio.NewReader(stdout)}
	line, err := c.out.ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "ready "+strconv.Itoa(n) {
		c.end()
		b.Fatalf("viewers' process said %q, %v", line, err)
	}
	return c
}

func (c *child) end() error {
	_, _ = c.stdin.Write([]byte("done\n"))
	_ = c.stdin.Close()
	return c.cmd.Wait()
}

// benchViewers is LIVE_VIEWERS, by default 2000.
func benchViewers(b *testing.B) int {
	b.Helper()
	v := os.Getenv("LIVE_VIEWERS")
	if v == "" {
		return 2000
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		b.Fatalf("LIVE_VIEWERS=%q", v)
	}
	return n
}

// rss returns the process's resident set in bytes.
func rss(b *testing.B) int64 {
	b.Helper()
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Skipf("no /proc: %v", err)
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			return kb << 10
		}
	}
	b.Fatal("no VmRSS")
	return 0
}

type memFigures struct{ rss, heap, stacks int64 }

func measureMem(b *testing.B) memFigures {
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return memFigures{rss: rss(b), heap: int64(ms.HeapInuse), stacks: int64(ms.StackInuse)}
}

// BenchmarkViewerMemory measures what a connected public viewer costs the
// server: RSS, heap and goroutine stacks per viewer, with the viewers in a
// process of their own. LIVE_VIEWERS sets how many (default 2000; the
// target is stated at 10000). Run it with -benchtime=1x.
func BenchmarkViewerMemory(b *testing.B) {
	n := benchViewers(b)
	for range b.N {
		b.StopTimer()
		_, url := benchHub(b, Options{})
		before := measureMem(b)
		b.StartTimer()
		c := startChild(b, url, n, 0)
		b.StopTimer()
		time.Sleep(500 * time.Millisecond)
		after := measureMem(b)
		if err := c.end(); err != nil {
			b.Fatal(err)
		}
		per := func(a, z int64) float64 { return float64(z-a) / float64(n) / 1024 }
		b.ReportMetric(per(before.rss, after.rss), "rss-KiB/viewer")
		b.ReportMetric(per(before.heap, after.heap), "heap-KiB/viewer")
		b.ReportMetric(per(before.stacks, after.stacks), "stack-KiB/viewer")
		b.ReportMetric(float64(n), "viewers")
	}
}

// BenchmarkViewersLatency measures the live-board target: viewers in a
// process of their own (LIVE_VIEWERS, default 2000; the target is stated
// at 10000), a hub with the default 100ms coalescing, and one change every
// 200ms for 5s. Latency runs from the change's application to a frame's
// arrival. Run it with -benchtime=1x.
func BenchmarkViewersLatency(b *testing.B) {
	n := benchViewers(b)
	for range b.N {
		src, url := benchHub(b, Options{})
		c := startChild(b, url, n, 5*time.Second)
		lines := make(chan string, 1)
		go func() {
			line, _ := c.out.ReadString('\n')
			lines <- line
		}()
		tk := time.NewTicker(200 * time.Millisecond)
		var line string
		for i := 0; line == ""; i++ {
			select {
			case <-tk.C:
				src.commit(scoreboard.Event{Kind: scoreboard.KindFlagCaptured}, points(i%3, 1), capture("alpha", "gamma", 1))
			case line = <-lines:
			}
		}
		tk.Stop()
		if err := c.end(); err != nil {
			b.Fatal(err)
		}
		var res ViewerResult
		if err := json.Unmarshal([]byte(line), &res); err != nil {
			b.Fatalf("viewers' process said %q: %v", line, err)
		}
		if res.Frames == 0 {
			b.Fatalf("no frame measured: %+v", res)
		}
		ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
		b.ReportMetric(ms(res.P50), "p50-ms")
		b.ReportMetric(ms(res.P99), "p99-ms")
		b.ReportMetric(ms(res.Max), "max-ms")
		b.ReportMetric(float64(res.MinReach)/float64(res.Viewers), "min-reach")
		b.ReportMetric(float64(res.Dropped), "dropped")
		b.ReportMetric(float64(res.Frames), "frames")
		b.ReportMetric(float64(res.Viewers), "viewers")
		b.ReportMetric(ms(res.ConnectTime), "connect-ms")
	}
}
