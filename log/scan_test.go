package log

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// inspLog writes a log of n entries of two records each in a fresh
// directory with 1 KiB segments and returns the directory.
func inspLog(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	l, err := Open(dir, Options{SegmentSize: 1 << 10, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	inspAppend(t, l, n)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

func inspAppend(t *testing.T, l *Log, n int) {
	t.Helper()
	var b Batch
	for range n {
		b.Reset()
		b.Add(1, fmt.Appendf(nil, "rec-%d-a", l.LastIndex()+1))
		b.Add(2, fmt.Appendf(nil, "rec-%d-b", l.LastIndex()+1))
		if _, err := l.Append(&b); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
}

func inspSegments(t *testing.T, dir string) []segmentFile {
	t.Helper()
	segs, err := listSegments(filepath.Join(dir, walDirName))
	if err != nil || len(segs) == 0 {
		t.Fatalf("no segments: %v", err)
	}
	return segs
}

// scanAll returns every record Scan hands out as "index:type:data".
func scanAll(t *testing.T, dir string, opts ScanOptions) ([]string, ScanStats, error) {
	t.Helper()
	var got []string
	opts.Record = func(idx uint64, r Record) error {
		got = append(got, fmt.Sprintf("%d:%d:%s", idx, r.Type, r.Data))
		return nil
	}
	st, err := Scan(dir, opts)
	return got, st, err
}

// snapshot returns every file under dir with its bytes, to prove that a
// read changed nothing.
func snapshot(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		data := []byte{}
		if !fi.IsDir() {
			data, _ = os.ReadFile(p)
		}
		fmt.Fprintf(&b, "%s %v %x\n", p, fi.Mode(), data)
		return nil
	})
	return b.String()
}

func TestScanReadsWhatWasWritten(t *testing.T) {
	dir := inspLog(t, 100)
	var want []string
	for i := 1; i <= 100; i++ {
		want = append(want, fmt.Sprintf("%d:1:rec-%d-a", i, i), fmt.Sprintf("%d:2:rec-%d-b", i, i))
	}
	rst := ReplayStats{Segments: len(inspSegments(t, dir)), Entries: 100, Records: 200, Last: 100}
	var entries int
	got, st, err := scanAll(t, dir, ScanOptions{Entry: func(e EntryInfo) error {
		entries++
		if e.Records != 2 || e.Checkpoint || e.Size < headerSize {
			t.Fatalf("entry info %+v", e)
		}
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatal("Scan does not hand out what was written")
	}
	rst.Bytes = st.Bytes
	if st.ReplayStats != rst || st.Tail != nil || entries != 100 {
		t.Fatalf("stats %+v (tail %v), want %+v; %d entries", st.ReplayStats, st.Tail, rst, entries)
	}
	got, st, err = scanAll(t, dir, ScanOptions{From: 40, To: 60})
	if err != nil || len(got) != 42 || !strings.HasPrefix(got[0], "40:") || !strings.HasPrefix(got[41], "60:") || st.Last != 60 {
		t.Fatalf("range 40-60: %d records, last %d, %v", len(got), st.Last, err)
	}
}

// TestScanTornTail: what Open would cut ends a scan and is reported; the
// scan reads exactly the entries Open keeps, and writes nothing.
func TestScanTornTail(t *testing.T) {
	frame := func(e []byte) []byte { return append([]byte{byte(len(e))}, e...) }
	half := frame(EncodeEntry(21, Record{Type: 1, Data: []byte("lost")}))
	half = half[:len(half)/2]
	badCRC := frame(EncodeEntry(21, Record{Type: 1, Data: []byte("flipped")}))
	badCRC[len(badCRC)-1] ^= 0x40
	for name, c := range map[string]struct {
		tail []byte
		want error
	}{
		"half-entry":  {half, ErrTorn},
		"long-length": {[]byte{0xff, 0xff, 0x03, 1, 2, 3}, ErrTorn},
		// Zeros up to the end are unused preallocated space, not a tail
		// (TestScanPreallocatedTail); zeros before a byte that is not
		// are damage.
		"zeros":        {append(make([]byte, 300), 0x17), ErrZeroed},
		"garbage":      {[]byte("\x93garbage\xff\x01\x02 not an entry"), ErrTorn},
		"garbage-2":    {[]byte("\x05garbage\xff\x01\x02 not an entry"), ErrChecksum},
		"bad-checksum": {badCRC, ErrChecksum},
	} {
		t.Run(name, func(t *testing.T) {
			dir := inspLog(t, 20)
			seg := inspSegments(t, dir)
			newest := seg[len(seg)-1].path
			fi, _ := os.Stat(newest)
			f, _ := os.OpenFile(newest, os.O_APPEND|os.O_WRONLY, 0)
			f.Write(c.tail)
			f.Close()
			before := snapshot(t, dir)

			got, st, err := scanAll(t, dir, ScanOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 40 || st.Last != 20 {
				t.Fatalf("read %d records up to %d, want 40 up to 20", len(got), st.Last)
			}
			if st.Tail == nil || !st.Tail.Tail || st.Tail.Path != newest || st.Tail.Offset != fi.Size() ||
				st.Tail.Bytes != int64(len(c.tail)) || st.Tail.Index != 21 || !errors.Is(st.Tail.Err, c.want) {
				t.Fatalf("tail %+v, want %d bytes at %s:%d, cause %v", st.Tail, len(c.tail), newest, fi.Size(), c.want)
			}
			rep, err := PlanRepair(dir)
			if err != nil || rep == nil || rep.Offset != st.Tail.Offset || rep.FirstLost != 21 {
				t.Fatalf("PlanRepair = %+v, %v; disagrees with the scan", rep, err)
			}
			if after := snapshot(t, dir); after != before {
				t.Fatal("a scan changed the directory")
			}
		})
	}
}

func TestScanStopsAtMidLogDamage(t *testing.T) {
	dir := inspLog(t, 20)
	segs := inspSegments(t, dir)
	newest := segs[len(segs)-1]
	data, _ := os.ReadFile(newest.path)
	data[3] ^= 0xff // inside the newest segment's first entry; good ones follow
	os.WriteFile(newest.path, data, 0o644)
	_, st, err := scanAll(t, dir, ScanOptions{})
	var ce *CorruptionError
	if !errors.As(err, &ce) || ce.Path != newest.path || ce.Offset != 0 || ce.Index != newest.index || st.Tail != nil {
		t.Fatalf("Scan = %v, want a CorruptionError at %s byte 0", err, newest.path)
	}
	if !strings.Contains(err.Error(), "not a torn tail") {
		t.Fatalf("error %q does not say why it is not a torn tail", err)
	}
	if _, perr := PlanRepair(dir); perr == nil {
		t.Fatal("PlanRepair accepts what Scan refuses")
	}
}

func TestScanRefusesNewerVersion(t *testing.T) {
	dir := inspLog(t, 3)
	e := EncodeEntry(4, Record{Type: 1, Data: []byte("from the future")})
	e[verOffset] = VersionRaft + 1 // a version from the future
	putCRC(e)
	segs := inspSegments(t, dir)
	f, _ := os.OpenFile(segs[len(segs)-1].path, os.O_APPEND|os.O_WRONLY, 0)
	f.Write(append([]byte{byte(len(e))}, e...))
	f.Close()
	if _, _, err := scanAll(t, dir, ScanOptions{}); !errors.Is(err, ErrVersion) {
		t.Fatalf("Scan = %v, want ErrVersion", err)
	}
}

// TestScanFindsAllDamage damages three places (an older segment twice, and
// the newest segment's tail) and expects each, with a resumption after the
// ones that good entries follow.
func TestScanFindsAllDamage(t *testing.T) {
	dir := inspLog(t, 100)
	segs := inspSegments(t, dir)
	if len(segs) < 4 {
		t.Fatalf("want at least 4 segments, got %d", len(segs))
	}
	first, _ := os.ReadFile(segs[0].path)
	good, n, _ := validPrefix(first, segs[0].index)
	if n < 4 || good != len(first) {
		t.Fatalf("first segment: %d entries", n)
	}
	// Flip a byte in entry 2's data and overwrite entry 4's length with garbage.
	e2, e4 := frameOffset(t, first, 1), frameOffset(t, first, 3)
	first[e2+10] ^= 0x01
	first[e4] = 0xee
	os.WriteFile(segs[0].path, first, 0o644)
	// Remove the third segment: a gap in the indexes.
	os.Remove(segs[2].path)
	newest := segs[len(segs)-1].path
	f, _ := os.OpenFile(newest, os.O_APPEND|os.O_WRONLY, 0)
	f.Write(append(make([]byte, 10), 0x17))
	f.Close()

	var found []Damage
	got, _, err := scanAll(t, dir, ScanOptions{Damage: func(d Damage) error {
		found = append(found, d)
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 4 {
		t.Fatalf("found %d damaged places, want 4: %+v", len(found), found)
	}
	want := []struct {
		path   string
		off    int64
		index  uint64
		next   uint64
		tail   bool
		errIs  error
		resume bool
	}{
		{segs[0].path, int64(e2), 2, 3, false, ErrChecksum, true},
		{segs[0].path, int64(e4), 4, 5, false, ErrTorn, true},
		{segs[2].path, 0, segs[2].index, segs[3].index, false, ErrCorrupt, false},
		{newest, -1, 101, 0, true, ErrZeroed, false},
	}
	for i, w := range want {
		d := found[i]
		if w.off < 0 {
			w.off = d.Offset
		}
		path := w.path
		if i == 2 {
			path = segs[3].path // the gap is found at the segment after it
		}
		if d.Path != path || d.Offset != w.off || d.Index != w.index || d.Next != w.next || d.Tail != w.tail || !errors.Is(d.Err, w.errIs) {
			t.Errorf("damage %d = %+v, want %s:%d index %d next %d tail %v (%v)", i, d, path, w.off, w.index, w.next, w.tail, w.errIs)
		}
	}
	// Every record of the good entries is read, in order.
	missing := map[string]bool{"2": true, "4": true}
	for i := segs[2].index; i < segs[3].index; i++ {
		missing[fmt.Sprint(i)] = true
	}
	var wantN int
	for i := 1; i <= 100; i++ {
		if !missing[fmt.Sprint(i)] {
			wantN += 2
		}
	}
	if len(got) != wantN {
		t.Fatalf("read %d records past the damage, want %d", len(got), wantN)
	}
}

// frameOffset returns the byte offset of the k-th (0-based) frame of a
// good segment.
func frameOffset(t *testing.T, data []byte, k int) int {
	t.Helper()
	off := 0
	for range k {
		_, next, err := nextFrame(data, off)
		if err != nil {
			t.Fatal(err)
		}
		off = next
	}
	return off
}

func TestScanCheckpoint(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(dir, Options{SegmentSize: 1 << 10, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	inspAppend(t, l, 10)
	cw, err := CreateCheckpoint(dir, 10, 0)
	if err != nil {
		t.Fatal(err)
	}
	cw.Add(1, []byte("live-a"))
	cw.Add(2, []byte("live-b"))
	if _, err := cw.Commit(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.ReleaseThrough(10, nil); err != nil {
		t.Fatal(err)
	}
	inspAppend(t, l, 3)
	l.Close()

	var ckEntries int
	got, st, err := scanAll(t, dir, ScanOptions{Entry: func(e EntryInfo) error {
		if e.Checkpoint {
			ckEntries++
			if e.Index != 10 || !strings.Contains(e.Path, checkpointName(10)) {
				t.Fatalf("checkpoint entry %+v", e)
			}
		}
		return nil
	}})
	want := "10:1:live-a,10:2:live-b,11:1:rec-11-a,11:2:rec-11-b,12:1:rec-12-a,12:2:rec-12-b,13:1:rec-13-a,13:2:rec-13-b"
	if err != nil || strings.Join(got, ",") != want || st.Checkpoint != 10 || st.Last != 13 || ckEntries != 1 {
		t.Fatalf("Scan = %v, %+v, %v", got, st, err)
	}
	if _, _, err := scanAll(t, dir, ScanOptions{To: 9}); !errors.Is(err, ErrCompacted) {
		t.Fatalf("Scan to 9 = %v, want ErrCompacted", err)
	}
	got, _, err = scanAll(t, dir, ScanOptions{From: 12})
	if err != nil || len(got) != 4 || !strings.HasPrefix(got[0], "12:") {
		t.Fatalf("Scan from 12 = %v, %v", got, err)
	}
}

// TestScanWhileWriting reads a log again and again while it is appended to
// and while a half-written frame sits at its end, as a running node leaves
// it: every scan succeeds and sees a prefix.
func TestScanWhileWriting(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(dir, Options{SegmentSize: 4 << 10, Logger: quiet(), NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var wg sync.WaitGroup
	done := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(done)
		var b Batch
		for i := range 5000 {
			b.Reset()
			for j := 0; j <= i%50; j++ {
				b.Add(1, []byte("some record data"))
			}
			if _, err := l.Append(&b); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	var last uint64
	var scans int
	var scanErr error
	for running := true; running || scans < 3; scans++ {
		select {
		case <-done:
			running = false
		default:
		}
		_, st, err := scanAll(t, dir, ScanOptions{})
		if err != nil {
			scanErr = fmt.Errorf("scan during appends: %v", err)
			break
		}
		if st.Last < last {
			scanErr = fmt.Errorf("a later scan saw less: %d after %d", st.Last, last)
			break
		}
		last = st.Last
	}
	wg.Wait()
	if scanErr != nil {
		t.Fatal(scanErr)
	}
	t.Logf("%d scans during %d appends", scans, l.LastIndex())
	if held, known, err := LockHeld(dir); err != nil || (known && !held) {
		t.Fatalf("LockHeld while open = %v (known %v), %v", held, known, err)
	}
	// A frame in the middle of its write: its length runs past the end.
	e := EncodeEntry(l.LastIndex()+1, Record{Type: 1, Data: bytes.Repeat([]byte("x"), 100)})
	segs := inspSegments(t, dir)
	f, _ := os.OpenFile(segs[len(segs)-1].path, os.O_APPEND|os.O_WRONLY, 0)
	f.Write(append([]byte{byte(len(e))}, e[:30]...))
	f.Close()
	_, st, err := scanAll(t, dir, ScanOptions{})
	if err != nil || st.Tail == nil || !errors.Is(st.Tail.Err, ErrTorn) || st.Last != l.LastIndex() {
		t.Fatalf("scan with a write in progress = %+v, %v", st, err)
	}
}

// TestResyncMatchesLaterEntry: the fast search accepts exactly what Open's
// laterEntry accepts.
func TestResyncMatchesLaterEntry(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var seg []byte
	for i := uint64(1); i <= 30; i++ {
		e := EncodeEntry(i, Record{Type: 1, Data: bytes.Repeat([]byte{byte(i)}, int(i)*3)})
		seg = binaryAppendFrame(seg, e)
	}
	for trial := range 2000 {
		data := append([]byte(nil), seg...)
		for range 1 + rng.IntN(8) {
			data[rng.IntN(len(data))] = byte(rng.IntN(256))
		}
		if trial%3 == 0 {
			junk := make([]byte, rng.IntN(40))
			for i := range junk {
				junk[i] = byte(rng.IntN(256))
			}
			p := rng.IntN(len(data))
			data = append(data[:p:p], append(junk, data[p:]...)...)
		}
		off := rng.IntN(len(data))
		minIndex := uint64(rng.IntN(32))
		at, found, idx := resyncEntry(data, off, minIndex)
		wantAt, wantFound := laterEntry(data, off, minIndex)
		if found != wantFound || at != wantAt {
			t.Fatalf("trial %d: resyncEntry = %d %v, laterEntry = %d %v", trial, at, found, wantAt, wantFound)
		}
		if found && idx < minIndex {
			t.Fatalf("resumed at index %d < %d", idx, minIndex)
		}
	}
}

func binaryAppendFrame(dst, e []byte) []byte {
	var tmp [10]byte
	n := putUvarint(tmp[:], uint64(len(e)))
	return append(append(dst, tmp[:n]...), e...)
}

func putUvarint(b []byte, x uint64) int {
	i := 0
	for x >= 0x80 {
		b[i] = byte(x) | 0x80
		x >>= 7
		i++
	}
	b[i] = byte(x)
	return i + 1
}

// TestScanWalBeforeCheckpoint: a wal that ends before the checkpoint is
// damage Open refuses; a checkpoint whose wal entries are still there (a
// crash before the release) is not.
func TestScanWalBeforeCheckpoint(t *testing.T) {
	for _, c := range []struct {
		ck      uint64
		damaged bool
	}{{10, false}, {15, true}} {
		dir := inspLog(t, 10)
		cw, err := CreateCheckpoint(dir, c.ck, 0)
		if err != nil {
			t.Fatal(err)
		}
		cw.Add(1, []byte("live"))
		if _, err := cw.Commit(); err != nil {
			t.Fatal(err)
		}
		_, _, err = scanAll(t, dir, ScanOptions{})
		if got := errors.Is(err, ErrCorrupt); got != c.damaged {
			t.Fatalf("checkpoint %d over a wal ending at 10: Scan = %v", c.ck, err)
		}
		l, openErr := Open(dir, Options{Logger: quiet()})
		if openErr == nil {
			l.Close()
		}
		if (openErr != nil) != c.damaged {
			t.Fatalf("checkpoint %d: Scan says damaged=%v, Open = %v", c.ck, c.damaged, openErr)
		}
	}
}
