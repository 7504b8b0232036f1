package consumeroffsets

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/maelstrom-offsets/offsets/internal/tmpfstest"
	"github.com/maelstrom-offsets/offsets/log"
)

// TestFullDiskBesideCompactions writes on a small tmpfs that a filler
// fills and empties again and again, while background compactions write
// checkpoints (and fail for want of room, and are retried): the rewinds
// of the wal, the checkpoints and the releases interleave at random. Every
// Flush either succeeds or fails with ErrNoSpace, and the state, live and
// after a reopen, is exactly that of the batches that succeeded.
func TestFullDiskBesideCompactions(t *testing.T) {
	mnt := tmpfstest.Mount(t, "size=6m")
	dir := filepath.Join(mnt, "n1")
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var logs lockedLog
	opts := Options{Logger: slog.New(slog.NewTextHandler(&logs, nil)), SegmentSize: 256 << 10, Now: func() time.Time { return clock },
		CompactMinBytes: 512 << 10, CompactDirtyRatio: 0.3}
	s, _, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	s.backoff = 0
	want := map[OffsetKey]int64{}
	rng := rand.New(rand.NewPCG(7, 8))
	filler := filepath.Join(mnt, "filler")
	fill := func(free int64) {
		os.Remove(filler)
		f, err := os.Create(filler)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		chunk := make([]byte, 64<<10)
		for {
			if _, err := f.Write(chunk); err != nil {
				break
			}
		}
		fi, _ := f.Stat()
		f.Truncate(max(0, fi.Size()-free))
	}
	full, ok := 0, 0
	pad := make([]byte, 1000)
	for round := 0; round < 40; round++ {
		fill(int64(rng.IntN(1 << (18 + rng.IntN(3)))))
		for b := 0; b < 50; b++ {
			staged := map[OffsetKey]int64{}
			for i := 0; i < 20; i++ {
				k := OffsetKey{fmt.Sprintf("g%d", rng.IntN(20)), "t", int32(rng.IntN(10))}
				off := rng.Int64N(1 << 40)
				if err := s.Commit([]byte(k.Group), []byte(k.Topic), k.Partition, off, pad[:rng.IntN(len(pad))]); err != nil {
					t.Fatal(err)
				}
				staged[k] = off
			}
			switch err := s.Flush(); {
			case err == nil:
				ok++
				for k, v := range staged {
					want[k] = v
				}
			case errors.Is(err, ErrNoSpace):
				full++
			default:
				t.Fatalf("round %d: Flush = %v, want nil or ErrNoSpace", round, err)
			}
			clock = clock.Add(time.Second)
			for k, v := range want {
				if got, _ := fetch(s, k); got != v {
					t.Fatalf("round %d: %v = %d, want %d", round, k, got, v)
				}
			}
		}
		os.Remove(filler)
		s.compactAfter = time.Time{} // the retry after a full disk waits 10 s of real time
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if full == 0 || ok == 0 {
		t.Fatalf("%d batches written, %d refused: the disk never filled, or never had room", ok, full)
	}
	if ck, has, _ := log.CheckpointIndex(dir); !has || ck == 0 {
		t.Fatalf("no compaction succeeded (%d batches written, %d refused, %d record bytes)", ok, full, s.st.c.recordBytes)
	}
	s, _, err = Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for k, v := range want {
		if got, _ := fetch(s, k); got != v {
			t.Fatalf("after reopen: %v = %d, want %d", k, got, v)
		}
	}
	if s.Keys() != len(want) {
		t.Fatalf("after reopen: %d keys, want %d", s.Keys(), len(want))
	}
	failed, compacted := logs.count("compaction failed"), logs.count("msg=compacted")
	if failed == 0 || compacted == 0 {
		t.Fatalf("%d compactions failed, %d succeeded: want both", failed, compacted)
	}
	t.Logf("%d batches written, %d refused for want of room; %d compactions, %d failed", ok, full, compacted, failed)
}

// lockedLog collects log lines written from any goroutine.
type lockedLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedLog) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return bytes.Count(l.b.Bytes(), []byte(s))
}
