package log

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// ReplayStats describes what a replay read.
type ReplayStats struct {
	Segments int    // segment files read
	Entries  uint64 // entries visited (at or after the start index)
	Records  uint64 // records handed to the callback
	Bytes    int64  // bytes of the segment files read
	Last     uint64 // index of the last entry in the log, 0 if empty
}

// Replay reads the log in directory dir (the directory Open takes) from log
// index from onwards and calls fn for every record, in log order. It opens
// nothing for writing and takes no lock, so it is safe on a directory that a
// running node holds: it sees a prefix of the log. Damage stops it with a
// *CorruptionError; an error from fn stops it and is returned as is.
func Replay(dir string, from uint64, fn func(index uint64, r Record) error) (ReplayStats, error) {
	return replayWal(filepath.Join(dir, walDirName), from, fn)
}

func replayWal(walDir string, from uint64, fn func(index uint64, r Record) error) (ReplayStats, error) {
	var st ReplayStats
	segs, err := listSegments(walDir)
	if err != nil {
		return st, fmt.Errorf("log: list segments: %w", err)
	}
	var buf []byte
	var expect uint64 // index the next segment must start at; 0 before the first
	for i, seg := range segs {
		if i+1 < len(segs) && segs[i+1].index <= from {
			continue // every entry of seg is before from
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
