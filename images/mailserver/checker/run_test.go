package checker_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cyrange/cyrange/images/mailserver/checker"
	"github.com/cyrange/cyrange/scoreboard/checks"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestRunChecker(t *testing.T) {
	var stdout syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- checker.RunChecker(ctx, []string{"--listen", "127.0.0.1:0", "--checker-secret", "s", "--targets", "10.0.1.10=mail.d01"}, &stdout, io.Discard)
	}()
	var addr string
	for deadline := time.Now().Add(10 * time.Second); addr == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		for line := range strings.Lines(stdout.String()) {
			var m map[string]any
			if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == "checker listening" {
				addr, _ = m["addr"].(string)
			}
		}
	}
	if addr == "" {
		cancel()
		t.Fatalf("checker did not start: %s", stdout.String())
	}
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/service", nil)
	req.Header.Set("Authorization", "Bearer "+checks.CallerToken("s"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var info map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&info)
	resp.Body.Close()
	if info["serviceName"] != "mailserver" || info["flagVariants"] != 3.0 {
		t.Errorf("service: %v", info)
	}
	http.DefaultClient.CloseIdleConnections()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("RunChecker: %v", err)
	}
}

func TestRunCheckerNeedsSecretAndTargets(t *testing.T) {
	t.Setenv("CYRANGE_CHECKER_SECRET", "")
	for _, args := range [][]string{
		{"--listen", "127.0.0.1:0", "--targets", "10.0.1.10=mail.d01"},
		{"--listen", "127.0.0.1:0", "--checker-secret", "s"},
		{"--listen", "127.0.0.1:0", "--checker-secret", "s", "--targets", "10.0.1.10=a b"},
	} {
		if err := checker.RunChecker(context.Background(), args, io.Discard, io.Discard); err == nil {
			t.Errorf("started with %v", args)
		}
	}
}
