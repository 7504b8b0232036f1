package log

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// segmentFile is one segment of the log directory.
type segmentFile struct {
	index uint64 // index of the first entry, from the file name
	path  string
}

const segmentNameLen = 20

func segmentName(index uint64) string { return fmt.Sprintf("%020d", index) }

// listSegments returns the segments of walDir in index order, as tidwall/wal
// would after finishing an interrupted TruncateFront or TruncateBack: a
// NAME.START file replaces NAME and every earlier segment, a NAME.END file
// (only a cluster member's TruncateBack writes one) replaces NAME and every
// later segment.
func listSegments(walDir string) ([]segmentFile, error) {
	ents, err := os.ReadDir(walDir)
	if err != nil {
		return nil, err
	}
	var segs []segmentFile
	var start, end *segmentFile
	for _, e := range ents {
		name := e.Name()
		if e.IsDir() || len(name) < segmentNameLen {
			continue
		}
		index, err := strconv.ParseUint(name[:segmentNameLen], 10, 64)
		if err != nil || index == 0 {
			continue
		}
		switch rest := name[segmentNameLen:]; rest {
		case "":
			segs = append(segs, segmentFile{index, filepath.Join(walDir, name)})
		case ".START":
			start = &segmentFile{index, filepath.Join(walDir, name)}
		case ".END":
			if end == nil || index < end.index {
				end = &segmentFile{index, filepath.Join(walDir, name)}
			}
		}
	}
	sort.Slice(segs, func(i, j int) bool { return segs[i].index < segs[j].index })
	if start != nil {
		kept := []segmentFile{*start}
		for _, s := range segs {
			if s.index > start.index {
				kept = append(kept, s)
			}
		}
		segs = kept
	}
	if end != nil {
		kept := segs[:0:0]
		for _, s := range segs {
			if s.index < end.index {
				kept = append(kept, s)
			}
		}
		segs = append(kept, *end)
	}
	return segs, nil
}

// nextFrame parses the tidwall frame at data[off:] and returns its entry and
// the offset of the next frame.
func nextFrame(data []byte, off int) (entry []byte, next int, err error) {
	size, w := binary.Uvarint(data[off:])
	if w <= 0 {
		if w == 0 {
			return nil, 0, ErrTorn
		}
		return nil, 0, fmt.Errorf("%w: length prefix overflows", ErrCorrupt)
	}
	if size > uint64(len(data)-off-w) {
		return nil, 0, fmt.Errorf("%w: frame of %d bytes, %d left in file", ErrTorn, size, len(data)-off-w)
	}
	start := off + w
	return data[start : start+int(size)], start + int(size), nil
}

// checkFrame parses and checks the frame at data[off:], which should hold
// the entry with log index want.
func checkFrame(data []byte, off int, want uint64) (entry []byte, next int, err error) {
	entry, next, err = nextFrame(data, off)
	if err != nil {
		return nil, 0, err
	}
	if _, err := checkEntry(entry); err != nil {
		return nil, 0, err
	}
	if got := binary.LittleEndian.Uint64(entry[indexOffset:]); got != want {
		return nil, 0, fmt.Errorf("%w: entry says index %d", ErrCorrupt, got)
	}
	return entry, next, nil
}

// validPrefix returns the length of the longest prefix of a segment's bytes
// made of good entries starting at index first, the number of those entries,
// and the error met just after it (nil when the whole segment is good).
func validPrefix(data []byte, first uint64) (good int, entries uint64, err error) {
	for good < len(data) {
		_, next, err := checkFrame(data, good, first+entries)
		if err != nil {
			return good, entries, err
		}
		good = next
		entries++
	}
	return good, entries, nil
}

// laterEntry reports whether any byte offset after off starts a frame holding
// a valid entry with an index of at least minIndex: evidence that the damage
// at off is not a torn tail but lies before acknowledged data.
func laterEntry(data []byte, off int, minIndex uint64) (at int, found bool) {
	for p := off + 1; p < len(data); p++ {
		entry, _, err := nextFrame(data, p)
		if err != nil || len(entry) < headerSize {
			continue
		}
		if _, err := checkEntry(entry); err != nil {
			continue
		}
		if binary.LittleEndian.Uint64(entry[indexOffset:]) >= minIndex {
			return p, true
		}
	}
	return 0, false
}

// isTempName reports whether name is a temporary file tidwall/wal writes
// during a truncation and removes itself when it gets the chance.
func isTempName(name string) bool {
	return len(name) > segmentNameLen && strings.HasSuffix(name, ".TEMP")
}
