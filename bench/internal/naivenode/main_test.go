package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const roundtripIn = `{"src":"c0","dest":"n1","body":{"type":"init","msg_id":1,"node_id":"n1","node_ids":["n1"]}}
{"src":"c1","dest":"n1","body":{"type":"commit_offset","msg_id":2,"group":"g1","topic":"t1","partition":0,"offset":10}}
{"src":"c1","dest":"n1","body":{"type":"fetch_offset","msg_id":3,"group":"g1","topic":"t1","partition":0}}
{"src":"c1","dest":"n1","body":{"type":"fetch_offset","msg_id":4,"group":"g2","topic":"t1","partition":0}}
`

const roundtripOut = `{"src": "n1", "dest": "c0", "body": {"type": "init_ok", "in_reply_to": 1, "msg_id": 0}}
{"src": "n1", "dest": "c1", "body": {"type": "commit_offset_ok", "in_reply_to": 2, "msg_id": 1}}
{"src": "n1", "dest": "c1", "body": {"type": "fetch_offset_ok", "in_reply_to": 3, "offset": 10, "msg_id": 2}}
{"src": "n1", "dest": "c1", "body": {"type": "fetch_offset_ok", "in_reply_to": 4, "offset": 0, "msg_id": 3}}
`

func TestRunRoundtrip(t *testing.T) {
	for _, fsync := range []bool{true, false} {
		dir := t.TempDir()
		var out bytes.Buffer
		if err := run(strings.NewReader(roundtripIn), &out, dir, fsync); err != nil {
			t.Fatalf("fsync=%v: run: %v", fsync, err)
		}
		if out.String() != roundtripOut {
			t.Errorf("fsync=%v: got\n%s\nwant\n%s", fsync, out.String(), roundtripOut)
		}
		logged, err := os.ReadFile(filepath.Join(dir, "n1", "naive.log"))
		if err != nil {
			t.Fatal(err)
		}
		want := `{"group":"g1","topic":"t1","partition":0,"offset":10}` + "\n"
		if string(logged) != want {
			t.Errorf("fsync=%v: naive.log = %q, want %q", fsync, logged, want)
		}
	}
}

// TestSharedCases checks the baseline against the project's golden cases, so
// the benchmark never compares offsets-node with a baseline that answers wrong.
func TestSharedCases(t *testing.T) {
	ins, _ := filepath.Glob("../../../testdata/cases/seed-*.in")
	if len(ins) == 0 {
		t.Skip("no seed cases in testdata/cases")
	}
	for _, in := range ins {
		input, err := os.ReadFile(in)
		if err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile(strings.TrimSuffix(in, ".in") + ".out")
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		if err := run(bytes.NewReader(input), &out, t.TempDir(), false); err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if out.String() != string(want) {
			t.Errorf("%s: got\n%s\nwant\n%s", in, out.String(), want)
		}
	}
}
