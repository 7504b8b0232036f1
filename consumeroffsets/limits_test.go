package consumeroffsets

import (
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/maelstrom-offsets/offsets/compactor"
)

func openLimits(t *testing.T, dir string, keys, groups, name int, logger *slog.Logger) *Store {
	t.Helper()
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s, _, err := Open(dir, Options{Logger: logger, MaxKeys: keys, MaxGroups: groups, MaxNameBytes: name})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func wantLimit(t *testing.T, err error, limit Limit) {
	t.Helper()
	var le *LimitError
	if !errors.Is(err, ErrLimit) || !errors.As(err, &le) || le.Limit != limit {
		t.Fatalf("err = %v, want a LimitError for %s", err, limit)
	}
}

// TestLimitsCountStagedChanges: two commits staged in one batch (no Flush
// between) cannot cross a limit together, and a refused Commit stages
// nothing.
func TestLimitsCountStagedChanges(t *testing.T) {
	s := openLimits(t, t.TempDir(), 2, 10, 100, nil)
	defer s.Close()
	commit(t, s, OffsetKey{"g", "t", 0}, 1)
	commit(t, s, OffsetKey{"g", "t", 1}, 1)
	pending := s.Pending()
	wantLimit(t, s.Commit([]byte("g"), []byte("t"), 2, 1, nil), LimitKeys)
	wantLimit(t, s.CheckCommit([]byte("g"), []Key{{[]byte("t"), 2}}), LimitKeys)
	if s.Pending() != pending || s.Keys() != 2 {
		t.Fatalf("a refused commit staged something: pending %d -> %d, keys %d", pending, s.Pending(), s.Keys())
	}
	// Updates of held keys, repeated in one request, still fit.
	if err := s.CheckCommit([]byte("g"), []Key{{[]byte("t"), 0}, {[]byte("t"), 1}, {[]byte("t"), 0}}); err != nil {
		t.Fatal(err)
	}
	// One new key named twice is one key: with a limit of 3 it fits.
	s2 := openLimits(t, t.TempDir(), 3, 10, 100, nil)
	defer s2.Close()
	commit(t, s2, OffsetKey{"g", "t", 0}, 1)
	commit(t, s2, OffsetKey{"g", "t", 1}, 1)
	if err := s2.CheckCommit([]byte("g"), []Key{{[]byte("t"), 2}, {[]byte("t"), 2}, {[]byte("t"), 0}}); err != nil {
		t.Fatal(err)
	}
	wantLimit(t, s2.CheckCommit([]byte("g"), []Key{{[]byte("t"), 2}, {[]byte("t"), 3}}), LimitKeys)
}

func TestLimitsGroupsAndNames(t *testing.T) {
	s := openLimits(t, t.TempDir(), 100, 1, 3, nil)
	defer s.Close()
	if err := s.SetGeneration([]byte("g"), 1); err != nil {
		t.Fatal(err)
	}
	// The group holds only a generation, and counts.
	wantLimit(t, s.SetGeneration([]byte("h"), 1), LimitGroups)
	wantLimit(t, s.Commit([]byte("h"), []byte("t"), 0, 1, nil), LimitGroups)
	commit(t, s, OffsetKey{"g", "abc", 0}, 1)
	wantLimit(t, s.Commit([]byte("g"), []byte("abcd"), 0, 1, nil), LimitNameBytes)
	wantLimit(t, s.CheckCommit([]byte("gggg"), nil), LimitNameBytes)
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	// Deleting the group frees its place.
	if _, err := s.DeleteGroup([]byte("g")); err != nil {
		t.Fatal(err)
	}
	commit(t, s, OffsetKey{"h", "t", 0}, 1)
}

// TestLimitsAfterRestartWithLowerLimits: the counts come from the replayed
// log; a store holding more than a lowered limit serves reads, updates and
// deletes, refuses new keys and groups, and says so at open.
func TestLimitsAfterRestartWithLowerLimits(t *testing.T) {
	dir := t.TempDir()
	s := openLimits(t, dir, 0, 0, 0, nil)
	for p := int32(0); p < 5; p++ {
		commit(t, s, OffsetKey{"g", "t", p}, 1)
	}
	commit(t, s, OffsetKey{"h", "t", 0}, 1)
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	s = openLimits(t, dir, 3, 1, 0, slog.New(slog.NewTextHandler(&logs, nil)))
	defer s.Close()
	for _, want := range []string{"more offset keys than the limit", "more groups than the limit"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("no %q line at open:\n%s", want, logs.String())
		}
	}
	if v, ok := fetch(s, OffsetKey{"g", "t", 4}); !ok || v != 1 {
		t.Fatalf("fetch = %d %v", v, ok)
	}
	commit(t, s, OffsetKey{"g", "t", 4}, 2) // an update adds nothing
	wantLimit(t, s.Commit([]byte("g"), []byte("t"), 5, 1, nil), LimitKeys)
	wantLimit(t, s.Commit([]byte("x"), []byte("t"), 0, 1, nil), LimitGroups)
	if _, err := s.DeleteOffsets([]byte("g"), []byte("t"), nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	// 1 key and 1 group left: a new key of h fits, a new group does not.
	commit(t, s, OffsetKey{"h", "t", 1}, 1)
	wantLimit(t, s.Commit([]byte("x"), []byte("t"), 0, 1, nil), LimitGroups)
}

// recordingObserver keeps what the store reported.
type recordingObserver struct {
	recovered   []Size
	flushed     []FlushStats
	states      []Size
	compactions chan error
}

func (o *recordingObserver) Recovered(_ RecoveryStats, st Size) {
	o.recovered = append(o.recovered, st)
}
func (o *recordingObserver) Flushed(fs FlushStats, st Size) {
	o.flushed = append(o.flushed, fs)
	o.states = append(o.states, st)
}
func (o *recordingObserver) Compacted(_ compactor.Stats, err error) { o.compactions <- err }

func TestObserver(t *testing.T) {
	dir := t.TempDir()
	obs := &recordingObserver{compactions: make(chan error, 4)}
	now := time.Unix(1_000_000, 0)
	opts := Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Observer: obs, CompactMinBytes: -1,
		OffsetsRetention: time.Hour, Now: func() time.Time { return now }}
	s, _, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if len(obs.recovered) != 1 || obs.recovered[0] != (Size{}) {
		t.Fatalf("recovered = %+v", obs.recovered)
	}
	commit(t, s, OffsetKey{"g", "t", 0}, 1)
	commit(t, s, OffsetKey{"g", "t", 1}, 1)
	commit(t, s, OffsetKey{"h", "t", 0}, 1)
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(); err != nil { // nothing staged: no group commit
		t.Fatal(err)
	}
	if len(obs.flushed) != 1 || obs.flushed[0].Records != 3 || obs.flushed[0].Bytes != s.st.c.recordBytes {
		t.Fatalf("flushed = %+v (log %d bytes)", obs.flushed, s.st.c.recordBytes)
	}
	if st := obs.states[0]; st.Keys != 3 || st.Groups != 2 || st.LogBytes != s.st.c.recordBytes {
		t.Fatalf("state = %+v", st)
	}
	now = now.Add(2 * time.Hour)
	commit(t, s, OffsetKey{"h", "t", 0}, 2) // h stays fresh, g expires
	if _, err := s.ExpireOffsets(); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	if fs := obs.flushed[1]; fs.ExpiredGroups != 1 || fs.ExpiredOffsets != 2 || fs.Records != 3 {
		t.Fatalf("expiry flush = %+v", fs)
	}
	if st := obs.states[1]; st.Keys != 1 || st.DirtyRatio <= 0 {
		t.Fatalf("state after expiry = %+v", st)
	}
	if _, err := s.Compact(); err != nil {
		t.Fatal(err)
	}
	if err := <-obs.compactions; err != nil {
		t.Fatalf("Compacted got %v", err)
	}
}
