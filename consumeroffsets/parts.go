package consumeroffsets

import (
	"maps"
	"slices"
)

// parts holds a topic's live offsets by partition. Kafka numbers a topic's
// partitions 0 to n-1, so they are usually kept in a slice indexed by
// partition (dense): one memory access per lookup instead of a hash
// table's two, no hashing, 24 bytes per key, already sorted, and copied by
// one memmove. Partition numbers far beyond the count (more than twice the
// live offsets, plus a margin) switch the topic to a map (sparse) until the
// count catches up, so a stray huge partition number never costs a huge
// slice; each switch costs in proportion to offsets inserted since the last.
type parts struct {
	n      int             // live offsets
	dense  []entry         // by partition; offset < 0 where none. Unused when sparse != nil
	sparse map[int32]entry // set while the partitions are too far apart for dense
	max    int32           // highest partition inserted while sparse
}

// denseOK reports whether partitions up to p fit a slice for n offsets.
func denseOK(p int32, n int) bool { return p >= 0 && int64(p) < 2*int64(n)+64 }

var absent = entry{offset: -1}

func (ps *parts) len() int { return ps.n }

func (ps *parts) get(p int32) (entry, bool) {
	if ps.sparse != nil {
		e, ok := ps.sparse[p]
		return e, ok
	}
	if p >= 0 && int(p) < len(ps.dense) {
		if e := ps.dense[p]; e.offset >= 0 {
			return e, true
		}
	}
	return entry{}, false
}

// set stores e at p and returns what it replaced.
func (ps *parts) set(p int32, e entry) (prev entry, existed bool) {
	if ps.sparse == nil {
		if p >= 0 && int(p) < len(ps.dense) {
			prev = ps.dense[p]
			ps.dense[p] = e
			if existed = prev.offset >= 0; !existed {
				ps.n++
				prev = entry{}
			}
			return prev, existed
		}
		if denseOK(p, ps.n+1) {
			for len(ps.dense) < int(p) {
				ps.dense = append(ps.dense, absent)
			}
			ps.dense = append(ps.dense, e)
			ps.n++
			return entry{}, false
		}
		ps.toSparse()
	}
	prev, existed = ps.sparse[p]
	ps.sparse[p] = e
	if !existed {
		ps.n++
		ps.max = max(ps.max, p)
		if denseOK(ps.max, ps.n) {
			ps.toDense()
		}
	}
	return prev, existed
}

// del removes p and returns what it held.
func (ps *parts) del(p int32) (prev entry, existed bool) {
	if prev, existed = ps.get(p); !existed {
		return prev, false
	}
	ps.n--
	if ps.sparse != nil {
		delete(ps.sparse, p)
	} else {
		ps.dense[p] = absent
		for len(ps.dense) > 0 && ps.dense[len(ps.dense)-1].offset < 0 {
			ps.dense = ps.dense[:len(ps.dense)-1]
		}
	}
	return prev, true
}

func (ps *parts) toSparse() {
	m := make(map[int32]entry, ps.n+1)
	for p, e := range ps.dense {
		if e.offset >= 0 {
			m[int32(p)] = e
			ps.max = max(ps.max, int32(p))
		}
	}
	ps.sparse, ps.dense = m, nil
}

func (ps *parts) toDense() {
	d := make([]entry, ps.max+1)
	for i := range d {
		d[i] = absent
	}
	for p, e := range ps.sparse {
		d[p] = e
	}
	ps.dense, ps.sparse, ps.max = d, nil, 0
}

// clone returns a copy sharing nothing with ps.
func (ps *parts) clone() parts {
	c := *ps
	if ps.sparse != nil {
		c.sparse = maps.Clone(ps.sparse)
	} else {
		c.dense = slices.Clone(ps.dense)
	}
	return c
}

// each calls fn for every live offset, in partition order when dense.
func (ps *parts) each(fn func(p int32, e entry)) {
	if ps.sparse != nil {
		for p, e := range ps.sparse {
			fn(p, e)
		}
		return
	}
	for p, e := range ps.dense {
		if e.offset >= 0 {
			fn(int32(p), e)
		}
	}
}

// sorted calls fn for every live offset in partition order.
func (ps *parts) sorted(fn func(p int32, e entry)) {
	if ps.sparse == nil {
		ps.each(fn)
		return
	}
	for _, p := range slices.Sorted(maps.Keys(ps.sparse)) {
		fn(p, ps.sparse[p])
	}
}

// partitions returns the live partitions in order.
func (ps *parts) partitions() []int32 {
	out := make([]int32, 0, ps.n)
	ps.sorted(func(p int32, _ entry) { out = append(out, p) })
	return out
}
