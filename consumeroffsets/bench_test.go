package consumeroffsets

import (
	"fmt"
	"testing"
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
