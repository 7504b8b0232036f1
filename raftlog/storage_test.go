package raftlog

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand"
	"slices"
	"testing"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/maelstrom-offsets/offsets/log"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func openT(t *testing.T, dir string, opts Options) *Storage {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = quiet()
	}
	if opts.SegmentSize == 0 {
		opts.SegmentSize = 4 << 10
	}
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func batch(recs ...string) []byte {
	var b log.Batch
	for _, r := range recs {
		b.Add(1, []byte(r))
	}
	return slices.Clone(b.Data())
}

func entry(index, term uint64, typ raftpb.EntryType, data []byte) *raftpb.Entry {
	return &raftpb.Entry{Index: new(index), Term: new(term), Type: typ.Enum(), Data: data}
}

func hardState(term, vote, commit uint64) *raftpb.HardState {
	return &raftpb.HardState{Term: new(term), Vote: new(vote), Commit: new(commit)}
}

func sameEntries(a, b []*raftpb.Entry) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].GetIndex() != b[i].GetIndex() || a[i].GetTerm() != b[i].GetTerm() ||
			a[i].GetType() != b[i].GetType() || string(a[i].GetData()) != string(b[i].GetData()) {
			return false
		}
	}
	return true
}

func fmtEntries(es []*raftpb.Entry) string {
	var s []string
	for _, e := range es {
		s = append(s, fmt.Sprintf("%d/%d/%d/%q", e.GetIndex(), e.GetTerm(), e.GetType(), e.GetData()))
	}
	return fmt.Sprint(s)
}

func sentinel(err error) string {
	for _, e := range []error{raft.ErrCompacted, raft.ErrUnavailable, raft.ErrSnapOutOfDate} {
		if errors.Is(err, e) {
			return e.Error()
		}
	}
	if err != nil {
		return "other: " + err.Error()
	}
	return "nil"
}

// compareReads checks every read raft makes of s against ms.
func compareReads(t *testing.T, step int, rng *rand.Rand, s *Storage, ms *raft.MemoryStorage) {
	t.Helper()
	f1, _ := s.FirstIndex()
	f2, _ := ms.FirstIndex()
	l1, _ := s.LastIndex()
	l2, _ := ms.LastIndex()
	if f1 != f2 || l1 != l2 {
		t.Fatalf("step %d: first/last %d/%d, MemoryStorage %d/%d", step, f1, l1, f2, l2)
	}
	for i := f2 - min(f2, 2); i <= l2+2; i++ {
		t1, e1 := s.Term(i)
		t2, e2 := ms.Term(i)
		if t1 != t2 || sentinel(e1) != sentinel(e2) {
			t.Fatalf("step %d: Term(%d) = %d, %v; MemoryStorage %d, %v", step, i, t1, e1, t2, e2)
		}
	}
	for k := 0; k < 20; k++ {
		lo := f2 - min(f2, 1) + uint64(rng.Intn(int(l2-f2+3)))
		if lo > l2+1 {
			lo = l2 + 1
		}
		hi := lo + uint64(rng.Intn(int(l2+2-lo)))
		if hi > l2+1 {
			hi = l2 + 1
		}
		maxSize := []uint64{0, 1, 40, 200, 1 << 20, ^uint64(0)}[rng.Intn(6)]
		g1, e1 := s.Entries(lo, hi, maxSize)
		g2, e2 := ms.Entries(lo, hi, maxSize)
		if sentinel(e1) != sentinel(e2) || !sameEntries(g1, g2) {
			t.Fatalf("step %d: Entries(%d, %d, %d) = %s, %v; MemoryStorage %s, %v", step, lo, hi, maxSize, fmtEntries(g1), e1, fmtEntries(g2), e2)
		}
	}
	sn1, _ := s.Snapshot()
	sn2, _ := ms.Snapshot()
	if sn1.GetMetadata().GetIndex() != sn2.GetMetadata().GetIndex() || sn1.GetMetadata().GetTerm() != sn2.GetMetadata().GetTerm() ||
		fmt.Sprint(sn1.GetMetadata().GetConfState().GetVoters()) != fmt.Sprint(sn2.GetMetadata().GetConfState().GetVoters()) {
		t.Fatalf("step %d: Snapshot %v, MemoryStorage %v", step, sn1.GetMetadata(), sn2.GetMetadata())
	}
	h1, c1, _ := s.InitialState()
	h2, c2, _ := ms.InitialState()
	if h1.GetTerm() != h2.GetTerm() || h1.GetVote() != h2.GetVote() || h1.GetCommit() != h2.GetCommit() ||
		fmt.Sprint(c1.GetVoters()) != fmt.Sprint(c2.GetVoters()) {
		t.Fatalf("step %d: InitialState %v %v, MemoryStorage %v %v", step, h1, c1, h2, c2)
	}
}

// TestDifferentialMemoryStorage drives Storage and raft's MemoryStorage
// with the same random appends (with conflicting suffixes), commits,
// snapshots with compaction, and reopens of Storage, and compares every
// read raft makes after each step.
func TestDifferentialMemoryStorage(t *testing.T) {
	defer func(n int) { cacheBytes = n }(cacheBytes)
	for seed := int64(1); seed <= 6; seed++ {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			rng := rand.New(rand.NewSource(seed))
			// Small caches make Entries read from the cache and the wal
			// in one call.
			cacheBytes = []int{32 << 20, 40, 200}[seed%3]
			dir := t.TempDir()
			trailing := uint64(rng.Intn(4))
			opts := Options{Trailing: trailing, NoSync: seed%2 == 0, SegmentSize: 1 << 10}
			s := openT(t, dir, opts)
			defer func() { s.Close() }()
			ms := raft.NewMemoryStorage()
			var term, commit uint64
			cs := &raftpb.ConfState{Voters: []uint64{1, 2, 3}}
			for step := 0; step < 300; step++ {
				last, _ := ms.LastIndex()
				switch op := rng.Intn(10); {
				case op < 5: // append, maybe over a suffix after the commit index
					start := last + 1
					if last > commit && rng.Intn(3) == 0 {
						start = commit + 1 + uint64(rng.Intn(int(last-commit)))
					}
					if rng.Intn(4) == 0 {
						term++
					}
					prev, _ := ms.Term(start - 1)
					term = max(term, prev)
					var ents []*raftpb.Entry
					for i := range uint64(1 + rng.Intn(5)) {
						var e *raftpb.Entry
						switch rng.Intn(4) {
						case 0:
							e = entry(start+i, term, raftpb.EntryNormal, nil)
						case 1:
							e = entry(start+i, term, raftpb.EntryConfChange, []byte(fmt.Sprint("cc", step)))
						default:
							e = entry(start+i, term, raftpb.EntryNormal, batch(fmt.Sprint("s", step, "-", i), "x"))
						}
						ents = append(ents, e)
					}
					if err := ms.Append(ents); err != nil {
						t.Fatal(err)
					}
					hs := hardState(term, 1, commit)
					ms.SetHardState(hs)
					if err := s.Save(raft.Ready{HardState: hs, Entries: ents, MustSync: true}); err != nil {
						t.Fatalf("step %d: Save: %v", step, err)
					}
				case op < 7: // commit
					if last > commit {
						commit += 1 + uint64(rng.Intn(int(last-commit)))
						hs := hardState(term, 1, commit)
						ms.SetHardState(hs)
						if err := s.SetHardState(hs); err != nil {
							t.Fatal(err)
						}
					}
				case op < 9: // snapshot at an index up to the commit, then compaction
					sn, _ := ms.Snapshot()
					si := sn.GetMetadata().GetIndex()
					if commit <= si {
						if _, err := s.CreateSnapshot(si, cs); !errors.Is(err, raft.ErrSnapOutOfDate) && si > 0 {
							t.Fatalf("CreateSnapshot at the snapshot's index = %v", err)
						}
						continue
					}
					n := si + 1 + uint64(rng.Intn(int(commit-si)))
					if _, err := ms.CreateSnapshot(n, cs, nil); err != nil {
						t.Fatal(err)
					}
					// Storage never compacts to index 1: a wal whose first
					// entry is 1 has not been compacted (see Compact).
					if n > trailing && n-trailing >= 2 {
						if f, _ := ms.FirstIndex(); n-trailing >= f {
							ms.Compact(n - trailing)
						}
					}
					w, err := s.CreateSnapshot(n, cs)
					if err != nil {
						t.Fatalf("step %d: CreateSnapshot(%d): %v", step, n, err)
					}
					w.Add(1, []byte(fmt.Sprint("state at ", n)))
					if _, err := w.Commit(); err != nil {
						t.Fatal(err)
					}
					if err := s.Compact(n); err != nil {
						t.Fatalf("step %d: Compact(%d): %v", step, n, err)
					}
				default: // restart
					if err := s.Close(); err != nil {
						t.Fatal(err)
					}
					s = openT(t, dir, opts)
				}
				compareReads(t, step, rng, s, ms)
			}
		})
	}
}
