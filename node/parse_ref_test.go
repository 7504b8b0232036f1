package node

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// describe formats every field of r, telling a nil slice from an empty one
// where the node tells them apart (topics and partitions: nil means all).
func describe(r *request) string {
	var b strings.Builder
	fmt.Fprintf(&b, "src=%q dest=%q msgID=%d msgIDText=%q kind=%d typ=%q nodeID=%q group=%q topic=%q partition=%d offset=%d metadata=%q generation=%d hasGen=%v errCode=%d errText=%q",
		r.src, r.dest, r.msgID, r.msgIDText, r.kind, r.typ, r.nodeID, r.group, r.topic, r.partition, r.offset, r.metadata, r.generation, r.hasGen, r.errCode, r.errText)
	fmt.Fprintf(&b, " entries(nil=%v)=[", r.entries == nil)
	for _, e := range r.entries {
		fmt.Fprintf(&b, "{%q %d %d %q}", e.topic, e.partition, e.offset, e.metadata)
	}
	fmt.Fprintf(&b, "] topics(nil=%v)=%q partitions(nil=%v)=%v", r.topics == nil, r.topics, r.partitions == nil, r.partitions)
	return b.String()
}

// checkSameParse parses msg, a text the scanner accepted, with the parser
// and with the fastjson reference, and fails unless both give the same
// request or the same error.
func checkSameParse(t *testing.T, msg []byte, lone bool) {
	t.Helper()
	var ps parser
	var ref fastjsonParser
	var r, want request
	arena := []byte("earlier requests' bytes")
	refArena := []byte(nil)
	err := ps.parse(msg, lone, &r, &arena)
	wantErr := ref.parse(msg, lone, &want, &refArena)
	if fmt.Sprint(err) != fmt.Sprint(wantErr) {
		t.Fatalf("parse of %q: error %v, fastjson's parse says %v", msg, err, wantErr)
	}
	if err == nil && describe(&r) != describe(&want) {
		t.Fatalf("parse of %q:\n got  %s\n want %s", msg, describe(&r), describe(&want))
	}
}

// checkSameParseAll frames in and checks every message framed with
// checkSameParse; it returns how many there were.
func checkSameParseAll(t *testing.T, in string) int {
	t.Helper()
	fr := newFramer(strings.NewReader(in), func(string, int, []byte) {})
	n := 0
	for {
		msg, err := fr.next()
		if err != nil {
			return n
		}
		checkSameParse(t, msg, fr.lone)
		n++
	}
}

// parseCases are texts that exercise the parser's reading of JSON: escapes
// in keys and values, surrogates, duplicate keys, nested values it skips,
// whitespace, every kind of number and every field of the wrong type.
var parseCases = []string{
	`{"src":"c1","dest":"n1","body":{"type":"commit_offset","msg_id":123456,"group":"g42","topic":"t7","partition":3,"offset":987654}}`,
	` { "src" : "c1" , "dest" : "n1" , "body" : { "type" : "fetch_offset" , "msg_id" : 7 , "group" : "g" , "topic" : "t" , "partition" : 0 } } `,
	"{\r\n\t\"src\":\"c1\",\n\"dest\":\"n1\",\n\"body\":{\n\"type\":\"list_groups\",\n\"msg_id\":1\n}\n}",
	`{"\u0073rc":"c\"1","de\/st":"n\\1","b\u006fdy":{"t\u0079pe":"commit_offset","msg_id":1,"gr\u006Fup":"\u00e9\ud83d\ude00","topic":"a\/b\b\f\n\r\t","partition":1,"offset":2}}`,
	`{"src":"c1","dest":"n1","body":{"type":"commit_offset","msg_id":1,"group":"\ud800","topic":"t","partition":1,"offset":2}}`,
	`{"src":"\ud800","dest":"n1","body":{"type":"commit_offset","msg_id":1}}`,
	`{"src":"c1","dest":"\udc00x","body":{"msg_id":1}}`,
	`{"src":"c\ud800\u0041","dest":"n1","body":{"type":"init","msg_id":1,"node_id":"n1"}}`,
	`{"src":"c\udc00\ud800","dest":"n1","body":{"type":"init","msg_id":1,"node_id":"n1"}}`,
	`{"src":"c\\ud800","dest":"n1","body":{"type":"init","msg_id":1,"node_id":"\\ud800"}}`,
	`{"src":"c1","dest":"n1","body":{"type":"fetch_offset","msg_id":1,"group":"\u0000","topic":"\ud83d\ude00\ud800","partition":1}}`,
	`{"src":"a","src":"b","dest":"n1","dest":"n2","body":{"msg_id":1},"body":{"type":"delete_group","msg_id":2,"group":"g","group":"h"}}`,
	`{"src":"c1","dest":"n1","x":{"body":{"a":"}]\"{["},"y":[[{}],[]]},"body":{"z":["\"}",{"q":[1,2,{"r":"]"}]}],"type":"list_groups","msg_id":3,"w":{"\\":"\\\""}}}`,
	`{"src":"c1","dest":"n1","body":{"type":"init","msg_id":-9223372036854775808,"node_id":"n1"}}`,
	`{"src":"c1","dest":"n1","body":{"type":"init","msg_id":9223372036854775808,"node_id":"n1"}}`,
	`{"src":"c1","dest":"n1","body":{"type":"init","msg_id":-9223372036854775809,"node_id":"n1"}}`,
	`{"src":"c1","dest":"n1","body":{"type":"init","msg_id":123456789012345678901234567890}}`,
	`{"src":"c1","dest":"n1","body":{"type":"init","msg_id":-0}}`,
	`{"src":"c1","dest":"n1","body":{"type":"init","msg_id":1e3}}`,
	`{"src":"c1","dest":"n1","body":{"type":"init","msg_id":1.0}}`,
	`{"src":"c1","dest":"n1","body":{"type":"init","msg_id":"1"}}`,
	`{"src":"c1","dest":"n1","body":{"type":"init","msg_id":null}}`,
	`{"src":"c1","dest":"n1","body":{"type":"init","msg_id":true}}`,
	`{"src":"c1","dest":"n1","body":{"type":"init","msg_id":[1]}}`,
	`{"src":"c1","dest":"n1","body":{"type":"init"}}`,
	`{"src":"c1","dest":"n1","body":{"type":null,"msg_id":1}}`,
	`{"src":"c1","dest":"n1","body":{"msg_id":1}}`,
	`{"src":"c1","dest":"n1","body":{"type":"nope\u00e9","msg_id":1}}`,
	`{"src":"c1","dest":"n1","body":{"type":"","msg_id":1}}`,
	`{"src":"c1","dest":"n1","body":[]}`,
	`{"src":"c1","dest":"n1","body":"x"}`,
	`{"src":"c1","dest":"n1"}`,
	`{"src":1,"dest":"n1","body":{}}`,
	`{"src":"c1","dest":null,"body":{}}`,
	`{"dest":"n1","body":{}}`,
	`{}`, `[]`, `[{"src":"c1"}]`, `"x"`, `12`, `-1.5e3`, `true`, `false`, `null`,
	`{"src":"","dest":"","body":{"type":"init","msg_id":1,"node_id":""}}`,
	`{"src":"c1","dest":"n1","body":{"type":"commit_offset","msg_id":1,"group":"","topic":"t","partition":1,"offset":2}}`,
	`{"src":"c1","dest":"n1","body":{"type":"commit_offset","msg_id":1,"group":1,"topic":"t","partition":1,"offset":2}}`,
	`{"src":"c1","dest":"n1","body":{"type":"commit_offset","msg_id":1,"group":"g","topic":"t","partition":2147483648,"offset":2}}`,
	`{"src":"c1","dest":"n1","body":{"type":"commit_offset","msg_id":1,"group":"g","topic":"t","partition":-1,"offset":2}}`,
	`{"src":"c1","dest":"n1","body":{"type":"commit_offset","msg_id":1,"group":"g","topic":"t","partition":1,"offset":9223372036854775807,"metadata":"m\u00e9","generation":2147483647}}`,
	`{"src":"c1","dest":"n1","body":{"type":"commit_offset","msg_id":1,"group":"g","topic":"t","partition":1,"offset":2,"metadata":null,"generation":null}}`,
	`{"src":"c1","dest":"n1","body":{"type":"commit_offset","msg_id":1,"group":"g","topic":"t","partition":1,"offset":2,"metadata":5}}`,
	`{"src":"c1","dest":"n1","body":{"type":"commit_offset","msg_id":1,"group":"g","topic":"t","partition":1,"offset":2,"generation":-1}}`,
	`{"src":"c1","dest":"n1","body":{"type":"commit_offset","msg_id":1,"group":"g","topic":"t","partition":1,"offset":2,"generation":"1"}}`,
	`{"src":"c1","dest":"n1","body":{"type":"commit_offset","msg_id":1,"group":"g","topic":"t","partition":1,"offset":2,"metadata":"` + strings.Repeat("x", maxMetadataBytes) + `"}}`,
	`{"src":"c1","dest":"n1","body":{"type":"commit_offset","msg_id":1,"group":"g","topic":"t","partition":1,"offset":2,"metadata":"` + strings.Repeat("x", maxMetadataBytes+1) + `"}}`,
	`{"src":"c1","dest":"n1","body":{"type":"commit_offset","msg_id":1,"group":"g","topic":"t","partition":1,"offset":2,"metadata":"` + strings.Repeat(`\u00e9`, maxMetadataBytes/2) + `"}}`,
	`{"src":"c1","dest":"n1","body":{"type":"commit_offset","msg_id":1,"group":"g","topic":"t","partition":1,"offset":2,"metadata":"` + strings.Repeat(`\u00e9`, maxMetadataBytes/2+1) + `"}}`,
	`{"src":"c1","dest":"n1","body":{"type":"commit_offsets","msg_id":2,"group":"g","generation":3,"offsets":[{"topic":"a","partition":1,"offset":2,"metadata":"\u00e9"},{"topic":"b","partition":0,"offset":1}]}}`,
	`{"src":"c1","dest":"n1","body":{"type":"commit_offsets","msg_id":2,"group":"g","offsets":[]}}`,
	`{"src":"c1","dest":"n1","body":{"type":"commit_offsets","msg_id":2,"group":"g","offsets":[ { "topic" : "a" , "partition" : 1 , "offset" : 2 } , 3 ]}}`,
	`{"src":"c1","dest":"n1","body":{"type":"commit_offsets","msg_id":2,"group":"g","offsets":[{"topic":"a","partition":1,"offset":2},{"topic":"a","partition":"x","offset":2}]}}`,
	`{"src":"c1","dest":"n1","body":{"type":"commit_offsets","msg_id":2,"group":"g","offsets":[{"topic":"a","partition":1,"offset":2,"metadata":[]}]}}`,
	`{"src":"c1","dest":"n1","body":{"type":"commit_offsets","msg_id":2,"group":"g","offsets":{}}}`,
	`{"src":"c1","dest":"n1","body":{"type":"commit_offsets","msg_id":2,"group":"g"}}`,
	`{"src":"c1","dest":"n1","body":{"type":"commit_offsets","msg_id":2,"group":"g","generation":1.5,"offsets":[]}}`,
	`{"src":"c1","dest":"n1","body":{"type":"fetch_offsets","msg_id":3,"group":"g","topics":["a","b\u00e9"]}}`,
	`{"src":"c1","dest":"n1","body":{"type":"fetch_offsets","msg_id":3,"group":"g","topics":[]}}`,
	`{"src":"c1","dest":"n1","body":{"type":"fetch_offsets","msg_id":3,"group":"g","topics":null}}`,
	`{"src":"c1","dest":"n1","body":{"type":"fetch_offsets","msg_id":3,"group":"g","topics":["a",null]}}`,
	`{"src":"c1","dest":"n1","body":{"type":"fetch_offsets","msg_id":3,"group":"g","topics":"a"}}`,
	`{"src":"c1","dest":"n1","body":{"type":"fetch_offsets","msg_id":3,"group":"g"}}`,
	`{"src":"c1","dest":"n1","body":{"type":"delete_offsets","msg_id":4,"group":"g","topic":"a","partitions":[1,2,3]}}`,
	`{"src":"c1","dest":"n1","body":{"type":"delete_offsets","msg_id":4,"group":"g","topic":"a","partitions":[]}}`,
	`{"src":"c1","dest":"n1","body":{"type":"delete_offsets","msg_id":4,"group":"g","topic":"a","partitions":[1,-2]}}`,
	`{"src":"c1","dest":"n1","body":{"type":"delete_offsets","msg_id":4,"group":"g","topic":"a","partitions":[1,1e0]}}`,
	`{"src":"c1","dest":"n1","body":{"type":"delete_offsets","msg_id":4,"group":"g","topic":"a"}}`,
	`{"src":"c1","dest":"n1","body":{"type":"delete_group","msg_id":5}}`,
	`{"src":"c1","dest":"n1","body":{"type":"cluster_status","msg_id":6}}`,
	`{"src":"c1","dest":"n1","body":{"type":"init","msg_id":1,"node_id":"n1","node_ids":["n1"]}}{"src":"c1","dest":"n1","body":{"type":"list_groups","msg_id":2}} 5 "s" [1]`,
}

// TestParseMatchesFastjson holds the one-pass parser to the fastjson
// parser it replaced, on the cases above, every golden case's input and
// FuzzParse's corpus: the same request, or the same reason to skip, for
// every text the scanner accepts.
func TestParseMatchesFastjson(t *testing.T) {
	n := 0
	for _, c := range parseCases {
		n += checkSameParseAll(t, c)
	}
	ins, err := filepath.Glob("../testdata/cases/*.in")
	if err != nil || len(ins) == 0 {
		t.Fatalf("no golden cases: %v", err)
	}
	for _, p := range ins {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		n += checkSameParseAll(t, string(b))
	}
	corpus, err := filepath.Glob("testdata/fuzz/FuzzParse/*")
	if err != nil || len(corpus) == 0 {
		t.Fatalf("no FuzzParse corpus: %v", err)
	}
	for _, p := range corpus {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		// The corpus format: a header line, then string("...").
		_, arg, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
		s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(arg, "string("), ")"))
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		n += checkSameParseAll(t, s)
	}
	t.Logf("%d messages parsed alike", n)
}
