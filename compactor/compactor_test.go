package compactor_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/maelstrom-offsets/offsets/compactor"
	"github.com/maelstrom-offsets/offsets/consumeroffsets"
	"github.com/maelstrom-offsets/offsets/log"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// replayState rebuilds the offsets from the log in dir, independently of
// the store's index code.
func replayState(t *testing.T, dir string) map[consumeroffsets.OffsetKey]int64 {
	t.Helper()
	got := map[consumeroffsets.OffsetKey]int64{}
	_, err := log.Replay(dir, 1, func(_ uint64, r log.Record) error {
		rec, err := consumeroffsets.DecodeRecord(r)
		if err != nil {
			return err
		}
		switch rec.Type {
		case consumeroffsets.TypeOffsetCommit:
			got[rec.Key] = rec.Value.Offset
		case consumeroffsets.TypeOffsetTombstone:
			delete(got, rec.Key)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("replay: %v", err)
	}
	return got
}

func equal(a, b map[consumeroffsets.OffsetKey]int64) error {
	if len(a) != len(b) {
		return fmt.Errorf("%d keys vs %d", len(a), len(b))
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return fmt.Errorf("key %v: %d vs %d (present %v)", k, v, w, ok)
		}
	}
	return nil
}

// history appends random commits and tombstones over a small key space to
// an open log, keeping the model of what must be live.
type history struct {
	l     *log.Log
	model map[consumeroffsets.OffsetKey]int64
	rng   *rand.Rand
	now   time.Time
	buf   []byte
}

func (h *history) batch(t *testing.T, n int) {
	t.Helper()
	var b log.Batch
	for i := 0; i < n; i++ {
		k := consumeroffsets.OffsetKey{Group: fmt.Sprintf("g%d", h.rng.IntN(4)), Topic: fmt.Sprintf("t:%d", h.rng.IntN(3)), Partition: int32(h.rng.IntN(4))}
		g, tp := []byte(k.Group), []byte(k.Topic)
		if h.rng.IntN(40) == 0 {
			// delete_group, as the node writes it: a tombstone per offset,
			// then one for the group.
			for mk := range h.model {
				if mk.Group == k.Group {
					h.buf = consumeroffsets.AppendOffsetTombstone(h.buf[:0], []byte(mk.Group), []byte(mk.Topic), mk.Partition, h.now.UnixMilli())
					b.Add(consumeroffsets.TypeOffsetTombstone, h.buf)
					delete(h.model, mk)
				}
			}
			h.buf = consumeroffsets.AppendGroupTombstone(h.buf[:0], g, h.now.UnixMilli())
			b.Add(consumeroffsets.TypeGroupTombstone, h.buf)
		} else if h.rng.IntN(5) == 0 {
			h.buf = consumeroffsets.AppendOffsetTombstone(h.buf[:0], g, tp, k.Partition, h.now.UnixMilli())
			b.Add(consumeroffsets.TypeOffsetTombstone, h.buf)
			delete(h.model, k)
		} else {
			off := h.rng.Int64N(1 << 40)
			h.buf = consumeroffsets.AppendOffsetCommit(h.buf[:0], g, tp, k.Partition, consumeroffsets.OffsetValue{Offset: off, CommitTime: h.now.UnixMilli()})
			b.Add(consumeroffsets.TypeOffsetCommit, h.buf)
			h.model[k] = off
		}
		h.now = h.now.Add(time.Second)
	}
	if _, err := h.l.Append(&b); err != nil {
		t.Fatal(err)
	}
	if err := h.l.Sync(); err != nil {
		t.Fatal(err)
	}
}

// compact compacts the open log l through its last entry as a node does:
// the log replayed into a consumeroffsets.State, a snapshot of it written
// as the checkpoint, tombstones older than retention at now dropped.
func compact(t *testing.T, l *log.Log, retention time.Duration, now time.Time, hook func(string) error) (compactor.Stats, *consumeroffsets.Snapshot, error) {
	t.Helper()
	st := consumeroffsets.NewState()
	if _, err := log.Replay(l.Dir(), 1, st.Apply); err != nil {
		t.Fatalf("replay: %v", err)
	}
	sn := st.Snapshot()
	cs, err := compactor.Write(l, sn.Index(), sn.Checkpoint(now.Add(-retention)), compactor.Options{SegmentSize: 2048, Hook: hook})
	return cs, sn, err
}

func newHistory(t *testing.T, dir string) *history {
	l, err := log.Open(dir, log.Options{SegmentSize: 2048, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	return &history{l: l, model: map[consumeroffsets.OffsetKey]int64{}, rng: rand.New(rand.NewPCG(7, 9)),
		now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func TestCompactionPreservesState(t *testing.T) {
	dir := t.TempDir()
	h := newHistory(t, dir)
	defer func() { h.l.Close() }()
	for round := 0; round < 60; round++ {
		h.batch(t, 1+h.rng.IntN(80))
		if round%3 != 0 {
			continue
		}
		before := replayState(t, dir)
		if err := equal(before, h.model); err != nil {
			t.Fatalf("round %d: log disagrees with model before compaction: %v", round, err)
		}
		st, sn, err := compact(t, h.l, time.Minute, h.now, nil)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if err := equal(replayState(t, dir), before); err != nil {
			t.Fatalf("round %d: compaction changed the state: %v", round, err)
		}
		if tombs, _ := sn.TombstonesKept(); st.RecordsKept != uint64(len(before))+tombs {
			t.Fatalf("round %d: stats do not add up: %+v (live %d)", round, st, len(before))
		}
		// Reopening (what a restart does) sees the same.
		h.l.Close()
		if h.l, err = log.Open(dir, log.Options{SegmentSize: 2048, Logger: quiet}); err != nil {
			t.Fatal(err)
		}
		if err := equal(replayState(t, dir), h.model); err != nil {
			t.Fatalf("round %d: after reopen: %v", round, err)
		}
	}
}

func TestTombstoneRetention(t *testing.T) {
	dir := t.TempDir()
	h := newHistory(t, dir)
	defer h.l.Close()
	h.batch(t, 300) // ~20% tombstones, one second apart
	countTombstones := func() (n int) {
		log.Replay(dir, 1, func(_ uint64, r log.Record) error {
			if r.Type == consumeroffsets.TypeOffsetTombstone || r.Type == consumeroffsets.TypeGroupTombstone {
				n++
			}
			return nil
		})
		return n
	}
	// Everything is younger than a day: live tombstones (latest record of
	// their key) survive.
	_, sn, err := compact(t, h.l, 24*time.Hour, h.now, nil)
	if kept, _ := sn.TombstonesKept(); err != nil || kept == 0 || countTombstones() != int(kept) {
		t.Fatalf("within retention: %d kept, %v, %d tombstones in log", kept, err, countTombstones())
	}
	h.batch(t, 1)
	later := h.now.Add(25 * time.Hour)
	_, sn, err = compact(t, h.l, 24*time.Hour, later, nil)
	if kept, _ := sn.TombstonesKept(); err != nil || kept != 0 || countTombstones() != 0 {
		t.Fatalf("past retention: %d kept, %v, %d tombstones in log", kept, err, countTombstones())
	}
	if err := equal(replayState(t, dir), h.model); err != nil {
		t.Fatal(err)
	}
}

// TestCrashAtEveryStep stops a compaction after each step of the file
// protocol, as a crash would, then reopens the directory as a restarting
// node does: every committed value is there, nothing superseded is back,
// temporaries are gone, and compaction works again.
func TestCrashAtEveryStep(t *testing.T) {
	steps := []string{"checkpoint-written", "checkpoint-sealed", "checkpoint-synced", "checkpoint-renamed",
		"checkpoint-durable", "checkpoint-verified", "released-segments-emptied", "wal-truncated-unsynced", "wal-truncated"}
	for _, step := range steps {
		t.Run(step, func(t *testing.T) {
			dir := t.TempDir()
			h := newHistory(t, dir)
			for i := 0; i < 5; i++ {
				h.batch(t, 40)
			}
			// A first, complete compaction, so that an older checkpoint
			// exists when the second one crashes.
			if _, _, err := compact(t, h.l, time.Hour, h.now, nil); err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 5; i++ {
				h.batch(t, 40)
			}
			reached := false
			_, _, err := compact(t, h.l, time.Hour, h.now, func(s string) error {
				if s == step {
					reached = true
					return errors.New("crash")
				}
				return nil
			})
			if !reached || !errors.Is(err, compactor.ErrStopped) {
				t.Fatalf("hook at %s not reached: %v", step, err)
			}
			h.l.Close()

			s, _, err := consumeroffsets.Open(dir, consumeroffsets.Options{Logger: quiet, SegmentSize: 2048, CompactMinBytes: -1})
			if err != nil {
				t.Fatalf("reopen after crash at %s: %v", step, err)
			}
			for key, want := range h.model {
				c, ok := s.Fetch([]byte(key.Group), []byte(key.Topic), key.Partition)
				if !ok || c.Offset != want {
					t.Fatalf("after crash at %s: %v = %d (%v), want %d", step, key, c.Offset, ok, want)
				}
			}
			if s.Keys() != len(h.model) {
				t.Fatalf("after crash at %s: %d keys, want %d (a deleted key came back?)", step, s.Keys(), len(h.model))
			}
			ents, _ := os.ReadDir(dir)
			var cks []string
			for _, e := range ents {
				if strings.HasPrefix(e.Name(), "checkpoint.") {
					cks = append(cks, e.Name())
				}
			}
			if len(cks) != 1 || strings.HasSuffix(cks[0], ".tmp") {
				t.Fatalf("after crash at %s and reopen: checkpoints %v, want exactly one complete", step, cks)
			}
			if tmps, _ := filepath.Glob(filepath.Join(dir, "wal", "*.TEMP")); len(tmps) != 0 {
				t.Fatalf("temporaries left: %v", tmps)
			}
			if _, err := s.Compact(); err != nil {
				t.Fatalf("compaction after recovery: %v", err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if err := equal(replayState(t, dir), h.model); err != nil {
				t.Fatalf("after recovery and a new compaction: %v", err)
			}
		})
	}
}

// TestSpaceAfterManyCommits: after 1,000,000 commits over 1,000 keys and a
// compaction, the log on disk is at most 1.5 times a log that holds just
// the 1,000 live records plus one empty segment.
func TestSpaceAfterManyCommits(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a million commits")
	}
	dir := t.TempDir()
	s, _, err := consumeroffsets.Open(dir, consumeroffsets.Options{Logger: quiet, NoSync: true, CompactMinBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	const keys, commits = 1000, 1_000_000
	for i := 0; i < commits; i++ {
		g := []byte(fmt.Sprintf("group-%03d", i%keys))
		if err := s.Commit(g, []byte("orders"), 0, int64(i), nil); err != nil {
			t.Fatal(err)
		}
		if i%2000 == 1999 {
			if err := s.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Compact(); err != nil {
		t.Fatal(err)
	}
	s.Close()
	got, err := log.Size(dir)
	if err != nil {
		t.Fatal(err)
	}

	// The reference: the 1,000 live records written once into a new log.
	ref := t.TempDir()
	rs, _, err := consumeroffsets.Open(ref, consumeroffsets.Options{Logger: quiet, NoSync: true, CompactMinBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	for i := commits - keys; i < commits; i++ {
		rs.Commit([]byte(fmt.Sprintf("group-%03d", i%keys)), []byte("orders"), 0, int64(i), nil)
	}
	rs.Flush()
	rs.Close()
	want, _ := log.Size(ref)
	t.Logf("log after %d commits over %d keys and compaction: %d bytes; %d live records alone: %d bytes (ratio %.2f)",
		commits, keys, got, keys, want, float64(got)/float64(want))
	if float64(got) > 1.5*float64(want) {
		t.Fatalf("log is %d bytes, more than 1.5 x %d", got, want)
	}
}

// checkpointDirs lists the names of the checkpoint directories in dir.
func checkpointDirs(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var cks []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "checkpoint.") {
			cks = append(cks, e.Name())
		}
	}
	return cks
}

// twoCheckpoints leaves dir as a crash between a compaction's rename and
// its release does: an older checkpoint, a newer one, and every wal entry
// after the older one. It returns the model of what must be live.
func twoCheckpoints(t *testing.T, dir string) (older, newer string, model map[consumeroffsets.OffsetKey]int64) {
	t.Helper()
	h := newHistory(t, dir)
	defer h.l.Close()
	h.batch(t, 200)
	if _, _, err := compact(t, h.l, time.Hour, h.now, nil); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		h.batch(t, 40)
	}
	hook := func(s string) error {
		if s == "checkpoint-durable" {
			return errors.New("crash")
		}
		return nil
	}
	if _, _, err := compact(t, h.l, time.Hour, h.now, hook); !errors.Is(err, compactor.ErrStopped) {
		t.Fatalf("compaction not stopped: %v", err)
	}
	cks := checkpointDirs(t, dir)
	if len(cks) != 2 {
		t.Fatalf("want two checkpoints, have %v", cks)
	}
	return filepath.Join(dir, cks[0]), filepath.Join(dir, cks[1]), h.model
}

// TestDamagedNewestCheckpointKeepsOlder is issue 10's second reproduction:
// two checkpoints and the wal entries after the older one (a crash between
// the rename and the wal truncation), then a flipped byte in the newer one.
// The node must refuse, naming it, and must not have removed the older
// one, with which (after the damaged one is moved away) it starts whole.
func TestDamagedNewestCheckpointKeepsOlder(t *testing.T) {
	dir := t.TempDir()
	older, newer, model := twoCheckpoints(t, dir)
	seg := filepath.Join(newer, "00000000000000000001")
	data, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0x01
	os.WriteFile(seg, data, 0o644)

	_, _, err = consumeroffsets.Open(dir, consumeroffsets.Options{Logger: quiet, SegmentSize: 2048, CompactMinBytes: -1})
	var ce *log.CorruptionError
	if !errors.As(err, &ce) || ce.Path != seg {
		t.Fatalf("open with a damaged newest checkpoint: %v, want a *log.CorruptionError naming %s", err, seg)
	}
	if _, err := os.Stat(older); err != nil {
		t.Fatalf("the older checkpoint is gone after a refused start: %v", err)
	}
	// What verify tells the operator to do.
	if err := os.Rename(newer, filepath.Join(t.TempDir(), "damaged")); err != nil {
		t.Fatal(err)
	}
	s, _, err := consumeroffsets.Open(dir, consumeroffsets.Options{Logger: quiet, SegmentSize: 2048, CompactMinBytes: -1})
	if err != nil {
		t.Fatalf("open on the older checkpoint: %v", err)
	}
	defer s.Close()
	for key, want := range model {
		if c, ok := s.Fetch([]byte(key.Group), []byte(key.Topic), key.Partition); !ok || c.Offset != want {
			t.Fatalf("%v = %d (%v), want %d", key, c.Offset, ok, want)
		}
	}
	if s.Keys() != len(model) {
		t.Fatalf("%d keys, want %d", s.Keys(), len(model))
	}
}

// TestReadBackBeforeRelease damages a new checkpoint after its rename and
// before the compactor reads it back: the compaction must fail, release
// no wal entry, keep the older checkpoint and set the damaged one aside,
// so that the log is what it was before the compaction.
func TestReadBackBeforeRelease(t *testing.T) {
	for _, damage := range []string{"cut", "flip", "seal"} {
		t.Run(damage, func(t *testing.T) {
			dir := t.TempDir()
			h := newHistory(t, dir)
			h.batch(t, 200)
			if _, _, err := compact(t, h.l, time.Hour, h.now, nil); err != nil {
				t.Fatal(err)
			}
			older := checkpointDirs(t, dir)
			h.batch(t, 200)
			walBefore := tree(t, filepath.Join(dir, "wal"))
			hook := func(s string) error {
				if s != "checkpoint-durable" {
					return nil
				}
				cks := checkpointDirs(t, dir)
				ck := filepath.Join(dir, cks[len(cks)-1])
				seg := filepath.Join(ck, "00000000000000000001")
				data, _ := os.ReadFile(seg)
				switch damage {
				case "cut": // cut at its last entry boundary: what is left is valid entries
					os.WriteFile(seg, data[:lastFrame(data)], 0o644)
				case "flip":
					data[len(data)-3] ^= 0x01
					os.WriteFile(seg, data, 0o644)
				case "seal":
					os.Remove(filepath.Join(ck, "SEAL"))
				}
				return nil
			}
			_, _, err := compact(t, h.l, time.Hour, h.now, hook)
			if !errors.Is(err, log.ErrCorrupt) {
				t.Fatalf("compaction over a damaged new checkpoint: %v, want a corruption error", err)
			}
			if got := tree(t, filepath.Join(dir, "wal")); len(got) != len(walBefore) {
				t.Fatalf("wal segments went from %d to %d: entries were released", len(walBefore), len(got))
			}
			cks := checkpointDirs(t, dir)
			if len(cks) != 2 || cks[0] != older[0] || !strings.HasSuffix(cks[1], ".broken") {
				t.Fatalf("checkpoints %v, want %s and the damaged one set aside", cks, older[0])
			}
			h.l.Close()
			s, _, err := consumeroffsets.Open(dir, consumeroffsets.Options{Logger: quiet, SegmentSize: 2048, CompactMinBytes: -1})
			if err != nil {
				t.Fatalf("reopen: %v", err)
			}
			defer s.Close()
			if s.Keys() != len(h.model) {
				t.Fatalf("%d keys after reopen, want %d", s.Keys(), len(h.model))
			}
			for key, want := range h.model {
				if c, ok := s.Fetch([]byte(key.Group), []byte(key.Topic), key.Partition); !ok || c.Offset != want {
					t.Fatalf("%v = %d (%v), want %d", key, c.Offset, ok, want)
				}
			}
			// And the next compaction works and writes a good checkpoint.
			if _, err := s.Compact(); err != nil {
				t.Fatalf("compaction after the failed one: %v", err)
			}
		})
	}
}

// lastFrame returns the offset of the last tidwall frame in a segment.
func lastFrame(data []byte) int {
	last := 0
	for off := 0; off < len(data); {
		n, w := binary.Uvarint(data[off:])
		last = off
		off += w + int(n)
	}
	return last
}

// tree lists the files under root with their sizes.
func tree(t *testing.T, root string) map[string]int64 {
	t.Helper()
	files := map[string]int64{}
	filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			files[p] = fi.Size()
		}
		return err
	})
	return files
}
