package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"

	cyberrange "github.com/cyrange/cyrange/range"
	"github.com/cyrange/cyrange/range/rangebench"
)

func TestBenchUsage(t *testing.T) {
	for _, args := range [][]string{
		{"bench"},
		{"bench", "nope"},
		{"bench", "range", "--runs", "0"},
		{"bench", "range", "--parallel", "0"},
	} {
		if code, _, errs := runMain(t, args...); code != 2 || !strings.Contains(errs, "cyrange bench: ") {
			t.Errorf("%v: code %d, %q", args, code, errs)
		}
	}
}

// healthyRange is an orchestrator whose range comes up healthy at once.
type healthyRange struct{}

func (healthyRange) Up(context.Context, *cyberrange.Plan) error { return nil }
func (healthyRange) Down(context.Context, string) error         { return nil }
func (healthyRange) Status(context.Context, *cyberrange.Plan) (cyberrange.Report, error) {
	return cyberrange.Report{Healthy: true}, nil
}

// TestBenchRangeOutput pins the figures bench range prints (the README
// quotes them), on a range and a Compose that do nothing.
func TestBenchRangeOutput(t *testing.T) {
	ctx := context.Background()
	b, err := rangebench.New(ctx, rangebench.Options{Orchestrator: healthyRange{}, Plan: &cyberrange.Plan{Exercise: rangebench.Exercise},
		Compose: []string{"true"}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close(ctx)
	var out, errs bytes.Buffer
	if err := printRangeBench(ctx, &env{stdout: &out, stderr: &errs}, b, 2); err != nil {
		t.Fatal(err)
	}
	wantErr := regexp.MustCompile(`^run 1: range up \S+ down \S+; compose up \S+ down \S+\nrun 2: range up \S+ down \S+; compose up \S+ down \S+\n$`)
	if !wantErr.MatchString(errs.String()) {
		t.Errorf("standard error:\n%s", errs.String())
	}
	cpu := `machine CPU \d+\.\d s \((\d+|NaN|\+Inf)% of \d+ cores\)`
	wantOut := regexp.MustCompile(`^range up: \d+\.\d{3} s, ` + cpu + `
compose up: \d+\.\d{3} s, ` + cpu + `
up ratio range/compose: \S+ \(target ≤ 0\.50\)
range down: \d+\.\d{3} s \(target ≤ 3 s\)
compose down: \d+\.\d{3} s
$`)
	if !wantOut.MatchString(out.String()) {
		t.Errorf("standard output:\n%s", out.String())
	}
}
