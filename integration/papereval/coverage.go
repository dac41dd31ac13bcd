package papereval

import (
	"fmt"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// OverheadPerRun is the fixed cost of a run besides its stream: invoker start and stop (container
// clean-up), the stem cells, the NF's settling time, the drain. Measured on the development VM, rounded up.
const OverheadPerRun = 20 * time.Second

// PublicCommand is argv with what is specific to the machine that ran it left out: binary and log paths
// (-nemo, -refnf, -trafficgen, -workdir), the results file's directory and the store's credentials. It is
// what the results file records, so it can be published.
func PublicCommand(argv []string) string {
	var out []string
	for i := 0; i < len(argv); i++ {
		a := argv[i]
		name, val, inline := strings.Cut(a, "=")
		flagName := strings.TrimLeft(name, "-")
		if !strings.HasPrefix(a, "-") || flagName == "" {
			out = append(out, a)
			continue
		}
		takesValue := !inline && i+1 < len(argv) && !strings.HasPrefix(argv[i+1], "-")
		if takesValue {
			val = argv[i+1]
		}
		switch flagName {
		case "nemo", "refnf", "trafficgen", "workdir":
			if takesValue {
				i++
			}
			continue
		case "csv":
			val = filepath.Base(val)
		case "couchdb":
			if u, err := url.Parse(val); err == nil && u.User != nil {
				u.User = nil
				val = u.String()
			}
		}
		if inline || takesValue {
			out = append(out, name, val)
			if takesValue {
				i++
			}
		} else {
			out = append(out, a)
		}
	}
	return strings.Join(out, " ")
}

// planPart names the part of the plan a run belongs to, as --only names it (head and detail are both
// `--only head`).
func planPart(r RunSpec, headGap time.Duration, detail []string) string {
	switch {
	case r.Kind == KindNFAlone:
		return "nf-alone"
	case r.Kind == KindControlled:
		return "controlled"
	case r.Gap != headGap:
		return "sweep"
	case slices.Contains(detail, r.Config):
		return "detail"
	}
	return "head"
}

// coverage says which runs of the full plan (at the results' head gap) the results hold, the commands of
// every slice, and for each part what is missing with its estimated wall time and the command that runs it.
func (r *reporter) coverage() {
	r.p("## What ran, and what did not")
	r.p("")
	p := DefaultParams()
	if d, err := time.ParseDuration(r.d.meta["head_gap"]); err == nil && d > 0 {
		p.HeadGap = d
	}
	if d, err := time.ParseDuration(r.d.meta["min_duration"]); err == nil && d > 0 {
		p.MinDuration = d
	}
	done := CompletedRuns(r.d.rows)
	type part struct {
		name, what, cmd string
		total, have     int
		missing         []RunSpec
	}
	parts := []*part{
		{name: "nf-alone", what: "NF alone, harvesting off and on (spare cycles; Fig. 6's baseline)", cmd: "--only nf-alone"},
		{name: "controlled", what: "controlled calls, cold and warm (Figs. 4, 5, 10–13)", cmd: "--only controlled"},
		{name: "head", what: "mixed stream at the headline gap: " + strings.Join(p.HeadConfigs, ", ") + " (Figs. 14, 6)", cmd: "--only head"},
		{name: "detail", what: "mixed stream at the headline gap: " + strings.Join(p.DetailConfigs, ", ") + " (Figs. 14, 6: harvest only, pre-warm only, without thread management)", cmd: "--only head"},
		{name: "sweep", what: "gap sweep " + strings.Join(durList(p.Gaps), ", ") + ": " + strings.Join(p.SweepConfigs, ", "), cmd: "--only sweep"},
	}
	byName := map[string]*part{}
	for _, pt := range parts {
		byName[pt.name] = pt
	}
	extra := 0
	planned := map[string]bool{}
	for _, run := range p.Plan() {
		planned[run.ID()] = true
		pt := byName[planPart(run, p.HeadGap, p.DetailConfigs)]
		pt.total++
		if done[run.ID()] {
			pt.have++
		} else {
			pt.missing = append(pt.missing, run)
		}
	}
	for id := range done {
		if !planned[id] {
			extra++
		}
	}
	r.p("The full plan at this headline gap (%s) has %d runs; these results hold the runs below. Each missing part",
		fmtDur(p.HeadGap), len(p.Plan()))
	r.p("names the command that produces it and its estimated wall time on this machine (runs of 20 s overhead")
	r.p("plus their streams; `scripts/paper-eval.sh --plan` lists them run by run).")
	r.p("")
	r.p("| part | what | runs done / planned | missing | estimated wall time of the missing runs | command |")
	r.p("|---|---|---|---|---|---|")
	for _, pt := range parts {
		est := Estimate(pt.missing, OverheadPerRun, 6*time.Second, time.Second, 3, len(Functions))
		cmd := fmt.Sprintf("`HEAD_GAP=%s scripts/paper-eval.sh %s`", fmtDur(p.HeadGap), pt.cmd)
		if len(pt.missing) == 0 {
			cmd = "–"
		}
		r.p("| %s | %s | %d / %d | %s | %s | %s |", pt.name, pt.what, pt.have, pt.total, missingText(pt.missing),
			estText(est, len(pt.missing)), cmd)
	}
	r.p("")
	if extra > 0 {
		r.p("The results also hold %d run(s) outside that plan (other gaps, durations or repetitions; see *Runs*).", extra)
		r.p("")
	}
	if gaps := r.notMeasured(p); len(gaps) > 0 {
		r.p("**Not measured in these results**, because no run of it is in them (the parts above name the runs that")
		r.p("would measure it):")
		r.p("")
		for _, g := range gaps {
			r.p("- %s", g)
		}
		r.p("")
	}
	var cmds []string
	for _, row := range Select(r.d.rows, RowMeta) {
		if row["key"] == "command" {
			c := PublicCommand(strings.Fields(row["value"]))
			if !slices.Contains(cmds, c) {
				cmds = append(cmds, c)
			}
		}
	}
	if len(cmds) > 0 {
		r.p("The results were made by these commands (each run in slices of the shared lock by `scripts/paper-eval.sh`,")
		r.p("whose knobs become these flags; binary and log paths left out):")
		r.p("")
		r.p("```")
		for _, c := range cmds {
			r.p("%s", c)
		}
		r.p("```")
		r.p("")
	}
}

func durList(ds []time.Duration) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = fmtDur(d)
	}
	return out
}

func estText(d time.Duration, n int) string {
	if n == 0 {
		return "–"
	}
	return d.Round(time.Minute).String()
}

// missingText summarises missing runs by their conditions and repetitions.
func missingText(runs []RunSpec) string {
	if len(runs) == 0 {
		return "none"
	}
	var conds, reps, cfgs []string
	for _, x := range runs {
		c := "no NF"
		if x.NF != "" {
			c = fmt.Sprintf("%s-%d %s", x.NF, x.Size, x.Prio)
		}
		if !slices.Contains(conds, c) {
			conds = append(conds, c)
		}
		if rp := fmt.Sprint(x.Rep); !slices.Contains(reps, rp) {
			reps = append(reps, rp)
		}
		if !slices.Contains(cfgs, x.Config) {
			cfgs = append(cfgs, x.Config)
		}
	}
	s := fmt.Sprintf("%d runs: %s; rep %s", len(runs), strings.Join(cfgs, ", "), strings.Join(reps, ", "))
	if len(conds) <= 4 {
		s += "; " + strings.Join(conds, ", ")
	} else {
		s += fmt.Sprintf("; %d conditions", len(conds))
	}
	return s
}

// notMeasured lists the dimensions of the full plan p that no run in the results covers, with what each
// leaves unmeasured.
func (r *reporter) notMeasured(p Params) []string {
	nfRuns := filter(r.d.runs, func(x Row) bool { return x["nf"] != "" })
	has := func(col, v string) bool { return len(filter(nfRuns, eq(col, v))) > 0 }
	var out []string
	for _, prio := range p.Prios {
		if !has("prio", prio) {
			what := "the NF at real-time priority (the NFV norm: EFs get only the cycles the NF leaves)"
			if prio == PrioNormal {
				what = "the NF as an ordinary task (the OS coordinating NF and EFs, the paper's direct co-location)"
			}
			out = append(out, fmt.Sprintf("NF priority `%s`, %s: every ratio under it.", prio, what))
		}
	}
	var nfs []string
	for _, nf := range p.NFs {
		if !has("nf", nf) {
			nfs = append(nfs, nf)
		}
	}
	if len(nfs) > 0 {
		out = append(out, fmt.Sprintf("NF %s: its spare cycles, harvest-only speed-up (Fig. 10), NEMO vs co-location and vs native, NF throughput.",
			strings.Join(nfs, ", ")))
	}
	for _, size := range p.Sizes {
		if !has("size", fmt.Sprint(size)) {
			out = append(out, fmt.Sprintf("Frame size %d B: the same figures at that size.", size))
		}
	}
	mixedGaps := uniq(filter(r.d.runs, eq("run_kind", KindMixed)), "gap_s")
	if len(mixedGaps) < 2 {
		out = append(out, fmt.Sprintf("The rate sweep (mean gaps %s per function): every ratio across the rate; the results hold mixed runs at %d gap(s).",
			strings.Join(durList(p.Gaps), ", "), len(mixedGaps)))
	}
	if reps := uniq(r.d.runs, "rep"); len(reps) < p.Reps {
		out = append(out, fmt.Sprintf("Repetitions: %d of %d, so ranges over repetitions are missing where only one repetition ran (the machine's noise is large: see *load* in the run table).",
			len(reps), p.Reps))
	}
	return out
}
