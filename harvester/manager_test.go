package harvester

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/safchain/ethtool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/nemo-edge/nemo/clickshm"
)

const fwShm = "/dev/shm/nemo-fw"

func TestFirstBeginSwitchesOnAndLastReleaseSwitchesOffAfterLinger(t *testing.T) {
	r := newRig(t, oneNF(t), newFakeNIC("ens1"))
	require.NoError(t, r.m.SetTag(t.Context(), "fw", 1500))
	assert.Equal(t, uint32(1), r.nic.rx("ens1"))

	rel1 := r.m.Begin(t.Context(), "a1")
	assert.True(t, r.m.Active())
	assert.Equal(t, uint32(50), r.nic.rx("ens1"), "1500-byte profile: rx-usecs 50")
	st, _ := r.shm.get(fwShm).last()
	assert.Equal(t, clickshm.Settings{Enable: true, Burst: 32, RxUsecs: 50}, st)

	rel2 := r.m.Begin(t.Context(), "a2")
	assert.Equal(t, 1, r.nic.setCount(), "second session does not switch again")
	rel1()
	assert.True(t, r.m.Active())
	rel2()
	assert.True(t, r.m.Active(), "still lingering")
	assert.Equal(t, 1, r.clock.pending())

	r.clock.Advance(99 * time.Millisecond)
	assert.True(t, r.m.Active())
	r.clock.Advance(time.Millisecond)
	assert.False(t, r.m.Active(), "off once the linger expired")
	assert.Equal(t, uint32(1), r.nic.rx("ens1"), "original rx-usecs restored")
	st, _ = r.shm.get(fwShm).last()
	assert.Equal(t, clickshm.Settings{Enable: false, Burst: 1}, st)
	assert.Equal(t, uint64(2), r.m.stats.switches)
}

func TestBeginDuringLingerDoesNotFlap(t *testing.T) {
	r := newRig(t, oneNF(t), newFakeNIC("ens1"))
	require.NoError(t, r.m.SetTag(t.Context(), "fw", 1024))
	for range 5 {
		rel := r.m.Begin(t.Context(), "burst")
		rel()
		r.clock.Advance(50 * time.Millisecond) // shorter than the 100 ms linger
	}
	assert.True(t, r.m.Active())
	assert.Equal(t, 1, r.nic.setCount(), "one switch on for five back-to-back invocations")
	r.clock.Advance(100 * time.Millisecond)
	assert.False(t, r.m.Active())
	assert.Equal(t, uint64(2), r.m.stats.switches)
	assert.Zero(t, r.clock.pending())
}

func TestStaleLingerCallbackIsIgnored(t *testing.T) {
	r := newRig(t, oneNF(t), newFakeNIC("ens1"))
	rel := r.m.Begin(t.Context(), "a")
	rel()
	// Capture the pending callback, then start a new session: the old callback
	// must not switch harvesting off under the new session even if it runs.
	r.clock.mu.Lock()
	stale := r.clock.timers[len(r.clock.timers)-1].f
	r.clock.mu.Unlock()
	rel2 := r.m.Begin(t.Context(), "b")
	stale()
	assert.True(t, r.m.Active())
	rel2()
}

func TestReleaseIsIdempotent(t *testing.T) {
	cfg := oneNF(t)
	cfg.Linger = -1
	r := newRig(t, cfg, newFakeNIC("ens1"))
	rel := r.m.Begin(t.Context(), "a")
	other := r.m.Begin(t.Context(), "b")
	rel()
	rel()
	rel()
	assert.Equal(t, 1, r.m.Sessions(), "repeated release of one session releases it once")
	assert.True(t, r.m.Active())
	other()
	assert.Equal(t, 0, r.m.Sessions())
	assert.False(t, r.m.Active(), "linger -1 switches off at once")
}

func TestConcurrentSessions(t *testing.T) {
	cfg := oneNF(t)
	cfg.Linger = -1
	r := newRig(t, cfg, newFakeNIC("ens1"))
	require.NoError(t, r.m.SetTag(t.Context(), "fw", 1500))

	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 7))
			for range 200 {
				rel := r.m.Begin(context.Background(), "c")
				if !r.m.Active() {
					t.Error("harvesting off while a session is open")
				}
				if rng.IntN(4) == 0 {
					time.Sleep(time.Microsecond)
				}
				rel()
				if rng.IntN(8) == 0 {
					rel() // double release must be harmless
				}
			}
		})
	}
	wg.Wait()
	assert.Equal(t, 0, r.m.Sessions())
	assert.False(t, r.m.Active())
	assert.Equal(t, uint32(1), r.nic.rx("ens1"), "original restored after the storm")
	s := r.m.stats
	assert.Equal(t, uint64(16*200), s.sessions)
	assert.Zero(t, s.switches%2, "every on has its off")
	st, _ := r.shm.get(fwShm).last()
	assert.False(t, st.Enable)
}

func TestSmallPacketsDoNotHarvest(t *testing.T) {
	r := newRig(t, oneNF(t), newFakeNIC("ens1"))
	require.NoError(t, r.m.SetTag(t.Context(), "fw", 256))
	rel := r.m.Begin(t.Context(), "a")
	defer rel()
	assert.Equal(t, 0, r.nic.setCount(), "256-byte packets: NF saturated, NIC left alone")
	assert.Equal(t, uint32(1), r.nic.rx("ens1"))
	st, _ := r.shm.get(fwShm).last()
	assert.False(t, st.Enable)
}

func TestIdleNFDoesNotHarvestUntilMeasured(t *testing.T) {
	r := newRig(t, oneNF(t), newFakeNIC("ens1"))
	tag, _ := r.m.Tag("fw")
	assert.Equal(t, Tag{NF: "fw", PktSize: IdleBucket}, tag)
	rel := r.m.Begin(t.Context(), "a")
	defer rel()
	assert.Equal(t, 0, r.nic.setCount())
}

func TestUnsupportedCoalescingWarnsOnceAndClickContinues(t *testing.T) {
	nic := newFakeNIC("veth0")
	nic.unsupported["veth0"] = true
	cfg := oneNF(t)
	cfg.NFs[0].Interface = "veth0"
	cfg.Linger = -1
	r := newRig(t, cfg, nic)
	require.NoError(t, r.m.SetTag(t.Context(), "fw", 1500))

	for range 3 {
		rel := r.m.Begin(t.Context(), "a")
		st, _ := r.shm.get(fwShm).last()
		assert.Equal(t, clickshm.Settings{Enable: true, Burst: 32, RxUsecs: 50}, st, "Click burst still harvested")
		rel()
	}
	assert.Equal(t, 1, strings.Count(r.logs.String(), "does not support interrupt coalescing"), "one warning, not one per switch")
	assert.Equal(t, 1, nic.gets, "an unsupported device is not asked again")
	assert.Equal(t, uint64(6), r.m.stats.switches)
	_, err := os.Stat(cfg.StateFile)
	assert.ErrorIs(t, err, os.ErrNotExist, "nothing to persist for an unsupported device")

	assert.Contains(t, samples(r.m), `nemo_harvest_knob_unsupported{knob="nic:veth0"} 1`)
}

func TestOriginalPersistedBeforeFirstChange(t *testing.T) {
	nic := newFakeNIC("ens1")
	cfg := oneNF(t)
	var persisted []ethtool.Coalesce
	nic.onSet = func(iface string, _ ethtool.Coalesce) {
		b, err := os.ReadFile(cfg.StateFile)
		if !assert.NoError(t, err, "state file must exist when the device is changed") {
			return
		}
		var st nicState
		require.NoError(t, json.Unmarshal(b, &st))
		persisted = append(persisted, st.Interfaces[iface].Coalesce)
	}
	r := newRig(t, cfg, nic)
	require.NoError(t, r.m.SetTag(t.Context(), "fw", 1024))
	rel := r.m.Begin(t.Context(), "a")
	rel()
	require.NotEmpty(t, persisted)
	assert.Equal(t, uint32(1), persisted[0].RxCoalesceUsecs, "the persisted value is the original, not ours")
}

func TestStateFileSurvivesCrashAndNextStartRestores(t *testing.T) {
	nic := newFakeNIC("ens1")
	cfg := oneNF(t)
	r := newRig(t, cfg, nic)
	require.NoError(t, r.m.SetTag(t.Context(), "fw", 1500))
	_ = r.m.Begin(t.Context(), "crashing")
	require.Equal(t, uint32(50), nic.rx("ens1"))
	// Crash: the process dies with harvesting on; no Close, no restore.
	r.m.closed = true // keep the rig's cleanup from restoring
	r.m.dropHostLocks()

	logs := &syncBuffer{}
	m2, err := New(t.Context(), cfg, zerolog.New(logs), WithCoalescer(nic), WithShmOpener((&shmSet{}).open),
		WithClock(newFakeClock()), WithCPUSources(func(NFConfig) CPUSource { return nil }))
	require.NoError(t, err)
	defer m2.Close(context.Background())
	assert.Equal(t, uint32(1), nic.rx("ens1"), "new Manager restored the original")
	assert.Contains(t, logs.String(), "restored NIC coalescing left behind")
	_, err = os.Stat(cfg.StateFile)
	assert.ErrorIs(t, err, os.ErrNotExist, "restored entries leave the state file")
}

func TestLeftoverStateFileRestoredEvenWhenDisabled(t *testing.T) {
	nic := newFakeNIC("ens1")
	nic.state["ens1"] = ethtool.Coalesce{RxCoalesceUsecs: 50}
	cfg := Config{StateFile: oneNF(t).StateFile}
	sf := &stateFile{path: cfg.StateFile}
	require.NoError(t, sf.save(t.Context(), "ens1", ethtool.Coalesce{RxCoalesceUsecs: 3, RxMaxCoalescedFrames: 2}))

	m, err := New(t.Context(), cfg, zerolog.Nop(), WithCoalescer(nic))
	require.NoError(t, err)
	defer m.Close(context.Background())
	assert.Equal(t, ethtool.Coalesce{RxCoalesceUsecs: 3, RxMaxCoalescedFrames: 2}, nic.state["ens1"])
}

func TestLeftoverEntryKeptWhenDeviceFails(t *testing.T) {
	nic := newFakeNIC() // ens1 does not exist: ENODEV
	cfg := oneNF(t)
	sf := &stateFile{path: cfg.StateFile}
	require.NoError(t, sf.save(t.Context(), "ens1", ethtool.Coalesce{RxCoalesceUsecs: 3}))
	require.NoError(t, sf.save(t.Context(), "veth9", ethtool.Coalesce{RxCoalesceUsecs: 4}))
	nic.state["veth9"] = ethtool.Coalesce{}
	nic.unsupported["veth9"] = true

	logs := &syncBuffer{}
	m, err := New(t.Context(), Config{StateFile: cfg.StateFile}, zerolog.New(logs), WithCoalescer(nic))
	require.NoError(t, err)
	defer m.Close(context.Background())
	left, err := sf.entries(t.Context())
	require.NoError(t, err)
	assert.Contains(t, left, "ens1", "a failed restore is kept for the next start")
	assert.NotContains(t, left, "veth9", "an unsupported device has nothing to restore")
	assert.Contains(t, logs.String(), "keeping the entry")
}

func TestCorruptStateFileIsAnErrorAndLeftUntouched(t *testing.T) {
	cfg := oneNF(t)
	require.NoError(t, os.WriteFile(cfg.StateFile, []byte("{not json"), 0o600))
	_, err := New(t.Context(), cfg, zerolog.Nop(), WithCoalescer(newFakeNIC("ens1")), WithShmOpener((&shmSet{}).open))
	require.ErrorIs(t, err, ErrStateFile)
	assert.Contains(t, err.Error(), cfg.StateFile)
	b, _ := os.ReadFile(cfg.StateFile)
	assert.Equal(t, "{not json", string(b))
}

func TestPersistFailureLeavesDeviceUnchanged(t *testing.T) {
	cfg := oneNF(t)
	cfg.StateFile = "/proc/nemo-cannot-write-here/state.json"
	nic := newFakeNIC("ens1")
	r := newRig(t, cfg, nic)
	require.NoError(t, r.m.SetTag(t.Context(), "fw", 1500))
	rel := r.m.Begin(t.Context(), "a")
	defer rel()
	assert.Equal(t, 0, nic.setCount(), "no change without a persisted original")
	assert.Contains(t, r.logs.String(), "harvest knob failed")
	st, _ := r.shm.get(fwShm).last()
	assert.True(t, st.Enable, "the Click knob is independent")
}

func TestCloseRestoresEverythingAndIsIdempotent(t *testing.T) {
	nic := newFakeNIC("ens1")
	cfg := oneNF(t)
	r := newRig(t, cfg, nic)
	require.NoError(t, r.m.SetTag(t.Context(), "fw", 1500))
	rel := r.m.Begin(t.Context(), "in flight at SIGTERM")
	require.Equal(t, uint32(50), nic.rx("ens1"))

	require.NoError(t, r.m.Close(t.Context()))
	require.NoError(t, r.m.Close(t.Context()))
	assert.False(t, r.m.Active())
	assert.Equal(t, uint32(1), nic.rx("ens1"))
	assert.True(t, r.shm.get(fwShm).closed, "WRITER_CLOSED published")
	_, err := os.Stat(cfg.StateFile)
	assert.ErrorIs(t, err, os.ErrNotExist)

	sets := nic.setCount()
	rel()
	rel2 := r.m.Begin(t.Context(), "after close")
	rel2()
	assert.Equal(t, sets, nic.setCount(), "no switching after Close")
	assert.Zero(t, r.clock.pending())
}

func TestCloseWithCancelledContextStillRestores(t *testing.T) {
	nic := newFakeNIC("ens1")
	r := newRig(t, oneNF(t), nic)
	require.NoError(t, r.m.SetTag(t.Context(), "fw", 1500))
	_ = r.m.Begin(t.Context(), "a")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	require.NoError(t, r.m.Close(ctx))
	assert.Equal(t, uint32(1), nic.rx("ens1"))
}

func TestSharedInterfaceTakesTheSmallestRxUsecs(t *testing.T) {
	cfg := oneNF(t)
	cfg.NFs = append(cfg.NFs, NFConfig{Name: "nat", Interface: "ens1", Shm: "/dev/shm/nemo-nat"})
	nic := newFakeNIC("ens1")
	r := newRig(t, cfg, nic)
	require.NoError(t, r.m.SetTag(t.Context(), "fw", 1500))
	require.NoError(t, r.m.SetTag(t.Context(), "nat", 1024))
	rel := r.m.Begin(t.Context(), "a")
	defer rel()
	assert.Equal(t, uint32(30), nic.rx("ens1"))
	fw, _ := r.shm.get(fwShm).last()
	nat, _ := r.shm.get("/dev/shm/nemo-nat").last()
	assert.Equal(t, uint32(32), fw.Burst, "burst stays per NF")
	assert.Equal(t, uint32(16), nat.Burst)
}

func TestRetagWhileHarvestingReapplies(t *testing.T) {
	nic := newFakeNIC("ens1")
	r := newRig(t, oneNF(t), nic)
	require.NoError(t, r.m.SetTag(t.Context(), "fw", 1024))
	rel := r.m.Begin(t.Context(), "a")
	defer rel()
	assert.Equal(t, uint32(30), nic.rx("ens1"))
	require.NoError(t, r.m.SetTag(t.Context(), "fw", 1500))
	assert.Equal(t, uint32(50), nic.rx("ens1"))
	require.NoError(t, r.m.SetTag(t.Context(), "fw", 128))
	assert.Equal(t, uint32(1), nic.rx("ens1"), "small packets: original restored while the session lasts")
	assert.Equal(t, uint64(2), r.m.stats.retunes)
	assert.Equal(t, uint64(1), r.m.stats.switches)
	assert.Error(t, r.m.SetTag(t.Context(), "nope", 64))
}

func TestProfilesFromConfigOverrideDefaults(t *testing.T) {
	cfg := oneNF(t)
	cfg.Profiles = []ProfileConfig{{NF: "fw", PktSize: 1500, RxUsecs: 20, Burst: 8}, {NF: "*", PktSize: 256, RxUsecs: 4, Burst: 2}}
	nic := newFakeNIC("ens1")
	r := newRig(t, cfg, nic)
	require.NoError(t, r.m.SetTag(t.Context(), "fw", 1500))
	rel := r.m.Begin(t.Context(), "a")
	assert.Equal(t, uint32(20), nic.rx("ens1"))
	require.NoError(t, r.m.SetTag(t.Context(), "fw", 256))
	assert.Equal(t, uint32(4), nic.rx("ens1"))
	st, _ := r.shm.get(fwShm).last()
	assert.Equal(t, uint32(2), st.Burst)
	rel()
}

func TestDisabledManagerTouchesNothing(t *testing.T) {
	cfg := oneNF(t)
	cfg.Enabled = false
	nic := newFakeNIC("ens1")
	r := newRig(t, cfg, nic)
	rel := r.m.Begin(t.Context(), "a")
	assert.False(t, r.m.Active())
	rel()
	assert.Nil(t, r.shm.get(fwShm), "no segment created")
	assert.Zero(t, nic.gets+nic.setCount())
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	assert.ErrorIs(t, r.m.Run(ctx), context.Canceled)
}

func TestNICCoalescingCanBeSwitchedOff(t *testing.T) {
	cfg := oneNF(t)
	off := false
	cfg.NICCoalescing = &off
	nic := newFakeNIC("ens1")
	r := newRig(t, cfg, nic)
	require.NoError(t, r.m.SetTag(t.Context(), "fw", 1500))
	rel := r.m.Begin(t.Context(), "a")
	defer rel()
	assert.Zero(t, nic.gets+nic.setCount())
	st, _ := r.shm.get(fwShm).last()
	assert.True(t, st.Enable)
}

func TestNewRejectsInvalidConfig(t *testing.T) {
	cfg := oneNF(t)
	cfg.NFs[0].Interface = ""
	_, err := New(t.Context(), cfg, zerolog.Nop())
	require.ErrorIs(t, err, ErrInvalidConfig)
	assert.Contains(t, err.Error(), "nfs[0].interface")
}

func TestShmOpenFailureClosesWhatWasOpened(t *testing.T) {
	cfg := oneNF(t)
	cfg.NFs = append(cfg.NFs, NFConfig{Name: "nat", Interface: "ens2", Shm: "/dev/shm/nemo-nat"})
	ss := &shmSet{}
	open := func(path string, lease uint32) (ShmWriter, error) {
		if strings.HasSuffix(path, "nat") {
			return nil, os.ErrPermission
		}
		return ss.open(path, lease)
	}
	_, err := New(t.Context(), cfg, zerolog.Nop(), WithCoalescer(newFakeNIC("ens1", "ens2")), WithShmOpener(open))
	require.ErrorIs(t, err, os.ErrPermission)
	assert.Contains(t, err.Error(), "nf nat")
	assert.True(t, ss.get(fwShm).closed)
}

func TestKnobErrorIsLoggedAndCounted(t *testing.T) {
	nic := newFakeNIC("ens1")
	nic.setErr = unix.EPERM
	r := newRig(t, oneNF(t), nic)
	require.NoError(t, r.m.SetTag(t.Context(), "fw", 1500))
	rel := r.m.Begin(t.Context(), "a")
	rel()
	assert.Contains(t, samples(r.m), `nemo_harvest_knob_errors_total{knob="nic:ens1"} 1`)
	assert.True(t, r.m.Active(), "the session still harvests with the other knob")
}

func TestGuardBacksOffAndRecovers(t *testing.T) {
	cfg := oneNF(t)
	cfg.QoS = QoSConfig{Enabled: true, RecoverSamples: 2, MinBackoff: time.Second, MaxDropRate: 10}
	nic := newFakeNIC("ens1")
	r := newRig(t, cfg, nic)
	require.NoError(t, r.m.SetTag(t.Context(), "fw", 1500))
	rel := r.m.Begin(t.Context(), "long invocation")
	defer rel()
	require.True(t, r.m.Active())

	step := func(drops uint64) GuardAction {
		r.clock.Advance(500 * time.Millisecond)
		r.ctrs.add("ens1", 1500*1000, 1000, drops)
		return r.m.guardStep(t.Context(), r.clock.Now(), []GuardSample{{NF: "fw", Counters: r.ctrs.c["ens1"]}})
	}
	assert.Equal(t, GuardNone, step(0))
	assert.Equal(t, GuardNone, step(0))
	assert.Equal(t, GuardBackoff, step(50), "100 drops/s with a session open")
	assert.True(t, r.m.BackingOff())
	assert.False(t, r.m.Active(), "harvesting off during back-off")
	assert.Equal(t, uint32(1), nic.rx("ens1"))
	s, _ := r.backoff.counts()
	assert.Equal(t, 1, s)

	rel2 := r.m.Begin(t.Context(), "during backoff")
	assert.False(t, r.m.Active(), "new sessions do not override the guard")
	rel2()

	assert.Equal(t, GuardNone, step(0))
	assert.Equal(t, GuardNone, step(40), "still degraded: hysteresis restarts")
	assert.Equal(t, GuardNone, step(0))
	assert.Equal(t, GuardRecover, step(0))
	assert.False(t, r.m.BackingOff())
	assert.True(t, r.m.Active(), "the open session harvests again")
	_, res := r.backoff.counts()
	assert.Equal(t, 1, res)
}

func TestGuardIgnoresDegradationWithoutContention(t *testing.T) {
	cfg := oneNF(t)
	cfg.QoS = QoSConfig{Enabled: true, MaxDropRate: 10}
	r := newRig(t, cfg, newFakeNIC("ens1"))
	for i := range 3 {
		r.clock.Advance(500 * time.Millisecond)
		r.ctrs.add("ens1", 1000, 10, uint64(100*i))
		assert.Equal(t, GuardNone, r.m.guardStep(t.Context(), r.clock.Now(), []GuardSample{{NF: "fw", Counters: r.ctrs.c["ens1"]}}))
	}
	assert.False(t, r.m.BackingOff())
	s, _ := r.backoff.counts()
	assert.Zero(t, s)
	assert.Contains(t, r.logs.String(), "NF degraded")
}

func TestSampleTagsFromInterfaceCounters(t *testing.T) {
	r := newRig(t, oneNF(t), newFakeNIC("ens1"))
	ctx := t.Context()
	r.ctrs.add("ens1", 0, 0, 0)
	r.m.sampleTags(ctx) // first reading: baseline only
	r.ctrs.add("ens1", 1000*1514, 1000, 0)
	r.m.sampleTags(ctx)
	tag, _ := r.m.Tag("fw")
	assert.Equal(t, 1500, tag.PktSize)

	r.ctrs.add("ens1", 50*60, 50, 0) // below TagMinPackets: keep the tag
	r.m.sampleTags(ctx)
	tag, _ = r.m.Tag("fw")
	assert.Equal(t, 1500, tag.PktSize)

	rel := r.m.Begin(ctx, "a")
	defer rel()
	require.Equal(t, uint32(50), r.nic.rx("ens1"))
	r.ctrs.add("ens1", 5000*60, 5000, 0)
	r.m.sampleTags(ctx)
	tag, _ = r.m.Tag("fw")
	assert.Equal(t, 64, tag.PktSize)
	assert.Equal(t, uint32(1), r.nic.rx("ens1"), "re-tag to 64 B while harvesting restores the NIC")
	assert.Contains(t, r.logs.String(), "NF re-tagged")
}

type fakeCPU struct {
	mu  sync.Mutex
	t   time.Duration
	err error
}

func (f *fakeCPU) CPUTime(context.Context) (time.Duration, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.t, f.err
}
func (f *fakeCPU) String() string { return "fake" }

func TestCPUAccountingPerTagAndMetrics(t *testing.T) {
	cfg := oneNF(t)
	cfg.NFs[0].Cores = []int{2, 3}
	cpu := &fakeCPU{}
	r := &rig{clock: newFakeClock(), nic: newFakeNIC("ens1"), shm: &shmSet{}, ctrs: &fakeCounters{}, backoff: &fakeBackoff{}, logs: &syncBuffer{}}
	opts := append(r.opts(), WithCPUSources(func(NFConfig) CPUSource { return cpu }))
	m, err := New(t.Context(), cfg, zerolog.New(r.logs), opts...)
	require.NoError(t, err)
	defer m.Close(context.Background())
	require.NoError(t, m.SetTag(t.Context(), "fw", 1500))

	tick := func(used time.Duration) {
		r.clock.Advance(100 * time.Millisecond)
		cpu.mu.Lock()
		cpu.t += used
		cpu.mu.Unlock()
		m.sampleCPU(t.Context())
	}
	m.sampleCPU(t.Context())     // baseline
	tick(100 * time.Millisecond) // 1 of 2 cores busy: 50 %
	rel := m.Begin(t.Context(), "a")
	tick(50 * time.Millisecond) // 25 %, harvesting: 150 ms of spare core time
	rel()
	cpu.mu.Lock()
	cpu.err = os.ErrPermission
	cpu.mu.Unlock()
	tick(time.Second) // unreadable: skipped, warned once
	tick(time.Second)
	assert.Equal(t, 1, strings.Count(r.logs.String(), "cannot read NF CPU time"))

	out := samples(m)
	assert.Contains(t, out, `nemo_nf_cpu_utilisation{nf="fw",tag="1500"} 0.375`)
	assert.Contains(t, out, `nemo_nf_cpu_utilisation_current{nf="fw",tag="1500"} 0.25`)
	assert.Contains(t, out, `nemo_nf_harvest_share{nf="fw",tag="1500"} 0.5`)
	assert.Contains(t, out, `nemo_nf_harvested_core_seconds_total{nf="fw",tag="1500"} 0.15`)
	assert.Contains(t, out, `nemo_nf_tag_info{nf="fw",tag="1500"} 1`)
	assert.Contains(t, out, "nemo_harvest_active 0\n", "the 100 ms linger expired during the next tick")
	assert.Contains(t, out, "nemo_harvest_switches_total 2\n")
	assert.Contains(t, out, "nemo_harvest_switch_seconds_total 0.")
	assert.Contains(t, out, "# TYPE nemo_harvest_switches_total counter\n")
	m.logSummary()
	assert.Contains(t, r.logs.String(), `"harvestShare":0.5`)
}

// BenchmarkBeginReleaseSwitch: with no linger every iteration is a full
// harvest switch on and off through a real clickshm segment and a fake NIC
// (the ioctl cost is measured by the integration benchmarks).
func BenchmarkBeginReleaseSwitch(b *testing.B) {
	dir := b.TempDir()
	cfg := Config{Enabled: true, Linger: -1, StateFile: dir + "/nic.json",
		NFs: []NFConfig{{Name: "fw", Interface: "ens1", Shm: dir + "/nemo-fw"}}}
	m, err := New(context.Background(), cfg, zerolog.Nop(), WithCoalescer(newFakeNIC("ens1")),
		WithCPUSources(func(NFConfig) CPUSource { return nil }))
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close(context.Background())
	if err := m.SetTag(context.Background(), "fw", 1500); err != nil {
		b.Fatal(err)
	}
	m.Begin(context.Background(), "warm-up")() // first switch persists the state file
	ctx := context.Background()
	for b.Loop() {
		m.Begin(ctx, "bench")()
	}
}

// BenchmarkBeginReleaseNested: sessions opened while another is open cost
// only the reference count.
func BenchmarkBeginReleaseNested(b *testing.B) {
	dir := b.TempDir()
	cfg := Config{Enabled: true, Linger: -1, StateFile: dir + "/nic.json",
		NFs: []NFConfig{{Name: "fw", Interface: "ens1", Shm: dir + "/nemo-fw"}}}
	m, err := New(context.Background(), cfg, zerolog.Nop(), WithCoalescer(newFakeNIC("ens1")),
		WithCPUSources(func(NFConfig) CPUSource { return nil }))
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close(context.Background())
	ctx := context.Background()
	outer := m.Begin(ctx, "outer")
	defer outer()
	for b.Loop() {
		m.Begin(ctx, "bench")()
	}
}

// samples renders what Metrics emits, one "name{label="value",…} value" line per sample after a
// "# TYPE name type" line per family (for assertions; the invoker's registry writes the real exposition).
func samples(m *Manager) string {
	var b strings.Builder
	typed := map[string]bool{}
	m.Metrics(func(name, help, typ string, value float64, labels ...string) {
		if !typed[name] {
			typed[name] = true
			fmt.Fprintf(&b, "# TYPE %s %s\n", name, typ)
		}
		b.WriteString(name)
		for i := 0; i+1 < len(labels); i += 2 {
			sep := ","
			if i == 0 {
				sep = "{"
			}
			fmt.Fprintf(&b, "%s%s=%q", sep, labels[i], labels[i+1])
		}
		if len(labels) > 0 {
			b.WriteByte('}')
		}
		fmt.Fprintf(&b, " %s\n", strconv.FormatFloat(value, 'g', -1, 64))
	})
	return b.String()
}
