package consumeroffsets

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/maelstrom-offsets/offsets/compactor"
	"github.com/maelstrom-offsets/offsets/log"
)

// ErrFailed reports that a write or fsync failed: nothing staged since the
// last Flush was applied, and the store refuses writes until it is reopened.
var ErrFailed = errors.New("consumeroffsets: log write failed")

// Options configures Open.
type Options struct {
	// NoSync skips every fsync. Unsafe: see log.Options.NoSync.
	NoSync bool
	// SegmentSize is the log's segment size; zero means the log's default.
	SegmentSize int
	// Logger receives the log's repair lines. Nil means slog.Default().
	Logger *slog.Logger
	// Now is the clock for commit timestamps. Nil means time.Now.
	Now func() time.Time

	// CompactDirtyRatio starts a background compaction when the share of
	// superseded record bytes in the log reaches it (Kafka's
	// min.cleanable.dirty.ratio) and the log holds at least CompactMinBytes.
	// Zero CompactMinBytes means 64 MiB; a negative one turns automatic
	// compaction off.
	CompactDirtyRatio float64
	CompactMinBytes   int64
	// TombstoneRetention is how long compaction keeps a tombstone (Kafka's
	// delete.retention.ms). Zero means DefaultTombstoneRetention.
	TombstoneRetention time.Duration
	// OffsetsRetention expires the offsets of a group whose newest commit is
	// older than this (Kafka's offsets.retention.minutes). Zero turns expiry
	// off.
	OffsetsRetention time.Duration
}

// Defaults for Options.
const (
	DefaultCompactDirtyRatio  = 0.5
	DefaultCompactMinBytes    = 64 << 20
	DefaultTombstoneRetention = 24 * time.Hour
	DefaultOffsetsRetention   = 7 * 24 * time.Hour
)

// RecoveryStats describes the replay Open did.
type RecoveryStats struct {
	Records  uint64        // records applied
	Entries  uint64        // log entries read
	Bytes    int64         // bytes of log read
	Keys     int           // live keys after replay
	Duration time.Duration // time to replay
}

// Store is the consumer-group offset store: the State of a write-ahead log
// that every change goes to first. It is not safe for concurrent use.
//
// Changes are staged by Commit and made durable together by Flush (group
// commit): callers answer the requests of a batch only after Flush returns
// nil. Reads see staged changes; if Flush fails they are rolled back.
type Store struct {
	log     wal
	st      *State
	now     func() time.Time
	batch   log.Batch
	scratch []byte
	undo    []undo // the state's journal of the staged batch
	saved   counts // the state's counts before the staged batch
	nowMs   int64  // timestamp of the batch being staged, 0 when none
	synced  uint64 // index of the last durable entry

	opts       Options
	logger     *slog.Logger
	compacting bool
	compacted  chan *compaction // a finished background compaction
	nextTry    int64            // record bytes below which no compaction is tried after a failure
	failed     error
}

// wal is what the store needs of its log; *log.Log implements it, and tests
// put a failing one in its place.
type wal interface {
	Append(*log.Batch) (uint64, error)
	Sync() error
	Replay(from uint64, fn func(uint64, log.Record) error) (log.ReplayStats, error)
	Close() error
	compactor.Log
}

// Open opens (creating if needed) the store whose log lives in dir and
// rebuilds the index by replaying the log.
func Open(dir string, opts Options) (*Store, RecoveryStats, error) {
	var rs RecoveryStats
	l, err := log.Open(dir, log.Options{NoSync: opts.NoSync, SegmentSize: opts.SegmentSize, Logger: opts.Logger})
	if err != nil {
		return nil, rs, err
	}
	s, rs, err := openWal(l, opts)
	if err != nil {
		l.Close()
		return nil, rs, fmt.Errorf("consumeroffsets: replay %s: %w", dir, err)
	}
	return s, rs, nil
}

// openWal builds a store over an open log by replaying it.
func openWal(l wal, opts Options) (*Store, RecoveryStats, error) {
	if opts.CompactDirtyRatio == 0 {
		opts.CompactDirtyRatio = DefaultCompactDirtyRatio
	}
	if opts.CompactMinBytes == 0 {
		opts.CompactMinBytes = DefaultCompactMinBytes
	}
	if opts.TombstoneRetention == 0 {
		opts.TombstoneRetention = DefaultTombstoneRetention
	}
	s := &Store{log: l, st: NewState(), now: opts.Now, opts: opts, logger: opts.Logger,
		compacted: make(chan *compaction, 1)}
	if s.now == nil {
		s.now = time.Now
	}
	if s.logger == nil {
		s.logger = slog.Default()
	}
	start := time.Now()
	rp := replayer{s: s.st}
	st, err := l.Replay(1, rp.apply)
	if err != nil {
		return nil, RecoveryStats{}, err
	}
	rp.done()
	s.synced = st.Last
	s.st.index = st.Last
	s.st.journal = &s.undo
	return s, RecoveryStats{Records: st.Records, Entries: st.Entries, Bytes: st.Bytes, Keys: s.st.Keys(), Duration: time.Since(start)}, nil
}

// Pending is the number of staged records not yet flushed.
func (s *Store) Pending() int { return s.batch.Len() }

// Flush writes every staged record as one log entry and fsyncs it. On
// failure the staged changes are rolled back out of the index and the store
// refuses later writes with ErrFailed: what reached the disk is known only
// after a reopen, and no reply may claim it.
func (s *Store) Flush() error {
	if s.batch.Len() == 0 {
		return s.failed
	}
	idx, err := s.log.Append(&s.batch)
	if err == nil {
		err = s.log.Sync()
	}
	if err != nil {
		s.rollback()
		s.failed = fmt.Errorf("%w: %v", ErrFailed, err)
		return s.failed
	}
	s.synced = idx
	s.st.index = idx
	s.reset()
	s.pollCompaction()
	s.maybeCompact()
	return nil
}

func (s *Store) reset() {
	s.batch.Reset()
	s.undo = s.undo[:0]
	s.nowMs = 0
}

// Keys is the number of live offset keys.
func (s *Store) Keys() int { return s.st.Keys() }

// State is the store's state, staged changes included. It is the store's
// own: read it on the store's goroutine only, and change it only through
// the store (a Snapshot of it may be read anywhere).
func (s *Store) State() *State { return s.st }

// DirtyRatio is State.DirtyRatio: the share of the log's record bytes that
// a compaction now would drop.
func (s *Store) DirtyRatio() float64 { return s.st.DirtyRatio() }

// Close flushes nothing: staged changes that were not flushed are dropped,
// since no reply acknowledged them. It waits for a running compaction,
// then syncs and closes the log.
func (s *Store) Close() error {
	s.rollback()
	if s.compacting {
		s.finishCompaction(<-s.compacted)
	}
	return s.log.Close()
}
