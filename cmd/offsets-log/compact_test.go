package main

import (
	"path/filepath"
	"regexp"
	"testing"

	"github.com/maelstrom-offsets/offsets/log"
)

// groupTable is the per-group table of stats --groups: offsets and
// generations, which a compaction must not change.
var groupTable = regexp.MustCompile(`(?s)GROUP +OFFSETS.*`)

// TestCompactionPreservesReplay compacts copies of the test logs and checks
// that replay shows the same offsets, and stats the same generations,
// before and after.
func TestCompactionPreservesReplay(t *testing.T) {
	for _, c := range []struct{ log, retention string }{
		{"clean", "24h"},
		{"compacted", "24h"},
		{"compacted", "1000000h"},
		{"tombstones", "24h"},
		{"tombstones", "1000000h"},
		// A group deleted and created again: its tombstones stand between
		// the keys' commits.
		{"recreated", "24h"},
		{"recreated", "1000000h"},
	} {
		t.Run(c.log+"/retention="+c.retention, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), c.log)
			if c.log == "recreated" {
				err := appendEntries(dir, 512, [][]log.Record{
					{groupRec("g", 1, ts(0)), commitRec("g", "t", 0, 1, "", ts(0)), commitRec("g", "t", 1, 1, "", ts(0))},
					{offsetTombRec("g", "t", 0, ts(1)), offsetTombRec("g", "t", 1, ts(1)), groupTombRec("g", ts(1))},
					{commitRec("g", "t", 0, 2, "", ts(2)), groupRec("g", 1, ts(2))},
				})
				if err != nil {
					t.Fatal(err)
				}
			} else {
				copyDir(t, logPath(c.log), dir)
			}
			state := func() (string, string) {
				t.Helper()
				offsets, stderr, code := runCLI("replay", "--json", dir)
				if code != 0 {
					t.Fatalf("replay: %s", stderr)
				}
				stats, stderr, code := runCLI("stats", "--groups", dir)
				if code != 0 {
					t.Fatalf("stats: %s", stderr)
				}
				return offsets, groupTable.FindString(stats)
			}
			offsets, groups := state()
			if _, stderr, code := runCLI("compact", "--tombstone-retention", c.retention, dir); code != 0 {
				t.Fatalf("compact: %s", stderr)
			}
			offsetsAfter, groupsAfter := state()
			if offsets != offsetsAfter || groups != groupsAfter {
				t.Fatalf("compaction changed the replay\n--- before\n%s%s--- after\n%s%s", offsets, groups, offsetsAfter, groupsAfter)
			}
		})
	}
}

// TestCompactEmptyEntryLeftByCrash is the state compact leaves when it
// dies after appending the empty entry that lets it drop a covered
// checkpoint's expired tombstones, and before the compaction: the log
// must read as before, and the next compact must finish the job.
func TestCompactEmptyEntryLeftByCrash(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "compacted")
	copyDir(t, logPath("compacted"), dir)
	if _, stderr, code := runCLI("compact", "--tombstone-retention", "100000h", dir); code != 0 {
		t.Fatalf("compact: %s", stderr)
	}
	before, _, _ := runCLI("replay", "--json", dir)
	if err := appendEntries(dir, 512, [][]log.Record{nil}); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"verify"}, {"replay", "--json"}} {
		stdout, stderr, code := runCLI(append(args, dir)...)
		if code != 0 || (args[0] == "replay" && stdout != before) {
			t.Fatalf("%s after the empty entry: exit %d\n%s%s", args[0], code, stdout, stderr)
		}
	}
	stdout, stderr, code := runCLI("compact", "--tombstone-retention", "0", "--json", dir)
	if code != 0 || !regexp.MustCompile(`"through":19,.*"records_dropped":5,`).MatchString(stdout) {
		t.Fatalf("compact after the empty entry: exit %d\n%s%s", code, stdout, stderr)
	}
}
