package raftlog

import (
	"fmt"
	"testing"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
)

// BenchmarkSave is the cost of persisting one Ready of entries entries of
// 256 records (about 16 KiB) each, fsync on: the wal write and its one
// fsync, and with hardstate=changed the HardState file too (its commit
// index moves every Ready, as on a busy leader); with hardstate=lag=64 the
// commit index moves as much but Options.CommitLag lets it lag 64 entries.
func BenchmarkSave(b *testing.B) {
	for _, entries := range []int{1, 8} {
		for _, hs := range []string{"same", "changed", "lag=64"} {
			b.Run(fmt.Sprintf("entries=%d/hardstate=%s", entries, hs), func(b *testing.B) {
				opts := Options{Logger: quiet()}
				if hs == "lag=64" {
					opts.CommitLag = 64
				}
				s, err := Open(b.TempDir(), opts)
				if err != nil {
					b.Fatal(err)
				}
				defer s.Close()
				recs := make([]string, 256)
				for i := range recs {
					recs[i] = fmt.Sprintf("%060d", i)
				}
				data := batch(recs...)
				var idx uint64
				b.SetBytes(int64(entries * len(data)))
				b.ResetTimer()
				for range b.N {
					ents := make([]*raftpb.Entry, entries)
					for k := range ents {
						idx++
						ents[k] = entry(idx, 1, raftpb.EntryNormal, data)
					}
					commit := uint64(0)
					if hs != "same" {
						commit = idx - uint64(entries) + 1
					}
					if err := s.Save(raft.Ready{HardState: hardState(1, 1, commit), Entries: ents, MustSync: true}); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "readies/s")
			})
		}
	}
}
