//go:build integration

package harvest

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nemo-edge/nemo/clickshm"
	"github.com/nemo-edge/nemo/integration/itest"
	"github.com/nemo-edge/nemo/integration/refnf"
	"github.com/nemo-edge/nemo/integration/refnf/netns"
	"github.com/nemo-edge/nemo/invoker/store"
)

const (
	actionName = "harvest"
	nfName     = "refnf"
	// harvestBurst is what the test's profile asks the NF to apply while harvesting; defaultBurst is the
	// NF's burst without harvesting (and its fallback without a live writer).
	harvestBurst = 32
	defaultBurst = 1
	lingerMs     = 200
	// sleepMs keeps the invocation (and so the harvest session) open long enough to be observed.
	sleepMs = 1500
	// coalesceWarning is the harvester's one-time warning for a device without interrupt coalescing.
	coalesceWarning = "device does not support interrupt coalescing"
)

// TestInvocationSwitchesHarvesting runs one blocking activation through the real invoker whose harvester
// has one NF: the reference NF in a private namespace, following the invoker's clickshm segment. While
// the activation runs, /metrics must show harvesting active and the NF must have applied (and acked on
// the segment) the profile's burst; after the slot-freeing ack and the linger, /metrics must show it
// inactive and the NF back at its default burst, with at least two switches (on, off) counted and one
// session opened. The NF's interface is the root-namespace end of a veth pair, which has no interrupt
// coalescing: the harvester must warn about that exactly once and keep harvesting with the Click knob.
//
// The NF receives no traffic, so its tag stays (refnf, idle); the built-in profile table does not
// harvest idle NFs (they are unmeasured), so the config overrides the idle profile of this NF with
// burst 32 and rx-usecs 20 (the rx-usecs makes the harvester try the NIC knob, hence the warning).
func TestInvocationSwitchesHarvesting(t *testing.T) {
	svc := needServices(t)
	bins := buildBinaries(t)
	run := newRun(t, svc)

	nf := run.startNF(bins.refnf)
	run.prepareKafkaAndStore()
	inv := run.startInvoker(bins.nemo, nf)

	// Baseline: the NF follows the invoker's live segment with harvesting off, and the invoker has not
	// switched anything yet.
	base := run.waitSample(nf, 20*time.Second, "baseline (NF attached, writer live, burst 1, harvest off)",
		func(s sample) bool {
			return s.nfOK && s.nf.Attached && s.nf.Live && s.nf.Applied == defaultBurst &&
				s.segOK && s.seg.AckSeq == s.seg.Seq && s.seg.Applied == defaultBurst &&
				s.metricsOK && s.active == 0
		})
	require.Equal(t, 0.0, base.sessions, "no harvest session before the activation")
	tagLine := fmt.Sprintf(`nemo_nf_tag_info{nf=%q,tag="idle"}`, nfName)
	require.Equal(t, 1.0, base.metrics[tagLine], "the NF's tag is (refnf, idle): it receives no traffic")

	act := run.message(map[string]any{"sleep_ms": sleepMs})
	t0 := time.Now()
	run.ctl.Produce(t, act.raw)
	t.Logf("activation %s produced to %s (sleep_ms %d)", act.aid, run.ctl.InvokerTopic(), sleepMs)

	var (
		firstActive, firstBurst, onBoth, resultAt, slotFreeAt, firstInactive, firstDefault, offBoth time.Duration
		onSample, offSample                                                                         sample
	)
	unset := time.Duration(-1)
	firstActive, firstBurst, onBoth, resultAt, slotFreeAt = unset, unset, unset, unset, unset
	firstInactive, firstDefault, offBoth = unset, unset, unset
	deadline := t0.Add(60 * time.Second)
	for offBoth < 0 {
		if time.Now().After(deadline) {
			run.failTimeline(t0, "the activation did not switch harvesting on and back off within 60 s")
		}
		// Acks first: a sample taken after this snapshot showed no slot-freeing ack was taken while the
		// activation was still in flight or within the linger; sessions == 1 then proves the former.
		acks := run.acks.ForID(act.aid)
		s := run.sample(nf)
		at := s.at.Sub(t0)
		for _, a := range acks {
			if a.Kind != itest.AckCompletion && resultAt < 0 {
				resultAt = a.At.Sub(t0)
			}
			if a.SlotFree() && slotFreeAt < 0 {
				slotFreeAt = a.At.Sub(t0)
			}
		}
		on := s.metricsOK && s.active == 1
		nfOn := s.nfOK && s.nf.Applied == harvestBurst && s.nf.Enable &&
			s.segOK && s.seg.Enable() && s.seg.Burst == harvestBurst &&
			s.seg.AckSeq == s.seg.Seq && s.seg.Applied == harvestBurst
		off := s.metricsOK && s.active == 0
		nfOff := s.nfOK && s.nf.Applied == defaultBurst && !s.nf.Enable &&
			s.segOK && !s.seg.Enable() && s.seg.AckSeq == s.seg.Seq && s.seg.Applied == defaultBurst
		if on && firstActive < 0 {
			firstActive = at
		}
		if nfOn && firstBurst < 0 {
			firstBurst = at
		}
		if on && nfOn && s.sessions == 1 && onBoth < 0 && slotFreeAt < 0 {
			onBoth, onSample = at, s
		}
		if onBoth >= 0 && slotFreeAt >= 0 {
			if off && firstInactive < 0 {
				firstInactive = at
			}
			if nfOff && firstDefault < 0 {
				firstDefault = at
			}
			if off && nfOff {
				offBoth, offSample = at, s
			}
		}
		if slotFreeAt >= 0 && onBoth < 0 {
			run.failTimeline(t0, "the activation finished (slot-freeing ack) without harvesting seen on "+
				"in both /metrics (nemo_harvest_active 1) and the NF (applied burst 32, acked on the segment)")
		}
		time.Sleep(20 * time.Millisecond)
	}

	t.Logf("timeline since produce: harvest active %v, NF burst %d applied+acked %v, result ack %v, "+
		"slot-freeing ack %v, harvest inactive %v, NF burst %d applied+acked %v",
		firstActive.Round(time.Millisecond), harvestBurst, firstBurst.Round(time.Millisecond),
		resultAt.Round(time.Millisecond), slotFreeAt.Round(time.Millisecond),
		firstInactive.Round(time.Millisecond), defaultBurst, firstDefault.Round(time.Millisecond))
	t.Logf("on for about %v as seen by polling (linger %d ms); segment seq %d→%d",
		(firstInactive - firstActive).Round(time.Millisecond), lingerMs, onSample.seg.Seq, offSample.seg.Seq)

	require.Equal(t, 1.0, onSample.sessions, "one open session (the invocation) while harvesting is on")
	require.Equal(t, 0.0, offSample.sessions, "no open session after the ack and the linger")
	require.GreaterOrEqual(t, offSample.switches-base.switches, 2.0,
		"nemo_harvest_switches_total counts the on and the off switch")
	require.Equal(t, 1.0, offSample.sessionsTotal-base.sessionsTotal,
		"exactly one harvest session was opened: the activation's (pre-warming is disabled in this test)")

	// The result must be the action's, not an error: harvesting must not break the invocation.
	res := run.resultOf(act.aid)
	require.Equal(t, 0, res.StatusCode, "activation response %s", res.Result)

	// The veth end has no interrupt coalescing: one warning naming the NIC knob, harvesting continued
	// (proved above by the burst), and the knob is exported as unsupported.
	knob := "nic:" + run.pair.PeerIf
	warnings := 0
	for _, l := range itest.ReadLines(inv.logPath) {
		var line map[string]any
		if json.Unmarshal([]byte(l), &line) != nil {
			continue
		}
		if msg, _ := line["message"].(string); strings.Contains(msg, coalesceWarning) {
			require.Equal(t, "warn", line["level"], "coalescing warning level: %s", l)
			require.Equal(t, knob, line["knob"], "coalescing warning names the NIC knob: %s", l)
			warnings++
		}
	}
	require.Equal(t, 1, warnings, "the unsupported-coalescing warning appears exactly once in the invoker log")
	for _, l := range itest.ReadLines(inv.logPath) {
		if strings.Contains(l, `"message":"harvest switch"`) {
			t.Logf("invoker: %s", l)
		}
	}
	require.Equal(t, 1.0, offSample.metrics[fmt.Sprintf(`nemo_harvest_knob_unsupported{knob=%q}`, knob)],
		"/metrics marks the NIC knob unsupported")
}

// ---------------------------------------------------------------------------------------------------
// Services, binaries

// needServices skips unless the test can run here: root, iproute2, then what itest.NeedServices checks
// (Kafka, CouchDB, Docker, on loopback, with credentials, and the action image).
func needServices(t *testing.T) itest.Services {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates a network namespace and a veth pair, and the reference NF opens an AF_PACKET socket")
	}
	if !netns.HaveIPTool() {
		t.Skip("needs the ip tool (iproute2) to create the NF's namespace")
	}
	return itest.NeedServices(t)
}

type binaries struct{ nemo, refnf string }

// buildBinaries builds the invoker and the reference NF into the test's temporary directory.
func buildBinaries(t *testing.T) binaries {
	t.Helper()
	dir := t.TempDir()
	b := binaries{nemo: filepath.Join(dir, "nemo"), refnf: filepath.Join(dir, "refnf")}
	for out, pkg := range map[string]string{
		b.nemo:  "github.com/nemo-edge/nemo/invoker/cmd/nemo",
		b.refnf: "github.com/nemo-edge/nemo/integration/refnf/cmd/refnf",
	} {
		require.NoError(t, itest.GoBuild(out, pkg))
	}
	return b
}

// ---------------------------------------------------------------------------------------------------
// One run: its names, its resources and their cleanup

type run struct {
	t          *testing.T
	svc        itest.Services
	suffix     string
	id         int
	controller string
	dbPrefix   string
	dir        string
	shmDir     string
	shmPath    string
	pair       netns.Pair

	store *store.Store
	ctl   *itest.Controller
	acks  *itest.AckLog

	port     int
	timeline []sample
	nfProc   *itest.Proc
	invProc  *itest.Proc
}

func newRun(t *testing.T, svc itest.Services) *run {
	t.Helper()
	suffix := itest.RandomHex(3)
	r := &run{
		t:          t,
		svc:        svc,
		suffix:     suffix,
		id:         100000 + mrand.IntN(800000),
		controller: strconv.Itoa(100000 + mrand.IntN(800000)),
		dir:        t.TempDir(),
		// PeerNetns "" puts the peer end in the root namespace, where the invoker reads its counters.
		pair: netns.Pair{NFNetns: "nemo-hv" + suffix, NFIf: "hvn" + suffix, PeerIf: "hvp" + suffix},
	}
	r.dbPrefix = fmt.Sprintf("it_hv%d_", r.id)
	// Registered first, so it runs last: the failure dump reads logs of processes already stopped.
	t.Cleanup(r.dumpOnFailure)
	return r
}

// startNF creates the namespace and veth pair (NF end inside, peer end in the root namespace) and starts
// the reference NF on the inside end, following the run's clickshm segment with default burst 1.
func (r *run) startNF(bin string) *nfHandle {
	t := r.t
	t.Helper()
	for _, n := range []string{r.pair.NFIf, r.pair.PeerIf} {
		if _, err := os.Stat(filepath.Join("/sys/class/net", n)); err == nil {
			t.Fatalf("interface %s already exists in the root namespace; not touching it", n)
		}
	}
	require.False(t, netns.Exists(r.pair.NFNetns), "namespace %s already exists; not touching it", r.pair.NFNetns)
	// Teardown deletes the namespace, which deletes both veth ends; registered before Ensure so a
	// half-built topology goes too.
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := r.pair.Teardown(ctx); err != nil {
			t.Errorf("teardown %s: %v", r.pair.NFNetns, err)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := r.pair.Ensure(ctx)
	require.NoError(t, err, "create namespace %s and veth %s/%s", r.pair.NFNetns, r.pair.NFIf, r.pair.PeerIf)
	_, err = os.Stat(filepath.Join("/sys/class/net", r.pair.PeerIf, "statistics", "rx_bytes"))
	require.NoError(t, err, "the veth peer %s has counters in the root namespace", r.pair.PeerIf)

	r.shmDir, err = os.MkdirTemp("/dev/shm", "nemo-hv-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(r.shmDir) })
	r.shmPath = filepath.Join(r.shmDir, "nemo-"+nfName)

	stdout := filepath.Join(r.dir, "refnf.stdout")
	p := r.spawn(itest.ProcSpec{Name: "refnf", Bin: bin, OutPath: stdout, LogPath: filepath.Join(r.dir, "refnf.stderr"),
		Args: []string{"-mode", "firewall", "-netns", r.pair.NFNetns, "-if", r.pair.NFIf,
			"-shm", r.shmPath, "-burst", strconv.Itoa(defaultBurst), "-shm-interval", "10ms",
			"-stats-addr", "127.0.0.1:0"}})
	r.nfProc = p
	var addr string
	for deadline := time.Now().Add(15 * time.Second); addr == ""; time.Sleep(20 * time.Millisecond) {
		for _, l := range itest.ReadLines(stdout) {
			var ev struct {
				Event     string `json:"event"`
				StatsAddr string `json:"stats_addr"`
			}
			if json.Unmarshal([]byte(l), &ev) == nil && ev.Event == "ready" {
				addr = ev.StatsAddr
			}
		}
		if addr != "" {
			break
		}
		if p.Exited() {
			t.Fatalf("refnf exited during start-up: %s\n%s", p.Describe(), itest.Tail(p.LogPath, 20))
		}
		if time.Now().After(deadline) {
			t.Fatalf("refnf did not report ready within 15 s\n%s", itest.Tail(p.LogPath, 20))
		}
	}
	t.Logf("refnf pid %d on %s in %s (peer %s in the root namespace), segment %s, stats %s",
		p.Cmd.Process.Pid, r.pair.NFIf, r.pair.NFNetns, r.pair.PeerIf, r.shmPath, addr)
	return &nfHandle{statsURL: "http://" + addr + "/stats", pid: p.Cmd.Process.Pid}
}

type nfHandle struct {
	statsURL string
	pid      int
}

// prepareKafkaAndStore creates the run's databases, seeds the action and opens the controller's side of
// Kafka (completed{C}, health).
func (r *run) prepareKafkaAndStore() {
	t := r.t
	t.Helper()
	r.store = itest.OpenStore(t, r.svc.Couch, r.dbPrefix)
	itest.SeedAction(t, r.store, actionName, 256, 10)
	r.ctl = itest.NewController(t, r.svc.Kafka, r.id, r.controller)
	r.acks = r.ctl.ConsumeAcks(t)
}

// startInvoker writes the config (harvester on, one NF, idle profile overridden), starts
// `nemo invoker --id N --config file` with the deployment's environment and waits for GET /ping.
func (r *run) startInvoker(bin string, nf *nfHandle) *invokerHandle {
	t := r.t
	t.Helper()
	conf := map[string]any{
		"invoker": map[string]any{"listenHost": "127.0.0.1", "logLevel": "debug"},
		"docker":  map[string]any{"mode": "publish", "publishHost": "127.0.0.1"},
		// Pre-warms also open harvest sessions; a score nobody reaches keeps this test's only session the
		// activation's (edgeFunctions[].prewarm "never" would say it directly, but the invoker does not
		// consult it yet).
		"scheduler": map[string]any{"minScore": 1e12},
		"harvester": map[string]any{
			"enabled":   true,
			"linger":    fmt.Sprintf("%dms", lingerMs),
			"stateFile": filepath.Join(r.dir, "harvester-nic.json"),
			"nfs": []map[string]any{{
				"name": nfName, "interface": r.pair.PeerIf, "pid": nf.pid, "shm": r.shmPath,
			}},
			"profiles": []map[string]any{{
				"nf": nfName, "pktSize": 0, "rxUsecs": 20, "burst": harvestBurst,
			}},
		},
	}
	b, err := json.MarshalIndent(conf, "", "  ")
	require.NoError(t, err)
	configPath := filepath.Join(r.dir, "nemo.json")
	require.NoError(t, os.WriteFile(configPath, b, 0o644))
	r.port = itest.FreePort(t)

	logPath := itest.LogFile(r.dir, fmt.Sprintf("invoker%d.log", r.id))
	env := itest.InvokerEnv{Kafka: r.svc.Kafka, Couch: r.svc.Couch, DBPrefix: r.dbPrefix, Port: r.port}.Environ()
	p := r.spawn(itest.ProcSpec{Name: "invoker", Bin: bin, Env: env, LogPath: logPath,
		Args: []string{"invoker", "--id", strconv.Itoa(r.id), "--config", configPath}})
	r.invProc = p
	t.Cleanup(func() {
		// Containers this invoker left behind (a failed test, a kill).
		if ids, err := itest.InvokerContainers(r.id); err == nil {
			itest.RemoveContainers(ids)
		}
	})
	if err := itest.WaitReady(p, r.url("/ping"), 60*time.Second); err != nil {
		t.Fatalf("invoker%d: %v\n%s", r.id, err, itest.Tail(logPath, 30))
	}
	t.Logf("invoker%d ready after %v (controller %s, databases %s*, http 127.0.0.1:%d)",
		r.id, time.Since(p.Started).Round(time.Millisecond), r.controller, r.dbPrefix, r.port)
	return &invokerHandle{logPath: logPath}
}

type invokerHandle struct{ logPath string }

func (r *run) url(path string) string { return fmt.Sprintf("http://127.0.0.1:%d%s", r.port, path) }

// ---------------------------------------------------------------------------------------------------
// Processes

// spawn starts a process in the run's directory; cleanup stops it with SIGTERM (the invoker then closes
// its harvester: NIC restored, WRITER_CLOSED published), SIGKILL after 30 s.
func (r *run) spawn(s itest.ProcSpec) *itest.Proc {
	t := r.t
	t.Helper()
	s.Dir = r.dir
	p := itest.Spawn(t, s)
	t.Cleanup(func() {
		if p.Exited() {
			return
		}
		if err := p.Terminate(30 * time.Second); err != nil && !errors.Is(err, os.ErrProcessDone) {
			t.Error(err)
		}
	})
	return p
}

// ---------------------------------------------------------------------------------------------------
// Observations: /metrics, the NF's /stats and the segment itself

type sample struct {
	at time.Time

	metricsOK                                 bool
	metrics                                   map[string]float64
	active, sessions, sessionsTotal, switches float64

	nfOK bool
	nf   refnf.FollowState

	segOK bool
	seg   segment
	err   string
}

// segment is the part of the clickshm page the test checks: the writer's line and the reader's ack.
type segment struct {
	Seq, Flags, Burst, AckSeq, Applied, ReaderFlags uint32
}

func (s segment) Enable() bool { return s.Flags&clickshm.FlagBurstEnable != 0 }

func (s segment) String() string {
	return fmt.Sprintf("seq %d flags %#x burst %d | ack_seq %d applied %d reader_flags %#x",
		s.Seq, s.Flags, s.Burst, s.AckSeq, s.Applied, s.ReaderFlags)
}

// readSegment reads the page through the file (no mapping, no flock: the test must not look like a
// reader or a writer to either side).
func readSegment(path string) (segment, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return segment{}, err
	}
	if len(b) < clickshm.HeaderSize {
		return segment{}, fmt.Errorf("segment %s: %d bytes", path, len(b))
	}
	le := binary.LittleEndian
	if le.Uint32(b[clickshm.OffMagic:]) != clickshm.Magic {
		return segment{}, fmt.Errorf("segment %s: not published", path)
	}
	return segment{
		Seq: le.Uint32(b[clickshm.OffSeq:]), Flags: le.Uint32(b[clickshm.OffFlags:]), Burst: le.Uint32(b[clickshm.OffBurst:]),
		AckSeq: le.Uint32(b[clickshm.OffAckSeq:]), Applied: le.Uint32(b[clickshm.OffAppliedBurst:]),
		ReaderFlags: le.Uint32(b[clickshm.OffReaderFlags:]),
	}, nil
}

var pollClient = &http.Client{Timeout: 2 * time.Second}

func getBody(u string) ([]byte, error) {
	resp, err := pollClient.Get(u)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return b, nil
}

// sample takes one observation of all three views and appends it to the timeline.
func (r *run) sample(nf *nfHandle) sample {
	s := sample{at: time.Now()}
	var errs []string
	if b, err := getBody(r.url("/metrics")); err != nil {
		errs = append(errs, err.Error())
	} else {
		s.metrics, _ = itest.ParseMetrics(string(b))
		var ok [4]bool
		s.active, ok[0] = s.metrics["nemo_harvest_active"]
		s.sessions, ok[1] = s.metrics["nemo_harvest_sessions"]
		s.sessionsTotal, ok[2] = s.metrics["nemo_harvest_sessions_total"]
		s.switches, ok[3] = s.metrics["nemo_harvest_switches_total"]
		s.metricsOK = ok[0] && ok[1] && ok[2] && ok[3]
		if !s.metricsOK {
			errs = append(errs, "harvester metrics missing from /metrics")
		}
	}
	if b, err := getBody(nf.statsURL); err != nil {
		errs = append(errs, err.Error())
	} else {
		var st refnf.Stats
		if err := json.Unmarshal(b, &st); err != nil || st.Shm == nil {
			errs = append(errs, fmt.Sprintf("NF stats without shm state: %v %s", err, b))
		} else {
			s.nf, s.nfOK = *st.Shm, true
			if st.Burst != st.Shm.Applied {
				errs = append(errs, fmt.Sprintf("NF engine burst %d differs from follower's applied %d", st.Burst, st.Shm.Applied))
				s.nfOK = false
			}
		}
	}
	if seg, err := readSegment(r.shmPath); err != nil {
		errs = append(errs, err.Error())
	} else {
		s.seg, s.segOK = seg, true
	}
	s.err = strings.Join(errs, "; ")
	r.timeline = append(r.timeline, s)
	return s
}

// waitSample polls until cond holds; it fails the test with the timeline otherwise.
func (r *run) waitSample(nf *nfHandle, timeout time.Duration, what string, cond func(sample) bool) sample {
	r.t.Helper()
	start := time.Now()
	for {
		s := r.sample(nf)
		if cond(s) {
			return s
		}
		if time.Since(start) > timeout {
			r.failTimeline(start, fmt.Sprintf("no %s within %v", what, timeout))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// failTimeline logs every change of the observed state since t0 and fails the test.
func (r *run) failTimeline(t0 time.Time, msg string) {
	r.t.Helper()
	var b strings.Builder
	prev := ""
	for _, s := range r.timeline {
		line := fmt.Sprintf("active=%v sessions=%v switches=%v | nf attached=%v live=%v enable=%v published=%d applied=%d acked=%d | segment %v | %s",
			s.active, s.sessions, s.switches, s.nf.Attached, s.nf.Live, s.nf.Enable, s.nf.Published, s.nf.Applied, s.nf.AckedSeq,
			s.seg, s.err)
		if line != prev {
			fmt.Fprintf(&b, "  %+8dms %s\n", s.at.Sub(t0).Milliseconds(), line)
			prev = line
		}
	}
	r.t.Fatalf("%s\nobserved changes:\n%s", msg, b.String())
}

// dumpOnFailure logs the invoker log tail, the NF's stderr and its last stats.
func (r *run) dumpOnFailure() {
	if !r.t.Failed() {
		return
	}
	if p := r.invProc; p != nil {
		// The test's own polling makes most debug lines; they are left out.
		var lines []string
		for _, l := range itest.ReadLines(p.LogPath) {
			if !strings.Contains(l, `"message":"http request"`) {
				lines = append(lines, l)
			}
		}
		lines = lines[max(0, len(lines)-120):]
		r.t.Logf("---- invoker%d (%s), last %d log lines (http request lines left out) ----\n%s",
			r.id, p.Describe(), len(lines), strings.Join(lines, "\n"))
	}
	if p := r.nfProc; p != nil {
		r.t.Logf("---- refnf (%s), stderr ----\n%s", p.Describe(), itest.Tail(p.LogPath, 40))
		r.t.Logf("---- refnf stdout (ready/exit events with stats) ----\n%s",
			itest.Tail(filepath.Join(r.dir, "refnf.stdout"), 5))
	}
	if n := len(r.timeline); n > 0 {
		s := r.timeline[n-1]
		r.t.Logf("last sample: NF follow state %+v; segment %v; %s", s.nf, s.seg, s.err)
	}
}

// ---------------------------------------------------------------------------------------------------
// Kafka: the activation message and the acks

type activation struct {
	aid string
	raw []byte
}

// message builds a blocking ActivationMessage for guest/harvest as the controller writes it.
func (r *run) message(content map[string]any) activation {
	r.t.Helper()
	m := itest.Activation{Action: actionName, AID: itest.RandomHex(16), TransID: itest.TransID("hv" + itest.RandomHex(15)),
		Blocking: true, Content: content, Controller: r.controller}
	b, err := m.Marshal()
	require.NoError(r.t, err)
	return activation{aid: m.AID, raw: b}
}

type response struct {
	StatusCode int             `json:"statusCode"`
	Result     json.RawMessage `json:"result"`
}

// resultOf returns the activation response carried by the result (or combined) ack.
func (r *run) resultOf(aid string) response {
	r.t.Helper()
	for _, a := range r.acks.ForID(aid) {
		if a.Kind == itest.AckCompletion {
			continue
		}
		var m struct {
			Response struct {
				Response response `json:"response"`
			} `json:"response"`
		}
		require.NoError(r.t, json.Unmarshal(a.Raw, &m), "ack %s", a.Raw)
		return m.Response.Response
	}
	r.t.Fatalf("no result ack for %s", aid)
	return response{}
}

// ---------------------------------------------------------------------------------------------------
// Small utilities
