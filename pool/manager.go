package pool

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

// ManagerConfig configures a Manager. Zero durations take the defaults given.
type ManagerConfig struct {
	// Pool bounds the pool (see Config).
	Pool Config
	// TickInterval is the longest time between two Ticks (timers fire at most this late). Default 1s.
	TickInterval time.Duration
	// CreateTimeout bounds Backend.Create. Default 60s.
	CreateTimeout time.Duration
	// FreezeTimeout bounds Backend.Freeze and Backend.Thaw. Default 10s.
	FreezeTimeout time.Duration
	// RemoveTimeout bounds Backend.Remove. Default 60s.
	RemoveTimeout time.Duration
	// CleanupTimeout bounds Backend.Cleanup at start and at Close. Default 60s.
	CleanupTimeout time.Duration
	// CallMargin is added to the action timeout for the ctx of Init/Run/Logs, so the backend can report a
	// timeout itself before the context expires. Default 5s.
	CallMargin time.Duration
	// DefaultTimeout is the action timeout of a Job (or pre-warm) that carries none. Default 60s.
	DefaultTimeout time.Duration
	// PrewarmLogLimit is how many bytes of a pre-warm's /init output are drained (it belongs to no
	// activation). Default 10 MiB (OpenWhisk's default log limit).
	PrewarmLogLimit int64
	// MaxReschedules bounds how often one activation is moved to another container because its container
	// broke before the action saw it: thaw failure, stopped outside the pool, vanished during /init, the
	// backend asked for it (InitResult/RunResult.Reschedule: refused connection, HTTP 503), or the
	// container exited at start (ErrExitedAtStart, InitResult.Exited). One counter per activation covers
	// every cause. Default 2.
	MaxReschedules int
	// StartFailureBackoff is how long an action whose containers keep exiting at start is not started
	// again after an activation used up its MaxReschedules on it: activations of it meanwhile get the
	// last failure's developer error at once, without a container (no create storm for a crash-looping
	// image). It doubles with every further failure up to MaxStartFailureBackoff and is forgotten when a
	// container of the action initialises. Default 10 s; MaxStartFailureBackoff default 5 min.
	StartFailureBackoff, MaxStartFailureBackoff time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

func (c ManagerConfig) withDefaults() ManagerConfig {
	c.Pool = c.Pool.WithDefaults()
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.TickInterval, time.Second)
	def(&c.CreateTimeout, 60*time.Second)
	def(&c.FreezeTimeout, 10*time.Second)
	def(&c.RemoveTimeout, 60*time.Second)
	def(&c.CleanupTimeout, 60*time.Second)
	def(&c.CallMargin, 5*time.Second)
	def(&c.DefaultTimeout, 60*time.Second)
	if c.PrewarmLogLimit <= 0 {
		c.PrewarmLogLimit = 10 << 20
	}
	if c.MaxReschedules <= 0 {
		c.MaxReschedules = 2
	}
	def(&c.StartFailureBackoff, 10*time.Second)
	def(&c.MaxStartFailureBackoff, 5*time.Minute)
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Manager drives a Pool against a Backend. This file is its executor: it owns the pool behind a mutex,
// executes the pool's actions with deadlines, one lane per container, feeds the outcomes back as events and
// ticks the pool's timers with a real clock. run.go runs activations through it (Run), control.go is the
// scheduler's and the invoker's API (Prewarm, Suspend, Resume, Evict, Snapshot). It is safe for concurrent
// use. Actions of one container are started in the order the pool emitted them; Create, Freeze, Thaw and
// Remove complete before the next action of that container starts, /init and /run run alongside.
type Manager struct {
	cfg     ManagerConfig
	backend Backend
	log     zerolog.Logger
	now     func() time.Time

	base       context.Context // parent of the pool's own backend calls; canceled by Close
	cancelBase context.CancelFunc

	mu       sync.Mutex
	pool     *Pool
	conts    map[ContainerID]*mcont
	pending  map[string]*pending
	seq      uint64
	closed   bool
	changed  chan struct{} // closed and replaced after every step
	stopTick chan struct{}
	wg       sync.WaitGroup // tick loop, lanes, /init calls

	died, rescheduled, startRefused atomic.Int64   // see Stats
	startFailures                   *startFailures // guarded by mu
}

// ManagerStats counts what the Manager did about broken containers since it started.
type ManagerStats struct {
	// Died: containers that stopped outside the pool's control (killed, crashed while idle, the engine
	// restarted), as the backend's DeathWatcher reported them.
	Died int64
	// Rescheduled: activations moved to another container because theirs was gone or unhealthy before
	// the action saw them (thaw failure, stopped container, refused connection, HTTP 503, exited at
	// start).
	Rescheduled int64
	// StartRefused: activations answered from the start-failure memory without a container
	// (StartFailureBackoff).
	StartRefused int64
}

// Stats returns the counters.
func (m *Manager) Stats() ManagerStats {
	return ManagerStats{Died: m.died.Load(), Rescheduled: m.rescheduled.Load(), StartRefused: m.startRefused.Load()}
}

// pending is a request the pool knows about, waiting for its answer.
type pending struct {
	id       string
	job      *Job   // nil for a pre-warm
	initBody []byte // pre-warm only
	timeout  time.Duration
	// rescheduled counts the moves of this activation to another container, whatever the cause (see
	// ManagerConfig.MaxReschedules); it survives re-registration.
	rescheduled int
	ch          chan grant // capacity 1: exactly one answer per registration
}

// mcont is the driver's side of one container.
type mcont struct {
	id        ContainerID
	name      string
	spec      Spec
	src       *pending // init context captured at Create (the request it was created for)
	h         Handle
	createErr error
	init      *initInfo
	broken    bool
	gone      bool
	// removing: the pool ordered its removal, so its stopping is the pool's doing, not a death.
	removing bool
	// exited: it stopped by itself while starting or warming; its /init reports that (InitResult.Exited)
	// instead of the pool destroying it and requeueing its requests.
	exited   bool
	lane     []func()
	laneBusy bool
}

// NewManager validates cfg, removes leftover containers of an earlier run (Backend.Cleanup with the name
// prefix), creates the stem cells and starts the tick loop. Close releases everything.
func NewManager(ctx context.Context, cfg ManagerConfig, backend Backend, log zerolog.Logger) (*Manager, error) {
	if backend == nil {
		return nil, fmt.Errorf("%w: nil backend", ErrConfig)
	}
	if err := cfg.Pool.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	log = log.With().Str("component", "pool").Logger()
	cctx, cancel := context.WithTimeout(ctx, cfg.CleanupTimeout)
	n, err := backend.Cleanup(cctx, cfg.Pool.NamePrefix)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("pool: cleanup of leftover containers: %w", err)
	}
	if n > 0 {
		log.Info().Int("removed", n).Msg("removed leftover action containers")
	}
	base, cancelBase := context.WithCancel(context.WithoutCancel(ctx))
	m := &Manager{
		cfg:        cfg,
		backend:    backend,
		log:        log,
		now:        cfg.Now,
		base:       base,
		cancelBase: cancelBase,
		pool:       New(cfg.Pool, cfg.Now()),

		startFailures: newStartFailures(cfg.StartFailureBackoff, cfg.MaxStartFailureBackoff),
		conts:         make(map[ContainerID]*mcont),
		pending:       make(map[string]*pending),
		changed:       make(chan struct{}),
		stopTick:      make(chan struct{}),
	}
	m.mu.Lock()
	m.stepLocked(Tick{})
	m.mu.Unlock()
	m.wg.Add(1)
	go m.tickLoop()
	if w, ok := backend.(DeathWatcher); ok {
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			w.WatchDeaths(base, cfg.Pool.NamePrefix, m.containerDied)
		}()
	}
	return m, nil
}

// containerDied destroys the container called name, which stopped outside the pool's control. Runs already
// granted on it but not started are rescheduled (the container counts as broken before /run); a run in
// progress ends with whatever /run returns. The pool's own removals also stop containers: those are
// removing (ignored, not counted) or forgotten (not found). A container that stops while it is being
// created or initialised is not destroyed here: its /init reports it (InitResult.Exited), so the
// activation's start is retried a bounded number of times instead of being requeued without end.
func (m *Manager) containerDied(name string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, c := range m.conts {
		if c.name != name || c.gone || c.removing || c.exited {
			continue
		}
		m.died.Add(1)
		if c.init == nil && m.warming(c) {
			c.exited = true
			m.log.Warn().Str("container", name).Msg("container stopped by itself before it was initialised")
			return
		}
		m.log.Warn().Str("container", name).Msg("container stopped outside the pool's control; destroying it")
		c.broken = true
		m.stepLocked(Destroy{C: c.id, Reason: "container stopped"})
		return
	}
}

// warming reports whether the pool has c starting or warming (not yet initialised). m.mu must be held.
func (m *Manager) warming(c *mcont) bool {
	info, ok := m.pool.Container(c.id)
	return ok && (info.State == StateStarting || info.State == StateWarming)
}

// stepLocked feeds ev to the pool and schedules the resulting actions. m.mu must be held.
func (m *Manager) stepLocked(ev Event) []Action {
	acts := m.pool.Step(m.now(), ev)
	m.apply(acts)
	close(m.changed)
	m.changed = make(chan struct{})
	return acts
}

func (m *Manager) apply(acts []Action) {
	for _, a := range acts {
		switch a := a.(type) {
		case Create:
			c := &mcont{id: a.C, name: a.Name, spec: a.Spec, src: m.pending[a.ForID]}
			m.conts[a.C] = c
			m.enqueue(c, func() { m.doCreate(c) })
		case Init:
			c := m.cont(a)
			if c == nil {
				continue
			}
			src := m.pending[a.ForID]
			if src == nil {
				src = c.src
			}
			forID := a.ForID
			m.enqueue(c, func() {
				m.wg.Add(1)
				go m.doInit(c, forID, src)
			})
		case Run:
			if c := m.cont(a); c != nil {
				m.enqueue(c, func() { m.deliverRun(c, a) })
			}
		case Freeze:
			if c := m.cont(a); c != nil {
				m.enqueue(c, func() { m.doFreeze(c) })
			}
		case Thaw:
			if c := m.cont(a); c != nil {
				m.enqueue(c, func() { m.doThaw(c) })
			}
		case Remove:
			if c := m.cont(a); c != nil {
				c.removing = true
				m.log.Debug().Str("container", c.name).Str("reason", a.Reason).Msg("removing container")
				m.enqueue(c, func() { m.doRemove(c) })
			}
		case Buffered:
			m.log.Debug().Str("request", a.ID).Msg("request buffered: pool memory full")
		case Reject:
			m.deliver(a.ID, rejected{reason: a.Reason})
		case Failed:
			f := failed{Failed: a}
			if c := m.conts[a.C]; c != nil {
				f.init, f.createErr = c.init, c.createErr
			}
			m.deliver(a.ID, f)
		case Warmed:
			m.deliver(a.ID, warmed{c: a.C})
		case Ignored:
			m.log.Debug().Str("event", a.Event).Str("reason", a.Reason).Msg("pool ignored event")
		}
	}
}

// cont returns the driver state of the container an action is about; a miss is a bug, logged and skipped.
func (m *Manager) cont(a Action) *mcont {
	c := m.conts[a.Container()]
	if c == nil {
		m.log.Error().Str("action", a.String()).Msg("action for a container the driver does not know")
	}
	return c
}

// deliver gives a terminal answer to request id and forgets it. m.mu must be held.
func (m *Manager) deliver(id string, g grant) {
	p := m.pending[id]
	if p == nil {
		m.log.Error().Str("request", id).Msg("pool answered an unknown request")
		return
	}
	delete(m.pending, id)
	p.ch <- g
}

// enqueue appends op to c's lane and starts the lane if idle. m.mu must be held.
func (m *Manager) enqueue(c *mcont, op func()) {
	c.lane = append(c.lane, op)
	if !c.laneBusy {
		c.laneBusy = true
		m.wg.Add(1)
		go m.runLane(c)
	}
}

func (m *Manager) runLane(c *mcont) {
	defer m.wg.Done()
	for {
		m.mu.Lock()
		if len(c.lane) == 0 {
			c.laneBusy = false
			m.mu.Unlock()
			return
		}
		op := c.lane[0]
		c.lane = c.lane[1:]
		m.mu.Unlock()
		op()
	}
}

func (m *Manager) doCreate(c *mcont) {
	ctx, cancel := context.WithTimeout(m.base, m.cfg.CreateTimeout)
	h, err := m.backend.Create(ctx, c.name, c.spec)
	cancel()
	m.mu.Lock()
	defer m.mu.Unlock()
	if err != nil {
		m.log.Warn().Err(err).Str("container", c.name).Msg("container start failed")
		c.createErr = err
		c.gone = true
		m.stepLocked(StartFailed{C: c.id, Reason: err.Error()})
		delete(m.conts, c.id)
		return
	}
	c.h = h
	m.stepLocked(Started{C: c.id})
	if c.exited && c.spec.Stem {
		// A stem cell gets no /init that would notice: destroy it now (stem cells are retried with backoff).
		c.broken = true
		m.stepLocked(Destroy{C: c.id, Reason: "exited at start"})
	}
}

func (m *Manager) doFreeze(c *mcont) {
	if err := m.freezeThaw(c, m.backend.Freeze); err != nil {
		m.mu.Lock()
		defer m.mu.Unlock()
		m.log.Warn().Err(err).Str("container", c.name).Msg("freeze failed; destroying container")
		m.stepLocked(Destroy{C: c.id, Reason: "freeze failed"})
	}
}

func (m *Manager) doThaw(c *mcont) {
	if err := m.freezeThaw(c, m.backend.Thaw); err != nil {
		m.mu.Lock()
		defer m.mu.Unlock()
		m.log.Warn().Err(err).Str("container", c.name).Msg("thaw failed; destroying container")
		c.broken = true
		m.stepLocked(Destroy{C: c.id, Reason: "thaw failed"})
	}
}

func (m *Manager) freezeThaw(c *mcont, op func(context.Context, Handle) error) error {
	m.mu.Lock()
	h, gone := c.h, c.gone
	m.mu.Unlock()
	if gone || h == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(m.base, m.cfg.FreezeTimeout)
	defer cancel()
	return op(ctx, h)
}

func (m *Manager) doRemove(c *mcont) {
	m.mu.Lock()
	h, gone := c.h, c.gone
	m.mu.Unlock()
	if gone {
		return // creation failed: nothing to remove and the pool already forgot it
	}
	if h != nil {
		// Not m.base: removal must also happen while Close gives up on everything else.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(m.base), m.cfg.RemoveTimeout)
		if err := m.backend.Remove(ctx, h); err != nil {
			m.log.Warn().Err(err).Str("container", c.name).Msg("container removal failed; Cleanup will retry at shutdown")
		}
		cancel()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	c.gone = true
	m.stepLocked(Removed{C: c.id})
	delete(m.conts, c.id)
}

func (m *Manager) tickLoop() {
	defer m.wg.Done()
	t := time.NewTimer(m.cfg.TickInterval)
	defer t.Stop()
	for {
		select {
		case <-m.stopTick:
			return
		case <-t.C:
		}
		m.mu.Lock()
		m.stepLocked(Tick{})
		next := m.cfg.TickInterval
		if d, ok := m.pool.NextDeadline(); ok {
			next = min(next, max(d.Sub(m.now()), time.Millisecond))
		}
		m.mu.Unlock()
		t.Reset(next)
	}
}

// Close shuts the pool down: new work is refused, waiting requests fail, idle containers are removed at once
// and busy ones after their current run; it returns when every container is gone or ctx ends, after a final
// Backend.Cleanup of the name prefix as a safety net.
func (m *Manager) Close(ctx context.Context) error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	m.stepLocked(Shutdown{})
	m.mu.Unlock()
	close(m.stopTick)

	var waitErr error
	for {
		m.mu.Lock()
		empty := len(m.pool.containers) == 0
		ch := m.changed
		m.mu.Unlock()
		if empty {
			break
		}
		select {
		case <-ch:
			continue
		case <-ctx.Done():
			waitErr = fmt.Errorf("pool: close: containers still in use: %w", ctx.Err())
		}
		break
	}
	m.cancelBase() // abort pending creates/inits
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), m.cfg.CleanupTimeout)
	n, err := m.backend.Cleanup(cctx, m.cfg.Pool.NamePrefix)
	cancel()
	if n > 0 {
		m.log.Info().Int("removed", n).Msg("cleanup removed containers at shutdown")
	}
	if waitErr == nil {
		m.wg.Wait()
	}
	if err != nil {
		err = fmt.Errorf("pool: cleanup at shutdown: %w", err)
	}
	return errors.Join(waitErr, err)
}
