package pool

import (
	"context"
	"fmt"
	"time"
)

// This file is the Manager's API for the function controller (scheduler) and the invoker: pre-warms,
// suspending and resuming containers, evictions, and the pool's state.

// Prewarm asks the pool to create and initialise a container for spec (the controller's pre-warm of one
// function) with the given /init body and action timeout. It returns the container once it is initialised
// (or at once if the function is already warm). Errors: ErrRejected (no room outside the cold reserve,
// MaxWarm reached, buffer not empty), ErrProvision (start or init failed, or the function's containers keep
// exiting at start: no container while that failure is remembered), ErrClosed, ctx's error.
func (m *Manager) Prewarm(ctx context.Context, spec Spec, initBody []byte, timeout time.Duration) (ContainerID, error) {
	p := &pending{initBody: initBody, timeout: m.timeout(timeout)}
	m.mu.Lock()
	if _, left, paused := m.startFailures.check(m.now(), spec.Key); paused {
		m.mu.Unlock()
		return 0, fmt.Errorf("%w: pre-warm: the function's containers keep exiting at start (not started for %s)",
			ErrProvision, left.Round(time.Second))
	}
	err := m.registerLocked("prewarm", p, Request{Spec: spec, Prewarm: true})
	m.mu.Unlock()
	if err != nil {
		return 0, err
	}
	g, err := m.wait(ctx, p)
	if err != nil {
		return 0, err
	}
	switch g := g.(type) {
	case warmed:
		return g.c, nil
	case rejected:
		return 0, fmt.Errorf("%w: %s", ErrRejected, g.reason)
	case failed:
		if g.Cause == FailShutdown {
			return 0, fmt.Errorf("%w: %s", ErrClosed, g.Reason)
		}
		return 0, fmt.Errorf("%w: pre-warm %s: %s", ErrProvision, g.Cause, g.Reason)
	}
	return 0, fmt.Errorf("%w: unexpected answer %T to a pre-warm", ErrProvision, g)
}

// Suspend freezes container c on the controller's behalf (a stem cell, a warming or an idle container) and
// returns once the freeze was executed. While suspended, c is never handed a run nor evicted.
func (m *Manager) Suspend(ctx context.Context, c ContainerID) error {
	return m.controlAndWait(ctx, Suspend{C: c}, c, true)
}

// Resume undoes Suspend (thaws what Suspend froze; a deferred /init starts) and returns once the thaw was
// executed.
func (m *Manager) Resume(ctx context.Context, c ContainerID) error {
	return m.controlAndWait(ctx, Resume{C: c}, c, true)
}

// Evict removes an idle container at the controller's request. It returns once the removal is scheduled;
// WaitGone waits for it.
func (m *Manager) Evict(ctx context.Context, c ContainerID) error {
	return m.controlAndWait(ctx, Evict{C: c}, c, false)
}

// Rank hands the pool the controller's eviction order (see Rank): the idle containers it would lose first,
// first. It replaces the previous order; containers it does not name are evicted after the named ones, least
// recently used first. The pool applies it to the next evictions; it may evict at once if a buffered request
// waits for memory.
func (m *Manager) Rank(ctx context.Context, order []ContainerID) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	m.stepLocked(Rank{Order: order})
	return nil
}

// controlAndWait steps ev (about container c) and, with wait, returns once the container's lane executed
// what the event scheduled (the Freeze or Thaw).
func (m *Manager) controlAndWait(ctx context.Context, ev Event, c ContainerID, wait bool) error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return ErrClosed
	}
	for _, a := range m.stepLocked(ev) {
		if ig, ok := a.(Ignored); ok {
			m.mu.Unlock()
			if ig.Reason == "unknown container" {
				return fmt.Errorf("container %s: %w", c, ErrUnknownContainer)
			}
			return fmt.Errorf("container %s: %w: %s", c, ErrNotApplicable, ig.Reason)
		}
	}
	if !wait {
		m.mu.Unlock()
		return nil
	}
	done := make(chan struct{})
	if mc := m.conts[c]; mc != nil {
		m.enqueue(mc, func() { close(done) }) // after the Freeze/Thaw just scheduled
	} else {
		close(done)
	}
	m.mu.Unlock()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// WaitGone returns once container c is no longer in the pool (removed, or never known), or ctx ends. It
// waits on the Manager's change signal, not by polling.
func (m *Manager) WaitGone(ctx context.Context, c ContainerID) error {
	for {
		m.mu.Lock()
		_, present := m.pool.containers[c]
		ch := m.changed
		m.mu.Unlock()
		if !present {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Snapshot returns the pool's state (memory per state, containers) for metrics and the scheduler.
func (m *Manager) Snapshot() Snapshot {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.pool.Snapshot()
}

// Container returns what the pool knows of container c.
func (m *Manager) Container(c ContainerID) (ContainerInfo, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.pool.Container(c)
}

// Lookup returns the live containers of key k.
func (m *Manager) Lookup(k Key) []ContainerInfo {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.pool.Lookup(k)
}

// Metrics reports the pool's memory and containers by state and the Stats counters through emit (the
// invoker's metrics registry writes them): name, help and type of the family, the value, labels as
// name/value pairs.
func (m *Manager) Metrics(emit func(name, help, typ string, value float64, labels ...string)) {
	s := m.Snapshot()
	st := m.Stats()
	const memHelp = "Memory held by containers, by state, in bytes."
	emit("nemo_pool_memory_used_bytes", memHelp, "gauge", float64(s.UsedMB)*(1<<20), "state", "all")
	for _, state := range States() {
		emit("nemo_pool_memory_used_bytes", memHelp, "gauge", float64(s.MemoryByState[state])*(1<<20), "state", state.String())
	}
	for _, state := range States() {
		emit("nemo_pool_containers", "Containers, by state.", "gauge", float64(s.CountByState[state]), "state", state.String())
	}
	emit("nemo_pool_containers_died_total", "Containers that stopped outside the pool's control (killed, crashed, "+
		"exited at start, Docker restarted); not the pool's own removals.", "counter", float64(st.Died))
	emit("nemo_pool_rescheduled_total", "Activations moved to another container before the action saw them "+
		"(container gone, unhealthy or exited at start).", "counter", float64(st.Rescheduled))
	emit("nemo_pool_start_refused_total", "Activations answered without a container because their action's "+
		"containers keep exiting at start.", "counter", float64(st.StartRefused))
}
