package cluster

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/maelstrom-offsets/offsets/consumeroffsets"
	"github.com/maelstrom-offsets/offsets/log"
	"github.com/maelstrom-offsets/offsets/node"
	"github.com/maelstrom-offsets/offsets/raftlog"
	"github.com/maelstrom-offsets/offsets/transport"
)

// openSolo opens a member that is a cluster of one (it elects itself), with
// compaction thresholds small enough for a test; the caller runs the
// serving goroutine's work (work) itself.
func openSolo(t *testing.T, dir string, trailing uint64) (*Member, chan func()) {
	t.Helper()
	work := make(chan func(), 1)
	m, err := Open(Config{
		ID: 1, Peers: []uint64{1}, Dir: dir, NoSync: true, SnapshotTrailing: trailing,
		Store: consumeroffsets.Options{NoSync: true, CompactMinBytes: 2000, CompactDirtyRatio: 0.2},
		Tick:  10 * time.Millisecond, ElectionTicks: 5, HeartbeatTicks: 1, RequestTimeout: 10 * time.Second,
		Transport: func(transport.Handler) (transport.Transport, error) { return &sentApps{}, nil },
		Work:      work, Out: io.Discard, Inject: make(chan []byte, 1),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	return m, work
}

// runWork runs what the raft loop queued for the serving goroutine.
func runWork(work chan func()) {
	for {
		select {
		case f := <-work:
			f()
		default:
			return
		}
	}
}

// commitSolo commits one offset as a batch of its own, retrying while the
// member is not yet a ready leader (error 11: definitely not applied).
func commitSolo(t *testing.T, m *Member, work chan func(), k, offset int) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		runWork(work)
		if err := m.Commit([]byte("g"), fmt.Appendf(nil, "t%d", k), 0, int64(offset), []byte("md")); err != nil {
			t.Fatal(err)
		}
		err := m.Flush()
		if err == nil {
			return
		}
		var re *node.ReplyError
		if !errors.As(err, &re) || re.Code != node.CodeTemporarilyUnavailable || time.Now().After(deadline) {
			t.Fatalf("commit t%d=%d: %v", k, offset, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A member compacts by the Store's rules: its log becomes a raft snapshot
// (a sealed checkpoint with its RAFT file) and a wal that keeps the
// trailing entries, and it replays to the same state as before.
func TestMemberCompactionReplaysToSameState(t *testing.T) {
	dir := t.TempDir()
	const trailing = 5
	m, work := openSolo(t, dir, trailing)
	want := map[int]int64{}
	for i := range 400 {
		k := i % 7
		commitSolo(t, m, work, k, 1000+i)
		want[k] = int64(1000 + i)
	}
	runWork(work)
	// The background compactions may still run (they take longer than
	// these unsynced commits): one more, through the applied index, waits
	// for them and runs by the same path.
	if st, err := m.Store.Compact(); err != nil || st.Skipped {
		t.Fatalf("compaction: %+v, %v", st, err)
	}
	for i := range 3 {
		commitSolo(t, m, work, i, 2000+i)
		want[i] = int64(2000 + i)
	}
	applied := m.rlog.applied
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}

	ck, ok, err := log.CheckpointIndex(filepath.Join(dir, "log"))
	if err != nil || !ok {
		t.Fatalf("no checkpoint after 400 commits to 7 keys: %v %v", ok, err)
	}
	rl, err := raftlog.Open(dir, raftlog.Options{NoSync: true, Trailing: trailing})
	if err != nil {
		t.Fatal(err)
	}
	snap, _ := rl.Snapshot()
	first, _ := rl.FirstIndex()
	last, _ := rl.LastIndex()
	rl.Close()
	if snap.GetMetadata().GetIndex() != ck || snap.GetMetadata().GetTerm() == 0 ||
		len(snap.GetMetadata().GetConfState().GetVoters()) != 1 {
		t.Fatalf("snapshot %v, checkpoint %d", snap.GetMetadata(), ck)
	}
	if ck != applied-3 || first != ck-trailing+1 || last < applied {
		t.Fatalf("the wal holds [%d, %d] after snapshot %d, want from %d through at least %d", first, last, ck, ck-trailing+1, applied)
	}
	t.Logf("snapshot at %d of %d entries, wal from %d", ck, applied, first)

	m, work = openSolo(t, dir, trailing)
	defer m.Close()
	// The restart replays through the durable commit index; raft commits
	// the rest again once the member has elected itself.
	deadline := time.Now().Add(time.Minute)
	for runWork(work); m.rlog.applied < applied; runWork(work) {
		if time.Now().After(deadline) {
			t.Fatalf("applied %d after reopening, want %d", m.rlog.applied, applied)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if m.Keys() != len(want) {
		t.Fatalf("%d keys after reopening, want %d", m.Keys(), len(want))
	}
	for k, v := range want {
		c, ok := m.Store.Fetch([]byte("g"), fmt.Appendf(nil, "t%d", k), 0)
		if !ok || c.Offset != v || c.Metadata != "md" {
			t.Fatalf("t%d = %+v, %v; want %d", k, c, ok, v)
		}
	}
	// It goes on committing after the snapshot.
	commitSolo(t, m, work, 0, 5)
}
