package linearizability

import (
	"errors"
	"math"
	"sync"
	"testing"
)

func TestParseReply(t *testing.T) {
	cases := []struct {
		typ, body string
		want      Outcome
		bad       bool
	}{
		{CommitOffset, `{"type": "commit_offset_ok", "in_reply_to": 3, "msg_id": 1}`, Outcome{Kind: OK}, false},
		{CommitOffsets, `{"type": "commit_offsets_ok", "in_reply_to": 3, "msg_id": 1}`, Outcome{Kind: OK}, false},
		{FetchOffset, `{"type": "fetch_offset_ok", "in_reply_to": 3, "offset": 9223372036854775807, "msg_id": 1}`, Outcome{Kind: OK, Offset: math.MaxInt64}, false},
		{FetchOffset, `{"type": "fetch_offset_ok", "offset": 0}`, Outcome{Kind: OK}, false},
		{DeleteOffsets, `{"type": "delete_offsets_ok", "deleted": 3}`, Outcome{Kind: OK, Deleted: 3}, false},
		{DeleteGroup, `{"type": "delete_group_ok", "deleted": 0}`, Outcome{Kind: OK}, false},
		{CommitOffset, `{"type": "error", "code": 0, "text": "timed out"}`, Outcome{Kind: Unknown, Code: 0, Text: "timed out"}, false},
		{CommitOffset, `{"type": "error", "code": 11, "text": "no leader"}`, Outcome{Kind: Failed, Code: 11, Text: "no leader"}, false},
		{CommitOffset, `{"type": "error", "code": 13, "text": "x"}`, Outcome{Kind: Unknown, Code: 13, Text: "x"}, false},
		{CommitOffset, `{"type": "error", "code": 14}`, Outcome{Kind: Failed, Code: 14}, false},
		{CommitOffset, `{"type": "error", "code": 22}`, Outcome{Kind: Failed, Code: 22}, false},
		{CommitOffset, `{"type": "error", "code": 1000}`, Outcome{Kind: Unknown, Code: 1000}, false},
		{CommitOffset, `{"type": "fetch_offset_ok", "offset": 1}`, Outcome{}, true},
		{FetchOffset, `{"type": "fetch_offset_ok"}`, Outcome{}, true},
		{DeleteGroup, `{"type": "delete_group_ok"}`, Outcome{}, true},
		{CommitOffset, `{"type": "error"}`, Outcome{}, true},
		{CommitOffset, `not json`, Outcome{}, true},
	}
	for _, c := range cases {
		got, err := ParseReply(c.typ, []byte(c.body))
		if c.bad != errors.Is(err, ErrBadReply) || got != c.want {
			t.Errorf("ParseReply(%s, %s) = %+v, %v; want %+v, bad %v", c.typ, c.body, got, err, c.want, c.bad)
		}
	}
}

func TestRequestBody(t *testing.T) {
	b := CommitBatch("g", Entry{"t", 1, 5}).WithGeneration(3).Body()
	if b["type"] != "commit_offsets" || b["group"] != "g" || b["generation"] != int32(3) || len(b["offsets"].([]map[string]any)) != 1 {
		t.Errorf("commit_offsets body %v", b)
	}
	if b := DeleteTopic("g", "t", nil).Body(); b["topic"] != "t" || b["partitions"] != nil {
		t.Errorf("delete_offsets of a topic: %v", b)
	}
	if b := Fetch("g", "t", 2).Body(); b["partition"] != int32(2) || b["offset"] != nil {
		t.Errorf("fetch_offset body %v", b)
	}
}

func TestRecorder(t *testing.T) {
	r := NewRecorder()
	first := r.Invoke(0, commit(0, 1))
	first.Reply([]byte(`{"type": "commit_offset_ok"}`))
	var wg sync.WaitGroup
	for c := 1; c <= 8; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				op := r.Invoke(c, fetch(0))
				if err := op.Reply([]byte(`{"type": "fetch_offset_ok", "offset": 1}`)); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	lost := r.Invoke(9, commit(0, 2))
	pending := r.Invoke(10, commit(0, 3))
	wg.Wait()
	lost.Unknown()
	lost.Reply([]byte(`{"type": "commit_offset_ok"}`)) // too late: the first outcome counts
	bad := r.Invoke(11, fetch(0))
	if err := bad.Reply([]byte(`{"type": "commit_offset_ok"}`)); !errors.Is(err, ErrBadReply) {
		t.Errorf("wrong reply type: %v", err)
	}
	_ = pending

	ops := r.Operations()
	if len(ops) != 804 {
		t.Fatalf("%d operations, want 804", len(ops))
	}
	for i, op := range ops {
		o := op.Output.(Outcome)
		if (o.Kind == Unknown) != (op.Return == math.MaxInt64) {
			t.Errorf("op %d: outcome %v returns at %d", i, o.Kind, op.Return)
		}
		if op.Call > op.Return {
			t.Errorf("op %d returns at %d before its call at %d", i, op.Return, op.Call)
		}
		if i > 0 && ops[0].Return > op.Call && op.ClientId != 0 {
			t.Errorf("op %d invoked at %d, before the first op returned (%d)", i, op.Call, ops[0].Return)
		}
	}
	for _, o := range []*Op{lost, pending, bad} {
		if o.Outcome().Kind != Unknown {
			t.Errorf("outcome %+v, want unknown", o.Outcome())
		}
	}
	// The lost and pending commits wrote values nobody read, and the bad
	// read says nothing: all three are left out.
	if res := CheckOperations(ops, 0); res.Verdict != "Ok" || res.Unknown != 0 || res.Pruned != 3 {
		t.Errorf("verdict %v with %d unknown, %d pruned; want Ok, 0, 3", res.Verdict, res.Unknown, res.Pruned)
	}
}
