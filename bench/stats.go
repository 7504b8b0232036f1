package main

import (
	"math"
	"slices"
)

// summary is the median, minimum and maximum of a set of samples.
type summary struct {
	N                int
	Median, Min, Max float64
}

// summarize returns the summary of xs; all fields are zero when xs is empty.
func summarize(xs []float64) summary {
	if len(xs) == 0 {
		return summary{}
	}
	return summary{
		N:      len(xs),
		Median: percentile(xs, 50),
		Min:    slices.Min(xs),
		Max:    slices.Max(xs),
	}
}

// percentile returns the p-th percentile (0 <= p <= 100) of xs, interpolating
// linearly between the two nearest samples, so the 50th percentile of an even
// number of samples is the mean of the middle two. xs is not modified. It
// returns NaN when xs is empty.
func percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	p = min(max(p, 0), 100)
	rank := p / 100 * float64(len(s)-1)
	lo := int(math.Floor(rank))
	hi := int(math.Ceil(rank))
	return s[lo] + (s[hi]-s[lo])*(rank-float64(lo))
}

// lineFit is a least-squares line y = Intercept + Slope*x.
type lineFit struct {
	Slope, Intercept float64
	R2               float64 // coefficient of determination; NaN when y is constant
	N                int
}

// fitLine fits a straight line to the points (xs[i], ys[i]) by ordinary
// least squares. It returns ok false when there are fewer than two points or
// every x is the same, where no slope is defined.
func fitLine(xs, ys []float64) (f lineFit, ok bool) {
	n := min(len(xs), len(ys))
	if n < 2 {
		return lineFit{N: n}, false
	}
	var mx, my float64
	for i := range n {
		mx += xs[i]
		my += ys[i]
	}
	mx /= float64(n)
	my /= float64(n)
	var sxx, sxy, syy float64
	for i := range n {
		dx, dy := xs[i]-mx, ys[i]-my
		sxx += dx * dx
		sxy += dx * dy
		syy += dy * dy
	}
	if sxx == 0 {
		return lineFit{N: n}, false
	}
	f = lineFit{Slope: sxy / sxx, N: n}
	f.Intercept = my - f.Slope*mx
	f.R2 = math.NaN()
	if syy > 0 {
		f.R2 = sxy * sxy / (sxx * syy)
	}
	return f, true
}
