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
// each iteration is one second of BenchmarkTelemetryIngest's load, 17,000
// gateway telemetry lines parsed, mapped to their target and handed to a
// real game. It reports the lines a core handles a second and the share
// of a core that load takes.
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
	const perSecond = 17 * 1000
	s := &gatewaySink{c: c, team: 0}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		for i := range perSecond {
			s.line(lines[i%len(lines)])
		}
		s.flush()
	}
	b.StopTimer()
	if got := c.Stats().Conns; got != int64(b.N)*perSecond {
		b.Fatalf("%d connections handed on, want %d", got, b.N*perSecond)
	}
	perSec := float64(b.N) * perSecond / b.Elapsed().Seconds()
	b.ReportMetric(perSec, "lines/s")
	b.ReportMetric(perSecond/perSec, "cores@17k/s")
}
