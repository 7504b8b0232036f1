package linearizability

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/anishathalye/porcupine"
)

// simulate returns a history of a store that is linearizable by
// construction: each operation takes effect at a random instant between its
// call and its return, in that order, by the model's rules. A tenth of the
// writes end Unknown (half of them applied), a twentieth Failed (not
// applied); clients move on after an unknown outcome, as after a timeout.
func simulate(seed uint64, clients, perClient int) []porcupine.Operation {
	rnd := rand.New(rand.NewPCG(seed, 2))
	type planned struct {
		op      porcupine.Operation
		at      int64 // when it takes effect
		applied bool
	}
	var plan []planned
	for c := 0; c < clients; c++ {
		var now int64
		for i := 0; i < perClient; i++ {
			value := int64(c*1_000_000 + i + 1)
			var q Request
			switch k := rnd.IntN(40); {
			case k < 14:
				q = Commit("g", "t", int32(rnd.IntN(3)), value)
			case k < 28:
				q = Fetch("g", "t", int32(rnd.IntN(3)))
			case k < 32:
				q = CommitBatch("b", Entry{"t", 0, value}, Entry{"t", 1, value})
			case k < 36:
				q = Fetch("b", "t", int32(rnd.IntN(2)))
			case k < 37:
				q = DeleteTopic("b", "t", nil)
			case k < 39:
				q = Commit("f", "t", 0, value).WithGeneration(int32(rnd.IntN(4)))
			default:
				q = Fetch("f", "t", 0)
			}
			call := now + rnd.Int64N(10)
			at := call + rnd.Int64N(30)
			ret := at + rnd.Int64N(30)
			p := planned{op: porcupine.Operation{ClientId: c, Input: q, Call: call, Return: ret}, at: at, applied: true}
			if q.Type != FetchOffset {
				switch k := rnd.IntN(20); {
				case k < 2:
					p.op.Return, p.op.Output = math.MaxInt64, Outcome{Kind: Unknown}
					p.applied = k == 0
					ret = at + 100
				case k < 3:
					p.op.Output, p.applied = Outcome{Kind: Failed, Code: 11}, false
				}
			}
			plan = append(plan, p)
			now = ret
		}
	}
	order := make([]int, len(plan))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return compareInt(plan[a].at, plan[b].at) })
	s := Model().Init().(state)
	for _, i := range order {
		p := &plan[i]
		if !p.applied {
			continue
		}
		q := p.op.Input.(Request)
		next, v := s.apply(q)
		if p.op.Output == nil {
			switch {
			case q.Type == FetchOffset:
				p.op.Output = Outcome{Kind: OK, Offset: v}
			case q.Type == DeleteOffsets:
				p.op.Output = Outcome{Kind: OK, Deleted: v}
			case (q.Type == CommitOffset || q.Type == CommitOffsets) && s.fenced(q):
				p.op.Output = Outcome{Kind: Failed, Code: 22}
			default:
				p.op.Output = Outcome{Kind: OK}
			}
		}
		s = next
	}
	ops := make([]porcupine.Operation, len(plan))
	for i, p := range plan {
		ops[i] = p.op
	}
	return ops
}

// TestRandomLinearizableHistories: histories linearizable by construction,
// with overlapping clients, unknown and failed writes, batches, deletes and
// fencing, are accepted; the same with one read changed to a value never
// written are not.
func TestRandomLinearizableHistories(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		ops := simulate(seed, 8, 150)
		res := CheckOperations(ops, 0)
		if res.Verdict != porcupine.Ok {
			t.Fatalf("seed %d: %v\n%s", seed, res.Verdict, res.Detail)
		}
		for i, op := range ops {
			if o := op.Output.(Outcome); op.Input.(Request).Type == FetchOffset && o.Offset != 0 {
				o.Offset = -1
				ops[i].Output = o
				break
			}
		}
		if res := CheckOperations(ops, 0); res.Verdict != porcupine.Illegal {
			t.Fatalf("seed %d: a read of a value never written: %v", seed, res.Verdict)
		}
		if seed == 1 {
			t.Logf("seed 1: %d operations (%d unknown) in %d parts, checked in %v", res.Operations, res.Unknown, res.Parts, res.Took)
		}
	}
}
