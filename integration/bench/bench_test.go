package bench

import (
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func ms(v ...int) []time.Duration {
	out := make([]time.Duration, len(v))
	for i, x := range v {
		out[i] = time.Duration(x) * time.Millisecond
	}
	return out
}

func TestSummarizeNearestRank(t *testing.T) {
	var d []time.Duration
	for i := 100; i >= 1; i-- { // unsorted input
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	s := Summarize(d)
	assert.Equal(t, 100, s.N)
	assert.Equal(t, 50*time.Millisecond, s.P50)
	assert.Equal(t, 99*time.Millisecond, s.P99)
	assert.Equal(t, time.Millisecond, s.Min)
	assert.Equal(t, 100*time.Millisecond, s.Max)
	assert.Equal(t, 50500*time.Microsecond, s.Avg)
	assert.Equal(t, 100*time.Millisecond, d[0], "the input is not sorted in place")
}

func TestSummarizeEmptyAndSingle(t *testing.T) {
	assert.Equal(t, Summary{}, Summarize(nil))
	s := Summarize(ms(7))
	assert.Equal(t, 7*time.Millisecond, s.P50)
	assert.Equal(t, 7*time.Millisecond, s.P99)
}

func TestSumPercentileIsTheConvolution(t *testing.T) {
	// X ∈ {1,3}, Y ∈ {10,20}: sums {11,13,21,23}.
	a, b := ms(1, 3), ms(10, 20)
	assert.Equal(t, 13*time.Millisecond, SumPercentile(a, b, 50))
	assert.Equal(t, 23*time.Millisecond, SumPercentile(a, b, 99))
	assert.Equal(t, 11*time.Millisecond, SumPercentile(a, b, 1))
	assert.Zero(t, SumPercentile(nil, b, 50))
}

func TestSpreadAndRatios(t *testing.T) {
	s := SpreadOf([]float64{3, 1, math.NaN(), 2})
	assert.Equal(t, Spread{Median: 2, Min: 1, Max: 3, N: 3}, s)
	s = SpreadOf([]float64{4, 1})
	assert.Equal(t, 2.5, s.Median)
	assert.True(t, math.IsNaN(SpreadOf(nil).Median))

	r := Ratios([]float64{2, 3, 9}, []float64{1, 0})
	require.Len(t, r, 2)
	assert.Equal(t, 2.0, r[0])
	assert.True(t, math.IsNaN(r[1]), "a zero floor gives no ratio")
}

func TestParseStat(t *testing.T) {
	line := []byte("1234 (a (weird) name) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 9 0 777 1000 200")
	st, err := parseStat(line)
	require.NoError(t, err)
	assert.Equal(t, ProcSample{Comm: "a (weird) name", Start: 777, CPU: 3 * time.Second}, st, "(250+50) ticks at 100 Hz")

	_, err = parseStat([]byte("garbage"))
	assert.ErrorIs(t, err, ErrProc)
	_, err = parseStat([]byte("1 (x) S 1 2"))
	assert.ErrorIs(t, err, ErrProc)
}

func TestCPUDeltaByPid(t *testing.T) {
	sec := func(n int) time.Duration { return time.Duration(n) * time.Second }
	before := ProcSnapshot{
		1: {Comm: "kworker/0:1-events", Start: 10, CPU: sec(5)},
		2: {Comm: "nemo", Start: 20, CPU: sec(2)},
		3: {Comm: "gone", Start: 30, CPU: sec(9)},
		4: {Comm: "old", Start: 40, CPU: sec(7)},
	}
	after := ProcSnapshot{
		1: {Comm: "kworker/0:1-writeback", Start: 10, CPU: sec(6)}, // same thread, new work item name
		2: {Comm: "nemo", Start: 20, CPU: sec(5)},
		4: {Comm: "new", Start: 41, CPU: sec(1)},  // pid reused
		5: {Comm: "nemo", Start: 50, CPU: sec(1)}, // started in between
	}
	group := func(c string) string {
		if strings.HasPrefix(c, "kworker") {
			return "kworker"
		}
		return c
	}
	assert.Equal(t, map[string]time.Duration{"kworker": sec(1), "nemo": sec(4), "new": sec(1)}, CPUDelta(before, after, group))
}

func TestProcOfSelf(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	// Burn a little CPU so the counter has something to show.
	deadline := time.Now().Add(30 * time.Millisecond)
	for x := 0; time.Now().Before(deadline); x++ {
		_ = x * x
	}
	cpu, err := ProcCPU(os.Getpid())
	require.NoError(t, err)
	assert.Positive(t, cpu)
	rss, err := ProcRSS(os.Getpid())
	require.NoError(t, err)
	assert.Greater(t, rss, int64(1<<20), "a Go test binary has more than 1 MiB resident")
	_, err = ProcRSS(-1)
	assert.ErrorIs(t, err, ErrProc)
	_, err = ProcRunQueueWait(os.Getpid())
	assert.NoError(t, err)
	_, err = ProcRunQueueWait(-1)
	assert.ErrorIs(t, err, ErrProc)

	busy, total, err := MachineCPU()
	require.NoError(t, err)
	assert.Positive(t, busy)
	assert.GreaterOrEqual(t, total, busy)
	assert.Len(t, strings.Fields(LoadAvg()), 3)
	assert.NotEmpty(t, SnapshotProcs())
}

const benchOut = `goos: linux
goarch: amd64
pkg: github.com/nemo-edge/nemo/pool/docker
cpu: AMD EPYC
BenchmarkFreezeThawVsPause-2   	      20	   1234567 ns/op	       478.0 cgroup-µs/cycle	       246.0 freeze-µs	       205.0 thaw-µs	     37600 pause-µs/cycle	        78.66 pause/cgroup
BenchmarkFreezeThawVsPause-2   	      20	   1234567 ns/op	       500.0 cgroup-µs/cycle	       250.0 freeze-µs	       210.0 thaw-µs	     40000 pause-µs/cycle	        80.00 pause/cgroup
BenchmarkFreezeThawVsPause logs something
PASS
ok  	github.com/nemo-edge/nemo/pool/docker	12.3s
`

func TestParseBenchOutput(t *testing.T) {
	lines, err := ParseBenchOutput(benchOut, "BenchmarkFreezeThawVsPause")
	require.NoError(t, err)
	require.Len(t, lines, 2)
	assert.Equal(t, 478.0, lines[0]["cgroup-µs/cycle"])
	assert.Equal(t, []float64{78.66, 80}, Column(lines, "pause/cgroup"))
	assert.True(t, math.IsNaN(Column(lines, "nope")[0]))

	_, err = ParseBenchOutput("PASS\n", "BenchmarkFreezeThawVsPause")
	assert.ErrorIs(t, err, ErrNoBenchmark)
	_, err = ParseBenchOutput("BenchmarkX-2 10 abc ns/op\n", "BenchmarkX")
	assert.Error(t, err)
}

func TestReportRendersGoalsAndRatios(t *testing.T) {
	r := &Report{
		Date: time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC), Machine: []string{"2 cores"}, Load: []string{"start: 1 2 3"},
		Command: "scripts/bench.sh",
		Rows: []Row{
			{ID: "2", Figure: "warm e2e p50", Unit: "ms", Value: SpreadOf([]float64{3, 3.5}), Floor: SpreadOf([]float64{2, 2}),
				FloorWhat: "kafka+run", Ratio: SpreadOf(Ratios([]float64{3, 3.5}, []float64{2, 2})), Goal: 1.2, Command: "go run x"},
			{ID: "3", Figure: "cold", Unit: "ms", Value: SpreadOf([]float64{100}), Floor: SpreadOf([]float64{100}),
				FloorWhat: "bare", Ratio: SpreadOf([]float64{1}), Goal: 1.1, Command: "go run x"},
			{ID: "5", Figure: "freeze", Unit: "µs", Value: SpreadOf([]float64{500}), Floor: SpreadOf([]float64{40000}),
				FloorWhat: "pause", Ratio: SpreadOf([]float64{0.0125})},
			{ID: "5b", Figure: "pause vs freeze", Unit: "µs", Value: SpreadOf([]float64{40000}), Floor: SpreadOf([]float64{500}),
				FloorWhat: "freeze", Ratio: SpreadOf([]float64{80}), Goal: 30, GoalAtLeast: true},
		},
		Notes:   []string{"docker-proxy | costs"},
		Verdict: []string{"2a not met"},
	}
	tab := r.Table()
	assert.Contains(t, tab, "1.62× (1.50–1.75)")
	assert.Contains(t, tab, "≤ 1.20×: NOT met")
	assert.Contains(t, tab, "≤ 1.10×: met")
	assert.Contains(t, tab, "≥ 30.0×: met")
	md := r.Markdown()
	assert.Contains(t, md, "| 2 | warm e2e p50 | 3.25 ms (3.00–3.50) | kafka+run: 2.00 ms | 1.62× (1.50–1.75) | ≤ 1.20×: NOT met |")
	assert.Contains(t, md, "- 2, 3: `go run x`")
	assert.Contains(t, md, `docker-proxy | costs`)
	assert.Contains(t, md, "### Verdict\n\n- 2a not met\n")
	assert.Contains(t, md, "2026-01-02 03:04 UTC")
	assert.Contains(t, md, "[allocations.md](allocations.md)", "the in-process figures are linked")
}

func TestProfileByNemoFunction(t *testing.T) {
	script := `
	  4a1 runtime.mallocgc+0x12
	  4a2 github.com/nemo-edge/nemo/pool/docker.fileSource.tail+0x40
	  4a3 github.com/nemo-edge/nemo/pool.(*Manager).Run+0x9

	  5b1 encoding/json.Unmarshal+0x1
	  5b2 github.com/nemo-edge/nemo/invoker/wire.ParseActivationMessage+0x2

	  6c1 runtime.scanobject+0x1
	  6c2 runtime.gcBgMarkWorker+0x3

	  7d1 github.com/IBM/sarama.(*Broker).send+0x1

	  8e1 github.com/nemo-edge/nemo/pool/docker.fileSource.tail+0x44

	  9f1 github.com/nemo-edge/nemo/invoker/wire.(*writer).key
	  9f2 github.com/nemo-edge/nemo/invoker/wire.(*Action).ContentHash
`
	got := ProfileByNemoFunction(script, 10, 0)
	assert.Equal(t, []string{"pool/docker.fileSource.tail 33.3%", "GC 16.7%", "invoker/wire.(*Action).ContentHash 16.7%",
		"invoker/wire.ParseActivationMessage 16.7%", "sarama 16.7%"}, got, "largest first, ties by name; generic helpers skipped")
	assert.Len(t, ProfileByNemoFunction(script, 1, 0), 1)
	assert.Len(t, ProfileByNemoFunction(script, 10, 20), 1, "entries under minPct are dropped")
	assert.Empty(t, ProfileByNemoFunction("", 10, 0))
}
