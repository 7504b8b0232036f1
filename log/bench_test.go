package log

import (
	"fmt"
	"os"
	"testing"
)

// BenchmarkScan reads a log of 10^6 records of 48 bytes, 1000 to an entry
// as the node's group commit writes them, from a warm page cache: the cost
// of the checks and the record walk that replay pays per record.
func BenchmarkScan(b *testing.B) {
	dir, err := os.MkdirTemp("", "log-bench-")
	if err != nil {
		b.Fatal(err)
	}
	defer os.RemoveAll(dir)
	l, err := Open(dir, Options{NoSync: true, Logger: quiet()})
	if err != nil {
		b.Fatal(err)
	}
	var batch Batch
	data := make([]byte, 48)
	const records = 1_000_000
	for i := range records {
		copy(data, fmt.Sprintf("%016d", i))
		batch.Add(1, data)
		if batch.Len() == 1000 {
			if _, err := l.Append(&batch); err != nil {
				b.Fatal(err)
			}
			batch.Reset()
		}
	}
	l.Close()
	size, _ := Size(dir)
	b.SetBytes(size)
	b.ResetTimer()
	for range b.N {
		n := 0
		st, err := Scan(dir, ScanOptions{Record: func(_ uint64, r Record) error { n += len(r.Data); return nil }})
		if err != nil || st.Records != records {
			b.Fatal(st.Records, err)
		}
	}
	b.ReportMetric(float64(records)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}
