package linearizability

import (
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

// OutDirEnv names the environment variable that, when set, is the
// directory where Check writes visualizations; otherwise Check makes a
// new directory under os.TempDir, which it leaves for the reader.
const OutDirEnv = "LINEARIZABILITY_OUT"

// Result is the verdict on a history.
type Result struct {
	// Verdict is porcupine.Ok, porcupine.Illegal, or porcupine.Unknown
	// when a timeout passed before the checker decided.
	Verdict porcupine.CheckResult
	// Operations were checked, Unknown of them with an unknown outcome,
	// in Parts independent parts; Pruned more were left out as unable to
	// change the verdict.
	Operations, Unknown, Parts, Pruned int
	// Detail describes the parts that are not linearizable: their keys,
	// their operations in invocation order and the longest order found
	// that explains a prefix of them. Empty unless Verdict is Illegal.
	Detail string
	// Took is how long the check took.
	Took time.Duration

	info porcupine.LinearizationInfo
}

// Visualize writes porcupine's HTML visualization of the checked history
// (its parts and the longest linearizations found) to w.
func (r Result) Visualize(w io.Writer) error {
	return porcupine.Visualize(Model(), r.info, w)
}

// CheckTimeout bounds how long Check lets porcupine search.
var CheckTimeout = 5 * time.Minute

// CheckOperations checks a history (Recorder.Operations) against Model;
// timeout 0 means none. Operations that cannot change the verdict are left
// out first (see unobservable).
func CheckOperations(history []porcupine.Operation, timeout time.Duration) Result {
	var ops []porcupine.Operation
	res := Result{}
	skip := unobservable(history)
	for i, op := range history {
		if skip[i] {
			res.Pruned++
			continue
		}
		if op.Output.(Outcome).Kind == Unknown {
			res.Unknown++
		}
		ops = append(ops, op)
	}
	res.Operations = len(ops)
	start := time.Now()
	res.Verdict, res.info = porcupine.CheckOperationsVerbose(Model(), ops, timeout)
	res.Took = time.Since(start)
	parts := partition(ops)
	res.Parts = len(parts)
	if res.Verdict == porcupine.Illegal {
		res.Detail = detail(parts, res.info)
	}
	return res
}

// detail describes up to three parts that are not linearizable.
func detail(parts [][]porcupine.Operation, info porcupine.LinearizationInfo) string {
	whole := Model()
	whole.Partition = nil
	partials := info.PartialLinearizationsOperations()
	var b strings.Builder
	shown := 0
	for p, part := range parts {
		if porcupine.CheckOperations(whole, part) {
			continue
		}
		if shown++; shown > 3 {
			b.WriteString("(more parts are not linearizable)\n")
			break
		}
		var keys []string
		seen := map[atom]bool{}
		for _, a := range footprints(part) {
			for _, x := range a {
				if !seen[x] {
					seen[x] = true
					if x.gen {
						keys = append(keys, x.key.Group+" generation")
					} else {
						keys = append(keys, x.key.String())
					}
				}
			}
		}
		slices.Sort(keys)
		fmt.Fprintf(&b, "part of %d operations on %s:\n", len(part), strings.Join(keys, ", "))
		sorted := slices.Clone(part)
		slices.SortStableFunc(sorted, func(x, y porcupine.Operation) int { return compareInt(x.Call, y.Call) })
		const most = 40
		for i, op := range sorted {
			if i == most {
				fmt.Fprintf(&b, "  ... %d more\n", len(sorted)-most)
				break
			}
			fmt.Fprintf(&b, "  client %d  %s  %s\n", op.ClientId, interval(op), describeOperation(op.Input, op.Output))
		}
		var longest []porcupine.Operation
		if p < len(partials) {
			for _, l := range partials[p] {
				if len(l) > len(longest) {
					longest = l
				}
			}
		}
		s := whole.Init()
		for _, op := range longest {
			_, s = step(s, op.Input, op.Output)
		}
		fmt.Fprintf(&b, "  the longest order found explains %d of the %d operations and ends in state %s; no remaining operation can come next\n",
			len(longest), len(part), describeState(s))
	}
	return b.String()
}

func compareInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func interval(op porcupine.Operation) string {
	ret := "never"
	if op.Return != math.MaxInt64 {
		ret = fmt.Sprintf("%.3fms", float64(op.Return)/1e6)
	}
	return fmt.Sprintf("[%.3fms, %s]", float64(op.Call)/1e6, ret)
}

// Check checks the recorder's history and fails t (Errorf) when it is not
// linearizable, or not decided within CheckTimeout, with Result.Detail in the message and the visualization
// written to a file the message names (see OutDirEnv). It logs a summary
// when it is.
func Check(t testing.TB, r *Recorder) Result {
	t.Helper()
	res := CheckOperations(r.Operations(), CheckTimeout)
	if res.Verdict == porcupine.Ok {
		t.Logf("linearizable: %d operations (%d unknown, %d more left out) in %d parts, checked in %v", res.Operations, res.Unknown, res.Pruned, res.Parts, res.Took.Round(time.Millisecond))
		return res
	}
	path, err := writeVisualization(t.Name(), res)
	where := "visualization: " + path
	if err != nil {
		where = "no visualization: " + err.Error()
	}
	verdict := "history not linearizable"
	if res.Verdict == porcupine.Unknown {
		verdict = fmt.Sprintf("linearizability not decided within CheckTimeout (%v)", CheckTimeout)
	}
	t.Errorf("%s: %d operations (%d unknown, %d more left out) in %d parts\n%s%s",
		verdict, res.Operations, res.Unknown, res.Pruned, res.Parts, res.Detail, where)
	return res
}

func writeVisualization(name string, res Result) (string, error) {
	dir := os.Getenv(OutDirEnv)
	if dir == "" {
		d, err := os.MkdirTemp("", "linearizability-")
		if err != nil {
			return "", err
		}
		dir = d
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	clean := strings.Map(func(r rune) rune {
		if r == '/' || r == os.PathSeparator || r == ' ' {
			return '_'
		}
		return r
	}, name)
	path := filepath.Join(dir, clean+".html")
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	if err := res.Visualize(f); err != nil {
		f.Close()
		return "", err
	}
	return path, f.Close()
}

// unobservable marks the operations whose presence cannot change whether
// the history is linearizable, so that the search need not place them:
//
//   - reads with an unknown outcome, and definite refusals other than 22:
//     they change nothing and their outputs say nothing;
//   - writes with an unknown outcome, without a generation, none of whose
//     values any read of the key returned and none of whose keys a delete
//     touches. Without them the history is linearizable if and only if it
//     is with them: an order without one extends by placing it last (it
//     never returns); in an order with one, removing it changes no output,
//     since every read of its keys before the next write of them would
//     have returned its value and no delete counts it.
//
// Left in, each such write can be placed after any of the operations
// that follow its invocation, and porcupine's search grows as 2^n in
// them before it can reject a history (10 of them on one key: 2.8 s).
func unobservable(history []porcupine.Operation) []bool {
	type kv struct {
		k Key
		v int64
	}
	read := map[kv]bool{}
	deleted := map[Key]bool{}
	fp := footprints(history)
	for i, op := range history {
		q, o := op.Input.(Request), op.Output.(Outcome)
		switch {
		case q.Type == FetchOffset && o.Kind == OK:
			read[kv{q.Key(), o.Offset}] = true
		case q.Type == DeleteOffsets || q.Type == DeleteGroup:
			for _, a := range fp[i] {
				if !a.gen {
					deleted[a.key] = true
				}
			}
		}
	}
	skip := make([]bool, len(history))
	for i, op := range history {
		q, o := op.Input.(Request), op.Output.(Outcome)
		switch {
		case o.Kind == Failed && o.Code != 22:
			skip[i] = true
		case o.Kind != Unknown:
		case q.Type == FetchOffset:
			skip[i] = true
		case q.HasGeneration:
		case q.Type == CommitOffset:
			skip[i] = !read[kv{q.Key(), q.Offset}] && !deleted[q.Key()]
		case q.Type == CommitOffsets:
			skip[i] = true
			for _, e := range q.Entries {
				k := Key{q.Group, e.Topic, e.Partition}
				if read[kv{k, e.Offset}] || deleted[k] {
					skip[i] = false
				}
			}
		}
	}
	return skip
}
