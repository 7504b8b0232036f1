package log

import (
	"fmt"
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
// DIR/checkpoint.N (N written as 20 digits). When one exists, the log is the
// checkpoint followed by the wal's entries after N; wal entries at or before
// N may linger after a crash and are skipped.
//
// The compactor writes a checkpoint with CreateCheckpoint, Add and Commit,
// then calls Log.ReleaseThrough. The order of every step, and what a crash
// after each leaves behind:
//
//  1. mkdir checkpoint.N.tmp, write its segments  crash: .tmp removed by Open
//  2. fsync each segment, fsync checkpoint.N.tmp   crash: .tmp removed by Open
//  3. rename checkpoint.N.tmp -> checkpoint.N      crash: either name; as 1 or 4
//  4. fsync DIR                                    crash: checkpoint.N is the log's
//     head; wal entries <= N skipped
//  5. tidwall TruncateFront(N+1) on the wal        crash: tidwall finishes or undoes
//     it on open (its .START protocol)
//  6. fsync DIR/wal
//  7. remove older checkpoints, fsync DIR          crash: Open removes them
//
// At no point is a record that was live at N missing from the newest
// complete checkpoint plus the wal, and no superseded record is ever in a
// place that is replayed after the record that supersedes it.
const (
	checkpointPrefix = "checkpoint."
	tmpSuffix        = ".tmp"
	// checkpointEntryBytes is the size at which a checkpoint entry is cut.
	checkpointEntryBytes = 64 << 10
	// checkpointSyncBytes is how much checkpoint data may wait in the page
	// cache before it is synced: writing back a whole checkpoint with one
	// fsync at the end would stall the node's own fsyncs behind it (the
	// file system's journal commits them together), as RocksDB's
	// bytes_per_sync avoids.
	checkpointSyncBytes = 1 << 20
)

func checkpointName(n uint64) string { return checkpointPrefix + fmt.Sprintf("%020d", n) }

// checkpoints lists the complete checkpoints in dir, oldest first, and the
// temporary ones separately.
func checkpoints(dir string) (done []uint64, tmps []string, err error) {
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
		if n, err := strconv.ParseUint(rest, 10, 64); err == nil && len(rest) == 20 {
			done = append(done, n)
		}
	}
	sort.Slice(done, func(i, j int) bool { return done[i] < done[j] })
	return done, tmps, nil
}

// CheckpointIndex returns the log index that the newest checkpoint in dir
// covers, and false when there is none.
func CheckpointIndex(dir string) (uint64, bool, error) {
	done, _, err := checkpoints(dir)
	if err != nil || len(done) == 0 {
		return 0, false, err
	}
	return done[len(done)-1], true, nil
}

// cleanCheckpoints removes temporary checkpoints and every complete one but
// the newest: what a crash during compaction leaves behind.
func cleanCheckpoints(dir string) error {
	done, tmps, err := checkpoints(dir)
	if err != nil {
		return err
	}
	stale := tmps
	for i := 0; i+1 < len(done); i++ {
		stale = append(stale, filepath.Join(dir, checkpointName(done[i])))
	}
	for _, p := range stale {
		if err := os.RemoveAll(p); err != nil {
			return fmt.Errorf("log: remove stale checkpoint: %w", err)
		}
	}
	if len(stale) > 0 {
		return syncDir(dir)
	}
	return nil
}

// CheckpointWriter writes a new checkpoint. It is not safe for concurrent
// use, and nothing it writes is visible until Commit.
type CheckpointWriter struct {
	dir      string // the log directory
	n        uint64
	tmp      string
	wal      *wal.Log
	batch    Batch
	entries  uint64
	records  uint64
	unsynced int // bytes written since the last sync
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
	return &CheckpointWriter{dir: dir, n: n, tmp: tmp, wal: w}, nil
}

// Add appends a record to the checkpoint.
func (c *CheckpointWriter) Add(t RecordType, data []byte) error {
	c.batch.Add(t, data)
	if c.batch.Size() >= checkpointEntryBytes {
		return c.flush()
	}
	return nil
}

func (c *CheckpointWriter) flush() error {
	if c.batch.Len() == 0 {
		return nil
	}
	c.entries++
	entry := c.batch.seal(c.entries)
	if err := c.wal.Write(c.entries, entry); err != nil {
		return fmt.Errorf("log: write checkpoint: %w", err)
	}
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

// Commit makes the checkpoint durable and visible under its final name
// (steps 2 to 4 of the protocol above) and returns its size in bytes.
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
// newest checkpoint.
func Size(dir string) (int64, error) {
	n, err := dirSize(filepath.Join(dir, walDirName))
	if err != nil {
		return 0, err
	}
	if idx, ok, err := CheckpointIndex(dir); err != nil {
		return 0, err
	} else if ok {
		c, err := dirSize(filepath.Join(dir, checkpointName(idx)))
		if err != nil {
			return 0, err
		}
		n += c
	}
	return n, nil
}

// ReleaseThrough drops the wal's entries up to and including n, which the
// checkpoint for n (already committed) now holds, and then every older
// checkpoint: steps 5 to 8 of the protocol above. It returns how long it
// held the log, during which Append and Sync wait: the compaction's pause.
// It is the time tidwall takes to rewrite the rest of one segment and to
// unlink the segments before it.
func (l *Log) ReleaseThrough(n uint64, hook func(step string) error) (time.Duration, error) {
	if hook == nil {
		hook = func(string) error { return nil }
	}
	if ck, ok, err := CheckpointIndex(l.dir); err != nil {
		return 0, err
	} else if !ok || ck < n {
		return 0, fmt.Errorf("log: release through %d without a checkpoint covering it", n)
	}
	if err := emptyReleased(filepath.Join(l.dir, walDirName), n); err != nil {
		return 0, err
	}
	if err := hook("released-segments-emptied"); err != nil {
		return 0, err
	}
	l.mu.Lock()
	start := time.Now()
	err := l.truncateFront(n, hook)
	pause := time.Since(start)
	l.mu.Unlock()
	if err != nil {
		return pause, err
	}
	// The directory fsync that makes the truncation durable needs no hold
	// on the log: appends go to the same inode whatever name a crash leaves
	// it under, and tidwall's open finishes an interrupted truncation.
	if err := syncDir(filepath.Join(l.dir, walDirName)); err != nil {
		l.mu.Lock()
		l.failed = err
		l.mu.Unlock()
		return pause, err
	}
	if err := hook("wal-truncated"); err != nil {
		return pause, err
	}
	return pause, cleanCheckpoints(l.dir)
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
	if err := hook("wal-truncated-unsynced"); err != nil {
		return err
	}
	walDir := filepath.Join(l.dir, walDirName)
	// The tail segment may have been rewritten shorter: measure it again.
	segs, err := listSegments(walDir)
	if err != nil || len(segs) == 0 {
		l.failed = fmt.Errorf("log: list segments after truncation: %v", err)
		return l.failed
	}
	fi, err := os.Stat(segs[len(segs)-1].path)
	if err != nil {
		l.failed = err
		return err
	}
	l.tailBytes = int(fi.Size())
	return nil
}
