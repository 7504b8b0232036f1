package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var (
	nodeOnce sync.Once
	nodeBin  string
	nodeErr  error
	binDir   string
)

// nodeBinary builds offsets-node once for this package's tests.
func nodeBinary(t testing.TB) string {
	t.Helper()
	nodeOnce.Do(func() {
		binDir, nodeErr = os.MkdirTemp("", "offsets-log-test-")
		if nodeErr != nil {
			return
		}
		cleanups = append(cleanups, func() { os.RemoveAll(binDir) })
		nodeBin = filepath.Join(binDir, "offsets-node")
		if out, err := exec.Command("go", "build", "-o", nodeBin, "../offsets-node").CombinedOutput(); err != nil {
			nodeErr = fmt.Errorf("go build offsets-node: %v\n%s", err, out)
		}
	})
	if nodeErr != nil {
		t.Fatal(nodeErr)
	}
	return nodeBin
}

type nodeKey struct {
	group, topic string
	partition    int32
}

// runNode runs offsets-node on dataDir with the request lines after an
// init and returns its reply bodies in order.
func runNode(t testing.TB, dataDir string, lines []string, extra ...string) []map[string]any {
	t.Helper()
	input := `{"src":"c0","dest":"n1","body":{"type":"init","msg_id":1,"node_id":"n1","node_ids":["n1"]}}` + "\n" +
		strings.Join(lines, "\n") + "\n"
	cmd := exec.Command(nodeBinary(t), append([]string{"--data-dir", dataDir}, extra...)...)
	cmd.Stdin = strings.NewReader(input)
	var errb strings.Builder
	cmd.Stderr = &errb
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("offsets-node: %v\n%s", err, errb.String())
	}
	var bodies []map[string]any
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var msg struct{ Body map[string]any }
		dec := json.NewDecoder(strings.NewReader(sc.Text()))
		dec.UseNumber()
		if err := dec.Decode(&msg); err != nil {
			t.Fatalf("reply %q: %v", sc.Text(), err)
		}
		bodies = append(bodies, msg.Body)
	}
	if len(bodies) != len(lines)+1 {
		t.Fatalf("%d replies to %d requests", len(bodies), len(lines)+1)
	}
	return bodies[1:]
}

func requestLine(id int, typ string, k nodeKey, offset int64) string {
	body := map[string]any{"type": typ, "msg_id": id, "group": k.group, "topic": k.topic, "partition": k.partition}
	if typ == "commit_offset" {
		body["offset"] = offset
	}
	return request(body)
}

func request(body map[string]any) string {
	b, err := json.Marshal(map[string]any{"src": "c1", "dest": "n1", "body": body})
	if err != nil {
		panic(err)
	}
	return string(b)
}
