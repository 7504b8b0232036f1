package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/maelstrom-offsets/offsets/internal/clustertest"
	"github.com/maelstrom-offsets/offsets/internal/linearizability"
)

// Maelstrom mode (no --cluster, init naming three nodes): raft traffic
// through the router. Clients on all three nodes commit and fetch while
// the leader is cut off from both peers: it acknowledges nothing invoked
// while it is isolated, the other two elect a leader and acknowledge,
// and after healing all three converge. The history is linearizable.
func TestMaelstromClusterPartition(t *testing.T) {
	bin := nodeBinary(t)
	root := t.TempDir()
	r := clustertest.NewRouter(t, clustertest.RouterConfig{
		Command: func(name string) []string {
			return []string{bin, "--data-dir", root, "--raft-tick", "20ms", "--election-ticks", "10",
				"--request-timeout", "2s"}
		},
	})
	nodes := r.Nodes()
	for _, n := range nodes {
		m, err := r.Call(callCtx(t), "c0", n, map[string]any{"type": "init", "node_id": n, "node_ids": nodes})
		if err != nil || m.Type() != "init_ok" {
			t.Fatalf("init %s: %v %s", n, err, m.Line)
		}
	}
	status := func(n string) status {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		m, err := r.Call(ctx, "c0", n, map[string]any{"type": "cluster_status"})
		if err != nil {
			t.Fatalf("cluster_status on %s: %v", n, err)
		}
		var st status
		json.Unmarshal(m.Body, &st)
		return st
	}
	leader := func(not string) string {
		var l string
		waitFor(t, "a leader", func() bool {
			for _, n := range nodes {
				if n != not && status(n).Role == "leader" {
					l = n
					return true
				}
			}
			return false
		})
		return l
	}
	l := leader("")

	rec := linearizability.NewRecorder()
	start := time.Now()
	now := func() int64 { return int64(time.Since(start)) }
	do := func(client int, n string, k int, commit bool, v int64) linearizability.Outcome {
		q := linearizability.Fetch("g", fmt.Sprintf("t%d", k), 0)
		if commit {
			q = linearizability.Commit("g", fmt.Sprintf("t%d", k), 0, v)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		o, err := rec.Call(ctx, r, client, fmt.Sprintf("c%d", client), n, q)
		if err != nil && ctx.Err() == nil {
			t.Errorf("%v on %s: %v", q, n, err)
		}
		return o
	}
	var (
		isolatedAt, healedAt atomic.Int64 // history times; 0 while not yet
		stop                 atomic.Bool
		wg                   sync.WaitGroup
		next                 atomic.Int64
		mu                   sync.Mutex
		fromIsolated         []string // acknowledgements by the isolated leader of requests sent while it was
	)
	isolatedAt.Store(math.MaxInt64)
	healedAt.Store(math.MaxInt64)
	for i, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; !stop.Load(); j++ {
				commit, v := j%2 == 0, next.Add(1)
				call := now()
				o := do(i+1, n, j%3, commit, v)
				if n == l && call > isolatedAt.Load() && now() < healedAt.Load() && o.Kind == linearizability.OK {
					mu.Lock()
					fromIsolated = append(fromIsolated, fmt.Sprintf("t%d commit=%v %d: %+v", j%3, commit, v, o))
					mu.Unlock()
				}
			}
		}()
	}

	time.Sleep(300 * time.Millisecond) // load before the partition
	isolatedAt.Store(now())
	r.Isolate(l)
	l2 := leader(l)
	acked := 0
	for k := range 3 {
		if o := do(9, l2, k, true, next.Add(1)); o.Kind == linearizability.OK {
			acked++
		}
	}
	if acked == 0 {
		t.Fatalf("the majority's leader %s acknowledged nothing", l2)
	}
	time.Sleep(300 * time.Millisecond) // load on the majority
	healedAt.Store(now())
	r.Heal()
	time.Sleep(300 * time.Millisecond) // load after healing
	stop.Store(true)
	wg.Wait()

	waitFor(t, "the members to converge", func() bool {
		c := status(nodes[0]).Commit
		for _, n := range nodes {
			if st := status(n); st.Applied < c || st.Commit != c {
				return false
			}
		}
		return true
	})
	for _, n := range nodes {
		for k := range 3 {
			do(9, n, k, false, 0)
		}
	}

	if len(fromIsolated) > 0 {
		t.Fatalf("the isolated leader %s acknowledged %d requests sent while isolated: %v", l, len(fromIsolated), fromIsolated)
	}
	linearizability.Check(t, rec)
	t.Logf("old leader %s, new %s", l, l2)
}
