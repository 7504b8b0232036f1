package log

import (
	"errors"
	"fmt"
)

var (
	// ErrCorrupt reports damage that is not a torn tail: bad framing, a
	// record that overruns its entry, an index out of order.
	ErrCorrupt = errors.New("log: corrupt entry")
	// ErrZeroed reports an entry that is empty or all zero bytes, as left by
	// a crash in space the file system had extended but not yet written.
	ErrZeroed = errors.New("log: zeroed entry")
	// ErrChecksum reports an entry whose CRC-32C does not match its bytes.
	ErrChecksum = errors.New("log: checksum mismatch")
	// ErrVersion reports an entry with a valid checksum but a format version
	// this package does not know: it was written by a newer program.
	ErrVersion = errors.New("log: unknown format version")
	// ErrLocked reports that another process holds the log directory.
	ErrLocked = errors.New("log: directory is locked by another process")
	// ErrClosed reports use of a log after Close or after a failed write.
	ErrClosed = errors.New("log: closed")
)

// ErrTorn reports a tidwall frame whose length runs past the end of its
// segment file: the last write was cut short.
var ErrTorn = errors.New("log: entry cut short")

// CorruptionError locates damage in a segment file. errors.Is reports true
// for ErrCorrupt and for the specific cause (ErrZeroed, ErrChecksum, ...).
type CorruptionError struct {
	Path   string // segment file
	Offset int64  // byte offset of the damaged frame in Path
	Index  uint64 // log index the damaged entry should have had; 0 for a whole file
	Err    error  // the cause
}

// Error names the entry, the file and the byte offset of the damage, or
// only the file when the damage is to a whole file (Index 0: a
// checkpoint's seal).
func (e *CorruptionError) Error() string {
	if e.Index == 0 {
		return fmt.Sprintf("log: damaged %s: %v", e.Path, e.Err)
	}
	return fmt.Sprintf("log: damaged entry %d in %s at byte %d: %v", e.Index, e.Path, e.Offset, e.Err)
}

// Unwrap returns ErrCorrupt and the cause, so errors.Is finds either.
func (e *CorruptionError) Unwrap() []error { return []error{ErrCorrupt, e.Err} }

// ErrSeal reports a checkpoint whose seal is missing or invalid, or whose
// contents do not match its seal: it was cut short, emptied or tampered
// with.
var ErrSeal = errors.New("log: checkpoint does not match its seal")

var (
	// ErrNotLog reports a directory without a wal/ directory inside: not a
	// log directory. Open would create one; the functions here never do.
	ErrNotLog = errors.New("log: not a log directory (no wal/ directory inside)")
	// ErrChanged reports that files disappeared or moved while a scan read
	// them: a compaction released part of the log. Reading again sees the
	// new files.
	ErrChanged = errors.New("log: the log changed while it was read (a compaction ran)")
)

// ErrNoSpace reports an Append that failed because the file system is full
// (ENOSPC) or the quota is used up (EDQUOT) while a segment was written or
// created. Nothing of the entry is left: the wal was brought back to its
// previous last entry, so a later Append, once there is room, succeeds.
var ErrNoSpace = errors.New("log: no space left for the log")

// ErrIndex reports an entry appended or read at an index the log does not
// have in that place.
var ErrIndex = errors.New("log: index out of range")

// ErrCompacted reports a replay asked to stop before the newest checkpoint:
// that history was compacted away.
var ErrCompacted = errors.New("log: history before the checkpoint was compacted")
