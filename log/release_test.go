package log

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A release that stopped after emptying the wal segments the checkpoint
// replaced (tidwall could not write its .START file on a full disk: the
// store retries the release with the next compaction) is finished by a
// later ReleaseThrough. If the checkpoint does not read back whole then,
// it must stay the log's head: the entries it replaced are gone from the
// wal, so setting it aside would not leave "the log as it was" but a log
// whose damage a restart blames on an innocent wal segment.
func TestReleaseRetryKeepsCheckpointWhoseEntriesAreGone(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(dir, Options{SegmentSize: 1 << 10, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	inspAppend(t, l, 60)
	writeCheckpoint(t, dir, 50, 40)
	stop := errors.New("stopped as a full disk stops TruncateFront")
	if _, err := l.ReleaseThrough(50, func(step string) error {
		if step == "released-segments-emptied" {
			return stop
		}
		return nil
	}); !errors.Is(err, stop) {
		t.Fatalf("first release = %v, want the hook's error", err)
	}
	emptied := 0
	for _, seg := range inspSegments(t, dir) {
		if fileSize(t, seg.path) == 0 {
			emptied++
		}
	}
	if emptied == 0 {
		t.Fatal("the first release emptied no segment: the test sets up nothing")
	}

	// The checkpoint is damaged before the retry.
	ckSegs, err := listSegments(filepath.Join(dir, checkpointName(50)))
	if err != nil || len(ckSegs) == 0 {
		t.Fatal(err)
	}
	data, err := os.ReadFile(ckSegs[0].path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ckSegs[0].path, flip(data, len(data)/2), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := l.ReleaseThrough(50, nil); err == nil {
		t.Fatal("retried release of a damaged checkpoint succeeded")
	}
	if _, err := os.Stat(filepath.Join(dir, checkpointName(50))); err != nil {
		t.Fatalf("the checkpoint was set aside although the wal no longer holds its entries: %v", err)
	}
	_, err = Replay(dir, 1, func(uint64, Record) error { return nil })
	var ce *CorruptionError
	if !errors.As(err, &ce) || !strings.Contains(ce.Path, checkpointName(50)) {
		t.Fatalf("replay = %v, want damage named in %s", err, checkpointName(50))
	}
}

// TruncateFront rewrites the segment holding the first kept entry under a
// new file (TEMP, renamed START, renamed to the segment's name); when that
// is the tail, appends go on into the new file. Its names are made durable
// by a directory fsync that runs after the log is let go, so a Sync in
// between must fsync the directory itself, as it does after a new segment
// appears: otherwise an entry acknowledged then may sit in a file whose
// only durable name is the TEMP one, which Open removes.
func TestSyncAfterTruncationSyncsDirectory(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(dir, Options{SegmentSize: 1 << 20, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	inspAppend(t, l, 20) // one segment: the tail holds entry 11
	if segs := inspSegments(t, dir); len(segs) != 1 {
		t.Fatalf("%d segments, want the tail only", len(segs))
	}
	writeCheckpoint(t, dir, 10, 5)
	stop := errors.New("stopped before the directory fsync")
	if _, err := l.ReleaseThrough(10, func(step string) error {
		if step == "wal-truncated-unsynced" {
			return stop
		}
		return nil
	}); !errors.Is(err, stop) {
		t.Fatalf("release = %v, want the hook's error", err)
	}
	if !l.dirDirty {
		t.Fatal("after TruncateFront renamed the tail segment, the next Sync would not fsync the wal directory")
	}
	tailIsNewest(t, l, dir, "stopped before the directory fsync")
	inspAppend(t, l, 1)
	if l.dirDirty {
		t.Fatal("Sync left the directory unsynced")
	}
}

// Segments a release through an older checkpoint emptied before a crash
// stopped it are not part of the log without the new checkpoint: a new
// checkpoint that does not read back is still set aside, and the log is
// the older checkpoint and the wal after it.
func TestReleaseSetsAsideDespiteOlderEmptiedSegments(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(dir, Options{SegmentSize: 1 << 10, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	inspAppend(t, l, 60)
	writeCheckpoint(t, dir, 30, 20)
	stop := errors.New("crash")
	if _, err := l.ReleaseThrough(30, func(step string) error {
		if step == "released-segments-emptied" {
			return stop
		}
		return nil
	}); !errors.Is(err, stop) {
		t.Fatalf("release through 30 = %v, want the hook's error", err)
	}
	inspAppend(t, l, 10)
	writeCheckpoint(t, dir, 65, 40)
	ckSegs, err := listSegments(filepath.Join(dir, checkpointName(65)))
	if err != nil || len(ckSegs) == 0 {
		t.Fatal(err)
	}
	data, err := os.ReadFile(ckSegs[0].path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ckSegs[0].path, flip(data, len(data)/2), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := l.ReleaseThrough(65, nil); err == nil {
		t.Fatal("release of a damaged checkpoint succeeded")
	}
	if _, err := os.Stat(filepath.Join(dir, checkpointName(65))); !os.IsNotExist(err) {
		t.Fatalf("the damaged checkpoint 65 is still the log's head (%v), though checkpoint 30 and the wal hold the log", err)
	}
	st, err := Replay(dir, 1, func(uint64, Record) error { return nil })
	if err != nil || st.Checkpoint != 30 || st.Last != 70 {
		t.Fatalf("replay = %+v, %v; want checkpoint 30 and the wal to 70", st, err)
	}
}

// A release through a checkpoint written before seals (the store retries
// the release of the newest checkpoint after a full disk, and after an
// upgrade that may be an unsealed one) removes no older checkpoint: its
// completeness cannot be checked, so, as Replay does, it keeps them.
func TestReleaseThroughUnsealedKeepsOlder(t *testing.T) {
	dir := logWithTwoCheckpoints(t)
	ck := filepath.Join(dir, checkpointName(7))
	os.Remove(filepath.Join(ck, sealName))
	if err := os.Rename(ck, filepath.Join(dir, ckpt{n: 7}.name())); err != nil {
		t.Fatal(err)
	}
	l := openT(t, dir, nil)
	defer l.Close()
	if _, err := l.ReleaseThrough(7, nil); err != nil {
		t.Fatal(err)
	}
	if got := countCheckpoints(t, dir); len(got) != 2 {
		t.Fatalf("releasing through an unverifiable checkpoint removed the older one: %v", got)
	}
}
