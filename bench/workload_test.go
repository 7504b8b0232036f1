package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

func genWorkload(t *testing.T, spec workloadSpec) (string, workload) {
	t.Helper()
	var b bytes.Buffer
	wl, err := writeWorkload(&b, spec)
	if err != nil {
		t.Fatal(err)
	}
	return b.String(), wl
}

func TestWorkloadShape(t *testing.T) {
	text, _ := genWorkload(t, workloadSpec{Requests: 3, Keys: 10_000, Seed: 1})
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) != 4 {
		t.Fatalf("got %d lines, want 4:\n%s", len(lines), text)
	}
	if lines[0]+"\n" != initLine {
		t.Errorf("first line = %s, want the init message", lines[0])
	}
	for i, line := range lines[1:] {
		prefix := `{"src":"c1","dest":"n1","body":{"type":"`
		if !strings.HasPrefix(line, prefix) || !strings.Contains(line, fmt.Sprintf(`_offset","msg_id":%d,"group":"g`, i+2)) {
			t.Errorf("line %d = %s: not a compact request with msg_id %d", i+2, line, i+2)
		}
	}
}

// request mirrors the fields of a generated request.
type request struct {
	Src, Dest string
	Body      struct {
		Type      string
		MsgID     int64 `json:"msg_id"`
		Group     string
		Topic     string
		Partition int64
		Offset    *int64
	}
}

// TestWorkloadContents decodes a workload with encoding/json and checks the
// mix, the key count, increasing offsets, and the expected last reply, which
// it computes independently.
func TestWorkloadContents(t *testing.T) {
	const n, keys = 20_000, 500
	text, wl := genWorkload(t, workloadSpec{Requests: n, Keys: keys, Seed: 7})
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Scan() // init
	offsets := map[string]int64{}
	var commits, fetches int
	var last string
	for sc.Scan() {
		var r request
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		k := fmt.Sprintf("%s/%s/%d", r.Body.Group, r.Body.Topic, r.Body.Partition)
		switch r.Body.Type {
		case "commit_offset":
			commits++
			if r.Body.Offset == nil || *r.Body.Offset <= offsets[k] {
				t.Fatalf("msg %d: offset does not increase for %s: %s", r.Body.MsgID, k, sc.Text())
			}
			offsets[k] = *r.Body.Offset
			last = expectedReplyPrefix(true, r.Body.MsgID, 0)
		case "fetch_offset":
			fetches++
			if r.Body.Offset != nil {
				t.Fatalf("fetch carries an offset: %s", sc.Text())
			}
			last = expectedReplyPrefix(false, r.Body.MsgID, offsets[k])
		default:
			t.Fatalf("unexpected type in %s", sc.Text())
		}
	}
	if commits+fetches != n || commits != wl.Commits || fetches != wl.Fetches {
		t.Errorf("got %d commits + %d fetches; workload says %d + %d; want %d in all", commits, fetches, wl.Commits, wl.Fetches, n)
	}
	if pct := 100 * commits / n; pct < 78 || pct > 82 {
		t.Errorf("commits are %d%% of requests, want about %d%%", pct, commitPercent)
	}
	if len(offsets) > keys || len(offsets) < keys*9/10 {
		t.Errorf("commits touched %d keys, want close to %d", len(offsets), keys)
	}
	if wl.LastReply != last {
		t.Errorf("LastReply = %s, want %s", wl.LastReply, last)
	}
}

func TestWorkloadPrefixAndDeterminism(t *testing.T) {
	full, _ := genWorkload(t, workloadSpec{Requests: 5000, Keys: 100, Seed: 3})
	again, _ := genWorkload(t, workloadSpec{Requests: 5000, Keys: 100, Seed: 3})
	prefix, _ := genWorkload(t, workloadSpec{Requests: 1234, Keys: 100, Seed: 3})
	other, _ := genWorkload(t, workloadSpec{Requests: 5000, Keys: 100, Seed: 4})
	if full != again {
		t.Error("the same spec gave different workloads")
	}
	if !strings.HasPrefix(full, prefix) || strings.Count(prefix, "\n") != 1235 {
		t.Error("a shorter workload is not a prefix of the longer one")
	}
	if full == other {
		t.Error("different seeds gave the same workload")
	}
}

func TestKeyFieldsDistinct(t *testing.T) {
	seen := map[string]int{}
	for i := range 25_000 {
		g, tp, p := keyFields(i)
		k := fmt.Sprintf("%s/%s/%d", g, tp, p)
		if j, ok := seen[k]; ok {
			t.Fatalf("keys %d and %d both map to %s", j, i, k)
		}
		seen[k] = i
	}
	if g, tp, p := keyFields(1234); g != "g34" || tp != "t2" || p != 1 {
		t.Errorf("keyFields(1234) = %s %s %d, want g34 t2 1", g, tp, p)
	}
}
