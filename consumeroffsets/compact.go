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

// compaction is the outcome of one background compaction.
type compaction struct {
	stats compactor.Stats
	dirty float64 // dirty ratio when it started
	err   error
}

func (s *Store) compactorOptions() compactor.Options {
	return compactor.Options{TombstoneRetention: s.opts.TombstoneRetention, Now: s.now, SegmentSize: s.opts.SegmentSize,
		KeysHint: s.idx.keys + len(s.idx.groups)}
}

// maybeCompact starts a background compaction through the last durable
// entry when none runs and the log is big and dirty enough.
func (s *Store) maybeCompact() {
	if s.compacting || s.opts.CompactMinBytes < 0 || s.synced == 0 {
		return
	}
	if s.logSize < s.opts.CompactMinBytes || s.logSize < s.nextTry {
		return
	}
	if !s.compactAfter.IsZero() && time.Now().Before(s.compactAfter) {
		return
	}
	dirty := s.DirtyRatio()
	if dirty < s.opts.CompactDirtyRatio {
		return
	}
	s.compacting = true
	s.tombAtStart = s.tombBytes
	through, opts, release := s.synced, s.compactorOptions(), s.releaseFirst
	logger, obs := s.logger, s.opts.Observer
	go func() {
		lowerPriority()
		c := compaction{dirty: dirty}
		c.stats, c.err = compact(s.log, through, release, opts)
		logCompaction(logger, c) // now, not when the store next looks
		observeCompaction(obs, c)
		s.compacted <- c
	}()
}

// compact compacts l through the given index. With release it first
// finishes the release of the newest checkpoint's wal entries: an earlier
// compaction wrote that checkpoint but could not truncate the wal (a full
// disk: tidwall's .START file did not fit). Without that, every retry on a
// full disk would leave one more checkpoint, a copy of the live records,
// that only a successful release removes.
func compact(l wal, through uint64, release bool, opts compactor.Options) (compactor.Stats, error) {
	if release {
		if ck, ok, err := log.CheckpointIndex(l.Dir()); err != nil {
			return compactor.Stats{Through: through}, err
		} else if ok {
			if _, err := l.ReleaseThrough(ck, nil); err != nil {
				return compactor.Stats{Through: through}, fmt.Errorf("consumeroffsets: finish releasing the wal through checkpoint %d: %w", ck, err)
			}
		}
	}
	var k Keyer
	return compactor.Compact(l, through, &k, opts)
}

// logCompaction writes the one line a compaction gets on stderr.
func logCompaction(logger *slog.Logger, c compaction) {
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
		"duration", st.Duration.Round(time.Microsecond), "pause", st.Pause.Round(time.Microsecond))
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

// finishCompaction accounts for a finished compaction in the store.
func (s *Store) finishCompaction(c compaction) {
	s.compacting = false
	st := c.stats
	if c.err != nil {
		// The log is intact (a failed compaction changes nothing that is
		// replayed and removes its checkpoint.N.tmp). A full disk may
		// have room again soon, and compaction is what gives room back:
		// try again after a while. Anything else: after as many new bytes
		// as the threshold.
		if errors.Is(c.err, syscall.ENOSPC) || errors.Is(c.err, syscall.EDQUOT) {
			s.compactAfter = time.Now().Add(compactRetry)
			// The checkpoint may be written and the wal not truncated.
			s.releaseFirst = true
			return
		}
		s.nextTry = s.logSize + s.opts.CompactMinBytes
		return
	}
	s.compactAfter, s.releaseFirst = time.Time{}, false
	s.logSize -= st.RecordBytes - st.KeptBytes
	// Tombstones written while it ran are still in the log, after Through.
	s.tombBytes = st.TombstoneBytesKept + (s.tombBytes - s.tombAtStart)
}

// Compact runs a compaction through the last durable entry now and waits
// for it, after any background one. Tools and tests use it.
func (s *Store) Compact() (compactor.Stats, error) {
	if s.compacting {
		s.finishCompaction(<-s.compacted)
	}
	s.tombAtStart = s.tombBytes
	c := compaction{dirty: s.DirtyRatio()}
	c.stats, c.err = compact(s.log, s.synced, s.releaseFirst, s.compactorOptions())
	logCompaction(s.logger, c)
	observeCompaction(s.opts.Observer, c)
	s.finishCompaction(c)
	return c.stats, c.err
}

func roundTo(x float64, digits int) float64 {
	p := 1.0
	for i := 0; i < digits; i++ {
		p *= 10
	}
	return float64(int64(x*p+0.5)) / p
}
