package cyberrange_test

import (
	"context"
	"testing"

	cyberrange "github.com/cyrange/cyrange/range"
	"github.com/cyrange/cyrange/scenarios"
)

// BenchmarkNewPlan plans the 17-team drill.
func BenchmarkNewPlan(b *testing.B) {
	sc, err := scenarios.Builtin("tiengiang-2023")
	if err != nil {
		b.Fatal(err)
	}
	o := cyberrange.PlanOptions{Driver: cyberrange.DriverDocker, TeamTokens: fakeTokens(sc), CheckerSecret: "s"}
	for b.Loop() {
		if _, err := cyberrange.NewPlan(sc, o); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/plan")
}

// BenchmarkUpDownFake is the orchestrator's own cost of bringing the
// 17-team drill up and down on a driver that costs nothing: what it adds
// to a real engine's time.
func BenchmarkUpDownFake(b *testing.B) {
	sc, err := scenarios.Builtin("tiengiang-2023")
	if err != nil {
		b.Fatal(err)
	}
	p, err := cyberrange.NewPlan(sc, cyberrange.PlanOptions{Driver: cyberrange.DriverDocker, TeamTokens: fakeTokens(sc), CheckerSecret: "s"})
	if err != nil {
		b.Fatal(err)
	}
	h := newFakeHost()
	o := cyberrange.NewOrchestrator(cyberrange.OrchestratorOptions{Driver: h.driver()})
	ctx := context.Background()
	for b.Loop() {
		if err := o.Up(ctx, p); err != nil {
			b.Fatal(err)
		}
		if err := o.Down(ctx, p.Exercise); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/up+down")
}
