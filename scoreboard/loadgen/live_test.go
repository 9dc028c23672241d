package loadgen

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cyrange/cyrange/scoreboard/live"
	"go.uber.org/goleak"
)

// The test binary is also Live's viewer process, when these are set.
const (
	viewersURLEnv = "LOADGEN_TEST_VIEWERS_URL"
	viewersNEnv   = "LOADGEN_TEST_VIEWERS"
)

func TestMain(m *testing.M) {
	if url := os.Getenv(viewersURLEnv); url != "" {
		n, _ := strconv.Atoi(os.Getenv(viewersNEnv))
		if err := ServeViewers(context.Background(), os.Stdout, live.ViewerOptions{URL: url, Viewers: n, Duration: time.Second}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

// TestLive runs the viewer process against a game's live stream: every
// viewer watches, the captures Live makes reach them as frames, and the
// server's memory is read before and while they watch.
func TestLive(t *testing.T) {
	ctx := context.Background()
	g := newGame(t, 2)
	if err := StartTicks(ctx, g); err != nil {
		t.Fatal(err)
	}
	hub := live.NewHub(live.Options{Source: g, Interval: 10 * time.Millisecond})
	hctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- hub.Run(hctx) }()
	srv := httptest.NewServer(http.HandlerFunc(hub.ServePublic))
	defer func() { srv.Close(); cancel(); <-done }()

	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), viewersURLEnv+"=ws"+strings.TrimPrefix(srv.URL, "http"), viewersNEnv+"=5")
	cmd.Stderr = os.Stderr
	res, err := Live(ctx, LiveOptions{Game: g, Viewers: cmd, Changes: 20})
	if err != nil {
		t.Fatal(err)
	}
	if res.Viewers != 5 || res.Failed != 0 || res.Frames == 0 || res.PerFrame != nil {
		t.Errorf("viewers %d (failed %d), frames %d, per frame %v", res.Viewers, res.Failed, res.Frames, res.PerFrame)
	}
	if res.RSSIdle == 0 || res.RSSWatched == 0 {
		t.Errorf("memory not read: %d then %d", res.RSSIdle, res.RSSWatched)
	}
}

func TestLiveViewerProcessFails(t *testing.T) {
	g := newGame(t, 1)
	cmd := exec.Command("sh", "-c", "echo 'ready 1'; exit 3")
	if _, err := Live(context.Background(), LiveOptions{Game: g, Viewers: cmd}); err == nil ||
		!strings.HasPrefix(err.Error(), "viewer process: exit status 3") {
		t.Errorf("a failing viewer process: %v", err)
	}
}

func TestReadViewers(t *testing.T) {
	want := live.ViewerResult{Viewers: 3, Frames: 7, P99: 5 * time.Millisecond}
	line, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	oops := errors.New("oops")
	tests := []struct {
		desc      string
		in        string
		readyErr  error
		readies   int
		err       string
		wantFinal bool
	}{
		{desc: "ready then the result", in: "ready 3\n" + string(line) + "\n", readies: 1, wantFinal: true},
		{desc: "ready once only", in: "ready 2\nready 3\n" + string(line) + "\n", readies: 1, wantFinal: true},
		{desc: "never ready", in: string(line) + "\n", wantFinal: true},
		{desc: "not a result", in: "ready 3\npanic: boom\n", readies: 1, err: `viewer process: "panic: boom": `},
		{desc: "ready fails", in: "ready 3\n" + string(line) + "\n", readyErr: oops, readies: 1, err: "oops"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			var got live.ViewerResult
			readies := 0
			err := readViewers(strings.NewReader(tt.in), &got, func() error { readies++; return tt.readyErr })
			if tt.err == "" && err != nil || tt.err != "" && (err == nil || !strings.HasPrefix(err.Error(), tt.err)) {
				t.Errorf("error %v, want %q", err, tt.err)
			}
			if readies != tt.readies || tt.wantFinal && (got.Viewers != want.Viewers || got.Frames != want.Frames || got.P99 != want.P99) {
				t.Errorf("%d readies, result %+v", readies, got)
			}
		})
	}
}

func TestPerViewerKiB(t *testing.T) {
	for _, tt := range []struct {
		r    LiveResult
		want float64
	}{
		{LiveResult{ViewerResult: live.ViewerResult{Viewers: 4}, RSSIdle: 1 << 20, RSSWatched: 1<<20 + 8192}, 2},
		{LiveResult{ViewerResult: live.ViewerResult{Viewers: 0}, RSSIdle: 1, RSSWatched: 1 << 20}, 0},
		{LiveResult{ViewerResult: live.ViewerResult{Viewers: 4}, RSSIdle: 1 << 20, RSSWatched: 1 << 19}, 0},
	} {
		if got := tt.r.PerViewerKiB(); got != tt.want {
			t.Errorf("%+v: %v KiB, want %v", tt.r, got, tt.want)
		}
	}
}

func TestParseRSS(t *testing.T) {
	status := "Name:\tcyrange\nVmPeak:\t  9000 kB\nVmRSS:\t    1234 kB\nThreads:\t8\n"
	if got := parseRSS(status); got != 1234*1024 {
		t.Errorf("%d bytes", got)
	}
	if got := parseRSS("Name:\tx\n"); got != 0 {
		t.Errorf("no VmRSS: %d", got)
	}
}
