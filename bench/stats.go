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
