package log

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"syscall"

	"github.com/tidwall/wal"
)

const (
	walDirName  = "wal"
	lockName    = "LOCK"
	brokenExt   = ".broken"
	defaultSegs = 4 << 20
)

// Options configures Open. The zero value is a durable log with 4 MiB
// segments that logs to slog.Default.
type Options struct {
	// NoSync makes Sync a no-op. Unsafe: a machine crash loses what the
	// page cache held, acknowledged or not.
	NoSync bool
	// SegmentSize is the size at which tidwall/wal starts a new segment.
	SegmentSize int
	// Preallocate preallocates the newest segment to SegmentSize, so that
	// Sync's fdatasync writes no inode (see prealloc.go). Ignored with
	// NoSync.
	Preallocate bool
	// Logger receives one line per repair. Nil means slog.Default().
	Logger *slog.Logger
}

// Log is an open, locked write-ahead log. One goroutine appends and syncs;
// a compactor may call ReleaseThrough from another.
type Log struct {
	mu   sync.Mutex // held by Append, Sync, ReleaseThrough and Close
	dir  string
	opts Options
	wal  *wal.Log
	lock *os.File
	tail *os.File // tidwall's newest segment, preallocated; Sync fdatasyncs it (see prealloc.go)

	last      uint64 // index of the last entry written
	tailBytes int    // bytes in tidwall's tail segment, mirrored to see cycles
	dirDirty  bool   // a segment was created since the last directory fsync
	scratch   []byte // AppendRaft's entry buffer
	failed    error  // first write or sync failure that is final; the log refuses writes after it
}

// openWal opens tidwall's log on walDir as this package uses it.
func openWal(walDir string, segmentSize int) (*wal.Log, error) {
	return wal.Open(walDir, &wal.Options{
		NoSync:      true, // Sync decides when; one fsync covers a group commit
		SegmentSize: segmentSize,
		AllowEmpty:  true,
		NoCopy:      true,
	})
}

// Open opens the log in dir, creating it if needed, after locking dir and
// repairing a torn tail as the package doc describes. It fails with ErrLocked
// when another process holds dir and with a *CorruptionError when damage is
// found that a repair may not remove.
func Open(dir string, opts Options) (*Log, error) {
	if opts.SegmentSize <= 0 {
		opts.SegmentSize = defaultSegs
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	walDir := filepath.Join(dir, walDirName)
	if err := os.MkdirAll(walDir, 0o755); err != nil {
		return nil, fmt.Errorf("log: create %s: %w", walDir, err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	l := &Log{dir: dir, opts: opts, lock: lock}
	if err := l.open(walDir); err != nil {
		lock.Close()
		return nil, err
	}
	return l, nil
}

func (l *Log) open(walDir string) error {
	if err := removeTemps(walDir); err != nil {
		return err
	}
	if err := removeTmpCheckpoints(l.dir); err != nil {
		return err
	}
	tail, err := repairTail(walDir, l.opts.Logger)
	if err != nil {
		return err
	}
	w, err := openWal(walDir, l.opts.SegmentSize)
	if err != nil {
		return fmt.Errorf("log: open %s: %w", walDir, err)
	}
	last, err := w.LastIndex()
	if err != nil {
		w.Close()
		return fmt.Errorf("log: open %s: %w", walDir, err)
	}
	if ck, ok, err := CheckpointIndex(l.dir); err == nil && ok && last < ck {
		// Every wal entry up to the checkpoint was released; tidwall
		// numbers an empty log from 1, so resume numbering after ck.
		w.Close()
		return &CorruptionError{Path: walDir, Index: ck + 1,
			Err: fmt.Errorf("%w: the wal ends at index %d, before checkpoint %d", ErrCorrupt, last, ck)}
	}
	l.wal, l.last, l.tailBytes = w, last, tail
	if _, _, err := l.openTail(); err != nil {
		w.Close()
		return err
	}
	// A new log's first segment, a repair's truncation and tidwall's own
	// clean-up renames are directory changes, and so is the creation of the
	// log's directory itself: make them durable, innermost first.
	for _, d := range []string{walDir, l.dir, filepath.Dir(l.dir)} {
		if err := syncDir(d); err != nil {
			w.Close()
			return err
		}
	}
	return nil
}

// Dir is the directory the log was opened in.
func (l *Log) Dir() string { return l.dir }

// LastIndex is the index of the last entry appended, 0 for an empty log.
func (l *Log) LastIndex() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.last
}

// Append writes b as one entry at index LastIndex()+1 and returns that
// index. The entry is not durable until Sync returns nil.
//
// When the write fails for want of room (ENOSPC or EDQUOT), Append brings
// the wal back to entry LastIndex() (see rewind) and returns an error
// wrapping ErrNoSpace; the log stays usable and a later Append is tried as
// usual. Any other failure, a failed rewind and any failed Sync are final:
// every later call fails, because tidwall's buffers or the page cache may no
// longer match the file, and only reopening tells what reached the disk.
func (l *Log) Append(b *Batch) (uint64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.failed != nil {
		return 0, fmt.Errorf("%w: after an earlier failure: %v", ErrClosed, l.failed)
	}
	idx := l.last + 1
	if err := l.write(idx, b.seal(idx)); err != nil {
		return 0, err
	}
	return idx, nil
}

// write appends entry, which holds index idx = l.last+1, as Append
// describes; l.mu is held.
func (l *Log) write(idx uint64, entry []byte) error {
	// tidwall cycles before writing when the tail it opened or was left
	// with is already over SegmentSize (a log opened with a smaller size,
	// a rewind of a failed cycle).
	cycled := l.tailBytes > l.opts.SegmentSize
	if cycled {
		l.tailBytes = 0
		l.dirDirty = true
	}
	if err := l.wal.Write(idx, entry); err != nil {
		if !isNoSpace(err) {
			l.failed = err
			return fmt.Errorf("log: append entry %d: %w", idx, err)
		}
		if rerr := l.rewind(); rerr != nil {
			l.failed = rerr
			return fmt.Errorf("log: append entry %d: %w; bringing the log back to entry %d failed: %w", idx, err, l.last, rerr)
		}
		return fmt.Errorf("%w: entry %d not written, the log is back at entry %d: %w", ErrNoSpace, idx, l.last, err)
	}
	l.last = idx
	// tidwall cycles to a new segment right after a write that leaves the
	// tail at SegmentSize or more.
	l.tailBytes += uvarintLen(uint64(len(entry))) + len(entry)
	if l.tailBytes >= l.opts.SegmentSize {
		l.tailBytes = 0
		l.dirDirty = true
		cycled = true
	}
	if cycled {
		// tidwall may have a new tail: Sync must reach it. When it cannot
		// be opened, Sync uses tidwall's own fsync instead.
		l.openTail()
	}
	return nil
}

// isNoSpace reports whether an error from tidwall's Write is the file
// system running out of room while a segment was written or created. A
// failed fsync is never one, whatever its errno: after it the page cache
// cannot be trusted (it may have dropped the dirty pages it could not
// write), so it is final.
func isNoSpace(err error) bool {
	var pe *fs.PathError
	if !errors.As(err, &pe) || pe.Op == "sync" {
		return false
	}
	return errors.Is(pe.Err, syscall.ENOSPC) || errors.Is(pe.Err, syscall.EDQUOT)
}

// rewind brings the wal back to entry l.last after a write that failed for
// want of room, and reopens tidwall on it. What such a failure leaves
// (tidwall/wal v1.2.1, writeBatch and cycle):
//
//   - in memory: the entry is appended to the tail segment's buffer and
//     position list before the write(2), and stays there when it fails;
//     tidwall's last index is not advanced. Its next Write would pass the
//     index check and write the entry a second time after the first one's
//     remains.
//   - on disk, write(2) failed: a prefix of the entry (any length,
//     possibly none) at the end of the tail segment.
//   - on disk, the entry filled the segment and the cycle that followed
//     failed to create the next one: the entry is whole in the tail (and
//     fsynced by the cycle), tidwall's last index includes it, and its
//     segment file is closed or nil.
//   - on disk, the tail was over SegmentSize so tidwall cycled first: a new
//     segment named l.last+1, empty or with a prefix of the entry, whose
//     name the directory may not hold durably.
//
// rewind closes tidwall (its Close fsyncs the tail; a cycle that failed
// leaves no file to close), cuts every byte after entry l.last (cutAfter),
// fsyncs the cut file and the wal directory, and opens tidwall again, so
// that its buffers are read from the file and end at entry l.last. The
// entry that failed is not in the log whatever part of it reached the
// disk: its Append reported failure, and no reply may claim it.
func (l *Log) rewind() error {
	walDir := filepath.Join(l.dir, walDirName)
	err := l.wal.Close()
	l.wal = nil
	if err != nil && !errors.Is(err, os.ErrInvalid) && !errors.Is(err, os.ErrClosed) {
		return fmt.Errorf("log: close after a failed write: %w", err)
	}
	tail, err := cutAfter(walDir, l.last, !l.opts.NoSync)
	if err != nil {
		return err
	}
	if !l.opts.NoSync {
		// A segment tidwall created, or one cutAfter removed, is a
		// change of names: durable before an entry in it is acknowledged.
		if err := syncDir(walDir); err != nil {
			return err
		}
	}
	w, err := openWal(walDir, l.opts.SegmentSize)
	if err != nil {
		return fmt.Errorf("log: reopen %s: %w", walDir, err)
	}
	if last, err := w.LastIndex(); err != nil || last != l.last {
		w.Close()
		return fmt.Errorf("log: reopened %s ends at entry %d (%v), want %d", walDir, last, err, l.last)
	}
	l.wal, l.tailBytes = w, tail
	l.closeTail() // the tail was cut: preallocate it again
	l.openTail()
	return nil
}

// cutAfter removes from walDir every byte after entry last: segments that
// begin after last+1, and the tail of the segment that holds entry last+1's
// place, which it truncates and (with sync) fsyncs. The entries it keeps
// must check whole; it returns the size of the newest segment left.
func cutAfter(walDir string, last uint64, sync bool) (int, error) {
	segs, err := listSegments(walDir)
	if err != nil {
		return 0, fmt.Errorf("log: list segments: %w", err)
	}
	for len(segs) > 0 && segs[len(segs)-1].index > last+1 {
		if err := os.Remove(segs[len(segs)-1].path); err != nil {
			return 0, fmt.Errorf("log: remove segment after entry %d: %w", last, err)
		}
		segs = segs[:len(segs)-1]
	}
	if len(segs) == 0 {
		return 0, fmt.Errorf("%w: no segment of %s holds entry %d", ErrCorrupt, walDir, last)
	}
	seg := segs[len(segs)-1]
	data, err := os.ReadFile(seg.path)
	if err != nil {
		return 0, fmt.Errorf("log: read segment: %w", err)
	}
	end := 0
	for i := seg.index; i <= last; i++ {
		_, next, err := checkFrame(data, end, i)
		if err != nil {
			return 0, &CorruptionError{Path: seg.path, Offset: int64(end), Index: i, Err: err}
		}
		end = next
	}
	if end == len(data) {
		return end, nil
	}
	f, err := os.OpenFile(seg.path, os.O_WRONLY, 0)
	if err != nil {
		return 0, fmt.Errorf("log: open segment to cut: %w", err)
	}
	defer f.Close()
	if err := f.Truncate(int64(end)); err != nil {
		return 0, fmt.Errorf("log: cut %s to %d bytes: %w", seg.path, end, err)
	}
	if sync {
		if err := f.Sync(); err != nil {
			return 0, fmt.Errorf("log: fsync %s: %w", seg.path, err)
		}
	}
	return end, nil
}

// measureTail follows a truncation by tidwall (TruncateFront, TruncateBack)
// that may have rewritten the tail segment as a new, shorter file: it points
// Sync's handle at the new file (openTail, which also preallocates it) and
// sets tailBytes to its size. Without it, Sync would fdatasync the old,
// unlinked file and acknowledge entries that are not durable. A failure is
// final.
func (l *Log) measureTail() error {
	size, changed, err := l.openTail()
	if err != nil {
		l.failed = err
		return err
	}
	if changed {
		l.tailBytes = int(size)
	}
	return nil
}

// Sync makes every appended entry durable: it fdatasyncs the tail segment
// (see prealloc.go), and fsyncs the wal directory when a segment was
// created or the tail rewritten under a new file since the last Sync.
func (l *Log) Sync() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sync()
}

func (l *Log) sync() error {
	if l.failed != nil {
		return fmt.Errorf("%w: after an earlier failure: %v", ErrClosed, l.failed)
	}
	if l.opts.NoSync {
		return nil
	}
	if err := l.syncTail(); err != nil {
		l.failed = err
		return fmt.Errorf("log: fsync: %w", err)
	}
	if l.dirDirty {
		if err := syncDir(filepath.Join(l.dir, walDirName)); err != nil {
			l.failed = err
			return err
		}
		l.dirDirty = false
	}
	return nil
}

// Close syncs and closes the log and releases the directory lock.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	var err error
	if l.wal != nil {
		if l.failed == nil {
			err = l.sync()
		}
		if cerr := l.wal.Close(); err == nil && cerr != nil && l.failed == nil {
			err = fmt.Errorf("log: close: %w", cerr)
		}
		l.wal = nil
	}
	if l.failed == nil {
		l.trimTail()
	}
	l.closeTail()
	if l.lock != nil {
		l.lock.Close() // closing the descriptor releases the flock
		l.lock = nil
	}
	return err
}

// removeTemps deletes the NAME.TEMP files tidwall leaves when a crash stops
// it between writing and renaming one.
func removeTemps(walDir string) error {
	ents, err := os.ReadDir(walDir)
	if err != nil {
		return fmt.Errorf("log: list %s: %w", walDir, err)
	}
	for _, e := range ents {
		if isTempName(e.Name()) {
			if err := os.Remove(filepath.Join(walDir, e.Name())); err != nil {
				return fmt.Errorf("log: remove stale temporary file: %w", err)
			}
		}
	}
	return nil
}

// syncDir fsyncs a directory so that the names in it are durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("log: open directory for fsync: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("log: fsync directory %s: %w", dir, err)
	}
	return nil
}

// SyncDir fsyncs directory dir, so that the names in it are durable.
func SyncDir(dir string) error { return syncDir(dir) }
