package main

import (
	"bufio"
	"fmt"
	"io"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Tests of the issue-7 offsets API across restarts: what fetch_offsets,
// list_groups and fencing answer must survive a restart of the node on the
// same --data-dir, with and without compaction in between; and offsets
// retention expires idle groups durably. Expected replies are written by
// hand from the spec, in the exact reply format (json.dumps), minus the
// msg_id (which restarts at 0 with every process) and the in_reply_to
// (checked separately).

// apiNode is one running offsets-node with its pipes.
type apiNode struct {
	t      *testing.T
	cmd    *exec.Cmd
	in     io.WriteCloser
	out    *bufio.Scanner
	stderr *lockedBuffer
	nextID int
}

// apiStart starts the node on dataDir and initializes it as n1.
func apiStart(t *testing.T, dataDir string, flags ...string) *apiNode {
	t.Helper()
	cmd := exec.Command(nodeBinary(t), append([]string{"--data-dir", dataDir}, flags...)...)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	outPipe, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	n := &apiNode{t: t, cmd: cmd, in: in, stderr: &lockedBuffer{}, nextID: 2}
	cmd.Stderr = n.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	n.out = bufio.NewScanner(outPipe)
	n.out.Buffer(make([]byte, 1<<20), 1<<20)
	if _, err := fmt.Fprintln(in, initLine); err != nil {
		t.Fatal(err)
	}
	if !n.out.Scan() {
		t.Fatalf("no reply to init; stderr:\n%s", n.stderr)
	}
	if got, want := n.out.Text(), `{"src": "n1", "dest": "c0", "body": {"type": "init_ok", "in_reply_to": 1, "msg_id": 0}}`; got != want {
		t.Fatalf("init: got %s, want %s", got, want)
	}
	return n
}

var apiReplyRE = regexp.MustCompile(`^\{"src": "n1", "dest": "c1", "body": \{"type": ("[a-z_]+"), "in_reply_to": (\d+)(.*), "msg_id": \d+\}\}$`)

// call sends one request (the body's fields as JSON text, without msg_id)
// and waits for its reply. It returns the reply body without in_reply_to
// and msg_id, e.g. {"type": "fetch_offset_ok", "offset": 3}.
func (n *apiNode) call(fields string) string {
	n.t.Helper()
	id := n.nextID
	n.nextID++
	line := fmt.Sprintf(`{"src":"c1","dest":"n1","body":{"msg_id":%d,%s}}`, id, fields)
	if _, err := fmt.Fprintln(n.in, line); err != nil {
		n.t.Fatalf("write %s: %v", line, err)
	}
	if !n.out.Scan() {
		n.t.Fatalf("no reply to %s; stderr:\n%s", line, n.stderr)
	}
	m := apiReplyRE.FindStringSubmatch(n.out.Text())
	if m == nil {
		n.t.Fatalf("reply to %s is not in the reply format: %s", line, n.out.Text())
	}
	if m[2] != fmt.Sprint(id) {
		n.t.Fatalf("reply to msg_id %d has in_reply_to %s: %s", id, m[2], n.out.Text())
	}
	return `{"type": ` + m[1] + m[3] + `}`
}

// stop closes stdin and waits for a clean exit; it returns stderr.
func (n *apiNode) stop() string {
	n.t.Helper()
	n.in.Close()
	done := make(chan error, 1)
	go func() { done <- n.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			n.t.Fatalf("node exit: %v\nstderr:\n%s", err, n.stderr)
		}
	case <-time.After(30 * time.Second):
		n.cmd.Process.Kill()
		n.t.Fatalf("node did not exit 30s after EOF\nstderr:\n%s", n.stderr)
	}
	return n.stderr.String()
}

// apiStep is one request and the reply it must get (see call).
type apiStep struct{ req, want string }

func (n *apiNode) run(label string, steps []apiStep) {
	n.t.Helper()
	for i, s := range steps {
		if got := n.call(s.req); got != s.want {
			n.t.Errorf("%s step %d: %s\n got: %s\nwant: %s", label, i, s.req, got, s.want)
		}
	}
}

const (
	apiCommitOK  = `{"type": "commit_offset_ok"}`
	apiCommitsOK = `{"type": "commit_offsets_ok"}`
)

func apiFenced(low, high int) string {
	return fmt.Sprintf(`{"type": "error", "code": 22, "text": "generation %d is fenced: the group has moved on to generation %d"}`, low, high)
}

// The first run's writes: metadata (with escapes), generations, deleted
// offsets, deleted groups, a group with a generation and no offsets, a
// group whose every offset was deleted.
var apiWrites = []apiStep{
	{`"type":"commit_offset","group":"g1","topic":"t","partition":0,"offset":10,"metadata":"m0","generation":3`, apiCommitOK},
	{`"type":"commit_offsets","group":"g1","generation":4,"offsets":[{"topic":"t","partition":1,"offset":11,"metadata":"m1"},{"topic":"u","partition":0,"offset":12,"metadata":"é🚀\n\"q\""}]`, apiCommitsOK},
	{`"type":"commit_offset","group":"g2","topic":"t","partition":0,"offset":20,"generation":7`, apiCommitOK},
	{`"type":"commit_offset","group":"g2","topic":"t","partition":1,"offset":21`, apiCommitOK},
	{`"type":"commit_offset","group":"g3","topic":"x","partition":0,"offset":30,"metadata":"gone"`, apiCommitOK},
	{`"type":"commit_offset","group":"g1","topic":"t","partition":2,"offset":13`, apiCommitOK},
	{`"type":"commit_offset","group":"g5","topic":"t","partition":0,"offset":50,"generation":50`, apiCommitOK},
	{`"type":"commit_offset","group":"g6","topic":"t","partition":0,"offset":60`, apiCommitOK},
	{`"type":"commit_offsets","group":"g4","generation":9,"offsets":[]`, apiCommitsOK},
	{`"type":"commit_offset","group":"g1","topic":"t","partition":0,"offset":14,"metadata":"m0b","generation":4`, apiCommitOK},
}

var apiDeletes = []apiStep{
	{`"type":"delete_offsets","group":"g1","topic":"t","partitions":[2,3]`, `{"type": "delete_offsets_ok", "deleted": 1}`},
	{`"type":"delete_group","group":"g3"`, `{"type": "delete_group_ok", "deleted": 1}`},
	{`"type":"delete_group","group":"g5"`, `{"type": "delete_group_ok", "deleted": 1}`},
	{`"type":"delete_offsets","group":"g6","topic":"t"`, `{"type": "delete_offsets_ok", "deleted": 1}`},
}

// apiState1 is what the node must answer after apiWrites and apiDeletes.
var apiState1 = []apiStep{
	{`"type":"fetch_offsets","group":"g1"`, `{"type": "fetch_offsets_ok", "offsets": [` +
		`{"topic": "t", "partition": 0, "offset": 14, "metadata": "m0b"}, ` +
		`{"topic": "t", "partition": 1, "offset": 11, "metadata": "m1"}, ` +
		`{"topic": "u", "partition": 0, "offset": 12, "metadata": "\u00e9\ud83d\ude80\n\"q\""}]}`},
	{`"type":"fetch_offsets","group":"g2"`, `{"type": "fetch_offsets_ok", "offsets": [` +
		`{"topic": "t", "partition": 0, "offset": 20, "metadata": ""}, ` +
		`{"topic": "t", "partition": 1, "offset": 21, "metadata": ""}]}`},
	{`"type":"fetch_offsets","group":"g3"`, `{"type": "fetch_offsets_ok", "offsets": []}`},
	{`"type":"fetch_offsets","group":"g4"`, `{"type": "fetch_offsets_ok", "offsets": []}`},
	{`"type":"fetch_offsets","group":"g5"`, `{"type": "fetch_offsets_ok", "offsets": []}`},
	{`"type":"fetch_offsets","group":"g6"`, `{"type": "fetch_offsets_ok", "offsets": []}`},
	{`"type":"fetch_offset","group":"g1","topic":"t","partition":2`, `{"type": "fetch_offset_ok", "offset": 0}`},
	{`"type":"fetch_offset","group":"g3","topic":"x","partition":0`, `{"type": "fetch_offset_ok", "offset": 0}`},
	{`"type":"list_groups"`, `{"type": "list_groups_ok", "groups": ["g1", "g2"]}`},
}

// apiFencing is run after a restart: the generations accepted before it
// still fence; a deleted group's generation is still gone.
var apiFencing = []apiStep{
	{`"type":"commit_offset","group":"g1","topic":"t","partition":0,"offset":99,"generation":3`, apiFenced(3, 4)},
	{`"type":"commit_offsets","group":"g2","generation":6,"offsets":[{"topic":"t","partition":0,"offset":99}]`, apiFenced(6, 7)},
	{`"type":"commit_offset","group":"g4","topic":"t","partition":0,"offset":99,"generation":8`, apiFenced(8, 9)},
	{`"type":"commit_offset","group":"g5","topic":"t","partition":0,"offset":51,"generation":1`, apiCommitOK},
	{`"type":"commit_offset","group":"g3","topic":"x","partition":0,"offset":31`, apiCommitOK},
}

// apiState2 is what the node must answer after apiFencing too.
var apiState2 = []apiStep{
	apiState1[0], apiState1[1],
	{`"type":"fetch_offsets","group":"g3"`, `{"type": "fetch_offsets_ok", "offsets": [{"topic": "x", "partition": 0, "offset": 31, "metadata": ""}]}`},
	apiState1[3],
	{`"type":"fetch_offsets","group":"g5"`, `{"type": "fetch_offsets_ok", "offsets": [{"topic": "t", "partition": 0, "offset": 51, "metadata": ""}]}`},
	apiState1[5], apiState1[6],
	{`"type":"list_groups"`, `{"type": "list_groups_ok", "groups": ["g1", "g2", "g3", "g5"]}`},
	// still fenced, and g5's new generation 1 fences 0
	{`"type":"commit_offset","group":"g1","topic":"t","partition":0,"offset":99,"generation":3`, apiFenced(3, 4)},
	{`"type":"commit_offset","group":"g5","topic":"t","partition":0,"offset":99,"generation":0`, apiFenced(0, 1)},
	{`"type":"commit_offsets","group":"g4","generation":8,"offsets":[]`, apiFenced(8, 9)},
}

func TestAPIRestartKeepsState(t *testing.T) {
	dir := t.TempDir()

	n := apiStart(t, dir)
	n.run("run 1 writes", apiWrites)
	n.run("run 1 deletes", apiDeletes)
	n.run("run 1 state", apiState1)
	n.stop()

	n = apiStart(t, dir)
	n.run("run 2 state after restart", apiState1)
	n.run("run 2 fencing after restart", apiFencing)
	n.run("run 2 state", apiState2)
	n.stop()

	n = apiStart(t, dir)
	n.run("run 3 state after restart", apiState2)
	n.stop()
}

// apiFiller re-commits g2 t/1 = 21 as apiWrites did: no change of state.
const apiFiller = `"type":"commit_offset","group":"g2","topic":"t","partition":1,"offset":21`

var apiCompactFlags = []string{"--compact-min-bytes", "1", "--compact-dirty-ratio", "0.01"}

func apiCountCompactions(stderr string) int { return strings.Count(stderr, "msg=compacted") }

// apiWaitCompaction makes sure a compaction ran that started after every
// write so far. The node logs a finished compaction only when it next
// flushes a batch (or at exit), so this repeats filler, a commit that
// leaves the state as it is (an unchanged value: same offset, no metadata,
// no generation), until two more compactions are logged: the second of
// them started after the first had finished, hence after the last write
// before this call.
func apiWaitCompaction(t *testing.T, n *apiNode, label, filler string) {
	t.Helper()
	before := apiCountCompactions(n.stderr.String())
	deadline := time.Now().Add(10 * time.Second)
	for apiCountCompactions(n.stderr.String()) < before+2 {
		if time.Now().After(deadline) {
			t.Fatalf("%s: fewer than 2 more msg=compacted lines after %d within 10s; stderr:\n%s", label, before, n.stderr)
		}
		n.run(label+" (re-commit)", []apiStep{{filler, apiCommitOK}})
		time.Sleep(30 * time.Millisecond)
	}
}

// TestAPIRestartAfterCompaction runs the same scenario with compaction after
// nearly every batch (each request is its own batch here, since call waits
// for the reply), so that tombstones, generations and group deletions all
// pass through compacted checkpoints before the restarts.
func TestAPIRestartAfterCompaction(t *testing.T) {
	dir := t.TempDir()

	n := apiStart(t, dir, apiCompactFlags...)
	n.run("run 1 writes", apiWrites)
	n.run("run 1 deletes", apiDeletes)
	apiWaitCompaction(t, n, "run 1 after the deletes", apiFiller)
	n.run("run 1 state", apiState1)
	n.stop()

	n = apiStart(t, dir, apiCompactFlags...)
	n.run("run 2 state after compaction+restart", apiState1)
	n.run("run 2 fencing after compaction+restart", apiFencing)
	apiWaitCompaction(t, n, "run 2 after the fencing steps", apiFiller)
	n.run("run 2 state", apiState2)
	n.stop()

	// Restart without compaction: the checkpoint alone must hold the state.
	n = apiStart(t, dir)
	n.run("run 3 state after restart", apiState2)
	n.stop()

	// And once more with compaction, writing again on the compacted log.
	n = apiStart(t, dir, apiCompactFlags...)
	n.run("run 4 state after restart", apiState2)
	n.run("run 4 writes", []apiStep{
		{`"type":"delete_group","group":"g1"`, `{"type": "delete_group_ok", "deleted": 3}`},
		{`"type":"commit_offset","group":"g1","topic":"t","partition":0,"offset":1,"generation":0`, apiCommitOK},
	})
	n.stop()

	n = apiStart(t, dir)
	n.run("run 5 state after restart", []apiStep{
		{`"type":"fetch_offsets","group":"g1"`, `{"type": "fetch_offsets_ok", "offsets": [{"topic": "t", "partition": 0, "offset": 1, "metadata": ""}]}`},
		{`"type":"list_groups"`, `{"type": "list_groups_ok", "groups": ["g1", "g2", "g3", "g5"]}`},
		{`"type":"commit_offset","group":"g2","topic":"t","partition":0,"offset":99,"generation":6`, apiFenced(6, 7)},
	})
	n.stop()
}

// TestAPIDeleteGroupThenCommitSurvivesCompaction is the smallest form of
// one rule: after delete_group, a new commit works as on a fresh key, and
// like every acknowledged commit it survives compaction and restart.
func TestAPIDeleteGroupThenCommitSurvivesCompaction(t *testing.T) {
	dir := t.TempDir()
	n := apiStart(t, dir, apiCompactFlags...)
	n.run("writes", []apiStep{
		{`"type":"commit_offset","group":"g","topic":"x","partition":0,"offset":30`, apiCommitOK},
		{`"type":"commit_offset","group":"h","topic":"t","partition":0,"offset":1`, apiCommitOK},
		{`"type":"delete_group","group":"g"`, `{"type": "delete_group_ok", "deleted": 1}`},
		{`"type":"commit_offset","group":"g","topic":"x","partition":0,"offset":31`, apiCommitOK},
	})
	apiWaitCompaction(t, n, "after the writes", `"type":"commit_offset","group":"h","topic":"t","partition":0,"offset":1`)
	state := []apiStep{
		{`"type":"fetch_offsets","group":"g"`, `{"type": "fetch_offsets_ok", "offsets": [{"topic": "x", "partition": 0, "offset": 31, "metadata": ""}]}`},
		{`"type":"list_groups"`, `{"type": "list_groups_ok", "groups": ["g", "h"]}`},
	}
	n.run("before restart", state)
	n.stop()

	n = apiStart(t, dir)
	n.run("after compaction+restart", state)
	n.stop()
}

// apiExpiredLines returns the stderr lines that report expiring group g.
func apiExpiredLines(stderr, group string) []string {
	re := regexp.MustCompile(`(^| )group=` + regexp.QuoteMeta(group) + `( |$)`)
	var lines []string
	for _, l := range strings.Split(stderr, "\n") {
		if strings.Contains(l, "expired group offsets") && re.MatchString(l) {
			lines = append(lines, l)
		}
	}
	return lines
}

// TestAPIOffsetsRetention: a group whose newest commit is older than
// --offsets-retention has all its offsets expired, durably, with one stderr
// line per group; a group with a recent commit keeps all its offsets, even
// old ones.
func TestAPIOffsetsRetention(t *testing.T) {
	if testing.Short() {
		t.Skip("waits 4 s for offsets to expire")
	}
	dir := t.TempDir()
	// 2 s retention against a keep-alive every 300 ms leaves 1.7 s of slack
	// for a slow machine (CI runs this under -race) before "live" expires.
	n := apiStart(t, dir, "--offsets-retention", "2s", "--retention-check-interval", "100ms")
	n.run("commits", []apiStep{
		{`"type":"commit_offset","group":"old","topic":"t","partition":0,"offset":5,"metadata":"m","generation":2`, apiCommitOK},
		{`"type":"commit_offsets","group":"old2","offsets":[{"topic":"t","partition":0,"offset":6},{"topic":"u","partition":1,"offset":7}]`, apiCommitsOK},
		{`"type":"commit_offset","group":"live","topic":"t","partition":0,"offset":8`, apiCommitOK},
		{`"type":"fetch_offset","group":"old","topic":"t","partition":0`, `{"type": "fetch_offset_ok", "offset": 5}`},
		{`"type":"list_groups"`, `{"type": "list_groups_ok", "groups": ["live", "old", "old2"]}`},
	})
	// Keep "live" alive by committing another of its partitions every 300 ms.
	start := time.Now()
	for i := 1; time.Since(start) < 4000*time.Millisecond; i++ {
		time.Sleep(300 * time.Millisecond)
		n.run("keep-alive", []apiStep{
			{fmt.Sprintf(`"type":"commit_offset","group":"live","topic":"t","partition":1,"offset":%d`, i), apiCommitOK},
		})
	}
	expired := []apiStep{
		{`"type":"fetch_offset","group":"old","topic":"t","partition":0`, `{"type": "fetch_offset_ok", "offset": 0}`},
		{`"type":"fetch_offsets","group":"old"`, `{"type": "fetch_offsets_ok", "offsets": []}`},
		{`"type":"fetch_offsets","group":"old2"`, `{"type": "fetch_offsets_ok", "offsets": []}`},
		{`"type":"fetch_offset","group":"live","topic":"t","partition":0`, `{"type": "fetch_offset_ok", "offset": 8}`},
		{`"type":"list_groups"`, `{"type": "list_groups_ok", "groups": ["live"]}`},
	}
	n.run("after 4 s", expired)
	stderr := n.stop()
	for _, g := range []string{"old", "old2"} {
		if l := apiExpiredLines(stderr, g); len(l) != 1 {
			t.Errorf("want exactly one 'expired group offsets' line with group=%s, got %d:\n%s", g, len(l), stderr)
		}
	}
	if l := apiExpiredLines(stderr, "live"); len(l) != 0 {
		t.Errorf("group live has recent commits but was expired:\n%s", strings.Join(l, "\n"))
	}

	// The expiry was written to the log: a restart with retention off does
	// not bring the offsets back.
	n = apiStart(t, dir, "--offsets-retention", "0")
	n.run("after restart", expired)
	n.stop()
}
