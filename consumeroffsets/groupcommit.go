package consumeroffsets

import (
	"errors"
	"fmt"
	"time"

	"github.com/maelstrom-offsets/offsets/log"
)

// appender is the part of a log that a group commit writes through:
// *log.Log appends and fsyncs; a cluster member's replicated log proposes
// the entry in Append and returns once a quorum committed it (or fails
// with ErrNotCommitted), and its Sync has nothing left to do.
type appender interface {
	Append(*log.Batch) (uint64, error)
	Sync() error
}

// groupCommit is the life of one batch, in the manner of Pebble's
// record.LogWriter: records are staged (each applied to the state at
// once, its undo journaled), sealed into one log entry, written durably
// (append, then sync), and the outcome decides what happens to them: kept
// on success, rolled back out of the state on any failure. It also holds
// what outlives a batch: the failure that refuses writes for good, and the
// full disk with its retry back-off. Flush is its only driver.
//
// It is a value inside the Store, not a type of its own with a goroutine
// or an exported API: the node answers a batch only after Store.Flush, and
// needs nothing more of it; the state it undoes and the compaction it
// triggers are the Store's. Kept apart, it is the one place where a batch
// is made durable, which tests drive over a fake log (groupcommit_test.go),
// and where a replication loop would take the batch instead of the log.
type groupCommit struct {
	batch log.Batch
	undo  []undo // the state's journal of the staged batch
	saved counts // the state's counts before the staged batch
	nowMs int64  // timestamp of the batch being staged, 0 when none

	pendingExpiredGroups, pendingExpiredOffsets int // staged by ExpireOffsets

	failed  error         // a final write failure (ErrFailed)
	full    error         // the last write failed for want of room (ErrNoSpace); nil once one succeeds
	retryAt time.Time     // no write is tried before this while full is set
	backoff time.Duration // RetryBackoff; tests shorten it
}

// stage adds a record to the batch and applies it to st, whose journal
// must be &g.undo.
func (g *groupCommit) stage(st *State, v *recordView, data []byte) {
	if g.batch.Len() == 0 {
		g.saved = st.c
	}
	g.batch.Add(v.typ, data)
	st.applyView(v, recordSize(len(data)))
}

// write makes the staged batch durable in l as one entry and returns its
// index and statistics. With nothing staged it does nothing. On error the
// batch is rolled back out of st: a full disk wraps ErrNoSpace and refuses
// writes, without trying, for the back-off after the first such failure;
// ErrNotCommitted comes back as l returned it, and writes go on; anything
// else wraps ErrFailed and refuses every later write. On success the
// caller resets the batch once it has read what it needs.
func (g *groupCommit) write(l appender, st *State) (uint64, FlushStats, error) {
	if g.batch.Len() == 0 {
		return 0, FlushStats{}, nil
	}
	if g.failed != nil {
		g.rollback(st)
		return 0, FlushStats{}, g.failed
	}
	if g.full != nil && time.Now().Before(g.retryAt) {
		g.rollback(st)
		return 0, FlushStats{}, g.full
	}
	idx, err := l.Append(&g.batch)
	syncStart := time.Now()
	if err == nil {
		err = l.Sync()
	}
	if err != nil {
		g.rollback(st)
		return 0, FlushStats{}, g.fail(err)
	}
	g.full = nil
	return idx, g.stats(st, time.Since(syncStart)), nil
}

// fail records the outcome of a failed write and returns Flush's error.
func (g *groupCommit) fail(err error) error {
	if errors.Is(err, ErrNotCommitted) {
		return err
	}
	if errors.Is(err, log.ErrNoSpace) {
		if g.full == nil {
			g.retryAt = time.Now().Add(g.backoff)
		}
		g.full = fmt.Errorf("%w: %v", ErrNoSpace, err)
		return g.full
	}
	g.failed = fmt.Errorf("%w: %v", ErrFailed, err)
	return g.failed
}

// stats describes the staged batch, synced in sync. Its bytes are what the
// batch added to the state's record bytes.
func (g *groupCommit) stats(st *State, sync time.Duration) FlushStats {
	return FlushStats{Records: g.batch.Len(), Bytes: st.c.recordBytes - g.saved.recordBytes, Sync: sync,
		ExpiredGroups: g.pendingExpiredGroups, ExpiredOffsets: g.pendingExpiredOffsets}
}

// rollback undoes the staged changes in st, in reverse order, and empties
// the batch.
func (g *groupCommit) rollback(st *State) {
	if g.batch.Len() > 0 {
		st.rollback(g.undo, g.saved)
	}
	g.reset()
}

// reset empties the batch, keeping its buffers.
func (g *groupCommit) reset() {
	g.batch.Reset()
	g.undo = g.undo[:0]
	g.nowMs = 0
	g.pendingExpiredGroups, g.pendingExpiredOffsets = 0, 0
}

// staged reports whether anything is staged, records or undo.
func (g *groupCommit) staged() bool { return g.batch.Len() != 0 || len(g.undo) != 0 }
