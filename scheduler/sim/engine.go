package sim

import (
	"container/heap"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/nemo-edge/nemo/pool"
)

// Setup is the machine and timing model shared by every policy of a run.
type Setup struct {
	// UserMemoryMB is the pool's memory. Default 2048.
	UserMemoryMB int
	// ContainerMB is the memory of every container; 0 uses the trace's
	// per-function memory (rounded up to 1 MB, at least 16 MB). Default 256.
	ContainerMB int
	// ColdReserveMB and MaxWarm are NEMO's bounds (the baselines use the
	// whole memory, as OpenWhisk and FaasCache do). Defaults 512 and 6.
	ColdReserveMB int
	MaxWarm       int
	// StartShare is the share of a function's cold extra spent creating the
	// container (the rest is /init). It matters only for OpenWhisk stem
	// cells, which skip creation. Default 0.3.
	StartShare float64
	// Kind is the runtime kind every simulated function uses (so stem cells
	// match all of them). Default "nodejs:14".
	Kind string
}

func (s Setup) withDefaults() Setup {
	if s.UserMemoryMB <= 0 {
		s.UserMemoryMB = 2048
	}
	if s.ContainerMB < 0 {
		s.ContainerMB = 0
	} else if s.ContainerMB == 0 {
		s.ContainerMB = 256
	}
	if s.ColdReserveMB == 0 {
		s.ColdReserveMB = 512
	}
	if s.MaxWarm == 0 {
		s.MaxWarm = 6
	}
	if s.StartShare <= 0 || s.StartShare >= 1 {
		s.StartShare = 0.3
	}
	if s.Kind == "" {
		s.Kind = "nodejs:14"
	}
	return s
}

var bufferedMarker = []string{"(run buffer not empty)"}

// Epoch is the simulated wall-clock time of offset 0.
var Epoch = time.Date(2019, 7, 1, 8, 0, 0, 0, time.UTC)

type event struct {
	at  time.Time
	seq uint64
	fn  func()
}

type eventHeap []*event

func (h eventHeap) Len() int { return len(h) }
func (h eventHeap) Less(i, j int) bool {
	if !h[i].at.Equal(h[j].at) {
		return h[i].at.Before(h[j].at)
	}
	return h[i].seq < h[j].seq
}
func (h eventHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *eventHeap) Push(x any)   { *h = append(*h, x.(*event)) }
func (h *eventHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

type simContainer struct {
	fn        int // -1: stem cell not yet taken
	initGen   int
	initDue   time.Time
	initLeft  time.Duration // remaining init while frozen
	initFn    int
	initing   bool
	frozen    bool
	createdAt time.Time
}

// FunctionCounts is one function's share of the results.
type FunctionCounts struct {
	Served, Cold int64
	Added        time.Duration
}

type simInv struct {
	fn       int
	arrival  time.Time
	queued   bool
	inBuffer bool
	start    pool.StartKind
	startAt  time.Time
	c        pool.ContainerID
	done     bool
}

// policyHooks is what a policy plugs into the engine.
type policyHooks interface {
	// setup returns the pool configuration for this policy.
	poolConfig(s Setup) pool.Config
	// attach is called once, before the first event.
	attach(e *engine)
	// arrival is called when invocation id of fn arrives, before the pool
	// sees it.
	arrival(e *engine, id string, fn int)
	// finished is called after the pool processed RunFinished of id.
	finished(e *engine, id string, inv *simInv)
	// prewarmed reports the end of a pre-warm request (ok=false: rejected or
	// failed; rejected tells which).
	prewarmed(e *engine, id string, c pool.ContainerID, ok, rejected bool)
}

type engine struct {
	setup    Setup
	w        *Workload
	p        *pool.Pool
	pol      policyHooks
	now      time.Time
	seq      uint64
	events   eventHeap
	conts    map[pool.ContainerID]*simContainer
	invs     map[string]*simInv
	prewarms map[string]int // pre-warm id -> fn
	fnByName map[string]int
	deadline time.Time // pool timer already scheduled
	m        *Metrics
	lastT    time.Time
	idleMB   int
	ignored  int
	trace    func(string) // optional action log (tests)
	removals []pool.ContainerID
	inBuffer int // invocations in the pool's run buffer
	touched  []pool.ContainerID
	idleOf   map[pool.ContainerID]int // idle MB per container
	timers   bool                     // the pool has timers (idle timeout, pause grace, stem retries)
}

func (e *engine) spec(fn int) pool.Spec {
	f := e.w.Functions[fn]
	mb := e.setup.ContainerMB
	if mb == 0 {
		mb = max(16, f.TraceMB)
	}
	return pool.Spec{
		Key:         pool.Key{Namespace: "sim", Action: "sim/" + f.Name},
		Kind:        e.setup.Kind,
		Image:       "sim/" + e.setup.Kind,
		MemoryMB:    mb,
		Concurrency: 1,
	}
}

func (e *engine) createTime(fn int) time.Duration {
	if fn < 0 {
		return time.Second
	}
	return time.Duration(float64(e.w.Functions[fn].ColdExtra) * e.setup.StartShare)
}

func (e *engine) initTime(fn int) time.Duration {
	return e.w.Functions[fn].ColdExtra - e.createTime(fn)
}

// at schedules f at time t (never before now).
func (e *engine) at(t time.Time, f func()) {
	if t.Before(e.now) {
		t = e.now
	}
	e.seq++
	heap.Push(&e.events, &event{at: t, seq: e.seq, fn: f})
}

// rank pushes an eviction order into the pool.
func (e *engine) rank(order []pool.ContainerID) { e.step(pool.Rank{Order: order}) }

// step sends ev to the pool and executes the resulting actions.
func (e *engine) step(ev pool.Event) {
	if c := ev.Container(); c != 0 {
		e.touched = append(e.touched, c)
	}
	acts := e.poolStep(ev)
	if o, ok := e.pol.(interface{ stepped(*engine) }); ok {
		if _, rank := ev.(pool.Rank); !rank {
			defer o.stepped(e)
		}
	}
	for _, a := range acts {
		if c := a.Container(); c != 0 {
			e.touched = append(e.touched, c)
		}
		e.apply(a)
	}
	// Removal takes no simulated time: report it before anything else
	// happens, so memory is free for the next command of the same instant.
	for len(e.removals) > 0 {
		c := e.removals[0]
		e.removals = e.removals[1:]
		delete(e.conts, c)
		for _, a := range e.poolStep(pool.Removed{C: c}) {
			if c := a.Container(); c != 0 {
				e.touched = append(e.touched, c)
			}
			e.apply(a)
		}
	}
	e.afterStep()
}

// poolStep is one pool.Step; a policy that learns from the pool's actions
// sees them here.
func (e *engine) poolStep(ev pool.Event) []pool.Action {
	acts := e.p.Step(e.now, ev)
	if o, ok := e.pol.(interface{ observe(*engine, pool.Action) }); ok {
		for _, a := range acts {
			o.observe(e, a)
		}
	}
	return acts
}

func (e *engine) afterStep() {
	if e.timers {
		if t, ok := e.p.NextDeadline(); ok && (e.deadline.IsZero() || t.Before(e.deadline) || !e.deadline.After(e.now)) {
			if !t.After(e.now) {
				t = e.now.Add(time.Millisecond)
			}
			e.deadline = t
			e.at(t, func() {
				if e.deadline.Equal(t) {
					e.deadline = time.Time{}
				}
				e.step(pool.Tick{})
			})
		}
	}
	// Idle memory changes only for containers an event or action named.
	for _, c := range e.touched {
		now := 0
		if ci, ok := e.p.Container(c); ok {
			switch ci.State {
			case pool.StateIdle, pool.StateFrozen, pool.StatePrewarmed:
				now = ci.MemoryMB
			}
		}
		e.idleMB += now - e.idleOf[c]
		if now == 0 {
			delete(e.idleOf, c)
		} else {
			e.idleOf[c] = now
		}
	}
	e.touched = e.touched[:0]
	used := e.p.UsedMB()
	if used > e.m.PeakMemoryMB {
		e.m.PeakMemoryMB = used
	}
	if used > e.setup.UserMemoryMB {
		e.m.MemoryViolations++
	}
}

// snapshot is pool.Snapshot with the run buffer reduced to a marker (see
// below): the containers the engine knows, in id order.
func (e *engine) snapshot() pool.Snapshot {
	cfg := e.p.Config()
	s := pool.Snapshot{At: e.now, UserMemoryMB: cfg.UserMemoryMB, ColdReserveMB: cfg.ColdReserveMB,
		MaxWarm: cfg.MaxWarm, UsedMB: e.p.UsedMB()}
	if e.inBuffer > 0 {
		// Policies only ask whether the buffer is empty; copying it (it can
		// hold the whole backlog) on every tick would dominate the run.
		s.Buffered = bufferedMarker
	}
	ids := make([]pool.ContainerID, 0, len(e.conts))
	for c := range e.conts {
		ids = append(ids, c)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for _, c := range ids {
		if ci, ok := e.p.Container(c); ok {
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

func (e *engine) fnOfSpec(s pool.Spec) int {
	if s.Stem || s.Key.IsZero() {
		return -1
	}
	fn, ok := e.fnByName[s.Key.Action]
	if !ok {
		panic("sim: unknown function " + s.Key.Action)
	}
	return fn
}

func (e *engine) apply(a pool.Action) {
	if e.trace != nil {
		e.trace(fmt.Sprintf("%8.3fs %s", e.now.Sub(Epoch).Seconds(), a))
	}
	e.leftBuffer(a)
	switch a := a.(type) {
	case pool.Create:
		fn := e.fnOfSpec(a.Spec)
		e.conts[a.C] = &simContainer{fn: fn, createdAt: e.now}
		c := a.C
		e.at(e.now.Add(e.createTime(fn)), func() { e.step(pool.Started{C: c}) })
	case pool.Init:
		sc := e.conts[a.C]
		fn := sc.fn
		if inv, ok := e.invs[a.ForID]; ok {
			fn = inv.fn
		} else if pf, ok := e.prewarms[a.ForID]; ok {
			fn = pf
		}
		sc.fn = fn
		sc.initFn = fn
		sc.initing = true
		d := e.initTime(fn)
		if sc.frozen {
			sc.initLeft = d
			return
		}
		e.scheduleInit(a.C, sc, d)
	case pool.Run:
		inv := e.invs[a.ID]
		inv.start, inv.startAt, inv.c = a.Start, e.now, a.C
		id, c := a.ID, a.C
		e.at(e.now.Add(e.w.Functions[inv.fn].Warm), func() {
			if o, ok := e.pol.(interface {
				runEnding(*engine, pool.ContainerID)
			}); ok {
				o.runEnding(e, c)
			}
			e.step(pool.RunFinished{C: c, ID: id})
			e.finish(id)
		})
	case pool.Freeze:
		sc := e.conts[a.C]
		if sc.frozen {
			return
		}
		sc.frozen = true
		if sc.initing {
			sc.initGen++ // cancel the scheduled completion
			sc.initLeft = sc.initDue.Sub(e.now)
		}
	case pool.Thaw:
		sc := e.conts[a.C]
		if !sc.frozen {
			return
		}
		sc.frozen = false
		if sc.initing {
			e.scheduleInit(a.C, sc, sc.initLeft)
		}
	case pool.Remove:
		c := a.C
		if sc := e.conts[c]; sc != nil {
			sc.initGen++
			sc.initing = false
		}
		e.removals = append(e.removals, c)
	case pool.Buffered:
		if inv, ok := e.invs[a.ID]; ok && !inv.queued {
			inv.queued = true
			e.m.Queued++
		}
		if inv, ok := e.invs[a.ID]; ok && !inv.inBuffer {
			inv.inBuffer = true
			e.inBuffer++
		}
	case pool.Reject:
		if inv, ok := e.invs[a.ID]; ok {
			e.m.Dropped++
			inv.done = true
			delete(e.invs, a.ID)
		} else if _, ok := e.prewarms[a.ID]; ok {
			delete(e.prewarms, a.ID)
			e.m.PrewarmsRejected++
			e.pol.prewarmed(e, a.ID, 0, false, true)
		}
	case pool.Failed:
		if _, ok := e.invs[a.ID]; ok {
			e.m.Failed++
			delete(e.invs, a.ID)
		} else if _, ok := e.prewarms[a.ID]; ok {
			delete(e.prewarms, a.ID)
			e.pol.prewarmed(e, a.ID, a.C, false, false)
		}
	case pool.Warmed:
		if _, ok := e.prewarms[a.ID]; ok {
			delete(e.prewarms, a.ID)
			e.m.PrewarmsDone++
			e.pol.prewarmed(e, a.ID, a.C, true, false)
		}
	case pool.Ignored:
		e.ignored++
	}
}

// leftBuffer notes an invocation the pool took out of its run buffer: it got
// a container (Create/Init/Run for it) or failed. An invocation that joins a
// container already starting leaves silently and is counted out at its Run.
func (e *engine) leftBuffer(a pool.Action) {
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
	if inv, ok := e.invs[id]; ok && inv.inBuffer {
		inv.inBuffer = false
		e.inBuffer--
	}
}

func (e *engine) scheduleInit(c pool.ContainerID, sc *simContainer, d time.Duration) {
	sc.initGen++
	gen := sc.initGen
	sc.initDue = e.now.Add(d)
	full := e.initTime(sc.initFn)
	e.at(sc.initDue, func() {
		if sc.initGen != gen || !sc.initing {
			return
		}
		sc.initing = false
		e.step(pool.Initialized{C: c, Duration: full})
	})
}

func (e *engine) finish(id string) {
	inv, ok := e.invs[id]
	if !ok {
		return
	}
	delete(e.invs, id)
	inv.done = true
	added := inv.startAt.Sub(inv.arrival)
	e.m.observe(inv.start, added)
	if inv.queued {
		wait := added
		switch inv.start {
		case pool.StartCold:
			wait -= e.w.Functions[inv.fn].ColdExtra
		case pool.StartPrewarmed:
			wait -= e.initTime(inv.fn)
		}
		if wait > time.Millisecond {
			e.m.Delayed++
			e.m.BufferWait += wait
		}
	}
	fc := &e.m.PerFunction[inv.fn]
	fc.Served++
	fc.Added += added
	if inv.start != pool.StartWarm {
		fc.Cold++
	}
	e.pol.finished(e, id, inv)
}

// prewarm asks the pool to pre-warm fn under id.
func (e *engine) prewarm(id string, spec pool.Spec) {
	e.prewarms[id] = e.fnOfSpec(spec)
	e.m.Prewarms++
	e.step(pool.Request{ID: id, Spec: spec, Prewarm: true})
}

func (e *engine) integrate(t time.Time) {
	if t.After(e.lastT) {
		e.m.IdleMBSeconds += float64(e.idleMB) * t.Sub(e.lastT).Seconds()
		e.lastT = t
	}
}

// Run simulates workload w under policy pol and returns its metrics.
func run(w *Workload, setup Setup, pol policyHooks, name string) *Metrics {
	return runTraced(w, setup, pol, name, nil)
}

// runTraced is run with an action log.
func runTraced(w *Workload, setup Setup, pol policyHooks, name string, trace func(string)) *Metrics {
	setup = setup.withDefaults()
	e := &engine{
		setup:    setup,
		w:        w,
		pol:      pol,
		now:      Epoch,
		conts:    map[pool.ContainerID]*simContainer{},
		invs:     map[string]*simInv{},
		prewarms: map[string]int{},
		fnByName: map[string]int{},
		m:        &Metrics{Policy: name, Workload: w.Name, PerFunction: make([]FunctionCounts, len(w.Functions))},
		lastT:    Epoch,
		trace:    trace,
	}
	for i, f := range w.Functions {
		e.fnByName["sim/"+f.Name] = i
	}
	pcfg := pol.poolConfig(setup)
	e.timers = pcfg.IdleTimeout >= 0 || pcfg.PauseGrace >= 0 || len(pcfg.StemCells) > 0
	e.idleOf = map[pool.ContainerID]int{}
	e.p = pool.New(pcfg, Epoch)
	pol.attach(e)
	e.step(pool.Tick{})
	// Arrivals are injected lazily, one pending at a time, to keep the heap small.
	next := 0
	var pushArrival func()
	pushArrival = func() {
		if next >= len(w.Arrivals) {
			return
		}
		a := w.Arrivals[next]
		idx := next
		next++
		e.at(Epoch.Add(a.At), func() {
			id := fmt.Sprintf("a%d", idx)
			e.m.Invocations++
			e.invs[id] = &simInv{fn: a.Fn, arrival: e.now}
			pol.arrival(e, id, a.Fn)
			e.step(pool.Request{ID: id, Spec: e.spec(a.Fn)})
			pushArrival()
		})
	}
	pushArrival()
	end := Epoch.Add(w.Span)
	for e.events.Len() > 0 {
		ev := heap.Pop(&e.events).(*event)
		if ev.at.After(end) && next >= len(w.Arrivals) && len(e.invs) == 0 {
			// Only timers and pre-warms left after the last invocation.
			break
		}
		e.integrate(ev.at)
		e.now = ev.at
		ev.fn()
	}
	if end.After(e.lastT) {
		e.integrate(end)
	}
	e.m.Unserved = int64(len(e.invs))
	e.m.Ignored = int64(e.ignored)
	if r, ok := pol.(interface{ report(*Metrics) }); ok {
		r.report(e.m)
	}
	e.m.finish()
	return e.m
}

// Metrics are the results of one policy over one workload.
type Metrics struct {
	Policy, Workload string
	MemoryMB         int
	Invocations      int64
	Served           int64
	Warm             int64
	Cold             int64 // container created for the invocation
	Stem             int64 // took an OpenWhisk stem cell (ran /init)
	Warming          int64 // joined a container still initialising
	Queued           int64 // entered the pool's run buffer (memory full)
	Delayed          int64 // of those, waited there more than 1 ms
	BufferWait       time.Duration
	Dropped          int64 // rejected by the pool
	Failed           int64
	Unserved         int64 // still in flight when the simulation ended
	Prewarms         int64
	PrewarmsDone     int64
	PrewarmsRejected int64
	IdleMBSeconds    float64 // wasted memory-time: idle warm containers × time
	PeakMemoryMB     int
	MemoryViolations int64
	Ignored          int64
	States           map[string]int64 // NEMO only
	// PerFunction counts served and cold invocations by function index.
	PerFunction []FunctionCounts

	added []time.Duration
	// Derived by finish.
	ColdRatio                     float64
	MeanAdded, P99Added, MaxAdded time.Duration
}

func (m *Metrics) observe(k pool.StartKind, added time.Duration) {
	m.Served++
	switch k {
	case pool.StartWarm:
		m.Warm++
	case pool.StartCold:
		m.Cold++
	case pool.StartPrewarmed:
		m.Stem++
	case pool.StartWarming:
		m.Warming++
	}
	m.added = append(m.added, added)
}

// ColdStarts counts every served invocation that did not find an
// initialised container (cold, stem cell, or joining a warming container).
func (m *Metrics) ColdStarts() int64 { return m.Cold + m.Stem + m.Warming }

func (m *Metrics) finish() {
	if m.Served > 0 {
		m.ColdRatio = float64(m.ColdStarts()) / float64(m.Served)
	}
	if len(m.added) == 0 {
		return
	}
	sort.Slice(m.added, func(i, j int) bool { return m.added[i] < m.added[j] })
	var sum float64
	for _, d := range m.added {
		sum += float64(d)
	}
	m.MeanAdded = time.Duration(sum / float64(len(m.added)))
	idx := int(math.Ceil(0.99*float64(len(m.added)))) - 1
	m.P99Added = m.added[max(idx, 0)]
	m.MaxAdded = m.added[len(m.added)-1]
	m.added = nil
}
