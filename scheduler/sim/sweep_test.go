package sim

import (
	"bytes"
	"errors"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Floor by hand: weights 0.5/0.3/0.2, one slot, cold extras 1/2/3 s, arrivals f0 f0 f1 f0 f2.
func TestFloorByHand(t *testing.T) {
	w := &Workload{
		Functions: []Function{{ColdExtra: time.Second}, {ColdExtra: 2 * time.Second}, {ColdExtra: 3 * time.Second}},
		Arrivals:  []Arrival{{Fn: 0}, {Fn: 0}, {Fn: 1}, {Fn: 0}, {Fn: 2}},
	}
	cold, added := Floor(w, []float64{0.5, 0.3, 0.2}, 1)
	// First arrivals miss (1 + 1 + 1); the second f0 finds f0 the only one seen (0); the third f0 sees
	// {f0, f1}: one slot holds at most 0.5 of their 0.8, so it misses with 0.3/0.8 and costs at least
	// (0.5·1 + 0.3·2 − 0.3·2)/0.8 = 0.625 s.
	if want := (3 + 0.375) / 5; math.Abs(cold-want) > 1e-9 {
		t.Errorf("cold floor %v, want %v", cold, want)
	}
	if want := time.Duration((1 + 2 + 3 + 0.625) / 5 * float64(time.Second)); added != want {
		t.Errorf("added floor %v, want %v", added, want)
	}
	// With a slot per function only the first arrivals miss.
	if cold, _ := Floor(w, []float64{0.5, 0.3, 0.2}, 3); math.Abs(cold-0.6) > 1e-9 {
		t.Errorf("cold floor with 3 slots %v, want 0.6", cold)
	}
}

func TestPoissonWeights(t *testing.T) {
	w := PoissonWeights(PoissonConfig{Functions: 4, Zipf: 1})
	sum := 0.0
	for _, x := range w {
		sum += x
	}
	if math.Abs(sum-1) > 1e-12 || math.Abs(w[0]/w[3]-4) > 1e-12 {
		t.Fatalf("weights %v: want ∝ 1/rank, summing to 1", w)
	}
}

func sweepRun(z float64, gap time.Duration, seed uint64, policy string, served, cold int64, added time.Duration) SweepRun {
	m := &Metrics{Policy: policy, Workload: "p", MemoryMB: 2048, Invocations: served, Served: served, Cold: cold,
		MeanAdded: added}
	m.ColdRatio = float64(cold) / float64(served)
	return SweepRun{Zipf: z, Gap: gap, Seed: seed, FloorCold: 0.1, FloorAdded: 50 * time.Millisecond, Metrics: m}
}

// Seeds pool as Σ cold / Σ served and Σ added / Σ served; the verdict compares with the best baseline per
// metric, which may be a different baseline for each.
func TestPoolSeedsAndVerdict(t *testing.T) {
	runs := []SweepRun{
		sweepRun(0, time.Second, 1, PolicyGreedyDual, 100, 30, 200*time.Millisecond),
		sweepRun(0, time.Second, 2, PolicyGreedyDual, 300, 30, 100*time.Millisecond),
		sweepRun(0, time.Second, 1, PolicyOpenWhisk, 100, 10, 400*time.Millisecond),
		sweepRun(0, time.Second, 2, PolicyOpenWhisk, 300, 50, 400*time.Millisecond),
		sweepRun(0, time.Second, 1, PolicyNEMO, 100, 10, 100*time.Millisecond),
		sweepRun(0, time.Second, 2, PolicyNEMO, 300, 30, 100*time.Millisecond),
	}
	ps := PoolSeeds(runs)
	if len(ps) != 3 {
		t.Fatalf("%d points, want 3 (one per policy)", len(ps))
	}
	gd := ps[0]
	if gd.Served != 400 || gd.ColdStarts != 60 || math.Abs(gd.ColdRatio-0.15) > 1e-12 ||
		gd.MeanAdded != 125*time.Millisecond || gd.ColdLo != 0.1 || gd.ColdHi != 0.3 {
		t.Fatalf("greedy-dual pooled %+v", gd)
	}
	v := Verdict(ps, PolicyNEMO)
	if len(v.Points) != 1 {
		t.Fatalf("%d verdict points", len(v.Points))
	}
	p := v.Points[0]
	// Best cold: openwhisk 60/400 = greedy-dual 60/400 = 0.15 (the first one found); best added: greedy-dual 125 ms.
	if math.Abs(p.ColdRatio-0.1/0.15) > 1e-9 || p.BestAddedBy != PolicyGreedyDual || math.Abs(p.AddedRate-0.8) > 1e-9 {
		t.Fatalf("verdict %+v", p)
	}
	if c, a, both := v.Count(0.8); c != 1 || a != 1 || both != 1 {
		t.Fatalf("≤ 0.8× counts %d %d %d, want 1 1 1", c, a, both)
	}
	var out bytes.Buffer
	if err := WriteSweepTable(&out, ps, PolicyNEMO); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| 0 | 1s | 400 |", " 0.67 |", " 100 ms | 0.80 |", "≤ 1.0× at 1/1 points"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
}

func TestSweepCSVRoundTripAndBadInput(t *testing.T) {
	runs, err := Sweep(SweepConfig{Span: 20 * time.Minute, Zipfs: []float64{0, 1}, Gaps: []time.Duration{5 * time.Second},
		Seeds: []uint64{1, 2}}, Options{Policies: []string{PolicyGreedyDual, PolicyNEMO}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 2*2*2 {
		t.Fatalf("%d runs, want 8", len(runs))
	}
	var buf bytes.Buffer
	if err := WriteSweepCSV(&buf, runs); err != nil {
		t.Fatal(err)
	}
	back, err := ReadSweepCSV(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	a, b := PoolSeeds(runs), PoolSeeds(back)
	for i := range a {
		if a[i].Policy != b[i].Policy || a[i].Served != b[i].Served || a[i].ColdStarts != b[i].ColdStarts ||
			absDur(a[i].MeanAdded-b[i].MeanAdded) > time.Millisecond || math.Abs(a[i].FloorCold-b[i].FloorCold) > 1e-4 {
			t.Errorf("point %d: %+v, read back %+v", i, a[i], b[i])
		}
	}
	good := strings.SplitN(buf.String(), "\n", 3)
	for name, body := range map[string]string{
		"empty":           "",
		"other header":    "zipf,gap\n",
		"negative served": good[0] + "\n" + strings.Replace(good[1], ","+itoa(runs[0].Served)+",", ",-5,", 1) + "\n",
		"bad zipf":        good[0] + "\n" + "x" + good[1][1:] + "\n",
	} {
		if _, err := ReadSweepCSV(strings.NewReader(body)); !errors.Is(err, ErrBadSweep) {
			t.Errorf("%s: err %v, want ErrBadSweep", name, err)
		}
	}
}

func absDur(d time.Duration) time.Duration { return max(d, -d) }

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// Main: lists of gaps, skews and seeds make a sweep; -csv caches it; -sweep-from redraws the same table
// and figure without simulating.
func TestMainSweepAndRedraw(t *testing.T) {
	dir := t.TempDir()
	csvPath, fig := filepath.Join(dir, "s.csv"), filepath.Join(dir, "s.png")
	var out bytes.Buffer
	args := []string{"-workload", "poisson", "-poisson-interval", "5s,30s", "-poisson-zipf", "0,1", "-seed", "1,2",
		"-poisson-span", "10m", "-policies", "openwhisk,greedy-dual,nemo", "-csv", csvPath, "-png", fig}
	if err := Main(newFlagSet(), args, &out); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out.String(), "\n| "); n != 4 {
		t.Fatalf("%d table rows, want 4 points (2 gaps × 2 skews):\n%s", n, out.String())
	}
	fh, err := os.Open(fig)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(fh)
	fh.Close()
	if err != nil || img.Bounds().Dx() < 800 {
		t.Fatalf("figure: %v", err)
	}
	var again bytes.Buffer
	if err := Main(newFlagSet(), []string{"-workload", "poisson", "-sweep-from", csvPath}, &again); err != nil {
		t.Fatal(err)
	}
	if again.String() != out.String() {
		t.Fatalf("redrawn table differs:\n%s\nfrom\n%s", again.String(), out.String())
	}
	for _, bad := range [][]string{
		{"-workload", "poisson", "-poisson-interval", "5s,x"},
		{"-workload", "poisson", "-poisson-zipf", "0,-1"},
		{"-workload", "poisson", "-seed", "1,a"},
		{"-workload", "poisson", "-seed", "1,2", "-memory", "1024,2048"},
	} {
		if err := Main(newFlagSet(), bad, &bytes.Buffer{}); !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("Main(%v) = %v, want an error wrapping ErrInvalidOptions", bad, err)
		}
	}
	missing := []string{"-workload", "poisson", "-sweep-from", filepath.Join(dir, "missing.csv")}
	if err := Main(newFlagSet(), missing, &bytes.Buffer{}); err == nil || errors.Is(err, ErrInvalidOptions) {
		t.Errorf("Main(%v) = %v, want an I/O error", missing, err)
	}
}

// Worse by hand: with 3 seeds the t statistic has 2 degrees of freedom, whose distribution function is
// 1/2 + t / (2 √(2 + t²)).
func TestWorsePairedTTest(t *testing.T) {
	byHand := func(tt float64) float64 { return 0.5 - tt/(2*math.Sqrt(2+tt*tt)) }
	// Differences 1, 2, 3: mean 2, standard deviation 1, t = 2 √3.
	if got, want := Worse([]float64{11, 12, 13}, []float64{10, 10, 10}), byHand(2*math.Sqrt(3)); math.Abs(got-want) > 1e-9 {
		t.Errorf("worse by 1, 2, 3: p %v, want %v", got, want)
	}
	if got, want := Worse([]float64{10, 10, 10}, []float64{11, 12, 13}), 1-byHand(2*math.Sqrt(3)); math.Abs(got-want) > 1e-9 {
		t.Errorf("better by 1, 2, 3: p %v, want %v", got, want)
	}
	// The seed's luck cancels: large differences between seeds, a small steady one between the policies.
	if got := Worse([]float64{101, 11, 1001, 51}, []float64{100, 10, 1000, 50}); got != 0 {
		t.Errorf("worse by exactly 1 on every seed: p %v, want 0", got)
	}
	if got := Worse([]float64{1, 2}, []float64{1, 2}); got != 1 {
		t.Errorf("equal on every seed: p %v, want 1", got)
	}
	if got := Worse([]float64{1}, []float64{0}); !math.IsNaN(got) {
		t.Errorf("one seed: p %v, want NaN (no test)", got)
	}
}

// The verdict pairs the policy's seeds with the best baseline's by seed, not by position, and names the
// points over 1.0× as real losses (p < Significance) or as undecided.
func TestVerdictSignificance(t *testing.T) {
	var runs []SweepRun
	// Gap 1 s: nemo has 1 more cold start than greedy-dual on every seed (a real loss, tiny as it is).
	// Gap 2 s: nemo is over on the pooled figure by a seed's luck (+10, −8, +1).
	for _, seed := range []uint64{3, 1, 2} {
		runs = append(runs, sweepRun(0, time.Second, seed, PolicyGreedyDual, 1000, 100+int64(seed)*20, 0))
		runs = append(runs, sweepRun(0, 2*time.Second, seed, PolicyGreedyDual, 1000, 100+int64(seed)*20, 0))
	}
	for _, seed := range []uint64{1, 2, 3} {
		runs = append(runs, sweepRun(0, time.Second, seed, PolicyNEMO, 1000, 101+int64(seed)*20, 0))
		luck := map[uint64]int64{1: 10, 2: -8, 3: 1}[seed]
		runs = append(runs, sweepRun(0, 2*time.Second, seed, PolicyNEMO, 1000, 100+int64(seed)*20+luck, 0))
	}
	v := Verdict(PoolSeeds(runs), PolicyNEMO)
	if len(v.Points) != 2 || v.Points[0].Paired != 3 {
		t.Fatalf("verdict %+v", v.Points)
	}
	if p := v.Points[0].ColdWorse; p > 1e-6 {
		t.Errorf("1 s: one more cold start on every seed: p %v, want ~0", p)
	}
	if p := v.Points[1].ColdWorse; p < 0.2 {
		t.Errorf("2 s: +10, −8, +1 cold starts: p %v, want it large (noise)", p)
	}
	lost, undecided := v.Losses()
	if len(lost) != 1 || lost[0].Gap != time.Second || len(undecided) != 1 || undecided[0].Gap != 2*time.Second {
		t.Fatalf("lost %+v, undecided %+v", lost, undecided)
	}
	var out bytes.Buffer
	if err := WriteSweepTable(&out, PoolSeeds(runs), PolicyNEMO); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| p worse |", "| **1.01** | <0.01 |", "beyond noise (paired t-test over 3 seeds, " +
		"one-sided p < 0.05): 1 point(s) (zipf 0 at 1s)", "not told apart from noise: 1 point(s) (zipf 0 at 2s)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
}
