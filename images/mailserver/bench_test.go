package mailserver

import (
	"context"
	"testing"
	"time"
)

// BenchmarkStartup measures New plus Start at the seed drill's size: the
// province's 11,200 mailboxes must be up in under 2 s.
func BenchmarkStartup(b *testing.B) {
	var total time.Duration
	for i := 0; i < b.N; i++ {
		start := time.Now()
		srv, err := New(Config{Listen: "127.0.0.1", Accounts: 11200, Seed: uint64(i + 1)})
		if err != nil {
			b.Fatal(err)
		}
		if err := srv.Start(context.Background()); err != nil {
			b.Fatal(err)
		}
		total += time.Since(start)
		if err := srv.Close(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/startup")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkOpenMailbox measures building one leader's generated mailbox, the
// work done lazily the first time a mailbox is opened.
func BenchmarkOpenMailbox(b *testing.B) {
	srv, err := New(Config{Accounts: 11200, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	leader := srv.dir.Leaders[0]
	b.ResetTimer()
	for b.Loop() {
		_ = srv.store.gen.mailbox(leader, srv.store.start)
	}
}
