package consumeroffsets

import (
	"slices"
	"strings"
)

// index holds the latest value of every live key, nested by group and topic
// so that a group's or a topic's keys are found without scanning all of
// them, and so that each group and topic name is stored once.
type index struct {
	groups map[string]*groupState
	keys   int   // live offset keys
	live   int64 // bytes in the log of the records that hold live keys
}

// groupState is one group: its offsets and its generation. It exists while
// it has an offset or a generation.
type groupState struct {
	name   string
	topics map[string]*topicState
	keys   int
	// newestCommit is the Unix millisecond time of the group's latest
	// commit, for offset retention.
	newestCommit int64
	generation   int32
	hasGen       bool
	genSize      int32 // bytes of the group record holding the generation
}

type topicState struct {
	name  string
	parts map[int32]entry
}

// entry is one live offset and the size of the log record that holds it,
// which becomes dirty bytes when a later record supersedes it. It is kept
// small, as there is one per key: metadata is usually empty and then costs
// a nil pointer, and commit times are kept per group, not per key.
type entry struct {
	offset int64
	meta   *string
	size   int32
}

func newEntry(offset int64, metadata []byte, size int32) entry {
	e := entry{offset: offset, size: size}
	if len(metadata) > 0 {
		m := string(metadata)
		e.meta = &m
	}
	return e
}

// committed returns the entry as the API shows it.
func (e entry) committed() Committed {
	c := Committed{Offset: e.offset}
	if e.meta != nil {
		c.Metadata = *e.meta
	}
	return c
}

func newIndex() index { return index{groups: make(map[string]*groupState)} }

// group returns a group's state, or nil.
func (x *index) group(group []byte) *groupState { return x.groups[string(group)] }

// ensureGroup returns a group's state, creating it.
func (x *index) ensureGroup(group []byte) *groupState {
	g := x.groups[string(group)]
	if g == nil {
		g = &groupState{name: string(group), topics: make(map[string]*topicState)}
		x.groups[g.name] = g
	}
	return g
}

// dropIfEmpty forgets a group that holds nothing any more.
func (x *index) dropIfEmpty(g *groupState) {
	if g.keys == 0 && !g.hasGen {
		delete(x.groups, g.name)
	}
}

// get looks a key up; the []byte arguments are not retained.
func (x *index) get(group, topic []byte, partition int32) (entry, bool) {
	g := x.groups[string(group)]
	if g == nil {
		return entry{}, false
	}
	t := g.topics[string(topic)]
	if t == nil {
		return entry{}, false
	}
	e, ok := t.parts[partition]
	return e, ok
}

// put sets a key and returns what it held before, and the group and topic
// states (whose names callers may keep: they are the index's own copies).
// The group's newest commit time becomes at if that is later.
func (x *index) put(group, topic []byte, partition int32, e entry, at int64) (g *groupState, t *topicState, prev entry, existed bool) {
	g = x.ensureGroup(group)
	t = g.topics[string(topic)]
	if t == nil {
		t = &topicState{name: string(topic), parts: make(map[int32]entry)}
		g.topics[t.name] = t
	}
	prev, existed = t.parts[partition]
	t.parts[partition] = e
	g.newestCommit = max(g.newestCommit, at)
	x.live += int64(e.size)
	if existed {
		x.live -= int64(prev.size)
	} else {
		x.keys++
		g.keys++
	}
	return g, t, prev, existed
}

// remove deletes a key and returns what it held. Empty topics go, and so do
// groups left with neither offsets nor a generation.
func (x *index) remove(group, topic []byte, partition int32) (prev entry, existed bool) {
	g := x.groups[string(group)]
	if g == nil {
		return entry{}, false
	}
	t := g.topics[string(topic)]
	if t == nil {
		return entry{}, false
	}
	prev, existed = t.parts[partition]
	if !existed {
		return entry{}, false
	}
	delete(t.parts, partition)
	x.live -= int64(prev.size)
	x.keys--
	g.keys--
	if len(t.parts) == 0 {
		delete(g.topics, t.name)
	}
	x.dropIfEmpty(g)
	return prev, true
}

// setGeneration sets or clears a group's generation and returns what it was.
func (x *index) setGeneration(group []byte, gen int32, has bool, size int32) (prevGen int32, prevHas bool, prevSize int32) {
	g := x.groups[string(group)]
	if g == nil {
		if !has {
			return 0, false, 0
		}
		g = x.ensureGroup(group)
	}
	prevGen, prevHas, prevSize = g.generation, g.hasGen, g.genSize
	g.generation, g.hasGen, g.genSize = gen, has, size
	x.live += int64(size) - int64(prevSize)
	x.dropIfEmpty(g)
	return prevGen, prevHas, prevSize
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
func (t *topicState) sortedPartitions() []int32 {
	ps := make([]int32, 0, len(t.parts))
	for p := range t.parts {
		ps = append(ps, p)
	}
	slices.Sort(ps)
	return ps
}
