package consumeroffsets

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/maelstrom-offsets/offsets/log"
)

// A compaction that first finishes the release of the newest checkpoint
// (after a full disk stopped one) and finds that checkpoint damaged still
// writes a new checkpoint from the state: the state holds every
// acknowledged change, and the new checkpoint replaces the damaged one, so
// that a restart finds the log whole instead of refusing it.
func TestCompactionReplacesDamagedCheckpointWhoseReleaseIsRetried(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir)
	want := map[OffsetKey]int64{}
	for i := 0; i < 200; i++ {
		k := OffsetKey{"g", "t", int32(i % 20)}
		commit(t, s, k, int64(i))
		want[k] = int64(i)
		if i%10 == 9 {
			if err := s.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := s.Compact(); err != nil {
		t.Fatal(err)
	}
	ck, _, err := log.CheckpointIndex(dir)
	if err != nil || ck == 0 {
		t.Fatalf("checkpoint %d, %v", ck, err)
	}
	// The checkpoint rots, and the store is to retry a release.
	ckDir := filepath.Join(dir, "checkpoint."+pad20(ck)+".sealed")
	seg := filepath.Join(ckDir, "00000000000000000001")
	data, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0x40
	if err := os.WriteFile(seg, data, 0o644); err != nil {
		t.Fatal(err)
	}
	s.releaseFirst = true
	k := OffsetKey{"g", "t", 99}
	commit(t, s, k, 7)
	want[k] = 7
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Compact(); err != nil {
		t.Fatalf("compaction beside a damaged checkpoint: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openT(t, dir)
	defer s.Close()
	for k, v := range want {
		if got, _ := fetch(s, k); got != v {
			t.Fatalf("after reopen: %v = %d, want %d", k, got, v)
		}
	}
}

func pad20(n uint64) string {
	b := []byte("00000000000000000000")
	for i := len(b) - 1; n > 0; i-- {
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b)
}
