// Package compactor writes an offsets log's checkpoint and releases the
// history it replaces, the way Kafka's log cleaner compacts
// __consumer_offsets and Redis rewrites its append-only file from its
// in-memory data.
//
// A compaction through log index N writes a Source (the live records as of
// N: consumeroffsets hands in a snapshot of its state, taken on the serving
// goroutine in microseconds: 4-5 us at 10^6 keys in BenchmarkCompact, 8-30
// us in the bench suite's runs under load) as checkpoint N in the log's own
// format, sealed with a record of what it holds, and then has the log read
// the checkpoint back against the seal and only then release the wal
// entries up to N. It never reads the log, so its cost follows the live
// keys, not the history behind them. The writing needs no lock: the
// checkpoint is a new directory, and entries up to N never change, so a
// node keeps appending and serving meanwhile. Besides the snapshot, the
// only pause is log.Log.ReleaseThrough's hold of the log: tidwall rewrites
// the rest of the segment holding index N+1 (at most one segment) and
// unlinks the segments before it, which were emptied beforehand without
// holding the log (1.0-1.3 ms for a 39 MiB log of 10^6 records,
// BenchmarkCompact's pause-ms on the project's 2-core machine under load;
// the bench suite's compaction-latency section reports it per compaction).
// The exact order of writes, fsyncs and renames, and what a crash after
// each step leaves, is documented in the log package (checkpoint.go); every
// step has a crash test here.
//
// What a record means is not this package's business: the Source says
// which records are live.
package compactor

import (
	"errors"
	"fmt"
	"time"

	"github.com/maelstrom-offsets/offsets/log"
)

// Options configures a compaction.
type Options struct {
	// SegmentSize is the checkpoint's segment size; 0 means the log default.
	SegmentSize int
	// Hook, when set, is called at each step of the file protocol with the
	// step's name; an error stops the compaction right there, leaving the
	// files as a crash would. Tests only.
	Hook func(step string) error
}

// Stats describes one compaction. The caller logs it.
type Stats struct {
	Through            uint64        // log index the compaction covers
	RecordsBefore      uint64        // records in the log up to Through (the caller's count)
	RecordsKept        uint64        // records written to the checkpoint
	TombstonesKept     uint64        // of which tombstones within retention (the caller's count)
	TombstoneBytesKept int64         // their record bytes
	BytesBefore        int64         // bytes of the log on disk (log.Size) before
	BytesAfter         int64         // bytes of the new checkpoint
	RecordBytes        int64         // record bytes in the log up to Through (the caller's count)
	KeptBytes          int64         // record bytes written
	Duration           time.Duration // whole compaction, from the snapshot to the release
	Snapshot           time.Duration // the caller's pause to take the snapshot written
	Pause              time.Duration // time the log was held from appends
	// Skipped is set when nothing was written: through was 0, or the
	// newest checkpoint already covered it (and is sealed).
	Skipped bool
}

// RecordsDropped is the number of records the compaction removed.
func (s Stats) RecordsDropped() uint64 { return s.RecordsBefore - s.RecordsKept }

// ErrStopped is returned when Options.Hook stopped a compaction.
var ErrStopped = errors.New("compactor: stopped by hook")

// Log is what a compaction needs of an open log; *log.Log implements it.
type Log interface {
	Dir() string
	ReleaseThrough(n uint64, hook func(step string) error) (time.Duration, error)
}

// Checkpointer is implemented by a Log that creates its checkpoints
// itself: a cluster member's raft storage (raftlog.Storage.CreateSnapshot)
// puts the snapshot's raft metadata in each one, and its ReleaseThrough
// compacts the raft log behind it. Write then calls CreateCheckpoint where
// it would call log.CreateCheckpoint on l's directory; the rest of the
// compaction is the same.
type Checkpointer interface {
	CreateCheckpoint(through uint64, segmentSize int) (*log.CheckpointWriter, error)
}

// Source is the content of a checkpoint.
type Source interface {
	// Records calls fn for every live record as of the checkpoint's index,
	// in an order that replays to the same state, and stops at fn's first
	// error, returning it. data is valid only during the call.
	Records(fn func(t log.RecordType, data []byte) error) error
}

// Write writes src as the checkpoint of the open log l at index through,
// which must be durable (synced), and then releases the wal's entries up to
// it (a Log that is a Checkpointer creates the checkpoint itself). It may
// run concurrently with appends to l. A log whose newest
// checkpoint already covers through is left as it is, and src is not read,
// unless that checkpoint has no seal: then it is rewritten as a sealed one.
func Write(l Log, through uint64, src Source, opts Options) (Stats, error) {
	start := time.Now()
	st := Stats{Through: through}
	ck, ok, err := log.CheckpointIndex(l.Dir())
	if err != nil {
		return st, err
	}
	unsealed, err := log.CheckpointUnsealed(l.Dir())
	if err != nil {
		return st, err
	}
	// A checkpoint from before seals is rewritten sealed even with nothing
	// new after it.
	if through == 0 || (ok && (through < ck || through == ck && !unsealed)) {
		st.Skipped = true
		return st, nil
	}
	hook := func(step string) error {
		if opts.Hook != nil {
			if err := opts.Hook(step); err != nil {
				return fmt.Errorf("%w at %s: %v", ErrStopped, step, err)
			}
		}
		return nil
	}
	if st.BytesBefore, err = log.Size(l.Dir()); err != nil {
		return st, err
	}
	var cw *log.CheckpointWriter
	if c, ok := l.(Checkpointer); ok {
		cw, err = c.CreateCheckpoint(through, opts.SegmentSize)
	} else {
		cw, err = log.CreateCheckpoint(l.Dir(), through, opts.SegmentSize)
	}
	if err != nil {
		return st, err
	}
	cw.Hook = hook
	err = src.Records(func(t log.RecordType, data []byte) error {
		st.RecordsKept++
		st.KeptBytes += int64(log.Record{Type: t, Data: data}.Size())
		return cw.Add(t, data)
	})
	if err != nil {
		cw.Abort()
		return st, err
	}
	if st.BytesAfter, err = cw.Commit(); err != nil {
		if !errors.Is(err, ErrStopped) {
			cw.Abort()
		}
		return st, err
	}
	if err := hook("checkpoint-durable"); err != nil {
		return st, err
	}
	st.Pause, err = l.ReleaseThrough(through, hook)
	st.Duration = time.Since(start)
	if err != nil {
		return st, fmt.Errorf("compactor: release log through %d: %w", through, err)
	}
	return st, nil
}
