package papereval

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// synthetic builds a results set shaped like a small full run: NF-alone, controlled and mixed runs of
// one NF at both sizes and priorities, two repetitions. The numbers are made up; the report must render
// every section and figure from them.
func synthetic() []Row {
	rng := rand.New(rand.NewPCG(1, 2))
	var rows []Row
	meta := func(k, v string) { rows = append(rows, Row{"kind": RowMeta, "key": k, "value": v}) }
	meta("date", "2026-12-07 12:00 UTC")
	meta("machine", "2 CPUs (test), Linux test, go")
	meta("head_gap", "30s")
	meta("nf_core", "1")
	meta("svc_core", "0")
	for _, size := range []int{1024, 1500} {
		rows = append(rows, Row{"kind": RowCalibrate, "nf": "firewall", "size": fmt.Sprint(size), "offered_pps": "20000", "nf_cpu": "0.7"})
	}
	conds := []Cond{}
	for _, prio := range []string{PrioRT, PrioNormal} {
		for _, size := range []int{1024, 1500} {
			conds = append(conds, Cond{"firewall", size, prio})
		}
	}
	run := func(spec RunSpec, extra Row) Row {
		r := withKind(ident(spec), RowRun)
		defaults := Row{"window_s": "60", "core_busy": "0.9", "svc_core_busy": "0.5", "nf_cpu": "0.6",
			"gen_sent": "1200000", "nf_received": "1200000", "nf_forwarded": "1199000", "nf_kernel_drops": "0",
			"invoker_cpu_s": "3", "invocations": "40", "errors": "0", "unanswered": "0"}
		for k, v := range defaults {
			r[k] = v
		}
		for k, v := range extra {
			r[k] = v
		}
		return r
	}
	inv := func(spec RunSpec, fn, phase string, lat, init, dur float64, cold bool, seq int) Row {
		r := withKind(ident(spec), RowInvocation)
		r["function"], r["phase"], r["answered"] = fn, phase, "1"
		r.Set("latency_ms", lat)
		r.Set("duration_ms", dur)
		r.Set("seq", seq)
		r.Set("cold", cold)
		if cold {
			r.Set("init_ms", init)
		}
		return r
	}
	for rep := 1; rep <= 2; rep++ {
		for _, c := range conds {
			spec := RunSpec{Kind: KindNFAlone, Config: CfgNFAlone, NF: c.NF, Size: c.Size, Prio: c.Prio, Rep: rep}
			rows = append(rows, run(spec, Row{"phase": "harvest-off", "nf_cpu": "0.7", "core_busy": "0.72"}),
				run(spec, Row{"phase": "harvest-on", "nf_cpu": "0.4", "core_busy": "0.42"}))
		}
		for _, cfg := range ControlledConfigs {
			cs := conds
			if !HasNF(cfg) {
				cs = []Cond{{}}
			}
			for _, c := range cs {
				spec := RunSpec{Kind: KindControlled, Config: cfg, NF: c.NF, Size: c.Size, Prio: c.Prio, Rep: rep}
				slow := map[string]float64{CfgNative: 1, CfgColocated: 3, CfgHarvest: 1.7}[cfg] * (1 + 0.1*rng.Float64())
				n := 0
				for _, f := range Functions {
					rows = append(rows, inv(spec, f.Name, "cold", slow*900, slow*500, slow*600, true, n))
					for k := 0; k < 3; k++ {
						rows = append(rows, inv(spec, f.Name, "warm", slow*80, 0, slow*75, false, n+k+1))
					}
					n += 4
				}
				rows = append(rows, run(spec, Row{"invocations": fmt.Sprint(n)}))
			}
		}
		for _, gap := range []float64{5, 30, 120} {
			for _, cfg := range MixedConfigs {
				cs := conds
				if !HasNF(cfg) {
					cs = []Cond{{}}
				}
				for _, c := range cs {
					spec := RunSpec{Kind: KindMixed, Config: cfg, NF: c.NF, Size: c.Size, Prio: c.Prio, Rep: rep,
						Gap: secs(gap), Duration: secs(300), Seed: uint64(rep)}
					coldP := map[string]float64{CfgNative: 0.3, CfgNativeWarm: 0.01, CfgColocated: 0.35, CfgHarvest: 0.35,
						CfgPrewarm: 0.2, CfgNEMO: 0.2, CfgNEMONoTM: 0.2}[cfg]
					for i := 0; i < 40; i++ {
						cold := rng.Float64() < coldP
						lat := 100.0
						if cold {
							lat = 1500
						}
						rows = append(rows, inv(spec, Functions[i%10].Name, "", lat, 500, lat-200, cold, i))
					}
					rows = append(rows, run(spec, Row{"s2": "30", "s1": "5", "s3": "1", "s41": "0", "s42": "2"}))
					for t := 1; t <= 5; t++ {
						s := withKind(ident(spec), RowSample)
						s.Set("t_s", float64(t))
						s.Set("nf_forwarded", 19000+100*rng.Float64())
						s.Set("gen_sent", 19100.0)
						rows = append(rows, s)
					}
				}
			}
		}
	}
	return rows
}

// Every section renders from a complete results set: each figure is written and linked, each goal is in
// the table, and nothing says "not in these results".
func TestReportRendersEverySection(t *testing.T) {
	dir := t.TempDir()
	rows := synthetic()
	// Through the CSV, as --report-only reads it.
	path := filepath.Join(dir, "r.csv")
	require.NoError(t, AppendCSV(path, rows))
	back, err := ReadCSV(path)
	require.NoError(t, err)
	require.Len(t, back, len(rows))
	md, err := Report(back, ReportOptions{ImgDir: filepath.Join(dir, "img"), ImgRel: "img", CSVName: path})
	require.NoError(t, err)
	for _, fig := range []string{"fig5", "fig6", "fig10", "fig11", "fig12", "fig13", "fig14", "sweep"} {
		name := "paper-eval-" + fig + ".png"
		b, err := os.ReadFile(filepath.Join(dir, "img", name))
		require.NoError(t, err, name)
		require.True(t, bytes.HasPrefix(b, []byte("\x89PNG")), name)
		require.Contains(t, md, "img/"+name)
	}
	for _, s := range []string{"Fig. 4", "Fig. 5 analogue", "Fig. 6 analogue", "Fig. 10 analogue", "Fig. 11 analogue",
		"Fig. 12 analogue", "Fig. 13 analogue", "Fig. 14 analogue", "Rate sweep", "What veth cannot do",
		"NEMO vs direct co-location", "NEMO vs native", "NF throughput with NEMO", "Harvest-only speed-up"} {
		require.Contains(t, md, s)
	}
	require.NotContains(t, md, "Not in these results")
	require.NotContains(t, md, goalsPlaceholder)
	require.NotContains(t, md, "NaN")
	// The synthetic NEMO is 100 ms warm and 1.5 s cold at 20 % cold, co-location 35 %: the table says so.
	require.Contains(t, md, "| firewall | 1024 B | 20000 pps |")
}

// A results file with only NF-alone runs renders, and each missing part names the command that makes it.
func TestReportSaysWhatIsMissing(t *testing.T) {
	var rows []Row
	for _, r := range synthetic() {
		if r["kind"] == RowMeta || r["kind"] == RowCalibrate || r["run_kind"] == KindNFAlone {
			rows = append(rows, r)
		}
	}
	md, err := Report(rows, ReportOptions{ImgDir: t.TempDir(), ImgRel: "img", CSVName: "x.csv"})
	require.NoError(t, err)
	require.Contains(t, md, "scripts/paper-eval.sh --only controlled")
	require.Contains(t, md, "scripts/paper-eval.sh --only head")
	require.Contains(t, md, "No goal could be evaluated")
	require.True(t, strings.Contains(md, "**This is a partial run**"))
}
