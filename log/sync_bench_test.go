package log

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// BenchmarkAppendSync times one durable commit at a time, Append of one
// 100-byte record then Sync, with the tail segment preallocated (the
// node's setting) and without, and reports the tail of the distribution:
// a commit waits for the disk, so its p99.9 is as much the result as its
// mean. Compare the two in one run (-count 5 | benchstat), since the disk
// is shared.
func BenchmarkAppendSync(b *testing.B) {
	for _, pre := range []bool{false, true} {
		b.Run(fmt.Sprintf("preallocate=%v", pre), func(b *testing.B) {
			l, err := Open(b.TempDir(), Options{Preallocate: pre, Logger: quiet()})
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			var batch Batch
			data := make([]byte, 100)
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				start := time.Now()
				batch.Reset()
				batch.Add(1, data)
				if _, err := l.Append(&batch); err != nil {
					b.Fatal(err)
				}
				if err := l.Sync(); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(start))
			}
			b.StopTimer()
			slices.Sort(lat)
			at := func(p float64) float64 { return float64(lat[int(p/100*float64(len(lat)-1))].Microseconds()) }
			b.ReportMetric(at(50), "p50-µs")
			b.ReportMetric(at(99), "p99-µs")
			b.ReportMetric(at(99.9), "p99.9-µs")
		})
	}
}
