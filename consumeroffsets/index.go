package consumeroffsets

// index holds the latest value of every live key, nested by group and topic
// so that a group's or a topic's keys can be found without scanning all of
// them, and so that each group and topic name is stored once.
type index struct {
	groups map[string]*groupState
	keys   int   // live offset keys
	live   int64 // bytes in the log of the records that hold live keys
}

type groupState struct {
	topics map[string]*topicState
	keys   int
	// newestCommit is the Unix millisecond time of the group's latest
	// commit, for offset retention.
	newestCommit int64
}

type topicState struct {
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

// put sets a key and returns what it held before. Names are copied into the
// index only the first time a group or topic appears. at is the commit's
// time; the group's newest commit time never moves back.
func (x *index) put(group, topic []byte, partition int32, e entry, at int64) (prev entry, existed bool) {
	g := x.groups[string(group)]
	if g == nil {
		g = &groupState{topics: make(map[string]*topicState)}
		x.groups[string(group)] = g
	}
	t := g.topics[string(topic)]
	if t == nil {
		t = &topicState{parts: make(map[int32]entry)}
		g.topics[string(topic)] = t
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
	return prev, existed
}

// remove deletes a key and returns what it held. Empty topics and groups go
// too, so that every group in the index has at least one live key.
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
		delete(g.topics, string(topic))
	}
	if g.keys == 0 {
		delete(x.groups, string(group))
	}
	return prev, true
}
