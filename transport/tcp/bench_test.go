package tcp

import (
	"fmt"
	"testing"

	"go.etcd.io/raft/v3/raftpb"
)

// BenchmarkAppend sends MsgApp messages from one transport to another over
// loopback, at most 256 (or 32 MiB) in flight, within the queue's bounds,
// and reports messages and bytes per
// second as the receiver's handler gets them.
func BenchmarkAppend(b *testing.B) {
	for _, c := range []struct{ entries, size int }{{1, 100}, {64, 100}, {16, 64 << 10}} {
		b.Run(fmt.Sprintf("entries=%d/size=%d", c.entries, c.size), func(b *testing.B) {
			eps := cluster(b, []uint64{1, 2}, nil)
			m := appendMsg(1, 2, 1, c.entries, c.size)
			b.SetBytes(int64(c.entries * c.size))
			b.ResetTimer()
			window := min(256, (32<<20)/(c.entries*c.size))
			inFlight := 0
			for range b.N {
				for inFlight >= window {
					<-eps[2].h.Msgs
					inFlight--
				}
				eps[1].t.Send([]*raftpb.Message{m})
				inFlight++
			}
			for ; inFlight > 0; inFlight-- {
				<-eps[2].h.Msgs
			}
			b.StopTimer()
			if d := eps[1].t.Stats().Dropped; d > 0 {
				b.Fatalf("%d dropped", d)
			}
		})
	}
}
