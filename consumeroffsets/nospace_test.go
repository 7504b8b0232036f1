package consumeroffsets

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/maelstrom-offsets/offsets/internal/tmpfstest"
)

// TestCompactionOnFullDisk runs compactions on a tmpfs with no inode left,
// freeing one more before each try: every failed one leaves the log as it
// was (no checkpoint.N.tmp, the writes and reads of the store unaffected)
// and asks for a retry later, until one succeeds.
func TestCompactionOnFullDisk(t *testing.T) {
	mnt := tmpfstest.Mount(t, "size=8m,nr_inodes=32")
	dir := filepath.Join(mnt, "n1")
	s, _, err := Open(dir, Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		SegmentSize: 1 << 20, CompactMinBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	want := map[OffsetKey]int64{}
	off := int64(0)
	commitAll := func() {
		t.Helper()
		for i := 0; i < 50; i++ {
			for p := int32(0); p < 10; p++ {
				off++
				k := OffsetKey{"g", "t", p}
				commit(t, s, k, off)
				want[k] = off
			}
			if err := s.Flush(); err != nil {
				t.Fatalf("Flush beside a failed compaction: %v", err)
			}
		}
	}
	check := func(s *Store) {
		t.Helper()
		for k, v := range want {
			if got, _ := fetch(s, k); got != v {
				t.Fatalf("%v = %d, want %d", k, got, v)
			}
		}
	}
	commitAll()

	var fillers []string
	for i := 0; ; i++ {
		p := filepath.Join(mnt, fmt.Sprintf("filler-%d", i))
		f, err := os.Create(p)
		if err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			break
		}
		f.Close()
		fillers = append(fillers, p)
	}
	failed, releaseFailed := 0, false
	for try := 0; ; try++ {
		if try == len(fillers) {
			t.Fatal("no compaction succeeded with every filler removed")
		}
		_, err := s.Compact()
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("compaction %d: %v, want ENOSPC", try, err)
		}
		failed++
		releaseFailed = releaseFailed || strings.Contains(err.Error(), "release")
		if tmps, _ := filepath.Glob(filepath.Join(dir, "checkpoint.*.tmp")); len(tmps) != 0 {
			t.Fatalf("compaction %d failed (%v) and left %v", try, err, tmps)
		}
		if temps, _ := filepath.Glob(filepath.Join(dir, "wal", "*.TEMP")); len(temps) != 0 {
			t.Fatalf("compaction %d failed (%v) and left %v", try, err, temps)
		}
		if cks, _ := filepath.Glob(filepath.Join(dir, "checkpoint.*.sealed")); len(cks) > 2 {
			t.Fatalf("compaction %d failed (%v) and %v are kept: each retry on a full disk would leave one more copy", try, err, cks)
		}
		if s.compactAfter.IsZero() {
			t.Fatalf("compaction %d failed for want of room, yet no retry is planned", try)
		}
		check(s)
		commitAll() // writes go on: the failure was the compaction's alone
		os.Remove(fillers[try])
	}
	if failed == 0 || !releaseFailed {
		t.Fatalf("%d compactions failed (the wal truncation among them: %v): the test did not reach both steps", failed, releaseFailed)
	}
	if !s.compactAfter.IsZero() {
		t.Fatal("a compaction succeeded, yet the retry delay stays")
	}
	check(s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openT(t, dir)
	defer s.Close()
	check(s)
}
