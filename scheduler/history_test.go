package scheduler

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/nemo-edge/nemo/pool"
)

func TestDecayedRateHalvesPerHalfLife(t *testing.T) {
	h := NewHistory(HistoryConfig{RateHalfLife: time.Minute})
	for i := 0; i < 10; i++ {
		h.Arrived("f", t0)
	}
	s := h.Get("f")
	r0 := s.Rate(t0)
	r1 := s.Rate(t0.Add(time.Minute))
	if math.Abs(r1/r0-0.5) > 1e-9 {
		t.Fatalf("rate after one half-life is %.4f of the start, want 0.5", r1/r0)
	}
	if s.Invocations != 10 {
		t.Fatalf("lifetime count %d", s.Invocations)
	}
}

func TestBWarmAndSmoothing(t *testing.T) {
	h := NewHistory(HistoryConfig{TimeSmoothing: 0.5})
	h.Measured("f", 3*time.Second, time.Second)
	if b := h.Get("f").BWarm(); b != 0.75 {
		t.Fatalf("b_warm %v, want 0.75", b)
	}
	h.Measured("f", 0, 3*time.Second) // a warm run keeps the init time
	s := h.Get("f")
	if s.InitTime != 3*time.Second || s.RunTime != 2*time.Second || s.ColdStarts != 1 {
		t.Fatalf("init %v run %v cold %d", s.InitTime, s.RunTime, s.ColdStarts)
	}
	if (&Stats{}).BWarm() != 0 {
		t.Fatal("b_warm of an unmeasured function must be 0")
	}
}

// A function invoked every 5 minutes: unlikely right after a run, likely
// just before the next one, and back to the (decayed) rate once overdue.
func TestArrivalProbabilityFollowsPeriod(t *testing.T) {
	h := NewHistory(HistoryConfig{})
	for i := 0; i < 20; i++ {
		h.Arrived("f", t0.Add(time.Duration(i)*5*time.Minute))
	}
	s := h.Get("f")
	last := s.LastInvoked
	p := func(after time.Duration) float64 { return s.ArrivalProbability(last.Add(after), 10*time.Second) }
	if early, due := p(time.Minute), p(4*time.Minute+55*time.Second); early > 0.05 || due < 0.7 {
		t.Fatalf("P 1 min after: %.3f (want < 0.05); 5 s before due: %.3f (want > 0.7)", early, due)
	}
	if late := p(time.Hour); late > 0.05 {
		t.Fatalf("P an hour overdue: %.3f", late)
	}
	if m := s.GapMean(); m < 4*time.Minute || m > 6*time.Minute {
		t.Fatalf("gap mean %v", m)
	}
	if (&Stats{}).ArrivalProbability(t0, time.Minute) != 0 {
		t.Fatal("a never-invoked function must have probability 0")
	}
}

func TestScores(t *testing.T) {
	h := NewHistory(HistoryConfig{})
	for i := 0; i < 20; i++ {
		h.Arrived("f", t0.Add(time.Duration(i)*time.Minute))
	}
	h.Measured("f", 20*time.Second, time.Second)
	s := h.Get("f")
	last := s.LastInvoked
	e := ExpectedBenefit{}
	if got := e.Horizon(s); got != 29*time.Second {
		t.Fatalf("horizon %v, want init 20 s + slack 9 s", got)
	}
	// 35 s after the last run the next one (at 60 s) is within 29 s.
	if sc := e.Score(last.Add(35*time.Second), s); sc < 0.8 {
		t.Fatalf("score %.3f 25 s before a due invocation", sc)
	}
	weighted := ExpectedBenefit{CostWeight: 1}.Score(last.Add(35*time.Second), s)
	if want := e.Score(last.Add(35*time.Second), s) * float64(20*time.Second) / float64(DefaultColdCost); math.Abs(weighted-want) > 1e-9 {
		t.Fatalf("cost-weighted score %v, want P × init/DefaultColdCost = %v", weighted, want)
	}
	ps := PaperScore{}
	if a, b := ps.Score(last.Add(time.Second), s), ps.Score(last.Add(time.Hour), s); a <= b {
		t.Fatalf("paper score does not decay with time since the last run: %v then %v", a, b)
	}
}

// The eviction ranking: lowest value first; a second idle container of the
// same function is worth a tenth; LeastRecentInvocation ignores scores; busy,
// suspended and waited-on containers are not ranked unless their run is
// ending.
func TestRankingValueAndDuplicates(t *testing.T) {
	c := NewController(Config{})
	now := t0.Add(5 * time.Hour) // "cold" ran hourly, the last time 3 hours ago
	hot, cold := spec("hot"), spec("cold")
	for i := 0; i < 3; i++ {
		c.hist.Arrived(fnName(cold.Key), t0.Add(time.Duration(i)*time.Hour))
	}
	for i := 0; i < 20; i++ {
		c.hist.Arrived(fnName(hot.Key), now.Add(-time.Duration(20-i)*5*time.Second))
	}
	snap := pool.Snapshot{Containers: []pool.ContainerInfo{
		{C: 1, Key: hot.Key, MemoryMB: 256, State: pool.StateIdle, LastUsed: now.Add(-time.Second)},
		{C: 2, Key: hot.Key, MemoryMB: 256, State: pool.StateFrozen, LastUsed: now.Add(-2 * time.Second)},
		{C: 3, Key: cold.Key, MemoryMB: 256, State: pool.StateIdle, LastUsed: now.Add(-time.Second)},
		{C: 4, Key: hot.Key, MemoryMB: 256, State: pool.StateBusy, Active: 1},
		{C: 5, Key: cold.Key, MemoryMB: 256, State: pool.StateIdle, Suspended: true},
		{C: 6, Key: cold.Key, MemoryMB: 256, State: pool.StateIdle, Waiting: 1},
		{C: 7, State: pool.StatePrewarmed},
	}}
	order := func(r pool.Rank) string { return fmt.Sprint(r.Order) }
	if got := order(c.Ranking(now, snap)); got != "[c3 c2 c1]" {
		t.Fatalf("order %v, want [c3 (cold) c2 (second hot) c1]", got)
	}
	// c4's run is ending: it becomes the most recent idle container of hot,
	// c1 its second one.
	if got := order(c.Ranking(now, snap, 4)); got != "[c3 c2 c1 c4]" {
		t.Fatalf("order with c4 ending %v, want [c3 c2 c1 c4]", got)
	}
	lri := NewController(Config{Evict: EvictLeastRecentInvocation})
	lri.hist = c.hist
	if got := order(lri.Ranking(now, snap)); got != "[c3 c1 c2]" {
		t.Fatalf("least recent invocation ranked %v, want [c3 c1 c2]: cold first, then hot's two containers, "+
			"which share their function's last invocation, by id", got)
	}
}

// Irregular arrivals (gaps of 10–60 s, and two of ~10 minutes): ten minutes into a silence only the two
// longest gaps outlast it, and a hazard read from two gaps is noise. The probability must stay near what
// the rate says instead of following them (a timer's gaps all speak until it is due:
// TestArrivalProbabilityFollowsPeriod).
func TestArrivalProbabilityTrustsOnlyGapsThatSpeak(t *testing.T) {
	h := NewHistory(HistoryConfig{})
	at := t0
	h.Arrived("f", at)
	for i := 0; i < 40; i++ {
		gap := time.Duration(10+(i*17)%51) * time.Second
		if i == 12 || i == 30 {
			gap = 600*time.Second + time.Duration(i)*time.Second
		}
		at = at.Add(gap)
		h.Arrived("f", at)
	}
	s := h.Get("f")
	for _, after := range []time.Duration{625 * time.Second, 630 * time.Second} {
		// Read from the two long gaps alone, P would be 0.53 and 0.74 here (over MinScore).
		if p := s.ArrivalProbability(s.LastInvoked.Add(after), 10*time.Second); p > 0.35 {
			t.Errorf("P %v into the silence = %.3f: two gaps of ~10 minutes decide it", after, p)
		}
	}
	// Nor does a silence longer than most gaps make the function worth ~0 to keep (0.01 from the gaps).
	if v := s.ArrivalProbabilityLongRun(s.LastInvoked.Add(200*time.Second), 10*time.Second); v < 0.05 {
		t.Errorf("keep value 200 s into the silence = %.3f, want about what the rate says", v)
	}
	if early := s.ArrivalProbability(s.LastInvoked.Add(20*time.Second), 10*time.Second); early < 0.2 {
		t.Errorf("P 20 s after the last invocation = %.3f, where most gaps end", early)
	}
}
