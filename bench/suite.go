package main

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
)

// suite is everything one run of the benchmark measured.
type suite struct {
	Cfg     config
	Started time.Time
	Wall    time.Duration
	Env     [][2]string
	Notes   []string // whole-suite notes (skipped parts and why)
	Ran     map[string]bool

	Throughput *report

	// The disk, measured in the data directory's filesystem.
	FsyncMicros [][]float64 // per run: each 4 KiB write + fsync
	SeqWrite    []float64   // per run: MB/s

	Latency []sequentialRun // variants latencyNodeFsync, latencyNodeNone

	Fixtures   []fixture
	Compaction []compactionRun

	ClatLog fixture
	Clat    []sequentialRun // variants clatOff, clatOn

	Sawtooth *sawtoothResult

	Redis redisResult // the Redis comparison, or why it was skipped

	Cluster *clusterResult
}

// Variants of the sequential-commit measurements.
const (
	latencyNodeFsync = "latency-node-fsync"
	latencyNodeNone  = "latency-node-none"
	clatOff          = "compaction-off"
	clatOn           = "compaction-on"
)

// Node flags of the compaction-latency runs: compaction=on starts a
// compaction of the whole fixture at the first commit, and later ones as
// soon as the log is 30% dirty.
var (
	clatOffArgs = []string{"--sync=fsync", "--compact-min-bytes=-1"}
	clatOnArgs  = []string{"--sync=fsync", "--compact-min-bytes=262144", "--compact-dirty-ratio=0.3"}
)

func run(cfg config) (err error) {
	s := &suite{Cfg: cfg, Started: time.Now(), Ran: map[string]bool{}}
	root, err := findModuleRoot()
	if err != nil {
		return err
	}
	// Before minutes of measuring, not after: the report must have a place.
	if cfg.Out != "" {
		if err := checkWritable(cfg.Out); err != nil {
			return err
		}
	}
	progress("sections: %s; expected about %s in all on a 2-core machine (the progress lines below give each section's)",
		strings.Join(cfg.Sections, ", "), fmtDuration(expectedTotal(cfg)))
	workDir, err := os.MkdirTemp(cfg.Dir, "offsets-bench-")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil || cfg.Keep {
			progress("kept %s for inspection", workDir)
			return
		}
		os.RemoveAll(workDir)
	}()
	out := cfg.Out
	if out == "" {
		out = filepath.Join(cfg.Dir, "offsets-bench-report-"+time.Now().Format("20060102-150405"))
	}
	wants := func(sec string) bool { return slices.Contains(cfg.Sections, sec) }

	fsType := filesystemType(workDir)
	s.Env = [][2]string{
		{"date", s.Started.UTC().Format(time.RFC3339)},
		{"command", "go run ./bench " + strings.Join(os.Args[1:], " ")},
		{"machine", fmt.Sprintf("%s/%s, %d cores (GOMAXPROCS %d), %s", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.GOMAXPROCS(0), cpuModel())},
		{"memory", memTotal()},
		{"disk", fmt.Sprintf("%s; data directory %s (%s)", diskInfo(workDir), workDir, fsType)},
		{"load average before the runs", loadAverage()},
		{"go", runtime.Version()},
		{"runs", fmt.Sprintf("%d of each measurement, interleaved where there are several variants; tables give the median and the min-max over runs", cfg.Runs)},
	}
	if fsType == "tmpfs" {
		s.Notes = append(s.Notes, "the data directories are on tmpfs, where fsync costs nothing: fsync numbers say nothing about disks. Use -dir.")
	}

	var nodeBin string
	if wants(sectionThroughput) || wants(sectionLatency) || wants(sectionCompaction) || wants(sectionCompactionLatency) || wants(sectionSawtooth) || wants(sectionCluster) {
		if nodeBin, err = goBuild(root, workDir, "./cmd/offsets-node", "offsets-node"); err != nil {
			return err
		}
	}
	if wants(sectionLatency) || wants(sectionCompaction) || wants(sectionCompactionLatency) {
		if err := s.section(stepDisk, func() error { return s.measureDisk(workDir) }); err != nil {
			return err
		}
	}
	if wants(sectionThroughput) {
		err := s.section(sectionThroughput, func() (err error) {
			s.Throughput, err = runThroughput(cfg, root, workDir, nodeBin)
			return err
		})
		if err != nil {
			return err
		}
	}
	if wants(sectionLatency) {
		if err := s.section(sectionLatency, func() error { return s.measureLatency(nodeBin, workDir) }); err != nil {
			return err
		}
	}
	fx := &fixtures{root: filepath.Join(workDir, "fixtures")}
	if wants(sectionCompaction) {
		if err := s.section(sectionCompaction, func() error { return s.measureCompaction(nodeBin, fx, workDir) }); err != nil {
			return err
		}
	}
	if wants(sectionCompactionLatency) {
		if err := s.section(sectionCompactionLatency, func() error { return s.measureCompactionLatency(nodeBin, fx, workDir) }); err != nil {
			return err
		}
	}
	os.RemoveAll(fx.root)
	if wants(sectionSawtooth) {
		if err := s.section(sectionSawtooth, func() error { return s.measureSawtooth(nodeBin, workDir) }); err != nil {
			return err
		}
	}
	if wants(sectionRedis) {
		s.section(sectionRedis, func() error {
			s.Redis = redisComparison(workloadSpec{Requests: cfg.Requests, Keys: cfg.Keys, Seed: cfg.Seed}, workDir)
			progress("redis: %s", s.Redis.Note)
			return nil
		})
	}
	if wants(sectionCluster) {
		if err := s.section(sectionCluster, func() error { return s.measureCluster(nodeBin, workDir) }); err != nil {
			return err
		}
	}
	s.Wall = time.Since(s.Started)

	if err := s.write(out); err != nil {
		return err
	}
	md, err := os.ReadFile(filepath.Join(out, "report.md"))
	if err != nil {
		return err
	}
	os.Stdout.Write(md)
	progress("wrote the report, CSV files and plots to %s (suite took %v)", out, s.Wall.Round(time.Second))
	return nil
}

// section runs one section of the suite between a progress line with its
// expected duration and one with the time it took, and marks it as run.
func (s *suite) section(name string, run func() error) error {
	progress("== %s: expected about %s", name, fmtDuration(expectedDuration(name, s.Cfg.Quick)))
	start := time.Now()
	if err := run(); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if name != stepDisk {
		s.Ran[name] = true
	}
	progress("== %s: done in %s", name, fmtDuration(time.Since(start)))
	return nil
}

// stepDisk is the disk probe that latency, compaction and
// compaction-latency share: a step with a progress line, not a section.
const stepDisk = "disk probe"

// Expected durations of the sections with the default settings and with
// -quick on this project's 2-core machine, 2026-12-01: -quick and the
// latency, compaction-latency, sawtooth and compaction sections measured
// (sawtooth and the disk probe under load average 9: the probe took 1m20s,
// less on a quiet machine; compaction 1m0s at load average 2.8 once it
// wrote checkpoints from the state, 4m0s at 9 when it re-read the log);
// throughput from its variants' measured rates (3 runs of 1e6 requests
// through each, ~40 s a round); redis estimated. A busy or slower machine takes longer: the progress lines
// give both.
var expected = map[string][2]time.Duration{ // full, quick
	sectionThroughput:        {150 * time.Second, 8 * time.Second},
	sectionLatency:           {30 * time.Second, 3 * time.Second},
	sectionCompaction:        {60 * time.Second, 6 * time.Second},
	sectionCompactionLatency: {25 * time.Second, 4 * time.Second},
	sectionSawtooth:          {12 * time.Second, 5 * time.Second},
	sectionRedis:             {15 * time.Second, 3 * time.Second},
	sectionCluster:           {120 * time.Second, 30 * time.Second}, // measured 1m47s and 25s at load average 5, 2026-12-01
	stepDisk:                 {40 * time.Second, 4 * time.Second},
}

func expectedDuration(section string, quick bool) time.Duration {
	if quick {
		return expected[section][1]
	}
	return expected[section][0]
}

func expectedTotal(cfg config) time.Duration {
	var d time.Duration
	disk := false
	for _, sec := range cfg.Sections {
		d += expectedDuration(sec, cfg.Quick)
		disk = disk || sec == sectionLatency || sec == sectionCompaction || sec == sectionCompactionLatency
	}
	if disk {
		d += expectedDuration(stepDisk, cfg.Quick)
	}
	return d
}

// fmtDuration rounds a duration for a progress line: 40s, 2m30s.
func fmtDuration(d time.Duration) string {
	if d >= time.Minute {
		return d.Round(10 * time.Second).String()
	}
	return d.Round(time.Second).String()
}

// checkWritable makes dir if needed and checks that a file can be created
// in it.
func checkWritable(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("-out %s: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, ".bench-write-check-")
	if err != nil {
		return fmt.Errorf("-out %s is not writable: %w", dir, err)
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}

// measureDisk measures the disk's fsync latency and sequential write speed
// in workDir's filesystem, cfg.Runs times.
func (s *suite) measureDisk(workDir string) error {
	for r := 1; r <= s.Cfg.Runs; r++ {
		lat, err := fsyncLatencies(workDir, s.Cfg.LatencyN)
		if err != nil {
			return fmt.Errorf("disk fsync probe: %w", err)
		}
		s.FsyncMicros = append(s.FsyncMicros, lat)
		mbps, err := seqWriteSpeed(workDir, s.Cfg.SeqWriteBytes, 1<<20)
		if err != nil {
			return fmt.Errorf("disk sequential write probe: %w", err)
		}
		s.SeqWrite = append(s.SeqWrite, mbps)
		progress("disk run %d/%d: 4 KiB write+fsync p50 %.0f µs p99 %.0f µs; sequential write %.0f MB/s",
			r, s.Cfg.Runs, percentile(lat, 50), percentile(lat, 99), mbps)
	}
	return nil
}

// measureLatency times sequential commits on a fresh node, fsync on and
// off, interleaved.
func (s *suite) measureLatency(nodeBin, workDir string) error {
	for r := 1; r <= s.Cfg.Runs; r++ {
		for _, v := range []struct{ id, sync string }{{latencyNodeFsync, "fsync"}, {latencyNodeNone, "none"}} {
			dataDir, err := os.MkdirTemp(workDir, v.id+"-data-")
			if err != nil {
				return err
			}
			res, err := runSequential(nodeBin, sequentialSpec{Variant: v.id, Args: []string{"--sync=" + v.sync}, DataDir: dataDir,
				N: s.Cfg.LatencyN, Keys: s.Cfg.Keys}, r, workDir)
			if err != nil {
				return err
			}
			us := res.micros(nil)
			progress("latency run %d/%d %s: %d commits, p50 %.0f µs p99 %.0f µs p99.9 %.0f µs", r, s.Cfg.Runs, v.id,
				len(us), percentile(us, 50), percentile(us, 99), percentile(us, 99.9))
			s.Latency = append(s.Latency, res)
		}
	}
	return nil
}

// measureCompaction builds every log of the grid, then compacts a copy of
// each and restarts the node on it before and after, cfg.Runs times.
func (s *suite) measureCompaction(nodeBin string, fx *fixtures, workDir string) error {
	for _, spec := range s.Cfg.CompactionLogs {
		f, err := fx.get(spec)
		if err != nil {
			return err
		}
		progress("  %s: %.1f MiB, built in %v", spec, float64(f.Bytes)/(1<<20), f.Build.Round(time.Millisecond))
		s.Fixtures = append(s.Fixtures, f)
	}
	for r := 1; r <= s.Cfg.Runs; r++ {
		for _, f := range s.Fixtures {
			res, err := measureCompaction(nodeBin, f, r, workDir)
			if err != nil {
				return err
			}
			progress("compaction run %d/%d %s: %.1f -> %.2f MiB in %.3fs (%.0f MB/s in), pause %.0f µs; restart %.3fs -> %.3fs",
				r, s.Cfg.Runs, f.Spec, float64(res.BytesBefore)/(1<<20), float64(res.BytesAfter)/(1<<20), res.Seconds,
				res.inMBps(), res.PauseMicros, res.Before.Seconds, res.After.Seconds)
			s.Compaction = append(s.Compaction, res)
		}
	}
	return nil
}

// measureCompactionLatency times sequential commits on a node that starts
// from the same dirty log, with background compaction off and on,
// interleaved.
func (s *suite) measureCompactionLatency(nodeBin string, fx *fixtures, workDir string) error {
	f, err := fx.get(s.Cfg.ClatLog)
	if err != nil {
		return err
	}
	s.ClatLog = f
	for r := 1; r <= s.Cfg.Runs; r++ {
		for _, v := range []struct {
			id   string
			args []string
			on   bool
		}{{clatOff, clatOffArgs, false}, {clatOn, clatOnArgs, true}} {
			dataDir := filepath.Join(workDir, fmt.Sprintf("%s-run%d-data", v.id, r))
			if err := copyTree(dataDir, f.Root); err != nil {
				return err
			}
			res, err := runSequential(nodeBin, sequentialSpec{Variant: v.id, Args: v.args, DataDir: dataDir,
				N: s.Cfg.ClatN, Keys: f.Spec.Keys, UntilCompacted: v.on, MaxTime: 2 * time.Minute}, r, workDir)
			if err != nil {
				return err
			}
			during := res.micros(func(x latencySample) bool { return x.During })
			all := res.micros(nil)
			progress("compaction-latency run %d/%d %s: %d commits (%d during %d compactions), p99 %.0f µs, p99 during compaction %.0f µs",
				r, s.Cfg.Runs, v.id, len(all), len(during), len(res.Compactions), percentile(all, 99), percentile(during, 99))
			if v.on && len(res.Compactions) == 0 {
				s.Notes = append(s.Notes, fmt.Sprintf("compaction-latency run %d: no compaction finished within the run", r))
			}
			s.Clat = append(s.Clat, res)
		}
	}
	return nil
}

// measureSawtooth runs the node under sustained commits with small
// compaction thresholds and samples the size of its data directory.
func (s *suite) measureSawtooth(nodeBin, workDir string) error {
	spec := sawtoothSpec{Duration: s.Cfg.SawtoothDuration, Rate: 100_000, Keys: 10_000, Every: 50 * time.Millisecond,
		Args: sawtoothArgs(512<<10, 2<<20, 0.5)}
	progress("log size over time: %v of %s commits/s over %s keys, node flags %s...", spec.Duration,
		commas(float64(spec.Rate)), commas(float64(spec.Keys)), strings.Join(spec.Args, " "))
	res, err := runSawtooth(nodeBin, spec, workDir)
	if err != nil {
		return err
	}
	progress("log size over time: %d samples, %d compactions, %s commits acknowledged", len(res.Samples), len(res.Compactions), commas(float64(res.Commits)))
	s.Sawtooth = &res
	return nil
}

// runThroughput is the throughput section: every variant on the same
// pipelined workload, interleaved.
func runThroughput(cfg config, root, workDir, nodeBin string) (*report, error) {
	wants := func(id string) bool { return slices.Contains(cfg.Variants, id) }
	var notes []string
	var naiveBin, python, pyVersion string
	var err error
	if wants(variantNaiveFsync) || wants(variantNaiveNone) {
		if naiveBin, err = goBuild(root, workDir, "./bench/internal/naivenode", "naivenode"); err != nil {
			return nil, err
		}
	}
	if wants(variantPython) {
		python, pyVersion, err = findPython()
		if err != nil {
			notes = append(notes, fmt.Sprintf("no usable python3 (%v): the python learner did not run.", err))
			progress("python3 not found (%v); skipping the python learner", err)
		}
	}

	spec := workloadSpec{Requests: cfg.Requests, Keys: cfg.Keys, Seed: cfg.Seed}
	progress("generating workload: %s requests over %s keys...", commas(float64(cfg.Requests)), commas(float64(cfg.Keys)))
	full, err := generate(filepath.Join(workDir, "workload.jsonl"), spec)
	if err != nil {
		return nil, err
	}
	prefix := full
	if wants(variantNaiveFsync) && cfg.NaiveN < cfg.Requests {
		spec.Requests = cfg.NaiveN
		if prefix, err = generate(filepath.Join(workDir, "workload-prefix.jsonl"), spec); err != nil {
			return nil, err
		}
	}

	var variants []variant
	add := func(v variant) {
		if wants(v.ID) && v.Argv[0] != "" {
			variants = append(variants, v)
		}
	}
	add(variant{ID: variantNodeFsync, Label: "offsets-node fsync", Argv: []string{nodeBin, "--sync=fsync"}, DataDir: true, Workload: full})
	add(variant{ID: variantNodeNone, Label: "offsets-node none", Argv: []string{nodeBin, "--sync=none"}, DataDir: true, Workload: full})
	naiveNote := "one fsync per commit"
	if prefix != full {
		naiveNote = fmt.Sprintf("PREFIX: first %s of %s requests; one fsync per commit", commas(float64(prefix.Requests)), commas(float64(full.Requests)))
	}
	add(variant{ID: variantNaiveFsync, Label: "naive fsync", Argv: []string{naiveBin, "--sync=fsync"}, DataDir: true, Workload: prefix, Note: naiveNote})
	add(variant{ID: variantNaiveNone, Label: "naive none", Argv: []string{naiveBin, "--sync=none"}, DataDir: true, Workload: full})
	add(variant{ID: variantPython, Label: "python learner", Argv: []string{python, filepath.Join(root, "bench", "learner.py")}, Workload: full,
		Note: "in memory, no disk"})

	rep := &report{
		Env: [][2]string{
			{"python", cmp.Or(pyVersion, "not run")},
			{"workload", fmt.Sprintf("init + %s requests (%s commit_offset, %s fetch_offset) over %s keys, seed %d, pipelined from a file on stdin",
				commas(float64(full.Requests)), commas(float64(full.Commits)), commas(float64(full.Fetches)), commas(float64(cfg.Keys)), cfg.Seed)},
			{"runs", fmt.Sprintf("%d per variant, interleaved; req/s = requests / (process start to stdout EOF and exit)", cfg.Runs)},
		},
		Variants: variants,
		Notes:    notes,
	}
	ctx := context.Background()
	for r := 1; r <= cfg.Runs; r++ {
		for _, v := range variants {
			res, err := measure(ctx, v, r, workDir, cfg.Timeout)
			if err != nil {
				return nil, err
			}
			progress("throughput run %d/%d %s: %s req/s (%s requests in %.3fs)", r, cfg.Runs, v.Label,
				commas(res.perSecond()), commas(float64(res.Requests)), res.Seconds)
			rep.Runs = append(rep.Runs, res)
		}
	}
	return rep, nil
}

// diskInfo names the block device under path and whether it rotates.
func diskInfo(path string) string {
	dev, err := deviceOf(path)
	if err != nil {
		return "unknown disk"
	}
	sys := "/sys/dev/block/" + dev
	name := dev
	if target, err := os.Readlink(sys); err == nil {
		name = filepath.Base(target)
	}
	rot, err := os.ReadFile(sys + "/queue/rotational")
	if err != nil { // a partition: the queue is its parent's
		rot, _ = os.ReadFile(sys + "/../queue/rotational")
	}
	kind := "queue/rotational=" + cmp.Or(strings.TrimSpace(string(rot)), "unknown")
	model, _ := os.ReadFile(sys + "/device/model")
	if m := strings.TrimSpace(string(model)); m != "" {
		kind += ", model " + m
	}
	return fmt.Sprintf("/dev/%s (%s)", name, kind)
}

// memTotal returns the machine's memory from /proc/meminfo.
func memTotal() string {
	b, _ := os.ReadFile("/proc/meminfo")
	for line := range strings.Lines(string(b)) {
		if k, v, ok := strings.Cut(line, ":"); ok && k == "MemTotal" {
			var kb float64
			fmt.Sscanf(strings.TrimSpace(v), "%f", &kb)
			return fmt.Sprintf("%.1f GiB", kb/(1<<20))
		}
	}
	return "unknown"
}
