package linearizability

import (
	"fmt"
	"hash/maphash"
	"slices"
	"strings"

	"github.com/anishathalye/porcupine"
)

// state is the model's state over one part of the history; it is never
// changed in place (porcupine keeps old states), steps copy it.
type state struct {
	offsets map[Key]int64
	gens    map[string]int32
}

func (s state) clone() state {
	c := state{offsets: make(map[Key]int64, len(s.offsets)+1), gens: make(map[string]int32, len(s.gens))}
	for k, v := range s.offsets {
		c.offsets[k] = v
	}
	for g, v := range s.gens {
		c.gens[g] = v
	}
	return c
}

// fenced reports whether a commit q is refused for its generation in s.
func (s state) fenced(q Request) bool {
	cur, ok := s.gens[q.Group]
	return q.HasGeneration && ok && q.Generation < cur
}

// apply returns the state after q is applied and what an _ok reply to it
// says (fetch_offset's offset, the deletes' count); fenced commits change
// nothing.
func (s state) apply(q Request) (state, int64) {
	switch q.Type {
	case FetchOffset:
		return s, s.offsets[q.Key()]
	case CommitOffset, CommitOffsets:
		if s.fenced(q) {
			return s, 0
		}
		n := s.clone()
		if q.HasGeneration {
			n.gens[q.Group] = q.Generation
		}
		if q.Type == CommitOffset {
			n.offsets[q.Key()] = q.Offset
		}
		for _, e := range q.Entries {
			n.offsets[Key{q.Group, e.Topic, e.Partition}] = e.Offset
		}
		return n, 0
	case DeleteOffsets:
		n := s.clone()
		var deleted int64
		for k := range s.offsets {
			if k.Group == q.Group && k.Topic == q.Topic && (q.Partitions == nil || slices.Contains(q.Partitions, k.Partition)) {
				delete(n.offsets, k)
				deleted++
			}
		}
		return n, deleted
	case DeleteGroup:
		n := s.clone()
		var deleted int64
		for k := range s.offsets {
			if k.Group == q.Group {
				delete(n.offsets, k)
				deleted++
			}
		}
		delete(n.gens, q.Group)
		return n, deleted
	}
	panic("linearizability: unknown request type " + q.Type)
}

func step(st, in, out any) (bool, any) {
	s, q, o := st.(state), in.(Request), out.(Outcome)
	switch o.Kind {
	case Failed:
		// A refusal changes nothing; a fencing refusal must be right.
		return o.Code != 22 || s.fenced(q), s
	case Unknown:
		n, _ := s.apply(q)
		return true, n
	}
	if q.Type != FetchOffset && q.Type != DeleteOffsets && q.Type != DeleteGroup && s.fenced(q) {
		return false, s // acknowledged, but the node had to fence it
	}
	n, v := s.apply(q)
	switch q.Type {
	case FetchOffset:
		return o.Offset == v, n
	case DeleteOffsets, DeleteGroup:
		return o.Deleted == v, n
	}
	return true, n
}

func equal(a, b any) bool {
	x, y := a.(state), b.(state)
	if len(x.offsets) != len(y.offsets) || len(x.gens) != len(y.gens) {
		return false
	}
	for k, v := range x.offsets {
		if w, ok := y.offsets[k]; !ok || w != v {
			return false
		}
	}
	for g, v := range x.gens {
		if w, ok := y.gens[g]; !ok || w != v {
			return false
		}
	}
	return true
}

var seed = maphash.MakeSeed()

// hash is the sum of one hash per entry, so that map order does not matter.
func hash(a any) uint64 {
	s := a.(state)
	var sum uint64
	for k, v := range s.offsets {
		sum += maphash.Comparable(seed, struct {
			Key
			int64
		}{k, v})
	}
	for g, v := range s.gens {
		sum += maphash.Comparable(seed, struct {
			string
			int32
		}{g, v}) * 31
	}
	return sum
}

// atom is what an operation can touch: a key, or a group's generation.
type atom struct {
	key Key
	gen bool // the generation of key.Group; key's topic and partition are empty
}

// footprints returns, for each operation, the atoms it touches (see the
// package doc's Partitioning).
func footprints(history []porcupine.Operation) [][]atom {
	byGroup := map[string][]Key{}
	byTopic := map[[2]string][]Key{}
	seen := map[Key]bool{}
	note := func(k Key) {
		if !seen[k] {
			seen[k] = true
			byGroup[k.Group] = append(byGroup[k.Group], k)
			byTopic[[2]string{k.Group, k.Topic}] = append(byTopic[[2]string{k.Group, k.Topic}], k)
		}
	}
	for _, op := range history {
		q := op.Input.(Request)
		switch q.Type {
		case CommitOffset, FetchOffset:
			note(q.Key())
		case CommitOffsets:
			for _, e := range q.Entries {
				note(Key{q.Group, e.Topic, e.Partition})
			}
		case DeleteOffsets:
			for _, p := range q.Partitions {
				note(Key{q.Group, q.Topic, p})
			}
		}
	}
	fp := make([][]atom, len(history))
	for i, op := range history {
		q := op.Input.(Request)
		var a []atom
		switch q.Type {
		case CommitOffset, FetchOffset:
			a = append(a, atom{key: q.Key()})
		case CommitOffsets:
			for _, e := range q.Entries {
				a = append(a, atom{key: Key{q.Group, e.Topic, e.Partition}})
			}
		case DeleteOffsets:
			for _, k := range byTopic[[2]string{q.Group, q.Topic}] {
				a = append(a, atom{key: k})
			}
		case DeleteGroup:
			for _, k := range byGroup[q.Group] {
				a = append(a, atom{key: k})
			}
			a = append(a, atom{key: Key{Group: q.Group}, gen: true})
		}
		if q.HasGeneration {
			a = append(a, atom{key: Key{Group: q.Group}, gen: true})
		}
		fp[i] = a
	}
	return fp
}

// partition cuts the history into parts no operation spans, in the order
// of each part's first operation, each part in history order.
func partition(history []porcupine.Operation) [][]porcupine.Operation {
	parent := map[atom]atom{}
	var find func(a atom) atom
	find = func(a atom) atom {
		p, ok := parent[a]
		if !ok || p == a {
			parent[a] = a
			return a
		}
		r := find(p)
		parent[a] = r
		return r
	}
	fp := footprints(history)
	for _, a := range fp {
		for _, x := range a[min(1, len(a)):] {
			parent[find(x)] = find(a[0])
		}
	}
	index := map[atom]int{}
	var parts [][]porcupine.Operation
	for i, op := range history {
		if len(fp[i]) == 0 { // touches nothing: a part of its own
			parts = append(parts, []porcupine.Operation{op})
			continue
		}
		r := find(fp[i][0])
		j, ok := index[r]
		if !ok {
			j = len(parts)
			index[r] = j
			parts = append(parts, nil)
		}
		parts[j] = append(parts[j], op)
	}
	return parts
}

func describeOperation(in, out any) string {
	q, o := in.(Request), out.(Outcome)
	var b strings.Builder
	switch q.Type {
	case CommitOffset:
		fmt.Fprintf(&b, "commit %v = %d", q.Key(), q.Offset)
	case FetchOffset:
		fmt.Fprintf(&b, "fetch %v", q.Key())
	case CommitOffsets:
		fmt.Fprintf(&b, "commit_offsets %s [", q.Group)
		for i, e := range q.Entries {
			if i > 0 {
				b.WriteString(" ")
			}
			fmt.Fprintf(&b, "%s/%d=%d", e.Topic, e.Partition, e.Offset)
		}
		b.WriteString("]")
	case DeleteOffsets:
		if q.Partitions == nil {
			fmt.Fprintf(&b, "delete_offsets %s/%s", q.Group, q.Topic)
		} else {
			fmt.Fprintf(&b, "delete_offsets %s/%s %v", q.Group, q.Topic, q.Partitions)
		}
	case DeleteGroup:
		fmt.Fprintf(&b, "delete_group %s", q.Group)
	}
	if q.HasGeneration {
		fmt.Fprintf(&b, " gen %d", q.Generation)
	}
	b.WriteString(" -> ")
	switch {
	case o.Kind == OK && q.Type == FetchOffset:
		fmt.Fprintf(&b, "%d", o.Offset)
	case o.Kind == OK && (q.Type == DeleteOffsets || q.Type == DeleteGroup):
		fmt.Fprintf(&b, "ok, deleted %d", o.Deleted)
	case o.Kind == OK:
		b.WriteString("ok")
	case o.Code != 0 || o.Kind == Failed:
		fmt.Fprintf(&b, "error %d (%s)", o.Code, o.Kind)
	default:
		b.WriteString("unknown")
	}
	return b.String()
}

func describeState(st any) string {
	s := st.(state)
	var parts []string
	for k, v := range s.offsets {
		parts = append(parts, fmt.Sprintf("%v=%d", k, v))
	}
	for g, v := range s.gens {
		parts = append(parts, fmt.Sprintf("%s gen=%d", g, v))
	}
	slices.Sort(parts)
	if len(parts) == 0 {
		return "{}"
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// Model returns the porcupine model of the offsets store described in the
// package doc: Input a Request, Output an Outcome, partitioned by what
// operations touch.
func Model() porcupine.Model {
	return porcupine.Model{
		Partition: partition,
		Init: func() any {
			return state{offsets: map[Key]int64{}, gens: map[string]int32{}}
		},
		Step:              step,
		Equal:             equal,
		Hash:              hash,
		DescribeOperation: describeOperation,
		DescribeState:     describeState,
	}
}
