package node

import (
	"context"
	"sync"
	"time"

	"github.com/nemo-edge/nemo/invoker/wire"
)

// Health sizes, as OpenWhisk's InvokerHealthManager has them.
const (
	HealthWindow   = 10 // results kept
	HealthFailures = 3  // failures among them that make the invoker unhealthy
)

// Probe is the self-test: nil when the invoker can run an action now.
type Probe func(ctx context.Context) error

// Health is the invoker's status in the resource record: down while disabled; otherwise unhealthy until the
// self-test passes and whenever HealthFailures of the last HealthWindow results were whisk errors (failed
// container starts, resumes and client creations count too), up otherwise. While unhealthy, the self-test
// runs again every retest period; a pass clears the window.
type Health struct {
	probe Probe

	mu      sync.Mutex
	ring    []bool // true = failure
	next    int
	failing int
	tested  bool
	down    bool
	changed func()
}

// NewHealth returns a Health that is unhealthy until probe passes (nil: a probe that always passes).
func NewHealth(probe Probe) *Health {
	if probe == nil {
		probe = func(context.Context) error { return nil }
	}
	return &Health{probe: probe, ring: make([]bool, HealthWindow)}
}

// OnChange sets a function called (without locks held) when the status may have changed.
func (h *Health) OnChange(f func()) { h.mu.Lock(); h.changed = f; h.mu.Unlock() }

// Status is the status to publish.
func (h *Health) Status() wire.InvokerStatus {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case h.down:
		return wire.InvokerDown
	case !h.tested || h.failing >= HealthFailures:
		return wire.InvokerUnhealthy
	}
	return wire.InvokerUp
}

// Record adds one result (ok=false: a whisk error or a failed start, resume or client).
func (h *Health) Record(ok bool) {
	h.mu.Lock()
	if h.ring[h.next] {
		h.failing--
	}
	h.ring[h.next] = !ok
	if !ok {
		h.failing++
	}
	h.next = (h.next + 1) % len(h.ring)
	f := h.changed
	h.mu.Unlock()
	if f != nil {
		f()
	}
}

// SetDown marks the invoker disabled (true) or enabled again (false: unhealthy until the self-test passes).
func (h *Health) SetDown(down bool) {
	h.mu.Lock()
	h.down = down
	if !down {
		h.tested = false
	}
	f := h.changed
	h.mu.Unlock()
	if f != nil {
		f()
	}
}

// Run runs the self-test at once and again every retest while the invoker is unhealthy, until ctx ends.
func (h *Health) Run(ctx context.Context, retest time.Duration) {
	for {
		if h.Status() == wire.InvokerUnhealthy {
			pctx, cancel := context.WithTimeout(ctx, retest)
			err := h.probe(pctx)
			cancel()
			if err == nil {
				h.mu.Lock()
				h.tested = true
				for i := range h.ring {
					h.ring[i] = false
				}
				h.failing = 0
				f := h.changed
				h.mu.Unlock()
				if f != nil {
					f()
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(retest):
		}
	}
}
