package log

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSealRoundTrip(t *testing.T) {
	s := seal{index: 7, entries: 3, records: 120, first: 1, last: 3, bytes: 140000, segments: 2, sum: 0xdeadbeef}
	b := s.encode()
	if len(b) != sealSize {
		t.Fatalf("seal is %d bytes, want %d", len(b), sealSize)
	}
	got, err := decodeSeal(b)
	if err != nil || got != s {
		t.Fatalf("decodeSeal = %+v, %v; want %+v", got, err, s)
	}
	for i := range b {
		bad := append([]byte(nil), b...)
		bad[i] ^= 0x01
		if _, err := decodeSeal(bad); !errors.Is(err, ErrSeal) {
			t.Fatalf("byte %d flipped: %v, want ErrSeal", i, err)
		}
	}
	for _, n := range []int{0, 20, sealSize - 1, sealSize + 1} {
		if _, err := decodeSeal(append(b[:min(n, len(b)):min(n, len(b))], make([]byte, max(0, n-len(b)))...)); !errors.Is(err, ErrSeal) {
			t.Fatalf("%d bytes: %v, want ErrSeal", n, err)
		}
	}
}

// writeCheckpoint writes a sealed checkpoint of dir at index n holding
// records named after n.
func writeCheckpoint(t *testing.T, dir string, n uint64, records int) {
	t.Helper()
	cw, err := CreateCheckpoint(dir, n, 1<<10)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < records; i++ {
		if err := cw.Add(1, []byte(fmt.Sprintf("ck-%d-%d", n, i))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := cw.Commit(); err != nil {
		t.Fatal(err)
	}
}

// logWithTwoCheckpoints builds issue 10's layout: checkpoint.4, checkpoint.7
// and wal entries 1..10 (the wal truncation after checkpoint 7 not done).
func logWithTwoCheckpoints(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	l := openT(t, dir, nil)
	appendN(t, l, 10)
	l.Close()
	writeCheckpoint(t, dir, 4, 50)
	writeCheckpoint(t, dir, 7, 80)
	return dir
}

func countCheckpoints(t *testing.T, dir string) []ckpt {
	t.Helper()
	done, _, err := checkpoints(dir)
	if err != nil {
		t.Fatal(err)
	}
	return done
}

func TestReplayRemovesOlderCheckpointsOnlyWhenNewestIsWhole(t *testing.T) {
	t.Run("whole", func(t *testing.T) {
		dir := logWithTwoCheckpoints(t)
		l := openT(t, dir, nil)
		defer l.Close()
		if got := countCheckpoints(t, dir); len(got) != 2 {
			t.Fatalf("Open removed a complete checkpoint before reading it: %v", got)
		}
		st, err := l.Replay(1, func(uint64, Record) error { return nil })
		if err != nil || st.Checkpoint != 7 || !st.Sealed || st.Records != 80+2*3 {
			t.Fatalf("Replay = %+v, %v", st, err)
		}
		if got := countCheckpoints(t, dir); len(got) != 1 || got[0] != (ckpt{n: 7, sealed: true}) {
			t.Fatalf("after Replay: %v, want checkpoint 7 alone", got)
		}
	})
	t.Run("newest-damaged", func(t *testing.T) {
		dir := logWithTwoCheckpoints(t)
		seg := filepath.Join(dir, checkpointName(7), segmentName(1))
		data, _ := os.ReadFile(seg)
		data[len(data)-1] ^= 0x40
		os.WriteFile(seg, data, 0o644)
		l := openT(t, dir, nil)
		defer l.Close()
		var ce *CorruptionError
		if _, err := l.Replay(1, func(uint64, Record) error { return nil }); !errors.As(err, &ce) || ce.Path != seg {
			t.Fatalf("Replay = %v, want a *CorruptionError naming %s", err, seg)
		}
		if got := countCheckpoints(t, dir); len(got) != 2 {
			t.Fatalf("after a refused Replay: %v, want both checkpoints kept", got)
		}
		damaged, older, ok, err := OlderCheckpoint(dir)
		if err != nil || !ok || damaged != filepath.Join(dir, checkpointName(7)) || older != filepath.Join(dir, checkpointName(4)) {
			t.Fatalf("OlderCheckpoint = %q, %q, %v, %v", damaged, older, ok, err)
		}
	})
	t.Run("newest-unsealed", func(t *testing.T) {
		dir := logWithTwoCheckpoints(t)
		ck := filepath.Join(dir, checkpointName(7))
		os.Remove(filepath.Join(ck, sealName))
		if err := os.Rename(ck, filepath.Join(dir, ckpt{n: 7}.name())); err != nil {
			t.Fatal(err)
		}
		var logs bytes.Buffer
		l := openT(t, dir, slog.New(slog.NewTextHandler(&logs, nil)))
		defer l.Close()
		st, err := l.Replay(1, func(uint64, Record) error { return nil })
		if err != nil || st.Checkpoint != 7 || st.Sealed {
			t.Fatalf("Replay = %+v, %v", st, err)
		}
		if n := strings.Count(logs.String(), "level=WARN"); n != 1 || !strings.Contains(logs.String(), "cannot be verified for completeness") {
			t.Fatalf("want one WARN line about completeness:\n%s", logs.String())
		}
		if got := countCheckpoints(t, dir); len(got) != 2 {
			t.Fatalf("an unverifiable checkpoint made Replay remove the older one: %v", got)
		}
	})
}

// TestCheckpointNeverCut: damage at the end of a checkpoint's only (so its
// newest) segment is refused, never cut as a torn tail, by Open, Replay,
// Scan, Repair and PlanRepair alike.
func TestCheckpointNeverCut(t *testing.T) {
	dir := t.TempDir()
	l := openT(t, dir, nil)
	appendN(t, l, 5)
	l.Close()
	writeCheckpoint(t, dir, 5, 20)
	seg := filepath.Join(dir, checkpointName(5), segmentName(1))
	appendToFile(t, seg, []byte{0x40, 1, 2, 3}) // a frame cut short
	before, _ := os.ReadFile(seg)

	l = openT(t, dir, nil)
	_, err := l.Replay(1, func(uint64, Record) error { return nil })
	l.Close()
	var ce *CorruptionError
	if !errors.As(err, &ce) || ce.Path != seg {
		t.Fatalf("Replay = %v, want a *CorruptionError naming %s", err, seg)
	}
	if st, err := Scan(dir, ScanOptions{}); err == nil || st.Tail != nil {
		t.Fatalf("Scan = %+v, %v: a checkpoint's damage is not a torn tail", st, err)
	}
	if rep, err := Repair(dir); rep != nil || err != nil {
		t.Fatalf("Repair = %+v, %v; want nothing to do in the wal", rep, err)
	}
	if after, _ := os.ReadFile(seg); !bytes.Equal(after, before) {
		t.Fatal("the checkpoint segment was changed")
	}
	if m, _ := filepath.Glob(filepath.Join(dir, checkpointName(5), "*"+brokenExt)); len(m) != 0 {
		t.Fatalf("a checkpoint was repaired: %v", m)
	}
}

// TestEmptyCheckpoint: a compaction that keeps no record writes a sealed
// checkpoint of one empty segment, which reads back whole; without that
// segment it is damage.
func TestEmptyCheckpoint(t *testing.T) {
	dir := t.TempDir()
	l := openT(t, dir, nil)
	appendN(t, l, 3)
	l.Close()
	writeCheckpoint(t, dir, 2, 0)
	segs, err := listSegments(filepath.Join(dir, checkpointName(2)))
	if err != nil || len(segs) != 1 {
		t.Fatalf("empty checkpoint segments: %v, %v", segs, err)
	}
	if err := VerifyCheckpoint(dir); err != nil {
		t.Fatal(err)
	}
	if got, err := replayAll(t, dir); err != nil || len(got) != 2 {
		t.Fatalf("replay = %v, %v; want entry 3's two records", got, err)
	}
	os.Remove(segs[0].path)
	if err := VerifyCheckpoint(dir); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("without its segment: %v, want damage", err)
	}
}

// TestCheckpointReplacedUnderScan: damage met in a checkpoint that a newer
// one has replaced since the scan began is a compaction removing it (its
// files go one by one), reported as ErrChanged and not as damage, so that
// verify on a live node does not cry wolf.
func TestCheckpointReplacedUnderScan(t *testing.T) {
	dir := logWithTwoCheckpoints(t)
	var damages int
	s := scanner{opts: ScanOptions{Damage: func(Damage) error { damages++; return nil }}, head: &scanHead{dir, ckpt{n: 4, sealed: true}}}
	if err := s.damage(Damage{Path: filepath.Join(dir, checkpointName(4), sealName), Checkpoint: true, Err: ErrSeal}); !errors.Is(err, ErrChanged) || damages != 0 {
		t.Fatalf("damage in a replaced checkpoint: %v (%d reported), want ErrChanged", err, damages)
	}
	s.head.c = ckpt{n: 7, sealed: true}
	if err := s.damage(Damage{Path: filepath.Join(dir, checkpointName(7), sealName), Checkpoint: true, Err: ErrSeal}); err != nil || damages != 1 {
		t.Fatalf("damage in the newest checkpoint: %v (%d reported), want it reported", err, damages)
	}
}
