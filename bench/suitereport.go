package main

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Goals from issue 11 (compaction from the live state). Checked, never
// tuned for.
const (
	goalLiveKeys          = 1_000_000  // live keys the checkpoint, pause and restart goals are about
	goalCheckpointSeconds = 0.3        // a checkpoint of goalLiveKeys keys, whatever the history behind it
	goalRetireLog         = 10_000_000 // records of the log the retire rate is judged on
	goalRetiredPerSecond  = 30e6       // records of history retired per second on it
	goalPauseMicros       = 2000       // the pause a commit sees at goalLiveKeys keys
	goalClatP99Factor     = 1.5        // commit p99 during a compaction <= this times the p99 without
	goalMemFactor         = 1.5        // peak memory with compactions <= this times the peak without
	goalReplayPerSecond   = 5e6        // records a restart replays per second at goalLiveKeys keys
)

// Anchors and information, not goals.
const (
	// kafkaCleanerPerSecond is issue 11's anchor for Kafka's log cleaner
	// on __consumer_offsets: 907,866 records in 1.1 s.
	kafkaCleanerPerSecond = 0.83e6
	// diskShareInfo is issue 3's goal (compaction input MB/s >= this share
	// of the disk's sequential write speed), shown for information since
	// the compactor stopped reading the log.
	diskShareInfo = 0.5
)

// Names of the files the suite writes besides report.md.
const (
	pngLogSize        = "log_size_over_time.png"
	pngClatOverTime   = "commit_latency_over_time.png"
	pngCompactionTime = "compaction_time_vs_log_size.png"
	pngRestart        = "restart_time_vs_log_size.png"
)

// write writes report.md, the CSV files and the plots into dir.
func (s *suite) write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var md bytes.Buffer
	if err := s.writeMarkdown(&md); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "report.md"), md.Bytes(), 0o644); err != nil {
		return err
	}
	for name, write := range s.csvFiles() {
		var b bytes.Buffer
		if err := write(&b); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b.Bytes(), 0o644); err != nil {
			return err
		}
	}
	return s.writePlots(dir)
}

// csvFiles returns a writer for each CSV file the measurements that ran
// fill.
func (s *suite) csvFiles() map[string]func(io.Writer) error {
	files := map[string]func(io.Writer) error{}
	if s.Throughput != nil {
		files["throughput.csv"] = func(w io.Writer) error { return writeCSV(w, s.Throughput.Runs) }
	}
	if len(s.FsyncMicros) > 0 {
		files["disk.csv"] = func(w io.Writer) error {
			rows := [][]string{{"probe", "run", "i", "value", "unit"}}
			for r, xs := range s.FsyncMicros {
				for i, x := range xs {
					rows = append(rows, []string{"fsync_4k", strconv.Itoa(r + 1), strconv.Itoa(i), ftoa(x, 1), "us"})
				}
			}
			for r, x := range s.SeqWrite {
				rows = append(rows, []string{"seq_write_1m", strconv.Itoa(r + 1), "0", ftoa(x, 1), "MB/s"})
			}
			return writeRows(w, rows)
		}
	}
	if len(s.Latency) > 0 || len(s.Clat) > 0 {
		files["latency.csv"] = func(w io.Writer) error {
			rows := [][]string{{"variant", "run", "i", "t_s", "latency_us", "during_compaction"}}
			for _, runs := range [][]sequentialRun{s.Latency, s.Clat} {
				for _, r := range runs {
					for i, x := range r.Samples {
						rows = append(rows, []string{r.Variant, strconv.Itoa(r.Run), strconv.Itoa(i), ftoa(x.At, 6), ftoa(x.Micros, 1), strconv.FormatBool(x.During)})
					}
				}
			}
			return writeRows(w, rows)
		}
	}
	if len(s.Compaction) > 0 {
		files["compaction.csv"] = func(w io.Writer) error {
			rows := [][]string{{"records", "keys", "run", "bytes_before", "bytes_after", "records_before", "records_after",
				"seconds", "mb_per_s_in", "mb_per_s_out", "pause_us",
				"restart_before_s", "replay_before_s", "restart_after_s", "replay_after_s", "replayed_before", "replayed_after", "snapshot_us"}}
			for _, c := range s.Compaction {
				rows = append(rows, []string{strconv.Itoa(c.Spec.Records), strconv.Itoa(c.Spec.Keys), strconv.Itoa(c.Run),
					strconv.FormatInt(c.BytesBefore, 10), strconv.FormatInt(c.BytesAfter, 10),
					strconv.FormatUint(c.RecordsBefore, 10), strconv.FormatUint(c.RecordsAfter, 10),
					ftoa(c.Seconds, 6), ftoa(c.inMBps(), 2), ftoa(c.outMBps(), 2), ftoa(c.PauseMicros, 1),
					ftoa(c.Before.Seconds, 6), ftoa(c.Before.ReplaySeconds, 6), ftoa(c.After.Seconds, 6), ftoa(c.After.ReplaySeconds, 6),
					ftoa(c.Before.Records, 0), ftoa(c.After.Records, 0), ftoa(c.SnapMicros, 1)})
			}
			return writeRows(w, rows)
		}
	}
	if evs := s.compactionEvents(); len(evs) > 0 {
		files["compactions.csv"] = func(w io.Writer) error {
			rows := [][]string{{"source", "run", "end_s", "duration_s", "pause_us", "records_before", "records_after", "bytes_before", "bytes_after", "snapshot_us"}}
			for _, e := range evs {
				rows = append(rows, []string{e.Source, strconv.Itoa(e.Run), ftoa(e.End, 6), ftoa(e.Duration, 6), ftoa(e.PauseMicros, 1),
					ftoa(e.RecordsBefore, 0), ftoa(e.RecordsAfter, 0), ftoa(e.BytesBefore, 0), ftoa(e.BytesAfter, 0), ftoa(e.SnapMicros, 1)})
			}
			return writeRows(w, rows)
		}
	}
	if len(s.Clat) > 0 {
		files["memory.csv"] = func(w io.Writer) error {
			rows := [][]string{{"variant", "run", "peak_rss_bytes"}}
			for _, r := range s.Clat {
				rows = append(rows, []string{r.Variant, strconv.Itoa(r.Run), strconv.FormatInt(r.PeakRSS, 10)})
			}
			return writeRows(w, rows)
		}
	}
	if s.Cluster != nil {
		maps.Copy(files, s.Cluster.csvFiles())
	}
	if s.Sawtooth != nil {
		files["log_size.csv"] = func(w io.Writer) error {
			rows := [][]string{{"t_s", "bytes"}}
			for _, x := range s.Sawtooth.Samples {
				rows = append(rows, []string{ftoa(x.At, 4), strconv.FormatInt(x.Bytes, 10)})
			}
			return writeRows(w, rows)
		}
	}
	return files
}

// compactionEvents returns every msg=compacted line the node printed.
func (s *suite) compactionEvents() []compactionEvent {
	var out []compactionEvent
	for _, r := range s.Clat {
		out = append(out, r.Compactions...)
	}
	if s.Sawtooth != nil {
		out = append(out, s.Sawtooth.Compactions...)
	}
	return out
}

// writeMarkdown writes the whole report.
// maxRecords is the largest log of logs, in records.
func maxRecords(logs []logSpec) int {
	n := 0
	for _, l := range logs {
		n = max(n, l.Records)
	}
	return n
}

func (s *suite) writeMarkdown(w io.Writer) error {
	var b strings.Builder
	b.WriteString("# offsets-node benchmark suite\n\n")
	if s.Cfg.Quick {
		fmt.Fprintf(&b, "> **A -quick run.** Its verdicts come from small runs (%s requests, %d runs of each, logs of at most %s records, %s sequential commits): a smoke test of the suite, not the measurements the goals are about, which `go run ./bench` makes.\n\n",
			commas(float64(s.Cfg.Requests)), s.Cfg.Runs, commas(float64(maxRecords(s.Cfg.CompactionLogs))), commas(float64(s.Cfg.LatencyN)))
	}
	for _, kv := range s.Env {
		fmt.Fprintf(&b, "- %s: %s\n", kv[0], kv[1])
	}
	if s.Wall > 0 {
		fmt.Fprintf(&b, "- wall time of the suite: %v\n", s.Wall.Round(time.Second))
	}
	b.WriteString("\nThe machine is shared: other work may have run during the measurements, so read min-max ranges as noise.\n")

	b.WriteString("\n## Goals\n\n")
	rows := [][]string{{"verdict", "goal", "measured"}}
	for _, g := range s.goals() {
		rows = append(rows, []string{g.Verdict, g.Text, g.Detail})
	}
	writeTable(&b, rows, []bool{false, false, false})

	if s.Throughput != nil {
		b.WriteString("\n")
		if err := s.Throughput.writeText(&b); err != nil {
			return err
		}
	}
	if s.Ran[sectionLatency] {
		s.writeLatency(&b)
	}
	if s.Ran[sectionCompaction] {
		s.writeCompaction(&b)
		s.writeRecovery(&b)
	}
	if s.Ran[sectionCompactionLatency] {
		s.writeCompactionLatency(&b)
	}
	if s.Ran[sectionSawtooth] {
		s.writeSawtooth(&b)
	}
	if s.Ran[sectionRedis] {
		s.writeRedis(&b)
	}
	if s.Ran[sectionCluster] && s.Cluster != nil {
		s.Cluster.write(&b, s.Cfg.Runs)
	}
	if len(s.Notes) > 0 {
		b.WriteString("\n## Notes\n\n")
		for _, n := range s.Notes {
			fmt.Fprintf(&b, "- %s\n", n)
		}
	}
	names := slices.Sorted(maps.Keys(s.csvFiles()))
	if len(names) > 0 {
		fmt.Fprintf(&b, "\nRaw numbers: %s.\n", strings.Join(names, ", "))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// goals checks every goal of the earlier issues that the run measured.
func (s *suite) goals() []goal {
	var out []goal
	if s.Throughput != nil {
		out = append(out, checkGoals(s.Throughput.summaries())...)
	}
	if s.Ran[sectionCompaction] {
		out = append(out, s.checkpointGoal(), s.retireGoal(), s.pauseGoal())
	}
	if s.Ran[sectionCompactionLatency] {
		out = append(out, s.clatGoal(), s.memGoal())
	}
	if s.Ran[sectionCompaction] {
		out = append(out, s.replayGoal())
	}
	if s.Ran[sectionCluster] && s.Cluster != nil {
		out = append(out, s.Cluster.goals()...)
	}
	return out
}

func verdict(ok bool) string {
	if ok {
		return "PASS"
	}
	return "FALL SHORT"
}

// liveKeySpecs returns the compacted logs with goalLiveKeys keys, in the
// order of the grid.
func (s *suite) liveKeySpecs() []logSpec {
	var out []logSpec
	for _, spec := range s.compactionSpecs() {
		if spec.Keys == goalLiveKeys {
			out = append(out, spec)
		}
	}
	return out
}

// notRun is a goal whose measurement the run did not make.
func notRun(text, why string) goal { return goal{Text: text, Verdict: "NOT RUN", Detail: why} }

// checkpointGoal: a checkpoint of 10^6 live keys in at most 0.3 s on every
// log of 10^6 keys, whatever its length (median of the runs on each).
func (s *suite) checkpointGoal() goal {
	text := fmt.Sprintf("checkpoint of %s live keys <= %s s, whatever the history (every log with keys=%s)",
		commas(goalLiveKeys), fmtNum(goalCheckpointSeconds), exp10(goalLiveKeys))
	specs := s.liveKeySpecs()
	if len(specs) == 0 {
		return notRun(text, "no log with keys="+exp10(goalLiveKeys)+" compacted")
	}
	ok := true
	var parts []string
	for _, spec := range specs {
		m := summarize(s.compactionValues(spec, func(c compactionRun) float64 { return c.Seconds }))
		ok = ok && m.Median <= goalCheckpointSeconds
		parts = append(parts, fmt.Sprintf("%s s on %s", fmtNum(m.Median), spec))
	}
	return goal{Text: text, Verdict: verdict(ok), Detail: strings.Join(parts, ", ") + " (medians)"}
}

// retireGoal: at least 30 M records of history retired per second on the
// 10^7-record log of 10^6 keys.
func (s *suite) retireGoal() goal {
	spec := logSpec{Records: goalRetireLog, Keys: goalLiveKeys}
	text := fmt.Sprintf(">= %s M records of history retired per second (records before / time) on %s", fmtNum(goalRetiredPerSecond/1e6), spec)
	xs := s.compactionValues(spec, compactionRun.retiredPerSecond)
	if len(xs) == 0 {
		return notRun(text, spec.String()+" not compacted")
	}
	m := summarize(xs)
	secs := summarize(s.compactionValues(spec, func(c compactionRun) float64 { return c.Seconds }))
	return goal{Text: text, Verdict: verdict(m.Median >= goalRetiredPerSecond),
		Detail: fmt.Sprintf("%s M/s (%s records in %s s; median of %d runs); %.0fx Kafka's cleaner (%s M/s)",
			fmtNum(m.Median/1e6), commas(float64(spec.Records)), fmtNum(secs.Median), m.N, m.Median/kafkaCleanerPerSecond, fmtNum(kafkaCleanerPerSecond/1e6))}
}

// pauseGoal: the pause a commit sees at 10^6 live keys at most 2 ms. The
// serving goroutine takes the snapshot itself (one pause), and later waits
// for the switch's log hold at its next append (another): the goal is
// judged on the longer of the two in every run on a log with 10^6 keys.
func (s *suite) pauseGoal() goal {
	text := fmt.Sprintf("pause a commit sees at %s live keys <= %s ms (the longer of the snapshot and the switch's log hold, worst run)",
		commas(goalLiveKeys), fmtNum(goalPauseMicros/1e3))
	specs := s.liveKeySpecs()
	if len(specs) == 0 {
		return notRun(text, "no log with keys="+exp10(goalLiveKeys)+" compacted")
	}
	var snap, hold []float64
	worst, worstSpec := 0.0, logSpec{}
	for _, c := range s.Compaction {
		if c.Spec.Keys != goalLiveKeys {
			continue
		}
		snap, hold = append(snap, c.SnapMicros), append(hold, c.PauseMicros)
		if p := max(c.SnapMicros, c.PauseMicros); p > worst {
			worst, worstSpec = p, c.Spec
		}
	}
	return goal{Text: text, Verdict: verdict(worst <= goalPauseMicros),
		Detail: fmt.Sprintf("worst %s µs (%s); log hold %s µs, snapshot %s µs (median (min-max) of %d runs)",
			fmtNum(worst), worstSpec, fmtSummary(summarize(hold)), fmtSummary(summarize(snap)), len(hold))}
}

// replayGoal: a restart replays at least 5 M records/s on every log of
// 10^6 keys before compaction.
func (s *suite) replayGoal() goal {
	text := fmt.Sprintf("restart replays >= %s M records/s at %s keys (records replayed / replay time, every log with keys=%s before compaction)",
		fmtNum(goalReplayPerSecond/1e6), commas(goalLiveKeys), exp10(goalLiveKeys))
	specs := s.liveKeySpecs()
	if len(specs) == 0 {
		return notRun(text, "no log with keys="+exp10(goalLiveKeys)+" restarted")
	}
	ok := true
	var parts []string
	for _, spec := range specs {
		m := summarize(s.compactionValues(spec, func(c compactionRun) float64 { return c.Before.replayPerSecond() }))
		ms := summarize(s.compactionValues(spec, func(c compactionRun) float64 { return c.Before.ReplaySeconds * 1e3 }))
		ok = ok && m.Median >= goalReplayPerSecond
		parts = append(parts, fmt.Sprintf("%s M/s on %s (%s ms)", fmtNum(m.Median/1e6), spec, fmtNum(ms.Median)))
	}
	return goal{Text: text, Verdict: verdict(ok), Detail: strings.Join(parts, ", ") + " (medians)"}
}

// clatGoal: commit p99 during a compaction at most 1.5 times the p99
// without.
func (s *suite) clatGoal() goal {
	g := notRun(fmt.Sprintf("commit p99 during a compaction <= %sx p99 without", fmtNum(goalClatP99Factor)), "no samples overlapped a compaction")
	off := s.clatPercentile(clatOff, 99, nil)
	during := s.clatPercentile(clatOn, 99, func(x latencySample) bool { return x.During })
	if off.N == 0 || during.N == 0 {
		return g
	}
	x := during.Median / off.Median
	g.Verdict = verdict(x <= goalClatP99Factor)
	g.Detail = fmt.Sprintf("%.1fx (%s µs during vs %s µs without; medians of %d runs)", x, fmtNum(during.Median), fmtNum(off.Median), off.N)
	return g
}

// peakRSS summarizes the peak RSS in MiB of the compaction-latency runs of
// variant that measured it.
func (s *suite) peakRSS(variant string) summary {
	var xs []float64
	for _, r := range s.Clat {
		if r.Variant == variant && r.PeakRSS > 0 {
			xs = append(xs, float64(r.PeakRSS)/(1<<20))
		}
	}
	return summarize(xs)
}

// memGoal: the node's peak memory in the compaction-latency runs with
// compactions at most 1.5 times the peak without.
func (s *suite) memGoal() goal {
	g := notRun(fmt.Sprintf("memory during a compaction <= %sx memory without (node's peak RSS after init)", fmtNum(goalMemFactor)), "peak RSS not measured")
	off, on := s.peakRSS(clatOff), s.peakRSS(clatOn)
	if off.N == 0 || on.N == 0 {
		return g
	}
	x := on.Median / off.Median
	g.Verdict = verdict(x <= goalMemFactor)
	g.Detail = fmt.Sprintf("%.2fx (%s MiB with compactions vs %s MiB without; medians of %d runs, %s keys)",
		x, fmtNum(on.Median), fmtNum(off.Median), off.N, commas(float64(s.ClatLog.Spec.Keys)))
	return g
}

// clatPercentile summarizes, over runs of variant, the p-th percentile of
// the samples that keep selects.
func (s *suite) clatPercentile(variant string, p float64, keep func(latencySample) bool) summary {
	return percentileOverRuns(s.Clat, variant, p, keep)
}

// percentileOverRuns computes the p-th percentile of each run of variant
// (over the samples keep selects; runs with none are left out) and
// summarizes them.
func percentileOverRuns(runs []sequentialRun, variant string, p float64, keep func(latencySample) bool) summary {
	var per []float64
	for _, r := range runs {
		if r.Variant != variant {
			continue
		}
		if xs := r.micros(keep); len(xs) > 0 {
			per = append(per, percentile(xs, p))
		}
	}
	return summarize(per)
}

func (s *suite) writeLatency(b *strings.Builder) {
	b.WriteString("\n## Latency: commit round trip, one request at a time\n\n")
	fmt.Fprintf(b, "A fresh node per run; the harness writes one commit_offset to the node's stdin pipe and waits for its reply line before the next (%s commits per run, keys drawn at random from %s). "+
		"Against it, the disk's own latency for a 4 KiB write + fsync in a loop, in the same filesystem. Percentiles are computed per run; cells are the median over runs (min-max).\n\n",
		commas(float64(s.Cfg.LatencyN)), commas(float64(s.Cfg.Keys)))
	rows := [][]string{{"what", "runs", "samples/run", "p50 µs", "p99 µs", "p99.9 µs"}}
	add := func(label string, per [][]float64) {
		if len(per) == 0 {
			return
		}
		row := []string{label, strconv.Itoa(len(per)), commas(float64(len(per[0])))}
		for _, p := range []float64{50, 99, 99.9} {
			var xs []float64
			for _, r := range per {
				xs = append(xs, percentile(r, p))
			}
			row = append(row, fmtSummary(summarize(xs)))
		}
		rows = append(rows, row)
	}
	byVariant := func(v string) [][]float64 {
		var out [][]float64
		for _, r := range s.Latency {
			if r.Variant == v {
				out = append(out, r.micros(nil))
			}
		}
		return out
	}
	add("offsets-node, --sync=fsync", byVariant(latencyNodeFsync))
	add("offsets-node, --sync=none", byVariant(latencyNodeNone))
	add("disk: 4 KiB write + fsync", s.FsyncMicros)
	writeTable(b, rows, []bool{false, true, true, true, true, true})
	node := percentileOverRuns(s.Latency, latencyNodeFsync, 50, nil)
	var disk []float64
	for _, r := range s.FsyncMicros {
		disk = append(disk, percentile(r, 50))
	}
	if d := summarize(disk); node.N > 0 && d.N > 0 && d.Median > 0 {
		fmt.Fprintf(b, "\nAt the median a durable commit round trip (pipe, parsing, log entry, fsync, reply) takes %.1fx the disk's bare 4 KiB write + fsync: %s vs %s µs.\n",
			node.Median/d.Median, fmtNum(node.Median), fmtNum(d.Median))
	}
}

// compactionSpecs returns the logs compacted, in the order of the grid.
func (s *suite) compactionSpecs() []logSpec {
	var out []logSpec
	for _, c := range s.Compaction {
		if !slices.Contains(out, c.Spec) {
			out = append(out, c.Spec)
		}
	}
	return out
}

// compactionValues returns f of every run on spec.
func (s *suite) compactionValues(spec logSpec, f func(compactionRun) float64) []float64 {
	var out []float64
	for _, c := range s.Compaction {
		if c.Spec == spec {
			out = append(out, f(c))
		}
	}
	return out
}

func (s *suite) writeCompaction(b *strings.Builder) {
	b.WriteString("\n## Compaction\n\n")
	b.WriteString("Logs are built in process through consumeroffsets (no fsync, automatic compaction off, commits in batches of 4096, each to a key drawn uniformly at random); " +
		"each run compacts a fresh copy in process with consumeroffsets.CompactDir (not through the binary), which replays the log into the state and writes the checkpoint from a snapshot of it, as the node does from its live state. " +
		"Time is compactor.Stats.Duration: taking the snapshot, writing and fsyncing the checkpoint, renaming it, releasing the wal; the replay (a restart's cost, in the restart columns) is not counted. " +
		"The copy was just written, so the log is read from the page cache. " +
		"MB/s in = log bytes before / time; MB/s out = checkpoint bytes / time.\n\n")
	disk := summarize(s.SeqWrite)
	fmt.Fprintf(b, "Disk sequential write, same run: %s MB/s (%s MiB in 1 MiB writes + fsync, %d runs; median (min-max)). "+
		"in / disk compares MB/s in with it, for information: issue 3's goal of %.1fx the disk (%s MB/s) is no longer judged, since the compactor writes from the state and does not read the log.\n\n",
		fmtSummary(disk), commas(float64(s.Cfg.SeqWriteBytes>>20)), disk.N, diskShareInfo, fmtNum(diskShareInfo*disk.Median))
	b.WriteString("M records/s = records before / time, the history retired per second. " +
		"Snapshot = the pause to take the snapshot of the state (compactor.Stats.Snapshot; in the node the serving goroutine takes it); " +
		"log hold = the time the log was held from appends for the switch (compactor.Stats.Pause; in the node the serving goroutine waits for it at its next append). " +
		"A commit can meet either pause, not both at once.\n\n")
	rows := [][]string{{"log", "MiB before", "MiB after", "records before", "records after", "time s", "M records/s", "MB/s in", "MB/s out", "in / disk", "snapshot µs", "log hold µs"}}
	for _, spec := range s.compactionSpecs() {
		val := func(f func(compactionRun) float64) summary { return summarize(s.compactionValues(spec, f)) }
		in := val(compactionRun.inMBps)
		rows = append(rows, []string{spec.String(),
			fmtNum(val(func(c compactionRun) float64 { return float64(c.BytesBefore) / (1 << 20) }).Median),
			fmtNum(val(func(c compactionRun) float64 { return float64(c.BytesAfter) / (1 << 20) }).Median),
			commas(val(func(c compactionRun) float64 { return float64(c.RecordsBefore) }).Median),
			commas(val(func(c compactionRun) float64 { return float64(c.RecordsAfter) }).Median),
			fmtSummary(val(func(c compactionRun) float64 { return c.Seconds })),
			fmtNum(val(compactionRun.retiredPerSecond).Median / 1e6),
			fmtSummary(in),
			fmtNum(val(compactionRun.outMBps).Median),
			fmt.Sprintf("%.2f", in.Median/disk.Median),
			fmtSummary(val(func(c compactionRun) float64 { return c.SnapMicros })),
			fmtSummary(val(func(c compactionRun) float64 { return c.PauseMicros })),
		})
	}
	writeTable(b, rows, []bool{false, true, true, true, true, true, true, true, true, true, true, true})
	for _, g := range []goal{s.checkpointGoal(), s.retireGoal(), s.pauseGoal()} {
		fmt.Fprintf(b, "\nGoal, %s: **%s**, %s.\n", g.Text, g.Verdict, g.Detail)
	}
	fmt.Fprintf(b, "\n![compaction time against log size](%s)\n", pngCompactionTime)
}

// restartPoints returns (log MiB, restart ms) of every restart measured.
func (s *suite) restartPoints() (mib, ms []float64) {
	for _, c := range s.Compaction {
		for _, r := range []restart{c.Before, c.After} {
			mib = append(mib, float64(r.Bytes)/(1<<20))
			ms = append(ms, r.Seconds*1e3)
		}
	}
	return mib, ms
}

func (s *suite) writeRecovery(b *strings.Builder) {
	b.WriteString("\n## Recovery: restart time against log size\n\n")
	b.WriteString("On the same copies as the compaction runs: the node binary started on the log before compacting it and again after. " +
		"Restart = process start until the reply to init (the node opens and replays the log on init); replay = the duration= of the node's msg=recovered line. " +
		"Warm page cache: the log was just written or copied.\n\n")
	rows := [][]string{{"log", "compacted", "log MiB", "records replayed", "restart ms", "replay ms"}}
	for _, spec := range s.compactionSpecs() {
		for _, after := range []bool{false, true} {
			pick := func(c compactionRun) restart {
				if after {
					return c.After
				}
				return c.Before
			}
			val := func(f func(restart) float64) summary {
				return summarize(s.compactionValues(spec, func(c compactionRun) float64 { return f(pick(c)) }))
			}
			rows = append(rows, []string{spec.String(), map[bool]string{false: "before", true: "after"}[after],
				fmtNum(val(func(r restart) float64 { return float64(r.Bytes) / (1 << 20) }).Median),
				commas(val(func(r restart) float64 { return r.Records }).Median),
				fmtSummary(val(func(r restart) float64 { return r.Seconds * 1e3 })),
				fmtSummary(val(func(r restart) float64 { return r.ReplaySeconds * 1e3 })),
			})
		}
	}
	writeTable(b, rows, []bool{false, false, true, true, true, true})
	mib, ms := s.restartPoints()
	if f, ok := fitLine(mib, ms); ok {
		fmt.Fprintf(b, "\nLeast-squares line over all %d restarts (before and after compaction): restart ms = %.1f + %.3f x MiB, that is **%s µs per MiB** of log (R² %.3f).\n",
			f.N, f.Intercept, f.Slope, fmtNum(f.Slope*1e3), f.R2)
	}
	// The number of keys moves restart time as much as the bytes do (a
	// bigger index to rebuild), so fit each key count on its own too.
	var perKey []string
	var keys []int
	for _, spec := range s.compactionSpecs() {
		if !slices.Contains(keys, spec.Keys) {
			keys = append(keys, spec.Keys)
		}
	}
	for _, k := range keys {
		var xs, ys []float64
		for _, c := range s.Compaction {
			if c.Spec.Keys == k {
				for _, r := range []restart{c.Before, c.After} {
					xs = append(xs, float64(r.Bytes)/(1<<20))
					ys = append(ys, r.Seconds*1e3)
				}
			}
		}
		if f, ok := fitLine(xs, ys); ok {
			perKey = append(perKey, fmt.Sprintf("%s keys: %s µs per MiB (R² %.3f, %d restarts)", commas(float64(k)), fmtNum(f.Slope*1e3), f.R2, f.N))
		}
	}
	if len(perKey) > 1 {
		fmt.Fprintf(b, "By key count: %s.\n", strings.Join(perKey, "; "))
	}
	var recs, rms []float64
	for _, c := range s.Compaction {
		for _, r := range []restart{c.Before, c.After} {
			recs = append(recs, r.Records/1e6)
			rms = append(rms, r.Seconds*1e3)
		}
	}
	if f, ok := fitLine(recs, rms); ok {
		fmt.Fprintf(b, "Against records replayed: restart ms = %.1f + %.1f x millions of records (%.3f µs per record, R² %.3f).\n",
			f.Intercept, f.Slope, f.Slope*1e3/1e6, f.R2)
	}
	if g := s.replayGoal(); g.Verdict != "NOT RUN" {
		fmt.Fprintf(b, "\nGoal, %s: **%s**, %s.\n", g.Text, g.Verdict, g.Detail)
	}
	fmt.Fprintf(b, "\n![restart time against log size](%s)\n", pngRestart)
}

func (s *suite) writeCompactionLatency(b *strings.Builder) {
	b.WriteString("\n## Commit latency while a compaction runs\n\n")
	f := s.ClatLog
	fmt.Fprintf(b, "The node binary starts on a copy of a log of %s commits over %s keys (%.1f MiB, %.0f%% superseded) and takes commits one at a time, as in the latency section. "+
		"compaction=off runs with `%s`; compaction=on with `%s`, so the first commit starts a background compaction of the whole log and later ones follow whenever the log is 30%% dirty; "+
		"it runs until a compaction has finished and at least %s commits are timed. A sample counts as during a compaction when it overlaps the interval [end - duration, end] of a msg=compacted line "+
		"(the node logs it at the first commit after the compaction ends).\n\n",
		commas(float64(f.Spec.Records)), commas(float64(f.Spec.Keys)), float64(f.Bytes)/(1<<20), 100*(1-float64(f.Spec.Keys)/float64(max(f.Spec.Records, 1))),
		strings.Join(clatOffArgs, " "), strings.Join(clatOnArgs, " "), commas(float64(s.Cfg.ClatN)))
	during := func(x latencySample) bool { return x.During }
	outside := func(x latencySample) bool { return !x.During }
	rows := [][]string{{"commits", "runs", "samples/run", "p50 µs", "p99 µs", "p99.9 µs"}}
	add := func(label, variant string, keep func(latencySample) bool) {
		var counts []float64
		for _, r := range s.Clat {
			if r.Variant == variant {
				counts = append(counts, float64(len(r.micros(keep))))
			}
		}
		row := []string{label, strconv.Itoa(len(counts)), commas(summarize(counts).Median)}
		for _, p := range []float64{50, 99, 99.9} {
			row = append(row, fmtSummary(percentileOverRuns(s.Clat, variant, p, keep)))
		}
		rows = append(rows, row)
	}
	add("compaction=off, all", clatOff, nil)
	add("compaction=on, during a compaction", clatOn, during)
	add("compaction=on, outside compactions", clatOn, outside)
	add("compaction=on, all", clatOn, nil)
	writeTable(b, rows, []bool{false, true, true, true, true, true})

	var dur, pause, snap []float64
	var first []float64
	for _, r := range s.Clat {
		for i, c := range r.Compactions {
			dur = append(dur, c.Duration*1e3)
			pause = append(pause, c.PauseMicros)
			snap = append(snap, c.SnapMicros)
			if i == 0 {
				first = append(first, c.Duration*1e3)
			}
		}
	}
	if len(dur) > 0 {
		fmt.Fprintf(b, "\n%d compactions in the compaction=on runs; the first (whole log) took %s ms; all: duration %s ms, pause of the switch (pause= of msg=compacted) %s µs, max %s µs; snapshot of the state (snapshot=) %s µs, max %s µs.\n",
			len(dur), fmtSummary(summarize(first)), fmtSummary(summarize(dur)), fmtSummary(summarize(pause)), fmtNum(slices.Max(pause)),
			fmtSummary(summarize(snap)), fmtNum(slices.Max(snap)))
	}
	b.WriteString("\nMemory: the node's peak resident set size, VmHWM of /proc/PID/status, reset to the current RSS through /proc/PID/clear_refs just after init " +
		"(so the replay's own peak, the same in both variants, is left out) and read after the last commit, before the node exits.\n\n")
	mrows := [][]string{{"variant", "runs", "peak RSS MiB"}}
	for _, v := range []struct{ label, id string }{{"compaction=off", clatOff}, {"compaction=on", clatOn}} {
		m := s.peakRSS(v.id)
		mrows = append(mrows, []string{v.label, strconv.Itoa(m.N), fmtSummary(m)})
	}
	writeTable(b, mrows, []bool{false, true, true})
	for _, r := range s.Clat {
		if r.MemNote != "" {
			fmt.Fprintf(b, "\n%s run %d: %s.\n", r.Variant, r.Run, r.MemNote)
		}
	}
	for _, g := range []goal{s.clatGoal(), s.memGoal()} {
		if g.Verdict != "NOT RUN" {
			fmt.Fprintf(b, "\nGoal, %s: **%s**, %s.\n", g.Text, g.Verdict, g.Detail)
		}
	}
	fmt.Fprintf(b, "\n![commit latency over time](%s)\n", pngClatOverTime)
}

func (s *suite) writeSawtooth(b *strings.Builder) {
	st := s.Sawtooth
	b.WriteString("\n## Log size over time\n\n")
	if st == nil {
		b.WriteString("Not measured.\n")
		return
	}
	fmt.Fprintf(b, "The node binary with `%s` under %s pipelined commits/s (a fixed walk over %s keys) for %v; the size of its data directory (every file: du --apparent-size) sampled every %v. "+
		"%s commits acknowledged; %d compactions.\n\n",
		strings.Join(st.Spec.Args, " "), commas(float64(st.Spec.Rate)), commas(float64(st.Spec.Keys)), st.Spec.Duration, st.Spec.Every,
		commas(float64(st.Commits)), len(st.Compactions))
	if len(st.Samples) > 0 {
		var sizes []float64
		for _, x := range st.Samples {
			sizes = append(sizes, float64(x.Bytes)/(1<<20))
		}
		fmt.Fprintf(b, "Size: min %.2f MiB, median %.2f MiB, max %.2f MiB.\n\n", slices.Min(sizes), percentile(sizes, 50), slices.Max(sizes))
	}
	if len(st.Compactions) > 0 {
		var dur, pause, before, after []float64
		for _, c := range st.Compactions {
			dur = append(dur, c.Duration*1e3)
			pause = append(pause, c.PauseMicros)
			before = append(before, c.BytesBefore/(1<<20))
			after = append(after, c.BytesAfter/(1<<20))
		}
		rows := [][]string{{"compactions", "duration ms", "pause µs", "MiB read", "MiB written"},
			{strconv.Itoa(len(dur)), fmtSummary(summarize(dur)), fmtSummary(summarize(pause)), fmtSummary(summarize(before)), fmtSummary(summarize(after))}}
		writeTable(b, rows, []bool{true, true, true, true, true})
		b.WriteString("\n(median (min-max) over the compactions of the run)\n")
	}
	fmt.Fprintf(b, "\n![log size over time](%s)\n", pngLogSize)
}

// fmtSummary formats a summary as "median (min-max)".
func fmtSummary(s summary) string {
	if s.N == 0 {
		return "-"
	}
	if s.N == 1 || s.Min == s.Max {
		return fmtNum(s.Median)
	}
	return fmt.Sprintf("%s (%s-%s)", fmtNum(s.Median), fmtNum(s.Min), fmtNum(s.Max))
}

// fmtNum formats x with three significant digits below 100 and as a whole
// number with thousands separators above.
func fmtNum(x float64) string {
	switch ax := math.Abs(x); {
	case math.IsNaN(x) || math.IsInf(x, 0):
		return "-"
	case ax >= 100:
		return commas(x)
	case ax >= 10:
		return strconv.FormatFloat(x, 'f', 1, 64)
	case ax >= 1:
		return strconv.FormatFloat(x, 'f', 2, 64)
	case ax == 0:
		return "0"
	default:
		return strconv.FormatFloat(x, 'g', 3, 64)
	}
}

func ftoa(x float64, prec int) string { return strconv.FormatFloat(x, 'f', prec, 64) }

func writeRows(w io.Writer, rows [][]string) error {
	cw := csv.NewWriter(w)
	cw.WriteAll(rows)
	return cw.Error()
}

// writeRedis writes the Redis comparison section.
func (s *suite) writeRedis(b *strings.Builder) {
	b.WriteString("\n## Redis (append-only file, appendfsync always)\n\n")
	r := s.Redis
	if r.PerSecond == 0 {
		b.WriteString(r.Note + "\n")
		return
	}
	fmt.Fprintf(b, "%s (%s). The throughput workload's requests (one run), pipelined over one loopback connection: "+
		"commit_offset as SET group/topic/partition offset, fetch_offset as GET; every reply after the append-only "+
		"file is fsynced (Redis's own group commit: one fsync per event-loop turn). Then BGREWRITEAOF, then a restart "+
		"on the rewritten file. Redis's rate is timed from the first request, after the server answered PING; "+
		"the node's from process start, replay included.\n\n", r.Note, r.Version)
	b.WriteString("| what | Redis | offsets-node |\n|---|---:|---:|\n")
	node := "-"
	if s.Throughput != nil {
		if sm, ok := s.Throughput.summaries()[variantNodeFsync]; ok {
			node = fmtNum(sm.Median) + " (median)"
		}
	}
	fmt.Fprintf(b, "| requests/s, fsync on | %s | %s |\n", fmtNum(r.PerSecond), node)
	fmt.Fprintf(b, "| log before the rewrite / compaction | %.2f MiB | see Compaction |\n", float64(r.AOFBefore)/(1<<20))
	fmt.Fprintf(b, "| log after | %.3f MiB (%d keys) | see Compaction |\n", float64(r.AOFAfter)/(1<<20), r.Keys)
	fmt.Fprintf(b, "| rewrite time | %.3f s | see Compaction |\n", r.RewriteSecs)
	fmt.Fprintf(b, "| reload after the rewrite | %.3f s | see Recovery |\n", r.ReloadSecs)
}
