package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var seed = flag.Uint64("seed", 0, "seed of the random history in TestReplayAgreesWithNode (0: from the clock)")

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

type committed struct {
	offset   int64
	metadata string
}

// TestReplayAgreesWithNode feeds the node a random history over two runs
// (a restart between them) of every request that changes offsets: single
// and batch commits with metadata and generations (some fenced), offset
// deletes and group deletes. It then replays the log with replay --json and
// checks it against what the node answers in a third run: fetch_offsets for
// every group, fetch_offset for every key, list_groups.
func TestReplayAgreesWithNode(t *testing.T) {
	s := *seed
	if s == 0 {
		s = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (rerun with -seed %d)", s, s)
	rng := rand.New(rand.NewPCG(s, s^0x9e3779b97f4a7c15))
	groups := []string{"g", "billing", "ünïcode grp", "名前", "with \"quotes\"", "tab\there", "emoji 🎉", "<html>&amp;"}
	topics := []string{"t", "orders", "Orders", "événements", "a/b"}
	parts := []int32{0, 1, 2, 7, math.MaxInt32}
	metas := []string{"", "", "m", "consumer-7 ünï", strings.Repeat("x", 300)}
	pick := func(xs []string) string { return xs[rng.IntN(len(xs))] }
	randOffset := func() int64 {
		switch rng.IntN(4) {
		case 0:
			return 0
		case 1:
			return math.MaxInt64 - rng.Int64N(3)
		}
		return rng.Int64N(1 << 40)
	}
	maybeGeneration := func(body map[string]any) {
		if rng.IntN(5) == 0 {
			body["generation"] = rng.IntN(6)
		}
	}
	dataDir := t.TempDir()
	id := 10
	fenced := 0
	for run := 0; run < 2; run++ {
		var lines []string
		for range 1000 + rng.IntN(2000) {
			id++
			body := map[string]any{"msg_id": id, "group": pick(groups)}
			switch r := rng.IntN(100); {
			case r < 60:
				body["type"] = "commit_offset"
				body["topic"], body["partition"], body["offset"] = pick(topics), parts[rng.IntN(len(parts))], randOffset()
				if m := pick(metas); m != "" {
					body["metadata"] = m
				}
				maybeGeneration(body)
			case r < 80:
				body["type"] = "commit_offsets"
				var offs []map[string]any
				for range 1 + rng.IntN(4) {
					offs = append(offs, map[string]any{"topic": pick(topics), "partition": parts[rng.IntN(len(parts))],
						"offset": randOffset(), "metadata": pick(metas)})
				}
				body["offsets"] = offs
				maybeGeneration(body)
			case r < 93:
				body["type"] = "delete_offsets"
				body["topic"] = pick(topics)
				if rng.IntN(2) == 0 {
					body["partitions"] = []int32{parts[rng.IntN(len(parts))], parts[rng.IntN(len(parts))]}
				}
			default:
				body["type"] = "delete_group"
			}
			lines = append(lines, request(body))
		}
		for i, b := range runNode(t, dataDir, lines, "--segment-size", "65536") {
			switch {
			case b["type"] == "error" && fmt.Sprint(b["code"]) == "22":
				fenced++
			case !strings.HasSuffix(fmt.Sprint(b["type"]), "_ok"):
				t.Fatalf("reply %d to %s: %v", i, lines[i], b)
			}
		}
	}
	t.Logf("%d commits fenced", fenced)

	dir := filepath.Join(dataDir, "n1")
	stdout, stderr, code := runCLI("replay", "--json", dir)
	if code != 0 {
		t.Fatalf("replay exit %d: %s", code, stderr)
	}
	replayed := map[nodeKey]committed{}
	replayedGroups := map[string]bool{}
	var prev *offsetJSON
	for _, line := range strings.Split(strings.TrimSuffix(stdout, "\n"), "\n") {
		if line == "" {
			continue
		}
		var o offsetJSON
		if err := json.Unmarshal([]byte(line), &o); err != nil {
			t.Fatalf("replay line %q: %v", line, err)
		}
		if prev != nil && !(prev.Group < o.Group || prev.Group == o.Group && (prev.Topic < o.Topic || prev.Topic == o.Topic && prev.Partition < o.Partition)) {
			t.Fatalf("replay output not sorted: %v then %v", *prev, o)
		}
		prev = &o
		replayed[nodeKey{o.Group, o.Topic, o.Partition}] = committed{o.Offset, o.Metadata}
		replayedGroups[o.Group] = true
	}

	// Ask the node: list_groups, fetch_offsets for every group of the pool,
	// fetch_offset for every key of the pools, committed or not (0 for the
	// ones that are not).
	lines := []string{request(map[string]any{"type": "list_groups", "msg_id": 1})}
	for i, g := range groups {
		lines = append(lines, request(map[string]any{"type": "fetch_offsets", "msg_id": 2 + i, "group": g}))
	}
	var keys []nodeKey
	for _, g := range groups {
		for _, tp := range topics {
			for _, p := range parts {
				k := nodeKey{g, tp, p}
				keys = append(keys, k)
				id++
				lines = append(lines, requestLine(id, "fetch_offset", k, 0))
			}
		}
	}
	replies := runNode(t, dataDir, lines)
	var listed []string
	for _, g := range replies[0]["groups"].([]any) {
		listed = append(listed, g.(string))
	}
	if len(listed) != len(replayedGroups) {
		t.Errorf("list_groups %q; replay shows offsets of %d groups", listed, len(replayedGroups))
	}
	fetched := 0
	for i, g := range groups {
		b := replies[1+i]
		for _, o := range b["offsets"].([]any) {
			o := o.(map[string]any)
			p, _ := o["partition"].(json.Number).Int64()
			off, _ := o["offset"].(json.Number).Int64()
			k := nodeKey{g, o["topic"].(string), int32(p)}
			want := committed{off, o["metadata"].(string)}
			if got, ok := replayed[k]; !ok || got != want {
				t.Errorf("%v: node fetches %+v, replay shows %+v (present %v)", k, want, got, ok)
			}
			fetched++
		}
	}
	if fetched != len(replayed) {
		t.Errorf("the node fetches %d offsets over all groups, replay shows %d", fetched, len(replayed))
	}
	for i, b := range replies[1+len(groups):] {
		k := keys[i]
		got, err := b["offset"].(json.Number).Int64()
		if b["type"] != "fetch_offset_ok" || err != nil {
			t.Fatalf("fetch %v: %v", k, b)
		}
		if got != replayed[k].offset {
			t.Errorf("%v: node fetches %d, replay shows %d", k, got, replayed[k].offset)
		}
	}
	if len(replayed) == 0 {
		t.Fatal("the history left no offsets: nothing was compared")
	}
}
