package sim

import (
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/nemo-edge/nemo/pool"
	"github.com/nemo-edge/nemo/scheduler"
	"github.com/nemo-edge/nemo/scheduler/schedtest"
)

// Policy names accepted by -policies.
const (
	PolicyOpenWhisk  = "openwhisk"
	PolicyGreedyDual = "greedy-dual"
	PolicyHistogram  = "hybrid-hist"
	PolicyNEMO       = "nemo"
	PolicyNEMOPaper  = "nemo-paper"
	PolicyTTL        = "ttl-10m" // OpenWhisk without stem cells (FaasCache's TTL baseline)
)

// AllPolicies is the default comparison set.
var AllPolicies = []string{PolicyOpenWhisk, PolicyGreedyDual, PolicyHistogram, PolicyNEMO}

func newPolicy(name string, opt Options) (policyHooks, error) {
	switch name {
	case PolicyOpenWhisk:
		return &openWhisk{stems: 2}, nil
	case PolicyTTL:
		return &openWhisk{stems: 0}, nil
	case PolicyGreedyDual:
		return &greedyDualPolicy{}, nil
	case PolicyHistogram:
		return newHybridHistogram(), nil
	case PolicyNEMO:
		return &nemoPolicy{cfg: opt.NEMO}, nil
	case PolicyNEMOPaper:
		return &nemoPolicy{cfg: PaperConfig()}, nil
	}
	return nil, fmt.Errorf("sim: unknown policy %q", name)
}

// baseline pool bounds: the whole memory, no warm-count bound, no cold
// reserve, no pause (freezing idle containers changes no metric here).
func baselinePool(s Setup) pool.Config {
	return pool.Config{
		UserMemoryMB:  s.UserMemoryMB,
		MaxWarm:       -1,
		ColdReserveMB: -1,
		PauseGrace:    -1,
		IdleTimeout:   -1,
	}
}

type noHooks struct{}

func (noHooks) attach(*engine)                          {}
func (noHooks) arrival(*engine, string, int)            {}
func (noHooks) finished(*engine, *schedtest.Invocation) {}

// ---------------------------------------------------------------------------
// OpenWhisk default: 10-minute idle timeout, LRU eviction when memory is
// short, nodejs:14 stem cells (2 × 256 MB, docs/protocol.md#runtime-manifest).

type openWhisk struct {
	noHooks
	stems int
}

func (o *openWhisk) config(s Setup) (pool.Config, *scheduler.Config) {
	c := baselinePool(s)
	c.IdleTimeout = 10 * time.Minute
	if o.stems > 0 {
		mb := s.ContainerMB
		if mb == 0 {
			mb = 256
		}
		c.StemCells = []pool.StemCell{{Kind: s.Kind, Image: "sim/" + s.Kind, MemoryMB: mb, Count: o.stems}}
	}
	return c, nil
}

// ---------------------------------------------------------------------------
// FaasCache greedy-dual (Fuerst & Sharma, ASPLOS 2021): priority = clock + freq ×
// cost / size; the clock becomes the victim's priority on eviction; a
// container takes the current clock when used; freq counts the function's
// runs over its live containers and resets when its last container dies
// (pool.Candidate.FunctionUses does exactly that). No TTL.

type greedyDualPolicy struct {
	noHooks
	g *GreedyDual
}

func (gd *greedyDualPolicy) config(s Setup) (pool.Config, *scheduler.Config) {
	gd.g = NewGreedyDual()
	return baselinePool(s), nil
}

func (gd *greedyDualPolicy) observe(e *engine, a pool.Action) { gd.g.Observe(e.env.Pool, a) }

// stepped pushes the order after every step.
func (gd *greedyDualPolicy) stepped(e *engine) { e.env.RankOrder(gd.g.Order(e.env.Snapshot())) }

// GreedyDual is FaasCache's keep-alive policy as an eviction ranking: the
// driver feeds it the pool's actions (Observe) and pushes Order into the pool
// as a pool.Rank after every step.
type GreedyDual struct {
	clock   float64
	clockOf map[pool.ContainerID]float64
}

// NewGreedyDual returns a greedy-dual ranking with clock 0.
func NewGreedyDual() *GreedyDual { return &GreedyDual{clockOf: map[pool.ContainerID]float64{}} }

func (g *GreedyDual) priority(c pool.ContainerInfo) float64 {
	cost := c.InitCost.Seconds()
	size := float64(max(c.MemoryMB, 1))
	return g.clockOf[c.C] + float64(c.FunctionUses)*cost/size
}

// Observe learns from one action of the pool p just stepped: a container
// handed a run takes the current clock; an eviction raises the clock to the
// victim's priority.
func (g *GreedyDual) Observe(p interface {
	Container(pool.ContainerID) (pool.ContainerInfo, bool)
}, a pool.Action) {
	switch a := a.(type) {
	case pool.Run:
		g.clockOf[a.C] = g.clock
	case pool.Remove:
		if ci, ok := p.Container(a.C); ok && a.Evicted {
			if pr := g.priority(ci); pr > g.clock {
				g.clock = pr
			}
		}
		delete(g.clockOf, a.C)
	}
}

// Order ranks the function containers of s, lowest priority first. Busy
// and warming ones are named too: a priority does not depend on the state,
// so a container whose run ends is placed right when the same step evicts.
func (g *GreedyDual) Order(s pool.Snapshot) []pool.ContainerID {
	var cands []pool.ContainerInfo
	for _, ci := range s.Containers {
		if !ci.Key.IsZero() && ci.State != pool.StateRemoving {
			cands = append(cands, ci)
		}
	}
	sort.SliceStable(cands, func(i, j int) bool {
		pi, pj := g.priority(cands[i]), g.priority(cands[j])
		if pi != pj {
			return pi < pj
		}
		return cands[i].C < cands[j].C
	})
	out := make([]pool.ContainerID, len(cands))
	for i, c := range cands {
		out[i] = c.C
	}
	return out
}

// ---------------------------------------------------------------------------
// Hybrid histogram (Shahrad et al. ATC'20) with dslab's parameters: idle
// times (end of a run to the next arrival) in 1-minute bins over 4 h; a
// "certain" histogram (CV of bin counts >= 2) gives pre-warm window = head
// (5th percentile bin) × 60 s × 0.9 and keep-alive = (tail bin + 1) × 60 s ×
// 1.1 (99th percentile); an uncertain one gives no pre-warm and a 4-hour
// keep-alive; when >= 50 % of idle times are out of bounds, a forecast of
// the next idle time (ARIMA in the paper; here the mean of the last 10 idle
// times) gives pre-warm = 0.85 × forecast and keep-alive = 0.3 × forecast.
// Histograms are per function (the simulator's unit), not per app. When
// memory is short the pool evicts idle containers in LRU order.

const (
	histBins    = 240
	histBinLen  = time.Minute
	histHead    = 0.05
	histTail    = 0.99
	histCV      = 2.0
	histOOB     = 0.5
	histMargin  = 0.1
	arimaMargin = 0.15
)

type histFn struct {
	bins     [histBins]int
	sum, oob int
	raw      []time.Duration
	lastEnd  time.Time
	gen      int       // bumps on every arrival: cancels scheduled pre-warms and expiries
	keepTill time.Time // keep-alive deadline of the current window
}

type hybridHistogram struct {
	fns    map[int]*histFn
	nextID int
}

func newHybridHistogram() *hybridHistogram { return &hybridHistogram{fns: map[int]*histFn{}} }

func (h *hybridHistogram) config(s Setup) (pool.Config, *scheduler.Config) {
	return baselinePool(s), nil
}

func (h *hybridHistogram) attach(*engine) {}

func (h *hybridHistogram) fn(i int) *histFn {
	f := h.fns[i]
	if f == nil {
		f = &histFn{}
		h.fns[i] = f
	}
	return f
}

func (f *histFn) cv() float64 {
	n := float64(histBins)
	mean := float64(f.sum) / n
	if mean == 0 {
		return 0
	}
	var sq float64
	for _, b := range f.bins {
		d := float64(b) - mean
		sq += d * d
	}
	return math.Sqrt(sq/(n-1)) / mean
}

func (f *histFn) percentileBin(p float64) int {
	prefix := 0
	for i, b := range f.bins {
		prefix += b
		if float64(prefix)/float64(f.sum) >= p {
			return i
		}
	}
	return histBins - 1
}

func (f *histFn) forecast() time.Duration {
	k := min(10, len(f.raw))
	var s time.Duration
	for _, d := range f.raw[len(f.raw)-k:] {
		s += d
	}
	return s / time.Duration(k)
}

// windows returns (pre-warm, keep-alive).
func (f *histFn) windows() (time.Duration, time.Duration) {
	total := f.sum + f.oob
	switch {
	case total > 0 && float64(f.oob)/float64(total) >= histOOB:
		p := f.forecast()
		return time.Duration(float64(p) * (1 - arimaMargin)), time.Duration(float64(p) * arimaMargin * 2)
	case f.sum == 0 || f.cv() < histCV:
		return 0, histBins * histBinLen
	}
	head := f.percentileBin(histHead)
	tail := f.percentileBin(histTail)
	pw := time.Duration(float64(time.Duration(head)*histBinLen) * (1 - histMargin))
	ka := time.Duration(float64(time.Duration(tail+1)*histBinLen) * (1 + histMargin))
	return pw, ka
}

func (h *hybridHistogram) arrival(e *engine, _ string, fn int) {
	f := h.fn(fn)
	f.gen++
	if !f.lastEnd.IsZero() {
		it := e.now.Sub(f.lastEnd)
		if it < 0 {
			it = 0
		}
		f.raw = append(f.raw, it)
		if len(f.raw) > 64 {
			f.raw = f.raw[len(f.raw)-64:]
		}
		if b := int(it / histBinLen); b < histBins {
			f.bins[b]++
			f.sum++
		} else {
			f.oob++
		}
	}
}

func (h *hybridHistogram) finished(e *engine, inv *schedtest.Invocation) {
	fn := e.fnOf(inv.Spec)
	f := h.fn(fn)
	f.lastEnd = e.now
	gen := f.gen
	pw, ka := f.windows()
	if pw <= 0 {
		f.keepTill = e.now.Add(ka)
		h.expireAt(e, fn, gen, f.keepTill)
		return
	}
	// Unload now, load again at the pre-warm window, keep for keep-alive.
	h.evictIdle(e, fn)
	e.at(e.now.Add(pw), func() {
		if f.gen != gen {
			return // invoked meanwhile
		}
		h.nextID++
		f.keepTill = e.now.Add(ka)
		e.env.Prewarm(fmt.Sprintf("hist-%d", h.nextID), e.spec(fn))
		h.expireAt(e, fn, gen, f.keepTill)
	})
}

func (h *hybridHistogram) expireAt(e *engine, fn, gen int, t time.Time) {
	e.at(t, func() {
		f := h.fn(fn)
		if f.gen != gen || e.now.Before(f.keepTill) {
			return
		}
		h.evictIdle(e, fn)
	})
}

func (h *hybridHistogram) evictIdle(e *engine, fn int) {
	for _, ci := range e.env.Pool.Lookup(e.spec(fn).Key) {
		if ci.State == pool.StateIdle || ci.State == pool.StateFrozen {
			e.env.Evict(ci.C)
		}
	}
}

// ---------------------------------------------------------------------------
// NEMO: scheduler.Controller's real decisions over the same pool.

// PaperConfig is the controller configured as the paper describes it: the
// literal b_warm × frequency × recency score, pre-warm into free slots only,
// eviction by least recent invocation, stop after 10 idle minutes.
func PaperConfig() scheduler.Config {
	return scheduler.Config{
		Score:         scheduler.PaperScore{RecencyScale: 10 * time.Minute},
		MinScore:      1e-9,
		StopAfter:     10 * time.Minute,
		Evict:         scheduler.EvictLeastRecentInvocation,
		FreeSlotsOnly: true,
		MaxSuspend:    -1,
	}
}

// nemoPolicy is the controller on the environment (schedtest.Env), which
// asks it about every invocation, executes its commands and pushes its
// ranking; the policy only runs the daemon every Tick.
type nemoPolicy struct {
	noHooks
	cfg scheduler.Config
}

func (n *nemoPolicy) config(s Setup) (pool.Config, *scheduler.Config) {
	cfg := n.cfg
	cfg.MaxWarm = s.MaxWarm
	// The pool as the invoker configures it under the controller: its
	// defaults (10-s pause grace) with the warm-count bound and idle
	// timeout left to the controller (scheduler.ControlledPool).
	return scheduler.ControlledPool(pool.Config{UserMemoryMB: s.UserMemoryMB, ColdReserveMB: s.ColdReserveMB}), &cfg
}

func (n *nemoPolicy) attach(e *engine) {
	tick := e.env.Ctrl.Config().Tick
	var loop func()
	loop = func() {
		e.env.Tick()
		e.at(e.now.Add(tick), loop)
	}
	e.at(e.now, loop)
}
