package harvester

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestGuardScenarios replays testdata/guard/*.txt through the pure Guard and
// compares the decision log with the matching .golden file.
//
// Scenario format: "config key=value ..." (QoSConfig fields by JSON name),
// then one step per line: "<t_ms> <contention 0|1> <nf>=<rx_bytes>/<rx_packets>/<rx_dropped>/<rx_missed> ...".
func TestGuardScenarios(t *testing.T) {
	files, err := filepath.Glob("testdata/guard/*.txt")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txt"), func(t *testing.T) {
			got := runGuardScenario(t, f)
			golden := strings.TrimSuffix(f, ".txt") + ".golden"
			if *update {
				require.NoError(t, os.WriteFile(golden, []byte(got), 0o644))
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err, "run with -update to create %s", golden)
			assert.Equal(t, string(want), got)
		})
	}
}

func runGuardScenario(t *testing.T, path string) string {
	fh, err := os.Open(path)
	require.NoError(t, err)
	defer fh.Close()
	var cfg QoSConfig
	var g *Guard
	t0 := time.Unix(0, 0)
	var out strings.Builder
	sc := bufio.NewScanner(fh)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if f[0] == "config" {
			for _, kv := range f[1:] {
				k, v, _ := strings.Cut(kv, "=")
				x, err := strconv.ParseFloat(v, 64)
				require.NoError(t, err, "line %d", n)
				switch k {
				case "max_drop_rate":
					cfg.MaxDropRate = x
				case "max_drop_ratio":
					cfg.MaxDropRatio = x
				case "throughput_drop":
					cfg.ThroughputDrop = x
				case "recover_samples":
					cfg.RecoverSamples = int(x)
				case "min_backoff_ms":
					cfg.MinBackoff = time.Duration(x) * time.Millisecond
				default:
					t.Fatalf("line %d: unknown config key %q", n, k)
				}
			}
			continue
		}
		if g == nil {
			g = NewGuard(cfg)
		}
		ms, err := strconv.Atoi(f[0])
		require.NoError(t, err, "line %d", n)
		contention := f[1] == "1"
		var samples []GuardSample
		for _, s := range f[2:] {
			nf, vals, ok := strings.Cut(s, "=")
			require.True(t, ok, "line %d: %q", n, s)
			var c IfCounters
			_, err := fmt.Sscanf(vals, "%d/%d/%d/%d", &c.RxBytes, &c.RxPackets, &c.RxDropped, &c.RxMissed)
			require.NoError(t, err, "line %d: %q", n, s)
			samples = append(samples, GuardSample{NF: nf, Counters: c})
		}
		action, degraded := g.Step(t0.Add(time.Duration(ms)*time.Millisecond), samples, contention)
		fmt.Fprintf(&out, "t=%d contention=%v action=%s backoff=%v", ms, contention, action, g.InBackoff())
		for _, d := range degraded {
			fmt.Fprintf(&out, " | %s: %s", d.NF, d.Reason)
		}
		out.WriteByte('\n')
	}
	require.NoError(t, sc.Err())
	return out.String()
}

func TestGuardDropRatioAndThroughput(t *testing.T) {
	g := NewGuard(QoSConfig{MaxDropRate: 1e9, MaxDropRatio: 0.01, ThroughputDrop: 0.3})
	t0 := time.Unix(0, 0)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	g.Step(at(0), []GuardSample{{"fw", IfCounters{}}}, true)
	a, d := g.Step(at(1), []GuardSample{{"fw", IfCounters{RxBytes: 1e6, RxPackets: 1000}}}, true)
	assert.Equal(t, GuardNone, a)
	assert.Empty(t, d)
	// 20 drops for 1000 packets: ratio 0.0196 > 0.01.
	a, d = g.Step(at(2), []GuardSample{{"fw", IfCounters{RxBytes: 2e6, RxPackets: 2000, RxMissed: 20}}}, true)
	assert.Equal(t, GuardBackoff, a)
	require.Len(t, d, 1)
	assert.Contains(t, d[0].Reason, "drop ratio")

	g = NewGuard(QoSConfig{MaxDropRate: 1e9, MaxDropRatio: 0.5, ThroughputDrop: 0.3})
	g.Step(at(0), []GuardSample{{"fw", IfCounters{}}}, true)
	g.Step(at(1), []GuardSample{{"fw", IfCounters{RxBytes: 1e6, RxPackets: 1000}}}, true)
	// Throughput halves with one drop: below baseline by more than 30 %.
	a, d = g.Step(at(2), []GuardSample{{"fw", IfCounters{RxBytes: 1.5e6, RxPackets: 1500, RxDropped: 1}}}, true)
	assert.Equal(t, GuardBackoff, a)
	require.Len(t, d, 1)
	assert.Contains(t, d[0].Reason, "throughput")
}

func TestGuardThroughputFallWithoutDropsIsLowerLoad(t *testing.T) {
	g := NewGuard(QoSConfig{ThroughputDrop: 0.1})
	t0 := time.Unix(0, 0)
	g.Step(t0, []GuardSample{{"fw", IfCounters{}}}, true)
	g.Step(t0.Add(time.Second), []GuardSample{{"fw", IfCounters{RxBytes: 1e6, RxPackets: 1000}}}, true)
	a, d := g.Step(t0.Add(2*time.Second), []GuardSample{{"fw", IfCounters{RxBytes: 1.1e6, RxPackets: 1100}}}, true)
	assert.Equal(t, GuardNone, a)
	assert.Empty(t, d, "offered load fell; nothing was dropped")
}

func TestGuardCounterResetIsNotDegradation(t *testing.T) {
	g := NewGuard(QoSConfig{})
	t0 := time.Unix(0, 0)
	g.Step(t0, []GuardSample{{"fw", IfCounters{RxBytes: 1e9, RxPackets: 1e6, RxDropped: 1e5}}}, true)
	a, d := g.Step(t0.Add(time.Second), []GuardSample{{"fw", IfCounters{RxBytes: 10, RxPackets: 1}}}, true)
	assert.Equal(t, GuardNone, a)
	assert.Empty(t, d)
}
