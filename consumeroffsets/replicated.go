package consumeroffsets

import (
	"errors"
	"fmt"
	"time"

	"github.com/maelstrom-offsets/offsets/log"
)

// Log is what a Store needs of its log. *log.Log is one; a replicated log
// is another: its Append returns once the batch is committed by a quorum
// of the cluster, and Replay replays what is committed.
type Log interface {
	wal
}

// ErrNotCommitted is wrapped by a Log's Append error when the batch was
// not committed (another entry took its place, the member is not the
// leader) or its outcome is unknown: the log itself has not failed. Flush
// rolls the staged changes back and returns the Append error as it is,
// and the store stays writable.
var ErrNotCommitted = errors.New("consumeroffsets: batch not committed")

// OpenLog builds a store over an open log by replaying it, as Open does
// over the log it opens. The store closes l.
func OpenLog(l Log, opts Options) (*Store, RecoveryStats, error) {
	return openWal(l, opts)
}

// ApplyCommitted applies the records of an entry another member committed
// at index, through the code replay uses; records calls its argument with
// each record in order. Nothing may be staged. The store's log already
// holds the entry (the replicated log wrote it): nothing is written.
func (s *Store) ApplyCommitted(index uint64, records func(fn func(log.Record) error) error) error {
	if s.staged() {
		return errors.New("consumeroffsets: ApplyCommitted with changes staged")
	}
	j := s.st.journal
	s.st.journal = nil // committed: nothing to undo
	defer func() { s.st.journal = j }()
	if err := records(func(r log.Record) error { return s.st.Apply(index, r) }); err != nil {
		return fmt.Errorf("consumeroffsets: apply entry %d: %w", index, err)
	}
	s.synced = max(s.synced, index)
	s.st.index = max(s.st.index, index)
	s.compactCommitted()
	return nil
}

// compactCommitted runs the compaction rules after an entry was applied,
// as Flush does after a batch: a member that applies other members'
// entries (every entry, on a follower) compacts its log by the same
// rules.
func (s *Store) compactCommitted() {
	s.pollCompaction()
	s.maybeCompact()
}

// Restore replaces the state with the one replay builds: replay calls its
// argument with every record of a snapshot the log has just installed
// (a cluster member's catch-up), through the replay code (Replayer), and
// returns the snapshot's index, which the state is then as of. Nothing may
// be staged. A running compaction, whose snapshot is of the state being
// replaced, is waited for first. On error the state is left as it was.
func (s *Store) Restore(replay func(fn func(uint64, log.Record) error) (uint64, error)) error {
	if s.staged() {
		return errors.New("consumeroffsets: Restore with changes staged")
	}
	if s.compacting {
		s.finishCompaction(<-s.compacted)
	}
	st := NewState()
	rp := st.Replayer()
	index, err := replay(rp.Apply)
	if err != nil {
		return fmt.Errorf("consumeroffsets: restore: %w", err)
	}
	rp.Done()
	st.index = index
	st.journal = &s.undo
	s.st = st
	s.synced = index
	s.nextTry, s.compactAfter, s.releaseFirst = 0, time.Time{}, false
	s.warnOverLimits()
	return nil
}
