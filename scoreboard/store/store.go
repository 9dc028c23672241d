package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Bucket and key names; see the package doc for the tree. They are never
// modified.
var (
	bucketRoot      = []byte("v1")
	bucketMeta      = []byte("meta")
	bucketEvents    = []byte("events")
	bucketSnapshots = []byte("snapshots")
	keySchema       = []byte("schema")
)

// Error is the type of the package's sentinel errors. Being a string type,
// the sentinels are constants and cannot be reassigned.
type Error string

func (e Error) Error() string { return string(e) }

// Permanent reports whether the log takes no more writes until it is
// reopened (ErrFailed): a consumer should stop, not retry.
func (e Error) Permanent() bool { return e == ErrFailed }

// Sentinel errors, matched with errors.Is.
const (
	// ErrClosed: the Log has been closed.
	ErrClosed = Error("store: log closed")
	// ErrLocked: another process (or another Log in this one) holds the file.
	ErrLocked = Error("store: database file is locked by another user")
	// ErrNewerSchema: the file was written by a newer program.
	ErrNewerSchema = Error("store: database written by a newer version of the program")
	// ErrCorrupt: the file does not have the layout the package doc describes.
	ErrCorrupt = Error("store: database layout is corrupt")
	// ErrFull: the file reached Options.MaxSize; the commit was rolled back.
	ErrFull = Error("store: database reached its maximum size")
	// ErrInvalid: an argument was rejected before touching the file.
	ErrInvalid = Error("store: invalid argument")
	// ErrFailed: a commit failed after bbolt began writing it (its fsync,
	// typically), so it may be in the file though its callers were told it
	// failed. The log takes no more writes until it is reopened, and Open
	// drops the records of that commit.
	ErrFailed = Error("store: a commit failed, the log must be reopened")
)

// Defaults for zero Options fields.
const (
	DefaultOpenTimeout     = 2 * time.Second
	DefaultMaxBatch        = 8192
	DefaultMaxRecordSize   = 1 << 20
	DefaultKeepSnapshots   = 3
	DefaultInitialMmapSize = 256 << 20

	// defaultMaxYields bounds how many times the committer yields to let
	// woken submitters join a commit; see run.
	defaultMaxYields = 4
)

// Options configures Open. Only Path is required.
type Options struct {
	Path        string           // the bbolt file, e.g. <data>/exercise.db
	Logger      *slog.Logger     // migrations, failed and slow commits
	Now         func() time.Time // times commits, to report slow ones
	OpenTimeout time.Duration    // how long to wait for the file lock, default 2s
	MaxBatch    int              // max records per commit, default 8192

	// MaxRecordSize bounds one record (default 1 MiB). It is checked in
	// Append so that one oversized record cannot fail a whole group commit
	// shared with other callers.
	MaxRecordSize int
	// KeepSnapshots is how many of the newest snapshots are kept (default 3).
	KeepSnapshots int
	// MaxSize bounds the file in bytes (0: unbounded). A commit that would
	// grow it further fails with ErrFull and is rolled back.
	MaxSize int
	// InitialMmapSize is the address space mapped at open (default 256 MiB;
	// the file itself does not grow). bbolt remaps when the file outgrows
	// the mapping, and a remap waits for every open read transaction, so
	// mapping generously keeps readers from stalling the committer.
	InitialMmapSize int

	// ObserveCommit, when set, hears the duration and size of every
	// successful commit, on the committer goroutine (for metrics).
	ObserveCommit func(d time.Duration, records int)

	// migrations replaces the built-in list, for tests of the mechanism.
	migrations []migration
	// commit commits a write transaction (default (*bolt.Tx).Commit); tests
	// replace it to inject a failed fsync.
	commit func(*bolt.Tx) error
}

// Stats counts the committer's work since Open.
type Stats struct {
	Commits uint64 // successful transactions carrying events
	Records uint64 // records in them
	Failed  uint64 // failed transactions
}

// Log is an open event log. Its methods are safe for concurrent use.
type Log struct {
	db       *bolt.DB
	log      *slog.Logger
	now      func() time.Time
	observe  func(time.Duration, int)
	maxBatch int
	maxRec   int
	keep     int
	version  int

	// mu orders Append's enqueue against Close: Append holds it shared while
	// sending on queue, Close takes it exclusively to set closed and close
	// queue, so nobody ever sends on a closed channel.
	mu     sync.RWMutex
	closed bool
	queue  chan *request

	reqs      sync.Pool // *request, so that an Append allocates nothing of its own
	last      atomic.Uint64
	commits   atomic.Uint64
	records   atomic.Uint64
	failed    atomic.Uint64
	stopped   chan struct{}
	closeOnce sync.Once
	closeErr  error

	// wmu orders the committer's commits against PutMeta and PutSnapshot,
	// so that nothing is written once a commit has failed. broken is that
	// failure; markLater is set when the refusal marker could not be
	// written then, for Close to try again.
	wmu       sync.Mutex
	broken    error
	refused   uint64
	markLater bool

	// Owned by the committer goroutine.
	next      uint64     // sequence the next record gets
	batch     []*request // the commit being gathered
	n         int        // records in batch
	carry     *request   // taken from the queue but too big for the last batch
	key       [8]byte
	maxYields int
	commitTx  func(*bolt.Tx) error
}

// Open opens or creates the log at o.Path, brings its schema up to date and
// starts the committer. It fails with ErrLocked if another Log holds the file
// for longer than o.OpenTimeout, and with ErrNewerSchema for a file written by
// a newer program.
func Open(ctx context.Context, o Options) (*Log, error) {
	if o.Path == "" {
		return nil, fmt.Errorf("store: open: empty path: %w", ErrInvalid)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.OpenTimeout <= 0 {
		o.OpenTimeout = DefaultOpenTimeout
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = DefaultMaxBatch
	}
	if o.MaxRecordSize <= 0 {
		o.MaxRecordSize = DefaultMaxRecordSize
	}
	if o.KeepSnapshots <= 0 {
		o.KeepSnapshots = DefaultKeepSnapshots
	}
	if o.InitialMmapSize <= 0 {
		o.InitialMmapSize = DefaultInitialMmapSize
	}
	if o.migrations == nil {
		o.migrations = defaultMigrations()
	}
	if o.commit == nil {
		o.commit = (*bolt.Tx).Commit
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("store: open %s: %w", o.Path, err)
	}
	db, err := bolt.Open(o.Path, 0o600, &bolt.Options{
		Timeout: o.OpenTimeout,
		// The freelist is rebuilt by scanning at open instead of being
		// written by every commit: one write less per group commit.
		NoFreelistSync:  true,
		FreelistType:    bolt.FreelistMapType,
		InitialMmapSize: o.InitialMmapSize,
		MaxSize:         o.MaxSize,
	})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("store: open %s: gave up after %s: %w", o.Path, o.OpenTimeout, ErrLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", o.Path, err)
	}
	l := &Log{
		db:        db,
		log:       o.Logger.With("db", o.Path),
		now:       o.Now,
		observe:   o.ObserveCommit,
		maxBatch:  o.MaxBatch,
		maxRec:    o.MaxRecordSize,
		keep:      o.KeepSnapshots,
		queue:     make(chan *request, o.MaxBatch),
		stopped:   make(chan struct{}),
		batch:     make([]*request, 0, 256),
		maxYields: defaultMaxYields,
		commitTx:  o.commit,
	}
	l.reqs.New = func() any { return &request{done: make(chan struct{}, 1)} }

	// The marker of a commit that failed is read under the file's lock,
	// and removed only once the records it names are gone for good.
	refused, err := readRefused(o.Path)
	var from, dropped int
	if err == nil {
		err = db.Update(func(tx *bolt.Tx) error {
			var err error
			if from, l.version, err = migrate(tx, o.migrations); err != nil || refused == 0 {
				return err
			}
			dropped, err = dropFrom(tx, refused)
			return err
		})
	}
	if err == nil && refused > 0 {
		err = removeRefused(o.Path)
	}
	if err == nil {
		err = l.loadLast()
	}
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("store: open %s: %w", o.Path, err)
	}
	if from != l.version {
		l.log.Info("store: schema migrated", "from", from, "to", l.version)
	}
	if refused > 0 {
		l.log.Warn("store: dropped the records of a commit that failed", "from_seq", refused, "records", dropped)
	}
	l.log.Debug("store: opened", "schema", l.version, "lastSeq", l.LastSeq())
	go l.run()
	return l, nil
}

// loadLast initialises the in-memory sequence counter from the last key.
//
// The counter lives in memory instead of coming from bbolt's NextSequence:
// the committer has to know every request's first sequence before it writes
// (to hand it back and to call applied in order), and a plain counter does
// that without a bucket call per record. The keys themselves stay the only
// truth: the counter is re-read from them at open and after a failed commit,
// so it can never drift from what is on disk.
func (l *Log) loadLast() error {
	return l.db.View(func(tx *bolt.Tx) error {
		b, err := eventsBucket(tx)
		if err != nil {
			return err
		}
		var last uint64
		if k, _ := b.Cursor().Last(); k != nil {
			if len(k) != 8 {
				return fmt.Errorf("event key of %d bytes: %w", len(k), ErrCorrupt)
			}
			last = binary.BigEndian.Uint64(k)
		}
		l.next = last + 1
		l.last.Store(last)
		return nil
	})
}

// Close waits for every queued Append to be committed and acknowledged, stops
// the committer and closes the file. Appends that arrive afterwards fail with
// ErrClosed. It is safe to call more than once; it must not be called from an
// applied callback.
func (l *Log) Close() error {
	l.closeOnce.Do(func() {
		l.mu.Lock()
		l.closed = true
		close(l.queue)
		l.mu.Unlock()
		<-l.stopped
		var errs []error
		l.wmu.Lock()
		if l.markLater {
			if err := writeRefused(l.db.Path(), l.refused); err != nil {
				l.log.Error("store: the records of the failed commit are still not marked as refused: if it reached the disk they would count after a restart",
					"from_seq", l.refused, "err", err)
				errs = append(errs, err)
			}
		}
		l.wmu.Unlock()
		if err := l.db.Close(); err != nil {
			errs = append(errs, err)
		}
		if err := errors.Join(errs...); err != nil {
			l.closeErr = fmt.Errorf("store: close: %w", err)
		}
	})
	return l.closeErr
}

func (l *Log) isClosed() bool {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.closed
}

// LastSeq is the sequence of the last durable record, 0 for an empty log.
func (l *Log) LastSeq() uint64 { return l.last.Load() }

// SchemaVersion is the schema version of the open file.
func (l *Log) SchemaVersion() int { return l.version }

// Stats returns the committer's counters.
func (l *Log) Stats() Stats {
	return Stats{Commits: l.commits.Load(), Records: l.records.Load(), Failed: l.failed.Load()}
}

// PutMeta stores val under key, durably on return. Meta writes take bbolt's
// writer lock between two group commits; they are meant to be rare.
func (l *Log) PutMeta(ctx context.Context, key string, val []byte) error {
	if key == "" || len(key) > bolt.MaxKeySize {
		return fmt.Errorf("store: put meta: key of %d bytes: %w", len(key), ErrInvalid)
	}
	if err := l.update(ctx, func(tx *bolt.Tx) error {
		b, err := subBucket(tx, bucketMeta)
		if err != nil {
			return err
		}
		return b.Put([]byte(key), val)
	}); err != nil {
		return fmt.Errorf("store: put meta %q: %w", key, err)
	}
	return nil
}

// Meta returns a copy of the value stored under key.
func (l *Log) Meta(key string) ([]byte, bool, error) {
	var out []byte
	var ok bool
	err := l.view(func(tx *bolt.Tx) error {
		b, err := subBucket(tx, bucketMeta)
		if err != nil {
			return err
		}
		// A cursor rather than Get, which cannot tell an empty value from
		// a missing key.
		k, v := b.Cursor().Seek([]byte(key))
		if k != nil && string(k) == key {
			out, ok = append([]byte{}, v...), true
		}
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("store: meta %q: %w", key, err)
	}
	return out, ok, nil
}

// PutSnapshot stores a fold state covering the events up to and including
// seq, durably on return, and drops all but the newest Options.KeepSnapshots.
// seq must not be beyond LastSeq: a state cannot cover events the log lacks.
func (l *Log) PutSnapshot(ctx context.Context, seq uint64, data []byte) error {
	if last := l.LastSeq(); seq > last {
		return fmt.Errorf("store: put snapshot: seq %d beyond last %d: %w", seq, last, ErrInvalid)
	}
	if err := l.update(ctx, func(tx *bolt.Tx) error {
		b, err := subBucket(tx, bucketSnapshots)
		if err != nil {
			return err
		}
		var k [8]byte
		binary.BigEndian.PutUint64(k[:], seq)
		if err := b.Put(k[:], data); err != nil {
			return err
		}
		// Keys are collected first: deleting under a moving cursor can skip
		// entries.
		var old [][]byte
		c := b.Cursor()
		n := 0
		for k, _ := c.Last(); k != nil; k, _ = c.Prev() {
			if n++; n > l.keep {
				old = append(old, append([]byte{}, k...))
			}
		}
		for _, k := range old {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return fmt.Errorf("store: put snapshot at %d: %w", seq, err)
	}
	return nil
}

// LatestSnapshot returns a copy of the snapshot with the highest seq.
func (l *Log) LatestSnapshot() (seq uint64, data []byte, ok bool, err error) {
	err = l.view(func(tx *bolt.Tx) error {
		b, err := subBucket(tx, bucketSnapshots)
		if err != nil {
			return err
		}
		k, v := b.Cursor().Last()
		if k == nil {
			return nil
		}
		if len(k) != 8 {
			return fmt.Errorf("snapshot key of %d bytes: %w", len(k), ErrCorrupt)
		}
		seq, data, ok = binary.BigEndian.Uint64(k), append([]byte{}, v...), true
		return nil
	})
	if err != nil {
		return 0, nil, false, fmt.Errorf("store: latest snapshot: %w", err)
	}
	return seq, data, ok, nil
}

// update runs fn in its own durable write transaction.
func (l *Log) update(ctx context.Context, fn func(tx *bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if l.isClosed() {
		return ErrClosed
	}
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if l.broken != nil {
		return l.broken
	}
	tx, err := l.db.Begin(true)
	if err != nil {
		return mapErr(err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return mapErr(err)
	}
	if err := l.commitTx(tx); err != nil {
		_ = tx.Rollback()
		if uncertain(err) {
			// No event was refused, but what comes next must not be
			// built on a transaction that may or may not be there.
			l.broken = fmt.Errorf("%w: %w", ErrFailed, err)
			l.failed.Add(1)
			l.log.Error("store: commit failed; no more writes until the log is reopened", "err", err)
			return l.broken
		}
		return mapErr(err)
	}
	return nil
}

// uncertain reports whether a failed commit may have left anything in the
// file. bbolt gives up on a transaction that would outgrow MaxSize while
// allocating its pages, before it writes any; every other failure of
// Commit may come after it wrote the meta page, which then stays in the
// page cache, where this process and the next one read it, even when its
// fsync failed.
func uncertain(commitErr error) bool {
	return !errors.Is(commitErr, berrors.ErrMaxSizeReached)
}

func (l *Log) view(fn func(tx *bolt.Tx) error) error {
	if l.isClosed() {
		return ErrClosed
	}
	return mapErr(l.db.View(fn))
}

// mapErr turns bbolt's errors that callers may want to act on into ours,
// keeping bbolt's in the chain.
func mapErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, berrors.ErrDatabaseNotOpen):
		return fmt.Errorf("%w: %w", ErrClosed, err)
	case errors.Is(err, berrors.ErrMaxSizeReached):
		return fmt.Errorf("%w: %w", ErrFull, err)
	}
	return err
}

func subBucket(tx *bolt.Tx, name []byte) (*bolt.Bucket, error) {
	root := tx.Bucket(bucketRoot)
	if root == nil {
		return nil, fmt.Errorf("bucket %s missing: %w", bucketRoot, ErrCorrupt)
	}
	b := root.Bucket(name)
	if b == nil {
		return nil, fmt.Errorf("bucket %s/%s missing: %w", bucketRoot, name, ErrCorrupt)
	}
	return b, nil
}

func eventsBucket(tx *bolt.Tx) (*bolt.Bucket, error) { return subBucket(tx, bucketEvents) }
