package consumeroffsets

import (
	"slices"
	"strings"
	"time"

	"github.com/maelstrom-offsets/offsets/log"
)

// MaxMetadataBytes is the longest metadata string a commit may carry, in
// UTF-8 bytes (Kafka's offset.metadata.max.bytes).
const MaxMetadataBytes = 4096

// undo restores one thing a staged change altered, so that a failed Flush
// leaves the index as the log is.
type undo struct {
	kind      undoKind
	group     string // the index's own copies of the names
	topic     string
	partition int32
	prev      entry // undoOffset
	existed   bool
	newest    int64 // the group's newest commit time before
	gen       int32 // undoGeneration
	genSize   int32
}

type undoKind uint8

const (
	undoOffset undoKind = iota
	undoGeneration
)

// apply replays one record into the index.
func (s *Store) apply(r log.Record) error {
	v, err := decodeView(r)
	if err != nil {
		return err
	}
	size := int32(r.Size())
	s.logSize += int64(size)
	switch v.typ {
	case TypeOffsetCommit:
		s.idx.put(v.group, v.topic, v.partition, newEntry(v.offset, v.metadata, size), v.time)
	case TypeOffsetTombstone:
		s.tombBytes += int64(size)
		s.idx.remove(v.group, v.topic, v.partition)
	case TypeGroupMetadata:
		s.idx.setGeneration(v.group, v.generation, true, size)
	case TypeGroupTombstone:
		// Only the group record dies: every offset of a deleted group has
		// its own tombstone, written before this one. Keeping each record's
		// effect to its own key is what lets compaction drop any key's
		// history with its tombstone without bringing another key back.
		s.tombBytes += int64(size)
		s.idx.setGeneration(v.group, 0, false, 0)
	}
	return nil
}

// stage adds a record to the batch of the next Flush and returns its size.
func (s *Store) stage(t log.RecordType, data []byte) int32 {
	s.batch.Add(t, data)
	size := int32(log.Record{Data: data}.Size())
	s.pendingBytes += int64(size)
	return size
}

// stageTombstone stages a tombstone record, counting it as live bytes.
func (s *Store) stageTombstone(t log.RecordType, data []byte) {
	n := int64(s.stage(t, data))
	s.tombBytes += n
	s.pendingTomb += n
}

func (s *Store) batchTime() int64 {
	if s.nowMs == 0 {
		s.nowMs = s.now().UnixMilli()
	}
	return s.nowMs
}

// Commit stages a commit of offset, with optional metadata, for the key.
// The previous value, if any, is superseded even when it is higher: the
// latest commit wins, as in Kafka. It fails after an earlier write failure,
// and with ErrLimit (staging nothing) when the key would pass a limit.
func (s *Store) Commit(group, topic []byte, partition int32, offset int64, metadata []byte) error {
	if s.failed != nil {
		return s.failed
	}
	if err := s.checkCommit(group, topic, partition); err != nil {
		return err
	}
	at := s.batchTime()
	s.scratch = AppendOffsetCommit(s.scratch[:0], group, topic, partition, OffsetValue{Offset: offset, Metadata: string(metadata), CommitTime: at})
	size := s.stage(TypeOffsetCommit, s.scratch)
	g := s.idx.group(group)
	newest := int64(0)
	if g != nil {
		newest = g.newestCommit
	}
	g, t, prev, existed := s.idx.put(group, topic, partition, newEntry(offset, metadata, size), at)
	s.undo = append(s.undo, undo{kind: undoOffset, group: g.name, topic: t.name, partition: partition,
		prev: prev, existed: existed, newest: newest})
	return nil
}

// Fetch returns the offset committed for the key, staged changes included,
// and whether one exists.
func (s *Store) Fetch(group, topic []byte, partition int32) (Committed, bool) {
	e, ok := s.idx.get(group, topic, partition)
	return e.committed(), ok
}

// Generation returns the highest generation the group has accepted, and
// false when it has none.
func (s *Store) Generation(group []byte) (int32, bool) {
	g := s.idx.group(group)
	if g == nil || !g.hasGen {
		return 0, false
	}
	return g.generation, true
}

// SetGeneration stages a group record raising the group's generation to
// gen. Fencing (refusing a lower one) is the caller's decision; an equal
// generation writes nothing. A new group past Options.MaxGroups, or whose
// name is too long, fails with ErrLimit and stages nothing.
func (s *Store) SetGeneration(group []byte, gen int32) error {
	if s.failed != nil {
		return s.failed
	}
	if cur, ok := s.Generation(group); ok && cur == gen {
		return nil
	}
	if err := s.checkGroup(group); err != nil {
		return err
	}
	s.scratch = AppendGroupMetadata(s.scratch[:0], group, gen, s.batchTime())
	size := s.stage(TypeGroupMetadata, s.scratch)
	prevGen, prevHas, prevSize := s.idx.setGeneration(group, gen, true, size)
	s.undo = append(s.undo, undo{kind: undoGeneration, group: s.idx.group(group).name, gen: prevGen, existed: prevHas, genSize: prevSize})
	return nil
}

// FetchGroup calls fn for every live offset of the group, sorted by topic
// (byte order of the UTF-8 names, which is code-point order) then
// partition. With topics non-nil only those topics are visited. It costs
// in proportion to the group's offsets, not to the store's.
func (s *Store) FetchGroup(group []byte, topics [][]byte, fn func(topic string, partition int32, c Committed)) {
	g := s.idx.group(group)
	if g == nil {
		return
	}
	for _, t := range g.sortedTopics(topics) {
		for _, p := range t.sortedPartitions() {
			fn(t.name, p, t.parts[p].committed())
		}
	}
}

// Groups returns the groups that have at least one live offset, in byte
// (code-point) order.
func (s *Store) Groups() []string {
	names := make([]string, 0, len(s.idx.groups))
	for name, g := range s.idx.groups {
		if g.keys > 0 {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

// DeleteOffsets stages tombstones for the given partitions of a topic (all
// of them when partitions is nil) and returns how many live offsets it
// removed.
func (s *Store) DeleteOffsets(group, topic []byte, partitions []int32) (int, error) {
	if s.failed != nil {
		return 0, s.failed
	}
	g := s.idx.group(group)
	if g == nil {
		return 0, nil
	}
	t := g.topics[string(topic)]
	if t == nil {
		return 0, nil
	}
	if partitions == nil {
		partitions = t.sortedPartitions()
	}
	n := 0
	for _, p := range partitions {
		if s.deleteOffset(g, t, p) {
			n++
		}
	}
	return n, nil
}

// deleteOffset stages one offset tombstone if the key is live.
func (s *Store) deleteOffset(g *groupState, t *topicState, p int32) bool {
	if _, ok := t.parts[p]; !ok {
		return false
	}
	gName, tName, newest := g.name, t.name, g.newestCommit
	s.scratch = AppendOffsetTombstone(s.scratch[:0], []byte(gName), []byte(tName), p, s.batchTime())
	s.stageTombstone(TypeOffsetTombstone, s.scratch)
	prev, _ := s.idx.remove([]byte(gName), []byte(tName), p)
	s.undo = append(s.undo, undo{kind: undoOffset, group: gName, topic: tName, partition: p, prev: prev, existed: true, newest: newest})
	return true
}

// DeleteGroup stages tombstones for every offset of the group and for the
// group itself (its generation), and returns how many offsets it removed.
func (s *Store) DeleteGroup(group []byte) (int, error) {
	if s.failed != nil {
		return 0, s.failed
	}
	g := s.idx.group(group)
	if g == nil {
		return 0, nil
	}
	n := s.deleteAllOffsets(g)
	s.scratch = AppendGroupTombstone(s.scratch[:0], group, s.batchTime())
	s.stageTombstone(TypeGroupTombstone, s.scratch)
	name := g.name
	prevGen, prevHas, prevSize := s.idx.setGeneration(group, 0, false, 0)
	s.undo = append(s.undo, undo{kind: undoGeneration, group: name, gen: prevGen, existed: prevHas, genSize: prevSize})
	return n, nil
}

func (s *Store) deleteAllOffsets(g *groupState) int {
	n := 0
	for _, t := range g.sortedTopics(nil) {
		for _, p := range t.sortedPartitions() {
			if s.deleteOffset(g, t, p) {
				n++
			}
		}
	}
	return n
}

// ExpiredGroup describes one group whose offsets expired.
type ExpiredGroup struct {
	Group        string
	Offsets      int
	NewestCommit time.Time
}

// ExpireOffsets stages tombstones for every offset of each group whose
// newest commit is older than the offsets retention, and returns those
// groups. The generation stays: only offsets expire, as in Kafka.
func (s *Store) ExpireOffsets() ([]ExpiredGroup, error) {
	if s.opts.OffsetsRetention <= 0 {
		return nil, nil
	}
	if s.failed != nil {
		return nil, s.failed
	}
	horizon := s.now().Add(-s.opts.OffsetsRetention).UnixMilli()
	var expired []ExpiredGroup
	for _, g := range s.idx.groups {
		if g.keys > 0 && g.newestCommit < horizon {
			expired = append(expired, ExpiredGroup{Group: g.name, NewestCommit: time.UnixMilli(g.newestCommit)})
		}
	}
	sortExpired(expired)
	for i := range expired {
		expired[i].Offsets = s.deleteAllOffsets(s.idx.group([]byte(expired[i].Group)))
		s.pendingExpiredOffsets += expired[i].Offsets
	}
	s.pendingExpiredGroups += len(expired)
	return expired, nil
}

// rollback undoes staged changes in reverse order.
func (s *Store) rollback() {
	for i := len(s.undo) - 1; i >= 0; i-- {
		u := s.undo[i]
		g, t := []byte(u.group), []byte(u.topic)
		switch u.kind {
		case undoOffset:
			if u.existed {
				s.idx.put(g, t, u.partition, u.prev, 0)
			} else {
				s.idx.remove(g, t, u.partition)
			}
			if gs := s.idx.group(g); gs != nil {
				gs.newestCommit = u.newest
			}
		case undoGeneration:
			s.idx.setGeneration(g, u.gen, u.existed, u.genSize)
		}
	}
	s.tombBytes -= s.pendingTomb
	s.reset()
}

func sortExpired(gs []ExpiredGroup) {
	slices.SortFunc(gs, func(a, b ExpiredGroup) int { return strings.Compare(a.Group, b.Group) })
}
