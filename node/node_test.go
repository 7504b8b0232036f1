package node

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/maelstrom-offsets/offsets/consumeroffsets"
)

func TestAppendPyString(t *testing.T) {
	// Expected texts are what Python's json.dumps prints for the same string.
	cases := map[string]string{
		"plain":                   `"plain"`,
		"é":                       `"\u00e9"`,
		"😀":                       `"\ud83d\ude00"`,
		"\"\\":                    `"\"\\"`,
		"\n\r\t\b\f":              `"\n\r\t\b\f"`,
		"\x00\x01\x1f\x7f":        `"\u0000\u0001\u001f\u007f"`,
		"<>&/":                    `"<>&/"`,
		"日本":                      `"\u65e5\u672c"`,
		"\u2028":                  `"\u2028"`,
		string([]byte{0xff, 'a'}): `"\ufffda"`,
	}
	for in, want := range cases {
		if got := string(appendPyString(nil, []byte(in))); got != want {
			t.Errorf("appendPyString(%q) = %s, want %s", in, got, want)
		}
	}
}

// memStore is an in-memory Offsets whose Flush can be made to fail. It
// implements what the tests here use; the embedded nil Offsets panics on the
// rest.
type memStore struct {
	Offsets
	m, staged map[string]int64
	fail      bool
	failErr   error // returned by Flush instead of the injected fsync failure
	flushes   int
}

func newMemStore() *memStore { return &memStore{m: map[string]int64{}, staged: map[string]int64{}} }

func key(g, t []byte, p int32) string {
	return string(g) + "\x00" + string(t) + "\x00" + string(rune(p))
}

func (s *memStore) ExpireOffsets() ([]consumeroffsets.ExpiredGroup, error) { return nil, nil }

func (s *memStore) CheckCommit([]byte, []consumeroffsets.Key) error { return nil }

func (s *memStore) Commit(g, t []byte, p int32, off int64, _ []byte) error {
	s.staged[key(g, t, p)] = off
	return nil
}

func (s *memStore) Fetch(g, t []byte, p int32) (consumeroffsets.Committed, bool) {
	k := key(g, t, p)
	if v, ok := s.staged[k]; ok {
		return consumeroffsets.Committed{Offset: v}, true
	}
	v, ok := s.m[k]
	return consumeroffsets.Committed{Offset: v}, ok
}

func (s *memStore) Pending() int { return len(s.staged) }

func (s *memStore) Flush() error {
	s.flushes++
	defer clear(s.staged)
	if len(s.staged) == 0 {
		return nil
	}
	if s.failErr != nil {
		return s.failErr
	}
	if s.fail {
		return errors.New("injected fsync failure")
	}
	for k, v := range s.staged {
		s.m[k] = v
	}
	return nil
}

func (s *memStore) Close() error { return nil }

func runNode(t *testing.T, st *memStore, input string) []string {
	t.Helper()
	var out bytes.Buffer
	err := Run(context.Background(), strings.NewReader(input), &out, Config{
		Open:   func(string) (Offsets, error) { return st, nil },
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
}

func TestFailedFlushAnswersCrash(t *testing.T) {
	st := newMemStore()
	st.fail = true
	lines := runNode(t, st, `{"src":"c0","dest":"n1","body":{"type":"init","msg_id":1,"node_id":"n1"}}
{"src":"c1","dest":"n1","body":{"type":"commit_offset","msg_id":2,"group":"g","topic":"t","partition":0,"offset":5}}
{"src":"c1","dest":"n1","body":{"type":"fetch_offset","msg_id":3,"group":"g","topic":"t","partition":0}}
{"src":"c1","dest":"n1","body":{"type":"bogus","msg_id":4}}
`)
	// The fetch saw the staged 5 before the flush failed; it is answered
	// again from the rolled-back, durable state.
	want := []string{
		`{"src": "n1", "dest": "c0", "body": {"type": "init_ok", "in_reply_to": 1, "msg_id": 0}}`,
		`{"src": "n1", "dest": "c1", "body": {"type": "error", "in_reply_to": 2, "code": 13, "text": "not durable: injected fsync failure", "msg_id": 1}}`,
		`{"src": "n1", "dest": "c1", "body": {"type": "fetch_offset_ok", "in_reply_to": 3, "offset": 0, "msg_id": 2}}`,
		`{"src": "n1", "dest": "c1", "body": {"type": "error", "in_reply_to": 4, "code": 10, "text": "unknown message type \"bogus\"", "msg_id": 3}}`,
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	if _, ok := st.m[key([]byte("g"), []byte("t"), 0)]; ok {
		t.Fatal("a failed flush applied the commit")
	}
}

func TestOneFlushPerBatch(t *testing.T) {
	st := newMemStore()
	var in strings.Builder
	in.WriteString(`{"src":"c0","dest":"n1","body":{"type":"init","msg_id":1,"node_id":"n1"}}` + "\n")
	for i := 0; i < 2000; i++ {
		in.WriteString(`{"src":"c1","dest":"n1","body":{"type":"commit_offset","msg_id":2,"group":"g","topic":"t","partition":0,"offset":5}}` + "\n")
	}
	lines := runNode(t, st, in.String())
	if len(lines) != 2001 {
		t.Fatalf("%d replies, want 2001", len(lines))
	}
	// Everything is waiting at once, so the node must batch: far fewer
	// flushes than commits.
	if st.flushes > 2000/chunkSize+2 {
		t.Fatalf("%d flushes for 2000 pipelined commits", st.flushes)
	}
}

// FuzzParse feeds arbitrary text through the framer and parser: nothing may
// panic, the parser must agree with the fastjson reference on every message
// framed, every accepted commit must hold valid fields, and every reply line
// must be valid JSON.
func FuzzParse(f *testing.F) {
	f.Add(`{"src":"c1","dest":"n1","body":{"type":"commit_offset","msg_id":2,"group":"g","topic":"t","partition":0,"offset":10}}`)
	f.Add(`{"src":"c1","dest":"n1","body":{"type":"fetch_offset","msg_id":3,"group":"\u00e9\ud83d\ude00","topic":"t","partition":2147483647}}`)
	f.Add(`{"src":"c0","dest":"n1","body":{"type":"init","msg_id":1,"node_id":"n1","node_ids":["n1"]}}`)
	f.Add(`{"src":"c1","dest":"n1","body":{"type":"commit_offset","msg_id":2,"group":"\ud800","topic":"t","partition":-0,"offset":1e3}}`)
	f.Add("{\n\"src\": \"c\",\n\"dest\": \"n\", \"body\": {\"msg_id\": 1}\n}")
	f.Add(`[1,2]`)
	f.Add(`{"src":"c1","dest":"n1","body":{"type":"commit_offsets","msg_id":2,"group":"g","generation":3,"offsets":[{"topic":"a","partition":1,"offset":2,"metadata":"\u00e9"},{"topic":"b","partition":0,"offset":1}]}}`)
	f.Add(`{"src":"c1","dest":"n1","body":{"type":"fetch_offsets","msg_id":3,"group":"g","topics":["a",null]}}`)
	f.Add(`{"src":"c1","dest":"n1","body":{"type":"delete_offsets","msg_id":4,"group":"g","topic":"a","partitions":[1,-2]}}`)
	f.Add(`{"src":"c1","dest":"n1","body":{"type":"delete_group","msg_id":5,"group":"g"}}`)
	f.Add(`{"src":"c1","dest":"n1","body":{"type":"list_groups","msg_id":6}}`)
	f.Add(`{"src":"c1","dest":"n1","body":{"type":"commit_offset","msg_id":7,"group":"g","topic":"t","partition":0,"offset":1,"metadata":null,"generation":null}}`)
	f.Fuzz(func(t *testing.T, in string) {
		var ps parser
		var arena []byte
		var r request
		fr := newFramer(strings.NewReader(in), func(string, int, []byte) {})
		for {
			msg, err := fr.next()
			if err != nil {
				break
			}
			checkSameParse(t, msg, fr.lone) // the fastjson reference agrees
			if ps.parse(msg, fr.lone, &r, &arena) != nil {
				continue
			}
			if r.kind == kindCommit && (len(r.group) == 0 || len(r.topic) == 0 || r.partition < 0 || r.offset < 0 ||
				!utf8.Valid(r.group) || !utf8.Valid(r.topic) || !utf8.Valid(r.metadata) || len(r.metadata) > maxMetadataBytes) {
				t.Fatalf("accepted an invalid commit: %+v", r)
			}
			for _, e := range r.entries {
				if len(e.topic) == 0 || !utf8.Valid(e.topic) || !utf8.Valid(e.metadata) || e.partition < 0 || e.offset < 0 || len(e.metadata) > maxMetadataBytes {
					t.Fatalf("accepted an invalid batch entry: %+v", e)
				}
			}
			for _, p := range r.partitions {
				if p < 0 {
					t.Fatalf("accepted a negative partition: %+v", r)
				}
			}
			if r.hasGen && r.generation < 0 {
				t.Fatalf("accepted a negative generation: %+v", r)
			}
			// The strings kept are the ones encoding/json decodes (a later
			// duplicate key wins in both), so two different strings never
			// become one key and src is answered as sent.
			var m map[string]any
			if err := json.Unmarshal(msg, &m); err != nil {
				t.Fatalf("accepted %q, which encoding/json refuses: %v", msg, err)
			}
			if !fr.lone {
				body := m["body"].(map[string]any)
				if m["src"] != string(r.src) || m["dest"] != string(r.dest) {
					t.Fatalf("src/dest %q/%q, encoding/json says %q/%q", r.src, r.dest, m["src"], m["dest"])
				}
				if r.kind == kindCommit && (body["group"] != string(r.group) || body["topic"] != string(r.topic)) {
					t.Fatalf("group/topic %q/%q, encoding/json says %q/%q", r.group, r.topic, body["group"], body["topic"])
				}
			}
			var w replyWriter
			w.errorReply(r.dest, r.src, r.msgID, 12, string(r.typ))
			var back map[string]any
			if err := json.Unmarshal(w.buf, &back); err != nil {
				t.Fatalf("reply is not JSON: %s: %v", w.buf, err)
			}
			if !fr.lone && back["dest"] != m["src"] {
				t.Fatalf("reply goes to %q, request came from %q", back["dest"], m["src"])
			}
		}
	})
}
