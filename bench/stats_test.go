package main

import (
	"math"
	"slices"
	"testing"
)

func TestPercentile(t *testing.T) {
	tests := []struct {
		xs   []float64
		p    float64
		want float64
	}{
		{[]float64{5}, 50, 5},
		{[]float64{3, 1, 2}, 50, 2},
		{[]float64{4, 1, 3, 2}, 50, 2.5},
		{[]float64{4, 1, 3, 2}, 0, 1},
		{[]float64{4, 1, 3, 2}, 100, 4},
		{[]float64{10, 20, 30, 40, 50}, 25, 20},
		{[]float64{10, 20}, 90, 19},
		{[]float64{10, 20}, 150, 20}, // clamped
		{[]float64{10, 20}, -5, 10},  // clamped
	}
	for _, tt := range tests {
		if got := percentile(tt.xs, tt.p); math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("percentile(%v, %v) = %v, want %v", tt.xs, tt.p, got, tt.want)
		}
	}
	if got := percentile(nil, 50); !math.IsNaN(got) {
		t.Errorf("percentile(nil) = %v, want NaN", got)
	}
}

func TestPercentileLeavesInputAlone(t *testing.T) {
	xs := []float64{3, 1, 2}
	percentile(xs, 50)
	if !slices.Equal(xs, []float64{3, 1, 2}) {
		t.Errorf("percentile sorted its input: %v", xs)
	}
}

func TestSummarize(t *testing.T) {
	got := summarize([]float64{612345, 500000, 700000})
	want := summary{N: 3, Median: 612345, Min: 500000, Max: 700000}
	if got != want {
		t.Errorf("summarize = %+v, want %+v", got, want)
	}
	if got := summarize(nil); got != (summary{}) {
		t.Errorf("summarize(nil) = %+v, want zero", got)
	}
}
