package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// nodeBinary builds offsets-node once for the durability tests.
func nodeBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "offsets-node-test-")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "offsets-node")
		args := []string{"build", "-o", builtBin}
		if raceEnabled {
			args = append(args, "-race")
		}
		if out, err := exec.Command("go", append(args, ".")...).CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBin
}

func TestMain(m *testing.M) {
	code := m.Run()
	if builtBin != "" {
		os.RemoveAll(filepath.Dir(builtBin))
	}
	os.Exit(code)
}

const initLine = `{"src":"c0","dest":"n1","body":{"type":"init","msg_id":1,"node_id":"n1","node_ids":["n1"]}}`

func commitLine(id int, group string, part int, off int64) string {
	return fmt.Sprintf(`{"src":"c1","dest":"n1","body":{"type":"commit_offset","msg_id":%d,"group":%q,"topic":"t","partition":%d,"offset":%d}}`, id, group, part, off)
}

func fetchLine(id int, group string, part int) string {
	return fmt.Sprintf(`{"src":"c1","dest":"n1","body":{"type":"fetch_offset","msg_id":%d,"group":%q,"topic":"t","partition":%d}}`, id, group, part)
}

// runOnce runs the node on input to completion and returns stdout, stderr
// and the exit code.
func runOnce(t *testing.T, dataDir, input string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(nodeBinary(t), "--data-dir", dataDir, "--segment-size", "65536")
	cmd.Stdin = strings.NewReader(input)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

type reply struct {
	Body struct {
		Type      string `json:"type"`
		InReplyTo int    `json:"in_reply_to"`
		Offset    int64  `json:"offset"`
		Code      int    `json:"code"`
		Text      string `json:"text"`
	} `json:"body"`
}

func parseReplies(t *testing.T, out string) []reply {
	t.Helper()
	var rs []reply
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var r reply
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("reply %q: %v", l, err)
		}
		rs = append(rs, r)
	}
	return rs
}

// fetchAll restarts the node on dataDir and fetches partitions 0..n-1 of
// group g.
func fetchAll(t *testing.T, dataDir string, groups []string, parts int) (map[string]int64, string) {
	t.Helper()
	lines := []string{initLine}
	for gi, g := range groups {
		for p := 0; p < parts; p++ {
			lines = append(lines, fetchLine(2+gi*parts+p, g, p))
		}
	}
	out, stderr, code := runOnce(t, dataDir, strings.Join(lines, "\n")+"\n")
	if code != 0 {
		t.Fatalf("restart exited %d:\n%s", code, stderr)
	}
	got := map[string]int64{}
	for _, r := range parseReplies(t, out)[1:] {
		if r.Body.Type != "fetch_offset_ok" {
			t.Fatalf("fetch after restart: %+v", r.Body)
		}
		i := r.Body.InReplyTo - 2
		got[fmt.Sprintf("%s/%d", groups[i/parts], i%parts)] = r.Body.Offset
	}
	return got, stderr
}

func TestRestartReplaysLog(t *testing.T) {
	dir := t.TempDir()
	lines := []string{initLine}
	want := map[string]int64{}
	for i := 0; i < 3000; i++ {
		g, p, off := fmt.Sprintf("g%d", i%7), i%5, int64(i*3%1000) // offsets go down too
		lines = append(lines, commitLine(i+2, g, p, off))
		want[fmt.Sprintf("%s/%d", g, p)] = off
	}
	if _, stderr, code := runOnce(t, dir, strings.Join(lines, "\n")+"\n"); code != 0 {
		t.Fatalf("first run exited %d: %s", code, stderr)
	}
	groups := []string{"g0", "g1", "g2", "g3", "g4", "g5", "g6"}
	for round := 0; round < 2; round++ {
		got, stderr := fetchAll(t, dir, groups, 5)
		for k, v := range want {
			if got[k] != v {
				t.Fatalf("round %d: %s = %d after restart, want %d", round, k, got[k], v)
			}
		}
		if !strings.Contains(stderr, "msg=recovered") || !strings.Contains(stderr, "keys=35") {
			t.Fatalf("no recovery line with keys=35 in:\n%s", stderr)
		}
	}
}

// newestSegment returns the newest segment file of node n1's log.
func newestSegment(t *testing.T, dataDir string) string {
	t.Helper()
	segs, _ := filepath.Glob(filepath.Join(dataDir, "n1", "wal", strings.Repeat("[0-9]", 20)))
	if len(segs) == 0 {
		t.Fatal("no segments")
	}
	return segs[len(segs)-1]
}

func TestTornTailRecoveredMidLogRefused(t *testing.T) {
	dir := t.TempDir()
	// Two runs, so that the log holds two entries.
	for i, input := range []string{commitLine(2, "g", 0, 42), commitLine(3, "g", 1, 43)} {
		if _, stderr, code := runOnce(t, dir, initLine+"\n"+input+"\n"); code != 0 {
			t.Fatalf("run %d: %s", i, stderr)
		}
	}
	seg := newestSegment(t, dir)
	f, _ := os.OpenFile(seg, os.O_APPEND|os.O_WRONLY, 0)
	f.Write([]byte{0x40, 1, 2, 3, 0, 0, 0}) // a frame claiming 64 bytes, cut short
	f.Close()

	got, stderr := fetchAll(t, dir, []string{"g"}, 2)
	if got["g/0"] != 42 || got["g/1"] != 43 {
		t.Fatalf("after torn-tail repair: %v", got)
	}
	repairs := regexp.MustCompile(`(?m)^.*level=WARN.*torn tail.*$`).FindAllString(stderr, -1)
	if len(repairs) != 1 || !strings.Contains(repairs[0], seg) || !strings.Contains(repairs[0], "bytes_dropped=7") {
		t.Fatalf("want one repair line naming %s with bytes_dropped=7; stderr:\n%s", seg, stderr)
	}

	// Damage the first entry: later entries are intact, so this is not a
	// torn tail and the node must refuse to start.
	data, _ := os.ReadFile(seg)
	data[5] ^= 0xff
	os.WriteFile(seg, data, 0o644)
	out, stderr, code := runOnce(t, dir, initLine+"\n"+fetchLine(2, "g", 0)+"\n")
	if code == 0 {
		t.Fatalf("node started on a log damaged mid-way; stdout:\n%s", out)
	}
	if !strings.Contains(stderr, seg) || !strings.Contains(stderr, "at byte 0") {
		t.Fatalf("error does not name %s and the byte offset:\n%s", seg, stderr)
	}
	if strings.Contains(out, "fetch_offset_ok") {
		t.Fatalf("a fetch was answered from a damaged log:\n%s", out)
	}
}

// liveNode is a node process with pipes, for tests that need it running.
type liveNode struct {
	cmd    *exec.Cmd
	in     io.WriteCloser
	out    *bufio.Scanner
	stderr *lockedBuffer
}

func startNode(t *testing.T, dataDir string, extra ...string) *liveNode {
	t.Helper()
	cmd := exec.Command(nodeBinary(t), append([]string{"--data-dir", dataDir}, extra...)...)
	in, _ := cmd.StdinPipe()
	outPipe, _ := cmd.StdoutPipe()
	errb := &lockedBuffer{}
	cmd.Stderr = errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(outPipe)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	return &liveNode{cmd: cmd, in: in, out: sc, stderr: errb}
}

// lockedBuffer collects a child's stderr, which a test may read while the
// child still writes.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestSecondNodeRefusesLockedDir(t *testing.T) {
	dir := t.TempDir()
	a := startNode(t, dir)
	defer a.cmd.Process.Kill()
	fmt.Fprintln(a.in, initLine)
	if !a.out.Scan() || !strings.Contains(a.out.Text(), "init_ok") {
		t.Fatalf("first node did not init: %q", a.out.Text())
	}
	out, stderr, code := runOnce(t, dir, initLine+"\n"+fetchLine(2, "g", 0)+"\n")
	if code == 0 || !strings.Contains(stderr, "locked by another process") {
		t.Fatalf("second node: exit %d, stderr:\n%s", code, stderr)
	}
	if !strings.Contains(out, `"code": 13`) || strings.Contains(out, "init_ok") {
		t.Fatalf("second node answered init with:\n%s", out)
	}
	fmt.Fprintln(a.in, commitLine(2, "g", 0, 7))
	if !a.out.Scan() || !strings.Contains(a.out.Text(), "commit_offset_ok") {
		t.Fatalf("first node stopped working: %q", a.out.Text())
	}
}

func TestSIGTERMStopsCleanly(t *testing.T) {
	dir := t.TempDir()
	n := startNode(t, dir)
	fmt.Fprintln(n.in, initLine)
	fmt.Fprintln(n.in, commitLine(2, "g", 0, 99))
	for i := 0; i < 2; i++ {
		if !n.out.Scan() {
			t.Fatal("no reply")
		}
	}
	n.cmd.Process.Signal(syscall.SIGTERM)
	if err := n.cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, n.stderr)
	}
	if !strings.Contains(n.stderr.String(), "msg=stopped") {
		t.Fatalf("no stop line:\n%s", n.stderr)
	}
	if got, _ := fetchAll(t, dir, []string{"g"}, 1); got["g/0"] != 99 {
		t.Fatalf("after SIGTERM restart: %v", got)
	}
}

// TestKill9UnderLoad SIGKILLs a node while commits stream in, restarts it
// on the same directory, and checks that every acknowledged commit is
// there. Each key's offsets only grow within a round, so after a restart a
// key must hold its last acknowledged offset or a later one that was sent.
func TestKill9UnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("kill -9 rounds take a few seconds")
	}
	t.Run("plain", func(t *testing.T) { kill9Rounds(t, false, "--segment-size", "65536") })
	// Compaction every few hundred KiB, so that kills land in the middle of
	// compactions too.
	t.Run("compacting", func(t *testing.T) {
		kill9Rounds(t, true, "--segment-size", "65536", "--compact-min-bytes", "65536", "--compact-dirty-ratio", "0.3")
	})
}

func kill9Rounds(t *testing.T, wantCompaction bool, flags ...string) {
	dir := t.TempDir()
	compactions := 0
	const keys = 50
	groups := make([]string, keys)
	for i := range groups {
		groups[i] = fmt.Sprintf("group-%d", i)
	}
	acked := map[string]int64{} // last acknowledged offset per key
	base := int64(0)
	for round := 0; round < 5; round++ {
		n := startNode(t, dir, flags...)
		sent := map[int]string{} // msg_id -> key, for commits
		offsets := map[int]int64{}
		var mu sync.Mutex
		done := make(chan struct{})
		go func() { // writer: pipelined commits until the pipe breaks
			defer close(done)
			w := bufio.NewWriterSize(n.in, 1<<16)
			fmt.Fprintln(w, initLine)
			for id := 2; ; id++ {
				k := (id * 7) % keys
				off := base + int64(id)
				mu.Lock()
				sent[id], offsets[id] = fmt.Sprintf("%s/0", groups[k]), off
				mu.Unlock()
				if _, err := fmt.Fprintln(w, commitLine(id, groups[k], 0, off)); err != nil {
					return
				}
				if id%64 == 0 {
					if w.Flush() != nil {
						return
					}
				}
			}
		}()
		ackedThisRound := killAfterAcks(t, n, done, time.Duration(150+round*100)*time.Millisecond, func(r reply) bool {
			if r.Body.Type != "commit_offset_ok" {
				return false
			}
			mu.Lock()
			k, off := sent[r.Body.InReplyTo], offsets[r.Body.InReplyTo]
			mu.Unlock()
			acked[k] = max(acked[k], off)
			return true
		})
		got, stderr := fetchAll(t, dir, groups, 1)
		for k, want := range acked {
			if got[k] < want {
				t.Fatalf("round %d: %s = %d after kill -9, but %d was acknowledged", round, k, got[k], want)
			}
		}
		// A process crash leaves every write(2) whole in the page cache:
		// what follows the last entry is the segment's unused preallocated
		// space, which the restart trims without calling it a torn tail.
		if strings.Contains(stderr, "torn tail") {
			t.Fatalf("round %d: the restart after kill -9 cut a torn tail:\n%s", round, stderr)
		}
		if broken, _ := filepath.Glob(filepath.Join(dir, "n1", "wal", "*.broken*")); len(broken) != 0 {
			t.Fatalf("round %d: evidence files after a kill -9: %v", round, broken)
		}
		base += 10_000_000 // next round's offsets are all higher
		c := strings.Count(n.stderr.String(), "msg=compacted")
		compactions += c
		t.Logf("round %d: %d commits acknowledged before SIGKILL, all found; %d compactions", round, ackedThisRound, c)
	}
	if wantCompaction && compactions == 0 {
		t.Fatal("no compaction ran during the kill -9 rounds")
	}
}

// killAfterAcks reads the node's replies, passing each to ack (which says
// whether it acknowledged a write), until the deadline has passed and at
// least one write was acknowledged; then it SIGKILLs the node, waits for the
// writer goroutine to see the broken pipe (done), and checks that the node
// neither answered anything unexpected nor tripped the race detector. It
// returns the number of acknowledged writes.
func killAfterAcks(t *testing.T, n *liveNode, done <-chan struct{}, after time.Duration, ack func(reply) bool) int {
	t.Helper()
	deadline := time.After(after)
	acks := 0
read:
	for n.out.Scan() {
		var r reply
		if err := json.Unmarshal(n.out.Bytes(), &r); err != nil {
			t.Fatalf("reply %q: %v", n.out.Text(), err)
		}
		if ack(r) {
			acks++
		} else if r.Body.Type != "init_ok" {
			t.Fatalf("unexpected reply %+v", r.Body)
		}
		if acks == 0 {
			continue // a slow start (-race) must not end the round before any ack
		}
		select {
		case <-deadline:
			break read
		default:
		}
	}
	n.cmd.Process.Signal(syscall.SIGKILL)
	n.cmd.Wait()
	n.in.Close()
	<-done
	if strings.Contains(n.stderr.String(), "DATA RACE") {
		t.Fatalf("the race detector fired:\n%s", n.stderr)
	}
	if acks == 0 {
		t.Fatalf("nothing acknowledged before the kill:\n%s", n.stderr)
	}
	return acks
}

// TestKill9BatchesAtomic SIGKILLs a node while commit_offsets batches
// stream in. Every batch sets all partitions of the group to one value, and
// values only grow; so after a restart, every partition must hold the same
// value (no batch half applied), and it must be at least the last
// acknowledged one.
func TestKill9BatchesAtomic(t *testing.T) {
	if testing.Short() {
		t.Skip("kill -9 rounds take a few seconds")
	}
	dir := t.TempDir()
	const parts = 40
	acked := int64(-1)
	for round := 0; round < 5; round++ {
		n := startNode(t, dir, "--segment-size", "65536", "--compact-min-bytes", "131072")
		done := make(chan struct{})
		base := int64(round) * 10_000_000
		go func() {
			defer close(done)
			w := bufio.NewWriterSize(n.in, 1<<16)
			fmt.Fprintln(w, initLine)
			for id := 2; ; id++ {
				var b strings.Builder
				fmt.Fprintf(&b, `{"src":"c1","dest":"n1","body":{"type":"commit_offsets","msg_id":%d,"group":"batch","generation":%d,"offsets":[`, id, round)
				for p := 0; p < parts; p++ {
					if p > 0 {
						b.WriteByte(',')
					}
					fmt.Fprintf(&b, `{"topic":"t%d","partition":%d,"offset":%d,"metadata":"m%d"}`, p%3, p, base+int64(id), id)
				}
				b.WriteString("]}}\n")
				if _, err := w.WriteString(b.String()); err != nil {
					return
				}
				if id%16 == 0 && w.Flush() != nil {
					return
				}
			}
		}()
		ackedThisRound := killAfterAcks(t, n, done, time.Duration(200+round*100)*time.Millisecond, func(r reply) bool {
			if r.Body.Type != "commit_offsets_ok" {
				return false
			}
			acked = max(acked, base+int64(r.Body.InReplyTo))
			return true
		})
		out, stderr, code := runOnce(t, dir, initLine+"\n"+`{"src":"c1","dest":"n1","body":{"type":"fetch_offsets","msg_id":2,"group":"batch"}}`+"\n")
		if code != 0 {
			t.Fatalf("restart: %s", stderr)
		}
		var fr struct {
			Body struct {
				Offsets []struct {
					Partition int    `json:"partition"`
					Offset    int64  `json:"offset"`
					Metadata  string `json:"metadata"`
				} `json:"offsets"`
			} `json:"body"`
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if err := json.Unmarshal([]byte(lines[len(lines)-1]), &fr); err != nil {
			t.Fatal(err)
		}
		if len(fr.Body.Offsets) != parts {
			t.Fatalf("round %d: %d partitions after restart, want %d", round, len(fr.Body.Offsets), parts)
		}
		first := fr.Body.Offsets[0]
		for _, o := range fr.Body.Offsets {
			if o.Offset != first.Offset || o.Metadata != first.Metadata {
				t.Fatalf("round %d: a batch is half applied: partition %d has %d/%s, partition %d has %d/%s",
					round, first.Partition, first.Offset, first.Metadata, o.Partition, o.Offset, o.Metadata)
			}
		}
		if first.Offset < acked {
			t.Fatalf("round %d: offset %d after restart, but %d was acknowledged", round, first.Offset, acked)
		}
		t.Logf("round %d: %d batches acknowledged, all partitions at %d", round, ackedThisRound, first.Offset)
	}
}
