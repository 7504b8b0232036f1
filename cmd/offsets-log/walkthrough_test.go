package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestReadmeWalkthrough runs the README's offsets-log walkthrough on the
// files it names, testdata/run1.jsonl and run2.jsonl: the node's replies
// must be testdata/run1.out and run2.out (the README's diff commands), and
// replay must show the README's table, commit times aside.
func TestReadmeWalkthrough(t *testing.T) {
	node := nodeBinary(t)
	data := filepath.Join(t.TempDir(), "data")
	for _, run := range []string{"run1", "run2"} {
		in, err := os.Open(filepath.Join("..", "..", "testdata", run+".jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(node, "--data-dir", data)
		cmd.Stdin = in
		out, err := cmd.Output()
		in.Close()
		if err != nil {
			t.Fatalf("offsets-node < %s.jsonl: %v", run, err)
		}
		want, err := os.ReadFile(filepath.Join("..", "..", "testdata", run+".out"))
		if err != nil {
			t.Fatal(err)
		}
		if string(out) != string(want) {
			t.Fatalf("offsets-node < testdata/%s.jsonl | diff - testdata/%s.out:\n--- got\n%s--- want\n%s", run, run, out, want)
		}
	}
	stdout, stderr, code := runCLI("replay", filepath.Join(data, "n1"))
	if code != 0 {
		t.Fatalf("replay: %s", stderr)
	}
	got := regexp.MustCompile(`\d{4}-\d\d-\d\dT[\d:.]+Z`).ReplaceAllString(stdout, "TIME")
	want := strings.Join([]string{
		`GROUP    TOPIC     PARTITION  OFFSET  METADATA  COMMIT_TIME`,
		`billing  payments  0          25      ""        TIME`,
		`billing  payments  1          7       "host-3"  TIME`,
		`orders   orders    0          100     ""        TIME`,
	}, "\n") + "\n"
	if got != want {
		t.Fatalf("replay:\n%s\nwant (the README's)\n%s", got, want)
	}
}
