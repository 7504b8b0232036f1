package log

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/wal"
)

// A checkpoint holds the records that are still live as of log index N, in
// the same segment and entry format as the log itself, in the directory
// DIR/checkpoint.N.sealed (N written as 20 digits), beside a seal that says
// what it holds. When one exists, the log is the checkpoint followed by the
// wal's entries after N; wal entries at or before N may linger after a
// crash and are skipped.
//
// # The seal
//
// Nothing in a segment says how many entries should follow it, so a
// checkpoint cut at an entry boundary, emptied or deleted would read as a
// valid, shorter one. The file SEAL inside the checkpoint directory records
// what the checkpoint holds; a reader compares what it read with it. All
// integers are little endian; the file is exactly 65 bytes.
//
//	offset  size  field
//	0       4     magic "SEAL"
//	4       1     seal format version, 1
//	5       8     N, the log index the checkpoint covers (as in its name)
//	13      8     number of entries (checkpoint entries count from 1)
//	21      8     number of records in them
//	29      8     index of the first entry: 1, or 0 when there is none
//	37      8     index of the last entry: the number of entries
//	45      8     bytes of all the segment files together
//	53      4     number of segment files
//	57      4     CRC-32C of the concatenated stored CRC-32Cs of every
//	              entry (4 bytes each), in order
//	61      4     CRC-32C of bytes [0, 61)
//
// A sealed checkpoint whose SEAL is missing, does not decode, names another
// N, or does not match the segments (an entry count, a record count, a last
// index, a size, a segment count or a checksum that differs) is damage:
// Scan and Replay fail with a *CorruptionError wrapping ErrSeal that names
// the file. A checkpoint is never repaired: only the wal's newest segment
// can have a torn tail, and any damage in a checkpoint is refused.
//
// The ".sealed" in the directory's name is what tells a sealed checkpoint
// from one written before seals existed (DIR/checkpoint.N, no SEAL): a
// missing SEAL cannot be told from a format without one, but a name can,
// and it survives the removal of any file inside. A checkpoint without the
// suffix is still read, and Log.Replay logs one WARN line saying it cannot
// be checked for completeness; the next compaction replaces it with a
// sealed one. Programs from before seals ignore a sealed checkpoint's
// directory: once the wal has been truncated behind it they find the log
// starting after index 1 and refuse to start rather than miss its records.
//
// # Writing one
//
// The compactor writes a checkpoint with CreateCheckpoint, Add and Commit,
// then calls Log.ReleaseThrough(N). A cluster member (package raftlog)
// writes its snapshot's the same way, with a file of its own written by
// CheckpointWriter.WriteFile before Commit, and releases through an index
// M below N to keep entries before the snapshot in the wal (steps 8 and 9
// then take M for N). The order of every step, and what a crash after each
// leaves behind:
//
//  1. mkdir checkpoint.N.sealed.tmp, write its     crash: .tmp removed by Open
//     segments (fsynced every 1 MiB written, and
//     each by tidwall before it starts the next)
//  2. fsync the last segment (closing it)          crash: .tmp removed by Open
//  3. write SEAL into it, fsync SEAL               crash: .tmp removed by Open
//  4. fsync checkpoint.N.sealed.tmp                crash: .tmp removed by Open
//  5. rename it to checkpoint.N.sealed             crash: either name; as 1 or 6
//  6. fsync DIR                                    crash: checkpoint.N.sealed is
//     the log's head, wal entries <= N skipped; older checkpoints stay until
//     it has been read back whole (by the next Replay or compaction)
//  7. read checkpoint.N.sealed back, check it      crash: as 6. Damage found
//     against SEAL                                 here stops the compaction:
//     nothing is released; the checkpoint is renamed checkpoint.N.sealed.broken
//     (kept as evidence, read by nobody) and DIR fsynced, which leaves the
//     log as it was before the compaction; but when this is the retry of
//     a release that stopped after step 8 or 9 (a full disk), the wal no
//     longer holds what it replaced, and it stays: a restart refuses it
//     by name
//  8. empty the wal segments wholly <= N           crash: as 6; their entries
//     are never read again
//  9. tidwall TruncateFront(N+1) on the wal        crash: tidwall finishes or
//     undoes it on open (its .START protocol)
//  10. fsync DIR/wal
//  11. remove older checkpoints, fsync DIR         crash: removed by the next
//     Replay or compaction, after checkpoint.N.sealed is read back whole
//
// Open removes temporary checkpoints (they are never part of the log) but
// never an older complete one: Log.Replay removes those only after it has
// read the newest checkpoint and found it matching its seal, so that the
// last good copy survives damage to the newest. At no point is a record
// that was live at N missing from the newest complete checkpoint plus the
// wal, and no superseded record is ever in a place that is replayed after
// the record that supersedes it.
const (
	checkpointPrefix = "checkpoint."
	sealedSuffix     = ".sealed"
	tmpSuffix        = ".tmp"
	sealName         = "SEAL"
	// checkpointEntryBytes is the size at which a checkpoint entry is cut.
	checkpointEntryBytes = 64 << 10
	// checkpointSyncBytes is how much checkpoint data may wait in the page
	// cache before it is synced: writing back a whole checkpoint with one
	// fsync at the end would stall the node's own fsyncs behind it (the
	// file system's journal commits them together), as RocksDB's
	// bytes_per_sync avoids.
	checkpointSyncBytes = 1 << 20
)

// ckpt is a complete checkpoint directory.
type ckpt struct {
	n      uint64
	sealed bool // named checkpoint.N.sealed: SEAL must be there and match
}

func (c ckpt) name() string {
	if c.sealed {
		return checkpointName(c.n)
	}
	return checkpointPrefix + fmt.Sprintf("%020d", c.n)
}

// older reports whether c is superseded by d.
func (c ckpt) older(d ckpt) bool { return c.n < d.n || (c.n == d.n && !c.sealed && d.sealed) }

func checkpointName(n uint64) string {
	return checkpointPrefix + fmt.Sprintf("%020d", n) + sealedSuffix
}

// checkpoints lists the complete checkpoints in dir, oldest first, and the
// temporary ones separately.
func checkpoints(dir string) (done []ckpt, tmps []string, err error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("log: list %s: %w", dir, err)
	}
	for _, e := range ents {
		name := e.Name()
		if !e.IsDir() || !strings.HasPrefix(name, checkpointPrefix) {
			continue
		}
		rest := strings.TrimPrefix(name, checkpointPrefix)
		if strings.HasSuffix(rest, tmpSuffix) {
			tmps = append(tmps, filepath.Join(dir, name))
			continue
		}
		num, sealed := strings.CutSuffix(rest, sealedSuffix)
		if n, err := strconv.ParseUint(num, 10, 64); err == nil && len(num) == 20 {
			done = append(done, ckpt{n: n, sealed: sealed})
		}
	}
	sort.Slice(done, func(i, j int) bool { return done[i].older(done[j]) })
	return done, tmps, nil
}

// newestCheckpoint returns the newest complete checkpoint in dir.
func newestCheckpoint(dir string) (ckpt, bool, error) {
	done, _, err := checkpoints(dir)
	if err != nil || len(done) == 0 {
		return ckpt{}, false, err
	}
	return done[len(done)-1], true, nil
}

// CheckpointIndex returns the log index that the newest checkpoint in dir
// covers, and false when there is none.
func CheckpointIndex(dir string) (uint64, bool, error) {
	c, ok, err := newestCheckpoint(dir)
	return c.n, ok, err
}

// CheckpointUnsealed reports whether the newest checkpoint in dir was
// written before seals existed, so that its completeness cannot be
// checked; false when there is no checkpoint.
func CheckpointUnsealed(dir string) (bool, error) {
	c, ok, err := newestCheckpoint(dir)
	return ok && !c.sealed, err
}

// CheckpointDir returns the directory of the newest complete checkpoint of
// the log in dir and the index it covers; false when there is none.
func CheckpointDir(dir string) (path string, n uint64, ok bool, err error) {
	c, ok, err := newestCheckpoint(dir)
	if err != nil || !ok {
		return "", 0, false, err
	}
	return filepath.Join(dir, c.name()), c.n, true, nil
}

// CheckpointName is the name, inside a log directory, of the sealed
// checkpoint covering index n.
func CheckpointName(n uint64) string { return checkpointName(n) }

// removeTmpCheckpoints removes the temporary checkpoints a crash during a
// compaction leaves behind. They are never part of the log.
func removeTmpCheckpoints(dir string) error {
	_, tmps, err := checkpoints(dir)
	if err != nil {
		return err
	}
	for _, p := range tmps {
		if err := os.RemoveAll(p); err != nil {
			return fmt.Errorf("log: remove stale checkpoint: %w", err)
		}
	}
	if len(tmps) > 0 {
		return syncDir(dir)
	}
	return nil
}

// cleanCheckpoints removes every complete checkpoint older than keep, which
// the caller has read back and found whole.
func cleanCheckpoints(dir string, keep ckpt) error {
	done, _, err := checkpoints(dir)
	if err != nil {
		return err
	}
	removed := false
	for _, c := range done {
		if !c.older(keep) {
			continue
		}
		if err := os.RemoveAll(filepath.Join(dir, c.name())); err != nil {
			return fmt.Errorf("log: remove superseded checkpoint: %w", err)
		}
		removed = true
	}
	if removed {
		return syncDir(dir)
	}
	return nil
}

// setAside renames checkpoint c to NAME.broken (NAME.broken.N when that
// exists), which no reader takes for a checkpoint, and fsyncs dir.
func setAside(dir string, c ckpt) error {
	p := filepath.Join(dir, c.name())
	if err := os.Rename(p, brokenName(p)); err != nil {
		return err
	}
	return syncDir(dir)
}

// seal is what a checkpoint's SEAL file records, in the layout above.
type seal struct {
	index    uint64 // N
	entries  uint64
	records  uint64
	first    uint64
	last     uint64
	bytes    uint64
	segments uint32
	sum      uint32 // CRC-32C of the entries' CRC-32Cs
}

const (
	sealMagic   = "SEAL"
	sealVersion = 1
	sealSize    = 65
)

func (s seal) encode() []byte {
	b := make([]byte, 0, sealSize)
	b = append(b, sealMagic...)
	b = append(b, sealVersion)
	for _, v := range []uint64{s.index, s.entries, s.records, s.first, s.last, s.bytes} {
		b = binary.LittleEndian.AppendUint64(b, v)
	}
	b = binary.LittleEndian.AppendUint32(b, s.segments)
	b = binary.LittleEndian.AppendUint32(b, s.sum)
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

func decodeSeal(b []byte) (seal, error) {
	if len(b) != sealSize {
		return seal{}, fmt.Errorf("%w: %d bytes, a seal has %d", ErrSeal, len(b), sealSize)
	}
	if want, got := binary.LittleEndian.Uint32(b[61:]), crc32.Checksum(b[:61], castagnoli); want != got {
		return seal{}, fmt.Errorf("%w: seal checksum stored %08x, computed %08x", ErrSeal, want, got)
	}
	if string(b[:4]) != sealMagic {
		return seal{}, fmt.Errorf("%w: not a seal (magic %q)", ErrSeal, b[:4])
	}
	if b[4] != sealVersion {
		return seal{}, fmt.Errorf("%w: seal format version %d (this program reads version %d)", ErrVersion, b[4], sealVersion)
	}
	u := func(off int) uint64 { return binary.LittleEndian.Uint64(b[off:]) }
	return seal{index: u(5), entries: u(13), records: u(21), first: u(29), last: u(37), bytes: u(45),
		segments: binary.LittleEndian.Uint32(b[53:]), sum: binary.LittleEndian.Uint32(b[57:])}, nil
}

// mismatch tells how what was read (got) differs from the seal (s); "" when
// it matches.
func (s seal) mismatch(got seal) string {
	switch {
	case got.entries != s.entries || got.last != s.last || got.first != s.first:
		return fmt.Sprintf("the checkpoint holds %d entries (the last %d), its seal %d (the last %d)", got.entries, got.last, s.entries, s.last)
	case got.records != s.records:
		return fmt.Sprintf("the checkpoint holds %d records, its seal %d", got.records, s.records)
	case got.segments != s.segments:
		return fmt.Sprintf("the checkpoint has %d segment files, its seal %d", got.segments, s.segments)
	case got.bytes != s.bytes:
		return fmt.Sprintf("the checkpoint's segments hold %d bytes, its seal %d", got.bytes, s.bytes)
	case got.sum != s.sum:
		return fmt.Sprintf("the checksum of the entries' checksums is %08x, its seal %08x", got.sum, s.sum)
	}
	return ""
}

// addEntry counts one entry, with its stored CRC-32C, into s.
func (s *seal) addEntry(records uint32, crc uint32, frameBytes int) {
	s.entries++
	if s.first == 0 {
		s.first = s.entries
	}
	s.last = s.entries
	s.records += uint64(records)
	s.bytes += uint64(frameBytes)
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], crc)
	s.sum = crc32.Update(s.sum, castagnoli, b[:])
}

// CheckpointWriter writes a new checkpoint. It is not safe for concurrent
// use, and nothing it writes is visible until Commit.
type CheckpointWriter struct {
	dir      string // the log directory
	n        uint64
	tmp      string
	wal      *wal.Log
	batch    Batch
	seal     seal // what has been written, for the SEAL file
	unsynced int  // bytes written since the last sync
	// Hook, when set, is called before each file-protocol step and may stop
	// the commit there by returning an error; tests use it to crash on
	// purpose.
	Hook func(step string) error
}

// CreateCheckpoint starts a checkpoint of log dir covering log index n.
func CreateCheckpoint(dir string, n uint64, segmentSize int) (*CheckpointWriter, error) {
	if segmentSize <= 0 {
		segmentSize = defaultSegs
	}
	tmp := filepath.Join(dir, checkpointName(n)+tmpSuffix)
	if err := os.RemoveAll(tmp); err != nil {
		return nil, fmt.Errorf("log: clear %s: %w", tmp, err)
	}
	w, err := wal.Open(tmp, &wal.Options{NoSync: true, SegmentSize: segmentSize, AllowEmpty: true, NoCopy: true})
	if err != nil {
		os.RemoveAll(tmp) // a full disk lets tidwall create the directory but not its first segment
		return nil, fmt.Errorf("log: create checkpoint: %w", err)
	}
	return &CheckpointWriter{dir: dir, n: n, tmp: tmp, wal: w, seal: seal{index: n}}, nil
}

// Add appends a record to the checkpoint.
func (c *CheckpointWriter) Add(t RecordType, data []byte) error {
	c.batch.Add(t, data)
	if c.batch.Size() >= checkpointEntryBytes {
		return c.flush()
	}
	return nil
}

// WriteFile writes a file of the caller's into the checkpoint's directory
// and fsyncs it, before Commit seals and renames the directory, so that the
// file is in place exactly when the checkpoint is: a cluster member keeps
// its snapshot's raft metadata this way. The name must not be SEAL or a
// segment's name; the seal does not cover the file, which should carry its
// own checksum. Readers of the log ignore it.
func (c *CheckpointWriter) WriteFile(name string, data []byte) error {
	if name == sealName || name != filepath.Base(name) || len(name) >= segmentNameLen || name == "." || name == ".." {
		return fmt.Errorf("log: checkpoint file name %q is reserved or not a plain name", name)
	}
	if err := writeFileSync(filepath.Join(c.tmp, name), data); err != nil {
		return fmt.Errorf("log: write checkpoint file %s: %w", name, err)
	}
	return nil
}

func (c *CheckpointWriter) flush() error {
	if c.batch.Len() == 0 {
		return nil
	}
	idx := c.seal.entries + 1
	entry := c.batch.seal(idx)
	if err := c.wal.Write(idx, entry); err != nil {
		return fmt.Errorf("log: write checkpoint: %w", err)
	}
	c.seal.addEntry(uint32(c.batch.Len()), binary.LittleEndian.Uint32(entry[crcOffset:]), uvarintLen(uint64(len(entry)))+len(entry))
	c.batch.Reset()
	if c.unsynced += len(entry); c.unsynced >= checkpointSyncBytes {
		c.unsynced = 0
		if err := c.wal.Sync(); err != nil {
			return fmt.Errorf("log: sync checkpoint: %w", err)
		}
	}
	return nil
}

func (c *CheckpointWriter) step(name string) error {
	if c.Hook != nil {
		return c.Hook(name)
	}
	return nil
}

// Commit makes the checkpoint durable and visible under its final name,
// sealed (steps 2 to 6 of the protocol above), and returns its size in
// bytes.
func (c *CheckpointWriter) Commit() (int64, error) {
	if err := c.flush(); err != nil {
		return 0, err
	}
	if err := c.step("checkpoint-written"); err != nil {
		return 0, err
	}
	if err := c.wal.Close(); err != nil { // fsyncs the tail segment; tidwall synced the others when it cycled
		return 0, fmt.Errorf("log: close checkpoint: %w", err)
	}
	c.wal = nil
	segs, err := listSegments(c.tmp)
	if err != nil {
		return 0, fmt.Errorf("log: list checkpoint segments: %w", err)
	}
	c.seal.segments = uint32(len(segs))
	if err := writeFileSync(filepath.Join(c.tmp, sealName), c.seal.encode()); err != nil {
		return 0, fmt.Errorf("log: write checkpoint seal: %w", err)
	}
	if err := c.step("checkpoint-sealed"); err != nil {
		return 0, err
	}
	if err := syncDir(c.tmp); err != nil {
		return 0, err
	}
	if err := c.step("checkpoint-synced"); err != nil {
		return 0, err
	}
	final := filepath.Join(c.dir, checkpointName(c.n))
	if err := os.Rename(c.tmp, final); err != nil {
		return 0, fmt.Errorf("log: rename checkpoint: %w", err)
	}
	if err := c.step("checkpoint-renamed"); err != nil {
		return 0, err
	}
	if err := syncDir(c.dir); err != nil {
		return 0, err
	}
	return dirSize(final)
}

// Abort removes an uncommitted checkpoint.
func (c *CheckpointWriter) Abort() {
	if c.wal != nil {
		c.wal.Close()
	}
	os.RemoveAll(c.tmp)
}

func dirSize(dir string) (int64, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, e := range ents {
		if fi, err := e.Info(); err == nil && !e.IsDir() {
			n += fi.Size()
		}
	}
	return n, nil
}

// Size returns the bytes on disk of the log in dir: its wal segments and its
// newest checkpoint. The unused preallocated space at the end of the newest
// segment (see prealloc.go) is not counted: it holds nothing yet.
func Size(dir string) (int64, error) {
	walDir := filepath.Join(dir, walDirName)
	n, err := dirSize(walDir)
	if err != nil {
		return 0, err
	}
	unused, err := unusedTail(walDir)
	if err != nil {
		return 0, err
	}
	n -= unused
	if ck, ok, err := newestCheckpoint(dir); err != nil {
		return 0, err
	} else if ok {
		c, err := dirSize(filepath.Join(dir, ck.name()))
		if err != nil {
			return 0, err
		}
		n += c
	}
	return n, nil
}

// ReleaseThrough drops the wal's entries up to and including n, which the
// checkpoint for n (already committed) now holds, and then every older
// checkpoint, when that one is sealed: steps 7 to 11 of the protocol above. It first reads the
// checkpoint back and checks it against its seal; when that fails it
// releases nothing and removes nothing. It returns how long it held the
// log, during which Append and Sync wait: the compaction's pause. It is the
// time tidwall takes to rewrite the rest of one segment and to unlink the
// segments before it.
func (l *Log) ReleaseThrough(n uint64, hook func(step string) error) (time.Duration, error) {
	if hook == nil {
		hook = func(string) error { return nil }
	}
	ck, ok, err := newestCheckpoint(l.dir)
	if err != nil {
		return 0, err
	} else if !ok || ck.n < n {
		return 0, fmt.Errorf("log: release through %d without a checkpoint covering it", n)
	}
	if err := VerifyCheckpoint(l.dir); err != nil {
		err = fmt.Errorf("log: the new checkpoint does not read back whole: %w", err)
		if ck.n != n {
			return 0, err
		}
		// While the wal still holds every entry the checkpoint replaced,
		// the log without it is the log as it was before this compaction:
		// set it aside as evidence. Once a release stopped half way (the
		// retry after a full disk) emptied or truncated some of them, it
		// is the only copy of those records: it stays the log's head, so
		// that a restart refuses it by name rather than blame the wal.
		if released, rerr := walReleased(l.dir, n); rerr != nil || released {
			return 0, err
		}
		if merr := setAside(l.dir, ck); merr != nil {
			return 0, fmt.Errorf("%w; and setting it aside failed: %v", err, merr)
		}
		return 0, err
	}
	if err := hook("checkpoint-verified"); err != nil {
		return 0, err
	}
	if err := emptyReleased(filepath.Join(l.dir, walDirName), n); err != nil {
		return 0, err
	}
	if err := hook("released-segments-emptied"); err != nil {
		return 0, err
	}
	l.mu.Lock()
	start := time.Now()
	err = l.truncateFront(n, hook)
	pause := time.Since(start)
	l.mu.Unlock()
	if err != nil {
		return pause, err
	}
	// The directory fsync that makes the truncation durable needs no hold
	// on the log: tidwall's open finishes an interrupted truncation, and a
	// Sync that acknowledges an entry appended meanwhile fsyncs the
	// directory itself (truncateFront set dirDirty), so that the rewritten
	// tail is not left under its TEMP name, which Open removes.
	if err := syncDir(filepath.Join(l.dir, walDirName)); err != nil {
		l.mu.Lock()
		l.failed = err
		l.mu.Unlock()
		return pause, err
	}
	if err := hook("wal-truncated"); err != nil {
		return pause, err
	}
	if !ck.sealed {
		// Written before seals (the retried release of an upgraded log's
		// checkpoint): not known to be whole, so the older ones stay, as
		// Log.Replay keeps them, until a sealed one is written.
		return pause, nil
	}
	return pause, cleanCheckpoints(l.dir, ck)
}

// walReleased reports whether a release through checkpoint n has begun to
// drop wal entries that the log without it needs, those after the
// checkpoint before n (prev): a segment wholly at or before n but not at
// or before prev was emptied (emptyReleased), or the wal starts after
// prev+1 (tidwall's truncation). Segments a release through prev emptied
// before a crash do not count: the log without n does not read them.
func walReleased(dir string, n uint64) (bool, error) {
	segs, err := listSegments(filepath.Join(dir, walDirName))
	if err != nil {
		return false, err
	}
	var prev uint64 // the index the log before checkpoint n starts after
	done, _, err := checkpoints(dir)
	if err != nil {
		return false, err
	}
	for _, c := range done {
		if c.n < n {
			prev = c.n
		}
	}
	if len(segs) == 0 || segs[0].index > prev+1 {
		return true, nil
	}
	for i := 0; i+1 < len(segs) && segs[i+1].index <= n+1; i++ {
		if segs[i+1].index <= prev+1 {
			continue // wholly at or before prev
		}
		fi, err := os.Stat(segs[i].path)
		if err != nil {
			return false, err
		}
		if fi.Size() == 0 {
			return true, nil
		}
	}
	return false, nil
}

// emptyReleased truncates to zero bytes every wal segment whose entries are
// all at or before n, before the log is held: what tidwall must then unlink
// under its lock is empty files, whose unlink costs next to nothing, rather
// than megabytes whose blocks the file system must free. The checkpoint for
// n is durable, so these entries are never read again: replay starts at
// n+1 and skips whole segments before it, and tidwall reads only the
// newest segment on open. A crash before the truncation reaches the disk
// leaves the old bytes, which are as unread.
func emptyReleased(walDir string, n uint64) error {
	segs, err := listSegments(walDir)
	if err != nil {
		return fmt.Errorf("log: list segments: %w", err)
	}
	for i := 0; i+1 < len(segs) && segs[i+1].index <= n+1; i++ {
		if err := os.Truncate(segs[i].path, 0); err != nil {
			return fmt.Errorf("log: empty released segment: %w", err)
		}
	}
	return nil
}

func (l *Log) truncateFront(n uint64, hook func(string) error) error {
	if l.failed != nil {
		return fmt.Errorf("%w: after an earlier failure: %v", ErrClosed, l.failed)
	}
	first, err := l.wal.FirstIndex()
	if err != nil {
		return err
	}
	if n+1 <= first {
		return nil // nothing at or before n is left
	}
	if n > l.last {
		return fmt.Errorf("log: release through %d past the last index %d", n, l.last)
	}
	if err := l.wal.TruncateFront(n + 1); err != nil {
		if _, ferr := l.wal.FirstIndex(); ferr == nil && isNoSpace(err) {
			// tidwall could not write its .START file, the first step, and
			// removed its temporary: nothing changed, a later compaction
			// tries again.
			return fmt.Errorf("%w: truncate front to %d: %w", ErrNoSpace, n+1, err)
		}
		l.failed = err // tidwall marks itself corrupt; only a reopen recovers
		return fmt.Errorf("log: truncate front to %d: %w", n+1, err)
	}
	// tidwall wrote the segment holding n+1 anew (TEMP, renamed START,
	// renamed to its name) and, when it is the tail, appends go on into
	// it: like a new segment's, its name must be durable before a reply
	// covers an entry in it, so the next Sync fsyncs the directory even
	// if ReleaseThrough's own fsync has not run yet.
	l.dirDirty = true
	// The tail segment may have been rewritten shorter, as a new file:
	// measure it again, and make Sync reach the new file, before anything
	// (the hook's stop included) can let a Sync run.
	if err := l.measureTail(); err != nil {
		return err
	}
	return hook("wal-truncated-unsynced")
}
