package main

import (
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestMetricsAddress: /metrics on the web port is the organizer's, and
// --metrics serves it without a token on an address of its own.
func TestMetricsAddress(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	s := startCyrange(t, "", 20*time.Second, "run", burstScenario(t, dir), "--data", data,
		"--http", "127.0.0.1:0", "--submit", "127.0.0.1:0", "--metrics", "127.0.0.1:0")
	toks := readTokens(t, data)
	if s.metrics == "" {
		t.Fatal("run did not print its metrics address")
	}
	get := func(url, token string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		client := &http.Client{Timeout: 10 * time.Second}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, c := range []struct {
		url, token string
		code       int
	}{
		{"http://" + s.http + "/metrics", "", http.StatusUnauthorized},
		{"http://" + s.http + "/metrics", toks.Teams[0].Token, http.StatusForbidden},
		{"http://" + s.http + "/metrics", toks.Organizer, http.StatusOK},
		{s.metrics, "", http.StatusOK},
	} {
		code, body := get(c.url, c.token)
		if code != c.code {
			t.Errorf("GET %s: %d, want %d", c.url, code, c.code)
		}
		if code == http.StatusOK && !strings.Contains(body, `cyrange_submissions_total{code="OK"}`) {
			t.Errorf("GET %s: %.200s", c.url, body)
		}
	}
	if code, _ := get(strings.TrimSuffix(s.metrics, "/metrics")+"/api/v1/scoreboard", ""); code != http.StatusNotFound {
		t.Errorf("the metrics address serves the API: %d", code)
	}
	s.stop(t)
}

func TestPerSourceFlags(t *testing.T) {
	for _, args := range [][]string{
		{"run", "demo", "--live-per-source", "0"},
		{"demo", "--http-per-source", "-1"},
	} {
		code, _, stderr := runMain(t, args...)
		if code != 2 || !strings.Contains(stderr, "must be at least 1") {
			t.Errorf("%v: exit %d, %q", args, code, stderr)
		}
	}
}
