package main

import (
	"bytes"
	"flag"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/maelstrom-offsets/offsets/consumeroffsets"
	"github.com/maelstrom-offsets/offsets/log"
)

var update = flag.Bool("update", false, "rebuild testdata/logs and rewrite the golden files")

func TestMain(m *testing.M) {
	flag.Parse()
	if *update {
		if err := genLogs(logsDir); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	code := m.Run()
	for _, f := range cleanups {
		f()
	}
	os.Exit(code)
}

// cleanups run after every test and benchmark: built binaries, logs.
var cleanups []func()

// runCLI runs the tool in-process and returns its output and exit code.
func runCLI(args ...string) (stdout, stderr string, code int) {
	var out, errb bytes.Buffer
	code = run(args, &env{stdout: &out, stderr: &errb})
	return out.String(), errb.String(), code
}

var (
	timingRe = regexp.MustCompile(`in [0-9.]+[a-zµ]+: ([0-9]+|-) records/s`)
	tookRe   = regexp.MustCompile(`took( +)[0-9.]+[a-zµ]+ \(the log was held for [0-9.]+[a-zµ]+\)`)
	msRe     = regexp.MustCompile(`"(duration|pause)_ms":[0-9.e+-]+`)
)

// normalize takes what changes from run to run out of an output: times and
// the temporary directory.
func normalize(s, tmp string) string {
	s = timingRe.ReplaceAllString(s, "in TIME: RATE records/s")
	s = tookRe.ReplaceAllString(s, "took${1}TIME (the log was held for TIME)")
	s = msRe.ReplaceAllString(s, `"${1}_ms":0`)
	if tmp != "" {
		s = strings.ReplaceAll(s, tmp, "$TMP")
	}
	return s
}

type goldenCase struct {
	name string
	args []string
	// copyLog, when set, runs the command on a copy of that test log in a
	// temporary directory, named $TMP/<log> in args and output, since the
	// command changes it. then runs more commands on the changed copy.
	copyLog string
	then    [][]string
	// setup may prepare $TMP before the commands run.
	setup func(t *testing.T, tmp string)
}

func logPath(name string) string { return filepath.Join(logsDir, name) }

func goldenCases() []goldenCase {
	clean, torn, mid, comp, tomb := logPath("clean"), logPath("torn-tail"), logPath("mid-log-damage"), logPath("compacted"), logPath("tombstones")
	unsealed := logPath("compacted-unsealed")
	return []goldenCase{
		{name: "help", args: []string{"--help"}},
		{name: "help-replay", args: []string{"replay", "--help"}},
		{name: "help-dump", args: []string{"help", "dump"}},
		{name: "help-verify", args: []string{"verify", "-h"}},
		{name: "help-stats", args: []string{"stats", "--help"}},
		{name: "help-compact", args: []string{"compact", "--help"}},
		{name: "help-repair", args: []string{"repair", "--help"}},
		{name: "help-export", args: []string{"export", "--help"}},
		{name: "help-reset-plan", args: []string{"reset-plan", "--help"}},
		{name: "help-import", args: []string{"help", "import"}},
		{name: "bad-flag-number", args: []string{"dump", "--from", "abc", clean}},
		{name: "bad-flag-duration", args: []string{"compact", "--tombstone-retention", "1 day", clean}},
		{name: "clean-replay-past-end", args: []string{"replay", "--at-index", "11", clean}},
		{name: "empty-replay-at-index", args: []string{"replay", "--at-index", "1", "$TMP/empty"}, setup: emptyLog},
		{name: "clean-replay-kafka-time", args: []string{"replay", clean, "--at-time", "2026-01-02T03:04:06.500"}},
		{name: "no-args", args: nil},
		{name: "unknown-command", args: []string{"cat", clean}},
		{name: "unknown-flag", args: []string{"replay", "--colour", clean}},
		{name: "two-dirs", args: []string{"replay", clean, torn}},
		{name: "bad-at-time", args: []string{"replay", clean, "--at-time", "yesterday"}},
		{name: "missing-dir", args: []string{"replay", logPath("no-such-node")}},
		{name: "not-a-log", args: []string{"stats", logsDir}},
		{name: "unknown-version", args: []string{"replay", "$TMP/newer"}, setup: newerVersionLog},
		{name: "unknown-version-verify", args: []string{"verify", "$TMP/newer"}, setup: newerVersionLog},
		{name: "bad-record", args: []string{"verify", "$TMP/bad-record"}, setup: badRecordLog,
			then: [][]string{{"replay", "$TMP/bad-record"}, {"dump", "$TMP/bad-record"}}},
		{name: "empty-log", args: []string{"stats", "$TMP/empty"}, setup: emptyLog,
			then: [][]string{{"replay", "$TMP/empty"}, {"verify", "$TMP/empty"}, {"compact", "$TMP/empty"}, {"repair", "$TMP/empty"}}},

		{name: "clean-replay", args: []string{"replay", clean}},
		{name: "clean-replay-json", args: []string{"replay", clean, "--json"}},
		{name: "clean-replay-group", args: []string{"replay", "--group", "billing", clean}},
		{name: "clean-replay-topic-json", args: []string{"replay", clean, "--topic", "orders", "--json"}},
		{name: "clean-replay-at-index", args: []string{"replay", "--at-index", "5", clean}},
		{name: "clean-replay-at-time", args: []string{"replay", clean, "--at-time", "2026-01-02T03:04:06.500Z"}},
		{name: "clean-dump", args: []string{"dump", clean}},
		{name: "clean-dump-json-range", args: []string{"dump", "--json", "--from", "3", "--to", "4", clean}},
		{name: "clean-verify", args: []string{"verify", clean}},
		{name: "clean-verify-json", args: []string{"verify", "--json", clean}},
		{name: "clean-stats", args: []string{"stats", clean}},
		{name: "clean-stats-json", args: []string{"stats", clean, "--json"}},
		{name: "clean-export", args: []string{"export", clean},
			then: [][]string{{"export", "--group", "billing", clean}, {"export", "--group", "nobody", clean}}},
		{name: "clean-reset-plan-to-time", args: []string{"reset-plan", "--group", "billing", "--to-time", "2026-01-02T03:04:06.500Z", clean},
			// Kafka's form, taken as UTC; billing had no invoices offset yet.
			then: [][]string{{"reset-plan", clean, "--group", "billing", "--to-time", "2026-01-02T03:04:05.300"}}},
		{name: "clean-reset-plan-shift", args: []string{"reset-plan", "--group", "billing", "--shift-by", "-15", clean},
			then: [][]string{{"reset-plan", "--group", "orders-svc", "--shift-by=9223372036854775807", clean}}},
		{name: "clean-reset-plan-from-file", args: []string{"reset-plan", "--group", "billing", "--from-file", "$TMP/reset.csv", clean}, setup: resetFile,
			then: [][]string{{"reset-plan", "--group", "billing", "--from-file", "$TMP/bad.csv", clean}, {"reset-plan", "--group", "billing", "--from-file", "$TMP/dup.csv", clean}}},
		{name: "reset-plan-usage", args: []string{"reset-plan", "--group", "billing", clean},
			then: [][]string{
				{"reset-plan", "--group", "billing", "--shift-by", "1", "--to-time", "2026-01-02T03:04:06Z", clean},
				{"reset-plan", "--shift-by", "1", clean},
				{"reset-plan", "--group", "billing", "--to-time", "02/01/2026 03:04", clean},
				{"reset-plan", "--group", "nobody", "--shift-by", "1", clean},
			}},
		{name: "import", args: []string{"import", "--node-id", "n2", "$TMP/requests.jsonl"}, setup: requestsFile,
			then: [][]string{
				{"import", "--node-id", "n2", "--node-ids", "n1,n2,n3", "$TMP/requests.jsonl"},
				{"import", "$TMP/requests.jsonl"},
				{"import", "--node-id", "n2", "$TMP/bad.jsonl"},
				{"import", "--node-id", "n2", "$TMP/no-such-file"},
			}},

		{name: "torn-tail-replay", args: []string{"replay", torn}},
		{name: "torn-tail-dump", args: []string{"dump", torn}},
		{name: "torn-tail-verify", args: []string{"verify", torn}},
		{name: "torn-tail-verify-json", args: []string{"verify", torn, "--json"}},
		{name: "torn-tail-stats", args: []string{"stats", torn}},
		// Two replays (now, and at a time after every record): one note on the tail.
		{name: "torn-tail-reset-plan", args: []string{"reset-plan", "--group", "billing", "--to-time", "2027-01-01T00:00:00Z", torn}},
		{name: "torn-tail-repair", copyLog: "torn-tail", args: []string{"repair", "$TMP/torn-tail"},
			then: [][]string{{"verify", "$TMP/torn-tail"}, {"repair", "$TMP/torn-tail"}}},
		{name: "torn-tail-repair-json", copyLog: "torn-tail", args: []string{"repair", "--json", "$TMP/torn-tail"}},

		{name: "mid-log-damage-replay", args: []string{"replay", mid}},
		{name: "mid-log-damage-dump", args: []string{"dump", mid}},
		{name: "mid-log-damage-verify", args: []string{"verify", mid}},
		{name: "mid-log-damage-verify-json", args: []string{"verify", "--json", mid}},
		{name: "mid-log-damage-stats", args: []string{"stats", mid}},
		{name: "mid-log-damage-repair", copyLog: "mid-log-damage", args: []string{"repair", "$TMP/mid-log-damage"}},
		{name: "mid-log-damage-compact", copyLog: "mid-log-damage", args: []string{"compact", "$TMP/mid-log-damage"}},

		{name: "compacted-replay", args: []string{"replay", comp}},
		{name: "compacted-dump", args: []string{"dump", comp}},
		{name: "compacted-verify", args: []string{"verify", comp}},
		{name: "compacted-stats", args: []string{"stats", "--groups", comp}},
		{name: "compacted-replay-before-checkpoint", args: []string{"replay", "--at-index", "3", comp}},
		{name: "compacted-replay-at-time-before-checkpoint", args: []string{"replay", "--at-time", "2026-01-02T03:04:06Z", comp}},
		{name: "compacted-reset-plan-before-checkpoint", args: []string{"reset-plan", "--group", "billing", "--to-time", "2026-01-02T03:04:06Z", comp},
			then: [][]string{{"reset-plan", "--group", "billing", "--to-time", "2026-01-02T03:04:11.500Z", comp}}},
		{name: "compacted-export", args: []string{"export", comp}},
		// A log its checkpoint covers whole, with tombstones in the
		// checkpoint: nothing to do while they are within retention; with
		// retention 0 they go.
		{name: "compacted-compact-retention-0", copyLog: "compacted", args: []string{"compact", "--tombstone-retention", "100000h", "$TMP/compacted"},
			then: [][]string{
				{"compact", "--tombstone-retention", "100000h", "--json", "$TMP/compacted"},
				{"compact", "--tombstone-retention", "100000h", "$TMP/compacted"},
				{"compact", "--tombstone-retention", "0", "$TMP/compacted"},
				{"dump", "$TMP/compacted"},
				{"compact", "--tombstone-retention", "0", "--json", "$TMP/compacted"},
				{"verify", "$TMP/compacted"},
			}},

		{name: "compacted-unsealed-verify", args: []string{"verify", unsealed}},
		{name: "compacted-unsealed-verify-json", args: []string{"verify", "--json", unsealed}},
		{name: "compacted-unsealed-replay", args: []string{"replay", unsealed}},
		{name: "compacted-unsealed-compact", copyLog: "compacted-unsealed", args: []string{"compact", "$TMP/compacted-unsealed"},
			then: [][]string{{"verify", "$TMP/compacted-unsealed"}, {"dump", "$TMP/compacted-unsealed"}}},
		// An old checkpoint with nothing after it is rewritten sealed.
		{name: "unsealed-only-compact", args: []string{"verify", "$TMP/unsealed"}, setup: unsealedOnlyLog,
			then: [][]string{{"compact", "$TMP/unsealed"}, {"verify", "$TMP/unsealed"}, {"compact", "$TMP/unsealed"}}},

		{name: "tombstones-replay", args: []string{"replay", tomb}},
		{name: "tombstones-replay-json", args: []string{"replay", "--json", tomb}},
		{name: "tombstones-dump", args: []string{"dump", tomb}},
		{name: "tombstones-dump-json", args: []string{"dump", tomb, "--json", "--from", "11"}},
		{name: "tombstones-stats", args: []string{"stats", "--groups", tomb}},
		{name: "tombstones-export", args: []string{"export", tomb}},
		{name: "tombstones-stats-json", args: []string{"stats", "--json", "--groups", tomb}},
		{name: "tombstones-compact", copyLog: "tombstones", args: []string{"compact", "$TMP/tombstones"},
			then: [][]string{{"replay", "$TMP/tombstones"}, {"stats", "$TMP/tombstones"}, {"compact", "--json", "$TMP/tombstones"}}},
		{name: "tombstones-compact-retention", copyLog: "tombstones", args: []string{"compact", "--tombstone-retention", "100000h", "--json", "$TMP/tombstones"},
			then: [][]string{{"dump", "$TMP/tombstones"}}},
	}
}

// resetFile writes reset files for reset-plan --from-file: a good one
// (a comment, a blank line, a quoted topic, a partition billing has no
// offset for), one with a bad line, one with a key twice.
func resetFile(t *testing.T, tmp string) {
	for name, text := range map[string]string{
		"reset.csv": "# topic,partition,offset\npayments,0,3\n\n\"payments\",1, 4\nnew,7,0\n",
		"bad.csv":   "payments,0,3\npayments,-1,4\n",
		"dup.csv":   "payments,0,3\ninvoices,0,1\npayments,0,5\n",
	} {
		if err := os.WriteFile(filepath.Join(tmp, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// requestsFile writes an input for import: export's requests, with a
// blank line, and one with a line that is not a commit_offsets request.
func requestsFile(t *testing.T, tmp string) {
	good := `{"src":"offsets-log","dest":"n1","body":{"type":"commit_offsets","msg_id":1,"group":"g","generation":3,"offsets":[{"topic":"t","partition":0,"offset":9223372036854775807,"metadata":"é"}]}}` + "\n\n" +
		`{"src":"offsets-log","dest":"n1","body":{"type":"commit_offsets","msg_id":2,"group":"idle","generation":1,"offsets":[]}}` + "\n"
	bad := good + `{"src":"c1","dest":"n1","body":{"type":"delete_group","msg_id":3,"group":"g"}}` + "\n"
	for name, text := range map[string]string{"requests.jsonl": good, "bad.jsonl": bad} {
		if err := os.WriteFile(filepath.Join(tmp, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// newerVersionLog writes $TMP/newer: a good entry, then one of entry
// format version 3 with a valid checksum, as a newer program would write.
func newerVersionLog(t *testing.T, tmp string) {
	dir := filepath.Join(tmp, "newer")
	if err := appendEntries(dir, 512, history()[:1]); err != nil {
		t.Fatal(err)
	}
	e := log.EncodeEntry(2, commitRec("billing", "payments", 0, 11, "", ts(1)))
	e[4] = 3
	crc := crc32.Checksum(e[4:], crc32.MakeTable(crc32.Castagnoli))
	e[0], e[1], e[2], e[3] = byte(crc), byte(crc>>8), byte(crc>>16), byte(crc>>24)
	if err := appendTo(dir, frame(e)); err != nil {
		t.Fatal(err)
	}
}

// badRecordLog writes $TMP/bad-record: entries with valid checksums, one
// holding a record of a type no schema defines and one whose commit
// record is cut short, as a program bug would write them.
func badRecordLog(t *testing.T, tmp string) {
	good := commitRec("billing", "payments", 0, 11, "", ts(1))
	short := commitRec("billing", "payments", 1, 12, "", ts(1))
	short.Data = short.Data[:len(short.Data)-3]
	err := appendEntries(filepath.Join(tmp, "bad-record"), 512, [][]log.Record{
		{good},
		{good, {Type: 9, Data: []byte("what is this")}},
		{short},
		{good},
	})
	if err != nil {
		t.Fatal(err)
	}
}

// unsealedOnlyLog writes $TMP/unsealed: a log compacted through its last
// entry by the release before checkpoint seals (the checkpoint without
// SEAL, named checkpoint.N).
func unsealedOnlyLog(t *testing.T, tmp string) {
	dir := filepath.Join(tmp, "unsealed")
	if err := appendEntries(dir, 512, history()); err != nil {
		t.Fatal(err)
	}
	if _, err := consumeroffsets.CompactDir(dir, 0, consumeroffsets.Options{SegmentSize: 512}); err != nil {
		t.Fatal(err)
	}
	sealed, _ := filepath.Glob(filepath.Join(dir, "checkpoint.*.sealed"))
	if len(sealed) != 1 {
		t.Fatalf("sealed checkpoints: %v", sealed)
	}
	os.Remove(filepath.Join(sealed[0], "SEAL"))
	if err := os.Rename(sealed[0], strings.TrimSuffix(sealed[0], ".sealed")); err != nil {
		t.Fatal(err)
	}
}

// emptyLog writes $TMP/empty: a log that a node opened and closed without
// a single commit.
func emptyLog(t *testing.T, tmp string) {
	if err := appendEntries(filepath.Join(tmp, "empty"), 512, nil); err != nil {
		t.Fatal(err)
	}
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	for name, data := range tree(t, from) {
		p := filepath.Join(to, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestGolden(t *testing.T) {
	for _, c := range goldenCases() {
		t.Run(c.name, func(t *testing.T) {
			tmp := t.TempDir()
			if c.copyLog != "" {
				copyDir(t, logPath(c.copyLog), filepath.Join(tmp, c.copyLog))
			}
			if c.setup != nil {
				c.setup(t, tmp)
			}
			var got strings.Builder
			for _, args := range append([][]string{c.args}, c.then...) {
				args = append([]string(nil), args...)
				for i := range args {
					args[i] = strings.ReplaceAll(args[i], "$TMP", tmp)
				}
				stdout, stderr, code := runCLI(args...)
				fmt.Fprintf(&got, "$ offsets-log %s\nexit %d\n--- stdout\n%s--- stderr\n%s", strings.Join(args, " "), code, stdout, stderr)
			}
			compareGolden(t, filepath.Join("testdata", c.name+".golden"), normalize(got.String(), tmp))
		})
	}
}

func compareGolden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./cmd/offsets-log -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("output differs from %s (go test ./cmd/offsets-log -update rewrites it)\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// TestReadCommandsChangeNothing runs every reading command on every test
// log and checks that no byte, name or mode under it changed.
func TestReadCommandsChangeNothing(t *testing.T) {
	before := tree(t, logsDir)
	modes := modesOf(t, logsDir)
	for _, name := range []string{"clean", "torn-tail", "mid-log-damage", "compacted", "compacted-unsealed", "tombstones"} {
		for _, args := range [][]string{{"replay"}, {"replay", "--json"}, {"dump"}, {"verify"}, {"stats", "--groups"}, {"export"},
			{"reset-plan", "--group", "billing", "--shift-by", "-1"}, {"reset-plan", "--group", "billing", "--to-time", "2026-01-02T03:04:06Z"}} {
			runCLI(append(args, logPath(name))...)
		}
	}
	after := tree(t, logsDir)
	if len(after) != len(before) {
		t.Fatalf("files under testdata/logs went from %d to %d", len(before), len(after))
	}
	for name, data := range before {
		if !bytes.Equal(after[name], data) {
			t.Fatalf("%s changed", name)
		}
	}
	if got := modesOf(t, logsDir); got != modes {
		t.Fatal("file modes or names changed")
	}
	// Not even a LOCK file appears where there was none.
	dir := filepath.Join(t.TempDir(), "clean")
	copyDir(t, logPath("clean"), dir)
	os.Remove(filepath.Join(dir, "LOCK"))
	for _, args := range [][]string{{"replay"}, {"dump"}, {"verify"}, {"stats"}, {"export"}, {"reset-plan", "--group", "billing", "--shift-by", "1"}} {
		if _, stderr, code := runCLI(append(args, dir)...); code != 0 {
			t.Fatalf("%s without a LOCK file: %s", args[0], stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "LOCK")); !os.IsNotExist(err) {
		t.Fatal("a reading command created LOCK")
	}
}

func modesOf(t *testing.T, root string) string {
	var b strings.Builder
	filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err == nil {
			fmt.Fprintf(&b, "%s %v %d\n", p, fi.Mode(), fi.Size())
		}
		return err
	})
	return b.String()
}
