package consumeroffsets

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/maelstrom-offsets/offsets/compactor"
	"github.com/maelstrom-offsets/offsets/log"
)

var (
	// ErrFailed reports that a write or fsync failed for a reason other
	// than a full disk: nothing staged since the last Flush was applied
	// to the state, and the store refuses writes until it is reopened
	// (after a failed fsync the page cache cannot be trusted). Reads go
	// on. The entry whose fsync failed stays in the log's file, and may
	// be replayed by the reopening: its outcome is unknown.
	ErrFailed = errors.New("consumeroffsets: log write failed, writes are refused until a restart")
	// ErrNoSpace reports a Flush that found the disk full (ENOSPC, EDQUOT):
	// nothing staged since the last Flush was applied or left in the log,
	// and the next Flush after RetryBackoff writes again.
	ErrNoSpace = errors.New("consumeroffsets: disk full, writes are retried")
)

// RetryBackoff is how long Flush refuses writes, without trying, after a
// write first fails for want of room; after it, every Flush tries.
const RetryBackoff = 100 * time.Millisecond

// compactRetry is how long after a compaction failed for want of room the
// next one may start.
const compactRetry = 10 * time.Second

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

	// MaxKeys, MaxGroups and MaxNameBytes (of a group or topic name) bound
	// what the store holds: a change past one fails with ErrLimit. Zero
	// means the Default.
	MaxKeys, MaxGroups, MaxNameBytes int
	// Observer receives measurements (the metrics package's); may be nil.
	Observer Observer
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
	log         wal
	st          *State
	now         func() time.Time
	scratch     []byte
	synced      uint64 // index of the last durable entry
	groupCommit        // the staged batch, its write and its outcome

	opts       Options
	logger     *slog.Logger
	compacting bool
	compacted  chan *compaction // a finished background compaction
	nextTry    int64            // record bytes below which no compaction is tried after a failure
	// After a compaction failed for want of room: none before compactAfter,
	// and the next one first finishes releasing the wal (see compact).
	compactAfter time.Time
	releaseFirst bool
}

// wal is what the store needs of its log; *log.Log implements it, and tests
// put a failing one in its place.
type wal interface {
	appender
	Replay(from uint64, fn func(uint64, log.Record) error) (log.ReplayStats, error)
	Close() error
	compactor.Log
}

// Open opens (creating if needed) the store whose log lives in dir and
// rebuilds the index by replaying the log.
func Open(dir string, opts Options) (*Store, RecoveryStats, error) {
	var rs RecoveryStats
	l, err := log.Open(dir, log.Options{NoSync: opts.NoSync, SegmentSize: opts.SegmentSize, Preallocate: true, Logger: opts.Logger})
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
	opts.MaxKeys = cmp.Or(opts.MaxKeys, DefaultMaxKeys)
	opts.MaxGroups = cmp.Or(opts.MaxGroups, DefaultMaxGroups)
	opts.MaxNameBytes = cmp.Or(opts.MaxNameBytes, DefaultMaxNameBytes)
	s := &Store{log: l, st: NewState(), now: opts.Now, opts: opts, logger: opts.Logger,
		compacted: make(chan *compaction, 1), groupCommit: groupCommit{backoff: RetryBackoff}}
	if s.now == nil {
		s.now = time.Now
	}
	if s.logger == nil {
		s.logger = slog.Default()
	}
	start := time.Now()
	rp := s.st.Replayer()
	st, err := l.Replay(1, rp.Apply)
	if err != nil {
		return nil, RecoveryStats{}, err
	}
	rp.Done()
	s.synced = st.Last
	s.st.index = st.Last
	s.st.journal = &s.undo
	rs := RecoveryStats{Records: st.Records, Entries: st.Entries, Bytes: st.Bytes, Keys: s.st.Keys(), Duration: time.Since(start)}
	s.warnOverLimits()
	if opts.Observer != nil {
		opts.Observer.Recovered(rs, s.size())
	}
	return s, rs, nil
}

// Pending is the number of staged records not yet flushed.
func (s *Store) Pending() int { return s.batch.Len() }

// Flush writes every staged record as one log entry and fsyncs it. With
// nothing staged it does nothing and returns nil, whatever failed before:
// reads need no write.
//
// On failure the staged changes are rolled back out of the index, so that
// it holds the durable state again, and no reply may claim them. When the
// disk is full the error wraps ErrNoSpace: the log was brought back to its
// last durable entry, Flush refuses writes without trying for RetryBackoff,
// and after that every Flush tries again. Any other failure wraps ErrFailed
// and is final: the store refuses writes until it is reopened.
func (s *Store) Flush() error {
	idx, fs, err := s.write(s.log, s.st)
	if err != nil || fs.Records == 0 {
		return err
	}
	s.synced = idx
	s.st.index = idx
	s.reset()
	s.pollCompaction()
	s.maybeCompact()
	s.observeFlush(fs)
	return nil
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
	s.rollback(s.st)
	if s.compacting {
		s.finishCompaction(<-s.compacted)
	}
	return s.log.Close()
}
