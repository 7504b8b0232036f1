package log

import (
	"path/filepath"
)

// ReplayStats describes what a replay read.
type ReplayStats struct {
	Checkpoint uint64 // log index the checkpoint replayed covers, 0 if none
	Sealed     bool   // the checkpoint read has a seal (checked when the scan succeeded)
	Segments   int    // segment files read, checkpoint's included
	Entries    uint64 // entries visited (at or after the start index)
	Records    uint64 // records handed to the callback
	Bytes      int64  // bytes of the segment files read
	Last       uint64 // index of the last entry in the log, 0 if empty
}

// Replay reads the log in dir (the directory Open takes) from log index
// from onwards and calls fn for every record, in log order. When a
// checkpoint covers index C >= from, its records come first, each reported
// at index C, and the wal is read from C+1. It opens nothing for writing
// and takes no lock, so it is safe on a directory a running node holds: it
// sees a prefix of the log, and an entry the node is still writing ends
// it, as a torn tail that Open would cut does. Other damage stops it with a
// *CorruptionError; an error from fn stops it and is returned as is. It is
// Scan with only a record callback; Scan's options bound the read at both
// ends, report entries, and read on past damage.
func Replay(dir string, from uint64, fn func(index uint64, r Record) error) (ReplayStats, error) {
	st, err := Scan(dir, ScanOptions{From: from, Record: fn})
	return st.ReplayStats, err
}

// Replay is the package-level Replay on the open log's directory, followed
// by what only the holder of its lock may do: when it has read the newest
// checkpoint and found it whole against its seal, it removes the older
// checkpoints a crash may have left (see checkpoint.go); for a checkpoint
// without a seal it logs one WARN line and removes nothing. It is the
// node's replay at start.
func (l *Log) Replay(from uint64, fn func(index uint64, r Record) error) (ReplayStats, error) {
	st, err := Replay(l.dir, from, fn)
	if err != nil || st.Checkpoint == 0 {
		return st, err
	}
	ck := ckpt{n: st.Checkpoint, sealed: st.Sealed}
	if !ck.sealed {
		// Not known to be whole: the older checkpoints stay too, until a
		// compaction writes a sealed one.
		l.opts.Logger.Warn("checkpoint has no seal (written by an older version): it cannot be verified for completeness; the next compaction writes a sealed one",
			"checkpoint", filepath.Join(l.dir, ck.name()))
		return st, nil
	}
	return st, cleanCheckpoints(l.dir, ck)
}
