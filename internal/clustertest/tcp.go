package clustertest

import (
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"
)

// TCPConfig configures a TCP cluster.
type TCPConfig struct {
	// Nodes names the nodes (default n1, n2, n3).
	Nodes []string
	// Command returns node name's command line (argv[0] first), given the
	// cluster list "n1=127.0.0.1:P1,n2=127.0.0.1:P2,...", as the node's
	// --cluster flag takes it, and the node's own address. It is called
	// once per node; a restart runs the same command line, so a node comes
	// back on the same port.
	Command func(name, cluster, addr string) []string
	// LogDir receives NAME.stderr for each node (default t.TempDir()).
	LogDir string
}

// TCP is a cluster of node processes that talk to each other over TCP on
// loopback; the test talks to each node on its stdin and stdout, where
// every line is taken to be addressed to a client.
type TCP struct {
	clients
	// Addrs maps each node to its address; Cluster is the --cluster list.
	Addrs   map[string]string
	Cluster string
}

// NewTCP picks a free loopback port for each node and starts them;
// t.Cleanup stops them.
func NewTCP(t testing.TB, cfg TCPConfig) *TCP {
	t.Helper()
	if len(cfg.Nodes) == 0 {
		cfg.Nodes = []string{"n1", "n2", "n3"}
	}
	if cfg.LogDir == "" {
		cfg.LogDir = t.TempDir()
	}
	c := &TCP{Addrs: make(map[string]string)}
	c.init(t)
	c.nodes = cfg.Nodes
	addrs, err := FreePorts(len(cfg.Nodes))
	if err != nil {
		t.Fatal(err)
	}
	var parts []string
	for i, name := range cfg.Nodes {
		c.Addrs[name] = addrs[i]
		parts = append(parts, name+"="+addrs[i])
	}
	c.Cluster = strings.Join(parts, ",")
	for _, name := range cfg.Nodes {
		p, err := newProcess(name, cfg.Command(name, c.Cluster, c.Addrs[name]), cfg.LogDir, func(line []byte) {
			if m, ok := parseLine(line); ok {
				c.deliver(m)
			} else {
				c.badLine(name, line)
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		c.procs[name] = p
	}
	t.Cleanup(c.Close)
	for _, name := range cfg.Nodes {
		if err := c.procs[name].start(); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// FreePorts returns n loopback addresses whose ports were free a moment
// ago: it listens on port 0 n times at once (so the ports differ) and
// closes the listeners. Another process could take a port before the node
// binds it; on a test machine that is rare, and the node then fails to
// start, loudly.
func FreePorts(n int) ([]string, error) {
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	var out []string
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("clustertest: free port: %w", err)
		}
		lns = append(lns, ln)
		out = append(out, ln.Addr().String())
	}
	return out, nil
}

// Build runs go build on the package pkg (an import path or a directory)
// with the given extra flags, writing the binary to out.
func Build(out, pkg string, flags ...string) error {
	args := append([]string{"build", "-o", out}, flags...)
	cmd := exec.Command("go", append(args, pkg)...)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %v\n%s", pkg, err, b)
	}
	return nil
}
