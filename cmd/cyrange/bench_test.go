package main

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func TestBenchUsage(t *testing.T) {
	for _, args := range [][]string{
		{"bench"},
		{"bench", "nope"},
		{"bench", "range", "--runs", "0"},
		{"bench", "range", "--parallel", "0"},
		{"bench", "submit", "--proto", "udp"},
		{"bench", "submit", "--teams", "0"},
		{"bench", "submit", "--flags", "0"},
		{"bench", "replay", "--nope"},
		{"bench", "portal", "--teams", "0"},
		{"bench", "portal", "--tick", "10ms"},
		{"bench", "portal", "--sites", "1000"},
	} {
		if code, _, errs := runMain(t, args...); code != 2 || !strings.Contains(errs, "cyrange bench: ") {
			t.Errorf("%v: code %d, %q", args, code, errs)
		}
	}
}

// TestBenchSubmit runs a small submission load over each door and pins
// what it prints (the README and task bench quote it).
func TestBenchSubmit(t *testing.T) {
	t.Run("tcp", func(t *testing.T) {
		t.Parallel()
		code, out, errs := runMain(t, "bench", "submit", "--teams", "2", "--flags", "300", "--proto", "tcp")
		want := regexp.MustCompile(`^bench submit tcp: 2 teams, 600 flags sent, 600 OK, 0 other, in \d+\.\d\ds
  durable acceptance: \d+ flags/s
  latency per flag: p50 \d+\.\d\d ms, p90 \d+\.\d\d ms, p99 \d+\.\d\d ms, max \d+\.\d\d ms
  baseline, raw bbolt group commit \(64 submitters, 100 B\): \d+ appends/s; ratio \d+\.\d\d
  disk fdatasync of 8 KiB: p50 \d+\.\d{3} ms, p99 \d+\.\d{3} ms \(latency target p99 ≤ \d+\.\d\d ms\)
$`)
		if code != 0 || !want.MatchString(out) {
			t.Errorf("exit %d, output:\n%s%s", code, out, errs)
		}
	})
	t.Run("http json", func(t *testing.T) {
		t.Parallel()
		code, out, errs := runMain(t, "bench", "submit", "--teams", "2", "--flags", "300", "--proto", "http", "--json")
		var got map[string]any
		if err := json.Unmarshal([]byte(out), &got); code != 0 || err != nil {
			t.Fatalf("exit %d, %v: %s%s", code, err, out, errs)
		}
		keys := []string{"baselinePerSecond", "elapsed", "fdatasyncP50ms", "fdatasyncP99ms", "flagsPerSecond", "latencyTargetMs",
			"maxms", "ok", "other", "p50ms", "p90ms", "p99ms", "proto", "ratio", "sent", "teams"}
		var have []string
		for k := range got {
			have = append(have, k)
		}
		slices.Sort(have)
		if !slices.Equal(have, keys) || got["proto"] != "http" || got["teams"] != 2.0 || got["sent"] != 600.0 || got["ok"] != 600.0 {
			t.Errorf("result %v", got)
		}
		if r := got["flagsPerSecond"].(float64) / got["baselinePerSecond"].(float64); r != got["ratio"] {
			t.Errorf("ratio %v, want %v", got["ratio"], r)
		}
		if l := 2*got["fdatasyncP99ms"].(float64) + 2; l != got["latencyTargetMs"] {
			t.Errorf("latency target %v, want %v", got["latencyTargetMs"], l)
		}
	})
}

func TestBenchReplay(t *testing.T) {
	code, out, errs := runMain(t, "bench", "replay", "--events", "20000")
	want := regexp.MustCompile(`^bench replay: 20000 events from bbolt into standings of \d+ teams in \d+\.\d{3}s \(best of 3\): \d+ events/s \(target ≤ 1s\)\n$`)
	if code != 0 || !want.MatchString(out) {
		t.Errorf("exit %d, output:\n%s%s", code, out, errs)
	}
}

// TestBenchLive runs the binary, whose viewer process is itself.
func TestBenchLive(t *testing.T) {
	cmd := exec.Command(binary, "bench", "live", "--viewers", "20", "--duration", "1s", "--changes", "20")
	var out, errs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errs
	err := cmd.Run()
	want := regexp.MustCompile(`^bench live: 20 viewers connected \(0 failed\) in \d+\.\d\ds
  frames: [1-9]\d*, each reached at least \d+ viewers, \d+ frames reached all; \d+ viewers dropped, \d+ gaps
  commit → frame received: p50 \d+\.\d ms, p99 \d+\.\d ms, max \d+\.\d ms \(target p99 ≤ 100 ms\)
  server memory: \d+\.\d MiB with 0 viewers, \d+\.\d MiB with 20: \d+\.\d KiB per viewer \(target ≤ 16 KiB\)
$`)
	if err != nil || !want.MatchString(out.String()) {
		t.Errorf("%v, output:\n%s%s", err, out.String(), errs.String())
	}
}
