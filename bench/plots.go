package main

import (
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

var (
	colorBlue   = color.RGBA{R: 31, G: 119, B: 180, A: 255}
	colorOrange = color.RGBA{R: 255, G: 127, B: 14, A: 255}
	colorGreen  = color.RGBA{R: 44, G: 160, B: 44, A: 255}
	colorGray   = color.RGBA{R: 120, G: 120, B: 120, A: 255}
	colorRed    = color.RGBA{R: 214, G: 39, B: 40, A: 255}
	colorBand   = color.NRGBA{R: 255, G: 90, B: 90, A: 80}
	seriesColor = []color.Color{colorBlue, colorOrange, colorGreen, colorRed, colorGray}
)

const plotW, plotH = 9 * vg.Inch, 5 * vg.Inch

// writePlots draws the PNGs of the measurements that ran.
func (s *suite) writePlots(dir string) error {
	type job struct {
		name string
		make func() (*figure, error)
	}
	var jobs []job
	if s.Sawtooth != nil && len(s.Sawtooth.Samples) > 0 {
		jobs = append(jobs, job{pngLogSize, s.plotLogSize})
	}
	if len(s.Clat) > 0 {
		jobs = append(jobs, job{pngClatOverTime, s.plotClatOverTime})
	}
	if len(s.Compaction) > 0 {
		jobs = append(jobs, job{pngCompactionTime, s.plotCompactionTime}, job{pngRestart, s.plotRestart})
	}
	if s.Cluster != nil && len(s.Cluster.Throughput) > 0 {
		jobs = append(jobs, job{pngClusterThroughput, s.Cluster.plotThroughput})
	}
	if s.Cluster != nil && len(s.Cluster.Failover) > 0 {
		jobs = append(jobs, job{pngClusterFailover, s.Cluster.plotFailover})
	}
	for _, j := range jobs {
		p, err := j.make()
		if err != nil {
			return fmt.Errorf("plot %s: %w", j.name, err)
		}
		if err := p.save(filepath.Join(dir, j.name)); err != nil {
			return fmt.Errorf("plot %s: %w", j.name, err)
		}
	}
	return nil
}

// niceTicks labels a linear axis at multiples of 1, 2 or 5 times a power
// of ten, four to ten of them, with unlabelled ticks halfway between: 0,
// 50, ..., 250 or 0.1, 0.2, 0.3, never 0.025, 0.125, 0.225 or only 0 and
// 250 (gonum's DefaultTicks).
type niceTicks struct{}

func (niceTicks) Ticks(lo, hi float64) []plot.Tick {
	if !(hi > lo) {
		return []plot.Tick{{Value: lo, Label: tickLabel(lo)}}
	}
	step := niceStep((hi - lo) / 5)
	half := step / 2
	var ticks []plot.Tick
	for i := math.Ceil(lo/half - 1e-9); i*half <= hi+half*1e-9; i++ {
		v := i*half + 0 // + 0 turns -0 into 0
		tk := plot.Tick{Value: v}
		if math.Mod(math.Abs(i), 2) == 0 {
			tk.Label = tickLabel(v)
		}
		ticks = append(ticks, tk)
	}
	return ticks
}

// niceStep rounds x to 1, 2 or 5 times a power of ten.
func niceStep(x float64) float64 {
	p := math.Pow(10, math.Floor(math.Log10(x)))
	switch m := x / p; {
	case m < 1.5:
		return p
	case m < 3.5:
		return 2 * p
	case m < 7.5:
		return 5 * p
	}
	return 10 * p
}

// logTicks labels a log axis at powers of ten, and at 2 and 5 times them
// when the axis spans three decades or fewer, so that it has at least
// three labels; every 1..9 times a power of ten gets an unlabelled tick.
// An axis inside one decade gets niceTicks' labels.
type logTicks struct{}

func (logTicks) Ticks(lo, hi float64) []plot.Tick {
	if !(lo > 0) || !(hi > lo) {
		return niceTicks{}.Ticks(lo, hi)
	}
	labelled := map[int]bool{1: true}
	if math.Log10(hi/lo) <= 3 {
		labelled[2], labelled[5] = true, true
	}
	var ticks []plot.Tick
	labels := 0
	for e := math.Floor(math.Log10(lo)); math.Pow(10, e) <= hi; e++ {
		for m := 1; m <= 9; m++ {
			v := float64(m) * math.Pow(10, e)
			if v < lo*(1-1e-9) || v > hi*(1+1e-9) {
				continue
			}
			tk := plot.Tick{Value: v}
			if labelled[m] {
				tk.Label = tickLabel(v)
				labels++
			}
			ticks = append(ticks, tk)
		}
	}
	if labels < 2 {
		return niceTicks{}.Ticks(lo, hi)
	}
	return ticks
}

func tickLabel(v float64) string {
	if math.Abs(v) >= 1000 {
		return commas(v)
	}
	// Six significant digits hide float noise such as 0.6000000000000001.
	x, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'g', 6, 64), 64)
	return strconv.FormatFloat(x, 'g', -1, 64)
}

// roomAbove returns the axis maximum that leaves the top share room of
// the axis free above the data's top, on a linear axis from lo (or a log
// one).
func roomAbove(lo, top, room float64, log bool) float64 {
	if log {
		return lo * math.Pow(top/lo, 1/(1-room))
	}
	return lo + (top-lo)/(1-room)
}

// figure is a plot whose legend is drawn inside its data area, in a top
// corner, clear of the axes and of the canvas edge (gonum draws it at the
// canvas' edge, where it clips a right-hand legend's thumbnails and covers
// the top of the axis), over a y range that leaves the legend's height
// free above the data: yLo to yTop, on a log axis when yLog.
type figure struct {
	*plot.Plot
	legendLeft bool
	yLo, yTop  float64 // set yTop > yLo to have save fit the y axis
	yLog       bool
}

// legendMargin is the gap between the legend and the data area's edges.
const legendMargin = 8

// save writes the figure as a PNG of plotW x plotH.
func (f *figure) save(path string) error {
	leg := f.Legend
	f.Legend = plot.NewLegend()
	leg.Top, leg.Left = true, f.legendLeft
	c, err := draw.NewFormattedCanvas(plotW, plotH, "png")
	if err != nil {
		return err
	}
	dc := draw.New(c)
	inside := func() draw.Canvas {
		return draw.Crop(f.DataCanvas(dc), legendMargin, -legendMargin, 0, -legendMargin/2)
	}
	if f.yTop > f.yLo {
		f.Y.Min, f.Y.Max = f.yLo, f.yTop
		in := inside()
		room := float64((leg.Rectangle(in).Size().Y + legendMargin) / f.DataCanvas(dc).Size().Y)
		f.Y.Max = roomAbove(f.yLo, f.yTop, min(room, 0.6), f.yLog)
	}
	// gonum makes room above a log y axis for its label as if the label
	// were centred at the arithmetic middle of the range, which is near the
	// top on a log scale: a wide blank under the title. A space holds the
	// label's column; the label is drawn at the real middle below.
	label := f.Y.Label.Text
	if _, ok := f.Y.Scale.(plot.LogScale); ok && label != "" {
		f.Y.Label.Text = " "
		defer func() { f.Y.Label.Text = label }()
	}
	f.Draw(dc)
	if f.Y.Label.Text != label {
		sty := f.Y.Label.TextStyle
		sty.Rotation += math.Pi / 2
		x := dc.Min.X + f.Y.Label.TextStyle.Height(label) - f.Y.Label.TextStyle.FontExtents().Descent
		data := f.DataCanvas(dc)
		dc.FillText(sty, vg.Point{X: x, Y: data.Center().Y}, label)
	}
	leg.Draw(inside())
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	_, err = c.WriteTo(out)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}

func newPlot(title, x, y string) *figure {
	p := &figure{Plot: plot.New(), legendLeft: true}
	p.Title.Text = title
	p.X.Label.Text = x
	p.Y.Label.Text = y
	p.X.Tick.Marker = niceTicks{}
	p.Y.Tick.Marker = niceTicks{}
	p.Add(plotter.NewGrid())
	return p
}

// band returns a shaded rectangle from x0 to x1 and y0 to y1.
func band(x0, x1, y0, y1 float64) (*plotter.Polygon, error) {
	poly, err := plotter.NewPolygon(plotter.XYs{{X: x0, Y: y0}, {X: x1, Y: y0}, {X: x1, Y: y1}, {X: x0, Y: y1}})
	if err != nil {
		return nil, err
	}
	poly.Color = colorBand
	poly.LineStyle.Width = 0
	return poly, nil
}

func scatter(xys plotter.XYs, c color.Color, shape draw.GlyphDrawer, radius vg.Length) (*plotter.Scatter, error) {
	sc, err := plotter.NewScatter(xys)
	if err != nil {
		return nil, err
	}
	sc.GlyphStyle.Color = c
	sc.GlyphStyle.Shape = shape
	sc.GlyphStyle.Radius = radius
	return sc, nil
}

func (s *suite) plotLogSize() (*figure, error) {
	st := s.Sawtooth
	p := newPlot("Log size over time under sustained commits (compactions shaded)",
		"time since the node started (s)", "data directory size (MiB)")
	xys := make(plotter.XYs, len(st.Samples))
	top := 0.0
	for i, x := range st.Samples {
		xys[i] = plotter.XY{X: x.At, Y: float64(x.Bytes) / (1 << 20)}
		top = max(top, xys[i].Y)
	}
	top *= 1.05
	for i, c := range st.Compactions {
		sp := c.span()
		b, err := band(sp.From, max(sp.To, sp.From+0.005), 0, 1e6) // cut at the axis' top
		if err != nil {
			return nil, err
		}
		p.Add(b)
		if i == 0 {
			p.Legend.Add("compaction running", b)
		}
	}
	line, err := plotter.NewLine(xys)
	if err != nil {
		return nil, err
	}
	line.Color = colorBlue
	line.Width = vg.Points(1.5)
	p.Add(line)
	p.Legend.Add(fmt.Sprintf("size, sampled every %v", st.Spec.Every), line)
	p.yLo, p.yTop = 0, top
	p.X.Min = 0
	p.legendLeft = false
	return p, nil
}

func (s *suite) plotClatOverTime() (*figure, error) {
	p := newPlot("Commit round trip over time, one request at a time (run 1; compactions shaded)",
		"time since the first commit (s)", "commit latency (µs, log scale)")
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = logTicks{}
	var off, on sequentialRun
	for _, r := range s.Clat {
		if r.Run != 1 {
			continue
		}
		if r.Variant == clatOff {
			off = r
		} else if r.Variant == clatOn {
			on = r
		}
	}
	lo, hi := math.Inf(1), 0.0
	for _, r := range []sequentialRun{off, on} {
		for _, x := range r.Samples {
			lo, hi = min(lo, x.Micros), max(hi, x.Micros)
		}
	}
	if hi == 0 {
		return p, nil
	}
	lo, hi = lo*0.8, hi*1.2
	for i, c := range on.Compactions {
		sp := c.span()
		b, err := band(sp.From, max(sp.To, sp.From+0.002), lo, hi*1e6) // cut at the axis' top
		if err != nil {
			return nil, err
		}
		p.Add(b)
		if i == 0 {
			p.Legend.Add("compaction running (compaction=on)", b)
		}
	}
	for _, v := range []struct {
		r     sequentialRun
		label string
		c     color.Color
	}{{off, "compaction=off", colorGray}, {on, "compaction=on", colorBlue}} {
		xys := make(plotter.XYs, len(v.r.Samples))
		for i, x := range v.r.Samples {
			xys[i] = plotter.XY{X: x.At, Y: x.Micros}
		}
		if len(xys) == 0 {
			continue
		}
		sc, err := scatter(xys, v.c, draw.CircleGlyph{}, vg.Points(1.2))
		if err != nil {
			return nil, err
		}
		p.Add(sc)
		p.Legend.Add(v.label, sc)
	}
	p.yLo, p.yTop, p.yLog = lo, hi, true
	p.X.Min = 0
	p.legendLeft = false
	return p, nil
}

func (s *suite) plotCompactionTime() (*figure, error) {
	p := newPlot("Compaction time against log size (every run; log-log)",
		"log size before compaction (MiB, log scale)", "compaction time (s, log scale)")
	p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
	p.X.Tick.Marker, p.Y.Tick.Marker = logTicks{}, logTicks{}
	var keys []int
	for _, c := range s.Compaction {
		if !slices.Contains(keys, c.Spec.Keys) {
			keys = append(keys, c.Spec.Keys)
		}
	}
	slices.Sort(keys)
	xmin, xmax := math.Inf(1), 0.0
	ymin, ymax := math.Inf(1), 0.0
	shapes := []draw.GlyphDrawer{draw.CircleGlyph{}, draw.TriangleGlyph{}, draw.SquareGlyph{}, draw.PlusGlyph{}, draw.CrossGlyph{}}
	for i, k := range keys {
		var xys plotter.XYs
		for _, c := range s.Compaction {
			if c.Spec.Keys == k && c.Seconds > 0 {
				mib := float64(c.BytesBefore) / (1 << 20)
				xys = append(xys, plotter.XY{X: mib, Y: c.Seconds})
				xmin, xmax = min(xmin, mib), max(xmax, mib)
				ymin, ymax = min(ymin, c.Seconds), max(ymax, c.Seconds)
			}
		}
		sc, err := scatter(xys, seriesColor[i%len(seriesColor)], shapes[i%len(shapes)], vg.Points(3))
		if err != nil {
			return nil, err
		}
		p.Add(sc)
		p.Legend.Add(fmt.Sprintf("%s keys", commas(float64(k))), sc)
	}
	if disk := summarize(s.SeqWrite); disk.N > 0 && xmax > 0 {
		// Issue 3's goal, for information: the time to write the same bytes
		// at half the disk's sequential speed.
		rate := diskShareInfo * disk.Median * 1e6 / (1 << 20) // MiB/s
		goalLine, err := plotter.NewLine(plotter.XYs{{X: xmin, Y: xmin / rate}, {X: xmax, Y: xmax / rate}})
		if err != nil {
			return nil, err
		}
		goalLine.Color = colorRed
		goalLine.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		p.Add(goalLine)
		p.Legend.Add(fmt.Sprintf("size / (%.1f x disk write, %s MB/s): issue 3's goal, information", diskShareInfo, fmtNum(disk.Median)), goalLine)
		ymin, ymax = min(ymin, xmin/rate), max(ymax, xmax/rate)
	}
	if xmax > 0 {
		// Issue 11's goal: a checkpoint of 10^6 live keys within 0.3 s,
		// whatever the log's size.
		limit, err := plotter.NewLine(plotter.XYs{{X: xmin, Y: goalCheckpointSeconds}, {X: xmax, Y: goalCheckpointSeconds}})
		if err != nil {
			return nil, err
		}
		limit.Color = colorRed
		p.Add(limit)
		p.Legend.Add(fmt.Sprintf("goal: %s live keys within %s s; above = too slow", commas(goalLiveKeys), fmtNum(goalCheckpointSeconds)), limit)
		ymin, ymax = min(ymin, goalCheckpointSeconds), max(ymax, goalCheckpointSeconds)
	}
	if ymax > 0 {
		// The legend sits top left, where the slowest (largest) logs never are,
		// above the highest point.
		p.yLo, p.yTop, p.yLog = ymin/1.5, ymax*1.3, true
		p.X.Min, p.X.Max = xmin/1.3, xmax*1.3
	}
	return p, nil
}

func (s *suite) plotRestart() (*figure, error) {
	p := newPlot("Restart time against log size (every run)",
		"log size on disk (MiB)", "restart time: process start to init_ok (ms)")
	var before, after plotter.XYs
	for _, c := range s.Compaction {
		before = append(before, plotter.XY{X: float64(c.Before.Bytes) / (1 << 20), Y: c.Before.Seconds * 1e3})
		after = append(after, plotter.XY{X: float64(c.After.Bytes) / (1 << 20), Y: c.After.Seconds * 1e3})
	}
	for _, v := range []struct {
		xys   plotter.XYs
		label string
		c     color.Color
		shape draw.GlyphDrawer
	}{{before, "before compaction", colorOrange, draw.CircleGlyph{}}, {after, "after compaction", colorGreen, draw.TriangleGlyph{}}} {
		sc, err := scatter(v.xys, v.c, v.shape, vg.Points(3))
		if err != nil {
			return nil, err
		}
		p.Add(sc)
		p.Legend.Add(v.label, sc)
	}
	mib, ms := s.restartPoints()
	if f, ok := fitLine(mib, ms); ok {
		fn := plotter.NewFunction(func(x float64) float64 { return f.Intercept + f.Slope*x })
		fn.Color = colorGray
		fn.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		p.Add(fn)
		p.Legend.Add(fmt.Sprintf("least squares: %.1f ms + %s µs/MiB", f.Intercept, fmtNum(f.Slope*1e3)), fn)
		p.X.Min = 0
		p.X.Max = slices.Max(mib) * 1.05
		p.Y.Min = 0
		p.yLo, p.yTop = 0, slices.Max(ms)*1.05
	}
	return p, nil
}
