package live

import (
	"bufio"
	"context"
	"fmt"
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
	childURLEnv     = "LIVE_BENCH_CHILD_URL"
	childViewersEnv = "LIVE_BENCH_CHILD_VIEWERS"
)

// runViewerChild is the viewers' process of BenchmarkViewerMemory: it
// connects, says "ready", and holds the connections until stdin closes.
func runViewerChild() int {
	n, _ := strconv.Atoi(os.Getenv(childViewersEnv))
	s := newSwarm(os.Getenv(childURLEnv), nil, 30*time.Second)
	ok, err := s.connect(context.Background(), n, 128)
	fmt.Printf("ready %d\n", ok)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
	s.close()
	return 0
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
// process of their own. LIVE_MEM_VIEWERS sets how many (default 2000; the
// target is stated at 10000). Run it with -benchtime=1x.
func BenchmarkViewerMemory(b *testing.B) {
	n := 2000
	if v := os.Getenv("LIVE_MEM_VIEWERS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n <= 0 {
			b.Fatalf("LIVE_MEM_VIEWERS=%q", v)
		}
	}
	for range b.N {
		b.StopTimer()
		src, url := benchHub(b, Options{})
		_ = src
		before := measureMem(b)
		b.StartTimer()
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), childURLEnv+"="+url, childViewersEnv+"="+strconv.Itoa(n))
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
		line, err := bufio.NewReader(stdout).ReadString('\n')
		if err != nil || strings.TrimSpace(line) != "ready "+strconv.Itoa(n) {
			_ = stdin.Close()
			_ = cmd.Wait()
			b.Fatalf("viewers' process said %q, %v", line, err)
		}
		b.StopTimer()
		time.Sleep(500 * time.Millisecond)
		after := measureMem(b)
		_, _ = stdin.Write([]byte("done\n"))
		_ = stdin.Close()
		if err := cmd.Wait(); err != nil {
			b.Fatal(err)
		}
		per := func(a, z int64) float64 { return float64(z-a) / float64(n) / 1024 }
		b.ReportMetric(per(before.rss, after.rss), "rss-KiB/viewer")
		b.ReportMetric(per(before.heap, after.heap), "heap-KiB/viewer")
		b.ReportMetric(per(before.stacks, after.stacks), "stack-KiB/viewer")
		b.ReportMetric(float64(n), "viewers")
	}
}
