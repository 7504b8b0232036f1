package log

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// This file is the log's one reader, Scan: Replay (and so the node's
// replay at start), a cluster member's replay and offsets-log's reading
// commands read with it. It never writes, tolerates the tail a running node
// may be writing, and can carry on past damage to find every damaged place.

// CheckDir reports, without changing anything, whether dir holds a log:
// an error wrapping os.ErrNotExist when dir is missing, ErrNotLog when it
// has no wal/ directory.
func CheckDir(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("log: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("%w: %s is not a directory", ErrNotLog, dir)
	}
	fi, err = os.Stat(filepath.Join(dir, walDirName))
	if errors.Is(err, os.ErrNotExist) || (err == nil && !fi.IsDir()) {
		return fmt.Errorf("%w: %s", ErrNotLog, dir)
	}
	if err != nil {
		return fmt.Errorf("log: %w", err)
	}
	return nil
}

// ScanOptions says which entries Scan reads and what it reports.
type ScanOptions struct {
	// From and To bound the log indexes read: entries with index in
	// [From, To], To == 0 meaning to the end. A range that takes in the
	// newest checkpoint (From at or before its index) must not end before
	// it: that is an ErrCompacted error.
	From, To uint64
	// Entry, when set, is called for each good entry before its records.
	Entry func(EntryInfo) error
	// Record, when set, is called for each record of each good entry.
	Record func(index uint64, r Record) error
	// Damage, when set, is called for every damaged place and the scan
	// carries on: within a file it resumes at the next valid entry (found as
	// Open finds evidence against a torn tail), else with the next file.
	// When nil, a torn tail of the newest segment ends the log (see
	// ScanStats.Tail) and any other damage stops the scan with a
	// *CorruptionError, as in Replay.
	Damage func(Damage) error
	// Progress, when set, is called after each file with the bytes read so
	// far.
	Progress func(bytesRead int64)
}

// EntryInfo describes a good entry that Scan visits.
type EntryInfo struct {
	Index      uint64 // log index; for a checkpoint's entries, the checkpoint's index
	Checkpoint bool   // the entry belongs to the checkpoint
	Path       string // the segment file holding it
	Offset     int64  // byte offset of its frame in Path
	Size       int    // bytes of its frame, length prefix included
	Records    int    // records it holds
	CRC        uint32 // its CRC-32C, verified
}

// Damage locates one damaged place that Scan found.
type Damage struct {
	Path   string // the segment file; for damage to a whole file, that file (SEAL) or its directory
	Offset int64  // byte offset where the damage starts
	// Bytes is the damaged span: up to the next valid entry in the file, or
	// to its end.
	Bytes int64
	// Index is the index the first damaged entry should have had. Within a
	// checkpoint it counts the checkpoint's own entries from 1; it is 0 for
	// damage to a whole file (a checkpoint's SEAL).
	Index uint64
	// Next is the index of the valid entry the scan resumed at, 0 when no
	// valid entry follows in the file.
	Next       uint64
	Checkpoint bool // the damage is in the checkpoint
	// Tail marks damage at the end of the newest wal segment with no valid
	// entry after it and not written by a newer program. When it is that
	// segment's first damage, it is exactly what Open cuts as a torn tail;
	// a live node's unfinished write looks like this too (ErrTorn).
	Tail bool
	Err  error // the cause; errors.Is finds ErrTorn, ErrZeroed, ErrChecksum, ErrVersion, ErrCorrupt
}

// ScanStats describes what Scan read.
type ScanStats struct {
	ReplayStats
	// Tail is the torn tail that ended the log, when ScanOptions.Damage is
	// nil and the newest segment ends in one; nil otherwise.
	Tail *Damage
}

// Scan reads the log in dir (the directory Open takes), the entries with
// index in [From, To] in log order. When a checkpoint covers index C >=
// From, its entries come first, their records each reported at index C,
// and the wal is read from C+1. It takes no lock and writes nothing, and
// reads the log the way a node would find it at its next start: when
// the newest segment ends in damage that Open would cut as a torn tail (or
// in an entry a running node is still writing) the log ends there and the
// scan succeeds, reporting it in ScanStats.Tail. With ScanOptions.Damage set
// it reports every damaged place instead and reads on. A checkpoint is
// always read whole and, when sealed, checked against its seal; damage in
// it is never a torn tail (see checkpoint.go).
//
// The callbacks run on the caller's goroutine, in log order; Record data is
// valid only during the call. Meanwhile another goroutine reads and checks
// the next segment file, so that a scan keeps two cores busy. Errors from
// callbacks are returned as they are. When the files change under the scan
// because a compaction ran, the error wraps ErrChanged.
func Scan(dir string, opts ScanOptions) (ScanStats, error) {
	ck, hasCk, err := newestCheckpoint(dir)
	if err != nil {
		return ScanStats{}, err
	}
	s := scanner{opts: opts}
	s.head = &scanHead{dir, ck}
	err = s.scan(dir, ck, hasCk)
	if err != nil && !s.callbackErr {
		if ck2, hasCk2, cerr := newestCheckpoint(dir); cerr == nil && (ck2 != ck || hasCk2 != hasCk) {
			err = fmt.Errorf("%w: %v", ErrChanged, err)
		}
	}
	return s.st, err
}

type scanner struct {
	opts ScanOptions
	// serial reads every segment on the caller's goroutine, without
	// loading the next one on another, so that a compaction's read-back
	// (VerifyCheckpoint) takes one core at most.
	serial      bool
	st          ScanStats
	spare       []byte // a buffer for the next segment
	callbackErr bool   // the error came from a callback
	ckRead      seal   // what the checkpoint's entries add up to, to compare with its seal
	ckDamaged   bool   // damage was reported in the checkpoint
	// head, when set, is the log directory and the checkpoint read as the
	// newest: damage found in it while a newer one has appeared is a
	// compaction removing it under the scan, not damage.
	head *scanHead
}

// scanHead is the checkpoint a scan reads as the log's head, in dir.
type scanHead struct {
	dir string
	c   ckpt
}

// loaded is a segment file read into memory and checked from its start.
type loaded struct {
	data []byte
	good int // bytes of good entries from the start, as validPrefix finds
	err  error
}

// load reads a segment into buf's storage and checks its entries up to the
// first damage. The scan loads the next segment with it on another core
// while the callbacks take the records of this one.
func load(seg segmentFile, buf []byte) loaded {
	if fi, err := os.Stat(seg.path); err == nil && fi.Size() > int64(cap(buf)) {
		// Room for segments a little larger than this one, so that the
		// buffers are allocated once per scan rather than once per segment.
		buf = make([]byte, 0, fi.Size()+fi.Size()/8)
	}
	data, err := readFile(seg.path, buf)
	if err != nil {
		return loaded{data: data, err: err}
	}
	good, _, _ := validPrefix(data, seg.index)
	return loaded{data: data, good: good}
}

// prefetch is a segment being loaded in the background.
type prefetch struct {
	path string
	done chan loaded
}

func (s *scanner) prefetch(seg segmentFile) *prefetch {
	p := &prefetch{path: seg.path, done: make(chan loaded, 1)}
	buf := s.spare
	s.spare = nil
	go func() { p.done <- load(seg, buf) }()
	return p
}

// wait returns the prefetched segment, or nil and recycles the buffer when
// it is not the one wanted.
func (p *prefetch) wait(s *scanner, path string) *loaded {
	if p == nil {
		return nil
	}
	l := <-p.done
	if p.path != path {
		s.spare = l.data
		return nil
	}
	return &l
}

func (s *scanner) scan(dir string, c ckpt, hasCk bool) error {
	from := max(s.opts.From, 1)
	ck := c.n
	if hasCk && from <= ck {
		if s.opts.To != 0 && s.opts.To < ck {
			return fmt.Errorf("%w: asked to stop at %d, checkpoint covers up to %d", ErrCompacted, s.opts.To, ck)
		}
		if err := s.checkpoint(dir, c); err != nil {
			return err
		}
		from = ck + 1
	}
	walDir := filepath.Join(dir, walDirName)
	segs, err := listSegments(walDir)
	if err != nil {
		return s.listErr(walDir, err)
	}
	next, err := s.files(segs, from, s.opts.To, 0, true)
	if err == nil && hasCk && next != 0 && next <= ck {
		// What Open refuses: the wal's entries after the checkpoint are gone.
		err = s.damage(Damage{Path: walDir, Index: ck + 1,
			Err: fmt.Errorf("%w: the wal ends at index %d, before checkpoint %d", ErrCorrupt, next-1, ck)})
	}
	return err
}

// checkpoint reads the whole checkpoint c of the log in dir and, when it is
// sealed, checks it against its seal (see checkpoint.go).
func (s *scanner) checkpoint(dir string, c ckpt) error {
	ckDir := filepath.Join(dir, c.name())
	var want seal
	var sealErr error
	if c.sealed {
		path := filepath.Join(ckDir, sealName)
		b, err := os.ReadFile(path)
		switch {
		case errors.Is(err, os.ErrNotExist):
			if _, derr := os.Stat(ckDir); derr != nil {
				return s.listErr(ckDir, derr)
			}
			sealErr = fmt.Errorf("%w: %s is missing", ErrSeal, sealName)
		case err != nil:
			return fmt.Errorf("log: read checkpoint seal: %w", err)
		default:
			if want, sealErr = decodeSeal(b); sealErr == nil && want.index != c.n {
				sealErr = fmt.Errorf("%w: the seal is checkpoint %d's, this is checkpoint %d", ErrSeal, want.index, c.n)
			}
		}
		if sealErr != nil {
			if err := s.damage(Damage{Path: path, Checkpoint: true, Err: sealErr}); err != nil {
				return err
			}
		}
	}
	segs, err := listSegments(ckDir)
	if err != nil {
		return s.listErr(ckDir, err)
	}
	s.st.Checkpoint = c.n
	s.st.Sealed = c.sealed
	if len(segs) == 0 {
		// tidwall creates a checkpoint's first segment even when no record
		// is written to it: a checkpoint without one lost its files.
		if err := s.damage(Damage{Path: ckDir, Checkpoint: true, Index: 1,
			Err: fmt.Errorf("%w: the checkpoint has no segment file", ErrCorrupt)}); err != nil {
			return err
		}
	}
	if _, err := s.files(segs, 1, 0, c.n, false); err != nil {
		return err
	}
	s.st.Last = c.n
	if !c.sealed || sealErr != nil || s.ckDamaged {
		return nil // nothing to compare, or the damage is reported already
	}
	got := s.ckRead
	got.segments = uint32(len(segs))
	if why := want.mismatch(got); why != "" {
		d := Damage{Path: ckDir, Checkpoint: true, Index: got.last + 1,
			Err: fmt.Errorf("%w: %s (%s)", ErrSeal, why, filepath.Join(ckDir, sealName))}
		if len(segs) > 0 {
			last := segs[len(segs)-1]
			d.Path = last.path
			if fi, err := os.Stat(last.path); err == nil {
				d.Offset = fi.Size()
			}
		}
		return s.damage(d)
	}
	return nil
}

// OlderCheckpoint tells, when the newest checkpoint of the log in dir is
// damaged, whether an older checkpoint and the wal after it still hold the
// whole log, as after a crash between a compaction's rename and its wal
// truncation: the older checkpoint is sealed and matches its seal, the wal
// holds every entry after it, without damage, up to at least the damaged
// checkpoint's index. It returns the two directories when so. Nothing
// falls back to the older checkpoint by itself (the node refuses to start
// on a damaged checkpoint); moving the damaged one out of dir makes the
// older one the log's head. It writes nothing and takes no lock.
func OlderCheckpoint(dir string) (damaged, older string, ok bool, err error) {
	done, _, err := checkpoints(dir)
	if err != nil || len(done) < 2 {
		return "", "", false, err
	}
	newest := done[len(done)-1]
	if VerifyCheckpoint(dir) == nil {
		return "", "", false, nil
	}
	for i := len(done) - 2; i >= 0; i-- {
		c := done[i]
		if !c.sealed {
			continue // its completeness cannot be shown
		}
		s := scanner{serial: true}
		if err := s.scan(dir, c, true); err != nil || s.st.Last < newest.n {
			continue
		}
		return filepath.Join(dir, newest.name()), filepath.Join(dir, c.name()), true, nil
	}
	return "", "", false, nil
}

// VerifyCheckpoint reads the newest checkpoint of the log in dir in full
// and checks every entry, and for a sealed checkpoint that it matches its
// seal. It returns nil when there is no checkpoint or it is whole, and a
// *CorruptionError otherwise. It writes nothing and takes no lock.
func VerifyCheckpoint(dir string) error {
	c, ok, err := newestCheckpoint(dir)
	if err != nil || !ok {
		return err
	}
	s := scanner{serial: true}
	s.head = &scanHead{dir, c}
	return s.checkpoint(dir, c)
}

func (s *scanner) listErr(dir string, err error) error {
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%w: %s is gone", ErrChanged, dir)
	}
	return fmt.Errorf("log: list segments: %w", err)
}

// files reads the segments of one directory: the wal, or a checkpoint whose
// records are all reported at index ck. It returns the index after the last
// entry of the last segment, 0 when it stopped early or cannot tell.
func (s *scanner) files(segs []segmentFile, from, to, ck uint64, wal bool) (uint64, error) {
	if len(segs) > 0 && segs[0].index > from {
		err := fmt.Errorf("%w: the log starts at index %d; entries from %d on are missing", ErrCorrupt, segs[0].index, from)
		if err := s.damage(Damage{Path: segs[0].path, Index: from, Next: segs[0].index, Checkpoint: !wal, Err: err}); err != nil {
			return 0, err
		}
	}
	var expect uint64 // index the next segment must start at; 0 when unknown
	var next *prefetch
	defer func() { next.wait(s, "") }() // never leave a load running
	for i := 0; i < len(segs); i++ {
		seg := segs[i]
		if i+1 < len(segs) && segs[i+1].index <= from {
			continue // every entry of seg is before from
		}
		if to != 0 && seg.index > to {
			return 0, nil
		}
		if expect != 0 && seg.index != expect && wal {
			// A directory listing taken while a node creates segments
			// can miss one and still show a newer one: look again.
			if again, err := listSegments(filepath.Dir(seg.path)); err == nil {
				for j, sj := range again {
					if sj.index == expect {
						segs, i, seg = again, j, sj
						break
					}
				}
			}
		}
		if expect != 0 && seg.index != expect {
			err := fmt.Errorf("%w: segment starts at index %d, the one before ends at %d", ErrCorrupt, seg.index, expect-1)
			if err := s.damage(Damage{Path: seg.path, Index: expect, Next: seg.index, Checkpoint: !wal, Err: err}); err != nil {
				return 0, err
			}
		}
		cur := next.wait(s, seg.path)
		next = nil
		if cur == nil {
			l := load(seg, s.spare)
			s.spare, cur = nil, &l
		}
		if cur.err != nil {
			s.spare = cur.data
			if errors.Is(cur.err, os.ErrNotExist) {
				return 0, fmt.Errorf("%w: %s is gone", ErrChanged, seg.path)
			}
			return 0, fmt.Errorf("log: read segment: %w", cur.err)
		}
		if i+1 < len(segs) && (to == 0 || segs[i+1].index <= to) {
			if !s.serial {
				next = s.prefetch(segs[i+1])
			}
		}
		s.st.Segments++
		s.st.Bytes += int64(len(cur.data))
		newest := wal && i == len(segs)-1
		after, end, err := s.segment(seg, cur.data, cur.good, from, to, ck, newest)
		s.spare = cur.data
		if err != nil {
			return 0, err
		}
		if s.opts.Progress != nil {
			s.opts.Progress(s.st.Bytes)
		}
		if end {
			return 0, nil
		}
		expect = after
	}
	return expect, nil
}

// segment reads one segment's bytes, of which the first good are known to be
// good entries. It returns the index after its last entry and whether the
// log ends here (a torn tail, or past to).
func (s *scanner) segment(seg segmentFile, data []byte, good int, from, to, ck uint64, newest bool) (next uint64, end bool, err error) {
	idx := seg.index
	for off := 0; off < len(data); {
		if to != 0 && idx > to {
			return idx, true, nil
		}
		var entry []byte
		var after int
		var ferr error
		if off < good {
			entry, after, ferr = nextFrame(data, off) // checked by load
		} else {
			entry, after, ferr = checkFrame(data, off, idx)
		}
		if ferr != nil && newest && zeroTail(data, off) {
			// Preallocated space no write reached: the end of the log, not
			// damage (see prealloc.go), and not bytes of the log.
			s.st.Bytes -= int64(len(data) - off)
			return idx, false, nil
		}
		if ferr != nil {
			at, found, resumeIdx := resyncEntry(data, off, idx)
			d := Damage{Path: seg.path, Offset: int64(off), Bytes: int64(len(data) - off), Index: idx,
				Checkpoint: ck != 0, Err: ferr}
			if found {
				d.Bytes, d.Next = int64(at-off), resumeIdx
			} else {
				d.Tail = newest && !errors.Is(ferr, ErrVersion)
				if d.Tail {
					d.Err = intoUnused(data, off, ferr)
				}
			}
			if s.opts.Damage == nil && d.Tail {
				s.st.Tail = &d
				return idx, true, nil
			}
			if err := s.damage(d); err != nil {
				return 0, false, err
			}
			if !found {
				return 0, false, nil // the next segment's name says where it starts
			}
			off, idx = at, resumeIdx
			continue
		}
		if idx >= from {
			if err := s.entry(seg.path, off, after, entry, idx, ck); err != nil {
				return 0, false, err
			}
		}
		if ck == 0 && idx > s.st.Last {
			s.st.Last = idx
		}
		off = after
		idx++
	}
	return idx, false, nil
}

func (s *scanner) entry(path string, off, after int, entry []byte, idx, ck uint64) error {
	at := idx
	if ck != 0 {
		at = ck
	}
	count, p := recordCount(entry)
	if ck != 0 {
		if idx != s.ckRead.entries+1 {
			// A valid entry out of its place: files reports the gap itself.
			s.ckDamaged = true
		}
		s.ckRead.addEntry(uint32(count), binary.LittleEndian.Uint32(entry[crcOffset:]), after-off)
	}
	s.st.Entries++
	if s.opts.Entry != nil {
		info := EntryInfo{Index: at, Checkpoint: ck != 0, Path: path, Offset: int64(off), Size: after - off,
			Records: count, CRC: binary.LittleEndian.Uint32(entry[crcOffset:])}
		if err := s.opts.Entry(info); err != nil {
			s.callbackErr = true
			return err
		}
	}
	// checkFrame has checked the framing of every record: walk it bare.
	for range count {
		n, w := binary.Uvarint(entry[p+1:])
		start := p + 1 + w
		r := Record{Type: RecordType(entry[p]), Data: entry[start : start+int(n) : start+int(n)]}
		p = start + int(n)
		s.st.Records++
		if s.opts.Record != nil {
			if err := s.opts.Record(at, r); err != nil {
				s.callbackErr = true
				return err
			}
		}
	}
	return nil
}

// damage reports d to the Damage callback, or stops the scan with it.
func (s *scanner) damage(d Damage) error {
	if d.Checkpoint {
		if s.head != nil {
			if now, ok, err := newestCheckpoint(s.head.dir); err == nil && (!ok || now != s.head.c) {
				return fmt.Errorf("%w: checkpoint %d was replaced while it was read", ErrChanged, s.head.c.n)
			}
		}
		s.ckDamaged = true
	}
	if s.opts.Damage == nil {
		err := d.Err
		if d.Next != 0 && d.Bytes > 0 {
			err = fmt.Errorf("%w; a valid entry follows at byte %d, so this is not a torn tail", err, d.Offset+d.Bytes)
		}
		return &CorruptionError{Path: d.Path, Offset: d.Offset, Index: d.Index, Err: err}
	}
	if err := s.opts.Damage(d); err != nil {
		s.callbackErr = true
		return err
	}
	return nil
}

// resyncEntry finds the first offset after off where a frame holding a valid
// entry with index at least minIndex starts, and that entry's index. It
// accepts exactly the entries laterEntry accepts, but tests the version
// byte and the index before computing a checksum, so that a long run of
// garbage costs a few comparisons per byte instead of a CRC of the rest of
// the file.
func resyncEntry(data []byte, off int, minIndex uint64) (at int, found bool, index uint64) {
	for p := off + 1; p < len(data); p++ {
		size, w := binary.Uvarint(data[p:])
		if w <= 0 || size < headerSize || size > uint64(len(data)-p-w) {
			continue
		}
		entry := data[p+w : p+w+int(size)]
		if v := entry[verOffset]; v != Version && v != VersionRaft {
			continue
		}
		idx := binary.LittleEndian.Uint64(entry[indexOffset:])
		if idx < minIndex {
			continue
		}
		if _, err := checkEntry(entry); err != nil {
			continue
		}
		return p, true, idx
	}
	return 0, false, 0
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
