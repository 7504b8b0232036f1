package consumeroffsets

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"testing"

	"github.com/maelstrom-offsets/offsets/log"
)

// notCommitting is a replicated log whose Append reports, on demand, that
// the batch was not committed.
type notCommitting struct {
	wal
	refuse bool
}

func (n *notCommitting) Append(b *log.Batch) (uint64, error) {
	if n.refuse {
		return 0, fmt.Errorf("%w: another entry took its index", ErrNotCommitted)
	}
	return n.wal.Append(b)
}

// A batch a replicated log did not commit is rolled back and its error
// returned as it is; the store stays writable, and an entry committed by
// another member is applied through ApplyCommitted.
func TestNotCommittedRollsBackAndStaysWritable(t *testing.T) {
	l, err := log.Open(t.TempDir(), log.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	nc := &notCommitting{wal: l}
	s, _, err := OpenLog(nc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	k := OffsetKey{"g", "t", 0}
	commit(t, s, k, 10)
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	nc.refuse = true
	commit(t, s, k, 20)
	if err := s.Flush(); !errors.Is(err, ErrNotCommitted) {
		t.Fatalf("Flush = %v, want ErrNotCommitted", err)
	}
	if got, _ := fetch(s, k); got != 10 {
		t.Fatalf("after a batch not committed: %d, want 10", got)
	}
	rec := log.Record{Type: TypeOffsetCommit, Data: AppendOffsetCommit(nil, []byte("g"), []byte("t"), 0, OffsetValue{Offset: 30})}
	if err := s.ApplyCommitted(3, func(fn func(log.Record) error) error { return fn(rec) }); err != nil {
		t.Fatal(err)
	}
	if got, _ := fetch(s, k); got != 30 {
		t.Fatalf("after ApplyCommitted: %d, want 30", got)
	}
	nc.refuse = false
	commit(t, s, k, 40)
	if err := s.Flush(); err != nil {
		t.Fatalf("Flush after a batch not committed = %v, want nil (still writable)", err)
	}
	commit(t, s, k, 50)
	if err := s.ApplyCommitted(9, func(func(log.Record) error) error { return nil }); err == nil {
		t.Fatal("ApplyCommitted with changes staged succeeded")
	}
}
