package store

import (
	"context"
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Iteration reads the log in chunks of at most this many records or bytes
// per read transaction.
const (
	iterChunkRecords = 4096
	iterChunkBytes   = 1 << 20
)

// Iterate calls fn for every record with seq >= from, in order, up to the
// LastSeq at the time of the call (records appended meanwhile are not
// visited, so a busy log cannot keep it going forever).
//
// rec is only valid during the call to fn: its memory is reused for the next
// records. Copy it if it must be kept.
//
// Records are copied out of the file in chunks, one short read transaction
// per chunk, and fn runs outside any transaction: a long replay neither pins
// old pages nor blocks the committer when the file must be remapped, and fn
// may call Append. An error from fn stops the iteration and is returned as it
// is; ctx is checked between chunks.
func (l *Log) Iterate(ctx context.Context, from uint64, fn func(seq uint64, rec []byte) error) error {
	end := l.LastSeq()
	if from == 0 {
		from = 1
	}
	var (
		arena []byte   // the chunk's records, back to back
		seqs  []uint64 // their sequences
		ends  []int    // where each ends in arena
		key   [8]byte
	)
	for from <= end {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("store: iterate from %d: %w", from, err)
		}
		arena, seqs, ends = arena[:0], seqs[:0], ends[:0]
		err := l.view(func(tx *bolt.Tx) error {
			b, err := eventsBucket(tx)
			if err != nil {
				return err
			}
			c := b.Cursor()
			binary.BigEndian.PutUint64(key[:], from)
			for k, v := c.Seek(key[:]); k != nil; k, v = c.Next() {
				if len(k) != 8 {
					return fmt.Errorf("event key of %d bytes: %w", len(k), ErrCorrupt)
				}
				seq := binary.BigEndian.Uint64(k)
				if seq > end {
					break
				}
				arena = append(arena, v...)
				seqs = append(seqs, seq)
				ends = append(ends, len(arena))
				if len(seqs) >= iterChunkRecords || len(arena) >= iterChunkBytes {
					break
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("store: iterate from %d: %w", from, err)
		}
		if len(seqs) == 0 {
			return nil
		}
		start := 0
		for i, seq := range seqs {
			// The capacity limit keeps an append by fn from running into
			// the next record.
			if err := fn(seq, arena[start:ends[i]:ends[i]]); err != nil {
				return err
			}
			start = ends[i]
		}
		from = seqs[len(seqs)-1] + 1
	}
	return nil
}
