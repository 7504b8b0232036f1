package linearizability

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/anishathalye/porcupine"
)

var (
	ok      = Outcome{Kind: OK}
	unknown = Outcome{Kind: Unknown}
)

func read(v int64) Outcome            { return Outcome{Kind: OK, Offset: v} }
func deleted(n int64) Outcome         { return Outcome{Kind: OK, Deleted: n} }
func failed(code int) Outcome         { return Outcome{Kind: Failed, Code: code} }
func commit(p int32, v int64) Request { return Commit("g", "t", p, v) }
func fetch(p int32) Request           { return Fetch("g", "t", p) }

// op is one synthetic operation; an Unknown outcome never returns.
func op(client int, call, ret int64, q Request, o Outcome) porcupine.Operation {
	if o.Kind == Unknown {
		ret = math.MaxInt64
	}
	return porcupine.Operation{ClientId: client, Input: q, Call: call, Output: o, Return: ret}
}

func TestModel(t *testing.T) {
	batch := CommitBatch("g", Entry{"t", 0, 1}, Entry{"t", 1, 1})
	cases := []struct {
		name string
		ok   bool
		ops  []porcupine.Operation
	}{
		{"sequential write then read", true, []porcupine.Operation{
			op(0, 0, 10, commit(0, 1), ok),
			op(0, 20, 30, fetch(0), read(1)),
		}},
		{"never committed reads 0", true, []porcupine.Operation{
			op(0, 0, 10, fetch(0), read(0)),
		}},
		{"stale read after an acknowledged write", false, []porcupine.Operation{
			op(0, 0, 10, commit(0, 1), ok),
			op(0, 20, 30, commit(0, 2), ok),
			op(1, 40, 50, fetch(0), read(1)),
		}},
		{"lost acknowledged write: a later read sees the previous value", false, []porcupine.Operation{
			op(0, 0, 10, commit(0, 5), ok),
			op(1, 20, 30, fetch(0), read(5)),
			op(0, 40, 50, commit(0, 6), ok),
			op(1, 60, 70, fetch(0), read(6)),
			op(2, 80, 90, fetch(0), read(5)),
		}},
		{"lost acknowledged write: a later read sees nothing", false, []porcupine.Operation{
			op(0, 0, 10, commit(0, 5), ok),
			op(1, 20, 30, fetch(0), read(0)),
		}},
		{"read of a value never written", false, []porcupine.Operation{
			op(0, 0, 10, commit(0, 1), ok),
			op(1, 5, 30, fetch(0), read(7)),
		}},
		{"read overlapping a write sees the old or the new value", true, []porcupine.Operation{
			op(0, 0, 10, commit(0, 1), ok),
			op(0, 20, 100, commit(0, 2), ok),
			op(1, 30, 40, fetch(0), read(1)),
			op(2, 30, 50, fetch(0), read(2)),
			op(1, 60, 70, fetch(0), read(2)),
		}},
		{"a read cannot go back to the old value once the new was read", false, []porcupine.Operation{
			op(0, 0, 10, commit(0, 1), ok),
			op(0, 20, 100, commit(0, 2), ok),
			op(1, 30, 40, fetch(0), read(2)),
			op(2, 50, 60, fetch(0), read(1)),
		}},
		{"concurrent writes with overlapping reads", true, []porcupine.Operation{
			op(0, 0, 100, commit(0, 1), ok),
			op(1, 10, 110, commit(0, 2), ok),
			op(2, 20, 30, fetch(0), read(2)),
			op(3, 40, 50, fetch(0), read(1)), // 2 then 1: both orders are open until both return
			op(2, 120, 130, fetch(0), read(1)),
		}},
		{"after concurrent writes return, the last one stays", false, []porcupine.Operation{
			op(0, 0, 100, commit(0, 1), ok),
			op(1, 10, 110, commit(0, 2), ok),
			op(2, 20, 30, fetch(0), read(2)),
			op(3, 40, 50, fetch(0), read(1)),
			op(2, 120, 130, fetch(0), read(2)),
		}},
		{"unknown write whose value later appears", true, []porcupine.Operation{
			op(0, 0, 10, commit(0, 1), ok),
			op(0, 20, 0, commit(0, 2), unknown),
			op(1, 30, 40, fetch(0), read(1)),
			op(1, 50, 60, fetch(0), read(2)),
			op(1, 70, 80, fetch(0), read(2)),
		}},
		{"unknown write whose value never appears", true, []porcupine.Operation{
			op(0, 0, 10, commit(0, 1), ok),
			op(0, 20, 0, commit(0, 2), unknown),
			op(1, 30, 40, fetch(0), read(1)),
			op(1, 500, 600, fetch(0), read(1)),
		}},
		{"unknown write's value cannot appear and then vanish", false, []porcupine.Operation{
			op(0, 0, 10, commit(0, 1), ok),
			op(0, 20, 0, commit(0, 2), unknown),
			op(1, 50, 60, fetch(0), read(2)),
			op(1, 70, 80, fetch(0), read(1)),
		}},
		{"unknown write cannot appear before it was invoked", false, []porcupine.Operation{
			op(1, 0, 10, fetch(0), read(2)),
			op(0, 20, 0, commit(0, 2), unknown),
		}},
		{"definite failure whose value appears (11)", false, []porcupine.Operation{
			op(0, 0, 10, commit(0, 1), ok),
			op(0, 20, 30, commit(0, 2), failed(11)),
			op(1, 25, 40, fetch(0), read(2)),
		}},
		{"an error-13 write whose value appears after a restart (13 is indefinite)", true, []porcupine.Operation{
			op(0, 0, 10, commit(0, 2), Outcome{Kind: Unknown, Code: 13}),
			op(1, 20, 30, fetch(0), read(2)),
		}},
		{"definite failure whose value never appears", true, []porcupine.Operation{
			op(0, 0, 10, commit(0, 1), ok),
			op(0, 20, 30, commit(0, 2), failed(14)),
			op(1, 25, 40, fetch(0), read(1)),
		}},
		{"commit_offsets seen whole", true, []porcupine.Operation{
			op(0, 0, 100, batch, ok),
			op(1, 10, 20, fetch(0), read(1)),
			op(1, 30, 40, fetch(1), read(1)),
		}},
		{"commit_offsets seen by neither read before it applies", true, []porcupine.Operation{
			op(0, 0, 100, batch, ok),
			op(1, 10, 20, fetch(0), read(0)),
			op(1, 30, 40, fetch(1), read(1)),
		}},
		{"half of a commit_offsets", false, []porcupine.Operation{
			op(0, 0, 100, batch, ok),
			op(1, 10, 20, fetch(0), read(1)),
			op(1, 30, 40, fetch(1), read(0)),
		}},
		{"half of an unknown commit_offsets", false, []porcupine.Operation{
			op(0, 0, 0, batch, unknown),
			op(1, 10, 20, fetch(1), read(1)),
			op(1, 30, 40, fetch(0), read(0)),
		}},
		{"commit_offsets: a later duplicate wins", true, []porcupine.Operation{
			op(0, 0, 10, CommitBatch("g", Entry{"t", 0, 5}, Entry{"t", 0, 7}), ok),
			op(1, 20, 30, fetch(0), read(7)),
		}},
		{"delete_offsets of a topic", true, []porcupine.Operation{
			op(0, 0, 10, commit(0, 5), ok),
			op(0, 20, 30, commit(1, 0), ok), // offset 0 is a live key: it counts
			op(0, 40, 50, Commit("g", "u", 0, 3), ok),
			op(0, 60, 70, DeleteTopic("g", "t", nil), deleted(2)),
			op(1, 80, 90, fetch(0), read(0)),
			op(1, 80, 90, Fetch("g", "u", 0), read(3)),
			op(0, 100, 110, DeleteTopic("g", "t", nil), deleted(0)),
		}},
		{"read of a deleted offset", false, []porcupine.Operation{
			op(0, 0, 10, commit(0, 5), ok),
			op(0, 60, 70, DeleteTopic("g", "t", nil), deleted(1)),
			op(1, 80, 90, fetch(0), read(5)),
		}},
		{"delete_offsets counts what it deleted", false, []porcupine.Operation{
			op(0, 0, 10, commit(0, 5), ok),
			op(0, 60, 70, DeleteTopic("g", "t", nil), deleted(2)),
		}},
		{"delete_offsets of named partitions", true, []porcupine.Operation{
			op(0, 0, 10, commit(0, 5), ok),
			op(0, 20, 30, commit(1, 6), ok),
			op(0, 40, 50, DeleteTopic("g", "t", []int32{1, 1, 9}), deleted(1)),
			op(1, 60, 70, fetch(0), read(5)),
			op(1, 60, 70, fetch(1), read(0)),
		}},
		{"delete_group resets offsets and generation", true, []porcupine.Operation{
			op(0, 0, 10, commit(0, 5).WithGeneration(5), ok),
			op(0, 20, 30, Commit("g", "u", 3, 1), ok),
			op(0, 40, 50, DeleteWholeGroup("g"), deleted(2)),
			op(0, 60, 70, commit(0, 7).WithGeneration(4), ok),
			op(1, 80, 90, Fetch("g", "u", 3), read(0)),
			op(1, 80, 90, fetch(0), read(7)),
		}},
		{"delete_group answered with a wrong count", false, []porcupine.Operation{
			op(0, 0, 10, commit(0, 5), ok),
			op(0, 40, 50, DeleteWholeGroup("g"), deleted(0)),
		}},
		{"fencing: a lower generation is refused", true, []porcupine.Operation{
			op(0, 0, 10, commit(0, 5).WithGeneration(5), ok),
			op(1, 20, 30, commit(0, 6).WithGeneration(4), failed(22)),
			op(1, 40, 50, commit(0, 7), ok), // no generation: never fenced
			op(1, 60, 70, CommitBatch("g", Entry{"t", 0, 8}).WithGeneration(5), ok),
			op(1, 80, 90, fetch(0), read(8)),
		}},
		{"fencing: a lower generation acknowledged", false, []porcupine.Operation{
			op(0, 0, 10, commit(0, 5).WithGeneration(5), ok),
			op(1, 20, 30, commit(1, 6).WithGeneration(4), ok),
		}},
		{"fencing: a refusal the group's generation does not explain", false, []porcupine.Operation{
			op(0, 0, 10, commit(0, 5).WithGeneration(5), ok),
			op(1, 20, 30, commit(1, 6).WithGeneration(6), failed(22)),
		}},
		{"fencing: concurrent generations may go either way", true, []porcupine.Operation{
			op(0, 0, 100, commit(0, 5).WithGeneration(5), ok),
			op(1, 0, 100, commit(1, 6).WithGeneration(4), failed(22)),
		}},
		{"fenced commit leaves the offset", false, []porcupine.Operation{
			op(0, 0, 10, commit(0, 5).WithGeneration(5), ok),
			op(1, 20, 30, commit(0, 6).WithGeneration(4), failed(22)),
			op(1, 40, 50, fetch(0), read(6)),
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := CheckOperations(c.ops, 0)
			if got := res.Verdict == porcupine.Ok; got != c.ok {
				t.Fatalf("verdict %v, want linearizable=%v\n%s", res.Verdict, c.ok, res.Detail)
			}
			if !c.ok && !strings.Contains(res.Detail, "g/t/") {
				t.Errorf("detail names no key:\n%s", res.Detail)
			}
		})
	}
}

func TestPartition(t *testing.T) {
	var ops []porcupine.Operation
	for p := int32(0); p < 10; p++ {
		ops = append(ops, op(0, int64(p)*10, int64(p)*10+5, commit(p, 1), ok), op(1, int64(p)*10, int64(p)*10+5, fetch(p), read(1)))
	}
	if n := len(partition(ops)); n != 10 {
		t.Fatalf("single-key operations on 10 keys: %d parts, want 10 (a register per key)", n)
	}
	ops = append(ops, op(0, 200, 210, CommitBatch("g", Entry{"t", 0, 2}, Entry{"t", 1, 2}), ok))
	if n := len(partition(ops)); n != 9 {
		t.Fatalf("with a batch over two keys: %d parts, want 9", n)
	}
	ops = append(ops, op(0, 300, 310, commit(2, 3).WithGeneration(1), ok), op(0, 300, 310, commit(3, 3).WithGeneration(1), ok))
	if n := len(partition(ops)); n != 8 {
		t.Fatalf("with commits sharing a group's generation: %d parts, want 8", n)
	}
	ops = append(ops, op(0, 400, 410, DeleteTopic("g", "t", nil), deleted(10)))
	if n := len(partition(ops)); n != 1 {
		t.Fatalf("with a delete of the whole topic: %d parts, want 1", n)
	}
	ops = append(ops, op(0, 400, 410, Fetch("h", "t", 0), read(0)), op(0, 400, 410, CommitBatch("h"), ok))
	parts := partition(ops)
	if n := len(parts); n != 3 {
		t.Fatalf("with another group and an empty batch: %d parts, want 3", n)
	}
	total := 0
	for _, p := range parts {
		total += len(p)
	}
	if total != len(ops) {
		t.Fatalf("parts hold %d operations of %d", total, len(ops))
	}
}

// fakeTB records Errorf instead of failing.
type fakeTB struct {
	testing.TB
	errors []string
}

func (f *fakeTB) Errorf(format string, args ...any) {
	f.errors = append(f.errors, fmt.Sprintf(format, args...))
}
func (f *fakeTB) Logf(string, ...any) {}
func (f *fakeTB) Helper()             {}

func TestCheckReportsAndVisualizes(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(OutDirEnv, dir)
	r := NewRecorder()
	w := r.Invoke(0, commit(0, 1))
	if err := w.Reply([]byte(`{"type": "commit_offset_ok", "in_reply_to": 1, "msg_id": 1}`)); err != nil {
		t.Fatal(err)
	}
	f := r.Invoke(1, fetch(0))
	if err := f.Reply([]byte(`{"type": "fetch_offset_ok", "in_reply_to": 2, "offset": 9, "msg_id": 2}`)); err != nil {
		t.Fatal(err)
	}
	tb := &fakeTB{TB: t}
	res := Check(tb, r)
	if res.Verdict != porcupine.Illegal || len(tb.errors) != 1 {
		t.Fatalf("verdict %v, errors %q", res.Verdict, tb.errors)
	}
	msg := tb.errors[0]
	path := filepath.Join(dir, strings.ReplaceAll(t.Name(), "/", "_")+".html")
	for _, want := range []string{"not linearizable", "g/t/0", "fetch g/t/0 -> 9", "commit g/t/0 = 1 -> ok", "visualization: " + path} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
	html, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(html), "<html") || !strings.Contains(string(html), `fetch g/t/0 -\u003e 9`) {
		t.Errorf("visualization %s does not show the history (%d bytes)", path, len(html))
	}

	good := NewRecorder()
	good.Invoke(0, commit(0, 1)).Reply([]byte(`{"type": "commit_offset_ok"}`))
	good.Invoke(0, fetch(0)).Reply([]byte(`{"type": "fetch_offset_ok", "offset": 1}`))
	tb = &fakeTB{TB: t}
	if res := Check(tb, good); res.Verdict != porcupine.Ok || len(tb.errors) != 0 {
		t.Fatalf("linearizable history: verdict %v, errors %q", res.Verdict, tb.errors)
	}
}

// TestUnknownWritesPruned: unknown writes nobody could have observed are
// left out, so that rejecting a history does not cost 2^n in them; those
// that explain an observation stay.
func TestUnknownWritesPruned(t *testing.T) {
	var ops []porcupine.Operation
	var tm int64
	const floating = 30
	for i := 0; i < floating; i++ {
		ops = append(ops, op(1, tm, 0, commit(0, int64(1000+i)), unknown))
		ops = append(ops, op(2, tm, 0, fetch(0), unknown))
		ops = append(ops, op(3, tm, tm+1, commit(0, int64(5000+i)), failed(11)))
		for j := 0; j < 5; j++ {
			v := int64(i*10 + j + 1)
			ops = append(ops, op(0, tm+1, tm+2, commit(0, v), ok), op(0, tm+3, tm+4, fetch(0), read(v)))
			tm += 5
		}
	}
	ops = append(ops, op(0, tm+10, tm+20, fetch(0), read(3))) // stale
	res := CheckOperations(ops, 0)
	if res.Verdict != porcupine.Illegal || res.Pruned != 3*floating || res.Unknown != 0 {
		t.Fatalf("verdict %v, %d pruned, %d unknown kept; want Illegal, %d, 0", res.Verdict, res.Pruned, res.Unknown, 3*floating)
	}

	kept := []struct {
		name string
		ops  []porcupine.Operation
	}{
		{"its value is read", []porcupine.Operation{
			op(0, 0, 0, commit(0, 7), unknown),
			op(1, 10, 20, fetch(0), read(7)),
		}},
		{"a delete counts it", []porcupine.Operation{
			op(0, 0, 0, CommitBatch("g", Entry{"t", 0, 7}, Entry{"t", 1, 7}), unknown),
			op(1, 10, 20, DeleteTopic("g", "t", nil), deleted(2)),
		}},
		{"its generation fences a commit", []porcupine.Operation{
			op(0, 0, 0, commit(0, 7).WithGeneration(3), unknown),
			op(1, 10, 20, commit(1, 8).WithGeneration(2), failed(22)),
		}},
	}
	for _, c := range kept {
		res := CheckOperations(c.ops, 0)
		if res.Verdict != porcupine.Ok || res.Pruned != 0 || res.Unknown != 1 {
			t.Errorf("%s: verdict %v, %d pruned, %d unknown; want Ok, 0, 1", c.name, res.Verdict, res.Pruned, res.Unknown)
		}
	}
}
