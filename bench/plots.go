package main

import (
	"fmt"
	"image/color"
	"math"
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
		make func() (*plot.Plot, error)
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
	for _, j := range jobs {
		p, err := j.make()
		if err != nil {
			return fmt.Errorf("plot %s: %w", j.name, err)
		}
		if err := p.Save(plotW, plotH, filepath.Join(dir, j.name)); err != nil {
			return fmt.Errorf("plot %s: %w", j.name, err)
		}
	}
	return nil
}

// readableTicks relabels another Ticker's major ticks with as few digits
// as they need and thousands separators: "500", not "500.00".
type readableTicks struct{ plot.Ticker }

func (t readableTicks) Ticks(lo, hi float64) []plot.Tick {
	ticks := t.Ticker.Ticks(lo, hi)
	for i, tk := range ticks {
		if tk.Label != "" {
			ticks[i].Label = tickLabel(tk.Value)
		}
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

func newPlot(title, x, y string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = x
	p.Y.Label.Text = y
	p.X.Tick.Marker = readableTicks{plot.DefaultTicks{}}
	p.Y.Tick.Marker = readableTicks{plot.DefaultTicks{}}
	p.Add(plotter.NewGrid())
	p.Legend.Top = true
	p.Legend.Left = true
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

func (s *suite) plotLogSize() (*plot.Plot, error) {
	st := s.Sawtooth
	p := newPlot("Log size over time under sustained commits (compactions shaded)",
		"time since the node started (s)", "data directory size (MiB)")
	xys := make(plotter.XYs, len(st.Samples))
	top := 0.0
	for i, x := range st.Samples {
		xys[i] = plotter.XY{X: x.At, Y: float64(x.Bytes) / (1 << 20)}
		top = max(top, xys[i].Y)
	}
	top *= 1.25 // room for the legend
	for i, c := range st.Compactions {
		sp := c.span()
		b, err := band(sp.From, max(sp.To, sp.From+0.005), 0, top)
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
	p.Y.Min = 0
	p.Y.Max = top
	p.Legend.Left = false
	return p, nil
}

func (s *suite) plotClatOverTime() (*plot.Plot, error) {
	p := newPlot("Commit round trip over time, one request at a time (run 1; compactions shaded)",
		"time since the first commit (s)", "commit latency (µs, log scale)")
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = readableTicks{plot.LogTicks{Prec: -1}}
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
	lo, hi = lo*0.8, hi*4
	for i, c := range on.Compactions {
		sp := c.span()
		b, err := band(sp.From, max(sp.To, sp.From+0.002), lo, hi)
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
	p.Y.Min, p.Y.Max = lo, hi
	p.Legend.Left = false
	return p, nil
}

func (s *suite) plotCompactionTime() (*plot.Plot, error) {
	p := newPlot("Compaction time against log size (every run; log-log)",
		"log size before compaction (MiB, log scale)", "compaction time (s, log scale)")
	p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
	p.X.Tick.Marker, p.Y.Tick.Marker = readableTicks{plot.LogTicks{Prec: -1}}, readableTicks{plot.LogTicks{Prec: -1}}
	var keys []int
	for _, c := range s.Compaction {
		if !slices.Contains(keys, c.Spec.Keys) {
			keys = append(keys, c.Spec.Keys)
		}
	}
	slices.Sort(keys)
	xmin, xmax := math.Inf(1), 0.0
	shapes := []draw.GlyphDrawer{draw.CircleGlyph{}, draw.TriangleGlyph{}, draw.SquareGlyph{}, draw.PlusGlyph{}, draw.CrossGlyph{}}
	for i, k := range keys {
		var xys plotter.XYs
		for _, c := range s.Compaction {
			if c.Spec.Keys == k && c.Seconds > 0 {
				mib := float64(c.BytesBefore) / (1 << 20)
				xys = append(xys, plotter.XY{X: mib, Y: c.Seconds})
				xmin, xmax = min(xmin, mib), max(xmax, mib)
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
		// The goal as a line: the time to write the same bytes at half the
		// disk's sequential speed. Points above it fall short.
		rate := goalCompactionVsDisk * disk.Median * 1e6 / (1 << 20) // MiB/s
		goalLine, err := plotter.NewLine(plotter.XYs{{X: xmin, Y: xmin / rate}, {X: xmax, Y: xmax / rate}})
		if err != nil {
			return nil, err
		}
		goalLine.Color = colorRed
		goalLine.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		p.Add(goalLine)
		p.Legend.Add(fmt.Sprintf("goal: size / (%.1f x disk write, %s MB/s); above = too slow", goalCompactionVsDisk, fmtNum(disk.Median)), goalLine)
	}
	return p, nil
}

func (s *suite) plotRestart() (*plot.Plot, error) {
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
	}
	return p, nil
}
