package consumeroffsets

import (
	"time"

	"github.com/maelstrom-offsets/offsets/compactor"
)

// Observer receives the store's measurements as they happen; the metrics
// package implements it. Options.Observer may be nil.
//
// Recovered and Flushed are called on the goroutine that uses the store,
// Compacted on the compaction's own goroutine: an Observer must be safe for
// concurrent use, and must not call back into the store (which is not).
type Observer interface {
	// Recovered is called once, after Open replayed the log.
	Recovered(RecoveryStats, Size)
	// Flushed is called after each Flush that wrote and synced an entry
	// (one group commit).
	Flushed(FlushStats, Size)
	// Compacted is called when a compaction ends, with its error if it
	// failed.
	Compacted(compactor.Stats, error)
}

// FlushStats describes one group commit.
type FlushStats struct {
	Records int           // records in the entry
	Bytes   int64         // their bytes
	Sync    time.Duration // time in the log's Sync (the fsync)
	// ExpiredGroups and ExpiredOffsets count what offsets retention
	// expired in this entry.
	ExpiredGroups, ExpiredOffsets int
}

// Size is a snapshot of the store's size, taken on the store's goroutine
// so that an Observer can publish it without touching the store.
type Size struct {
	Keys       int     // live offset keys
	Groups     int     // groups held (with an offset or a generation)
	LogBytes   int64   // record bytes in the log (entry headers excluded)
	DirtyRatio float64 // see Store.DirtyRatio
}

func (s *Store) size() Size {
	return Size{Keys: s.st.c.keys, Groups: s.st.c.groups, LogBytes: s.st.c.recordBytes, DirtyRatio: s.DirtyRatio()}
}

// observeFlush reports a group commit and the store's state after it.
func (s *Store) observeFlush(fs FlushStats) {
	if s.opts.Observer != nil {
		s.opts.Observer.Flushed(fs, s.size())
	}
}

// observeCompaction reports a finished compaction; obs may be nil.
func observeCompaction(obs Observer, c *compaction) {
	if obs != nil {
		obs.Compacted(c.stats, c.err)
	}
}
