package main

import (
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Goals from the spec and issue 10 (throughput with fsync). They are
// checked, never tuned for: the benchmark reports FALL SHORT rather than
// change the workload to pass.
const (
	goalNodeFsync     = 1_000_000 // req/s, offsets-node with fsync on (issue 10)
	goalVsNaiveFsync  = 100       // times naivenode with one fsync per commit
	specPythonLearner = 85_000    // req/s the spec cites for the Python learner
)

// Variant IDs, as accepted by -variants.
const (
	variantNodeFsync  = "node-fsync"
	variantNodeNone   = "node-none"
	variantNaiveFsync = "naive-fsync"
	variantNaiveNone  = "naive-none"
	variantPython     = "python"
)

// report is everything the benchmark prints at the end.
type report struct {
	Env      [][2]string // (name, value) lines describing the machine and workload
	Variants []variant   // in table order
	Runs     []runResult // every run, in the order they ran
	Notes    []string    // variants skipped and why
}

// summaries returns the throughput summary of each variant that has runs.
func (r report) summaries() map[string]summary {
	per := map[string][]float64{}
	for _, run := range r.Runs {
		per[run.Variant] = append(per[run.Variant], run.perSecond())
	}
	out := map[string]summary{}
	for id, xs := range per {
		out[id] = summarize(xs)
	}
	return out
}

// writeText writes the report as Markdown: environment, table, ratios, goals.
func (r report) writeText(w io.Writer) error {
	var b strings.Builder
	b.WriteString("## Throughput\n\n")
	for _, kv := range r.Env {
		fmt.Fprintf(&b, "- %s: %s\n", kv[0], kv[1])
	}
	b.WriteString("\n")

	sums := r.summaries()
	rows := [][]string{{"variant", "requests", "runs", "median req/s", "min req/s", "max req/s", "note"}}
	for _, v := range r.Variants {
		s, ok := sums[v.ID]
		if !ok {
			continue
		}
		rows = append(rows, []string{v.Label, commas(float64(v.Workload.Requests)), strconv.Itoa(s.N),
			commas(s.Median), commas(s.Min), commas(s.Max), v.Note})
	}
	writeTable(&b, rows, []bool{false, true, true, true, true, true, false})
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "\nNote: %s\n", n)
	}

	b.WriteString("\n### Ratios (of medians)\n\n")
	prefix := ""
	for _, v := range r.Variants {
		if v.ID == variantNaiveFsync {
			prefix = fmt.Sprintf(" (naive fsync ran on the first %s requests only)", commas(float64(v.Workload.Requests)))
		}
	}
	ratios := []struct{ num, den, label, extra string }{
		{variantNodeFsync, variantNaiveFsync, "offsets-node fsync / naive fsync", prefix},
		{variantNodeFsync, variantPython, "offsets-node fsync / python learner", ""},
		{variantNodeNone, variantNaiveNone, "offsets-node none / naive none", ""},
	}
	for _, q := range ratios {
		text := ratioText(sums, q.num, q.den)
		if text != notMeasured {
			text += q.extra
		}
		fmt.Fprintf(&b, "- %s: %s\n", q.label, text)
	}

	b.WriteString("\n### Goals from the spec and issue 10\n\n")
	for _, g := range checkGoals(sums) {
		fmt.Fprintf(&b, "- %-11s %s: %s\n", g.Verdict, g.Text, g.Detail)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

const notMeasured = "not measured"

// ratioText returns the ratio of the medians of variants num and den, as
// "12.3x".
func ratioText(sums map[string]summary, num, den string) string {
	n, okN := sums[num]
	d, okD := sums[den]
	if !okN || !okD || d.Median == 0 {
		return notMeasured
	}
	return fmt.Sprintf("%.1fx", n.Median/d.Median)
}

// goal is one throughput target from the spec and whether it was met.
type goal struct {
	Text    string
	Verdict string // "PASS", "FALL SHORT" or "NOT RUN"
	Detail  string
}

// checkGoals compares the medians in sums with the spec's goals.
func checkGoals(sums map[string]summary) []goal {
	verdict := func(ok bool) string {
		if ok {
			return "PASS"
		}
		return "FALL SHORT"
	}
	node, haveNode := sums[variantNodeFsync]
	var goals []goal

	g := goal{Text: "offsets-node fsync >= " + commas(goalNodeFsync) + " req/s", Verdict: "NOT RUN", Detail: "node-fsync not measured"}
	if haveNode {
		g.Verdict = verdict(node.Median >= goalNodeFsync)
		g.Detail = "median " + commas(node.Median) + " req/s"
	}
	goals = append(goals, g)

	g = goal{Text: fmt.Sprintf("offsets-node fsync >= %dx naive fsync", goalVsNaiveFsync), Verdict: "NOT RUN", Detail: "node-fsync or naive-fsync not measured"}
	if naive, ok := sums[variantNaiveFsync]; haveNode && ok && naive.Median > 0 {
		x := node.Median / naive.Median
		g.Verdict = verdict(x >= goalVsNaiveFsync)
		g.Detail = fmt.Sprintf("%.1fx (%s vs %s req/s)", x, commas(node.Median), commas(naive.Median))
	}
	goals = append(goals, g)

	g = goal{Text: "offsets-node fsync > python learner (spec: ~" + commas(specPythonLearner) + " req/s)", Verdict: "NOT RUN", Detail: "node-fsync not measured"}
	if haveNode {
		if py, ok := sums[variantPython]; ok {
			g.Verdict = verdict(node.Median > py.Median)
			g.Detail = fmt.Sprintf("%s vs %s req/s measured here", commas(node.Median), commas(py.Median))
		} else {
			g.Verdict = verdict(node.Median > specPythonLearner)
			g.Detail = fmt.Sprintf("%s req/s vs the spec's %s (learner not run here)", commas(node.Median), commas(specPythonLearner))
		}
	}
	return append(goals, g)
}

// writeTable writes rows as a Markdown table padded to line up in a
// terminal; the first row is the header. right marks right-aligned columns.
func writeTable(b *strings.Builder, rows [][]string, right []bool) {
	widths := make([]int, len(rows[0]))
	for _, row := range rows {
		for i, cell := range row {
			widths[i] = max(widths[i], utf8.RuneCountInString(cell), 3)
		}
	}
	line := func(cells []string) {
		b.WriteString("|")
		for i, c := range cells {
			pad := strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c))
			if right[i] {
				b.WriteString(" " + pad + c + " |")
			} else {
				b.WriteString(" " + c + pad + " |")
			}
		}
		b.WriteString("\n")
	}
	line(rows[0])
	sep := make([]string, len(widths))
	for i, w := range widths {
		sep[i] = strings.Repeat("-", w)
		if right[i] {
			sep[i] = sep[i][1:] + ":"
		}
	}
	line(sep)
	for _, row := range rows[1:] {
		line(row)
	}
}

// writeCSV writes one row per run: variant, run, requests, seconds, req_per_s.
func writeCSV(w io.Writer, runs []runResult) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"variant", "run", "requests", "seconds", "req_per_s"})
	for _, r := range runs {
		cw.Write([]string{r.Variant, strconv.Itoa(r.Run), strconv.Itoa(r.Requests),
			strconv.FormatFloat(r.Seconds, 'f', 6, 64), strconv.FormatFloat(r.perSecond(), 'f', 1, 64)})
	}
	cw.Flush()
	return cw.Error()
}

// commas formats x rounded to an integer with thousands separators:
// 612345.4 becomes "612,345".
func commas(x float64) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	s := strconv.FormatInt(int64(math.Round(x)), 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
