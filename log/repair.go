package log

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
)

// RepairReport describes a torn tail that was cut off.
type RepairReport struct {
	Segment   string // segment file that was truncated
	Offset    int64  // new size of the segment: the end of its last good entry
	Dropped   int64  // bytes cut off
	FirstLost uint64 // log index the first dropped entry would have had
	// BrokenFile is where the dropped bytes were saved, up to the end of
	// the first dropped frame or the last byte that is not zero, whichever
	// is later: zeros after both are preallocated space no write reached
	// (see prealloc.go), which Dropped still counts.
	BrokenFile  string
	Cause       error  // what was wrong with the first dropped frame
	EntriesKept uint64 // good entries left in the segment
}

// repairTail checks the newest segment of walDir and cuts a damaged tail
// back to its last good entry, keeping the dropped bytes in NAME.broken. It
// returns the newest segment's size after any repair.
func repairTail(walDir string, logger *slog.Logger) (tailBytes int, err error) {
	segs, err := listSegments(walDir)
	if err != nil {
		return 0, fmt.Errorf("log: list segments: %w", err)
	}
	if len(segs) == 0 {
		return 0, nil
	}
	newest := segs[len(segs)-1]
	data, err := os.ReadFile(newest.path)
	if err != nil {
		return 0, fmt.Errorf("log: read newest segment: %w", err)
	}
	rep, err := planRepair(newest, data)
	if err != nil {
		return 0, err
	}
	if rep == nil {
		return trimUnused(newest, data)
	}
	if err := applyRepair(rep, data); err != nil {
		return 0, err
	}
	logger.Warn("cut torn tail off the log",
		"segment", rep.Segment, "offset", rep.Offset, "bytes_dropped", rep.Dropped,
		"first_lost_index", rep.FirstLost, "entries_kept", rep.EntriesKept,
		"saved_to", rep.BrokenFile, "cause", rep.Cause.Error())
	return int(rep.Offset), nil
}

// planRepair decides what to do with the newest segment's bytes: nothing
// (nil, nil), cut a torn tail (a report), or refuse (an error). Zero bytes
// from the last good entry to the end are unused preallocated space (see
// prealloc.go), not a torn tail: nothing to repair.
func planRepair(seg segmentFile, data []byte) (*RepairReport, error) {
	good, n, cause := validPrefix(data, seg.index)
	if cause == nil || zeroTail(data, good) {
		return nil, nil
	}
	if errors.Is(cause, ErrVersion) {
		// A newer program wrote this; cutting it would destroy good data.
		return nil, &CorruptionError{Path: seg.path, Offset: int64(good), Index: seg.index + n, Err: cause}
	}
	if at, found := laterEntry(data, good, seg.index+n); found {
		return nil, &CorruptionError{Path: seg.path, Offset: int64(good), Index: seg.index + n,
			Err: fmt.Errorf("%w; a valid entry follows at byte %d, so this is not a torn tail", cause, at)}
	}
	return &RepairReport{
		Segment: seg.path, Offset: int64(good), Dropped: int64(len(data) - good),
		FirstLost: seg.index + n, BrokenFile: brokenName(seg.path), Cause: intoUnused(data, good, cause), EntriesKept: n,
	}, nil
}

// trimUnused truncates the newest segment to its good entries when it ends
// in unused preallocated space, which tidwall would read as empty entries
// and append after, and returns the size left. Nothing but zeros is cut, so
// there is nothing to keep and nothing to log; the space is preallocated
// again once tidwall has opened the segment.
func trimUnused(seg segmentFile, data []byte) (int, error) {
	good, _, _ := validPrefix(data, seg.index)
	if good == len(data) {
		return good, nil
	}
	f, err := os.OpenFile(seg.path, os.O_WRONLY, 0)
	if err != nil {
		return 0, fmt.Errorf("log: open segment to trim: %w", err)
	}
	defer f.Close()
	if err := f.Truncate(int64(good)); err != nil {
		return 0, fmt.Errorf("log: trim %s to %d bytes: %w", seg.path, good, err)
	}
	if err := f.Sync(); err != nil {
		return 0, fmt.Errorf("log: fsync %s: %w", seg.path, err)
	}
	return good, nil
}

// applyRepair saves the tail, then truncates: the evidence is durable before
// anything is cut, so a crash in between loses nothing.
func applyRepair(rep *RepairReport, data []byte) error {
	if err := writeFileSync(rep.BrokenFile, data[rep.Offset:evidenceEnd(data, int(rep.Offset))]); err != nil {
		return fmt.Errorf("log: save torn tail: %w", err)
	}
	if err := syncDir(filepath.Dir(rep.Segment)); err != nil {
		return err
	}
	f, err := os.OpenFile(rep.Segment, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("log: open segment for repair: %w", err)
	}
	defer f.Close()
	if err := f.Truncate(rep.Offset); err != nil {
		return fmt.Errorf("log: truncate %s: %w", rep.Segment, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("log: fsync %s: %w", rep.Segment, err)
	}
	return nil
}

// evidenceEnd is where the evidence of a torn tail at data[off:] ends (see
// RepairReport.BrokenFile). The zeros after the torn frame and after the
// last byte written are not saved: in a preallocated segment they run to
// its end, and a node that crashed on a full disk would need that much
// room to start.
func evidenceEnd(data []byte, off int) int {
	size, w := binary.Uvarint(data[off:])
	if w <= 0 || size > uint64(len(data)-off-w) {
		return len(data) // a frame cut short by the end of the file: all of it
	}
	return max(off+w+int(size), writtenEnd(data, off))
}

// brokenName picks NAME.broken, or NAME.broken.N if earlier evidence exists.
func brokenName(segPath string) string {
	name := segPath + brokenExt
	for i := 1; ; i++ {
		if _, err := os.Lstat(name); os.IsNotExist(err) {
			return name
		}
		name = fmt.Sprintf("%s%s.%d", segPath, brokenExt, i)
	}
}

func writeFileSync(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Repair cuts a torn tail off the newest segment of the log in dir, exactly
// as Open does at start (the cut bytes are kept in NAME.broken), and returns
// what it cut: nil when nothing needed repair. It holds the directory's
// lock while it works, so it fails with ErrLocked while a node holds dir,
// and like Open it refuses damage that is not a torn tail with a
// *CorruptionError, changing nothing. Like Open it looks at the newest
// segment only; Scan with a Damage callback finds damage anywhere.
func Repair(dir string) (*RepairReport, error) {
	if err := CheckDir(dir); err != nil {
		return nil, err
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	defer lock.Close() // closing the descriptor releases the flock
	seg, data, err := newestSegmentData(dir)
	if err != nil || data == nil {
		return nil, err
	}
	rep, err := planRepair(seg, data)
	if err != nil || rep == nil {
		return nil, err
	}
	if err := applyRepair(rep, data); err != nil {
		return nil, err
	}
	return rep, nil
}

// PlanRepair tells, without changing anything or taking the lock, what Open
// would do with the newest segment of the log in dir: nothing (nil, nil),
// cut a torn tail (a report of what it would cut, BrokenFile naming where it
// would keep the bytes), or refuse to start (a *CorruptionError).
func PlanRepair(dir string) (*RepairReport, error) {
	if err := CheckDir(dir); err != nil {
		return nil, err
	}
	seg, data, err := newestSegmentData(dir)
	if err != nil || data == nil {
		return nil, err
	}
	return planRepair(seg, data)
}

// newestSegmentData reads the newest wal segment; data is nil when the wal
// has no segment.
func newestSegmentData(dir string) (segmentFile, []byte, error) {
	segs, err := listSegments(filepath.Join(dir, walDirName))
	if err != nil {
		return segmentFile{}, nil, fmt.Errorf("log: list segments: %w", err)
	}
	if len(segs) == 0 {
		return segmentFile{}, nil, nil
	}
	newest := segs[len(segs)-1]
	data, err := os.ReadFile(newest.path)
	if err != nil {
		return segmentFile{}, nil, fmt.Errorf("log: read newest segment: %w", err)
	}
	if data == nil {
		data = []byte{}
	}
	return newest, data, nil
}
