package main

import (
	"bufio"
	"bytes"
	"io"
	"os/exec"
	"strings"
	"testing"

	"github.com/maelstrom-offsets/offsets/node"
)

// A pretty-printed message with one line longer than the message limit is
// skipped whole: the node must never parse what is left of it without that
// line (here it would delete every partition instead of the one asked
// for). The case is streamed, not stored in testdata/cases, because it is
// over node.MaxMessageBytes.
func TestOversizedPrettyPrintedMessageSkippedWhole(t *testing.T) {
	cmd := exec.Command(nodeBinary(t), "--data-dir", t.TempDir())
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	werr := make(chan error, 1)
	go func() {
		w := bufio.NewWriterSize(in, 1<<16)
		io.WriteString(w, initLine+"\n")
		for p := 0; p < 3; p++ {
			io.WriteString(w, `{"src":"c1","dest":"n1","body":{"type":"commit_offset","msg_id":`+string(rune('2'+p))+
				`,"group":"g","topic":"t","partition":`+string(rune('0'+p))+`,"offset":7}}`+"\n")
		}
		io.WriteString(w, "{\n \"src\": \"c1\",\n \"dest\": \"n1\",\n \"body\": {\n  \"type\": \"delete_offsets\", \"msg_id\": 9, \"group\": \"g\", \"topic\": \"t\",\n")
		io.WriteString(w, `  "partitions": [1], "pad": "`)
		pad := strings.Repeat("x", 1<<16)
		for n := 0; n <= node.MaxMessageBytes; n += len(pad) {
			io.WriteString(w, pad)
		}
		io.WriteString(w, "\",\n  \"note\": \"the line above is over the limit\"\n }\n}\n")
		io.WriteString(w, `{"src":"c1","dest":"n1","body":{"type":"fetch_offsets","msg_id":10,"group":"g"}}`+"\n")
		err := w.Flush()
		if cerr := in.Close(); err == nil {
			err = cerr
		}
		werr <- err
	}()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("node: %v\n%s", err, stderr.String())
	}
	if err := <-werr; err != nil {
		t.Fatal(err)
	}
	want := `{"src": "n1", "dest": "c0", "body": {"type": "init_ok", "in_reply_to": 1, "msg_id": 0}}
{"src": "n1", "dest": "c1", "body": {"type": "commit_offset_ok", "in_reply_to": 2, "msg_id": 1}}
{"src": "n1", "dest": "c1", "body": {"type": "commit_offset_ok", "in_reply_to": 3, "msg_id": 2}}
{"src": "n1", "dest": "c1", "body": {"type": "commit_offset_ok", "in_reply_to": 4, "msg_id": 3}}
{"src": "n1", "dest": "c1", "body": {"type": "fetch_offsets_ok", "in_reply_to": 10, "offsets": [{"topic": "t", "partition": 0, "offset": 7, "metadata": ""}, {"topic": "t", "partition": 1, "offset": 7, "metadata": ""}, {"topic": "t", "partition": 2, "offset": 7, "metadata": ""}], "msg_id": 4}}
`
	if stdout.String() != want {
		t.Fatalf("stdout:\n%s\nwant:\n%s\nstderr:\n%s", stdout.String(), want, goldenClip(stderr.String(), 4000))
	}
	if n := strings.Count(stderr.String(), "level=WARN"); n != 1 || !strings.Contains(stderr.String(), "line=5 ") ||
		!strings.Contains(stderr.String(), "over the limit") {
		t.Fatalf("want one WARN naming line 5 and the limit, got %d:\n%s", n, goldenClip(stderr.String(), 4000))
	}
}
