package consumeroffsets

import (
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/maelstrom-offsets/offsets/log"
)

var quietLogger = slog.New(slog.DiscardHandler)

// dump renders everything a state holds, one sorted line per record a
// checkpoint of it would hold (tombstones included, whatever their age).
func dump(t testing.TB, st *State) string {
	t.Helper()
	sn := st.Snapshot()
	defer st.Release(sn, false)
	return dumpSnapshot(t, sn, time.Time{})
}

func dumpSnapshot(t testing.TB, sn *Snapshot, horizon time.Time) string {
	t.Helper()
	var lines []string
	if err := sn.Records(horizon, func(typ log.RecordType, data []byte) error {
		rec, err := DecodeRecord(log.Record{Type: typ, Data: data})
		if err != nil {
			return err
		}
		lines = append(lines, fmt.Sprintf("%+v", rec))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// model is the plain-map model of the state machine's rules.
type model struct {
	offsets map[OffsetKey]OffsetValue
	gens    map[string][2]int64 // generation, time
	tombs   map[string]int64    // live tombstones: key -> time
}

func newModel() *model {
	return &model{offsets: map[OffsetKey]OffsetValue{}, gens: map[string][2]int64{}, tombs: map[string]int64{}}
}

func offsetTombKey(k OffsetKey) string {
	return fmt.Sprintf("o %q %q %d", k.Group, k.Topic, k.Partition)
}
func groupTombKey(g string) string { return fmt.Sprintf("g %q", g) }

func (m *model) commit(k OffsetKey, v OffsetValue) {
	m.offsets[k] = v
	delete(m.tombs, offsetTombKey(k))
}

func (m *model) deleteOffset(k OffsetKey, at int64) {
	delete(m.offsets, k)
	m.tombs[offsetTombKey(k)] = at
}

func (m *model) setGen(g string, gen int32, at int64) {
	m.gens[g] = [2]int64{int64(gen), at}
	delete(m.tombs, groupTombKey(g))
}

func (m *model) deleteGroup(g string, at int64) {
	delete(m.gens, g)
	m.tombs[groupTombKey(g)] = at
}

// expire drops the tombstones a checkpoint with this horizon leaves out.
func (m *model) expire(horizon int64) {
	for k, at := range m.tombs {
		if at <= horizon {
			delete(m.tombs, k)
		}
	}
}

// check compares a state's views with the model. Tombstones at or before
// expired may be gone from the state (a background compaction dropped
// them); the model then forgets them too.
func (m *model) check(t testing.TB, st *State, expired int64) {
	t.Helper()
	inState := map[string]bool{}
	st.Tombstones(func(typ log.RecordType, k OffsetKey, at time.Time) bool {
		key := groupTombKey(k.Group)
		if typ == TypeOffsetTombstone {
			key = offsetTombKey(k)
		}
		if w, ok := m.tombs[key]; !ok || w != at.UnixMilli() {
			t.Fatalf("state has tombstone %s at %d, model %d (%v)", key, at.UnixMilli(), w, ok)
		}
		inState[key] = true
		return true
	})
	for k, at := range m.tombs {
		if !inState[k] {
			if at > expired {
				t.Fatalf("tombstone %s at %d is missing from the state (expiry horizon %d)", k, at, expired)
			}
			delete(m.tombs, k)
		}
	}
	n := 0
	st.Offsets(func(k OffsetKey, v OffsetValue) bool {
		n++
		if w, ok := m.offsets[k]; !ok || w != v {
			t.Fatalf("offset %+v = %+v, model has %+v (%v)", k, v, w, ok)
		}
		return true
	})
	if n != len(m.offsets) || st.Keys() != n {
		t.Fatalf("state has %d offsets (Keys %d), model %d", n, st.Keys(), len(m.offsets))
	}
	groups := map[string]bool{}
	newest := map[string]int64{}
	for k, v := range m.offsets {
		groups[k.Group] = true
		newest[k.Group] = max(newest[k.Group], v.CommitTime)
	}
	for g := range m.gens {
		groups[g] = true
	}
	infos := st.GroupInfos()
	if len(infos) != len(groups) || st.Counts().Groups != len(groups) {
		t.Fatalf("state has %d groups (count %d), model %d", len(infos), st.Counts().Groups, len(groups))
	}
	for _, gi := range infos {
		w, has := m.gens[gi.Name]
		if gi.HasGeneration != has || (has && int64(gi.Generation) != w[0]) {
			t.Fatalf("group %q generation %d/%v, model %v/%v", gi.Name, gi.Generation, gi.HasGeneration, w, has)
		}
		if n, ok := newest[gi.Name]; ok && gi.NewestCommit.UnixMilli() != n {
			t.Fatalf("group %q newest commit %v, model %v", gi.Name, gi.NewestCommit.UnixMilli(), n)
		}
	}
	if c := st.Counts(); c.Tombstones != len(m.tombs) {
		t.Fatalf("state has %d live tombstones, model %d", c.Tombstones, len(m.tombs))
	}
	if c := st.Counts(); c.Generations != len(m.gens) {
		t.Fatalf("state counts %d groups with a generation, model %d", c.Generations, len(m.gens))
	}
	var lo, hi int64
	for _, v := range m.offsets {
		if lo == 0 || v.CommitTime < lo {
			lo = v.CommitTime
		}
		hi = max(hi, v.CommitTime)
	}
	if oldest, newest := st.CommitTimes(); len(m.offsets) > 0 && (oldest.UnixMilli() != lo || newest.UnixMilli() != hi) ||
		len(m.offsets) == 0 && (!oldest.IsZero() || !newest.IsZero()) {
		t.Fatalf("commit times %v..%v, model %d..%d", oldest, newest, lo, hi)
	}
}

// noExpiry is check's horizon where no tombstone may have expired.
const noExpiry = -1 << 62

// workload drives random changes through a Store and a model alike.
type workload struct {
	rng   *rand.Rand
	clock *time.Time
	m     *model
}

var (
	wlGroups = []string{"g", "g:1", "h", "é", "😀", "x\x00y"}
	wlTopics = []string{"t", "t:1", "u", "Ü"}
)

func (w *workload) key() OffsetKey {
	return OffsetKey{wlGroups[w.rng.IntN(len(wlGroups))], wlTopics[w.rng.IntN(len(wlTopics))], int32(w.rng.IntN(4))}
}

// step stages one random change on s and applies it to the model.
func (w *workload) step(t testing.TB, s *Store) {
	t.Helper()
	now := w.clock.UnixMilli()
	k := w.key()
	switch r := w.rng.IntN(100); {
	case r < 70:
		meta := ""
		if w.rng.IntN(4) == 0 {
			meta = fmt.Sprintf("m%d", w.rng.IntN(100))
		}
		off := w.rng.Int64N(1 << 40)
		if err := s.Commit([]byte(k.Group), []byte(k.Topic), k.Partition, off, []byte(meta)); err != nil {
			t.Fatal(err)
		}
		w.m.commit(k, OffsetValue{Offset: off, Metadata: meta, CommitTime: now})
	case r < 82:
		parts := []int32{k.Partition}
		if w.rng.IntN(3) == 0 {
			parts = nil // the whole topic
		}
		if _, err := s.DeleteOffsets([]byte(k.Group), []byte(k.Topic), parts); err != nil {
			t.Fatal(err)
		}
		for mk := range w.m.offsets {
			if mk.Group == k.Group && mk.Topic == k.Topic && (parts == nil || mk.Partition == k.Partition) {
				w.m.deleteOffset(mk, now)
			}
		}
	case r < 88:
		if _, ok := s.Generation([]byte(k.Group)); !ok && w.groupEmpty(k.Group) {
			break // the store writes nothing for a group it does not have
		}
		if _, err := s.DeleteGroup([]byte(k.Group)); err != nil {
			t.Fatal(err)
		}
		for mk := range w.m.offsets {
			if mk.Group == k.Group {
				w.m.deleteOffset(mk, now)
			}
		}
		w.m.deleteGroup(k.Group, now)
	default:
		gen := int32(w.rng.IntN(5))
		if cur, ok := s.Generation([]byte(k.Group)); ok && cur == gen {
			break
		}
		if err := s.SetGeneration([]byte(k.Group), gen); err != nil {
			t.Fatal(err)
		}
		w.m.setGen(k.Group, gen, now)
	}
}

func (w *workload) groupEmpty(g string) bool {
	for k := range w.m.offsets {
		if k.Group == g {
			return false
		}
	}
	_, has := w.m.gens[g]
	return !has
}

// TestStoreMatchesModel runs random commits, deletes, group deletes and
// generations through a Store, with compactions (foreground and
// background) and reopens at random points, and compares the Store's state
// with a plain model after every batch; after each reopen the replayed
// state must also account for the log exactly as the live one did.
func TestStoreMatchesModel(t *testing.T) {
	dir := t.TempDir()
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const retention = 30 * time.Second
	opts := Options{Logger: quietLogger, SegmentSize: 4 << 10, Now: func() time.Time { return clock },
		TombstoneRetention: retention, CompactMinBytes: 8 << 10, CompactDirtyRatio: 0.3}
	s, _, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { s.Close() }()
	w := &workload{rng: rand.New(rand.NewPCG(3, 4)), clock: &clock, m: newModel()}
	compactions := 0
	for batch := 0; batch < 400; batch++ {
		for i := 0; i < 1+w.rng.IntN(12); i++ {
			w.step(t, s)
		}
		if err := s.Flush(); err != nil {
			t.Fatal(err)
		}
		clock = clock.Add(time.Second)
		horizon := clock.Add(-retention).UnixMilli()
		w.m.check(t, s.State(), horizon)
		switch w.rng.IntN(25) {
		case 0:
			st, err := s.Compact()
			if err != nil {
				t.Fatalf("batch %d: compact: %v", batch, err)
			}
			w.m.expire(clock.Add(-retention).UnixMilli())
			compactions++
			if d := s.DirtyRatio(); d != 0 {
				t.Fatalf("batch %d: dirty ratio %v right after a compaction (%+v)", batch, d, st)
			}
			w.m.check(t, s.State(), noExpiry)
		case 1:
			// Close waits for a background compaction and takes it in.
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			w.m.check(t, s.State(), horizon)
			before, counts := dump(t, s.State()), s.State().Counts()
			if s, _, err = Open(dir, opts); err != nil {
				t.Fatal(err)
			}
			after, reopened := dump(t, s.State()), s.State().Counts()
			if after != before {
				t.Fatalf("batch %d: reopened state differs\n--- before\n%s\n--- after\n%s", batch, before, after)
			}
			if reopened != counts {
				t.Fatalf("batch %d: reopened counts %+v, live ones were %+v", batch, reopened, counts)
			}
			w.m.check(t, s.State(), noExpiry)
		}
	}
	if compactions == 0 {
		t.Fatal("no compaction ran")
	}
}

// TestSnapshotWhileChanging checks that a checkpoint written from a
// snapshot on another goroutine, while commits, deletes and group deletes
// go on, holds exactly the state as of the snapshot: nothing applied after
// it leaks in, and what was deleted after it is still written.
func TestSnapshotWhileChanging(t *testing.T) {
	dir := t.TempDir()
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s, _, err := Open(dir, Options{Logger: quietLogger, Now: func() time.Time { return clock }, CompactMinBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	w := &workload{rng: rand.New(rand.NewPCG(5, 6)), clock: &clock, m: newModel()}
	for round := 0; round < 20; round++ {
		for i := 0; i < 200; i++ {
			w.step(t, s)
		}
		if err := s.Flush(); err != nil {
			t.Fatal(err)
		}
		clock = clock.Add(time.Second)
		want := dump(t, s.State())
		sn := s.State().Snapshot()

		// The writer hands over every few records and waits for a batch of
		// changes to be applied before it goes on.
		var got []string
		turn, done := make(chan struct{}), make(chan error, 1)
		go func() {
			n := 0
			err := sn.Records(time.Time{}, func(typ log.RecordType, data []byte) error {
				rec, err := DecodeRecord(log.Record{Type: typ, Data: data})
				got = append(got, fmt.Sprintf("%+v", rec))
				if n++; n%5 == 0 {
					turn <- struct{}{}
					<-turn
				}
				return err
			})
			close(turn)
			done <- err
		}()
		for range turn {
			for i := 0; i < 20; i++ {
				w.step(t, s)
			}
			if err := s.Flush(); err != nil {
				t.Fatal(err)
			}
			clock = clock.Add(time.Second)
			turn <- struct{}{}
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		s.State().Release(sn, false)
		slices.Sort(got)
		if g := strings.Join(got, "\n"); g != want {
			t.Fatalf("round %d: the snapshot's records differ from the state when it was taken\n--- got\n%s\n--- want\n%s", round, g, want)
		}
		w.m.check(t, s.State(), noExpiry)
	}
}

// TestCheckpointReplaysToSameState replays a snapshot's records into a new
// State: it must hold the same records, and the counts of a log that holds
// just them.
func TestCheckpointReplaysToSameState(t *testing.T) {
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s, _, err := Open(t.TempDir(), Options{Logger: quietLogger, Now: func() time.Time { return clock }, CompactMinBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	w := &workload{rng: rand.New(rand.NewPCG(7, 8)), clock: &clock, m: newModel()}
	for i := 0; i < 2000; i++ {
		w.step(t, s)
		if i%10 == 9 {
			if err := s.Flush(); err != nil {
				t.Fatal(err)
			}
			clock = clock.Add(time.Second)
		}
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	horizon := clock.Add(-time.Minute)
	sn := s.State().Snapshot()
	re := NewState()
	if err := sn.Records(horizon, func(typ log.RecordType, data []byte) error {
		return re.Apply(1, log.Record{Type: typ, Data: data})
	}); err != nil {
		t.Fatal(err)
	}
	want := dumpSnapshot(t, sn, horizon)
	s.State().Release(sn, false)
	if got := dump(t, re); got != want {
		t.Fatalf("replayed checkpoint differs\n--- got\n%s\n--- want\n%s", got, want)
	}
	w.m.expire(horizon.UnixMilli())
	w.m.check(t, re, noExpiry)
	if d := re.DirtyRatio(); d != 0 {
		t.Fatalf("a replayed checkpoint has dirty ratio %v", d)
	}
}

// TestReplayBatchedMatches reopens a store big enough for replay to hold
// commits back (more than replayBatchKeys keys), whose log mixes commits
// with tombstones, group records and re-commits of deleted keys: the
// replayed state must be the one that was written.
func TestReplayBatchedMatches(t *testing.T) {
	dir := t.TempDir()
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	opts := Options{Logger: quietLogger, NoSync: true, Now: func() time.Time { return clock }, CompactMinBytes: -1}
	s, _, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(9, 9))
	const keys = replayBatchKeys + 10_000
	group := func(i int) []byte { return []byte(fmt.Sprintf("g%d", i%300)) }
	topic := func(i int) []byte { return []byte(fmt.Sprintf("t%d", i/300%7)) }
	for i := 0; i < keys; i++ {
		s.Commit(group(i), topic(i), int32(i/2100), int64(i), nil)
	}
	for i := 0; i < 3*keys; i++ {
		k := rng.IntN(keys)
		switch r := rng.IntN(200); {
		case r == 0 && rng.IntN(50) == 0:
			s.DeleteGroup(group(k))
		case r < 10:
			s.DeleteOffsets(group(k), topic(k), []int32{int32(k / 2100)})
		case r < 12:
			s.SetGeneration(group(k), int32(rng.IntN(9)))
		default:
			meta := []byte(nil)
			if r < 20 {
				meta = []byte("m")
			}
			s.Commit(group(k), topic(k), int32(k/2100), int64(i), meta)
		}
		if s.Pending() >= 1000 {
			if err := s.Flush(); err != nil {
				t.Fatal(err)
			}
			clock = clock.Add(time.Millisecond)
		}
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	if s.Keys() < replayBatchKeys {
		t.Fatalf("only %d keys: replay would not hold commits back", s.Keys())
	}
	want, counts := dump(t, s.State()), s.State().Counts()
	s.Close()
	if s, _, err = Open(dir, opts); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := dump(t, s.State()); got != want {
		t.Fatal("the replayed state differs from the one written")
	}
	if got := s.State().Counts(); got != counts {
		t.Fatalf("replayed counts %+v, written %+v", got, counts)
	}
}

// TestFailedFlushWhileSnapshotOpen fails a Flush whose batch changed keys
// that an open snapshot shares (commits, deletes, a group delete, a
// generation): the rollback restores the state, and the snapshot still
// holds the state it was taken of.
func TestFailedFlushWhileSnapshotOpen(t *testing.T) {
	l, err := log.Open(t.TempDir(), log.Options{Logger: quietLogger})
	if err != nil {
		t.Fatal(err)
	}
	fw := &failingWal{wal: l}
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s, _, err := openWal(fw, Options{Logger: quietLogger, Now: func() time.Time { return clock }, CompactMinBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	w := &workload{rng: rand.New(rand.NewPCG(11, 12)), clock: &clock, m: newModel()}
	for i := 0; i < 500; i++ {
		w.step(t, s)
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	want, counts := dump(t, s.State()), s.State().Counts()
	sn := s.State().Snapshot()
	fw.failSync = true
	for i := 0; i < 300; i++ {
		w.step(t, s)
	}
	if err := s.Flush(); err == nil {
		t.Fatal("Flush succeeded")
	}
	if got := dumpSnapshot(t, sn, time.Time{}); got != want {
		t.Fatal("a rolled-back batch changed the open snapshot")
	}
	s.State().Release(sn, false)
	if got := dump(t, s.State()); got != want {
		t.Fatal("the rollback did not restore the state")
	}
	if got := s.State().Counts(); got != counts {
		t.Fatalf("counts after rollback %+v, before %+v", got, counts)
	}
}

// TestExpiredTombstonesForgottenInBatches: a checkpoint that drops more
// tombstones than expireBatch for their age has them forgotten a batch at
// a time, and a tombstone superseded meanwhile is not counted twice.
func TestExpiredTombstonesForgottenInBatches(t *testing.T) {
	st := NewState()
	const n = 2*expireBatch + 100
	for i := 0; i < n; i++ {
		g, tp := []byte(fmt.Sprintf("g%d", i)), []byte("t")
		st.Apply(1, log.Record{Type: TypeOffsetCommit, Data: AppendOffsetCommit(nil, g, tp, 0, OffsetValue{Offset: 1, CommitTime: 1})})
		st.Apply(2, log.Record{Type: TypeOffsetTombstone, Data: AppendOffsetTombstone(nil, g, tp, 0, 2)})
	}
	sn := st.Snapshot()
	if err := sn.Records(time.UnixMilli(10), func(log.RecordType, []byte) error { return nil }); err != nil {
		t.Fatal(err)
	}
	// A commit while the snapshot is open supersedes one of them.
	st.Apply(3, log.Record{Type: TypeOffsetCommit, Data: AppendOffsetCommit(nil, []byte("g0"), []byte("t"), 0, OffsetValue{Offset: 2, CommitTime: 3})})
	st.Release(sn, true)
	if got, want := st.Counts().Tombstones, n-1-expireBatch; got != want {
		t.Fatalf("after Release: %d tombstones, want %d", got, want)
	}
	for i := 0; i < 3; i++ {
		st.forgetExpired()
	}
	c := st.Counts()
	if c.Tombstones != 0 || c.TombstoneBytes != 0 || len(st.tombs.slot) != 0 {
		t.Fatalf("after forgetting: %d tombstones, %d bytes, %d slots", c.Tombstones, c.TombstoneBytes, len(st.tombs.slot))
	}
	if len(st.tombs.list) != 0 {
		t.Fatalf("the table was not tidied: %d entries", len(st.tombs.list))
	}
	if c.Records != 1 || c.LiveKeys != 1 || st.DirtyRatio() != 0 {
		t.Fatalf("counts %+v, dirty %v", c, st.DirtyRatio())
	}
}

// TestCompactWithStagedChanges: a compaction writes the state as of the
// last durable entry, so Compact with changes staged and not flushed must
// refuse rather than write them into the checkpoint (where a restart would
// find a commit that no reply acknowledged).
func TestCompactWithStagedChanges(t *testing.T) {
	dir := t.TempDir()
	s, _, err := Open(dir, Options{Logger: quietLogger, CompactMinBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	commit(t, s, OffsetKey{"g", "t", 0}, 1)
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	commit(t, s, OffsetKey{"g", "t", 1}, 2) // staged, never flushed
	if _, err := s.Compact(); !errors.Is(err, ErrStaged) {
		t.Fatalf("Compact with a staged change: %v, want ErrStaged", err)
	}
	if s.Pending() != 1 {
		t.Fatalf("Compact changed the staged batch: %d pending", s.Pending())
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, _, err = Open(dir, Options{Logger: quietLogger, CompactMinBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if c, ok := s.Fetch([]byte("g"), []byte("t"), 1); ok {
		t.Fatalf("an unflushed commit came back after a restart: %+v", c)
	}
	if c, ok := s.Fetch([]byte("g"), []byte("t"), 0); !ok || c.Offset != 1 {
		t.Fatalf("the flushed commit: %+v %v", c, ok)
	}
}
