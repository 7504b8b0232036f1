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
	// TombstoneRetention is how long compaction keeps a tombstone.
	TombstoneRetention time.Duration
}

// Defaults for Options.
const (
	DefaultCompactDirtyRatio  = 0.5
	DefaultCompactMinBytes    = 64 << 20
	DefaultTombstoneRetention = 24 * time.Hour
)

// RecoveryStats describes the replay Open did.
type RecoveryStats struct {
	Records  uint64        // records applied
	Entries  uint64        // log entries read
	Bytes    int64         // bytes of log read
	Keys     int           // live keys after replay
	Duration time.Duration // time to replay
}

// Store is the consumer-group offset store: an in-memory index of the
// latest value per key over a write-ahead log that every change goes to
// first. It is not safe for concurrent use.
//
// Changes are staged by Commit and made durable together by Flush (group
// commit): callers answer the requests of a batch only after Flush returns
// nil. Reads see staged changes; if Flush fails they are rolled back.
type Store struct {
	log          wal
	idx          index
	now          func() time.Time
	batch        log.Batch
	scratch      []byte
	undo         []undo
	nowMs        int64  // timestamp of the batch being staged, 0 when none
	pendingBytes int64  // record bytes staged in batch
	synced       uint64 // index of the last durable entry

	opts       Options
	logger     *slog.Logger
	compacting bool
	compacted  chan compaction // a finished background compaction
	nextTry    int64           // logSize below which no compaction is tried after a failure
	logSize    int64           // bytes of records in the log (entry headers excluded)
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

// undo restores one key to what it was before a staged change.
type undo struct {
	group, topic []byte
	partition    int32
	prev         entry
	existed      bool
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
	s := &Store{log: l, idx: newIndex(), now: opts.Now, opts: opts, logger: opts.Logger,
		compacted: make(chan compaction, 1)}
	if s.now == nil {
		s.now = time.Now
	}
	if s.logger == nil {
		s.logger = slog.Default()
	}
	start := time.Now()
	st, err := l.Replay(1, func(_ uint64, r log.Record) error {
		return s.apply(r)
	})
	if err != nil {
		return nil, RecoveryStats{}, err
	}
	s.synced = st.Last
	return s, RecoveryStats{Records: st.Records, Entries: st.Entries, Bytes: st.Bytes, Keys: s.idx.keys, Duration: time.Since(start)}, nil
}

// apply replays one record into the index.
func (s *Store) apply(r log.Record) error {
	v, err := decodeView(r)
	if err != nil {
		return err
	}
	s.logSize += int64(r.Size())
	switch v.typ {
	case TypeOffsetCommit:
		s.idx.put(v.group, v.topic, v.partition, newEntry(v.offset, v.metadata, int32(r.Size())), v.time)
	case TypeOffsetTombstone:
		s.idx.remove(v.group, v.topic, v.partition)
	}
	return nil
}

// Commit stages a commit of offset for the key. The previous value, if any,
// is superseded even when it is higher: the latest commit wins, as in Kafka.
// It fails only after an earlier write failure. group and topic must stay
// unchanged until the next Flush returns: a rollback looks them up again.
func (s *Store) Commit(group, topic []byte, partition int32, offset int64) error {
	if s.failed != nil {
		return s.failed
	}
	if s.nowMs == 0 {
		s.nowMs = s.now().UnixMilli()
	}
	v := OffsetValue{Offset: offset, CommitTime: s.nowMs}
	s.scratch = AppendOffsetCommit(s.scratch[:0], group, topic, partition, v)
	s.batch.Add(TypeOffsetCommit, s.scratch)
	size := int32(log.Record{Data: s.scratch}.Size())
	s.pendingBytes += int64(size)
	prev, existed := s.idx.put(group, topic, partition, newEntry(offset, nil, size), s.nowMs)
	s.undo = append(s.undo, undo{group: group, topic: topic, partition: partition, prev: prev, existed: existed})
	return nil
}

// Fetch returns the offset committed for the key, staged changes included,
// and whether one exists.
func (s *Store) Fetch(group, topic []byte, partition int32) (Committed, bool) {
	e, ok := s.idx.get(group, topic, partition)
	return e.committed(), ok
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
	s.logSize += s.pendingBytes
	s.synced = idx
	s.reset()
	s.pollCompaction()
	s.maybeCompact()
	return nil
}

// rollback undoes staged changes in reverse order.
func (s *Store) rollback() {
	for i := len(s.undo) - 1; i >= 0; i-- {
		u := s.undo[i]
		if u.existed {
			s.idx.put(u.group, u.topic, u.partition, u.prev, 0)
		} else {
			s.idx.remove(u.group, u.topic, u.partition)
		}
	}
	s.reset()
}

func (s *Store) reset() {
	s.batch.Reset()
	s.undo = s.undo[:0]
	s.nowMs = 0
	s.pendingBytes = 0
}

// Keys is the number of live offset keys.
func (s *Store) Keys() int { return s.idx.keys }

// DirtyRatio is the share of the log's record bytes held by records that a
// later record superseded or deleted.
func (s *Store) DirtyRatio() float64 {
	if s.logSize == 0 {
		return 0
	}
	return 1 - float64(s.idx.live)/float64(s.logSize)
}

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
