package pool

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nemo-edge/nemo/pool/proxy"
)

// runner is the activation path's Runner shape, which the Manager implements.
type runner interface {
	Run(ctx context.Context, job *Job, onRunDone func(*Outcome)) (*Outcome, error)
}

var _ runner = (*Manager)(nil)

// testJob is an activation of action ("ns/name") with memMB and concurrency conc. Its bodies are shaped
// like OpenWhisk's (the invoker builds the real ones), with the activation id and deadline in them.
func testJob(id, action string, memMB, conc int) *Job {
	ns, name, _ := strings.Cut(action, "/")
	return &Job{
		ID: id,
		Spec: Spec{Key: Key{Namespace: ns, Action: action, ContentHash: "h-" + action}, Kind: "nodejs:20",
			Image: "openwhisk/action-nodejs-v20:nightly", MemoryMB: memMB, Concurrency: max(conc, 1)},
		Timeout: 5 * time.Second,
		InitBody: func(deadline time.Time) ([]byte, error) {
			return fmt.Appendf(nil, `{"value":{"name":%q,"main":"main","binary":false,"code":"function main(p) { return p }",`+
				`"env":{"__OW_ACTIVATION_ID":%q,"__OW_DEADLINE":"%d"}}}`, name, id, deadline.UnixMilli()), nil
		},
		RunBody: func(deadline time.Time) ([]byte, error) {
			return fmt.Appendf(nil, `{"value":{"name":"World"},"activation_id":%q,"deadline":"%d"}`, id, deadline.UnixMilli()), nil
		},
		LogLimit:        10 << 20,
		SentinelledLogs: true,
		Log:             zerolog.Nop(),
	}
}

func testManagerConfig() ManagerConfig {
	return ManagerConfig{
		Pool: Config{UserMemoryMB: 1024, MaxWarm: 3, ColdReserveMB: 256, PauseGrace: time.Hour,
			IdleTimeout: time.Hour, NamePrefix: "wsktest"},
		TickInterval: 5 * time.Millisecond,
	}
}

func newTestManager(t *testing.T, cfg ManagerConfig, fb *fakeBackend) *Manager {
	t.Helper()
	return newTestManagerOn(t, cfg, fb, fb)
}

// newTestManagerOn drives backend, which wraps fb (whose containers and violations are checked at the end).
func newTestManagerOn(t *testing.T, cfg ManagerConfig, backend Backend, fb *fakeBackend) *Manager {
	t.Helper()
	m, err := NewManager(t.Context(), cfg, backend, testLogger(t))
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		assert.NoError(t, m.Close(ctx))
		assert.Zero(t, fb.liveCount(), "containers left after Close")
		assert.NoError(t, fb.problems())
	})
	return m
}

// eventually polls cond (functional wait, generous bound; not a timing assertion).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// The Result callback of a blocking activation must not wait for log collection, which can take
// seconds (sentinels written late, a log flood).
func TestManagerResultCallbackDoesNotWaitForLogs(t *testing.T) {
	fb := newFakeBackend()
	fb.logsGate = make(chan struct{})
	m := newTestManager(t, testManagerConfig(), fb)

	called := make(chan struct{})
	type result struct {
		o   *Outcome
		err error
	}
	done := make(chan result, 1)
	go func() {
		o, err := m.Run(t.Context(), testJob("a1", "guest/hello", 256, 1), func(*Outcome) { close(called) })
		done <- result{o, err}
	}()
	select {
	case <-called:
	case <-time.After(10 * time.Second):
		t.Fatal("onRunDone was not called while log collection was still running")
	}
	select {
	case <-done:
		t.Fatal("Run returned before log collection finished")
	default:
	}
	close(fb.logsGate)
	r := <-done
	require.NoError(t, r.err)
	assert.Len(t, r.o.Logs, 1, "the logs collected after the callback are in the outcome")
}

func TestManagerColdThenWarmRun(t *testing.T) {
	fb := newFakeBackend()
	m := newTestManager(t, testManagerConfig(), fb)

	var early *Outcome
	var runsAtEarly int
	o, err := m.Run(t.Context(), testJob("a1", "guest/hello", 256, 1), func(o *Outcome) {
		early = o
		runsAtEarly = fb.count("run")
	})
	require.NoError(t, err)
	assert.Equal(t, "cold", o.ContainerState)
	assert.Equal(t, 5*time.Millisecond, o.InitDuration)
	assert.Equal(t, proxy.StatusSuccess, o.Response.StatusCode)
	assert.Len(t, o.Logs, 1)
	require.NotNil(t, early, "onRunDone not called")
	assert.Equal(t, 1, runsAtEarly, "onRunDone comes once /run returned")
	assert.Empty(t, early.Logs, "onRunDone does not wait for log collection")
	assert.Nil(t, early.Logs)
	assert.False(t, o.WaitStart.After(o.Start), "wait start (init start) precedes the run")

	o2, err := m.Run(t.Context(), testJob("a2", "guest/hello", 256, 1), nil)
	require.NoError(t, err)
	assert.Equal(t, "warm", o2.ContainerState)
	assert.Zero(t, o2.InitDuration)
	assert.Equal(t, 1, fb.count("create"))
	assert.Equal(t, 1, fb.count("init"))
	assert.Equal(t, 2, fb.count("run"))

	// /init carried the first activation's context, once.
	fb.mu.Lock()
	var bodies []string
	for _, c := range fb.live {
		bodies = append(bodies, c.initBodies...)
	}
	fb.mu.Unlock()
	require.Len(t, bodies, 1)
	assert.Contains(t, bodies[0], `"code":"function main(p) { return p }"`)
	assert.Contains(t, bodies[0], `"__OW_ACTIVATION_ID":"a1"`)
	assert.Equal(t, 256, m.Snapshot().UsedMB)
	require.NoError(t, fb.problems())
}

func TestManagerRunBodyPerActivation(t *testing.T) {
	fb := newFakeBackend()
	var mu sync.Mutex
	var runBodies []string
	fb.runResult = func(name string, body []byte) RunResult {
		mu.Lock()
		runBodies = append(runBodies, string(body))
		mu.Unlock()
		return RunResult{Response: proxy.Response{Result: json.RawMessage(`{}`)}}
	}
	m := newTestManager(t, testManagerConfig(), fb)
	for _, id := range []string{"x1", "x2"} {
		_, err := m.Run(t.Context(), testJob(id, "guest/hello", 256, 1), nil)
		require.NoError(t, err)
	}
	require.Len(t, runBodies, 2)
	for i, id := range []string{"x1", "x2"} {
		assert.Contains(t, runBodies[i], `"value":{"name":"World"}`)
		assert.Contains(t, runBodies[i], `"activation_id":"`+id+`"`)
		assert.Contains(t, runBodies[i], `"deadline":"`) // a JSON string
	}
}

// Many concurrent activations over a small pool: all complete, bounds hold, and once load stops the idle
// timeout returns every MB; Close leaves no container behind.
func TestManagerLoadMemoryReturnsToZero(t *testing.T) {
	fb := newFakeBackend()
	// A container is created beside the removal of the idle one it evicted (Remove.Released): creating
	// takes longer than the kill that frees the victim's memory (about 400 against 35 ms with Docker),
	// as this fake's creation does, so the backend never holds more than the memory allows.
	fb.createWait = 30 * time.Millisecond
	cfg := testManagerConfig()
	cfg.Pool.PauseGrace = 10 * time.Millisecond
	cfg.Pool.IdleTimeout = 150 * time.Millisecond
	m := newTestManager(t, cfg, fb)

	var maxUsed int
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for i := range 120 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn := fmt.Sprintf("guest/f%d", i%6)
			conc := 1
			if i%6 == 5 {
				conc = 3
			}
			o, err := m.Run(t.Context(), testJob(fmt.Sprintf("a%d", i), fn, 256, conc), nil)
			if err != nil {
				errs <- err
				return
			}
			if o.Response.StatusCode != proxy.StatusSuccess {
				errs <- fmt.Errorf("a%d: status %d", i, o.Response.StatusCode)
			}
			mu.Lock()
			maxUsed = max(maxUsed, m.Snapshot().UsedMB)
			mu.Unlock()
		}()
		if i%10 == 0 {
			time.Sleep(3 * time.Millisecond) // bursts with pauses, so containers freeze and thaw
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	assert.LessOrEqual(t, maxUsed, 1024)
	assert.LessOrEqual(t, fb.maxLive*256, 1024, "backend never held more containers than the memory allows")
	// The idle timeout releases the memory when the removals start; they end soon after.
	eventually(t, "idle timeout to return all memory and remove every container", func() bool {
		s := m.Snapshot()
		return s.UsedMB == 0 && len(s.Containers) == 0
	})
	assert.Zero(t, fb.liveCount())
	assert.Equal(t, fb.count("create"), fb.count("remove"))
	m.mu.Lock()
	assert.Empty(t, m.pending, "no request left behind in the driver")
	assert.Empty(t, m.conts, "no container left behind in the driver")
	m.mu.Unlock()
	require.NoError(t, fb.problems())
}

func TestManagerStartFailure(t *testing.T) {
	fb := newFakeBackend()
	fb.createErr = func(name string, spec Spec) error {
		switch {
		case strings.Contains(name, "plain"):
			return errors.New("docker run exit 125")
		case strings.Contains(name, "pull"):
			return &CreateError{Response: proxy.ErrorResponse(proxy.StatusDeveloperError, "Failed to pull container image 'x'."),
				Err: errors.New("pull failed")}
		}
		return nil
	}
	m := newTestManager(t, testManagerConfig(), fb)

	_, err := m.Run(t.Context(), testJob("s1", "guest/plain", 256, 1), nil)
	require.ErrorIs(t, err, ErrProvision)

	o, err := m.Run(t.Context(), testJob("s2", "guest/pull", 256, 1), nil)
	require.NoError(t, err)
	assert.Equal(t, proxy.StatusDeveloperError, o.Response.StatusCode)
	assert.Contains(t, string(o.Response.Result), "Failed to pull")

	assert.Zero(t, m.Snapshot().UsedMB, "memory of failed starts is returned")
	assert.Zero(t, fb.count("remove"), "nothing to remove after a failed create")
}

func TestManagerInitFailure(t *testing.T) {
	fb := newFakeBackend()
	fb.initResult = func(name string, body []byte) InitResult {
		return InitResult{Response: proxy.ErrorResponse(proxy.StatusDeveloperError, "The action failed during initialization."),
			Duration: 7 * time.Millisecond}
	}
	fb.logResult = func(string) LogResult { return LogResult{Lines: []string{"init log"}} }
	m := newTestManager(t, testManagerConfig(), fb)

	o, err := m.Run(t.Context(), testJob("i1", "guest/bad", 256, 1), func(*Outcome) { t.Error("onRunDone without /run") })
	require.NoError(t, err)
	assert.Equal(t, proxy.StatusDeveloperError, o.Response.StatusCode)
	assert.Equal(t, 7*time.Millisecond, o.InitDuration)
	assert.Equal(t, []string{"init log"}, o.Logs)
	assert.Equal(t, "cold", o.ContainerState)
	assert.Zero(t, fb.count("run"))
	eventually(t, "failed container removal", func() bool { return m.Snapshot().UsedMB == 0 })
	assert.Equal(t, 1, fb.count("remove"))

	// concurrent runs waiting on the same init all get the init error
	fb.mu.Lock()
	fb.initGate = make(chan struct{})
	fb.mu.Unlock()
	var wg sync.WaitGroup
	outs := make([]*Outcome, 3)
	for i := range outs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o, err := m.Run(t.Context(), testJob(fmt.Sprintf("c%d", i), "guest/conc", 256, 3), nil)
			assert.NoError(t, err)
			outs[i] = o
		}()
	}
	eventually(t, "three runs waiting on one init", func() bool {
		for _, c := range m.Snapshot().Containers {
			if c.Waiting == 3 {
				return true
			}
		}
		return false
	})
	close(fb.initGate)
	wg.Wait()
	for _, o := range outs {
		require.NotNil(t, o)
		assert.Equal(t, proxy.StatusDeveloperError, o.Response.StatusCode)
	}
	assert.Equal(t, 2, fb.count("init"))
}

func TestManagerDestroyOnErrors(t *testing.T) {
	cases := []struct {
		name string
		run  RunResult
		logs LogResult
	}{
		{"developer error", RunResult{Response: proxy.ErrorResponse(proxy.StatusDeveloperError, "boom")}, LogResult{}},
		{"whisk error", RunResult{Response: proxy.ErrorResponse(proxy.StatusWhiskError, "boom")}, LogResult{}},
		{"timeout", RunResult{Response: proxy.ErrorResponse(proxy.StatusDeveloperError, proxy.MsgTimeout(5000)), TimedOut: true}, LogResult{}},
		{"oom", RunResult{Response: proxy.ErrorResponse(proxy.StatusDeveloperError, proxy.MsgMemoryExhausted), Dead: true}, LogResult{}},
		{"log failure", RunResult{Response: proxy.Response{Result: json.RawMessage(`{}`)}}, LogResult{Failed: true}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fb := newFakeBackend()
			fb.runResult = func(string, []byte) RunResult { return tc.run }
			fb.logResult = func(string) LogResult { return tc.logs }
			m := newTestManager(t, testManagerConfig(), fb)
			o, err := m.Run(t.Context(), testJob("d1", "guest/die", 256, 1), nil)
			require.NoError(t, err)
			assert.Equal(t, tc.run.Response.StatusCode, o.Response.StatusCode)
			assert.Equal(t, tc.run.TimedOut, o.TimedOut)
			eventually(t, "destroyed container removal", func() bool { return fb.count("remove") == 1 })
			eventually(t, "memory returned", func() bool { return m.Snapshot().UsedMB == 0 })
			o, err = m.Run(t.Context(), testJob("d2", "guest/die", 256, 1), nil)
			require.NoError(t, err)
			assert.Equal(t, "cold", o.ContainerState, "a destroyed container is not reused")
		})
	}
	t.Run("application error keeps the container", func(t *testing.T) {
		fb := newFakeBackend()
		fb.runResult = func(string, []byte) RunResult {
			return RunResult{Response: proxy.ErrorResponse(proxy.StatusApplicationError, "app")}
		}
		m := newTestManager(t, testManagerConfig(), fb)
		for _, id := range []string{"e1", "e2"} {
			_, err := m.Run(t.Context(), testJob(id, "guest/app", 256, 1), nil)
			require.NoError(t, err)
		}
		assert.Equal(t, 1, fb.count("create"))
		assert.Zero(t, fb.count("remove"))
	})
}

func TestManagerFreezeThawAndThawFailure(t *testing.T) {
	fb := newFakeBackend()
	cfg := testManagerConfig()
	cfg.Pool.PauseGrace = 5 * time.Millisecond
	m := newTestManager(t, cfg, fb)

	_, err := m.Run(t.Context(), testJob("f1", "guest/fz", 256, 1), nil)
	require.NoError(t, err)
	eventually(t, "freeze after the pause grace", func() bool { return fb.count("freeze") == 1 })
	o, err := m.Run(t.Context(), testJob("f2", "guest/fz", 256, 1), nil)
	require.NoError(t, err)
	assert.Equal(t, "warm", o.ContainerState)
	assert.Equal(t, 1, fb.count("thaw"), "thaw before /run on the frozen container")
	require.NoError(t, fb.problems())

	// The thaw of the frozen container fails: the run is rescheduled onto a new container.
	eventually(t, "second freeze", func() bool { return fb.count("freeze") == 2 })
	fb.mu.Lock()
	fb.thawErr = func(string) error { return errors.New("cgroup write failed") }
	fb.mu.Unlock()
	o, err = m.Run(t.Context(), testJob("f3", "guest/fz", 256, 1), nil)
	require.NoError(t, err)
	assert.Equal(t, "cold", o.ContainerState)
	assert.Equal(t, 2, fb.count("create"))
	fb.mu.Lock()
	fb.thawErr = nil
	fb.mu.Unlock()
	eventually(t, "broken container removed", func() bool { return fb.count("remove") == 1 })
}

func TestManagerBufferAndCancel(t *testing.T) {
	fb := newFakeBackend()
	fb.runGate = make(chan struct{})
	cfg := testManagerConfig()
	cfg.Pool.UserMemoryMB, cfg.Pool.ColdReserveMB = 512, -1
	m := newTestManager(t, cfg, fb)

	done := make(chan error, 2)
	for _, id := range []string{"b1", "b2"} {
		go func() {
			_, err := m.Run(t.Context(), testJob(id, "guest/"+id, 256, 1), nil)
			done <- err
		}()
	}
	eventually(t, "two busy containers", func() bool { return m.Snapshot().CountByState[StateBusy] == 2 })

	ctx, cancel := context.WithCancel(t.Context())
	buffered := make(chan error, 1)
	go func() {
		_, err := m.Run(ctx, testJob("b3", "guest/b3", 256, 1), nil)
		buffered <- err
	}()
	eventually(t, "b3 in the run buffer", func() bool { return len(m.Snapshot().Buffered) == 1 })
	cancel()
	require.ErrorIs(t, <-buffered, context.Canceled)
	assert.Empty(t, m.Snapshot().Buffered)

	close(fb.runGate)
	require.NoError(t, <-done)
	require.NoError(t, <-done)
	assert.Equal(t, 2, fb.count("create"), "the canceled request never got a container")
}

func TestManagerReject(t *testing.T) {
	fb := newFakeBackend()
	m := newTestManager(t, testManagerConfig(), fb)
	_, err := m.Run(t.Context(), testJob("r1", "guest/huge", 4096, 1), nil)
	require.ErrorIs(t, err, ErrRejected)
	_, err = m.Run(t.Context(), &Job{}, nil)
	require.ErrorIs(t, err, ErrProvision, "a job without bodies")
	noMemory := testJob("r2", "guest/x", 256, 1)
	noMemory.Spec.MemoryMB = 0
	_, err = m.Run(t.Context(), noMemory, nil)
	require.ErrorIs(t, err, ErrProvision, "a job without memory")
	_, err = m.Run(t.Context(), nil, nil)
	require.ErrorIs(t, err, ErrProvision, "no job")
	assert.Zero(t, fb.count("create"))
}

func TestManagerPrewarmSuspendResume(t *testing.T) {
	fb := newFakeBackend()
	m := newTestManager(t, testManagerConfig(), fb)
	job := testJob("p", "guest/pw", 256, 1)
	spec := job.Spec
	init, err := job.InitBody(time.Now().Add(5 * time.Second))
	require.NoError(t, err)

	// Suspend mid-/init: the freeze must not wait behind the in-flight /init.
	fb.mu.Lock()
	fb.initGate = make(chan struct{})
	fb.gateOnly = "wsktest_1_guest_pw"
	fb.mu.Unlock()
	type result struct {
		c   ContainerID
		err error
	}
	warmed := make(chan result, 1)
	go func() {
		c, err := m.Prewarm(t.Context(), spec, init, 5*time.Second)
		warmed <- result{c, err}
	}()
	var c ContainerID
	eventually(t, "pre-warm /init in flight", func() bool {
		for _, ci := range m.Snapshot().Containers {
			if ci.State == StateWarming {
				c = ci.C
			}
		}
		return c != 0 && fb.count("init") == 1
	})
	require.NoError(t, m.Suspend(t.Context(), c))
	fb.mu.Lock()
	frozeDuringInit := 0
	for _, fc := range fb.live {
		frozeDuringInit += fc.froze
	}
	fb.mu.Unlock()
	assert.Equal(t, 1, frozeDuringInit, "freeze executed while /init was in flight")

	// A run of the same function never goes to the suspended container.
	o, err := m.Run(t.Context(), testJob("p1", "guest/pw", 256, 1), nil)
	require.NoError(t, err)
	assert.Equal(t, "cold", o.ContainerState)

	require.NoError(t, m.Resume(t.Context(), c))
	close(fb.initGate)
	r := <-warmed
	require.NoError(t, r.err)
	assert.Equal(t, c, r.c)

	// Pre-warming a function that is already warm answers at once.
	c2, err := m.Prewarm(t.Context(), spec, init, 5*time.Second)
	require.NoError(t, err)
	assert.NotZero(t, c2)
	assert.Equal(t, 2, fb.count("create"))

	require.ErrorIs(t, m.Suspend(t.Context(), 999), ErrUnknownContainer)
	require.ErrorIs(t, m.Resume(t.Context(), c), ErrNotApplicable)
	require.NoError(t, m.Evict(t.Context(), c))
	eventually(t, "evicted container removed", func() bool { return fb.count("remove") == 1 })

	// Pre-warms never hold the cold reserve: with p1's container suspended (held: it cannot be evicted at
	// once), 256 + 768 MB would leave less than the 256 MB reserve of 1024 MB.
	require.NoError(t, m.Suspend(t.Context(), o.Container))
	_, err = m.Prewarm(t.Context(), Spec{Key: Key{Namespace: "guest", Action: "guest/big", ContentHash: "h"},
		Kind: "nodejs:20", MemoryMB: 768}, init, time.Second)
	require.ErrorIs(t, err, ErrRejected)
	require.NoError(t, fb.problems())
}

func TestManagerStemCells(t *testing.T) {
	fb := newFakeBackend()
	fb.leftovers = 2
	cfg := testManagerConfig()
	cfg.Pool.StemCells = []StemCell{{Kind: "nodejs:20", Image: "openwhisk/action-nodejs-v20:nightly", MemoryMB: 256, Count: 1}}
	m := newTestManager(t, cfg, fb)
	assert.Equal(t, 1, fb.count("cleanup"), "leftovers removed at start")
	eventually(t, "stem cell started", func() bool { return m.Snapshot().CountByState[StatePrewarmed] == 1 })

	o, err := m.Run(t.Context(), testJob("s1", "guest/stem", 256, 1), nil)
	require.NoError(t, err)
	assert.Equal(t, "prewarmed", o.ContainerState)
	assert.NotZero(t, o.InitDuration)
	eventually(t, "stem cell backfilled", func() bool { return m.Snapshot().CountByState[StatePrewarmed] == 1 })
	assert.Equal(t, 2, fb.count("create"))
}

func TestManagerCloseWaitsForRunsAndRefusesWork(t *testing.T) {
	fb := newFakeBackend()
	fb.runGate = make(chan struct{})
	m, err := NewManager(t.Context(), testManagerConfig(), fb, zerolog.Nop())
	require.NoError(t, err)

	ran := make(chan error, 1)
	go func() {
		_, err := m.Run(t.Context(), testJob("c1", "guest/busy", 256, 1), nil)
		ran <- err
	}()
	eventually(t, "run in flight", func() bool { return m.Snapshot().CountByState[StateBusy] == 1 })

	closed := make(chan error, 1)
	go func() { closed <- m.Close(t.Context()) }()
	eventually(t, "close to start", func() bool {
		m.mu.Lock()
		defer m.mu.Unlock()
		return m.closed
	})
	_, err = m.Run(t.Context(), testJob("c2", "guest/busy", 256, 1), nil)
	require.ErrorIs(t, err, ErrClosed)
	_, err = m.Prewarm(t.Context(), Spec{Key: Key{Namespace: "guest", Action: "guest/x"}, MemoryMB: 256}, nil, 0)
	require.ErrorIs(t, err, ErrClosed)
	select {
	case <-closed:
		t.Fatal("Close returned while a run was in flight")
	default:
	}
	close(fb.runGate)
	require.NoError(t, <-ran)
	require.NoError(t, <-closed)
	assert.Zero(t, fb.liveCount())
	assert.Zero(t, m.Snapshot().UsedMB)
	assert.Equal(t, 2, fb.count("cleanup"))
	require.NoError(t, fb.problems())

	// Close with an expired context gives up waiting but still cleans up.
	fb2 := newFakeBackend()
	fb2.runGate = make(chan struct{})
	m2, err := NewManager(t.Context(), testManagerConfig(), fb2, zerolog.Nop())
	require.NoError(t, err)
	go func() { _, _ = m2.Run(t.Context(), testJob("c3", "guest/busy", 256, 1), nil) }()
	eventually(t, "run in flight", func() bool { return m2.Snapshot().CountByState[StateBusy] == 1 })
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, m2.Close(ctx), context.DeadlineExceeded)
	assert.Zero(t, fb2.liveCount(), "cleanup removed the busy container")
	close(fb2.runGate)
}

func TestNewManagerRejectsBadConfig(t *testing.T) {
	_, err := NewManager(t.Context(), ManagerConfig{Pool: Config{UserMemoryMB: 512, ColdReserveMB: 512}}, newFakeBackend(), zerolog.Nop())
	require.ErrorIs(t, err, ErrConfig)
	_, err = NewManager(t.Context(), ManagerConfig{}, nil, zerolog.Nop())
	require.ErrorIs(t, err, ErrConfig)
}

func testLogger(t *testing.T) zerolog.Logger {
	if testing.Verbose() {
		return zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.DebugLevel)
	}
	return zerolog.Nop()
}

// watchingBackend is the fake backend plus a DeathWatcher whose reports the test triggers.
type watchingBackend struct {
	*fakeBackend
	died chan func(string) // the Manager's callback, once it watches
}

func (w *watchingBackend) WatchDeaths(ctx context.Context, prefix string, died func(name string)) {
	w.died <- died
	<-ctx.Done()
}

// A container that stops outside the pool's control (killed, or the engine restarted) is destroyed as soon
// as the backend reports it: its memory returns, and the next activation of that action starts a new
// container instead of being handed the dead one.
func TestManagerDestroysContainerReportedDead(t *testing.T) {
	fb := newFakeBackend()
	wb := &watchingBackend{fakeBackend: fb, died: make(chan func(string), 1)}
	m := newTestManagerOn(t, testManagerConfig(), wb, fb)
	died := <-wb.died

	o, err := m.Run(t.Context(), testJob("a1", "guest/hello", 256, 1), nil)
	require.NoError(t, err)
	require.Equal(t, "cold", o.ContainerState)
	infos := m.Snapshot().Containers
	require.Len(t, infos, 1)
	require.Equal(t, 256, m.Snapshot().UsedMB)
	var name string
	fb.mu.Lock()
	for n := range fb.live {
		name = n
	}
	fb.mu.Unlock()

	died("wsktest_999_guest_unknown") // not one of the pool's: ignored
	died(name)
	eventually(t, "the dead container removed and its memory returned", func() bool {
		return fb.count("remove") == 1 && m.Snapshot().UsedMB == 0
	})
	assert.Equal(t, ManagerStats{Died: 1}, m.Stats())
	died(name) // reported twice (die, then the resync after a reconnect): no effect
	o, err = m.Run(t.Context(), testJob("a2", "guest/hello", 256, 1), nil)
	require.NoError(t, err)
	assert.Equal(t, "cold", o.ContainerState, "a new container, not the dead one")
	assert.Equal(t, proxy.StatusSuccess, o.Response.StatusCode)
	assert.Equal(t, 2, fb.count("create"))
	assert.Equal(t, ManagerStats{Died: 1}, m.Stats(), "the second report counted nothing")
}

// A /run that provably never reached the action (its container had gone) is not the action's fault: the
// Manager destroys that container and runs the activation on a new one.
func TestManagerReschedulesRunThatNeverReachedTheAction(t *testing.T) {
	fb := newFakeBackend()
	m := newTestManager(t, testManagerConfig(), fb)
	o, err := m.Run(t.Context(), testJob("a1", "guest/hello", 256, 1), nil)
	require.NoError(t, err)
	require.Equal(t, "cold", o.ContainerState)
	var first string
	fb.mu.Lock()
	for n := range fb.live {
		first = n
	}
	fb.runResult = func(name string, body []byte) RunResult {
		if name == first {
			return RunResult{Response: proxy.ErrorResponse(proxy.StatusDeveloperError, proxy.MsgAbnormalRun), Dead: true, Reschedule: true}
		}
		return RunResult{Response: proxy.Response{StatusCode: proxy.StatusSuccess, Result: json.RawMessage(`{"ok":true}`)}}
	}
	fb.mu.Unlock()

	o, err = m.Run(t.Context(), testJob("a2", "guest/hello", 256, 1), nil)
	require.NoError(t, err)
	assert.Equal(t, proxy.StatusSuccess, o.Response.StatusCode, "run on a new container, not blamed on the action")
	assert.Equal(t, "cold", o.ContainerState)
	assert.Equal(t, 2, fb.count("create"))
	eventually(t, "the gone container removed", func() bool {
		fb.mu.Lock()
		defer fb.mu.Unlock()
		_, live := fb.live[first]
		return !live
	})
	assert.Equal(t, 256, m.Snapshot().UsedMB)
	assert.Equal(t, ManagerStats{Rescheduled: 1}, m.Stats())
}

// A 503 from /init is OpenWhisk's ContainerHealthError: the activation moves to a new container, at most
// MaxReschedules times; after that the init error is the activation's answer.
func TestManagerMovesActivationOffUnhealthyInit(t *testing.T) {
	unhealthy := InitResult{Response: proxy.ErrorResponse(proxy.StatusDeveloperError, "unhealthy"), Dead: true, Reschedule: true}
	t.Run("once", func(t *testing.T) {
		fb := newFakeBackend()
		first := ""
		fb.initResult = func(name string, body []byte) InitResult {
			if first == "" || first == name {
				first = name
				return unhealthy
			}
			return InitResult{OK: true, Duration: 5 * time.Millisecond}
		}
		m := newTestManager(t, testManagerConfig(), fb)
		o, err := m.Run(t.Context(), testJob("a1", "guest/hello", 256, 1), nil)
		require.NoError(t, err)
		assert.Equal(t, proxy.StatusSuccess, o.Response.StatusCode)
		assert.Equal(t, 2, fb.count("create"), "a second container")
		assert.Equal(t, ManagerStats{Rescheduled: 1}, m.Stats())
		eventually(t, "the unhealthy container removed", func() bool { return fb.count("remove") >= 1 })
	})
	t.Run("always", func(t *testing.T) {
		fb := newFakeBackend()
		fb.initResult = func(string, []byte) InitResult { return unhealthy }
		cfg := testManagerConfig()
		cfg.MaxReschedules = 2
		m := newTestManager(t, cfg, fb)
		o, err := m.Run(t.Context(), testJob("a1", "guest/hello", 256, 1), nil)
		require.NoError(t, err)
		assert.Equal(t, proxy.StatusDeveloperError, o.Response.StatusCode, "the init error, once moving gave up")
		assert.Equal(t, 3, fb.count("create"), "the first container and two moves")
		assert.Equal(t, ManagerStats{Rescheduled: 2}, m.Stats())
	})
}

// MaxReschedules is one bound per activation, whatever moved it: an unhealthy /init and runs that never
// reached the action count against the same budget.
func TestManagerReschedulesAreBoundOncePerActivation(t *testing.T) {
	fb := newFakeBackend()
	first := ""
	fb.initResult = func(name string, body []byte) InitResult {
		if first == "" || first == name {
			first = name
			return InitResult{Response: proxy.ErrorResponse(proxy.StatusDeveloperError, "unhealthy"), Dead: true, Reschedule: true}
		}
		return InitResult{OK: true, Duration: time.Millisecond}
	}
	fb.runResult = func(string, []byte) RunResult {
		return RunResult{Response: proxy.ErrorResponse(proxy.StatusDeveloperError, proxy.MsgAbnormalRun), Dead: true, Reschedule: true}
	}
	cfg := testManagerConfig()
	cfg.MaxReschedules = 2
	m := newTestManager(t, cfg, fb)
	_, err := m.Run(t.Context(), testJob("a1", "guest/hello", 256, 1), nil)
	require.ErrorIs(t, err, ErrProvision, "gave up once the activation was moved twice")
	assert.Equal(t, 3, fb.count("create"), "the first container (503 at /init) and two moves")
	assert.Equal(t, ManagerStats{Rescheduled: 2}, m.Stats())
}

// The controller's ranking reaches the pool through Manager.Rank: the next eviction follows it instead of
// LRU. The outcome names the container the run used.
func TestManagerRankOrdersEvictions(t *testing.T) {
	fb := newFakeBackend()
	cfg := testManagerConfig()
	cfg.Pool.UserMemoryMB, cfg.Pool.MaxWarm, cfg.Pool.ColdReserveMB = 512, -1, -1
	m := newTestManager(t, cfg, fb)
	var used []ContainerID
	for i, fn := range []string{"guest/f1", "guest/f2"} {
		o, err := m.Run(t.Context(), testJob(fmt.Sprintf("a%d", i+1), fn, 256, 1), nil)
		require.NoError(t, err)
		used = append(used, o.Container)
	}
	require.Equal(t, []ContainerID{1, 2}, used)
	require.NoError(t, m.Rank(t.Context(), []ContainerID{2}), "c2 first, although c1 was used longer ago")
	_, err := m.Run(t.Context(), testJob("a3", "guest/f3", 256, 1), nil)
	require.NoError(t, err)
	// a3's container is created beside c2's removal (an idle victim's memory is released at once), so
	// a3 may finish before c2 is gone.
	wctx, wcancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer wcancel()
	require.NoError(t, m.WaitGone(wctx, 2), "c2 evicted for a3")
	_, c1 := m.Container(1)
	assert.True(t, c1, "c1 kept")

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	assert.ErrorIs(t, m.Rank(ctx, nil), context.Canceled)
}

// An activation never waits for memory a pre-warm in flight holds: the pool evicts the pre-warm (after
// every idle container), Prewarm returns ErrRejected (not a failure: the controller does not back off),
// and the activation runs beside the pre-warm container's removal.
func TestManagerPrewarmGivesWayToAnActivation(t *testing.T) {
	fb := newFakeBackend()
	fb.initGate = make(chan struct{})
	fb.gateOnly = "wsktest_1_guest_pw"
	cfg := testManagerConfig()
	cfg.Pool.ColdReserveMB = -1
	m := newTestManager(t, cfg, fb)
	job := testJob("p", "guest/pw", 256, 1)
	init, err := job.InitBody(time.Now().Add(5 * time.Second))
	require.NoError(t, err)
	errc := make(chan error, 1)
	go func() {
		_, err := m.Prewarm(t.Context(), job.Spec, init, 5*time.Second)
		errc <- err
	}()
	eventually(t, "pre-warm /init in flight", func() bool { return fb.count("init") == 1 })

	// 1024 MB: all the memory, 256 of it held by the pre-warm.
	o, err := m.Run(t.Context(), testJob("a1", "guest/big", 1024, 1), nil)
	require.NoError(t, err)
	assert.Equal(t, proxy.StatusSuccess, o.Response.StatusCode)
	assert.Equal(t, "cold", o.ContainerState)
	select {
	case err := <-errc:
		require.ErrorIs(t, err, ErrRejected)
		assert.Contains(t, err.Error(), "pre-warm evicted for")
	case <-time.After(5 * time.Second):
		t.Fatal("the evicted pre-warm was not answered")
	}
	close(fb.initGate)
	wctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	require.NoError(t, m.WaitGone(wctx, 1))
	require.NoError(t, fb.problems())
}
