package schedtest

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"time"

	"github.com/nemo-edge/nemo/pool"
	"github.com/nemo-edge/nemo/scheduler"
)

// Timing models how long container operations take. Without one (Config.Timing nil) operations complete
// only when the caller says so.
type Timing interface {
	// Create is the time from Create to Started (spec is a stem cell's for an OpenWhisk prewarm container).
	Create(spec pool.Spec) time.Duration
	// Init is the /init time of a container initialised for spec's function.
	Init(spec pool.Spec) time.Duration
	// Run is the run time of one invocation of spec's function.
	Run(spec pool.Spec) time.Duration
}

// RemoveTiming is a Timing whose removals take time. Without it a removal completes within the step that
// started it.
type RemoveTiming interface {
	// Remove is the time from Remove to Removed.
	Remove(a pool.Remove) time.Duration
	// CreateBeside is how much longer a Create takes while the removal of a released container (the pool
	// no longer counts its memory) is still in flight.
	CreateBeside() time.Duration
}

// Config configures an Env. Only Pool is required.
type Config struct {
	// Pool configures the pool (pool.Config defaults apply).
	Pool pool.Config
	// Controller, when set, couples a scheduler.Controller with this configuration.
	Controller *scheduler.Config
	// Timing completes container operations by themselves; nil leaves them to the caller.
	Timing Timing
	// Schedule runs f at time t (never before now); the simulator passes its event heap. Default: the
	// environment's own queue, run by AdvanceTo.
	Schedule func(t time.Time, f func())
	// InitCost is the init time the controller learns from an invocation that did not find its container
	// warm (Measure.Init) and from a pre-warm (PrewarmDone). Default: the container's measured /init
	// (ContainerInfo.InitCost), what the invoker reports.
	InitCost func(c pool.ContainerInfo) time.Duration
	// Log receives the action log, one line at a time. Default: kept for TakeLog.
	Log func(line string)
	// Observe sees every pool step: the event and the actions it produced.
	Observe func(ev pool.Event, acts []pool.Action)
	// Stepped is called at the end of every Step (after its removals and the ends it caused) with its event.
	Stepped func(ev pool.Event)
	// Done is called once per invocation when it is over (Invocation.Outcome says how).
	Done func(inv *Invocation)
	// Prewarmed is called once per pre-warm when it is over: ok (warmed, on container c), rejected (the pool
	// could not place it now) or failed.
	Prewarmed func(id string, c pool.ContainerID, ok, rejected bool)
}

// Outcome says how an invocation ended.
type Outcome string

// Invocation outcomes.
const (
	Pending  Outcome = ""         // not over
	Ran      Outcome = "ran"      // its run finished
	Rejected Outcome = "rejected" // the pool can never serve it
	Failed   Outcome = "failed"   // its container failed (or it was canceled) before it ran
)

// Invocation is one invocation the environment carries.
type Invocation struct {
	ID       string
	Spec     pool.Spec
	Arrival  time.Time
	Decision scheduler.Decision // zero without a controller
	Queued   bool               // it entered the pool's run buffer
	Start    pool.StartKind     // how its run got its container ("" before Run)
	StartAt  time.Time
	C        pool.ContainerID // container of its run
	Outcome  Outcome
	inBuffer bool
	initPaid bool // the run waited for an /init
}

// Stats counts what happened (the simulator's pre-warm figures).
type Stats struct {
	Queued                                   int64 // invocations that entered the run buffer
	Prewarms, PrewarmsDone, PrewarmsRejected int64
	Ignored                                  int64 // pool.Ignored actions
}

// container is what Env models of one container.
type container struct {
	spec     pool.Spec
	created  bool // Started
	initFor  string
	initing  bool
	initGen  int // bumps cancel a scheduled /init completion
	initDue  time.Time
	initLeft time.Duration // /init time left while frozen
	initSpec pool.Spec
	frozen   bool
}

// Env couples a pool.Pool and an optional scheduler.Controller (see the package doc). It is not safe for
// concurrent use.
type Env struct {
	cfg      Config
	now      time.Time
	Pool     *pool.Pool
	Ctrl     *scheduler.Controller // nil without Config.Controller
	Commands map[string]Command    // datadriven directives (Handle); starts as DefaultCommands

	conts    map[pool.ContainerID]*container
	invs     map[string]*Invocation
	prewarms map[string]pool.Spec
	runOn    map[string]pool.ContainerID // manual mode: runs in flight
	removals []pool.ContainerID
	// releasing: released removals in flight (RemoveTiming)
	releasing map[pool.ContainerID]bool
	ended     []string // invocations the pool failed in the current step, to end
	inBuffer  int
	deadline  time.Time // pool timer already scheduled
	timers    bool
	queue     *eventQueue
	stats     Stats
	log       []string
}

// New returns an environment at time start; the pool creates its stem cells on the first step (Tick).
func New(cfg Config, start time.Time) *Env {
	e := &Env{
		cfg:      cfg,
		now:      start,
		conts:    map[pool.ContainerID]*container{},
		invs:     map[string]*Invocation{},
		prewarms: map[string]pool.Spec{},
		runOn:    map[string]pool.ContainerID{},
		Commands: DefaultCommands(),

		releasing: map[pool.ContainerID]bool{},
	}
	if cfg.Controller != nil {
		e.Ctrl = scheduler.NewController(*cfg.Controller)
	}
	if e.cfg.Schedule == nil {
		e.queue = &eventQueue{}
		e.cfg.Schedule = e.queue.push
	}
	if e.cfg.InitCost == nil {
		e.cfg.InitCost = func(c pool.ContainerInfo) time.Duration { return c.InitCost }
	}
	e.Pool = pool.New(cfg.Pool, start)
	pc := e.Pool.Config()
	e.timers = pc.IdleTimeout >= 0 || pc.PauseGrace >= 0 || len(pc.StemCells) > 0
	return e
}

// Now is the environment's clock.
func (e *Env) Now() time.Time { return e.now }

// SetNow moves the clock (never backwards); the simulator sets it before each event it runs.
func (e *Env) SetNow(t time.Time) {
	if t.After(e.now) {
		e.now = t
	}
}

// AdvanceTo runs the environment's own queue up to t, moving the clock to each event's time, then sets the
// clock to t. With Config.Schedule set, the caller's loop runs the events instead.
func (e *Env) AdvanceTo(t time.Time) {
	for e.queue != nil {
		ev, ok := e.queue.popUntil(t)
		if !ok {
			break
		}
		e.SetNow(ev.at)
		ev.fn()
	}
	e.SetNow(t)
}

// Stats returns the counters.
func (e *Env) Stats() Stats { return e.stats }

// Invocation returns the invocation id (nil if unknown).
func (e *Env) Invocation(id string) *Invocation { return e.invs[id] }

func (e *Env) logf(format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	if e.cfg.Log != nil {
		e.cfg.Log(line)
		return
	}
	e.log = append(e.log, line)
}

// TakeLog returns the log lines since the last call (without Config.Log).
func (e *Env) TakeLog() []string {
	out := e.log
	e.log = nil
	return out
}

func (e *Env) at(t time.Time, f func()) {
	if t.Before(e.now) {
		t = e.now
	}
	e.cfg.Schedule(t, f)
}

// ---------------------------------------------------------------------------------------------------------
// Stepping the pool

// Step sends ev to the pool at the current time and executes the resulting actions; removals complete
// after them. It returns the actions of ev's step (not of the removals').
func (e *Env) Step(ev pool.Event) []pool.Action {
	acts := e.poolStep(ev)
	for len(e.removals) > 0 {
		c := e.removals[0]
		e.removals = e.removals[1:]
		delete(e.conts, c)
		e.poolStep(pool.Removed{C: c})
	}
	e.scheduleTimer()
	// Invocations the pool failed are over: the driver's Run returns and tells the controller.
	for len(e.ended) > 0 {
		id := e.ended[0]
		e.ended = e.ended[1:]
		e.end(id, scheduler.Measure{})
	}
	if e.cfg.Stepped != nil {
		e.cfg.Stepped(ev)
	}
	return acts
}

func (e *Env) poolStep(ev pool.Event) []pool.Action {
	acts := e.Pool.Step(e.now, ev)
	for _, a := range acts {
		e.apply(a)
	}
	if e.cfg.Observe != nil {
		e.cfg.Observe(ev, acts)
	}
	return acts
}

// scheduleTimer sends Tick at the pool's next deadline.
func (e *Env) scheduleTimer() {
	if !e.timers {
		return
	}
	t, ok := e.Pool.NextDeadline()
	if !ok || (!e.deadline.IsZero() && !t.Before(e.deadline) && e.deadline.After(e.now)) {
		return
	}
	if !t.After(e.now) {
		t = e.now.Add(time.Millisecond)
	}
	e.deadline = t
	e.at(t, func() {
		if e.deadline.Equal(t) {
			e.deadline = time.Time{}
		}
		e.Step(pool.Tick{})
	})
}

func (e *Env) apply(a pool.Action) {
	e.logf("pool: %s", a)
	e.leftBuffer(a)
	switch a := a.(type) {
	case pool.Create:
		e.conts[a.C] = &container{spec: a.Spec}
		if e.cfg.Timing != nil {
			c := a.C
			d := e.cfg.Timing.Create(a.Spec)
			if rt, ok := e.cfg.Timing.(RemoveTiming); ok && len(e.releasing) > 0 {
				d += rt.CreateBeside()
			}
			e.at(e.now.Add(d), func() { e.Step(pool.Started{C: c}) })
		}
	case pool.Init:
		e.onInit(a)
	case pool.Run:
		e.onRun(a)
	case pool.Freeze:
		e.onFreeze(a.C)
	case pool.Thaw:
		e.onThaw(a.C)
	case pool.Remove:
		if c := e.conts[a.C]; c != nil {
			c.initGen++
			c.initing = false
		}
		if e.Ctrl != nil {
			e.Ctrl.Forget(a.C)
		}
		if rt, ok := e.cfg.Timing.(RemoveTiming); ok {
			c := a.C
			if a.Released {
				e.releasing[c] = true
			}
			e.at(e.now.Add(rt.Remove(a)), func() {
				delete(e.conts, c)
				delete(e.releasing, c)
				e.Step(pool.Removed{C: c})
			})
			break
		}
		e.removals = append(e.removals, a.C)
	case pool.Buffered:
		if inv := e.invs[a.ID]; inv != nil {
			if !inv.Queued {
				inv.Queued = true
				e.stats.Queued++
			}
			if !inv.inBuffer {
				inv.inBuffer = true
				e.inBuffer++
			}
		}
	case pool.Reject:
		if inv := e.invs[a.ID]; inv != nil {
			e.over(inv, Rejected)
		} else if _, ok := e.prewarms[a.ID]; ok {
			e.prewarmOver(a.ID, 0, false, true)
		}
	case pool.Failed:
		if inv := e.invs[a.ID]; inv != nil {
			e.over(inv, Failed)
		} else if _, ok := e.prewarms[a.ID]; ok {
			e.prewarmOver(a.ID, a.C, false, false)
		}
	case pool.Warmed:
		if _, ok := e.prewarms[a.ID]; ok {
			e.prewarmOver(a.ID, a.C, true, false)
		}
	case pool.Ignored:
		e.stats.Ignored++
	}
}

// leftBuffer notes an invocation the pool took out of its run buffer: it got a container (Create, Init or
// Run for it) or failed. One that joins a container already starting leaves silently, counted at its Run.
func (e *Env) leftBuffer(a pool.Action) {
	var id string
	switch a := a.(type) {
	case pool.Create:
		id = a.ForID
	case pool.Init:
		id = a.ForID
	case pool.Run:
		id = a.ID
	case pool.Failed:
		id = a.ID
	case pool.Reject:
		id = a.ID
	default:
		return
	}
	if inv := e.invs[id]; inv != nil && inv.inBuffer {
		inv.inBuffer = false
		e.inBuffer--
	}
}

func (e *Env) onInit(a pool.Init) {
	c := e.conts[a.C]
	if c == nil {
		return
	}
	c.initFor = a.ForID
	c.initing = true
	if inv := e.invs[a.ForID]; inv != nil {
		c.initSpec = inv.Spec
	} else if s, ok := e.prewarms[a.ForID]; ok {
		c.initSpec = s
	} else {
		c.initSpec = c.spec
	}
	if e.cfg.Timing == nil {
		return
	}
	d := e.cfg.Timing.Init(c.initSpec)
	if c.frozen {
		c.initLeft = d
		return
	}
	e.scheduleInit(a.C, c, d)
}

func (e *Env) scheduleInit(id pool.ContainerID, c *container, d time.Duration) {
	c.initGen++
	gen := c.initGen
	c.initDue = e.now.Add(d)
	full := e.cfg.Timing.Init(c.initSpec)
	e.at(c.initDue, func() {
		if c.initGen != gen || !c.initing {
			return
		}
		c.initing = false
		e.Step(pool.Initialized{C: id, Duration: full})
	})
}

func (e *Env) onFreeze(id pool.ContainerID) {
	c := e.conts[id]
	if c == nil || c.frozen {
		return
	}
	c.frozen = true
	if c.initing && e.cfg.Timing != nil {
		c.initGen++ // cancel the scheduled completion
		c.initLeft = c.initDue.Sub(e.now)
	}
}

func (e *Env) onThaw(id pool.ContainerID) {
	c := e.conts[id]
	if c == nil || !c.frozen {
		return
	}
	c.frozen = false
	if c.initing && e.cfg.Timing != nil {
		e.scheduleInit(id, c, c.initLeft)
	}
}

func (e *Env) onRun(a pool.Run) {
	inv := e.invs[a.ID]
	if inv == nil {
		return
	}
	inv.Start, inv.StartAt, inv.C = a.Start, e.now, a.C
	inv.initPaid = a.Start != pool.StartWarm
	if e.cfg.Timing == nil {
		e.runOn[a.ID] = a.C
		return
	}
	id := a.ID
	e.at(e.now.Add(e.cfg.Timing.Run(inv.Spec)), func() { e.finish(id) })
}

// ---------------------------------------------------------------------------------------------------------
// Invocations, pre-warms and the controller

// Invoke lets invocation id of spec arrive now: the controller decides (Begin) and its commands run, the
// ranking is pushed, and the pool gets the request.
func (e *Env) Invoke(id string, spec pool.Spec) *Invocation {
	inv := &Invocation{ID: id, Spec: spec, Arrival: e.now}
	e.invs[id] = inv
	if e.Ctrl != nil {
		d := e.Ctrl.Begin(e.now, id, spec, e.Snapshot())
		inv.Decision = d
		line := "state " + d.State.String()
		if d.WaitFor != 0 {
			line += " wait-for " + d.WaitFor.String()
		}
		e.logf("%s", line)
		e.Exec(d.Commands)
		e.Rank()
	}
	e.Step(pool.Request{ID: id, Spec: spec})
	return inv
}

// Finish ends the run of invocation id now (manual mode): the ranking with its container as the idle one it
// becomes, RunFinished, then End.
func (e *Env) Finish(id string) error {
	if _, ok := e.runOn[id]; !ok {
		return fmt.Errorf("%s is not running", id)
	}
	delete(e.runOn, id)
	e.finish(id)
	return nil
}

func (e *Env) finish(id string) {
	inv := e.invs[id]
	if inv == nil {
		return
	}
	m := scheduler.Measure{Run: e.now.Sub(inv.StartAt), OK: true}
	if ci, ok := e.Pool.Container(inv.C); ok && inv.initPaid {
		m.Init = e.cfg.InitCost(ci) // before RunFinished, which may evict the container
	}
	if e.Ctrl != nil {
		e.Rank(inv.C)
	}
	e.Step(pool.RunFinished{C: inv.C, ID: id})
	e.over(inv, Ran)
	e.end(id, m)
}

// Cancel withdraws invocation id (the caller gave up on it) and ends it.
func (e *Env) Cancel(id string) {
	e.Step(pool.Cancel{ID: id})
	if inv := e.invs[id]; inv != nil && inv.Outcome == Pending {
		e.over(inv, Failed)
	}
	e.end(id, scheduler.Measure{})
}

// over records how inv ended and tells Config.Done; the pool's failures are ended after the step.
func (e *Env) over(inv *Invocation, o Outcome) {
	if inv.Outcome != Pending {
		return
	}
	inv.Outcome = o
	if o != Ran {
		e.ended = append(e.ended, inv.ID)
	}
	if e.cfg.Done != nil {
		e.cfg.Done(inv)
	}
}

// end tells the controller invocation id is over and executes what it returns.
func (e *Env) end(id string, m scheduler.Measure) {
	inv := e.invs[id]
	if inv == nil {
		return
	}
	delete(e.invs, id)
	delete(e.runOn, id)
	if e.Ctrl != nil {
		e.Exec(e.Ctrl.End(e.now, id, m))
		e.Rank()
	}
}

// Tick runs the controller's daemon once and pushes its ranking.
func (e *Env) Tick() {
	if e.Ctrl == nil {
		return
	}
	e.Exec(e.Ctrl.Tick(e.now, e.Snapshot()))
	e.Rank()
}

// Exec executes controller commands against the pool, in order.
func (e *Env) Exec(cmds []scheduler.Command) {
	for _, c := range cmds {
		e.logf("ctrl: %s", c)
		switch c := c.(type) {
		case scheduler.Prewarm:
			e.Prewarm(c.ID, c.Spec)
		case scheduler.Suspend:
			e.Step(pool.Suspend{C: c.C})
		case scheduler.Resume:
			if _, ok := e.Pool.Container(c.C); ok {
				e.Step(pool.Resume{C: c.C})
			}
		case scheduler.Stop:
			e.Step(pool.Evict{C: c.C})
		}
	}
}

// Prewarm asks the pool to pre-warm spec under id.
func (e *Env) Prewarm(id string, spec pool.Spec) {
	e.prewarms[id] = spec
	e.stats.Prewarms++
	e.Step(pool.Request{ID: id, Spec: spec, Prewarm: true})
}

func (e *Env) prewarmOver(id string, c pool.ContainerID, ok, rejected bool) {
	delete(e.prewarms, id)
	switch {
	case ok:
		e.stats.PrewarmsDone++
	case rejected:
		e.stats.PrewarmsRejected++
	}
	if e.Ctrl != nil {
		switch {
		case rejected:
			e.Ctrl.PrewarmRejected(e.now, id)
		case ok:
			var init time.Duration
			if ci, found := e.Pool.Container(c); found {
				init = e.cfg.InitCost(ci)
			}
			e.Ctrl.PrewarmDone(e.now, id, true, init)
		default:
			e.Ctrl.PrewarmDone(e.now, id, false, 0)
		}
		e.Rank()
	}
	if e.cfg.Prewarmed != nil {
		e.cfg.Prewarmed(id, c, ok, rejected)
	}
}

// Evict asks the pool to remove idle container c.
func (e *Env) Evict(c pool.ContainerID) { e.Step(pool.Evict{C: c}) }

// Rank pushes the controller's eviction ranking into the pool, with the containers in ending ranked as the
// idle containers they are about to become (Controller.Ranking). Without a controller it does nothing; use
// RankOrder.
func (e *Env) Rank(ending ...pool.ContainerID) {
	if e.Ctrl == nil {
		return
	}
	e.Step(e.Ctrl.Ranking(e.now, e.Snapshot(), ending...))
}

// RankOrder pushes an eviction order of the caller's (a simulated policy's ranking).
func (e *Env) RankOrder(order []pool.ContainerID) { e.Step(pool.Rank{Order: order}) }

// ---------------------------------------------------------------------------------------------------------
// Views

// bufferedMarker stands for a non-empty run buffer in Snapshot.
var bufferedMarker = []string{"(run buffer not empty)"}

// Snapshot is the pool's state as the controller sees it: the containers in id order, and the run buffer
// reduced to a marker when it is not empty (controllers only ask whether it is; copying a long backlog on
// every decision would dominate a simulation).
func (e *Env) Snapshot() pool.Snapshot {
	cfg := e.Pool.Config()
	s := pool.Snapshot{At: e.now, UserMemoryMB: cfg.UserMemoryMB, ColdReserveMB: cfg.ColdReserveMB,
		MaxWarm: cfg.MaxWarm, UsedMB: e.Pool.UsedMB()}
	if e.inBuffer > 0 {
		s.Buffered = bufferedMarker
	}
	ids := make([]pool.ContainerID, 0, len(e.conts))
	for c := range e.conts {
		ids = append(ids, c)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for _, c := range ids {
		if ci, ok := e.Pool.Container(c); ok {
			s.Containers = append(s.Containers, ci)
			s.CountByState[ci.State]++
			s.MemoryByState[ci.State] += ci.MemoryMB
			if !ci.Key.IsZero() && ci.State != pool.StateRemoving {
				s.WarmContainers++
			}
		}
	}
	return s
}

// Open lists the invocations not over, by id.
func (e *Env) Open() []string { return slices.Sorted(maps.Keys(e.invs)) }

// Running lists the invocations whose run is in flight (manual mode), by id.
func (e *Env) Running() []string { return slices.Sorted(maps.Keys(e.runOn)) }

// Starting lists the containers whose Create awaits Started or StartFailed (manual mode), by id.
func (e *Env) Starting() []pool.ContainerID {
	var out []pool.ContainerID
	for id, c := range e.conts {
		if ci, ok := e.Pool.Container(id); ok && ci.State == pool.StateStarting && !c.created {
			out = append(out, id)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// Initialising lists the containers whose /init is in flight and not frozen (manual mode), by id.
func (e *Env) Initialising() []pool.ContainerID {
	var out []pool.ContainerID
	for id, c := range e.conts {
		if c.initing && !c.frozen {
			if ci, ok := e.Pool.Container(id); ok && ci.State == pool.StateWarming {
				out = append(out, id)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// ---------------------------------------------------------------------------------------------------------
// Completions the caller reports (manual mode; also usable with a Timing to inject failures)

// Started reports that container c started.
func (e *Env) Started(c pool.ContainerID) {
	if mc := e.conts[c]; mc != nil {
		mc.created = true
	}
	e.Step(pool.Started{C: c})
}

// StartFailed reports that creating container c failed.
func (e *Env) StartFailed(c pool.ContainerID, reason string) {
	if mc := e.conts[c]; mc != nil {
		mc.created = true
		delete(e.conts, c)
	}
	e.Step(pool.StartFailed{C: c, Reason: reason})
}

// Initialized reports that /init on c succeeded after d.
func (e *Env) Initialized(c pool.ContainerID, d time.Duration) {
	if mc := e.conts[c]; mc != nil {
		mc.initing = false
		mc.initGen++
	}
	e.Step(pool.Initialized{C: c, Duration: d})
}

// InitFailed reports that /init on c failed.
func (e *Env) InitFailed(c pool.ContainerID, reason string) {
	if mc := e.conts[c]; mc != nil {
		mc.initing = false
		mc.initGen++
	}
	e.Step(pool.InitFailed{C: c, Reason: reason})
}

// Kill reports that container c stopped outside the pool (what the invoker's death watcher reports).
func (e *Env) Kill(c pool.ContainerID) { e.Step(pool.Destroy{C: c, Reason: "container stopped"}) }

// ---------------------------------------------------------------------------------------------------------
// The environment's own event queue (when Config.Schedule is not given)

type queued struct {
	at  time.Time
	seq uint64
	fn  func()
}

type eventQueue struct {
	seq    uint64
	events []queued
}

func (q *eventQueue) push(t time.Time, f func()) {
	q.seq++
	q.events = append(q.events, queued{at: t, seq: q.seq, fn: f})
}

// popUntil removes and returns the earliest event at or before t (ties in scheduling order).
func (q *eventQueue) popUntil(t time.Time) (queued, bool) {
	best := -1
	for i, ev := range q.events {
		if ev.at.After(t) {
			continue
		}
		if best < 0 || ev.at.Before(q.events[best].at) ||
			(ev.at.Equal(q.events[best].at) && ev.seq < q.events[best].seq) {
			best = i
		}
	}
	if best < 0 {
		return queued{}, false
	}
	ev := q.events[best]
	q.events = append(q.events[:best], q.events[best+1:]...)
	return ev, true
}
