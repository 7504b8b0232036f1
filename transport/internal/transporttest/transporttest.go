// Package transporttest has what the transports' tests share: a handler
// that records what it is given, and three raft.RawNode members that run
// over any transport.
package transporttest

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"go.etcd.io/raft/v3/raftpb"

	"github.com/maelstrom-offsets/offsets/transport"
)

// SnapshotResult is one Handler.SnapshotStatus call.
type SnapshotResult struct {
	ID  uint64
	Err error
}

// Handler records what a transport hands it. Its channels are buffered;
// once a channel is full its sends wait for Stop.
type Handler struct {
	Msgs      chan *raftpb.Message
	Unreach   chan uint64 // reports beyond its buffer are dropped
	Snapshots chan SnapshotResult
	// Dir receives committed snapshot bodies, named snap-<from>-<index>.
	Dir string
	// RefuseSnapshots makes ReceiveSnapshot fail.
	RefuseSnapshots bool

	stop     chan struct{}
	stopOnce sync.Once

	mu       sync.Mutex
	aborted  int
	sinkErrs []error
}

// NewHandler returns a handler that stores snapshots in dir.
func NewHandler(dir string) *Handler {
	return &Handler{
		Msgs:      make(chan *raftpb.Message, 1<<14),
		Unreach:   make(chan uint64, 1<<10),
		Snapshots: make(chan SnapshotResult, 16),
		Dir:       dir,
		stop:      make(chan struct{}),
	}
}

// Stop releases every call waiting on a full channel.
func (h *Handler) Stop() { h.stopOnce.Do(func() { close(h.stop) }) }

// Receive implements transport.Handler.
func (h *Handler) Receive(m *raftpb.Message) {
	select {
	case h.Msgs <- m:
	case <-h.stop:
	}
}

// Unreachable implements transport.Handler.
func (h *Handler) Unreachable(id uint64) {
	select {
	case h.Unreach <- id:
	default:
	}
}

// SnapshotStatus implements transport.Handler.
func (h *Handler) SnapshotStatus(id uint64, err error) {
	select {
	case h.Snapshots <- SnapshotResult{id, err}:
	case <-h.stop:
	}
}

// ReceiveSnapshot implements transport.Handler with a FileSink in Dir.
func (h *Handler) ReceiveSnapshot(m *raftpb.Message) (transport.SnapshotSink, error) {
	if h.RefuseSnapshots {
		return nil, fmt.Errorf("refused by the test")
	}
	s, err := transport.NewFileSink(h.Dir, SnapshotName(m))
	if err != nil {
		return nil, err
	}
	return &countingSink{FileSink: s, h: h}, nil
}

// SnapshotName is the file a committed snapshot of m is stored in.
func SnapshotName(m *raftpb.Message) string {
	return fmt.Sprintf("snap-%d-%d", m.GetFrom(), m.GetSnapshot().GetMetadata().GetIndex())
}

// Aborted returns how many sinks were aborted.
func (h *Handler) Aborted() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.aborted
}

// Files lists Dir's files, temporaries included.
func (h *Handler) Files() []string {
	es, _ := os.ReadDir(h.Dir)
	var out []string
	for _, e := range es {
		out = append(out, filepath.Join(h.Dir, e.Name()))
	}
	return out
}

type countingSink struct {
	*transport.FileSink
	h *Handler
}

// Abort counts the abort after the sink has removed its file, so that a
// test that waits for the count sees the file gone.
func (s *countingSink) Abort() {
	s.FileSink.Abort()
	s.h.mu.Lock()
	s.h.aborted++
	s.h.mu.Unlock()
}
