package main

import (
	"bytes"
	"encoding/csv"
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"gonum.org/v1/plot"
)

func TestFitLine(t *testing.T) {
	// Exactly on a line.
	f, ok := fitLine([]float64{0, 1, 2, 3}, []float64{1, 3, 5, 7})
	if !ok || math.Abs(f.Slope-2) > 1e-12 || math.Abs(f.Intercept-1) > 1e-12 || math.Abs(f.R2-1) > 1e-12 || f.N != 4 {
		t.Errorf("fit of y = 1 + 2x: %+v, %v", f, ok)
	}
	// Known least-squares answer: x = 1..5, y = 2, 4, 5, 4, 5 gives
	// slope 0.6, intercept 2.2, R² 0.6.
	f, ok = fitLine([]float64{1, 2, 3, 4, 5}, []float64{2, 4, 5, 4, 5})
	if !ok || math.Abs(f.Slope-0.6) > 1e-12 || math.Abs(f.Intercept-2.2) > 1e-12 || math.Abs(f.R2-0.6) > 1e-12 {
		t.Errorf("fit: %+v", f)
	}
	// Constant y: slope 0, R² undefined.
	if f, ok := fitLine([]float64{1, 2, 3}, []float64{4, 4, 4}); !ok || f.Slope != 0 || f.Intercept != 4 || !math.IsNaN(f.R2) {
		t.Errorf("constant y: %+v, %v", f, ok)
	}
	for _, bad := range [][2][]float64{{nil, nil}, {{1}, {2}}, {{2, 2, 2}, {1, 2, 3}}} {
		if _, ok := fitLine(bad[0], bad[1]); ok {
			t.Errorf("fitLine(%v, %v) claims a slope", bad[0], bad[1])
		}
	}
}

func TestParseLogLine(t *testing.T) {
	line := `time=2026-11-25T12:00:00.123Z level=INFO msg=compacted through=42 records_before=1000000 records_after=1000 ` +
		`bytes_before=40894464 bytes_after=40960 tombstones_kept=0 dirty_ratio=0.999 dirty_ratio_after=0 duration=187.123ms pause=5.133ms`
	f := parseLogLine(line + "\n")
	if f["msg"] != "compacted" || f["level"] != "INFO" || f.number("records_before") != 1e6 || f.number("bytes_after") != 40960 {
		t.Errorf("fields: %v", f)
	}
	if d := f.duration("duration"); d != 187123*time.Microsecond {
		t.Errorf("duration = %v", d)
	}
	if d := f.duration("pause"); d != 5133*time.Microsecond {
		t.Errorf("pause = %v", d)
	}
	// slog writes µs with the micro sign.
	if d := parseLogLine("msg=compacted pause=20µs").duration("pause"); d != 20*time.Microsecond {
		t.Errorf("pause in µs = %v", d)
	}
	// Quoted values, with spaces and escaped quotes.
	f = parseLogLine(`time=x level=WARN msg="torn tail cut" file="/a b/c" note="say \"hi\"" n=3`)
	if f["msg"] != "torn tail cut" || f["file"] != "/a b/c" || f["note"] != `say "hi"` || f["n"] != "3" {
		t.Errorf("quoted fields: %v", f)
	}
	if f := parseLogLine("panic: something broke"); f != nil {
		t.Errorf("non-slog line parsed as %v", f)
	}
	if f := parseLogLine("msg=x duration=bogus"); f.duration("duration") != 0 || f.number("missing") != 0 {
		t.Errorf("bad values not zero: %v", f)
	}
}

func TestMarkDuring(t *testing.T) {
	samples := []latencySample{
		{At: 0.10, Micros: 500},   // ends 0.1005, before the compaction
		{At: 0.199, Micros: 2000}, // ends 0.201: overlaps its start
		{At: 0.25, Micros: 500},   // inside
		{At: 0.30, Micros: 500},   // at its end
		{At: 0.31, Micros: 500},   // after
		{At: 0.95, Micros: 100},   // inside the second
	}
	evs := []compactionEvent{{End: 0.30, Duration: 0.10}, {End: 1.0, Duration: 0.1}}
	markDuring(samples, evs)
	var got []bool
	for _, s := range samples {
		got = append(got, s.During)
	}
	if want := []bool{false, true, true, true, false, true}; !slices.Equal(got, want) {
		t.Errorf("During = %v, want %v", got, want)
	}
}

func TestFmtNum(t *testing.T) {
	tests := map[float64]string{0: "0", 0.00123456: "0.00123", 1.5: "1.50", 12.34: "12.3", 123.4: "123", 12345.6: "12,346", math.NaN(): "-"}
	for x, want := range tests {
		if got := fmtNum(x); got != want {
			t.Errorf("fmtNum(%v) = %q, want %q", x, got, want)
		}
	}
	if got := fmtSummary(summarize([]float64{3, 1, 2})); got != "2.00 (1.00-3.00)" {
		t.Errorf("fmtSummary = %q", got)
	}
	if got := fmtSummary(summary{}); got != "-" {
		t.Errorf("empty fmtSummary = %q", got)
	}
	if got := fmtSummary(summarize([]float64{7, 7})); got != "7.00" {
		t.Errorf("fmtSummary of equal runs = %q", got)
	}
}

func TestCompactionGridAndNames(t *testing.T) {
	got := compactionGrid([]int{1e5, 1e6}, []int{1e3, 1e5, 1e6})
	want := []logSpec{{1e5, 1e3}, {1e5, 1e5}, {1e6, 1e3}, {1e6, 1e5}, {1e6, 1e6}}
	if !slices.Equal(got, want) {
		t.Errorf("grid = %v, want %v", got, want)
	}
	if s := (logSpec{Records: 1e7, Keys: 1000}).String(); s != "records=1e7 keys=1e3" {
		t.Errorf("String = %q", s)
	}
	if s := exp10(500_000); s != "500000" {
		t.Errorf("exp10(500000) = %q", s)
	}
}

// fakeSuite returns a suite with made-up measurements of every section.
func fakeSuite() *suite {
	cfg, _ := parseFlags([]string{"-quick"})
	s := &suite{Cfg: cfg, Env: [][2]string{{"machine", "test"}}, Ran: map[string]bool{}}
	for _, sec := range allSections {
		s.Ran[sec] = true
	}
	s.Throughput = &report{Variants: []variant{{ID: variantNodeFsync, Label: "offsets-node fsync", Workload: &workload{Requests: 1000}}},
		Runs: []runResult{{Variant: variantNodeFsync, Run: 1, Requests: 1000, Seconds: 0.002}}}
	s.FsyncMicros = [][]float64{{300, 310, 320, 2000}, {290, 300, 330, 1500}}
	s.SeqWrite = []float64{1000, 1200}
	lat := func(variant string, run int, base float64, during ...bool) sequentialRun {
		r := sequentialRun{Variant: variant, Run: run}
		for i := range 10 {
			r.Samples = append(r.Samples, latencySample{At: float64(i) / 100, Micros: base + float64(i)*10})
		}
		for i, d := range during {
			r.Samples[i].During = d
		}
		return r
	}
	s.Latency = []sequentialRun{lat(latencyNodeFsync, 1, 500), lat(latencyNodeNone, 1, 50)}
	on := lat(clatOn, 1, 600, true, true, true)
	on.Samples[0].Micros = 5000
	on.Compactions = []compactionEvent{{Source: clatOn, Run: 1, End: 0.03, Duration: 0.03, PauseMicros: 900, BytesBefore: 3 << 20, BytesAfter: 1 << 10}}
	on.PeakRSS = 150 << 20
	off := lat(clatOff, 1, 600)
	off.PeakRSS = 100 << 20
	s.Clat = []sequentialRun{off, on}
	s.ClatLog = fixture{Spec: logSpec{Records: 1e5, Keys: 1e3}, Bytes: 3 << 20}
	for run := 1; run <= 2; run++ {
		for i, spec := range []logSpec{{1e4, 1e3}, {1e5, 1e3}} {
			size := int64(300_000 * (1 + 9*i))
			s.Compaction = append(s.Compaction, compactionRun{Spec: spec, Run: run,
				BytesBefore: size, BytesAfter: 30_000, RecordsBefore: uint64(spec.Records), RecordsAfter: 1000,
				Seconds: float64(size) / 100e6, PauseMicros: 2000,
				Before: restart{Seconds: 0.01 + float64(size)/1e8, ReplaySeconds: float64(size) / 1e8, Records: float64(spec.Records), Bytes: size},
				After:  restart{Seconds: 0.0103, ReplaySeconds: 0.0003, Records: 1000, Bytes: 30_000}})
		}
	}
	s.Sawtooth = &sawtoothResult{Spec: sawtoothSpec{Duration: time.Second, Rate: 1000, Keys: 10, Every: 50 * time.Millisecond, Args: []string{"--x"}},
		Commits: 1000, Compactions: []compactionEvent{{Source: "sawtooth", Run: 1, End: 0.5, Duration: 0.01, PauseMicros: 100, BytesBefore: 2 << 20, BytesAfter: 1 << 10}}}
	for i := range 20 {
		s.Sawtooth.Samples = append(s.Sawtooth.Samples, sizeSample{At: float64(i) * 0.05, Bytes: int64(i%10) << 18})
	}
	s.Redis = redisResult{Note: "redis-server not found on PATH: skipped"}
	return s
}

func TestSuiteReport(t *testing.T) {
	s := fakeSuite()
	var b bytes.Buffer
	if err := s.writeMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	for _, want := range []string{
		"## Goals", "## Throughput", "## Latency", "## Compaction", "## Recovery", "## Commit latency while a compaction runs",
		"## Log size over time", "## Redis", "redis-server not found",
		// The fake logs have 10^3 keys: the goals about 10^6 keys are not run.
		"| NOT RUN    | checkpoint of 1,000,000 live keys <= 0.3 s, whatever the history (every log with keys=1e6)",
		"| NOT RUN    | >= 30.0 M records of history retired per second (records before / time) on records=1e7 keys=1e6",
		"| records=1e7 keys=1e6 not compacted",
		"| NOT RUN    | pause a commit sees at 1,000,000 live keys <= 2.00 ms (the longer of the snapshot and the switch's log hold, worst run)",
		"| NOT RUN    | restart replays >= 5.00 M records/s at 1,000,000 keys",
		// p99 during (4,912, interpolated between 620 and 5,000) against p99 without (689): 7.1x.
		"| FALL SHORT | commit p99 during a compaction <= 1.50x p99 without",
		"7.1x (4,912 µs during vs 689 µs without",
		// 150 MiB with compactions against 100 MiB without: exactly 1.5x passes.
		"| PASS       | memory during a compaction <= 1.50x memory without (node's peak RSS after init)",
		"| 1.50x (150 MiB with compactions vs 100 MiB without; medians of 1 runs, 1,000 keys)",
		"VmHWM of /proc/PID/status",
		"in / disk compares MB/s in with it, for information: issue 3's goal of 0.5x the disk (550 MB/s) is no longer judged",
		"µs per MiB",
		"![restart time against log size](restart_time_vs_log_size.png)",
		"Raw numbers: compaction.csv, compactions.csv, disk.csv, latency.csv, log_size.csv, memory.csv, throughput.csv.",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if t.Failed() {
		t.Log(md)
	}
	// fakeSuite has -quick's settings: its report says so at the top,
	// before its verdicts, and a full run's does not.
	full := fakeSuite()
	full.Cfg.Quick = false
	b.Reset()
	if err := full.writeMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "-quick run") {
		t.Error("a full run's report calls itself a -quick run")
	}
	quick := fakeSuite()
	b.Reset()
	if err := quick.writeMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	if i, j := strings.Index(b.String(), "**A -quick run.** Its verdicts come from small runs"), strings.Index(b.String(), "## Goals"); i < 0 || i > j {
		t.Errorf("a -quick report does not say so before its goals:\n%s", b.String())
	}
	if strings.Contains(md, "| PASS       | compaction (MB/s") || strings.Contains(md, "0.5 x the disk's sequential write speed, on every log") {
		t.Error("the report still judges issue 3's disk-speed goal")
	}
}

// liveKeysSuite returns a suite whose compaction section compacted the two
// logs of 10^6 keys, each run taking secs seconds, pausing snap and hold µs,
// and replaying at restart at replay records/s.
func liveKeysSuite(secs, snap, hold, replay float64) *suite {
	s := &suite{Ran: map[string]bool{sectionCompaction: true}}
	for run := 1; run <= 3; run++ {
		for _, spec := range []logSpec{{1e5, 1e3}, {1e6, 1e6}, {1e7, 1e6}} {
			r := compactionRun{Spec: spec, Run: run, RecordsBefore: uint64(spec.Records), Seconds: secs, SnapMicros: snap, PauseMicros: hold,
				Before: restart{Records: float64(spec.Records), ReplaySeconds: float64(spec.Records) / replay}}
			if spec.Keys != 1e6 {
				// A slow small log must not move goals about 10^6 keys.
				r.Seconds, r.PauseMicros, r.Before.ReplaySeconds = 10, 1e6, 100
			}
			s.Compaction = append(s.Compaction, r)
		}
	}
	return s
}

func TestCompactionGoals(t *testing.T) {
	s := liveKeysSuite(0.2, 10, 1500, 6e6)
	for _, g := range []goal{s.checkpointGoal(), s.retireGoal(), s.pauseGoal(), s.replayGoal()} {
		if g.Verdict != "PASS" {
			t.Errorf("%s: %s (%s), want PASS", g.Text, g.Verdict, g.Detail)
		}
	}
	if g := s.retireGoal(); !strings.Contains(g.Detail, "50.0 M/s (10,000,000 records in 0.2 s; median of 3 runs); 60x Kafka's cleaner") {
		t.Errorf("retire detail: %s", g.Detail)
	}
	if g := s.checkpointGoal(); g.Detail != "0.2 s on records=1e6 keys=1e6, 0.2 s on records=1e7 keys=1e6 (medians)" {
		t.Errorf("checkpoint detail: %s", g.Detail)
	}
	if g := s.pauseGoal(); !strings.Contains(g.Detail, "worst 1,500 µs (records=1e6 keys=1e6); log hold 1,500 µs, snapshot 10.0 µs") {
		t.Errorf("pause detail: %s", g.Detail)
	}

	// 0.4 s for the checkpoint: 25 M/s on 10^7 records, both short.
	s = liveKeysSuite(0.4, 10, 1500, 6e6)
	if g := s.checkpointGoal(); g.Verdict != "FALL SHORT" {
		t.Errorf("checkpoint in 0.4 s: %+v", g)
	}
	if g := s.retireGoal(); g.Verdict != "FALL SHORT" || !strings.Contains(g.Detail, "25.0 M/s") {
		t.Errorf("25 M records/s: %+v", g)
	}
	// The pause is the longer of the two: a 3 ms snapshot falls short with
	// a short hold, and so does a 3 ms hold with a short snapshot.
	for _, p := range [][2]float64{{3000, 100}, {100, 3000}} {
		if g := liveKeysSuite(0.2, p[0], p[1], 6e6).pauseGoal(); g.Verdict != "FALL SHORT" || !strings.Contains(g.Detail, "worst 3,000 µs") {
			t.Errorf("snapshot %v µs, hold %v µs: %+v", p[0], p[1], g)
		}
	}
	// One slow run of one log is the worst, not the median.
	s = liveKeysSuite(0.2, 10, 1500, 6e6)
	s.Compaction[len(s.Compaction)-1].PauseMicros = 2500
	if g := s.pauseGoal(); g.Verdict != "FALL SHORT" || !strings.Contains(g.Detail, "worst 2,500 µs (records=1e7 keys=1e6)") {
		t.Errorf("one slow hold: %+v", g)
	}
	if g := liveKeysSuite(0.2, 10, 1500, 4e6).replayGoal(); g.Verdict != "FALL SHORT" || !strings.Contains(g.Detail, "4.00 M/s on records=1e6 keys=1e6 (250 ms)") {
		t.Errorf("replay at 4 M/s: %+v", g)
	}
	// The goals are not run, not passed, without the logs they are about.
	s = liveKeysSuite(0.2, 10, 1500, 6e6)
	s.Compaction = s.Compaction[:1]
	for _, g := range []goal{s.checkpointGoal(), s.retireGoal(), s.pauseGoal(), s.replayGoal()} {
		if g.Verdict != "NOT RUN" {
			t.Errorf("only records=1e5 keys=1e3 compacted, %s: %+v", g.Text, g)
		}
	}
}

func TestMemGoal(t *testing.T) {
	s := &suite{Ran: map[string]bool{sectionCompactionLatency: true}, ClatLog: fixture{Spec: logSpec{Records: 1e6, Keys: 1e4}}}
	for run, rss := range [][2]int64{{100, 160}, {110, 140}, {90, 200}} {
		s.Clat = append(s.Clat, sequentialRun{Variant: clatOff, Run: run + 1, PeakRSS: rss[0] << 20}, sequentialRun{Variant: clatOn, Run: run + 1, PeakRSS: rss[1] << 20})
	}
	// Medians 160 against 100 MiB: 1.6x.
	if g := s.memGoal(); g.Verdict != "FALL SHORT" || !strings.HasPrefix(g.Detail, "1.60x (160 MiB with compactions vs 100 MiB without; medians of 3 runs, 10,000 keys)") {
		t.Errorf("%+v", g)
	}
	// A run that could not measure is left out, not counted as 0.
	s.Clat[5].PeakRSS, s.Clat[5].MemNote = 0, "peak RSS not measured: test"
	if g := s.memGoal(); g.Verdict != "PASS" || !strings.HasPrefix(g.Detail, "1.50x (150 MiB with compactions vs 100 MiB without") {
		t.Errorf("one run unmeasured: %+v", g)
	}
	for i := range s.Clat {
		s.Clat[i].PeakRSS = 0
	}
	if g := s.memGoal(); g.Verdict != "NOT RUN" {
		t.Errorf("nothing measured: %+v", g)
	}
}

func TestParseVmHWM(t *testing.T) {
	status := "Name:\toffsets-node\nVmPeak:\t 1300000 kB\nVmHWM:\t  123456 kB\nVmRSS:\t  100000 kB\n"
	if n, err := parseVmHWM([]byte(status)); err != nil || n != 123456<<10 {
		t.Errorf("parseVmHWM = %d, %v", n, err)
	}
	for _, bad := range []string{"VmRSS:\t 1 kB\n", "VmHWM:\t 12 MB\n", "VmHWM:\t x kB\n"} {
		if _, err := parseVmHWM([]byte(bad)); err == nil {
			t.Errorf("parseVmHWM(%q) succeeded", bad)
		}
	}
}

// TestOutNotWritable checks that the suite refuses an -out it cannot
// write before it measures anything.
func TestOutNotWritable(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	ro := filepath.Join(dir, "ro")
	if err := os.Mkdir(ro, 0o555); err != nil {
		t.Fatal(err)
	}
	bad := []string{filepath.Join(file, "out")}
	if os.Geteuid() != 0 { // root writes anywhere
		bad = append(bad, ro)
	}
	for _, out := range bad {
		if err := checkWritable(out); err == nil {
			t.Errorf("checkWritable(%s) succeeded", out)
		}
	}
	good := filepath.Join(dir, "new", "out")
	if err := checkWritable(good); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(good); len(ents) != 0 {
		t.Errorf("checkWritable left %d files in %s", len(ents), good)
	}
	// run refuses before it builds or measures anything.
	cfg, _ := parseFlags([]string{"-quick", "-sections", "sawtooth", "-out", bad[0]})
	if err := run(cfg); err == nil || !strings.Contains(err.Error(), "-out") {
		t.Errorf("run with -out %s: %v", bad[0], err)
	}
}

func TestSuiteWritesFiles(t *testing.T) {
	s := fakeSuite()
	dir := t.TempDir()
	if err := s.write(dir); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{pngLogSize, pngClatOverTime, pngCompactionTime, pngRestart} {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			t.Error(err)
			continue
		}
		cfg, err := png.DecodeConfig(f)
		f.Close()
		if err != nil || cfg.Width < 600 || cfg.Height < 300 {
			t.Errorf("%s: %v, %dx%d", name, err, cfg.Width, cfg.Height)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "compaction.csv"))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil || len(rows) != 5 || rows[0][0] != "records" || rows[1][0] != "10000" || rows[1][8] != "100.00" {
		t.Errorf("compaction.csv: %v %v", rows, err)
	}
	b, _ = os.ReadFile(filepath.Join(dir, "latency.csv"))
	if n := strings.Count(string(b), "\n"); n != 1+40 {
		t.Errorf("latency.csv has %d lines, want 41", n)
	}
	if !strings.Contains(string(b), "compaction-on,1,0,0.000000,5000.0,true") {
		t.Errorf("latency.csv lacks the slow sample:\n%s", b)
	}
	if _, err := os.Stat(filepath.Join(dir, "report.md")); err != nil {
		t.Error(err)
	}
}

// TestHarnessAgainstNode drives the real binary through every measurement
// of the suite, on tiny sizes: the pipes, the log-line parsing, the restart
// and the compaction.
func TestHarnessAgainstNode(t *testing.T) {
	if testing.Short() {
		t.Skip("builds offsets-node; skipped in -short")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "offsets-node")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/offsets-node").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	fx := &fixtures{root: filepath.Join(dir, "fixtures")}
	f, err := fx.get(logSpec{Records: 20_000, Keys: 100})
	if err != nil {
		t.Fatal(err)
	}

	c, err := measureCompaction(bin, f, 1, dir)
	if err != nil {
		t.Fatal(err)
	}
	if c.RecordsBefore != 20_000 || c.RecordsAfter != 100 || c.BytesAfter >= c.BytesBefore || c.Seconds <= 0 || c.SnapMicros <= 0 {
		t.Errorf("compaction: %+v", c)
	}
	if c.Before.Records != 20_000 || c.After.Records != 100 || c.Before.Seconds <= 0 || c.Before.ReplaySeconds <= 0 {
		t.Errorf("restarts: before %+v, after %+v", c.Before, c.After)
	}

	// compaction=on over a copy of the dirty log: the first commit starts a
	// compaction, and the run goes on until its line is seen.
	data := filepath.Join(dir, "clat")
	if err := copyTree(data, f.Root); err != nil {
		t.Fatal(err)
	}
	r, err := runSequential(bin, sequentialSpec{Variant: clatOn, Args: clatOnArgs, DataDir: data, N: 30, Keys: 100,
		UntilCompacted: true, MaxTime: 30 * time.Second}, 1, dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Samples) < 30 || len(r.Compactions) == 0 {
		t.Fatalf("%d samples, %d compactions", len(r.Samples), len(r.Compactions))
	}
	if ev := r.Compactions[0]; ev.RecordsBefore < 20_000 || ev.Duration <= 0 || ev.PauseMicros <= 0 {
		t.Errorf("compaction event: %+v", ev)
	}
	// On Linux the node's peak RSS after init is read from /proc; a Go
	// process holds at least a MiB.
	if runtime.GOOS == "linux" && (r.PeakRSS < 1<<20 || r.MemNote != "") {
		t.Errorf("peak RSS %d bytes (%s)", r.PeakRSS, r.MemNote)
	}

	st, err := runSawtooth(bin, sawtoothSpec{Duration: 700 * time.Millisecond, Rate: 50_000, Keys: 100, Every: 50 * time.Millisecond,
		Args: sawtoothArgs(64<<10, 128<<10, 0.5)}, dir)
	if err != nil {
		t.Fatal(err)
	}
	if st.Commits < 10_000 || len(st.Samples) < 5 || len(st.Compactions) == 0 {
		t.Errorf("sawtooth: %d commits, %d samples, %d compactions", st.Commits, len(st.Samples), len(st.Compactions))
	}
}

func TestDiskProbes(t *testing.T) {
	dir := t.TempDir()
	lat, err := fsyncLatencies(dir, 5)
	if err != nil || len(lat) != 5 || slices.Min(lat) <= 0 {
		t.Errorf("fsyncLatencies = %v, %v", lat, err)
	}
	mbps, err := seqWriteSpeed(dir, 4<<20, 1<<20)
	if err != nil || mbps <= 0 {
		t.Errorf("seqWriteSpeed = %v, %v", mbps, err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("probe files left behind: %v", left)
	}
}

func TestParseFlagsSections(t *testing.T) {
	cfg, err := parseFlags(nil)
	if err != nil || !slices.Equal(cfg.Sections, defaultSections) || slices.Contains(cfg.Sections, sectionCluster) || cfg.Quick || len(cfg.CompactionLogs) != 8 || cfg.LatencyN != 20_000 {
		t.Errorf("defaults: %+v, %v", cfg, err)
	}
	if !slices.Contains(cfg.CompactionLogs, logSpec{Records: 1e7, Keys: 1e6}) || slices.Contains(cfg.CompactionLogs, logSpec{Records: 1e5, Keys: 1e6}) {
		t.Errorf("full grid: %v", cfg.CompactionLogs)
	}
	cfg, err = parseFlags([]string{"-quick", "-sections", "latency, sawtooth", "-latency-n", "77"})
	if err != nil || !slices.Equal(cfg.Sections, []string{"latency", "sawtooth"}) || cfg.LatencyN != 77 || cfg.ClatN != 1_500 ||
		cfg.SawtoothDuration != 4*time.Second || slices.ContainsFunc(cfg.CompactionLogs, func(s logSpec) bool { return s.Records > 1e6 }) {
		t.Errorf("-quick -sections: %+v, %v", cfg, err)
	}
	for _, bad := range [][]string{{"-sections", "disk"}, {"-sections", ","}, {"-latency-n", "0"}} {
		if _, err := parseFlags(bad); err == nil {
			t.Errorf("parseFlags(%q) succeeded", bad)
		}
	}
}

func TestTickLabel(t *testing.T) {
	tests := map[float64]string{0.6000000000000001: "0.6", 0.001: "0.001", 2.5: "2.5", 250: "250", 100000: "100,000", 0: "0"}
	for v, want := range tests {
		if got := tickLabel(v); got != want {
			t.Errorf("tickLabel(%v) = %q, want %q", v, got, want)
		}
	}
}

func tickLabels(ticks []plot.Tick) string {
	var labels []string
	for _, tk := range ticks {
		if tk.Label != "" {
			labels = append(labels, tk.Label)
		}
	}
	return strings.Join(labels, " ")
}

// TestTicks checks the axes' labels: round steps of 1, 2 or 5, enough of
// them, none of gonum's 0.025/0.125/0.225 or a 0-and-250-only axis.
func TestTicks(t *testing.T) {
	for _, c := range []struct {
		lo, hi float64
		log    bool
		want   string
	}{
		{0, 250, false, "0 50 100 150 200 250"},
		{0, 262.5, false, "0 50 100 150 200 250"},
		{0.02, 0.46, false, "0.1 0.2 0.3 0.4"},
		{0, 4, false, "0 1 2 3 4"},
		{-0.01, 0.8, false, "0 0.2 0.4 0.6 0.8"},
		{0, 6000, false, "0 1,000 2,000 3,000 4,000 5,000 6,000"},
		{150, 80000, false, "20,000 40,000 60,000 80,000"},
		{150, 80000, true, "200 500 1,000 2,000 5,000 10,000 20,000 50,000"},
		{150, 800000, true, "1,000 10,000 100,000"},
		{0.0005, 10, true, "0.001 0.01 0.1 1 10"},
		{0.3, 40, true, "0.5 1 2 5 10 20"},
		{300, 700, true, "300 400 500 600 700"}, // inside one decade: linear steps
	} {
		var got string
		if c.log {
			got = tickLabels(logTicks{}.Ticks(c.lo, c.hi))
		} else {
			got = tickLabels(niceTicks{}.Ticks(c.lo, c.hi))
		}
		if got != c.want {
			t.Errorf("ticks(%v, %v, log=%v) = %q, want %q", c.lo, c.hi, c.log, got, c.want)
		}
	}
}
