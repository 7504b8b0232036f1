package node

import (
	"encoding/json"
	"testing"
)

var benchLine = []byte(`{"src":"c1","dest":"n1","body":{"type":"commit_offset","msg_id":123456,"group":"g42","topic":"t7","partition":3,"offset":987654}}`)

// BenchmarkParse compares the node's parser (fastjson, exact integers from
// the literal text) with encoding/json decoding the same message into a
// struct with json.Number fields, which is what exact integers cost there.
func BenchmarkParse(b *testing.B) {
	b.Run("parser=fastjson", func(b *testing.B) {
		var ps parser
		var r request
		var arena []byte
		b.SetBytes(int64(len(benchLine)))
		for i := 0; i < b.N; i++ {
			arena = arena[:0]
			if err := ps.parse(benchLine, false, &r, &arena); err != nil || r.kind != kindCommit {
				b.Fatal(err)
			}
		}
	})
	b.Run("parser=encoding_json", func(b *testing.B) {
		type body struct {
			Type      string      `json:"type"`
			MsgID     json.Number `json:"msg_id"`
			Group     string      `json:"group"`
			Topic     string      `json:"topic"`
			Partition json.Number `json:"partition"`
			Offset    json.Number `json:"offset"`
		}
		type msg struct {
			Src  string `json:"src"`
			Dest string `json:"dest"`
			Body body   `json:"body"`
		}
		b.SetBytes(int64(len(benchLine)))
		for i := 0; i < b.N; i++ {
			var m msg
			if err := json.Unmarshal(benchLine, &m); err != nil {
				b.Fatal(err)
			}
			if _, err := m.Body.Offset.Int64(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkReply measures formatting one fetch reply.
func BenchmarkReply(b *testing.B) {
	var w replyWriter
	for i := 0; i < b.N; i++ {
		w.buf = w.buf[:0]
		w.begin([]byte("n1"), []byte("c1"), "fetch_offset_ok", 123456)
		w.intField("offset", 987654)
		w.end()
	}
}
