package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// The disk's own figures, measured in the data directory's filesystem in
// the same run as the node, so that the node's numbers can be read against
// what the hardware does without any software of ours in the way.

// fsyncLatencies writes 4 KiB and fsyncs, n times, appending to one file in
// dir, and returns each write+fsync's duration in microseconds: the floor
// under any durable commit.
func fsyncLatencies(dir string, n int) ([]float64, error) {
	f, err := os.CreateTemp(dir, "fsync-probe-")
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	buf := patterned(4 << 10)
	out := make([]float64, 0, n)
	for range n {
		start := time.Now()
		if _, err := f.Write(buf); err != nil {
			return nil, err
		}
		if err := f.Sync(); err != nil {
			return nil, fmt.Errorf("fsync %s: %w", f.Name(), err)
		}
		out = append(out, micros(time.Since(start)))
	}
	return out, nil
}

// seqWriteSpeed writes total bytes in chunk-sized writes to a new file in
// dir, fsyncs it, and returns the rate in MB/s (10^6 bytes), fsync included.
func seqWriteSpeed(dir string, total, chunk int) (float64, error) {
	path := filepath.Join(dir, "seqwrite-probe")
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	defer os.Remove(path)
	defer f.Close()
	buf := patterned(chunk)
	start := time.Now()
	for w := 0; w < total; w += chunk {
		if _, err := f.Write(buf); err != nil {
			return 0, err
		}
	}
	if err := f.Sync(); err != nil {
		return 0, err
	}
	return float64(total) / 1e6 / time.Since(start).Seconds(), nil
}

// patterned returns n bytes that are not all zeros, in case the device or
// filesystem treats zeros specially.
func patterned(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i>>8)
	}
	return b
}

func micros(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }
