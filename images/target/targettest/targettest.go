// Package targettest holds what the tests of every built-in target
// share: the contract of a Target's own description and of what it reads
// in its log (contract.go), and the helpers its checker's tests use to
// serve the checker role, run tasks and judge their results (this file).
// A target's tests give their own cases; the checks are written once, so
// that the targets cannot come to mean different things by them.
//
// It is for tests only. It imports the target contract and the protocol,
// never a target, so that every target's tests can import it.
package targettest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cyrange/cyrange/scoreboard/checks"
)

// Output is a goroutine-safe writer for a role's output: the role writes
// its log while the test reads it.
type Output struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (o *Output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.Write(p)
}

func (o *Output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.String()
}

// Role is a role's entry point, as a target's RunChecker.
type Role func(ctx context.Context, args []string, stdout, stderr io.Writer) error

// ServeChecker runs the checker role run with args (which should have it
// listen on port 0) and returns its base URL once it logs that it
// listens. The role stops when the test ends, and must then return nil.
func ServeChecker(t testing.TB, run Role, args ...string) string {
	t.Helper()
	var stdout Output
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, args, &stdout, io.Discard) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("checker role: %v", err)
		}
	})
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		for line := range strings.Lines(stdout.String()) {
			var m map[string]any
			if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == "checker listening" {
				if addr, _ := m["addr"].(string); addr != "" {
					return "http://" + addr
				}
			}
		}
	}
	t.Fatalf("checker did not start: %s", stdout.String())
	return ""
}

// RequiresToken checks that the checker served at base refuses, with 401,
// every request that does not carry the caller's bearer token derived
// from secret — none, a wrong one, the right one sent as Basic — both
// for its service description and for task tk.
func RequiresToken(t testing.TB, hc *http.Client, base, secret string, tk checks.Task) {
	t.Helper()
	body, err := json.Marshal(tk)
	if err != nil {
		t.Fatal(err)
	}
	for name, auth := range map[string]string{"none": "", "wrong": "Bearer not-the-token", "basic": "Basic " + checks.CallerToken(secret)} {
		for _, req := range []*http.Request{
			newRequest(t, http.MethodGet, base+"/service", ""),
			newRequest(t, http.MethodPost, base+"/", string(body)),
		} {
			if auth != "" {
				req.Header.Set("Authorization", auth)
			}
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("%s %s with %s credentials: %d, want 401", req.Method, req.URL.Path, name, resp.StatusCode)
			}
		}
	}
}

func newRequest(t testing.TB, method, url, body string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// NewFlag makes a random flag of the game's format.
func NewFlag() string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, 31)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b) + "="
}

// Run runs tk on c within the task's timeout, as the game would. A
// checker error, or a message that gives the task's flag away, fails the
// test.
func Run(t testing.TB, c checks.Checker, tk checks.Task) checks.TaskResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(tk.Timeout)*time.Millisecond)
	defer cancel()
	res, err := c.Run(ctx, tk)
	if err != nil {
		t.Fatalf("%s v%d: %v", tk.Method, tk.VariantID, err)
	}
	if res.Message != nil && tk.Flag != nil && strings.Contains(*res.Message, *tk.Flag) {
		t.Fatalf("message contains the flag")
	}
	return res
}

// Expect runs tk on c as Run does and stops the test unless the result
// is r. It returns the result for a closer look.
func Expect(t testing.TB, c checks.Checker, tk checks.Task, r checks.Result) checks.TaskResult {
	t.Helper()
	res := Run(t, c, tk)
	if res.Result != r {
		msg := ""
		if res.Message != nil {
			msg = *res.Message
		}
		t.Fatalf("%s v%d: got %s (%s), want %s", tk.Method, tk.VariantID, res.Result, msg, r)
	}
	return res
}

// Port returns the port of a "host:port" address.
func Port(t testing.TB, addr string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
