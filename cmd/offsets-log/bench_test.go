package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/maelstrom-offsets/offsets/consumeroffsets"
	"github.com/maelstrom-offsets/offsets/log"
)

const (
	benchRecords = 1_000_000
	benchBatch   = 1000 // records per entry, as the node's group commit writes them
)

var benchLogs = map[int]string{} // keys -> log directory, built once per run

// benchKey is the key of the i-th commit of a history over keys keys:
// groups of 100 keys, 10 topics of 10 partitions each.
func benchKey(i, keys int) nodeKey {
	k := i % keys
	return nodeKey{fmt.Sprintf("group-%d", k/100), fmt.Sprintf("topic-%d", k/10%10), int32(k % 10)}
}

// benchLog returns a log of benchRecords commit records over keys keys,
// written as the node writes it, building it on first use.
func benchLog(b *testing.B, keys int) string {
	b.Helper()
	if dir, ok := benchLogs[keys]; ok {
		return dir
	}
	root, err := os.MkdirTemp("", "offsets-log-bench-")
	if err != nil {
		b.Fatal(err)
	}
	cleanups = append(cleanups, func() { os.RemoveAll(root) })
	dir := filepath.Join(root, "n1")
	l, err := log.Open(dir, log.Options{NoSync: true, Logger: discardLogger()})
	if err != nil {
		b.Fatal(err)
	}
	var batch log.Batch
	var data []byte
	at := base.UnixMilli()
	for i := range benchRecords {
		k := benchKey(i, keys)
		data = consumeroffsets.AppendOffsetCommit(data[:0], []byte(k.group), []byte(k.topic), k.partition,
			consumeroffsets.OffsetValue{Offset: int64(i), CommitTime: at + int64(i/benchBatch)})
		batch.Add(consumeroffsets.TypeOffsetCommit, data)
		if batch.Len() == benchBatch {
			if _, err := l.Append(&batch); err != nil {
				b.Fatal(err)
			}
			batch.Reset()
		}
	}
	if err := l.Close(); err != nil {
		b.Fatal(err)
	}
	// Write the pages back now, so that writeback does not run during the
	// measurement, and read them once: the benchmarks read a warm cache.
	segs, _ := segmentsOf(dir)
	for _, seg := range segs {
		if f, err := os.OpenFile(seg, os.O_RDWR, 0); err == nil {
			f.Sync()
			f.Close()
		}
		os.ReadFile(seg)
	}
	benchLogs[keys] = dir
	return dir
}

// BenchmarkReplay replays a log of 10^6 commit records into the offsets it
// rebuilds and visits them in order, as the replay command does: log.Scan
// into consumeroffsets.State's Replayer, from a warm page cache.
func BenchmarkReplay(b *testing.B) {
	for _, keys := range []int{10_000, 1_000_000} {
		b.Run(fmt.Sprintf("records=%d/keys=%d", benchRecords, keys), func(b *testing.B) {
			dir := benchLog(b, keys)
			size, _ := log.Size(dir)
			b.SetBytes(size)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				s := consumeroffsets.NewState()
				rp := s.Replayer()
				st, err := log.Scan(dir, log.ScanOptions{Record: rp.Apply})
				if err != nil {
					b.Fatal(err)
				}
				rp.Done()
				n := 0
				s.Offsets(func(consumeroffsets.OffsetKey, consumeroffsets.OffsetValue) bool { n++; return true })
				if st.Records != benchRecords || n != keys {
					b.Fatalf("replayed %d records into %d keys", st.Records, n)
				}
			}
			b.ReportMetric(float64(benchRecords)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// BenchmarkReplayCommand runs the whole replay command, JSON output
// included, on the 10^4-key log.
func BenchmarkReplayCommand(b *testing.B) {
	dir := benchLog(b, 10_000)
	b.ResetTimer()
	for range b.N {
		if code := run([]string{"replay", "--json", dir}, &env{stdout: io.Discard, stderr: io.Discard}); code != 0 {
			b.Fatalf("exit %d", code)
		}
	}
	b.ReportMetric(float64(benchRecords)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkNodeResend sends the same history of 10^6 commits through the
// node (fsync on, pipelined from a file), the alternative to replaying the
// log: the replay should be at least 20 times faster.
func BenchmarkNodeResend(b *testing.B) {
	bin := nodeBinary(b)
	var in strings.Builder
	in.WriteString(`{"src":"c0","dest":"n1","body":{"type":"init","msg_id":1,"node_id":"n1","node_ids":["n1"]}}` + "\n")
	for i := range benchRecords {
		in.WriteString(requestLine(i+2, "commit_offset", benchKey(i, 10_000), int64(i)))
		in.WriteByte('\n')
	}
	input := filepath.Join(b.TempDir(), "requests.jsonl")
	if err := os.WriteFile(input, []byte(in.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		dataDir := b.TempDir()
		f, _ := os.Open(input)
		cmd := exec.Command(bin, "--data-dir", dataDir)
		cmd.Stdin, cmd.Stdout = f, io.Discard
		b.StartTimer()
		if err := cmd.Run(); err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
	b.ReportMetric(float64(benchRecords)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkNodeRecovery opens the node's store on the same logs: the
// node's own replay at start, for comparison with BenchmarkReplay.
func BenchmarkNodeRecovery(b *testing.B) {
	for _, keys := range []int{10_000, 1_000_000} {
		b.Run(fmt.Sprintf("records=%d/keys=%d", benchRecords, keys), func(b *testing.B) {
			dir := benchLog(b, keys)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				s, rs, err := consumeroffsets.Open(dir, consumeroffsets.Options{Logger: discardLogger()})
				if err != nil || rs.Records != benchRecords {
					b.Fatalf("recovered %d records: %v", rs.Records, err)
				}
				s.Close()
			}
			b.ReportMetric(float64(benchRecords)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}
