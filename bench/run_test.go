package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

func TestCountReplies(t *testing.T) {
	input := strings.Repeat("0123456789abcdef\n", 1000) + "partial"
	lines, n, tail, err := countReplies(strings.NewReader(input), 40)
	if err != nil || lines != 1000 || n != int64(len(input)) {
		t.Errorf("countReplies = %d lines, %d bytes, %v; want 1000, %d, nil", lines, n, err, len(input))
	}
	if want := input[len(input)-40:]; string(tail) != want {
		t.Errorf("tail = %q, want %q", tail, want)
	}
	// One byte at a time exercises keepTail's trimming on every read.
	lines, _, tail, err = countReplies(iotest.OneByteReader(strings.NewReader(input)), 40)
	if err != nil || lines != 1000 || string(tail) != input[len(input)-40:] {
		t.Errorf("one byte at a time: %d, %q, %v", lines, tail, err)
	}
	// A tail bigger than the input is the whole input.
	_, _, tail, _ = countReplies(strings.NewReader("a\nb\n"), 1<<20)
	if string(tail) != "a\nb\n" {
		t.Errorf("short input: tail = %q", tail)
	}
	_, _, _, err = countReplies(iotest.ErrReader(errors.New("boom")), 10)
	if err == nil {
		t.Error("countReplies hid a read error")
	}
}

func TestCheckLastReply(t *testing.T) {
	want := expectedReplyPrefix(false, 7, 42)
	inOrder := `{"src": "n1", "dest": "c1", "body": {"type": "commit_offset_ok", "in_reply_to": 6, "msg_id": 5}}
{"src": "n1", "dest": "c1", "body": {"type": "fetch_offset_ok", "in_reply_to": 7, "offset": 42, "msg_id": 6}}
`
	if err := checkLastReply([]byte(inOrder), want); err != nil {
		t.Errorf("in order: %v", err)
	}
	reordered := `{"src": "n1", "dest": "c1", "body": {"type": "fetch_offset_ok", "in_reply_to": 7, "offset": 42, "msg_id": 5}}
{"src": "n1", "dest": "c1", "body": {"type": "commit_offset_ok", "in_reply_to": 6, "msg_id": 6}}
`
	if err := checkLastReply([]byte(reordered), want); err != nil {
		t.Errorf("reordered: %v", err)
	}
	wrong := strings.Replace(inOrder, `"offset": 42`, `"offset": 41`, 1)
	if err := checkLastReply([]byte(wrong), want); !errors.Is(err, errLastReply) {
		t.Errorf("wrong offset: err = %v, want errLastReply", err)
	}
	if err := checkLastReply([]byte(strings.Replace(inOrder, "in_reply_to\": 7", "in_reply_to\": 70", 1)), want); !errors.Is(err, errLastReply) {
		t.Errorf("in_reply_to 70 taken for 7: err = %v", err)
	}
	cut := strings.TrimSuffix(inOrder, "}\n")
	if err := checkLastReply([]byte(cut), want); !errors.Is(err, errLastReply) {
		t.Errorf("torn last line: err = %v, want errLastReply", err)
	}
}

func TestStderrTail(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.stderr")
	os.WriteFile(path, []byte("one\ntwo\nthree\n"), 0o644)
	got := stderrTail(path, 2)
	if !strings.Contains(got, "| two\n") || !strings.Contains(got, "| three\n") || strings.Contains(got, "one") {
		t.Errorf("stderrTail = %q", got)
	}
}

// shellVariant runs script under sh on a one-request workload.
func shellVariant(t *testing.T, script string) variant {
	t.Helper()
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "w.jsonl")
	var b bytes.Buffer
	wl, err := writeWorkload(&b, workloadSpec{Requests: 1, Keys: 1, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(path, b.Bytes(), 0o644)
	wl.Path = path
	return variant{ID: "sh", Label: "sh", Argv: []string{"sh", "-c", script}, Workload: &wl}
}

func TestMeasureFailsLoudly(t *testing.T) {
	tests := []struct {
		name, script, want string
		is                 error
	}{
		{"exit status", `echo dying >&2; exit 3`, "exit status 3", nil},
		{"too few replies", `echo one reply; echo about to stop >&2`, "got 1, want 2", errReplyCount},
		{"wrong replies", `cat`, "", errLastReply}, // echoes the 2 requests back
		{"hang", `exec sleep 30`, "killed after", nil},
	}
	for _, tt := range tests {
		v := shellVariant(t, tt.script)
		_, err := measure(context.Background(), v, 1, t.TempDir(), 500*time.Millisecond)
		if err == nil {
			t.Errorf("%s: measure succeeded", tt.name)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) || (tt.is != nil && !errors.Is(err, tt.is)) {
			t.Errorf("%s: err = %v", tt.name, err)
		}
	}
	// The stderr tail is part of the error.
	_, err := measure(context.Background(), shellVariant(t, `echo dying words >&2; exit 1`), 1, t.TempDir(), 5*time.Second)
	if err == nil || !strings.Contains(err.Error(), "| dying words") {
		t.Errorf("error lacks the stderr tail: %v", err)
	}
}

// TestMeasureBaselines runs the harness end to end on a small workload
// against the real baselines.
func TestMeasureBaselines(t *testing.T) {
	if testing.Short() {
		t.Skip("builds naivenode; skipped in -short")
	}
	dir := t.TempDir()
	naive := filepath.Join(dir, "naivenode")
	if out, err := exec.Command("go", "build", "-o", naive, "./internal/naivenode").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	wl, err := generate(filepath.Join(dir, "w.jsonl"), workloadSpec{Requests: 3000, Keys: 50, Seed: 9})
	if err != nil {
		t.Fatal(err)
	}
	variants := []variant{
		{ID: "naive-fsync", Label: "naive fsync", Argv: []string{naive, "--sync=fsync"}, DataDir: true, Workload: wl},
		{ID: "naive-none", Label: "naive none", Argv: []string{naive, "--sync=none"}, DataDir: true, Workload: wl},
	}
	if py, err := exec.LookPath("python3"); err == nil {
		variants = append(variants, variant{ID: "python", Label: "python", Argv: []string{py, "learner.py"}, Workload: wl})
	} else {
		t.Log("python3 not on PATH; learner.py not checked")
	}
	for _, v := range variants {
		res, err := measure(context.Background(), v, 1, dir, time.Minute)
		if err != nil {
			t.Errorf("%s: %v", v.ID, err)
			continue
		}
		if res.Requests != 3000 || res.Seconds <= 0 || res.perSecond() <= 0 {
			t.Errorf("%s: result %+v", v.ID, res)
		}
	}
	// Data directories are removed after successful runs; stderr files stay.
	if m, _ := filepath.Glob(filepath.Join(dir, "*-data-*")); len(m) != 0 {
		t.Errorf("data directories left behind: %v", m)
	}
}

// TestLearnerSharedCases checks learner.py against the project's golden
// cases, so the benchmark never times a baseline that answers wrong.
func TestLearnerSharedCases(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not on PATH")
	}
	ins, _ := filepath.Glob("../testdata/cases/seed-*.in")
	if len(ins) == 0 {
		t.Skip("no seed cases in testdata/cases")
	}
	for _, in := range ins {
		want, err := os.ReadFile(strings.TrimSuffix(in, ".in") + ".out")
		if err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(in)
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(py, "learner.py")
		cmd.Stdin = f
		got, err := cmd.Output()
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if string(got) != string(want) {
			t.Errorf("%s: got\n%s\nwant\n%s", in, got, want)
		}
	}
}
