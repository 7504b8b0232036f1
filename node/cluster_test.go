package node

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
)

// coded is a store whose every Flush fails with a ReplyError, as a
// replicated store's does on a member that is not the leader.
type coded struct {
	*memStore
	code int
}

func (c *coded) Flush() error {
	clear(c.staged)
	return &ReplyError{Code: c.code, Err: errors.New("not the leader")}
}

// A Flush that fails with a ReplyError answers every request of its batch
// with that code, reads included (they may have seen state that is not
// current); cluster_status is still answered, from Config.Status.
func TestReplyErrorAnswersEveryRequest(t *testing.T) {
	st := &coded{memStore: newMemStore(), code: CodeTemporarilyUnavailable}
	st.m[key([]byte("g"), []byte("t"), 0)] = 3
	var out strings.Builder
	err := Run(context.Background(), strings.NewReader(`{"src":"c0","dest":"n1","body":{"type":"init","msg_id":1,"node_id":"n1"}}
{"src":"c1","dest":"n1","body":{"type":"commit_offset","msg_id":2,"group":"g","topic":"t","partition":0,"offset":5}}
{"src":"c1","dest":"n1","body":{"type":"fetch_offset","msg_id":3,"group":"g","topic":"t","partition":0}}
{"src":"c1","dest":"n1","body":{"type":"cluster_status","msg_id":4}}
`), &out, Config{
		Open:   func(string) (Offsets, error) { return st, nil },
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Status: func() ClusterStatus { return ClusterStatus{Role: "follower", Term: 7, Commit: 9, Applied: 8} },
	})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"src": "n1", "dest": "c0", "body": {"type": "init_ok", "in_reply_to": 1, "msg_id": 0}}
{"src": "n1", "dest": "c1", "body": {"type": "error", "in_reply_to": 2, "code": 11, "text": "not the leader", "msg_id": 1}}
{"src": "n1", "dest": "c1", "body": {"type": "error", "in_reply_to": 3, "code": 11, "text": "not the leader", "msg_id": 2}}
{"src": "n1", "dest": "c1", "body": {"type": "cluster_status_ok", "in_reply_to": 4, "role": "follower", "term": 7, "leader": null, "commit": 9, "applied": 8, "msg_id": 3}}
`
	if out.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", out.String(), want)
	}
}

// A single node answers cluster_status as the leader of a cluster of one.
func TestClusterStatusSingleNode(t *testing.T) {
	c := startInteractive(t, newMemStore())
	defer c.close()
	got := c.send(`"type":"cluster_status"`)
	want := `{"src": "n1", "dest": "c1", "body": {"type": "cluster_status_ok", "in_reply_to": 2, "role": "leader", "term": 0, "leader": "n1", "commit": 0, "applied": 0, "msg_id": 1}}`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

// Work queued on Config.Work runs on the serving goroutine while no batch
// is staged, and what it changes is seen by the next request.
func TestWorkRunsBetweenBatches(t *testing.T) {
	st := newMemStore()
	work := make(chan func())
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- Run(context.Background(), inR, outW, Config{
			Open:   func(string) (Offsets, error) { return st, nil },
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
			Work:   work,
		})
		outW.Close()
	}()
	c := &interactive{t: t, in: inW, out: bufio.NewScanner(outR), done: done}
	c.send(`"type":"init","node_id":"n1"`)
	c.send(`"type":"commit_offset","group":"g","topic":"t","partition":0,"offset":5`)
	ran := make(chan int)
	work <- func() {
		st.m[key([]byte("g"), []byte("t"), 0)] = 9
		ran <- st.Pending()
	}
	if p := <-ran; p != 0 {
		t.Fatalf("work ran with %d changes staged", p)
	}
	got := c.send(`"type":"fetch_offset","group":"g","topic":"t","partition":0`)
	if !strings.Contains(got, `"offset": 9`) {
		t.Fatalf("fetch after the work: %s", got)
	}
	inW.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// Route takes the messages it wants before they are parsed; messages on
// Inject are served as if read from the input.
func TestRouteAndInject(t *testing.T) {
	st := newMemStore()
	inject := make(chan []byte, 1)
	var routed []string
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- Run(context.Background(), inR, outW, Config{
			Open:   func(string) (Offsets, error) { return st, nil },
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
			Route: func(msg []byte) bool {
				if strings.Contains(string(msg), `"src":"c9"`) {
					routed = append(routed, string(msg))
					return true
				}
				return false
			},
			Inject: inject,
		})
		outW.Close()
	}()
	c := &interactive{t: t, in: inW, out: bufio.NewScanner(outR), done: done}
	c.send(`"type":"init","node_id":"n1"`)
	io.WriteString(inW, `{"src":"c9","dest":"n1","body":{"type":"fetch_offset","msg_id":7,"group":"g","topic":"t","partition":0}}`+"\n")
	inject <- []byte(`{"src":"fwd1","dest":"n1","body":{"type":"commit_offset","msg_id":8,"group":"g","topic":"t","partition":0,"offset":4}}`)
	if !c.out.Scan() {
		t.Fatal("no reply to the injected commit")
	}
	if got, want := c.out.Text(), `{"src": "n1", "dest": "fwd1", "body": {"type": "commit_offset_ok", "in_reply_to": 8, "msg_id": 1}}`; got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	if got := c.send(`"type":"fetch_offset","group":"g","topic":"t","partition":0`); !strings.Contains(got, `"offset": 4`) {
		t.Fatalf("fetch after the injected commit: %s", got)
	}
	inW.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(routed) != 1 || !strings.Contains(routed[0], `"msg_id":7`) {
		t.Fatalf("routed %q", routed)
	}
}
