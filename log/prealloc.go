package log

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Preallocated segments.
//
// An fsync of a segment that an append made longer writes three things in
// turn: the data, the inode (its size, and its mtime), and a cache flush;
// the thread waits for each. A log opened with Options.Preallocate (and
// without NoSync; the node's store sets it) therefore preallocates its
// newest segment to SegmentSize with fallocate(2) when it opens or cycles
// to one, and Sync calls fdatasync(2) rather than fsync(2), whatever the
// options.
// An append into preallocated space changes no size, so fdatasync writes
// the data and flushes, and skips the mtime, which nothing reads back.
//
// fdatasync is as durable as fsync for this log: it writes every piece of
// metadata needed to read the data back, the size when it changed (an
// entry written past the preallocated space, or a segment that could not
// be preallocated) and the allocation of the blocks, converted from
// preallocated to written. A segment's name is made durable by the
// directory fsync as before. Preallocation is best effort: a file system
// without fallocate, or one that is full, leaves the segment at its length
// and Sync stays correct, only slower.
//
// What a crash leaves is then a newest segment whose entries are followed
// by zero bytes up to its preallocated size: the place never written. The
// rule, applied by Open and by Scan alike (zeroTail), is that a run of zero
// bytes from the end of the last good entry to the end of the newest
// segment is unused space, not damage: Open truncates it without a word
// before tidwall reads the file (tidwall would decode zeros as empty
// entries and append after them), and Scan ends the log there. An entry
// torn by the crash is still told apart: the bytes after the last good
// entry are then not all zero (a length prefix, part of a header), and the
// tail is cut with its evidence saved, as without preallocation. Segments
// before the newest never hold such space: tidwall cycles only after a
// write leaves a segment at SegmentSize or more, which covers what was
// preallocated.

// zeroTail reports whether data[off:] is all zero bytes (true when empty):
// preallocated space that no write reached, as the doc above says.
func zeroTail(data []byte, off int) bool {
	rest := data[off:]
	for len(rest) > 0 {
		n := min(len(rest), len(zeroPage))
		if !bytes.Equal(rest[:n], zeroPage[:n]) {
			return false
		}
		rest = rest[n:]
	}
	return true
}

var zeroPage [4096]byte

// unusedTail returns the bytes of unused preallocated space at the end of
// the newest segment in walDir: the zeros after its last good entry, when
// nothing but zeros follows it (zeroTail's rule); 0 when there are none.
func unusedTail(walDir string) (int64, error) {
	segs, err := listSegments(walDir)
	if err != nil {
		return 0, fmt.Errorf("log: list %s: %w", walDir, err)
	}
	if len(segs) == 0 {
		return 0, nil
	}
	seg := segs[len(segs)-1]
	data, err := os.ReadFile(seg.path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return 0, nil // released by a compaction meanwhile
		}
		return 0, fmt.Errorf("log: read %s: %w", seg.path, err)
	}
	good, _, _ := validPrefix(data, seg.index)
	if good == len(data) || !zeroTail(data, good) {
		return 0, nil
	}
	return int64(len(data) - good), nil
}

// openTail points l.tail at tidwall's newest segment, preallocating it when
// the log is durable, unless l.tail is that file already. It returns the
// segment's size before preallocation and whether l.tail changed. On
// failure l.tail is nil and Sync falls back to tidwall's fsync.
func (l *Log) openTail() (size int64, changed bool, err error) {
	segs, err := listSegments(filepath.Join(l.dir, walDirName))
	if err != nil || len(segs) == 0 {
		l.closeTail()
		return 0, true, fmt.Errorf("log: find the tail segment: %v", err)
	}
	path := segs[len(segs)-1].path
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		l.closeTail()
		return 0, true, fmt.Errorf("log: open the tail segment: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		l.closeTail()
		return 0, true, fmt.Errorf("log: stat the tail segment: %w", err)
	}
	if l.tail != nil {
		if cur, err := l.tail.Stat(); err == nil && os.SameFile(cur, fi) {
			f.Close()
			return fi.Size(), false, nil
		}
	}
	l.closeTail()
	l.tail = f
	if l.opts.Preallocate && !l.opts.NoSync && fi.Size() < int64(l.opts.SegmentSize) {
		preallocate(f, int64(l.opts.SegmentSize)) // best effort, see above
	}
	return fi.Size(), true, nil
}

// trimTail gives back the unused preallocated space of the tail at Close,
// so that a log closed cleanly holds only its entries. It cuts only bytes
// it has read back as zeros past the end tidwall's writes reached, and only
// if they are all zero; anything else is left for Open to judge. A failure
// is harmless: Open trims unused space too.
func (l *Log) trimTail() {
	if l.tail == nil {
		return
	}
	fi, err := l.tail.Stat()
	if err != nil || fi.Size() <= int64(l.tailBytes) {
		return
	}
	f, err := os.Open(l.tail.Name())
	if err != nil {
		return
	}
	defer f.Close()
	rest := make([]byte, fi.Size()-int64(l.tailBytes))
	if _, err := f.ReadAt(rest, int64(l.tailBytes)); err != nil || !zeroTail(rest, 0) {
		return
	}
	if l.tail.Truncate(int64(l.tailBytes)) == nil {
		l.tail.Sync()
	}
}

func (l *Log) closeTail() {
	if l.tail != nil {
		l.tail.Close()
		l.tail = nil
	}
}

// syncTail makes the tail segment's data durable: fdatasync of the file
// openTail holds, or tidwall's fsync when it holds none.
func (l *Log) syncTail() error {
	if l.tail == nil {
		return l.wal.Sync()
	}
	return datasync(l.tail)
}

// writtenEnd returns the offset after the last byte of data[off:] that is
// not zero, off when there is none: where what was written ends when the
// zeros after it are unused preallocated space.
func writtenEnd(data []byte, off int) int {
	end := len(data)
	for end > off && data[end-1] == 0 {
		end--
	}
	return end
}

// intoUnused refines the error of a damaged frame at data[off:] in the
// newest segment: when the frame's length runs past the last byte that is
// not zero, and nothing but zeros follows, the entry was cut short by
// unused preallocated space (a write in progress, or one a crash tore), and
// the error is ErrTorn as for a frame cut short by the end of a file.
func intoUnused(data []byte, off int, err error) error {
	if err == nil || errors.Is(err, ErrTorn) {
		return err
	}
	last := writtenEnd(data, off) - 1
	if last < off {
		return err // all zeros: unused space, see zeroTail
	}
	size, w := binary.Uvarint(data[off:])
	if w <= 0 || uint64(last-off-w+1) >= size {
		return err
	}
	return fmt.Errorf("%w: the entry runs into unused preallocated space (%v)", ErrTorn, err)
}
