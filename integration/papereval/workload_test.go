package papereval

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestPoissonIsSeededAndMerged(t *testing.T) {
	fns := AllFunctions()
	a, err := Poisson(42, fns, 30*time.Second, time.Hour)
	require.NoError(t, err)
	b, err := Poisson(42, fns, 30*time.Second, time.Hour)
	require.NoError(t, err)
	require.Equal(t, a, b, "the same seed gives the same stream")
	c, err := Poisson(43, fns, 30*time.Second, time.Hour)
	require.NoError(t, err)
	require.NotEqual(t, a, c, "another seed gives another stream")
	for i := range a {
		require.Equal(t, i, a[i].Seq)
		require.Less(t, a[i].At, time.Hour)
		if i > 0 {
			require.GreaterOrEqual(t, a[i].At, a[i-1].At, "sorted by time")
		}
	}
	// A function's own arrivals do not depend on which functions follow it in the list.
	d, err := Poisson(42, fns[:3], 30*time.Second, time.Hour)
	require.NoError(t, err)
	var fromAll, fromThree []time.Duration
	for _, x := range a {
		if x.Function == fns[1] {
			fromAll = append(fromAll, x.At)
		}
	}
	for _, x := range d {
		if x.Function == fns[1] {
			fromThree = append(fromThree, x.At)
		}
	}
	require.Equal(t, fromAll, fromThree)
}

// Each function's gaps have the requested mean and an exponential shape (coefficient of variation 1).
func TestPoissonGapStatistics(t *testing.T) {
	const gap = 10 * time.Second
	arr, err := Poisson(7, []string{"f", "g"}, gap, 100000*gap)
	require.NoError(t, err)
	last := map[string]time.Duration{}
	var gaps []float64
	for _, x := range arr {
		if x.Function == "f" {
			gaps = append(gaps, (x.At - last["f"]).Seconds())
		}
		last[x.Function] = x.At
	}
	require.InDelta(t, 100000, len(gaps), 1500, "about span/gap arrivals")
	mean, sd := meanSD(gaps)
	require.InDelta(t, gap.Seconds(), mean, 0.2, "mean gap")
	require.InDelta(t, 1.0, sd/mean, 0.03, "coefficient of variation of exponential gaps")
}

func TestPoissonRejectsBadInput(t *testing.T) {
	_, err := Poisson(1, nil, time.Second, time.Minute)
	require.Error(t, err)
	_, err = Poisson(1, []string{"f"}, 0, time.Minute)
	require.Error(t, err)
	_, err = Poisson(1, []string{"f"}, time.Second, 0)
	require.Error(t, err)
}

func meanSD(x []float64) (float64, float64) {
	var s, ss float64
	for _, v := range x {
		s += v
	}
	m := s / float64(len(x))
	for _, v := range x {
		ss += (v - m) * (v - m)
	}
	return m, math.Sqrt(ss / float64(len(x)-1))
}
