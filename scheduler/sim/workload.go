package sim

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"time"
)

// ErrBadTrace is wrapped by every trace parsing error.
var ErrBadTrace = errors.New("sim: bad trace")

// Function is one simulated function.
type Function struct {
	Name    string
	Trigger string
	// TraceMB is the function's memory in the trace (app memory split over its
	// functions); the simulator uses a fixed container size unless asked to
	// use this.
	TraceMB int
	// Warm is the run time of a warm invocation; ColdExtra is what a cold
	// start adds (container creation + init).
	Warm, ColdExtra time.Duration
}

// Arrival is one invocation request.
type Arrival struct {
	At time.Duration // offset from the start of the workload
	Fn int           // index into Workload.Functions
}

// Workload is a set of functions and their arrivals, sorted by time.
type Workload struct {
	Name      string
	Functions []Function
	Arrivals  []Arrival
	Span      time.Duration
}

// AzureFiles names the three Azure Functions 2019 CSVs of one sample.
type AzureFiles struct {
	Invocations, Durations, Memory string
}

// Sample100 returns the file names of the bundled sample100 trace in dir.
func Sample100(dir string) AzureFiles {
	return AzureFiles{
		Invocations: filepath.Join(dir, "azure2019_sample100_invocations.csv"),
		Durations:   filepath.Join(dir, "azure2019_sample100_durations.csv"),
		Memory:      filepath.Join(dir, "azure2019_sample100_memory.csv"),
	}
}

// LoadAzure2019 reads the first limit functions (rows) of an Azure 2019
// invocations file (limit <= 0: all) and joins their durations and memory.
// Arrivals follow FaasCache's convention: a single invocation in a minute is
// placed at the start of the minute, n > 1 are spaced evenly through it.
func LoadAzure2019(files AzureFiles, limit int) (*Workload, error) {
	inv, err := readCSV(files.Invocations)
	if err != nil {
		return nil, err
	}
	dur, err := readCSV(files.Durations)
	if err != nil {
		return nil, err
	}
	mem, err := readCSV(files.Memory)
	if err != nil {
		return nil, err
	}
	return parseAzure2019(inv, dur, mem, limit, filepath.Base(files.Invocations))
}

func readCSV(path string) ([][]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadTrace, err)
	}
	defer f.Close()
	return parseCSV(f, path)
}

func parseCSV(r io.Reader, name string) ([][]string, error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = false
	rows, err := cr.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrBadTrace, name, err)
	}
	if len(rows) < 2 {
		return nil, fmt.Errorf("%w: %s: no data rows", ErrBadTrace, name)
	}
	return rows, nil
}

func column(header []string, name, file string) (int, error) {
	for i, h := range header {
		if h == name {
			return i, nil
		}
	}
	return 0, fmt.Errorf("%w: %s: missing column %q", ErrBadTrace, file, name)
}

func parseAzure2019(inv, dur, mem [][]string, limit int, name string) (*Workload, error) {
	ih := inv[0]
	fnCol, err := column(ih, "HashFunction", "invocations")
	if err != nil {
		return nil, err
	}
	trigCol, err := column(ih, "Trigger", "invocations")
	if err != nil {
		return nil, err
	}
	// Minute columns are the numeric headers, in order.
	var minuteCols []int
	for i, h := range ih {
		if _, err := strconv.Atoi(h); err == nil {
			minuteCols = append(minuteCols, i)
		}
	}
	if len(minuteCols) == 0 {
		return nil, fmt.Errorf("%w: invocations: no minute columns", ErrBadTrace)
	}

	type durRow struct{ avg, max float64 }
	durs := map[string]durRow{}
	dh := dur[0]
	dFn, err := column(dh, "HashFunction", "durations")
	if err != nil {
		return nil, err
	}
	dAvg, err := column(dh, "Average", "durations")
	if err != nil {
		return nil, err
	}
	dMax, err := column(dh, "Maximum", "durations")
	if err != nil {
		return nil, err
	}
	for ln, r := range dur[1:] {
		avg, err1 := strconv.ParseFloat(r[dAvg], 64)
		mx, err2 := strconv.ParseFloat(r[dMax], 64)
		if err1 != nil || err2 != nil || avg < 0 || mx < 0 {
			return nil, fmt.Errorf("%w: durations line %d: bad Average/Maximum %q/%q", ErrBadTrace, ln+2, r[dAvg], r[dMax])
		}
		durs[r[dFn]] = durRow{avg, mx}
	}
	mems := map[string]float64{}
	mh := mem[0]
	mFn, err := column(mh, "HashFunction", "memory")
	if err != nil {
		return nil, err
	}
	mAvg, err := column(mh, "AverageAllocatedMb", "memory")
	if err != nil {
		return nil, err
	}
	for ln, r := range mem[1:] {
		v, err := strconv.ParseFloat(r[mAvg], 64)
		if err != nil || v < 0 {
			return nil, fmt.Errorf("%w: memory line %d: bad AverageAllocatedMb %q", ErrBadTrace, ln+2, r[mAvg])
		}
		mems[r[mFn]] = v
	}

	rows := inv[1:]
	if limit > 0 && limit < len(rows) {
		rows = rows[:limit]
	}
	w := &Workload{Name: name, Span: time.Duration(len(minuteCols)) * time.Minute}
	for ln, r := range rows {
		h := r[fnCol]
		d, ok := durs[h]
		if !ok {
			return nil, fmt.Errorf("%w: invocations line %d: function %.12s has no durations row", ErrBadTrace, ln+2, h)
		}
		m, ok := mems[h]
		if !ok {
			return nil, fmt.Errorf("%w: invocations line %d: function %.12s has no memory row", ErrBadTrace, ln+2, h)
		}
		warm := msDuration(d.avg)
		extra := msDuration(math.Max(0, d.max-d.avg))
		fi := len(w.Functions)
		w.Functions = append(w.Functions, Function{
			Name: h[:min(12, len(h))], Trigger: r[trigCol], TraceMB: int(math.Ceil(m)),
			Warm: warm, ColdExtra: extra,
		})
		for mi, c := range minuteCols {
			n, err := strconv.Atoi(r[c])
			if err != nil || n < 0 {
				return nil, fmt.Errorf("%w: invocations line %d minute %s: bad count %q", ErrBadTrace, ln+2, ih[c], r[c])
			}
			start := time.Duration(mi) * time.Minute
			for k := 0; k < n; k++ {
				w.Arrivals = append(w.Arrivals, Arrival{At: start + time.Duration(k)*time.Minute/time.Duration(n), Fn: fi})
			}
		}
	}
	sortArrivals(w.Arrivals)
	return w, nil
}

func msDuration(ms float64) time.Duration { return time.Duration(ms * float64(time.Millisecond)) }

func sortArrivals(a []Arrival) {
	sort.SliceStable(a, func(i, j int) bool {
		if a[i].At != a[j].At {
			return a[i].At < a[j].At
		}
		return a[i].Fn < a[j].Fn
	})
}

// PoissonConfig describes a synthetic workload like the paper's §5.1: a
// stream of invocations of a small set of functions with exponentially
// distributed gaps.
type PoissonConfig struct {
	Functions    int           // default 10
	MeanInterval time.Duration // mean gap between two invocations of the stream; default 5 s
	Span         time.Duration // default 1 h
	// Zipf skews the choice of function (popularity ∝ 1/rank^Zipf); 0 = uniform.
	Zipf float64
	Seed uint64
}

// paperFunctions are init/run times in the spirit of the paper's Table 1 and
// its python-suite functions (init share 60 % on average, json_loads 98.6 %).
var paperFunctions = []Function{
	{Name: "markdown", Warm: 120 * time.Millisecond, ColdExtra: 900 * time.Millisecond},
	{Name: "img-resize", Warm: 400 * time.Millisecond, ColdExtra: 1100 * time.Millisecond},
	{Name: "sentiment", Warm: 60 * time.Millisecond, ColdExtra: 4500 * time.Millisecond},
	{Name: "ocr-img", Warm: 2200 * time.Millisecond, ColdExtra: 1800 * time.Millisecond},
	{Name: "json_loads", Warm: 10 * time.Millisecond, ColdExtra: 700 * time.Millisecond},
	{Name: "json_dumps", Warm: 25 * time.Millisecond, ColdExtra: 650 * time.Millisecond},
	{Name: "float", Warm: 300 * time.Millisecond, ColdExtra: 600 * time.Millisecond},
	{Name: "nbody", Warm: 900 * time.Millisecond, ColdExtra: 600 * time.Millisecond},
	{Name: "chaos", Warm: 500 * time.Millisecond, ColdExtra: 700 * time.Millisecond},
	{Name: "pyflate", Warm: 1500 * time.Millisecond, ColdExtra: 800 * time.Millisecond},
}

// Poisson generates a synthetic workload, deterministic for cfg.Seed.
func Poisson(cfg PoissonConfig) (*Workload, error) {
	if cfg.Functions <= 0 {
		cfg.Functions = 10
	}
	if cfg.MeanInterval <= 0 {
		cfg.MeanInterval = 5 * time.Second
	}
	if cfg.Span <= 0 {
		cfg.Span = time.Hour
	}
	if cfg.Zipf < 0 {
		return nil, fmt.Errorf("sim: zipf exponent %v must be >= 0", cfg.Zipf)
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x9e3779b97f4a7c15))
	w := &Workload{Name: fmt.Sprintf("poisson-%d-%s", cfg.Functions, cfg.MeanInterval), Span: cfg.Span}
	weights := make([]float64, cfg.Functions)
	total := 0.0
	for i := range weights {
		f := paperFunctions[i%len(paperFunctions)]
		if i >= len(paperFunctions) {
			f.Name = fmt.Sprintf("%s-%d", f.Name, i/len(paperFunctions))
		}
		f.Trigger = "synthetic"
		f.TraceMB = 256
		w.Functions = append(w.Functions, f)
		weights[i] = 1 / math.Pow(float64(i+1), cfg.Zipf)
		total += weights[i]
	}
	t := time.Duration(0)
	for {
		t += time.Duration(rng.ExpFloat64() * float64(cfg.MeanInterval))
		if t >= cfg.Span {
			break
		}
		x := rng.Float64() * total
		fn := 0
		for fn < len(weights)-1 && x >= weights[fn] {
			x -= weights[fn]
			fn++
		}
		w.Arrivals = append(w.Arrivals, Arrival{At: t, Fn: fn})
	}
	return w, nil
}

// Azure2021 is the file name of the bundled 2021 sample in a traces directory.
func Azure2021(dir string) string { return filepath.Join(dir, "azure2021_first998_invocations.csv") }

// LoadAzure2021 reads an Azure Functions 2021 invocation trace (app, func,
// end_timestamp, duration; one row per invocation, seconds). Each row is one
// arrival at end_timestamp − duration. Functions are numbered by first
// appearance; a function's warm run time is the mean of its durations and
// its cold extra the maximum minus the mean, the convention the 2019 loader
// follows (the trace records no cold starts); the trace has no memory
// column, so TraceMB is 256. The span runs to the end of the minute of the
// last arrival.
func LoadAzure2021(path string) (*Workload, error) {
	rows, err := readCSV(path)
	if err != nil {
		return nil, err
	}
	name := filepath.Base(path)
	h := rows[0]
	fCol, err := column(h, "func", name)
	if err != nil {
		return nil, err
	}
	endCol, err := column(h, "end_timestamp", name)
	if err != nil {
		return nil, err
	}
	durCol, err := column(h, "duration", name)
	if err != nil {
		return nil, err
	}
	type fn struct {
		idx      int
		sum, max float64
		n        int
	}
	fns := map[string]*fn{}
	w := &Workload{Name: name}
	var last time.Duration
	for ln, r := range rows[1:] {
		end, err1 := strconv.ParseFloat(r[endCol], 64)
		dur, err2 := strconv.ParseFloat(r[durCol], 64)
		if err1 != nil || err2 != nil || end < 0 || dur < 0 || math.IsInf(end, 0) || math.IsInf(dur, 0) ||
			math.IsNaN(end) || math.IsNaN(dur) {
			return nil, fmt.Errorf("%w: %s line %d: bad end_timestamp/duration %q/%q", ErrBadTrace, name, ln+2, r[endCol], r[durCol])
		}
		id := r[fCol]
		if id == "" {
			return nil, fmt.Errorf("%w: %s line %d: empty func", ErrBadTrace, name, ln+2)
		}
		f := fns[id]
		if f == nil {
			f = &fn{idx: len(w.Functions)}
			fns[id] = f
			w.Functions = append(w.Functions, Function{Name: id[:min(12, len(id))], Trigger: "unknown", TraceMB: 256})
		}
		f.sum += dur
		f.max = math.Max(f.max, dur)
		f.n++
		at := time.Duration(math.Max(0, end-dur) * float64(time.Second))
		last = max(last, at)
		w.Arrivals = append(w.Arrivals, Arrival{At: at, Fn: f.idx})
	}
	for _, f := range fns {
		mean := f.sum / float64(f.n)
		fi := &w.Functions[f.idx]
		fi.Warm = time.Duration(mean * float64(time.Second))
		fi.ColdExtra = time.Duration((f.max - mean) * float64(time.Second))
	}
	w.Span = (last/time.Minute + 1) * time.Minute
	sortArrivals(w.Arrivals)
	return w, nil
}

// PoissonWeights are the popularity weights Poisson draws cfg's functions with (∝ 1/rank^Zipf),
// normalised to sum to 1.
func PoissonWeights(cfg PoissonConfig) []float64 {
	n := cfg.Functions
	if n <= 0 {
		n = 10
	}
	w := make([]float64, n)
	total := 0.0
	for i := range w {
		w[i] = 1 / math.Pow(float64(i+1), cfg.Zipf)
		total += w[i]
	}
	for i := range w {
		w[i] /= total
	}
	return w
}

// Floor is a lower bound on the cold-start ratio and mean added latency of any policy that cannot see the
// future, on a Poisson workload w whose functions were drawn with weights p, with slots containers of
// memory. Each arrival's function is drawn independently of everything before it, and at most slots
// initialised containers exist, all of functions already seen. So the first arrival of a function always
// misses (counted as it happened), and any other misses with probability at least (the weight of the
// functions seen so far) − (the largest total weight of slots of them), paying at least the smallest
// weight × cold extra such a choice leaves out. The sum along w's arrivals, divided by their number, bounds
// what a policy can expect on w; concurrency, queueing and eviction costs only add to it.
func Floor(w *Workload, p []float64, slots int) (cold float64, added time.Duration) {
	seen := make([]bool, len(w.Functions))
	var seenP, seenPC []float64 // weights, and weight × cold extra (s), of the functions seen
	var sumP, sumPC float64
	var missSum, costSum float64
	top := func(xs []float64) float64 {
		s := slices.Clone(xs)
		slices.Sort(s)
		sum := 0.0
		for i := len(s) - 1; i >= 0 && i >= len(s)-slots; i-- {
			sum += s[i]
		}
		return sum
	}
	for _, a := range w.Arrivals {
		if !seen[a.Fn] {
			missSum++
			costSum += w.Functions[a.Fn].ColdExtra.Seconds()
			seen[a.Fn] = true
			seenP = append(seenP, p[a.Fn])
			seenPC = append(seenPC, p[a.Fn]*w.Functions[a.Fn].ColdExtra.Seconds())
			sumP += p[a.Fn]
			sumPC += p[a.Fn] * w.Functions[a.Fn].ColdExtra.Seconds()
			continue
		}
		// Given the past, this arrival is function i with probability p_i: conditioned on being one of the
		// seen functions, it misses with probability (sumP − top)/sumP. Times the probability of a seen
		// function (sumP) that is the unconditional bound; the unseen case is counted as it happens (above).
		missSum += (sumP - top(seenP)) / sumP
		costSum += (sumPC - top(seenPC)) / sumP
	}
	n := float64(len(w.Arrivals))
	if n == 0 {
		return 0, 0
	}
	return missSum / n, time.Duration(costSum / n * float64(time.Second))
}
