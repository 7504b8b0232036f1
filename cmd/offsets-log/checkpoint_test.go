package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/maelstrom-offsets/offsets/compactor"
	"github.com/maelstrom-offsets/offsets/consumeroffsets"
	"github.com/maelstrom-offsets/offsets/log"
)

// The checkpoint tests' log: commits of g/t/0..2999 at offset 100+i,
// acknowledged by the real node, then compacted. One fixture compacts with
// offsets-log compact (one checkpoint segment, as in issue 10's
// reproduction), the other with 64 KiB segments (one entry per segment).
const ckKeys = 3000

var (
	ckFixtureOnce sync.Once
	ckFixtureDir  string
	ckFixtureErr  error
)

// ckFixture returns a copy of a data directory holding node n1's log,
// compacted as kind says ("" for offsets-log compact, "small" for 64 KiB
// checkpoint segments).
// Tests copy it before changing it.
func ckFixture(t *testing.T, kind string) string {
	t.Helper()
	ckFixtureOnce.Do(func() {
		ckFixtureDir, ckFixtureErr = os.MkdirTemp("", "offsets-ck-test-")
		if ckFixtureErr != nil {
			return
		}
		cleanups = append(cleanups, func() { os.RemoveAll(ckFixtureDir) })
		base := filepath.Join(ckFixtureDir, "base")
		lines := make([]string, ckKeys)
		for i := range lines {
			lines[i] = requestLine(i+2, "commit_offset", nodeKey{"g", "t", int32(i)}, int64(100+i))
		}
		for i, b := range runNode(t, base, lines) {
			if b["type"] != "commit_offset_ok" {
				ckFixtureErr = fmt.Errorf("commit %d: %v", i, b)
				return
			}
		}
		for _, kind := range []string{"default", "small"} {
			d := filepath.Join(ckFixtureDir, kind)
			copyDir(t, base, d)
			var err error
			if kind == "default" {
				if _, stderr, code := runCLI("compact", filepath.Join(d, "n1")); code != 0 {
					err = fmt.Errorf("offsets-log compact: %s", stderr)
				}
			} else {
				_, err = consumeroffsets.CompactDir(filepath.Join(d, "n1"), 0, consumeroffsets.Options{SegmentSize: 64 << 10})
			}
			if err != nil {
				ckFixtureErr = err
				return
			}
		}
	})
	if ckFixtureErr != nil {
		t.Fatal(ckFixtureErr)
	}
	if kind == "" {
		kind = "default"
	}
	dst := filepath.Join(t.TempDir(), "data")
	copyDir(t, filepath.Join(ckFixtureDir, kind), dst)
	return dst
}

// ckDir returns the checkpoint directory of node n1's log in dataDir.
func ckDir(t *testing.T, dataDir string) string {
	t.Helper()
	cks, _ := filepath.Glob(filepath.Join(dataDir, "n1", "checkpoint.*"))
	if len(cks) != 1 {
		t.Fatalf("want one checkpoint, have %v", cks)
	}
	return cks[0]
}

// ckSegments lists the segment files of the checkpoint.
func ckSegments(t *testing.T, dataDir string) []string {
	t.Helper()
	segs, _ := filepath.Glob(filepath.Join(ckDir(t, dataDir), strings.Repeat("[0-9]", 20)))
	if len(segs) == 0 {
		t.Fatal("checkpoint without segments")
	}
	return segs
}

// fetchAfterStart runs the real node on dataDir with a fetch_offsets of group g
// and returns the offsets it answered (nil when it did not start), its
// stderr and its exit code.
func fetchAfterStart(t *testing.T, dataDir string) (map[int]int64, string, int) {
	t.Helper()
	input := `{"src":"c0","dest":"n1","body":{"type":"init","msg_id":1,"node_id":"n1","node_ids":["n1"]}}` + "\n" +
		request(map[string]any{"type": "fetch_offsets", "msg_id": 2, "group": "g"}) + "\n"
	cmd := exec.Command(nodeBinary(t), "--data-dir", dataDir)
	cmd.Stdin = strings.NewReader(input)
	var errb strings.Builder
	cmd.Stderr = &errb
	out, err := cmd.Output()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var msg struct {
			Body struct {
				Type    string
				Offsets []struct {
					Topic     string
					Partition int
					Offset    int64
				}
			}
		}
		if json.Unmarshal([]byte(line), &msg) != nil || msg.Body.Type != "fetch_offsets_ok" {
			continue
		}
		got := map[int]int64{}
		for _, o := range msg.Body.Offsets {
			got[o.Partition] = o.Offset
		}
		return got, errb.String(), code
	}
	return nil, errb.String(), code
}

var warnRe = regexp.MustCompile(`(?m)^.*level=WARN.*$`)

// TestCheckpointDamage damages the checkpoint of a compacted log in every
// way the issue lists and checks that the node either starts with every
// acknowledged offset or refuses naming the damaged file, and that
// offsets-log verify says the same (exit 0 or 1, the same file).
func TestCheckpointDamage(t *testing.T) {
	// file, for a refusal, is the path (under n1/) that both must name.
	type result struct {
		starts bool
		file   func(t *testing.T, dataDir string) string
	}
	seg0 := func(t *testing.T, d string) string { return ckSegments(t, d)[0] }
	sealFile := func(t *testing.T, d string) string { return filepath.Join(ckDir(t, d), "SEAL") }
	refuses := func(f func(*testing.T, string) string) result { return result{file: f} }
	cases := []struct {
		name    string
		fixture string
		damage  func(t *testing.T, dataDir string)
		want    result
		warns   int // WARN lines the node logs
	}{
		{name: "undamaged", damage: func(*testing.T, string) {}, want: result{starts: true}},
		{name: "byte-flip", want: refuses(seg0), damage: func(t *testing.T, d string) {
			p := seg0(t, d)
			data, _ := os.ReadFile(p)
			data[len(data)/2] ^= 0x20
			os.WriteFile(p, data, 0o644)
		}},
		// Issue 10's reproduction: truncate -s 65540 on the only segment,
		// an entry boundary. Before seals the node started with 2,340 keys.
		{name: "cut-at-entry-boundary", want: refuses(seg0), damage: func(t *testing.T, d string) {
			p := seg0(t, d)
			data, _ := os.ReadFile(p)
			offs := entryOffsets(data)
			if len(offs) < 2 || offs[1] != 65540 {
				t.Fatalf("entry boundaries %v: the second entry should start at 65540", offs)
			}
			if err := os.Truncate(p, 65540); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "cut-between-entries", want: refuses(seg0), damage: func(t *testing.T, d string) {
			if err := os.Truncate(seg0(t, d), 65540+1000); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "cut-inside-first-entry", want: refuses(seg0), damage: func(t *testing.T, d string) {
			if err := os.Truncate(seg0(t, d), 3); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "segment-emptied", want: refuses(seg0), damage: func(t *testing.T, d string) {
			if err := os.Truncate(seg0(t, d), 0); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "segment-deleted", want: refuses(func(t *testing.T, d string) string { return ckDir(t, d) }),
			damage: func(t *testing.T, d string) {
				if err := os.Remove(seg0(t, d)); err != nil {
					t.Fatal(err)
				}
			}},
		{name: "directory-emptied", want: refuses(sealFile), damage: func(t *testing.T, d string) {
			dir := ckDir(t, d)
			ents, _ := os.ReadDir(dir)
			for _, e := range ents {
				os.Remove(filepath.Join(dir, e.Name()))
			}
		}},
		{name: "directory-deleted", want: refuses(func(t *testing.T, d string) string {
			segs, _ := filepath.Glob(filepath.Join(d, "n1", "wal", strings.Repeat("[0-9]", 20)))
			return segs[0] // the wal then starts after index 1
		}), damage: func(t *testing.T, d string) {
			if err := os.RemoveAll(ckDir(t, d)); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "seal-deleted", want: refuses(sealFile), damage: func(t *testing.T, d string) {
			os.Remove(filepath.Join(ckDir(t, d), "SEAL"))
		}},
		{name: "seal-garbled", want: refuses(sealFile), damage: func(t *testing.T, d string) {
			p := filepath.Join(ckDir(t, d), "SEAL")
			data, _ := os.ReadFile(p)
			data[14] ^= 1 // the entry count
			os.WriteFile(p, data, 0o644)
		}},
		{name: "seal-cut", want: refuses(sealFile), damage: func(t *testing.T, d string) {
			os.Truncate(filepath.Join(ckDir(t, d), "SEAL"), 20)
		}},
		{name: "seal-from-another-checkpoint", want: refuses(sealFile), damage: func(t *testing.T, d string) {
			// A valid seal, for the same N, of the other fixture's checkpoint.
			other, _ := filepath.Glob(filepath.Join(ckFixtureDir, "small", "n1", "checkpoint.*", "SEAL"))
			if len(other) != 1 || filepath.Base(filepath.Dir(other[0])) != filepath.Base(ckDir(t, d)) {
				t.Fatalf("other fixture's seal: %v", other)
			}
			b, _ := os.ReadFile(other[0])
			os.WriteFile(filepath.Join(ckDir(t, d), "SEAL"), b, 0o644)
		}},
		{name: "stale-tmp", want: result{starts: true}, damage: func(t *testing.T, d string) {
			tmp := filepath.Join(d, "n1", "checkpoint."+fmt.Sprintf("%020d", 99999)+".tmp")
			os.MkdirAll(tmp, 0o755)
			os.WriteFile(filepath.Join(tmp, "00000000000000000001"), []byte("half a checkpoint"), 0o644)
		}},
		// A log from the release before seals: starts, with one WARN.
		{name: "unsealed-old-format", want: result{starts: true}, warns: 1, damage: func(t *testing.T, d string) {
			dir := ckDir(t, d)
			os.Remove(filepath.Join(dir, "SEAL"))
			if err := os.Rename(dir, strings.TrimSuffix(dir, ".sealed")); err != nil {
				t.Fatal(err)
			}
		}},
		// The old format cannot be checked for completeness, but a directory
		// without a segment is damage in any format: tidwall always
		// creates the first one.
		{name: "unsealed-directory-emptied", want: refuses(func(t *testing.T, d string) string {
			return strings.TrimSuffix(ckDir(t, d), ".sealed")
		}), damage: func(t *testing.T, d string) {
			dir := ckDir(t, d)
			ents, _ := os.ReadDir(dir)
			for _, e := range ents {
				os.Remove(filepath.Join(dir, e.Name()))
			}
			if err := os.Rename(dir, strings.TrimSuffix(dir, ".sealed")); err != nil {
				t.Fatal(err)
			}
		}},
		// Checkpoints of several segments, one entry each.
		{name: "last-segment-deleted", fixture: "small", want: refuses(func(t *testing.T, d string) string { return ckSegments(t, d)[0] }),
			damage: func(t *testing.T, d string) {
				segs := ckSegments(t, d)
				if len(segs) < 2 {
					t.Fatalf("want 2 checkpoint segments or more, have %d", len(segs))
				}
				os.Remove(segs[len(segs)-1])
			}},
		{name: "first-segment-deleted", fixture: "small", want: refuses(func(t *testing.T, d string) string { return ckSegments(t, d)[1] }),
			damage: func(t *testing.T, d string) {
				os.Remove(ckSegments(t, d)[0])
			}},
		{name: "last-segment-emptied", fixture: "small", want: refuses(func(t *testing.T, d string) string {
			segs := ckSegments(t, d)
			return segs[len(segs)-1]
		}), damage: func(t *testing.T, d string) {
			segs := ckSegments(t, d)
			os.Truncate(segs[len(segs)-1], 0)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			data := ckFixture(t, c.fixture)
			var file string
			if c.want.file != nil {
				file = c.want.file(t, data) // before the damage: it may remove it
			}
			c.damage(t, data)
			dir := filepath.Join(data, "n1")

			before := tree(t, dir)
			vout, verr, vcode := runCLI("verify", dir)
			got, stderr, code := fetchAfterStart(t, data)
			if c.want.starts {
				if code != 0 || got == nil {
					t.Fatalf("node did not start (exit %d):\n%s", code, stderr)
				}
				if len(got) != ckKeys {
					t.Fatalf("node started with %d keys, want %d", len(got), ckKeys)
				}
				for i := 0; i < ckKeys; i++ {
					if got[i] != int64(100+i) {
						t.Fatalf("g/t/%d = %d, want %d", i, got[i], 100+i)
					}
				}
				if n := len(warnRe.FindAllString(stderr, -1)); n != c.warns {
					t.Fatalf("%d WARN lines, want %d:\n%s", n, c.warns, stderr)
				}
				if vcode != exitOK {
					t.Fatalf("the node starts, but verify exits %d:\n%s%s", vcode, vout, verr)
				}
				if tmps, _ := filepath.Glob(filepath.Join(dir, "checkpoint.*.tmp")); len(tmps) != 0 {
					t.Fatalf("temporary checkpoint left: %v", tmps)
				}
				return
			}
			if code == 0 || got != nil {
				t.Fatalf("node started on a damaged checkpoint with %d keys:\n%s", len(got), stderr)
			}
			if after := tree(t, dir); len(after) != len(before) {
				t.Fatalf("the refusing node changed the files: %d before, %d after", len(before), len(after))
			} else {
				for name, b := range before {
					if string(after[name]) != string(b) {
						t.Fatalf("the refusing node changed %s (a checkpoint is never cut)", name)
					}
				}
			}
			if !strings.Contains(stderr, file) {
				t.Fatalf("node's refusal does not name %s:\n%s", file, stderr)
			}
			if vcode != exitDamaged {
				t.Fatalf("the node refuses, but verify exits %d:\n%s%s", vcode, vout, verr)
			}
			if r := rel(dir, file); !strings.Contains(vout, r) {
				t.Fatalf("verify does not name %s:\n%s", r, vout)
			}
			if !strings.Contains(vout, "refuses to start") {
				t.Fatalf("verify does not say the node refuses:\n%s", vout)
			}
		})
	}
}

// TestDamagedCheckpointWithOlderOne: two checkpoints and the wal after the
// older one (a compaction stopped between its rename and its release), and
// a flipped byte in the newer one. The node refuses and keeps the older
// checkpoint; verify says that the older one and the wal hold the whole log
// and which directory to move; after that move the node starts with every
// acknowledged offset and verify agrees.
func TestDamagedCheckpointWithOlderOne(t *testing.T) {
	data := ckFixture(t, "")
	dir := filepath.Join(data, "n1")
	older := ckDir(t, data)
	lines := make([]string, 500)
	for i := range lines {
		lines[i] = requestLine(i+2, "commit_offset", nodeKey{"g", "t", int32(i)}, int64(5000+i))
	}
	runNode(t, data, lines)
	l, err := log.Open(dir, log.Options{Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	st := consumeroffsets.NewState()
	if _, err := log.Replay(dir, 1, st.Apply); err != nil {
		t.Fatal(err)
	}
	sn := st.Snapshot()
	_, err = compactor.Write(l, sn.Index(), sn.Checkpoint(time.Now()), compactor.Options{Hook: func(step string) error {
		if step == "checkpoint-durable" {
			return fmt.Errorf("crash")
		}
		return nil
	}})
	l.Close()
	if !errors.Is(err, compactor.ErrStopped) {
		t.Fatalf("compaction not stopped: %v", err)
	}
	cks, _ := filepath.Glob(filepath.Join(dir, "checkpoint.*"))
	if len(cks) != 2 || cks[0] != older {
		t.Fatalf("checkpoints %v, want %s and a newer one", cks, older)
	}
	newer := cks[1]
	seg := filepath.Join(newer, "00000000000000000001")
	b, _ := os.ReadFile(seg)
	b[100] ^= 0x04
	os.WriteFile(seg, b, 0o644)

	vout, _, vcode := runCLI("verify", dir)
	want := fmt.Sprintf("%s and the wal after it hold the whole log (they were checked): moving %s out of %s lets the node start on them.",
		filepath.Base(older), filepath.Base(newer), dir)
	if vcode != exitDamaged || !strings.Contains(vout, want) {
		t.Fatalf("verify exit %d, want %d and %q:\n%s", vcode, exitDamaged, want, vout)
	}
	if got, stderr, code := fetchAfterStart(t, data); code == 0 || got != nil || !strings.Contains(stderr, seg) {
		t.Fatalf("node on a damaged newest checkpoint: exit %d, %d keys:\n%s", code, len(got), stderr)
	}
	if _, err := os.Stat(older); err != nil {
		t.Fatalf("the refused start removed the older checkpoint: %v", err)
	}

	if err := os.Rename(newer, filepath.Join(t.TempDir(), "damaged")); err != nil {
		t.Fatal(err)
	}
	if vout, _, vcode := runCLI("verify", dir); vcode != exitOK {
		t.Fatalf("verify after the move: exit %d\n%s", vcode, vout)
	}
	got, stderr, code := fetchAfterStart(t, data)
	if code != 0 || len(got) != ckKeys {
		t.Fatalf("node after the move: exit %d, %d keys:\n%s", code, len(got), stderr)
	}
	for i := 0; i < ckKeys; i++ {
		want := int64(100 + i)
		if i < len(lines) {
			want = int64(5000 + i)
		}
		if got[i] != want {
			t.Fatalf("g/t/%d = %d, want %d", i, got[i], want)
		}
	}
}
