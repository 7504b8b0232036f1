package consumeroffsets

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"

	"github.com/maelstrom-offsets/offsets/log"
)

func openT(t testing.TB, dir string) *Store {
	t.Helper()
	s, _, err := Open(dir, Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), SegmentSize: 4 << 10})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func fetch(s *Store, k OffsetKey) (int64, bool) {
	v, ok := s.Fetch([]byte(k.Group), []byte(k.Topic), k.Partition)
	return v.Offset, ok
}

func commit(t testing.TB, s *Store, k OffsetKey, off int64) {
	t.Helper()
	if err := s.Commit([]byte(k.Group), []byte(k.Topic), k.Partition, off, nil); err != nil {
		t.Fatal(err)
	}
}

// TestReplayMatchesModel commits random offsets (lower ones too) over a
// small key space whose names are built to collide if keys were joined
// with a separator, then checks the reopened store against a plain map.
func TestReplayMatchesModel(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir)
	names := []string{"a", "a:b", "b", "b:c", "", "x|y", "\x00", "é", "😀"}
	model := map[OffsetKey]int64{}
	rng := rand.New(rand.NewPCG(1, 2))
	for batch := 0; batch < 200; batch++ {
		for i := 0; i < rng.IntN(20); i++ {
			k := OffsetKey{names[rng.IntN(len(names)-1)] + "g", names[rng.IntN(len(names))] + "t", int32(rng.IntN(3))}
			off := rng.Int64N(1 << 62)
			commit(t, s, k, off)
			model[k] = off
		}
		if err := s.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	check := func(s *Store) {
		t.Helper()
		if s.Keys() != len(model) {
			t.Fatalf("Keys = %d, want %d", s.Keys(), len(model))
		}
		for k, want := range model {
			if got, ok := fetch(s, k); !ok || got != want {
				t.Fatalf("Fetch %q = %d, %v; want %d", k, got, ok, want)
			}
		}
	}
	check(s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openT(t, dir)
	defer s.Close()
	check(s)
}

func TestLatestWinsEvenWhenLower(t *testing.T) {
	s := openT(t, t.TempDir())
	defer s.Close()
	k := OffsetKey{"g", "t", 0}
	commit(t, s, k, 100)
	commit(t, s, k, 5)
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	if got, _ := fetch(s, k); got != 5 {
		t.Fatalf("offset = %d, want 5", got)
	}
}

// failingWal passes everything to a real log but fails Sync, or Append as
// the log does on a full disk, on demand.
type failingWal struct {
	wal
	failSync   bool
	failAppend bool
	appends    int
}

func (f *failingWal) Sync() error {
	if f.failSync {
		return errors.New("injected: fsync: input/output error")
	}
	return f.wal.Sync()
}

func (f *failingWal) Append(b *log.Batch) (uint64, error) {
	f.appends++
	if f.failAppend {
		return 0, fmt.Errorf("%w: injected: write: %w", log.ErrNoSpace, syscall.ENOSPC)
	}
	return f.wal.Append(b)
}

func TestFailedFlushRollsBack(t *testing.T) {
	dir := t.TempDir()
	l, err := log.Open(dir, log.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	fw := &failingWal{wal: l}
	s, _, err := openWal(fw, Options{})
	if err != nil {
		t.Fatal(err)
	}
	old, fresh := OffsetKey{"g", "t", 0}, OffsetKey{"g2", "t", 1}
	commit(t, s, old, 10)
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	fw.failSync = true
	commit(t, s, old, 20)
	commit(t, s, fresh, 30)
	commit(t, s, old, 40)
	if got, _ := fetch(s, old); got != 40 {
		t.Fatalf("staged read = %d, want 40", got)
	}
	if err := s.Flush(); !errors.Is(err, ErrFailed) {
		t.Fatalf("Flush = %v, want ErrFailed", err)
	}
	if got, ok := fetch(s, old); !ok || got != 10 {
		t.Fatalf("after failed flush old key = %d, %v; want the durable 10", got, ok)
	}
	if _, ok := fetch(s, fresh); ok || s.Keys() != 1 {
		t.Fatalf("after failed flush a new key is visible (keys=%d)", s.Keys())
	}
	if err := s.Commit([]byte("g"), []byte("t"), 0, 50, nil); !errors.Is(err, ErrFailed) {
		t.Fatalf("Commit after failure = %v, want ErrFailed", err)
	}
	fw.failSync = false // a failed fsync is final even if the next would work
	if _, err := s.DeleteGroup([]byte("g")); !errors.Is(err, ErrFailed) {
		t.Fatalf("DeleteGroup after a failed fsync = %v, want ErrFailed", err)
	}
	if err := s.Flush(); err != nil {
		t.Fatalf("Flush with nothing staged after a failure = %v, want nil: reads need no write", err)
	}
	if got, _ := fetch(s, old); got != 10 {
		t.Fatalf("read after a failed fsync = %d, want 10", got)
	}
	s.Close()
}

// TestFullDiskRetries: a Flush that finds the disk full rolls back, does
// not make the store refuse writes for good, refuses without trying during
// the back-off, and a later Flush writes.
func TestFullDiskRetries(t *testing.T) {
	dir := t.TempDir()
	l, err := log.Open(dir, log.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	fw := &failingWal{wal: l}
	s, _, err := openWal(fw, Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.backoff = time.Hour
	k := OffsetKey{"g", "t", 0}
	commit(t, s, k, 10)
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	fw.failAppend = true
	commit(t, s, k, 20)
	if err := s.Flush(); !errors.Is(err, ErrNoSpace) || errors.Is(err, ErrFailed) {
		t.Fatalf("Flush on a full disk = %v, want ErrNoSpace", err)
	}
	if got, _ := fetch(s, k); got != 10 {
		t.Fatalf("after a full-disk flush = %d, want the durable 10", got)
	}
	if err := s.Flush(); err != nil {
		t.Fatalf("empty Flush on a full disk = %v", err)
	}
	fw.failAppend = false
	commit(t, s, k, 30) // staged: a full disk is not final
	if err := s.Flush(); !errors.Is(err, ErrNoSpace) || fw.appends != 2 {
		t.Fatalf("Flush within the back-off = %v after %d appends; want ErrNoSpace without a third append", err, fw.appends)
	}
	if got, _ := fetch(s, k); got != 10 {
		t.Fatalf("after a refused flush = %d, want 10", got)
	}
	s.retryAt = time.Time{} // the back-off has passed
	commit(t, s, k, 40)
	if err := s.Flush(); err != nil {
		t.Fatalf("Flush after the back-off with room = %v", err)
	}
	fw.failAppend = true
	commit(t, s, k, 50)
	if err := s.Flush(); !errors.Is(err, ErrNoSpace) || fw.appends != 4 {
		t.Fatalf("a new full disk after a success: %v after %d appends, want ErrNoSpace after 4", err, fw.appends)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openT(t, dir)
	defer s.Close()
	if got, _ := fetch(s, k); got != 40 {
		t.Fatalf("after reopen = %d, want 40", got)
	}
}

func TestDirtyRatio(t *testing.T) {
	s := openT(t, t.TempDir())
	defer s.Close()
	for i := 0; i < 10; i++ {
		commit(t, s, OffsetKey{"g", "t", 0}, int64(i))
		if err := s.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	if r := s.DirtyRatio(); r < 0.89 || r > 0.91 {
		t.Fatalf("DirtyRatio after 10 commits of one key = %.3f, want 0.9", r)
	}
}

func TestRecordRoundTrip(t *testing.T) {
	at := time.Date(2026, 11, 25, 14, 2, 0, 0, time.UTC).UnixMilli()
	cases := []struct {
		typ  log.RecordType
		data []byte
		want Record
	}{
		{TypeOffsetCommit, AppendOffsetCommit(nil, []byte("g\x00"), []byte("t:1"), 7, OffsetValue{9007199254740993, "meta", at}),
			Record{Type: TypeOffsetCommit, Key: OffsetKey{"g\x00", "t:1", 7}, Value: OffsetValue{9007199254740993, "meta", at}, Time: at}},
		{TypeOffsetTombstone, AppendOffsetTombstone(nil, []byte("g"), []byte("t"), 2147483647, at),
			Record{Type: TypeOffsetTombstone, Key: OffsetKey{"g", "t", 2147483647}, Time: at}},
		{TypeGroupMetadata, AppendGroupMetadata(nil, []byte("g"), 42, at),
			Record{Type: TypeGroupMetadata, Key: OffsetKey{Group: "g"}, Generation: 42, Time: at}},
		{TypeGroupTombstone, AppendGroupTombstone(nil, []byte("g"), at),
			Record{Type: TypeGroupTombstone, Key: OffsetKey{Group: "g"}, Time: at}},
	}
	for _, c := range cases {
		got, err := DecodeRecord(log.Record{Type: c.typ, Data: c.data})
		if err != nil || got != c.want {
			t.Errorf("type %d: got %+v, %v; want %+v", c.typ, got, err, c.want)
		}
		for cut := 0; cut < len(c.data); cut++ {
			if _, err := DecodeRecord(log.Record{Type: c.typ, Data: c.data[:cut]}); !errors.Is(err, ErrRecord) {
				t.Errorf("type %d cut at %d: %v, want ErrRecord", c.typ, cut, err)
			}
		}
	}
	if _, err := DecodeRecord(log.Record{Type: 99, Data: []byte{1, 1, 'g'}}); !errors.Is(err, ErrRecord) {
		t.Errorf("unknown type: %v", err)
	}
}

func FuzzDecodeRecord(f *testing.F) {
	f.Add(uint8(TypeOffsetCommit), AppendOffsetCommit(nil, []byte("g"), []byte("t"), 1, OffsetValue{2, "m", 3}))
	f.Add(uint8(TypeOffsetTombstone), AppendOffsetTombstone(nil, []byte("g"), []byte("t"), 1, 3))
	f.Add(uint8(TypeGroupMetadata), AppendGroupMetadata(nil, []byte("g"), 1, 3))
	f.Add(uint8(TypeGroupTombstone), AppendGroupTombstone(nil, []byte("g"), 3))
	f.Fuzz(func(t *testing.T, typ uint8, data []byte) {
		rec, err := DecodeRecord(log.Record{Type: log.RecordType(typ), Data: data})
		if err != nil {
			return
		}
		var again []byte
		g, tp := []byte(rec.Key.Group), []byte(rec.Key.Topic)
		switch rec.Type {
		case TypeOffsetCommit:
			again = AppendOffsetCommit(nil, g, tp, rec.Key.Partition, rec.Value)
		case TypeOffsetTombstone:
			again = AppendOffsetTombstone(nil, g, tp, rec.Key.Partition, rec.Time)
		case TypeGroupMetadata:
			again = AppendGroupMetadata(nil, g, rec.Generation, rec.Time)
		case TypeGroupTombstone:
			again = AppendGroupTombstone(nil, g, rec.Time)
		}
		if string(again) != string(data) {
			t.Fatalf("accepted record does not re-encode to itself: %x vs %x", data, again)
		}
	})
}

// BenchmarkIndexMemory reports the heap bytes each live key costs beyond
// its key strings, for 10^6 keys over 10^4 groups.
func BenchmarkIndexMemory(b *testing.B) {
	for i := 0; i < b.N; i++ {
		x := NewState()
		const keys, groups, parts = 1_000_000, 10_000, 10
		names := make([][]byte, groups)
		strBytes := 0
		for g := range names {
			names[g] = []byte(fmt.Sprintf("group-%06d", g))
		}
		before := heapInUse()
		for k := 0; k < keys; k++ {
			g := names[k%groups]
			topic := []byte(fmt.Sprintf("topic-%d", k/groups/parts))
			x.putEntry(g, topic, int32(k/groups%parts), entry{offset: int64(k)})
		}
		x.eachGroup(func(g *groupState) {
			for range g.topics {
				strBytes += 7 // "topic-N" stored once per group
			}
		})
		strBytes += groups * len(names[0])
		after := heapInUse()
		b.ReportMetric(float64(int64(after-before)-int64(strBytes))/keys, "B/key")
		runtimeKeepAlive(x)
	}
}

// A Flush whose fsync failed leaves its entry in the log's file (its write
// succeeded): the state is rolled back, but a reopening may replay it. So
// error 13 after a failed fsync is indefinite, as the README says; this
// test keeps that sentence true.
func TestFailedFsyncEntryMayComeBack(t *testing.T) {
	dir := t.TempDir()
	l, err := log.Open(dir, log.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	fw := &failingWal{wal: l}
	s, _, err := openWal(fw, Options{})
	if err != nil {
		t.Fatal(err)
	}
	k := OffsetKey{"g", "t", 0}
	commit(t, s, k, 10)
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	fw.failSync = true
	commit(t, s, k, 20)
	if err := s.Flush(); !errors.Is(err, ErrFailed) {
		t.Fatalf("Flush = %v, want ErrFailed", err)
	}
	if got, _ := fetch(s, k); got != 10 {
		t.Fatalf("after the failed fsync: %d, want 10", got)
	}
	s.Close()
	s, _, err = Open(dir, Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got, _ := fetch(s, k); got != 20 {
		t.Fatalf("after reopening: %d; the refused entry was written, so it is replayed (20)", got)
	}
}
