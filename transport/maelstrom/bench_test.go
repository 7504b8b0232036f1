package maelstrom

import (
	"bytes"
	"fmt"
	"io"
	"testing"

	"go.etcd.io/raft/v3/raftpb"

	"github.com/maelstrom-offsets/offsets/transport/internal/transporttest"
)

// BenchmarkMessage encodes a MsgApp as a "raft" line and decodes it back
// through HandleMessage (the JSON envelope already split off, as the
// node's reader does), without a network: the CPU cost per message.
func BenchmarkMessage(b *testing.B) {
	for _, c := range []struct{ entries, size int }{{1, 100}, {64, 100}, {16, 64 << 10}} {
		b.Run(fmt.Sprintf("entries=%d/size=%d", c.entries, c.size), func(b *testing.B) {
			h := transporttest.NewHandler(b.TempDir())
			defer h.Stop()
			tr, err := New(Config{ID: 2, Peers: []uint64{1, 2}, Out: io.Discard, Handler: h})
			if err != nil {
				b.Fatal(err)
			}
			defer tr.Close()
			m := &raftpb.Message{Type: raftpb.MsgApp.Enum(), From: new(uint64(1)), To: new(uint64(2)), Term: new(uint64(1))}
			for i := range c.entries {
				m.Entries = append(m.Entries, &raftpb.Entry{Index: new(uint64(i)), Term: new(uint64(1)), Data: make([]byte, c.size)})
			}
			b.SetBytes(int64(c.entries * c.size))
			var line []byte
			for range b.N {
				line, _ = tr.appendMessage(line[:0], m)
				body := line[bytes.Index(line, []byte(`"body":`))+7 : len(line)-2]
				if err := tr.HandleMessage("n0", body); err != nil {
					b.Fatal(err)
				}
				<-h.Msgs
			}
		})
	}
}
