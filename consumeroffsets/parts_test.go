package consumeroffsets

import (
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestPartsMatchMap drives parts through dense and sparse modes (small
// partition numbers, then stray huge ones, then many small ones again)
// against a map, with clones that must not see later changes.
func TestPartsMatchMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	var ps parts
	model := map[int32]entry{}
	sawSparse, sawDense := false, false
	for i := 0; i < 20000; i++ {
		var p int32
		switch phase := i / 5000; {
		case phase == 1 && rng.IntN(50) == 0:
			p = rng.Int32N(math.MaxInt32) // a stray huge partition
		case phase == 2:
			p = rng.Int32N(4000)
		default:
			p = rng.Int32N(300)
		}
		if rng.IntN(4) == 0 {
			prev, ok := ps.del(p)
			w, wok := model[p]
			if ok != wok || prev != w {
				t.Fatalf("del %d = %v %v, want %v %v", p, prev, ok, w, wok)
			}
			delete(model, p)
		} else {
			e := entry{offset: int64(i), at: int64(p)}
			prev, ok := ps.set(p, e)
			w, wok := model[p]
			if ok != wok || prev != w {
				t.Fatalf("set %d = %v %v, want %v %v", p, prev, ok, w, wok)
			}
			model[p] = e
		}
		sawSparse = sawSparse || ps.sparse != nil
		sawDense = sawDense || (ps.sparse == nil && ps.n > 100)
		if i%997 == 0 {
			c := ps.clone()
			before := slices.Clone(c.partitions())
			ps.set(int32(rng.IntN(300)), entry{offset: 1})
			if !slices.Equal(c.partitions(), before) {
				t.Fatal("a change reached a clone")
			}
			ps = c
		}
		if ps.len() != len(model) {
			t.Fatalf("step %d: len %d, model %d", i, ps.len(), len(model))
		}
	}
	if want := slices.Sorted(maps.Keys(model)); !slices.Equal(ps.partitions(), want) {
		t.Fatalf("partitions differ from the model's")
	}
	for p, w := range model {
		if e, ok := ps.get(p); !ok || e != w {
			t.Fatalf("get %d = %v %v, want %v", p, e, ok, w)
		}
	}
	if !sawSparse || !sawDense {
		t.Fatalf("modes exercised: sparse %v, dense %v", sawSparse, sawDense)
	}
}
