package consumeroffsets

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"testing"
	"unsafe"
)

// benchStore is a store of 1,000,000 keys over 10,000 groups (10 topics of
// 10 partitions each), built once for the group benchmarks.
func benchStore(b *testing.B) (*Store, [][]byte, [][]byte) {
	b.Helper()
	s, _, err := Open(b.TempDir(), Options{NoSync: true, CompactMinBytes: -1})
	if err != nil {
		b.Fatal(err)
	}
	groups := make([][]byte, 10_000)
	for i := range groups {
		groups[i] = []byte(fmt.Sprintf("group-%05d", i))
	}
	topics := make([][]byte, 10)
	for i := range topics {
		topics[i] = []byte(fmt.Sprintf("topic-%d", i))
	}
	for _, g := range groups {
		for _, t := range topics {
			for p := int32(0); p < 10; p++ {
				s.Commit(g, t, p, int64(p), nil)
			}
		}
		if s.Pending() > 10_000 {
			if err := s.Flush(); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := s.Flush(); err != nil {
		b.Fatal(err)
	}
	if s.Keys() != 1_000_000 {
		b.Fatalf("%d keys", s.Keys())
	}
	return s, groups, topics
}

// BenchmarkGroupOps measures the group-level operations on a store of
// 1,000,000 keys over 10,000 groups: each must cost in proportion to what
// it returns or removes (100 offsets of one group, 10 of one topic, or the
// 10,000 group names), not to the million keys.
func BenchmarkGroupOps(b *testing.B) {
	s, groups, topics := benchStore(b)
	defer s.Close()
	b.Run("op=fetch_offset", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, ok := s.Fetch(groups[i%len(groups)], topics[i%10], int32(i%10)); !ok {
				b.Fatal("missing")
			}
		}
	})
	b.Run("op=commit_offset", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			s.Commit(groups[i%len(groups)], topics[i%10], int32(i%10), int64(i), nil)
			if s.Pending() >= 4096 {
				s.Flush()
			}
		}
		s.Flush()
	})
	b.Run("op=fetch_offsets/returns=100", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			n := 0
			s.FetchGroup(groups[i%len(groups)], nil, func(string, int32, Committed) { n++ })
			if n != 100 {
				b.Fatalf("%d offsets", n)
			}
		}
	})
	b.Run("op=list_groups/returns=10000", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if len(s.Groups()) != 10_000 {
				b.Fatal("groups")
			}
		}
	})
	b.Run("op=delete_offsets/removes=10", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			g, t := groups[i%len(groups)], topics[i%10]
			if n, _ := s.DeleteOffsets(g, t, nil); n != 10 {
				b.Fatalf("deleted %d", n)
			}
			b.StopTimer()
			s.Flush()
			for p := int32(0); p < 10; p++ {
				s.Commit(g, t, p, 1, nil)
			}
			s.Flush()
			b.StartTimer()
		}
	})
	b.Run("op=delete_group/removes=100", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			g := groups[i%len(groups)]
			if n, _ := s.DeleteGroup(g); n != 100 {
				b.Fatalf("deleted %d", n)
			}
			b.StopTimer()
			s.Flush()
			for _, t := range topics {
				for p := int32(0); p < 10; p++ {
					s.Commit(g, t, p, 1, nil)
				}
			}
			s.Flush()
			b.StartTimer()
		}
	})
}

// flatEntry is what one key would take in a flat, pointer-free table
// (group and topic as ids into interned names, metadata as an arena
// reference): the alternative design BenchmarkSnapshotDesigns measures.
type flatEntry struct {
	group, topic, partition uint32
	metaOff, metaLen        uint32
	offset, at              int64
	next                    uint32 // chaining within a group
}

// BenchmarkSnapshotDesigns measures, at 10^6 live keys (10^4 groups of 10
// topics of 10 partitions), the pause each way of taking a consistent view
// costs the serving goroutine: design=cow is State.Snapshot (copy-on-write:
// 256 shard pointers), design=flat-copy copies a flat pointer-free table of
// the same keys, design=map-clone clones a Go map of 10^6 keys (a copy of
// a hash index). Then, with a snapshot open, op=commit-shared is a commit
// to a random key (paying the first-touch copies), against op=commit.
func BenchmarkSnapshotDesigns(b *testing.B) {
	s, groups, topics := benchStore(b)
	defer s.Close()
	st := s.State()
	b.Run("design=cow/keys=1e6", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			sn := st.Snapshot()
			st.Release(sn, false)
		}
	})
	b.Run("design=flat-copy/keys=1e6", func(b *testing.B) {
		table := make([]flatEntry, 1_000_000)
		cp := make([]flatEntry, len(table))
		b.SetBytes(int64(len(table)) * int64(unsafe.Sizeof(flatEntry{})))
		for i := 0; i < b.N; i++ {
			copy(cp, table)
		}
	})
	b.Run("design=map-clone/keys=1e6", func(b *testing.B) {
		m := make(map[[3]uint32]uint32, 1_000_000)
		for i := uint32(0); i < 1_000_000; i++ {
			m[[3]uint32{i / 100, i / 10 % 10, i % 10}] = i
		}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			_ = maps.Clone(m)
		}
	})
	commit := func(b *testing.B, shared bool) {
		rng := rand.New(rand.NewPCG(1, 2))
		var sn *Snapshot
		for i := 0; i < b.N; i++ {
			if shared && i%100_000 == 0 { // a fresh snapshot: every node shared again
				if sn != nil {
					st.Release(sn, false)
				}
				sn = st.Snapshot()
			}
			g := groups[rng.IntN(len(groups))]
			s.Commit(g, topics[rng.IntN(10)], int32(rng.IntN(10)), int64(i), nil)
			if s.Pending() >= 1000 {
				s.Flush()
			}
		}
		s.Flush()
		if sn != nil {
			st.Release(sn, false)
		}
	}
	b.Run("op=commit/keys=1e6", func(b *testing.B) { commit(b, false) })
	b.Run("op=commit-shared/keys=1e6", func(b *testing.B) { commit(b, true) })
}
