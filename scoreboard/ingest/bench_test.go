package ingest

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/cyrange/cyrange/range/gateway"
	"github.com/cyrange/cyrange/scoreboard"
	"github.com/cyrange/cyrange/scoreboard/scoreboardtest"
)

// BenchmarkGatewayLines is the collector's share of telemetry ingestion:
// one gateway telemetry line parsed, mapped to its target and handed to a
// real game, per iteration. It reports the lines a core handles a second
// and the share of a core that 17 teams at 1,000 connections a second
// each (BenchmarkTelemetryIngest's load) would take.
func BenchmarkGatewayLines(b *testing.B) {
	cfg := &scoreboard.Config{Name: "bench", Tick: time.Minute, FlagLifetime: 5, Scoring: scoreboard.DefaultScoring(),
		Services: []scoreboard.Service{{ID: 0, Name: "mail", Weight: 1, Stores: []string{"inbox"}}}}
	for i := range 4 {
		r := scoreboard.RoleAttack
		if i == 3 {
			r = scoreboard.RoleDefence
		}
		cfg.Teams = append(cfg.Teams, scoreboard.Team{ID: i, Name: fmt.Sprintf("team %d", i), Role: r})
	}
	cfg.Replicas = []scoreboard.Replica{{Owner: 3, Service: 0}}
	ctx := context.Background()
	g, err := scoreboard.NewGame(ctx, scoreboard.Options{Config: cfg, Log: &scoreboardtest.MemLog{},
		Key: []byte("0123456789abcdef0123456789abcdef")})
	if err != nil {
		b.Fatal(err)
	}
	c, err := New(Options{Plan: testPlan(), Logs: newFakeLogs(), Game: g})
	if err != nil {
		b.Fatal(err)
	}
	lines := make([][]byte, 1024)
	for i := range lines {
		start := base.Add(time.Duration(i) * time.Millisecond)
		l, err := gateway.MarshalTelemetry(gateway.Conn{Team: "team 0", Client: netip.MustParseAddrPort("127.0.0.1:40000"),
			Target: mailAddr, Port: 143, Start: start, End: start.Add(40 * time.Millisecond), BytesUp: 310, BytesDown: 4200})
		if err != nil {
			b.Fatal(err)
		}
		lines[i] = l
	}
	s := &gatewaySink{c: c, team: 0}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		s.line(lines[i%len(lines)])
	}
	s.flush()
	b.StopTimer()
	if got := c.Stats().Conns; got != int64(b.N) {
		b.Fatalf("%d connections handed on, want %d", got, b.N)
	}
	perSec := float64(b.N) / b.Elapsed().Seconds()
	b.ReportMetric(perSec, "lines/s")
	b.ReportMetric(17*1000/perSec, "cores@17k/s")
}
