package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"time"
)

// errReply means the node answered a request with something other than the
// expected reply.
var errReply = errors.New("bench: unexpected reply")

// nodeProc is a running offsets-node driven through pipes, for the
// measurements that need to talk to it one request at a time or watch its
// log lines as they come: latency, restart, the log's size over time.
type nodeProc struct {
	cmd        *exec.Cmd
	stdin      io.WriteCloser
	stdout     *bufio.Reader
	stderrPath string
	stderrDone chan struct{}
	started    time.Time

	mu     sync.Mutex
	events []nodeEvent
}

// nodeEvent is one "compacted" or "recovered" line of the node's stderr, with
// the time it arrived on our clock.
type nodeEvent struct {
	At     time.Time
	Msg    string
	Fields logLine
}

// startNode starts bin with args, its stderr copied to stderrPath.
func startNode(bin string, args []string, stderrPath string) (*nodeProc, error) {
	cmd := exec.Command(bin, args...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	logFile, err := os.Create(stderrPath)
	if err != nil {
		return nil, err
	}
	p := &nodeProc{cmd: cmd, stdin: stdin, stdout: bufio.NewReaderSize(stdout, 1<<16),
		stderrPath: stderrPath, stderrDone: make(chan struct{})}
	p.started = time.Now()
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, err
	}
	go func() {
		defer close(p.stderrDone)
		defer logFile.Close()
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			at := time.Now()
			logFile.Write(sc.Bytes())
			logFile.Write([]byte{'\n'})
			if !bytes.Contains(sc.Bytes(), []byte("msg=compacted")) && !bytes.Contains(sc.Bytes(), []byte("msg=recovered")) {
				continue
			}
			f := parseLogLine(sc.Text())
			p.mu.Lock()
			p.events = append(p.events, nodeEvent{At: at, Msg: f["msg"], Fields: f})
			p.mu.Unlock()
		}
	}()
	return p, nil
}

// eventsOf returns the events with message msg seen so far.
func (p *nodeProc) eventsOf(msg string) []nodeEvent {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []nodeEvent
	for _, e := range p.events {
		if e.Msg == msg {
			out = append(out, e)
		}
	}
	return out
}

// resetPeakRSS resets the node's peak resident set size (VmHWM) to its
// current one, by writing 5 to /proc/PID/clear_refs (Linux 4.0 and later),
// so that a later peakRSS covers only what happened after the call.
func (p *nodeProc) resetPeakRSS() error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", p.cmd.Process.Pid), []byte("5"), 0)
}

// peakRSS returns the node's peak resident set size in bytes: the VmHWM line
// of /proc/PID/status. The node must still be running.
func (p *nodeProc) peakRSS() (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	return parseVmHWM(b)
}

// parseVmHWM returns the VmHWM field of a /proc/PID/status file in bytes.
func parseVmHWM(status []byte) (int64, error) {
	for line := range bytes.Lines(status) {
		rest, ok := bytes.CutPrefix(line, []byte("VmHWM:"))
		if !ok {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) != 2 || string(f[1]) != "kB" {
			return 0, fmt.Errorf("bench: VmHWM line %q", bytes.TrimSpace(line))
		}
		kb, err := strconv.ParseInt(string(f[0]), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("bench: VmHWM line %q: %w", bytes.TrimSpace(line), err)
		}
		return kb << 10, nil
	}
	return 0, errors.New("bench: no VmHWM line in /proc/PID/status")
}

// send writes one request line.
func (p *nodeProc) send(line []byte) error {
	_, err := p.stdin.Write(line)
	return err
}

// readReply reads one reply line; it stays valid until the next read.
func (p *nodeProc) readReply() ([]byte, error) {
	line, err := p.stdout.ReadSlice('\n')
	if err != nil {
		return nil, fmt.Errorf("read reply: %w\n%s", err, stderrTail(p.stderrPath, 10))
	}
	return line, nil
}

// init sends the init message and waits for init_ok.
func (p *nodeProc) init() error {
	if err := p.send([]byte(initLine)); err != nil {
		return err
	}
	reply, err := p.readReply()
	if err != nil {
		return err
	}
	if !bytes.Contains(reply, []byte(`"type": "init_ok"`)) {
		return fmt.Errorf("%w to init: %s", errReply, bytes.TrimSpace(reply))
	}
	return nil
}

// commit sends one commit_offset and waits for its reply.
func (p *nodeProc) commit(buf []byte, msgID int64, key int, offset int64) ([]byte, error) {
	buf = appendCommit(buf[:0], msgID, key, offset)
	if err := p.send(buf); err != nil {
		return buf, err
	}
	reply, err := p.readReply()
	if err != nil {
		return buf, err
	}
	want := expectedReplyPrefix(true, msgID, 0)
	if !bytes.HasPrefix(reply, []byte(want)) {
		return buf, fmt.Errorf("%w to msg_id %d: %s", errReply, msgID, bytes.TrimSpace(reply))
	}
	return buf, nil
}

// stop closes stdin, which makes the node finish and exit, and waits for it
// at most timeout before killing it.
func (p *nodeProc) stop(timeout time.Duration) error {
	p.stdin.Close()
	drained := make(chan struct{})
	go func() {
		io.Copy(io.Discard, p.stdout)
		<-p.stderrDone
		close(drained)
	}()
	select {
	case <-drained:
	case <-time.After(timeout):
		p.cmd.Process.Kill()
		<-drained
		p.cmd.Wait()
		return fmt.Errorf("node did not exit within %v after EOF; killed\n%s", timeout, stderrTail(p.stderrPath, 10))
	}
	if err := p.cmd.Wait(); err != nil {
		return fmt.Errorf("node: %w\n%s", err, stderrTail(p.stderrPath, 10))
	}
	return nil
}

// appendCommit appends a commit_offset request for key (numbered as in
// keyFields) to buf.
func appendCommit(buf []byte, msgID int64, key int, offset int64) []byte {
	group, topic, partition := keyFields(key)
	buf = append(buf, `{"src":"c1","dest":"n1","body":{"type":"commit_offset","msg_id":`...)
	buf = strconv.AppendInt(buf, msgID, 10)
	buf = append(buf, `,"group":"`...)
	buf = append(buf, group...)
	buf = append(buf, `","topic":"`...)
	buf = append(buf, topic...)
	buf = append(buf, `","partition":`...)
	buf = strconv.AppendInt(buf, int64(partition), 10)
	buf = append(buf, `,"offset":`...)
	buf = strconv.AppendInt(buf, offset, 10)
	return append(buf, "}}\n"...)
}
