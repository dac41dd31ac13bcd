package sim

import (
	"container/heap"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/nemo-edge/nemo/pool"
	"github.com/nemo-edge/nemo/scheduler"
	"github.com/nemo-edge/nemo/scheduler/schedtest"
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
	// Eviction is what removing a container costs. Default
	// MeasuredEvictionCost; NoEvictionCost (all zero but Remove < 0)
	// removes at once.
	Eviction EvictionCost
}

// NoEvictionCost makes removals complete at once (the simulator before the
// cost was measured; for comparisons).
var NoEvictionCost = EvictionCost{Remove: -1}

// withDefaults fills in the machine the invoker ships with (pool.DefaultConfig, scheduler.DefaultConfig).
func (s Setup) withDefaults() Setup {
	if s.UserMemoryMB <= 0 {
		s.UserMemoryMB = pool.DefaultUserMemoryMB
	}
	if s.ContainerMB < 0 {
		s.ContainerMB = 0
	} else if s.ContainerMB == 0 {
		s.ContainerMB = 256
	}
	if s.ColdReserveMB == 0 {
		s.ColdReserveMB = pool.DefaultColdReserveMB
	}
	if s.MaxWarm == 0 {
		s.MaxWarm = scheduler.DefaultConfig().MaxWarm
	}
	if s.StartShare <= 0 || s.StartShare >= 1 {
		s.StartShare = 0.3
	}
	if s.Kind == "" {
		s.Kind = "nodejs:14"
	}
	if s.Eviction == (EvictionCost{}) {
		s.Eviction = MeasuredEvictionCost
	}
	return s
}

// EvictionCost is what removing a container costs, measured on Docker by
// pool/docker's BenchmarkEvict (docs/simulator.md, "Eviction cost", has the
// figures and the command): the pool releases an idle container's memory
// when its removal starts, because the force removal kills it first (its
// processes are gone FreedAfter into the removal, long before a container
// created beside it starts), and the engine's bookkeeping goes on for
// Remove. A container created while such a removal is in flight starts
// Beside later than alone.
type EvictionCost struct {
	Remove     time.Duration // Remove → Removed (docker rm -f of an idle container)
	FreedAfter time.Duration // Remove → its processes gone (documentation: the pool's release is safe)
	Beside     time.Duration // extra creation time next to a removal
}

// MeasuredEvictionCost is BenchmarkEvict's result on the project's machine
// (the largest median of the go and python action images, running and
// frozen; see docs/simulator.md).
var MeasuredEvictionCost = EvictionCost{Remove: 259 * time.Millisecond, FreedAfter: 39 * time.Millisecond,
	Beside: 36 * time.Millisecond}

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

// FunctionCounts is one function's share of the results.
type FunctionCounts struct {
	Served, Cold int64
	Added        time.Duration
}

// policyHooks is what a policy plugs into the engine.
type policyHooks interface {
	// config returns the pool configuration for this policy and, for NEMO,
	// the controller's (nil: no controller).
	config(s Setup) (pool.Config, *scheduler.Config)
	// attach is called once, before the first event.
	attach(e *engine)
	// arrival is called when invocation id of fn arrives, before the
	// controller and the pool see it.
	arrival(e *engine, id string, fn int)
	// finished is called after the pool processed RunFinished of inv.
	finished(e *engine, inv *schedtest.Invocation)
}

// engine is the discrete-event loop: workload arrivals and the events of
// the environment (container operations, pool timers, daemon ticks) in time
// order; schedtest.Env couples the pool and the controller.
type engine struct {
	setup    Setup
	w        *Workload
	env      *schedtest.Env
	pol      policyHooks
	now      time.Time
	seq      uint64
	events   eventHeap
	fnByName map[string]int
	m        *Metrics
	lastT    time.Time
	idleMB   int
	touched  []pool.ContainerID
	idleOf   map[pool.ContainerID]int // idle MB per container
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

// fnOf is the workload function of a container spec, -1 for a stem cell.
func (e *engine) fnOf(s pool.Spec) int {
	if s.Stem || s.Key.IsZero() {
		return -1
	}
	fn, ok := e.fnByName[s.Key.Action]
	if !ok {
		panic("sim: unknown function " + s.Key.Action)
	}
	return fn
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

// Create, Init and Run implement schedtest.Timing with the workload's model.
func (e *engine) Create(s pool.Spec) time.Duration { return e.createTime(e.fnOf(s)) }
func (e *engine) Init(s pool.Spec) time.Duration   { return e.initTime(e.fnOf(s)) }
func (e *engine) Run(s pool.Spec) time.Duration    { return e.w.Functions[e.fnOf(s)].Warm }

// engineRemoval is the engine's Timing with removal costs (schedtest.RemoveTiming).
type engineRemoval struct{ *engine }

// Remove implements schedtest.RemoveTiming.
func (e engineRemoval) Remove(pool.Remove) time.Duration { return e.setup.Eviction.Remove }

// CreateBeside implements schedtest.RemoveTiming.
func (e engineRemoval) CreateBeside() time.Duration { return e.setup.Eviction.Beside }

// coldCost is what the controller learns as a function's init time: the
// whole cold extra (creation and /init), from runs that were not warm and
// from pre-warms.
func (e *engine) coldCost(c pool.ContainerInfo) time.Duration {
	if fn := e.fnOf(pool.Spec{Key: c.Key}); fn >= 0 {
		return e.w.Functions[fn].ColdExtra
	}
	return 0
}

// at schedules f at time t (never before now).
func (e *engine) at(t time.Time, f func()) {
	if t.Before(e.now) {
		t = e.now
	}
	e.seq++
	heap.Push(&e.events, &event{at: t, seq: e.seq, fn: f})
}

// observe notes the containers a pool step touched (their idle memory may
// have changed) and lets a policy learn from the actions.
func (e *engine) observe(ev pool.Event, acts []pool.Action) {
	if c := ev.Container(); c != 0 {
		e.touched = append(e.touched, c)
	}
	o, learns := e.pol.(interface{ observe(*engine, pool.Action) })
	for _, a := range acts {
		if c := a.Container(); c != 0 {
			e.touched = append(e.touched, c)
		}
		if learns {
			o.observe(e, a)
		}
	}
}

// stepped runs after every environment step: idle memory and peak use, then
// the policy's own reaction (greedy-dual pushes its ranking).
func (e *engine) stepped(ev pool.Event) {
	// Idle memory changes only for containers an event or action named.
	for _, c := range e.touched {
		now := 0
		if ci, ok := e.env.Pool.Container(c); ok {
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
	used := e.env.Pool.UsedMB()
	if used > e.m.PeakMemoryMB {
		e.m.PeakMemoryMB = used
	}
	if used > e.setup.UserMemoryMB {
		e.m.MemoryViolations++
	}
	if o, ok := e.pol.(interface{ stepped(*engine) }); ok {
		if _, rank := ev.(pool.Rank); !rank {
			o.stepped(e)
		}
	}
}

// done records an invocation that is over.
func (e *engine) done(inv *schedtest.Invocation) {
	switch inv.Outcome {
	case schedtest.Rejected:
		e.m.Dropped++
		return
	case schedtest.Failed:
		e.m.Failed++
		return
	}
	fn := e.fnOf(inv.Spec)
	added := inv.StartAt.Sub(inv.Arrival)
	e.m.observe(inv.Start, added)
	if inv.Queued {
		wait := added
		switch inv.Start {
		case pool.StartCold:
			wait -= e.w.Functions[fn].ColdExtra
		case pool.StartPrewarmed:
			wait -= e.initTime(fn)
		}
		if wait > time.Millisecond {
			e.m.Delayed++
			e.m.BufferWait += wait
		}
	}
	fc := &e.m.PerFunction[fn]
	fc.Served++
	fc.Added += added
	if inv.Start != pool.StartWarm {
		fc.Cold++
	}
	e.pol.finished(e, inv)
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
		fnByName: map[string]int{},
		m:        &Metrics{Policy: name, Workload: w.Name, PerFunction: make([]FunctionCounts, len(w.Functions))},
		lastT:    Epoch,
		idleOf:   map[pool.ContainerID]int{},
	}
	for i, f := range w.Functions {
		e.fnByName["sim/"+f.Name] = i
	}
	pcfg, ccfg := pol.config(setup)
	var timing schedtest.Timing = e
	if setup.Eviction.Remove >= 0 {
		timing = engineRemoval{e}
	}
	cfg := schedtest.Config{
		Pool:       pcfg,
		Controller: ccfg,
		Timing:     timing,
		Schedule:   e.at,
		InitCost:   e.coldCost,
		Log:        func(string) {},
		Observe:    e.observe,
		Stepped:    e.stepped,
		Done:       e.done,
	}
	if trace != nil {
		cfg.Log = func(line string) {
			if l, ok := strings.CutPrefix(line, "pool: "); ok { // the pool's actions, as before the environment
				trace(fmt.Sprintf("%8.3fs %s", e.now.Sub(Epoch).Seconds(), l))
			}
		}
	}
	e.env = schedtest.New(cfg, Epoch)
	pol.attach(e)
	e.env.Step(pool.Tick{})
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
			pol.arrival(e, id, a.Fn)
			e.env.Invoke(id, e.spec(a.Fn))
			pushArrival()
		})
	}
	pushArrival()
	end := Epoch.Add(w.Span)
	for e.events.Len() > 0 {
		ev := heap.Pop(&e.events).(*event)
		if ev.at.After(end) && next >= len(w.Arrivals) && len(e.env.Open()) == 0 {
			// Only timers and pre-warms left after the last invocation.
			break
		}
		e.integrate(ev.at)
		e.now = ev.at
		e.env.SetNow(ev.at)
		ev.fn()
	}
	if end.After(e.lastT) {
		e.integrate(end)
	}
	st := e.env.Stats()
	e.m.Unserved = int64(len(e.env.Open()))
	e.m.Ignored = st.Ignored
	e.m.Queued = st.Queued
	e.m.Prewarms, e.m.PrewarmsDone, e.m.PrewarmsRejected = st.Prewarms, st.PrewarmsDone, st.PrewarmsRejected
	if e.env.Ctrl != nil {
		e.m.States = map[string]int64{}
		for s, v := range e.env.Ctrl.Counts() {
			e.m.States[s.String()] = v
		}
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
