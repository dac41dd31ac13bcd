//go:build integration

package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/IBM/sarama"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"
	"github.com/rs/zerolog"

	"github.com/nemo-edge/nemo/invoker/config"
	"github.com/nemo-edge/nemo/invoker/messaging"
	"github.com/nemo-edge/nemo/invoker/wire"
	"github.com/nemo-edge/nemo/pool"
	"github.com/nemo-edge/nemo/pool/docker"
	"github.com/nemo-edge/nemo/pool/proxy"
)

// Options configures Run.
type Options struct {
	Brokers  []string
	CouchURL string // with credentials: http://nemo:nemo@127.0.0.1:5984
	Image    string // the action image (a native blackbox)
	NemoBin  string // the `nemo` binary
	// EchoArgv is the command line that runs RunEcho in a child process for a topic prefix.
	EchoArgv func(prefix string) []string
	// N activations per throughput batch, Reps repetitions, WarmSamples warm calls per repetition.
	N, Reps, WarmSamples int
	// FreezeOut is a file with the output of pool/docker's BenchmarkFreezeThawVsPause ("" = not run).
	FreezeOut     string
	RunCommand    string // reproduces Run (rows 1–4)
	FreezeCommand string // reproduces row 5
	WorkDir       string // logs and the invoker's config
	Progress      io.Writer
	// Perf, when set, profiles the invoker with `perf record` during one extra (unreported) throughput batch
	// and adds its hottest NEMO functions to the notes.
	Perf bool
	// IdleWindow is how long the idle CPU of the invoker and the echo process is measured (0: 20 s).
	IdleWindow time.Duration
}

const (
	invokerID     = 0
	uniqueName    = "bench"
	actionsWarm   = 8 // distinct actions, 256 MB each: the whole 2048 MB pool
	throughputPar = 8 // activations running at once in the throughput runs (8 containers of 256 MB)
	callTimeout   = 2 * time.Minute
	actionMemMB   = 256
	logLimitBytes = 10 << 20
)

// invokerConfig is the JSON config file of the measured invoker; everything else comes from the
// environment, as in an OpenWhisk deployment.
func invokerConfig(topicPrefix string) []byte {
	cfg := map[string]any{
		"invoker": map[string]any{"listenHost": "127.0.0.1", "logLevel": "info"},
		"kafka":   map[string]any{"topicPrefix": topicPrefix},
		"docker":  map[string]any{"mode": "publish", "publishHost": "127.0.0.1"},
		// 8 warm functions of 256 MB fill the 2048 MB pool (paper default maxWarm is 6); no stem cells: the
		// benchmark actions are blackboxes, which stem cells cannot serve.
		"pool": map[string]any{"maxWarm": actionsWarm, "stemCells": []any{}},
	}
	b, _ := json.MarshalIndent(cfg, "", "  ")
	return b
}

func manifest(image string) (string, error) {
	img, err := wire.ParseImageName(image)
	if err != nil {
		return "", err
	}
	ref := map[string]string{"prefix": img.Prefix, "name": img.Name, "tag": img.Tag}
	m := map[string]any{
		"runtimes":   map[string]any{"go": []any{map[string]any{"kind": "go:1.22", "default": true, "image": ref}}},
		"blackboxes": []any{ref},
	}
	b, err := json.Marshal(m)
	return string(b), err
}

// run holds the state of one benchmark run.
type run struct {
	o       Options
	tag     string
	db      *couch
	dbs     [3]string // whisks, activations, subjects
	revs    map[string]string
	api     *client.Client
	floor   *docker.Backend
	inv     *proc
	invPort int
	echo    *proc
	invCtl  *controller
	echoCtl *controller
	rep     *Report
	busyPct float64 // machine CPU busy before the run
	// idleCPU is each process's CPU share (of one core) over the idle window, idleFor that window.
	idleCPU  map[string]float64
	idleFor  time.Duration
	why2a    string   // what the invoker adds on the warm path, for the verdict
	why2c    string   // why the Completion follows the Result later than the floor, for the verdict
	perfTop  string   // the perf summary, when taken
	absolute []string // the absolute goals (idle CPU, RSS), for the verdict
	progress func(format string, args ...any)
}

func (r *run) actionName(i int) string { return fmt.Sprintf("keep%d", i) }

func (r *run) msg(action string, blocking bool, content map[string]any) (aid string, b []byte) {
	aid = newActivationID()
	return aid, activationMessage(aid, action, r.revs[action], blocking, content)
}

func (r *run) load(phase string) {
	r.rep.Load = append(r.rep.Load, fmt.Sprintf("%s (%s): %s", phase, time.Now().Format("15:04:05"), LoadAvg()))
}

// Run measures rows 1–5 and returns the report. It cleans up what it created even when it fails.
func Run(ctx context.Context, o Options) (rep *Report, err error) {
	r := &run{o: o, tag: fmt.Sprintf("nemobench%d", os.Getpid()), revs: map[string]string{}}
	r.progress = func(format string, args ...any) {
		fmt.Fprintf(o.Progress, "[bench %s] %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
	}
	r.rep = &Report{Date: time.Now(), Command: "scripts/bench.sh"}
	defer r.cleanup()

	if err := r.setup(ctx); err != nil {
		return nil, err
	}
	r.baseline()
	r.load("start")
	idle, err := r.startProcesses(ctx)
	if err != nil {
		return nil, err
	}
	cold, err := r.coldPhase(ctx)
	if err != nil {
		return nil, err
	}
	r.load("after cold starts")
	warm, err := r.warmPhase(ctx)
	if err != nil {
		return nil, err
	}
	r.load("after warm calls")
	tput, err := r.throughputPhase(ctx)
	if err != nil {
		return nil, err
	}
	r.load("after throughput")
	r.stopProcesses()
	r.rows(idle, cold, warm, tput)
	if err := r.freezeRow(); err != nil {
		r.rep.Notes = append(r.rep.Notes, fmt.Sprintf("Row 5 missing: %v", err))
	}
	return r.rep, nil
}

// baseline notes how busy the machine is before the benchmark starts anything: the load from other jobs.
func (r *run) baseline() {
	p0 := SnapshotProcs()
	b0, a0, err0 := MachineCPU()
	time.Sleep(2 * time.Second)
	b1, a1, err1 := MachineCPU()
	by := CPUDelta(p0, SnapshotProcs(), stackProcess)
	if err0 != nil || err1 != nil || a1 == a0 {
		return
	}
	r.busyPct = 100 * float64(b1-b0) / float64(a1-a0)
	r.rep.Load = append(r.rep.Load, fmt.Sprintf("before the run, over 2 s: %.0f%% of the %d cores busy (other jobs "+
		"%s, kernel threads %s of CPU time)", r.busyPct, runtime.NumCPU(),
		fd(by["other processes (other jobs)"]), fd(by["kernel threads"])))
}

func (r *run) setup(ctx context.Context) error {
	var err error
	if r.db, err = newCouch(r.o.CouchURL); err != nil {
		return err
	}
	r.dbs = [3]string{r.tag + "_whisks", r.tag + "_activations", r.tag + "_subjects"}
	for _, d := range r.dbs {
		if err := r.db.createDB(ctx, d); err != nil {
			return err
		}
	}
	for i := range actionsWarm {
		name := r.actionName(i)
		doc, err := actionDoc(name, r.o.Image).MarshalJSON()
		if err != nil {
			return err
		}
		if r.revs[name], err = r.db.putDoc(ctx, r.dbs[0], "guest/"+name, doc); err != nil {
			return err
		}
	}
	if r.api, err = docker.NewClient(); err != nil {
		return err
	}
	if _, err := r.api.ImageInspect(ctx, r.o.Image); err != nil {
		return fmt.Errorf("%w: image %s (run scripts/build-images.sh): %w", ErrHarness, r.o.Image, err)
	}
	// The floor's containers join the network the invoker's join (its isolated default, without
	// inter-container traffic): a user-defined network costs each start more than Docker's default bridge,
	// and that cost is the network's, not the invoker's. Firewall rules are host-side and left out.
	r.floor = docker.New(r.api, docker.Config{InvokerID: r.tag, Mode: docker.NetworkPublish, PublishHost: "127.0.0.1",
		Network: config.DefaultNetwork, Firewall: docker.FirewallOff, UserMemoryMB: 2048}, zerolog.Nop())
	if err := r.floor.Prepare(ctx); err != nil {
		return fmt.Errorf("%w: the floor's network %s: %w", ErrHarness, config.DefaultNetwork, err)
	}
	r.machine(ctx)
	return nil
}

func (r *run) machine(ctx context.Context) {
	cpu := "?"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "model name"); ok {
				cpu = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	mem := "?"
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		if _, err := fmt.Sscanf(strings.SplitN(string(b), "\n", 2)[0], "MemTotal: %d kB", &kb); err == nil {
			mem = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
		}
	}
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	dv := "?"
	if v, err := r.api.ServerVersion(ctx); err == nil {
		dv = fmt.Sprintf("%s (API %s)", v.Version, v.APIVersion)
	}
	pouch := "?"
	if code, b, err := r.db.do(ctx, "GET", "/", nil); err == nil && code == 200 {
		var v struct {
			Version string `json:"version"`
			Express string `json:"express-pouchdb"`
		}
		_ = json.Unmarshal(b, &v)
		pouch = "pouchdb-server " + v.Version + " (in-memory)"
	}
	r.rep.Machine = []string{
		fmt.Sprintf("%d × %s, %s RAM, Linux %s, %s", runtime.NumCPU(), cpu, mem, strings.TrimSpace(string(kernel)), runtime.Version()),
		fmt.Sprintf("Docker %s; Kafka broker at %s; %s at %s", dv, strings.Join(r.o.Brokers, ","), pouch, r.db.base),
		fmt.Sprintf("Action image %s (Go action proxy + test action, a native blackbox); containers publish on 127.0.0.1", r.o.Image),
	}
}

func (r *run) startProcesses(ctx context.Context) (idle map[string]int64, err error) {
	echoPrefix, invPrefix := r.tag+"e-", r.tag+"i-"
	// The echo floor.
	if r.echoCtl, err = newController(ctx, r.o.Brokers, echoPrefix+"invoker0", echoPrefix+"completed0"); err != nil {
		return nil, err
	}
	if r.echo, err = startProc("echo", r.o.EchoArgv(echoPrefix), os.Environ(), filepath.Join(r.o.WorkDir, "echo.log")); err != nil {
		return nil, err
	}
	if err := r.echo.waitLog(ctx, "echo started", time.Minute); err != nil {
		return nil, err
	}
	aid, m := r.msg("probe", true, map[string]any{})
	if _, err := r.echoCtl.call(ctx, aid, m, time.Minute); err != nil {
		return nil, fmt.Errorf("echo probe: %w", err)
	}

	// The invoker.
	if r.invCtl, err = newController(ctx, r.o.Brokers, invPrefix+"invoker0", invPrefix+"completed0"); err != nil {
		return nil, err
	}
	cfgPath := filepath.Join(r.o.WorkDir, "invoker.json")
	if err := os.WriteFile(cfgPath, invokerConfig(invPrefix), 0o644); err != nil {
		return nil, err
	}
	man, err := manifest(r.o.Image)
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	r.invPort = port
	env := append(os.Environ(),
		"KAFKA_HOSTS="+strings.Join(r.o.Brokers, ","),
		"CONFIG_whisk_couchdb_protocol=http",
		"CONFIG_whisk_couchdb_host="+strings.Split(strings.TrimPrefix(r.db.base, "http://"), ":")[0],
		"CONFIG_whisk_couchdb_port="+portOf(r.db.base),
		"CONFIG_whisk_couchdb_username="+r.db.user,
		"CONFIG_whisk_couchdb_password="+r.db.pass,
		"CONFIG_whisk_couchdb_databases_WhiskEntity="+r.dbs[0],
		"CONFIG_whisk_couchdb_databases_WhiskActivation="+r.dbs[1],
		"CONFIG_whisk_couchdb_databases_WhiskAuth="+r.dbs[2],
		"RUNTIMES_MANIFEST="+man,
		fmt.Sprintf("PORT=%d", port),
		"CONFIG_whisk_containerPool_userMemory=2048m",
	)
	argv := []string{r.o.NemoBin, "invoker", "--id", fmt.Sprint(invokerID), "--uniqueName", uniqueName, "--config", cfgPath}
	r.rep.Config = append(r.rep.Config,
		fmt.Sprintf("Invoker: `%s` with KAFKA_HOSTS, CONFIG_whisk_couchdb_*, RUNTIMES_MANIFEST (go:1.22 + blackbox %s), "+
			"CONFIG_whisk_containerPool_userMemory=2048m and config `%s`", strings.Join(argv[1:len(argv)-1], " ")+" invoker.json",
			r.o.Image, compactJSON(invokerConfig(invPrefix))),
		"Every benchmark action is a blackbox of that image with memory 256 MB, timeout 60 s, logs 10 MB; the controller "+
			"sends the document revision, as OpenWhisk's does; parameters {\"name\":\"bench\"}.")
	t0 := time.Now()
	if r.inv, err = startProc("invoker", argv, env, filepath.Join(r.o.WorkDir, "invoker.log")); err != nil {
		return nil, err
	}
	if err := r.inv.waitLog(ctx, "invoker started", 2*time.Minute); err != nil {
		return nil, err
	}
	// An activation of a missing action: answered without a container once the consumer group has joined.
	aid, m = r.msg("nemobench-missing", true, map[string]any{})
	res, err := r.invCtl.call(ctx, aid, m, time.Minute)
	if err != nil {
		return nil, fmt.Errorf("invoker probe: %w", err)
	}
	if _, ok := res.Ack.(*wire.CombinedMessage); !ok {
		return nil, fmt.Errorf("%w: probe of a missing action got %T, want a Combined error ack", ErrHarness, res.Ack)
	}
	r.progress("invoker pid %d ready %v after start; echo pid %d", r.inv.Pid(), time.Since(t0).Round(time.Millisecond), r.echo.Pid())
	time.Sleep(2 * time.Second) // let start-up garbage settle before the idle RSS
	idle = map[string]int64{}
	if idle["invoker"], err = ProcRSS(r.inv.Pid()); err != nil {
		return nil, err
	}
	if idle["echo"], err = ProcRSS(r.echo.Pid()); err != nil {
		return nil, err
	}
	return idle, r.measureIdleCPU(ctx)
}

// measureIdleCPU reads the CPU both processes use with nothing to do: the invoker with its health pings,
// pre-warm daemon, harvester and metrics ticking; the echo process with its Kafka consumer and producer.
func (r *run) measureIdleCPU(ctx context.Context) error {
	r.idleFor = r.o.IdleWindow
	if r.idleFor <= 0 {
		r.idleFor = 20 * time.Second
	}
	r.progress("idle CPU over %v", r.idleFor)
	pids := map[string]int{"invoker": r.inv.Pid(), "echo": r.echo.Pid()}
	before := map[string]time.Duration{}
	for name, pid := range pids {
		cpu, err := ProcCPU(pid)
		if err != nil {
			return err
		}
		before[name] = cpu
	}
	t0 := time.Now()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(r.idleFor):
	}
	wall := time.Since(t0)
	r.idleCPU = map[string]float64{}
	for name, pid := range pids {
		cpu, err := ProcCPU(pid)
		if err != nil {
			return err
		}
		r.idleCPU[name] = float64(cpu-before[name]) / float64(wall)
	}
	return nil
}

// coldResult holds row 3 and row 4's samples.
type coldResult struct {
	e2e       []time.Duration // send → Result ack, first activation of a fresh action
	bare      []ColdStartTiming
	initTimes []time.Duration // the invoker's initTime annotations
	mem8      Memory          // invoker RSS with the 8 warm containers, split into anonymous and file-backed pages
	warmCount int             // containers of the invoker after the phase
}

func (r *run) coldPhase(ctx context.Context) (*coldResult, error) {
	c := &coldResult{}
	var aids []string
	// The invoker's and the bare cold start alternate which goes first (ABBA), so a drift in load does not
	// favour either side.
	for i := range actionsWarm {
		name := r.actionName(i)
		var res callResult
		var t ColdStartTiming
		invoker := func() error {
			aid, m := r.msg(name, true, map[string]any{"name": "bench"})
			var err error
			if res, err = r.invCtl.call(ctx, aid, m, callTimeout); err != nil {
				return fmt.Errorf("cold %s: %w", name, err)
			}
			if err := checkResult(res, aid); err != nil {
				return err
			}
			aids = append(aids, aid)
			return nil
		}
		bare := func() error {
			spec, init, err := r.floorSpec(name)
			if err != nil {
				return err
			}
			if t, err = ColdStart(ctx, r.floor, fmt.Sprintf("%s_%d_guest_cold", r.tag, i), spec, init, time.Minute); err != nil {
				return fmt.Errorf("bare cold start: %w", err)
			}
			return nil
		}
		steps := []func() error{invoker, bare}
		if i%4 == 1 || i%4 == 2 {
			steps[0], steps[1] = bare, invoker
		}
		for _, step := range steps {
			if err := step(); err != nil {
				return nil, err
			}
		}
		c.e2e, c.bare = append(c.e2e, res.First), append(c.bare, t)
		r.progress("cold %d: invoker %v to Result, bare create+init %v", i, res.First.Round(time.Millisecond), t.Total.Round(time.Millisecond))
	}
	for _, aid := range aids {
		ann, err := r.record(ctx, aid)
		if err != nil {
			return nil, err
		}
		c.initTimes = append(c.initTimes, time.Duration(ann["initTime"])*time.Millisecond)
	}
	time.Sleep(time.Second)
	var err error
	if c.mem8, err = ProcMemory(r.inv.Pid()); err != nil {
		return nil, err
	}
	names, err := r.containers(ctx, fmt.Sprintf("wsk%s%d_", uniqueName, invokerID))
	if err != nil {
		return nil, err
	}
	c.warmCount = len(names)
	return c, nil
}

// floorSpec is the pool.Spec and /init body the invoker would use for action name.
func (r *run) floorSpec(name string) (pool.Spec, []byte, error) {
	a := actionDoc(name, r.o.Image)
	spec := pool.Spec{Key: pool.Key{Namespace: "guest", Action: "guest/" + name, ContentHash: a.ContentHash()},
		Kind: a.Exec.Kind, Image: r.o.Image, MemoryMB: actionMemMB, Concurrency: 1}
	aid, m := r.msg(name, true, map[string]any{"name": "bench"})
	msg, err := wire.ParseActivationMessage(m)
	if err != nil {
		return spec, nil, err
	}
	_ = aid
	init, err := wire.InitBody(msg, a, time.Now().Add(time.Minute).UnixMilli())
	return spec, init, err
}

func checkResult(res callResult, aid string) error {
	rm, ok := res.Ack.(*wire.ResultMessage)
	if !ok || rm.Activation == nil {
		return fmt.Errorf("%w: first ack of %s is %T, want a Result with the activation", ErrHarness, aid, res.Ack)
	}
	if rm.Activation.Response.StatusCode != proxy.StatusSuccess {
		return fmt.Errorf("%w: %s failed: %s", ErrHarness, aid, rm.Activation.Response.Result)
	}
	return nil
}

// record reads the stored activation record's numeric annotations (waitTime, initTime), waiting for the
// asynchronous write.
// awaitRecord polls the store every poll until the record of aid is readable (10 s at most) and returns it.
func (r *run) awaitRecord(ctx context.Context, aid string, poll time.Duration) ([]byte, error) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		doc, found, err := r.db.getDoc(ctx, r.dbs[1], "guest/"+aid)
		switch {
		case err != nil:
			return nil, err
		case found:
			return doc, nil
		case time.Now().After(deadline):
			return nil, fmt.Errorf("%w: no activation record for %s after 10 s", ErrHarness, aid)
		}
		time.Sleep(poll)
	}
}

// record returns the integer annotations of aid's activation record.
func (r *run) record(ctx context.Context, aid string) (map[string]int64, error) {
	doc, err := r.awaitRecord(ctx, aid, 50*time.Millisecond)
	if err != nil {
		return nil, err
	}
	var d struct {
		Annotations []struct {
			Key   string          `json:"key"`
			Value json.RawMessage `json:"value"`
		} `json:"annotations"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		return nil, fmt.Errorf("%w: record %s: %w", ErrHarness, aid, err)
	}
	out := map[string]int64{}
	for _, a := range d.Annotations {
		var v int64
		if json.Unmarshal(a.Value, &v) == nil {
			out[a.Key] = v
		}
	}
	return out, nil
}

func (r *run) containers(ctx context.Context, prefix string) ([]string, error) {
	list, err := r.api.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("name", prefix))})
	if err != nil {
		return nil, err
	}
	var names []string
	for _, c := range list {
		for _, n := range c.Names {
			if n = strings.TrimPrefix(n, "/"); strings.HasPrefix(n, prefix) {
				names = append(names, n)
			}
		}
	}
	sort.Strings(names)
	return names, nil
}

// warmRep holds one repetition of row 2's samples.
type warmRep struct {
	rtt, run, runLogs, first, slotFree []time.Duration
	invCPU, echoCPU                    time.Duration // used by each process during the repetition
	invWait, echoWait                  time.Duration // run-queue wait of each process during the repetition
}

func (r *run) warmPhase(ctx context.Context) ([]warmRep, error) {
	name := r.actionName(0) // warm since the cold phase
	spec, init, err := r.floorSpec(name)
	if err != nil {
		return nil, err
	}
	h, err := r.floor.Create(ctx, fmt.Sprintf("%s_%d_guest_warm", r.tag, 100), spec)
	if err != nil {
		return nil, err
	}
	defer func() { _ = r.floor.Remove(context.WithoutCancel(ctx), h) }()
	if res := r.floor.Init(ctx, h, init, time.Minute); !res.OK {
		return nil, fmt.Errorf("%w: floor init: %s", ErrHarness, res.Response.Result)
	}
	action := actionDoc(name, r.o.Image)
	content := map[string]any{"name": "bench"}
	r.rep.Config = append(r.rep.Config, "Warm calls (row 2): each sample is one Kafka round trip through the echo "+
		"process, one bare /run (plus its log sentinels) on a container of the same image, then one blocking activation "+
		"through the invoker, each after the previous answered; the next sample starts once the activation record is "+
		"readable in the store, so that trailing write lands in no measured path.")
	var reps []warmRep
	for rep := range r.o.Reps {
		var w warmRep
		inv0, err1 := ProcCPU(r.inv.Pid())
		echo0, err2 := ProcCPU(r.echo.Pid())
		invW0, err3 := ProcRunQueueWait(r.inv.Pid())
		echoW0, err4 := ProcRunQueueWait(r.echo.Pid())
		if err := errors.Join(err1, err2, err3, err4); err != nil {
			return nil, err
		}
		// One sample of each path in turn, so that load from other jobs hits value and floor alike.
		for range r.o.WarmSamples {
			aid, m := r.msg("probe", true, content)
			res, err := r.echoCtl.call(ctx, aid, m, callTimeout)
			if err != nil {
				return nil, fmt.Errorf("kafka round trip: %w", err)
			}
			w.rtt = append(w.rtt, res.First)

			_, m = r.msg(name, true, content)
			msg, _ := wire.ParseActivationMessage(m)
			body, err := wire.RunBody(msg, action, time.Now().Add(time.Minute).UnixMilli())
			if err != nil {
				return nil, err
			}
			t0 := time.Now()
			rr := r.floor.Run(ctx, h, body, time.Minute)
			t1 := time.Now()
			if rr.Response.StatusCode != proxy.StatusSuccess {
				return nil, fmt.Errorf("%w: bare /run: %s", ErrHarness, rr.Response.Result)
			}
			lr := r.floor.Logs(ctx, h, logLimitBytes, pool.LogOptions{Sentinels: true})
			if lr.Failed {
				return nil, fmt.Errorf("%w: bare log collection failed: %v", ErrHarness, lr.Lines)
			}
			w.run, w.runLogs = append(w.run, t1.Sub(t0)), append(w.runLogs, time.Since(t0))

			aid, m = r.msg(name, true, content)
			res, err = r.invCtl.call(ctx, aid, m, callTimeout)
			if err != nil {
				return nil, fmt.Errorf("warm %s: %w", name, err)
			}
			if err := checkResult(res, aid); err != nil {
				return nil, err
			}
			w.first, w.slotFree = append(w.first, res.First), append(w.slotFree, res.SlotFree)
			// The next sample starts once the activation record is in the store: the trailing record write
			// would otherwise land in whichever path is measured next. (Read from the store, not the
			// invoker's /metrics, so that waiting costs the invoker no CPU of the measured window.)
			if _, err := r.awaitRecord(ctx, aid, time.Millisecond); err != nil {
				return nil, err
			}
		}
		inv1, err1 := ProcCPU(r.inv.Pid())
		echo1, err2 := ProcCPU(r.echo.Pid())
		invW1, err3 := ProcRunQueueWait(r.inv.Pid())
		echoW1, err4 := ProcRunQueueWait(r.echo.Pid())
		if err := errors.Join(err1, err2, err3, err4); err != nil {
			return nil, err
		}
		w.invCPU, w.echoCPU = inv1-inv0, echo1-echo0
		w.invWait, w.echoWait = invW1-invW0, echoW1-echoW0
		e, f := Summarize(w.first), SumPercentile(w.rtt, w.run, 50)
		r.progress("warm rep %d: e2e p50 %v p99 %v; floor p50 %v (kafka %v + /run %v)", rep, e.P50, e.P99, f,
			Summarize(w.rtt).P50, Summarize(w.run).P50)
		reps = append(reps, w)
	}
	return reps, nil
}

// tputRep holds one repetition of row 1.
type tputRep struct {
	bare, echo, inv         time.Duration // whole batch
	drain                   time.Duration // last Completion → nothing in flight in the invoker's feed
	echoCPU, invCPU         time.Duration
	invRSS, echoRSS         int64                    // after the batch
	byProcess               map[string]time.Duration // CPU by stackProcess group
	machineBusy, machineAll time.Duration
}

func (r *run) throughputPhase(ctx context.Context) (reps []tputRep, err error) {
	name := r.actionName(0)
	// Warm-up: 8 activations that each hold a container for 5 s make the pool start 8 containers of the
	// action at once (evicting the other actions' containers); cold starts take well under 5 s each.
	var warm [][]byte
	ids := map[string]bool{}
	for range throughputPar {
		aid, m := r.msg(name, false, map[string]any{"name": "bench", "sleep_ms": 5000})
		warm, ids[aid] = append(warm, m), true
	}
	if _, acks, err := r.invCtl.batch(ctx, warm, 3*time.Minute); err != nil {
		return nil, fmt.Errorf("throughput warm-up: %w", err)
	} else if err := checkCompletions(acks, ids); err != nil {
		return nil, fmt.Errorf("throughput warm-up: %w", err)
	}
	time.Sleep(time.Second)
	names, err := r.containers(ctx, fmt.Sprintf("wsk%s%d_", uniqueName, invokerID))
	if err != nil {
		return nil, err
	}
	same := 0
	for _, n := range names {
		if strings.HasSuffix(n, "_guest_"+name) {
			same++
		}
	}
	r.progress("throughput warm-up done: %d containers of %s (%d in all)", same, name, len(names))
	r.rep.Config = append(r.rep.Config, fmt.Sprintf("Throughput runs: all N messages are produced at once (as "+
		"bench.BareLoop does) and timing stops at the N-th Completion. %d containers of the action were warm before "+
		"timing (%d invoker containers in all); the invoker's feed takes up to %d records (maxPeek for 2048 MB), %d run at "+
		"once and the rest wait in the pool's buffer; bench.BareLoop echoes %d at once, the echo process's feed "+
		"takes %d like the invoker's.", same, len(names), messaging.MaxPeek(2048, 1, 0.5), throughputPar, throughputPar,
		messaging.MaxPeek(2048, 1, 0.5)))

	for rep := range r.o.Reps {
		var t tputRep
		sample := activationMessage(newActivationID(), name, r.revs[name], false, map[string]any{"name": "bench"})
		if t.bare, err = BareLoop(ctx, BareOptions{Brokers: r.o.Brokers, N: r.o.N,
			Size: len(sample), Concurrency: throughputPar}); err != nil {
			return nil, fmt.Errorf("bare loop: %w", err)
		}

		batch := func(ctl *controller, action string, pid int) (time.Duration, time.Duration, error) {
			var msgs [][]byte
			ids := map[string]bool{}
			for range r.o.N {
				aid, m := r.msg(action, false, map[string]any{"name": "bench"})
				msgs, ids[aid] = append(msgs, m), true
			}
			cpu0, err := ProcCPU(pid)
			if err != nil {
				return 0, 0, err
			}
			d, acks, err := ctl.batch(ctx, msgs, 5*time.Minute)
			if err != nil {
				return 0, 0, err
			}
			cpu1, err := ProcCPU(pid)
			if err != nil {
				return 0, 0, err
			}
			return d, cpu1 - cpu0, checkCompletions(acks, ids)
		}
		if t.echo, t.echoCPU, err = batch(r.echoCtl, "probe", r.echo.Pid()); err != nil {
			return nil, fmt.Errorf("echo batch: %w", err)
		}
		procs0 := SnapshotProcs()
		busy0, all0, _ := MachineCPU()
		if t.inv, t.invCPU, err = batch(r.invCtl, name, r.inv.Pid()); err != nil {
			return nil, fmt.Errorf("invoker batch: %w", err)
		}
		busy1, all1, _ := MachineCPU()
		t.byProcess = CPUDelta(procs0, SnapshotProcs(), stackProcess)
		if t.drain, err = r.drain(ctx); err != nil {
			return nil, err
		}
		t.machineBusy, t.machineAll = busy1-busy0, all1-all0
		if t.invRSS, err = ProcRSS(r.inv.Pid()); err != nil {
			return nil, err
		}
		if t.echoRSS, err = ProcRSS(r.echo.Pid()); err != nil {
			return nil, err
		}
		per := func(d time.Duration) time.Duration { return d / time.Duration(r.o.N) }
		r.progress("throughput rep %d: invoker %v/act (cpu %v/act), echo %v/msg, bare loop %v/msg", rep,
			per(t.inv), per(t.invCPU), per(t.echo), per(t.bare))
		reps = append(reps, t)
	}
	if r.o.Perf {
		r.profile(ctx, name)
	}
	return reps, nil
}

// drain waits until the invoker's Kafka feed has no record in flight (every activation's record stored and
// ack sent) and returns how long that took.
func (r *run) drain(ctx context.Context) (time.Duration, error) {
	t0 := time.Now()
	url := fmt.Sprintf("http://127.0.0.1:%d/metrics", r.invPort)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, fmt.Errorf("%w: invoker metrics: %w", ErrHarness, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		inFlight := -1.0
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "nemo_kafka_in_flight "); ok {
				if _, err := fmt.Sscanf(v, "%g", &inFlight); err != nil {
					inFlight = -1
				}
			}
		}
		if inFlight < 0 {
			return 0, fmt.Errorf("%w: no nemo_kafka_in_flight in the invoker's metrics", ErrHarness)
		}
		if inFlight == 0 {
			return time.Since(t0), nil
		}
		if time.Since(t0) > time.Minute {
			return 0, fmt.Errorf("%w: %v records still in flight a minute after the last ack", ErrHarness, inFlight)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// profile runs one extra batch with `perf record` attached to the invoker and notes its hottest NEMO
// functions (inclusive share of the invoker's samples). Failures only produce a note.
func (r *run) profile(ctx context.Context, action string) {
	data := filepath.Join(r.o.WorkDir, "invoker.perf.data")
	rec := exec.CommandContext(ctx, "perf", "record", "-F", "999", "-g", "-p", fmt.Sprint(r.inv.Pid()), "-o", data)
	if err := rec.Start(); err != nil {
		r.rep.Notes = append(r.rep.Notes, fmt.Sprintf("Profile not taken: %v", err))
		return
	}
	time.Sleep(500 * time.Millisecond) // perf attaches
	var msgs [][]byte
	for range r.o.N {
		_, m := r.msg(action, false, map[string]any{"name": "bench"})
		msgs = append(msgs, m)
	}
	_, _, berr := r.invCtl.batch(ctx, msgs, 5*time.Minute)
	_, _ = r.drain(ctx)
	_ = rec.Process.Signal(os.Interrupt)
	_ = rec.Wait()
	if berr != nil {
		r.rep.Notes = append(r.rep.Notes, fmt.Sprintf("Profile batch failed: %v", berr))
		return
	}
	out, err := exec.CommandContext(ctx, "perf", "script", "-i", data, "-F", "ip,sym").Output()
	if err != nil {
		r.rep.Notes = append(r.rep.Notes, fmt.Sprintf("Profile not readable: %v", err))
		return
	}
	parts := ProfileByNemoFunction(string(out), 12, 1.0)
	r.perfTop = strings.Join(parts, ", ")
	r.progress("profile: %s", r.perfTop)
	r.rep.Notes = append(r.rep.Notes, "Profile of the invoker during one extra batch of the same size (`perf record -g`): "+
		"share of its CPU samples by the innermost NEMO function on the stack (time in the runtime, encoding/json, "+
		"net/http… is charged to the NEMO function that called it): "+strings.Join(parts, ", ")+".")
}

func (r *run) stopProcesses() {
	if r.inv != nil {
		d, err := r.inv.stop(time.Minute)
		r.progress("invoker stopped in %v (%v)", d.Round(time.Millisecond), err)
		if err != nil {
			r.rep.Notes = append(r.rep.Notes, fmt.Sprintf("Invoker shutdown: %v", err))
		}
		r.inv = nil
	}
	if r.echo != nil {
		_, _ = r.echo.stop(time.Minute)
		r.echo = nil
	}
}

func (r *run) cleanup() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r.stopProcesses()
	if r.invCtl != nil {
		r.invCtl.Close()
	}
	if r.echoCtl != nil {
		r.echoCtl.Close()
	}
	if r.floor != nil {
		if n, err := r.floor.Cleanup(ctx, r.tag); n > 0 || err != nil {
			r.progress("removed %d floor containers left behind (%v)", n, err)
		}
		if n, err := r.floor.Cleanup(ctx, fmt.Sprintf("wsk%s%d", uniqueName, invokerID)); n > 0 || err != nil {
			r.progress("removed %d invoker containers left behind after its shutdown (%v)", n, err)
			if r.rep != nil {
				r.rep.Notes = append(r.rep.Notes, fmt.Sprintf("The invoker left %d containers behind at shutdown.", n))
			}
		}
	}
	if r.api != nil {
		r.api.Close()
	}
	if r.db != nil {
		for _, d := range r.dbs {
			if d != "" {
				r.db.deleteDB(ctx, d)
			}
		}
	}
	deleteTopicsWithPrefix(r.o.Brokers, r.tag)
}

// deleteTopicsWithPrefix removes this run's topics and consumer groups, best effort.
func deleteTopicsWithPrefix(brokers []string, prefix string) {
	admin, err := sarama.NewClusterAdmin(brokers, clientConfig())
	if err != nil {
		return
	}
	defer admin.Close()
	if topics, err := admin.ListTopics(); err == nil {
		for t := range topics {
			if strings.HasPrefix(t, prefix) {
				_ = admin.DeleteTopic(t)
			}
		}
	}
	if groups, err := admin.ListConsumerGroups(); err == nil {
		for g := range groups {
			if strings.HasPrefix(g, prefix) {
				_ = admin.DeleteConsumerGroup(g)
			}
		}
	}
}

// ---------------------------------------------------------------- rows

func mib(b int64) float64 { return float64(b) / (1 << 20) }

func (r *run) rows(idle map[string]int64, cold *coldResult, warm []warmRep, tput []tputRep) {
	n := float64(r.o.N)
	perMs := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) / n }
	var inv, bare, echo, invCPU, echoCPU, invRSS, echoRSS []float64
	for _, t := range tput {
		inv, bare, echo = append(inv, perMs(t.inv)), append(bare, perMs(t.bare)), append(echo, perMs(t.echo))
		invCPU, echoCPU = append(invCPU, perMs(t.invCPU)), append(echoCPU, perMs(t.echoCPU))
		invRSS, echoRSS = append(invRSS, mib(t.invRSS)), append(echoRSS, mib(t.echoRSS))
	}
	cmd := r.o.RunCommand
	add := func(row Row) {
		row.Command = cmd
		r.rep.Rows = append(r.rep.Rows, row)
	}
	conc := fmt.Sprintf("N=%d non-blocking, %d running at once", r.o.N, throughputPar)
	add(Row{ID: "1a", Figure: "Invoker: time per warm activation (" + conc + ")", Unit: "ms",
		Value: SpreadOf(inv), Floor: SpreadOf(bare), FloorWhat: "NEMO's sarama loop (bench.BareLoop), same N, size, concurrency",
		Ratio: SpreadOf(Ratios(inv, bare))})
	add(Row{ID: "1b", Figure: "Invoker: time per warm activation (same runs)", Unit: "ms",
		Value: SpreadOf(inv), Floor: SpreadOf(echo), FloorWhat: "echo process (invoker's Feed+Producer, nothing behind)",
		Ratio: SpreadOf(Ratios(inv, echo))})
	add(Row{ID: "1c", Figure: "Invoker CPU per activation (utime+stime of the nemo process ÷ N)", Unit: "ms",
		Value: SpreadOf(invCPU), Floor: SpreadOf(echoCPU), FloorWhat: "echo process CPU per message",
		Ratio: SpreadOf(Ratios(invCPU, echoCPU)), Goal: 2.5})
	add(Row{ID: "1d", Figure: "Invoker RSS idle (2 s after start, before any activation)", Unit: "MiB",
		Value: SpreadOf([]float64{mib(idle["invoker"])}), Floor: SpreadOf([]float64{mib(idle["echo"])}),
		FloorWhat: "echo process RSS idle", Ratio: SpreadOf([]float64{float64(idle["invoker"]) / float64(idle["echo"])})})
	add(Row{ID: "1f", Figure: fmt.Sprintf("Invoker CPU idle, pings on (%% of one core over %v; goal ≤ 0.2 %%)", r.idleFor),
		Unit: "%", Value: SpreadOf([]float64{100 * r.idleCPU["invoker"]}), Floor: SpreadOf([]float64{100 * r.idleCPU["echo"]}),
		FloorWhat: "echo process CPU idle (its Kafka consumer and producer)",
		Ratio:     SpreadOf(Ratios([]float64{r.idleCPU["invoker"]}, []float64{r.idleCPU["echo"]}))})
	add(Row{ID: "1e", Figure: "Invoker RSS after each throughput run", Unit: "MiB",
		Value: SpreadOf(invRSS), Floor: SpreadOf(echoRSS), FloorWhat: "echo process RSS after its run",
		Ratio: SpreadOf(Ratios(invRSS, echoRSS))})

	var p50, f50, c50, cf50 []float64
	for _, w := range warm {
		p50 = append(p50, Millis(Summarize(w.first).P50)[0])
		f50 = append(f50, Millis(SumPercentile(w.rtt, w.run, 50))[0])
		c50 = append(c50, Millis(Summarize(w.slotFree).P50)[0])
		cf50 = append(cf50, Millis(SumPercentile(w.rtt, w.runLogs, 50))[0])
	}
	one := fmt.Sprintf("blocking, one at a time, %d×%d calls", r.o.Reps, r.o.WarmSamples)
	add(Row{ID: "2a", Figure: "Warm activation end to end, p50: produce → Result ack (" + one + ")", Unit: "ms",
		Value: SpreadOf(p50), Floor: SpreadOf(f50), FloorWhat: "Kafka round trip (echo) + bare /run, p50 of the sum",
		Ratio: SpreadOf(Ratios(p50, f50)), Goal: 1.2})
	// A p99 of one repetition's 200 calls is its second-worst call: pool the repetitions instead.
	var allFirst, allRTT, allRun []time.Duration
	for _, w := range warm {
		allFirst, allRTT, allRun = append(allFirst, w.first...), append(allRTT, w.rtt...), append(allRun, w.run...)
	}
	pooled99, pooledF99 := Millis(Summarize(allFirst).P99)[0], Millis(SumPercentile(allRTT, allRun, 99))[0]
	add(Row{ID: "2b", Figure: fmt.Sprintf("Warm activation end to end, p99 (the same %d calls pooled)", len(allFirst)),
		Unit: "ms", Value: SpreadOf([]float64{pooled99}), Floor: SpreadOf([]float64{pooledF99}),
		FloorWhat: "p99 of the same sum, pooled", Ratio: SpreadOf([]float64{pooled99 / pooledF99}), Goal: 1.2})
	add(Row{ID: "2c", Figure: "Warm activation, p50: produce → Completion ack (after logs and record)", Unit: "ms",
		Value: SpreadOf(c50), Floor: SpreadOf(cf50), FloorWhat: "Kafka round trip + bare /run + log sentinels, p50",
		Ratio: SpreadOf(Ratios(c50, cf50)), Goal: 1.1})

	warmP50 := SpreadOf(p50).Median
	var over, bareTot, ratios []float64
	for i, e := range cold.e2e {
		o := Millis(e)[0] - warmP50
		b := Millis(cold.bare[i].Total)[0]
		over, bareTot, ratios = append(over, o), append(bareTot, b), append(ratios, o/b)
	}
	add(Row{ID: "3", Figure: fmt.Sprintf("Cold start through the invoker: first activation of %d fresh actions, "+
		"produce → Result minus warm e2e p50", len(cold.e2e)), Unit: "ms",
		Value: SpreadOf(over), Floor: SpreadOf(bareTot), FloorWhat: "NEMO's Docker backend alone (bench.ColdStart over pool/docker's Backend: create+start+/init), same image",
		Ratio: SpreadOf(ratios), Goal: 1.1})

	add(Row{ID: "4", Figure: fmt.Sprintf("Invoker RSS with %d warm containers (%d distinct actions, 256 MB each of 2048 MB)",
		cold.warmCount, actionsWarm), Unit: "MiB",
		Value: SpreadOf([]float64{mib(cold.mem8.RSS)}), Floor: SpreadOf([]float64{mib(idle["invoker"])}), FloorWhat: "invoker RSS idle (after start)",
		Ratio: SpreadOf([]float64{float64(cold.mem8.RSS) / float64(idle["invoker"])})})

	idlePct := 100 * r.idleCPU["invoker"]
	word := "met"
	if idlePct > 0.2 {
		word = "**not met**"
	}
	r.absolute = append(r.absolute, fmt.Sprintf("1f (idle CPU ≤ 0.2 %% of a core): %s, %.2f %% (the echo process: %.2f %%). "+
		"At idle the invoker still long-polls Kafka (a fetch every 500 ms), sends its health ping every second and "+
		"runs its timers; the Go runtime's monitor thread wakes with them.", word, idlePct, 100*r.idleCPU["echo"]))
	word = "met"
	if cold.mem8.RSS > 30_000_000 {
		word = "**not met**"
	}
	r.absolute = append(r.absolute, fmt.Sprintf("4 (RSS ≤ 30 MB with %d warm containers): %s, %.1f MiB, of which %.1f MiB "+
		"anonymous (heap, stacks, runtime) and %.1f MiB mapped file pages: the binary's own code and read-only data, "+
		"which the kernel maps around every page the process touches and can drop under pressure. The binary measured "+
		"is the classic-only build the image's /init.sh starts (go build -tags classiconly): the full build also "+
		"links the new scheduler's gRPC and etcd clients, the demo's in-process Kafka and the simulator's plotting, "+
		"whose initialisation maps pages this build never touches.",
		cold.warmCount, word, mib(cold.mem8.RSS), mib(cold.mem8.Anon), mib(cold.mem8.File)))
	r.notes(cold, warm, tput, warmP50)
	r.verdict()
}

// verdict states, for each row with a goal, whether it was met, and the load it was measured under.
func (r *run) verdict() {
	for _, row := range r.rep.Rows {
		has, met := row.GoalMet()
		if !has {
			continue
		}
		word := "met"
		if !met {
			word = "**not met**"
		}
		v := fmt.Sprintf("%s (%s): goal %s, ratio %s.", row.ID, row.Figure, word, FormatSpread(row.Ratio, "×"))
		if !met && row.ID == "2a" && r.why2a != "" {
			v += " " + r.why2a
		}
		if !met && row.ID == "2c" && r.why2c != "" {
			v += " " + r.why2c
		}
		if !met && row.ID == "1c" {
			v += " The echo process consumes one record and produces one ack; for each activation the invoker also " +
				"posts /run and reads its reply, reads the container's log, writes the record to the store over HTTP, " +
				"runs the controller's decisions and keeps its metrics, each step a few system calls and goroutine " +
				"wake-ups that the Go scheduler and the kernel charge to the process."
			if r.perfTop != "" {
				v += " Where its CPU goes (the profile under Where the time goes): " + r.perfTop + "."
			}
		}
		r.rep.Verdict = append(r.rep.Verdict, v)
	}
	r.rep.Verdict = append(r.rep.Verdict, r.absolute...)
	if r.busyPct >= 80 {
		r.rep.Verdict = append(r.rep.Verdict, fmt.Sprintf("The machine was %.0f%% busy with other jobs before the run "+
			"started (load averages above). With the CPUs saturated, every millisecond of CPU an activation needs costs "+
			"several milliseconds of wall time, so figures with more CPU on their path (the invoker's side of a ratio) "+
			"are inflated more than their floors, and repetitions spread widely; rerun on a quiet machine for the "+
			"ratios the design allows.", r.busyPct))
	}
}

func (r *run) notes(cold *coldResult, warm []warmRep, tput []tputRep, warmP50 float64) {
	// Row 2: the parts of the floor and what the invoker adds.
	var all warmRep
	for _, w := range warm {
		all.rtt, all.run, all.first = append(all.rtt, w.rtt...), append(all.run, w.run...), append(all.first, w.first...)
		all.runLogs, all.slotFree = append(all.runLogs, w.runLogs...), append(all.slotFree, w.slotFree...)
	}
	var invCPU, echoCPU, invWait, echoWait time.Duration
	for _, w := range warm {
		invCPU, echoCPU = invCPU+w.invCPU, echoCPU+w.echoCPU
		invWait, echoWait = invWait+w.invWait, echoWait+w.echoWait
	}
	rtt, run, first, rl, sf := Summarize(all.rtt), Summarize(all.run), Summarize(all.first), Summarize(all.runLogs), Summarize(all.slotFree)
	if n := time.Duration(len(all.first)); n > 0 {
		r.why2a = fmt.Sprintf("The invoker adds about %s at p50 to the Kafka round trip and /run (p50s %s together); it spends %s "+
			"of CPU per blocking activation against the echo process's %s per round trip, on 2 cores shared with other "+
			"jobs, and its threads waited %s per activation for a core.", fd(first.P50-rtt.P50-run.P50),
			fd(rtt.P50+run.P50), fd(invCPU/n), fd(echoCPU/n), fd(invWait/n))
		r.rep.Notes = append(r.rep.Notes, fmt.Sprintf("Per warm blocking activation (one at a time), the invoker used "+
			"%s of CPU (the whole activation: Result path, log collection, record, Completion) and its threads spent %s "+
			"runnable but waiting for a core (run-queue time from /proc/<pid>/task/*/schedstat, summed over threads); "+
			"the echo process used %s of CPU and waited %s per round trip.",
			fd(invCPU/n), fd(invWait/n), fd(echoCPU/n), fd(echoWait/n)))
	}
	r.rep.Notes = append(r.rep.Notes, fmt.Sprintf("Warm path (all %d calls pooled): Kafka round trip p50 %s / p99 %s; bare /run "+
		"(docker-proxy on the published port included) p50 %s / p99 %s; invoker produce → Result p50 %s / p99 %s, so the invoker "+
		"adds about %s at p50 (consume, parse, action lookup, pool dispatch, /run body, Result ack). The Completion comes "+
		"%s after the Result at p50: it goes out once both the Result send and log collection are done (pool.Manager runs them side by "+
		"side); logs are read from the json-file as the engine writes it (inotify; polled every 5 ms at most where inotify is unavailable), up to both sentinels (bare: "+
		"%s after /run at p50); the record is written after the Completion.",
		rtt.N, fd(rtt.P50), fd(rtt.P99), fd(run.P50), fd(run.P99), fd(first.P50), fd(first.P99),
		fd(first.P50-rtt.P50-run.P50), fd(sf.P50-first.P50), fd(rl.P50-run.P50)))

	if first.N > 0 {
		r.why2c = fmt.Sprintf("The Completion leaves %s after the Result at p50, while the floor's log sentinels "+
			"arrive %s after /run: as in OpenWhisk, the Completion is sent only once the broker has acknowledged the "+
			"Result (acks=1, one produce round trip, about half of the %s echo round trip), so that a controller "+
			"never reads a Completion before its Result. That round trip is not in the floor. Enqueuing the Completion "+
			"right behind the Result does not remove it: the producer (sarama) keeps one batch per partition in flight "+
			"until the broker answers it, so the Completion still leaves with the next request; only both acks in one "+
			"request would.",
			fd(sf.P50-first.P50), fd(rl.P50-run.P50), fd(rtt.P50))
	}

	// Row 3: create vs init.
	var bc, bi, ii []time.Duration
	for i, b := range cold.bare {
		bc, bi = append(bc, b.Create), append(bi, b.Init)
		ii = append(ii, cold.initTimes[i])
	}
	over := make([]time.Duration, len(cold.e2e))
	for i, e := range cold.e2e {
		over[i] = e - time.Duration(warmP50*float64(time.Millisecond))
	}
	r.rep.Notes = append(r.rep.Notes, fmt.Sprintf("Cold start split (medians of %d): bare create+start+inspect %s and /init %s; "+
		"through the invoker the cold overhead is %s, of which /init (the record's initTime annotation, ms resolution) %s, "+
		"leaving %s for create+start+inspect and the pool's bookkeeping. Samples in order (invoker e2e / bare): %s.",
		len(cold.e2e), fd(Summarize(bc).P50), fd(Summarize(bi).P50), fd(Summarize(over).P50), fd(Summarize(ii).P50),
		fd(Summarize(over).P50-Summarize(ii).P50), pairList(cold.e2e, cold.bare)))

	// Row 1: CPU breakdown of the machine during the invoker batches.
	if len(tput) > 0 {
		sum := map[string]time.Duration{}
		var busy, all time.Duration
		for _, t := range tput {
			for k, v := range t.byProcess {
				sum[k] += v
			}
			busy, all = busy+t.machineBusy, all+t.machineAll
		}
		acts := time.Duration(r.o.N * len(tput))
		type kv struct {
			k string
			v time.Duration
		}
		var list []kv
		for k, v := range sum {
			list = append(list, kv{k, v})
		}
		slices.SortFunc(list, func(a, b kv) int { return int(b.v - a.v) })
		var parts []string
		for _, e := range list {
			if e.v/acts >= 5*time.Microsecond {
				parts = append(parts, fmt.Sprintf("%s %s", e.k, fd(e.v/acts)))
			}
		}
		var drains []time.Duration
		for _, t := range tput {
			drains = append(drains, t.drain)
		}
		r.rep.Notes = append(r.rep.Notes, fmt.Sprintf("After the last Completion of a throughput batch the invoker still "+
			"held records in flight for %s (median; each run: %s). A Kafka slot (capacity %d) is freed only once the "+
			"activation record is stored in pouchdb-server, so this is how far record writes lagged behind the acks.",
			fd(Summarize(drains).P50), fdList(drains), messaging.MaxPeek(2048, 1, 0.5)))
		r.rep.Notes = append(r.rep.Notes, fmt.Sprintf("CPU per activation during the invoker's throughput runs, by process "+
			"(processes that exited during a run are not counted): %s. Whole machine: %s busy "+
			"per activation, %.0f%% of the %d cores busy.", strings.Join(parts, ", "), fd(busy/acts),
			100*float64(busy)/float64(max(all, 1)), runtime.NumCPU()))
	}
}

func fd(d time.Duration) string {
	switch a := d.Abs(); {
	case a >= time.Second:
		return fmt.Sprintf("%.2f s", d.Seconds())
	case a >= time.Millisecond:
		return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond))
	}
}

func fdList(ds []time.Duration) string {
	var s []string
	for _, d := range ds {
		s = append(s, fmt.Sprintf("%.0f", float64(d)/float64(time.Millisecond)))
	}
	return strings.Join(s, ", ") + " ms"
}

// freezeRow adds row 5 from pool/docker's freeze benchmark output.
func (r *run) freezeRow() error {
	if r.o.FreezeOut == "" {
		return fmt.Errorf("not run")
	}
	b, err := os.ReadFile(r.o.FreezeOut)
	if err != nil {
		return err
	}
	lines, err := ParseBenchOutput(string(b), "BenchmarkFreezeThawVsPause")
	if err != nil {
		return err
	}
	cg := Column(lines, "cgroup-µs/cycle")
	dp := Column(lines, "pause-µs/cycle")
	ratio := Column(lines, "pause/cgroup")
	if math.IsNaN(SpreadOf(cg).Median) || math.IsNaN(SpreadOf(dp).Median) {
		return fmt.Errorf("benchmark output lacks cgroup-µs/cycle or pause-µs/cycle")
	}
	r.rep.Rows = append(r.rep.Rows, Row{ID: "5", Figure: fmt.Sprintf("Docker pause+unpause vs NEMO's cgroup freeze+thaw "+
		"(median per cycle, %d runs)", len(lines)), Unit: "µs", Value: SpreadOf(dp), Floor: SpreadOf(cg),
		FloorWhat: "cgroup freezer freeze+thaw", Ratio: SpreadOf(ratio), Goal: 30, GoalAtLeast: true, Command: r.o.FreezeCommand})
	return nil
}

func compactJSON(b []byte) string {
	var v any
	if json.Unmarshal(b, &v) != nil {
		return string(b)
	}
	out, _ := json.Marshal(v)
	return string(out)
}

func portOf(base string) string {
	i := strings.LastIndexByte(base, ':')
	if i < 0 || strings.HasSuffix(base[:i], "http") || strings.HasSuffix(base[:i], "https") {
		return "5984"
	}
	return base[i+1:]
}

// stackProcesses are the processes on an activation's path, by command name.
var stackProcesses = map[string]string{
	"nemo": "nemo (invoker)", "dockerd": "dockerd", "containerd": "containerd", "containerd-shim": "containerd-shim",
	"docker-proxy": "docker-proxy", "actionproxy": "actionproxy (in the container)", "testaction": "testaction (the action)",
	"node": "node (pouchdb-server)", "java": "java (Kafka)", "nemobench": "nemobench (controller + echo)",
}

func stackProcess(comm string) string {
	if s, ok := stackProcesses[comm]; ok {
		return s
	}
	switch {
	case strings.HasPrefix(comm, "containerd-shim"):
		return "containerd-shim"
	case strings.HasPrefix(comm, "kworker/"), strings.HasPrefix(comm, "ksoftirqd/"), strings.HasPrefix(comm, "jbd2/"):
		return "kernel threads"
	}
	return "other processes (other jobs)"
}

func pairList(e2e []time.Duration, bare []ColdStartTiming) string {
	var s []string
	for i := range e2e {
		s = append(s, fmt.Sprintf("%.0f/%.0f", float64(e2e[i])/float64(time.Millisecond), float64(bare[i].Total)/float64(time.Millisecond)))
	}
	return strings.Join(s, ", ") + " ms"
}
