package linearizability

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/maelstrom-offsets/offsets/internal/clustertest"
)

var nodeBin string // offsets-node, built by TestMain

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "linearizability-node-")
	if err != nil {
		panic(err)
	}
	nodeBin = filepath.Join(dir, "offsets-node")
	var flags []string
	if raceEnabled {
		flags = append(flags, "-race")
	}
	if err := clustertest.Build(nodeBin, "github.com/maelstrom-offsets/offsets/cmd/offsets-node", flags...); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// node drives one offsets-node process: concurrent clients write to its
// one stdin; one reader takes its stdout and hands each reply to the
// operation whose msg_id it answers, the moment it is read.
type node struct {
	cmd *exec.Cmd

	mu      sync.Mutex
	stdin   io.WriteCloser
	msgID   int64
	waiting map[int64]func(body []byte) // by msg_id
	readErr error
	done    chan struct{} // closed when stdout ends
}

func startNode(t *testing.T) *node {
	n := &node{waiting: map[int64]func([]byte){}, done: make(chan struct{})}
	n.cmd = exec.Command(nodeBin, "--data-dir", t.TempDir())
	stderr, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	n.cmd.Stderr = stderr
	if n.stdin, err = n.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := n.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		n.stdin.Close()
		<-n.done
		if err := n.cmd.Wait(); err != nil {
			b, _ := os.ReadFile(stderr.Name())
			t.Errorf("node: %v\n%s", err, b)
		}
		stderr.Close()
	})
	go func() {
		defer close(n.done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var m struct {
				Body json.RawMessage `json:"body"`
			}
			var b struct {
				InReplyTo int64 `json:"in_reply_to"`
			}
			if json.Unmarshal(sc.Bytes(), &m) != nil || json.Unmarshal(m.Body, &b) != nil {
				n.fail(fmt.Errorf("not a reply: %s", sc.Bytes()))
				continue
			}
			n.mu.Lock()
			f := n.waiting[b.InReplyTo]
			delete(n.waiting, b.InReplyTo)
			n.mu.Unlock()
			if f == nil {
				n.fail(fmt.Errorf("a reply to no request: %s", sc.Bytes()))
				continue
			}
			f(m.Body)
		}
		n.fail(sc.Err())
	}()
	return n
}

func (n *node) fail(err error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.readErr == nil {
		n.readErr = err
	}
}

// call writes a request from src and calls onReply, on the reader's
// goroutine, with the reply's body. Invoke must come before call: the
// request is written here.
func (n *node) call(src string, body map[string]any, onReply func([]byte)) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.msgID++
	b := map[string]any{"msg_id": n.msgID}
	for k, v := range body {
		b[k] = v
	}
	line, err := json.Marshal(map[string]any{"src": src, "dest": "n1", "body": b})
	if err != nil {
		return err
	}
	n.waiting[n.msgID] = onReply
	_, err = n.stdin.Write(append(line, '\n'))
	return err
}

// TestSingleNode records a history of concurrent clients against the real
// single node and checks it: the recorder and the model agree with the
// node on the protocol, generations and fencing included. Each client
// keeps several requests in flight (pipelined, as a consumer's commits
// are), so the node batches them.
func TestSingleNode(t *testing.T) {
	n := startNode(t)
	initDone := make(chan []byte, 1)
	if err := n.call("c0", map[string]any{"type": "init", "node_id": "n1", "node_ids": []string{"n1"}}, func(b []byte) { initDone <- b }); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	select {
	case <-initDone:
	case <-ctx.Done():
		t.Fatal("no init_ok")
	}

	rec := NewRecorder()
	const clients, perClient, inFlight = 6, 200, 4
	var wg sync.WaitGroup
	var mu sync.Mutex
	var ops []*Op
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rnd := rand.New(rand.NewPCG(uint64(c), 1))
			src := fmt.Sprintf("c%d", c+1)
			slots := make(chan struct{}, inFlight)
			var mine sync.WaitGroup
			for i := 0; i < perClient; i++ {
				value := int64(c*1_000_000 + i + 1) // unique, so a read names its write
				p := int32(rnd.IntN(3))
				var q Request
				switch k := rnd.IntN(20); {
				case k < 7:
					q = Commit("g", "t", p, value)
				case k < 14:
					q = Fetch("g", "t", p)
				case k < 16:
					q = CommitBatch("b", Entry{"t", 0, value}, Entry{"t", 1, value})
				case k < 18:
					q = Fetch("b", "t", int32(rnd.IntN(2)))
				case k < 19:
					q = Commit("f", "t", 0, value).WithGeneration(int32(rnd.IntN(5)))
				default:
					q = Fetch("f", "t", 0)
				}
				select {
				case slots <- struct{}{}:
				case <-ctx.Done():
					return
				}
				op := rec.Invoke(c, q)
				mu.Lock()
				ops = append(ops, op)
				mu.Unlock()
				mine.Add(1)
				err := n.call(src, q.Body(), func(body []byte) {
					if err := op.Reply(body); err != nil {
						t.Error(err)
					}
					<-slots
					mine.Done()
				})
				if err != nil {
					t.Errorf("client %s: %v", src, err)
					return
				}
			}
			mine.Wait()
		}()
	}
	allDone := make(chan struct{})
	go func() { wg.Wait(); close(allDone) }()
	select {
	case <-allDone:
	case <-ctx.Done():
		t.Fatal("the node stopped answering")
	}
	n.mu.Lock()
	if n.readErr != nil {
		t.Error(n.readErr)
	}
	n.mu.Unlock()

	var fenced int
	for _, op := range ops {
		if o := op.Outcome(); o.Kind != OK {
			if o.Code != 22 {
				t.Errorf("%s: %+v", describeOperation(op.req, o), o)
			}
			fenced++
		}
	}
	res := Check(t, rec)
	if res.Operations != clients*perClient || res.Unknown != 0 {
		t.Errorf("checked %d operations with %d unknown, want %d and 0", res.Operations, res.Unknown, clients*perClient)
	}
	if fenced == 0 {
		t.Error("no commit was fenced: the history does not exercise fencing")
	}

	// The history is not linearizable with any one read changed to a
	// value never written: the check has something to catch.
	history := rec.Operations()
	for i, op := range history {
		if q, o := op.Input.(Request), op.Output.(Outcome); q.Type == FetchOffset && o.Offset != 0 {
			o.Offset = -1
			history[i].Output = o
			if res := CheckOperations(history, 0); res.Verdict != porcupine.Illegal {
				t.Errorf("a read changed to a value never written: %v", res.Verdict)
			}
			break
		}
	}
}

// TestCallThroughRouter records through the cluster harness, as the
// cluster tests do: one node under clustertest's router, killed and
// restarted on its directory between commits.
func TestCallThroughRouter(t *testing.T) {
	dataDir := t.TempDir()
	r := clustertest.NewRouter(t, clustertest.RouterConfig{
		Nodes:   []string{"n1"},
		Command: func(string) []string { return []string{nodeBin, "--data-dir", dataDir} },
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := r.Init(ctx); err != nil {
		t.Fatal(err)
	}
	rec := NewRecorder()
	call := func(q Request) Outcome {
		t.Helper()
		o, err := rec.Call(ctx, r, 0, "c1", "n1", q)
		if err != nil && o.Code != -1 {
			t.Fatal(err)
		}
		return o
	}
	if o := call(Commit("g", "t", 0, 5)); o.Kind != OK {
		t.Fatalf("commit: %+v", o)
	}
	if err := r.Kill("n1"); err != nil {
		t.Fatal(err)
	}
	if o := call(Commit("g", "t", 0, 6)); o.Kind != Failed || o.Code != -1 {
		t.Fatalf("commit to a killed node: %+v, want Failed with code -1", o)
	}
	if err := r.Restart("n1"); err != nil {
		t.Fatal(err)
	}
	if err := r.Init(ctx); err != nil {
		t.Fatal(err)
	}
	if o := call(Fetch("g", "t", 0)); o.Kind != OK || o.Offset != 5 {
		t.Fatalf("fetch after the restart: %+v, want 5", o)
	}
	// The commit never sent is a refusal: left out of the search.
	if res := Check(t, rec); res.Operations != 2 || res.Pruned != 1 {
		t.Errorf("checked %d operations, %d left out; want 2 and 1", res.Operations, res.Pruned)
	}
}
