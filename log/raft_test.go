package log

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

func batchData(recs ...string) []byte {
	var b Batch
	for _, r := range recs {
		b.Add(1, []byte(r))
	}
	return append([]byte(nil), b.Data()...)
}

func appendRaft(t *testing.T, l *Log, es ...RaftEntry) {
	t.Helper()
	for _, e := range es {
		if err := l.AppendRaft(e); err != nil {
			t.Fatalf("AppendRaft %d: %v", e.Index, err)
		}
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
}

// A version 2 log replays the records of its normal entries, each at its
// raft index, and nothing for empty entries and conf changes; ReadRaft
// gives every entry back as written.
func TestRaftEntriesReplay(t *testing.T) {
	dir := t.TempDir()
	l := openT(t, dir, nil)
	es := []RaftEntry{
		{Index: 1, Term: 1, Type: 1, Data: []byte("conf change bytes")},
		{Index: 2, Term: 2, Type: RaftEntryNormal},
		{Index: 3, Term: 2, Type: RaftEntryNormal, Data: batchData("a", "b")},
		{Index: 4, Term: 3, Type: 2, Data: []byte{0, 0, 0, 0, 9}},
		{Index: 5, Term: 3, Type: RaftEntryNormal, Data: batchData("c")},
	}
	appendRaft(t, l, es...)
	l.Close()
	l = openT(t, dir, nil)
	defer l.Close()
	for _, want := range es {
		got, err := l.ReadRaft(want.Index)
		if err != nil {
			t.Fatal(err)
		}
		if got.Index != want.Index || got.Term != want.Term || got.Type != want.Type || !bytes.Equal(got.Data, want.Data) {
			t.Fatalf("ReadRaft(%d) = %+v, want %+v", want.Index, got, want)
		}
	}
	if _, err := l.ReadRaft(6); !errors.Is(err, ErrIndex) {
		t.Fatalf("ReadRaft past the end = %v, want ErrIndex", err)
	}
	got, err := replayAll(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	if want := "[3:1:a 3:1:b 5:1:c]"; fmt.Sprint(got) != want {
		t.Fatalf("replay = %v, want %s", got, want)
	}
	var counts []int
	if _, err := Scan(dir, ScanOptions{Entry: func(e EntryInfo) error { counts = append(counts, e.Records); return nil }}); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(counts) != "[0 0 2 0 1]" {
		t.Fatalf("record counts %v", counts)
	}
	// The same record decoder reads a batch in either version.
	v1 := EncodeEntry(7, Record{Type: 1, Data: []byte("a")}, Record{Type: 1, Data: []byte("b")})
	v2, err := EncodeRaftEntry(nil, RaftEntry{Index: 7, Term: 1, Data: batchData("a", "b")})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(v1[countOffset:], v2[raftDataOffset:]) {
		t.Fatal("a normal raft entry's data is not the version 1 entry's batch bytes")
	}
	for _, e := range [][]byte{v1, v2} {
		var recs []string
		if _, err := DecodeEntry(e, func(r Record) error { recs = append(recs, string(r.Data)); return nil }); err != nil || fmt.Sprint(recs) != "[a b]" {
			t.Fatalf("DecodeEntry version %d = %v, %v", e[verOffset], recs, err)
		}
	}
	if _, err := DecodeRaftEntry(v1); !errors.Is(err, ErrVersion) {
		t.Fatalf("DecodeRaftEntry of a version 1 entry = %v, want ErrVersion", err)
	}
}

func TestEncodeRaftEntryRefusesBadBatch(t *testing.T) {
	for _, data := range [][]byte{{1, 2}, {1, 0, 0, 0}, {1, 0, 0, 0, 0, 1, 'x'}} {
		if _, err := EncodeRaftEntry(nil, RaftEntry{Index: 1, Term: 1, Data: data}); !errors.Is(err, ErrCorrupt) {
			t.Errorf("EncodeRaftEntry(normal, %x) = %v, want ErrCorrupt", data, err)
		}
	}
	// Other types carry raft's bytes, unchecked.
	if _, err := EncodeRaftEntry(nil, RaftEntry{Index: 1, Term: 1, Type: 1, Data: []byte{1, 2}}); err != nil {
		t.Fatal(err)
	}
	l := openT(t, t.TempDir(), nil)
	defer l.Close()
	if err := l.AppendRaft(RaftEntry{Index: 2, Term: 1}); !errors.Is(err, ErrIndex) {
		t.Fatalf("AppendRaft out of place = %v, want ErrIndex", err)
	}
}

// raftLog writes n version 2 entries of term 1 with a record each, big
// enough that 1 KiB segments hold a few.
func raftLog(t *testing.T, dir string, n int) *Log {
	t.Helper()
	l := openT(t, dir, nil)
	for i := 1; i <= n; i++ {
		appendRaft(t, l, RaftEntry{Index: uint64(i), Term: 1, Data: batchData(fmt.Sprintf("%d-%0200d", i, 0))})
	}
	return l
}

// TruncateBack cuts a suffix across segments; new entries after the cut
// read back after a reopen, and a reader sees the same log.
func TestTruncateBack(t *testing.T) {
	dir := t.TempDir()
	l := raftLog(t, dir, 20)
	if n := len(inspSegments(t, dir)); n < 4 {
		t.Fatalf("want several segments, have %d", n)
	}
	if err := l.TruncateBack(6); err != nil {
		t.Fatal(err)
	}
	if l.LastIndex() != 6 {
		t.Fatalf("LastIndex = %d", l.LastIndex())
	}
	appendRaft(t, l, RaftEntry{Index: 7, Term: 2, Data: batchData("new-7")}, RaftEntry{Index: 8, Term: 2})
	l.Close()
	l = openT(t, dir, nil)
	defer l.Close()
	if l.LastIndex() != 8 {
		t.Fatalf("reopened LastIndex = %d, want 8", l.LastIndex())
	}
	if e, err := l.ReadRaft(7); err != nil || e.Term != 2 {
		t.Fatalf("entry 7 = %+v, %v", e, err)
	}
	got, err := replayAll(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 7 || got[6] != "7:1:new-7" {
		t.Fatalf("replay = %v", got)
	}
	if err := l.TruncateBack(0); err != nil {
		t.Fatal(err)
	}
	appendRaft(t, l, RaftEntry{Index: 1, Term: 3})
}

// A crash inside tidwall's TruncateBack, after the later segments were
// removed and before NAME.END was renamed to NAME, reads as the truncated
// log for Scan and for Open, as tidwall finishes it.
func TestTruncateBackInterrupted(t *testing.T) {
	dir := t.TempDir()
	l := raftLog(t, dir, 20)
	l.Close()
	segs := inspSegments(t, dir)
	cut := segs[1]
	data, err := os.ReadFile(cut.path)
	if err != nil {
		t.Fatal(err)
	}
	// Keep the segment's first entry only.
	_, next, err := checkFrame(data, 0, cut.index)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cut.path+".END", data[:next], 0o644); err != nil {
		t.Fatal(err)
	}
	for _, s := range segs[2:] {
		os.Remove(s.path)
	}
	got, err := replayAll(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	if uint64(len(got)) != cut.index {
		t.Fatalf("Scan read %d records, want %d (through the END segment's one entry)", len(got), cut.index)
	}
	l = openT(t, dir, nil)
	defer l.Close()
	if l.LastIndex() != cut.index {
		t.Fatalf("Open: LastIndex = %d, want %d", l.LastIndex(), cut.index)
	}
	if _, err := os.Stat(cut.path + ".END"); !os.IsNotExist(err) {
		t.Fatalf("END segment left after Open: %v", err)
	}
}

// A torn version 2 entry at the tail is cut as a version 1 one is.
func TestRaftTornTail(t *testing.T) {
	dir := t.TempDir()
	l := openT(t, dir, nil)
	for i := uint64(1); i <= 5; i++ {
		appendRaft(t, l, RaftEntry{Index: i, Term: 1, Data: batchData("small")})
	}
	l.Close()
	seg := newestSegment(t, dir)
	fi, _ := os.Stat(seg)
	if err := os.Truncate(seg, fi.Size()-7); err != nil {
		t.Fatal(err)
	}
	l = openT(t, dir, nil)
	defer l.Close()
	if l.LastIndex() != 4 {
		t.Fatalf("LastIndex after repair = %d, want 4", l.LastIndex())
	}
	appendRaft(t, l, RaftEntry{Index: 5, Term: 2})
}

// CreateAfter with a checkpoint at n gives a log that opens at n, appends
// n+1 and replays the checkpoint then the entries after it.
func TestCreateAfter(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	w, err := CreateCheckpoint(dir, 100, 1<<10)
	if err != nil {
		t.Fatal(err)
	}
	w.Add(1, []byte("live"))
	if err := w.WriteFile("RAFT", []byte("meta")); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteFile("00000000000000000001", nil); err == nil {
		t.Fatal("WriteFile took a segment's name")
	}
	if _, err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := CreateAfter(dir, 100); err != nil {
		t.Fatal(err)
	}
	l := openT(t, dir, nil)
	if l.LastIndex() != 100 {
		t.Fatalf("LastIndex = %d, want 100", l.LastIndex())
	}
	if first, _ := l.FirstIndex(); first != 101 {
		t.Fatalf("FirstIndex = %d, want 101", first)
	}
	appendRaft(t, l, RaftEntry{Index: 101, Term: 4, Data: batchData("after")})
	l.Close()
	got, err := replayAll(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != "[100:1:live 101:1:after]" {
		t.Fatalf("replay = %v", got)
	}
	p, n, ok, err := CheckpointDir(dir)
	if err != nil || !ok || n != 100 || filepath.Base(p) != CheckpointName(100) {
		t.Fatalf("CheckpointDir = %s %d %v %v", p, n, ok, err)
	}
	if b, err := os.ReadFile(filepath.Join(p, "RAFT")); err != nil || string(b) != "meta" {
		t.Fatalf("checkpoint file = %q, %v", b, err)
	}
}

func TestDecodeBatch(t *testing.T) {
	var got []string
	fn := func(r Record) error { got = append(got, string(r.Data)); return nil }
	if err := DecodeBatch(batchData("a", "bc"), fn); err != nil || fmt.Sprint(got) != "[a bc]" {
		t.Fatalf("DecodeBatch = %v, %v", got, err)
	}
	if err := DecodeBatch(nil, fn); err != nil {
		t.Fatalf("an empty batch: %v", err)
	}
	for _, bad := range [][]byte{{1}, {1, 0, 0, 0}, {1, 0, 0, 0, 0, 0}, append(batchData("a"), 'x')} {
		got = nil
		if err := DecodeBatch(bad, fn); !errors.Is(err, ErrCorrupt) || got != nil {
			t.Errorf("DecodeBatch(%x) = %v, %v records; want ErrCorrupt and none", bad, err, len(got))
		}
	}
}

// TestSyncFollowsTailAfterTruncateBack: tidwall's TruncateBack writes the
// shortened segment as NAME.END and renames it to NAME, a new file, and
// appends go on into it; the handle Sync fdatasyncs must follow, or a
// member's entries appended after a cut suffix are acknowledged with no
// sync of the file that holds them. Checked after a cut inside the tail
// and after one that goes back into an older segment.
func TestSyncFollowsTailAfterTruncateBack(t *testing.T) {
	dir := t.TempDir()
	l := raftLog(t, dir, 20)
	defer l.Close()
	sameAsNewest := func(when string) {
		t.Helper()
		tailIsNewest(t, l, dir, when)
		if fi, _ := os.Stat(newestSegment(t, dir)); fi == nil || int64(l.tailBytes) != fi.Size() {
			t.Fatalf("%s: tail mirror %d bytes, not the segment's size", when, l.tailBytes)
		}
	}
	sameAsNewest("after appends")
	if err := l.TruncateBack(19); err != nil { // inside the tail
		t.Fatal(err)
	}
	sameAsNewest("after a cut inside the tail")
	appendRaft(t, l, RaftEntry{Index: 20, Term: 2, Data: batchData("new-20")})
	sameAsNewest("after an append past the cut")
	if err := l.TruncateBack(6); err != nil { // into an older segment
		t.Fatal(err)
	}
	sameAsNewest("after a cut into an older segment")
	appendRaft(t, l, RaftEntry{Index: 7, Term: 3, Data: batchData("new-7")})
	sameAsNewest("after an append past the second cut")
}
