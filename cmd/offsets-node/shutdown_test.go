package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestFlagsRejected checks that nonsense flag values are refused with exit
// status 2 and a message naming the flag, before anything is opened.
func TestFlagsRejected(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--data-dir", ""}, "--data-dir is empty"},
		{[]string{"--max-batch", "0"}, "--max-batch must be at least 1"},
		{[]string{"--max-batch", "-5"}, "--max-batch must be at least 1"},
		{[]string{"--segment-size", "4096"}, "--segment-size must be at least 65536"},
		{[]string{"--segment-size", "-1"}, "--segment-size must be at least 65536"},
		{[]string{"--stop-timeout", "0s"}, "--stop-timeout must be positive"},
		{[]string{"--stop-timeout", "-1s"}, "--stop-timeout must be positive"},
		{[]string{"--tombstone-retention", "-1h"}, "--tombstone-retention must be positive"},
		{[]string{"--offsets-retention", "-1h"}, "--offsets-retention must be 0 (off) or positive"},
		{[]string{"--retention-check-interval", "0s"}, "--retention-check-interval must be positive"},
		{[]string{"--compact-dirty-ratio", "1"}, "--compact-dirty-ratio must be in (0, 1)"},
		{[]string{"--compact-dirty-ratio", "NaN"}, "--compact-dirty-ratio must be in (0, 1)"},
		{[]string{"--sync", "sometimes"}, "--sync must be fsync or none"},
		{[]string{"extra"}, `unexpected argument "extra"`},
		{[]string{"--max-batch", "many"}, `invalid value "many" for flag -max-batch`},
	}
	bin := nodeBinary(t)
	for _, c := range cases {
		cmd := exec.Command(bin, c.args...)
		cmd.Stdin = strings.NewReader(initLine + "\n")
		var out, errb strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		if code != 2 || !strings.Contains(errb.String(), c.want) || out.Len() > 0 {
			t.Errorf("%q: exit %d, stdout %q, stderr:\n%s\nwant exit 2 and %q", c.args, code, out.String(), errb.String(), c.want)
		}
	}
}

// TestHelp checks that --help exits 0 and lists every flag as --name ARG.
func TestHelp(t *testing.T) {
	cmd := exec.Command(nodeBinary(t), "--help")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("--help: %v", err)
	}
	for _, want := range []string{"\n  --sync fsync|none (default fsync)\n", "\n  --max-batch N (default 4096)\n",
		"\n  --segment-size BYTES (default 4 MiB)\n", "\n  --data-dir DIR\n", "\n  --stop-timeout D (default 5s)\n",
		"\n  --tombstone-retention D (default 24h)\n", "Exit status:"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("--help lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(string(out), "mode:") {
		t.Errorf("--help still reads -sync mode / mode: ...:\n%s", out)
	}
}

// TestTemporaryDataDir checks that without --data-dir the start line says
// in words that the directory is temporary, and that it is removed.
func TestTemporaryDataDir(t *testing.T) {
	cmd := exec.Command(nodeBinary(t))
	cmd.Stdin = strings.NewReader(initLine + "\n" + commitLine(2, "g", 0, 1) + "\n")
	var errb strings.Builder
	cmd.Stderr = &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%v\n%s", err, errb.String())
	}
	line := ""
	for _, l := range strings.Split(errb.String(), "\n") {
		if strings.Contains(l, "msg=\"starting") {
			line = l
		}
	}
	if !strings.Contains(line, "temporary data directory, removed at exit") {
		t.Fatalf("start line %q does not say the directory is temporary", line)
	}
	i := strings.Index(line, "data_dir=")
	dir := strings.Fields(line[i+len("data_dir="):])[0]
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("temporary directory %s left behind: %v", dir, err)
	}
}

// TestUnusableDirAtInit checks what the README says of a directory that
// cannot be used: the node answers init with error 13 naming the cause,
// answers nothing after it, logs "stopping on error" and exits 1.
func TestUnusableDirAtInit(t *testing.T) {
	dir := t.TempDir()
	// A file where the node's directory should be: it cannot be created,
	// whoever runs the test (root too).
	if err := os.WriteFile(filepath.Join(dir, "n1"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	out, stderr, code := runOnce(t, dir, initLine+"\n"+fetchLine(2, "g", 0)+"\n")
	rs := parseReplies(t, out)
	if code != 1 || len(rs) != 1 || rs[0].Body.Code != 13 || !strings.HasPrefix(rs[0].Body.Text, "cannot open the offsets log: ") ||
		!strings.Contains(stderr, `msg="stopping on error"`) {
		t.Fatalf("exit %d, stdout:\n%s\nstderr:\n%s", code, out, stderr)
	}
}

// stoppingNode is a node process whose stdout the test reads only when it
// chooses, and whose stderr lines it watches.
type stoppingNode struct {
	cmd      *exec.Cmd
	in       io.WriteCloser
	out      io.ReadCloser
	stderr   *lockedBuffer
	marker   chan struct{} // closed at the first WARN line: the node parsed the marker
	stopping chan struct{} // closed at the line saying the node is stopping on a signal
}

func startStopping(t *testing.T, dataDir string, extra ...string) *stoppingNode {
	t.Helper()
	cmd := exec.Command(nodeBinary(t), append([]string{"--data-dir", dataDir}, extra...)...)
	in, _ := cmd.StdinPipe()
	// A pipe of our own for stdout, which Wait does not close: what the
	// node wrote can be read after it exits.
	out, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { out.Close() })
	// The smallest pipe (a page), so that a few dozen replies block it.
	const fSetPipeSz = 1031
	if _, _, e := syscall.Syscall(syscall.SYS_FCNTL, outW.Fd(), fSetPipeSz, 4096); e != 0 {
		t.Fatalf("F_SETPIPE_SZ: %v", e)
	}
	cmd.Stdout = outW
	errPipe, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	outW.Close()
	n := &stoppingNode{cmd: cmd, in: in, out: out, stderr: &lockedBuffer{}, marker: make(chan struct{}), stopping: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(errPipe)
		seen, stopping := false, false
		for sc.Scan() {
			fmt.Fprintln(n.stderr, sc.Text())
			if !seen && strings.Contains(sc.Text(), "level=WARN") {
				seen = true
				close(n.marker)
			}
			if !stopping && strings.Contains(sc.Text(), `msg="stopping on a signal`) {
				stopping = true
				close(n.stopping)
			}
		}
	}()
	return n
}

// feed writes init, commits 0..n-1 (partition i%50, offset i), a line
// that is not a message, and then more commits in one write small enough
// to be atomic, so that when the node has parsed the marker it has read
// those commits too.
func (n *stoppingNode) feed(t *testing.T, commits, after int) {
	t.Helper()
	var b strings.Builder
	b.WriteString(initLine + "\n")
	for i := 0; i < commits; i++ {
		b.WriteString(commitLine(i+2, "g", i%50, int64(i)) + "\n")
	}
	tail := "not a message\n"
	for i := commits; i < commits+after; i++ {
		tail += commitLine(i+2, "g", i%50, int64(i)) + "\n"
	}
	if len(tail) > 4096 {
		t.Fatalf("tail of %d bytes is not one atomic pipe write", len(tail))
	}
	go func() {
		io.WriteString(n.in, b.String())
		io.WriteString(n.in, tail)
	}()
	select {
	case <-n.marker:
	case <-time.After(time.Minute):
		n.cmd.Process.Kill()
		t.Fatalf("the node never parsed the marker line; stderr:\n%s", n.stderr)
	}
}

// wait waits for the node to exit, killing it after a generous minute.
func (n *stoppingNode) wait(t *testing.T) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- n.cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(time.Minute):
		n.cmd.Process.Kill()
		<-done
		t.Fatalf("the node did not exit within a minute of SIGTERM; stderr:\n%s", n.stderr)
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return 0
}

// checkAcked restarts the node and checks that every acknowledged commit
// (offsets only grow per partition) is there.
func checkAcked(t *testing.T, dir string, replies []reply) {
	t.Helper()
	acked := map[string]int64{}
	for _, r := range replies {
		if r.Body.Type == "commit_offset_ok" {
			i := r.Body.InReplyTo - 2
			acked[fmt.Sprintf("g/%d", i%50)] = max(acked[fmt.Sprintf("g/%d", i%50)], int64(i))
		}
	}
	got, stderr := fetchAll(t, dir, []string{"g"}, 50)
	for k, v := range acked {
		if got[k] < v {
			t.Fatalf("%s = %d after restart, acknowledged %d", k, got[k], v)
		}
	}
	if strings.Contains(stderr, "torn tail") {
		t.Fatalf("the log was not closed cleanly:\n%s", stderr)
	}
}

// TestSIGTERMAnswersEveryRequestRead pipes 320 commits into a node whose
// stdout (a 4 KiB pipe) is not read, so that most of them are read but not
// answered, waits until the node has parsed a marker line after 300 of
// them, sends SIGTERM and only then reads stdout: every request read is
// answered, and the node exits 0.
func TestSIGTERMAnswersEveryRequestRead(t *testing.T) {
	dir := t.TempDir()
	n := startStopping(t, dir, "--stop-timeout", "10m")
	n.feed(t, 300, 20)
	n.cmd.Process.Signal(syscall.SIGTERM)
	out, err := io.ReadAll(n.out)
	if err != nil {
		t.Fatal(err)
	}
	if code := n.wait(t); code != 0 {
		t.Fatalf("exit %d after SIGTERM; stderr:\n%s", code, n.stderr)
	}
	replies := parseReplies(t, string(out))
	if len(replies) != 321 {
		t.Fatalf("%d replies to the 321 requests read; stderr:\n%s", len(replies), n.stderr)
	}
	for _, r := range replies[1:] {
		if r.Body.Type != "commit_offset_ok" {
			t.Fatalf("reply %+v", r.Body)
		}
	}
	if !strings.Contains(n.stderr.String(), "msg=stopped") {
		t.Fatalf("no stop line:\n%s", n.stderr)
	}
	checkAcked(t, dir, replies)
}

// TestSIGTERMStdoutNeverRead stops a node whose stdout is never read: it
// exits 3 after --stop-timeout with a WARN line, with the log closed
// cleanly and every reply it did write durable.
func TestSIGTERMStdoutNeverRead(t *testing.T) {
	dir := t.TempDir()
	n := startStopping(t, dir, "--stop-timeout", "1s")
	n.feed(t, 300, 20)
	n.cmd.Process.Signal(syscall.SIGTERM)
	if code := n.wait(t); code != 3 {
		t.Fatalf("exit %d after SIGTERM with stdout blocked, want 3; stderr:\n%s", code, n.stderr)
	}
	if s := n.stderr.String(); !strings.Contains(s, `level=WARN msg="stopping without writing every reply`) ||
		!strings.Contains(s, "stop_timeout=1s") {
		t.Fatalf("no WARN line for the unwritten replies:\n%s", s)
	}
	// The replies the node wrote are still in the pipe, the last one
	// perhaps cut short.
	out, _ := io.ReadAll(n.out)
	whole := string(out[:strings.LastIndexByte(string(out), '\n')+1])
	if whole == "" {
		t.Fatal("the node wrote no reply")
	}
	replies := parseReplies(t, whole)
	if len(replies) < 2 || len(replies) >= 321 {
		t.Fatalf("%d replies in the pipe: stdout was not blocked", len(replies))
	}
	checkAcked(t, dir, replies)
}

// TestSecondSignalKills checks that a node waiting for a blocked stdout
// after SIGTERM dies at once on a second one, and that what it had written
// is durable.
func TestSecondSignalKills(t *testing.T) {
	dir := t.TempDir()
	n := startStopping(t, dir, "--stop-timeout", "10m")
	n.feed(t, 300, 20)
	n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.stopping:
	case <-time.After(time.Minute):
		n.cmd.Process.Kill()
		t.Fatalf("no stopping line; stderr:\n%s", n.stderr)
	}
	n.cmd.Process.Signal(syscall.SIGTERM)
	n.wait(t)
	if ws := n.cmd.ProcessState.Sys().(syscall.WaitStatus); !ws.Signaled() || ws.Signal() != syscall.SIGTERM {
		t.Fatalf("exit %v, want killed by SIGTERM; stderr:\n%s", n.cmd.ProcessState, n.stderr)
	}
	out, _ := io.ReadAll(n.out)
	if whole := string(out[:strings.LastIndexByte(string(out), '\n')+1]); whole != "" {
		acked := parseReplies(t, whole)
		got, _ := fetchAll(t, dir, []string{"g"}, 50)
		for _, r := range acked {
			if i := r.Body.InReplyTo - 2; r.Body.Type == "commit_offset_ok" && got[fmt.Sprintf("g/%d", i%50)] < int64(i) {
				t.Fatalf("commit %d acknowledged but lost", i)
			}
		}
	}
}
