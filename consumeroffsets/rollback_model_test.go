package consumeroffsets

import (
	"maps"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/maelstrom-offsets/offsets/log"
)

func (m *model) clone() *model {
	return &model{offsets: maps.Clone(m.offsets), gens: maps.Clone(m.gens), tombs: maps.Clone(m.tombs)}
}

// TestRollbacksBesideCompactions runs the random workload with batches
// that fail for want of room (rolled back) among those that succeed, while
// background compactions write snapshots and drop old tombstones, and
// reopens at random: the state always matches the model of the batches
// that succeeded, live and replayed.
func TestRollbacksBesideCompactions(t *testing.T) {
	for seed := uint64(1); seed <= 6; seed++ {
		dir := t.TempDir()
		clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		const retention = 20 * time.Second
		opts := Options{Logger: quietLogger, SegmentSize: 4 << 10, Now: func() time.Time { return clock },
			TombstoneRetention: retention, CompactMinBytes: 4 << 10, CompactDirtyRatio: 0.2}
		open := func() (*Store, *failingWal) {
			l, err := log.Open(dir, log.Options{Logger: quietLogger, SegmentSize: opts.SegmentSize})
			if err != nil {
				t.Fatal(err)
			}
			fw := &failingWal{wal: l}
			s, _, err := openWal(fw, opts)
			if err != nil {
				t.Fatal(err)
			}
			s.backoff = 0
			return s, fw
		}
		s, fw := open()
		w := &workload{rng: rand.New(rand.NewPCG(seed, 99)), clock: &clock, m: newModel()}
		rolledBack := 0
		for batch := 0; batch < 600; batch++ {
			saved := w.m.clone()
			for i := 0; i < 1+w.rng.IntN(15); i++ {
				w.step(t, s)
			}
			fw.failAppend = w.rng.IntN(4) == 0
			staged := s.Pending() > 0
			err := s.Flush()
			if fw.failAppend && staged {
				if err == nil {
					t.Fatalf("seed %d batch %d: Flush succeeded on a full disk", seed, batch)
				}
				rolledBack++
				w.m = saved
			} else if err != nil {
				t.Fatalf("seed %d batch %d: %v", seed, batch, err)
			}
			fw.failAppend = false
			clock = clock.Add(time.Second)
			w.m.check(t, s.State(), clock.Add(-retention).UnixMilli())
			if w.rng.IntN(60) == 0 {
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
				w.m.check(t, s.State(), clock.Add(-retention).UnixMilli())
				before := dump(t, s.State())
				s, fw = open()
				if after := dump(t, s.State()); after != before {
					t.Fatalf("seed %d batch %d: reopened state differs\n--- before\n%s\n--- after\n%s", seed, batch, before, after)
				}
				w.m.check(t, s.State(), noExpiry)
			}
		}
		s.Close()
		if ck, ok, err := log.CheckpointIndex(dir); err != nil || !ok || ck == 0 || rolledBack == 0 {
			t.Fatalf("seed %d: checkpoint %d (%v, %v), %d batches rolled back: the test covers nothing", seed, ck, ok, err, rolledBack)
		}
	}
}
