package store

import (
	"context"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const (
	benchSubmitters = 64
	benchRecordSize = 100
)

// BenchmarkAppendGroupCommit: 64 goroutines each append one 100-byte record
// and wait for it to be durable, over and over; b.N appends in all.
func BenchmarkAppendGroupCommit(b *testing.B) { benchAppend(b, defaultMaxYields) }

// BenchmarkAppendGroupCommitNoYield is the same without the committer's
// yield (see Log.run), to show what the yield is worth.
func BenchmarkAppendGroupCommitNoYield(b *testing.B) { benchAppend(b, 0) }

func benchAppend(b *testing.B, maxYields int) {
	b.ReportAllocs()
	l := newLog(b, Options{})
	l.maxYields = maxYields
	var left atomic.Int64
	left.Store(int64(b.N))
	took := make([][]time.Duration, benchSubmitters)
	var wg sync.WaitGroup
	b.ResetTimer()
	for w := range benchSubmitters {
		wg.Go(func() {
			rec := make([]byte, benchRecordSize)
			rec[0] = byte(w)
			recs := [][]byte{rec}
			for left.Add(-1) >= 0 {
				start := time.Now()
				if _, err := l.Append(context.Background(), recs, nil); err != nil {
					b.Error(err)
					return
				}
				took[w] = append(took[w], time.Since(start))
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	st := l.Stats()
	all := slices.Concat(took...)
	slices.Sort(all)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
	b.ReportMetric(float64(st.Records)/float64(max(st.Commits, 1)), "records/commit")
	b.ReportMetric(float64(percentile(all, 99).Microseconds()), "p99-µs")
}

// BenchmarkRawGroupCommit is the baseline for BenchmarkAppendGroupCommit:
// the same load on a bare bbolt group-commit loop. Each iteration measures
// for one second; the median is reported.
func BenchmarkRawGroupCommit(b *testing.B) {
	dir := b.TempDir()
	var runs []float64
	for b.Loop() {
		ps, err := MeasureRawGroupCommit(context.Background(), dir, benchSubmitters, benchRecordSize, time.Second)
		if err != nil {
			b.Fatal(err)
		}
		runs = append(runs, ps)
	}
	slices.Sort(runs)
	b.ReportMetric(runs[len(runs)/2], "appends/s")
}

// BenchmarkFdatasync: write+fdatasync of 8 KiB, 1000 times per iteration;
// the median iteration's percentiles are reported.
func BenchmarkFdatasync(b *testing.B) {
	dir := b.TempDir()
	var p50s, p99s []time.Duration
	for b.Loop() {
		p50, p99, err := MeasureFdatasync(context.Background(), dir, 1000, 8<<10)
		if err != nil {
			b.Fatal(err)
		}
		p50s, p99s = append(p50s, p50), append(p99s, p99)
	}
	slices.Sort(p50s)
	slices.Sort(p99s)
	b.ReportMetric(float64(p50s[len(p50s)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(p99s[len(p99s)/2].Microseconds()), "p99-µs")
}

// BenchmarkIterate reads back a log of 100,000 100-byte records per
// iteration, the way a restart or a replay folds the log.
func BenchmarkIterate(b *testing.B) {
	const total = 100_000
	l := newLog(b, Options{})
	rec := make([]byte, benchRecordSize)
	batch := make([][]byte, 5000)
	for i := range batch {
		batch[i] = rec
	}
	for range total / len(batch) {
		if _, err := l.Append(context.Background(), batch, nil); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		n := 0
		if err := l.Iterate(context.Background(), 0, func(uint64, []byte) error { n++; return nil }); err != nil {
			b.Fatal(err)
		}
		if n != total {
			b.Fatalf("visited %d", n)
		}
	}
	b.ReportMetric(float64(total)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkAppendVsRaw alternates one second of Log.Append and one second of
// the bare loop of MeasureRawGroupCommit under the same load (64 submitters,
// 100-byte records) and reports the median ratio, which is steadier than
// either figure on a shared machine.
func BenchmarkAppendVsRaw(b *testing.B) {
	dir := b.TempDir()
	var ratios, logs, raws []float64
	for b.Loop() {
		lps, err := measureAppend(b, time.Second)
		if err != nil {
			b.Fatal(err)
		}
		rps, err := MeasureRawGroupCommit(context.Background(), dir, benchSubmitters, benchRecordSize, time.Second)
		if err != nil {
			b.Fatal(err)
		}
		ratios, logs, raws = append(ratios, lps/rps), append(logs, lps), append(raws, rps)
	}
	for _, s := range [][]float64{ratios, logs, raws} {
		slices.Sort(s)
	}
	b.ReportMetric(ratios[len(ratios)/2], "ratio")
	b.ReportMetric(logs[len(logs)/2], "log-appends/s")
	b.ReportMetric(raws[len(raws)/2], "raw-appends/s")
}

// measureAppend is MeasureRawGroupCommit's load applied to a Log.
func measureAppend(b *testing.B, d time.Duration) (float64, error) {
	l, err := Open(context.Background(), Options{Path: filepath.Join(b.TempDir(), "exercise.db")})
	if err != nil {
		return 0, err
	}
	defer l.Close()
	var (
		stop  atomic.Bool
		acked atomic.Int64
		errMu sync.Mutex
		first error
		wg    sync.WaitGroup
	)
	timer := time.AfterFunc(d, func() { stop.Store(true) })
	defer timer.Stop()
	start := time.Now()
	for w := range benchSubmitters {
		wg.Go(func() {
			rec := make([]byte, benchRecordSize)
			rec[0] = byte(w)
			recs := [][]byte{rec}
			for !stop.Load() {
				if _, err := l.Append(context.Background(), recs, nil); err != nil {
					errMu.Lock()
					first = err
					errMu.Unlock()
					stop.Store(true)
					return
				}
				acked.Add(1)
			}
		})
	}
	wg.Wait()
	return float64(acked.Load()) / time.Since(start).Seconds(), first
}
