package scoreboard

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// BenchmarkTelemetryIngest feeds 17 attack teams at 1,000 connections a
// second each to one defended service for 10 minutes of simulated time
// (ticks of a minute), through the game's own path: ObserveConns, the
// per-tick summaries appended at each tick's end, and their fold. It
// reports the ingestion rate, how many summary events and bytes the 10.2
// million connections became, and what folding one summary costs.
func BenchmarkTelemetryIngest(b *testing.B) { benchTelemetryIngest(b, false) }

// BenchmarkTelemetryIngestLifecycle is the same load as the gateways
// write it now: each connection an open and a close record, with the
// open connections followed from one to the other.
func BenchmarkTelemetryIngestLifecycle(b *testing.B) { benchTelemetryIngest(b, true) }

func benchTelemetryIngest(b *testing.B, lifecycle bool) {
	const (
		teams   = 17
		perSec  = 1000
		seconds = 600
	)
	rs := make([]Role, 0, teams+1)
	for range teams {
		rs = append(rs, RoleAttack)
	}
	cfg := &Config{Name: "bench", Tick: time.Minute, FlagLifetime: 5, GetflagDepth: 1, Scoring: DefaultScoring(),
		Services: []Service{{ID: 0, Name: "mail", Weight: 1, Stores: []string{"inbox"}}}}
	for i, r := range append(rs, RoleDefence) {
		cfg.Teams = append(cfg.Teams, Team{ID: i, Name: fmt.Sprintf("team %02d", i), Role: r})
	}
	cfg.Replicas = []Replica{{Owner: teams, Service: 0}}
	n := perSec
	if lifecycle {
		n *= 2
	}
	batch := make([]Conn, n)
	sources := make([]string, teams)
	for i := range sources {
		sources[i] = fmt.Sprintf("cyrange-bench-gateway-a%02d", i+1)
	}
	var events, textBytes int
	var foldNs time.Duration
	ctx := context.Background()
	b.ResetTimer()
	for range b.N {
		clk := newClock()
		log := &memLog{}
		g, err := NewGame(ctx, Options{Config: cfg, Log: log, Key: testKey, Now: clk.Now})
		if err != nil {
			b.Fatal(err)
		}
		if err := g.Act(ctx, ActStart); err != nil {
			b.Fatal(err)
		}
		if err := g.StartTick(ctx); err != nil {
			b.Fatal(err)
		}
		for sec := 1; sec <= seconds; sec++ {
			now := clk.Now()
			for team := range teams {
				for i := range perSec {
					start := now.Add(time.Duration(i) * time.Millisecond)
					c := Conn{Team: team, Owner: teams, Start: start, End: start.Add(5 * time.Millisecond),
						BytesUp: 300, BytesDown: 4000}
					if !lifecycle {
						batch[i] = c
						continue
					}
					// Records of one gateway in time order: an open, and
					// its close 5 ms later.
					id := uint64(sec*perSec + i + 1)
					open := Conn{Team: team, Owner: teams, Start: start, At: start, State: ConnOpen,
						Source: sources[team], Run: "r", ID: id}
					c.At, c.State, c.Source, c.Run, c.ID = c.End, ConnClose, sources[team], "r", id
					batch[2*i], batch[2*i+1] = open, c
				}
				g.ObserveConns(batch)
			}
			clk.Add(time.Second)
			if sec%60 == 0 {
				if err := g.StartTick(ctx); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.StopTimer()
		// The fold's share: replay only the summaries into a fresh state.
		var sums []Event
		_ = log.Iterate(ctx, 1, func(seq uint64, rec []byte) error {
			e, err := Decode(seq, rec)
			if err == nil && e.Kind == KindTelemetrySummary {
				sums = append(sums, e)
				textBytes += len(rec)
			}
			return err
		})
		events += len(sums)
		st := NewState(cfg)
		start := time.Now()
		for i := range sums {
			sums[i].Seq = 0
			if _, err := st.Apply(&sums[i]); err != nil {
				b.Fatal(err)
			}
		}
		foldNs += time.Since(start)
		if len(st.Incidents) != teams {
			b.Fatalf("%d incidents, want one per team", len(st.Incidents))
		}
		b.StartTimer()
	}
	conns := float64(teams * perSec * seconds)
	b.ReportMetric(conns*float64(b.N)/b.Elapsed().Seconds(), "conns/s")
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N)/(teams*perSec)*1e9/seconds, "ns/conn")
	b.ReportMetric(float64(events)/float64(b.N), "summary-events/10min")
	b.ReportMetric(float64(textBytes)/float64(b.N), "summary-bytes/10min")
	b.ReportMetric(float64(foldNs.Nanoseconds())/float64(events), "fold-ns/summary")
}
