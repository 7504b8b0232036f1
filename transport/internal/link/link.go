// Package link holds what the transports share: their counters, the
// coalesced reporting of unreachable peers, back-off and the snapshot
// checksum.
package link

import (
	"hash/crc32"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/raft/v3/raftpb"

	"github.com/maelstrom-offsets/offsets/transport"
)

// Castagnoli is the CRC-32C table used for frames and snapshot streams.
var Castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Counters are a transport's statistics, updated atomically.
type Counters struct {
	Sent, Received, Dropped, Unreachable, Refused     atomic.Uint64
	SnapshotsSent, SnapshotsFailed, SnapshotsReceived atomic.Uint64
}

// Stats returns a copy of the counters.
func (c *Counters) Stats() transport.Stats {
	return transport.Stats{
		Sent:              c.Sent.Load(),
		Received:          c.Received.Load(),
		Dropped:           c.Dropped.Load(),
		Unreachable:       c.Unreachable.Load(),
		Refused:           c.Refused.Load(),
		SnapshotsSent:     c.SnapshotsSent.Load(),
		SnapshotsFailed:   c.SnapshotsFailed.Load(),
		SnapshotsReceived: c.SnapshotsReceived.Load(),
	}
}

// Reporter calls Handler.Unreachable on a goroutine of its own, so that
// the goroutine noticing a failure (possibly the raft loop inside Send)
// never calls into the handler. A peer is reported once, then not again
// until Reachable says a message to it went through.
type Reporter struct {
	h        transport.Handler
	c        *Counters
	reported map[uint64]*atomic.Bool // fixed at construction
	ch       chan uint64
	done     chan struct{}
	wg       sync.WaitGroup
}

// NewReporter starts a reporter for the given peers.
func NewReporter(h transport.Handler, c *Counters, peers []uint64) *Reporter {
	r := &Reporter{h: h, c: c, reported: make(map[uint64]*atomic.Bool, len(peers)),
		ch: make(chan uint64, len(peers)), done: make(chan struct{})}
	for _, id := range peers {
		r.reported[id] = new(atomic.Bool)
	}
	r.wg.Add(1)
	go r.run()
	return r
}

func (r *Reporter) run() {
	defer r.wg.Done()
	for {
		select {
		case id := <-r.ch:
			r.c.Unreachable.Add(1)
			r.h.Unreachable(id)
		case <-r.done:
			return
		}
	}
}

// Unreachable reports peer id unless it was reported since it was last
// reachable. It never blocks.
func (r *Reporter) Unreachable(id uint64) {
	f := r.reported[id]
	if f == nil || !f.CompareAndSwap(false, true) {
		return
	}
	// The channel holds one slot per peer and a peer is queued at most
	// once, so this cannot block; the select is for a closed reporter.
	select {
	case r.ch <- id:
	default:
		f.Store(false)
	}
}

// Reachable notes that a message to peer id went through.
func (r *Reporter) Reachable(id uint64) {
	if f := r.reported[id]; f != nil && f.Load() {
		f.Store(false)
	}
}

// Close stops the reporter's goroutine.
func (r *Reporter) Close() {
	close(r.done)
	r.wg.Wait()
}

// Backoff is exponential back-off with jitter between Min and Max.
type Backoff struct {
	Min, Max time.Duration
	cur      time.Duration
}

// Next returns the next delay: the current step, doubled each time up to
// Max, with a random reduction of up to half so that peers that failed
// together do not retry together.
func (b *Backoff) Next() time.Duration {
	if b.cur < b.Min {
		b.cur = b.Min
	} else if b.cur *= 2; b.cur > b.Max {
		b.cur = b.Max
	}
	half := int64(b.cur / 2)
	if half <= 0 {
		return b.cur
	}
	return time.Duration(half + rand.Int64N(half+1))
}

// Reset starts the back-off again from Min.
func (b *Backoff) Reset() { b.cur = 0 }

// Budget bounds the bytes a queue holds, beside its bound on entries, so
// that a queue of large appends cannot grow without limit while its peer
// is stuck.
type Budget struct {
	Max  int64
	used atomic.Int64
}

// Take reserves n bytes; it fails when they would exceed Max, unless the
// queue is empty (a single message larger than Max still goes).
func (b *Budget) Take(n int) bool {
	u := b.used.Add(int64(n))
	if u > b.Max && u != int64(n) {
		b.used.Add(-int64(n))
		return false
	}
	return true
}

// Release returns n bytes taken earlier.
func (b *Budget) Release(n int) { b.used.Add(-int64(n)) }

// ApproxSize estimates a message's marshalled size from its payloads,
// without marshalling it.
func ApproxSize(m *raftpb.Message) int {
	n := 64 + len(m.GetContext()) + len(m.GetSnapshot().GetData())
	for _, e := range m.GetEntries() {
		n += 32 + len(e.GetData())
	}
	return n
}
