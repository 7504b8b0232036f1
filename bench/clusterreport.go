package main

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Goals from issue 12 (replication). Checked, never tuned for.
const (
	goalClusterLeader     = 500_000 // req/s into the leader
	goalClusterVsSingle   = 0.5     // into the leader, as a share of the single node's req/s
	goalClusterP50Factor  = 3.0     // cluster commit p50 <= this times the single node's
	goalFailoverDefault   = 1.5     // s, failover p50 at the default ticks
	goalFailover10ms      = 0.3     // s, failover p50 with --raft-tick 10ms
	goalCatchupSeconds    = 2.0     // s, a restarted follower applies the leader's commit index within this
	pngClusterThroughput  = "cluster_throughput.png"
	pngClusterFailover    = "cluster_failover.png"
	csvClusterThroughput  = "cluster_throughput.csv"
	csvClusterLatency     = "cluster_latency.csv"
	csvClusterFailover    = "cluster_failover.csv"
	csvClusterCatchup     = "cluster_catchup.csv"
	noSnapshotNote        = "no snapshot: the restarted follower's log has no installed-snapshot line (the leader had not compacted past it); caught up by log only"
	clusterThroughputNote = "requests / (first request written to the last reply read), the node already started and initialised"
)

var clusterThroughputLabels = map[string]string{
	clusterSingle: "single node",
	clusterLeader: "cluster, into the leader",
	clusterSpread: "cluster, spread over 3",
}

var clusterLatencyLabels = map[string]string{
	clusterSingle:   "single node",
	clusterLeader:   "cluster, into the leader",
	clusterFollower: "cluster, through a follower",
}

// throughput returns the summary of variant's req/s over runs.
func (c *clusterResult) throughput(variant string) summary {
	var xs []float64
	for _, r := range c.Throughput {
		if r.Variant == variant {
			xs = append(xs, r.perSecond())
		}
	}
	return summarize(xs)
}

// failover returns the failover times (s) at ticks.
func (c *clusterResult) failover(ticks string) []float64 {
	var xs []float64
	for _, f := range c.Failover {
		if f.Ticks == ticks {
			xs = append(xs, f.Seconds)
		}
	}
	return xs
}

// bySnapshot reports whether any catch-up went through a snapshot.
func (c *clusterResult) bySnapshot() bool {
	return slices.ContainsFunc(c.Catchup, func(r catchupRun) bool { return r.BySnapshot })
}

// goals checks issue 12's benchmark goals on what the section measured.
func (c *clusterResult) goals() []goal {
	var out []goal
	single, leader, spread := c.throughput(clusterSingle), c.throughput(clusterLeader), c.throughput(clusterSpread)
	g := goal{Text: "cluster into the leader >= " + commas(goalClusterLeader) + " req/s", Verdict: "NOT RUN", Detail: "not measured"}
	if leader.N > 0 {
		g.Verdict = verdict(leader.Median >= goalClusterLeader)
		g.Detail = fmt.Sprintf("median %s req/s (spread over 3: %s)", commas(leader.Median), commas(spread.Median))
		if n := c.Errors[clusterLeader] + c.Errors[clusterSpread]; n > 0 {
			g.Detail += fmt.Sprintf("; %s error replies", commas(float64(n)))
		}
	}
	out = append(out, g)
	g = goal{Text: fmt.Sprintf("cluster into the leader >= %.1f x the single node's req/s", goalClusterVsSingle), Verdict: "NOT RUN", Detail: "not measured"}
	if leader.N > 0 && single.N > 0 && single.Median > 0 {
		x := leader.Median / single.Median
		g.Verdict = verdict(x >= goalClusterVsSingle)
		g.Detail = fmt.Sprintf("%.2fx (%s vs %s req/s, same run)", x, commas(leader.Median), commas(single.Median))
	}
	out = append(out, g)
	sp50 := percentileOverRuns(c.Latency, clusterSingle, 50, nil)
	for _, v := range []string{clusterLeader, clusterFollower} {
		g = goal{Text: fmt.Sprintf("commit p50, %s <= %.0fx the single node's", clusterLatencyLabels[v], goalClusterP50Factor), Verdict: "NOT RUN", Detail: "not measured"}
		if p := percentileOverRuns(c.Latency, v, 50, nil); p.N > 0 && sp50.N > 0 && sp50.Median > 0 {
			x := p.Median / sp50.Median
			g.Verdict = verdict(x <= goalClusterP50Factor)
			g.Detail = fmt.Sprintf("%.1fx (%s vs %s µs)", x, fmtNum(p.Median), fmtNum(sp50.Median))
		}
		out = append(out, g)
	}
	for _, t := range []struct {
		ticks string
		goal  float64
	}{{ticksDefault, goalFailoverDefault}, {ticks10ms, goalFailover10ms}} {
		g = goal{Text: fmt.Sprintf("failover p50, %s <= %s ms", t.ticks, fmtNum(t.goal*1e3)), Verdict: "NOT RUN", Detail: "not measured"}
		if xs := c.failover(t.ticks); len(xs) > 0 {
			sm := summarize(xs)
			g.Verdict = verdict(sm.Median <= t.goal)
			g.Detail = fmt.Sprintf("p50 %s ms (%s-%s) over %d kills", fmtNum(sm.Median*1e3), fmtNum(sm.Min*1e3), fmtNum(sm.Max*1e3), sm.N)
		}
		out = append(out, g)
	}
	g = goal{Text: fmt.Sprintf("catch-up by log: a follower restarted after being down under load applies the leader's commit index within %s s, every run", fmtNum(goalCatchupSeconds)),
		Verdict: "NOT RUN", Detail: "not measured"}
	if len(c.Catchup) > 0 {
		var xs []float64
		for _, r := range c.Catchup {
			xs = append(xs, r.Seconds)
		}
		sm := summarize(xs)
		g.Verdict = verdict(sm.Max <= goalCatchupSeconds)
		g.Detail = fmt.Sprintf("slowest %s ms (median %s) over %d runs, down %v", fmtNum(sm.Max*1e3), fmtNum(sm.Median*1e3), sm.N, c.Down)
		if c.bySnapshot() {
			g.Text = strings.Replace(g.Text, "by log", "by log or snapshot", 1)
		}
	}
	out = append(out, g)
	if len(c.Catchup) > 0 && !c.bySnapshot() {
		out = append(out, goal{Text: "catch-up by snapshot", Verdict: "NOT RUN", Detail: noSnapshotNote})
	}
	return out
}

// writeCluster writes the cluster section of the report.
func (c *clusterResult) write(b *strings.Builder, runs int) {
	b.WriteString("\n## Cluster: three members on loopback TCP against the single node\n\n")
	fmt.Fprintf(b, "Three offsets-node processes with `--cluster n1=127.0.0.1:P1,...` (free loopback ports, fsync on, one data directory each) and the single node (`--sync=fsync`, no `--cluster`), in the same run, interleaved: each of %d runs starts a single node and then a fresh cluster. "+
		"Every node is started and initialised before it is timed. Throughput: the throughput section's workload (%s requests, 80%% commits) written to the leader's stdin pipe, then the same requests dealt round robin over the three members' stdins (followers forward to the leader); req/s = %s. "+
		"Then one commit at a time (%s per run; write, wait for the reply) into the leader and through a follower. The leader is the member every member names in `cluster_status`.\n\n",
		runs, commas(float64(c.Requests)), clusterThroughputNote, commas(float64(c.LatencyN)))
	rows := [][]string{{"throughput", "runs", "median req/s", "min-max req/s", "vs single node", "error replies"}}
	single := c.throughput(clusterSingle)
	for _, v := range []string{clusterSingle, clusterLeader, clusterSpread} {
		sm := c.throughput(v)
		if sm.N == 0 {
			continue
		}
		rows = append(rows, []string{clusterThroughputLabels[v], strconv.Itoa(sm.N), commas(sm.Median),
			commas(sm.Min) + "-" + commas(sm.Max), fmt.Sprintf("%.2fx", sm.Median/single.Median), commas(float64(c.Errors[v]))})
	}
	writeTable(b, rows, []bool{false, true, true, true, true, true})
	fmt.Fprintf(b, "\nThe spread clients keep at most %s requests in flight per member: the leader queues at most 4,096 forwarded requests and refuses more with error 11 (fully pipelined, one follower had 28,240 of its 33,333 requests refused in a -quick run on 2026-12-01). Error replies are counted, not retried; req/s counts every reply.\n", commas(spreadWindow))
	for _, n := range c.Notes {
		fmt.Fprintf(b, "\nNote: %s\n", n)
	}
	b.WriteString("\n")
	rows = [][]string{{"commit round trip", "runs", "p50 µs", "p99 µs", "p50 vs single node"}}
	sp50 := percentileOverRuns(c.Latency, clusterSingle, 50, nil)
	for _, v := range []string{clusterSingle, clusterLeader, clusterFollower} {
		p50, p99 := percentileOverRuns(c.Latency, v, 50, nil), percentileOverRuns(c.Latency, v, 99, nil)
		if p50.N == 0 {
			continue
		}
		rows = append(rows, []string{clusterLatencyLabels[v], strconv.Itoa(p50.N), fmtSummary(p50), fmtSummary(p99), fmt.Sprintf("%.1fx", p50.Median/sp50.Median)})
	}
	writeTable(b, rows, []bool{false, true, true, true, true})
	fmt.Fprintf(b, "\n![throughput, single node and cluster](%s)\n", pngClusterThroughput)

	fmt.Fprintf(b, "\n### Failover\n\nA fresh cluster per tick setting; %d times: wait until all three agree on a leader that acknowledges a commit and every member has applied its commit index, `kill -9` the leader, and send a commit every %v to each survivor; "+
		"the time is from the kill to the first `commit_offset_ok` (of any of those commits, which were all sent after the kill). Then the killed member is restarted on its directory.\n\n",
		c.Kills, failoverSendEvery)
	rows = [][]string{{"raft ticks", "kills", "p50 ms", "min ms", "max ms", "every kill, ms"}}
	for _, t := range []string{ticksDefault, ticks10ms} {
		xs := c.failover(t)
		if len(xs) == 0 {
			continue
		}
		sm := summarize(xs)
		var each []string
		for _, x := range xs {
			each = append(each, fmtNum(x*1e3))
		}
		rows = append(rows, []string{t, strconv.Itoa(sm.N), fmtNum(sm.Median * 1e3), fmtNum(sm.Min * 1e3), fmtNum(sm.Max * 1e3), strings.Join(each, ", ")})
	}
	writeTable(b, rows, []bool{false, true, true, true, true, false})
	fmt.Fprintf(b, "\n![failover times](%s)\n", pngClusterFailover)

	if len(c.Catchup) > 0 {
		fmt.Fprintf(b, "\n### Catch-up of a restarted follower\n\nA fresh cluster (`--snapshot-trailing 1000 --compact-min-bytes 1048576`) per run under %s commits/s into the leader (batches every 10 ms, not waiting for replies); a follower is killed with `kill -9`, kept down %v, restarted on its directory; "+
			"the time is from its process start (replay and init included) until its applied index, in `cluster_status`, reaches the leader's commit index read just before it (polled every 5 ms while the load goes on).\n\n",
			commas(float64(c.LoadRate)), c.Down)
		rows = [][]string{{"run", "follower", "entries behind at restart", "caught up after ms", "how", "load commits acknowledged"}}
		for _, r := range c.Catchup {
			how := "by log"
			if r.BySnapshot {
				how = "by snapshot (its log has an installed-snapshot line), then by log"
			}
			rows = append(rows, []string{strconv.Itoa(r.Run), r.Follower, commas(float64(r.Behind)), fmtNum(r.Seconds * 1e3), how, commas(float64(r.Acked))})
		}
		writeTable(b, rows, []bool{true, false, true, true, false, true})
		if !c.bySnapshot() {
			b.WriteString("\nCatch-up by snapshot not measured: " + noSnapshotNote + ".\n")
		}
	}
	b.WriteString("\nGoals:\n\n")
	for _, g := range c.goals() {
		fmt.Fprintf(b, "- %-11s %s: %s\n", g.Verdict, g.Text, g.Detail)
	}
}

// csvFiles returns the writers of the section's CSV files.
func (c *clusterResult) csvFiles() map[string]func(io.Writer) error {
	return map[string]func(io.Writer) error{
		csvClusterThroughput: func(w io.Writer) error { return writeCSV(w, c.Throughput) },
		csvClusterLatency: func(w io.Writer) error {
			rows := [][]string{{"variant", "run", "i", "t_s", "latency_us"}}
			for _, r := range c.Latency {
				for i, x := range r.Samples {
					rows = append(rows, []string{r.Variant, strconv.Itoa(r.Run), strconv.Itoa(i), ftoa(x.At, 6), ftoa(x.Micros, 1)})
				}
			}
			return writeRows(w, rows)
		},
		csvClusterFailover: func(w io.Writer) error {
			rows := [][]string{{"ticks", "kill", "killed", "acknowledged_by", "seconds"}}
			for _, f := range c.Failover {
				rows = append(rows, []string{f.Ticks, strconv.Itoa(f.Kill), f.Killed, f.Acked, ftoa(f.Seconds, 6)})
			}
			return writeRows(w, rows)
		},
		csvClusterCatchup: func(w io.Writer) error {
			rows := [][]string{{"run", "follower", "down_s", "load_commits_per_s", "behind_entries", "seconds", "by_snapshot", "load_acked"}}
			for _, r := range c.Catchup {
				rows = append(rows, []string{strconv.Itoa(r.Run), r.Follower, ftoa(c.Down.Seconds(), 3), strconv.Itoa(c.LoadRate),
					strconv.FormatUint(r.Behind, 10), ftoa(r.Seconds, 6), strconv.FormatBool(r.BySnapshot), strconv.FormatInt(r.Acked, 10)})
			}
			return writeRows(w, rows)
		},
	}
}

// errorBars are bars' min-max ranges, for plotter.NewYErrorBars.
type errorBars struct {
	plotter.XYs
	plotter.YErrors
}

// plotThroughput draws the median req/s of each throughput variant as a
// bar with its min-max range, and the goals as dashed lines.
func (c *clusterResult) plotThroughput() (*figure, error) {
	p := newPlot("Throughput: the single node and a three-member cluster, fsync on (median, min-max over runs)", "", "requests per second")
	p.legendLeft = false
	var vals plotter.Values
	var bars errorBars
	var names []string
	top := 0.0
	for i, v := range []string{clusterSingle, clusterLeader, clusterSpread} {
		sm := c.throughput(v)
		vals = append(vals, sm.Median)
		bars.XYs = append(bars.XYs, plotter.XY{X: float64(i), Y: sm.Median})
		bars.YErrors = append(bars.YErrors, struct{ Low, High float64 }{sm.Median - sm.Min, sm.Max - sm.Median})
		names = append(names, clusterThroughputLabels[v])
		top = max(top, sm.Max)
	}
	bc, err := plotter.NewBarChart(vals, vg.Points(70))
	if err != nil {
		return nil, err
	}
	bc.Color = colorBlue
	bc.LineStyle.Width = 0
	p.Add(bc)
	p.Legend.Add("median (whiskers: min-max over runs)", bc)
	eb, err := plotter.NewYErrorBars(bars)
	if err != nil {
		return nil, err
	}
	eb.LineStyle.Width = vg.Points(1.5)
	eb.CapWidth = vg.Points(12)
	p.Add(eb)
	hline := func(y float64, col color.Color, label string) error {
		l, err := plotter.NewLine(plotter.XYs{{X: -0.5, Y: y}, {X: 2.5, Y: y}})
		if err != nil {
			return err
		}
		l.Color = col
		l.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
		l.Width = vg.Points(1.2)
		p.Add(l)
		p.Legend.Add(label, l)
		top = max(top, y)
		return nil
	}
	if err := hline(goalClusterLeader, colorRed, "goal into the leader: "+commas(goalClusterLeader)+" req/s"); err != nil {
		return nil, err
	}
	if single := c.throughput(clusterSingle); single.N > 0 {
		if err := hline(goalClusterVsSingle*single.Median, colorGray, fmt.Sprintf("goal: %.1f x the single node's median", goalClusterVsSingle)); err != nil {
			return nil, err
		}
	}
	p.NominalX(names...)
	p.X.Min, p.X.Max = -0.6, 2.6
	p.yLo, p.yTop = 0, top*1.05
	return p, nil
}

// plotFailover draws every failover time against its kill number, one
// series per tick setting, with the goals as dashed lines, on a log axis
// (the two settings are ten times apart).
func (c *clusterResult) plotFailover() (*figure, error) {
	p := newPlot("Failover: kill -9 of the leader to the first acknowledgement of a commit sent after it",
		"kill", "failover time (ms, log scale)")
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = logTicks{}
	lo, hi := math.Inf(1), 0.0
	shapes := []draw.GlyphDrawer{draw.CircleGlyph{}, draw.TriangleGlyph{}}
	for i, t := range []struct {
		ticks string
		goal  float64
		col   color.Color
	}{{ticksDefault, goalFailoverDefault, colorBlue}, {ticks10ms, goalFailover10ms, colorOrange}} {
		var xys plotter.XYs
		for _, f := range c.Failover {
			if f.Ticks == t.ticks {
				xys = append(xys, plotter.XY{X: float64(f.Kill), Y: f.Seconds * 1e3})
				lo, hi = min(lo, f.Seconds*1e3), max(hi, f.Seconds*1e3)
			}
		}
		if len(xys) == 0 {
			continue
		}
		sc, err := scatter(xys, t.col, shapes[i], vg.Points(4))
		if err != nil {
			return nil, err
		}
		p.Add(sc)
		p.Legend.Add(t.ticks+fmt.Sprintf(": p50 %s ms", fmtNum(summarize(c.failover(t.ticks)).Median*1e3)), sc)
		gl, err := plotter.NewLine(plotter.XYs{{X: 0.5, Y: t.goal * 1e3}, {X: float64(c.Kills) + 0.5, Y: t.goal * 1e3}})
		if err != nil {
			return nil, err
		}
		gl.Color = t.col
		gl.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
		p.Add(gl)
		p.Legend.Add(fmt.Sprintf("goal for %s: p50 <= %s ms", t.ticks, fmtNum(t.goal*1e3)), gl)
		lo, hi = min(lo, t.goal*1e3), max(hi, t.goal*1e3)
	}
	if hi == 0 {
		return p, nil
	}
	p.X.Min, p.X.Max = 0.5, float64(c.Kills)+0.5
	p.X.Tick.Marker = killTicks{n: c.Kills}
	p.yLo, p.yTop, p.yLog = lo/1.5, hi*1.5, true
	return p, nil
}

// killTicks labels the kills 1..n.
type killTicks struct{ n int }

func (k killTicks) Ticks(lo, hi float64) []plot.Tick {
	var out []plot.Tick
	for i := 1; i <= k.n; i++ {
		out = append(out, plot.Tick{Value: float64(i), Label: strconv.Itoa(i)})
	}
	return out
}
