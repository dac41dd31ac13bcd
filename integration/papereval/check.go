package papereval

import "fmt"

// Check is the smoke test's verdict on a results file (no ratio is judged): every invocation answered
// without error, every NF run forwarded packets, every run produced its numbers, each configuration
// planned appears, and the invoker's features did what the configuration says: a harvesting mixed run
// switched harvesting on and off again (the harvester follows the edge functions), a run without
// harvesting never switched it, and NEMO's function controller decided a state (S2-S4) for every
// invocation of a configuration that runs it.
func Check(rows []Row, plan []RunSpec) []string {
	var problems []string
	runs := Select(rows, RowRun)
	if len(runs) == 0 {
		return []string{"no completed runs"}
	}
	done := CompletedRuns(rows)
	for _, r := range plan {
		if !done[r.ID()] {
			problems = append(problems, r.ID()+": planned, not in the results")
		}
	}
	for _, r := range runs {
		id := r["run_id"]
		if r["phase"] != "" {
			id += " " + r["phase"]
		}
		if _, ok := r.F("core_busy"); !ok {
			problems = append(problems, id+": no NF-core CPU figure")
		}
		if r["nf"] != "" {
			if v := r.Fz("nf_forwarded"); v <= 0 {
				problems = append(problems, id+": the NF forwarded no packets")
			}
			if _, ok := r.F("nf_cpu"); !ok {
				problems = append(problems, id+": no NF CPU figure")
			}
		}
		if r["run_kind"] == KindNFAlone {
			continue
		}
		if n := r.I("invocations"); n == 0 {
			problems = append(problems, id+": no invocations")
		}
		if u := r.I("unanswered"); u > 0 {
			problems = append(problems, fmt.Sprintf("%s: %d invocation(s) unanswered", id, u))
		}
		if e := r.I("errors"); e > 0 {
			problems = append(problems, fmt.Sprintf("%s: %d invocation(s) failed", id, e))
		}
		if _, ok := r.F("invoker_cpu_s"); !ok {
			problems = append(problems, id+": no invoker CPU figure")
		}
		problems = append(problems, checkFeatures(r)...)
	}
	byRun := map[string][]Row{}
	for _, r := range Select(rows, RowInvocation) {
		if r["phase"] != "warmup" {
			byRun[r["run_id"]] = append(byRun[r["run_id"]], r)
		}
	}
	for _, r := range runs {
		if r["run_kind"] == KindNFAlone {
			continue
		}
		inv := byRun[r["run_id"]]
		if len(inv) != r.I("invocations") {
			problems = append(problems, fmt.Sprintf("%s: %d invocation rows for %d invocations", r["run_id"], len(inv), r.I("invocations")))
		}
		for _, x := range inv {
			if x["answered"] != "1" {
				continue
			}
			if _, ok := x.F("latency_ms"); !ok {
				problems = append(problems, fmt.Sprintf("%s: %s has no latency", r["run_id"], x["aid"]))
			}
			if _, ok := x.F("duration_ms"); !ok {
				problems = append(problems, fmt.Sprintf("%s: %s has no duration", r["run_id"], x["aid"]))
			}
		}
	}
	return problems
}

// Configurations whose invoker harvests slack and whose invoker runs NEMO's function controller.
var (
	harvesting = map[string]bool{CfgHarvest: true, CfgNEMO: true, CfgNEMONoTM: true}
	scheduling = map[string]bool{CfgPrewarm: true, CfgNEMO: true, CfgNEMONoTM: true}
)

// checkFeatures checks a mixed or controlled run row against what its configuration switches on.
func checkFeatures(r Row) []string {
	var problems []string
	id, cfg := r["run_id"], r["config"]
	switches := r.Fz("harvest_switches")
	switch {
	case !harvesting[cfg]:
		if switches != 0 || r.Fz("harvest_on") != 0 {
			problems = append(problems, fmt.Sprintf("%s: harvesting is off in %s, yet it switched %v times (on %v of the time)",
				id, cfg, switches, r.Fz("harvest_on")))
		}
	case r["run_kind"] == KindMixed:
		// Between the stream's invocations the harvester must give the NF its core back.
		if switches < 2 {
			problems = append(problems, fmt.Sprintf("%s: harvesting switched %v times; want on and off again (>= 2)", id, switches))
		}
	default:
		if switches < 1 {
			problems = append(problems, id+": harvesting never switched on")
		}
	}
	if scheduling[cfg] {
		decided := r.Fz("s2") + r.Fz("s3") + r.Fz("s41") + r.Fz("s42")
		if n := r.Fz("invocations"); decided != n {
			problems = append(problems, fmt.Sprintf("%s: the function controller decided %v states for %v invocations", id, decided, n))
		}
	}
	return problems
}
