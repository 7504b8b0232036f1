package log

import (
	"errors"
	"fmt"
)

// The package's errors, for errors.Is. Damage to the files always comes
// wrapped in a *CorruptionError that says where it is.
var (
	// Damage to an entry or its frame: what a reader finds in a segment.

	// ErrCorrupt reports damage that is not a torn tail: bad framing, a
	// record that overruns its entry, an index out of order, a segment or
	// a wal missing where the log needs one. Every *CorruptionError
	// matches it as well as its own cause.
	ErrCorrupt = errors.New("log: corrupt entry")
	// ErrTorn reports a tidwall frame whose length runs past the end of its
	// segment file: the last write was cut short.
	ErrTorn = errors.New("log: entry cut short")
	// ErrZeroed reports an entry that is empty or all zero bytes, as left by
	// a crash in space the file system had extended but not yet written.
	ErrZeroed = errors.New("log: zeroed entry")
	// ErrChecksum reports an entry whose CRC-32C does not match its bytes.
	ErrChecksum = errors.New("log: checksum mismatch")
	// ErrVersion reports an entry, or a checkpoint's seal, with a valid
	// checksum but a format version this package does not know: it was
	// written by a newer program, and nothing cuts it.
	ErrVersion = errors.New("log: unknown format version")

	// Damage to a checkpoint as a whole.

	// ErrSeal reports a checkpoint whose seal is missing or invalid, or whose
	// contents do not match its seal: it was cut short, emptied or tampered
	// with.
	ErrSeal = errors.New("log: checkpoint does not match its seal")

	// The state of the log or of its directory.

	// ErrNotLog reports a directory without a wal/ directory inside: not a
	// log directory. CheckDir, Repair and PlanRepair report it; Open would
	// create one instead.
	ErrNotLog = errors.New("log: not a log directory (no wal/ directory inside)")
	// ErrLocked reports that another process holds the log directory.
	ErrLocked = errors.New("log: directory is locked by another process")
	// ErrClosed reports use of a log after a failure that is final (see
	// Append), and FirstIndex or ReadRaft on a closed log.
	ErrClosed = errors.New("log: closed")
	// ErrNoSpace reports an Append that failed because the file system is full
	// (ENOSPC) or the quota is used up (EDQUOT) while a segment was written or
	// created. Nothing of the entry is left: the wal was brought back to its
	// previous last entry, so a later Append, once there is room, succeeds.
	// AppendRaft reports it as Append does, and ReleaseThrough when tidwall
	// could not begin its truncation, which then changed nothing.
	ErrNoSpace = errors.New("log: no space left for the log")

	// What a reader asked for and the log does not hold.

	// ErrCompacted reports a read (Scan, Replay) asked to stop before the
	// newest checkpoint: that history was compacted away.
	ErrCompacted = errors.New("log: history before the checkpoint was compacted")
	// ErrIndex reports an entry appended or read at an index the log does not
	// have in that place.
	ErrIndex = errors.New("log: index out of range")
	// ErrChanged reports that files disappeared or moved while a scan read
	// them: a compaction released part of the log. Reading again sees the
	// new files.
	ErrChanged = errors.New("log: the log changed while it was read (a compaction ran)")
)

// CorruptionError locates damage in the log's files. errors.Is reports true
// for ErrCorrupt and for the specific cause (ErrTorn, ErrZeroed,
// ErrChecksum, ErrVersion, ErrSeal).
type CorruptionError struct {
	Path   string // the damaged file (a segment, a checkpoint's SEAL) or directory
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
