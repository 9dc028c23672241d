package cyberrange

import (
	"context"
	"strings"
	"testing"

	"github.com/cyrange/cyrange/scenarios"
)

func TestConsoleURL(t *testing.T) {
	sc, err := scenarios.Builtin("demo")
	if err != nil {
		t.Fatal(err)
	}
	defence := -1
	for i, tm := range sc.Teams {
		if tm.Role.CanDefend() {
			defence = i
		}
	}
	for _, tc := range []struct {
		driver string
		want   string
	}{{DriverLocal, "http://127.61.1.10:18025/"}, {DriverDocker, ""}} {
		toks := make([]string, len(sc.Teams))
		for i := range toks {
			toks[i] = strings.Repeat("t", 32)
		}
		p, err := NewPlan(sc, PlanOptions{Driver: tc.driver, TeamTokens: toks, CheckerSecret: "s"})
		if err != nil {
			t.Fatal(err)
		}
		o := NewOrchestrator(OrchestratorOptions{Driver: nil})
		if got, _ := o.ConsoleURL(context.Background(), defence, 0); got != "" {
			t.Fatalf("%s: a console before any plan: %q", tc.driver, got)
		}
		o.plan.Store(p)
		got, err := o.ConsoleURL(context.Background(), defence, 0)
		if err != nil || got != tc.want {
			t.Fatalf("%s: ConsoleURL = %q, %v; want %q", tc.driver, got, err, tc.want)
		}
		if _, err := o.ConsoleURL(context.Background(), 0, 0); tc.driver == DriverLocal && (err == nil || !strings.Contains(err.Error(), "no replica")) {
			t.Fatalf("an attack team's console: %v", err)
		}
	}
}
