package consumeroffsets

import (
	"errors"
	"fmt"
	"log/slog"
	"syscall"
	"time"

	"github.com/maelstrom-offsets/offsets/compactor"
	"github.com/maelstrom-offsets/offsets/log"
)

// compaction is one compaction from a snapshot of the state.
type compaction struct {
	sn      *Snapshot
	horizon time.Time // tombstones written at or before it are dropped
	start   time.Time
	pause   time.Duration // taking the snapshot
	dirty   float64       // dirty ratio when it started
	release bool          // first finish the release of the newest checkpoint (see compact)
	stats   compactor.Stats
	err     error
}

// checkpoint is a snapshot as a compactor.Source.
type checkpoint struct {
	sn      *Snapshot
	horizon time.Time
}

func (c checkpoint) Records(fn func(t log.RecordType, data []byte) error) error {
	return c.sn.Records(c.horizon, fn)
}

// Checkpoint returns the snapshot as the source of a checkpoint that drops
// the tombstones written at or before horizon (see Records).
func (sn *Snapshot) Checkpoint(horizon time.Time) compactor.Source { return checkpoint{sn, horizon} }

// maybeCompact starts a background compaction through the last durable
// entry when none runs and the log is big and dirty enough.
func (s *Store) maybeCompact() {
	s.st.forgetExpired() // what the last compaction dropped, a bounded share per batch
	if s.compacting || s.opts.CompactMinBytes < 0 || s.synced == 0 {
		return
	}
	if size := s.st.c.recordBytes; size < s.opts.CompactMinBytes || size < s.nextTry {
		return
	}
	if !s.compactAfter.IsZero() && time.Now().Before(s.compactAfter) {
		return
	}
	dirty := s.DirtyRatio()
	if dirty < s.opts.CompactDirtyRatio {
		return
	}
	c := s.startCompaction(s.opts.TombstoneRetention)
	c.dirty = dirty
	s.compacting = true
	c.release = s.releaseFirst
	logger, obs := s.logger, s.opts.Observer
	go func() {
		lowerPriority()
		s.writeCheckpoint(c)
		logCompaction(logger, c) // now, not when the store next looks
		observeCompaction(obs, c)
		s.compacted <- c
	}()
}

// startCompaction takes the snapshot a compaction writes: the state as of
// the last durable entry, since nothing is staged between batches. This is
// the pause the serving goroutine sees.
func (s *Store) startCompaction(retention time.Duration) *compaction {
	start := time.Now()
	c := &compaction{sn: s.st.Snapshot(), start: start, horizon: s.now().Add(-retention)}
	c.pause = time.Since(start)
	return c
}

// writeCheckpoint writes c's snapshot as the log's checkpoint and releases
// the log before it. It runs on any goroutine.
func (s *Store) writeCheckpoint(c *compaction) {
	through := c.sn.Index()
	c.stats, c.err = compact(s.log, through, checkpoint{c.sn, c.horizon}, c.release, compactor.Options{SegmentSize: s.opts.SegmentSize}, s.logger)
	if c.sn.written {
		before := c.sn.Counts()
		c.stats.RecordsBefore, c.stats.RecordBytes = before.Records, before.RecordBytes
		c.stats.TombstonesKept, c.stats.TombstoneBytesKept = c.sn.TombstonesKept()
		c.stats.Snapshot = c.pause
		c.stats.Duration = time.Since(c.start)
	}
}

// compact writes src as l's checkpoint through the given index. With
// release it first finishes the release of the newest checkpoint's wal
// entries: an earlier compaction wrote that checkpoint but could not
// truncate the wal (a full disk: tidwall's .START file did not fit).
// Without that, every retry on a full disk would leave one more
// checkpoint, a copy of the live records, that only a successful release
// removes. When that release fails for another reason (the checkpoint no
// longer reads back), the compaction goes on: the new checkpoint, written
// from the state, which holds every acknowledged change, replaces it.
func compact(l wal, through uint64, src compactor.Source, release bool, opts compactor.Options, logger *slog.Logger) (compactor.Stats, error) {
	if release {
		if ck, ok, err := log.CheckpointIndex(l.Dir()); err != nil {
			return compactor.Stats{Through: through}, err
		} else if ok {
			if _, err := l.ReleaseThrough(ck, nil); err != nil {
				err = fmt.Errorf("consumeroffsets: finish releasing the wal through checkpoint %d: %w", ck, err)
				if noRoom(err) {
					return compactor.Stats{Through: through}, err
				}
				logger.Error("compaction: the newest checkpoint's release could not be finished; a checkpoint written from the state replaces it",
					"checkpoint", ck, "through", through, "err", err)
			}
		}
	}
	return compactor.Write(l, through, src, opts)
}

// noRoom reports whether err is the file system running out of room
// (ENOSPC, or EDQUOT for a quota).
func noRoom(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// logCompaction writes the one line a compaction gets on stderr.
func logCompaction(logger *slog.Logger, c *compaction) {
	st := c.stats
	if c.err != nil {
		logger.Error("compaction failed", "through", st.Through, "err", c.err)
		return
	}
	logger.Info("compacted",
		"through", st.Through,
		"records_before", st.RecordsBefore, "records_after", st.RecordsKept,
		"bytes_before", st.BytesBefore, "bytes_after", st.BytesAfter,
		"tombstones_kept", st.TombstonesKept, "dirty_ratio", roundTo(c.dirty, 3),
		"duration", st.Duration.Round(time.Microsecond), "snapshot", st.Snapshot.Round(time.Microsecond),
		"pause", st.Pause.Round(time.Microsecond))
}

// pollCompaction takes in a finished background compaction, if any.
func (s *Store) pollCompaction() {
	if !s.compacting {
		return
	}
	select {
	case c := <-s.compacted:
		s.finishCompaction(c)
	default:
	}
}

// finishCompaction closes a finished compaction's snapshot: the state's
// counts follow the checkpoint that replaced the log through its index.
func (s *Store) finishCompaction(c *compaction) {
	s.compacting = false
	s.st.Release(c.sn, c.err == nil)
	if c.err != nil {
		// The log is intact (a failed compaction changes nothing that is
		// replayed and removes its checkpoint.N.tmp). A full disk may
		// have room again soon, and compaction is what gives room back:
		// try again after a while. Anything else: after as many new bytes
		// as the threshold.
		if noRoom(c.err) {
			s.compactAfter = time.Now().Add(compactRetry)
			// The checkpoint may be written and the wal not truncated.
			s.releaseFirst = true
			return
		}
		s.nextTry = s.st.c.recordBytes + s.opts.CompactMinBytes
		return
	}
	s.compactAfter, s.releaseFirst = time.Time{}, false
}

// ErrStaged is returned by Compact while changes are staged: a compaction
// writes the state as of the last durable entry, which the state no
// longer is until Flush.
var ErrStaged = errors.New("consumeroffsets: compaction with changes staged; Flush first")

// Compact runs a compaction through the last durable entry now and waits
// for it, after any background one. Tools and tests use it. It fails with
// ErrStaged while changes are staged.
func (s *Store) Compact() (compactor.Stats, error) {
	if s.batch.Len() > 0 {
		return compactor.Stats{Through: s.synced}, ErrStaged
	}
	c := s.compactNow(s.opts.TombstoneRetention)
	logCompaction(s.logger, c)
	observeCompaction(s.opts.Observer, c)
	return c.stats, c.err
}

func (s *Store) compactNow(retention time.Duration) *compaction {
	if s.compacting {
		s.finishCompaction(<-s.compacted)
	}
	c := s.startCompaction(retention)
	c.dirty = s.DirtyRatio()
	c.release = s.releaseFirst
	s.writeCheckpoint(c)
	s.finishCompaction(c)
	return c
}

// CompactDir compacts the log in dir offline, through its last entry: it
// replays the log into a State and writes the checkpoint from it, dropping
// tombstones older than tombstoneRetention (zero drops them all). Of opts
// it uses Now, SegmentSize and Logger. It takes the log's lock, so it fails
// with log.ErrLocked while a node holds the directory. The stats' Duration
// covers the checkpoint, not the replay.
//
// It compacts also when the newest checkpoint already covers the whole log
// but holds tombstones older than the retention: those a compaction exists
// to drop. A checkpoint is named by the index it covers and is never
// rewritten in place, so it first appends an empty entry (synced; replay
// skips it) for the new checkpoint to cover; the compaction then releases
// it with the rest. A crash in between leaves a log with one more empty
// entry, which is harmless. A checkpoint written before seals is rewritten
// (sealed) at its own index, covered or not. When it writes nothing (an
// empty log, or a sealed checkpoint covering the log with nothing to drop)
// the stats' Skipped is set.
func CompactDir(dir string, tombstoneRetention time.Duration, opts Options) (compactor.Stats, error) {
	s, _, err := Open(dir, Options{CompactMinBytes: -1, Now: opts.Now, SegmentSize: opts.SegmentSize, Logger: opts.Logger})
	if err != nil {
		return compactor.Stats{}, err
	}
	c, err := s.compactOffline(dir, tombstoneRetention)
	if cerr := s.Close(); err == nil {
		err = cerr
	}
	return c, err
}

func (s *Store) compactOffline(dir string, retention time.Duration) (compactor.Stats, error) {
	if s.synced > 0 {
		ck, ok, err := log.CheckpointIndex(dir)
		if err != nil {
			return compactor.Stats{}, err
		}
		unsealed, err := log.CheckpointUnsealed(dir)
		if err != nil {
			return compactor.Stats{}, err
		}
		if ok && s.synced <= ck && !unsealed && s.st.hasTombstoneAtOrBefore(s.now().Add(-retention)) {
			var empty log.Batch
			idx, err := s.log.Append(&empty)
			if err == nil {
				err = s.log.Sync()
			}
			if err != nil {
				return compactor.Stats{}, err
			}
			s.synced, s.st.index = idx, idx
		}
	}
	c := s.compactNow(retention)
	return c.stats, c.err
}

func roundTo(x float64, digits int) float64 {
	p := 1.0
	for i := 0; i < digits; i++ {
		p *= 10
	}
	return float64(int64(x*p+0.5)) / p
}

// hasTombstoneAtOrBefore reports whether a live tombstone was written at or
// before horizon: one that a checkpoint with that horizon drops (see
// Snapshot.Records).
func (s *State) hasTombstoneAtOrBefore(horizon time.Time) bool {
	cutoff, found := horizon.UnixMilli(), false
	s.Tombstones(func(_ log.RecordType, _ OffsetKey, at time.Time) bool {
		found = at.UnixMilli() <= cutoff
		return !found
	})
	return found
}
