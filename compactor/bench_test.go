package compactor_test

// Benchmarks for issue 3's performance goals:
//
//   - compaction writes at no less than half the disk's sequential write
//     speed measured in the same run: compare BenchmarkCompact's MB/s (of
//     input: bytes of log retired per second) with
//     BenchmarkDiskSequentialWrite's MB/s;
//   - commit p99 during a compaction at most twice the p99 without:
//     compare BenchmarkCommitLatency/compaction=on's p99-during-us with
//     compaction=off's p99-us.
//
// Run them side by side:
//
//	go test ./compactor -run '^$' -bench . -benchtime 3x            # up to 10^6 records
//	go test ./compactor -run '^$' -bench . -benchtime 3x -big       # also 10^7 records
//	go test ./compactor -run '^$' -bench . -short                   # 10^5 records only, quick
//
// Every fixture log is built once per process (through consumeroffsets,
// without fsync) and copied and replayed outside the timer for each
// iteration, so each iteration compacts the same state.

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/maelstrom-offsets/offsets/compactor"
	"github.com/maelstrom-offsets/offsets/consumeroffsets"
	"github.com/maelstrom-offsets/offsets/consumeroffsets/offsetstest"
	"github.com/maelstrom-offsets/offsets/log"
)

var big = flag.Bool("big", false, "also benchmark logs of 10^7 records (several GiB of temporary files, minutes)")

// fixtureRoot holds the fixture logs of this process; TestMain removes it.
var (
	fixtureRoot string
	fixtureMu   sync.Mutex
	fixtures    = map[string]string{}
)

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if fixtureRoot != "" {
		os.RemoveAll(fixtureRoot)
	}
	os.Exit(code)
}

// exp10 names n for benchstat: 100000 is "1e5".
func exp10(n int) string {
	e := int(math.Round(math.Log10(float64(n))))
	if int(math.Pow10(e)) == n {
		return "1e" + strconv.Itoa(e)
	}
	return strconv.Itoa(n)
}

// benchKey returns the group, topic and partition of key i: 100 groups, 10
// topics, then as many partitions as needed, so every i is distinct.
func benchKey(i int) (group, topic []byte, partition int32) {
	return []byte("group-" + strconv.Itoa(i%100)), []byte("topic-" + strconv.Itoa(i/100%10)), int32(i / 1000)
}

// fixture returns the directory of a store log holding records commits over
// keys keys, each commit to a key drawn uniformly at random, building it the
// first time. Callers copy it before changing it.
func fixture(tb testing.TB, records, keys int) string {
	tb.Helper()
	fixtureMu.Lock()
	defer fixtureMu.Unlock()
	name := fmt.Sprintf("records=%d-keys=%d", records, keys)
	if dir, ok := fixtures[name]; ok {
		return dir
	}
	if fixtureRoot == "" {
		root, err := os.MkdirTemp("", "compactor-bench-")
		if err != nil {
			tb.Fatal(err)
		}
		fixtureRoot = root
	}
	dir := filepath.Join(fixtureRoot, name)
	start := time.Now()
	if err := buildFixture(dir, records, keys); err != nil {
		tb.Fatalf("build fixture %s: %v", name, err)
	}
	size, _ := log.Size(dir)
	tb.Logf("built fixture %s: %.1f MiB in %v", name, float64(size)/(1<<20), time.Since(start).Round(time.Millisecond))
	fixtures[name] = dir
	return dir
}

func buildFixture(dir string, records, keys int) error {
	return offsetstest.WriteLog(dir, records, keys, benchKey)
}

// freshCopy copies fixture dir into a new directory under b's temp dir.
func freshCopy(b *testing.B, dir string) string {
	b.Helper()
	dst := filepath.Join(b.TempDir(), "log")
	if err := offsetstest.CopyDir(dst, dir); err != nil {
		b.Fatal(err)
	}
	return dst
}

// compactSizes lists the (records, keys) logs BenchmarkCompact runs on.
func compactSizes() [][2]int {
	var out [][2]int
	for _, records := range []int{1e5, 1e6, 1e7} {
		if records > 1e5 && testing.Short() || records > 1e6 && !*big {
			continue
		}
		for _, keys := range []int{1e3, 1e5, 1e6} {
			if keys <= records {
				out = append(out, [2]int{records, keys})
			}
		}
	}
	return out
}

// BenchmarkCompact times a compaction as the node runs it, from the live
// state: consumeroffsets.Store.Compact on a store opened on the log (the
// replay is outside the timer), which snapshots the state, writes the
// checkpoint and releases the wal. MB/s is of input: bytes of log retired
// per second; Mrec/s the records of history retired per second; MB/s-out
// is of the checkpoint written; snapshot-us the pause to take the
// snapshot, pause-ms the release's hold of the log.
func BenchmarkCompact(b *testing.B) {
	for _, sz := range compactSizes() {
		records, keys := sz[0], sz[1]
		b.Run(fmt.Sprintf("records=%s/keys=%s", exp10(records), exp10(keys)), func(b *testing.B) {
			src := fixture(b, records, keys)
			size, err := log.Size(src)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(size)
			var pause, snap, total time.Duration
			var last compactor.Stats
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				dir := freshCopy(b, src)
				s, _, err := consumeroffsets.Open(dir, consumeroffsets.Options{CompactMinBytes: -1, Logger: quiet})
				if err != nil {
					b.Fatal(err)
				}
				runtime.GC()
				b.StartTimer()
				st, err := s.Compact()
				b.StopTimer()
				if err != nil {
					b.Fatal(err)
				}
				s.Close()
				os.RemoveAll(dir)
				pause += st.Pause
				snap += st.Snapshot
				total += st.Duration
				last = st
				b.StartTimer()
			}
			n := float64(b.N)
			b.ReportMetric(float64(last.BytesAfter)/1e6/(total.Seconds()/n), "MB/s-out")
			b.ReportMetric(float64(last.RecordsBefore)/1e6/(total.Seconds()/n), "Mrec/s")
			b.ReportMetric(float64(pause.Microseconds())/1e3/n, "pause-ms")
			b.ReportMetric(float64(snap.Nanoseconds())/1e3/n, "snapshot-us")
			b.ReportMetric(float64(last.BytesAfter)/float64(last.BytesBefore), "after/before")
		})
	}
}

// BenchmarkDiskSequentialWrite writes 256 MiB in 1 MiB writes and fsyncs
// it, in the same temporary directory as the compaction benchmarks: the
// disk speed compaction is measured against.
func BenchmarkDiskSequentialWrite(b *testing.B) {
	const total, chunk = 256 << 20, 1 << 20
	buf := make([]byte, chunk)
	for i := range buf {
		buf[i] = byte(i*7 + i>>8) // not zeros, in case the device compresses
	}
	dir := b.TempDir()
	b.SetBytes(total)
	for i := 0; i < b.N; i++ {
		path := filepath.Join(dir, "seq")
		f, err := os.Create(path)
		if err != nil {
			b.Fatal(err)
		}
		for w := 0; w < total; w += chunk {
			if _, err := f.Write(buf); err != nil {
				b.Fatal(err)
			}
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
		f.Close()
		b.StopTimer()
		os.Remove(path)
		b.StartTimer()
	}
}

// compactionSpans records when the store's background compactions ran,
// from its "compacted" log lines: a line is logged when the store notices
// the compaction finished (at the next Flush), and carries its duration.
type compactionSpans struct {
	mu    sync.Mutex
	spans [][2]time.Time
}

func (c *compactionSpans) Enabled(context.Context, slog.Level) bool { return true }
func (c *compactionSpans) WithAttrs([]slog.Attr) slog.Handler       { return c }
func (c *compactionSpans) WithGroup(string) slog.Handler            { return c }
func (c *compactionSpans) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "compacted" {
		return nil
	}
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "duration" {
			d := a.Value.Duration()
			c.mu.Lock()
			c.spans = append(c.spans, [2]time.Time{r.Time.Add(-d), r.Time})
			c.mu.Unlock()
			return false
		}
		return true
	})
	return nil
}

// overlaps reports whether [from, to] overlaps a recorded compaction.
func (c *compactionSpans) overlaps(from, to time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.spans {
		if !to.Before(s[0]) && !from.After(s[1]) {
			return true
		}
	}
	return false
}

// pct returns the p-th percentile (nearest rank) of sorted xs.
func pct(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// BenchmarkCommitLatency measures one Commit + Flush (fsync on) at a time on
// a store that starts from a log of 10^6 records over 10^4 keys (10^5 in
// -short), 99% superseded. With compaction=on the store compacts in the
// background (CompactMinBytes 256 KiB, CompactDirtyRatio 0.3): the first
// Flush starts a compaction of the whole log, and smaller ones follow.
// Samples are classified by whether their Flush overlapped a compaction;
// p99-during-us is the p99 of those, to hold against compaction=off's p99-us.
func BenchmarkCommitLatency(b *testing.B) {
	records := 1_000_000
	if testing.Short() {
		records = 100_000
	}
	const keys = 10_000
	for _, on := range []bool{false, true} {
		name := "compaction=off"
		if on {
			name = "compaction=on"
		}
		b.Run(fmt.Sprintf("records=%s/keys=%s/%s", exp10(records), exp10(keys), name), func(b *testing.B) {
			src := fixture(b, records, keys)
			dir := freshCopy(b, src)
			spans := &compactionSpans{}
			opts := consumeroffsets.Options{CompactMinBytes: -1, Logger: slog.New(spans)}
			if on {
				opts.CompactMinBytes = 256 << 10
				opts.CompactDirtyRatio = 0.3
			}
			s, _, err := consumeroffsets.Open(dir, opts)
			if err != nil {
				b.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(1, 2))
			starts := make([]time.Time, 0, b.N)
			lats := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				g, t, p := benchKey(rng.IntN(keys))
				start := time.Now()
				if err := s.Commit(g, t, p, int64(i+1)<<20, nil); err != nil {
					b.Fatal(err)
				}
				if err := s.Flush(); err != nil {
					b.Fatal(err)
				}
				lats = append(lats, time.Since(start))
				starts = append(starts, start)
			}
			b.StopTimer()
			if err := s.Close(); err != nil { // waits for a running compaction, which logs its span
				b.Fatal(err)
			}
			var during []time.Duration
			for i, st := range starts {
				if spans.overlaps(st, st.Add(lats[i])) {
					during = append(during, lats[i])
				}
			}
			slices.Sort(lats)
			slices.Sort(during)
			us := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }
			b.ReportMetric(us(pct(lats, 50)), "p50-us")
			b.ReportMetric(us(pct(lats, 99)), "p99-us")
			if on {
				b.ReportMetric(float64(len(spans.spans)), "compactions")
				b.ReportMetric(float64(len(during)), "samples-during")
				if len(during) > 0 {
					b.ReportMetric(us(pct(during, 50)), "p50-during-us")
					b.ReportMetric(us(pct(during, 99)), "p99-during-us")
				}
			}
		})
	}
}

// BenchmarkRestart times consumeroffsets.Open, which replays the log, on
// logs of 10^6 records over 10^3 and 10^6 keys (10^5 records in -short)
// before and after compacting them, and with -big 10^7 records over 10^6
// keys; records/s is the replay's rate.
func BenchmarkRestart(b *testing.B) {
	records := 1_000_000
	if testing.Short() {
		records = 100_000
	}
	for _, keys := range []int{1000, records} {
		for _, compacted := range []bool{false, true} {
			benchRestart(b, records, keys, compacted)
		}
	}
	if *big {
		benchRestart(b, 10_000_000, 1_000_000, false)
	}
}

func benchRestart(b *testing.B, records, keys int, compacted bool) {
	b.Run(fmt.Sprintf("records=%s/keys=%s/compacted=%v", exp10(records), exp10(keys), compacted), func(b *testing.B) {
		src := fixture(b, records, keys)
		dir := freshCopy(b, src)
		if compacted {
			if _, err := consumeroffsets.CompactDir(dir, consumeroffsets.DefaultTombstoneRetention, consumeroffsets.Options{Logger: quiet}); err != nil {
				b.Fatal(err)
			}
		}
		size, err := log.Size(dir)
		if err != nil {
			b.Fatal(err)
		}
		var rs consumeroffsets.RecoveryStats
		var replay time.Duration
		b.SetBytes(size)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			s, st, err := consumeroffsets.Open(dir, consumeroffsets.Options{CompactMinBytes: -1, Logger: quiet})
			if err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			rs = st
			replay += st.Duration
			if err := s.Close(); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
		b.ReportMetric(float64(rs.Records), "records")
		b.ReportMetric(float64(rs.Records)*float64(b.N)/replay.Seconds(), "records/s")
		b.ReportMetric(float64(size)/(1<<20), "MiB")
	})
}

// goMemory returns the memory the Go runtime holds from the OS (heap,
// stacks, runtime structures; pages released to the OS excluded), and the
// heap's object bytes.
func goMemory(samples []metrics.Sample) (total, heap uint64) {
	metrics.Read(samples)
	return samples[0].Value.Uint64() - samples[1].Value.Uint64(), samples[2].Value.Uint64()
}

// BenchmarkCompactionMemory measures the memory and the commit latency of
// a store of 10^6 live keys (the records=1e6/keys=1e6 fixture) while it
// commits batches of 100 random keys as fast as it can (fsync off: the
// most copy-on-write a compaction can meet), with a background compaction
// running (compaction=on: from the first batch until it is taken in) and
// then, in the same process, for as many batches without one
// (compaction=off). peak-MB is the largest sample of goMemory after a
// batch; ratio is on's peak over off's.
func BenchmarkCompactionMemory(b *testing.B) {
	records, keys := 1_000_000, 1_000_000
	if testing.Short() {
		records, keys = 100_000, 100_000
	}
	b.Run(fmt.Sprintf("records=%s/keys=%s", exp10(records), exp10(keys)), func(b *testing.B) {
		src := fixture(b, records, keys)
		samples := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}, {Name: "/memory/classes/heap/objects:bytes"}}
		var onPeak, offPeak, onHeap, offHeap, base float64
		var onP99, offP99, onMax, offMax time.Duration
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			dir := freshCopy(b, src)
			spans := &compactionSpans{}
			s, _, err := consumeroffsets.Open(dir, consumeroffsets.Options{NoSync: true, CompactMinBytes: 1, CompactDirtyRatio: 0.3, Logger: slog.New(spans)})
			if err != nil {
				b.Fatal(err)
			}
			runtime.GC()
			t0, _ := goMemory(samples)
			base += float64(t0) / 1e6
			rng := rand.New(rand.NewPCG(uint64(i), 9))
			run := func(batches int, on bool) (peak, heap uint64, lats []time.Duration, n int) {
				for n = 0; (on && len(spans.spans) == 0) || (!on && n < batches); n++ {
					start := time.Now()
					for j := 0; j < 100; j++ {
						g, t, p := benchKey(rng.IntN(keys))
						if err := s.Commit(g, t, p, int64(n), nil); err != nil {
							b.Fatal(err)
						}
					}
					if err := s.Flush(); err != nil {
						b.Fatal(err)
					}
					lats = append(lats, time.Since(start))
					tot, h := goMemory(samples)
					peak, heap = max(peak, tot), max(heap, h)
				}
				return peak, heap, lats, n
			}
			b.StartTimer()
			p, h, lats, n := run(0, true)
			b.StopTimer()
			// Take the compaction in, then as many batches without one.
			s.Commit([]byte("g"), []byte("t"), 0, 1, nil)
			s.Flush()
			runtime.GC()
			p2, h2, lats2, _ := run(n, false)
			if err := s.Close(); err != nil {
				b.Fatal(err)
			}
			os.RemoveAll(dir)
			onPeak += float64(p) / 1e6
			offPeak += float64(p2) / 1e6
			onHeap += float64(h) / 1e6
			offHeap += float64(h2) / 1e6
			slices.Sort(lats)
			slices.Sort(lats2)
			onP99 += pct(lats, 99)
			offP99 += pct(lats2, 99)
			onMax += lats[len(lats)-1]
			offMax += lats2[len(lats2)-1]
			b.ReportMetric(float64(n), "batches")
			b.StartTimer()
		}
		nf := float64(b.N)
		b.ReportMetric(base/nf, "base-MB")
		b.ReportMetric(onPeak/nf, "on-peak-MB")
		b.ReportMetric(offPeak/nf, "off-peak-MB")
		b.ReportMetric(onPeak/offPeak, "peak-ratio")
		b.ReportMetric(onHeap/offHeap, "heap-ratio")
		b.ReportMetric(float64(onP99.Microseconds())/nf, "on-p99-us")
		b.ReportMetric(float64(offP99.Microseconds())/nf, "off-p99-us")
		b.ReportMetric(float64(onMax.Microseconds())/nf, "on-max-us")
		b.ReportMetric(float64(offMax.Microseconds())/nf, "off-max-us")
	})
}
