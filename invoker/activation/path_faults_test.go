package activation

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nemo-edge/nemo/invoker/metrics"
	"github.com/nemo-edge/nemo/invoker/wire"
	"github.com/nemo-edge/nemo/pool"
	"github.com/nemo-edge/nemo/pool/proxy"
)

// stallLog records OnStall calls.
type stallLog struct {
	mu    sync.Mutex
	calls []bool
}

func (s *stallLog) on(stalled bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, stalled)
}

func (s *stallLog) snapshot() []bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]bool(nil), s.calls...)
}

// outageAcker fails every send while down() says so (ErrUnavailable, as the producer reports a broker
// outage), and records what got through.
type outageAcker struct {
	fakeAcker
	mu       sync.Mutex
	failures int            // the next this many sends fail
	refuse   error          // when set, every send fails with it
	during   func()         // called on each failing send (outside the lock)
	attempts map[string]int // per ack kind
}

func (a *outageAcker) SendAck(ctx context.Context, controller string, ack wire.Ack) error {
	a.mu.Lock()
	if a.attempts == nil {
		a.attempts = map[string]int{}
	}
	a.attempts[ackKind(ack)]++
	fail := a.failures > 0
	if fail {
		a.failures--
	}
	refuse, during := a.refuse, a.during
	a.mu.Unlock()
	if refuse != nil {
		return refuse
	}
	if fail {
		if during != nil {
			during()
		}
		return fmt.Errorf("kafka: circuit breaker is open: %w", errdefs.ErrUnavailable)
	}
	return a.fakeAcker.SendAck(ctx, controller, ack)
}

// outageStore wraps fakeStore with failing record writes and duplicate lookups.
type outageStore struct {
	*fakeStore
	mu          sync.Mutex
	putFailures int  // the next this many writes fail with ErrUnavailable
	putHangs    int  // the next this many writes hang until their deadline, then fail (and still write)
	getFailures int  // the next this many duplicate lookups fail with ErrUnavailable
	puts, gets  int  // attempts
	refuse      bool // writes are refused for good (4xx)
}

func (s *outageStore) PutActivation(ctx context.Context, a *wire.WhiskActivation) error {
	s.mu.Lock()
	s.puts++
	fail, hang, refuse := s.putFailures > 0, s.putHangs > 0, s.refuse
	if fail {
		s.putFailures--
	} else if hang {
		s.putHangs--
	}
	s.mu.Unlock()
	switch {
	case refuse:
		return fmt.Errorf("HTTP 400: %w", errdefs.ErrInvalidArgument)
	case fail:
		return fmt.Errorf("_bulk_docs: HTTP 500: %w", errdefs.ErrUnavailable)
	case hang:
		// A store that answers after the attempt's deadline: the write lands, the caller does not know.
		<-ctx.Done()
		_ = s.fakeStore.PutActivation(context.Background(), a)
		return fmt.Errorf("store: couchdb unavailable: %w (the record may still be written): %w", ctx.Err(), errdefs.ErrUnavailable)
	}
	return s.fakeStore.PutActivation(ctx, a)
}

func (s *outageStore) GetActivation(ctx context.Context, ns, aid string) (*wire.WhiskActivation, error) {
	s.mu.Lock()
	s.gets++
	fail := s.getFailures > 0
	if fail {
		s.getFailures--
	}
	s.mu.Unlock()
	if fail {
		return nil, fmt.Errorf("connection refused: %w", errdefs.ErrUnavailable)
	}
	return s.fakeStore.GetActivation(ctx, ns, aid)
}

// faultHarness is a Path over outage-capable fakes, with fast retries.
type faultHarness struct {
	*harness
	acker  *outageAcker
	store  *outageStore
	stalls *stallLog
}

func newFaultHarness(t *testing.T, mod func(*Config)) *faultHarness {
	t.Helper()
	base := newHarness(t, nil)
	f := &faultHarness{harness: base, acker: &outageAcker{}, store: &outageStore{fakeStore: base.store}, stalls: &stallLog{}}
	cfg := base.path.cfg
	cfg.RetryBackoff, cfg.MaxRetryBackoff = time.Millisecond, 5*time.Millisecond
	cfg.OnStall = f.stalls.on
	cfg.Now = time.Now
	if mod != nil {
		mod(&cfg)
	}
	f.reg = metrics.NewRegistry()
	f.path = New(cfg, f.store, f.runner, f.acker, f.reg, zerolog.New(f.logs))
	f.acks = &f.acker.fakeAcker
	f.store.actions["guest/hello"] = helloAction(t, 10)
	return f
}

func (f *faultHarness) counter(t *testing.T, sample string) float64 {
	t.Helper()
	var b strings.Builder
	f.reg.Write(&b)
	for _, l := range strings.Split(b.String(), "\n") {
		if v, ok := strings.CutPrefix(l, sample+" "); ok {
			var x float64
			_, err := fmt.Sscan(v, &x)
			require.NoError(t, err)
			return x
		}
	}
	return 0
}

// Kafka down when the answer is ready: the record is not finished (so not committed) until the broker
// took every ack; meanwhile the path reports a stall (the feed is held, pings withheld), and the record
// is written only after the acks.
func TestAckOutageHoldsTheRecordUntilTheBrokerTakesTheAck(t *testing.T) {
	for _, tc := range []struct {
		name  string
		msg   func(*testing.T) []byte
		kinds []string
	}{
		{"blocking: Result then Completion", blockingMsg, []string{"result", "completion"}},
		{"non-blocking: Completion", nonBlockingMsg, []string{"completion"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFaultHarness(t, nil)
			f.acker.failures = 40 // every attempt of the first ~40 fails, whichever ack it is
			var sawStalled error
			f.acker.during = func() {
				if err := f.path.Stalled(); err != nil {
					sawStalled = err
				}
			}
			storedBeforeAcks := false
			f.store.onPut = func() {
				f.acker.mu.Lock()
				defer f.acker.mu.Unlock()
				storedBeforeAcks = f.acker.failures > 0
			}
			require.Equal(t, ResultRan, f.path.Process(context.Background(), Item{Value: tc.msg(t)}))
			var kinds []string
			for _, a := range f.acks.acks {
				kinds = append(kinds, map[bool]string{true: "completion", false: "result"}[strings.Contains(string(a.body), `"instance"`)])
			}
			assert.Equal(t, tc.kinds, kinds, "each ack taken once, in order")
			assert.False(t, storedBeforeAcks, "the record follows the acks")
			assert.Len(t, f.store.records, 1)
			require.Error(t, sawStalled, "Stalled() reported the outage while it lasted")
			assert.ErrorIs(t, sawStalled, ErrStalled)
			assert.Contains(t, sawStalled.Error(), "kafka unavailable")
			assert.NoError(t, f.path.Stalled(), "no stall once delivered")
			assert.Equal(t, []bool{true, false}, f.stalls.snapshot(), "one stall, one end")
			assert.Positive(t, f.counter(t, `nemo_delivery_retries_total{dependency="kafka"}`))
		})
	}
}

// The Result of a blocking activation gets one attempt while the container waits for it; when the broker
// does not take it, it is sent again (before the Completion) once the run is over.
func TestResultAckRetriedBeforeTheCompletion(t *testing.T) {
	f := newFaultHarness(t, nil)
	f.acker.failures = 1 // the Result's first attempt
	require.Equal(t, ResultRan, f.path.Process(context.Background(), Item{Value: blockingMsg(t)}))
	require.Len(t, f.acks.acks, 2)
	assert.NotContains(t, string(f.acks.acks[0].body), `"instance"`, "the Result first")
	assert.Contains(t, string(f.acks.acks[1].body), `"instance"`, "then the Completion")
	assert.Equal(t, 2, f.acker.attempts["result"])
	assert.Equal(t, 1, f.acker.attempts["completion"])
}

// A store outage of any length, whether it answers 500s or hangs past every attempt's deadline, delays
// the record; it is not dropped after a store timeout. An attempt that timed out but reached the store
// counts as stored (conflict), not as a failure.
func TestRecordOutageOfAnyLengthIsWaitedOutNotDropped(t *testing.T) {
	t.Run("500s for many store timeouts", func(t *testing.T) {
		f := newFaultHarness(t, func(c *Config) { c.StoreTimeout = 5 * time.Millisecond })
		f.store.putFailures = 200 // far beyond one StoreTimeout of retrying
		require.Equal(t, ResultRan, f.path.Process(context.Background(), Item{Value: blockingMsg(t)}))
		assert.Len(t, f.store.records, 1)
		assert.Equal(t, 201, f.store.puts)
		assert.Equal(t, []bool{true, false}, f.stalls.snapshot())
		assert.Contains(t, f.logs.String(), "artifact store unavailable; retrying the activation record")
	})
	t.Run("every request delayed past its deadline", func(t *testing.T) {
		f := newFaultHarness(t, func(c *Config) { c.StoreTimeout = 20 * time.Millisecond })
		f.store.putHangs = 3
		require.Equal(t, ResultRan, f.path.Process(context.Background(), Item{Value: nonBlockingMsg(t)}))
		assert.Len(t, f.store.records, 1)
		assert.Equal(t, 4, f.store.puts, "three attempts timed out; the fourth met their late write")
		assert.Contains(t, f.logs.String(), "an earlier attempt reached the store")
		assert.Zero(t, f.counter(t, `nemo_answers_lost_total{kind="record"}`))
	})
}

// Only a refusal that cannot change ends the retries: the broker refusing an ack for good, the store
// refusing a record for good. Those are logged and counted as lost answers, and the record is finished.
func TestPermanentRefusalsAreCountedNotRetriedForever(t *testing.T) {
	f := newFaultHarness(t, nil)
	f.acker.refuse = fmt.Errorf("messaging: send refused: invalid topic: %w", errdefs.ErrInvalidArgument)
	f.store.refuse = true
	require.Equal(t, ResultRan, f.path.Process(context.Background(), Item{Value: nonBlockingMsg(t)}))
	assert.Equal(t, 1, f.acker.attempts["completion"])
	assert.Equal(t, 1, f.store.puts)
	assert.Equal(t, 1.0, f.counter(t, `nemo_answers_lost_total{kind="completion"}`))
	assert.Equal(t, 1.0, f.counter(t, `nemo_answers_lost_total{kind="record"}`))
	assert.Empty(t, f.stalls.snapshot(), "a refusal is no outage")
}

// When the invoker stops during an outage, the record is given back unfinished (its offset stays
// uncommitted) and the stall ends with it.
func TestStoppingDuringAnOutageLeavesTheRecordForRedelivery(t *testing.T) {
	f := newFaultHarness(t, nil)
	f.acker.failures = math.MaxInt
	ctx, cancel := context.WithCancel(context.Background())
	f.acker.during = func() {
		if f.acker.attempts["completion"] >= 3 {
			cancel()
		}
	}
	assert.Equal(t, ResultAbandoned, f.path.Process(ctx, Item{Value: nonBlockingMsg(t)}))
	assert.Empty(t, f.store.records, "not recorded: the next incarnation runs it")
	assert.NoError(t, f.path.Stalled())
	assert.Equal(t, []bool{true, false}, f.stalls.snapshot())
}

// blockingRunner waits for the job's Withdraw (as the pool's run buffer does) and then reports
// ErrWithdrawn, or returns err at once.
type blockingRunner struct {
	err     error
	started chan struct{}
}

func (r *blockingRunner) Run(ctx context.Context, job *Job, onRunDone func(*Outcome)) (*Outcome, error) {
	if r.err != nil {
		return nil, r.err
	}
	close(r.started)
	select {
	case <-job.Withdraw:
		return nil, pool.ErrWithdrawn
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// At shutdown nothing that has not started gets an answer, least of all the whisk error "Failed to
// provision resources": it is left for redelivery.
func TestQuitLeavesUnstartedActivationsForRedelivery(t *testing.T) {
	t.Run("handed out as the invoker stops", func(t *testing.T) {
		quit := make(chan struct{})
		close(quit)
		f := newFaultHarness(t, func(c *Config) { c.Quit = quit })
		assert.Equal(t, ResultAbandoned, f.path.Process(context.Background(), Item{Value: blockingMsg(t)}))
		assert.Zero(t, f.store.gets, "not even fetched")
		assert.Empty(t, f.acks.acks)
	})
	t.Run("waiting for a container", func(t *testing.T) {
		quit := make(chan struct{})
		f := newFaultHarness(t, func(c *Config) { c.Quit = quit })
		r := &blockingRunner{started: make(chan struct{})}
		f.path.runner = r
		done := make(chan Result, 1)
		go func() { done <- f.path.Process(context.Background(), Item{Value: blockingMsg(t)}) }()
		<-r.started
		close(quit)
		assert.Equal(t, ResultAbandoned, <-done)
		assert.Empty(t, f.acks.acks)
		assert.Empty(t, f.store.records)
	})
	t.Run("the pool already closed", func(t *testing.T) {
		f := newFaultHarness(t, nil)
		f.path.runner = &blockingRunner{err: fmt.Errorf("%w: shutting down", pool.ErrClosed)}
		assert.Equal(t, ResultAbandoned, f.path.Process(context.Background(), Item{Value: blockingMsg(t)}))
		assert.Empty(t, f.acks.acks, "no whisk error for work that never started")
	})
	t.Run("waiting for the store", func(t *testing.T) {
		quit := make(chan struct{})
		f := newFaultHarness(t, func(c *Config) { c.Quit = quit; c.FetchTimeout = time.Hour })
		f.store.unavailable = math.MaxInt
		done := make(chan Result, 1)
		go func() { done <- f.path.Process(context.Background(), Item{Value: blockingMsg(t)}) }()
		require.Eventually(t, func() bool { return f.path.Stalled() != nil }, 5*time.Second, time.Millisecond)
		close(quit)
		assert.Equal(t, ResultAbandoned, <-done)
		assert.Empty(t, f.acks.acks)
	})
}

// A redelivered record's duplicate check waits for the store instead of running an activation that may
// already be recorded (which would answer it twice).
func TestDuplicateCheckWaitsForTheStore(t *testing.T) {
	f := newFaultHarness(t, nil)
	require.Equal(t, ResultRan, f.path.Process(context.Background(), Item{Value: blockingMsg(t)}))
	f.store.getFailures = 20
	require.Equal(t, ResultDuplicate, f.path.Process(context.Background(), Item{Value: blockingMsg(t), MaybeRedelivered: true}))
	assert.Equal(t, 1, f.runner.calls, "not run again")
	assert.Equal(t, 21, f.store.gets)
}

// A record above the activation size limit whose id and controller are readable is answered with an
// application error (not run), so the controller does not wait for it forever.
func TestOversizedActivationIsAnsweredNotDropped(t *testing.T) {
	f := newFaultHarness(t, func(c *Config) { c.MaxMessageBytes = 4096 })
	var m map[string]any
	require.NoError(t, json.Unmarshal(blockingMsg(t), &m))
	m["content"] = map[string]any{"blob": strings.Repeat("x", 5000)}
	raw, err := json.Marshal(m)
	require.NoError(t, err)

	require.Equal(t, ResultTooLarge, f.path.Process(context.Background(), Item{Value: raw}))
	assert.Zero(t, f.runner.calls)
	require.Len(t, f.acks.acks, 1)
	ack := ackFields(t, f.acks.acks[0].body)
	assert.Contains(t, ack, "instance", "one Combined ack")
	assert.JSONEq(t, `false`, string(ack["isSystemError"]))
	var act struct {
		ActivationID string         `json:"activationId"`
		Response     proxy.Response `json:"response"`
	}
	require.NoError(t, json.Unmarshal(ack["response"], &act))
	assert.Equal(t, "c7a9e52b1f0d4e3ab9e52b1f0d5e3a77", act.ActivationID)
	assert.Equal(t, proxy.StatusApplicationError, act.Response.StatusCode)
	assert.Equal(t, MsgRequestTooLarge(len(raw), 4096), act.Response.ErrorText())
	rec := f.store.records["guest/c7a9e52b1f0d4e3ab9e52b1f0d5e3a77"]
	require.NotNil(t, rec, "recorded like any answered activation")
}

// Limits outside the system's range are clamped before the action runs; the record shows what applied.
func TestActionLimitsAreClampedToTheSystemRange(t *testing.T) {
	bounds := Limits{MinMemoryMB: 128, MaxMemoryMB: 512, MinTimeout: 100 * time.Millisecond, MaxTimeout: 5 * time.Minute,
		MinLogsMB: 0, MaxLogsMB: 10, MinConcurrency: 1, MaxConcurrency: 1}
	f := newFaultHarness(t, func(c *Config) { c.Limits = bounds })
	a := helloAction(t, 100000)
	a.Limits.MemoryMB, a.Limits.TimeoutMs, a.Limits.Concurrency = 100000, math.MaxInt32, 500
	f.store.actions["guest/hello"] = a
	require.Equal(t, ResultRan, f.path.Process(context.Background(), Item{Value: blockingMsg(t)}))
	job := f.runner.lastJob
	assert.Equal(t, 512, job.Spec.MemoryMB)
	assert.Equal(t, 5*time.Minute, job.Timeout)
	assert.Equal(t, int64(10<<20), job.LogLimit)
	assert.Equal(t, 1, job.Spec.Concurrency)
	limits, ok := f.store.records["guest/c7a9e52b1f0d4e3ab9e52b1f0d5e3a77"].Annotation("limits")
	require.True(t, ok)
	assert.JSONEq(t, `{"timeout":300000,"memory":512,"logs":10,"concurrency":1}`, string(limits))
	assert.Contains(t, f.logs.String(), "clamped")
	assert.Equal(t, 100000, a.Limits.MemoryMB, "the fetched document itself is not changed")
}

func TestLimitsClamp(t *testing.T) {
	b := Limits{MinMemoryMB: 128, MaxMemoryMB: 512, MinTimeout: 100 * time.Millisecond, MaxTimeout: time.Minute,
		MaxLogsMB: 10, MinConcurrency: 1, MaxConcurrency: 4}
	cases := []struct {
		in, want wire.ActionLimits
		changed  []string
	}{
		{wire.ActionLimits{TimeoutMs: 1000, MemoryMB: 256, LogsMB: 5, Concurrency: 2},
			wire.ActionLimits{TimeoutMs: 1000, MemoryMB: 256, LogsMB: 5, Concurrency: 2}, nil},
		{wire.ActionLimits{TimeoutMs: 1, MemoryMB: 1, LogsMB: 0, Concurrency: 0},
			wire.ActionLimits{TimeoutMs: 100, MemoryMB: 128, LogsMB: 0, Concurrency: 1},
			[]string{"memory 1→128", "timeout 1→100", "concurrency 0→1"}},
		{wire.ActionLimits{TimeoutMs: math.MaxInt32, MemoryMB: 100000, LogsMB: 100000, Concurrency: 9},
			wire.ActionLimits{TimeoutMs: 60000, MemoryMB: 512, LogsMB: 10, Concurrency: 4},
			[]string{"memory 100000→512", "timeout 2147483647→60000", "logs 100000→10", "concurrency 9→4"}},
	}
	for _, tc := range cases {
		got, changed := b.Clamp(tc.in)
		assert.Equal(t, tc.want, got)
		assert.Equal(t, tc.changed, changed)
	}
	got, changed := Limits{}.Clamp(wire.ActionLimits{TimeoutMs: math.MaxInt32, MemoryMB: 1 << 20})
	assert.Equal(t, wire.ActionLimits{TimeoutMs: math.MaxInt32, MemoryMB: 1 << 20}, got, "zero bounds clamp nothing")
	assert.Nil(t, changed)
}

// The stall bookkeeping: one notification when the first record starts waiting, one when the last stops,
// whatever the dependencies; and the error says what waits for what.
func TestStallsNotifyTransitionsOnly(t *testing.T) {
	var got []bool
	s := newStalls(func(b bool) { got = append(got, b) })
	t0 := time.Unix(100, 0)
	assert.True(t, s.begin(DependencyKafka, t0))
	assert.False(t, s.begin(DependencyKafka, t0.Add(time.Second)))
	assert.True(t, s.begin(DependencyStore, t0.Add(2*time.Second)))
	err := s.err(t0.Add(3 * time.Second))
	require.ErrorIs(t, err, ErrStalled)
	assert.Equal(t, "activation: answers are waiting: kafka unavailable for 3s (2 records waiting); store unavailable for 1s (1 records waiting)", err.Error())
	assert.Zero(t, s.end(DependencyKafka, t0.Add(4*time.Second)), "one still waits for kafka")
	assert.Equal(t, 5*time.Second, s.end(DependencyKafka, t0.Add(5*time.Second)))
	assert.Equal(t, []bool{true}, got)
	assert.Equal(t, 4*time.Second, s.end(DependencyStore, t0.Add(6*time.Second)))
	assert.Equal(t, []bool{true, false}, got)
	assert.NoError(t, s.err(t0))
	assert.Zero(t, s.end(DependencyStore, t0), "an end without a begin is ignored")
	assert.Equal(t, []bool{true, false}, got)
}
