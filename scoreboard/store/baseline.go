package store

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

// This file holds the baselines the submission path is measured against in
// the same run (see BENCHMARKS.md): the bare cost of a bbolt group commit and
// of the disk's fdatasync. They are exported for the `cyrange bench` command.

// MeasureRawGroupCommit measures durable appends per second of a bare bbolt
// group-commit loop, with none of Log's machinery: submitters goroutines each
// send a recordSize-byte record and wait for its acknowledgement, and one
// committer goroutine puts everything waiting in one transaction and commits
// it with an fsync. It runs for d (or until ctx ends) in a temporary file
// under dir, removed afterwards. bbolt is configured as Open configures it,
// so the figure is the ceiling for Log.Append on this disk.
func MeasureRawGroupCommit(ctx context.Context, dir string, submitters int, recordSize int, d time.Duration) (perSecond float64, err error) {
	if submitters <= 0 || recordSize <= 0 || d <= 0 {
		return 0, fmt.Errorf("store: raw group commit: submitters %d, record size %d, duration %s: %w", submitters, recordSize, d, ErrInvalid)
	}
	tmp, err := os.MkdirTemp(dir, "rawcommit-")
	if err != nil {
		return 0, fmt.Errorf("store: raw group commit: %w", err)
	}
	defer os.RemoveAll(tmp)
	db, err := bolt.Open(filepath.Join(tmp, "raw.db"), 0o600, &bolt.Options{
		Timeout:         DefaultOpenTimeout,
		NoFreelistSync:  true,
		FreelistType:    bolt.FreelistMapType,
		InitialMmapSize: DefaultInitialMmapSize,
	})
	if err != nil {
		return 0, fmt.Errorf("store: raw group commit: %w", err)
	}
	defer db.Close()
	name := []byte("events")
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucket(name)
		return err
	}); err != nil {
		return 0, fmt.Errorf("store: raw group commit: %w", err)
	}

	type pending struct {
		rec  []byte
		done chan error
	}
	queue := make(chan pending, submitters)
	committed := make(chan struct{})
	go func() {
		defer close(committed)
		var key [8]byte
		var seq uint64
		batch := make([]pending, 0, submitters)
		drain := func() (took int) {
			for {
				select {
				case p, ok := <-queue:
					if !ok {
						return took
					}
					batch = append(batch, p)
					took++
				default:
					return took
				}
			}
		}
		for p := range queue {
			batch = append(batch[:0], p)
			drain()
			// The same yield as Log's committer (see Log.run), so that this
			// stays the ceiling of the technique and not a weaker variant.
			for range defaultMaxYields {
				runtime.Gosched()
				if drain() == 0 {
					break
				}
			}
			err := db.Update(func(tx *bolt.Tx) error {
				b := tx.Bucket(name)
				b.FillPercent = 1.0
				for _, p := range batch {
					seq++
					binary.BigEndian.PutUint64(key[:], seq)
					if err := b.Put(key[:], p.rec); err != nil {
						return err
					}
				}
				return nil
			})
			for _, p := range batch {
				p.done <- err
			}
		}
	}()

	var (
		stop  atomic.Bool
		acked atomic.Int64
		wg    sync.WaitGroup
		errMu sync.Mutex
		first error
	)
	timer := time.AfterFunc(d, func() { stop.Store(true) })
	defer timer.Stop()
	cancelled := context.AfterFunc(ctx, func() { stop.Store(true) })
	defer cancelled()
	start := time.Now()
	for i := range submitters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rec := make([]byte, recordSize)
			for j := range rec {
				rec[j] = byte(i + j)
			}
			done := make(chan error, 1)
			for !stop.Load() {
				queue <- pending{rec: rec, done: done}
				if err := <-done; err != nil {
					errMu.Lock()
					first = err
					errMu.Unlock()
					stop.Store(true)
					return
				}
				acked.Add(1)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(queue)
	<-committed
	if first != nil {
		return 0, fmt.Errorf("store: raw group commit: %w", first)
	}
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("store: raw group commit: %w", err)
	}
	return float64(acked.Load()) / elapsed.Seconds(), nil
}

// MeasureFdatasync writes size bytes and fdatasyncs them n times, appending to
// a temporary file under dir (removed afterwards), and returns the median and
// 99th percentile of the write+fdatasync time. Appending makes each sync also
// persist the new file size, as etcd's disk check does; it is the disk figure
// the submission latency target is stated against.
func MeasureFdatasync(ctx context.Context, dir string, n int, size int) (p50, p99 time.Duration, err error) {
	if n <= 0 || size <= 0 {
		return 0, 0, fmt.Errorf("store: fdatasync: n %d, size %d: %w", n, size, ErrInvalid)
	}
	f, err := os.CreateTemp(dir, "fdatasync-")
	if err != nil {
		return 0, 0, fmt.Errorf("store: fdatasync: %w", err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	buf := make([]byte, size)
	for i := range buf {
		buf[i] = byte(i)
	}
	took := make([]time.Duration, n)
	for i := range took {
		if err := ctx.Err(); err != nil {
			return 0, 0, fmt.Errorf("store: fdatasync: %w", err)
		}
		start := time.Now()
		if _, err := f.Write(buf); err != nil {
			return 0, 0, fmt.Errorf("store: fdatasync: write: %w", err)
		}
		if err := fdatasync(f); err != nil {
			return 0, 0, fmt.Errorf("store: fdatasync: %w", err)
		}
		took[i] = time.Since(start)
	}
	slices.Sort(took)
	return percentile(took, 50), percentile(took, 99), nil
}

// percentile of sorted, nearest-rank method: the smallest value with at
// least p% of the samples at or below it.
func percentile(sorted []time.Duration, p int) time.Duration {
	rank := (len(sorted)*p + 99) / 100
	if rank < 1 {
		rank = 1
	}
	return sorted[rank-1]
}
