//go:build integration

package harvest

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/nemo-edge/nemo/clickshm"
	"github.com/nemo-edge/nemo/integration/itest"
	"github.com/nemo-edge/nemo/integration/refnf"
	"github.com/nemo-edge/nemo/integration/refnf/netns"
	"github.com/nemo-edge/nemo/invoker/store"
)

const (
	actionName = "harvest"
	nfName     = "refnf"
	// ghostName is a second NF on the same interface whose Click side never attaches to its segment.
	ghostName = "ghost"
	// defaultBurst is the NF's burst without harvesting (and its fallback without a live writer).
	defaultBurst = 1
	lingerMs     = 200
	// sleepMs keeps an invocation (and so the harvest session) open long enough to be observed.
	sleepMs = 1500
	// coalesceWarning is the harvester's one-time warning for a device without interrupt coalescing.
	coalesceWarning = "device does not support interrupt coalescing"
	// trafficMAC is where the traffic generator addresses its frames: not the NF interface's own MAC, so the
	// host's IP stack sees every frame as another host's (PACKET_OTHERHOST) and drops it, while the NF's packet
	// socket reads them all.
	trafficMAC = "02:77:00:00:99:99"
	nfMAC      = "02:77:00:00:01:02"
	// nfWakeupCost is the CPU the NF burns per wake-up for the interrupt work a NIC would cost its core.
	// At the step-2 rates it is a few per cent of a core; under the 64-byte flood, at one frame per wake-up,
	// it is more than the half core the NF keeps beside a spinning edge function.
	nfWakeupCost = 20 * time.Microsecond
)

// harvestStep is one packet size the test sends and what the built-in profile table (harvester.
// DefaultProfiles) makes of its bucket: the Click burst while harvesting.
type harvestStep struct {
	size, pps, burst int
}

// TestHarvestDrivenByRealTraffic runs the real invoker binary, whose harvester watches the reference NF
// (integration/refnf, reading the root-namespace end of a veth pair through a packet socket, pinned to one
// core and alone in a cgroup of the test's) and a second NF ("ghost") whose Click side never attaches. The
// test drives everything from real parts, with the shipped profile table and no tag forced:
//
//  1. Baseline: the NF's Click side is live and acknowledging (nemo_nf_click_reader), the ghost's never
//     attached (metric and one warning), CPU accounting is on for the NF (source cgroup) and off for the
//     ghost, which has cores only.
//  2. Tagging from traffic: the traffic generator sends 512-byte, then 1500-byte frames; each time the
//     NF's tag follows (nemo_nf_tag_info) and an activation switches harvesting on with that tag's profile:
//     the NF applies burst 4, then 32, and the harvester reads the element's acknowledgement of it
//     (nemo_nf_click_acked 1, nemo_nf_click_applied_burst). After the slot-freeing ack and the linger
//     harvesting is off and the NF back at burst 1.
//  3. The QoS guard: while an edge function (the action, pinned by the invoker to the NF's core) keeps that
//     core busy, a flood of small frames overloads the NF, whose socket drops packets. (The NF is charged
//     the interrupt work a NIC would cost its core per wake-up, -wakeup-cost, as in the paper evaluation:
//     over veth that work lands on the sender's core, and without it the generator's own core, not the
//     NF's half core, would bound the rate, leaving an overload to scheduling luck.) The guard backs off
//     (nemo_harvest_backoff 1, harvesting off although a session is open, the NF back at burst 1,
//     pre-warming held back), and recovers once the flood and the function end.
//  4. CPU accounting on a shared core: while the edge function spins on the NF's core, the CPU the
//     harvester accounts to the NF (nemo_nf_cpu_seconds_total) matches what the NF process itself used
//     (getrusage), while the core was busy far longer: the function's time is not the NF's.
//
// The veth end has no interrupt coalescing: the harvester warns once and harvests with the Click knob.
func TestHarvestDrivenByRealTraffic(t *testing.T) {
	svc := needServices(t)
	bins := buildBinaries(t)
	run := newRun(t, svc)
	run.nfCore = pickNFCore(t)
	nf := run.startNF(bins.refnf)
	run.prepareKafkaAndStore()
	inv := run.startInvoker(bins.nemo, nf)

	// 1. Baseline.
	refnfLive := fmt.Sprintf(`nemo_nf_click_reader{nf=%q,state="live"}`, nfName)
	ghostNever := fmt.Sprintf(`nemo_nf_click_reader{nf=%q,state="never"}`, ghostName)
	acctOn := fmt.Sprintf(`nemo_nf_cpu_accounting{nf=%q,source="cgroup"}`, nfName)
	acctOff := fmt.Sprintf(`nemo_nf_cpu_accounting{nf=%q,source="none"}`, ghostName)
	base := run.waitSample(nf, 20*time.Second, "baseline (NF attached and acknowledging, harvest off, accounting on)",
		func(s sample) bool {
			return s.nfOK && s.nf.Attached && s.nf.Live && s.nf.Applied == defaultBurst &&
				s.segOK && s.seg.AckSeq == s.seg.Seq && s.seg.Applied == defaultBurst &&
				s.metricsOK && s.active == 0 && s.metrics[refnfLive] == 1 && s.metrics[acctOn] == 1
		})
	require.Equal(t, 0.0, base.sessions, "no harvest session before the first activation")
	require.Equal(t, 1.0, base.metrics[fmt.Sprintf(`nemo_nf_tag_info{nf=%q,tag="idle"}`, nfName)], "no traffic yet: tag idle")
	require.Equal(t, 1.0, base.metrics[ghostNever], "the ghost NF's Click side never attached")
	require.Equal(t, 0.0, base.metrics[acctOff], "no CPU accounting for an NF with cores alone")
	_, ghostApplied := base.metrics[fmt.Sprintf(`nemo_nf_click_applied_burst{nf=%q}`, ghostName)]
	require.False(t, ghostApplied, "no applied burst for a Click side that never attached")
	run.waitLog(inv, 15*time.Second, func(l map[string]any) bool {
		return l["nf"] == ghostName && l["reader"] == "never" && l["level"] == "warn"
	}, "the harvester's warning that the ghost NF's Click side never attached")

	// 2. Two packet sizes, two tags, two profiles. The rates are ones the NF takes without drops at burst 1 on
	// its shared core (a drop would rightly make the guard back off, which step 3 provokes on purpose).
	for _, step := range []harvestStep{{size: 512, pps: 3000, burst: 4}, {size: 1500, pps: 2000, burst: 32}} {
		tg := run.startTraffic(bins.trafficgen, step.size, step.pps, 20*time.Second)
		tagLine := fmt.Sprintf(`nemo_nf_tag_info{nf=%q,tag="%d"}`, nfName, step.size)
		run.waitSample(nf, 15*time.Second, fmt.Sprintf("tag (%s, %d) from %d-byte traffic", nfName, step.size, step.size),
			func(s sample) bool { return s.metricsOK && s.metrics[tagLine] == 1 })
		run.invokeAndWatchHarvest(nf, step)
		require.NoError(t, tg.Terminate(10*time.Second))
	}

	// 3. The QoS guard backs off when the NF is overloaded while an edge function runs on its core.
	run.guardBacksOff(bins.trafficgen, nf, inv)

	// 4. CPU accounting on the shared core.
	run.accountingExcludesEdgeFunction(bins.trafficgen, nf)

	// The veth end has no interrupt coalescing: one warning naming the NIC knob, harvesting continued
	// (proved by the bursts), and the knob is exported as unsupported.
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
	last := run.sample(nf)
	require.Equal(t, 1.0, last.metrics[fmt.Sprintf(`nemo_harvest_knob_unsupported{knob=%q}`, knob)],
		"/metrics marks the NIC knob unsupported")
	require.Equal(t, 1.0, last.metrics[ghostNever], "the ghost NF's Click side still never attached")
}

// invokeAndWatchHarvest runs one blocking activation while traffic of step's size flows and follows the
// switch: on (with step's burst applied by the NF and acknowledged back to the harvester) while the
// activation runs, off after its slot-freeing ack and the linger.
func (r *run) invokeAndWatchHarvest(nf *nfHandle, step harvestStep) {
	t := r.t
	t.Helper()
	burst := uint32(step.burst)
	appliedLine := fmt.Sprintf(`nemo_nf_click_applied_burst{nf=%q}`, nfName)
	ackedLine := fmt.Sprintf(`nemo_nf_click_acked{nf=%q}`, nfName)
	before := r.sample(nf)
	act := r.message(map[string]any{"sleep_ms": sleepMs})
	t0 := time.Now()
	r.ctl.Produce(t, act.raw)
	t.Logf("[%d B] activation %s produced (sleep_ms %d)", step.size, act.aid, sleepMs)

	unset := time.Duration(-1)
	onBoth, slotFreeAt, offBoth := unset, unset, unset
	var onSample, offSample sample
	deadline := t0.Add(60 * time.Second)
	for offBoth < 0 {
		if time.Now().After(deadline) {
			r.failTimeline(t0, fmt.Sprintf("[%d B] the activation did not switch harvesting on and back off within 60 s", step.size))
		}
		// Acks first: a sample taken after this snapshot showed no slot-freeing ack was taken while the
		// activation was still in flight or within the linger.
		acks := r.acks.ForID(act.aid)
		s := r.sample(nf)
		at := s.at.Sub(t0)
		for _, a := range acks {
			if a.SlotFree() && slotFreeAt < 0 {
				slotFreeAt = a.At.Sub(t0)
			}
		}
		on := s.metricsOK && s.active == 1 && s.sessions == 1 &&
			s.metrics[appliedLine] == float64(burst) && s.metrics[ackedLine] == 1
		nfOn := s.nfOK && s.nf.Applied == burst && s.nf.Enable &&
			s.segOK && s.seg.Enable() && s.seg.Burst == burst && s.seg.AckSeq == s.seg.Seq && s.seg.Applied == burst
		off := s.metricsOK && s.active == 0 && s.metrics[appliedLine] == defaultBurst && s.metrics[ackedLine] == 1
		nfOff := s.nfOK && s.nf.Applied == defaultBurst && !s.nf.Enable &&
			s.segOK && !s.seg.Enable() && s.seg.AckSeq == s.seg.Seq && s.seg.Applied == defaultBurst
		if on && nfOn && onBoth < 0 && slotFreeAt < 0 {
			onBoth, onSample = at, s
		}
		if onBoth >= 0 && slotFreeAt >= 0 && off && nfOff {
			offBoth, offSample = at, s
		}
		if slotFreeAt >= 0 && onBoth < 0 {
			r.failTimeline(t0, fmt.Sprintf("[%d B] the activation finished (slot-freeing ack) without harvesting seen on "+
				"with burst %d applied by the NF and acknowledged to the harvester", step.size, burst))
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("[%d B] harvesting on with burst %d (acknowledged: /metrics applied_burst %v) at %v, slot-freeing ack %v, "+
		"off and burst %d acknowledged at %v; segment seq %d→%d", step.size, burst, onSample.metrics[appliedLine],
		onBoth.Round(time.Millisecond), slotFreeAt.Round(time.Millisecond), defaultBurst, offBoth.Round(time.Millisecond),
		onSample.seg.Seq, offSample.seg.Seq)
	require.Equal(t, 1.0, offSample.sessionsTotal-before.sessionsTotal, "one harvest session: the activation's")
	require.GreaterOrEqual(t, offSample.switches-before.switches, 2.0, "the on and the off switch are counted")
	res := r.resultOf(act.aid)
	require.Equal(t, 0, res.StatusCode, "activation response %s", res.Result)
}

// guardBacksOff overloads the NF while an edge function keeps its core busy and checks the guard's back-off
// and recovery.
func (r *run) guardBacksOff(tgBin string, nf *nfHandle, inv *invokerHandle) {
	t := r.t
	t.Helper()
	before := r.waitSample(nf, 20*time.Second, "no back-off before the overload (nemo_harvest_backoff 0)",
		func(s sample) bool { return s.metricsOK && s.metrics["nemo_harvest_backoff"] == 0 })
	const spinMs = 6000
	act := r.message(map[string]any{"spin_ms": spinMs})
	t0 := time.Now()
	r.ctl.Produce(t, act.raw)
	// Harvesting on first (1500-byte tag from the previous step): the guard acts only under contention.
	r.waitSample(nf, 20*time.Second, "harvesting on for the spinning edge function",
		func(s sample) bool { return s.metricsOK && s.active == 1 && s.sessions == 1 })
	// A flood of minimum-size frames, beyond what the NF can take with half a core.
	flood := r.startTraffic(tgBin, 64, 400000, 4*time.Second)
	backedOff := r.waitSample(nf, 15*time.Second, "QoS guard back-off (nemo_harvest_backoff 1, harvesting off with the session open, NF at burst 1)",
		func(s sample) bool {
			return s.metricsOK && s.metrics["nemo_harvest_backoff"] == 1 && s.active == 0 && s.sessions == 1 &&
				s.nfOK && s.nf.Applied == defaultBurst && !s.nf.Enable
		})
	stats := r.nfStats(nf)
	t.Logf("guard backed off %v after the activation was produced; NF socket drops so far %d, backoffs %v",
		backedOff.at.Sub(t0).Round(time.Millisecond), stats.KernelDrops, backedOff.metrics["nemo_harvest_backoffs_total"])
	require.Positive(t, stats.KernelDrops, "the NF dropped packets in its socket (what the guard saw)")
	require.Equal(t, before.metrics["nemo_harvest_backoffs_total"]+1, backedOff.metrics["nemo_harvest_backoffs_total"])
	r.waitLog(inv, 10*time.Second, func(l map[string]any) bool {
		return l["message"] == "network function degraded: pre-warming held back"
	}, "the function controller holding pre-warming back")
	r.waitLog(inv, 10*time.Second, func(l map[string]any) bool {
		m, _ := l["message"].(string)
		return l["nf"] == nfName && m == "NF degraded" && l["contention"] == true
	}, "the guard's degradation report for the NF")
	_ = flood.WaitExit(20 * time.Second)
	require.True(t, r.waitSlotFree(act.aid, 60*time.Second), "the spinning activation was not answered within 60 s")
	recovered := r.waitSample(nf, 30*time.Second, "QoS guard recovery (nemo_harvest_backoff 0)",
		func(s sample) bool { return s.metricsOK && s.metrics["nemo_harvest_backoff"] == 0 })
	// While the flood lasts the guard may recover and back off again (drops come in bursts); once it is over,
	// every back-off has ended in a recovery.
	backoffs := recovered.metrics["nemo_harvest_backoffs_total"] - before.metrics["nemo_harvest_backoffs_total"]
	recoveries := recovered.metrics["nemo_harvest_recoveries_total"] - before.metrics["nemo_harvest_recoveries_total"]
	t.Logf("during the overload: %v back-offs, %v recoveries", backoffs, recoveries)
	require.GreaterOrEqual(t, backoffs, 1.0)
	require.Equal(t, backoffs, recoveries, "every back-off ended in a recovery")
	r.waitLog(inv, 10*time.Second, func(l map[string]any) bool {
		return l["message"] == "network functions healthy again: pre-warming resumes"
	}, "pre-warming resumed")
	t.Logf("guard recovered %v after the back-off", recovered.at.Sub(backedOff.at).Round(time.Millisecond))
	require.Equal(t, 0, r.resultOf(act.aid).StatusCode, "the spinning activation succeeded")
}

// accountingExcludesEdgeFunction compares, over one activation that spins on the NF's core while light
// traffic flows, the NF CPU the harvester accounts with what the NF process used and with the core's
// busy time.
func (r *run) accountingExcludesEdgeFunction(tgBin string, nf *nfHandle) {
	t := r.t
	t.Helper()
	const spinMs = 2500
	tg := r.startTraffic(tgBin, 1500, 2000, 30*time.Second)
	defer func() { _ = tg.Terminate(10 * time.Second) }()
	time.Sleep(time.Second) // the NF busy with the traffic for a while first

	harvCPU := func(s sample) float64 {
		total := 0.0
		for k, v := range s.metrics {
			if strings.HasPrefix(k, fmt.Sprintf(`nemo_nf_cpu_seconds_total{nf=%q,`, nfName)) {
				total += v
			}
		}
		return total
	}
	s0, st0, core0 := r.sample(nf), r.nfStats(nf), coreBusy(t, r.nfCore)
	act := r.message(map[string]any{"spin_ms": spinMs})
	r.ctl.Produce(t, act.raw)
	require.True(t, r.waitSlotFree(act.aid, 60*time.Second), "the spinning activation was not answered within 60 s")
	time.Sleep(300 * time.Millisecond) // the harvester's next CPU samples (every 100 ms)
	s1, st1, core1 := r.sample(nf), r.nfStats(nf), coreBusy(t, r.nfCore)
	require.Equal(t, 0, r.resultOf(act.aid).StatusCode)

	cpuset := r.actionContainerCPUSet()
	require.Equal(t, strconv.Itoa(r.nfCore), cpuset, "the invoker pinned the edge function to the NF's core")
	harv := harvCPU(s1) - harvCPU(s0)
	own := time.Duration(st1.UserNs + st1.SysNs - st0.UserNs - st0.SysNs).Seconds()
	core := (core1 - core0).Seconds()
	wall := s1.at.Sub(s0.at).Seconds()
	t.Logf("over %.2f s: core %d busy %.2f s; NF CPU per the harvester (cgroup) %.3f s, per the NF itself (getrusage) %.3f s; "+
		"the edge function spun %.1f s on that core", wall, r.nfCore, core, harv, own, float64(spinMs)/1000)
	require.Positive(t, own, "the NF used CPU for the traffic")
	require.InDelta(t, own, harv, 0.2*own+0.15, "the harvester accounts the NF's own CPU time")
	require.Greater(t, core-harv, 1.0, "the core was busy well beyond the NF's time: the edge function ran there and "+
		"was not counted as NF CPU")
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

type binaries struct{ nemo, refnf, trafficgen string }

// buildBinaries builds the invoker, the reference NF and the traffic generator into the test's temporary
// directory.
func buildBinaries(t *testing.T) binaries {
	t.Helper()
	dir := t.TempDir()
	b := binaries{nemo: filepath.Join(dir, "nemo"), refnf: filepath.Join(dir, "refnf"), trafficgen: filepath.Join(dir, "trafficgen")}
	for out, pkg := range map[string]string{
		b.nemo:       "github.com/nemo-edge/nemo/invoker/cmd/nemo",
		b.refnf:      "github.com/nemo-edge/nemo/integration/refnf/cmd/refnf",
		b.trafficgen: "github.com/nemo-edge/nemo/integration/trafficgen/cmd/trafficgen",
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
	ghostShm   string
	pair       netns.Pair
	nfCore     int
	cgroup     string // the NF's cgroup (v2), which the harvester reads

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
		// The NF reads the root-namespace end (PeerIf, PeerNetns ""), where the invoker reads its counters and
		// sees its packet socket; the traffic generator sends from the end inside the namespace (NFIf).
		pair: netns.Pair{NFNetns: "nemo-hv" + suffix, NFIf: "hvs" + suffix, PeerIf: "hvn" + suffix, PeerMAC: nfMAC},
	}
	r.dbPrefix = fmt.Sprintf("it_hv%d_", r.id)
	// Registered first, so it runs last: the failure dump reads logs of processes already stopped.
	t.Cleanup(r.dumpOnFailure)
	return r
}

// startNF creates the namespace and veth pair, puts the NF's end out of IPv4 forwarding, mounts a cgroup2
// hierarchy with a group for the NF, and starts the reference NF on the root-namespace end, pinned to
// nfCore, in that group, following the run's clickshm segment with default burst 1.
func (r *run) startNF(bin string) *nfHandle {
	t := r.t
	t.Helper()
	r.createPair()
	// Belt and braces: the generator's frames are addressed to another host's MAC, and the NF's end
	// forwards nothing, so no test frame can leave the pair.
	require.NoError(t, os.WriteFile(filepath.Join("/proc/sys/net/ipv4/conf", r.pair.PeerIf, "forwarding"), []byte("0"), 0o644))
	_, err := os.Stat(filepath.Join("/sys/class/net", r.pair.PeerIf, "statistics", "rx_bytes"))
	require.NoError(t, err, "the veth end %s has counters in the root namespace", r.pair.PeerIf)
	r.cgroup = r.nfCgroup()

	r.shmDir, err = os.MkdirTemp("/dev/shm", "nemo-hv-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(r.shmDir) })
	r.shmPath = filepath.Join(r.shmDir, "nemo-"+nfName)
	r.ghostShm = filepath.Join(r.shmDir, "nemo-"+ghostName)

	stdout := filepath.Join(r.dir, "refnf.stdout")
	p := r.spawn(itest.ProcSpec{Name: "refnf", Bin: bin, OutPath: stdout, LogPath: filepath.Join(r.dir, "refnf.stderr"),
		Args: []string{"-mode", "firewall", "-netns", "", "-if", r.pair.PeerIf, "-cpu", strconv.Itoa(r.nfCore),
			"-shm", r.shmPath, "-burst", strconv.Itoa(defaultBurst), "-shm-interval", "10ms",
			"-stats-addr", "127.0.0.1:0", "-wakeup-cost", nfWakeupCost.String()}})
	r.nfProc = p
	require.NoError(t, os.WriteFile(filepath.Join(r.cgroup, "cgroup.procs"), []byte(strconv.Itoa(p.Cmd.Process.Pid)), 0o644),
		"move the NF into its cgroup")
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
	t.Logf("refnf pid %d on %s (root namespace, core %d, cgroup %s), traffic from %s in %s, segment %s, stats %s",
		p.Cmd.Process.Pid, r.pair.PeerIf, r.nfCore, r.cgroup, r.pair.NFIf, r.pair.NFNetns, r.shmPath, addr)
	return &nfHandle{statsURL: "http://" + addr + "/stats", pid: p.Cmd.Process.Pid}
}

// nfCgroup mounts the kernel's cgroup2 hierarchy at a directory of the test's (a second view when the host
// has it mounted already; nothing of the host's mounts changes) and creates the NF's group in it. The
// group is removed after the NF stopped, then the hierarchy is unmounted.
func (r *run) nfCgroup() string {
	t := r.t
	t.Helper()
	root := t.TempDir()
	require.NoError(t, unix.Mount("nemo-test", root, "cgroup2", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""),
		"mount -t cgroup2 %s", root)
	t.Cleanup(func() {
		if err := unix.Unmount(root, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", root, err)
		}
	})
	group := filepath.Join(root, "nemo-hv-"+r.suffix)
	require.NoError(t, os.Mkdir(group, 0o755))
	t.Cleanup(func() {
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			err := os.Remove(group)
			if err == nil || errors.Is(err, os.ErrNotExist) {
				return
			}
			if time.Now().After(deadline) {
				t.Errorf("remove cgroup %s: %v", group, err)
				return
			}
		}
	})
	return group
}

// pickNFCore is the core the NF (and so the edge function) is pinned to: the last one, away from core 0.
func pickNFCore(t *testing.T) int {
	t.Helper()
	var set unix.CPUSet
	require.NoError(t, unix.SchedGetaffinity(0, &set))
	core := -1
	for c := range 1024 {
		if set.IsSet(c) {
			core = c
		}
	}
	require.GreaterOrEqual(t, core, 0)
	return core
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

// startInvoker writes the config (harvester on with the built-in profiles, the NF with its cgroup and core,
// the ghost NF with cores only, the QoS guard on with short windows, the action an edge function of the NF),
// starts `nemo invoker --id N --config file` with the deployment's environment and waits for GET /ping.
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
		// The action is an edge function of the NF: the invoker pins its containers to the NF's core.
		"edgeFunctions": []map[string]any{{"namespace": itest.Namespace, "action": actionName, "nf": nfName, "prewarm": "never"}},
		"harvester": map[string]any{
			"enabled":   true,
			"linger":    fmt.Sprintf("%dms", lingerMs),
			"stateFile": filepath.Join(r.dir, "harvester-nic.json"),
			"tagWindow": "500ms",
			"shmLease":  "500ms",
			"nfs": []map[string]any{
				{"name": nfName, "interface": r.pair.PeerIf, "cgroup": r.cgroup, "cores": []int{r.nfCore}, "shm": r.shmPath},
				{"name": ghostName, "interface": r.pair.PeerIf, "cores": []int{r.nfCore}, "shm": r.ghostShm},
			},
			"qos": map[string]any{"enabled": true, "sample": "250ms", "recoverSamples": 4, "minBackoff": "2s"},
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

// waitLog waits until a line of the invoker's log satisfies match; it fails the test naming what.
func (r *run) waitLog(inv *invokerHandle, timeout time.Duration, match func(map[string]any) bool, what string) map[string]any {
	r.t.Helper()
	for deadline := time.Now().Add(timeout); ; time.Sleep(50 * time.Millisecond) {
		for _, l := range itest.ReadLines(inv.logPath) {
			var line map[string]any
			if json.Unmarshal([]byte(l), &line) == nil && match(line) {
				return line
			}
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("no log line of %s within %v", what, timeout)
		}
	}
}

// startTraffic sends size-byte frames at pps from the namespace's end of the pair to the NF for up to d
// (trafficgen, pinned away from the NF's core). Cleanup stops it.
func (r *run) startTraffic(bin string, size, pps int, d time.Duration) *itest.Proc {
	r.t.Helper()
	cpu := "0"
	if r.nfCore == 0 {
		cpu = "-1"
	}
	name := fmt.Sprintf("trafficgen-%d-%d", size, time.Now().UnixNano())
	return r.spawn(itest.ProcSpec{Name: name, Bin: bin, LogPath: filepath.Join(r.dir, name+".log"),
		Args: []string{"-netns", r.pair.NFNetns, "-if", r.pair.NFIf, "-dst-mac", trafficMAC, "-size", strconv.Itoa(size),
			"-pps", strconv.Itoa(pps), "-duration", d.String(), "-cpu", cpu}})
}

// waitSlotFree waits for the slot-freeing ack of aid. (The condition sees the acks WaitFor passes it: the
// log's own accessors would wait for the lock WaitFor holds.)
func (r *run) waitSlotFree(aid string, timeout time.Duration) bool {
	return r.acks.WaitFor(timeout, func(acks []itest.Ack) bool {
		for _, a := range acks {
			if a.AID == aid && a.SlotFree() {
				return true
			}
		}
		return false
	})
}

// nfStats reads the reference NF's counters.
func (r *run) nfStats(nf *nfHandle) refnf.Stats {
	r.t.Helper()
	b, err := getBody(nf.statsURL)
	require.NoError(r.t, err)
	var st refnf.Stats
	require.NoError(r.t, json.Unmarshal(b, &st))
	return st
}

// actionContainerCPUSet is the cpuset Docker gives the run's action containers (they all get the same).
func (r *run) actionContainerCPUSet() string {
	r.t.Helper()
	ids, err := itest.InvokerContainers(r.id)
	require.NoError(r.t, err)
	require.NotEmpty(r.t, ids, "no action container of invoker%d", r.id)
	out, err := exec.Command("docker", "inspect", "--format", "{{.HostConfig.CpusetCpus}}", ids[0]).Output()
	require.NoError(r.t, err)
	return strings.TrimSpace(string(out))
}

// coreBusy is the busy time (all but idle and iowait) of one core so far, from /proc/stat.
func coreBusy(t *testing.T, core int) time.Duration {
	t.Helper()
	b, err := os.ReadFile("/proc/stat")
	require.NoError(t, err)
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) < 8 || f[0] != "cpu"+strconv.Itoa(core) {
			continue
		}
		var ticks uint64
		for i, v := range f[1:] {
			n, err := strconv.ParseUint(v, 10, 64)
			require.NoError(t, err)
			// user nice system idle iowait irq softirq steal guest guest_nice; guest is inside user.
			if i == 3 || i == 4 || i >= 8 {
				continue
			}
			ticks += n
		}
		return time.Duration(ticks) * 10 * time.Millisecond // USER_HZ is 100
	}
	t.Fatalf("/proc/stat has no cpu%d", core)
	return 0
}

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
