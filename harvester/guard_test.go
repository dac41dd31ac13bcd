package harvester

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestGuardScenarios replays testdata/guard/*.txt, data-driven files (github.com/cockroachdb/datadriven),
// through the pure Guard; -rewrite regenerates the expected decisions. Directives:
//
//	config <key>=<value>...   QoSConfig fields by their config-file names (before the first sample)
//	sample ms=<t> contention=<0|1> <nf>=<rx_bytes>/<rx_packets>/<rx_dropped>/<rx_missed>...
//
// A sample prints the guard's decision: time, contention, action, whether it is backing off, and each
// degraded NF with the reason.
func TestGuardScenarios(t *testing.T) {
	datadriven.Walk(t, filepath.Join("testdata", "guard"), func(t *testing.T, path string) {
		var cfg QoSConfig
		var g *Guard
		t0 := time.Unix(0, 0)
		datadriven.RunTest(t, path, func(t *testing.T, td *datadriven.TestData) string {
			switch td.Cmd {
			case "config":
				if g != nil {
					td.Fatalf(t, "config after the first sample")
				}
				for _, a := range td.CmdArgs {
					var x float64
					a.Scan(t, 0, &x)
					switch a.Key {
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
						td.Fatalf(t, "unknown config key %q", a.Key)
					}
				}
				return ""
			case "sample":
				if g == nil {
					g = NewGuard(cfg)
				}
				var ms, contention int
				td.ScanArgs(t, "ms", &ms)
				td.ScanArgs(t, "contention", &contention)
				var samples []GuardSample
				for _, a := range td.CmdArgs {
					if a.Key == "ms" || a.Key == "contention" {
						continue
					}
					var c IfCounters
					if _, err := fmt.Sscanf(a.SingleVal(t), "%d/%d/%d/%d", &c.RxBytes, &c.RxPackets, &c.RxDropped,
						&c.RxMissed); err != nil {
						td.Fatalf(t, "%s: %v", a, err)
					}
					samples = append(samples, GuardSample{NF: a.Key, Counters: c})
				}
				action, degraded := g.Step(t0.Add(time.Duration(ms)*time.Millisecond), samples, contention == 1)
				var out strings.Builder
				fmt.Fprintf(&out, "t=%d contention=%v action=%s backoff=%v", ms, contention == 1, action, g.InBackoff())
				for _, d := range degraded {
					fmt.Fprintf(&out, " | %s: %s", d.NF, d.Reason)
				}
				return out.String()
			}
			td.Fatalf(t, "unknown command %q", td.Cmd)
			return ""
		})
	})
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
