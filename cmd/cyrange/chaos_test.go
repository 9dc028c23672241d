package main

// The reliability suite (task chaos, and CI with the rest of the tests):
// every TestChaos case injects a fault into the real binary and its real
// range (SIGKILL of cyrange during range up and during a tick, docker kill
// of a target and of a gateway mid-tick), or holds a flood against them,
// or aims the range's checker at a listener of an attacker's, and asserts
// an invariant — nothing acknowledged lost, nothing started twice or left
// behind, a real team still served, nothing secret handed out — never a
// timing: deadlines are hang guards only. Each case logs one figure line
// starting with "chaos:"; with CYRANGE_CHAOS_FIGURES naming a file, the
// lines are appended to it too, which is how task chaos and CI print them.
//
// The cases: chaos_range_test.go (SIGKILL during range up, docker kill),
// chaos_tick_test.go (SIGKILL during a tick), chaos_flood_test.go (the
// floods) and chaos_collector_test.go (the checker's requests). Cases of
// the hardening still on other branches slot in as subtests of
// TestChaosFloods (web sessions, live viewers) and as their own tests
// (the checker's collector), gated by the constants below until it lands.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	cyberrange "github.com/cyrange/cyrange/range"
	"github.com/cyrange/cyrange/scoreboard/datadir"
)

// figure logs one of the suite's figures, a line starting "chaos:".
func figure(t *testing.T, format string, args ...any) {
	t.Helper()
	line := "chaos: " + fmt.Sprintf(format, args...)
	t.Log(line)
	if path := os.Getenv("CYRANGE_CHAOS_FIGURES"); path != "" {
		if f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
			fmt.Fprintln(f, line)
			f.Close()
		}
	}
}

// kill ends the server with SIGKILL, as a crash would.
func (s *server) kill() {
	s.cmd.Process.Signal(syscall.SIGKILL)
	s.cmd.Wait()
}

// waitUnlocked waits until nothing holds the data directory's lock. The
// kernel frees it when the process that took it dies, but a process killed
// while it starts a range process shares it with that child until the
// child has exec'd: a moment, in which a restart is refused.
func waitUnlocked(t *testing.T, data string) {
	t.Helper()
	if _, err := os.Stat(data); err != nil {
		return
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		l, err := datadir.Acquire(data)
		if err == nil {
			l.Release()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the data directory stays locked after its cyrange was killed: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// cyrangeOut runs the binary to its end (bounded by a hang guard) and
// returns its exit status, standard output and standard error.
func cyrangeOut(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, out.String(), errb.String()
	case errors.As(err, &ee):
		return ee.ExitCode(), out.String(), errb.String()
	}
	t.Fatalf("cyrange %s: %v", strings.Join(args, " "), err)
	return 0, "", ""
}

// rangeStatus is `cyrange range status --json`.
func rangeStatus(t *testing.T, scen, data, driver string) cyberrange.Report {
	t.Helper()
	_, out, errs := cyrangeOut(t, "range", "status", scen, "--driver", driver, "--data", data, "--json")
	var rep cyberrange.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("range status: %v: %q %s", err, out, errs)
	}
	return rep
}

// apiGet is getJSON returning its error: the server may be gone.
func apiGet(url, token string, v any) error {
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// scoreboardView is what the chaos cases read of the public scoreboard.
type scoreboardView struct {
	Tick   int32                        `json:"tick"`
	Status map[string]map[string]string `json:"status"`
}

// nextTick waits until the game enters a tick after the current one and
// returns it: a fault injected then lands while that tick's checks run.
func nextTick(t *testing.T, s *server) int32 {
	t.Helper()
	var v scoreboardView
	getJSON(t, "http://"+s.http+"/api/v1/scoreboard", "", &v)
	from := v.Tick
	deadline := time.Now().Add(2 * time.Minute)
	for v.Tick == from {
		if time.Now().After(deadline) {
			t.Fatalf("the game stays in tick %d; log:\n%s", from, tail(s.logs.text(), 3000))
		}
		time.Sleep(20 * time.Millisecond)
		getJSON(t, "http://"+s.http+"/api/v1/scoreboard", "", &v)
	}
	return v.Tick
}

// waitOK waits until the checker finds team's replica of service OK in a
// tick after after, and returns the tick that shows it and the statuses
// shown before; it fails the test if that does not happen within the
// hang guard.
func waitOK(t *testing.T, s *server, team, service string, after int32) (int32, []string) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	var seen []string
	for {
		var v scoreboardView
		getJSON(t, "http://"+s.http+"/api/v1/scoreboard", "", &v)
		// The status shown in tick n is that of tick n-1's checks.
		st := v.Status[team][service]
		if v.Tick > after+1 {
			if st == "OK" {
				return v.Tick, seen
			}
			if len(seen) == 0 || seen[len(seen)-1] != st {
				seen = append(seen, st)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s's %s is not OK after tick %d (statuses seen: %v); log:\n%s", team, service, after, seen, tail(s.logs.text(), 3000))
		}
		time.Sleep(200 * time.Millisecond)
	}
}
