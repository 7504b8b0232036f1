package consumeroffsets

import (
	"slices"
	"strings"
	"time"
)

// MaxMetadataBytes is the longest metadata string a commit may carry, in
// UTF-8 bytes (Kafka's offset.metadata.max.bytes).
const MaxMetadataBytes = 4096

// stage adds a record to the batch of the next Flush and applies it to the
// state, journaling what it changes.
func (s *Store) stage(v *recordView, data []byte) { s.groupCommit.stage(s.st, v, data) }

func (s *Store) batchTime() int64 {
	if s.nowMs == 0 {
		s.nowMs = s.now().UnixMilli()
	}
	return s.nowMs
}

// Commit stages a commit of offset, with optional metadata, for the key.
// The previous value, if any, is superseded even when it is higher: the
// latest commit wins, as in Kafka. offset must not be negative (Kafka's
// range, which the node checks). It fails after an earlier write failure,
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
	s.stage(&recordView{typ: TypeOffsetCommit, group: group, topic: topic, partition: partition, offset: offset, metadata: metadata, time: at}, s.scratch)
	return nil
}

// Fetch returns the offset committed for the key, staged changes included,
// and whether one exists.
func (s *Store) Fetch(group, topic []byte, partition int32) (Committed, bool) {
	e, ok := s.st.get(group, topic, partition)
	return e.committed(), ok
}

// Generation returns the highest generation the group has accepted, and
// false when it has none.
func (s *Store) Generation(group []byte) (int32, bool) { return s.st.Generation(group) }

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
	at := s.batchTime()
	s.scratch = AppendGroupMetadata(s.scratch[:0], group, gen, at)
	s.stage(&recordView{typ: TypeGroupMetadata, group: group, generation: gen, time: at}, s.scratch)
	return nil
}

// FetchGroup calls fn for every live offset of the group, sorted by topic
// (byte order of the UTF-8 names, which is code-point order) then
// partition. With topics non-nil only those topics are visited. It costs
// in proportion to the group's offsets, not to the store's.
func (s *Store) FetchGroup(group []byte, topics [][]byte, fn func(topic string, partition int32, c Committed)) {
	s.st.FetchGroup(group, topics, func(topic string, p int32, v OffsetValue) {
		fn(topic, p, Committed{Offset: v.Offset, Metadata: v.Metadata})
	})
}

// Groups returns the groups that have at least one live offset, in byte
// (code-point) order.
func (s *Store) Groups() []string { return s.st.Groups() }

// DeleteOffsets stages tombstones for the given partitions of a topic (all
// of them when partitions is nil) and returns how many live offsets it
// removed.
func (s *Store) DeleteOffsets(group, topic []byte, partitions []int32) (int, error) {
	if s.failed != nil {
		return 0, s.failed
	}
	g := s.st.group(group)
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
		if s.deleteOffset(group, topic, p) {
			n++
		}
	}
	return n, nil
}

// deleteOffset stages one offset tombstone if the key is live.
func (s *Store) deleteOffset(group, topic []byte, p int32) bool {
	if _, ok := s.st.get(group, topic, p); !ok {
		return false
	}
	at := s.batchTime()
	s.scratch = AppendOffsetTombstone(s.scratch[:0], group, topic, p, at)
	s.stage(&recordView{typ: TypeOffsetTombstone, group: group, topic: topic, partition: p, time: at}, s.scratch)
	return true
}

// DeleteGroup stages tombstones for every offset of the group and for the
// group itself (its generation), and returns how many offsets it removed.
func (s *Store) DeleteGroup(group []byte) (int, error) {
	if s.failed != nil {
		return 0, s.failed
	}
	g := s.st.group(group)
	if g == nil {
		return 0, nil
	}
	n := s.deleteAllOffsets(g)
	at := s.batchTime()
	s.scratch = AppendGroupTombstone(s.scratch[:0], group, at)
	s.stage(&recordView{typ: TypeGroupTombstone, group: group, time: at}, s.scratch)
	return n, nil
}

// deleteAllOffsets stages a tombstone for every offset of g, in key order.
func (s *Store) deleteAllOffsets(g *groupState) int {
	name := []byte(g.name)
	type key struct {
		topic []byte
		parts []int32
	}
	var keys []key // taken first: deleting changes (and may copy) g
	for _, t := range g.sortedTopics(nil) {
		keys = append(keys, key{[]byte(t.name), t.sortedPartitions()})
	}
	n := 0
	for _, k := range keys {
		for _, p := range k.parts {
			if s.deleteOffset(name, k.topic, p) {
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
	s.st.eachGroup(func(g *groupState) {
		if n := g.newestCommit(); g.keys > 0 && n < horizon {
			expired = append(expired, ExpiredGroup{Group: g.name, NewestCommit: time.UnixMilli(n)})
		}
	})
	sortExpired(expired)
	for i := range expired {
		expired[i].Offsets = s.deleteAllOffsets(s.st.group([]byte(expired[i].Group)))
		s.pendingExpiredOffsets += expired[i].Offsets
	}
	s.pendingExpiredGroups += len(expired)
	return expired, nil
}

func sortExpired(gs []ExpiredGroup) {
	slices.SortFunc(gs, func(a, b ExpiredGroup) int { return strings.Compare(a.Group, b.Group) })
}
