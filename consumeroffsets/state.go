package consumeroffsets

import (
	"hash/maphash"
	"maps"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/maelstrom-offsets/offsets/log"
)

// State is the offsets state machine: what the records of a log, applied in
// order, add up to. It is the one implementation of the rules; the Store's
// replay and its staged changes, offline compaction and the log tool all go
// through it:
//
//   - an offset commit sets its key (group, topic, partition) to its offset,
//     metadata and commit time;
//   - an offset tombstone deletes its key;
//   - a group metadata record sets the group's generation;
//   - a group tombstone deletes the generation, and nothing else: every
//     offset of a deleted group has its own tombstone, written before it;
//   - a tombstone stays live (it is the latest record of its key, and a
//     checkpoint keeps it) until a record of its key supersedes it or a
//     checkpoint drops it for being older than the tombstone retention.
//
// Each record acts on its own key only, so the latest record of every key,
// in any order, replays to the same state: that is what a checkpoint holds
// (Snapshot.Records).
//
// A State is not safe for concurrent use, with one exception: a Snapshot
// may be read on another goroutine while the State goes on applying
// records. The zero value is not ready; use NewState.
type State struct {
	shards [stateShards]*shard
	seed   maphash.Seed
	// Copy-on-write: a node (shard, group, topic) whose gen is older than
	// epoch is shared with the open snapshot while shared is set, and is
	// cloned before its first change.
	epoch  uint32
	shared bool
	index  uint64 // log index of the last record applied
	c      counts
	tombs  tombTable
	// journal, when set, receives an undo entry for every change, so that
	// the Store can roll a failed batch back.
	journal *[]undo
	keyBuf  []byte
}

// stateShards is the number of parts the group table is split into: a
// snapshot copies this many pointers, and the first change to a part after
// a snapshot copies that part's share of the group table.
const stateShards = 256

type shard struct {
	gen    uint32
	groups map[string]*groupState
}

// counts is what the State keeps count of as it applies records.
type counts struct {
	records     uint64
	recordBytes int64
	byType      [TypeGroupTombstone + 1]uint64
	tombBytes   int64 // record bytes of the tombstone records applied
	keys        int   // live offsets
	groups      int   // groups with a live offset or a generation
	gens        int   // groups with a generation
	live        int64 // record bytes of the live offsets and generations
}

// groupState is one group: its offsets and its generation. It exists while
// it has an offset or a generation.
type groupState struct {
	gen    uint32
	name   string
	topics map[string]*topicState
	keys   int
	// newest bounds from above the commit times of the group's live offsets,
	// for offset retention; it is their maximum unless stale is set, after
	// the removal of the offset that held it.
	newest     int64
	stale      bool
	generation int32
	hasGen     bool
	genTime    int64 // Unix ms of the group record holding the generation
}

type topicState struct {
	gen   uint32
	name  string
	parts parts
}

// entry is one live offset. There is one per key, so it is kept small:
// metadata is usually empty and then costs a nil pointer; the size of the
// record that holds it follows from its fields (see commitSize).
type entry struct {
	offset int64
	at     int64 // commit time, Unix ms
	meta   *string
}

func newEntry(offset int64, metadata []byte, at int64) entry {
	e := entry{offset: offset, at: at}
	if len(metadata) > 0 {
		m := string(metadata)
		e.meta = &m
	}
	return e
}

func (e entry) metadata() string {
	if e.meta == nil {
		return ""
	}
	return *e.meta
}

// committed returns the entry as the API shows it.
func (e entry) committed() Committed { return Committed{Offset: e.offset, Metadata: e.metadata()} }

// NewState returns an empty State.
func NewState() *State {
	return &State{seed: maphash.MakeSeed(), epoch: 1, tombs: tombTable{slot: map[string]int32{}}}
}

// Apply applies the record r at log index index. Records must come in log
// order; the records of a checkpoint all come at its index. A record that
// does not decode is refused with an error wrapping ErrRecord and changes
// nothing.
func (s *State) Apply(index uint64, r log.Record) error {
	v, err := decodeView(r)
	if err != nil {
		return err
	}
	s.index = index
	s.applyView(&v, int64(r.Size()))
	return nil
}

// Replayer applies records to a State as State.Apply does, holding back up
// to replayBatch offset commits to apply them together: their keys'
// entries, spread over the memory of a large state, are loaded in one
// tight loop before they are changed, so that the loads overlap instead of
// each waiting for the one before (memory-level parallelism). A restart at
// 10^6 keys spends most of its time on those loads. Every other record
// type, and Done, applies what is held first. The Store's replay and the
// log tool's both use it. Until Done, the State may hold back commits:
// call Done before reading it or changing it otherwise.
type Replayer struct {
	s    *State
	held []heldCommit
	sink int64 // keeps the loads of Done's first loop from being optimised away
}

type heldCommit struct {
	g *groupState
	t *topicState
	p int32
	e entry
}

// Replayer returns a Replayer that applies records to s.
func (s *State) Replayer() *Replayer { return &Replayer{s: s} }

// replayBatch commits are held at a time once the state has
// replayBatchKeys keys: below that its entries stay in the CPU's caches and
// holding them back only costs (10^3 keys: 0.83x the replay rate; 10^6
// keys: 1.55x).
const (
	replayBatch     = 64
	replayBatchKeys = 1 << 16
)

// Apply applies the record rec at log index index, as State.Apply does.
func (r *Replayer) Apply(index uint64, rec log.Record) error {
	v, err := decodeView(rec)
	if err != nil {
		return err
	}
	s := r.s
	s.index = index
	if v.typ != TypeOffsetCommit || s.c.keys < replayBatchKeys || s.journal != nil || s.shared {
		r.Done()
		s.applyView(&v, int64(rec.Size()))
		return nil
	}
	s.c.records++
	s.c.recordBytes += int64(rec.Size())
	s.c.byType[v.typ]++
	g := s.writableGroup(v.group, true)
	r.held = append(r.held, heldCommit{g, s.writableTopic(g, v.topic, true), v.partition, newEntry(v.offset, v.metadata, v.time)})
	if len(r.held) == replayBatch {
		r.Done()
	}
	return nil
}

// Done applies the held commits in order.
func (r *Replayer) Done() {
	var sum int64
	for i := range r.held {
		h := &r.held[i]
		if d := h.t.parts.dense; h.p >= 0 && int(h.p) < len(d) {
			sum += d[h.p].offset
		}
	}
	r.sink += sum
	for i := range r.held {
		h := &r.held[i]
		r.s.commit(h.g, h.t, h.p, h.e)
	}
	r.held = r.held[:0]
}

// applyView applies a decoded record: the one place the rules live. The
// Store's staged changes come here too.
func (s *State) applyView(v *recordView, size int64) {
	s.c.records++
	s.c.recordBytes += size
	s.c.byType[v.typ]++
	switch v.typ {
	case TypeOffsetCommit:
		g := s.writableGroup(v.group, true)
		s.commit(g, s.writableTopic(g, v.topic, true), v.partition, newEntry(v.offset, v.metadata, v.time))
	case TypeOffsetTombstone:
		s.c.tombBytes += size
		s.removeEntry(v.group, v.topic, v.partition)
		s.addTomb(s.offsetKey(v.group, v.topic, v.partition), tombstone{
			typ: TypeOffsetTombstone, group: string(v.group), topic: string(v.topic), partition: v.partition, at: v.time})
	case TypeGroupMetadata:
		if _, had, _ := s.setGeneration(v.group, v.generation, true, v.time); !had {
			s.supersedeTomb(s.groupKey(v.group))
		}
	case TypeGroupTombstone:
		s.c.tombBytes += size
		s.setGeneration(v.group, 0, false, 0)
		s.addTomb(s.groupKey(v.group), tombstone{typ: TypeGroupTombstone, group: string(v.group), at: v.time})
	}
}

// recordSize is log.Record.Size for a record of n data bytes.
func recordSize(n int) int64 { return int64(1 + uvarintLen(uint64(n)) + n) }

// commitSize is the record size of an offset commit.
func commitSize(group, topic string, e entry) int64 {
	m := len(e.metadata())
	return recordSize(1 + uvarintLen(uint64(len(group))) + len(group) + uvarintLen(uint64(len(topic))) + len(topic) +
		4 + 8 + 8 + uvarintLen(uint64(m)) + m)
}

// groupSize is the record size of a group metadata record.
func groupSize(group string) int64 {
	return recordSize(1 + uvarintLen(uint64(len(group))) + len(group) + 4 + 8)
}

// owned reports whether a node of generation gen may be changed in place.
func (s *State) owned(gen uint32) bool { return !s.shared || gen == s.epoch }

func (s *State) shardOf(group []byte) int {
	return int(maphash.Bytes(s.seed, group) % stateShards)
}

// group returns a group's state, or nil, for reading.
func (s *State) group(group []byte) *groupState {
	sh := s.shards[s.shardOf(group)]
	if sh == nil {
		return nil
	}
	return sh.groups[string(group)]
}

// writableShard returns shard i, cloning it if a snapshot shares it.
func (s *State) writableShard(i int) *shard {
	sh := s.shards[i]
	if sh == nil {
		sh = &shard{gen: s.epoch, groups: map[string]*groupState{}}
		s.shards[i] = sh
	} else if !s.owned(sh.gen) {
		sh = &shard{gen: s.epoch, groups: maps.Clone(sh.groups)}
		s.shards[i] = sh
	}
	return sh
}

// writableGroup returns a group's state to change, cloning what a snapshot
// shares, and creating it when create is set (else it may return nil).
func (s *State) writableGroup(group []byte, create bool) *groupState {
	i := s.shardOf(group)
	var g *groupState
	if sh := s.shards[i]; sh != nil {
		g = sh.groups[string(group)]
	}
	switch {
	case g == nil && !create:
		return nil
	case g == nil:
		g = &groupState{gen: s.epoch, name: string(group), topics: map[string]*topicState{}}
		s.writableShard(i).groups[g.name] = g
		s.c.groups++
	case !s.owned(g.gen):
		c := *g
		c.gen, c.topics = s.epoch, maps.Clone(g.topics)
		g = &c
		s.writableShard(i).groups[g.name] = g
	}
	return g
}

// writableTopic is writableGroup's counterpart for a topic of a writable
// group.
func (s *State) writableTopic(g *groupState, topic []byte, create bool) *topicState {
	t := g.topics[string(topic)]
	switch {
	case t == nil && !create:
		return nil
	case t == nil:
		t = &topicState{gen: s.epoch, name: string(topic)}
		g.topics[t.name] = t
	case !s.owned(t.gen):
		t = &topicState{gen: s.epoch, name: t.name, parts: t.parts.clone()}
		g.topics[t.name] = t
	}
	return t
}

// dropIfEmpty forgets a writable group that holds nothing any more.
func (s *State) dropIfEmpty(g *groupState) {
	if g.keys == 0 && !g.hasGen {
		delete(s.writableShard(s.shardOf([]byte(g.name))).groups, g.name)
		s.c.groups--
	}
}

// get looks a key up; the []byte arguments are not retained.
func (s *State) get(group, topic []byte, partition int32) (entry, bool) {
	g := s.group(group)
	if g == nil {
		return entry{}, false
	}
	t := g.topics[string(topic)]
	if t == nil {
		return entry{}, false
	}
	return t.parts.get(partition)
}

// addTime and dropTime keep a group's newest commit time as offsets come
// and go.
func (g *groupState) addTime(at int64) {
	if at >= g.newest {
		g.newest, g.stale = at, false
	}
}

func (g *groupState) dropTime(at int64) {
	if at >= g.newest {
		g.stale = true
	}
}

// newestCommit is the commit time of the group's newest live offset, 0 when
// it has none.
func (g *groupState) newestCommit() int64 {
	if !g.stale {
		return g.newest
	}
	var n int64
	for _, t := range g.topics {
		t.parts.each(func(_ int32, e entry) { n = max(n, e.at) })
	}
	return n
}

// commit applies an offset commit to the key (g, t, partition), whose
// group and topic are writable.
func (s *State) commit(g *groupState, t *topicState, partition int32, e entry) {
	if _, existed := s.put(g, t, partition, e); !existed && len(s.tombs.slot) > 0 {
		s.keyBuf = appendKey(s.keyBuf[:0], TypeOffsetCommit, []byte(g.name), []byte(t.name), partition)
		s.supersedeTomb(s.keyBuf)
	}
}

// putEntry sets a key and returns what it held before.
func (s *State) putEntry(group, topic []byte, partition int32, e entry) (prev entry, existed bool) {
	g := s.writableGroup(group, true)
	return s.put(g, s.writableTopic(g, topic, true), partition, e)
}

// put sets a key of a writable group and topic.
func (s *State) put(g *groupState, t *topicState, partition int32, e entry) (prev entry, existed bool) {
	prev, existed = t.parts.set(partition, e)
	if existed {
		s.c.live -= commitSize(g.name, t.name, prev)
		g.dropTime(prev.at)
	} else {
		s.c.keys++
		g.keys++
	}
	g.addTime(e.at)
	s.c.live += commitSize(g.name, t.name, e)
	if s.journal != nil {
		*s.journal = append(*s.journal, undo{kind: undoOffset, group: g.name, topic: t.name, partition: partition, prev: prev, existed: existed})
	}
	return prev, existed
}

// removeEntry deletes a key and returns what it held. Empty topics go, and
// so do groups left with neither offsets nor a generation.
func (s *State) removeEntry(group, topic []byte, partition int32) (prev entry, existed bool) {
	if _, ok := s.get(group, topic, partition); !ok {
		return entry{}, false
	}
	g := s.writableGroup(group, false)
	t := s.writableTopic(g, topic, false)
	prev, _ = t.parts.del(partition)
	s.c.live -= commitSize(g.name, t.name, prev)
	s.c.keys--
	g.keys--
	g.dropTime(prev.at)
	if g.keys == 0 {
		g.newest, g.stale = 0, false
	}
	if s.journal != nil {
		*s.journal = append(*s.journal, undo{kind: undoOffset, group: g.name, topic: t.name, partition: partition, prev: prev, existed: false, removed: true})
	}
	if t.parts.len() == 0 {
		delete(g.topics, t.name)
	}
	s.dropIfEmpty(g)
	return prev, true
}

// setGeneration sets (has) or clears a group's generation and returns what
// it was.
func (s *State) setGeneration(group []byte, gen int32, has bool, at int64) (prevGen int32, prevHas bool, prevAt int64) {
	g := s.writableGroup(group, has)
	if g == nil {
		return 0, false, 0
	}
	prevGen, prevHas, prevAt = g.generation, g.hasGen, g.genTime
	if prevHas {
		s.c.live -= groupSize(g.name)
		s.c.gens--
	}
	if has {
		s.c.live += groupSize(g.name)
		s.c.gens++
	}
	g.generation, g.hasGen, g.genTime = gen, has, at
	if s.journal != nil {
		*s.journal = append(*s.journal, undo{kind: undoGeneration, group: g.name, gen: prevGen, existed: prevHas, at: prevAt})
	}
	s.dropIfEmpty(g)
	return prevGen, prevHas, prevAt
}

// undo restores one thing a staged change altered, so that a failed Flush
// leaves the state as the log is.
type undo struct {
	kind      undoKind
	group     string // the state's own copies of the names
	topic     string
	partition int32
	prev      entry // undoOffset: the key's value before, if existed
	existed   bool  // undoOffset, undoGeneration: there was a value before
	removed   bool  // undoOffset: the change removed the key
	gen       int32 // undoGeneration
	at        int64 // undoGeneration: the group record's time before
	slot      int32 // undoTombAdd, undoTombKill
	key       string
}

type undoKind uint8

const (
	undoOffset undoKind = iota
	undoGeneration
	undoTombAdd  // a tombstone was added at slot
	undoTombKill // the tombstone at slot was superseded
)

// rollback undoes the journal's changes in reverse order and restores the
// counts saved before them.
func (s *State) rollback(journal []undo, saved counts) {
	j := s.journal
	s.journal = nil
	for i := len(journal) - 1; i >= 0; i-- {
		u := journal[i]
		g, t := []byte(u.group), []byte(u.topic)
		switch u.kind {
		case undoOffset:
			if u.existed || u.removed {
				s.putEntry(g, t, u.partition, u.prev)
			} else {
				s.removeEntry(g, t, u.partition)
			}
		case undoGeneration:
			s.setGeneration(g, u.gen, u.existed, u.at)
		case undoTombAdd:
			s.tombs.unadd(u.slot, u.key)
		case undoTombKill:
			s.tombs.revive(u.slot, u.key)
		}
	}
	s.c = saved
	s.journal = j
}

// tombstone is a live tombstone, or one that was: the latest record of its
// key until dead is set.
type tombstone struct {
	typ       log.RecordType
	group     string
	topic     string
	partition int32
	at        int64 // Unix ms
	// dead is 0 while the tombstone is the latest record of its key, then
	// the State's epoch when a record of its key superseded it; a snapshot
	// of an earlier epoch still sees it live. Atomic: snapshots read it.
	dead uint32
}

func (t *tombstone) size() int64 {
	n := 1 + uvarintLen(uint64(len(t.group))) + len(t.group) + 8
	if t.typ == TypeOffsetTombstone {
		n += uvarintLen(uint64(len(t.topic))) + len(t.topic) + 4
	}
	return recordSize(n)
}

// tombTable holds the live tombstones in the order they were applied, and
// the superseded ones until it is rebuilt. Entries are never moved while a
// snapshot is open, so that the snapshot can read its prefix of the list.
type tombTable struct {
	list  []tombstone
	slot  map[string]int32 // key (see appendKey) -> index in list of its live tombstone
	bytes int64            // record bytes of the live ones
	live  int
	// expiring lists the live tombstones the last checkpoint dropped for
	// their age, still to be forgotten (see forgetExpired); the list is not
	// rebuilt until it is empty, so that these indexes stay valid.
	expiring []int32
}

func (s *State) offsetKey(group, topic []byte, partition int32) []byte {
	s.keyBuf = appendKey(s.keyBuf[:0], TypeOffsetCommit, group, topic, partition)
	return s.keyBuf
}

func (s *State) groupKey(group []byte) []byte {
	s.keyBuf = appendKey(s.keyBuf[:0], TypeGroupMetadata, group, nil, 0)
	return s.keyBuf
}

// addTomb makes t the live tombstone of key, superseding an older one.
func (s *State) addTomb(key []byte, t tombstone) {
	s.supersedeTomb(key)
	i := int32(len(s.tombs.list))
	s.tombs.list = append(s.tombs.list, t)
	k := string(key)
	s.tombs.slot[k] = i
	s.tombs.bytes += t.size()
	s.tombs.live++
	if s.journal != nil {
		*s.journal = append(*s.journal, undo{kind: undoTombAdd, slot: i, key: k})
	}
}

// supersedeTomb marks key's live tombstone, if any, superseded.
func (s *State) supersedeTomb(key []byte) {
	if len(s.tombs.slot) == 0 {
		return
	}
	i, ok := s.tombs.slot[string(key)]
	if !ok {
		return
	}
	s.tombs.kill(i, s.epoch, key)
	if s.journal != nil {
		*s.journal = append(*s.journal, undo{kind: undoTombKill, slot: i, key: string(key)})
	}
}

// kill marks the live tombstone at i, whose key is key, superseded.
func (tt *tombTable) kill(i int32, epoch uint32, key []byte) {
	t := &tt.list[i]
	atomic.StoreUint32(&t.dead, epoch)
	delete(tt.slot, string(key))
	tt.bytes -= t.size()
	tt.live--
}

func (tt *tombTable) revive(i int32, key string) {
	t := &tt.list[i]
	atomic.StoreUint32(&t.dead, 0)
	tt.slot[key] = i
	tt.bytes += t.size()
	tt.live++
}

// unadd removes the tombstone added last, at slot i.
func (tt *tombTable) unadd(i int32, key string) {
	t := &tt.list[i]
	if atomic.LoadUint32(&t.dead) == 0 {
		delete(tt.slot, key)
		tt.bytes -= t.size()
		tt.live--
	}
	tt.list = tt.list[:i]
}

// appendKeyOf is the map key of a tombstone.
func appendKeyOf(t *tombstone) string {
	return string(appendKey(nil, t.typ, []byte(t.group), []byte(t.topic), t.partition))
}

// compact drops the superseded tombstones from the list once they are the
// majority, so that it costs in proportion to the live ones. Never while a
// snapshot is open or expiring is not empty.
func (tt *tombTable) compact() {
	if dead := len(tt.list) - tt.live; dead < 1024 || dead < tt.live {
		return
	}
	list := make([]tombstone, 0, tt.live+tt.live/4)
	for i := range tt.list {
		if t := &tt.list[i]; t.dead == 0 {
			tt.slot[appendKeyOf(t)] = int32(len(list))
			list = append(list, tombstone{typ: t.typ, group: t.group, topic: t.topic, partition: t.partition, at: t.at})
		}
	}
	tt.list = list
}

// Index is the log index of the last record applied.
func (s *State) Index() uint64 { return s.index }

// Keys is the number of live offsets.
func (s *State) Keys() int { return s.c.keys }

// Offset returns the key's live offset, metadata and commit time.
func (s *State) Offset(group, topic []byte, partition int32) (OffsetValue, bool) {
	e, ok := s.get(group, topic, partition)
	return OffsetValue{Offset: e.offset, Metadata: e.metadata(), CommitTime: e.at}, ok
}

// Generation returns the group's generation, and false when it has none.
func (s *State) Generation(group []byte) (int32, bool) {
	g := s.group(group)
	if g == nil || !g.hasGen {
		return 0, false
	}
	return g.generation, true
}

// FetchGroup calls fn for every live offset of the group, sorted by topic
// (byte order of the UTF-8 names, which is code-point order) then
// partition. With topics non-nil only those topics are visited. It costs in
// proportion to the group's offsets, not to the state's.
func (s *State) FetchGroup(group []byte, topics [][]byte, fn func(topic string, partition int32, v OffsetValue)) {
	if g := s.group(group); g != nil {
		g.visit(topics, fn)
	}
}

func (g *groupState) visit(topics [][]byte, fn func(topic string, partition int32, v OffsetValue)) {
	for _, t := range g.sortedTopics(topics) {
		t.parts.sorted(func(p int32, e entry) {
			fn(t.name, p, OffsetValue{Offset: e.offset, Metadata: e.metadata(), CommitTime: e.at})
		})
	}
}

// Groups returns the groups that have at least one live offset, in byte
// (code-point) order.
func (s *State) Groups() []string {
	var names []string
	s.eachGroup(func(g *groupState) {
		if g.keys > 0 {
			names = append(names, g.name)
		}
	})
	slices.Sort(names)
	return names
}

func (s *State) eachGroup(fn func(*groupState)) {
	for _, sh := range s.shards {
		if sh != nil {
			for _, g := range sh.groups {
				fn(g)
			}
		}
	}
}

// GroupInfo describes one group: a group with live offsets, a generation,
// or both.
type GroupInfo struct {
	Name          string
	Offsets       int       // live offsets
	Generation    int32     // valid when HasGeneration
	HasGeneration bool      // a group record set it and no group tombstone followed
	NewestCommit  time.Time // of its live offsets; zero when it has none
}

// GroupInfos returns every group, sorted by name.
func (s *State) GroupInfos() []GroupInfo {
	var out []GroupInfo
	s.eachGroup(func(g *groupState) {
		gi := GroupInfo{Name: g.name, Offsets: g.keys, Generation: g.generation, HasGeneration: g.hasGen}
		if g.keys > 0 {
			gi.NewestCommit = time.UnixMilli(g.newestCommit()).UTC()
		}
		out = append(out, gi)
	})
	slices.SortFunc(out, func(a, b GroupInfo) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Offsets calls fn for every live offset, sorted by group, topic and
// partition, until fn returns false.
func (s *State) Offsets(fn func(k OffsetKey, v OffsetValue) bool) {
	for _, name := range s.sortedGroupNames() {
		stop := false
		s.group([]byte(name)).visit(nil, func(topic string, p int32, v OffsetValue) {
			if !stop && !fn(OffsetKey{Group: name, Topic: topic, Partition: p}, v) {
				stop = true
			}
		})
		if stop {
			return
		}
	}
}

func (s *State) sortedGroupNames() []string {
	names := make([]string, 0, s.c.groups)
	s.eachGroup(func(g *groupState) { names = append(names, g.name) })
	slices.Sort(names)
	return names
}

// Tombstones calls fn for every live tombstone (the latest record of its
// key), in the order they were applied, until fn returns false. For a group
// tombstone only k.Group is set.
func (s *State) Tombstones(fn func(typ log.RecordType, k OffsetKey, at time.Time) bool) {
	for i := range s.tombs.list {
		if t := &s.tombs.list[i]; t.dead == 0 && !fn(t.typ, OffsetKey{Group: t.group, Topic: t.topic, Partition: t.partition}, time.UnixMilli(t.at).UTC()) {
			return
		}
	}
}

// Counts says what the applied records were and what is live.
type Counts struct {
	Records          uint64 // records applied (a checkpoint's count as its own records)
	RecordBytes      int64  // their log.Record.Size total: the log's record bytes
	Commits          uint64 // records applied, by type
	OffsetTombstones uint64
	GroupMetadata    uint64
	GroupTombstones  uint64
	// TombstoneRecordBytes is the record bytes of the tombstone records
	// applied (offset and group tombstones), live or not.
	TombstoneRecordBytes int64

	LiveKeys    int   // live offsets
	Groups      int   // groups with a live offset or a generation
	Generations int   // groups with a generation
	LiveBytes   int64 // record bytes of the records holding live offsets and generations
	// Tombstones are the live tombstones (the latest record of their key),
	// which a checkpoint keeps for the tombstone retention.
	Tombstones     int
	TombstoneBytes int64
}

// Counts returns the state's counts.
func (s *State) Counts() Counts { return s.c.export(s.tombs.live, s.tombs.bytes) }

func (c *counts) export(tombs int, tombBytes int64) Counts {
	return Counts{
		Records: c.records, RecordBytes: c.recordBytes,
		Commits: c.byType[TypeOffsetCommit], OffsetTombstones: c.byType[TypeOffsetTombstone],
		GroupMetadata: c.byType[TypeGroupMetadata], GroupTombstones: c.byType[TypeGroupTombstone],
		TombstoneRecordBytes: c.tombBytes,
		LiveKeys:             c.keys, Groups: c.groups, Generations: c.gens, LiveBytes: c.live,
		Tombstones: tombs, TombstoneBytes: tombBytes,
	}
}

// CommitTimes returns the commit times of the oldest and the newest live
// offsets, zero when there are none. It visits every offset.
func (s *State) CommitTimes() (oldest, newest time.Time) {
	var lo, hi int64
	first := true
	s.eachGroup(func(g *groupState) {
		for _, t := range g.topics {
			t.parts.each(func(_ int32, e entry) {
				if first || e.at < lo {
					lo = e.at
				}
				if first || e.at > hi {
					hi = e.at
				}
				first = false
			})
		}
	})
	if first {
		return time.Time{}, time.Time{}
	}
	return time.UnixMilli(lo).UTC(), time.UnixMilli(hi).UTC()
}

// KeptBytes is the record bytes a compaction now would keep, at most: the
// live records and the live tombstones (less those a checkpoint drops for
// their age). DirtyRatio is 1 - KeptBytes / RecordBytes.
func (c Counts) KeptBytes() int64 { return c.LiveBytes + c.TombstoneBytes }

// DirtyRatio is State.DirtyRatio of the state these counts are of.
func (c Counts) DirtyRatio() float64 { return dirtyRatio(c.KeptBytes(), c.RecordBytes) }

// DirtyRatio is the share of the log's record bytes that a compaction now
// would drop: 1 - (live records + live tombstones) / all records. A
// tombstone that is the latest record of its key counts as live, even past
// the tombstone retention, until a compaction drops it: a compaction right
// after one then finds nothing to drop, so the trigger cannot loop on a log
// of recent deletes that no compaction can shrink. The node's trigger and
// offsets-log stats both use this definition.
func (s *State) DirtyRatio() float64 { return dirtyRatio(s.c.live+s.tombs.bytes, s.c.recordBytes) }

func dirtyRatio(kept, total int64) float64 {
	if total == 0 {
		return 0
	}
	return max(0, 1-float64(kept)/float64(total))
}

// Snapshot is a read-only view of a State as of the index it was taken at.
// The State goes on applying records meanwhile, copying on first change
// what it shares with the snapshot (a shard of the group table, a group's
// topic table, a topic's partitions), so a snapshot costs in proportion to
// what changes while it is open, and taking one copies 256 pointers. It may
// be read on another goroutine than the State's. Close it with
// State.Release.
type Snapshot struct {
	shards [stateShards]*shard
	tombs  []tombstone
	epoch  uint32
	index  uint64
	c      counts
	// the live tombstones' count and bytes
	tombLive  int
	tombBytes int64

	// Filled in by Records: what the checkpoint holds, and the tombstones
	// it dropped for their age.
	written       bool
	kept          counts
	keptTombBytes int64
	expired       []int32
}

// Snapshot opens a snapshot of the state as it is now. Only one may be
// open at a time.
func (s *State) Snapshot() *Snapshot {
	if s.shared {
		panic("consumeroffsets: a snapshot is already open")
	}
	sn := &Snapshot{shards: s.shards, tombs: s.tombs.list, epoch: s.epoch, index: s.index, c: s.c,
		tombLive: s.tombs.live, tombBytes: s.tombs.bytes}
	s.epoch++
	s.shared = true
	return sn
}

// Index is the log index the snapshot was taken at.
func (sn *Snapshot) Index() uint64 { return sn.index }

// Records calls fn for the latest record of every key as of the snapshot,
// leaving out tombstones written at or before horizon: the contents of a
// checkpoint, which replays to the same state (each record acts on its own
// key, so their order does not matter; it is sorted, so that the same state
// always gives the same checkpoint). data is valid only during the call.
func (sn *Snapshot) Records(horizon time.Time, fn func(t log.RecordType, data []byte) error) error {
	sn.written, sn.kept, sn.keptTombBytes, sn.expired = true, counts{}, 0, nil
	emit := func(t log.RecordType, data []byte) error {
		size := recordSize(len(data))
		sn.kept.records++
		sn.kept.recordBytes += size
		sn.kept.byType[t]++
		if t == TypeOffsetTombstone || t == TypeGroupTombstone {
			sn.keptTombBytes += size
			sn.kept.tombBytes += size
		}
		return fn(t, data)
	}
	type named struct {
		name string
		g    *groupState
	}
	var groups []named
	for _, sh := range sn.shards {
		if sh != nil {
			for name, g := range sh.groups {
				groups = append(groups, named{name, g})
			}
		}
	}
	slices.SortFunc(groups, func(a, b named) int { return strings.Compare(a.name, b.name) })
	var buf []byte
	for _, ng := range groups {
		g := ng.g
		name := []byte(g.name)
		if g.hasGen {
			buf = AppendGroupMetadata(buf[:0], name, g.generation, g.genTime)
			if err := emit(TypeGroupMetadata, buf); err != nil {
				return err
			}
		}
		for _, t := range g.sortedTopics(nil) {
			topic := []byte(t.name)
			var err error
			t.parts.sorted(func(p int32, e entry) {
				if err == nil {
					buf = AppendOffsetCommit(buf[:0], name, topic, p, OffsetValue{Offset: e.offset, Metadata: e.metadata(), CommitTime: e.at})
					err = emit(TypeOffsetCommit, buf)
				}
			})
			if err != nil {
				return err
			}
		}
	}
	cutoff := horizon.UnixMilli()
	for i := range sn.tombs {
		t := &sn.tombs[i]
		if d := atomic.LoadUint32(&t.dead); d != 0 && d <= sn.epoch {
			continue // superseded before the snapshot
		}
		if t.at <= cutoff {
			sn.expired = append(sn.expired, int32(i))
			continue
		}
		if t.typ == TypeOffsetTombstone {
			buf = AppendOffsetTombstone(buf[:0], []byte(t.group), []byte(t.topic), t.partition, t.at)
		} else {
			buf = AppendGroupTombstone(buf[:0], []byte(t.group), t.at)
		}
		if err := emit(t.typ, buf); err != nil {
			return err
		}
	}
	return nil
}

// TombstonesKept is the number of tombstones, and their record bytes,
// that the last call of Records wrote.
func (sn *Snapshot) TombstonesKept() (n uint64, bytes int64) {
	return sn.kept.byType[TypeOffsetTombstone] + sn.kept.byType[TypeGroupTombstone], sn.keptTombBytes
}

// Counts returns the counts of the state the snapshot was taken of.
func (sn *Snapshot) Counts() Counts { return sn.c.export(sn.tombLive, sn.tombBytes) }

// Release closes the snapshot sn, on the State's goroutine. With
// checkpointed set, a checkpoint of what sn.Records wrote now replaces the
// log through sn's index: the state's counts of the log's records follow,
// and the tombstones the checkpoint left out for their age are forgotten:
// up to expireBatch now, the rest by later calls (the Store makes one after
// every batch), so that no call stalls its goroutine for long.
func (s *State) Release(sn *Snapshot, checkpointed bool) {
	s.shared = false
	if checkpointed && sn.written {
		s.c.records += sn.kept.records - sn.c.records
		s.c.recordBytes += sn.kept.recordBytes - sn.c.recordBytes
		for t := range s.c.byType {
			s.c.byType[t] += sn.kept.byType[t] - sn.c.byType[t]
		}
		s.c.tombBytes += sn.kept.tombBytes - sn.c.tombBytes
		s.tombs.expiring = append(s.tombs.expiring, sn.expired...)
	}
	s.forgetExpired()
}

// expireBatch bounds the tombstones forgetExpired forgets in one call, so
// that the end of a compaction that dropped a million never stalls the
// serving goroutine for long.
const expireBatch = 4096

// forgetExpired forgets up to expireBatch of the tombstones that the last
// checkpoint dropped for their age (until then they count as live, which
// only makes the dirty ratio lower), and then tidies the table. The Store
// calls it after every batch.
func (s *State) forgetExpired() {
	tt := &s.tombs
	n := min(len(tt.expiring), expireBatch)
	for _, i := range tt.expiring[len(tt.expiring)-n:] {
		if t := &tt.list[i]; atomic.LoadUint32(&t.dead) == 0 {
			s.keyBuf = appendKey(s.keyBuf[:0], t.typ, []byte(t.group), []byte(t.topic), t.partition)
			tt.kill(i, s.epoch, s.keyBuf)
		}
	}
	tt.expiring = tt.expiring[:len(tt.expiring)-n]
	if len(tt.expiring) == 0 && !s.shared {
		tt.compact()
	}
}

// sortedTopics returns a group's topic states in byte order of their names
// (which is code-point order for UTF-8), keeping only the named topics when
// names is non-nil.
func (g *groupState) sortedTopics(names [][]byte) []*topicState {
	var ts []*topicState
	if names == nil {
		ts = make([]*topicState, 0, len(g.topics))
		for _, t := range g.topics {
			ts = append(ts, t)
		}
	} else {
		for _, n := range names {
			if t := g.topics[string(n)]; t != nil && !slices.Contains(ts, t) {
				ts = append(ts, t)
			}
		}
	}
	slices.SortFunc(ts, func(a, b *topicState) int { return strings.Compare(a.name, b.name) })
	return ts
}

// sortedPartitions returns a topic's partitions in numeric order.
func (t *topicState) sortedPartitions() []int32 { return t.parts.partitions() }
