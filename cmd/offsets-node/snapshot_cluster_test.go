package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/maelstrom-offsets/offsets/internal/clustertest"
)

// A follower stopped while the leader takes commits and compacts its log
// past it (small --compact-min-bytes, --snapshot-trailing 5) catches up by
// snapshot when it restarts: the leader streams its checkpoint, the
// follower installs it and applies the entries after it. The three logs
// then replay equal, and after all three are killed at once and
// restarted nothing acknowledged is lost.
func TestClusterFollowerCatchesUpBySnapshot(t *testing.T) {
	root := t.TempDir()
	c := tcpCluster(t, root, "--compact-min-bytes", "2000", "--compact-dirty-ratio", "0.2", "--snapshot-trailing", "5")
	t.Cleanup(func() {
		if t.Failed() {
			for _, n := range c.Nodes() {
				t.Logf("%s's stderr:\n%s", n, c.Stderr(n))
			}
		}
	})
	t0 := time.Now()
	l := leaderOf(t, c, "")
	var f string
	for _, n := range c.Nodes() {
		if n != l {
			f = n
			break
		}
	}
	// f has applied the first entries; it misses everything after.
	if !commit(t, c, l, 0, 1) {
		t.Fatal("the leader refused the first commit")
	}
	waitFor(t, f+" to apply the first commit", func() bool {
		return clusterStatus(t, c, f).Applied >= clusterStatus(t, c, l).Commit
	})
	if err := c.Kill(f); err != nil {
		t.Fatal(err)
	}
	const keys = 10
	acked := map[int]int{0: 1}
	for i := range 300 {
		k := i % keys
		if commit(t, c, l, k, 100+i) {
			acked[k] = 100 + i
		}
	}
	if len(acked) != keys {
		t.Fatalf("the leader acknowledged commits to %d keys of %d", len(acked), keys)
	}
	t.Logf("300 commits with %s down after %v", f, time.Since(t0))
	// The leader's compaction ends in the background.
	waitFor(t, "the leader to compact", func() bool { return strings.Contains(c.Stderr(l), "msg=compacted") })

	if err := c.Restart(f); err != nil {
		t.Fatal(err)
	}
	initNode(t, c, f)
	target := clusterStatus(t, c, l).Commit
	waitFor(t, f+" to catch up", func() bool { return clusterStatus(t, c, f).Applied >= target })
	if s := c.Stderr(l); !strings.Contains(s, `msg="snapshot sent" peer=`+f) {
		t.Fatalf("the leader %s sent %s no snapshot:\n%s", l, f, s)
	}
	if s := c.Stderr(f); !strings.Contains(s, `msg="installed snapshot"`) {
		t.Fatalf("%s installed no snapshot:\n%s", f, s)
	}
	t.Logf("%s caught up after %v", f, time.Since(t0))
	for _, n := range c.Nodes() {
		if s := c.Stderr(n); strings.Contains(s, "level=ERROR") {
			t.Fatalf("%s logged an error:\n%s", n, s)
		}
	}
	// The follower serves and forwards from the installed state.
	for k := range keys {
		if got, ok := fetch(t, c, f, k); !ok || got != int64(acked[k]) {
			t.Fatalf("fetch t%d through %s after the snapshot: %d, %v; want %d", k, f, got, ok, acked[k])
		}
	}
	for k := range keys {
		if commit(t, c, f, k, 1000+k) {
			acked[k] = 1000 + k
		}
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
	l = leaderOf(t, c, "")
	t.Logf("all three restarted after %v", time.Since(t0))
	for k := range keys {
		var got int64
		waitFor(t, "a read on the leader", func() bool {
			var ok bool
			got, ok = fetch(t, c, l, k)
			return ok
		})
		if got != int64(acked[k]) {
			t.Fatalf("after killing all three, t%d = %d, want the acknowledged %d", k, got, acked[k])
		}
	}
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
			t.Fatalf("stop %s: %v\n%s", n, err, c.Stderr(n))
		}
	}
	t.Logf("stopped after %v", time.Since(t0))
	first := sameReplays(t, root, c.Nodes())
	for k, v := range acked {
		if !bytes.Contains(first, fmt.Appendf(nil, `"topic":"t%d","partition":0,"offset":%d,`, k, v)) {
			t.Fatalf("t%d=%d, acknowledged, not in the replay:\n%s", k, v, first)
		}
	}
}

// Maelstrom mode: a follower cut off from both peers while the leader
// compacts past it catches up by a snapshot streamed in
// raft_snapshot_chunk messages through the router once the partition
// heals, and serves the leader's state.
func TestMaelstromFollowerCatchesUpBySnapshot(t *testing.T) {
	bin := nodeBinary(t)
	r := clustertest.NewRouter(t, clustertest.RouterConfig{
		Command: func(name string) []string {
			return []string{bin, "--data-dir", t.TempDir(), "--raft-tick", "20ms", "--election-ticks", "10",
				"--request-timeout", "10s", "--compact-min-bytes", "2000", "--compact-dirty-ratio", "0.2",
				"--snapshot-trailing", "5"}
		},
	})
	nodes := r.Nodes()
	for _, n := range nodes {
		m, err := r.Call(callCtx(t), "c0", n, map[string]any{"type": "init", "node_id": n, "node_ids": nodes})
		if err != nil || m.Type() != "init_ok" {
			t.Fatalf("init %s: %v %s", n, err, m.Line)
		}
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, n := range nodes {
				t.Logf("%s's stderr:\n%s", n, r.Stderr(n))
			}
		}
	})
	status := func(n string) status {
		m, err := r.Call(callCtx(t), "c0", n, map[string]any{"type": "cluster_status"})
		if err != nil {
			t.Fatalf("cluster_status on %s: %v", n, err)
		}
		var st status
		json.Unmarshal(m.Body, &st)
		return st
	}
	var l, f string
	waitFor(t, "a leader", func() bool {
		for _, n := range nodes {
			if status(n).Role == "leader" {
				l = n
				return true
			}
		}
		return false
	})
	for _, n := range nodes {
		if n != l {
			f = n
			break
		}
	}
	r.Isolate(f)
	const keys = 10
	acked := map[int]int{}
	for i := range 300 {
		k := i % keys
		m, err := r.Call(callCtx(t), "c1", l, map[string]any{"type": "commit_offset", "group": "g",
			"topic": fmt.Sprintf("t%d", k), "partition": 0, "offset": 100 + i})
		if err != nil {
			t.Fatal(err)
		}
		if m.Type() == "commit_offset_ok" {
			acked[k] = 100 + i
		}
	}
	if len(acked) != keys {
		t.Fatalf("the leader acknowledged commits to %d keys of %d", len(acked), keys)
	}
	waitFor(t, "the leader to compact", func() bool { return strings.Contains(r.Stderr(l), "msg=compacted") })
	r.Heal()
	target := status(l).Commit
	waitFor(t, f+" to catch up", func() bool { return status(f).Applied >= target })
	if s := r.Stderr(l); !strings.Contains(s, `msg="snapshot sent" peer=`+f) {
		t.Fatalf("the leader %s sent %s no snapshot", l, f)
	}
	if s := r.Stderr(f); !strings.Contains(s, `msg="installed snapshot"`) {
		t.Fatalf("%s installed no snapshot", f)
	}
	for _, n := range nodes {
		if s := r.Stderr(n); strings.Contains(s, "level=ERROR") {
			t.Fatalf("%s logged an error", n)
		}
	}
	for k := range keys {
		m, err := r.Call(callCtx(t), "c1", f, map[string]any{"type": "fetch_offset", "group": "g",
			"topic": fmt.Sprintf("t%d", k), "partition": 0})
		if err != nil {
			t.Fatal(err)
		}
		var v struct{ Offset int64 }
		json.Unmarshal(m.Body, &v)
		if m.Type() != "fetch_offset_ok" || v.Offset != int64(acked[k]) {
			t.Fatalf("fetch t%d through %s after the snapshot: %s; want %d", k, f, m.Line, acked[k])
		}
	}
}
