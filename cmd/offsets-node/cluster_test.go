package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/maelstrom-offsets/offsets/internal/clustertest"
	"github.com/maelstrom-offsets/offsets/internal/linearizability"
)

var (
	logToolOnce sync.Once
	logToolBin  string
	logToolErr  error
)

// logTool builds offsets-log once.
func logTool(t *testing.T) string {
	t.Helper()
	logToolOnce.Do(func() {
		dir, err := os.MkdirTemp("", "offsets-log-test-")
		if err != nil {
			logToolErr = err
			return
		}
		logToolBin = filepath.Join(dir, "offsets-log")
		logToolErr = clustertest.Build(logToolBin, "../offsets-log")
	})
	if logToolErr != nil {
		t.Fatal(logToolErr)
	}
	return logToolBin
}

// tcpCluster starts three offsets-node processes as a TCP cluster on
// loopback, with ticks short enough for a test, each initialised.
func tcpCluster(t *testing.T, root string, extra ...string) *clustertest.TCP {
	t.Helper()
	bin := nodeBinary(t)
	c := clustertest.NewTCP(t, clustertest.TCPConfig{
		Command: func(name, members, addr string) []string {
			return append([]string{bin, "--data-dir", root, "--cluster", members, "--raft-tick", "20ms",
				"--election-ticks", "10", "--request-timeout", "10s"}, extra...)
		},
	})
	for _, n := range c.Nodes() {
		initNode(t, c, n)
	}
	return c
}

func callCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func initNode(t *testing.T, c *clustertest.TCP, n string) {
	t.Helper()
	m, err := c.Call(callCtx(t), "c0", n, map[string]any{"type": "init", "node_id": n, "node_ids": c.Nodes()})
	if err != nil || m.Type() != "init_ok" {
		t.Fatalf("init %s: %v %s\n%s", n, err, m.Line, c.Stderr(n))
	}
}

type status struct {
	Role    string  `json:"role"`
	Term    uint64  `json:"term"`
	Leader  *string `json:"leader"`
	Commit  uint64  `json:"commit"`
	Applied uint64  `json:"applied"`
}

func clusterStatus(t *testing.T, c *clustertest.TCP, n string) status {
	t.Helper()
	m, err := c.Call(callCtx(t), "c0", n, map[string]any{"type": "cluster_status"})
	if err != nil || m.Type() != "cluster_status_ok" {
		t.Fatalf("cluster_status on %s: %v %s", n, err, m.Line)
	}
	var st status
	if err := json.Unmarshal(m.Body, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// waitFor polls cond; the deadline only stops a hung test.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// leaderOf waits until a running node other than not reports itself the
// leader, and returns it.
func leaderOf(t *testing.T, c *clustertest.TCP, not string) string {
	t.Helper()
	var l string
	waitFor(t, "a leader", func() bool {
		for _, n := range c.Nodes() {
			if n != not && c.Running(n) && clusterStatus(t, c, n).Role == "leader" {
				l = n
				return true
			}
		}
		return false
	})
	return l
}

// commit commits offset to key k on node n and reports whether it was
// acknowledged; any reply but success or error 11 fails the test.
func commit(t *testing.T, c *clustertest.TCP, n string, k int, offset int) bool {
	t.Helper()
	m, err := c.Call(callCtx(t), "c1", n, map[string]any{"type": "commit_offset", "group": "g",
		"topic": fmt.Sprintf("t%d", k), "partition": 0, "offset": offset})
	if err != nil {
		t.Fatal(err)
	}
	if m.Type() == "commit_offset_ok" {
		return true
	}
	var e struct{ Code int }
	json.Unmarshal(m.Body, &e)
	if m.Type() != "error" || e.Code != 11 {
		t.Fatalf("commit on %s: %s", n, m.Line)
	}
	return false
}

func fetch(t *testing.T, c *clustertest.TCP, n string, k int) (int64, bool) {
	t.Helper()
	m, err := c.Call(callCtx(t), "c1", n, map[string]any{"type": "fetch_offset", "group": "g",
		"topic": fmt.Sprintf("t%d", k), "partition": 0})
	if err != nil {
		t.Fatal(err)
	}
	if m.Type() != "fetch_offset_ok" {
		return 0, false
	}
	var v struct{ Offset int64 }
	json.Unmarshal(m.Body, &v)
	return v.Offset, true
}

// Three real nodes on loopback TCP: commits on the leader are acknowledged
// (after a majority commit) and fetched back; the leader is killed with
// SIGKILL and a new one, elected by the other two, holds every
// acknowledged commit and takes more; the old leader restarts on its
// directory and catches up; the three logs replay to the same offsets.
func TestClusterKillLeader(t *testing.T) {
	root := t.TempDir()
	c := tcpCluster(t, root)
	acked := map[int]int{}

	l := leaderOf(t, c, "")
	for k := range 20 {
		if commit(t, c, l, k, 100+k) {
			acked[k] = 100 + k
		}
	}
	if len(acked) == 0 {
		t.Fatal("the leader acknowledged nothing")
	}
	for k, want := range acked {
		if got, ok := fetch(t, c, l, k); !ok || got != int64(want) {
			t.Fatalf("fetch t%d on the leader: %d, %v; want %d", k, got, ok, want)
		}
	}
	for _, n := range c.Nodes() {
		if n != l {
			if st := clusterStatus(t, c, n); st.Role != "follower" || st.Leader == nil || *st.Leader != l {
				t.Fatalf("%s: %+v, want a follower of %s", n, st, l)
			}
		}
	}

	// Pipelined commits into the leader, killed while they are in flight:
	// whatever it acknowledged before it died must survive.
	sent := map[int64][2]int{} // msg_id -> key, offset
	for i := range 300 {
		k, off := i%20, 1000+i
		id, err := c.Send(callCtx(t), "c2", l, map[string]any{"type": "commit_offset", "group": "g",
			"topic": fmt.Sprintf("t%d", k), "partition": 0, "offset": off})
		if err != nil {
			t.Fatal(err)
		}
		sent[id] = [2]int{k, off}
	}
	ackedOnce := 0
	for ackedOnce < 10 {
		m, err := c.Recv(callCtx(t))
		if err != nil {
			t.Fatal(err)
		}
		if kv, ok := sent[m.InReplyTo()]; ok && m.Dest == "c2" && m.Type() == "commit_offset_ok" {
			acked[kv[0]] = max(acked[kv[0]], kv[1])
			ackedOnce++
		}
	}
	if err := c.Kill(l); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	drain := func() { // the replies the killed leader wrote before it died
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
			m, err := c.Recv(ctx)
			cancel()
			if err != nil {
				return
			}
			if kv, ok := sent[m.InReplyTo()]; ok && m.Dest == "c2" && m.Type() == "commit_offset_ok" {
				acked[kv[0]] = max(acked[kv[0]], kv[1])
			}
		}
	}
	drain()
	l2 := leaderOf(t, c, l)
	t.Logf("new leader %s after %v", l2, time.Since(t0))
	// Reads on the new leader are refused (11) until it has applied what
	// its predecessor committed; then every acknowledged commit is there.
	for k, want := range acked {
		var got int64
		waitFor(t, "a read on the new leader", func() bool {
			var ok bool
			got, ok = fetch(t, c, l2, k)
			return ok
		})
		if got < int64(want) {
			t.Fatalf("after the kill, t%d on %s = %d, below the acknowledged %d", k, l2, got, want)
		}
		if got != int64(want) && (got < 1000 || got >= 1300 || int(got-1000)%20 != k) {
			t.Fatalf("after the kill, t%d on %s = %d, a value never sent for it", k, l2, got)
		}
	}
	t.Logf("reads after %v", time.Since(t0))
	for k := 20; k < 40; k++ {
		if commit(t, c, l2, k, 100+k) {
			acked[k] = 100 + k
		}
	}
	final := map[int]int64{}
	for k := range 40 {
		v, ok := fetch(t, c, l2, k)
		if !ok {
			t.Fatalf("fetch t%d on the leader %s refused", k, l2)
		}
		final[k] = v
	}

	t.Logf("commits after %v", time.Since(t0))
	if err := c.Restart(l); err != nil {
		t.Fatal(err)
	}
	initNode(t, c, l)
	want := clusterStatus(t, c, l2).Commit
	waitFor(t, "the restarted node to catch up", func() bool { return clusterStatus(t, c, l).Applied >= want })
	for _, n := range c.Nodes() {
		if st := clusterStatus(t, c, n); st.Term == 0 || st.Commit < want {
			t.Fatalf("%s: %+v", n, st)
		}
	}

	t.Logf("caught up after %v", time.Since(t0))
	// Every member's log replays to the same offsets, the acknowledged
	// ones among them.
	waitFor(t, "all members to apply the last commit", func() bool {
		target := clusterStatus(t, c, l2).Commit
		for _, n := range c.Nodes() {
			if clusterStatus(t, c, n).Applied < target {
				return false
			}
		}
		return true
	})
	for _, n := range c.Nodes() {
		if err := c.Stop(n, 10*time.Second); err != nil {
			t.Fatalf("stop %s: %v\n%s", n, err, c.Stderr(n))
		}
	}
	first := sameReplays(t, root, c.Nodes())
	for k, v := range final {
		if !bytes.Contains(first, fmt.Appendf(nil, `"topic":"t%d","partition":0,"offset":%d,`, k, v)) {
			t.Fatalf("t%d=%d, read on the leader, not in the replay:\n%s", k, v, first)
		}
	}
}

// Any member accepts any request: a follower forwards commits and reads to
// the leader and relays the replies as its own; with the leader and the
// other follower gone, a follower answers 11 (no leader) or 0 (outcome
// unknown), never success.
func TestClusterFollowerForwards(t *testing.T) {
	c := tcpCluster(t, t.TempDir(), "--request-timeout", "5m")
	l := leaderOf(t, c, "")
	var f, other string
	for _, n := range c.Nodes() {
		if n != l {
			if f == "" {
				f = n
			} else {
				other = n
			}
		}
	}
	// A follower answers 11 until it has heard from the leader.
	waitFor(t, f+" to know the leader", func() bool {
		st := clusterStatus(t, c, f)
		return st.Leader != nil && *st.Leader == l
	})
	for k := range 10 {
		if !commit(t, c, f, k, 500+k) {
			t.Fatalf("commit through follower %s refused", f)
		}
	}
	for k := range 10 {
		if got, ok := fetch(t, c, other, k); !ok || got != int64(500+k) {
			t.Fatalf("fetch t%d through follower %s: %d, %v", k, other, got, ok)
		}
	}
	m, err := c.Call(callCtx(t), "c1", f, map[string]any{"type": "fetch_offset", "group": "g", "topic": "t3", "partition": 0})
	if err != nil || m.Src != f || m.Dest != "c1" {
		t.Fatalf("a relayed reply: %v %s", err, m.Line)
	}

	if err := c.Kill(l); err != nil {
		t.Fatal(err)
	}
	// A request forwarded to the leader that died is answered 0 (unknown)
	// once the follower knows that leader is gone, not at the request
	// timeout.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	t0 := time.Now()
	m, err = c.Call(ctx, "c1", f, map[string]any{"type": "commit_offset", "group": "g", "topic": "t0", "partition": 0, "offset": 8})
	t.Logf("forwarded to the dead leader: answered after %v: %s", time.Since(t0), m.Line)
	if err != nil {
		t.Fatalf("no answer to a request forwarded to a dead leader: %v", err)
	}
	var e0 struct{ Code int }
	json.Unmarshal(m.Body, &e0)
	if m.Type() != "error" || (e0.Code != 0 && e0.Code != 11) {
		t.Fatalf("a request forwarded to a dead leader: %s", m.Line)
	}
	if err := c.Kill(other); err != nil {
		t.Fatal(err)
	}
	t1 := time.Now()
	waitFor(t, "the follower to lose its leader", func() bool { return clusterStatus(t, c, f).Leader == nil })
	t.Logf("leaderless after %v", time.Since(t1))
	for _, typ := range []string{"commit_offset", "fetch_offset"} {
		m, err = c.Call(callCtx(t), "c1", f, map[string]any{"type": typ, "group": "g", "topic": "t0", "partition": 0, "offset": 9})
		if err != nil {
			t.Fatal(err)
		}
		var e struct{ Code int }
		json.Unmarshal(m.Body, &e)
		if m.Type() != "error" || e.Code != 11 {
			t.Fatalf("%s with no leader: %s, want error 11", typ, m.Line)
		}
	}
}

// Five times: pipelined commits from clients on all three nodes (so
// followers forward), the leader killed with SIGKILL while they are in
// flight, restarted on its directory. No acknowledged commit is lost, no
// value that was never sent appears, and the three logs replay equal.
func TestClusterKillLeaderFiveTimes(t *testing.T) {
	root := t.TempDir()
	c := tcpCluster(t, root, "--request-timeout", "2s")
	// Each key has one client, on one node, whose pipelined commits carry
	// increasing offsets: a later acknowledgement may not be overtaken by
	// an earlier commit of the key.
	const keys = 21
	sent := map[int64]int{} // msg_id -> offset
	keyOf := map[int]int{}  // offset -> key
	acked := map[int]int{}  // key -> highest acknowledged offset
	next := 0
	rec := linearizability.NewRecorder()
	ops := map[int64]*linearizability.Op{} // msg_id -> its operation in the history
	note := func(m clustertest.Message) {
		if op, ok := ops[m.InReplyTo()]; ok {
			delete(ops, m.InReplyTo())
			if err := op.Reply(m.Body); err != nil {
				t.Error(err)
			}
		}
		if off, ok := sent[m.InReplyTo()]; ok && m.Type() == "commit_offset_ok" {
			acked[keyOf[off]] = max(acked[keyOf[off]], off)
		}
	}
	for round := range 5 {
		l := leaderOf(t, c, "")
		for j := range 100 {
			for i, n := range c.Nodes() {
				next++
				k := i + 3*(j%(keys/3))
				keyOf[next] = k
				q := linearizability.Commit("g", fmt.Sprintf("t%d", k), 0, int64(next))
				op := rec.Invoke(i+1, q)
				id, err := c.Send(callCtx(t), fmt.Sprintf("c%d", i+1), n, q.Body())
				if err != nil {
					t.Fatal(err)
				}
				sent[id], ops[id] = next, op
			}
		}
		for seen := 0; seen < 30; seen++ {
			m, err := c.Recv(callCtx(t))
			if err != nil {
				t.Fatal(err)
			}
			note(m)
		}
		if err := c.Kill(l); err != nil {
			t.Fatal(err)
		}
		leaderOf(t, c, l)
		if err := c.Restart(l); err != nil {
			t.Fatal(err)
		}
		initNode(t, c, l)
		// The replies that came meanwhile; the rest are unknown outcomes
		// (the killed node's own requests died with it; those forwarded
		// to it get 0 later), which the checks below allow either way.
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			m, err := c.Recv(ctx)
			cancel()
			if err != nil {
				break
			}
			note(m)
		}
		t.Logf("round %d: killed %s, %d keys acknowledged", round, l, len(acked))
	}
	check := func(when string) string {
		l := leaderOf(t, c, "")
		for k := range keys {
			var got int64
			waitFor(t, "a read on the leader", func() bool {
				o, err := rec.Call(callCtx(t), c, 9, "c9", l, linearizability.Fetch("g", fmt.Sprintf("t%d", k), 0))
				if err != nil {
					t.Fatal(err)
				}
				got = o.Offset
				return o.Kind == linearizability.OK
			})
			if got < int64(acked[k]) {
				t.Fatalf("%s: t%d = %d, below the acknowledged %d", when, k, got, acked[k])
			}
			if sk, ok := keyOf[int(got)]; got != 0 && (!ok || sk != k) {
				t.Fatalf("%s: t%d = %d, a value never sent for it", when, k, got)
			}
		}
		return l
	}
	check("after the kills")
	if len(acked) == 0 {
		t.Fatal("nothing acknowledged")
	}
	// All three killed at once and restarted: nothing acknowledged lost.
	for _, n := range c.Nodes() {
		if err := c.Kill(n); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range c.Nodes() {
		if err := c.Restart(n); err != nil {
			t.Fatal(err)
		}
		initNode(t, c, n)
	}
	l := check("after killing all three")
	waitFor(t, "all members to apply the last commit", func() bool {
		target := clusterStatus(t, c, l).Commit
		for _, n := range c.Nodes() {
			if clusterStatus(t, c, n).Applied < target {
				return false
			}
		}
		return true
	})
	for _, n := range c.Nodes() {
		if err := c.Stop(n, 10*time.Second); err != nil {
			t.Fatalf("stop %s: %v", n, err)
		}
	}
	sameReplays(t, root, c.Nodes())
	linearizability.Check(t, rec)
}

// sameReplays replays every stopped member's log under root with
// offsets-log replay --json, fails unless all read the same, and returns
// that output.
func sameReplays(t *testing.T, root string, nodes []string) []byte {
	t.Helper()
	var first []byte
	for i, n := range nodes {
		out, err := exec.Command(logTool(t), "replay", "--json", filepath.Join(root, n, "log")).Output()
		if err != nil {
			t.Fatalf("offsets-log replay %s: %v", n, err)
		}
		if i == 0 {
			first = out
		} else if !bytes.Equal(out, first) {
			t.Fatalf("%s replays to\n%s\n%s to\n%s", nodes[0], first, n, out)
		}
	}
	return first
}
