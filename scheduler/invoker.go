package scheduler

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/nemo-edge/nemo/pool"
)

// Manager is the part of pool.Manager the Invoker drives.
type Manager interface {
	Run(ctx context.Context, job *pool.Job, onRunDone func(*pool.Outcome)) (*pool.Outcome, error)
	Prewarm(ctx context.Context, spec pool.Spec, initBody []byte, timeout time.Duration) (pool.ContainerID, error)
	Suspend(ctx context.Context, c pool.ContainerID) error
	Resume(ctx context.Context, c pool.ContainerID) error
	Evict(ctx context.Context, c pool.ContainerID) error
	Rank(ctx context.Context, order []pool.ContainerID) error
	Container(c pool.ContainerID) (pool.ContainerInfo, bool)
	Snapshot() pool.Snapshot
}

// Harvester opens a slack-harvest session (NIC coalescing + Click burst) for
// the duration of an invocation or a warming; release ends it.
type Harvester interface {
	Begin(ctx context.Context, reason string) (release func())
}

// NoopHarvester harvests nothing (machines without NFs, tests).
type NoopHarvester struct{}

// Begin implements Harvester.
func (NoopHarvester) Begin(context.Context, string) func() { return func() {} }

// ErrNotStarted is returned by Invoker.Run before Start.
var ErrNotStarted = errors.New("scheduler: invoker not started")

// InvokerConfig configures an Invoker.
type InvokerConfig struct {
	// Controller tunes the decisions (see Config).
	Controller Config
	// ControlTimeout bounds each Suspend/Resume/Evict call. Default 10 s.
	ControlTimeout time.Duration
	// PrewarmTimeout is the /init timeout of a pre-warm. Default 60 s.
	PrewarmTimeout time.Duration
	// SourceTTL is how long the /init context of a function's last
	// invocation is kept for pre-warming it after the function was last
	// invoked; MaxSources bounds how many functions' contexts are kept
	// (least recently invoked dropped first). A function without one is not
	// pre-warmed until it is invoked again. Defaults 24 h and 1024.
	SourceTTL  time.Duration
	MaxSources int
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// DefaultInvokerConfig is the driver's configuration with every default filled in (the controller's
// included); the invoker's configuration file starts from it.
func DefaultInvokerConfig() InvokerConfig {
	c := InvokerConfig{}.withDefaults()
	c.Controller = DefaultConfig()
	return c
}

func (c InvokerConfig) withDefaults() InvokerConfig {
	if c.ControlTimeout <= 0 {
		c.ControlTimeout = 10 * time.Second
	}
	if c.PrewarmTimeout <= 0 {
		c.PrewarmTimeout = 60 * time.Second
	}
	if c.SourceTTL <= 0 {
		c.SourceTTL = 24 * time.Hour
	}
	if c.MaxSources <= 0 {
		c.MaxSources = 1024
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Invoker is NEMO's function controller in the invoker: it implements the
// activation path's Runner (Run) over a pool Manager, wraps every invocation
// and warming in a harvest session, runs the pre-warm daemon, and pushes the
// controller's eviction ranking into the pool (Manager.Rank) before each
// invocation reaches it and after every tick, pre-warm and invocation end.
// It never calls the Manager with i.mu held, and the Manager never calls it.
type Invoker struct {
	cfg  InvokerConfig
	h    Harvester
	log  zerolog.Logger
	mu   sync.Mutex
	ctrl *Controller
	// sources hold, per function, the /init context of its latest invocation (a pre-warm initialises with
	// it); pruned by SourceTTL and MaxSources.
	sources map[pool.Key]prewarmSource
	seq     uint64

	mgr Manager
	// heldBack is set by the harvester's QoS guard (SuspendPrewarms): no pre-warm starts while an NF
	// is degraded; invocations are not affected.
	heldBack bool
	cancel   context.CancelFunc
	ctx      context.Context
	wg       sync.WaitGroup
}

// NewInvoker returns an Invoker; Start it with the Manager.
func NewInvoker(cfg InvokerConfig, h Harvester, log zerolog.Logger) *Invoker {
	cfg = cfg.withDefaults()
	if h == nil {
		h = NoopHarvester{}
	}
	return &Invoker{
		cfg:     cfg,
		h:       h,
		log:     log.With().Str("component", "scheduler").Logger(),
		ctrl:    NewController(cfg.Controller),
		sources: map[pool.Key]prewarmSource{},
	}
}

// Start binds the Manager and starts the pre-warm daemon until ctx ends or
// Close.
func (i *Invoker) Start(ctx context.Context, mgr Manager) {
	ctx, cancel := context.WithCancel(ctx)
	i.mu.Lock()
	i.mgr, i.ctx, i.cancel = mgr, ctx, cancel
	i.mu.Unlock()
	i.wg.Add(1)
	go i.daemon(ctx)
}

// Close stops the daemon and waits for pre-warms in flight to return.
func (i *Invoker) Close() {
	i.mu.Lock()
	cancel := i.cancel
	i.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	i.wg.Wait()
}

// Counts returns the per-state counters (S1..S4-2).
func (i *Invoker) Counts() map[State]int64 {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.ctrl.Counts()
}

// Metrics reports the state counters and what is in flight through emit (the invoker's metrics registry
// writes them): name, help and type of the family, the value, labels as name/value pairs.
func (i *Invoker) Metrics(emit func(name, help, typ string, value float64, labels ...string)) {
	counts := i.Counts()
	i.mu.Lock()
	invs, pws := i.ctrl.InFlight()
	i.mu.Unlock()
	for _, s := range AllStates() {
		emit("nemo_scheduler_state_total", "Invocations (S2..S4-2) and pre-warms (S1) per thread-management state.",
			"counter", float64(counts[s]), "state", s.String())
	}
	emit("nemo_scheduler_prewarms_in_flight", "Pre-warms started and not finished.", "gauge", float64(pws))
	emit("nemo_scheduler_invocations_in_flight", "Invocations started and not finished.", "gauge", float64(invs))
}

// Run executes one activation (the activation.Runner contract, with pool's
// identical Job/Outcome types): controller decision, suspension of
// conflicting pre-warms, harvest session around the pool's run, history
// update, resumption. Outcome.Conflict carries the state.
func (i *Invoker) Run(ctx context.Context, job *pool.Job, onRunDone func(*pool.Outcome)) (*pool.Outcome, error) {
	i.mu.Lock()
	mgr := i.mgr
	i.mu.Unlock()
	if mgr == nil {
		return nil, ErrNotStarted
	}
	if job == nil || job.InitBody == nil {
		return mgr.Run(ctx, job, onRunDone) // the pool reports the bad job
	}
	spec := job.Spec
	snap := mgr.Snapshot()
	i.mu.Lock()
	i.seq++
	id := fmt.Sprintf("%s#%d", job.ID, i.seq)
	i.sources[spec.Key] = prewarmSource{initBody: job.InitBody, lastUsed: i.cfg.Now()}
	d := i.ctrl.Begin(i.cfg.Now(), id, spec, snap)
	i.mu.Unlock()
	log := job.Log.With().Str("component", "scheduler").Str("state", d.State.String()).Logger()

	// End runs whatever happens below (panics included), so holds are
	// always released.
	var out *pool.Outcome
	var err error
	defer func() {
		m := Measure{OK: err == nil && out != nil}
		if out != nil {
			m.Init = out.InitDuration
			if out.End.After(out.Start) {
				m.Run = out.End.Sub(out.Start)
			}
		}
		i.mu.Lock()
		cmds := i.ctrl.End(i.cfg.Now(), id, m)
		i.mu.Unlock()
		i.exec(context.WithoutCancel(ctx), mgr, cmds, log)
		i.rank(context.WithoutCancel(ctx), mgr, log)
	}()

	i.exec(ctx, mgr, d.Commands, log)
	i.rank(ctx, mgr, log)
	// The run's container turns idle when the pool learns the run finished, which may evict at once for a
	// buffered request: rank it as idle before that (Controller.Ranking).
	runDone := func(o *pool.Outcome) {
		if onRunDone != nil {
			onRunDone(o)
		}
		if o.Container != 0 {
			i.rank(ctx, mgr, log, o.Container)
		}
	}
	release := i.h.Begin(ctx, "invoke")
	out, err = mgr.Run(ctx, job, runDone)
	release()
	if out != nil {
		out.Conflict = d.State.String()
	}
	log.Debug().Err(err).Msg("invocation done")
	return out, err
}

// exec executes controller commands in order (pre-warms start in the
// background). Failures are logged and reported back so state stays
// consistent.
func (i *Invoker) exec(ctx context.Context, mgr Manager, cmds []Command, log zerolog.Logger) {
	for _, c := range cmds {
		switch c := c.(type) {
		case Suspend:
			cctx, cancel := context.WithTimeout(ctx, i.cfg.ControlTimeout)
			err := mgr.Suspend(cctx, c.C)
			cancel()
			if err != nil {
				log.Warn().Err(err).Str("container", c.C.String()).Msg("cannot suspend pre-warm")
				i.mu.Lock()
				i.ctrl.Forget(c.C)
				i.mu.Unlock()
			}
		case Resume:
			cctx, cancel := context.WithTimeout(ctx, i.cfg.ControlTimeout)
			err := mgr.Resume(cctx, c.C)
			cancel()
			if err != nil && !errors.Is(err, pool.ErrUnknownContainer) && !errors.Is(err, pool.ErrNotApplicable) {
				log.Warn().Err(err).Str("container", c.C.String()).Msg("cannot resume pre-warm")
			}
		case Stop:
			cctx, cancel := context.WithTimeout(ctx, i.cfg.ControlTimeout)
			err := mgr.Evict(cctx, c.C)
			cancel()
			if err != nil {
				// Not idle any more (an invocation took it) or gone: the next command sees it in the pool.
				log.Debug().Err(err).Str("container", c.C.String()).Msg("stop not applied")
			}
		case Prewarm:
			i.wg.Add(1)
			go i.prewarm(mgr, c, log)
		}
	}
}

// rank pushes the controller's eviction order for the pool's current idle
// containers, and those whose run is ending (Controller.Ranking), into the
// pool.
func (i *Invoker) rank(ctx context.Context, mgr Manager, log zerolog.Logger, ending ...pool.ContainerID) {
	snap := mgr.Snapshot()
	i.mu.Lock()
	r := i.ctrl.Ranking(i.cfg.Now(), snap, ending...)
	i.mu.Unlock()
	cctx, cancel := context.WithTimeout(ctx, i.cfg.ControlTimeout)
	defer cancel()
	if err := mgr.Rank(cctx, r.Order); err != nil {
		log.Debug().Err(err).Msg("eviction ranking not applied")
	}
}

func (i *Invoker) prewarm(mgr Manager, p Prewarm, log zerolog.Logger) {
	defer i.wg.Done()
	i.mu.Lock()
	src, known := i.sources[p.Spec.Key]
	ctx := i.ctx
	i.mu.Unlock()
	fail := func(rejected bool, err error) {
		i.mu.Lock()
		if rejected {
			i.ctrl.PrewarmRejected(i.cfg.Now(), p.ID)
		} else {
			i.ctrl.PrewarmDone(i.cfg.Now(), p.ID, false, 0)
		}
		i.mu.Unlock()
		log.Debug().Err(err).Str("function", p.Spec.Key.String()).Msg("pre-warm not done")
		i.rank(ctx, mgr, log)
	}
	if !known {
		fail(false, errors.New("no recent invocation to build the /init body from"))
		return
	}
	body, err := src.initBody(i.cfg.Now().Add(i.cfg.PrewarmTimeout))
	if err != nil {
		fail(false, err)
		return
	}
	release := i.h.Begin(ctx, "prewarm")
	c, err := mgr.Prewarm(ctx, p.Spec, body, i.cfg.PrewarmTimeout)
	release()
	if err != nil {
		fail(errors.Is(err, pool.ErrRejected), err)
		return
	}
	var init time.Duration
	if ci, ok := mgr.Container(c); ok {
		init = ci.InitCost
	}
	i.mu.Lock()
	i.ctrl.PrewarmDone(i.cfg.Now(), p.ID, true, init)
	i.mu.Unlock()
	i.rank(ctx, mgr, log)
}

func (i *Invoker) daemon(ctx context.Context) {
	defer i.wg.Done()
	t := time.NewTicker(i.ctrl.Config().Tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		i.mu.Lock()
		mgr := i.mgr
		i.mu.Unlock()
		snap := mgr.Snapshot()
		i.mu.Lock()
		i.pruneSourcesLocked()
		cmds := i.ctrl.Tick(i.cfg.Now(), snap)
		if i.heldBack {
			cmds = i.dropPrewarmsLocked(cmds)
		}
		i.mu.Unlock()
		i.exec(ctx, mgr, cmds, i.log)
		i.rank(ctx, mgr, i.log)
	}
}

// SuspendPrewarms implements the harvester's Backoff: its QoS guard saw an NF degrade while harvesting
// or EF load coincided, so the daemon starts no pre-warm until ResumePrewarms. Pre-warms already in
// flight finish; invocations always run.
func (i *Invoker) SuspendPrewarms(ctx context.Context) {
	i.mu.Lock()
	defer i.mu.Unlock()
	if !i.heldBack {
		i.heldBack = true
		i.log.Warn().Msg("network function degraded: pre-warming held back")
	}
}

// ResumePrewarms ends SuspendPrewarms.
func (i *Invoker) ResumePrewarms(ctx context.Context) {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.heldBack {
		i.heldBack = false
		i.log.Info().Msg("network functions healthy again: pre-warming resumes")
	}
}

// dropPrewarmsLocked removes the Prewarm commands of a tick and tells the controller they were not
// done, so its bookkeeping does not wait for them.
func (i *Invoker) dropPrewarmsLocked(cmds []Command) []Command {
	kept := cmds[:0]
	for _, c := range cmds {
		if p, ok := c.(Prewarm); ok {
			i.ctrl.PrewarmRejected(i.cfg.Now(), p.ID)
			continue
		}
		kept = append(kept, c)
	}
	return kept
}

// prewarmSource is what the Invoker keeps of a function's latest invocation to pre-warm it.
type prewarmSource struct {
	initBody func(deadline time.Time) ([]byte, error)
	lastUsed time.Time
}

// pruneSourcesLocked drops the /init contexts of functions not invoked for SourceTTL, then the least
// recently invoked ones above MaxSources: they hold the activation's message and the action's code.
func (i *Invoker) pruneSourcesLocked() {
	now := i.cfg.Now()
	for k, s := range i.sources {
		if now.Sub(s.lastUsed) > i.cfg.SourceTTL {
			delete(i.sources, k)
		}
	}
	for len(i.sources) > i.cfg.MaxSources {
		var oldest pool.Key
		var at time.Time
		for k, s := range i.sources {
			if at.IsZero() || s.lastUsed.Before(at) {
				oldest, at = k, s.lastUsed
			}
		}
		delete(i.sources, oldest)
	}
}
