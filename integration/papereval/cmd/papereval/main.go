// Command papereval runs the NEMO paper's evaluation on this machine through the real invoker and writes
// its report (TEST EQUIPMENT, see package papereval). scripts/paper-eval.sh builds and drives it.
//
//	papereval run    [plan and machine flags] -csv docs/paper-eval.csv   runs what the CSV still lacks
//	papereval report -csv docs/paper-eval.csv -out docs/paper-eval.md -img docs/img
//	papereval check  -csv FILE                                            the smoke test's assertions
//	papereval plan   [plan flags] -csv FILE                               the runs left and their wall time
//
// run exits 3 when its -budget ended before the plan: run it again to continue (each run's rows are
// appended when it ends, so an interrupted slice loses at most the run in progress).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nemo-edge/nemo/integration/papereval"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: papereval run|report|check|plan [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "run", "plan":
		err = runCmd(os.Args[1], os.Args[2:])
	case "report":
		err = reportCmd(os.Args[2:])
	case "check":
		err = checkCmd(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q (run, report, check, plan)", os.Args[1])
	}
	switch {
	case err == nil:
	case errors.Is(err, papereval.ErrMoreToDo):
		fmt.Fprintln(os.Stderr, "papereval:", err)
		os.Exit(3)
	default:
		fmt.Fprintln(os.Stderr, "papereval:", err)
		os.Exit(1)
	}
}

func envOr(k, d string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return d
}

func splitList(s string) []string {
	var out []string
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

func runCmd(name string, args []string) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	quick := fs.Bool("quick", false, "the CI smoke plan (one NF, one size, every configuration once with 15-s streams; about 3 minutes)")
	csvPath := fs.String("csv", "docs/paper-eval.csv", "results file (appended; completed runs are skipped)")
	workDir := fs.String("workdir", "", "logs and configs of every run (default: a new temporary directory)")
	nfs := fs.String("nfs", "", "NFs (firewall,nat,lb)")
	sizes := fs.String("sizes", "", "frame sizes (1024,1500)")
	prios := fs.String("prios", "", "NF priorities (rt,normal)")
	configs := fs.String("configs", "", "mixed configurations at -head-gap, every NF x size x prio ("+strings.Join(papereval.MixedConfigs, ",")+"; \"none\" for no mixed runs)")
	detail := fs.String("detail-configs", "", "mixed configurations at -head-gap for the first NF and size, every prio (\"none\" to skip)")
	sweep := fs.String("sweep-configs", "", "mixed configurations of the gap sweep (first NF, size and prio; \"none\" to skip)")
	sweepReps := fs.Int("sweep-reps", 0, "the sweep runs in the first N repetitions (0 = the plan's default)")
	gaps := fs.String("gaps", "", "mean gaps per function of the sweep (e.g. 5s,30s,2m,15m)")
	headGap := fs.Duration("head-gap", 0, "mean gap per function of the headline mixed runs")
	minDur := fs.Duration("min-duration", 0, "shortest mixed stream")
	spanGaps := fs.Float64("span-gaps", 0, "a mixed stream lasts at least this many mean gaps")
	reps := fs.Int("reps", 0, "repetitions")
	seed := fs.Uint64("seed", 0, "workload seed of the first repetition (repetition k uses seed+k-1)")
	controlled := fs.String("controlled", "", "controlled runs: true or false")
	ctlConfigs := fs.String("ctl-configs", "", "controlled conditions (native,colocated,harvest)")
	nfAlone := fs.String("nf-alone", "", "NF-alone runs: true or false")
	nfAloneDur := fs.Duration("nf-alone-dur", 0, "each NF-alone phase")

	nemo := fs.String("nemo", "", "the invoker binary")
	refnfBin := fs.String("refnf", "", "the reference NF binary")
	tg := fs.String("trafficgen", "", "the traffic generator binary")
	brokers := fs.String("brokers", envOr("NEMO_KAFKA", "127.0.0.1:9092"), "Kafka brokers")
	couch := fs.String("couchdb", envOr("NEMO_COUCHDB", "http://nemo:nemo@127.0.0.1:5984"), "CouchDB URL with credentials")
	nfCore := fs.Int("nf-core", 1, "the NF's core (edge functions share it)")
	svcCore := fs.Int("svc-core", 0, "the core of the invoker, Kafka, the store and the generator")
	nfRT := fs.Int("nf-rt-prio", 10, "SCHED_FIFO priority of the NF in rt runs")
	genRT := fs.Int("gen-rt-prio", 10, "SCHED_FIFO priority of the generator (0 = normal)")
	wakeupCost := fs.Duration("wakeup-cost", 20*time.Microsecond, "the NF's CPU per wake-up: the interrupt work a NIC would cost its core, which veth moves to the sender")
	genShare := fs.Float64("gen-share-max", 0.5, "calibration keeps the generator below this share of the service core")
	trainOn := fs.Int("train-on", 0, "generator train while harvesting (0 = the frames a -line-mbps link carries in the profile's rx-usecs)")
	lineMbps := fs.Float64("line-mbps", 1000, "reference link rate for the train")
	load1024 := fs.Float64("load-1024", 0.70, "NF CPU share the offered rate aims at with 1024-byte frames")
	load1500 := fs.Float64("load-1500", 0.55, "NF CPU share the offered rate aims at with 1500-byte frames")
	warmCalls := fs.Int("warm-calls", 3, "controlled runs: warm calls after the cold one")
	ctlFns := fs.String("ctl-functions", "", "controlled runs: functions (default all ten; quick: two of the quick functions)")
	mixFns := fs.String("mix-functions", "", "mixed runs: the stream's functions (default all ten; quick: "+strings.Join(papereval.QuickFunctions, ",")+")")
	calibSteps := fs.Int("calib-steps", 0, "calibration: at most this many 3-s measurements (default 4; quick 2)")
	drain := fs.Duration("drain-timeout", 10*time.Minute, "mixed runs: wait this long for the last answers")
	callTO := fs.Duration("call-timeout", 5*time.Minute, "controlled runs: one call's answer")
	pin := fs.Bool("pin-services", true, "move Kafka, the store, dockerd and containerd to -svc-core during each run")
	budget := fs.Duration("budget", 0, "start no run that would end after this (a slice under the shared lock); 0 = no limit")
	allowLong := fs.Bool("allow-long", false, "run a single run longer than -budget when it comes first")
	if err := fs.Parse(args); err != nil {
		return err
	}

	p := papereval.DefaultParams()
	env := papereval.Env{CtlFunctions: papereval.AllFunctions()}
	if *quick {
		p = papereval.QuickParams()
		env.CtlFunctions = papereval.QuickFunctions[:2]
		env.MixFunctions = papereval.QuickFunctions
		env.CalibSteps = 2
		*warmCalls = min(*warmCalls, 1)
	}
	if *nfs != "" {
		p.NFs = splitList(*nfs)
	}
	if *sizes != "" {
		p.Sizes = nil
		for _, s := range splitList(*sizes) {
			n, err := strconv.Atoi(s)
			if err != nil {
				return fmt.Errorf("-sizes: %w", err)
			}
			p.Sizes = append(p.Sizes, n)
		}
	}
	if *prios != "" {
		p.Prios = splitList(*prios)
	}
	listOrNone := func(s string, dst *[]string) {
		if s == "none" {
			*dst = nil
		} else if s != "" {
			*dst = splitList(s)
		}
	}
	listOrNone(*configs, &p.HeadConfigs)
	listOrNone(*detail, &p.DetailConfigs)
	listOrNone(*sweep, &p.SweepConfigs)
	if *sweepReps > 0 {
		p.SweepReps = *sweepReps
	}
	listOrNone(*ctlConfigs, &p.CtlConfigs)
	if *gaps != "" {
		p.Gaps = nil
		for _, g := range splitList(*gaps) {
			d, err := time.ParseDuration(g)
			if err != nil {
				return fmt.Errorf("-gaps: %w", err)
			}
			p.Gaps = append(p.Gaps, d)
		}
	}
	if *headGap > 0 {
		p.HeadGap = *headGap
	}
	if *minDur > 0 {
		p.MinDuration = *minDur
	}
	if *spanGaps > 0 {
		p.SpanGaps = *spanGaps
	}
	if *reps > 0 {
		p.Reps = *reps
	}
	if *seed > 0 {
		p.Seed = *seed
	}
	for _, b := range []struct {
		s   string
		dst *bool
	}{{*controlled, &p.Controlled}, {*nfAlone, &p.NFAlone}} {
		if b.s != "" {
			v, err := strconv.ParseBool(b.s)
			if err != nil {
				return err
			}
			*b.dst = v
		}
	}
	if *nfAloneDur > 0 {
		p.NFAloneDur = *nfAloneDur
	}
	if *ctlFns != "" {
		env.CtlFunctions = splitList(*ctlFns)
		for _, f := range env.CtlFunctions {
			if _, ok := papereval.FunctionByName(f); !ok {
				return fmt.Errorf("-ctl-functions: unknown function %q", f)
			}
		}
	}
	if *mixFns != "" {
		env.MixFunctions = splitList(*mixFns)
		for _, f := range env.MixFunctions {
			if _, ok := papereval.FunctionByName(f); !ok {
				return fmt.Errorf("-mix-functions: unknown function %q", f)
			}
		}
	}
	if *calibSteps > 0 {
		env.CalibSteps = *calibSteps
	}
	env.Brokers = splitList(*brokers)
	env.KafkaVersion = "3.9.0"
	env.CouchURL = *couch
	env.Nemo, env.Refnf, env.Trafficgen = *nemo, *refnfBin, *tg
	env.NFCore, env.SvcCore = *nfCore, *svcCore
	env.NFRTPrio, env.GenRTPrio = *nfRT, *genRT
	env.WakeupCost, env.GenShareMax = *wakeupCost, *genShare
	env.TrainOn, env.LineMbps = *trainOn, *lineMbps
	env.TargetLoad = map[int]float64{1024: *load1024, 1500: *load1500}
	env.WarmCalls = *warmCalls
	env.DrainTimeout, env.CallTimeout = *drain, *callTO
	env.PinServices = *pin
	env.Progress = os.Stderr
	if err := p.Validate(); err != nil {
		return err
	}

	if name == "plan" {
		rows, err := papereval.ReadCSV(*csvPath)
		if err != nil {
			return err
		}
		done := papereval.CompletedRuns(rows)
		var todo []papereval.RunSpec
		var total time.Duration
		for _, r := range p.Plan() {
			if done[r.ID()] {
				continue
			}
			todo = append(todo, r)
			est := papereval.EstimateRun(r, env)
			total += est
			fmt.Printf("%-70s %v\n", r.ID(), est.Round(time.Second))
		}
		fmt.Printf("%d runs to do of %d, estimated %v\n", len(todo), len(p.Plan()), total.Round(time.Minute))
		return nil
	}
	for _, b := range []struct{ flag, path string }{{"-nemo", env.Nemo}, {"-refnf", env.Refnf}, {"-trafficgen", env.Trafficgen}} {
		if b.path == "" {
			return fmt.Errorf("%s is required", b.flag)
		}
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("needs root (network namespaces, AF_PACKET sockets, SCHED_FIFO, CPU affinity of the services)")
	}
	if *workDir == "" {
		d, err := os.MkdirTemp("", "papereval-")
		if err != nil {
			return err
		}
		*workDir = d
	}
	env.WorkDir = *workDir
	fmt.Fprintf(os.Stderr, "papereval: logs in %s\n", env.WorkDir)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return papereval.Execute(ctx, env, p, *csvPath, papereval.Slice{Budget: *budget, AllowLong: *allowLong},
		append([]string{"papereval", name}, args...))
}

func reportCmd(args []string) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	csvPath := fs.String("csv", "docs/paper-eval.csv", "results file")
	out := fs.String("out", "docs/paper-eval.md", "the Markdown report")
	img := fs.String("img", "docs/img", "figure directory")
	imgRel := fs.String("img-rel", "img", "figure directory as the report links it")
	if err := fs.Parse(args); err != nil {
		return err
	}
	rows, err := papereval.ReadCSV(*csvPath)
	if err != nil {
		return err
	}
	if len(rows) == 0 {
		return fmt.Errorf("%s holds no results", *csvPath)
	}
	md, err := papereval.Report(rows, papereval.ReportOptions{ImgDir: *img, ImgRel: *imgRel, CSVName: *csvPath})
	if err != nil {
		return err
	}
	return os.WriteFile(*out, []byte(md), 0o644)
}

func checkCmd(args []string) error {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	csvPath := fs.String("csv", "docs/paper-eval.csv", "results file")
	quick := fs.Bool("quick", false, "also require every run of the quick plan")
	if err := fs.Parse(args); err != nil {
		return err
	}
	rows, err := papereval.ReadCSV(*csvPath)
	if err != nil {
		return err
	}
	var plan []papereval.RunSpec
	if *quick {
		plan = papereval.QuickParams().Plan()
	}
	problems := papereval.Check(rows, plan)
	for _, p := range problems {
		fmt.Fprintln(os.Stderr, "check:", p)
	}
	if len(problems) > 0 {
		return fmt.Errorf("%d problem(s) in %s", len(problems), *csvPath)
	}
	fmt.Fprintf(os.Stderr, "check: %s: every invocation answered, every NF forwarded packets, every configuration produced numbers\n", *csvPath)
	return nil
}
