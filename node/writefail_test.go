package node

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/maelstrom-offsets/offsets/consumeroffsets"
)

// lockedBuf is a log destination the node's goroutine writes and the test
// reads.
type lockedBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// interactive runs a node on st and sends one request at a time, each in a
// batch of its own: the reply comes before the next request is written.
type interactive struct {
	t    *testing.T
	in   *io.PipeWriter
	out  *bufio.Scanner
	done chan error
	logs lockedBuf
	id   int
}

func startInteractive(t *testing.T, st Offsets) *interactive {
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	c := &interactive{t: t, in: inW, out: bufio.NewScanner(outR), done: make(chan error, 1)}
	go func() {
		err := Run(context.Background(), inR, outW, Config{
			Open:   func(string) (Offsets, error) { return st, nil },
			Logger: slog.New(slog.NewTextHandler(&c.logs, nil)),
		})
		outW.Close()
		c.done <- err
	}()
	c.send(`"type":"init","node_id":"n1"`)
	return c
}

// send writes one request with the given body fields and returns its reply.
func (c *interactive) send(body string) string {
	c.t.Helper()
	c.id++
	fmt.Fprintf(c.in, `{"src":"c1","dest":"n1","body":{%s,"msg_id":%d}}`+"\n", body, c.id)
	if !c.out.Scan() {
		c.t.Fatalf("no reply to request %d: %v", c.id, c.out.Err())
	}
	return c.out.Text()
}

func (c *interactive) close() {
	c.in.Close()
	if err := <-c.done; err != nil {
		c.t.Fatal(err)
	}
}

// TestWriteFailuresLoggedOnce: a run of failed writes gets one ERROR line
// when it starts and one INFO line with the count when writes work again;
// reads are answered all along from the durable state.
func TestWriteFailuresLoggedOnce(t *testing.T) {
	st := newMemStore()
	c := startInteractive(t, st)
	const commit = `"type":"commit_offset","group":"g","topic":"t","partition":0,"offset":%d`
	const fetch = `"type":"fetch_offset","group":"g","topic":"t","partition":0`
	if r := c.send(fmt.Sprintf(commit, 7)); !strings.Contains(r, "commit_offset_ok") {
		t.Fatal(r)
	}
	st.failErr = fmt.Errorf("%w: injected: write: no space left on device", consumeroffsets.ErrNoSpace)
	for i := 0; i < 3; i++ {
		if r := c.send(fmt.Sprintf(commit, 100+i)); !strings.Contains(r, `"code": 13`) {
			t.Fatalf("commit on a full disk: %s", r)
		}
		if r := c.send(fetch); !strings.Contains(r, `"offset": 7`) {
			t.Fatalf("fetch on a full disk: %s, want the durable 7", r)
		}
	}
	st.failErr = nil
	if r := c.send(fmt.Sprintf(commit, 200)); !strings.Contains(r, "commit_offset_ok") {
		t.Fatalf("commit after room came back: %s", r)
	}
	if r := c.send(fetch); !strings.Contains(r, `"offset": 200`) {
		t.Fatal(r)
	}
	// A final failure after that is a new run, logged again.
	st.failErr = fmt.Errorf("%w: injected fsync failure", consumeroffsets.ErrFailed)
	c.send(fmt.Sprintf(commit, 300))
	c.send(fmt.Sprintf(commit, 301))
	c.close()

	logs := c.logs.String()
	errs := regexp.MustCompile(`(?m)^.*level=ERROR.*$`).FindAllString(logs, -1)
	infos := regexp.MustCompile(`(?m)^.*level=INFO.*writes resumed.*$`).FindAllString(logs, -1)
	if len(errs) != 2 || !strings.Contains(errs[0], "disk full") || !strings.Contains(errs[0], "refused=1") ||
		!strings.Contains(errs[1], "restarted") {
		t.Fatalf("want one ERROR line per run of failures (disk full, then final); logs:\n%s", logs)
	}
	if len(infos) != 1 || !strings.Contains(infos[0], "refused=3") {
		t.Fatalf("want one INFO line saying 3 requests were refused; logs:\n%s", logs)
	}
}

// A batch that holds requests sent before init, the init and a commit
// whose Flush fails is answered again after the rollback: the requests
// before init still get error 11, as in the first answer, not a reply
// from a store that was not open when they came.
func TestFailedBatchKeepsErrorsBeforeInit(t *testing.T) {
	st := newMemStore()
	st.m[key([]byte("g"), []byte("t"), 0)] = 5
	st.fail = true
	out := runNode(t, st, `{"src":"c1","dest":"n1","body":{"type":"fetch_offset","group":"g","topic":"t","partition":0,"msg_id":1}}
{"src":"c1","dest":"n1","body":{"type":"init","node_id":"n1","node_ids":["n1"],"msg_id":2}}
{"src":"c1","dest":"n1","body":{"type":"commit_offset","group":"g","topic":"t","partition":0,"offset":9,"msg_id":3}}
`)
	if st.flushes == 0 || len(out) != 3 {
		t.Fatalf("flushes %d, replies %q: want one failed batch of three", st.flushes, out)
	}
	if !strings.Contains(out[0], `"code": 11`) {
		t.Fatalf("the fetch sent before init was answered %s, want error 11", out[0])
	}
	if !strings.Contains(out[1], "init_ok") || !strings.Contains(out[2], `"code": 13`) {
		t.Fatalf("replies %q", out)
	}
}
