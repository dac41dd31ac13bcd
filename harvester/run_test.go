package harvester

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestEverythingConcurrently drives every public entry point at once; its
// value is under -race.
func TestEverythingConcurrently(t *testing.T) {
	cfg := oneNF(t)
	cfg.Linger = time.Millisecond
	cfg.QoS = QoSConfig{Enabled: true, MaxDropRate: 1}
	nic := newFakeNIC("ens1")
	r := newRig(t, cfg, nic)
	cpu := &fakeCPU{}
	r.m.nfs[0].cpu = cpu
	r.ctrs.add("ens1", 0, 0, 0)

	ctx := t.Context()
	var wg sync.WaitGroup
	stop := make(chan struct{})
	loop := func(f func(i int)) {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
					f(i)
				}
			}
		})
	}
	for range 4 {
		loop(func(int) { r.m.Begin(ctx, "x")() })
	}
	loop(func(i int) { _ = r.m.SetTag(ctx, "fw", []int{64, 1024, 1500}[i%3]) })
	loop(func(int) { _ = samples(r.m) })
	loop(func(i int) {
		r.ctrs.add("ens1", 1500*100, 100, uint64(i%2))
		r.m.sampleTags(ctx)
		r.clock.Advance(10 * time.Millisecond)
		r.m.sampleQoS(ctx)
	})
	loop(func(int) {
		cpu.mu.Lock()
		cpu.t += time.Millisecond
		cpu.mu.Unlock()
		r.m.sampleCPU(ctx)
		r.m.logSummary()
		_, _ = r.m.Tag("fw")
		_ = r.m.Active()
		_ = r.m.BackingOff()
	})
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()
	require.NoError(t, r.m.Close(ctx))
	assert.Equal(t, uint32(1), nic.rx("ens1"), "original restored at the end")
	assert.Equal(t, 0, r.m.Sessions())
}

func TestRunSamplesUntilCancelled(t *testing.T) {
	cfg := oneNF(t)
	cfg.CPUSample, cfg.TagWindow, cfg.LogEvery = 10*time.Millisecond, 10*time.Millisecond, 20*time.Millisecond
	cfg.TagMinPackets = 1
	cfg.QoS = QoSConfig{Enabled: true, Sample: 10 * time.Millisecond}
	logs := &syncBuffer{}
	ctrs := &fakeCounters{}
	ctrs.add("ens1", 0, 0, 0)
	cpu := &fakeCPU{}
	m, err := New(t.Context(), cfg, zerolog.New(logs), WithCoalescer(newFakeNIC("ens1")),
		WithShmOpener((&shmSet{}).open), WithCounterReader(ctrs), WithCPUSources(func(NFConfig) CPUSource { return cpu }))
	require.NoError(t, err)
	defer m.Close(context.Background())

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	require.Eventually(t, func() bool {
		ctrs.add("ens1", 1024*10, 10, 0)
		cpu.mu.Lock()
		cpu.t += time.Millisecond
		cpu.mu.Unlock()
		tag, _ := m.Tag("fw")
		if tag.PktSize != 1024 || !strings.Contains(logs.String(), "NF accounting") {
			return false
		}
		// The accounting of the new tag starts with the next CPU sample after the tag changed.
		return strings.Contains(samples(m), `nemo_nf_tag_seconds_total{nf="fw",tag="1024"}`)
	}, 5*time.Second, 5*time.Millisecond)
	cancel()
	select {
	case err := <-done:
		assert.ErrorIs(t, err, context.Canceled)
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	assert.Contains(t, samples(m), `nemo_nf_tag_seconds_total{nf="fw",tag="1024"}`)
}
