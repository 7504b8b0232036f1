package inspect

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/maelstrom-offsets/offsets/consumeroffsets"
	"github.com/maelstrom-offsets/offsets/log"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func at(s int) int64 { return t0.Add(time.Duration(s) * time.Second).UnixMilli() }

func commit(g, tp string, p int32, off int64, meta string, ts int64) log.Record {
	return log.Record{Type: consumeroffsets.TypeOffsetCommit, Data: consumeroffsets.AppendOffsetCommit(nil, []byte(g), []byte(tp), p,
		consumeroffsets.OffsetValue{Offset: off, Metadata: meta, CommitTime: ts})}
}

func offsetTomb(g, tp string, p int32, ts int64) log.Record {
	return log.Record{Type: consumeroffsets.TypeOffsetTombstone, Data: consumeroffsets.AppendOffsetTombstone(nil, []byte(g), []byte(tp), p, ts)}
}

func groupMeta(g string, gen int32, ts int64) log.Record {
	return log.Record{Type: consumeroffsets.TypeGroupMetadata, Data: consumeroffsets.AppendGroupMetadata(nil, []byte(g), gen, ts)}
}

func groupTomb(g string, ts int64) log.Record {
	return log.Record{Type: consumeroffsets.TypeGroupTombstone, Data: consumeroffsets.AppendGroupTombstone(nil, []byte(g), ts)}
}

func apply(t *testing.T, s *State, recs ...log.Record) {
	t.Helper()
	for _, r := range recs {
		if err := s.Apply(r); err != nil {
			t.Fatal(err)
		}
	}
}

func offsetsString(t *testing.T, s *State) string {
	t.Helper()
	offs, err := s.Offsets()
	if err != nil {
		t.Fatal(err)
	}
	out := ""
	for _, o := range offs {
		out += fmt.Sprintf("%s/%s/%d=%d%s ", o.Group, o.Topic, o.Partition, o.Offset, o.Metadata)
	}
	return out
}

func TestReplaySemantics(t *testing.T) {
	s := New(time.Time{})
	apply(t, s,
		commit("b", "t", 1, 5, "", at(0)),
		commit("a", "t", 0, 10, "m", at(1)),
		commit("a", "t", 0, 3, "", at(2)), // a seek back: the latest commit wins
		commit("a", "T", 0, 1, "", at(2)),
		commit("b", "t", 0, 7, "", at(3)),
		offsetTomb("b", "t", 1, at(4)),
		groupMeta("c", 1, at(5)),
		commit("c", "x", 0, 1, "", at(5)),
		commit("c", "x", 1, 1, "", at(5)),
		// delete_group c: the offsets' tombstones, then the group's.
		offsetTomb("c", "x", 0, at(6)),
		offsetTomb("c", "x", 1, at(6)),
		groupTomb("c", at(6)),
		commit("c", "y", 0, 2, "", at(7)), // the group comes back
		groupMeta("a", 4, at(8)),
		groupMeta("a", 3, at(9)), // the latest record wins; fencing is the node's business
		groupMeta("d", 1, at(9)), // a group with a generation and no offsets
	)
	if got, want := offsetsString(t, s), "a/T/0=1 a/t/0=3 b/t/0=7 c/y/0=2 "; got != want {
		t.Fatalf("offsets %q, want %q", got, want)
	}
	groups, _ := s.Groups()
	if len(groups) != 4 || groups[0].Name != "a" || !groups[0].HasGeneration || groups[0].Generation != 3 || groups[0].Offsets != 2 ||
		groups[2].Name != "c" || groups[2].HasGeneration || groups[2].Offsets != 1 ||
		groups[3].Name != "d" || groups[3].Generation != 1 || groups[3].Offsets != 0 {
		t.Fatalf("groups %+v", groups)
	}
	c, _ := s.Counts()
	if c.Records != 16 || c.Commits != 8 || c.OffsetTombstones != 3 || c.GroupMetadata != 4 || c.GroupTombstones != 1 ||
		c.LiveKeys != 4 || c.Groups != 4 || c.Tombstones() != 4 {
		t.Fatalf("counts %+v", c)
	}
	if !c.OldestCommit.Equal(t0.Add(2*time.Second)) || !c.NewestCommit.Equal(t0.Add(7*time.Second)) {
		t.Fatalf("commit times %v %v", c.OldestCommit, c.NewestCommit)
	}
	live := int64(commit("a", "T", 0, 1, "", 0).Size() + commit("a", "t", 0, 3, "", 0).Size() +
		commit("b", "t", 0, 7, "", 0).Size() + commit("c", "y", 0, 2, "", 0).Size() +
		groupMeta("a", 3, 0).Size() + groupMeta("d", 1, 0).Size())
	if c.LiveBytes != live {
		t.Fatalf("live bytes %d, want %d", c.LiveBytes, live)
	}
}

// TestGroupTombstoneKeepsOffsets: a group tombstone takes the generation
// only; offsets go by their own tombstones, as the node replays them.
func TestGroupTombstoneKeepsOffsets(t *testing.T) {
	s := New(time.Time{})
	apply(t, s,
		groupMeta("g", 7, at(0)),
		commit("g", "t", 0, 1, "", at(0)),
		groupTomb("g", at(1)),
	)
	if got := offsetsString(t, s); got != "g/t/0=1 " {
		t.Fatalf("offsets %q", got)
	}
	if g, _ := s.Groups(); len(g) != 1 || g[0].HasGeneration {
		t.Fatalf("groups %+v", g)
	}
	apply(t, s, groupMeta("g", 8, at(2)))
	if g, _ := s.Groups(); len(g) != 1 || g[0].Generation != 8 {
		t.Fatalf("groups after a new generation %+v", g)
	}
}

func TestStopAt(t *testing.T) {
	s := New(t0.Add(2 * time.Second))
	apply(t, s, commit("g", "t", 0, 1, "", at(1)), commit("g", "t", 0, 2, "", at(2)))
	if err := s.Apply(commit("g", "t", 0, 3, "", at(2)+1)); !errors.Is(err, ErrStop) {
		t.Fatalf("Apply after the stop time = %v", err)
	}
	if got := offsetsString(t, s); got != "g/t/0=2 " {
		t.Fatalf("offsets %q", got)
	}
}

func TestApplyBadRecord(t *testing.T) {
	s := New(time.Time{})
	r := commit("g", "t", 0, 1, "", 0)
	r.Data = r.Data[:len(r.Data)-1]
	if err := s.Apply(r); !errors.Is(err, consumeroffsets.ErrRecord) {
		t.Fatalf("Apply of a truncated record = %v", err)
	}
}

func TestApplyDoesNotAllocate(t *testing.T) {
	s := New(time.Time{})
	recs := []log.Record{commit("group", "topic", 0, 1, "", at(0)), commit("group", "topic", 1, 1, "meta", at(0)),
		offsetTomb("group", "topic", 1, at(1)), groupMeta("group", 3, at(1))}
	apply(t, s, recs...)
	allocs := testing.AllocsPerRun(1000, func() {
		for _, r := range recs {
			s.Apply(r)
		}
	})
	if allocs != 0 {
		t.Fatalf("Apply of known keys allocates %.1f times", allocs)
	}
}
