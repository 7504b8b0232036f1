package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

var (
	// errReplyCount means a process sent a different number of reply lines
	// than it got input lines.
	errReplyCount = errors.New("bench: wrong number of reply lines")
	// errLastReply means the reply to the last request was missing or wrong.
	errLastReply = errors.New("bench: reply to the last request missing or wrong")
)

// tailBytes is how much of the end of stdout a run keeps to find the reply to
// the last request. 4 MiB is some 35,000 replies, room for a node that sends
// a batch of commit acknowledgements after a later fetch's reply.
const tailBytes = 4 << 20

// variant is one way of serving the workload that the benchmark measures.
type variant struct {
	ID    string   // short name for -variants and the CSV
	Label string   // name in the table and progress lines
	Argv  []string // command and arguments; --data-dir D is appended when DataDir is set
	// DataDir says whether the command takes --data-dir.
	DataDir  bool
	Workload *workload
	Note     string
}

// runResult is one timed run of a variant.
type runResult struct {
	Variant  string // variant ID
	Run      int    // 1-based
	Requests int
	Seconds  float64
}

// perSecond returns the throughput of the run in requests per second.
func (r runResult) perSecond() float64 {
	if r.Seconds <= 0 {
		return 0
	}
	return float64(r.Requests) / r.Seconds
}

// measure runs v once on its workload and returns how long it took. workDir
// receives a fresh data directory, removed after a successful run, and the
// process's stderr as <id>-run<N>.stderr.
func measure(ctx context.Context, v variant, run int, workDir string, timeout time.Duration) (runResult, error) {
	res := runResult{Variant: v.ID, Run: run, Requests: v.Workload.Requests}

	in, err := os.Open(v.Workload.Path)
	if err != nil {
		return res, err
	}
	defer in.Close()
	stderrPath := filepath.Join(workDir, fmt.Sprintf("%s-run%d.stderr", v.ID, run))
	stderr, err := os.Create(stderrPath)
	if err != nil {
		return res, err
	}
	defer stderr.Close()

	args := v.Argv[1:]
	var dataDir string
	if v.DataDir {
		dataDir, err = os.MkdirTemp(workDir, v.ID+"-data-")
		if err != nil {
			return res, err
		}
		args = append(args[:len(args):len(args)], "--data-dir", dataDir)
	}

	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, v.Argv[0], args...)
	// Files, not pipes fed by Go, so reading input costs the harness nothing.
	cmd.Stdin = in
	cmd.Stderr = stderr
	// Once the process is gone, stop waiting for stdout to close after
	// this long: a child it left behind may hold the pipe open.
	cmd.WaitDelay = 5 * time.Second
	counter := &replyCounter{tailSize: tailBytes}
	cmd.Stdout = counter

	start := time.Now()
	if err := cmd.Start(); err != nil {
		return res, err
	}
	waitErr := cmd.Wait() // returns after exit and stdout EOF
	res.Seconds = time.Since(start).Seconds()
	lines, tail, readErr := counter.lines, counter.tail, counter.err

	fail := func(err error) (runResult, error) {
		return res, fmt.Errorf("%s run %d: %w\n%s", v.Label, run, err, stderrTail(stderrPath, 20))
	}
	switch {
	case ctx.Err() != nil:
		return fail(fmt.Errorf("killed after %v: %w", timeout, ctx.Err()))
	case waitErr != nil:
		return fail(fmt.Errorf("%v (sent %d reply lines)", waitErr, lines))
	case readErr != nil:
		return fail(fmt.Errorf("read stdout: %w", readErr))
	case lines != int64(v.Workload.Requests+1):
		return fail(fmt.Errorf("%w: got %d, want %d (%d requests + init)",
			errReplyCount, lines, v.Workload.Requests+1, v.Workload.Requests))
	}
	if err := checkLastReply(tail, v.Workload.LastReply); err != nil {
		return fail(err)
	}
	if dataDir != "" {
		os.RemoveAll(dataDir)
	}
	return res, nil
}

// replyCounter is the stdout of a measured process. os/exec copies the
// process's stdout into it, and io.Copy hands the whole pipe to ReadFrom, so
// every byte goes through countReplies.
type replyCounter struct {
	tailSize int
	lines    int64
	tail     []byte
	err      error
}

// ReadFrom counts the reply lines in r until EOF.
func (c *replyCounter) ReadFrom(r io.Reader) (int64, error) {
	var n int64
	c.lines, n, c.tail, c.err = countReplies(r, c.tailSize)
	return n, c.err
}

// Write is never called while ReadFrom is in use; it exists so that
// replyCounter is an io.Writer, and counts correctly if it is called.
func (c *replyCounter) Write(p []byte) (int, error) {
	c.lines += int64(bytes.Count(p, []byte{'\n'}))
	c.tail = keepTail(c.tail, p, c.tailSize)
	return len(p), nil
}

// countReplies reads r to EOF and returns the number of '\n' bytes in it, the
// number of bytes, and the last tailSize bytes (fewer if r is shorter).
func countReplies(r io.Reader, tailSize int) (lines, total int64, tail []byte, err error) {
	br := bufio.NewReaderSize(r, 1<<20)
	buf := make([]byte, 256<<10)
	for {
		n, err := br.Read(buf)
		total += int64(n)
		lines += int64(bytes.Count(buf[:n], []byte{'\n'}))
		tail = keepTail(tail, buf[:n], tailSize)
		if err == io.EOF {
			if len(tail) > tailSize {
				tail = tail[len(tail)-tailSize:]
			}
			return lines, total, tail, nil
		}
		if err != nil {
			return lines, total, tail, err
		}
	}
}

// keepTail appends p to tail and, once tail holds twice size, drops all but
// its last size bytes. Callers trim to size at the end.
func keepTail(tail, p []byte, size int) []byte {
	if size <= 0 {
		return tail[:0]
	}
	tail = append(tail, p...)
	if len(tail) >= 2*size {
		tail = append(tail[:0], tail[len(tail)-size:]...)
	}
	return tail
}

// checkLastReply reports whether a whole line of tail starts with want, the
// expected reply to the last request without its msg_id.
func checkLastReply(tail []byte, want string) error {
	for line := range bytes.Lines(tail) {
		if bytes.HasPrefix(line, []byte(want)) && bytes.HasSuffix(line, []byte("}}\n")) {
			return nil
		}
	}
	last := tail
	if i := bytes.LastIndexByte(bytes.TrimSuffix(tail, []byte("\n")), '\n'); i >= 0 {
		last = tail[i+1:]
	}
	return fmt.Errorf("%w: no reply line starting %s in the last %d bytes of stdout; last line: %s",
		errLastReply, want, len(tail), bytes.TrimSpace(last))
}

// stderrTail returns the last n lines of the file at path, indented, for
// error messages.
func stderrTail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "  (no stderr: " + err.Error() + ")"
	}
	b = bytes.TrimRight(b, "\n")
	if len(b) == 0 {
		return "  (stderr " + path + " is empty)"
	}
	lines := bytes.Split(b, []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	var out bytes.Buffer
	fmt.Fprintf(&out, "  last %d lines of %s:\n", len(lines), path)
	for _, l := range lines {
		out.WriteString("  | ")
		out.Write(l)
		out.WriteByte('\n')
	}
	return out.String()
}
