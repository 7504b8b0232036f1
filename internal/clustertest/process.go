// Package clustertest runs clusters of real node processes for tests: a
// Maelstrom router (Router) that starts N processes and carries each line
// a node writes to the stdin of its dest, with per-link drops to make
// partitions; and a TCP cluster (TCP) of processes that reach each other on
// loopback ports and are driven through their stdin and stdout. Both can
// kill -9 a node and restart it on the same command line, and both collect
// the lines addressed to clients for the test to read.
//
// The harness knows nothing of the offsets node: the command line of each
// node is a parameter, so it is tested with a small program of its own
// (testdata/echonode) before the cluster uses it.
package clustertest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/valyala/fastjson"
)

// ErrStopped means the node's process is not running.
var ErrStopped = errors.New("clustertest: node not running")

// Message is one line a node wrote to a client.
type Message struct {
	Src, Dest string
	Body      json.RawMessage
	Line      []byte // the whole line, without its newline
}

// Type returns the body's type.
func (m Message) Type() string { return fastjson.GetString(m.Body, "type") }

// InReplyTo returns the body's in_reply_to, or 0.
func (m Message) InReplyTo() int64 { return int64(fastjson.GetInt(m.Body, "in_reply_to")) }

// process is one node's process, restartable on the same command line.
type process struct {
	name   string
	argv   []string
	stderr *os.File
	onLine func(line []byte) // called on the stdout reader's goroutine

	mu      sync.Mutex
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	inbox   chan []byte   // lines for stdin, written by the writer goroutine
	exited  chan struct{} // closed when the current process has been waited for
	readers sync.WaitGroup
	waitErr error
}

func newProcess(name string, argv []string, logDir string, onLine func([]byte)) (*process, error) {
	f, err := os.OpenFile(filepath.Join(logDir, name+".stderr"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	return &process{name: name, argv: argv, stderr: f, onLine: onLine}, nil
}

// start starts the process; it must not be running.
func (p *process) start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		return fmt.Errorf("clustertest: %s is running", p.name)
	}
	cmd := exec.Command(p.argv[0], p.argv[1:]...)
	cmd.Stderr = p.stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("clustertest: start %s: %w", p.name, err)
	}
	p.cmd, p.stdin = cmd, stdin
	p.inbox = make(chan []byte, 1<<14)
	p.exited = make(chan struct{})
	inbox, exited := p.inbox, p.exited
	p.readers.Add(2)
	go func() { // stdin writer
		defer p.readers.Done()
		w := bufio.NewWriterSize(stdin, 1<<16)
		for {
			select {
			case line := <-inbox:
				w.Write(line)
				for len(inbox) > 0 && w.Buffered() < 1<<20 {
					w.Write(<-inbox)
				}
				if w.Flush() != nil {
					return // the process is gone; lines to it are lost
				}
			case <-exited:
				return
			}
		}
	}()
	go func() { // stdout reader, then reaper
		defer p.readers.Done()
		r := bufio.NewReaderSize(stdout, 1<<16)
		for {
			line, err := r.ReadBytes('\n')
			if len(line) > 0 && line[len(line)-1] == '\n' {
				p.onLine(line[:len(line)-1])
			}
			if err != nil {
				break
			}
		}
		err := cmd.Wait()
		p.mu.Lock()
		p.waitErr = err
		if p.cmd == cmd {
			p.cmd = nil
		}
		p.mu.Unlock()
		close(exited)
	}()
	return nil
}

// send queues a line (with its newline) for the process's stdin. When
// block is false and the process is behind, the line is dropped, as a
// network would; it reports whether the line was queued.
func (p *process) send(ctx context.Context, line []byte, block bool) error {
	p.mu.Lock()
	inbox, exited, running := p.inbox, p.exited, p.cmd != nil
	p.mu.Unlock()
	if !running {
		return ErrStopped
	}
	if !block {
		select {
		case inbox <- line:
			return nil
		default:
			return fmt.Errorf("clustertest: %s's stdin is full", p.name)
		}
	}
	select {
	case inbox <- line:
		return nil
	case <-exited:
		return ErrStopped
	case <-ctx.Done():
		return ctx.Err()
	}
}

// kill sends SIGKILL and waits until the process has been reaped and its
// output read.
func (p *process) kill() error {
	p.mu.Lock()
	cmd, exited := p.cmd, p.exited
	p.mu.Unlock()
	if cmd == nil {
		return ErrStopped
	}
	cmd.Process.Signal(syscall.SIGKILL)
	<-exited
	p.readers.Wait()
	return nil
}

// stop closes stdin, waits up to timeout for the process to exit on its
// own, kills it otherwise, and returns its exit error (nil for status 0).
func (p *process) stop(timeout time.Duration) error {
	p.mu.Lock()
	cmd, exited, stdin := p.cmd, p.exited, p.stdin
	p.mu.Unlock()
	if cmd == nil {
		return ErrStopped
	}
	stdin.Close()
	select {
	case <-exited:
	case <-time.After(timeout):
		cmd.Process.Signal(syscall.SIGKILL)
		<-exited
	}
	p.readers.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.waitErr
}

func (p *process) running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd != nil
}

func (p *process) pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// clients is what both clusters share: the processes, the queue of lines
// addressed to clients, and the requests a test sends.
type clients struct {
	t     testing.TB
	nodes []string
	procs map[string]*process

	mu    sync.Mutex
	queue []Message
	// grown is closed (and replaced) when queue grows: a broadcast, so
	// that every waiting Call looks again, not just one that may be
	// waiting for another reply.
	grown chan struct{}
	msgID int64
	bad   []string // lines that were not messages
}

func (c *clients) init(t testing.TB) {
	c.t = t
	c.procs = make(map[string]*process)
	c.grown = make(chan struct{})
}

// deliver queues a line addressed to a client.
func (c *clients) deliver(m Message) {
	c.mu.Lock()
	c.queue = append(c.queue, m)
	close(c.grown)
	c.grown = make(chan struct{})
	c.mu.Unlock()
}

func (c *clients) badLine(from string, line []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.bad) < 100 {
		c.bad = append(c.bad, fmt.Sprintf("%s: %.300s", from, line))
	}
}

// BadLines returns (up to 100 of) the stdout lines that were not Maelstrom
// messages, prefixed by the node that wrote them.
func (c *clients) BadLines() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.bad...)
}

// Nodes returns the node names.
func (c *clients) Nodes() []string { return append([]string(nil), c.nodes...) }

// Send writes a request from client src to node dest's stdin, adding a
// msg_id unless body has one, and returns the msg_id.
func (c *clients) Send(ctx context.Context, src, dest string, body map[string]any) (int64, error) {
	p := c.procs[dest]
	if p == nil {
		return 0, fmt.Errorf("clustertest: no node %q", dest)
	}
	b := make(map[string]any, len(body)+1)
	for k, v := range body {
		b[k] = v
	}
	if _, ok := b["msg_id"]; !ok {
		c.mu.Lock()
		c.msgID++
		b["msg_id"] = c.msgID
		c.mu.Unlock()
	}
	id, err := toInt64(b["msg_id"])
	if err != nil {
		return 0, err
	}
	line, err := json.Marshal(map[string]any{"src": src, "dest": dest, "body": b})
	if err != nil {
		return 0, err
	}
	return id, p.send(ctx, append(line, '\n'), true)
}

func toInt64(v any) (int64, error) {
	switch n := v.(type) {
	case int:
		return int64(n), nil
	case int64:
		return n, nil
	case float64:
		return int64(n), nil
	case json.Number:
		return n.Int64()
	}
	return 0, fmt.Errorf("clustertest: msg_id %v is not an integer", v)
}

// Recv returns the next line addressed to a client, in arrival order.
func (c *clients) Recv(ctx context.Context) (Message, error) {
	return c.take(ctx, func(Message) bool { return true })
}

// Call sends body from client src to dest and waits for the reply whose
// in_reply_to is its msg_id; other client lines stay queued for Recv.
func (c *clients) Call(ctx context.Context, src, dest string, body map[string]any) (Message, error) {
	id, err := c.Send(ctx, src, dest, body)
	if err != nil {
		return Message{}, err
	}
	return c.take(ctx, func(m Message) bool { return m.Dest == src && m.InReplyTo() == id })
}

// take removes and returns the first queued message that match accepts.
func (c *clients) take(ctx context.Context, match func(Message) bool) (Message, error) {
	for {
		c.mu.Lock()
		for i, m := range c.queue {
			if match(m) {
				c.queue = append(c.queue[:i], c.queue[i+1:]...)
				c.mu.Unlock()
				return m, nil
			}
		}
		grown := c.grown
		c.mu.Unlock()
		select {
		case <-grown:
		case <-ctx.Done():
			return Message{}, ctx.Err()
		}
	}
}

// Init sends Maelstrom's init to each of nodes (every node when none is
// named), from client c0 with node_ids all the nodes, and waits for each
// init_ok.
func (c *clients) Init(ctx context.Context, nodes ...string) error {
	if len(nodes) == 0 {
		nodes = c.nodes
	}
	for _, n := range nodes {
		m, err := c.Call(ctx, "c0", n, map[string]any{"type": "init", "node_id": n, "node_ids": c.nodes})
		if err != nil {
			return fmt.Errorf("clustertest: init %s: %w", n, err)
		}
		if m.Type() != "init_ok" {
			return fmt.Errorf("clustertest: init %s: %s", n, m.Line)
		}
	}
	return nil
}

// Kill sends SIGKILL to node and waits for it to be gone.
func (c *clients) Kill(node string) error {
	p := c.procs[node]
	if p == nil {
		return fmt.Errorf("clustertest: no node %q", node)
	}
	return p.kill()
}

// Restart starts node again on the same command line; it must have been
// killed or stopped.
func (c *clients) Restart(node string) error {
	p := c.procs[node]
	if p == nil {
		return fmt.Errorf("clustertest: no node %q", node)
	}
	return p.start()
}

// Stop closes node's stdin and waits up to timeout for it to exit, then
// kills it; it returns the process's exit error.
func (c *clients) Stop(node string, timeout time.Duration) error {
	p := c.procs[node]
	if p == nil {
		return fmt.Errorf("clustertest: no node %q", node)
	}
	return p.stop(timeout)
}

// Running reports whether node's process runs.
func (c *clients) Running(node string) bool { return c.procs[node] != nil && c.procs[node].running() }

// Pid returns node's process id, or 0.
func (c *clients) Pid(node string) int { return c.procs[node].pid() }

// Stderr returns what node wrote to stderr, over all its runs.
func (c *clients) Stderr(node string) string {
	b, _ := os.ReadFile(c.procs[node].stderr.Name())
	return string(b)
}

// Close stops every node (closing stdin, then SIGKILL after 10 s).
func (c *clients) Close() {
	for _, p := range c.procs {
		if p.running() {
			p.stop(10 * time.Second)
		}
		p.stderr.Close()
	}
}

// parseLine splits a Maelstrom line into its envelope.
func parseLine(line []byte) (Message, bool) {
	var p fastjson.Parser
	v, err := p.ParseBytes(line)
	if err != nil {
		return Message{}, false
	}
	src, dest, body := v.GetStringBytes("src"), v.GetStringBytes("dest"), v.Get("body")
	if src == nil || dest == nil || body == nil || body.Type() != fastjson.TypeObject {
		return Message{}, false
	}
	l := append([]byte(nil), line...)
	return Message{Src: string(src), Dest: string(dest), Body: body.MarshalTo(nil), Line: l}, true
}
