package clustertest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
)

// RouterConfig configures a Router.
type RouterConfig struct {
	// Nodes names the nodes (default n1, n2, n3).
	Nodes []string
	// Command returns the command line of node name (argv[0] first). It
	// is called once per node; a restart runs the same command line.
	Command func(name string) []string
	// LogDir receives NAME.stderr for each node (default t.TempDir()).
	LogDir string
}

// Router is a Maelstrom network for tests: it runs one process per node,
// writes each line a node prints whose dest is another node to that
// node's stdin (unless the link is cut), and queues the lines addressed to
// anyone else (clients) for Recv and Call. Like Maelstrom's network it may
// drop lines: to a node that is down or cut off, or whose stdin is more
// than 16384 lines behind.
type Router struct {
	clients
	mu      sync.RWMutex
	cut     map[[2]string]bool // directed links that drop
	routed  atomic.Int64
	dropped atomic.Int64
}

// NewRouter starts the nodes; t.Cleanup stops them.
func NewRouter(t testing.TB, cfg RouterConfig) *Router {
	t.Helper()
	if len(cfg.Nodes) == 0 {
		cfg.Nodes = []string{"n1", "n2", "n3"}
	}
	if cfg.LogDir == "" {
		cfg.LogDir = t.TempDir()
	}
	r := &Router{cut: make(map[[2]string]bool)}
	r.init(t)
	r.nodes = cfg.Nodes
	for _, name := range cfg.Nodes {
		p, err := newProcess(name, cfg.Command(name), cfg.LogDir, func(line []byte) { r.route(name, line) })
		if err != nil {
			t.Fatal(err)
		}
		r.procs[name] = p
	}
	t.Cleanup(r.Close)
	for _, name := range cfg.Nodes {
		if err := r.procs[name].start(); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

// route carries one line written by node from.
func (r *Router) route(from string, line []byte) {
	m, ok := parseLine(line)
	if !ok {
		r.badLine(from, line)
		return
	}
	dst := r.procs[m.Dest]
	if dst == nil {
		r.deliver(m)
		return
	}
	r.mu.RLock()
	cut := r.cut[[2]string{from, m.Dest}]
	r.mu.RUnlock()
	if cut {
		r.dropped.Add(1)
		return
	}
	// Counted before the line is written, so that a test that sees the
	// destination's answer sees the line counted too.
	r.routed.Add(1)
	if dst.send(context.Background(), append(m.Line, '\n'), false) != nil {
		r.routed.Add(-1)
		r.dropped.Add(1)
	}
}

// Partition cuts every link between nodes of different groups, both ways,
// and heals every other link. Nodes named in no group keep all links.
func (r *Router) Partition(groups ...[]string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	clear(r.cut)
	for i, g := range groups {
		for j, h := range groups {
			if i == j {
				continue
			}
			for _, a := range g {
				for _, b := range h {
					r.cut[[2]string{a, b}] = true
				}
			}
		}
	}
}

// Isolate cuts node off from every other node, both ways.
func (r *Router) Isolate(node string) {
	var rest []string
	for _, n := range r.nodes {
		if n != node {
			rest = append(rest, n)
		}
	}
	r.Partition([]string{node}, rest)
}

// Cut makes the link from one node to another drop (one direction).
func (r *Router) Cut(from, to string) {
	r.mu.Lock()
	r.cut[[2]string{from, to}] = true
	r.mu.Unlock()
}

// Heal restores every link.
func (r *Router) Heal() {
	r.mu.Lock()
	clear(r.cut)
	r.mu.Unlock()
}

// Stats returns how many node-to-node lines were carried and dropped.
func (r *Router) Stats() (routed, dropped int64) { return r.routed.Load(), r.dropped.Load() }

// String names the router's nodes, for test logs.
func (r *Router) String() string { return fmt.Sprintf("router%v", r.nodes) }
