package log

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/tidwall/wal"
)

// This file is what a cluster member's raft storage needs of the log beyond
// what the single node uses: version 2 entries at a raft index, reading one
// back, cutting a conflicting suffix, and a log that starts after a
// snapshot. The single node calls none of it.

// AppendRaft writes e as one version 2 entry. e.Index must be
// LastIndex()+1: the raft index is the entry's place in the log. The entry
// is not durable until Sync returns nil; failures are as for Append.
func (l *Log) AppendRaft(e RaftEntry) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.failed != nil {
		return fmt.Errorf("%w: after an earlier failure: %v", ErrClosed, l.failed)
	}
	if e.Index != l.last+1 {
		return fmt.Errorf("%w: raft entry %d appended after entry %d", ErrIndex, e.Index, l.last)
	}
	var err error
	l.scratch, err = EncodeRaftEntry(l.scratch[:0], e)
	if err != nil {
		return err
	}
	return l.write(e.Index, l.scratch)
}

// FirstIndex is the index of the first entry the wal holds; it is
// LastIndex()+1 when the wal is empty.
func (l *Log) FirstIndex() (uint64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.wal == nil {
		return 0, ErrClosed
	}
	return l.wal.FirstIndex()
}

// ReadRaft returns the raft entry at index, checked; its Data is a copy
// that the caller owns. It fails with ErrIndex outside [FirstIndex,
// LastIndex] and with ErrVersion for a version 1 entry.
func (l *Log) ReadRaft(index uint64) (RaftEntry, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.wal == nil {
		return RaftEntry{}, ErrClosed
	}
	first, err := l.wal.FirstIndex()
	if err != nil {
		return RaftEntry{}, err
	}
	if index < first || index > l.last {
		return RaftEntry{}, fmt.Errorf("%w: entry %d, the wal holds [%d, %d]", ErrIndex, index, first, l.last)
	}
	b, err := l.wal.Read(index)
	if errors.Is(err, wal.ErrCorrupt) {
		// tidwall found a frame that does not parse in an older segment,
		// which it reads only now: damage, never a torn tail.
		return RaftEntry{}, &CorruptionError{Path: filepath.Join(l.dir, walDirName), Index: index, Err: err}
	}
	if err != nil {
		return RaftEntry{}, fmt.Errorf("log: read entry %d: %w", index, err)
	}
	e, err := DecodeRaftEntry(b)
	if err != nil {
		return RaftEntry{}, &CorruptionError{Path: filepath.Join(l.dir, walDirName), Index: index, Err: err}
	}
	if e.Index != index {
		return RaftEntry{}, &CorruptionError{Path: filepath.Join(l.dir, walDirName), Index: index,
			Err: fmt.Errorf("%w: entry says index %d", ErrCorrupt, e.Index)}
	}
	e.Data = append([]byte(nil), e.Data...) // tidwall's NoCopy: b aliases its segment buffer
	return e, nil
}

// TruncateBack removes every entry after last, durably: tidwall writes the
// shortened tail segment to NAME.END (fsynced), removes the segments after
// it and renames NAME.END to NAME, which Sync fdatasyncs from then on
// (preallocated as a new tail is); then the wal directory is fsynced, so
// that no name of a removed entry can come back after a crash. It returns
// only when that is done: a member must not acknowledge an entry appended
// after a cut suffix before the cut is durable. A failure is final, as for
// a failed Sync.
func (l *Log) TruncateBack(last uint64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.failed != nil {
		return fmt.Errorf("%w: after an earlier failure: %v", ErrClosed, l.failed)
	}
	if last >= l.last {
		return nil
	}
	if err := l.wal.TruncateBack(last); err != nil {
		l.failed = err
		return fmt.Errorf("log: truncate back to %d: %w", last, err)
	}
	l.last = last
	// The tail is a new file (NAME.END renamed), which tidwall appends to:
	// Sync must fdatasync it, not the file it replaced or a removed one.
	if err := l.measureTail(); err != nil {
		return err
	}
	walDir := filepath.Join(l.dir, walDirName)
	if l.opts.NoSync {
		return nil
	}
	if err := syncDir(walDir); err != nil {
		l.failed = err
		return err
	}
	l.dirDirty = false
	return nil
}

// CreateAfter makes dir a log whose wal is empty and starts at index n+1:
// the log of a member that installs the snapshot at index n (tidwall starts
// an empty directory at index 1, but opens a directory whose only segment
// is named n+1 as an empty log from n+1). It creates dir/wal with that one
// empty segment and fsyncs the segment, dir/wal and dir. The caller puts
// the checkpoint for n beside it; the directory must not hold a wal yet.
func CreateAfter(dir string, n uint64) error {
	walDir := filepath.Join(dir, walDirName)
	if err := os.Mkdir(walDir, 0o755); err != nil {
		return fmt.Errorf("log: create %s: %w", walDir, err)
	}
	if err := writeFileSync(filepath.Join(walDir, segmentName(n+1)), nil); err != nil {
		return fmt.Errorf("log: create first segment: %w", err)
	}
	if err := syncDir(walDir); err != nil {
		return err
	}
	return syncDir(dir)
}
