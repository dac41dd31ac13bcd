package papereval

import "fmt"

// Check is the smoke test's verdict on a results file (no ratio is judged): every invocation answered
// without error, every NF run forwarded packets, every run produced its numbers, and each configuration
// planned appears.
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
