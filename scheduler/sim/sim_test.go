package sim

import (
	"bytes"
	"encoding/csv"
	"errors"
	"flag"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nemo-edge/nemo/pool"
)

const traces = "testdata/traces"

func TestLoadSample100Counts(t *testing.T) {
	// Invocation totals of the first K rows, as listed in traces/README.md.
	for k, want := range map[int]int{10: 1123, 20: 10016, 30: 11240, 50: 44341, 0: 339657} {
		w, err := LoadAzure2019(Sample100(traces), k)
		if err != nil {
			t.Fatal(err)
		}
		if len(w.Arrivals) != want {
			t.Errorf("K=%d: %d invocations, want %d", k, len(w.Arrivals), want)
		}
		if w.Span != 8*time.Hour {
			t.Errorf("K=%d: span %v, want 8h", k, w.Span)
		}
		for i := 1; i < len(w.Arrivals); i++ {
			if w.Arrivals[i].At < w.Arrivals[i-1].At {
				t.Fatalf("K=%d: arrivals not sorted at %d", k, i)
			}
		}
	}
}

// writeTrace writes a tiny 2019-format trace (two functions, three minutes).
func writeTrace(t *testing.T, inv, dur, mem string) AzureFiles {
	t.Helper()
	dir := t.TempDir()
	f := AzureFiles{
		Invocations: filepath.Join(dir, "inv.csv"),
		Durations:   filepath.Join(dir, "dur.csv"),
		Memory:      filepath.Join(dir, "mem.csv"),
	}
	for path, body := range map[string]string{f.Invocations: inv, f.Durations: dur, f.Memory: mem} {
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

const (
	tinyInv = "HashOwner,HashApp,HashFunction,Trigger,1,2,3\n" +
		"o,a,fnA,http,1,0,3\n" +
		"o,a,fnB,timer,0,2,0\n"
	tinyDur = "HashOwner,HashApp,HashFunction,Average,Count,Minimum,Maximum\n" +
		"o,a,fnA,100,4,50,1100\n" +
		"o,a,fnB,20,2,10,20\n"
	tinyMem = "HashFunction,HashOwner,HashApp,SampleCount,AverageAllocatedMb\n" +
		"fnA,o,a,10,40.5\nfnB,o,a,10,12\n"
)

func TestArrivalConventionAndFunctionModel(t *testing.T) {
	w, err := LoadAzure2019(writeTrace(t, tinyInv, tinyDur, tinyMem), 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range w.Arrivals {
		got = append(got, w.Functions[a.Fn].Name+"@"+a.At.String())
	}
	// One invocation at the minute's start; several spaced evenly.
	want := []string{"fnA@0s", "fnB@1m0s", "fnB@1m30s", "fnA@2m0s", "fnA@2m20s", "fnA@2m40s"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("arrivals %v, want %v", got, want)
	}
	a := w.Functions[0]
	if a.Warm != 100*time.Millisecond || a.ColdExtra != time.Second || a.TraceMB != 41 {
		t.Fatalf("fnA model %+v: want warm=Average 100ms, cold extra=Max-Avg 1s, 41 MB", a)
	}
	if b := w.Functions[1]; b.ColdExtra != 0 {
		t.Fatalf("fnB cold extra %v, want 0 (Max = Average)", b.ColdExtra)
	}
}

func TestBadTraceInputs(t *testing.T) {
	cases := map[string][3]string{
		"missing Trigger column":   {strings.Replace(tinyInv, "Trigger", "Kind", 1), tinyDur, tinyMem},
		"negative count":           {strings.Replace(tinyInv, "1,0,3", "1,-2,3", 1), tinyDur, tinyMem},
		"non-numeric count":        {strings.Replace(tinyInv, "1,0,3", "1,x,3", 1), tinyDur, tinyMem},
		"no durations row":         {tinyInv, strings.Replace(tinyDur, "fnB", "fnC", 1), tinyMem},
		"no memory row":            {tinyInv, tinyDur, strings.Replace(tinyMem, "fnB", "fnC", 1)},
		"bad Maximum":              {tinyInv, strings.Replace(tinyDur, "1100", "lots", 1), tinyMem},
		"ragged row":               {tinyInv + "o,a,fnC,http,1\n", tinyDur, tinyMem},
		"empty durations":          {tinyInv, "", tinyMem},
		"no minute columns at all": {"HashOwner,HashApp,HashFunction,Trigger\no,a,fnA,http\n", tinyDur, tinyMem},
	}
	for name, c := range cases {
		_, err := LoadAzure2019(writeTrace(t, c[0], c[1], c[2]), 0)
		if !errors.Is(err, ErrBadTrace) {
			t.Errorf("%s: err %v, want ErrBadTrace", name, err)
		}
	}
	if _, err := LoadAzure2019(AzureFiles{Invocations: "/nonexistent", Durations: "x", Memory: "y"}, 0); !errors.Is(err, ErrBadTrace) {
		t.Errorf("missing file: err %v", err)
	}
}

func TestPoissonDeterministicForSeed(t *testing.T) {
	cfg := PoissonConfig{Functions: 10, MeanInterval: 2 * time.Second, Span: 10 * time.Minute, Seed: 42}
	a, err := Poisson(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Poisson(cfg)
	if !reflect.DeepEqual(a.Arrivals, b.Arrivals) {
		t.Fatal("same seed, different arrivals")
	}
	cfg.Seed = 43
	c, _ := Poisson(cfg)
	if reflect.DeepEqual(a.Arrivals, c.Arrivals) {
		t.Fatal("different seeds, same arrivals")
	}
	// About span/interval arrivals (300 expected; a 6-sigma band).
	if n := len(a.Arrivals); n < 200 || n > 400 {
		t.Fatalf("%d arrivals for a mean of 300", n)
	}
	if _, err := Poisson(PoissonConfig{Zipf: -1}); err == nil {
		t.Fatal("negative zipf accepted")
	}
}

// fakeContainers serves ContainerInfo by id (what GreedyDual.Observe reads of the pool).
type fakeContainers map[pool.ContainerID]pool.ContainerInfo

func (f fakeContainers) Container(c pool.ContainerID) (pool.ContainerInfo, bool) {
	ci, ok := f[c]
	return ci, ok
}

func TestGreedyDualPriorityAndClock(t *testing.T) {
	g := NewGreedyDual()
	idle := func(c pool.ContainerID, mb, uses int, init time.Duration) pool.ContainerInfo {
		return pool.ContainerInfo{C: c, Key: pool.Key{Action: "f" + c.String()}, MemoryMB: mb, FunctionUses: uses,
			InitCost: init, State: pool.StateIdle}
	}
	cs := fakeContainers{
		1: idle(1, 256, 10, time.Second),  // 10·1/256
		2: idle(2, 256, 1, 4*time.Second), // 1·4/256
		3: idle(3, 128, 1, time.Second),   // 1·1/128
		4: {C: 4, Key: pool.Key{Action: "busy"}, State: pool.StateBusy},
	}
	snap := pool.Snapshot{Containers: []pool.ContainerInfo{cs[1], cs[2], cs[3], cs[4]}}
	for c := range pool.ContainerID(3) {
		g.Observe(cs, pool.Run{C: c + 1}) // clock 0
	}
	if got := g.Order(snap); !reflect.DeepEqual(got, []pool.ContainerID{4, 3, 2, 1}) {
		t.Fatalf("order %v, want [c4 c3 c2 c1] (lowest freq×cost/size first; the busy c4 is named too, the "+
			"pool skips it while it is busy)", got)
	}
	g.Observe(cs, pool.Remove{C: 3, Reason: "idle timeout"})
	if g.clock != 0 {
		t.Fatalf("clock %v after a removal that is not an eviction, want 0", g.clock)
	}
	g.Observe(cs, pool.Remove{C: 3, Reason: "evicted for x", Evicted: true})
	if want := 1.0 / 128; g.clock != want {
		t.Fatalf("clock %v after evicting c3, want its priority %v", g.clock, want)
	}
	// A container used after the eviction carries the new clock.
	g.Observe(cs, pool.Run{C: 2})
	if p := g.priority(cs[2]); p != 1.0/128+4.0/256 {
		t.Fatalf("c2 priority %v did not take the clock", p)
	}
}

func TestHybridHistogramWindows(t *testing.T) {
	// Certain: every idle time in bin 4 (4-5 minutes).
	var f histFn
	for i := 0; i < 50; i++ {
		f.bins[4]++
		f.sum++
		f.raw = append(f.raw, 4*time.Minute+30*time.Second)
	}
	pw, ka := f.windows()
	if pw != time.Duration(4*60*0.9*float64(time.Second)) || ka != time.Duration(5*60*1.1*float64(time.Second)) {
		t.Fatalf("certain: pre-warm %v keep-alive %v, want 3m36s and 5m30s", pw, ka)
	}
	// Uncertain: flat histogram → no pre-warm, keep alive for the 4 h range.
	var u histFn
	for i := 0; i < histBins; i++ {
		u.bins[i]++
		u.sum++
	}
	if pw, ka := u.windows(); pw != 0 || ka != 4*time.Hour {
		t.Fatalf("uncertain: %v %v", pw, ka)
	}
	// Out of bounds: idle times over 4 h use the forecast.
	var o histFn
	o.oob = 3
	o.raw = []time.Duration{5 * time.Hour, 5 * time.Hour, 5 * time.Hour}
	if pw, ka := o.windows(); pw != time.Duration(float64(5*time.Hour)*0.85) || ka != time.Duration(float64(5*time.Hour)*0.3) {
		t.Fatalf("out of bounds: %v %v", pw, ka)
	}
}

func TestSimulationDeterministicAndConsistent(t *testing.T) {
	w, err := LoadAzure2019(Sample100(traces), 20)
	if err != nil {
		t.Fatal(err)
	}
	opt := Options{Policies: []string{PolicyOpenWhisk, PolicyTTL, PolicyGreedyDual, PolicyHistogram, PolicyNEMO, PolicyNEMOPaper}}
	a, err := Simulate(w, opt)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Simulate(w, opt)
	for i := range a {
		if !reflect.DeepEqual(a[i].row(), b[i].row()) {
			t.Fatalf("%s not deterministic:\n%v\n%v", a[i].Policy, a[i].row(), b[i].row())
		}
		m := a[i]
		if m.PeakMemoryMB > 2048 || m.MemoryViolations != 0 {
			t.Errorf("%s: peak %d MB, %d violations", m.Policy, m.PeakMemoryMB, m.MemoryViolations)
		}
		if m.Served+m.Dropped+m.Failed+m.Unserved != m.Invocations {
			t.Errorf("%s: served %d + dropped %d + failed %d + unserved %d != %d", m.Policy, m.Served, m.Dropped, m.Failed, m.Unserved, m.Invocations)
		}
		if m.Warm+m.ColdStarts() != m.Served {
			t.Errorf("%s: warm+cold != served", m.Policy)
		}
	}
	if _, err := Simulate(w, Options{Policies: []string{"nope"}}); err == nil {
		t.Fatal("unknown policy accepted")
	}
}

// NEMO never asks for a pre-warm the pool must refuse (MaxWarm, the cold
// reserve, no free memory, the run buffer): the controller applies the
// pool's rules before asking. A pre-warm still in flight may later give way
// to an invocation (the pool evicts it and rejects its request): that is
// not a refusal, and it happens.
func TestNEMOPrewarmsRespectReserve(t *testing.T) {
	w, err := LoadAzure2019(Sample100(traces), 30)
	if err != nil {
		t.Fatal(err)
	}
	pol, _ := newPolicy(PolicyNEMO, Options{})
	var bad string
	gaveWay := 0
	e := runTraced(w, Setup{}, pol, "nemo", func(line string) {
		switch {
		case !strings.Contains(line, "reject prewarm"):
		case strings.Contains(line, "(pre-warm evicted for "):
			gaveWay++
		case bad == "":
			bad = line
		}
	})
	if e.Prewarms == 0 {
		t.Fatal("NEMO pre-warmed nothing on T30")
	}
	if bad != "" {
		t.Fatalf("the controller asked for a pre-warm the pool had to reject: %s", bad)
	}
	if e.PrewarmsRejected != int64(gaveWay) {
		t.Fatalf("%d pre-warms rejected, %d of them gave way to an invocation: the others were refused",
			e.PrewarmsRejected, gaveWay)
	}
	t.Logf("%d pre-warms, %d gave way to an invocation", e.Prewarms, gaveWay)
}

func TestMainWritesTableCSVAndPNG(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	args := []string{"-workload", "poisson", "-poisson-span", "20m", "-poisson-interval", "3s", "-seed", "7",
		"-memory", "1024,2048", "-csv", filepath.Join(dir, "r.csv"), "-png", filepath.Join(dir, "r.png")}
	if err := Main(newFlagSet(), args, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "greedy-dual") || !strings.Contains(out.String(), "nemo") {
		t.Fatalf("table:\n%s", out.String())
	}
	fh, err := os.Open(filepath.Join(dir, "r.csv"))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(fh).ReadAll()
	fh.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1+2*len(AllPolicies) || rows[0][0] != "workload" {
		t.Fatalf("%d csv rows (want header + %d)", len(rows), 2*len(AllPolicies))
	}
	pf, err := os.Open(filepath.Join(dir, "r.png"))
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	img, err := png.Decode(pf)
	if err != nil || img.Bounds().Dx() < 100 {
		t.Fatalf("png: %v", err)
	}
	for _, bad := range [][]string{{"-workload", "nope"}, {"-memory", "x"}, {"-policies", "lru"}, {"extra"},
		{"-memory", "256", "-workload", "poisson"}, {"-reserve", "x"}, {"-poisson-zipf", "-1", "-workload", "poisson"}, {"-nope"}} {
		if err := Main(newFlagSet(), bad, &bytes.Buffer{}); !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("Main(%v) = %v, want an error wrapping ErrInvalidOptions", bad, err)
		}
	}
	// A trace directory that is not there is not a command-line error of Main's own.
	if err := Main(newFlagSet(), []string{"-traces", "/nonexistent"}, &bytes.Buffer{}); err == nil || errors.Is(err, ErrInvalidOptions) {
		t.Errorf("Main(-traces /nonexistent) = %v", err)
	}
	if err := Main(newFlagSet(), []string{"-h"}, &bytes.Buffer{}); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("Main(-h) = %v, want flag.ErrHelp", err)
	}
}

// newFlagSet is the flag set the nemo command hands Main: silent, so the command prints usage itself.
func newFlagSet() *flag.FlagSet {
	fs := flag.NewFlagSet("simulate", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

func TestBarChartRejectsMismatchedRows(t *testing.T) {
	if err := BarChart(&bytes.Buffer{}, "t", "y", []string{"a", "b"}, []string{"s"}, [][]float64{{1}}); err == nil {
		t.Fatal("row shorter than the groups accepted")
	}
	if err := LineChart(&bytes.Buffer{}, "t", "x", "y", nil, nil, nil); err == nil {
		t.Fatal("empty line chart accepted")
	}
}

// The goal of the brief at 2048 MB / 256 MB containers / 512 MB reserve on
// T30: NEMO's cold-start ratio at most 0.9 × the better of greedy-dual and
// hybrid histogram, below OpenWhisk's default, with no more queued or
// dropped invocations than greedy-dual.
func TestGoalT30(t *testing.T) {
	w, err := LoadAzure2019(Sample100(traces), 30)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := Simulate(w, Options{})
	if err != nil {
		t.Fatal(err)
	}
	by := map[string]*Metrics{}
	for _, m := range ms {
		by[m.Policy] = m
	}
	nemo, gd, hist, ow := by[PolicyNEMO], by[PolicyGreedyDual], by[PolicyHistogram], by[PolicyOpenWhisk]
	best := min(gd.ColdRatio, hist.ColdRatio)
	if nemo.ColdRatio > 0.9*best {
		t.Errorf("NEMO cold ratio %.4f > 0.9 × %.4f", nemo.ColdRatio, best)
	}
	if nemo.ColdRatio >= ow.ColdRatio {
		t.Errorf("NEMO cold ratio %.4f not below OpenWhisk's %.4f", nemo.ColdRatio, ow.ColdRatio)
	}
	if nemo.Queued > gd.Queued || nemo.Dropped > gd.Dropped {
		t.Errorf("NEMO queued/dropped %d/%d above greedy-dual's %d/%d", nemo.Queued, nemo.Dropped, gd.Queued, gd.Dropped)
	}
}

// checkBuffer wraps a policy and, every second, compares the engine's
// cheap "run buffer not empty" marker with the pool's real buffer.
type checkBuffer struct {
	policyHooks
	mismatches, samples int
}

func (c *checkBuffer) attach(e *engine) {
	c.policyHooks.attach(e)
	var loop func()
	loop = func() {
		c.samples++
		if (len(e.env.Snapshot().Buffered) > 0) != (len(e.env.Pool.Snapshot().Buffered) > 0) {
			c.mismatches++
		}
		if e.now.Before(Epoch.Add(e.w.Span)) {
			e.at(e.now.Add(time.Second), loop)
		}
	}
	e.at(e.now, loop)
}

func TestBufferMarkerMatchesPool(t *testing.T) {
	w, err := LoadAzure2019(Sample100(traces), 30)
	if err != nil {
		t.Fatal(err)
	}
	pol, _ := newPolicy(PolicyNEMO, Options{})
	c := &checkBuffer{policyHooks: pol}
	run(w, Setup{}, c, "nemo")
	// Joining a starting container from the buffer is only seen at its Run:
	// allow a sliver of disagreement, no more.
	if c.samples < 28000 || c.mismatches*1000 > c.samples {
		t.Fatalf("%d of %d samples disagree", c.mismatches, c.samples)
	}
}

func TestLoadAzure2021(t *testing.T) {
	w, err := LoadAzure2021(Azure2021(traces))
	if err != nil {
		t.Fatal(err)
	}
	// The bundled sample: 998 invocations of 49 functions over t = 0.07–6485 s (traces/README.md).
	if len(w.Arrivals) != 998 || len(w.Functions) != 49 {
		t.Fatalf("%d arrivals of %d functions, want 998 of 49", len(w.Arrivals), len(w.Functions))
	}
	if w.Span != 108*time.Minute {
		t.Fatalf("span %v, want the end of the minute of the last arrival (it starts at 6465 s: 1h48m)", w.Span)
	}
	for i := 1; i < len(w.Arrivals); i++ {
		if w.Arrivals[i].At < w.Arrivals[i-1].At {
			t.Fatalf("arrivals not sorted at %d", i)
		}
	}
	// Arrival = end − duration; warm = mean duration; cold extra = max − mean.
	dir := t.TempDir()
	path := filepath.Join(dir, "t.csv")
	body := "app,func,end_timestamp,duration\na,f1,10.5,0.5\na,f2,3,1\na,f1,30,2\n"
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	w, err = LoadAzure2021(path)
	if err != nil {
		t.Fatal(err)
	}
	want := []Arrival{{At: 2 * time.Second, Fn: 1}, {At: 10 * time.Second, Fn: 0}, {At: 28 * time.Second, Fn: 0}}
	if !reflect.DeepEqual(w.Arrivals, want) {
		t.Fatalf("arrivals %v, want %v", w.Arrivals, want)
	}
	if f := w.Functions[0]; f.Name != "f1" || f.Warm != 1250*time.Millisecond || f.ColdExtra != 750*time.Millisecond {
		t.Fatalf("f1 %+v: want warm 1.25 s (mean), cold extra 0.75 s (max − mean)", f)
	}
	for name, body := range map[string]string{
		"no func column":    "app,fn,end_timestamp,duration\na,f,1,1\n",
		"negative duration": "app,func,end_timestamp,duration\na,f,1,-1\n",
		"text timestamp":    "app,func,end_timestamp,duration\na,f,x,1\n",
		"empty func":        "app,func,end_timestamp,duration\na,,1,1\n",
		"no rows":           "app,func,end_timestamp,duration\n",
	} {
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadAzure2021(path); !errors.Is(err, ErrBadTrace) {
			t.Errorf("%s: err %v, want ErrBadTrace", name, err)
		}
	}
}
