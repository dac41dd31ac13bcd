package pool

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nemo-edge/nemo/pool/proxy"
)

// An activation withdrawn while it waits for a container (the invoker is shutting down) returns
// ErrWithdrawn and leaves nothing behind; one that already runs is not affected.
func TestManagerWithdrawnActivationDoesNotStart(t *testing.T) {
	fb := newFakeBackend()
	fb.runGate = make(chan struct{})
	cfg := testManagerConfig()
	cfg.Pool.UserMemoryMB, cfg.Pool.ColdReserveMB = 256, -1
	m := newTestManager(t, cfg, fb)

	withdraw := make(chan struct{})
	running := testJob("r1", "guest/r1", 256, 1)
	running.Withdraw = withdraw
	ran := make(chan error, 1)
	go func() {
		o, err := m.Run(t.Context(), running, nil)
		if err == nil && o.Response.StatusCode != proxy.StatusSuccess {
			err = fmt.Errorf("status %d", o.Response.StatusCode)
		}
		ran <- err
	}()
	eventually(t, "r1 busy", func() bool { return m.Snapshot().CountByState[StateBusy] == 1 })

	queued := testJob("q1", "guest/q1", 256, 1)
	queued.Withdraw = withdraw
	waited := make(chan error, 1)
	go func() {
		_, err := m.Run(t.Context(), queued, nil)
		waited <- err
	}()
	eventually(t, "q1 in the run buffer", func() bool { return len(m.Snapshot().Buffered) == 1 })

	close(withdraw)
	require.ErrorIs(t, <-waited, ErrWithdrawn)
	assert.Empty(t, m.Snapshot().Buffered)
	close(fb.runGate)
	require.NoError(t, <-ran, "a run in progress finishes normally")
	assert.Equal(t, 1, fb.count("create"), "the withdrawn activation never got a container")

	_, err := m.Run(t.Context(), queued, nil)
	require.ErrorIs(t, err, ErrWithdrawn, "a withdrawn job does not start later either")
}

// nemo_pool_containers_died_total counts containers that stopped outside the pool's control, not the
// pool's own removals: the engine reports a "die" for both.
func TestManagerDiedCountsOnlyStopsOutsideThePoolsControl(t *testing.T) {
	fb := newFakeBackend()
	wb := &watchingBackend{fakeBackend: fb, died: make(chan func(string), 1)}
	cfg := testManagerConfig()
	cfg.Pool.MaxWarm = 1
	m := newTestManagerOn(t, cfg, wb, fb)
	died := <-wb.died
	fb.mu.Lock()
	fb.onRemove = died // the engine's die event of a removal the pool ordered
	fb.mu.Unlock()

	// Developer errors destroy their containers; MaxWarm evicts idle ones: all the pool's own doing.
	fb.runResult = func(name string, body []byte) RunResult {
		return RunResult{Response: proxy.ErrorResponse(proxy.StatusDeveloperError, proxy.MsgNotJSON("x")), Dead: true}
	}
	for i := range 3 {
		_, err := m.Run(t.Context(), testJob(fmt.Sprintf("d%d", i), "guest/bad", 256, 1), nil)
		require.NoError(t, err)
	}
	fb.runResult = nil
	for i := range 3 {
		_, err := m.Run(t.Context(), testJob(fmt.Sprintf("e%d", i), fmt.Sprintf("guest/a%d", i), 256, 1), nil)
		require.NoError(t, err)
	}
	eventually(t, "removals done", func() bool { return fb.count("remove") >= 5 })
	assert.Zero(t, m.Stats().Died, "the pool's own removals are not deaths")

	// One killed from outside is.
	var victim string
	fb.mu.Lock()
	for n := range fb.live {
		victim = n
	}
	fb.mu.Unlock()
	require.NotEmpty(t, victim)
	died(victim)
	eventually(t, "the killed container removed", func() bool { return m.Snapshot().UsedMB == 0 })
	assert.Equal(t, int64(1), m.Stats().Died)
}

// A container that exits at start is retried on a new container at most MaxReschedules times; then the
// activation gets the developer error with the container's output, and the action is not started again
// for StartFailureBackoff: the next activations are answered at once, without a container.
func TestManagerCrashLoopingImageIsBoundedAndRemembered(t *testing.T) {
	fb := newFakeBackend()
	fb.createErr = func(name string, spec Spec) error {
		return &CreateError{
			Response: proxy.ErrorResponse(proxy.StatusDeveloperError, proxy.MsgAbnormalInit),
			Err:      fmt.Errorf("%w: %s", ErrExitedAtStart, name),
			Logs:     []string{proxy.FormatLogLine("2024-06-01T10:15:20Z", "stderr", "not an action runtime")},
		}
	}
	now := time.Unix(1_700_000_000, 0)
	var clock sync.Mutex
	cfg := testManagerConfig()
	cfg.MaxReschedules = 2
	cfg.StartFailureBackoff = 10 * time.Second
	cfg.MaxStartFailureBackoff = 40 * time.Second
	cfg.Now = func() time.Time { clock.Lock(); defer clock.Unlock(); return now }
	advance := func(d time.Duration) { clock.Lock(); now = now.Add(d); clock.Unlock() }
	m := newTestManager(t, cfg, fb)

	o, err := m.Run(t.Context(), testJob("a1", "guest/crash", 256, 1), nil)
	require.NoError(t, err)
	assert.Equal(t, proxy.ErrorResponse(proxy.StatusDeveloperError, proxy.MsgAbnormalInit), o.Response)
	assert.Equal(t, []string{proxy.FormatLogLine("2024-06-01T10:15:20Z", "stderr", "not an action runtime")}, o.Logs,
		"the container's own output goes with the answer")
	assert.Equal(t, 3, fb.count("create"), "the first try and two more")
	assert.Equal(t, int64(2), m.Stats().Rescheduled)

	for i := range 5 {
		o, err := m.Run(t.Context(), testJob(fmt.Sprintf("b%d", i), "guest/crash", 256, 1), nil)
		require.NoError(t, err)
		assert.Equal(t, proxy.StatusDeveloperError, o.Response.StatusCode)
		require.Len(t, o.Logs, 1)
		assert.Contains(t, o.Logs[0], "exited at start repeatedly")
	}
	assert.Equal(t, 3, fb.count("create"), "no container while the failure is remembered")
	assert.Equal(t, int64(5), m.Stats().StartRefused)
	// The controller's pre-warm of the same function starts no container either.
	_, err = m.Prewarm(t.Context(), testJob("p1", "guest/crash", 256, 1).Spec, nil, 5*time.Second)
	require.ErrorIs(t, err, ErrProvision)
	assert.Contains(t, err.Error(), "keep exiting at start")
	assert.Equal(t, 3, fb.count("create"), "no pre-warmed container while the failure is remembered")

	// Another action is not affected.
	fb.mu.Lock()
	fb.createErr = nil
	fb.mu.Unlock()
	o, err = m.Run(t.Context(), testJob("c1", "guest/fine", 256, 1), nil)
	require.NoError(t, err)
	assert.Equal(t, proxy.StatusSuccess, o.Response.StatusCode)

	// After the pause the action is tried again; it starts now, so the memory is forgotten.
	advance(11 * time.Second)
	o, err = m.Run(t.Context(), testJob("a2", "guest/crash", 256, 1), nil)
	require.NoError(t, err)
	assert.Equal(t, proxy.StatusSuccess, o.Response.StatusCode)
	assert.Equal(t, int64(5), m.Stats().StartRefused)
}

// The pause doubles with each failure, up to the maximum, and a successful start forgets it.
func TestStartFailuresBackOff(t *testing.T) {
	s := newStartFailures(10*time.Second, 30*time.Second)
	k := Key{Namespace: "guest", Action: "guest/crash"}
	t0 := time.Unix(0, 0)
	resp := proxy.ErrorResponse(proxy.StatusDeveloperError, proxy.MsgAbnormalInit)
	_, _, paused := s.check(t0, k)
	assert.False(t, paused)
	assert.Equal(t, 10*time.Second, s.failed(t0, k, resp))
	got, left, paused := s.check(t0.Add(4*time.Second), k)
	assert.True(t, paused)
	assert.Equal(t, resp, got)
	assert.Equal(t, 6*time.Second, left)
	_, _, paused = s.check(t0.Add(10*time.Second), k)
	assert.False(t, paused, "over after the pause")
	assert.Equal(t, 20*time.Second, s.failed(t0, k, resp))
	assert.Equal(t, 30*time.Second, s.failed(t0, k, resp), "capped")
	assert.Equal(t, 30*time.Second, s.failed(t0, k, resp))
	s.succeeded(k)
	assert.Equal(t, 10*time.Second, s.failed(t0, k, resp), "a start in between resets the doubling")
}

// A container that the engine reports stopped while its /init runs is not destroyed and requeued (which
// made a crash-looping image start containers without end): its /init reports the exit, and the start is
// retried a bounded number of times like any exit at start.
func TestManagerDeathDuringInitIsABoundedStartFailure(t *testing.T) {
	fb := newFakeBackend()
	wb := &watchingBackend{fakeBackend: fb, died: make(chan func(string), 1)}
	cfg := testManagerConfig()
	cfg.MaxReschedules = 2
	m := newTestManagerOn(t, cfg, wb, fb)
	died := <-wb.died
	fb.initResult = func(name string, body []byte) InitResult {
		died(name) // the die event arrives while /init still waits for the proxy
		return InitResult{Response: proxy.ErrorResponse(proxy.StatusDeveloperError, proxy.MsgAbnormalInit), Dead: true, Exited: true}
	}
	o, err := m.Run(t.Context(), testJob("a1", "guest/crash", 256, 1), nil)
	require.NoError(t, err)
	assert.Equal(t, proxy.ErrorResponse(proxy.StatusDeveloperError, proxy.MsgAbnormalInit), o.Response)
	assert.Equal(t, 3, fb.count("create"), "bounded: the first try and two more")
	assert.Equal(t, int64(3), m.Stats().Died, "each stopped by itself")
	assert.Contains(t, fb.logOpts, LogOptions{DeveloperError: true}, "the init failure's logs are read as a developer error's")
	eventually(t, "memory returned", func() bool { return m.Snapshot().UsedMB == 0 })
	_, err = m.Run(t.Context(), testJob("a2", "guest/crash", 256, 1), nil)
	require.NoError(t, err)
	assert.Equal(t, 3, fb.count("create"), "remembered: no new container")
}

// Log collection is told whether the run failed as a developer error, so it can wait for the action's
// last lines instead of reading only what the engine already wrote.
func TestManagerTellsLogCollectionAboutDeveloperErrors(t *testing.T) {
	fb := newFakeBackend()
	m := newTestManager(t, testManagerConfig(), fb)
	_, err := m.Run(t.Context(), testJob("ok", "guest/hello", 256, 1), nil)
	require.NoError(t, err)
	fb.runResult = func(name string, body []byte) RunResult {
		return RunResult{Response: proxy.ErrorResponse(proxy.StatusDeveloperError, proxy.MsgNotJSON("x")), Dead: true}
	}
	_, err = m.Run(t.Context(), testJob("bad", "guest/hello", 256, 1), nil)
	require.NoError(t, err)
	fb.mu.Lock()
	defer fb.mu.Unlock()
	assert.Equal(t, []LogOptions{{Sentinels: true}, {Sentinels: true, DeveloperError: true}}, fb.logOpts)
}
