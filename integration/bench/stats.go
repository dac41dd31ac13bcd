package bench

import (
	"math"
	"slices"
	"time"

	"github.com/nemo-edge/nemo/scheduler/sim/chart"
)

// Summary describes one set of latency samples.
type Summary struct {
	N             int
	P50, P99      time.Duration
	Min, Max, Avg time.Duration
}

// Summarize computes the summary of d (nearest-rank percentiles). An empty d gives the zero Summary.
func Summarize(d []time.Duration) Summary {
	if len(d) == 0 {
		return Summary{}
	}
	s := slices.Clone(d)
	slices.Sort(s)
	var sum time.Duration
	for _, v := range s {
		sum += v
	}
	return Summary{
		N: len(s), P50: Percentile(s, 50), P99: Percentile(s, 99),
		Min: s[0], Max: s[len(s)-1], Avg: sum / time.Duration(len(s)),
	}
}

// Percentile is the nearest-rank p-th percentile (0 < p ≤ 100) of sorted: the smallest sample with at
// least p% of the samples at or below it.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[min(max(rank, 1), len(sorted))-1]
}

// SumPercentile is the p-th percentile of X+Y where X and Y are independent and distributed as the samples
// a and b: the floor of a path made of two stages measured separately (Kafka round trip, then /run). It
// takes every pair, so it is exact for the empirical distributions; len(a)·len(b) should stay below ~10^6.
func SumPercentile(a, b []time.Duration, p float64) time.Duration {
	if len(a) == 0 || len(b) == 0 {
		return 0
	}
	sums := make([]time.Duration, 0, len(a)*len(b))
	for _, x := range a {
		for _, y := range b {
			sums = append(sums, x+y)
		}
	}
	slices.Sort(sums)
	return Percentile(sums, p)
}

// Spread is a value measured several times (once per repetition): its median and range.
type Spread struct {
	Median, Min, Max float64
	N                int
}

// SpreadOf summarises repeated measurements. NaN values (a repetition that produced nothing) are ignored.
func SpreadOf(vals []float64) Spread {
	v := chart.Spread(vals) // the figures' median and range, so tables and plots agree
	n := 0
	for _, x := range vals {
		if !math.IsNaN(x) {
			n++
		}
	}
	return Spread{Median: v.Mid, Min: v.Lo, Max: v.Hi, N: n}
}

// Ratios divides value by floor repetition by repetition (the floor measured in the same repetition).
// Extra values of the longer slice are dropped.
func Ratios(value, floor []float64) []float64 {
	n := min(len(value), len(floor))
	r := make([]float64, n)
	for i := range n {
		if floor[i] == 0 {
			r[i] = math.NaN()
			continue
		}
		r[i] = value[i] / floor[i]
	}
	return r
}

// Millis converts durations to float milliseconds.
func Millis(d ...time.Duration) []float64 {
	out := make([]float64, len(d))
	for i, v := range d {
		out[i] = float64(v) / float64(time.Millisecond)
	}
	return out
}
