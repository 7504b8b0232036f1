package log

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/maelstrom-offsets/offsets/internal/tmpfstest"
)

// fillBytes writes a file until the file system is out of space.
func fillBytes(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for {
		if _, err := f.Write(buf); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			return
		}
	}
}

// fillInodes creates empty files in dir until the file system has no inode
// left, and returns their names.
func fillInodes(t *testing.T, dir string) []string {
	t.Helper()
	var names []string
	for i := 0; ; i++ {
		p := filepath.Join(dir, fmt.Sprintf("filler-%d", i))
		f, err := os.Create(p)
		if err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			return names
		}
		f.Close()
		names = append(names, p)
	}
}

func batchOf(size int, tag byte) *Batch {
	var b Batch
	b.Add(1, bytes.Repeat([]byte{tag}, size))
	return &b
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

func openFDs(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// checkEntries replays dir and checks it holds entries 1..n, entry i made
// of one record of sizes[i-1] bytes of tags[i-1].
func checkEntries(t *testing.T, dir string, sizes []int, tags []byte) {
	t.Helper()
	var n int
	_, err := Replay(dir, 1, func(idx uint64, r Record) error {
		i := int(idx) - 1
		if i != n || i >= len(sizes) || !bytes.Equal(r.Data, bytes.Repeat([]byte{tags[i]}, sizes[i])) {
			return fmt.Errorf("entry %d: %d bytes, not what was appended", idx, len(r.Data))
		}
		n++
		return nil
	})
	if err != nil || n != len(sizes) {
		t.Fatalf("replay: %d entries, %v; want %d", n, err, len(sizes))
	}
}

// TestAppendNoSpaceRewinds fills a tmpfs so that an append is cut short
// inside the tail segment: Append reports ErrNoSpace, the tail is back at
// its last entry, repeated failures leak no descriptor, and once there is
// room the next Append writes at the next index with no reopen.
func TestAppendNoSpaceRewinds(t *testing.T) {
	mnt := tmpfstest.Mount(t, "size=1m")
	dir := filepath.Join(mnt, "n1")
	l, err := Open(dir, Options{SegmentSize: 256 << 10, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() }) // before the unmount, on failure too
	var sizes []int
	var tags []byte
	for i := 0; i < 5; i++ {
		if _, err := l.Append(batchOf(1000, 'a'+byte(i))); err != nil {
			t.Fatal(err)
		}
		sizes, tags = append(sizes, 1000), append(tags, 'a'+byte(i))
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	seg := filepath.Join(dir, "wal", segmentName(1))
	before := fileSize(t, seg)
	fillBytes(t, filepath.Join(mnt, "filler"))

	fds := openFDs(t)
	for i := 0; i < 20; i++ {
		_, err := l.Append(batchOf(50_000, 'x'))
		if !errors.Is(err, ErrNoSpace) || !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("append on a full disk: %v, want ErrNoSpace wrapping ENOSPC", err)
		}
		if got := fileSize(t, seg); got != before {
			t.Fatalf("tail segment is %d bytes after a failed append, want %d: the partial write was not cut", got, before)
		}
		if l.LastIndex() != 5 || l.tailBytes != int(before) {
			t.Fatalf("LastIndex = %d, tail mirror %d bytes after a failed append; want 5, %d", l.LastIndex(), l.tailBytes, before)
		}
	}
	if got := openFDs(t); got > fds {
		t.Fatalf("%d descriptors open after 20 failed appends, %d before", got, fds)
	}
	if err := os.Remove(filepath.Join(mnt, "filler")); err != nil {
		t.Fatal(err)
	}
	if idx, err := l.Append(batchOf(50_000, 'y')); err != nil || idx != 6 {
		t.Fatalf("append with room again: %d, %v; want index 6", idx, err)
	}
	sizes, tags = append(sizes, 50_000), append(tags, 'y')
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	checkEntries(t, dir, sizes, tags)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l, err = Open(dir, Options{SegmentSize: 256 << 10, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	if l.LastIndex() != 6 {
		t.Fatalf("reopened at %d, want 6", l.LastIndex())
	}
	if broken, _ := filepath.Glob(filepath.Join(dir, "wal", "*.broken*")); len(broken) != 0 {
		t.Fatalf("a rewind is not a repair, yet %v exist", broken)
	}
}

// TestAppendNoSpaceOnCycle runs out of inodes, so that the write succeeds
// but tidwall cannot create the next segment: the entry is whole in the
// old one and tidwall counts it, yet Append failed, so the rewind must cut
// it. Then the same with a tail already over SegmentSize, where tidwall
// cycles before writing and is left with no open file.
func TestAppendNoSpaceOnCycle(t *testing.T) {
	mnt := tmpfstest.Mount(t, "size=4m,nr_inodes=16")
	dir := filepath.Join(mnt, "n1")
	const segSize = 64 << 10
	l, err := Open(dir, Options{SegmentSize: segSize, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() }) // before the unmount, on failure too
	if _, err := l.Append(batchOf(40_000, 'a')); err != nil {
		t.Fatal(err)
	}
	sizes, tags := []int{40_000}, []byte{'a'}
	seg := filepath.Join(dir, "wal", segmentName(1))
	before := fileSize(t, seg)
	fillers := fillInodes(t, mnt)

	// 40,000 + 40,000 bytes cross the segment size: tidwall writes, then
	// fails to create segment 2.
	_, err = l.Append(batchOf(40_000, 'b'))
	var pe *fs.PathError
	if !errors.Is(err, ErrNoSpace) || !errors.As(err, &pe) || pe.Op != "open" {
		t.Fatalf("append whose cycle finds no inode: %v, want ErrNoSpace from creating a segment", err)
	}
	if got := fileSize(t, seg); got != before || l.LastIndex() != 1 {
		t.Fatalf("after the failed cycle: segment %d bytes (want %d), LastIndex %d (want 1)", got, before, l.LastIndex())
	}
	os.Remove(fillers[len(fillers)-1])
	if idx, err := l.Append(batchOf(40_000, 'c')); err != nil || idx != 2 || !l.dirDirty || l.tailBytes != 0 {
		t.Fatalf("append with an inode free: %d, %v; dirDirty %v, tail mirror %d (want true, 0: tidwall cycled)", idx, err, l.dirDirty, l.tailBytes)
	}
	sizes, tags = append(sizes, 40_000), append(tags, 'c')
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	checkEntries(t, dir, sizes, tags)
	if _, err := os.Stat(filepath.Join(dir, "wal", segmentName(3))); err != nil {
		t.Fatalf("the cycle after entry 2 made no segment 3: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	// Reopened with a smaller segment size, the tail (segment 3, empty) is
	// fine; write past 16 KiB, reopen with 8 KiB: tidwall cycles first.
	l, err = Open(dir, Options{SegmentSize: segSize, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(batchOf(20_000, 'd')); err != nil {
		t.Fatal(err)
	}
	sizes, tags = append(sizes, 20_000), append(tags, 'd')
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l, err = Open(dir, Options{SegmentSize: 8 << 10, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	more := fillInodes(t, mnt)
	if _, err := l.Append(batchOf(100, 'e')); !errors.Is(err, ErrNoSpace) || !errors.As(err, &pe) || pe.Op != "open" {
		t.Fatalf("append whose first cycle finds no inode: %v, want ErrNoSpace from creating a segment", err)
	}
	if l.LastIndex() != 3 {
		t.Fatalf("LastIndex %d, want 3", l.LastIndex())
	}
	os.Remove(more[0])
	if idx, err := l.Append(batchOf(100, 'f')); err != nil || idx != 4 || !l.dirDirty {
		t.Fatalf("append after freeing an inode: %d, %v; dirDirty %v (want true: tidwall cycled first)", idx, err, l.dirDirty)
	}
	sizes, tags = append(sizes, 100), append(tags, 'f')
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	checkEntries(t, dir, sizes, tags)
	if fi, err := os.Stat(filepath.Join(dir, "wal", segmentName(4))); err != nil || fi.Size() == 0 || int(fi.Size()) != l.tailBytes {
		t.Fatalf("entry 4 is not in a segment of its own, or the tail mirror (%d bytes) does not match it: %v", l.tailBytes, err)
	}
}

// TestAppendIntoPreallocated: a tail preallocated before the file system
// filled up takes appends up to its size, and Close gives back what was not
// used.
func TestAppendIntoPreallocated(t *testing.T) {
	mnt := tmpfstest.Mount(t, "size=1m")
	dir := filepath.Join(mnt, "n1")
	l, err := Open(dir, Options{SegmentSize: 256 << 10, Preallocate: true, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	fillBytes(t, filepath.Join(mnt, "filler"))
	var sizes []int
	var tags []byte
	for i := 0; i < 4; i++ {
		if _, err := l.Append(batchOf(50_000, 'a'+byte(i))); err != nil {
			t.Fatalf("append %d into preallocated space on a full disk: %v", i+1, err)
		}
		sizes, tags = append(sizes, 50_000), append(tags, 'a'+byte(i))
		if err := l.Sync(); err != nil {
			t.Fatal(err)
		}
	}
	checkEntries(t, dir, sizes, tags)
	if err := os.Remove(filepath.Join(mnt, "filler")); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	seg := filepath.Join(dir, "wal", segmentName(1))
	data, err := os.ReadFile(seg)
	if good, n, _ := validPrefix(data, 1); err != nil || n != 4 || good != len(data) {
		t.Fatalf("closed segment is %d bytes, %d of them in %d entries (%v): want its 4 entries only, Close gives back unused space", len(data), good, n, err)
	}
}

func TestIsNoSpace(t *testing.T) {
	cases := []struct {
		err  error
		want bool
	}{
		{&fs.PathError{Op: "write", Path: "s", Err: syscall.ENOSPC}, true},
		{&fs.PathError{Op: "write", Path: "s", Err: syscall.EDQUOT}, true},
		{&fs.PathError{Op: "open", Path: "s", Err: syscall.ENOSPC}, true},
		{fmt.Errorf("wrapped: %w", &fs.PathError{Op: "write", Path: "s", Err: syscall.ENOSPC}), true},
		{&fs.PathError{Op: "sync", Path: "s", Err: syscall.ENOSPC}, false}, // a failed fsync is final
		{&fs.PathError{Op: "sync", Path: "s", Err: syscall.EIO}, false},
		{&fs.PathError{Op: "write", Path: "s", Err: syscall.EIO}, false},
		{syscall.ENOSPC, false}, // not from a file operation we can place
	}
	for _, c := range cases {
		if got := isNoSpace(c.err); got != c.want {
			t.Errorf("isNoSpace(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

// tailIsNewest fails t unless the file Sync fdatasyncs is the one tidwall
// appends to, its newest segment (or Sync falls back to tidwall's own
// fsync), and the tail mirror is within that file.
func tailIsNewest(t *testing.T, l *Log, dir, when string) {
	t.Helper()
	fi, err := os.Stat(newestSegment(t, dir))
	if err != nil {
		t.Fatalf("%s: %v", when, err)
	}
	if l.tail == nil {
		return // Sync uses tidwall's own fsync, on its own handle
	}
	cur, err := l.tail.Stat()
	if err != nil || !os.SameFile(cur, fi) {
		t.Fatalf("%s: Sync would fdatasync %s, not tidwall's newest segment %s", when, l.tail.Name(), fi.Name())
	}
	if int64(l.tailBytes) > fi.Size() {
		t.Fatalf("%s: tail mirror %d bytes, past the segment's %d", when, l.tailBytes, fi.Size())
	}
}

// TestNoSpacePreallocated: with preallocation a full disk shows up where a
// write leaves the preallocated space (an entry crossing the segment size,
// or a new segment whose preallocation found no room), not inside it. Both
// are rewound as without preallocation, Sync's handle follows every
// rewind and cycle, and the entries are those acknowledged.
func TestNoSpacePreallocated(t *testing.T) {
	mnt := tmpfstest.Mount(t, "size=2m")
	dir := filepath.Join(mnt, "n1")
	const segSize = 256 << 10
	l, err := Open(dir, Options{SegmentSize: segSize, Preallocate: true, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	if fileSize(t, newestSegment(t, dir)) != segSize {
		t.Skip("no fallocate here")
	}
	var sizes []int
	var tags []byte
	add := func(tag byte) error {
		_, err := l.Append(batchOf(50_000, tag))
		if err == nil {
			sizes, tags = append(sizes, 50_000), append(tags, tag)
			err = l.Sync()
		}
		return err
	}
	filler := filepath.Join(mnt, "filler")
	fillBytes(t, filler)
	for tag := byte('a'); tag < 'f'; tag++ { // 5 x 50,017 bytes: inside the preallocated space
		if err := add(tag); err != nil {
			t.Fatalf("append %c into preallocated space: %v", tag, err)
		}
	}
	if err := add('x'); !errors.Is(err, ErrNoSpace) { // crosses 256 KiB: needs blocks
		t.Fatalf("append past the preallocated space on a full disk: %v, want ErrNoSpace", err)
	}
	tailIsNewest(t, l, dir, "after the rewind of a write past the preallocated space")
	os.Remove(filler)
	// Room for the entry and segment 7 but not for its preallocation.
	fill := func(leave int64) {
		t.Helper()
		fillBytes(t, filler)
		if err := os.Truncate(filler, fileSize(t, filler)-leave); err != nil {
			t.Fatal(err)
		}
	}
	fill(64 << 10)
	if err := add('f'); err != nil { // fills segment 1: tidwall cycles to segment 7
		t.Fatal(err)
	}
	tailIsNewest(t, l, dir, "after a cycle whose preallocation found too little room")
	if seg := newestSegment(t, dir); filepath.Base(seg) != segmentName(7) || fileSize(t, seg) != 0 {
		t.Fatalf("after the cycle: newest segment %s of %d bytes, want segment 7, empty (not preallocated)", seg, fileSize(t, seg))
	}
	if err := add('y'); !errors.Is(err, ErrNoSpace) {
		t.Fatalf("append into a segment whose preallocation failed, disk full: %v, want ErrNoSpace", err)
	}
	tailIsNewest(t, l, dir, "after the rewind in the new segment")
	os.Remove(filler)
	for tag := byte('g'); tag < 'k'; tag++ {
		if err := add(tag); err != nil {
			t.Fatal(err)
		}
		tailIsNewest(t, l, dir, fmt.Sprintf("after append %c with room", tag))
	}
	checkEntries(t, dir, sizes, tags)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	checkEntries(t, dir, sizes, tags)
}
