package log

import (
	"bytes"
	"encoding/binary"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
)

// TestPreallocatedTailNotRepaired: zero bytes from the last entry to the end
// of the newest segment are space preallocated and never written, as a
// crash leaves it. Open trims them without a word and keeps every entry;
// no evidence file, since nothing but zeros was cut.
func TestPreallocatedTailNotRepaired(t *testing.T) {
	dir := t.TempDir()
	l := openT(t, dir, nil)
	appendN(t, l, 20)
	l.Close()
	seg := newestSegment(t, dir)
	good, _ := os.ReadFile(seg)
	appendToFile(t, seg, make([]byte, 5000))

	var logBuf bytes.Buffer
	l = openT(t, dir, slog.New(slog.NewTextHandler(&logBuf, nil)))
	if l.LastIndex() != 20 {
		t.Fatalf("LastIndex = %d, want 20", l.LastIndex())
	}
	appendN(t, l, 1)
	l.Close()
	expectRecords(t, dir, 21)
	if logBuf.Len() != 0 {
		t.Fatalf("Open logged about unused space:\n%s", logBuf.String())
	}
	if broken, _ := filepath.Glob(filepath.Join(dir, walDirName, "*"+brokenExt+"*")); len(broken) != 0 {
		t.Fatalf("unused space kept as evidence: %v", broken)
	}
	now, _ := os.ReadFile(seg)
	if !bytes.HasPrefix(now, good) {
		t.Fatal("the trim changed bytes before the unused space")
	}
	if rep, err := PlanRepair(dir); rep != nil || err != nil {
		t.Fatalf("PlanRepair = %+v, %v; want nothing to repair", rep, err)
	}
}

// TestPreallocatedWhileOpen: an open preallocating log's newest segment is
// preallocated to the segment size; a scan meanwhile (the tool on a live
// node) ends the log at the last entry with no damage and counts no unused
// byte; a copy of the directory taken then (what a crash leaves) opens
// with every synced entry; Close gives the unused space back.
func TestPreallocatedWhileOpen(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(dir, Options{SegmentSize: 64 << 10, Preallocate: true, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, l, 20)
	seg := newestSegment(t, dir)
	if fileSize(t, seg) != 64<<10 {
		t.Skipf("the tail is %d bytes: no fallocate here", fileSize(t, seg))
	}
	got, st, err := scanAll(t, dir, ScanOptions{Damage: func(d Damage) error {
		t.Errorf("damage reported in a live log: %+v", d)
		return nil
	}})
	if err != nil || len(got) != 40 || st.Last != 20 || st.Bytes != int64(l.tailBytes) {
		t.Fatalf("scan of the live log: %d records up to %d, %d bytes (want 40, 20, %d), %v", len(got), st.Last, st.Bytes, l.tailBytes, err)
	}

	if n, err := Size(dir); err != nil || n != int64(l.tailBytes) {
		t.Fatalf("Size of the live log = %d, %v; want its entries' %d bytes, not the preallocated space", n, err, l.tailBytes)
	}

	crashed := t.TempDir()
	os.Mkdir(filepath.Join(crashed, walDirName), 0o755)
	data, _ := os.ReadFile(seg)
	os.WriteFile(filepath.Join(crashed, walDirName, filepath.Base(seg)), data, 0o644)
	l2 := openT(t, crashed, nil)
	if l2.LastIndex() != 20 {
		t.Fatalf("the crashed copy opens at %d, want 20", l2.LastIndex())
	}
	l2.Close()
	expectRecords(t, crashed, 20)

	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(seg); fileSize(t, seg) == 64<<10 || !zeroTail(data, len(data)) {
		t.Fatalf("closed tail is %d bytes, want its entries only", len(data))
	}
	expectRecords(t, dir, 20)
}

// TestSyncFollowsTail: Sync must reach the file tidwall appends to. After a
// cycle, and after a front truncation that rewrote the tail as a new file,
// the file the log fdatasyncs is tidwall's newest segment, preallocated
// (TestSyncFollowsTailAfterTruncateBack covers a member's TruncateBack).
func TestSyncFollowsTail(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(dir, Options{SegmentSize: 1 << 10, Preallocate: true, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	sameAsNewest := func(when string) {
		t.Helper()
		fi, err := os.Stat(newestSegment(t, dir))
		if err != nil || l.tail == nil {
			t.Fatalf("%s: %v, tail %v", when, err, l.tail)
		}
		cur, err := l.tail.Stat()
		if err != nil || !os.SameFile(cur, fi) {
			t.Fatalf("%s: Sync would fdatasync %s, not tidwall's newest segment", when, l.tail.Name())
		}
		if fi.Size() < int64(l.opts.SegmentSize) {
			t.Fatalf("%s: newest segment %d bytes, not preallocated to %d", when, fi.Size(), l.opts.SegmentSize)
		}
	}
	sameAsNewest("after open")
	appendN(t, l, 100) // 1 KiB segments: several cycles
	sameAsNewest("after cycles")

	l.mu.Lock()
	err = l.truncateFront(l.last-1, func(string) error { return nil }) // inside the tail: tidwall rewrites it
	l.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	sameAsNewest("after a front truncation")
	data, _ := os.ReadFile(newestSegment(t, dir))
	if good, n, _ := validPrefix(data, l.last); n != 1 || good != l.tailBytes || !zeroTail(data, good) {
		t.Fatalf("after the truncation: %d entries in %d bytes, tail mirror %d", n, good, l.tailBytes)
	}
	appendN(t, l, 3)
	sameAsNewest("after appends")
}

// TestCrashAfterCycle: a crash right after tidwall cycled leaves a newest
// segment that is all preallocated zeros, no entry, after full older ones.
// A scan and Open read the log up to the last entry, with no damage and no
// evidence file, and appends go on in that segment.
func TestCrashAfterCycle(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(dir, Options{SegmentSize: 1 << 10, Preallocate: true, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	for l.tailBytes != 0 || l.LastIndex() < 30 {
		appendN(t, l, 1)
	}
	seg := newestSegment(t, dir)
	if fileSize(t, seg) != 1<<10 {
		l.Close()
		t.Skip("no fallocate here")
	}
	crashed := crashCopy(t, dir)
	last := l.LastIndex()
	l.Close()

	_, st, err := scanAll(t, crashed, ScanOptions{Damage: func(d Damage) error {
		t.Errorf("damage reported after a crash right after a cycle: %+v", d)
		return nil
	}})
	if err != nil || st.Last != last || st.Tail != nil {
		t.Fatalf("scan: last %d (want %d), tail %v, %v", st.Last, last, st.Tail, err)
	}
	var logBuf bytes.Buffer
	l = openT(t, crashed, slog.New(slog.NewTextHandler(&logBuf, nil)))
	if l.LastIndex() != last || logBuf.Len() != 0 {
		t.Fatalf("reopened at %d (want %d), logged %q", l.LastIndex(), last, logBuf.String())
	}
	appendN(t, l, 1)
	l.Close()
	expectRecords(t, crashed, int(last)+1)
	if broken, _ := filepath.Glob(filepath.Join(crashed, walDirName, "*"+brokenExt+"*")); len(broken) != 0 {
		t.Fatalf("evidence files after a crash that tore nothing: %v", broken)
	}
}

// crashCopy copies the wal of a log that is open, as a crash of its
// process leaves it (the page cache survives), into a new directory.
func crashCopy(t *testing.T, dir string) string {
	t.Helper()
	crashed := t.TempDir()
	if err := os.Mkdir(filepath.Join(crashed, walDirName), 0o755); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(filepath.Join(dir, walDirName))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		data, err := os.ReadFile(filepath.Join(dir, walDirName, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(crashed, walDirName, e.Name()), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return crashed
}

// TestCrashesAcrossSegmentSizes: crashes with a preallocated tail, each
// followed by a restart with another segment size (larger, smaller, larger
// again, one smaller than the tail's entries), never leave zeros in a
// segment before the newest: every restart opens with every entry, no WARN
// and no evidence file, and a scan finds no damage.
func TestCrashesAcrossSegmentSizes(t *testing.T) {
	dir := t.TempDir()
	var logBuf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logBuf, nil))
	preallocated := 0
	for round, size := range []int{1 << 10, 4 << 10, 512, 8 << 10, 256, 2 << 10} {
		l, err := Open(dir, Options{SegmentSize: size, Preallocate: true, Logger: logger})
		if err != nil {
			t.Fatalf("round %d (segment size %d): %v", round, size, err)
		}
		if l.LastIndex() != uint64(round*25) {
			t.Fatalf("round %d: opened at %d, want %d", round, l.LastIndex(), round*25)
		}
		appendN(t, l, 25)
		if fileSize(t, newestSegment(t, dir)) == int64(size) {
			preallocated++
		}
		crashed := crashCopy(t, dir)
		l.Close()
		dir = crashed
		if _, _, err := scanAll(t, dir, ScanOptions{Damage: func(d Damage) error {
			t.Errorf("round %d: damage after a crash: %+v", round, d)
			return nil
		}}); err != nil {
			t.Fatal(err)
		}
	}
	if preallocated == 0 {
		t.Skip("no crash left a preallocated tail: no fallocate here")
	}
	l := openT(t, dir, logger)
	l.Close()
	expectRecords(t, dir, 6*25)
	if logBuf.Len() != 0 {
		t.Fatalf("restarts logged:\n%s", logBuf.String())
	}
	if broken, _ := filepath.Glob(filepath.Join(dir, walDirName, "*"+brokenExt+"*")); len(broken) != 0 {
		t.Fatalf("evidence files: %v", broken)
	}
}

// TestTornIntoPreallocatedEvidence: an entry torn by a crash inside the
// preallocated space is cut with its frame kept in NAME.broken, but not the
// zeros after it, which no write reached (the rule that trims a tail of
// zeros without saving anything): a node that crashed with its disk full
// needs room for what was written, not for the rest of the segment.
func TestTornIntoPreallocatedEvidence(t *testing.T) {
	dir := t.TempDir()
	l := openT(t, dir, nil)
	appendN(t, l, 3)
	l.Close()
	seg := newestSegment(t, dir)
	good := fileSize(t, seg)
	e := EncodeEntry(4, Record{Type: 1, Data: bytes.Repeat([]byte{'z'}, 100)})
	whole := append(binary.AppendUvarint(nil, uint64(len(e))), e...)
	torn := whole[:40]
	appendToFile(t, seg, torn)
	appendToFile(t, seg, make([]byte, 60_000))

	l = openT(t, dir, nil)
	if l.LastIndex() != 3 {
		t.Fatalf("LastIndex = %d, want 3", l.LastIndex())
	}
	l.Close()
	if fileSize(t, seg) != good {
		t.Fatalf("segment cut to %d bytes, want %d", fileSize(t, seg), good)
	}
	// The frame's span as on disk: the bytes written, zeros for the rest.
	want := append(append([]byte(nil), torn...), make([]byte, len(whole)-len(torn))...)
	saved, err := os.ReadFile(seg + brokenExt)
	if err != nil || !bytes.Equal(saved, want) {
		t.Fatalf("evidence %d bytes (%v), want the torn frame's %d", len(saved), err, len(want))
	}
}
