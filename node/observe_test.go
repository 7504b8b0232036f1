package node

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
)

// countingObserver sums what the node reports.
type countingObserver struct {
	byOutcome map[string]int
	batches   int
	requests  int
}

func (o *countingObserver) Batch(c *Counts) {
	o.batches++
	o.requests += c.Requests()
	c.Each(func(typ string, code, n int) { o.byOutcome[fmt.Sprintf("%s/%d", typ, code)] += n })
}

// TestKindNamesMatchParser: the type label of every request kind is the
// type the parser reads it from.
func TestKindNamesMatchParser(t *testing.T) {
	var ps parser
	for k, name := range kindNames {
		if kind(k) == kindInvalid {
			continue
		}
		var r request
		var arena []byte
		msg := fmt.Sprintf(`{"src":"c","dest":"n","body":{"type":%q,"msg_id":1}}`, name)
		if err := ps.parse([]byte(msg), false, &r, &arena); err != nil {
			t.Fatal(err)
		}
		got := r.kind
		if got == kindInvalid {
			got = kindOf(r.typ) // refused for its missing fields, typed still
		}
		if got != kind(k) || r.errCode == CodeNotSupported {
			t.Errorf("type %q parses as kind %d (code %d), want %d", name, r.kind, r.errCode, k)
		}
	}
}

// TestObserverCounts: every request is counted once under its type and
// outcome, also when a failed flush makes the node answer its batch again.
func TestObserverCounts(t *testing.T) {
	run := func(st *memStore) *countingObserver {
		obs := &countingObserver{byOutcome: map[string]int{}}
		in := `{"src":"c0","dest":"n1","body":{"type":"init","msg_id":1,"node_id":"n1"}}
{"src":"c1","dest":"n1","body":{"type":"commit_offset","msg_id":2,"group":"g","topic":"t","partition":0,"offset":5}}
{"src":"c1","dest":"n1","body":{"type":"commit_offset","msg_id":3,"group":"g","topic":"t","partition":1,"offset":5}}
{"src":"c1","dest":"n1","body":{"type":"fetch_offset","msg_id":4,"group":"g","topic":"t"}}
{"src":"c1","dest":"n1","body":{"type":"bogus","msg_id":5}}
`
		err := Run(context.Background(), strings.NewReader(in), io.Discard, Config{
			Open:     func(string) (Offsets, error) { return st, nil },
			Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
			Observer: obs,
		})
		if err != nil {
			t.Fatal(err)
		}
		return obs
	}
	ok := run(newMemStore())
	want := map[string]int{"init/0": 1, "commit_offset/0": 2, "fetch_offset/12": 1, "unknown/10": 1}
	if fmt.Sprint(ok.byOutcome) != fmt.Sprint(want) || ok.requests != 5 {
		t.Errorf("counts %v (%d requests), want %v", ok.byOutcome, ok.requests, want)
	}
	st := newMemStore()
	st.fail = true
	failed := run(st)
	want = map[string]int{"init/0": 1, "commit_offset/13": 2, "fetch_offset/12": 1, "unknown/10": 1}
	if fmt.Sprint(failed.byOutcome) != fmt.Sprint(want) || failed.requests != 5 {
		t.Errorf("after a failed flush: counts %v (%d requests), want %v", failed.byOutcome, failed.requests, want)
	}
}

// BenchmarkObserver measures the batch path with and without an observer
// (the metrics hook), 1000 pipelined commits per run.
func BenchmarkObserver(b *testing.B) {
	var in bytes.Buffer
	in.WriteString(`{"src":"c0","dest":"n1","body":{"type":"init","msg_id":1,"node_id":"n1"}}` + "\n")
	for i := 0; i < 1000; i++ {
		fmt.Fprintf(&in, `{"src":"c1","dest":"n1","body":{"type":"commit_offset","msg_id":%d,"group":"g","topic":"t","partition":%d,"offset":5}}`+"\n", i+2, i%100)
	}
	for _, on := range []bool{false, true} {
		b.Run(fmt.Sprintf("observer=%v", on), func(b *testing.B) {
			var obs Observer
			if on {
				obs = &countingObserver{byOutcome: map[string]int{}}
			}
			for b.Loop() {
				st := newMemStore()
				err := Run(context.Background(), bytes.NewReader(in.Bytes()), io.Discard, Config{
					Open:     func(string) (Offsets, error) { return st, nil },
					Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
					Observer: obs,
				})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
