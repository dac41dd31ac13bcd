package node

import (
	"context"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/nemo-edge/nemo/invoker/wire"
)

// Health sizes, as OpenWhisk's InvokerHealthManager has them.
const (
	HealthWindow   = 10 // results kept
	HealthFailures = 3  // failures among them that make the invoker unhealthy
)

// FailurePause is the wait after a self-test round that failed before the next one, so a broken container
// engine is not hammered; a passing round is followed by the next at once while the invoker stays unhealthy.
const FailurePause = time.Second

// SelfTest is what Health runs while the invoker is unhealthy (HealthActionTest: the health action; ProbeTest:
// a plain check). Round produces one result: it records it in the Health window itself (a health activation's
// outcome goes through Slots like any other) and reports ok, or fails before producing one (err: the round
// could not run, nothing recorded). Stop releases what the test holds (the test container) once the invoker
// is up or down.
type SelfTest interface {
	Round(ctx context.Context, h *Health) (ok bool, err error)
	Stop(ctx context.Context)
}

// Probe is a plain self-test: nil when the invoker can run an action now.
type Probe func(ctx context.Context) error

// ProbeTest is a SelfTest that records the probe's answer (nil probe: always passes).
func ProbeTest(p Probe) SelfTest { return probeTest{p} }

type probeTest struct{ p Probe }

func (t probeTest) Round(ctx context.Context, h *Health) (bool, error) {
	ok := t.p == nil || t.p(ctx) == nil
	h.Record(ok)
	return ok, nil
}

func (probeTest) Stop(context.Context) {}

// Health is the invoker's status in the resource record, as OpenWhisk's InvokerHealthManager keeps it: down
// while disabled; unhealthy from the start (and from /enable) until the first result; then up while fewer
// than HealthFailures of the last HealthWindow results were failures (whisk errors, failed container starts,
// resumes and client creations), unhealthy otherwise. While unhealthy the self-test runs round after round
// (FailurePause after a failed one); once the invoker is up or down the test stops and frees its container.
// The window is kept across /disable and /enable, as upstream keeps it.
type Health struct {
	test SelfTest
	log  zerolog.Logger

	mu      sync.Mutex
	ring    []bool // true = failure
	next    int
	failing int
	tested  bool // a result arrived since the start or the last /enable
	down    bool
	changed func()
	wake    chan struct{}
}

// NewHealth returns a Health that is unhealthy until test (nil: a test that always passes) gives a result.
func NewHealth(test SelfTest) *Health {
	if test == nil {
		test = ProbeTest(nil)
	}
	return &Health{test: test, ring: make([]bool, HealthWindow), wake: make(chan struct{}, 1), log: zerolog.Nop()}
}

// SetLog sets the logger of the self-test's lines.
func (h *Health) SetLog(l zerolog.Logger) {
	h.mu.Lock()
	h.log = l.With().Str("component", "fpc-health").Logger()
	h.mu.Unlock()
}

// OnChange sets a function called (without locks held) when the status may have changed.
func (h *Health) OnChange(f func()) { h.mu.Lock(); h.changed = f; h.mu.Unlock() }

// Status is the status to publish.
func (h *Health) Status() wire.InvokerStatus {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.statusLocked()
}

func (h *Health) statusLocked() wire.InvokerStatus {
	switch {
	case h.down:
		return wire.InvokerDown
	case !h.tested || h.failing >= HealthFailures:
		return wire.InvokerUnhealthy
	}
	return wire.InvokerUp
}

// Failures is how many of the last HealthWindow results were failures.
func (h *Health) Failures() int { h.mu.Lock(); defer h.mu.Unlock(); return h.failing }

// Record adds one result (ok=false: a whisk error or a failed start, resume or client).
func (h *Health) Record(ok bool) {
	h.mu.Lock()
	before := h.statusLocked()
	if h.ring[h.next] {
		h.failing--
	}
	h.ring[h.next] = !ok
	if !ok {
		h.failing++
	}
	h.next = (h.next + 1) % len(h.ring)
	h.tested = true
	after := h.statusLocked()
	if before == wire.InvokerUp && after == wire.InvokerUnhealthy {
		h.log.Warn().Int("failures", h.failing).Int("window", HealthWindow).
			Msg("invoker unhealthy: too many whisk errors among the last results; self-test restarts")
	}
	f := h.changed
	h.mu.Unlock()
	h.poke()
	if f != nil {
		f()
	}
}

// SetDown marks the invoker disabled (true) or enabled again (false: unhealthy until the self-test gives a
// result).
func (h *Health) SetDown(down bool) {
	h.mu.Lock()
	h.down = down
	if !down {
		h.tested = false
	}
	f := h.changed
	h.mu.Unlock()
	h.poke()
	if f != nil {
		f()
	}
}

func (h *Health) poke() {
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// Run runs the self-test while the invoker is unhealthy and stops it once it is up or down, until ctx ends.
// A round that cannot run (its error is logged) is tried again after retest.
func (h *Health) Run(ctx context.Context, retest time.Duration) {
	running := false
	defer func() {
		if running {
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			h.test.Stop(sctx)
			cancel()
		}
	}()
	for ctx.Err() == nil {
		wait := retest
		if h.Status() == wire.InvokerUnhealthy {
			running = true
			rctx, cancel := context.WithTimeout(ctx, max(retest, 2*time.Minute))
			ok, err := h.test.Round(rctx, h)
			cancel()
			select { // the round's own result poked: not a change to wake up for
			case <-h.wake:
			default:
			}
			switch {
			case err != nil:
				h.mu.Lock()
				log := h.log
				h.mu.Unlock()
				if ctx.Err() == nil {
					log.Error().Err(err).Dur("retry", retest).Msg("self-test could not run")
				}
			case ok:
				wait = 0
			default:
				wait = min(FailurePause, retest)
			}
			if h.Status() != wire.InvokerUnhealthy {
				wait = retest
			}
		}
		if running && h.Status() != wire.InvokerUnhealthy {
			running = false
			sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			h.test.Stop(sctx)
			cancel()
			continue
		}
		if wait == 0 {
			continue
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
		case <-h.wake:
		case <-t.C:
		}
		t.Stop()
	}
}
