package scheduler

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/nemo-edge/nemo/pool"
)

// equalRateHistory records n functions invoked as independent Poisson streams of the same mean gap (the
// paper's workload at uniform popularity) for span, with init times inits[i], and returns it with the time
// the streams end.
func equalRateHistory(seed uint64, inits []time.Duration, gap, span time.Duration) (*History, time.Time) {
	rng := rand.New(rand.NewPCG(seed, 7))
	h := NewHistory(HistoryConfig{})
	type arrival struct {
		at time.Time
		fn string
	}
	var all []arrival
	for i := range inits {
		for at := time.Duration(rng.ExpFloat64() * float64(gap)); at < span; at += time.Duration(rng.ExpFloat64() * float64(gap)) {
			all = append(all, arrival{t0.Add(at), fnAt(i)})
		}
	}
	slices.SortFunc(all, func(a, b arrival) int { return a.at.Compare(b.at) })
	for _, a := range all {
		h.Arrived(a.fn, a.at)
	}
	for i, init := range inits {
		h.Measured(fnAt(i), init, 100*time.Millisecond)
	}
	return h, t0.Add(span)
}

// specAt is the container spec of the i-th function of equalRateHistory, fnAt its name in the history.
func specAt(i int) pool.Spec { return spec(fmt.Sprintf("f%d", i)) }

func fnAt(i int) string { return fnName(specAt(i).Key) }

// order returns the indexes of values, lowest first (the eviction order).
func order(values []float64) []int {
	idx := make([]int, len(values))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		switch {
		case values[a] < values[b]:
			return -1
		case values[a] > values[b]:
			return 1
		}
		return 0
	})
	return idx
}

// paperInits are cold costs like the simulator's Poisson functions: the cheapest first, the dearest last.
var paperInits = []time.Duration{600 * time.Millisecond, 650 * time.Millisecond, 700 * time.Millisecond,
	800 * time.Millisecond, 1800 * time.Millisecond, 4500 * time.Millisecond}

// inversions counts the pairs of values (listed cheapest to restart first) that rank a dearer function
// below a cheaper one, i.e. would evict it first.
func inversions(values []float64) int {
	n := 0
	for i := range values {
		for j := i + 1; j < len(values); j++ {
			if values[j] < values[i] {
				n++
			}
		}
	}
	return n
}

// Six functions equally popular (one invocation per 15 minutes each, 2 hours seen, 20 seeds, valued every 5
// minutes for half an hour after): what tells their estimates apart is noise. Valued one by one, the noise
// ranks a dearer function below a cheaper one in about a quarter of the pairs; valued together, the
// estimates are pulled toward each other and the cold start decides: under half as many inversions, and the
// dearest (4.5 s) is never the first to go.
func TestScoreSetRanksEqualRatesByCost(t *testing.T) {
	k := KeepValue{}
	var alone, together, dearestFirstAlone, dearestFirstTogether int
	for seed := uint64(1); seed <= 20; seed++ {
		h, end := equalRateHistory(seed, paperInits, 15*time.Minute, 2*time.Hour)
		stats := make([]*Stats, len(paperInits))
		for i := range stats {
			stats[i] = h.Get(fnAt(i))
		}
		for at := time.Duration(0); at < 30*time.Minute; at += 5 * time.Minute {
			now := end.Add(at)
			one := make([]float64, len(stats))
			for i, s := range stats {
				one[i] = k.Score(now, s)
			}
			set := k.ScoreSet(now, stats)
			alone += inversions(one)
			together += inversions(set)
			if order(one)[0] == len(stats)-1 {
				dearestFirstAlone++
			}
			if order(set)[0] == len(stats)-1 {
				dearestFirstTogether++
				t.Errorf("seed %d, %v after the end: valued together, the dearest is evicted first (values %.4f)", seed, at, set)
			}
		}
	}
	if pairs := 20 * 6 * len(paperInits) * (len(paperInits) - 1) / 2; alone < pairs/10 {
		t.Fatalf("the setup shows little noise: valued one by one, %d of %d pairs ranked against their cold cost", alone, pairs)
	}
	if float64(together) > 0.5*float64(alone) {
		t.Errorf("pairs ranked against their cold cost: %d valued together, %d one by one: want at most half", together, alone)
	}
	t.Logf("inversions %d together, %d alone; dearest evicted first %d / %d times", together, alone, dearestFirstTogether, dearestFirstAlone)
}

// Rates that clearly differ (gaps of 1, 10 and 100 minutes, 60 gaps each) are not pooled away: rated
// together the values stay within 10 % of those rated one by one, and the order is the same, although the
// rarest function is the dearest to restart.
func TestScoreSetKeepsRatesThatDiffer(t *testing.T) {
	h := NewHistory(HistoryConfig{})
	gaps := []time.Duration{time.Minute, 10 * time.Minute, 100 * time.Minute}
	inits := []time.Duration{600 * time.Millisecond, 900 * time.Millisecond, 4500 * time.Millisecond}
	end := t0.Add(100 * time.Hour)
	rng := rand.New(rand.NewPCG(3, 7))
	var stats []*Stats
	for i, g := range gaps {
		at := end
		var arrivals []time.Time
		for range 61 {
			arrivals = append(arrivals, at)
			at = at.Add(-time.Duration((0.5 + rng.Float64()) * float64(g)))
		}
		slices.Reverse(arrivals)
		for _, a := range arrivals {
			h.Arrived(fnAt(i), a)
		}
		h.Measured(fnAt(i), inits[i], 100*time.Millisecond)
		stats = append(stats, h.Get(fnAt(i)))
	}
	k := KeepValue{}
	now := end.Add(20 * time.Second)
	set := k.ScoreSet(now, stats)
	one := make([]float64, len(stats))
	for i, s := range stats {
		one[i] = k.Score(now, s)
		if math.Abs(set[i]/one[i]-1) > 0.1 {
			t.Errorf("f%d (gaps of %v): rated together %.5f, alone %.5f: rates that clearly differ were pooled",
				i, gaps[i], set[i], one[i])
		}
	}
	if !slices.Equal(order(set), order(one)) || order(set)[0] != 2 {
		t.Errorf("order rated together %v, alone %v: want the rarest (2) first in both", order(set), order(one))
	}
}

// With fewer than three functions there is no spread to weigh noise against: ScoreSet is Score.
func TestScoreSetNeedsThreeFunctions(t *testing.T) {
	h, end := equalRateHistory(1, paperInits[:2], 15*time.Minute, 2*time.Hour)
	k := KeepValue{}
	stats := []*Stats{h.Get(fnAt(0)), h.Get(fnAt(1))}
	now := end.Add(time.Minute)
	set := k.ScoreSet(now, stats)
	for i, s := range stats {
		if one := k.Score(now, s); set[i] != one {
			t.Errorf("f%d: rated with one other %v, alone %v", i, set[i], one)
		}
	}
	if got := k.ScoreSet(now, nil); len(got) != 0 {
		t.Errorf("no functions: %v", got)
	}
	// A function never invoked has no estimate: it is worth 0 and does not count toward the three.
	never := &Stats{cfg: h.cfg}
	set = k.ScoreSet(now, append(stats, never))
	for i, s := range stats {
		if one := k.Score(now, s); set[i] != one {
			t.Errorf("f%d beside a never-invoked function: %v, alone %v", i, set[i], one)
		}
	}
	if set[2] != 0 {
		t.Errorf("never-invoked function valued %v, want 0", set[2])
	}
}

// The controller ranks idle containers by the values rated together (Config.Value is a SetScore), not one
// by one: at a time where the two orders differ, Ranking follows ScoreSet's.
func TestRankingRatesIdleFunctionsTogether(t *testing.T) {
	c := NewController(Config{})
	k := KeepValue{}
	checked := 0
	for seed := uint64(1); seed <= 5; seed++ {
		h, end := equalRateHistory(seed, paperInits, 15*time.Minute, 2*time.Hour)
		c.hist = h
		var snap pool.Snapshot
		stats := make([]*Stats, len(paperInits))
		for i := range paperInits {
			stats[i] = h.Get(fnAt(i))
			snap.Containers = append(snap.Containers, pool.ContainerInfo{C: pool.ContainerID(i + 1), Key: specAt(i).Key,
				MemoryMB: 256, State: pool.StateFrozen, LastUsed: stats[i].LastInvoked})
		}
		for at := time.Duration(0); at < 30*time.Minute; at += 5 * time.Minute {
			now := end.Add(at)
			one := make([]float64, len(stats))
			for i, s := range stats {
				one[i] = k.Score(now, s)
			}
			together := order(k.ScoreSet(now, stats))
			if slices.Equal(order(one), together) {
				continue
			}
			checked++
			want := make([]pool.ContainerID, len(together))
			for i, fn := range together {
				want[i] = pool.ContainerID(fn + 1)
			}
			if got := c.Ranking(now, snap).Order; !slices.Equal(got, want) {
				t.Errorf("seed %d, %v after the end: eviction order %v, want %v (valued together; one by one %v)",
					seed, at, got, want, order(one))
			}
		}
	}
	if checked == 0 {
		t.Fatal("no time where the orders valued together and one by one differ: the test checks nothing")
	}
}

// A Poisson stream's gaps are exponential: the time since the last invocation says nothing about the next
// one, and the value of keeping its container must not follow a hazard read from them (a dozen gaps make it
// noise): KeepValue's estimate is then the long-run rate's alone, whatever the time elapsed. The pre-warm
// score still reads the gaps (there a wrong hazard costs one pre-warm, not an eviction).
func TestKeepValueReadsNoHazardFromPoissonGaps(t *testing.T) {
	h, _ := equalRateHistory(1, paperInits[:1], 10*time.Minute, 3*time.Hour)
	s := h.Get(fnAt(0))
	if s.GapSamples() < 10 || s.notMemoryless() != 0 {
		t.Fatalf("setup: %d gaps, shape weight %v: want ≥ 10 exponential-looking gaps", s.GapSamples(), s.notMemoryless())
	}
	const horizon = 10 * time.Second
	hazardRead := false
	for _, after := range []time.Duration{5 * time.Second, time.Minute, 5 * time.Minute, 12 * time.Minute} {
		now := s.LastInvoked.Add(after)
		rate := 1 - math.Exp(-s.ReuseRate(now)*horizon.Seconds())
		if got := s.ArrivalProbabilityLongRun(now, horizon); math.Abs(got-rate) > 1e-12 {
			t.Errorf("%v after the last invocation: keep estimate %.5f, want the long-run rate's %.5f", after, got, rate)
		}
		if math.Abs(s.ArrivalProbability(now, horizon)-(1-math.Exp(-s.Rate(now)*horizon.Seconds()))) > 1e-6 {
			hazardRead = true
		}
	}
	if !hazardRead {
		t.Error("the pre-warm score no longer reads the gaps' hazard")
	}
}

// Gaps that are clearly not exponential keep their hazard: a 5-minute timer (CV ~0) and a bursty function
// (1-s gaps inside bursts 10 minutes apart, CV > 1) have shape weight 1, and the timer's keep value is far
// higher just before it is due than right after it fired.
func TestKeepValueKeepsTheHazardOfTimersAndBursts(t *testing.T) {
	h := NewHistory(HistoryConfig{})
	for i := 0; i < 20; i++ {
		h.Arrived("timer", t0.Add(time.Duration(i)*5*time.Minute))
	}
	at := t0
	for i := 0; i < 30; i++ {
		if i%5 == 0 {
			at = at.Add(10 * time.Minute)
		} else {
			at = at.Add(time.Second)
		}
		h.Arrived("burst", at)
	}
	timer, burst := h.Get("timer"), h.Get("burst")
	if timer.notMemoryless() != 1 || burst.notMemoryless() != 1 {
		t.Fatalf("shape weight: timer %v, bursty %v; want 1 and 1", timer.notMemoryless(), burst.notMemoryless())
	}
	due := timer.ArrivalProbabilityLongRun(timer.LastInvoked.Add(4*time.Minute+55*time.Second), 10*time.Second)
	after := timer.ArrivalProbabilityLongRun(timer.LastInvoked.Add(time.Minute), 10*time.Second)
	if due < 10*after {
		t.Errorf("timer keep estimate 5 s before due %.4f, a minute after firing %.4f: want it 10× higher when due", due, after)
	}
	one := NewHistory(HistoryConfig{})
	one.Arrived("f", t0)
	one.Arrived("f", t0.Add(time.Minute))
	if w := one.Get("f").notMemoryless(); w != 0 {
		t.Errorf("one gap: shape weight %v, want 0 (no shape yet)", w)
	}
}
