package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
)

var (
	toolOnce sync.Once
	toolBin  string
	toolErr  error
)

// toolBinary builds offsets-log once for this package's tests, beside the
// node binary.
func toolBinary(t testing.TB) string {
	t.Helper()
	nodeBinary(t) // makes binDir
	toolOnce.Do(func() {
		toolBin = filepath.Join(binDir, "offsets-log")
		if out, err := exec.Command("go", "build", "-o", toolBin, ".").CombinedOutput(); err != nil {
			toolErr = fmt.Errorf("go build offsets-log: %v\n%s", err, out)
		}
	})
	if toolErr != nil {
		t.Fatal(toolErr)
	}
	return toolBin
}

// commitTimeRe matches the commit times in replay --json and the newest
// commit column of stats --groups: the node that imports stamps its own.
var commitTimeRe = regexp.MustCompile(`"commit_time":"[^"]*"|  [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z`)

// pipe runs a shell pipeline of the real binaries and returns its stdout.
func pipe(t *testing.T, script string) string {
	t.Helper()
	cmd := exec.Command("bash", "-c", "set -eo pipefail; "+script)
	var errb strings.Builder
	cmd.Stderr = &errb
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", script, err, errb.String())
	}
	return string(out)
}

// TestExportImportRoundTrip builds a history in a node (two runs, with
// generations, metadata, deletes, a group with only a generation, names
// that need escaping), then pipes export through import into a node on a
// fresh directory, as the README shows, and checks that the new log
// replays to the same offsets and generations (the commit times aside),
// that every request was acknowledged, and that the new node fences a
// generation the old one fenced.
func TestExportImportRoundTrip(t *testing.T) {
	node, tool := nodeBinary(t), toolBinary(t)
	root := t.TempDir()
	src, dst := filepath.Join(root, "src"), filepath.Join(root, "dst")
	runNode(t, src, []string{
		request(map[string]any{"type": "commit_offsets", "msg_id": 2, "group": "orders", "generation": 4, "offsets": []any{
			map[string]any{"topic": "orders", "partition": 0, "offset": 100, "metadata": "host-1"},
			map[string]any{"topic": "orders", "partition": 1, "offset": 9223372036854775807},
			map[string]any{"topic": "audit,log", "partition": 2147483647, "offset": 0, "metadata": "é \"q\" \u2028"},
		}}),
		request(map[string]any{"type": "commit_offset", "msg_id": 3, "group": "billing", "topic": "payments", "partition": 0, "offset": 10}),
		request(map[string]any{"type": "commit_offsets", "msg_id": 4, "group": "idle", "generation": 7, "offsets": []any{}}),
		request(map[string]any{"type": "commit_offset", "msg_id": 5, "group": "gone", "topic": "t", "partition": 0, "offset": 1}),
	})
	// A restart, then more history: a rewind, deletes.
	runNode(t, src, []string{
		request(map[string]any{"type": "commit_offset", "msg_id": 2, "group": "billing", "topic": "payments", "partition": 0, "offset": 5, "metadata": "rewound"}),
		request(map[string]any{"type": "commit_offset", "msg_id": 3, "group": "billing", "topic": "payments", "partition": 1, "offset": 3}),
		request(map[string]any{"type": "delete_offsets", "msg_id": 4, "group": "orders", "topic": "orders", "partitions": []any{1}}),
		request(map[string]any{"type": "delete_group", "msg_id": 5, "group": "gone"}),
		request(map[string]any{"type": "commit_offset", "msg_id": 6, "group": "ünï cödé", "topic": "événements", "partition": 3, "offset": 42}),
	})
	srcDir, dstDir := filepath.Join(src, "n1"), filepath.Join(dst, "n1")

	replies := pipe(t, fmt.Sprintf("%s export %s | %s import --node-id n1 | %s --data-dir %s", tool, srcDir, tool, node, dst))
	sc := bufio.NewScanner(strings.NewReader(replies))
	var types []string
	for sc.Scan() {
		var msg struct{ Body struct{ Type string } }
		if err := json.Unmarshal(sc.Bytes(), &msg); err != nil {
			t.Fatalf("reply %q: %v", sc.Text(), err)
		}
		types = append(types, msg.Body.Type)
	}
	// init, then one request per group: billing, idle, orders, ünï cödé.
	if want := "init_ok commit_offsets_ok commit_offsets_ok commit_offsets_ok commit_offsets_ok"; strings.Join(types, " ") != want {
		t.Fatalf("replies %q, want %s\n%s", types, want, replies)
	}

	for _, args := range [][]string{{"replay", "--json"}, {"stats", "--groups"}} {
		run := func(dir string) string {
			out := pipe(t, fmt.Sprintf("%s %s %s", tool, strings.Join(args, " "), dir))
			if args[0] == "stats" {
				out = groupTable.FindString(out)
			}
			return commitTimeRe.ReplaceAllString(out, "TIME")
		}
		if before, after := run(srcDir), run(dstDir); before != after || before == "" {
			t.Fatalf("%s differs after export | import | node\n--- source\n%s--- imported\n%s", args[0], before, after)
		}
	}
	// The generations came along: the new node fences generation 3 of orders
	// and 6 of idle, and takes 7 of idle.
	got := runNode(t, dst, []string{
		request(map[string]any{"type": "commit_offset", "msg_id": 2, "group": "orders", "topic": "orders", "partition": 0, "offset": 1, "generation": 3}),
		request(map[string]any{"type": "commit_offset", "msg_id": 3, "group": "idle", "topic": "t", "partition": 0, "offset": 1, "generation": 6}),
		request(map[string]any{"type": "commit_offset", "msg_id": 4, "group": "idle", "topic": "t", "partition": 0, "offset": 1, "generation": 7}),
	})
	for i, want := range []string{"error", "error", "commit_offset_ok"} {
		if got[i]["type"] != want || (want == "error" && fmt.Sprint(got[i]["code"]) != "22") {
			t.Fatalf("reply %d: %v, want %s (22 when an error)", i, got[i], want)
		}
	}
}

// TestResetPlanThroughNode carries out the three kinds of reset plan on a
// node, the way the README shows (reset-plan > file; import | node), and
// checks that the node then holds the plan's offsets.
func TestResetPlanThroughNode(t *testing.T) {
	node, tool := nodeBinary(t), toolBinary(t)
	data := t.TempDir()
	dir := filepath.Join(data, "n1")
	runNode(t, data, []string{
		request(map[string]any{"type": "commit_offsets", "msg_id": 2, "group": "g", "generation": 2, "offsets": []any{
			map[string]any{"topic": "t", "partition": 0, "offset": 10, "metadata": "m"},
			map[string]any{"topic": "t", "partition": 1, "offset": 20},
		}}),
	})
	csv := filepath.Join(data, "reset.csv")
	if err := os.WriteFile(csv, []byte("t,1,7\nu,0,3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	offsets := func() string {
		t.Helper()
		return commitTimeRe.ReplaceAllString(pipe(t, fmt.Sprintf("%s replay --json --group g %s", tool, dir)), "TIME")
	}
	for _, c := range []struct{ flags, want string }{
		{"--shift-by -15", `{"group":"g","topic":"t","partition":0,"offset":0,"metadata":"m",TIME}` + "\n" +
			`{"group":"g","topic":"t","partition":1,"offset":5,"metadata":"",TIME}` + "\n"},
		{"--from-file " + csv, `{"group":"g","topic":"t","partition":0,"offset":0,"metadata":"m",TIME}` + "\n" +
			`{"group":"g","topic":"t","partition":1,"offset":7,"metadata":"",TIME}` + "\n" +
			`{"group":"g","topic":"u","partition":0,"offset":3,"metadata":"",TIME}` + "\n"},
	} {
		plan := filepath.Join(data, "plan.jsonl")
		pipe(t, fmt.Sprintf("%s reset-plan --group g %s %s > %s 2>/dev/null", tool, c.flags, dir, plan))
		pipe(t, fmt.Sprintf("%s import --node-id n1 %s | %s --data-dir %s | grep -c commit_offsets_ok", tool, plan, node, data))
		if got := offsets(); got != c.want {
			t.Fatalf("after reset-plan %s:\n%s\nwant\n%s", c.flags, got, c.want)
		}
	}
	// --to-time: back to what the group had after the first run, read from
	// the log's own commit times.
	first := pipe(t, fmt.Sprintf("%s dump --json --to 1 %s", tool, dir))
	var rec struct{ Time string }
	if err := json.Unmarshal([]byte(strings.SplitN(first, "\n", 2)[0]), &rec); err != nil || rec.Time == "" {
		t.Fatalf("dump --json: %q: %v", first, err)
	}
	plan := filepath.Join(data, "plan.jsonl")
	pipe(t, fmt.Sprintf("%s reset-plan --group g --to-time %s %s > %s 2>/dev/null", tool, rec.Time, dir, plan))
	pipe(t, fmt.Sprintf("%s import --node-id n1 %s | %s --data-dir %s >/dev/null", tool, plan, node, data))
	// u/0 had no offset then: a commit cannot remove it, so it stays.
	want := `{"group":"g","topic":"t","partition":0,"offset":10,"metadata":"m",TIME}` + "\n" +
		`{"group":"g","topic":"t","partition":1,"offset":20,"metadata":"",TIME}` + "\n" +
		`{"group":"g","topic":"u","partition":0,"offset":3,"metadata":"",TIME}` + "\n"
	if got := offsets(); got != want {
		t.Fatalf("after reset-plan --to-time %s:\n%s\nwant\n%s", rec.Time, got, want)
	}
}

// TestExportSplitsLargeGroups exports with a small request limit: every
// group's offsets come out, in order, in requests under the limit, each
// with the group's generation.
func TestExportSplitsLargeGroups(t *testing.T) {
	defer func(n int) { exportRequestBytes = n }(exportRequestBytes)
	exportRequestBytes = 150
	stdout, stderr, code := runCLI("export", logPath("tombstones"))
	if code != 0 {
		t.Fatalf("export: %s", stderr)
	}
	want, _, _ := runCLI("replay", "--json", logPath("tombstones"))
	var got strings.Builder
	perGroup := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
		if len(line) > 400 {
			t.Errorf("request of %d bytes with a limit of 150 for its offsets: %s", len(line), line)
		}
		var msg struct {
			Body struct {
				Group      string
				Generation *int32
				Offsets    []commitEntry
			}
		}
		if err := json.Unmarshal([]byte(line), &msg); err != nil {
			t.Fatal(err)
		}
		perGroup[msg.Body.Group]++
		if msg.Body.Group == "orders-svc" && (msg.Body.Generation == nil || *msg.Body.Generation != 2) {
			t.Errorf("a part of orders-svc without its generation 2: %s", line)
		}
		for _, en := range msg.Body.Offsets {
			fmt.Fprintf(&got, "%s/%s/%d/%d/%s\n", msg.Body.Group, en.Topic, en.Partition, en.Offset, en.Metadata)
		}
	}
	if perGroup["orders-svc"] < 2 || !strings.Contains(stderr, "1 group too large for one request") {
		t.Errorf("orders-svc (3 offsets) in %d requests; stderr %q", perGroup["orders-svc"], stderr)
	}
	var replayed strings.Builder
	for _, line := range strings.Split(strings.TrimSpace(want), "\n") {
		var o offsetJSON
		json.Unmarshal([]byte(line), &o)
		fmt.Fprintf(&replayed, "%s/%s/%d/%d/%s\n", o.Group, o.Topic, o.Partition, o.Offset, o.Metadata)
	}
	if got.String() != replayed.String() {
		t.Errorf("exported offsets\n%s\nwant replay's\n%s", got.String(), replayed.String())
	}
}
