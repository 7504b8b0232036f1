// Package compactor rewrites an offsets log so that it holds one record per
// live key, the way Kafka's log cleaner compacts __consumer_offsets and
// Redis rewrites its append-only file.
//
// A compaction through log index N reads the log up to N (the newest
// checkpoint, then the wal), keeps the latest record of every key in log
// order (the result is a subsequence of the log), drops a
// key whose latest record is a tombstone older than the tombstone retention,
// writes the survivors as checkpoint N in the log's own format, sealed with
// a record of what it holds, and then has the log read it back against the
// seal and only then release the wal entries up to N. The reading and writing need no
// lock: entries up to N never change, so a node keeps appending and serving
// meanwhile. The only pause is log.Log.ReleaseThrough: tidwall rewrites the
// rest of the segment holding index N+1 (at most one segment) and unlinks
// the segments before it, so the pause grows with the number of segments
// released, not with the bytes in them (about 5 ms for a 30 MiB log and
// 20-30 ms for a 300 MiB one on the project's machine; see bench/). The exact order of writes, fsyncs and renames, and what a
// crash after each step leaves, is documented in the log package
// (checkpoint.go); every step has a crash test here.
//
// What a record means is not this package's business: a Keyer says which
// key a record belongs to and whether it is a tombstone.
package compactor

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/maelstrom-offsets/offsets/log"
)

// Keyer tells the compactor what records mean.
type Keyer interface {
	// Classify returns the key a record belongs to (records with equal keys
	// supersede each other in log order), whether it is a tombstone, and the
	// time it was written. key may alias r.Data.
	Classify(r log.Record) (key []byte, tombstone bool, at time.Time, err error)
}

// Options configures a compaction.
type Options struct {
	// TombstoneRetention is how long a tombstone is kept after its write
	// before it is dropped with its key (Kafka's delete.retention.ms).
	TombstoneRetention time.Duration
	// Now is the clock tombstone ages are taken from. Nil means time.Now.
	Now func() time.Time
	// SegmentSize is the checkpoint's segment size; 0 means the log default.
	SegmentSize int
	// KeysHint is the number of keys the log is expected to hold, to size
	// the compaction's tables up front; 0 lets them grow.
	KeysHint int
	// Hook, when set, is called at each step of the file protocol with the
	// step's name; an error stops the compaction right there, leaving the
	// files as a crash would. Tests only.
	Hook func(step string) error
}

// Stats describes one compaction. The caller logs it.
type Stats struct {
	Through            uint64        // log index the compaction covers
	RecordsBefore      uint64        // records read up to Through
	RecordsKept        uint64        // records written to the checkpoint
	TombstonesKept     uint64        // of which tombstones within retention
	TombstoneBytesKept int64         // their record bytes
	BytesBefore        int64         // bytes of the checkpoint and segments read
	BytesAfter         int64         // bytes of the new checkpoint
	RecordBytes        int64         // record bytes read (payload framing included)
	KeptBytes          int64         // record bytes written
	Duration           time.Duration // whole compaction
	Pause              time.Duration // time the log was held from appends
}

// RecordsDropped is the number of records the compaction removed.
func (s Stats) RecordsDropped() uint64 { return s.RecordsBefore - s.RecordsKept }

// ErrStopped is returned when Options.Hook stopped a compaction.
var ErrStopped = errors.New("compactor: stopped by hook")

// slot is the latest record of one key. There is one per key, so it is
// kept small: the time as Unix milliseconds, the data in an arena.
type slot struct {
	pos       uint64 // place of the record in the log, counted in records
	at        int64  // Unix milliseconds
	data      []byte
	typ       log.RecordType
	tombstone bool
}

// arena hands out byte slices from large chunks, so that a million keys'
// records cost a few allocations rather than a million.
type arena struct{ chunk []byte }

const arenaChunk = 1 << 20

func (a *arena) copy(b []byte) []byte {
	if len(b) > arenaChunk/8 {
		return append([]byte(nil), b...)
	}
	if cap(a.chunk)-len(a.chunk) < len(b) {
		a.chunk = make([]byte, 0, arenaChunk)
	}
	n := len(a.chunk)
	a.chunk = append(a.chunk, b...)
	return a.chunk[n : n+len(b) : n+len(b)]
}

// Log is what a compaction needs of an open log; *log.Log implements it.
type Log interface {
	Dir() string
	ReleaseThrough(n uint64, hook func(step string) error) (time.Duration, error)
}

// Compact compacts the open log l through index through, which must be
// durable (synced). It may run concurrently with appends to l. A log whose
// newest checkpoint already covers through is left as it is, unless that
// checkpoint has no seal: then it is rewritten as a sealed one.
func Compact(l Log, through uint64, k Keyer, opts Options) (Stats, error) {
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
		return st, nil
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	hook := func(step string) error {
		if opts.Hook != nil {
			if err := opts.Hook(step); err != nil {
				return fmt.Errorf("%w at %s: %v", ErrStopped, step, err)
			}
		}
		return nil
	}

	// Latest record per key. The output keeps those records in their log
	// order, so that the compacted log is a subsequence of the log and
	// replays to the same state even where a record's meaning depends on
	// what came before it (a group tombstone clears the group's offsets).
	index := make(map[string]int, opts.KeysHint)
	slots := make([]slot, 0, opts.KeysHint)
	var mem arena
	// One goroutine: a compaction must not take both cores from the node.
	rst, err := log.ReplaySerial(l.Dir(), 1, through, func(_ uint64, r log.Record) error {
		key, tomb, at, err := k.Classify(r)
		if err != nil {
			return err
		}
		st.RecordsBefore++
		st.RecordBytes += int64(r.Size())
		s := slot{pos: st.RecordsBefore, typ: r.Type, tombstone: tomb, at: at.UnixMilli()}
		if i, ok := index[string(key)]; ok {
			if old := slots[i].data; cap(old) >= len(r.Data) {
				s.data = append(old[:0], r.Data...)
			} else {
				s.data = mem.copy(r.Data)
			}
			slots[i] = s
		} else {
			s.data = mem.copy(r.Data)
			index[string(key)] = len(slots)
			slots = append(slots, s)
		}
		return nil
	})
	if err != nil {
		return st, fmt.Errorf("compactor: read log through %d: %w", through, err)
	}
	st.BytesBefore = rst.Bytes

	slices.SortFunc(slots, func(a, b slot) int { return cmp.Compare(a.pos, b.pos) })

	cw, err := log.CreateCheckpoint(l.Dir(), through, opts.SegmentSize)
	if err != nil {
		return st, err
	}
	cw.Hook = hook
	horizon := opts.Now().Add(-opts.TombstoneRetention).UnixMilli()
	for _, s := range slots {
		if s.tombstone {
			if s.at <= horizon {
				continue
			}
			st.TombstonesKept++
			st.TombstoneBytesKept += int64(log.Record{Type: s.typ, Data: s.data}.Size())
		}
		if err := cw.Add(s.typ, s.data); err != nil {
			cw.Abort()
			return st, err
		}
		st.RecordsKept++
		st.KeptBytes += int64(log.Record{Type: s.typ, Data: s.data}.Size())
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

// CompactDir compacts the log in dir offline, through its last entry. It
// takes the log's lock, so it fails with log.ErrLocked while a node holds
// the directory.
func CompactDir(dir string, k Keyer, opts Options) (Stats, error) {
	l, err := log.Open(dir, log.Options{SegmentSize: opts.SegmentSize})
	if err != nil {
		return Stats{}, err
	}
	st, err := Compact(l, l.LastIndex(), k, opts)
	if cerr := l.Close(); err == nil {
		err = cerr
	}
	return st, err
}
