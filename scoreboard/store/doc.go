// Package store is the exercise's durable, append-only event log, kept in one
// bbolt file per exercise (<data>/exercise.db).
//
// It stores opaque records: what an event means and how it is encoded belongs
// to the scoreboard package, never to this one. Everything that changes the
// game is appended here first and acknowledged only once it is on disk, so the
// standings can always be rebuilt, bit for bit, by folding the log.
//
// # Bucket tree
//
//	v1/                       layout generation; an incompatible layout would get a new root
//	  schema    -> uint64     big-endian schema version, see migrations below
//	  meta/                   small key/value: exercise id, scenario, created time...
//	    <key>   -> <bytes>
//	  events/                 the log itself
//	    <seq>   -> <record>   seq: 8-byte big-endian, starting at 1, strictly rising, no gaps
//	  snapshots/              (schema 2) serialized fold states, newest few kept
//	    <seq>   -> <state>    seq: 8-byte big-endian, the last event the state covers
//
// # Schema versions
//
// The schema version lives in v1/schema and is advanced by an ordered list of
// migrations, each one function on a write transaction. Open runs the missing
// ones and records the new version in the same transaction, so a migration
// either happens completely or not at all. Version 1 creates v1, v1/meta and
// v1/events; version 2 adds v1/snapshots. A file written by a newer program
// (a higher version than this package knows) is refused with ErrNewerSchema
// rather than being read with the wrong assumptions.
//
// # Writes
//
// Appends go through a single committer goroutine that takes everything
// waiting, writes it in one transaction and commits it with an fsync (group
// commit). One fsync then acknowledges many records, which is what makes tens
// of thousands of durable appends per second possible; bbolt's own DB.Batch
// waits up to 10 ms to gather a batch and is too slow for that.
//
// # A commit that fails
//
// What an Append was told failed must never count, and what it was told
// succeeded must never be lost. A failed fsync breaks the first half on its
// own: bbolt writes the data pages, syncs, writes the meta page and syncs
// again, and when that last fsync fails the meta page is already in the page
// cache, where this process and the next one read it. The commit is then in
// the file, though its callers were told it failed, and the next commit,
// built on it, would make it durable. So after such a failure the log takes
// no more writes (ErrFailed) and, before the callers hear of it, writes
// beside the file a marker, <path>.refused, holding the first sequence of
// that commit (synced, then renamed into place). Open reads the marker under
// the file's lock, deletes every event from that sequence on in the same
// transaction as the migrations, and only then removes the marker, so a
// crash anywhere in between repeats the deletion and never loses a newer
// record. Everything before that sequence was committed by fsyncs that
// succeeded. Only commits that would outgrow MaxSize (ErrFull) fail before
// bbolt writes anything, and leave the log writable.
//
// If even the marker cannot be written, Close tries again; if it still
// cannot, the log says so at error level with the sequence: the disk then
// refuses both the file and a few bytes beside it, and the records of the
// failed commit would count after a restart if they reached it.
//
// This package must never import the scoreboard domain package, echo or the
// Docker SDK, and it is the only package of the project allowed to import
// bbolt.
package store
