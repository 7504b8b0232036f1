package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The golden cases are the protocol's contract, written by hand from the
// spec. Each testdata/cases/NAME.in is fed on stdin to a freshly built
// offsets-node; its stdout must equal NAME.out byte for byte. An optional
// NAME.stderr holds one Go regexp per line; each must match a distinct
// stderr line, in order, so a case can demand "one warning per bad line"
// without fixing the warning's wording. An optional NAME.flags holds the
// node's command-line flags for the case, separated by white space.
//
// -update rewrites the .out files from the binary. Only use it after
// checking every changed line against the spec: the cases exist to be an
// independent check of the binary, not a snapshot of it.

var updateGolden = flag.Bool("update", false, "rewrite testdata/cases/*.out from the binary's stdout")

const (
	goldenCasesDir = "../../testdata/cases"
	goldenTimeout  = 60 * time.Second
)

func TestGolden(t *testing.T) {
	ins, err := filepath.Glob(filepath.Join(goldenCasesDir, "*.in"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ins) == 0 {
		t.Fatalf("no cases in %s", goldenCasesDir)
	}

	// The parent's TempDir outlives its parallel subtests, so one build
	// serves every case and is removed once they all finish.
	bin := filepath.Join(t.TempDir(), "offsets-node")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	for _, in := range ins {
		name := strings.TrimSuffix(filepath.Base(in), ".in")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			runGoldenCase(t, bin, strings.TrimSuffix(in, ".in"))
		})
	}
}

func runGoldenCase(t *testing.T, bin, base string) {
	stdin, err := os.Open(base + ".in")
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()

	ctx, cancel := context.WithTimeout(context.Background(), goldenTimeout)
	defer cancel()
	var flags []string
	if b, err := os.ReadFile(base + ".flags"); err == nil {
		flags = strings.Fields(string(b))
	} else if !os.IsNotExist(err) {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, bin, flags...)
	cmd.Stdin = stdin
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	// The node picks its own temporary data dir; pointing TMPDIR at the
	// test's dir keeps whatever it leaves behind out of the system /tmp.
	cmd.Env = append(os.Environ(), "TMPDIR="+t.TempDir())
	cmd.WaitDelay = 5 * time.Second

	runErr := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("timed out after %v\nstderr:\n%s", goldenTimeout, goldenClip(stderr.String(), 4000))
	}
	if runErr != nil {
		t.Fatalf("run: %v (want exit status 0)\nstderr:\n%s", runErr, goldenClip(stderr.String(), 4000))
	}

	if *updateGolden {
		if err := os.WriteFile(base+".out", stdout.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	} else {
		want, err := os.ReadFile(base + ".out")
		if err != nil {
			t.Fatal(err)
		}
		if got := stdout.Bytes(); !bytes.Equal(got, want) {
			t.Errorf("stdout differs from %s.out (- want, + got):\n%s\nstderr:\n%s",
				filepath.Base(base), goldenLineDiff(string(want), string(got)), goldenClip(stderr.String(), 4000))
		}
	}

	checkGoldenStderr(t, base+".stderr", stderr.String())
}

// checkGoldenStderr matches each pattern in patFile against a later stderr line
// than the previous pattern matched. Warnings are counted exactly: stderr
// must hold as many level=WARN lines as patFile has patterns naming WARN,
// none when there is no patFile, so that "one line per skipped input" and
// "no warning for good input" both hold.
func checkGoldenStderr(t *testing.T, patFile, stderr string) {
	t.Helper()
	warns := strings.Count(stderr, "level=WARN")
	data, err := os.ReadFile(patFile)
	if os.IsNotExist(err) {
		if warns != 0 {
			t.Errorf("%d warnings on stderr for a case without a .stderr file:\n%s", warns, goldenClip(stderr, 4000))
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	var pats []*regexp.Regexp
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if line == "" {
			continue
		}
		re, err := regexp.Compile(line)
		if err != nil {
			t.Fatalf("%s: %v", filepath.Base(patFile), err)
		}
		pats = append(pats, re)
	}

	wantWarns := 0
	for _, p := range pats {
		if strings.Contains(p.String(), "WARN") {
			wantWarns++
		}
	}
	if warns != wantWarns {
		t.Errorf("%d warnings on stderr, want %d (one per skipped input):\n%s", warns, wantWarns, goldenClip(stderr, 4000))
	}

	lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
	i := 0
	for _, line := range lines {
		if i < len(pats) && pats[i].MatchString(line) {
			i++
		}
	}
	if i < len(pats) {
		t.Errorf("stderr matched %d of %d patterns from %s; first unmatched: %q\nstderr:\n%s",
			i, len(pats), filepath.Base(patFile), pats[i].String(), goldenClip(stderr, 4000))
	}
}

// goldenLineDiff renders a minimal line diff from a longest-common-subsequence
// table; outputs here are a few dozen lines, so O(n*m) is fine.
func goldenLineDiff(want, got string) string {
	a := goldenSplitLines(want)
	b := goldenSplitLines(got)
	if len(a)*len(b) > 4_000_000 {
		return fmt.Sprintf("(too large to diff: %d vs %d lines)", len(a), len(b))
	}
	lcs := make([][]int, len(a)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(b)+1)
	}
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var sb strings.Builder
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case i < len(a) && j < len(b) && a[i] == b[j]:
			fmt.Fprintf(&sb, "  %s\n", goldenClip(a[i], 300))
			i++
			j++
		case i < len(a) && (j == len(b) || lcs[i+1][j] >= lcs[i][j+1]):
			fmt.Fprintf(&sb, "- %s\n", goldenClip(a[i], 300))
			i++
		default:
			fmt.Fprintf(&sb, "+ %s\n", goldenClip(b[j], 300))
			j++
		}
	}
	return sb.String()
}

// goldenSplitLines keeps a missing final newline visible, since stdout must
// match byte for byte.
func goldenSplitLines(s string) []string {
	if s == "" {
		return nil
	}
	lines := strings.SplitAfter(s, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	for k, l := range lines {
		if strings.HasSuffix(l, "\n") {
			lines[k] = strings.TrimSuffix(l, "\n")
		} else {
			lines[k] = l + " (no newline at end)"
		}
	}
	return lines
}

func goldenClip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + fmt.Sprintf("... (%d more bytes)", len(s)-n)
}
