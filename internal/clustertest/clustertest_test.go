package clustertest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var echonode string // the test program, built by TestMain

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "clustertest-")
	if err != nil {
		panic(err)
	}
	echonode = filepath.Join(dir, "echonode")
	if err := Build(echonode, "./testdata/echonode"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func body(m Message) map[string]any {
	var b map[string]any
	json.Unmarshal(m.Body, &b)
	return b
}

func initAll(t *testing.T, c interface {
	Init(context.Context, ...string) error
}, only ...string) {
	t.Helper()
	if err := c.Init(ctx(t), only...); err != nil {
		t.Fatal(err)
	}
}

// forward asks node via to forward an echo to node to, and returns the
// reply if one comes within wait.
func forward(t *testing.T, c interface {
	Send(context.Context, string, string, map[string]any) (int64, error)
	Recv(context.Context) (Message, error)
}, client, via, to, echo string, wait time.Duration) (Message, bool) {
	t.Helper()
	id, err := c.Send(ctx(t), client, via, map[string]any{"type": "forward", "to": to, "echo": echo})
	if err != nil {
		t.Fatal(err)
	}
	cx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	for {
		m, err := c.Recv(cx)
		if err != nil {
			return Message{}, false
		}
		if m.InReplyTo() == id && m.Dest == client {
			return m, true
		}
	}
}

// assertLost sends a forward from via to to and checks that the router
// dropped it (a signal, not a timeout) and that no reply came.
func assertLost(t *testing.T, r *Router, via, to string) {
	t.Helper()
	_, before := r.Stats()
	id, err := r.Send(ctx(t), "c1", via, map[string]any{"type": "forward", "to": to, "echo": "lost"})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, d := r.Stats(); d > before {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s -> %s was not dropped", via, to)
		}
		time.Sleep(5 * time.Millisecond)
	}
	// The reply would have been queued before the drop was counted had
	// the line gone through instead; make sure it was not.
	if m, err := r.take(cancelled(), func(m Message) bool { return m.InReplyTo() == id }); err == nil {
		t.Fatalf("a reply to a dropped line: %s", m.Line)
	}
}

func cancelled() context.Context {
	c, cancel := context.WithCancel(context.Background())
	cancel()
	return c
}

func TestRouterCarriesNodeToNodeAndClientLines(t *testing.T) {
	r := NewRouter(t, RouterConfig{Command: func(string) []string { return []string{echonode} }})
	initAll(t, r)
	m, err := r.Call(ctx(t), "c1", "n2", map[string]any{"type": "echo", "echo": "hello"})
	if err != nil || m.Type() != "echo_ok" || body(m)["echo"] != "hello" || m.Src != "n2" {
		t.Fatalf("echo: %v %s", err, m.Line)
	}
	// n1 forwards to n3 through the router; n3 answers the client.
	m, ok := forward(t, r, "c2", "n1", "n3", "via the router", 30*time.Second)
	if !ok || m.Type() != "forward_ok" || m.Src != "n3" || body(m)["via"] != "n1" {
		t.Fatalf("forward: %v %s", ok, m.Line)
	}
	if routed, _ := r.Stats(); routed != 1 {
		t.Fatalf("routed %d", routed)
	}
	if bad := r.BadLines(); len(bad) != 0 {
		t.Fatalf("bad lines: %v", bad)
	}
	// A line that is not a message is kept for the test, not routed.
	if m, err := r.Call(ctx(t), "c1", "n3", map[string]any{"type": "garbage"}); err != nil || m.Type() != "garbage_ok" {
		t.Fatalf("garbage: %v %s", err, m.Line)
	}
	if bad := r.BadLines(); len(bad) != 1 || bad[0] != "n3: this is not a message" {
		t.Fatalf("bad lines: %q", bad)
	}
}

func TestRouterPartitionAndHeal(t *testing.T) {
	r := NewRouter(t, RouterConfig{Command: func(string) []string { return []string{echonode} }})
	initAll(t, r)
	r.Isolate("n1")
	for _, to := range []string{"n2", "n3"} {
		assertLost(t, r, "n1", to)
	}
	// The majority side still talks, and clients still reach n1.
	if _, ok := forward(t, r, "c1", "n2", "n3", "kept", 30*time.Second); !ok {
		t.Fatal("n2 -> n3 lost inside the majority")
	}
	if m, err := r.Call(ctx(t), "c1", "n1", map[string]any{"type": "echo", "echo": 1}); err != nil || m.Type() != "echo_ok" {
		t.Fatalf("client to the isolated node: %v", err)
	}
	// A one-way cut drops one direction only.
	r.Heal()
	r.Cut("n2", "n3")
	assertLost(t, r, "n2", "n3")
	if _, ok := forward(t, r, "c1", "n3", "n2", "other way", 30*time.Second); !ok {
		t.Fatal("the reverse of a cut link was cut")
	}
	r.Heal()
	if _, ok := forward(t, r, "c1", "n1", "n2", "healed", 30*time.Second); !ok {
		t.Fatal("lost after heal")
	}
	if _, dropped := r.Stats(); dropped != 3 {
		t.Fatalf("dropped %d, want 3", dropped)
	}
}

func TestRouterKillAndRestart(t *testing.T) {
	r := NewRouter(t, RouterConfig{Command: func(name string) []string { return []string{echonode} }})
	initAll(t, r)
	before, err := r.Call(ctx(t), "c1", "n2", map[string]any{"type": "status"})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Kill("n2"); err != nil {
		t.Fatal(err)
	}
	if r.Running("n2") {
		t.Fatal("n2 runs after Kill")
	}
	if _, err := r.Send(ctx(t), "c1", "n2", map[string]any{"type": "echo"}); !errors.Is(err, ErrStopped) {
		t.Fatalf("send to a killed node: %v", err)
	}
	assertLost(t, r, "n1", "n2")
	if err := r.Restart("n2"); err != nil {
		t.Fatal(err)
	}
	initAll(t, r, "n2")
	after, err := r.Call(ctx(t), "c1", "n2", map[string]any{"type": "status"})
	if err != nil {
		t.Fatal(err)
	}
	if body(before)["pid"] == body(after)["pid"] {
		t.Fatal("same pid after a restart")
	}
	if _, ok := forward(t, r, "c1", "n1", "n2", "back", 30*time.Second); !ok {
		t.Fatal("the restarted node is not reached")
	}
	// Stop closes stdin; echonode exits 0 at EOF.
	if err := r.Stop("n3", 10*time.Second); err != nil {
		t.Fatalf("stop: %v\n%s", err, r.Stderr("n3"))
	}
}

func TestTCPClusterOnFreePorts(t *testing.T) {
	c := NewTCP(t, TCPConfig{Command: func(name, cluster, addr string) []string {
		return []string{echonode, "--cluster", cluster}
	}})
	if len(c.Addrs) != 3 || c.Addrs["n1"] == c.Addrs["n2"] {
		t.Fatalf("addresses %v", c.Addrs)
	}
	initAll(t, c)
	// n1 reaches n3 over TCP; n3 answers on its own stdout.
	m, ok := forward(t, c, "c1", "n1", "n3", "over tcp", 30*time.Second)
	if !ok || m.Src != "n3" || body(m)["via"] != "n1" {
		t.Fatalf("forward: %v %s\n%s", ok, m.Line, c.Stderr("n1"))
	}
	// Killed and restarted on the same command line, a node is back on
	// its port.
	if err := c.Kill("n3"); err != nil {
		t.Fatal(err)
	}
	if err := c.Restart("n3"); err != nil {
		t.Fatal(err)
	}
	initAll(t, c, "n3")
	if _, ok := forward(t, c, "c1", "n2", "n3", "again", 30*time.Second); !ok {
		t.Fatalf("the restarted node is not reached:\n%s", c.Stderr("n2"))
	}
}

// Concurrent Calls each get their reply: a line wakes every waiter, not
// one of them (which could be another Call's, leaving the right one asleep
// until the next line).
func TestConcurrentTakersAllWake(t *testing.T) {
	var c clients
	c.init(t)
	wait := func(src string) chan error {
		errs := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			_, err := c.take(ctx, func(m Message) bool { return m.Src == src })
			errs <- err
		}()
		return errs
	}
	for round := range 10 {
		a, b := wait("a"), wait("b")
		// Let both block (the fixed code passes without this; the bug
		// needs both asleep to show).
		time.Sleep(20 * time.Millisecond)
		c.deliver(Message{Src: "b"})
		if err := <-b; err != nil {
			t.Fatalf("round %d: the waiter for b missed its line: %v", round, err)
		}
		c.deliver(Message{Src: "a"})
		if err := <-a; err != nil {
			t.Fatalf("round %d: the waiter for a missed its line: %v", round, err)
		}
	}
}
