package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/maelstrom-offsets/offsets/log"
)

// TestReadWhileNodeRuns runs the node, keeps it running, and checks that
// the reading commands work on its directory and show what it
// acknowledged, that verify does not call an entry still being written
// damage, and that compact and repair refuse.
func TestReadWhileNodeRuns(t *testing.T) {
	dataDir := t.TempDir()
	cmd := exec.Command(nodeBinary(t), "--data-dir", dataDir, "--segment-size", "65536")
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	var errb strings.Builder
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	replies := bufio.NewScanner(stdout)
	send := func(line string) string {
		if _, err := io.WriteString(stdin, line+"\n"); err != nil {
			t.Fatal(err)
		}
		if !replies.Scan() {
			t.Fatalf("no reply to %s; stderr:\n%s", line, errb.String())
		}
		return replies.Text()
	}
	send(`{"src":"c0","dest":"n1","body":{"type":"init","msg_id":1,"node_id":"n1","node_ids":["n1"]}}`)
	for i := range 300 {
		reply := send(requestLine(i+2, "commit_offset", nodeKey{fmt.Sprintf("g%d", i%7), "t", int32(i % 3)}, int64(i)))
		if !strings.Contains(reply, "commit_offset_ok") {
			t.Fatalf("reply %s", reply)
		}
	}
	dir := filepath.Join(dataDir, "n1")
	if held, known, _ := log.LockHeld(dir); known && !held {
		t.Fatal("LockHeld does not see the running node's lock")
	}

	out, stderr, code := runCLI("replay", "--json", dir)
	if code != 0 || strings.Count(out, "\n") != 21 {
		t.Fatalf("replay while the node runs: exit %d, %d lines\n%s", code, strings.Count(out, "\n"), stderr)
	}
	var last offsetJSON
	lines := strings.Split(strings.TrimSpace(out), "\n")
	json.Unmarshal([]byte(lines[len(lines)-1]), &last)
	if last.Group != "g6" || last.Partition != 2 || last.Offset != 293 {
		t.Fatalf("last offset %+v, want g6/t/2 at 293", last)
	}
	for _, args := range [][]string{{"stats"}, {"dump"}, {"verify"}, {"export"}, {"reset-plan", "--group", "g1", "--shift-by", "-1"}} {
		if _, stderr, code := runCLI(append(args, dir)...); code != 0 {
			t.Fatalf("%s while the node runs: exit %d\n%s", args[0], code, stderr)
		}
	}
	for _, c := range []string{"compact", "repair"} {
		_, stderr, code := runCLI(c, dir)
		if code != exitUsage || !strings.Contains(stderr, "a running node holds") || !strings.Contains(stderr, "stop the node first") {
			t.Fatalf("%s while the node runs: exit %d, %q", c, code, stderr)
		}
	}

	// An entry the node is in the middle of writing: its first bytes only,
	// where the node writes it, over the segment's preallocated space.
	e := log.EncodeEntry(301, commitRec("g", "t", 0, 1, "", ts(0)))
	if err := writeAfterLast(dir, frame(e)[:20]); err != nil {
		t.Fatal(err)
	}
	out, stderr, code = runCLI("verify", dir)
	if code != 0 || !strings.Contains(out, "in-progress") || !strings.Contains(out, "a node is running") {
		t.Fatalf("verify with a write in progress: exit %d\n%s%s", code, out, stderr)
	}
	_, stderr, code = runCLI("replay", dir)
	if code != 0 || !strings.Contains(stderr, "is writing entry 301 at wal/00000000000000000001 byte ") || strings.Contains(stderr, "bytes of it") {
		t.Fatalf("replay with a write in progress: exit %d\n%s", code, stderr)
	}
	stdin.Close()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the node did not stop at EOF")
	}
}

// writeAfterLast writes b right after the last entry of the newest wal
// segment, where a running node writes its next one: over unused
// preallocated space rather than after it.
func writeAfterLast(dir string, b []byte) error {
	segs, err := segmentsOf(dir)
	if err != nil || len(segs) == 0 {
		return fmt.Errorf("no segments: %v", err)
	}
	newest := segs[len(segs)-1]
	var end int64
	if _, err := log.Scan(dir, log.ScanOptions{Entry: func(en log.EntryInfo) error {
		if en.Path == newest {
			end = en.Offset + int64(en.Size)
		}
		return nil
	}}); err != nil {
		return err
	}
	f, err := os.OpenFile(newest, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteAt(b, end); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
