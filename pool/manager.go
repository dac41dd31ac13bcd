package pool

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/nemo-edge/nemo/invoker/wire"
	"github.com/nemo-edge/nemo/pool/proxy"
)

// Job is what the Manager needs of one activation. Its fields are identical (names, types, order) to the
// activation path's activation.Job, so the lead's adapter converts with (*pool.Job)(job).
type Job struct {
	Msg     *wire.ActivationMessage
	Action  *wire.Action      // fetched, code resolved
	Runtime *wire.RuntimeKind // resolved manifest entry (nil for a non-native blackbox)
	TransID string            // Msg.TransID.ID(), for logs
	Log     zerolog.Logger    // already carries transid
}

// Outcome is the result of one activation. Its fields are identical to activation.Outcome, so
// (*activation.Outcome)(o) converts.
type Outcome struct {
	Response       proxy.Response
	Logs           []string      // formatted lines, filled after log collection
	InitDuration   time.Duration // 0 when no /init ran for this activation
	Start, End     time.Time     // run interval (Start excludes init)
	TimedOut       bool
	WaitStart      time.Time // when /init (or /run if warm) started
	ContainerState string    // "cold" | "prewarmed" | "warm" | "warming"
	Conflict       string    // scheduler state S1..S4 (set by the scheduler, empty here)
}

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
	// DefaultTimeout is the action timeout when an action's limits carry none. Default 60s.
	DefaultTimeout time.Duration
	// DefaultMemoryMB is the memory when an action's limits carry none. Default 256.
	DefaultMemoryMB int
	// MaxReschedules is how often a run is moved to another container when its container broke before
	// /run (thaw failure, stopped outside the pool) or the backend asked for it (RunResult.Reschedule).
	// Default 2.
	MaxReschedules int
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// CPUSetFor, when not nil, gives the cpuset an action's containers are pinned to (by action
	// document id; "" for the backend's default): the NF cores of a configured edge function.
	CPUSetFor func(docID string) string
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
	if c.DefaultMemoryMB <= 0 {
		c.DefaultMemoryMB = 256
	}
	if c.MaxReschedules <= 0 {
		c.MaxReschedules = 2
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Manager drives a Pool against a Backend: it owns the pool behind a mutex, executes its actions with
// deadlines, feeds the results back as events and ticks the pool's timers with a real clock. It is safe for
// concurrent use. Actions of one container are started in the order the pool emitted them; Create, Freeze,
// Thaw and Remove complete before the next action of that container starts, /init and /run run alongside.
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

	hashMu sync.Mutex
	hashes map[string]string // "docid@rev" → action content hash (a revision's content never changes)

	died, rescheduled atomic.Int64 // see Stats
}

// ManagerStats counts what the Manager did about broken containers since it started.
type ManagerStats struct {
	// Died: containers that stopped outside the pool's control (killed, crashed while idle, the engine
	// restarted), as the backend's DeathWatcher reported them.
	Died int64
	// Rescheduled: activations moved to another container because theirs was gone or unhealthy before
	// the action saw them (thaw failure, stopped container, refused connection, HTTP 503).
	Rescheduled int64
}

// Stats returns the counters.
func (m *Manager) Stats() ManagerStats {
	return ManagerStats{Died: m.died.Load(), Rescheduled: m.rescheduled.Load()}
}

// maxCachedHashes bounds the content-hash cache; it is simply emptied when full.
const maxCachedHashes = 4096

// contentHash is a.ContentHash(), computed once per action revision: it re-encodes and hashes the whole
// action, which showed up in profiles when done for every activation.
func (m *Manager) contentHash(a *wire.Action) string {
	if a.Rev == "" {
		return a.ContentHash()
	}
	key := a.DocID() + "@" + a.Rev
	m.hashMu.Lock()
	h, ok := m.hashes[key]
	m.hashMu.Unlock()
	if ok {
		return h
	}
	h = a.ContentHash()
	m.hashMu.Lock()
	if m.hashes == nil || len(m.hashes) >= maxCachedHashes {
		m.hashes = make(map[string]string)
	}
	m.hashes[key] = h
	m.hashMu.Unlock()
	return h
}

// pending is a request the pool knows about, waiting for its answer.
type pending struct {
	id       string
	job      *Job   // nil for a pre-warm
	initBody []byte // pre-warm only
	timeout  time.Duration
	moved    int        // times an unhealthy /init moved this request to another container
	ch       chan grant // capacity 1: exactly one answer per request
}

// grant is the pool's answer to a request.
type grant struct {
	c         ContainerID
	h         Handle
	kind      StartKind
	init      *initInfo // the container's /init, when this request's init ran (or failed)
	broken    bool      // the container broke before /run (thaw failed): reschedule
	warmed    bool
	rejected  string
	failed    *Failed
	createErr error
}

type initInfo struct {
	forID      string
	start, end time.Time
	res        InitResult
	logs       []string
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
	lane      []func()
	laneBusy  bool
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
		conts:      make(map[ContainerID]*mcont),
		pending:    make(map[string]*pending),
		changed:    make(chan struct{}),
		stopTick:   make(chan struct{}),
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
// already removing (ignored) or forgotten (not found).
func (m *Manager) containerDied(name string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, c := range m.conts {
		if c.name != name || c.gone {
			continue
		}
		m.log.Warn().Str("container", name).Msg("container stopped outside the pool's control; destroying it")
		m.died.Add(1)
		c.broken = true
		m.stepLocked(Destroy{C: c.id, Reason: "container stopped"})
		return
	}
}

// ---------------------------------------------------------------------------------------------------------
// Stepping and executing actions

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
			c := m.cont(a)
			if c == nil {
				continue
			}
			m.enqueue(c, func() { m.deliverRun(c, a) })
		case Freeze:
			c := m.cont(a)
			if c == nil {
				continue
			}
			m.enqueue(c, func() { m.doFreeze(c) })
		case Thaw:
			c := m.cont(a)
			if c == nil {
				continue
			}
			m.enqueue(c, func() { m.doThaw(c) })
		case Remove:
			c := m.cont(a)
			if c == nil {
				continue
			}
			m.log.Debug().Str("container", c.name).Str("reason", a.Reason).Msg("removing container")
			m.enqueue(c, func() { m.doRemove(c) })
		case Buffered:
			m.log.Debug().Str("request", a.ID).Msg("request buffered: pool memory full")
		case Reject:
			m.deliver(a.ID, grant{rejected: a.Reason})
		case Failed:
			g := grant{c: a.C, failed: &a}
			if c := m.conts[a.C]; c != nil {
				g.init, g.createErr = c.init, c.createErr
			}
			m.deliver(a.ID, g)
		case Warmed:
			m.deliver(a.ID, grant{c: a.C, warmed: true})
		case Ignored:
			m.log.Debug().Str("event", a.Event).Str("reason", a.Reason).Msg("pool ignored event")
		}
	}
}

// cont returns the driver state of the container an action is about; a miss is a bug, logged and skipped.
func (m *Manager) cont(a Action) *mcont {
	var id ContainerID
	switch a := a.(type) {
	case Init:
		id = a.C
	case Run:
		id = a.C
	case Freeze:
		id = a.C
	case Thaw:
		id = a.C
	case Remove:
		id = a.C
	}
	c := m.conts[id]
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
}

// initContext returns the /init body, action timeout and the job (nil for a pre-warm) of src.
func (m *Manager) initContext(src *pending) ([]byte, time.Duration, *Job, error) {
	if src == nil {
		return nil, m.cfg.DefaultTimeout, nil, errors.New("no request to take the init context from")
	}
	if src.job == nil {
		return src.initBody, src.timeout, nil, nil
	}
	deadline := m.now().Add(src.timeout)
	body, err := wire.InitBody(src.job.Msg, src.job.Action, deadline.UnixMilli())
	return body, src.timeout, src.job, err
}

func (m *Manager) doInit(c *mcont, forID string, src *pending) {
	defer m.wg.Done()
	m.mu.Lock()
	h := c.h
	m.mu.Unlock()
	body, timeout, job, err := m.initContext(src)
	info := &initInfo{forID: forID, start: m.now()}
	if err != nil {
		info.res = InitResult{Response: proxy.ErrorResponse(proxy.StatusWhiskError, proxy.MsgAbnormalInit), Dead: true}
		m.log.Error().Err(err).Str("container", c.name).Msg("cannot build the /init body")
	} else {
		ctx, cancel := context.WithTimeout(m.base, timeout+m.cfg.CallMargin)
		info.res = m.backend.Init(ctx, h, body, timeout)
		switch {
		case !info.res.OK && job != nil:
			// The init error's logs belong to the activation that triggered it (read without sentinels).
			if limit := logLimit(job); limit > 0 {
				lr := m.backend.Logs(ctx, h, limit, false)
				info.logs = lr.Lines
			}
		case info.res.OK && job == nil:
			// A controller pre-warm's init output belongs to no activation: drain it.
			m.backend.Logs(ctx, h, int64(wire.DefaultLogsMB)<<20, false)
		}
		cancel()
	}
	info.end = m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	c.init = info
	if info.res.OK {
		m.stepLocked(Initialized{C: c.id, Duration: info.res.Duration})
		return
	}
	if info.res.Reschedule && job != nil && src.moved < m.cfg.MaxReschedules {
		// Unhealthy container: destroying it puts the requests waiting on it back at the head of the queue.
		src.moved++
		m.rescheduled.Add(1)
		m.log.Warn().Str("container", c.name).Str("request", forID).Int("attempt", src.moved).
			Msg("/init answered 503 (container unhealthy); moving the activation to another container")
		c.broken = true
		m.stepLocked(Destroy{C: c.id, Reason: "unhealthy at /init (503)"})
		return
	}
	m.stepLocked(InitFailed{C: c.id, Reason: responseReason(info.res.Response)})
}

// deliverRun hands a Run to the waiting Run call (after any Thaw before it in the lane).
func (m *Manager) deliverRun(c *mcont, a Run) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := m.pending[a.ID]
	if p == nil {
		m.log.Error().Str("request", a.ID).Msg("run for an unknown request; releasing the container")
		m.stepLocked(RunFinished{C: a.C, ID: a.ID})
		return
	}
	g := grant{c: a.C, h: c.h, kind: a.Start, broken: c.broken || c.gone}
	if c.init != nil && c.init.forID == a.ID {
		g.init = c.init
	}
	p.ch <- g // the Run call forgets p once it reports RunFinished
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

// ---------------------------------------------------------------------------------------------------------
// Activation path

// Run executes one activation (the activation.Runner contract): it gets a container from the pool (warm,
// stem cell or cold; waiting in the run buffer when memory is full), runs /init once per container with this
// activation's context when needed, /run, calls onRunDone (may be nil) right after /run returned, collects
// the logs and tells the pool the run finished (destroying the container on developer/whisk error, timeout,
// dead container or log-collection failure). onRunDone is not called when no /run took place (init or
// start failure: the returned Outcome carries that error).
//
// The error is non-nil only when no container could be provided: ErrProvision (start failure without a
// specific response, container broken too often), ErrRejected (memory above what the pool can ever
// provide), ErrClosed, or ctx's error when ctx ended before a run started.
func (m *Manager) Run(ctx context.Context, job *Job, onRunDone func(*Outcome)) (*Outcome, error) {
	if job == nil || job.Msg == nil || job.Action == nil {
		return nil, fmt.Errorf("%w: job without message or action", ErrProvision)
	}
	spec := m.specFor(job)
	for attempt := 0; ; attempt++ {
		o, retry, err := m.runOnce(ctx, job, spec, onRunDone)
		if !retry {
			return o, err
		}
		if attempt >= m.cfg.MaxReschedules {
			return nil, fmt.Errorf("%w: container broke %d times before /run", ErrProvision, attempt+1)
		}
		m.rescheduled.Add(1)
		job.Log.Warn().Int("attempt", attempt+1).Msg("container broke before /run; rescheduling")
	}
}

// SpecFor returns the pool Spec of an activation (exported for the scheduler, which keys its history the
// same way).
func (m *Manager) SpecFor(job *Job) Spec { return m.specFor(job) }

func (m *Manager) specFor(job *Job) Spec {
	a := job.Action
	hash := m.contentHash(a)
	if b := job.Msg.Action.Binding; b != "" {
		hash += "@" + b // containers are not shared across bindings (OpenWhisk compares the binding too)
	}
	s := Spec{
		Key:         Key{Namespace: job.Msg.User.Namespace.Name, Action: a.FullyQualifiedName(), ContentHash: hash},
		Kind:        a.Exec.Kind,
		Image:       a.Exec.Image,
		MemoryMB:    a.Limits.MemoryMB,
		Concurrency: max(a.Limits.Concurrency, 1),
	}
	if job.Runtime != nil {
		s.Image = job.Runtime.Image
	}
	if m.cfg.CPUSetFor != nil {
		s.CPUSet = m.cfg.CPUSetFor(a.DocID())
	}
	if s.MemoryMB <= 0 {
		s.MemoryMB = m.cfg.DefaultMemoryMB
	}
	return s
}

func (m *Manager) actionTimeout(job *Job) time.Duration {
	if ms := job.Action.Limits.TimeoutMs; ms > 0 {
		return time.Duration(ms) * time.Millisecond
	}
	return m.cfg.DefaultTimeout
}

func logLimit(job *Job) int64 { return int64(job.Action.Limits.LogsMB) << 20 }

// register creates a pending request and steps it into the pool. m.mu must be held.
func (m *Manager) registerLocked(base string, p *pending, req Request) error {
	if m.closed {
		return ErrClosed
	}
	m.seq++
	p.id = base
	if p.id == "" || m.pending[p.id] != nil {
		p.id = fmt.Sprintf("%s~%d", base, m.seq)
	}
	p.ch = make(chan grant, 1)
	m.pending[p.id] = p
	req.ID = p.id
	m.stepLocked(req)
	return nil
}

// wait returns the pool's answer for p, or ctx's error after withdrawing the request.
func (m *Manager) wait(ctx context.Context, p *pending) (grant, error) {
	select {
	case g := <-p.ch:
		return g, nil
	case <-ctx.Done():
	}
	m.mu.Lock()
	m.stepLocked(Cancel{ID: p.id})
	m.mu.Unlock()
	// Exactly one answer comes: the cancellation, or what raced with it (a run already handed out).
	g := <-p.ch
	if g.failed == nil && g.rejected == "" && !g.warmed && g.c != 0 {
		m.finish(p, g.c, false) // a run was handed out: give the container back unused
	}
	return grant{}, ctx.Err()
}

func (m *Manager) finish(p *pending, c ContainerID, destroy bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.pending, p.id)
	m.stepLocked(RunFinished{C: c, ID: p.id, Destroy: destroy})
}

func (m *Manager) runOnce(ctx context.Context, job *Job, spec Spec, onRunDone func(*Outcome)) (o *Outcome, retry bool, err error) {
	timeout := m.actionTimeout(job)
	p := &pending{job: job, timeout: timeout}
	m.mu.Lock()
	err = m.registerLocked(job.Msg.ActivationID, p, Request{Spec: spec})
	m.mu.Unlock()
	if err != nil {
		return nil, false, err
	}
	g, err := m.wait(ctx, p)
	if err != nil {
		return nil, false, err
	}
	switch {
	case g.rejected != "":
		return nil, false, fmt.Errorf("%w: %s", ErrRejected, g.rejected)
	case g.failed != nil:
		return m.failedOutcome(p, g)
	case g.broken:
		m.finish(p, g.c, true)
		return nil, true, nil
	}

	o = &Outcome{ContainerState: string(g.kind)}
	if g.init != nil {
		o.InitDuration = g.init.res.Duration
		o.WaitStart = g.init.start
	}
	runStart := m.now()
	if o.WaitStart.IsZero() {
		o.WaitStart = runStart
	}
	body, err := wire.RunBody(job.Msg, job.Action, runStart.Add(timeout).UnixMilli())
	if err != nil {
		job.Log.Error().Err(err).Msg("cannot build the /run body")
		m.finish(p, g.c, false)
		o.Response = proxy.ErrorResponse(proxy.StatusWhiskError, proxy.MsgAbnormalRun)
		o.Start, o.End = runStart, m.now()
		return o, false, nil
	}
	rctx, cancel := context.WithTimeout(ctx, timeout+m.cfg.CallMargin)
	rr := m.backend.Run(rctx, g.h, body, timeout)
	cancel()
	if rr.Reschedule {
		// The action never saw the request (its container is gone): like a container broken before /run.
		m.finish(p, g.c, true)
		return nil, true, nil
	}
	o.Response, o.Start, o.End, o.TimedOut = rr.Response, rr.Start, rr.End, rr.TimedOut
	if o.Start.IsZero() {
		o.Start = runStart
	}
	if o.End.IsZero() {
		o.End = m.now()
	}
	// Log collection runs alongside the early callback (a blocking activation's Result ack), so the
	// container is free again after the longer of the two, not their sum. The callback runs on this
	// goroutine: the Result is what a blocking caller waits for, so it must not queue behind a new
	// goroutine's start; the logs are only needed for the Completion.
	code := o.Response.StatusCode
	destroy := rr.Dead || rr.TimedOut || code == proxy.StatusDeveloperError || code == proxy.StatusWhiskError
	var logs chan LogResult
	if limit := logLimit(job); limit > 0 {
		waitSentinels := job.Runtime != nil && job.Runtime.SentinelledLogs && code != proxy.StatusDeveloperError
		logs = make(chan LogResult, 1)
		go func() {
			lctx, cancel := context.WithTimeout(ctx, logsTimeout(job)+m.cfg.CallMargin)
			defer cancel()
			logs <- m.backend.Logs(lctx, g.h, limit, waitSentinels)
		}()
	}
	if onRunDone != nil {
		snapshot := *o
		onRunDone(&snapshot)
	}
	if logs != nil {
		lr := <-logs
		o.Logs = lr.Lines
		if lr.Failed {
			destroy = true
		}
	}
	m.finish(p, g.c, destroy)
	return o, false, nil
}

// logsTimeout is OpenWhisk's overall log-collection bound: max(limit MB, 5) × 2 s.
func logsTimeout(job *Job) time.Duration {
	return time.Duration(max(job.Action.Limits.LogsMB, 5)) * 2 * time.Second
}

// failedOutcome turns a Failed answer into the activation's outcome or error.
func (m *Manager) failedOutcome(p *pending, g grant) (*Outcome, bool, error) {
	f := g.failed
	now := m.now()
	switch f.Cause {
	case FailInit:
		o := &Outcome{ContainerState: string(StartWarming), Start: now, End: now, WaitStart: now}
		if g.init != nil {
			o.Response = g.init.res.Response
			o.Start, o.End, o.WaitStart = g.init.start, g.init.end, g.init.start
			if g.init.forID == p.id {
				o.ContainerState = string(StartCold)
				o.InitDuration = g.init.res.Duration
				o.Logs = g.init.logs
			}
		} else {
			o.Response = proxy.ErrorResponse(proxy.StatusDeveloperError, f.Reason)
		}
		return o, false, nil
	case FailStart:
		var ce *CreateError
		if errors.As(g.createErr, &ce) {
			return &Outcome{Response: ce.Response, ContainerState: string(StartCold), Start: now, End: now,
				WaitStart: now}, false, nil
		}
		return nil, false, fmt.Errorf("%w: %s", ErrProvision, f.Reason)
	case FailGone:
		return nil, true, nil
	case FailShutdown:
		return nil, false, fmt.Errorf("%w: %s", ErrClosed, f.Reason)
	default:
		return nil, false, fmt.Errorf("%w: %s (%s)", ErrProvision, f.Reason, f.Cause)
	}
}

// responseReason extracts the error text of an error response for the pool's event log.
func responseReason(r proxy.Response) string {
	var v struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(r.Result, &v) == nil && len(v.Error) > 0 {
		var s string
		if json.Unmarshal(v.Error, &s) == nil {
			return s
		}
		return string(v.Error)
	}
	return fmt.Sprintf("status %d", r.StatusCode)
}

// ---------------------------------------------------------------------------------------------------------
// Scheduler API

// Prewarm asks the pool to create and initialise a container for spec (the controller's pre-warm of one
// function) with the given /init body and action timeout. It returns the container once it is initialised
// (or at once if the function is already warm). Errors: ErrRejected (no room outside the cold reserve,
// MaxWarm reached, buffer not empty), ErrProvision (start or init failed), ErrClosed, ctx's error.
func (m *Manager) Prewarm(ctx context.Context, spec Spec, initBody []byte, timeout time.Duration) (ContainerID, error) {
	if timeout <= 0 {
		timeout = m.cfg.DefaultTimeout
	}
	p := &pending{initBody: initBody, timeout: timeout}
	m.mu.Lock()
	err := m.registerLocked("prewarm", p, Request{Spec: spec, Prewarm: true})
	m.mu.Unlock()
	if err != nil {
		return 0, err
	}
	g, err := m.wait(ctx, p)
	switch {
	case err != nil:
		return 0, err
	case g.warmed:
		return g.c, nil
	case g.rejected != "":
		return 0, fmt.Errorf("%w: %s", ErrRejected, g.rejected)
	case g.failed != nil && g.failed.Cause == FailShutdown:
		return 0, fmt.Errorf("%w: %s", ErrClosed, g.failed.Reason)
	case g.failed != nil:
		return 0, fmt.Errorf("%w: pre-warm %s: %s", ErrProvision, g.failed.Cause, g.failed.Reason)
	}
	return 0, fmt.Errorf("%w: unexpected answer to a pre-warm", ErrProvision)
}

// Suspend freezes container c on the controller's behalf (a stem cell, a warming or an idle container) and
// returns once the freeze was executed. While suspended, c is never handed a run nor evicted.
func (m *Manager) Suspend(ctx context.Context, c ContainerID) error {
	return m.controlAndWait(ctx, Suspend{C: c})
}

// Resume undoes Suspend (thaws what Suspend froze; a deferred /init starts) and returns once the thaw was
// executed.
func (m *Manager) Resume(ctx context.Context, c ContainerID) error {
	return m.controlAndWait(ctx, Resume{C: c})
}

// Evict removes an idle container at the controller's request (asynchronously).
func (m *Manager) Evict(ctx context.Context, c ContainerID) error {
	return m.controlAndWait(ctx, Evict{C: c})
}

func (m *Manager) controlAndWait(ctx context.Context, ev Event) error {
	var c ContainerID
	switch e := ev.(type) {
	case Suspend:
		c = e.C
	case Resume:
		c = e.C
	case Evict:
		c = e.C
	}
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
	if _, ok := ev.(Evict); ok {
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

// Snapshot returns the pool's state (memory per state, containers) for metrics and the scheduler.
func (m *Manager) Snapshot() Snapshot {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.pool.Snapshot()
}

// Lookup returns the live containers of key k.
func (m *Manager) Lookup(k Key) []ContainerInfo {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.pool.Lookup(k)
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
