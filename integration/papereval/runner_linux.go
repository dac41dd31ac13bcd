package papereval

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/nemo-edge/nemo/clickshm"
	"github.com/nemo-edge/nemo/harvester"
	"github.com/nemo-edge/nemo/integration/refnf"
	"github.com/nemo-edge/nemo/invoker/messaging"
	"github.com/nemo-edge/nemo/invoker/store"
)

// Env is everything a run needs from the machine.
type Env struct {
	WorkDir      string   // logs and configs of every run
	Brokers      []string // Kafka bootstrap servers (127.0.0.1)
	KafkaVersion string
	CouchURL     string // CouchDB API with credentials
	Nemo         string // the invoker binary
	Refnf        string // integration/refnf/cmd/refnf
	Trafficgen   string // integration/trafficgen/cmd/trafficgen
	NFCore       int
	SvcCore      int
	NFRTPrio     int           // SCHED_FIFO priority of the NF's packet thread in "rt" runs
	WakeupCost   time.Duration // the NF's CPU per wake-up: the interrupt work a NIC would cost its core
	GenShareMax  float64       // calibration keeps the generator's share of the service core below this
	GenRTPrio    int           // SCHED_FIFO priority of the generator's sending thread (0 = normal)
	TrainOn      int           // generator train while harvesting; 0 = derived from the profile's rx-usecs
	LineMbps     float64       // reference link rate of that derivation
	TargetLoad   map[int]float64
	WarmCalls    int      // controlled runs: warm calls after the cold one
	CtlFunctions []string // controlled runs: the functions measured
	MixFunctions []string // mixed runs: the functions of the stream (nil = all ten)
	CalibSteps   int      // calibration: at most this many measurements (0 = 4)
	DrainTimeout time.Duration
	CallTimeout  time.Duration
	PinServices  bool
	Progress     io.Writer
}

// Runner executes runs on a Node.
type Runner struct {
	Env  Env
	Node *Node
	n    int
}

func (r *Runner) logf(format string, args ...any) {
	if r.Env.Progress != nil {
		fmt.Fprintf(r.Env.Progress, "%s papereval: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
	}
}

func (r *Runner) runDir(id string) (string, error) {
	d := filepath.Join(r.Env.WorkDir, strings.NewReplacer("/", "_", ":", "_").Replace(id))
	return d, os.MkdirAll(d, 0o755)
}

func (r *Runner) shmPath(nf string) string {
	r.n++
	return fmt.Sprintf("/dev/shm/nemo-pe-%s-%d-%d", nf, os.Getpid(), r.n)
}

func ident(spec RunSpec) Row {
	row := Row{"run_id": spec.ID(), "run_kind": spec.Kind, "config": spec.Config, "rep": strconv.Itoa(spec.Rep)}
	if spec.NF != "" {
		row["nf"], row["size"], row["prio"] = spec.NF, strconv.Itoa(spec.Size), spec.Prio
	}
	if spec.Kind == KindMixed {
		row.Set("gap_s", spec.Gap.Seconds())
		row.Set("seed", spec.Seed)
	}
	return row
}

func withKind(base Row, kind string) Row {
	row := Row{"kind": kind}
	for k, v := range base {
		row[k] = v
	}
	return row
}

// ---------------------------------------------------------------- calibration

// Calibrate finds the frame rate at which the NF alone (smooth traffic, burst 1, SCHED_FIFO) uses the
// target share of its core for this frame size: up to four 3-second measurements, each correcting the
// rate in proportion to the measured load, never asking the generator for more than GenShareMax of the
// service core (it shares that core with the invoker, Kafka and the store). When that cap binds, the NF
// gets less than its target and the calibration row says so (column value = target, nf_cpu = reached).
func (r *Runner) Calibrate(ctx context.Context, nf string, size int) (float64, Row, error) {
	target := r.Env.TargetLoad[size]
	if target <= 0 {
		target = 0.6
	}
	shareMax := r.Env.GenShareMax
	if shareMax <= 0 {
		shareMax = 0.5
	}
	dir, err := r.runDir(fmt.Sprintf("calibrate-%s-%d", nf, size))
	if err != nil {
		return 0, nil, err
	}
	shm := r.shmPath(nf)
	defer os.Remove(shm)
	proc, err := r.Node.StartNF(ctx, r.Env.Refnf, nf, shm, r.Env.NFRTPrio, r.Env.WakeupCost, filepath.Join(dir, "refnf.log"))
	if err != nil {
		return 0, nil, err
	}
	defer func() { _ = proc.stop(syscall.SIGTERM, 10*time.Second) }()
	pps := 10000.0
	var load, delivered, svcShare, sendCost float64
	capped := false
	steps := r.Env.CalibSteps
	if steps <= 0 {
		steps = 4
	}
	for i := 0; i < steps; i++ {
		gen, err := r.Node.StartGenerator(r.Env.Trafficgen, size, pps, 6*time.Second, shm, 1, r.Env.LineMbps,
			r.Env.GenRTPrio, filepath.Join(dir, fmt.Sprintf("trafficgen-%d.log", i)))
		if err != nil {
			return 0, nil, err
		}
		time.Sleep(time.Second)
		s0, err0 := proc.Stats()
		rx0, _ := r.Node.IfaceCounters()
		c0, _ := ReadCores()
		genCPU0, _ := ProcCPUSeconds(gen.pid())
		t0 := time.Now()
		time.Sleep(3 * time.Second)
		s1, err1 := proc.Stats()
		rx1, _ := r.Node.IfaceCounters()
		c1, _ := ReadCores()
		genCPU1, _ := ProcCPUSeconds(gen.pid())
		el := time.Since(t0).Seconds()
		if _, err := gen.Finish(); err != nil {
			return 0, nil, err
		}
		if err := errors.Join(err0, err1); err != nil {
			return 0, nil, err
		}
		load = float64(s1.TotalNs-s0.TotalNs) / 1e9 / el
		delivered = float64(rx1-rx0) / el
		svcShare = BusyShare(c0, c1, r.Node.SvcCore)
		if delivered > 0 {
			sendCost = (genCPU1 - genCPU0) / el / delivered
		}
		r.logf("calibrate %s %d B: %.0f pps offered, %.0f delivered, NF CPU %.1f%% (target %.0f%%), service core %.0f%% busy, generator %.1f µs/frame",
			nf, size, pps, delivered, 100*load, 100*target, 100*svcShare, 1e6*sendCost)
		if load <= 0 || delivered <= 0 {
			return 0, nil, fmt.Errorf("papereval: calibration of %s: the NF received nothing at %.0f pps", nf, pps)
		}
		// The NF's load follows the offered rate; the generator's CPU per frame bounds the rate the
		// service core can afford.
		scale := target / load
		if sendCost > 0 && delivered*scale*sendCost > shareMax {
			scale, capped = shareMax/(sendCost*delivered), true
		} else {
			capped = false
		}
		next := pps * scale
		if math.Abs(load-target) < 0.03 && !capped {
			break
		}
		if i < steps-1 {
			pps = math.Round(next)
		}
	}
	row := Row{"kind": RowCalibrate, "nf": nf, "size": strconv.Itoa(size)}
	row.Set("offered_pps", math.Round(pps))
	row.Set("nf_cpu", load)
	row.Set("gen_sent", delivered)
	row.Set("svc_core_busy", svcShare)
	row.Set("value", target)
	row.Set("train", sendCost*1e6) // the generator's CPU per frame, µs
	if capped {
		row["note"] = fmt.Sprintf("generator capped at %.0f%% of the service core", 100*shareMax)
	}
	return math.Round(pps), row, nil
}

// ---------------------------------------------------------------- one run

// Run executes spec (NF traffic at pps for NF runs) and returns its rows, the run row last.
func (r *Runner) Run(ctx context.Context, spec RunSpec, pps float64) ([]Row, error) {
	dir, err := r.runDir(spec.ID())
	if err != nil {
		return nil, err
	}
	started := time.Now()
	load0 := LoadAvg1()
	if r.Env.PinServices {
		port := 5984
		if u, err := url.Parse(r.Env.CouchURL); err == nil && u.Port() != "" {
			port, _ = strconv.Atoi(u.Port())
		}
		var ports []int
		for _, b := range r.Env.Brokers {
			if _, p, ok := strings.Cut(b, ":"); ok {
				n, _ := strconv.Atoi(p)
				ports = append(ports, n)
			}
		}
		pins, err := PinServices(append(ports, port), r.Env.SvcCore)
		if err != nil {
			return nil, err
		}
		defer func() { _ = pins.Restore() }()
	}

	var nf *NF
	var gen *Generator
	var genRes GenResult
	shm := ""
	if spec.NF != "" {
		shm = r.shmPath(spec.NF)
		defer os.Remove(shm)
		prio := 0
		if spec.Prio == PrioRT {
			prio = r.Env.NFRTPrio
		}
		if nf, err = r.Node.StartNF(ctx, r.Env.Refnf, spec.NF, shm, prio, r.Env.WakeupCost, filepath.Join(dir, "refnf.log")); err != nil {
			return nil, err
		}
		defer func() { _ = nf.stop(syscall.SIGTERM, 10*time.Second) }()
		life := spec.Duration*2 + r.Env.DrainTimeout + 15*time.Minute
		if gen, err = r.Node.StartGenerator(r.Env.Trafficgen, spec.Size, pps, life, shm, r.Env.TrainOn, r.Env.LineMbps,
			r.Env.GenRTPrio, filepath.Join(dir, "trafficgen.log")); err != nil {
			return nil, err
		}
		defer func() {
			if !gen.exited() {
				_, _ = gen.Finish()
			}
		}()
		// On cancellation the generator stops at once: it must not keep the service core busy while the
		// invoker shuts down.
		stopOnCancel := context.AfterFunc(ctx, func() { _ = gen.stop(syscall.SIGINT, 10*time.Second) })
		defer stopOnCancel()
		time.Sleep(2 * time.Second) // the NF reaches its steady state before anything is measured
	}
	stopTraffic := func() {
		if gen != nil && !gen.exited() {
			genRes, _ = gen.Finish()
		}
	}

	var rows []Row
	var run Row
	switch spec.Kind {
	case KindNFAlone:
		rows, err = r.nfAlone(ctx, spec, nf, shm, pps)
	case KindMixed, KindControlled:
		rows, run, err = r.invokerRun(ctx, spec, dir, nf, shm, pps, stopTraffic)
	default:
		err = fmt.Errorf("papereval: unknown run kind %q", spec.Kind)
	}
	if err != nil {
		return nil, err
	}
	if gen != nil && !gen.exited() {
		if genRes, err = gen.Finish(); err != nil {
			return nil, err
		}
	}
	if run != nil {
		if gen != nil {
			run.Set("train", fmt.Sprintf("%.3f", float64(genRes.InTrains)/math.Max(1, float64(genRes.Sent))))
			run["note"] = fmt.Sprintf("generator: achieved %.0f of %.0f pps over its life, %d train switches",
				genRes.AchievedPPS, genRes.OfferedPPS, genRes.TrainSwitches)
		}
		run.Set("wall_s", time.Since(started).Seconds())
		run.Set("loadavg", (load0+LoadAvg1())/2)
		rows = append(rows, run)
	} else {
		for _, row := range rows {
			if row["kind"] == RowRun {
				row.Set("wall_s", time.Since(started).Seconds())
				row.Set("loadavg", (load0+LoadAvg1())/2)
			}
		}
	}
	return rows, nil
}

// ---------------------------------------------------------------- NF alone

// window is one measurement interval of the NF and the cores.
type window struct {
	t0, t1     time.Time
	nf0, nf1   refnf.Stats
	c0, c1     map[int]CoreTimes
	rx0, rx1   uint64
	drop0      uint64
	drop1      uint64
	inv0, inv1 float64
	invPID     int
}

func (r *Runner) openWindow(nf *NF, invPID int) (*window, error) {
	w := &window{t0: time.Now(), invPID: invPID}
	var err error
	if w.c0, err = ReadCores(); err != nil {
		return nil, err
	}
	if nf != nil {
		if w.nf0, err = nf.Stats(); err != nil {
			return nil, err
		}
		w.rx0, w.drop0 = r.Node.IfaceCounters()
	}
	if invPID > 0 {
		w.inv0, _ = ProcCPUSeconds(invPID)
	}
	return w, nil
}

func (r *Runner) closeWindow(w *window, nf *NF) error {
	w.t1 = time.Now()
	var err error
	if w.c1, err = ReadCores(); err != nil {
		return err
	}
	if nf != nil {
		if w.nf1, err = nf.Stats(); err != nil {
			return err
		}
		w.rx1, w.drop1 = r.Node.IfaceCounters()
	}
	if w.invPID > 0 {
		w.inv1, _ = ProcCPUSeconds(w.invPID)
	}
	return nil
}

// fill writes the window's NF, core and invoker figures into row.
func (w *window) fill(row Row, nfCore, svcCore int, offeredPPS float64, withNF bool) {
	el := w.t1.Sub(w.t0).Seconds()
	row.Set("window_s", el)
	row.Set("core_busy", BusyShare(w.c0, w.c1, nfCore))
	row.Set("svc_core_busy", BusyShare(w.c0, w.c1, svcCore))
	if withNF {
		d := w.nf1.Sub(w.nf0)
		row.Set("offered_pps", offeredPPS)
		row.Set("gen_sent", w.rx1-w.rx0+(w.drop1-w.drop0))
		row.Set("nf_received", d.Packets)
		row.Set("nf_forwarded", d.Sent)
		row.Set("nf_kernel_drops", d.KernelDrops+(w.drop1-w.drop0))
		row.Set("nf_lost", int64(w.rx1-w.rx0)-int64(d.Packets)-int64(d.KernelDrops))
		row.Set("nf_cpu", float64(d.TotalNs)/1e9/el)
	}
	if w.invPID > 0 {
		row.Set("invoker_cpu_s", w.inv1-w.inv0)
	}
}

// nfAlone measures the NF with harvesting forced off, then on (the segment written here, with the
// setting the invoker's default profile gives this frame size), each phase spec.Duration.
func (r *Runner) nfAlone(ctx context.Context, spec RunSpec, nf *NF, shm string, pps float64) ([]Row, error) {
	w, err := clickshm.Create(shm, 1000)
	if err != nil {
		return nil, err
	}
	defer w.Close()
	setting := harvestSetting(spec.NF, spec.Size)
	var rows []Row
	for _, phase := range []string{"harvest-off", "harvest-on"} {
		s := clickshm.Settings{Enable: false, Burst: 1}
		if phase == "harvest-on" {
			s = clickshm.Settings{Enable: true, Burst: setting.Burst, RxUsecs: setting.RxUsecs}
		}
		if err := w.Publish(s); err != nil {
			return nil, err
		}
		time.Sleep(time.Second) // follower (10 ms) and generator (10 ms) apply it
		win, err := r.openWindow(nf, 0)
		if err != nil {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(spec.Duration):
		}
		if err := r.closeWindow(win, nf); err != nil {
			return nil, err
		}
		row := withKind(ident(spec), RowRun)
		row["phase"] = phase
		win.fill(row, r.Node.NFCore, r.Node.SvcCore, pps, true)
		row.Set("harvest_on", phase == "harvest-on")
		rows = append(rows, row)
		r.logf("%s %s: NF CPU %s, core busy %s, forwarded %s of %s delivered", spec.ID(), phase,
			row["nf_cpu"], row["core_busy"], row["nf_forwarded"], row["gen_sent"])
	}
	return rows, nil
}

// harvestSetting is what the invoker's harvester would apply for an NF carrying size-byte frames: the
// default profile table's entry for the size's bucket.
func harvestSetting(nf string, size int) harvester.ProfileConfig {
	b := harvester.Bucket(float64(size))
	for _, p := range harvester.DefaultProfiles() {
		if p.PktSize == b {
			return p
		}
	}
	return harvester.ProfileConfig{Burst: 1}
}

// ---------------------------------------------------------------- runs through the invoker

type metricsScrape map[string]float64

func scrapeMetrics(url string) (metricsScrape, error) {
	resp, err := statsClient.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	out := metricsScrape{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		i := strings.LastIndexByte(l, ' ')
		if i < 0 {
			continue
		}
		if v, err := strconv.ParseFloat(l[i+1:], 64); err == nil {
			out[l[:i]] = v
		}
	}
	return out, sc.Err()
}

func invokerEnv(e Env, dbPrefix string, port, memMB int) ([]string, error) {
	u, err := url.Parse(e.CouchURL)
	if err != nil || u.User == nil {
		return nil, fmt.Errorf("papereval: CouchDB URL %q needs credentials", e.CouchURL)
	}
	pass, _ := u.User.Password()
	cport := u.Port()
	if cport == "" {
		cport = "5984"
	}
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "CONFIG_") || strings.HasPrefix(k, "NEMO_") || strings.HasPrefix(k, "WHISK_") ||
			k == "KAFKA_HOSTS" || k == "PORT" || k == "RUNTIMES_MANIFEST" || k == "DB_PREFIX" {
			continue
		}
		env = append(env, kv)
	}
	return append(env,
		"KAFKA_HOSTS="+strings.Join(e.Brokers, ","),
		"NEMO_KAFKA_VERSION="+e.KafkaVersion,
		"CONFIG_whisk_couchdb_protocol="+u.Scheme,
		"CONFIG_whisk_couchdb_host="+u.Hostname(),
		"CONFIG_whisk_couchdb_port="+cport,
		"CONFIG_whisk_couchdb_username="+u.User.Username(),
		"CONFIG_whisk_couchdb_password="+pass,
		"CONFIG_whisk_couchdb_databases_WhiskEntity="+dbPrefix+"whisks",
		"CONFIG_whisk_couchdb_databases_WhiskActivation="+dbPrefix+"activations",
		"CONFIG_whisk_couchdb_databases_WhiskAuth="+dbPrefix+"subjects",
		"RUNTIMES_MANIFEST="+Manifest,
		"PORT="+strconv.Itoa(port),
		"CONFIG_whisk_containerPool_userMemory="+strconv.Itoa(memMB)+"m",
	), nil
}

// logEntry is what the invoker's log says about one activation.
type logEntry struct{ state, start string }

// readInvokerLog extracts the scheduler state and the container start kind of every finished activation
// from the invoker's JSON log ("activation finished" lines).
func readInvokerLog(path string) map[string]logEntry {
	out := map[string]logEntry{}
	f, err := os.Open(path)
	if err != nil {
		return out
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if !strings.Contains(sc.Text(), `"activation finished"`) {
			continue
		}
		var l struct {
			AID      string `json:"activationId"`
			Conflict string `json:"conflict"`
			Start    string `json:"start"`
		}
		if json.Unmarshal(sc.Bytes(), &l) == nil && l.AID != "" {
			out[l.AID] = logEntry{state: l.Conflict, start: l.Start}
		}
	}
	return out
}

// invokerRun starts a fresh invoker with the run's configuration and databases, drives it as the
// controller would and measures.
func (r *Runner) invokerRun(ctx context.Context, spec RunSpec, dir string, nf *NF, shm string, pps float64,
	stopTraffic func()) ([]Row, Row, error) {
	r.n++
	tag := fmt.Sprintf("%d%03d", os.Getpid()%100000, r.n%1000)
	invID := 100000 + (os.Getpid()*31+r.n)%800000
	dbPrefix := "pe" + tag + "_"
	kcfg := messaging.Config{Brokers: r.Env.Brokers, Version: r.Env.KafkaVersion, TopicPrefix: "pe" + tag + "-", InvokerID: invID}
	ctlID := "0"

	var binding *NFBinding
	if nf != nil {
		binding = &NFBinding{Name: spec.NF, Interface: r.Node.Pair.NFIf, PID: nf.pid(), Core: r.Node.NFCore, Shm: shm,
			SysClassNet: r.Node.ClassNet()}
	}
	setup, err := InvokerConfigFor(spec, binding, r.Node.NFCore, kcfg.TopicPrefix, dir)
	if err != nil {
		return nil, nil, err
	}
	cfgJSON, err := setup.JSON()
	if err != nil {
		return nil, nil, err
	}
	cfgPath := filepath.Join(dir, "invoker.json")
	if err := os.WriteFile(cfgPath, cfgJSON, 0o644); err != nil {
		return nil, nil, err
	}

	// The run's databases and actions.
	scfg, err := store.ConfigFromURL(r.Env.CouchURL, dbPrefix)
	if err != nil {
		return nil, nil, err
	}
	st, err := store.New(scfg, zerolog.Nop(), store.WithRequestTimeout(30*time.Second))
	if err != nil {
		return nil, nil, err
	}
	defer st.Close()
	sctx, cancel := context.WithTimeout(ctx, time.Minute)
	err = st.EnsureDBs(sctx)
	cancel()
	if err != nil {
		return nil, nil, fmt.Errorf("papereval: create databases %s*: %w", dbPrefix, err)
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = st.DeleteDBs(dctx)
	}()
	for _, f := range Functions {
		doc, err := ActionDoc(f, f.Name, time.Now())
		if err != nil {
			return nil, nil, err
		}
		b, err := doc.MarshalJSON()
		if err != nil {
			return nil, nil, err
		}
		pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		_, err = st.PutActionDoc(pctx, b)
		cancel()
		if err != nil {
			return nil, nil, fmt.Errorf("papereval: deploy %s: %w", f.Name, err)
		}
	}

	port, err := freePort()
	if err != nil {
		return nil, nil, err
	}
	env, err := invokerEnv(r.Env, dbPrefix, port, setup.UserMemoryMB)
	if err != nil {
		return nil, nil, err
	}
	invLog := filepath.Join(dir, "invoker.log")
	inv, err := startChild("invoker", []string{r.Env.Nemo, "invoker", "--id", strconv.Itoa(invID), "--config", cfgPath}, env, invLog)
	if err != nil {
		return nil, nil, err
	}
	// Deferred in this order so the invoker stops before its topics go.
	defer func() { _ = deleteTopics(kcfg, ctlID) }()
	stopInvoker := func() { _ = inv.stop(syscall.SIGTERM, 90*time.Second) }
	defer stopInvoker()
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	if err := waitHTTP(ctx, inv, base+"/ping", 90*time.Second); err != nil {
		return nil, nil, err
	}
	if spec.Kind == KindMixed {
		// OpenWhisk's steady state: the stem cells are up before the first activation arrives.
		if err := waitMetric(ctx, inv, base+"/metrics", `nemo_pool_containers{state="prewarmed"}`, 2, 90*time.Second); err != nil {
			return nil, nil, err
		}
	}
	cctx, cancel := context.WithTimeout(ctx, time.Minute)
	ctl, err := newController(cctx, kcfg, ctlID)
	cancel()
	if err != nil {
		return nil, nil, err
	}
	defer ctl.Close()

	var calls []*Call
	if spec.Config == CfgNativeWarm {
		// Untimed: one call of every function, so every function of the stream finds a warm container.
		warm := r.Env.MixFunctions
		if len(warm) == 0 {
			warm = AllFunctions()
		}
		for _, f := range warm {
			c := &Call{Function: f, Action: f, Phase: "warmup"}
			if err := ctl.call(ctx, c, r.Env.CallTimeout); err != nil {
				return nil, nil, err
			}
			calls = append(calls, c)
		}
	}

	win, err := r.openWindow(nf, inv.pid())
	if err != nil {
		return nil, nil, err
	}
	smp := &sampler{r: r, nf: nf, metricsURL: base + "/metrics", ctl: ctl, t0: win.t0, base: ident(spec)}
	sctx2, stopSampling := context.WithCancel(ctx)
	var swg sync.WaitGroup
	swg.Add(1)
	go func() { defer swg.Done(); smp.run(sctx2) }()

	var driveErr error
	switch spec.Kind {
	case KindMixed:
		calls, driveErr = r.driveMixed(ctx, spec, ctl, calls)
	case KindControlled:
		calls, driveErr = r.driveControlled(ctx, ctl, calls)
	}
	closeErr := r.closeWindow(win, nf)
	stopSampling()
	swg.Wait()
	// The harvester lingers (200 ms by default) after the last invocation: read its counters once it has
	// given the NF its core back, so a run's switch count ends with harvesting off.
	time.Sleep(harvestSettle)
	final, merr := scrapeMetrics(base + "/metrics")
	stopTraffic()
	stopInvoker()
	if err := errors.Join(closeErr); err != nil {
		return nil, nil, err
	}
	if driveErr != nil && !errors.Is(driveErr, errUnanswered) {
		return nil, nil, driveErr
	}
	logged := readInvokerLog(invLog)

	// Rows.
	var rows []Row
	run := withKind(ident(spec), RowRun)
	win.fill(run, r.Node.NFCore, r.Node.SvcCore, pps, nf != nil)
	var answered, errs, cold, unanswered int
	for _, c := range calls {
		row := withKind(ident(spec), RowInvocation)
		row["function"], row["aid"], row["phase"] = c.Function, c.AID, c.Phase
		row.Set("seq", c.Seq)
		row.Set("at_s", c.At.Seconds())
		row.Set("answered", c.Answered())
		if c.Answered() {
			row.Set("latency_ms", float64(c.Result.Sub(c.Sent).Microseconds())/1000)
			if !c.Complete.IsZero() {
				row.Set("completion_ms", float64(c.Complete.Sub(c.Sent).Microseconds())/1000)
			}
			if v := annotation(c.Act, "initTime"); v >= 0 {
				row.Set("init_ms", v)
				row.Set("cold", true)
			} else {
				row.Set("cold", false)
			}
			if v := annotation(c.Act, "waitTime"); v >= 0 {
				row.Set("wait_ms", v)
			}
			if c.Act.Duration != nil {
				row.Set("duration_ms", *c.Act.Duration)
			}
			row["status"] = c.Act.Response.StatusName()
			if e, ok := logged[c.AID]; ok {
				row["state"], row["container"] = e.state, e.start
			}
		}
		if c.Phase == "warmup" {
			rows = append(rows, row)
			continue
		}
		switch {
		case !c.Answered():
			unanswered++
		case c.Act.Response.StatusCode != 0 || c.SysErr:
			errs++
			answered++
		default:
			answered++
		}
		if row["cold"] == "1" {
			cold++
		}
		rows = append(rows, row)
	}
	run.Set("invocations", answered+unanswered)
	run.Set("errors", errs)
	run.Set("unanswered", unanswered)
	run.Set("cold_starts", cold)
	if merr == nil {
		for _, s := range []struct{ col, state string }{{"s1", "S1"}, {"s2", "S2"}, {"s3", "S3"}, {"s41", "S4-1"}, {"s42", "S4-2"}} {
			if v, ok := final[fmt.Sprintf(`nemo_scheduler_state_total{state=%q}`, s.state)]; ok {
				run.Set(s.col, v)
			}
		}
		if v, ok := final["nemo_harvest_switches_total"]; ok {
			run.Set("harvest_switches", v)
		}
	}
	run.Set("harvest_on", smp.harvestShare())
	rows = append(rows, smp.rows...)
	r.logf("%s: %d answered (%d errors, %d unanswered), %d cold; NF CPU %s, core busy %s, forwarded %s of %s",
		spec.ID(), answered, errs, unanswered, cold, run["nf_cpu"], run["core_busy"], run["nf_forwarded"], run["gen_sent"])
	return rows, run, nil
}

var errUnanswered = errors.New("papereval: unanswered activations")

// harvestSettle is how long a run waits after its last answer before reading the invoker's counters:
// more than the harvester's default linger.
const harvestSettle = time.Second

// driveMixed produces the seeded Poisson stream at its times and waits for every answer (bounded).
func (r *Runner) driveMixed(ctx context.Context, spec RunSpec, ctl *controller, calls []*Call) ([]*Call, error) {
	fns := r.Env.MixFunctions
	if len(fns) == 0 {
		fns = AllFunctions()
	}
	arrivals, err := Poisson(spec.Seed, fns, spec.Gap, spec.Duration)
	if err != nil {
		return nil, err
	}
	r.logf("%s: %d arrivals over %v", spec.ID(), len(arrivals), spec.Duration)
	start := time.Now()
	for _, a := range arrivals {
		if d := time.Until(start.Add(a.At)); d > 0 {
			select {
			case <-ctx.Done():
				return calls, ctx.Err()
			case <-time.After(d):
			}
		}
		c := &Call{Function: a.Function, Action: a.Function, Seq: a.Seq, At: a.At}
		if err := ctl.send(c); err != nil {
			return calls, err
		}
		calls = append(calls, c)
	}
	if d := time.Until(start.Add(spec.Duration)); d > 0 {
		time.Sleep(d)
	}
	if err := ctl.waitAll(ctx, r.Env.DrainTimeout); err != nil {
		r.logf("%s: %v", spec.ID(), err)
		return calls, fmt.Errorf("%w: %w", errUnanswered, err)
	}
	return calls, nil
}

// driveControlled calls each function once cold (the invoker has no container of it and no stem cell)
// and then WarmCalls times warm, one call at a time.
func (r *Runner) driveControlled(ctx context.Context, ctl *controller, calls []*Call) ([]*Call, error) {
	for i, f := range r.Env.CtlFunctions {
		for k := 0; k <= r.Env.WarmCalls; k++ {
			phase := "warm"
			if k == 0 {
				phase = "cold"
			}
			c := &Call{Function: f, Action: f, Seq: i*(r.Env.WarmCalls+1) + k, Phase: phase}
			err := ctl.call(ctx, c, r.Env.CallTimeout)
			calls = append(calls, c)
			if err != nil {
				return calls, fmt.Errorf("%w: %w", errUnanswered, err)
			}
		}
	}
	return calls, nil
}

// sampler records one sample row per second: the NF's forwarding rate and CPU, the NF core's busy
// share, whether harvesting is on and the invocations in flight.
type sampler struct {
	r          *Runner
	nf         *NF
	metricsURL string
	ctl        *controller
	t0         time.Time
	base       Row
	rows       []Row
	on, total  int
}

func (s *sampler) run(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	var prevNF refnf.Stats
	var prevRx, prevDrop uint64
	prevCores, _ := ReadCores()
	prevAt := time.Now()
	if s.nf != nil {
		prevNF, _ = s.nf.Stats()
		prevRx, prevDrop = s.r.Node.IfaceCounters()
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := time.Now()
		cores, _ := ReadCores()
		row := withKind(s.base, RowSample)
		row.Set("t_s", now.Sub(s.t0).Seconds())
		row.Set("core_busy", BusyShare(prevCores, cores, s.r.Node.NFCore))
		row.Set("svc_core_busy", BusyShare(prevCores, cores, s.r.Node.SvcCore))
		el := now.Sub(prevAt).Seconds()
		if s.nf != nil {
			if st, err := s.nf.Stats(); err == nil {
				d := st.Sub(prevNF)
				row.Set("nf_forwarded", float64(d.Sent)/el)
				row.Set("nf_received", float64(d.Packets)/el)
				row.Set("nf_kernel_drops", d.KernelDrops)
				row.Set("nf_cpu", float64(d.TotalNs)/1e9/el)
				prevNF = st
			}
			rx, drop := s.r.Node.IfaceCounters()
			row.Set("gen_sent", float64(rx-prevRx+drop-prevDrop)/el)
			prevRx, prevDrop = rx, drop
		}
		if m, err := scrapeMetrics(s.metricsURL); err == nil {
			if v, ok := m["nemo_harvest_active"]; ok {
				row.Set("harvest_on", v)
				s.total++
				if v > 0 {
					s.on++
				}
			}
		}
		row.Set("invocations", s.ctl.inFlight())
		prevCores, prevAt = cores, now
		s.rows = append(s.rows, row)
	}
}

func (s *sampler) harvestShare() float64 {
	if s.total == 0 {
		return 0
	}
	return float64(s.on) / float64(s.total)
}

func waitHTTP(ctx context.Context, c *child, url string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if resp, err := statsClient.Get(url); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if c.exited() {
			return fmt.Errorf("%w: %s (%v):\n%s", ErrExited, c.name, c.err, c.tail(30))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("papereval: %s did not answer %s within %v:\n%s", c.name, url, timeout, c.tail(30))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func waitMetric(ctx context.Context, c *child, url, name string, atLeast float64, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if m, err := scrapeMetrics(url); err == nil && m[name] >= atLeast {
			return nil
		}
		if c.exited() {
			return fmt.Errorf("%w: %s (%v):\n%s", ErrExited, c.name, c.err, c.tail(30))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("papereval: %s: %s did not reach %v within %v:\n%s", c.name, name, atLeast, timeout, c.tail(30))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
