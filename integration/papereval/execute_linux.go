package papereval

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// ErrMoreToDo means the time budget of a slice ended before the plan did; run again to continue.
var ErrMoreToDo = errors.New("papereval: slice budget used up; runs remain")

// Slice limits one invocation of Execute.
type Slice struct {
	Budget    time.Duration // do not start a run that would end after this (0 = no limit)
	AllowLong bool          // start a run longer than Budget when it is the first of the slice
}

// EstimateRun is a run's planned wall time.
func EstimateRun(r RunSpec, env Env) time.Duration {
	return Estimate([]RunSpec{r}, OverheadPerRun, 6*time.Second, time.Second, env.WarmCalls, len(env.CtlFunctions))
}

// Execute runs what the plan still lacks in the CSV at csvPath, appending each run's rows as it ends,
// and returns ErrMoreToDo when the slice's budget stops it early.
func Execute(ctx context.Context, env Env, p Params, csvPath string, sl Slice, argv []string) error {
	if err := p.Validate(); err != nil {
		return err
	}
	rows, err := ReadCSV(csvPath)
	if err != nil {
		return err
	}
	done := CompletedRuns(rows)
	calib := map[string]float64{}
	for _, r := range Select(rows, RowCalibrate) {
		calib[r["nf"]+"/"+r["size"]] = r.Fz("offered_pps")
	}
	var todo []RunSpec
	for _, r := range p.Plan() {
		if !done[r.ID()] {
			todo = append(todo, r)
		}
	}
	plan := p.Plan()
	env.logf("plan: %d runs, %d done, %d to do (estimated %v)", len(plan), len(plan)-len(todo), len(todo),
		Estimate(todo, OverheadPerRun, 6*time.Second, time.Second, env.WarmCalls, len(env.CtlFunctions)).Round(time.Minute))
	if len(todo) == 0 {
		return nil
	}
	if err := AppendCSV(csvPath, sessionMeta(env, p, argv)); err != nil {
		return err
	}
	node, err := NewNode(ctx, env.WorkDir, env.NFCore, env.SvcCore)
	if err != nil {
		return err
	}
	defer node.Close()
	runner := &Runner{Env: env, Node: node}
	start := time.Now()
	var failed []string
	for i, spec := range todo {
		est := EstimateRun(spec, env)
		if sl.Budget > 0 && time.Since(start)+est > sl.Budget && !(i == 0 && sl.AllowLong) {
			if i == 0 {
				return fmt.Errorf("papereval: %s needs about %v, more than the slice budget %v (allow it with -allow-long)",
					spec.ID(), est.Round(time.Second), sl.Budget)
			}
			return fmt.Errorf("%w: %d of %d left", ErrMoreToDo, len(todo)-i, len(todo))
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		pps := 0.0
		if spec.NF != "" {
			key := spec.NF + "/" + strconv.Itoa(spec.Size)
			if calib[key] == 0 {
				v, row, err := runner.Calibrate(ctx, spec.NF, spec.Size)
				if err != nil {
					return fmt.Errorf("papereval: calibrate %s: %w", key, err)
				}
				if err := AppendCSV(csvPath, []Row{row}); err != nil {
					return err
				}
				calib[key] = v
			}
			pps = calib[key]
		}
		env.logf("run %d/%d: %s (about %v)", i+1, len(todo), spec.ID(), est.Round(time.Second))
		out, err := runner.Run(ctx, spec, pps)
		if err != nil {
			if ctx.Err() != nil {
				return err
			}
			env.logf("run %s failed: %v", spec.ID(), err)
			failed = append(failed, spec.ID())
			continue
		}
		if err := AppendCSV(csvPath, out); err != nil {
			return err
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("papereval: %d run(s) failed (rerun to retry them): %s", len(failed), strings.Join(failed, ", "))
	}
	return nil
}

func mixFunctions(env Env) []string {
	if len(env.MixFunctions) == 0 {
		return AllFunctions()
	}
	return env.MixFunctions
}

func (e Env) logf(format string, args ...any) {
	if e.Progress != nil {
		fmt.Fprintf(e.Progress, "%s papereval: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
	}
}

// sessionMeta records the machine and the settings of this slice (the report is generated from the CSV
// alone, so everything it states about the set-up is here).
func sessionMeta(env Env, p Params, argv []string) []Row {
	model := ""
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "model name") {
				_, model, _ = strings.Cut(l, ":")
				break
			}
		}
	}
	var uts [3]string
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		uts[0] = strings.TrimSpace(string(b))
	}
	meta := func(k, v string) Row { return Row{"kind": RowMeta, "key": k, "value": v} }
	gaps := make([]string, len(p.Gaps))
	for i, g := range p.Gaps {
		gaps[i] = fmtDur(g)
	}
	return []Row{
		meta("date", time.Now().UTC().Format("2006-01-02 15:04 UTC")),
		meta("machine", fmt.Sprintf("%d CPUs (%s), Linux %s, %s", runtime.NumCPU(), strings.TrimSpace(model), uts[0], runtime.Version())),
		meta("command", PublicCommand(argv)),
		meta("nf_core", strconv.Itoa(env.NFCore)),
		meta("svc_core", strconv.Itoa(env.SvcCore)),
		meta("nf_rt_prio", strconv.Itoa(env.NFRTPrio)),
		meta("gen_rt_prio", strconv.Itoa(env.GenRTPrio)),
		meta("wakeup_cost", env.WakeupCost.String()),
		meta("gen_share_max", strconv.FormatFloat(env.GenShareMax, 'f', -1, 64)),
		meta("train_on", strconv.Itoa(env.TrainOn)),
		meta("line_mbps", strconv.FormatFloat(env.LineMbps, 'f', -1, 64)),
		meta("target_load", fmt.Sprint(env.TargetLoad)),
		meta("warm_calls", strconv.Itoa(env.WarmCalls)),
		meta("ctl_functions", strings.Join(env.CtlFunctions, ",")),
		meta("mix_functions", strings.Join(mixFunctions(env), ",")),
		meta("pin_services", strconv.FormatBool(env.PinServices)),
		meta("head_gap", fmtDur(p.HeadGap)),
		meta("min_duration", fmtDur(p.MinDuration)),
		meta("gaps", strings.Join(gaps, ",")),
		meta("reps", strconv.Itoa(p.Reps)),
		meta("seed", strconv.FormatUint(p.Seed, 10)),
	}
}
