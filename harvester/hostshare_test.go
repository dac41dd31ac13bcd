package harvester

import (
	"context"
	"encoding/json"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/nemo-edge/nemo/clickshm"
	"github.com/rs/zerolog"
	"github.com/safchain/ethtool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Two managers with their own lock files stand for two invokers on one host: flock locks belong to
// the open file, so they exclude each other exactly as two processes do.

func sharedNIC(t *testing.T) (Config, *fakeNIC) {
	cfg := oneNF(t)
	cfg.NFs[0].Shm = "" // the Click segment has one writer; this is about the NIC
	return cfg, newFakeNIC("ens1")
}

func harvestOn(t *testing.T, r *rig) (release func()) {
	t.Helper()
	require.NoError(t, r.m.SetTag(t.Context(), "fw", 1500))
	return r.m.Begin(t.Context(), "test")
}

func harvestOff(r *rig, release func()) {
	release()
	r.clock.Advance(time.Second) // past the linger
}

func savedOriginal(t *testing.T, path, iface string) (ethtool.Coalesce, bool) {
	t.Helper()
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return ethtool.Coalesce{}, false
	}
	require.NoError(t, err)
	var st nicState
	require.NoError(t, json.Unmarshal(b, &st))
	saved, ok := st.Interfaces[iface]
	return saved.Coalesce, ok
}

func TestTwoInvokersOnOneNICTheLastToStopRestores(t *testing.T) {
	cfg, nic := sharedNIC(t)
	a, b := newRig(t, cfg, nic), newRig(t, cfg, nic)
	orig := nic.state["ens1"]

	relA := harvestOn(t, a)
	require.Equal(t, uint32(50), nic.rx("ens1"))
	relB := harvestOn(t, b)
	require.Equal(t, uint32(50), nic.rx("ens1"))
	saved, ok := savedOriginal(t, cfg.StateFile, "ens1")
	require.True(t, ok)
	assert.Equal(t, orig, saved, "the second invoker found the true original, not the first one's setting")

	harvestOff(a, relA)
	assert.Equal(t, uint32(50), nic.rx("ens1"), "the first to stop leaves the NIC to the invoker still harvesting")
	harvestOff(b, relB)
	assert.Equal(t, orig, nic.state["ens1"], "the last to stop restores the original")

	// They harvest again in the other order: the original is still the recorded one.
	relB = harvestOn(t, b)
	relA = harvestOn(t, a)
	harvestOff(b, relB)
	assert.Equal(t, uint32(50), nic.rx("ens1"))
	harvestOff(a, relA)
	assert.Equal(t, orig, nic.state["ens1"])
}

func TestInvokerClosingLeavesTheEntryToTheOtherUser(t *testing.T) {
	cfg, nic := sharedNIC(t)
	a, b := newRig(t, cfg, nic), newRig(t, cfg, nic)
	orig := nic.state["ens1"]

	harvestOff(a, harvestOn(t, a))
	relB := harvestOn(t, b)
	require.NoError(t, a.m.Close(t.Context()))
	assert.Equal(t, uint32(50), nic.rx("ens1"), "closing does not undo another invoker's harvest")
	_, ok := savedOriginal(t, cfg.StateFile, "ens1")
	assert.True(t, ok, "the original stays recorded while another invoker uses the NIC")

	harvestOff(b, relB)
	require.NoError(t, b.m.Close(t.Context()))
	assert.Equal(t, orig, nic.state["ens1"])
	_, ok = savedOriginal(t, cfg.StateFile, "ens1")
	assert.False(t, ok, "the last user forgets the original")
}

func TestStartingInvokerLeavesALiveInvokersEntryAlone(t *testing.T) {
	cfg, nic := sharedNIC(t)
	a := newRig(t, cfg, nic)
	relA := harvestOn(t, a)
	defer relA()

	logs := &syncBuffer{}
	b, err := New(t.Context(), cfg, zerolog.New(logs), WithCoalescer(nic), WithClock(newFakeClock()),
		WithCPUSources(func(NFConfig) CPUSource { return nil }))
	require.NoError(t, err)
	defer b.Close(context.Background())
	assert.Equal(t, uint32(50), nic.rx("ens1"), "a starting invoker does not restore what a running one harvests")
	assert.Contains(t, logs.String(), "still running")
	_, ok := savedOriginal(t, cfg.StateFile, "ens1")
	assert.True(t, ok)
}

func TestSurvivorRestoresAfterTheOtherInvokerDied(t *testing.T) {
	cfg, nic := sharedNIC(t)
	a, b := newRig(t, cfg, nic), newRig(t, cfg, nic)
	orig := nic.state["ens1"]

	relB := harvestOn(t, b)
	_ = harvestOn(t, a)
	// a dies harvesting: the kernel drops its locks, nothing is restored.
	a.m.closed = true
	a.m.dropHostLocks()

	harvestOff(b, relB)
	assert.Equal(t, orig, nic.state["ens1"], "the survivor is now the last harvester and restores")
	require.NoError(t, b.m.Close(t.Context()))
	_, ok := savedOriginal(t, cfg.StateFile, "ens1")
	assert.False(t, ok, "no user is left: the entry goes")
}

func TestHostLockTimesOutWhileHeld(t *testing.T) {
	path := hostLockPath(t.TempDir()+"/s.json", "ens1", "active")
	holder, err := openFlock(path)
	require.NoError(t, err)
	defer holder.close()
	ok, err := holder.try(lockEX)
	require.NoError(t, err)
	require.True(t, ok)

	other, err := openFlock(path)
	require.NoError(t, err)
	defer other.close()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	err = other.lock(ctx, lockSH)
	require.ErrorIs(t, err, ErrLockTimeout)
	assert.Contains(t, err.Error(), path)

	require.NoError(t, holder.unlock())
	require.NoError(t, other.lock(t.Context(), lockSH), "free once the holder let go")
}

// busyUntil is a segment opener for which another writer holds the segment until free is closed.
type busyUntil struct {
	shm  *shmSet
	free chan struct{}
}

func (b busyUntil) open(path string, lease uint32) (ShmWriter, error) {
	select {
	case <-b.free:
		return b.shm.open(path, lease)
	default:
		return nil, clickshm.ErrBusy
	}
}

func TestSegmentWrittenByAnotherInvokerIsTakenOverWhenItStops(t *testing.T) {
	cfg := oneNF(t)
	cfg.Linger = -1 // off as soon as the last session ends
	other := busyUntil{shm: &shmSet{}, free: make(chan struct{})}
	logs := &syncBuffer{}
	m, err := New(t.Context(), cfg, zerolog.New(logs), WithCoalescer(newFakeNIC("ens1")), WithShmOpener(other.open),
		WithShmRetry(10*time.Millisecond), WithCPUSources(func(NFConfig) CPUSource { return nil }))
	require.NoError(t, err, "a segment another invoker writes does not stop this one")
	defer m.Close(context.Background())
	assert.Contains(t, logs.String(), "another invoker writes this NF's Click segment")
	assert.Equal(t, 0.0, metricValue(m, "nemo_harvest_click_writer", "nf", "fw"))

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	defer func() { cancel(); <-done }()

	require.NoError(t, m.SetTag(t.Context(), "fw", 1500))
	release := m.Begin(t.Context(), "while the other invoker writes")
	require.True(t, m.Active(), "harvesting goes on with the other knobs")
	time.Sleep(30 * time.Millisecond) // retries while the other writer is alive change nothing
	assert.Nil(t, other.shm.get(fwShm))

	close(other.free) // the other invoker stopped
	require.Eventually(t, func() bool { return metricValue(m, "nemo_harvest_click_writer", "nf", "fw") == 1 },
		5*time.Second, 5*time.Millisecond)
	require.Eventually(t, func() bool {
		w := other.shm.get(fwShm)
		if w == nil {
			return false
		}
		st, ok := w.last()
		return ok && st.Enable
	}, 5*time.Second, 5*time.Millisecond, "the segment taken over during a harvest gets burst on at once")
	release()
	st, _ := other.shm.get(fwShm).last()
	assert.False(t, st.Enable)
	assert.Contains(t, logs.String(), "took over the Click segment")
}

// metricValue reads one series from Metrics.
func metricValue(m *Manager, name string, labels ...string) float64 {
	v := -1.0
	m.Metrics(func(n, _, _ string, value float64, ls ...string) {
		if n == name && slices.Equal(ls, labels) {
			v = value
		}
	})
	return v
}
