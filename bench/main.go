package main

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
)

const modulePath = "github.com/maelstrom-offsets/offsets"

var allVariants = []string{variantNodeFsync, variantNodeNone, variantNaiveFsync, variantNaiveNone, variantPython}

// config holds the command-line settings.
type config struct {
	Requests int
	Keys     int
	NaiveN   int
	Runs     int
	Seed     uint64
	Variants []string
	Out      string
	Dir      string
	Keep     bool
	Timeout  time.Duration
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
	var variants string
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.IntVar(&cfg.Requests, "n", 1_000_000, "requests in the workload, after the init line")
	fs.IntVar(&cfg.Keys, "keys", 10_000, "distinct (group, topic, partition) keys")
	fs.IntVar(&cfg.NaiveN, "naive-n", 20_000, "requests the naive fsync baseline runs (a prefix of the workload)")
	fs.IntVar(&cfg.Runs, "runs", 3, "runs per variant, interleaved")
	fs.Uint64Var(&cfg.Seed, "seed", 1, "workload random seed")
	fs.StringVar(&variants, "variants", strings.Join(allVariants, ","), "comma-separated variants to run")
	fs.StringVar(&cfg.Out, "out", "", "if set, write DIR/report.md and DIR/throughput.csv")
	fs.StringVar(&cfg.Dir, "dir", os.TempDir(), "parent of the temporary directory for binaries, workload and data")
	fs.BoolVar(&cfg.Keep, "keep", false, "keep the temporary directory")
	fs.DurationVar(&cfg.Timeout, "timeout", 15*time.Minute, "kill a run that takes longer")
	quick := fs.Bool("quick", false, "quick run: -n 100000 -naive-n 5000 -runs 2 unless set explicitly")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *quick {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
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
	for _, v := range strings.Split(variants, ",") {
		v = strings.TrimSpace(v)
		if v == "" {
			continue
		}
		if !slices.Contains(allVariants, v) {
			return cfg, fmt.Errorf("unknown variant %q; known: %s", v, strings.Join(allVariants, ","))
		}
		cfg.Variants = append(cfg.Variants, v)
	}
	switch {
	case len(cfg.Variants) == 0:
		return cfg, errors.New("no variants selected")
	case cfg.Requests < 1 || cfg.Keys < 1 || cfg.NaiveN < 1 || cfg.Runs < 1:
		return cfg, errors.New("-n, -keys, -naive-n and -runs must be at least 1")
	}
	cfg.NaiveN = min(cfg.NaiveN, cfg.Requests)
	return cfg, nil
}

func run(cfg config) (err error) {
	root, err := findModuleRoot()
	if err != nil {
		return err
	}
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
	wants := func(id string) bool { return slices.Contains(cfg.Variants, id) }

	var notes []string
	var nodeBin, naiveBin, python, pyVersion string
	if wants(variantNodeFsync) || wants(variantNodeNone) {
		if nodeBin, err = goBuild(root, workDir, "./cmd/offsets-node", "offsets-node"); err != nil {
			return err
		}
	}
	if wants(variantNaiveFsync) || wants(variantNaiveNone) {
		if naiveBin, err = goBuild(root, workDir, "./bench/internal/naivenode", "naivenode"); err != nil {
			return err
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
		return err
	}
	prefix := full
	if wants(variantNaiveFsync) && cfg.NaiveN < cfg.Requests {
		spec.Requests = cfg.NaiveN
		if prefix, err = generate(filepath.Join(workDir, "workload-prefix.jsonl"), spec); err != nil {
			return err
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

	fsType := filesystemType(workDir)
	if fsType == "tmpfs" {
		notes = append(notes, "the data directories are on tmpfs, where fsync costs nothing: fsync numbers say nothing about disks. Use -dir.")
	}
	rep := report{
		Env: [][2]string{
			{"date", time.Now().UTC().Format(time.RFC3339)},
			{"machine", fmt.Sprintf("%s/%s, %d CPUs, %s", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), cpuModel())},
			{"load average before the runs", loadAverage()},
			{"go", runtime.Version()},
			{"python", cmp.Or(pyVersion, "not run")},
			{"data directory", fmt.Sprintf("%s (%s)", workDir, fsType)},
			{"workload", fmt.Sprintf("init + %s requests (%s commit_offset, %s fetch_offset) over %s keys, seed %d",
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
				return err
			}
			progress("run %d/%d %s: %s req/s (%s requests in %.3fs)", r, cfg.Runs, v.Label,
				commas(res.perSecond()), commas(float64(res.Requests)), res.Seconds)
			rep.Runs = append(rep.Runs, res)
		}
	}

	if err := rep.writeText(os.Stdout); err != nil {
		return err
	}
	if cfg.Out != "" {
		if err := writeOut(cfg.Out, rep); err != nil {
			return err
		}
		progress("wrote %s and %s", filepath.Join(cfg.Out, "report.md"), filepath.Join(cfg.Out, "throughput.csv"))
	}
	return nil
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

// writeOut writes report.md and throughput.csv into dir.
func writeOut(dir string, rep report) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var md, csv bytes.Buffer
	if err := rep.writeText(&md); err != nil {
		return err
	}
	if err := writeCSV(&csv, rep.Runs); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "report.md"), md.Bytes(), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "throughput.csv"), csv.Bytes(), 0o644)
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
