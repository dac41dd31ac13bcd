package sim

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/gonum/stat/distuv"

	"github.com/nemo-edge/nemo/scheduler/sim/chart"
)

// SweepConfig is a Poisson sweep (paper §5.1's workload over a range of
// rates): every (Zipf, Gap) point is simulated once per seed, each policy on
// the same arrivals, and the seeds of a point are pooled.
type SweepConfig struct {
	Functions int           // default 10
	Span      time.Duration // default 4 h
	Zipfs     []float64     // popularity skews; default {0}
	Gaps      []time.Duration
	Seeds     []uint64 // default {1}
}

// SweepRun is one simulation of a sweep.
type SweepRun struct {
	Zipf float64
	Gap  time.Duration
	Seed uint64
	// FloorCold and FloorAdded are the workload's Floor: what no policy
	// that cannot see the future can expect to beat with this memory.
	FloorCold  float64
	FloorAdded time.Duration
	*Metrics
}

// Sweep runs cfg's points one after the other (policies too: a sweep is
// long and shares the machine) and returns every run, in (zipf, gap, seed,
// policy) order. progress, when set, is told about each point as it starts.
func Sweep(cfg SweepConfig, opt Options, progress func(zipf float64, gap time.Duration, seed uint64)) ([]SweepRun, error) {
	if cfg.Functions <= 0 {
		cfg.Functions = 10
	}
	if cfg.Span <= 0 {
		cfg.Span = 4 * time.Hour
	}
	if len(cfg.Zipfs) == 0 {
		cfg.Zipfs = []float64{0}
	}
	if len(cfg.Seeds) == 0 {
		cfg.Seeds = []uint64{1}
	}
	if len(cfg.Gaps) == 0 {
		return nil, errors.New("sim: a sweep needs at least one mean gap")
	}
	names := opt.Policies
	if len(names) == 0 {
		names = AllPolicies
	}
	var out []SweepRun
	for _, z := range cfg.Zipfs {
		for _, g := range cfg.Gaps {
			for _, seed := range cfg.Seeds {
				if progress != nil {
					progress(z, g, seed)
				}
				pc := PoissonConfig{Functions: cfg.Functions, MeanInterval: g, Span: cfg.Span, Zipf: z, Seed: seed}
				w, err := Poisson(pc)
				if err != nil {
					return nil, err
				}
				setup := opt.Setup.withDefaults()
				mb := setup.ContainerMB
				if mb <= 0 { // the trace's memory: every Poisson function has 256 MB
					mb = 256
				}
				fc, fa := Floor(w, PoissonWeights(pc), setup.UserMemoryMB/mb)
				for _, n := range names {
					pol, err := newPolicy(n, opt)
					if err != nil {
						return nil, err
					}
					m := run(w, opt.Setup, pol, n)
					m.MemoryMB = setup.UserMemoryMB
					out = append(out, SweepRun{Zipf: z, Gap: g, Seed: seed, FloorCold: fc, FloorAdded: fa, Metrics: m})
				}
			}
		}
	}
	return out, nil
}

// SweepPoint is one (zipf, gap, policy) of a sweep, pooled over its seeds:
// ColdRatio = Σ cold starts / Σ served, MeanAdded = Σ added latency / Σ
// served; the ranges are the per-seed minimum and maximum.
type SweepPoint struct {
	Zipf                float64
	Gap                 time.Duration
	Policy              string
	Seeds               int
	Invocations, Served int64
	ColdStarts          int64
	ColdRatio           float64
	MeanAdded           time.Duration
	ColdLo, ColdHi      float64
	AddedLo, AddedHi    time.Duration
	// FloorCold and FloorAdded pool the runs' floors the same way.
	FloorCold           float64
	FloorAdded          time.Duration
	addedSum            float64 // ns
	floorCold, floorAdd float64 // Σ floor × served
	seedCold, seedAdded []float64
	seedOf              []uint64 // the seed of each seedCold/seedAdded
}

// PoolSeeds pools the runs of each (zipf, gap, policy), in the order the
// points first appear.
func PoolSeeds(runs []SweepRun) []SweepPoint {
	type key struct {
		z float64
		g time.Duration
		p string
	}
	idx := map[key]int{}
	var out []SweepPoint
	for _, r := range runs {
		k := key{r.Zipf, r.Gap, r.Policy}
		i, ok := idx[k]
		if !ok {
			i = len(out)
			idx[k] = i
			out = append(out, SweepPoint{Zipf: r.Zipf, Gap: r.Gap, Policy: r.Policy})
		}
		p := &out[i]
		p.Seeds++
		p.Invocations += r.Invocations
		p.Served += r.Served
		p.ColdStarts += r.ColdStarts()
		p.addedSum += float64(r.MeanAdded) * float64(r.Served)
		p.floorCold += r.FloorCold * float64(r.Served)
		p.floorAdd += float64(r.FloorAdded) * float64(r.Served)
		p.seedCold = append(p.seedCold, r.ColdRatio)
		p.seedAdded = append(p.seedAdded, float64(r.MeanAdded))
		p.seedOf = append(p.seedOf, r.Seed)
	}
	for i := range out {
		p := &out[i]
		if p.Served > 0 {
			p.ColdRatio = float64(p.ColdStarts) / float64(p.Served)
			p.MeanAdded = time.Duration(p.addedSum / float64(p.Served))
			p.FloorCold = p.floorCold / float64(p.Served)
			p.FloorAdded = time.Duration(p.floorAdd / float64(p.Served))
		}
		p.ColdLo, p.ColdHi = slices.Min(p.seedCold), slices.Max(p.seedCold)
		p.AddedLo, p.AddedHi = time.Duration(slices.Min(p.seedAdded)), time.Duration(slices.Max(p.seedAdded))
		// A pooled ratio is a weighted mean of the seeds': inside their range but for rounding.
		p.ColdRatio = min(max(p.ColdRatio, p.ColdLo), p.ColdHi)
		p.MeanAdded = min(max(p.MeanAdded, p.AddedLo), p.AddedHi)
	}
	return out
}

// Baselines are the policies NEMO's sweep figures are compared with.
var Baselines = []string{PolicyOpenWhisk, PolicyGreedyDual, PolicyHistogram}

// SweepVerdict compares policy with the best of the baselines at every point.
type SweepVerdict struct {
	Points []VerdictPoint
}

// VerdictPoint is the comparison at one (zipf, gap).
type VerdictPoint struct {
	Zipf                 float64
	Gap                  time.Duration
	Cold, BestCold       float64
	BestColdBy           string
	Added, BestAdded     time.Duration
	BestAddedBy          string
	ColdRatio, AddedRate float64 // policy ÷ best baseline (1 when both are 0)
	// FloorColdRatio and FloorAddedRatio are the floor (of the policy's runs) ÷ the best baseline: 0.8×
	// is out of reach for any policy that cannot see the future where they exceed 0.8.
	FloorColdRatio, FloorAddedRatio float64
	// Paired is the number of seeds both the policy and the best baseline ran; ColdWorse and AddedWorse
	// are the one-sided p-values (paired t-test over those seeds, Worse) that the policy is worse than
	// the best baseline on each metric: small = a real loss, large = noise or a win. NaN with fewer than
	// two paired seeds.
	Paired                int
	ColdWorse, AddedWorse float64
}

// Significance is the p-value below which Verdict's comparison calls a difference real.
const Significance = 0.05

// Worse is the one-sided p-value of a paired t-test that the policy's per-seed figures (mine) are larger
// than the baseline's (theirs): every seed runs both on the same arrivals, so the seed's own luck cancels
// in the difference, and the differences' mean over their standard error is Student-t distributed with
// seeds − 1 degrees of freedom when the policies are equal. NaN with fewer than two pairs; with
// differences that do not vary, 0 if the policy is worse on every seed, 1 otherwise.
func Worse(mine, theirs []float64) float64 {
	n := min(len(mine), len(theirs))
	if n < 2 {
		return math.NaN()
	}
	d := make([]float64, n)
	for i := range d {
		d[i] = mine[i] - theirs[i]
	}
	mean, sd := stat.MeanStdDev(d, nil)
	if sd == 0 || math.IsNaN(sd) {
		if mean > 0 {
			return 0
		}
		return 1
	}
	t := mean / (sd / math.Sqrt(float64(n)))
	return distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(n - 1)}.Survival(t)
}

// paired returns the per-seed values of a and b (cold ratio, or mean added latency) on the seeds both ran,
// in a's order.
func paired(a, b *SweepPoint, added bool) (x, y []float64) {
	for i, seed := range a.seedOf {
		j := slices.Index(b.seedOf, seed)
		if j < 0 {
			continue
		}
		if added {
			x, y = append(x, a.seedAdded[i]), append(y, b.seedAdded[j])
		} else {
			x, y = append(x, a.seedCold[i]), append(y, b.seedCold[j])
		}
	}
	return x, y
}

// Verdict compares policy with the best baseline (of those in points) at each point.
func Verdict(points []SweepPoint, policy string) SweepVerdict {
	type key struct {
		z float64
		g time.Duration
	}
	var order []key
	byKey := map[key][]SweepPoint{}
	for _, p := range points {
		k := key{p.Zipf, p.Gap}
		if _, ok := byKey[k]; !ok {
			order = append(order, k)
		}
		byKey[k] = append(byKey[k], p)
	}
	var v SweepVerdict
	for _, k := range order {
		var me, bestCold, bestAdded *SweepPoint
		vp := VerdictPoint{Zipf: k.z, Gap: k.g, BestCold: math.Inf(1), BestAdded: time.Duration(math.MaxInt64)}
		for i, p := range byKey[k] {
			switch {
			case p.Policy == policy:
				me = &byKey[k][i]
			case slices.Contains(Baselines, p.Policy):
				if p.ColdRatio < vp.BestCold {
					vp.BestCold, vp.BestColdBy, bestCold = p.ColdRatio, p.Policy, &byKey[k][i]
				}
				if p.MeanAdded < vp.BestAdded {
					vp.BestAdded, vp.BestAddedBy, bestAdded = p.MeanAdded, p.Policy, &byKey[k][i]
				}
			}
		}
		if me == nil || vp.BestColdBy == "" {
			continue
		}
		vp.Cold, vp.Added = me.ColdRatio, me.MeanAdded
		vp.ColdRatio = ratio(vp.Cold, vp.BestCold)
		vp.AddedRate = ratio(float64(vp.Added), float64(vp.BestAdded))
		vp.FloorColdRatio = ratio(me.FloorCold, vp.BestCold)
		vp.FloorAddedRatio = ratio(float64(me.FloorAdded), float64(vp.BestAdded))
		x, y := paired(me, bestCold, false)
		vp.Paired = len(x)
		vp.ColdWorse = Worse(x, y)
		x, y = paired(me, bestAdded, true)
		vp.Paired = min(vp.Paired, len(x))
		vp.AddedWorse = Worse(x, y)
		v.Points = append(v.Points, vp)
	}
	return v
}

func ratio(a, b float64) float64 {
	if b == 0 {
		if a == 0 {
			return 1
		}
		return math.Inf(1)
	}
	return a / b
}

// Losses returns the points where a ratio exceeds 1, split by the paired test: lost (p < Significance on
// that metric: a real loss) and undecided (the seeds cannot tell the difference from noise).
func (v SweepVerdict) Losses() (lost, undecided []VerdictPoint) {
	for _, p := range v.Points {
		over := func(r, worse float64) bool { return r > 1 && worse < Significance }
		switch {
		case over(p.ColdRatio, p.ColdWorse) || over(p.AddedRate, p.AddedWorse):
			lost = append(lost, p)
		case p.ColdRatio > 1 || p.AddedRate > 1:
			undecided = append(undecided, p)
		}
	}
	return lost, undecided
}

// Count returns how many points have both ratios at most bound.
func (v SweepVerdict) Count(bound float64) (cold, added, both int) {
	for _, p := range v.Points {
		c, a := p.ColdRatio <= bound, p.AddedRate <= bound
		if c {
			cold++
		}
		if a {
			added++
		}
		if c && a {
			both++
		}
	}
	return cold, added, both
}

// WriteSweepTable writes the pooled sweep as a Markdown table: per point the
// cold-start ratio and mean added latency of every policy, then policy ÷ the
// best baseline, and a verdict line.
func WriteSweepTable(w io.Writer, points []SweepPoint, policy string) error {
	var pols []string
	for _, p := range points {
		if !slices.Contains(pols, p.Policy) {
			pols = append(pols, p.Policy)
		}
	}
	v := Verdict(points, policy)
	var b strings.Builder
	b.WriteString("| zipf | mean gap | invocations |")
	for _, p := range pols {
		fmt.Fprintf(&b, " %s cold |", p)
	}
	b.WriteString(" cold ÷ best | p worse | floor ÷ best |")
	for _, p := range pols {
		fmt.Fprintf(&b, " %s added |", p)
	}
	b.WriteString(" added ÷ best | p worse | floor ÷ best |\n|")
	for i := 0; i < 9+2*len(pols); i++ {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	find := func(z float64, g time.Duration, pol string) *SweepPoint {
		for i := range points {
			if points[i].Zipf == z && points[i].Gap == g && points[i].Policy == pol {
				return &points[i]
			}
		}
		return nil
	}
	for _, vp := range v.Points {
		inv := int64(0)
		if me := find(vp.Zipf, vp.Gap, policy); me != nil {
			inv = me.Invocations
		}
		fmt.Fprintf(&b, "| %g | %s | %d |", vp.Zipf, fmtGap(vp.Gap), inv)
		for _, p := range pols {
			if sp := find(vp.Zipf, vp.Gap, p); sp != nil {
				fmt.Fprintf(&b, " %.3f |", sp.ColdRatio)
			} else {
				b.WriteString(" – |")
			}
		}
		fmt.Fprintf(&b, " %s | %s | %.2f |", mark(vp.ColdRatio), fmtP(vp.ColdWorse), vp.FloorColdRatio)
		for _, p := range pols {
			if sp := find(vp.Zipf, vp.Gap, p); sp != nil {
				fmt.Fprintf(&b, " %s |", fmtMS(sp.MeanAdded))
			} else {
				b.WriteString(" – |")
			}
		}
		fmt.Fprintf(&b, " %s | %s | %.2f |\n", mark(vp.AddedRate), fmtP(vp.AddedWorse), vp.FloorAddedRatio)
	}
	c1, a1, b1 := v.Count(1.0)
	c8, a8, b8 := v.Count(0.8)
	n := len(v.Points)
	reach := 0
	for _, p := range v.Points {
		if p.FloorColdRatio <= 0.8 && p.FloorAddedRatio <= 0.8 {
			reach++
		}
	}
	fmt.Fprintf(&b, "\n%s ÷ best of %s: ≤ 1.0× at %d/%d points (cold ratio %d, added latency %d); "+
		"≤ 0.8× at %d/%d (cold ratio %d, added latency %d). The floor (what no policy that cannot see the "+
		"future can expect to beat) leaves 0.8× on both within reach at %d/%d points.\n",
		policy, strings.Join(Baselines, ", "), b1, n, c1, a1, b8, n, c8, a8, reach, n)
	lost, undecided := v.Losses()
	seeds := 0
	for _, p := range v.Points {
		seeds = max(seeds, p.Paired)
	}
	fmt.Fprintf(&b, "\nOver 1.0× and worse beyond noise (paired t-test over %d seeds, one-sided p < %.2f): %d point(s)%s. "+
		"Over 1.0× but not told apart from noise: %d point(s)%s.\n",
		seeds, Significance, len(lost), listPoints(lost), len(undecided), listPoints(undecided))
	_, err := io.WriteString(w, b.String())
	return err
}

// listPoints names points as " (zipf 0 at 2m, …)", or nothing.
func listPoints(ps []VerdictPoint) string {
	if len(ps) == 0 {
		return ""
	}
	names := make([]string, len(ps))
	for i, p := range ps {
		names[i] = fmt.Sprintf("zipf %g at %s", p.Zipf, fmtGap(p.Gap))
	}
	return " (" + strings.Join(names, ", ") + ")"
}

// fmtP prints a p-value with two digits ("–" when there is none).
func fmtP(p float64) string {
	if math.IsNaN(p) {
		return "–"
	}
	if p < 0.01 {
		return "<0.01"
	}
	return fmt.Sprintf("%.2f", p)
}

func mark(r float64) string {
	s := fmt.Sprintf("%.2f", r)
	if r > 1 {
		return "**" + s + "**"
	}
	return s
}

func fmtMS(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 0, 64) + " ms"
}

// fmtGap prints a gap as the flag would take it ("1s", "30s", "2m", "10m").
func fmtGap(g time.Duration) string {
	s := g.String()
	s = strings.TrimSuffix(s, "0s")
	if strings.HasSuffix(s, "m") && !strings.Contains(s, "h") {
		return s
	}
	if strings.HasSuffix(s, "h0m") {
		return strings.TrimSuffix(s, "0m")
	}
	return g.String()
}

var sweepHeader = append([]string{"zipf", "mean_gap_s", "seed", "floor_cold_ratio", "floor_added_ms"}, csvHeader...)

// WriteSweepCSV writes one row per run: the point (zipf, mean gap, seed)
// then the columns of WriteCSV. ReadSweepCSV reads it back, so figures and
// tables can be redrawn without simulating again.
func WriteSweepCSV(w io.Writer, runs []SweepRun) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(sweepHeader); err != nil {
		return err
	}
	for _, r := range runs {
		row := append([]string{strconv.FormatFloat(r.Zipf, 'g', -1, 64),
			strconv.FormatFloat(r.Gap.Seconds(), 'g', -1, 64), strconv.FormatUint(r.Seed, 10),
			strconv.FormatFloat(r.FloorCold, 'g', -1, 64),
			strconv.FormatFloat(r.FloorAdded.Seconds()*1000, 'g', -1, 64)}, r.row()...)
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// ErrBadSweep is wrapped by ReadSweepCSV's errors.
var ErrBadSweep = errors.New("sim: bad sweep CSV")

// ReadSweepCSV reads what WriteSweepCSV wrote (the figures' inputs: point,
// policy, served, cold starts, mean added latency).
func ReadSweepCSV(r io.Reader) ([]SweepRun, error) {
	rows, err := csv.NewReader(r).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadSweep, err)
	}
	if len(rows) == 0 || !slices.Equal(rows[0], sweepHeader) {
		return nil, fmt.Errorf("%w: header is not %s", ErrBadSweep, strings.Join(sweepHeader, ","))
	}
	col := func(name string) int { return slices.Index(sweepHeader, name) }
	var out []SweepRun
	for ln, row := range rows[1:] {
		bad := func(name string, err error) error {
			return fmt.Errorf("%w: line %d: %s %q: %w", ErrBadSweep, ln+2, name, row[col(name)], err)
		}
		f := func(name string) (float64, error) {
			v, err := strconv.ParseFloat(row[col(name)], 64)
			if err == nil && (math.IsNaN(v) || math.IsInf(v, 0) || v < 0) {
				err = errors.New("not a finite non-negative number")
			}
			if err != nil {
				return 0, bad(name, err)
			}
			return v, nil
		}
		n := func(name string) (int64, error) {
			v, err := strconv.ParseInt(row[col(name)], 10, 64)
			if err == nil && v < 0 {
				err = errors.New("negative")
			}
			if err != nil {
				return 0, bad(name, err)
			}
			return v, nil
		}
		var r SweepRun
		r.Metrics = &Metrics{Policy: row[col("policy")], Workload: row[col("workload")]}
		var gap, added, cold, fcold, fadded float64
		var seed, mem int64
		var errs []error
		var e error
		r.Zipf, e = f("zipf")
		errs = append(errs, e)
		gap, e = f("mean_gap_s")
		errs = append(errs, e)
		seed, e = n("seed")
		errs = append(errs, e)
		mem, e = n("memory_mb")
		errs = append(errs, e)
		r.Invocations, e = n("invocations")
		errs = append(errs, e)
		r.Served, e = n("served")
		errs = append(errs, e)
		r.Cold, e = n("cold_starts") // the pooled figures need only the total
		errs = append(errs, e)
		cold, e = f("cold_ratio")
		errs = append(errs, e)
		added, e = f("mean_added_ms")
		errs = append(errs, e)
		fcold, e = f("floor_cold_ratio")
		errs = append(errs, e)
		fadded, e = f("floor_added_ms")
		errs = append(errs, e)
		if err := errors.Join(errs...); err != nil {
			return nil, err
		}
		if r.Policy == "" || gap <= 0 || r.Cold > r.Served {
			return nil, fmt.Errorf("%w: line %d: no policy, a gap of 0 or more cold starts than served", ErrBadSweep, ln+2)
		}
		r.Gap = time.Duration(math.Round(gap * float64(time.Second)))
		r.Seed = uint64(seed)
		r.MemoryMB = int(mem)
		r.ColdRatio = cold
		r.MeanAdded = time.Duration(added * float64(time.Millisecond))
		r.FloorCold = fcold
		r.FloorAdded = time.Duration(fadded * float64(time.Millisecond))
		out = append(out, r)
	}
	return out, nil
}

// PlotSweep draws the pooled sweep: cold-start ratio (top row) and mean
// added latency (bottom row) against the mean gap between invocations, one
// panel per popularity skew, one line per policy, with the per-seed range
// as error bars.
func PlotSweep(w io.Writer, points []SweepPoint, title string) error {
	var zipfs []float64
	var gaps []time.Duration
	var pols []string
	for _, p := range points {
		if !slices.Contains(zipfs, p.Zipf) {
			zipfs = append(zipfs, p.Zipf)
		}
		if !slices.Contains(gaps, p.Gap) {
			gaps = append(gaps, p.Gap)
		}
		if !slices.Contains(pols, p.Policy) {
			pols = append(pols, p.Policy)
		}
	}
	if len(points) == 0 {
		return fmt.Errorf("%w: nothing to plot", chart.ErrInvalid)
	}
	slices.Sort(zipfs)
	slices.Sort(gaps)
	xs := make([]float64, len(gaps))
	for i, g := range gaps {
		xs[i] = g.Seconds()
	}
	get := func(z float64, g time.Duration, pol string) *SweepPoint {
		for i := range points {
			if points[i].Zipf == z && points[i].Gap == g && points[i].Policy == pol {
				return &points[i]
			}
		}
		return nil
	}
	var cold, added []chart.Panel
	for _, z := range zipfs {
		var cs, as []chart.Series
		for _, pol := range pols {
			cv := make([]chart.Value, len(gaps))
			av := make([]chart.Value, len(gaps))
			for i, g := range gaps {
				p := get(z, g, pol)
				if p == nil {
					cv[i], av[i] = chart.Missing(), chart.Missing()
					continue
				}
				cv[i] = chart.Value{Mid: p.ColdRatio, Lo: p.ColdLo, Hi: p.ColdHi}
				av[i] = chart.Value{Mid: p.MeanAdded.Seconds(), Lo: p.AddedLo.Seconds(), Hi: p.AddedHi.Seconds()}
			}
			cs = append(cs, chart.Series{Name: pol, Values: cv})
			as = append(as, chart.Series{Name: pol, Values: av})
		}
		label := fmt.Sprintf("zipf %g", z)
		if z == 0 {
			label = "uniform (zipf 0)"
		}
		cold = append(cold, chart.Lines{Title: label + ": cold-start ratio", XLabel: "mean gap (s)", YLabel: "cold ratio",
			X: xs, Series: cs, LogX: true, XTicks: xs})
		added = append(added, chart.Lines{Title: label + ": mean added latency", XLabel: "mean gap (s)", YLabel: "added (s)",
			X: xs, Series: as, LogX: true, XTicks: xs})
	}
	format, err := formatOf(w)
	if err != nil {
		return err
	}
	fig := chart.Figure{Title: title, Cols: len(zipfs), Panels: append(cold, added...), ShareY: true,
		Width: chart.DefaultWidth * 1.5, Height: chart.DefaultHeight * 1.4}
	return fig.Write(w, format)
}
