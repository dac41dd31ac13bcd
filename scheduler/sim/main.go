package sim

import (
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/nemo-edge/nemo/pool"
	"github.com/nemo-edge/nemo/scheduler"
)

// Options configures a simulation campaign (what Main parses from flags).
type Options struct {
	Setup    Setup
	Policies []string
	NEMO     scheduler.Config
}

// Simulate runs every policy over w with the same arrivals and setup.
func Simulate(w *Workload, opt Options) ([]*Metrics, error) {
	names := opt.Policies
	if len(names) == 0 {
		names = AllPolicies
	}
	pols := make([]policyHooks, len(names))
	for i, n := range names {
		pol, err := newPolicy(n, opt)
		if err != nil {
			return nil, err
		}
		pols[i] = pol
	}
	// Policies share nothing but the read-only workload: run them in
	// parallel, one per CPU. Each run is deterministic on its own.
	out := make([]*Metrics, len(names))
	sem := make(chan struct{}, max(1, runtime.GOMAXPROCS(0)))
	var wg sync.WaitGroup
	for i := range names {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			out[i] = run(w, opt.Setup, pols[i], names[i])
		}()
	}
	wg.Wait()
	return out, nil
}

// DefaultNEMO is the controller configuration the simulator uses for
// "nemo" (the invoker's defaults; see scheduler/doc.go).
func DefaultNEMO() scheduler.Config { return scheduler.Config{} }

// ErrInvalidOptions is wrapped by Main's errors about its command line: an
// unknown flag, a missing or bad value, a stray argument.
var ErrInvalidOptions = errors.New("sim: invalid options")

// optionsError marks an error as ErrInvalidOptions, keeping its text.
type optionsError struct{ err error }

func (e optionsError) Error() string   { return e.err.Error() }
func (e optionsError) Unwrap() []error { return []error{ErrInvalidOptions, e.err} }

// Main is `nemo simulate`: it declares its flags on fs (the caller owns fs's
// output and Usage, and prints the flags when Main returns flag.ErrHelp or
// ErrInvalidOptions), parses args, runs the campaign and writes the table to
// stdout (and a CSV and PNG when asked).
func Main(fs *flag.FlagSet, args []string, stdout io.Writer) error {
	traceDir := fs.String("traces", "scheduler/sim/testdata/traces", "directory holding azure2019_sample100_{invocations,durations,memory}.csv and azure2021_first998_invocations.csv")
	workload := fs.String("workload", "azure", "azure (2019 sample100, -functions) | azure2021 (the 2021 sample) | poisson")
	functions := fs.String("functions", "30", "azure: comma-separated list of K (first K functions of sample100; 0 = all)")
	memories := fs.String("memory", strconv.Itoa(pool.DefaultUserMemoryMB), "comma-separated pool sizes in MB (several = a memory sweep)")
	containerMB := fs.Int("container-mb", 256, "memory per container in MB (0 = the trace's per-function memory)")
	reserve := fs.Int("reserve", pool.DefaultColdReserveMB, "NEMO cold reserve in MB")
	maxWarm := fs.Int("max-warm", scheduler.DefaultConfig().MaxWarm, "NEMO pre-warm pool size (containers that cannot be evicted at once)")
	startShare := fs.Float64("start-share", 0.3, "share of the cold extra spent creating the container (rest is /init)")
	policies := fs.String("policies", strings.Join(AllPolicies, ","), "comma-separated: openwhisk, ttl-10m, greedy-dual, hybrid-hist, nemo, nemo-paper")
	pFuncs := fs.Int("poisson-functions", 10, "poisson: number of functions")
	pInterval := fs.String("poisson-interval", "5s", "poisson: mean gap between invocations (a comma-separated list sweeps)")
	pSpan := fs.Duration("poisson-span", time.Hour, "poisson: simulated time")
	pZipf := fs.String("poisson-zipf", "0", "poisson: popularity skew, 0 = uniform (a comma-separated list sweeps)")
	seed := fs.String("seed", "1", "poisson: random seed (a comma-separated list sweeps; the seeds of a point are pooled)")
	sweepFrom := fs.String("sweep-from", "", "redraw a sweep from the CSV an earlier sweep wrote (-csv), without simulating")
	csvPath := fs.String("csv", "", "write results as CSV to this file")
	pngPath := fs.String("png", "", "write a plot of the cold-start ratio to this PNG file")
	tick := fs.Duration("nemo-tick", scheduler.DefaultConfig().Tick, "NEMO pre-warm daemon period")
	stop := fs.Duration("nemo-stop-after", 0, "NEMO: stop functions idle this long (0 = the controller's default: never, keep until memory is needed)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return optionsError{err}
	}
	if fs.NArg() > 0 {
		return optionsError{fmt.Errorf("sim: unexpected arguments %q", fs.Args())}
	}
	mems, err := intList(*memories)
	if err != nil {
		return optionsError{fmt.Errorf("sim: -memory: %w", err)}
	}
	opt := Options{
		Setup: Setup{ContainerMB: *containerMB, ColdReserveMB: *reserve, MaxWarm: *maxWarm, StartShare: *startShare},
		NEMO:  DefaultNEMO(),
	}
	if *containerMB == 0 {
		opt.Setup.ContainerMB = -1
	}
	opt.NEMO.Tick = *tick
	opt.NEMO.StopAfter = *stop
	for _, p := range strings.Split(*policies, ",") {
		if p = strings.TrimSpace(p); p != "" {
			if _, err := newPolicy(p, opt); err != nil {
				return optionsError{err}
			}
			opt.Policies = append(opt.Policies, p)
		}
	}

	var loads []*Workload
	switch *workload {
	case "azure":
		ks, err := intList(*functions)
		if err != nil {
			return optionsError{fmt.Errorf("sim: -functions: %w", err)}
		}
		for _, k := range ks {
			w, err := LoadAzure2019(Sample100(*traceDir), k)
			if err != nil {
				return err
			}
			w.Name = fmt.Sprintf("T%d", len(w.Functions))
			loads = append(loads, w)
		}
	case "azure2021":
		w, err := LoadAzure2021(Azure2021(*traceDir))
		if err != nil {
			return err
		}
		w.Name = "A21"
		loads = append(loads, w)
	case "poisson":
		gaps, err := durationList(*pInterval)
		if err != nil {
			return optionsError{fmt.Errorf("sim: -poisson-interval: %w", err)}
		}
		zipfs, err := floatList(*pZipf)
		if err != nil {
			return optionsError{fmt.Errorf("sim: -poisson-zipf: %w", err)}
		}
		seeds, err := uintList(*seed)
		if err != nil {
			return optionsError{fmt.Errorf("sim: -seed: %w", err)}
		}
		if len(gaps)*len(zipfs)*len(seeds) > 1 || *sweepFrom != "" {
			if len(mems) > 1 {
				return optionsError{errors.New("sim: a Poisson sweep runs at one -memory size")}
			}
			opt.Setup.UserMemoryMB = mems[0]
			return runSweep(stdout, SweepConfig{Functions: *pFuncs, Span: *pSpan, Zipfs: zipfs, Gaps: gaps, Seeds: seeds},
				opt, *sweepFrom, *csvPath, *pngPath)
		}
		w, err := Poisson(PoissonConfig{Functions: *pFuncs, MeanInterval: gaps[0], Span: *pSpan, Zipf: zipfs[0], Seed: seeds[0]})
		if err != nil {
			return optionsError{err}
		}
		loads = append(loads, w)
	default:
		return optionsError{fmt.Errorf("sim: unknown -workload %q (azure | azure2021 | poisson)", *workload)}
	}

	var all []*Metrics
	for _, w := range loads {
		for _, mb := range mems {
			o := opt
			o.Setup.UserMemoryMB = mb
			if mb-o.Setup.ColdReserveMB <= 0 {
				return optionsError{fmt.Errorf("sim: memory %d MB leaves nothing above the %d MB cold reserve", mb, o.Setup.ColdReserveMB)}
			}
			ms, err := Simulate(w, o)
			if err != nil {
				return err
			}
			for _, m := range ms {
				m.MemoryMB = mb
			}
			all = append(all, ms...)
		}
	}
	if err := WriteTable(stdout, all); err != nil {
		return err
	}
	if *csvPath != "" {
		if err := writeFile(*csvPath, func(w io.Writer) error { return WriteCSV(w, all) }); err != nil {
			return err
		}
	}
	if *pngPath != "" {
		if err := writeFile(*pngPath, func(w io.Writer) error { return Plot(w, all) }); err != nil {
			return err
		}
	}
	return nil
}

// runSweep runs (or, with from, reads) a Poisson sweep and writes its table, CSV and figure.
func runSweep(stdout io.Writer, cfg SweepConfig, opt Options, from, csvPath, pngPath string) error {
	var runs []SweepRun
	if from != "" {
		fh, err := os.Open(from)
		if err != nil {
			return fmt.Errorf("sim: %w", err)
		}
		runs, err = ReadSweepCSV(fh)
		fh.Close()
		if err != nil {
			return err
		}
	} else {
		var err error
		runs, err = Sweep(cfg, opt, nil)
		if err != nil {
			return err
		}
	}
	points := PoolSeeds(runs)
	if err := WriteSweepTable(stdout, points, PolicyNEMO); err != nil {
		return err
	}
	if csvPath != "" && from == "" {
		if err := writeFile(csvPath, func(w io.Writer) error { return WriteSweepCSV(w, runs) }); err != nil {
			return err
		}
	}
	if pngPath != "" {
		title := fmt.Sprintf("Poisson sweep: %d functions, %d MB", cfg.Functions, runs[0].MemoryMB)
		if err := writeFile(pngPath, func(w io.Writer) error { return PlotSweep(w, points, title) }); err != nil {
			return err
		}
	}
	return nil
}

func durationList(s string) ([]time.Duration, error) {
	var out []time.Duration
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		d, err := time.ParseDuration(f)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("bad duration %q", f)
		}
		out = append(out, d)
	}
	if len(out) == 0 {
		return nil, errors.New("empty list")
	}
	return out, nil
}

func floatList(s string) ([]float64, error) {
	var out []float64
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		v, err := strconv.ParseFloat(f, 64)
		if err != nil || v < 0 || math.IsInf(v, 0) {
			return nil, fmt.Errorf("bad number %q", f)
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		return nil, errors.New("empty list")
	}
	return out, nil
}

func uintList(s string) ([]uint64, error) {
	var out []uint64
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		v, err := strconv.ParseUint(f, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("bad seed %q", f)
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		return nil, errors.New("empty list")
	}
	return out, nil
}

func intList(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		v, err := strconv.Atoi(f)
		if err != nil || v < 0 {
			return nil, fmt.Errorf("bad number %q", f)
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		return nil, errors.New("empty list")
	}
	return out, nil
}

func writeFile(path string, f func(io.Writer) error) error {
	fh, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("sim: %w", err)
	}
	if err := f(fh); err != nil {
		fh.Close()
		return err
	}
	return fh.Close()
}

var csvHeader = []string{"workload", "memory_mb", "policy", "invocations", "served", "cold_starts", "cold_ratio",
	"warm", "cold", "stem", "warming", "queued", "delayed", "buffer_wait_s", "dropped", "failed", "unserved", "prewarms", "prewarms_done",
	"prewarms_rejected", "idle_mb_s", "mean_added_ms", "p99_added_ms", "max_added_ms", "peak_mb", "states"}

func (m *Metrics) row() []string {
	ms := func(d time.Duration) string { return strconv.FormatFloat(d.Seconds()*1000, 'f', 1, 64) }
	i := func(v int64) string { return strconv.FormatInt(v, 10) }
	states := ""
	if m.States != nil {
		parts := []string{}
		for _, s := range scheduler.AllStates() {
			parts = append(parts, fmt.Sprintf("%s=%d", s, m.States[s.String()]))
		}
		states = strings.Join(parts, " ")
	}
	return []string{m.Workload, strconv.Itoa(m.MemoryMB), m.Policy, i(m.Invocations), i(m.Served), i(m.ColdStarts()),
		strconv.FormatFloat(m.ColdRatio, 'f', 4, 64), i(m.Warm), i(m.Cold), i(m.Stem), i(m.Warming), i(m.Queued), i(m.Delayed),
		strconv.FormatFloat(m.BufferWait.Seconds(), 'f', 1, 64),
		i(m.Dropped), i(m.Failed), i(m.Unserved), i(m.Prewarms), i(m.PrewarmsDone), i(m.PrewarmsRejected),
		strconv.FormatFloat(m.IdleMBSeconds, 'f', 0, 64), ms(m.MeanAdded), ms(m.P99Added), ms(m.MaxAdded),
		strconv.Itoa(m.PeakMemoryMB), states}
}

// WriteCSV writes one row per (workload, memory, policy).
func WriteCSV(w io.Writer, ms []*Metrics) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(csvHeader); err != nil {
		return err
	}
	for _, m := range ms {
		if err := cw.Write(m.row()); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// WriteTable writes a human-readable summary.
func WriteTable(w io.Writer, ms []*Metrics) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "workload\tMB\tpolicy\tinvocations\tcold\tcold ratio\tqueued\tdelayed\tdropped\tidle GB·s\tmean added\tp99 added\t")
	for _, m := range ms {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%d\t%.4f\t%d\t%d\t%d\t%.0f\t%s\t%s\t\n", m.Workload, m.MemoryMB, m.Policy,
			m.Invocations, m.ColdStarts(), m.ColdRatio, m.Queued, m.Delayed, m.Dropped, m.IdleMBSeconds/1024,
			m.MeanAdded.Round(time.Millisecond), m.P99Added.Round(time.Millisecond))
	}
	return tw.Flush()
}

// Plot draws the cold-start ratio: a grouped bar chart per workload when
// every run used one memory size, else cold ratio against memory per
// (workload, policy).
func Plot(w io.Writer, ms []*Metrics) error {
	var loads, pols []string
	var mems []int
	seen := map[string]bool{}
	for _, m := range ms {
		if !seen["w"+m.Workload] {
			seen["w"+m.Workload] = true
			loads = append(loads, m.Workload)
		}
		if !seen["p"+m.Policy] {
			seen["p"+m.Policy] = true
			pols = append(pols, m.Policy)
		}
		if k := "m" + strconv.Itoa(m.MemoryMB); !seen[k] {
			seen[k] = true
			mems = append(mems, m.MemoryMB)
		}
	}
	get := func(wl, pol string, mb int) float64 {
		for _, m := range ms {
			if m.Workload == wl && m.Policy == pol && m.MemoryMB == mb {
				return m.ColdRatio
			}
		}
		return 0
	}
	if len(mems) == 1 {
		vals := make([][]float64, len(pols))
		for i, p := range pols {
			for _, wl := range loads {
				vals[i] = append(vals[i], get(wl, p, mems[0]))
			}
		}
		return BarChart(w, fmt.Sprintf("cold-start ratio at %d MB (lower is better)", mems[0]), "cold ratio", loads, pols, vals)
	}
	xs := make([]float64, len(mems))
	for i, mb := range mems {
		xs[i] = float64(mb)
	}
	var names []string
	var vals [][]float64
	for _, wl := range loads {
		for _, p := range pols {
			name := p
			if len(loads) > 1 {
				name = wl + " " + p
			}
			names = append(names, name)
			row := make([]float64, len(mems))
			for i, mb := range mems {
				row[i] = get(wl, p, mb)
			}
			vals = append(vals, row)
		}
	}
	return LineChart(w, "cold-start ratio against pool memory", "pool memory (MB)", "cold ratio", xs, names, vals)
}
