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
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fastjson"

	"github.com/maelstrom-offsets/offsets/internal/clustertest"
)

// errNoLeader means the cluster did not settle on a leader in time.
var errNoLeader = errors.New("bench: no leader")

// member is one offsets-node process of the cluster section, driven through
// its pipes: requests written to stdin, every stdout line handed to the
// waiter registered for its in_reply_to, or counted. It can be killed and
// restarted on the same command line and data directory.
type member struct {
	name   string
	argv   []string
	init   string // the init line
	stderr string // path its stderr is appended to

	mu      sync.Mutex
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	exited  chan struct{}
	waiters map[int64]chan<- []byte
	nextID  int64

	// Lines without a waiter: counted, and those with an error body too;
	// countDone is closed when lines reaches countTarget.
	lines       atomic.Int64
	errLines    atomic.Int64
	countTarget atomic.Int64
	countDone   chan struct{}
	firstErr    atomic.Value // string: the first error line counted
}

func newMember(name string, argv []string, init, stderr string) *member {
	return &member{name: name, argv: argv, init: init, stderr: stderr, nextID: 1 << 40}
}

// start starts the process, sends init and waits for init_ok.
func (m *member) start() error {
	cmd := exec.Command(m.argv[0], m.argv[1:]...)
	f, err := os.OpenFile(m.stderr, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	cmd.Stderr = f
	stdin, err := cmd.StdinPipe()
	if err != nil {
		f.Close()
		return err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		f.Close()
		return err
	}
	if err := cmd.Start(); err != nil {
		f.Close()
		return fmt.Errorf("start %s: %w", m.name, err)
	}
	f.Close() // the child holds its own descriptor
	exited := make(chan struct{})
	m.mu.Lock()
	m.cmd, m.stdin, m.exited = cmd, stdin, exited
	m.waiters = map[int64]chan<- []byte{}
	m.mu.Unlock()
	go func() {
		r := bufio.NewReaderSize(stdout, 1<<20)
		for {
			line, err := r.ReadSlice('\n')
			if err == bufio.ErrBufferFull {
				continue // a line longer than 1 MiB: no reply of ours
			}
			if len(line) > 0 {
				m.dispatch(line)
			}
			if err != nil {
				break
			}
		}
		cmd.Wait()
		close(exited)
	}()
	reply, err := m.call(1, []byte(m.init), 30*time.Second)
	if err != nil {
		return fmt.Errorf("%s: init: %w", m.name, err)
	}
	if !bytes.Contains(reply, []byte(`"init_ok"`)) {
		return fmt.Errorf("%w from %s to init: %s", errReply, m.name, bytes.TrimSpace(reply))
	}
	return nil
}

// dispatch hands line to the waiter of its in_reply_to, or counts it.
func (m *member) dispatch(line []byte) {
	if id := inReplyTo(line); id != 0 {
		m.mu.Lock()
		ch, ok := m.waiters[id]
		if ok {
			delete(m.waiters, id)
		}
		m.mu.Unlock()
		if ok {
			select {
			case ch <- bytes.Clone(line):
			default: // the waiter gave up or has enough
			}
			return
		}
	}
	if bytes.Contains(line, []byte(`"type": "error"`)) {
		if m.errLines.Add(1) == 1 {
			m.firstErr.Store(string(bytes.TrimSpace(line)))
		}
	}
	if n := m.lines.Add(1); n == m.countTarget.Load() {
		m.mu.Lock()
		done := m.countDone
		m.mu.Unlock()
		close(done)
	}
}

// inReplyTo returns a reply line's in_reply_to, or 0. The harness's own
// requests have msg_id 1 (init) or 2^40 and up; the workload's 2 and up,
// so a workload reply has a small one and never finds a waiter.
func inReplyTo(line []byte) int64 {
	i := bytes.Index(line, []byte(`"in_reply_to": `))
	if i < 0 {
		return 0
	}
	rest := line[i+len(`"in_reply_to": `):]
	j := 0
	for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
		j++
	}
	id, _ := strconv.ParseInt(string(rest[:j]), 10, 64)
	return id
}

// id returns a fresh msg_id for a harness request.
func (m *member) id() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.nextID++
	return m.nextID
}

// expect registers ch for the reply to id.
func (m *member) expect(id int64, ch chan<- []byte) {
	m.mu.Lock()
	m.waiters[id] = ch
	m.mu.Unlock()
}

// write writes bytes to stdin.
func (m *member) write(b []byte) error {
	m.mu.Lock()
	stdin := m.stdin
	m.mu.Unlock()
	if stdin == nil {
		return fmt.Errorf("%s: not running", m.name)
	}
	_, err := stdin.Write(b)
	return err
}

// call sends line (whose msg_id is id) and waits up to timeout for its
// reply.
func (m *member) call(id int64, line []byte, timeout time.Duration) ([]byte, error) {
	ch := make(chan []byte, 1)
	m.expect(id, ch)
	if err := m.write(line); err != nil {
		return nil, err
	}
	m.mu.Lock()
	exited := m.exited
	m.mu.Unlock()
	select {
	case reply := <-ch:
		return reply, nil
	case <-exited:
		return nil, fmt.Errorf("%s exited\n%s", m.name, stderrTail(m.stderr, 10))
	case <-time.After(timeout):
		return nil, fmt.Errorf("%s: no reply to msg_id %d within %v\n%s", m.name, id, timeout, stderrTail(m.stderr, 10))
	}
}

// status asks for cluster_status.
func (m *member) status() (clusterStatus, error) {
	id := m.id()
	reply, err := m.call(id, fmt.Appendf(nil, `{"src":"c9","dest":%q,"body":{"type":"cluster_status","msg_id":%d}}`+"\n", m.name, id), 10*time.Second)
	if err != nil {
		return clusterStatus{}, err
	}
	return parseClusterStatus(reply)
}

// expectCount makes the next n lines without a waiter close the returned
// channel; it resets the counts.
func (m *member) expectCount(n int64) <-chan struct{} {
	done := make(chan struct{})
	m.mu.Lock()
	m.countDone = done
	m.mu.Unlock()
	m.countTarget.Store(n)
	m.lines.Store(0)
	m.errLines.Store(0)
	return done
}

// kill sends SIGKILL and waits until the process is reaped.
func (m *member) kill() {
	m.mu.Lock()
	cmd, exited := m.cmd, m.exited
	m.stdin = nil
	m.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Kill()
	<-exited
}

// stop closes stdin and waits for the process to exit, killing it after
// timeout.
func (m *member) stop(timeout time.Duration) {
	m.mu.Lock()
	cmd, exited, stdin := m.cmd, m.exited, m.stdin
	m.stdin = nil
	m.mu.Unlock()
	if cmd == nil {
		return
	}
	if stdin != nil {
		stdin.Close()
	}
	select {
	case <-exited:
	case <-time.After(timeout):
		cmd.Process.Kill()
		<-exited
	}
}

// clusterStatus is a cluster_status_ok reply.
type clusterStatus struct {
	Role, Leader    string // Leader "" when the member knows none
	Term            uint64
	Commit, Applied uint64
}

// parseClusterStatus parses a cluster_status_ok reply line.
func parseClusterStatus(line []byte) (clusterStatus, error) {
	v, err := fastjson.ParseBytes(line)
	if err != nil {
		return clusterStatus{}, fmt.Errorf("%w: %v: %s", errReply, err, bytes.TrimSpace(line))
	}
	b := v.Get("body")
	if t := b.GetStringBytes("type"); string(t) != "cluster_status_ok" {
		return clusterStatus{}, fmt.Errorf("%w to cluster_status: %s", errReply, bytes.TrimSpace(line))
	}
	st := clusterStatus{Role: string(b.GetStringBytes("role")), Term: b.GetUint64("term"),
		Commit: b.GetUint64("commit"), Applied: b.GetUint64("applied")}
	switch l := b.Get("leader"); {
	case l == nil:
		return st, fmt.Errorf("%w: cluster_status_ok without leader: %s", errReply, bytes.TrimSpace(line))
	case l.Type() == fastjson.TypeString:
		st.Leader = string(l.GetStringBytes())
	case l.Type() != fastjson.TypeNull:
		return st, fmt.Errorf("%w: leader is a %s: %s", errReply, l.Type(), bytes.TrimSpace(line))
	}
	if st.Role == "" {
		return st, fmt.Errorf("%w: cluster_status_ok without role: %s", errReply, bytes.TrimSpace(line))
	}
	return st, nil
}

// tcpCluster is three members on loopback ports with one data directory
// (each member keeps its own subdirectory).
type tcpCluster struct {
	members []*member
	dataDir string
}

var memberNames = []string{"n1", "n2", "n3"}

// startCluster starts three members of bin with the node flags args on
// free loopback ports and waits until they agree on a leader that
// acknowledges a commit.
func startCluster(bin string, args []string, workDir, tag string) (*tcpCluster, error) {
	addrs, err := clustertest.FreePorts(len(memberNames))
	if err != nil {
		return nil, err
	}
	var parts []string
	for i, n := range memberNames {
		parts = append(parts, n+"="+addrs[i])
	}
	c := &tcpCluster{}
	if c.dataDir, err = os.MkdirTemp(workDir, tag+"-data-"); err != nil {
		return nil, err
	}
	for _, n := range memberNames {
		argv := append([]string{bin, "--data-dir", c.dataDir, "--cluster", strings.Join(parts, ",")}, args...)
		init := fmt.Sprintf(`{"src":"c0","dest":%q,"body":{"type":"init","msg_id":1,"node_id":%q,"node_ids":["n1","n2","n3"]}}`+"\n", n, n)
		c.members = append(c.members, newMember(n, argv, init, fmt.Sprintf("%s/%s-%s.stderr", workDir, tag, n)))
	}
	for _, m := range c.members {
		if err := m.start(); err != nil {
			c.close()
			return nil, err
		}
	}
	if _, err := c.waitHealthy(nil, time.Minute); err != nil {
		c.close()
		return nil, err
	}
	return c, nil
}

// member returns the member named name.
func (c *tcpCluster) member(name string) *member {
	for _, m := range c.members {
		if m.name == name {
			return m
		}
	}
	return nil
}

// leader returns the member every running member names as leader, or nil.
// down lists members not to ask.
func (c *tcpCluster) leader(down *member) (*member, error) {
	leader := ""
	for _, m := range c.members {
		if m == down {
			continue
		}
		st, err := m.status()
		if err != nil {
			return nil, err
		}
		if st.Leader == "" || (leader != "" && st.Leader != leader) {
			return nil, nil
		}
		leader = st.Leader
	}
	return c.member(leader), nil
}

// waitHealthy waits until the running members (all but down) agree on a
// leader that acknowledges a commit and has every member applied its
// commit index, and returns the leader.
func (c *tcpCluster) waitHealthy(down *member, timeout time.Duration) (*member, error) {
	deadline := time.Now().Add(timeout)
	var buf []byte
	for time.Now().Before(deadline) {
		l, err := c.leader(down)
		if err != nil {
			return nil, err
		}
		if l == nil || l == down {
			time.Sleep(20 * time.Millisecond)
			continue
		}
		id := l.id()
		buf = appendCommit(buf[:0], id, 0, id)
		reply, err := l.call(id, buf, 30*time.Second)
		if err != nil {
			return nil, err
		}
		if !bytes.Contains(reply, []byte(`"commit_offset_ok"`)) {
			time.Sleep(20 * time.Millisecond)
			continue
		}
		lst, err := l.status()
		if err != nil {
			return nil, err
		}
		caught := true
		for _, m := range c.members {
			if m == down || m == l {
				continue
			}
			st, err := m.status()
			if err != nil {
				return nil, err
			}
			caught = caught && st.Applied >= lst.Commit
		}
		if caught {
			return l, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil, fmt.Errorf("%w after %v\n%s", errNoLeader, timeout, stderrTail(c.members[0].stderr, 10))
}

// close stops every member and removes the data directory.
func (c *tcpCluster) close() {
	for _, m := range c.members {
		m.stop(30 * time.Second)
	}
	os.RemoveAll(c.dataDir)
}
