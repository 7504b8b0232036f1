package consumeroffsets

import (
	"errors"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/maelstrom-offsets/offsets/log"
)

// scriptedLog is a log whose Appends and Syncs fail as scripted, in turn;
// a nil (or missing) error succeeds. It counts the records of each entry it wrote.
type scriptedLog struct {
	appendErrs, syncErrs []error
	appends, syncs       int
	entries              []int // the record count of each batch whose Append succeeded
}

func (l *scriptedLog) Append(b *log.Batch) (uint64, error) {
	l.appends++
	if err := next(&l.appendErrs); err != nil {
		return 0, err
	}
	l.entries = append(l.entries, b.Len())
	return uint64(len(l.entries)), nil
}

func (l *scriptedLog) Sync() error {
	l.syncs++
	return next(&l.syncErrs)
}

func next(errs *[]error) error {
	if len(*errs) == 0 {
		return nil
	}
	err := (*errs)[0]
	*errs = (*errs)[1:]
	return err
}

// newGroupCommit is a group commit over a fresh state, as the Store sets
// them up.
func newGroupCommit(backoff time.Duration) (*groupCommit, *State) {
	g := &groupCommit{backoff: backoff}
	st := NewState()
	st.journal = &g.undo
	return g, st
}

// stageCommit stages a commit of off for partition p of g/t and returns
// the record's bytes.
func stageCommit(g *groupCommit, st *State, p int32, off int64) int64 {
	data := AppendOffsetCommit(nil, []byte("g"), []byte("t"), p, OffsetValue{Offset: off, CommitTime: 1})
	g.stage(st, &recordView{typ: TypeOffsetCommit, group: []byte("g"), topic: []byte("t"), partition: p, offset: off, time: 1}, data)
	return int64(recordSize(len(data)))
}

func offsetOf(st *State, p int32) (int64, bool) {
	e, ok := st.get([]byte("g"), []byte("t"), p)
	return e.committed().Offset, ok
}

// commitBatch stages offs for partitions 0, 1, ... and writes them.
func commitBatch(t *testing.T, g *groupCommit, st *State, l appender, offs ...int64) (uint64, FlushStats, int64, error) {
	t.Helper()
	var bytes int64
	for i, off := range offs {
		bytes += stageCommit(g, st, int32(i), off)
	}
	idx, fs, err := g.write(l, st)
	if err == nil {
		g.reset()
	}
	return idx, fs, bytes, err
}

// A batch is written as one entry, appended then synced once, and its
// statistics count its records and bytes.
func TestGroupCommitWritesOneEntry(t *testing.T) {
	g, st := newGroupCommit(time.Hour)
	l := &scriptedLog{}
	idx, fs, bytes, err := commitBatch(t, g, st, l, 10, 20, 30)
	if err != nil {
		t.Fatal(err)
	}
	if idx != 1 || l.appends != 1 || l.syncs != 1 || l.entries[0] != 3 {
		t.Fatalf("index %d, %d appends, %d syncs, entries %v: want one entry of 3 records, appended and synced once", idx, l.appends, l.syncs, l.entries)
	}
	if fs.Records != 3 || fs.Bytes != bytes || fs.Sync < 0 {
		t.Fatalf("stats %+v, want 3 records of %d bytes", fs, bytes)
	}
	if _, fs, err := g.write(l, st); err != nil || fs != (FlushStats{}) || l.appends != 1 {
		t.Fatalf("empty write: %+v, %v, %d appends; want nothing done", fs, err, l.appends)
	}
	for p, want := range []int64{10, 20, 30} {
		if got, _ := offsetOf(st, int32(p)); got != want {
			t.Fatalf("partition %d = %d, want %d", p, got, want)
		}
	}
}

// A full disk rolls the batch back and refuses writes without trying for
// the back-off; after it the next write is tried, and succeeds.
func TestGroupCommitNoSpaceRetries(t *testing.T) {
	g, st := newGroupCommit(time.Hour)
	l := &scriptedLog{}
	if _, _, _, err := commitBatch(t, g, st, l, 1); err != nil {
		t.Fatal(err)
	}
	l.appendErrs = []error{fmt.Errorf("append: %w", errors.Join(log.ErrNoSpace, syscall.ENOSPC))}
	_, _, _, err := commitBatch(t, g, st, l, 2, 2)
	if !errors.Is(err, ErrNoSpace) {
		t.Fatalf("write on a full disk = %v, want ErrNoSpace", err)
	}
	if got, _ := offsetOf(st, 0); got != 1 {
		t.Fatalf("after a full disk partition 0 = %d, want 1 (rolled back)", got)
	}
	if _, ok := offsetOf(st, 1); ok || st.Keys() != 1 || g.batch.Len() != 0 || len(g.undo) != 0 {
		t.Fatalf("after a full disk: partition 1 live %v, %d keys, %d staged, %d undo; want all rolled back", ok, st.Keys(), g.batch.Len(), len(g.undo))
	}
	retryAt := g.retryAt
	if _, _, _, err := commitBatch(t, g, st, l, 3); !errors.Is(err, ErrNoSpace) || l.appends != 2 {
		t.Fatalf("write within the back-off = %v after %d appends, want ErrNoSpace without an append (2)", err, l.appends)
	}
	if got, _ := offsetOf(st, 0); got != 1 {
		t.Fatalf("after a refused write partition 0 = %d, want 1", got)
	}
	g.retryAt = time.Time{} // the back-off has passed
	l.appendErrs = []error{log.ErrNoSpace}
	if _, _, _, err := commitBatch(t, g, st, l, 4); !errors.Is(err, ErrNoSpace) || l.appends != 3 {
		t.Fatalf("write after the back-off = %v after %d appends, want a tried write (3) failing with ErrNoSpace", err, l.appends)
	}
	if !g.retryAt.IsZero() {
		t.Fatalf("a second full disk moved the retry to %v: after the first back-off every write tries (was %v)", g.retryAt, retryAt)
	}
	idx, fs, _, err := commitBatch(t, g, st, l, 5)
	if err != nil || idx != 2 || fs.Records != 1 || g.full != nil {
		t.Fatalf("write once room is back: index %d, %+v, %v, full %v; want entry 2 of 1 record", idx, fs, err, g.full)
	}
	if got, _ := offsetOf(st, 0); got != 5 {
		t.Fatalf("partition 0 = %d, want 5", got)
	}
}

// Any other failure, of the append or of the sync, rolls the batch back and
// is final: later writes are refused without touching the log.
func TestGroupCommitFailureIsFinal(t *testing.T) {
	for _, tc := range []struct {
		name                 string
		appendErrs, syncErrs []error
	}{
		{"append", []error{nil, syscall.EIO}, nil},
		{"sync", nil, []error{nil, syscall.EIO}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, st := newGroupCommit(time.Hour)
			l := &scriptedLog{appendErrs: tc.appendErrs, syncErrs: tc.syncErrs}
			if _, _, _, err := commitBatch(t, g, st, l, 1); err != nil {
				t.Fatal(err)
			}
			_, _, _, err := commitBatch(t, g, st, l, 2, 2)
			if !errors.Is(err, ErrFailed) || errors.Is(err, ErrNoSpace) {
				t.Fatalf("write = %v, want ErrFailed", err)
			}
			if got, _ := offsetOf(st, 0); got != 1 || st.Keys() != 1 {
				t.Fatalf("after a failed write partition 0 = %d with %d keys, want 1 with 1 (rolled back)", got, st.Keys())
			}
			appends, syncs := l.appends, l.syncs
			if _, _, _, err := commitBatch(t, g, st, l, 3); !errors.Is(err, ErrFailed) || l.appends != appends || l.syncs != syncs {
				t.Fatalf("write after a failure = %v with %d/%d appends, %d/%d syncs; want ErrFailed without touching the log", err, l.appends, appends, l.syncs, syncs)
			}
			if got, _ := offsetOf(st, 0); got != 1 {
				t.Fatalf("after a refused write partition 0 = %d, want 1", got)
			}
		})
	}
}

// A batch the replicated log did not commit is rolled back and its error
// returned as it is; the next batch is written.
func TestGroupCommitNotCommitted(t *testing.T) {
	g, st := newGroupCommit(time.Hour)
	notCommitted := fmt.Errorf("%w: another entry took its index", ErrNotCommitted)
	l := &scriptedLog{appendErrs: []error{nil, notCommitted}}
	if _, _, _, err := commitBatch(t, g, st, l, 1); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := commitBatch(t, g, st, l, 2, 2); err != notCommitted {
		t.Fatalf("write = %v, want the log's error as it is", err)
	}
	if got, _ := offsetOf(st, 0); got != 1 || st.Keys() != 1 || l.syncs != 1 {
		t.Fatalf("after a batch not committed: partition 0 = %d with %d keys, %d syncs; want 1, 1 and no sync of it", got, st.Keys(), l.syncs)
	}
	if idx, _, _, err := commitBatch(t, g, st, l, 3); err != nil || idx != 2 {
		t.Fatalf("write after a batch not committed: index %d, %v; want entry 2", idx, err)
	}
	if got, _ := offsetOf(st, 0); got != 3 {
		t.Fatalf("partition 0 = %d, want 3", got)
	}
}
