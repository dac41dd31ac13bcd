package papereval

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Run kinds.
const (
	// KindMixed replays the seeded Poisson stream of all ten functions through one configuration
	// (paper §5.4, Fig. 14; the gap sweep; Fig. 6's NF throughput).
	KindMixed = "mixed"
	// KindControlled invokes each function once cold (a fresh copy of the action) and then warm, one call
	// at a time, under one condition (Figs. 5, 10, 11, 12, 13).
	KindControlled = "controlled"
	// KindNFAlone runs NF traffic without edge functions, harvesting forced off and then on: the NF's
	// throughput and drops alone and the spare cycles of its core (Fig. 6's baseline, paper §3.1).
	KindNFAlone = "nf-alone"
)

// Configurations (paper §5: native, direct co-location, harvesting only, pre-warming only, NEMO).
const (
	CfgNative     = "native"      // no NF traffic; the OpenWhisk-like invoker; EFs alone on the NF's core
	CfgNativeWarm = "native-warm" // no NF traffic; memory for all ten functions, each warmed before the stream
	CfgColocated  = "colocated"   // NF traffic + EFs on one core; OpenWhisk-like invoker (NEMO's features off)
	CfgHarvest    = "harvest"     // + slack harvesting
	CfgPrewarm    = "prewarm"     // NEMO's function controller (history pre-warm, S1-S4), no harvesting
	CfgNEMO       = "nemo"        // pre-warm + harvesting + thread management
	CfgNEMONoTM   = "nemo-no-tm"  // NEMO without freezer-based thread management (Fig. 6)
	CfgNFAlone    = "nf-alone"
)

// MixedConfigs lists every configuration a mixed run may use.
var MixedConfigs = []string{CfgNative, CfgNativeWarm, CfgColocated, CfgHarvest, CfgPrewarm, CfgNEMO, CfgNEMONoTM}

// ControlledConfigs are the conditions of controlled runs: EFs alone, co-located without and with
// harvesting.
var ControlledConfigs = []string{CfgNative, CfgColocated, CfgHarvest}

// HasNF reports whether a configuration runs NF traffic.
func HasNF(cfg string) bool { return cfg != CfgNative && cfg != CfgNativeWarm }

// NF priorities.
const (
	PrioNormal = "normal" // SCHED_OTHER: the OS shares the core (the paper's direct co-location)
	PrioRT     = "rt"     // SCHED_FIFO: the NFV norm, the NF preempts everything on its core
)

// RunSpec is one run of the plan.
type RunSpec struct {
	Kind     string
	Config   string
	NF       string // "" without NF traffic
	Size     int    // frame size, 0 without NF traffic
	Prio     string // "" without NF traffic
	Gap      time.Duration
	Duration time.Duration // mixed: the stream; nf-alone: each phase
	Rep      int           // 1-based
	Seed     uint64
}

// ID names the run in the CSV; a run whose id has a run row is complete and is skipped on resume.
func (r RunSpec) ID() string {
	cond := "no-nf"
	if r.NF != "" {
		cond = fmt.Sprintf("%s-%d-%s", r.NF, r.Size, r.Prio)
	}
	id := fmt.Sprintf("%s/%s/%s", r.Kind, r.Config, cond)
	if r.Kind == KindMixed {
		id += "/gap" + fmtDur(r.Gap) + "/d" + fmtDur(r.Duration)
	}
	return fmt.Sprintf("%s/rep%d", id, r.Rep)
}

func fmtDur(d time.Duration) string {
	switch {
	case d%time.Minute == 0:
		return strconv.Itoa(int(d/time.Minute)) + "m"
	case d%time.Second == 0:
		return strconv.Itoa(int(d/time.Second)) + "s"
	}
	return d.String()
}

// Params select the plan. Every list may be cut down to run a slice; the plan is the cartesian product
// described on each field.
type Params struct {
	NFs   []string // firewall, nat, lb
	Sizes []int    // 1024, 1500
	Prios []string // normal, rt
	Reps  int
	Seed  uint64

	// Mixed runs: HeadConfigs at HeadGap for every NF x size x prio (no-NF configurations once);
	// DetailConfigs at HeadGap for the first NF and size at every prio; SweepConfigs at every gap of Gaps,
	// under the sweep condition (the first NF, size and prio), in the first SweepReps repetitions.
	HeadConfigs   []string
	DetailConfigs []string
	HeadGap       time.Duration
	SweepConfigs  []string
	Gaps          []time.Duration
	SweepReps     int
	// Duration of a mixed stream: max(MinDuration, SpanGaps x gap).
	MinDuration time.Duration
	SpanGaps    float64

	// Controlled runs: every condition of ControlledConfigs (native once) for every NF x size x prio.
	Controlled bool
	CtlConfigs []string
	// NF-alone runs: every NF x size x prio, each phase this long.
	NFAlone    bool
	NFAloneDur time.Duration
}

// DefaultParams is the full plan (see docs/paper-eval.md for its wall time).
func DefaultParams() Params {
	return Params{
		NFs: []string{"firewall", "nat", "lb"}, Sizes: []int{1024, 1500}, Prios: []string{PrioRT, PrioNormal},
		Reps: 3, Seed: 1,
		HeadConfigs:   []string{CfgNative, CfgNativeWarm, CfgColocated, CfgNEMO},
		DetailConfigs: []string{CfgHarvest, CfgPrewarm, CfgNEMONoTM},
		HeadGap:       30 * time.Second,
		SweepConfigs:  []string{CfgNative, CfgColocated, CfgNEMO},
		Gaps:          []time.Duration{5 * time.Second, 30 * time.Second, 2 * time.Minute, 15 * time.Minute},
		SweepReps:     1,
		MinDuration:   5 * time.Minute, SpanGaps: 3,
		Controlled: true, CtlConfigs: ControlledConfigs,
		NFAlone: true, NFAloneDur: time.Minute,
	}
}

// QuickParams is the CI smoke test (about 3 minutes): one NF, one size, one priority; the NF alone with
// harvesting off and on (5-s phases); controlled runs under every condition; every mixed configuration
// once, each a 15-s stream of QuickFunctions at a 5-s gap (about 9 invocations).
func QuickParams() Params {
	return Params{
		NFs: []string{"firewall"}, Sizes: []int{1024}, Prios: []string{PrioRT}, Reps: 1, Seed: 1,
		HeadConfigs: MixedConfigs,
		HeadGap:     5 * time.Second,
		MinDuration: 15 * time.Second, SpanGaps: 1,
		Controlled: true, CtlConfigs: ControlledConfigs,
		NFAlone: true, NFAloneDur: 5 * time.Second,
	}
}

// QuickFunctions are the smoke test's functions: an edge function and two kernels whose /init is the
// shortest of the ten (under 0.5 s alone on the NF's core), so its cold starts stay short.
var QuickFunctions = []string{"ocr-img", "float", "fannkuch"}

// MixedDuration is the stream length for a gap.
func (p Params) MixedDuration(gap time.Duration) time.Duration {
	d := time.Duration(p.SpanGaps * float64(gap))
	return max(d, p.MinDuration)
}

// Validate checks names and ranges.
func (p Params) Validate() error {
	for _, nf := range p.NFs {
		if !slices.Contains([]string{"firewall", "nat", "lb"}, nf) {
			return fmt.Errorf("papereval: unknown NF %q (firewall, nat, lb)", nf)
		}
	}
	for _, s := range p.Sizes {
		if s < 64 || s > 1514 {
			return fmt.Errorf("papereval: frame size %d outside 64..1514", s)
		}
	}
	for _, pr := range p.Prios {
		if pr != PrioNormal && pr != PrioRT {
			return fmt.Errorf("papereval: unknown priority %q (normal, rt)", pr)
		}
	}
	for _, c := range slices.Concat(p.HeadConfigs, p.DetailConfigs, p.SweepConfigs) {
		if !slices.Contains(MixedConfigs, c) {
			return fmt.Errorf("papereval: unknown configuration %q (%s)", c, strings.Join(MixedConfigs, ", "))
		}
	}
	for _, c := range p.CtlConfigs {
		if !slices.Contains(ControlledConfigs, c) {
			return fmt.Errorf("papereval: unknown controlled configuration %q (%s)", c, strings.Join(ControlledConfigs, ", "))
		}
	}
	if p.Reps < 1 {
		return fmt.Errorf("papereval: reps %d < 1", p.Reps)
	}
	if len(p.HeadConfigs)+len(p.DetailConfigs) > 0 && p.HeadGap <= 0 {
		return fmt.Errorf("papereval: head gap must be positive")
	}
	for _, g := range p.Gaps {
		if g <= 0 {
			return fmt.Errorf("papereval: gap %v must be positive", g)
		}
	}
	if len(p.HeadConfigs)+len(p.DetailConfigs)+len(p.SweepConfigs) > 0 && p.MinDuration <= 0 {
		return fmt.Errorf("papereval: mixed duration must be positive")
	}
	if p.NFAlone && p.NFAloneDur <= 0 {
		return fmt.Errorf("papereval: nf-alone duration must be positive")
	}
	needNF := p.NFAlone || p.Controlled && slices.ContainsFunc(p.CtlConfigs, HasNF) ||
		slices.ContainsFunc(slices.Concat(p.HeadConfigs, p.DetailConfigs, p.SweepConfigs), HasNF)
	if needNF && (len(p.NFs) == 0 || len(p.Sizes) == 0 || len(p.Prios) == 0) {
		return fmt.Errorf("papereval: NF runs need at least one NF, size and priority")
	}
	return nil
}

type cond struct {
	nf   string
	size int
	prio string
}

func (p Params) conds() []cond {
	var out []cond
	for _, prio := range p.Prios {
		for _, nf := range p.NFs {
			for _, size := range p.Sizes {
				out = append(out, cond{nf, size, prio})
			}
		}
	}
	return out
}

// Plan enumerates the runs, repetition by repetition (each repetition is a complete pass, so a partial
// full run still has whole repetitions), the configurations of one condition rotated by repetition so no
// configuration always runs first.
func (p Params) Plan() []RunSpec {
	var out []RunSpec
	seen := map[string]bool{}
	add := func(r RunSpec) {
		if id := r.ID(); !seen[id] {
			seen[id] = true
			out = append(out, r)
		}
	}
	for rep := 1; rep <= p.Reps; rep++ {
		seed := p.Seed + uint64(rep-1)
		for _, c := range p.conds() {
			if p.NFAlone {
				add(RunSpec{Kind: KindNFAlone, Config: CfgNFAlone, NF: c.nf, Size: c.size, Prio: c.prio, Duration: p.NFAloneDur, Rep: rep})
			}
		}
		if p.Controlled {
			for _, cfg := range rotate(p.CtlConfigs, rep) {
				if !HasNF(cfg) {
					add(RunSpec{Kind: KindControlled, Config: cfg, Rep: rep, Seed: seed})
					continue
				}
				for _, c := range p.conds() {
					add(RunSpec{Kind: KindControlled, Config: cfg, NF: c.nf, Size: c.size, Prio: c.prio, Rep: rep, Seed: seed})
				}
			}
		}
		mixed := func(configs []string, gap time.Duration, cs []cond) {
			for _, c := range cs {
				for _, cfg := range rotate(configs, rep) {
					r := RunSpec{Kind: KindMixed, Config: cfg, Gap: gap, Duration: p.MixedDuration(gap), Rep: rep, Seed: seed}
					if HasNF(cfg) {
						r.NF, r.Size, r.Prio = c.nf, c.size, c.prio
					}
					add(r)
				}
			}
		}
		if len(p.HeadConfigs) > 0 {
			mixed(p.HeadConfigs, p.HeadGap, p.conds())
		}
		if len(p.DetailConfigs) > 0 {
			var detail []cond
			for _, c := range p.conds() {
				if c.nf == p.NFs[0] && c.size == p.Sizes[0] {
					detail = append(detail, c)
				}
			}
			mixed(p.DetailConfigs, p.HeadGap, detail)
		}
		if len(p.SweepConfigs) > 0 && len(p.conds()) > 0 && (p.SweepReps <= 0 || rep <= p.SweepReps) {
			for _, g := range p.Gaps {
				mixed(p.SweepConfigs, g, p.conds()[:1])
			}
		}
	}
	return out
}

func rotate(xs []string, rep int) []string {
	if len(xs) == 0 {
		return nil
	}
	k := (rep - 1) % len(xs)
	return append(append([]string{}, xs[k:]...), xs[:k]...)
}

// Estimate is the planned wall time of runs: streams and phases plus a fixed overhead per run (invoker
// start and stop, container clean-up, drain) and, for controlled runs, perCall per invocation.
func Estimate(runs []RunSpec, overhead, coldCall, warmCall time.Duration, warmCalls int, functions int) time.Duration {
	var total time.Duration
	for _, r := range runs {
		total += overhead
		switch r.Kind {
		case KindMixed:
			total += r.Duration
		case KindNFAlone:
			total += 2 * r.Duration
		case KindControlled:
			total += time.Duration(functions) * (coldCall + time.Duration(warmCalls)*warmCall)
		}
	}
	return total
}
