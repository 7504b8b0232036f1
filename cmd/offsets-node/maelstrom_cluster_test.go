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

	"github.com/anishathalye/porcupine"

	"github.com/maelstrom-offsets/offsets/internal/clustertest"
)

// regInput is an operation on one key's register: a commit of value, or a
// fetch.
type regInput struct {
	key    int
	commit bool
	value  int64
}

// registers is porcupine's model of the offsets: one register per key,
// starting at 0 (a fetch of a key never committed answers offset 0).
var registers = porcupine.Model{
	Partition: func(h []porcupine.Operation) [][]porcupine.Operation {
		by := map[int][]porcupine.Operation{}
		for _, op := range h {
			k := op.Input.(regInput).key
			by[k] = append(by[k], op)
		}
		var out [][]porcupine.Operation
		for _, ops := range by {
			out = append(out, ops)
		}
		return out
	},
	Init: func() any { return int64(0) },
	Step: func(state, input, output any) (bool, any) {
		in := input.(regInput)
		if in.commit {
			return true, in.value
		}
		return output.(int64) == state.(int64), state
	},
	DescribeOperation: func(input, output any) string {
		in := input.(regInput)
		if in.commit {
			return fmt.Sprintf("commit(t%d, %d)", in.key, in.value)
		}
		return fmt.Sprintf("fetch(t%d) -> %v", in.key, output)
	},
}

// history records operations for porcupine: an operation refused with
// error 11 did not happen and is left out; a commit with error 0 or no
// reply may have happened at any time after its call (it never returns);
// a fetch without an answer tells nothing and is left out.
type history struct {
	start time.Time
	mu    sync.Mutex
	ops   []porcupine.Operation
}

func (h *history) now() int64 { return int64(time.Since(h.start)) }

// do runs one operation on node n and records it; it returns the reply's
// type and error code ("" when none came).
func (h *history) do(t *testing.T, r *clustertest.Router, client string, n string, in regInput) (string, int) {
	body := map[string]any{"type": "fetch_offset", "group": "g", "topic": fmt.Sprintf("t%d", in.key), "partition": 0}
	if in.commit {
		body["type"], body["offset"] = "commit_offset", in.value
	}
	call := h.now()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	m, err := r.Call(ctx, client, n, body)
	cancel()
	ret := h.now()
	var reply struct {
		Code   int
		Offset int64
	}
	typ := ""
	if err == nil {
		typ = m.Type()
		json.Unmarshal(m.Body, &reply)
	}
	op := porcupine.Operation{Input: in, Call: call, Return: ret}
	switch {
	case typ == "commit_offset_ok":
	case typ == "fetch_offset_ok":
		op.Output = reply.Offset
	case typ == "error" && reply.Code == 11:
		return typ, reply.Code
	case in.commit && (typ == "" || (typ == "error" && reply.Code == 0)):
		op.Return = math.MaxInt64 // unknown outcome
	case typ == "" || (typ == "error" && reply.Code == 0):
		return typ, reply.Code
	default:
		t.Errorf("%s on %s: unexpected reply %s", body["type"], n, m.Line)
		return typ, reply.Code
	}
	h.mu.Lock()
	h.ops = append(h.ops, op)
	h.mu.Unlock()
	return typ, reply.Code
}

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

	h := &history{start: time.Now()}
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
			client := fmt.Sprintf("c%d", i+1)
			for j := 0; !stop.Load(); j++ {
				in := regInput{key: j % 3, commit: j%2 == 0, value: next.Add(1)}
				call := h.now()
				typ, _ := h.do(t, r, client, n, in)
				if n == l && call > isolatedAt.Load() && h.now() < healedAt.Load() && (typ == "commit_offset_ok" || typ == "fetch_offset_ok") {
					mu.Lock()
					fromIsolated = append(fromIsolated, fmt.Sprintf("%s %+v", typ, in))
					mu.Unlock()
				}
			}
		}()
	}

	time.Sleep(300 * time.Millisecond) // load before the partition
	isolatedAt.Store(h.now())
	r.Isolate(l)
	l2 := leader(l)
	t.Logf("%v: new leader %s", time.Since(h.start), l2)
	acked := 0
	for k := range 3 {
		if typ, _ := h.do(t, r, "c9", l2, regInput{key: k, commit: true, value: next.Add(1)}); typ == "commit_offset_ok" {
			acked++
		}
	}
	if acked == 0 {
		t.Fatalf("the majority's leader %s acknowledged nothing", l2)
	}
	time.Sleep(300 * time.Millisecond) // load on the majority
	healedAt.Store(h.now())
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
			h.do(t, r, "c9", n, regInput{key: k})
		}
	}

	if len(fromIsolated) > 0 {
		t.Fatalf("the isolated leader %s acknowledged %d requests sent while isolated: %v", l, len(fromIsolated), fromIsolated)
	}
	res, info := porcupine.CheckOperationsVerbose(registers, h.ops, 30*time.Second)
	if res != porcupine.Ok {
		t.Fatalf("history of %d operations is not linearizable (%v): %v", len(h.ops), res, info.PartialLinearizationsOperations())
	}
	t.Logf("%d operations linearizable; old leader %s, new %s", len(h.ops), l, l2)
}
