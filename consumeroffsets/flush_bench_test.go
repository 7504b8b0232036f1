package consumeroffsets

import (
	"fmt"
	"io"
	"log/slog"
	"testing"
)

// BenchmarkFlush measures the group-commit path: a batch of commits staged
// and flushed as one entry, with and without fsync (sync=none is the CPU
// cost of the path itself: staging, the entry's seal, the write(2)).
func BenchmarkFlush(b *testing.B) {
	for _, noSync := range []bool{true, false} {
		name := "sync=fsync"
		if noSync {
			name = "sync=none"
		}
		b.Run(name+"/batch=256", func(b *testing.B) {
			s, _, err := Open(b.TempDir(), Options{NoSync: noSync, CompactMinBytes: -1,
				Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			topic := []byte("topic")
			groups := make([][]byte, 100)
			for i := range groups {
				groups[i] = []byte(fmt.Sprintf("group-%03d", i))
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for j := 0; j < 256; j++ {
					if err := s.Commit(groups[j%100], topic, int32(j%10), int64(i), nil); err != nil {
						b.Fatal(err)
					}
				}
				if err := s.Flush(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*256)/b.Elapsed().Seconds(), "commits/s")
		})
	}
}
