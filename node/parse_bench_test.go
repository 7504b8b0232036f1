package node

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
)

var benchLine = []byte(`{"src":"c1","dest":"n1","body":{"type":"commit_offset","msg_id":123456,"group":"g42","topic":"t7","partition":3,"offset":987654}}`)

// BenchmarkParse compares the node's parser (one pass over the text the
// scanner validated, exact integers from the literal text) with the
// fastjson parser it replaced, and with encoding/json decoding the same
// message into a struct with json.Number fields, which is what exact
// integers cost there.
func BenchmarkParse(b *testing.B) {
	b.Run("parser=node", func(b *testing.B) {
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
	b.Run("parser=fastjson", func(b *testing.B) {
		var ps fastjsonParser
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

// benchStream returns n requests like benchLine, one per line or each
// pretty-printed over several lines.
func benchStream(b *testing.B, n int, pretty bool) []byte {
	var out []byte
	for i := 0; i < n; i++ {
		line := []byte(fmt.Sprintf(`{"src":"c1","dest":"n1","body":{"type":"commit_offset","msg_id":%d,"group":"g%d","topic":"t7","partition":%d,"offset":%d}}`, i, i%1000, i%16, 1000000+i))
		if pretty {
			var buf bytes.Buffer
			if err := json.Indent(&buf, line, "", "  "); err != nil {
				b.Fatal(err)
			}
			line = buf.Bytes()
		}
		out = append(append(out, line...), '\n')
	}
	return out
}

// BenchmarkFrameParse measures framing and parsing a stream of commits, as
// the node's reader does, per message.
func BenchmarkFrameParse(b *testing.B) {
	for _, pretty := range []bool{false, true} {
		stream := benchStream(b, 10000, pretty)
		b.Run(fmt.Sprintf("pretty=%v", pretty), func(b *testing.B) {
			var ps parser
			var r request
			var arena []byte
			b.SetBytes(int64(len(stream)))
			msgs := 0
			for i := 0; i < b.N; i++ {
				f := newFramer(bytes.NewReader(stream), func(string, int, []byte) { b.Fatal("skipped") })
				for {
					msg, err := f.next()
					if err != nil {
						break
					}
					arena = arena[:0]
					if err := ps.parse(msg, f.lone, &r, &arena); err != nil || r.kind != kindCommit {
						b.Fatal(err)
					}
					msgs++
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(msgs), "ns/msg")
		})
	}
}

// BenchmarkScan measures the strict scan alone on one single-line request.
func BenchmarkScan(b *testing.B) {
	var s scanner
	b.SetBytes(int64(len(benchLine)))
	for i := 0; i < b.N; i++ {
		s.reset()
		if _, st := s.scan(benchLine); st != scanDone {
			b.Fatal(st)
		}
	}
}
