package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

const modulePath = "github.com/maelstrom-offsets/offsets"

var allVariants = []string{variantNodeFsync, variantNodeNone, variantNaiveFsync, variantNaiveNone, variantPython}

// Sections of the suite, as accepted by -sections.
const (
	sectionThroughput        = "throughput"
	sectionLatency           = "latency"
	sectionCompaction        = "compaction" // compaction and recovery
	sectionCompactionLatency = "compaction-latency"
	sectionSawtooth          = "sawtooth"
	sectionRedis             = "redis"
	sectionCluster           = "cluster"
)

var allSections = []string{sectionThroughput, sectionLatency, sectionCompaction, sectionCompactionLatency, sectionSawtooth, sectionRedis, sectionCluster}

// defaultSections run without -sections: all but cluster, which takes
// minutes of its own and runs only when named.
var defaultSections = slices.DeleteFunc(slices.Clone(allSections), func(s string) bool { return s == sectionCluster })

// config holds the command-line settings.
type config struct {
	Requests int
	Keys     int
	NaiveN   int
	Runs     int
	Seed     uint64
	Variants []string
	Sections []string
	Out      string
	Dir      string
	Keep     bool
	Timeout  time.Duration
	Quick    bool

	LatencyN         int           // sequential commits per latency run, and fsync probes per disk run
	CompactionLogs   []logSpec     // logs the compaction and recovery section builds
	ClatLog          logSpec       // the log the compaction-latency runs start from
	ClatN            int           // sequential commits per compaction-latency run (at least)
	SawtoothDuration time.Duration // length of the log-size-over-time run
	SeqWriteBytes    int           // bytes per sequential-write probe

	ClusterLatencyN int           // one-at-a-time commits per cluster latency run
	ClusterKills    int           // leader kills per failover setting
	ClusterDown     time.Duration // how long the catch-up runs keep a follower down
}

// compactionGrid returns the logs of records over keys for every pair with
// keys <= records.
func compactionGrid(records, keys []int) []logSpec {
	var out []logSpec
	for _, r := range records {
		for _, k := range keys {
			if k <= r {
				out = append(out, logSpec{Records: r, Keys: k})
			}
		}
	}
	return out
}

func main() {
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	if err := run(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "bench: FAILED:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (config, error) {
	var cfg config
	var variants, sections string
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.IntVar(&cfg.Requests, "n", 1_000_000, "requests in the workload, after the init line")
	fs.IntVar(&cfg.Keys, "keys", 10_000, "distinct (group, topic, partition) keys")
	fs.IntVar(&cfg.NaiveN, "naive-n", 20_000, "requests the naive fsync baseline runs (a prefix of the workload)")
	fs.IntVar(&cfg.Runs, "runs", 3, "runs per variant, interleaved")
	fs.Uint64Var(&cfg.Seed, "seed", 1, "workload random seed")
	fs.StringVar(&variants, "variants", strings.Join(allVariants, ","), "comma-separated variants to run")
	fs.StringVar(&sections, "sections", strings.Join(defaultSections, ","), "comma-separated sections to run, of "+strings.Join(allSections, ","))
	fs.StringVar(&cfg.Out, "out", "", "directory for report.md, *.csv and *.png, made if needed and checked for writing before the runs (default: a new directory under -dir)")
	fs.StringVar(&cfg.Dir, "dir", os.TempDir(), "parent of the temporary directory for binaries, workload and data")
	fs.BoolVar(&cfg.Keep, "keep", false, "keep the temporary directory")
	fs.DurationVar(&cfg.Timeout, "timeout", 15*time.Minute, "kill a run that takes longer")
	fs.IntVar(&cfg.LatencyN, "latency-n", 20_000, "sequential commits per latency run, and 4 KiB fsyncs per disk probe")
	fs.IntVar(&cfg.ClatN, "clat-n", 5_000, "sequential commits per run of the compaction-latency section (more while the first compaction runs)")
	fs.DurationVar(&cfg.SawtoothDuration, "sawtooth", 10*time.Second, "length of the log-size-over-time run")
	fs.IntVar(&cfg.ClusterLatencyN, "cluster-latency-n", 2_000, "one-at-a-time commits per latency run of the cluster section (single node, into the leader, through a follower)")
	fs.IntVar(&cfg.ClusterKills, "cluster-kills", 5, "leader kills per raft tick setting in the cluster section's failover runs")
	fs.DurationVar(&cfg.ClusterDown, "cluster-down", 10*time.Second, "how long the cluster section's catch-up runs keep a follower down under load")
	quick := fs.Bool("quick", false, "quick run, about half a minute: -n 100000 -naive-n 5000 -runs 2 -latency-n 2000 -clat-n 1500 -sawtooth 4s -cluster-latency-n 300 -cluster-kills 3 -cluster-down 3s and smaller logs, unless set explicitly")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	cfg.Quick = *quick
	cfg.SeqWriteBytes = 256 << 20
	cfg.CompactionLogs = compactionGrid([]int{1e5, 1e6, 1e7}, []int{1e3, 1e5, 1e6})
	cfg.ClatLog = logSpec{Records: 1e6, Keys: 1e4}
	if *quick {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		cfg.CompactionLogs = compactionGrid([]int{1e4, 1e5, 1e6}, []int{1e3, 1e4, 1e5})
		cfg.ClatLog = logSpec{Records: 5e5, Keys: 1e4}
		if !set["latency-n"] {
			cfg.LatencyN = 2_000
		}
		if !set["clat-n"] {
			cfg.ClatN = 1_500
		}
		if !set["sawtooth"] {
			cfg.SawtoothDuration = 4 * time.Second
		}
		if !set["cluster-latency-n"] {
			cfg.ClusterLatencyN = 300
		}
		if !set["cluster-kills"] {
			cfg.ClusterKills = 3
		}
		if !set["cluster-down"] {
			cfg.ClusterDown = 3 * time.Second
		}
		if !set["n"] {
			cfg.Requests = 100_000
		}
		if !set["naive-n"] {
			cfg.NaiveN = 5_000
		}
		if !set["runs"] {
			cfg.Runs = 2
		}
	}
	var err error
	if cfg.Variants, err = parseList(variants, allVariants, "variant"); err != nil {
		return cfg, err
	}
	if cfg.Sections, err = parseList(sections, allSections, "section"); err != nil {
		return cfg, err
	}
	switch {
	case len(cfg.Sections) == 0:
		return cfg, errors.New("no sections selected")
	case len(cfg.Variants) == 0:
		return cfg, errors.New("no variants selected")
	case cfg.Requests < 1 || cfg.Keys < 1 || cfg.NaiveN < 1 || cfg.Runs < 1:
		return cfg, errors.New("-n, -keys, -naive-n and -runs must be at least 1")
	case cfg.LatencyN < 1 || cfg.ClatN < 1 || cfg.SawtoothDuration <= 0:
		return cfg, errors.New("-latency-n, -clat-n and -sawtooth must be positive")
	case cfg.ClusterLatencyN < 1 || cfg.ClusterKills < 1 || cfg.ClusterDown <= 0:
		return cfg, errors.New("-cluster-latency-n, -cluster-kills and -cluster-down must be positive")
	}
	cfg.NaiveN = min(cfg.NaiveN, cfg.Requests)
	return cfg, nil
}

// generate writes the workload for spec to path.
func generate(path string, spec workloadSpec) (*workload, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	wl, err := writeWorkload(f, spec)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("write workload %s: %w", path, err)
	}
	wl.Path = path
	return &wl, nil
}

// goBuild builds pkg (relative to the module root) into dir/name.
func goBuild(root, dir, pkg, name string) (string, error) {
	progress("building %s...", pkg)
	out := filepath.Join(dir, name)
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Dir = root
	cmd.Stdout = os.Stderr
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build %s: %w", pkg, err)
	}
	return out, nil
}

// findModuleRoot walks up from the working directory to the go.mod of this
// module.
func findModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil {
			if !isModule(b, modulePath) {
				return "", fmt.Errorf("%s/go.mod is not module %s; run bench inside it", dir, modulePath)
			}
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory; run bench inside module %s", modulePath)
		}
		dir = parent
	}
}

// findPython returns the path and version of the interpreter python3 on PATH
// runs. Version managers such as pyenv put a shell-script shim on PATH that
// takes most of a second to start; timing the interpreter itself keeps that
// out of the learner's numbers.
func findPython() (path, version string, err error) {
	shim, err := exec.LookPath("python3")
	if err != nil {
		return "", "", err
	}
	out, err := exec.Command(shim, "-c", "import sys; print(sys.executable); print(sys.version.split()[0])").Output()
	if err != nil {
		return "", "", fmt.Errorf("%s: %w", shim, err)
	}
	exe, ver, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	if exe == "" {
		exe = shim
	}
	return exe, "Python " + ver + " (" + exe + ")", nil
}

// isModule reports whether the go.mod contents gomod declare module path.
func isModule(gomod []byte, path string) bool {
	for line := range bytes.Lines(gomod) {
		if f := strings.Fields(string(line)); len(f) == 2 && f[0] == "module" && strings.Trim(f[1], `"`) == path {
			return true
		}
	}
	return false
}

// cpuModel returns the first "model name" in /proc/cpuinfo, or "" elsewhere.
func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for line := range strings.Lines(string(b)) {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

// loadAverage returns the 1, 5 and 15 minute load averages, so a reader can
// tell a quiet machine from a busy one.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return "unknown"
}

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
}

// parseList splits a comma-separated flag value, dropping blanks, and
// refuses a name that is not in known.
func parseList(value string, known []string, what string) ([]string, error) {
	var out []string
	for _, v := range strings.Split(value, ",") {
		v = strings.TrimSpace(v)
		if v == "" {
			continue
		}
		if !slices.Contains(known, v) {
			return nil, fmt.Errorf("unknown %s %q; known: %s", what, v, strings.Join(known, ","))
		}
		out = append(out, v)
	}
	return out, nil
}
