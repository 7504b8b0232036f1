// Package inspect gives an offsets log's records their meaning for the
// offsets-log tool: it rebuilds the committed offsets and group generations
// a replay produces, counts what the log holds, and names record types.
//
// Replay semantics, the node's (consumeroffsets): an offset commit sets its
// key (group, topic, partition); an offset tombstone removes it; a group
// metadata record sets the group's generation; a group tombstone removes
// the generation. A deleted group's offsets go by their own tombstones,
// which the node writes before the group's, so that each record acts on its
// own key only and compaction can drop any key's history with its
// tombstone.
//
// Apply does no allocation for a record whose key it has seen before: it
// looks keys up as byte slices (consumeroffsets.Keyer) and keeps the latest
// record of each key as raw bytes in one arena, decoding only the survivors
// at the end, the way the compactor works.
package inspect

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/maelstrom-offsets/offsets/consumeroffsets"
	"github.com/maelstrom-offsets/offsets/log"
)

// ErrStop is returned by Apply for the first record written after the
// State's Until time; the replay stops there.
var ErrStop = errors.New("inspect: record after the stop time")

// Offset is one committed offset a replay rebuilds.
type Offset struct {
	Group      string
	Topic      string
	Partition  int32
	Offset     int64
	Metadata   string
	CommitTime time.Time
	Size       int // bytes of the record that holds it
}

// Group is one consumer group a replay rebuilds: a group with live offsets,
// a generation, or both.
type Group struct {
	Name          string
	Offsets       int       // live offsets
	Generation    int32     // valid when HasGeneration
	HasGeneration bool      // a group metadata record set it and no group tombstone followed
	NewestCommit  time.Time // of its live offsets; zero when it has none
}

// Counts says what a replay read and what is live at its end.
type Counts struct {
	Records          uint64
	RecordBytes      int64 // sum of log.Record.Size over every record
	Commits          uint64
	OffsetTombstones uint64
	GroupMetadata    uint64
	GroupTombstones  uint64
	TombstoneBytes   int64 // record bytes of the tombstones

	LiveKeys  int   // offsets live at the end
	Groups    int   // groups live at the end (see Group)
	LiveBytes int64 // bytes of the records holding live offsets and generations
	// OldestCommit and NewestCommit are the commit times of the oldest and
	// newest live offsets; zero when there are none.
	OldestCommit time.Time
	NewestCommit time.Time
}

// Tombstones is the number of tombstone records read.
func (c Counts) Tombstones() uint64 { return c.OffsetTombstones + c.GroupTombstones }

// slot is the latest record of one key: its type and its bytes in the
// arena, where it has room for room bytes.
type slot struct {
	typ     log.RecordType
	off     int
	n, room int
}

// State is what a replay has rebuilt so far. The zero value is not ready:
// use New.
type State struct {
	keyer  consumeroffsets.Keyer
	index  map[string]int32
	slots  []slot
	arena  []byte
	until  int64 // Unix ms; records after it stop the replay
	limit  bool
	counts Counts

	resolved bool
	offsets  []Offset
	groups   []Group
}

// New returns an empty State. A non-zero until makes Apply refuse, with
// ErrStop, the first record written after it.
func New(until time.Time) *State {
	s := &State{index: make(map[string]int32)}
	if !until.IsZero() {
		s.until, s.limit = until.UnixMilli(), true
	}
	return s
}

// Apply replays one record.
func (s *State) Apply(r log.Record) error {
	key, _, at, err := s.keyer.Classify(r)
	if err != nil {
		return err
	}
	if s.limit && at.UnixMilli() > s.until {
		return ErrStop
	}
	s.resolved = false
	s.counts.Records++
	s.counts.RecordBytes += int64(r.Size())
	switch r.Type {
	case consumeroffsets.TypeOffsetCommit:
		s.counts.Commits++
	case consumeroffsets.TypeOffsetTombstone:
		s.counts.OffsetTombstones++
		s.counts.TombstoneBytes += int64(r.Size())
	case consumeroffsets.TypeGroupMetadata:
		s.counts.GroupMetadata++
	case consumeroffsets.TypeGroupTombstone:
		s.counts.GroupTombstones++
		s.counts.TombstoneBytes += int64(r.Size())
	}
	i, ok := s.index[string(key)]
	if !ok {
		i = int32(len(s.slots))
		s.index[string(key)] = i
		s.slots = append(s.slots, slot{})
	}
	sl := &s.slots[i]
	sl.typ = r.Type
	if len(r.Data) > sl.room {
		sl.off, sl.room = len(s.arena), len(r.Data)
		s.arena = append(s.arena, r.Data...)
	} else {
		copy(s.arena[sl.off:], r.Data)
	}
	sl.n = len(r.Data)
	return nil
}

// resolve decodes the live records once.
func (s *State) resolve() error {
	if s.resolved {
		return nil
	}
	live := 0
	for _, sl := range s.slots {
		if sl.typ == consumeroffsets.TypeOffsetCommit {
			live++
		}
	}
	s.offsets, s.groups = make([]Offset, 0, live), s.groups[:0]
	// Group and topic names are interned and numbered as they come, so that
	// millions of offsets share a few strings and sort on integers.
	groups := map[string]int{} // name -> index in s.groups
	topics := map[string]uint32{}
	var topicNames []string
	type sortKey struct {
		group, topic uint32 // ids, ranks after renumbering
		partition    int32
		at           int32 // index in s.offsets
	}
	keys := make([]sortKey, 0, live)
	c := &s.counts
	c.LiveKeys, c.LiveBytes, c.OldestCommit, c.NewestCommit = 0, 0, time.Time{}, time.Time{}
	for _, sl := range s.slots {
		if sl.typ != consumeroffsets.TypeOffsetCommit && sl.typ != consumeroffsets.TypeGroupMetadata {
			continue // the key's latest record is a tombstone
		}
		r := log.Record{Type: sl.typ, Data: s.arena[sl.off : sl.off+sl.n]}
		rec, err := consumeroffsets.DecodeRecord(r)
		if err != nil {
			return fmt.Errorf("inspect: decode a kept record: %w", err)
		}
		c.LiveBytes += int64(r.Size())
		gi, ok := groups[rec.Key.Group]
		if !ok {
			gi = len(s.groups)
			groups[rec.Key.Group] = gi
			s.groups = append(s.groups, Group{Name: rec.Key.Group})
		}
		g := &s.groups[gi]
		if sl.typ == consumeroffsets.TypeGroupMetadata {
			g.Generation, g.HasGeneration = rec.Generation, true
			continue
		}
		ti, ok := topics[rec.Key.Topic]
		if !ok {
			ti = uint32(len(topicNames))
			topics[rec.Key.Topic] = ti
			topicNames = append(topicNames, rec.Key.Topic)
		}
		at := time.UnixMilli(rec.Value.CommitTime).UTC()
		keys = append(keys, sortKey{uint32(gi), ti, rec.Key.Partition, int32(len(s.offsets))})
		s.offsets = append(s.offsets, Offset{Group: g.Name, Topic: topicNames[ti], Partition: rec.Key.Partition,
			Offset: rec.Value.Offset, Metadata: rec.Value.Metadata, CommitTime: at, Size: r.Size()})
		g.Offsets++
		if at.After(g.NewestCommit) {
			g.NewestCommit = at
		}
		if c.OldestCommit.IsZero() || at.Before(c.OldestCommit) {
			c.OldestCommit = at
		}
		if at.After(c.NewestCommit) {
			c.NewestCommit = at
		}
	}
	groupRank := ranks(len(s.groups), func(i, j int) bool { return s.groups[i].Name < s.groups[j].Name })
	topicRank := ranks(len(topicNames), func(i, j int) bool { return topicNames[i] < topicNames[j] })
	for i := range keys {
		keys[i].group, keys[i].topic = groupRank[keys[i].group], topicRank[keys[i].topic]
	}
	slices.SortFunc(keys, func(a, b sortKey) int {
		if c := cmp.Compare(a.group, b.group); c != 0 {
			return c
		}
		if c := cmp.Compare(a.topic, b.topic); c != 0 {
			return c
		}
		return cmp.Compare(a.partition, b.partition)
	})
	// Move each offset to its place, one permutation cycle at a time.
	for i := range keys {
		if keys[i].at < 0 {
			continue
		}
		first := s.offsets[i]
		j := int32(i)
		for {
			k := keys[j].at
			keys[j].at = -1
			if k == int32(i) {
				s.offsets[j] = first
				break
			}
			s.offsets[j] = s.offsets[k]
			j = k
		}
	}
	sort.Slice(s.groups, func(i, j int) bool { return s.groups[i].Name < s.groups[j].Name })
	c.LiveKeys, c.Groups = len(s.offsets), len(s.groups)
	s.resolved = true
	return nil
}

// ranks returns the rank of each of n items in the order less gives.
func ranks(n int, less func(i, j int) bool) []uint32 {
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool { return less(order[a], order[b]) })
	rank := make([]uint32, n)
	for r, i := range order {
		rank[i] = uint32(r)
	}
	return rank
}

// Offsets returns the live offsets sorted by group, topic (byte order) and
// partition. The slice is the State's; it is valid until the next Apply.
func (s *State) Offsets() ([]Offset, error) {
	err := s.resolve()
	return s.offsets, err
}

// Groups returns the live groups sorted by name.
func (s *State) Groups() ([]Group, error) {
	err := s.resolve()
	return s.groups, err
}

// Counts returns what the replay read and what is live.
func (s *State) Counts() (Counts, error) {
	err := s.resolve()
	return s.counts, err
}

// TypeName names a record type as the tool prints it.
func TypeName(t log.RecordType) string {
	switch t {
	case consumeroffsets.TypeOffsetCommit:
		return "commit"
	case consumeroffsets.TypeOffsetTombstone:
		return "offset-tombstone"
	case consumeroffsets.TypeGroupMetadata:
		return "group"
	case consumeroffsets.TypeGroupTombstone:
		return "group-tombstone"
	}
	return fmt.Sprintf("unknown-%d", t)
}
