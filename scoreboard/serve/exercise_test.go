package serve

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/cyrange/cyrange/scenarios"
	"github.com/cyrange/cyrange/scoreboard"
	"github.com/cyrange/cyrange/scoreboard/datadir"
	"github.com/cyrange/cyrange/scoreboard/exercisedb"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func options(t *testing.T) Options {
	t.Helper()
	sc, err := scenarios.Builtin("demo")
	if err != nil {
		t.Fatal(err)
	}
	return Options{Scenario: sc, DataDir: t.TempDir(), HTTPAddr: "127.0.0.1:0",
		SubmitAddr: "127.0.0.1:0", MetricsAddr: "127.0.0.1:0", AutoStart: true}
}

// start runs x until the returned stop is called, which returns Run's
// error.
func start(t *testing.T, x *Exercise) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- x.Run(ctx) }()
	return func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(30 * time.Second):
			t.Fatal("Run did not return")
			return nil
		}
	}
}

func get(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestExerciseServes boots the whole exercise on port 0 with a fresh data
// directory: every front door answers, server.json says where while it
// runs, and a restart resumes the same exercise.
func TestExerciseServes(t *testing.T) {
	o := options(t)
	x, err := New(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if si, ok := datadir.ReadServerInfo(o.DataDir); !ok || si.HTTP != x.HTTPAddr() || si.Submit != x.SubmitAddr() {
		t.Fatalf("server.json: %+v %v", si, ok)
	}
	stop := start(t, x)
	deadline := time.Now().Add(10 * time.Second)
	for p, _ := x.Game().Phase(); p != scoreboard.PhaseRunning; p, _ = x.Game().Phase() {
		if time.Now().After(deadline) {
			t.Fatal("AutoStart did not start the game")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if code := get(t, "http://"+x.HTTPAddr()+"/healthz"); code != http.StatusOK {
		t.Errorf("healthz: %d", code)
	}
	if code := get(t, "http://"+x.MetricsAddr()+"/metrics"); code != http.StatusOK {
		t.Errorf("metrics: %d", code)
	}
	submitLine(t, x.SubmitAddr(), x.Tokens().TeamToken(0))
	if x.Scenario().Hash() != o.Scenario.Hash() {
		t.Error("another scenario recorded")
	}
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if _, ok := datadir.ReadServerInfo(o.DataDir); ok {
		t.Error("server.json outlived Run")
	}
	tok := x.Tokens().OrganizerToken()
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := New(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if p, _ := again.Game().Phase(); p != scoreboard.PhaseRunning || again.Tokens().OrganizerToken() != tok {
		t.Fatalf("restart: phase %v, same tokens %v", p, again.Tokens().OrganizerToken() == tok)
	}
	if err := start(t, again)(); err != nil {
		t.Fatal(err)
	}
}

// submitLine sends a wrong flag over TCP and waits for its verdict.
func submitLine(t *testing.T, addr, token string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "%s\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n", token)
	sc := bufio.NewScanner(c)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=") {
			return
		}
	}
	t.Fatalf("no verdict: %v", sc.Err())
}

// TestListenersBoundFirst: listeners bound before New are the ones it
// serves on, and an address in use fails Listen before anything exists.
func TestListenersBoundFirst(t *testing.T) {
	o := options(t)
	lns, err := Listen(o)
	if err != nil {
		t.Fatal(err)
	}
	taken := o
	taken.HTTPAddr = lns.http.Addr().String()
	if _, err := Listen(taken); err == nil || !strings.Contains(err.Error(), "web listener") {
		t.Fatalf("address in use: %v", err)
	}
	o.Listeners, o.AutoStart = lns, false
	x, err := New(context.Background(), o)
	if err != nil {
		lns.Close()
		t.Fatal(err)
	}
	defer x.Close()
	if x.HTTPAddr() != lns.http.Addr().String() || x.SubmitAddr() != lns.submit.Addr().String() {
		t.Fatalf("served on %s %s, bound %s %s", x.HTTPAddr(), x.SubmitAddr(), lns.http.Addr(), lns.submit.Addr())
	}
	if !exercisedb.Exists(o.DataDir) {
		t.Fatal("no log")
	}
	if err := start(t, x)(); err != nil {
		t.Fatal(err)
	}
}

// TestNewRefusesAnotherScenario: the directory of one exercise does not
// serve another, and New leaves the log closed for the next one.
func TestNewRefusesAnotherScenario(t *testing.T) {
	o := options(t)
	x, err := New(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	x.lns.Close()
	x.Close()
	other := o
	other.Scenario = o.Scenario.WithAttackTeams(5)
	if _, err := New(context.Background(), other); err == nil {
		t.Fatal("another scenario served")
	}
	x, err = New(context.Background(), o)
	if err != nil {
		t.Fatalf("after a refusal: %v", err)
	}
	x.lns.Close()
	x.Close()
}
