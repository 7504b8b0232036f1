package consumeroffsets

import (
	"errors"
	"fmt"

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
	if s.batch.Len() != 0 || len(s.undo) != 0 {
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
	return nil
}
