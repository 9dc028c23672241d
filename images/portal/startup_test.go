package portal

import (
	"context"
	"os"
	"testing"
	"time"
)

// TestStartupFullProvince: the full province (202 sites) with 50,000
// dossiers builds and listens. The time is logged, and held to under 2 s
// (8 s under -race, which slows the SQL engine several times) only with
// CYRANGE_TIMING=1, as `task bench` runs it: a test in the common run
// must not fail because the shared machine is busy.
func TestStartupFullProvince(t *testing.T) {
	limit := 2 * time.Second
	if raceEnabled {
		limit = 8 * time.Second
	}
	// The best of two tries: on the shared 2-core machine another test
	// package may be running beside this one.
	var s *Server
	took := time.Duration(1 << 62)
	for range 2 {
		start := time.Now()
		srv, err := New(context.Background(), Config{Listen: "127.0.0.1", Sites: MaxSites, Dossiers: DefaultDossiers, Seed: 7})
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		took = min(took, time.Since(start))
		if s != nil {
			_ = s.Close()
		}
		s = srv
		if took <= limit {
			break
		}
	}
	defer s.Close()
	t.Logf("startup with %d sites, %d officers, %d dossiers: %v", len(s.prov.Sites), len(s.prov.Officers), DefaultDossiers, took)
	if took > limit && os.Getenv("CYRANGE_TIMING") == "1" {
		t.Errorf("startup took %v, want under %v", took, limit)
	}
	var n int
	if err := s.db.QueryRow(`SELECT COUNT(*) FROM dossiers`).Scan(&n); err != nil || n != DefaultDossiers {
		t.Fatalf("dossiers = %d, %v", n, err)
	}
}

// BenchmarkStartup measures New and Start for the full province.
func BenchmarkStartup(b *testing.B) {
	for b.Loop() {
		s, err := New(context.Background(), Config{Listen: "127.0.0.1", Seed: 7})
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Start(context.Background()); err != nil {
			b.Fatal(err)
		}
		_ = s.Close()
	}
}
