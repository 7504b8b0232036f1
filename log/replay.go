package log

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// ReplayStats describes what a replay read.
type ReplayStats struct {
	Checkpoint uint64 // log index the checkpoint replayed covers, 0 if none
	Segments   int    // segment files read, checkpoint's included
	Entries    uint64 // entries visited (at or after the start index)
	Records    uint64 // records handed to the callback
	Bytes      int64  // bytes of the segment files read
	Last       uint64 // index of the last entry in the log, 0 if empty
}

// ErrCompacted reports a replay asked to stop before the newest checkpoint:
// that history was compacted away.
var ErrCompacted = errors.New("log: history before the checkpoint was compacted")

// Replay reads the log in directory dir (the directory Open takes) from log
// index from onwards and calls fn for every record, in log order; see
// ReplayRange.
func Replay(dir string, from uint64, fn func(index uint64, r Record) error) (ReplayStats, error) {
	return ReplayRange(dir, from, 0, fn)
}

// ReplayRange reads the log in dir and calls fn for every record of the
// entries with index in [from, to] (to == 0: to the end), in log order.
// When a checkpoint covers index C >= from, its records come first, each
// reported at index C, and the wal is read from C+1. It opens nothing for
// writing and takes no lock, so it is safe on a directory a running node
// holds: it sees a prefix of the log. Damage stops it with a
// *CorruptionError; an error from fn stops it and is returned as is.
func ReplayRange(dir string, from, to uint64, fn func(index uint64, r Record) error) (ReplayStats, error) {
	var st ReplayStats
	if from == 0 {
		from = 1
	}
	ck, ok, err := CheckpointIndex(dir)
	if err != nil {
		return st, err
	}
	if ok && from <= ck {
		if to != 0 && to < ck {
			return st, fmt.Errorf("%w: asked to stop at %d, checkpoint covers up to %d", ErrCompacted, to, ck)
		}
		cst, err := replayWal(filepath.Join(dir, checkpointName(ck)), 1, 0, func(_ uint64, r Record) error {
			return fn(ck, r)
		})
		st = ReplayStats{Checkpoint: ck, Segments: cst.Segments, Records: cst.Records, Bytes: cst.Bytes, Last: ck}
		if err != nil {
			return st, err
		}
		from = ck + 1
	}
	wst, err := replayWal(filepath.Join(dir, walDirName), from, to, fn)
	st.Segments += wst.Segments
	st.Entries += wst.Entries
	st.Records += wst.Records
	st.Bytes += wst.Bytes
	if wst.Last > st.Last {
		st.Last = wst.Last
	}
	return st, err
}

func replayWal(walDir string, from, to uint64, fn func(index uint64, r Record) error) (ReplayStats, error) {
	var st ReplayStats
	segs, err := listSegments(walDir)
	if err != nil {
		return st, fmt.Errorf("log: list segments: %w", err)
	}
	if len(segs) > 0 && segs[0].index > from {
		// Entries from..first-1 are neither here nor in a checkpoint.
		return st, &CorruptionError{Path: segs[0].path, Index: from,
			Err: fmt.Errorf("%w: the wal starts at index %d; entries from %d on are missing", ErrCorrupt, segs[0].index, from)}
	}
	var buf []byte
	var expect uint64 // index the next segment must start at; 0 before the first
	for i, seg := range segs {
		if i+1 < len(segs) && segs[i+1].index <= from {
			continue // every entry of seg is before from
		}
		if to != 0 && seg.index > to {
			break
		}
		if expect != 0 && seg.index != expect {
			return st, &CorruptionError{Path: seg.path, Index: expect,
				Err: fmt.Errorf("%w: segment starts at index %d, the one before ends at %d", ErrCorrupt, seg.index, expect-1)}
		}
		buf, err = readFile(seg.path, buf)
		if err != nil {
			return st, fmt.Errorf("log: read segment: %w", err)
		}
		st.Segments++
		st.Bytes += int64(len(buf))
		idx := seg.index
		for off := 0; off < len(buf); idx++ {
			if to != 0 && idx > to {
				break
			}
			entry, next, err := checkFrame(buf, off, idx)
			if err != nil {
				return st, &CorruptionError{Path: seg.path, Offset: int64(off), Index: idx, Err: err}
			}
			off = next
			if idx < from {
				continue
			}
			st.Entries++
			if _, err := DecodeEntry(entry, func(r Record) error {
				st.Records++
				return fn(idx, r)
			}); err != nil {
				return st, err
			}
		}
		expect = idx
		st.Last = idx - 1
	}
	return st, nil
}

// readFile reads a whole file into buf's storage, growing it when needed.
func readFile(path string, buf []byte) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return buf, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return buf, err
	}
	size := int(fi.Size())
	if cap(buf) < size {
		buf = make([]byte, size)
	}
	buf = buf[:size]
	n, err := io.ReadFull(f, buf)
	// A running node may have appended since Stat; what was read is a
	// consistent prefix only up to the last whole entry, which the frame
	// parser enforces, so a short read of an appended file is not an error.
	if err == io.ErrUnexpectedEOF {
		return buf[:n], nil
	}
	return buf[:n], err
}
