package consumeroffsets

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/maelstrom-offsets/offsets/log"
)

// The record rules, one table case per rule: what each record type does,
// what a tombstone deletes, and what a checkpoint keeps past the tombstone
// retention. These were the log tool's own tests while it had a copy of the
// rules (cmd/offsets-log/internal/inspect); they now test the one
// implementation, which the node, the compactor and the tool all run.

var rulesT0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// sec is rulesT0 plus s seconds, in Unix ms.
func sec(s int) int64 { return rulesT0.Add(time.Duration(s) * time.Second).UnixMilli() }

func recCommit(g, tp string, p int32, off int64, meta string, at int64) log.Record {
	return log.Record{Type: TypeOffsetCommit, Data: AppendOffsetCommit(nil, []byte(g), []byte(tp), p,
		OffsetValue{Offset: off, Metadata: meta, CommitTime: at})}
}

func recOffsetTomb(g, tp string, p int32, at int64) log.Record {
	return log.Record{Type: TypeOffsetTombstone, Data: AppendOffsetTombstone(nil, []byte(g), []byte(tp), p, at)}
}

func recGroup(g string, gen int32, at int64) log.Record {
	return log.Record{Type: TypeGroupMetadata, Data: AppendGroupMetadata(nil, []byte(g), gen, at)}
}

func recGroupTomb(g string, at int64) log.Record {
	return log.Record{Type: TypeGroupTombstone, Data: AppendGroupTombstone(nil, []byte(g), at)}
}

// rendered is what a state shows through its read methods, as text.
type rendered struct {
	offsets    string // g/t/p=offset[:metadata]@s, sorted as Offsets visits them
	groups     string // name:offsets[/gen], sorted; as GroupInfos lists them
	tombstones string // o:g/t/p@s or g:g@s, in the order they were applied
}

func render(st *State) rendered {
	var o, g, tb []string
	st.Offsets(func(k OffsetKey, v OffsetValue) bool {
		s := fmt.Sprintf("%s/%s/%d=%d", k.Group, k.Topic, k.Partition, v.Offset)
		if v.Metadata != "" {
			s += ":" + v.Metadata
		}
		o = append(o, fmt.Sprintf("%s@%d", s, (v.CommitTime-rulesT0.UnixMilli())/1000))
		return true
	})
	for _, gi := range st.GroupInfos() {
		s := fmt.Sprintf("%s:%d", gi.Name, gi.Offsets)
		if gi.HasGeneration {
			s += fmt.Sprintf("/%d", gi.Generation)
		}
		g = append(g, s)
	}
	st.Tombstones(func(typ log.RecordType, k OffsetKey, at time.Time) bool {
		s := fmt.Sprintf("g:%s", k.Group)
		if typ == TypeOffsetTombstone {
			s = fmt.Sprintf("o:%s/%s/%d", k.Group, k.Topic, k.Partition)
		}
		tb = append(tb, fmt.Sprintf("%s@%d", s, at.Sub(rulesT0)/time.Second))
		return true
	})
	return rendered{strings.Join(o, " "), strings.Join(g, " "), strings.Join(tb, " ")}
}

func applyAll(t *testing.T, st *State, recs []log.Record) {
	t.Helper()
	for i, r := range recs {
		if err := st.Apply(uint64(i+1), r); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
	}
}

func sizes(recs ...log.Record) int64 {
	var n int64
	for _, r := range recs {
		n += int64(r.Size())
	}
	return n
}

func TestRecordRules(t *testing.T) {
	cases := []struct {
		name string
		recs []log.Record
		want rendered
		// live and tombs are the records that stay live: their bytes are
		// Counts.LiveBytes and Counts.TombstoneBytes.
		live, tombs []log.Record
	}{
		{
			name: "a commit sets its key; the latest wins, lower or not",
			recs: []log.Record{
				recCommit("a", "t", 0, 10, "m", sec(1)),
				recCommit("a", "t", 0, 3, "", sec(2)),
				recCommit("a", "T", 0, 1, "x", sec(2)),
			},
			want: rendered{offsets: "a/T/0=1:x@2 a/t/0=3@2", groups: "a:2"},
			live: []log.Record{recCommit("a", "t", 0, 3, "", sec(2)), recCommit("a", "T", 0, 1, "x", sec(2))},
		},
		{
			name: "an offset tombstone deletes its key only, and stays live",
			recs: []log.Record{
				recCommit("b", "t", 0, 7, "", sec(0)),
				recCommit("b", "t", 1, 5, "", sec(0)),
				recOffsetTomb("b", "t", 1, sec(4)),
			},
			want:  rendered{offsets: "b/t/0=7@0", groups: "b:1", tombstones: "o:b/t/1@4"},
			live:  []log.Record{recCommit("b", "t", 0, 7, "", sec(0))},
			tombs: []log.Record{recOffsetTomb("b", "t", 1, sec(4))},
		},
		{
			name: "a commit after a tombstone supersedes it",
			recs: []log.Record{
				recCommit("b", "t", 1, 5, "", sec(0)),
				recOffsetTomb("b", "t", 1, sec(1)),
				recCommit("b", "t", 1, 6, "", sec(2)),
			},
			want: rendered{offsets: "b/t/1=6@2", groups: "b:1"},
			live: []log.Record{recCommit("b", "t", 1, 6, "", sec(2))},
		},
		{
			name: "the last offset deleted takes its group with it, but its tombstone stays",
			recs: []log.Record{
				recCommit("b", "t", 1, 5, "", sec(0)),
				recOffsetTomb("b", "t", 1, sec(1)),
				recOffsetTomb("b", "t", 1, sec(2)), // a second delete supersedes the first
			},
			want:  rendered{tombstones: "o:b/t/1@2"},
			tombs: []log.Record{recOffsetTomb("b", "t", 1, sec(2))},
		},
		{
			name: "a group record sets the generation; the latest wins (fencing is the node's business)",
			recs: []log.Record{
				recGroup("a", 4, sec(8)),
				recGroup("a", 3, sec(9)),
				recGroup("d", 1, sec(9)), // a generation and no offsets
			},
			want: rendered{groups: "a:0/3 d:0/1"},
			live: []log.Record{recGroup("a", 3, sec(9)), recGroup("d", 1, sec(9))},
		},
		{
			name: "a group tombstone deletes only the generation",
			recs: []log.Record{
				recGroup("g", 7, sec(0)),
				recCommit("g", "t", 0, 1, "", sec(0)),
				recGroupTomb("g", sec(1)),
			},
			want:  rendered{offsets: "g/t/0=1@0", groups: "g:1", tombstones: "g:g@1"},
			live:  []log.Record{recCommit("g", "t", 0, 1, "", sec(0))},
			tombs: []log.Record{recGroupTomb("g", sec(1))},
		},
		{
			name: "a group record after a group tombstone supersedes it",
			recs: []log.Record{
				recGroup("g", 7, sec(0)),
				recGroupTomb("g", sec(1)),
				recGroup("g", 8, sec(2)),
			},
			want: rendered{groups: "g:0/8"},
			live: []log.Record{recGroup("g", 8, sec(2))},
		},
		{
			name: "delete_group: each offset's tombstone, then the group's; the group comes back",
			recs: []log.Record{
				recGroup("c", 1, sec(5)),
				recCommit("c", "x", 0, 1, "", sec(5)),
				recCommit("c", "x", 1, 1, "", sec(5)),
				recOffsetTomb("c", "x", 0, sec(6)),
				recOffsetTomb("c", "x", 1, sec(6)),
				recGroupTomb("c", sec(6)),
				recCommit("c", "y", 0, 2, "", sec(7)),
			},
			want:  rendered{offsets: "c/y/0=2@7", groups: "c:1", tombstones: "o:c/x/0@6 o:c/x/1@6 g:c@6"},
			live:  []log.Record{recCommit("c", "y", 0, 2, "", sec(7))},
			tombs: []log.Record{recOffsetTomb("c", "x", 0, sec(6)), recOffsetTomb("c", "x", 1, sec(6)), recGroupTomb("c", sec(6))},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st := NewState()
			applyAll(t, st, c.recs)
			if got := render(st); got != c.want {
				t.Fatalf("state\n got %+v\nwant %+v", got, c.want)
			}
			var byType [TypeGroupTombstone + 1]uint64
			var tombRecordBytes int64
			gens := 0
			for _, r := range c.recs {
				byType[r.Type]++
				if r.Type == TypeOffsetTombstone || r.Type == TypeGroupTombstone {
					tombRecordBytes += int64(r.Size())
				}
			}
			for _, g := range st.GroupInfos() {
				if g.HasGeneration {
					gens++
				}
			}
			keys := 0
			st.Offsets(func(OffsetKey, OffsetValue) bool { keys++; return true })
			want := Counts{
				Records: uint64(len(c.recs)), RecordBytes: sizes(c.recs...),
				Commits: byType[TypeOffsetCommit], OffsetTombstones: byType[TypeOffsetTombstone],
				GroupMetadata: byType[TypeGroupMetadata], GroupTombstones: byType[TypeGroupTombstone],
				TombstoneRecordBytes: tombRecordBytes,
				LiveKeys:             keys, Groups: len(st.GroupInfos()), Generations: gens, LiveBytes: sizes(c.live...),
				Tombstones: len(c.tombs), TombstoneBytes: sizes(c.tombs...),
			}
			got := st.Counts()
			if got != want {
				t.Fatalf("counts\n got %+v\nwant %+v", got, want)
			}
			dirty := 1 - float64(sizes(c.live...)+sizes(c.tombs...))/float64(sizes(c.recs...))
			if st.DirtyRatio() != got.DirtyRatio() || got.DirtyRatio() != max(0, dirty) {
				t.Fatalf("dirty ratio %v (counts' %v), want %v", st.DirtyRatio(), got.DirtyRatio(), dirty)
			}
			if st.Index() != uint64(len(c.recs)) {
				t.Fatalf("index %d after %d records", st.Index(), len(c.recs))
			}

			// The latest record of every key, in any order, replays to the
			// same state: what a checkpoint holds.
			sn := st.Snapshot()
			var ck []log.Record
			if err := sn.Records(time.Time{}, func(typ log.RecordType, data []byte) error {
				ck = append(ck, log.Record{Type: typ, Data: append([]byte(nil), data...)})
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			st.Release(sn, false)
			again := NewState()
			for i := len(ck) - 1; i >= 0; i-- { // reversed
				if err := again.Apply(1, ck[i]); err != nil {
					t.Fatal(err)
				}
			}
			if got := render(again); got.offsets != c.want.offsets || got.groups != c.want.groups {
				t.Fatalf("the checkpoint replays to %+v, want %+v", got, c.want)
			}
			if got := again.Counts(); got.LiveBytes != want.LiveBytes || got.TombstoneBytes != want.TombstoneBytes || got.DirtyRatio() != 0 {
				t.Fatalf("the checkpoint replays to counts %+v", got)
			}
		})
	}
}

// TestTombstoneRetention: a checkpoint keeps every live record and the
// tombstones written after the horizon; once it replaces the log the
// state's counts of the log follow it, and the dropped tombstones are
// forgotten.
func TestTombstoneRetention(t *testing.T) {
	recs := []log.Record{
		recCommit("g", "t", 0, 1, "", sec(0)),
		recCommit("g", "t", 1, 1, "", sec(0)),
		recCommit("g", "t", 2, 1, "", sec(0)),
		recGroup("h", 1, sec(0)),
		recOffsetTomb("g", "t", 0, sec(1)),
		recGroupTomb("h", sec(2)),          // at the horizon: dropped
		recOffsetTomb("g", "t", 1, sec(3)), // after it: kept
	}
	st := NewState()
	applyAll(t, st, recs)
	sn := st.Snapshot()
	var kept []string
	if err := sn.Records(time.UnixMilli(sec(2)), func(typ log.RecordType, data []byte) error {
		rec, err := DecodeRecord(log.Record{Type: typ, Data: data})
		kept = append(kept, fmt.Sprintf("%d:%s/%s/%d", typ, rec.Key.Group, rec.Key.Topic, rec.Key.Partition))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("%d:g/t/2 %d:g/t/1", TypeOffsetCommit, TypeOffsetTombstone)
	if got := strings.Join(kept, " "); got != want {
		t.Fatalf("checkpoint holds %s, want %s", got, want)
	}
	if n, b := sn.TombstonesKept(); n != 1 || b != sizes(recOffsetTomb("g", "t", 1, sec(3))) {
		t.Fatalf("tombstones kept %d (%d bytes)", n, b)
	}
	st.Release(sn, true)
	c := st.Counts()
	keptRecs := []log.Record{recCommit("g", "t", 2, 1, "", sec(0)), recOffsetTomb("g", "t", 1, sec(3))}
	if c.Records != 2 || c.RecordBytes != sizes(keptRecs...) || c.Commits != 1 || c.OffsetTombstones != 1 ||
		c.GroupMetadata != 0 || c.GroupTombstones != 0 || c.TombstoneRecordBytes != sizes(keptRecs[1]) {
		t.Fatalf("counts after the checkpoint %+v", c)
	}
	if c.Tombstones != 1 || c.TombstoneBytes != sizes(keptRecs[1]) || c.DirtyRatio() != 0 {
		t.Fatalf("live tombstones after the checkpoint %+v, dirty ratio %v", c, c.DirtyRatio())
	}
	if got := render(st).tombstones; got != "o:g/t/1@3" {
		t.Fatalf("tombstones after the checkpoint %s", got)
	}
}

// TestApplyBadRecord: a record that does not decode is refused and changes
// nothing; RecordTime refuses it too.
func TestApplyBadRecord(t *testing.T) {
	st := NewState()
	applyAll(t, st, []log.Record{recCommit("g", "t", 0, 1, "", sec(0))})
	before, view := st.Counts(), render(st)
	short := recCommit("g", "t", 1, 1, "", sec(1))
	short.Data = short.Data[:len(short.Data)-1]
	for _, r := range []log.Record{short, {Type: 9, Data: []byte("what is this")}, {Type: TypeGroupMetadata}} {
		if err := st.Apply(2, r); !errors.Is(err, ErrRecord) {
			t.Fatalf("Apply of %v = %v, want ErrRecord", r, err)
		}
		if err := st.Replayer().Apply(2, r); !errors.Is(err, ErrRecord) {
			t.Fatalf("Replayer.Apply of %v = %v, want ErrRecord", r, err)
		}
		if _, err := RecordTime(r); !errors.Is(err, ErrRecord) {
			t.Fatalf("RecordTime of %v = %v, want ErrRecord", r, err)
		}
	}
	if st.Counts() != before || render(st) != view || st.Index() != 1 {
		t.Fatalf("a refused record changed the state: %+v", st.Counts())
	}
}

func TestRecordTime(t *testing.T) {
	for _, r := range []log.Record{recCommit("g", "t", 0, 1, "m", sec(1)), recOffsetTomb("g", "t", 0, sec(1)),
		recGroup("g", 2, sec(1)), recGroupTomb("g", sec(1))} {
		if at, err := RecordTime(r); err != nil || at != sec(1) {
			t.Fatalf("RecordTime of type %d = %d, %v; want %d", r.Type, at, err, sec(1))
		}
	}
}

// TestApplyKnownKeysDoesNotAllocate: replaying commits and generations of
// keys the state already has allocates nothing (the log tool's replay of a
// long history over few keys).
func TestApplyKnownKeysDoesNotAllocate(t *testing.T) {
	st := NewState()
	recs := []log.Record{recCommit("group", "topic", 0, 1, "", sec(0)), recCommit("group", "topic", 1, 1, "", sec(0)),
		recGroup("group", 3, sec(1))}
	applyAll(t, st, recs)
	rp := st.Replayer()
	allocs := testing.AllocsPerRun(1000, func() {
		for _, r := range recs {
			rp.Apply(5, r)
		}
		rp.Done()
	})
	if allocs != 0 {
		t.Fatalf("Apply of known keys allocates %.1f times", allocs)
	}
}
