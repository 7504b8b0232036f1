package log

import (
	"fmt"
	"os"
	"path/filepath"
)

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
