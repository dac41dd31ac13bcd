package papereval

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// quickResults is what a sound quick run writes: every planned run with its numbers, harvesting
// switched on and off in NEMO's mixed run, a state decided for every invocation NEMO's controller saw.
func quickResults() []Row {
	var rows []Row
	for _, spec := range QuickParams().Plan() {
		base := Row{"core_busy": "0.8", "invoker_cpu_s": "2", "invocations": "3", "errors": "0", "unanswered": "0"}
		if spec.NF != "" {
			base["nf_forwarded"], base["nf_cpu"] = "100000", "0.6"
		}
		if spec.Kind == KindNFAlone {
			for _, phase := range []string{"harvest-off", "harvest-on"} {
				r := withKind(ident(spec), RowRun)
				for k, v := range base {
					r[k] = v
				}
				r["phase"] = phase
				rows = append(rows, r)
			}
			continue
		}
		r := withKind(ident(spec), RowRun)
		for k, v := range base {
			r[k] = v
		}
		if harvesting[spec.Config] {
			r["harvest_switches"], r["harvest_on"] = "4", "0.4"
			if spec.Kind == KindControlled {
				r["harvest_switches"], r["harvest_on"] = "1", "1"
			}
		}
		if scheduling[spec.Config] {
			r["s1"], r["s2"], r["s3"] = "1", "2", "1"
		}
		rows = append(rows, r)
		for i := 0; i < 3; i++ {
			x := withKind(ident(spec), RowInvocation)
			x["aid"], x["answered"], x["latency_ms"], x["duration_ms"] = "a"+string(rune('0'+i)), "1", "900", "400"
			rows = append(rows, x)
		}
	}
	return rows
}

func TestCheckQuick(t *testing.T) {
	plan := QuickParams().Plan()
	require.Empty(t, Check(quickResults(), plan))

	edit := func(config, kind string, f func(Row)) []Row {
		rows := quickResults()
		for _, r := range rows {
			if r["kind"] == RowRun && r["config"] == config && r["run_kind"] == kind {
				f(r)
			}
		}
		return rows
	}
	for _, c := range []struct {
		name string
		rows []Row
		want string
	}{
		{"harvest stays on", edit(CfgNEMO, KindMixed, func(r Row) { r["harvest_switches"] = "1" }), "want on and off again"},
		{"harvest never on", edit(CfgHarvest, KindControlled, func(r Row) { r["harvest_switches"] = "0" }), "never switched on"},
		{"harvest where it is off", edit(CfgColocated, KindMixed, func(r Row) { r["harvest_switches"] = "2" }), "harvesting is off in colocated"},
		{"a state missing", edit(CfgNEMO, KindMixed, func(r Row) { r["s3"] = "0" }), "decided 2 states for 3 invocations"},
		{"unanswered", edit(CfgColocated, KindMixed, func(r Row) { r["unanswered"] = "1" }), "1 invocation(s) unanswered"},
		{"NF forwarded nothing", edit(CfgNEMO, KindMixed, func(r Row) { r["nf_forwarded"] = "0" }), "forwarded no packets"},
		{"a run missing", func() []Row {
			var out []Row
			for _, r := range quickResults() {
				if r["config"] != CfgNEMO {
					out = append(out, r)
				}
			}
			return out
		}(), "planned, not in the results"},
	} {
		t.Run(c.name, func(t *testing.T) {
			problems := Check(c.rows, plan)
			require.NotEmpty(t, problems)
			require.Contains(t, strings.Join(problems, "\n"), c.want)
		})
	}
}

// The quick run's results render (its controlled runs lack co-location without harvesting, and
// several figures have nothing to draw).
func TestReportRendersQuickResults(t *testing.T) {
	rows := quickResults()
	for _, r := range rows {
		if r["kind"] == RowInvocation {
			r["function"] = QuickFunctions[0]
			if r["run_kind"] == KindControlled {
				r["phase"] = "cold"
				r.Set("cold", true)
				r.Set("init_ms", 300.0)
			}
		}
	}
	md, err := Report(rows, ReportOptions{ImgDir: t.TempDir(), ImgRel: "img", CSVName: "q.csv"})
	require.NoError(t, err)
	require.Contains(t, md, "Not in these results")
}
