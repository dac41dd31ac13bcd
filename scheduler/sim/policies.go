package sim

import (
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/nemo-edge/nemo/pool"
	"github.com/nemo-edge/nemo/scheduler"
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

func (noHooks) attach(*engine)                                          {}
func (noHooks) arrival(*engine, string, int)                            {}
func (noHooks) finished(*engine, string, *simInv)                       {}
func (noHooks) prewarmed(*engine, string, pool.ContainerID, bool, bool) {}

// ---------------------------------------------------------------------------
// OpenWhisk default: 10-minute idle timeout, LRU eviction when memory is
// short, nodejs:14 stem cells (2 × 256 MB, docs/protocol.md#runtime-manifest).

type openWhisk struct {
	noHooks
	stems int
}

func (o *openWhisk) poolConfig(s Setup) pool.Config {
	c := baselinePool(s)
	c.IdleTimeout = 10 * time.Minute
	c.Evictor = pool.LRU{}
	if o.stems > 0 {
		mb := s.ContainerMB
		if mb == 0 {
			mb = 256
		}
		c.StemCells = []pool.StemCell{{Kind: s.Kind, Image: "sim/" + s.Kind, MemoryMB: mb, Count: o.stems}}
	}
	return c
}

// ---------------------------------------------------------------------------
// FaasCache greedy-dual (Fuerst & Sharma, ASPLOS 2021): priority = clock + freq ×
// cost / size; the clock becomes the victim's priority on eviction; a
// container takes the current clock when used; freq counts the function's
// runs over its live containers and resets when its last container dies
// (pool.Candidate.FunctionUses does exactly that). No TTL.

type greedyDualPolicy struct{ noHooks }

func (greedyDualPolicy) poolConfig(s Setup) pool.Config {
	c := baselinePool(s)
	c.Evictor = NewGreedyDual()
	return c
}

// GreedyDual is FaasCache's keep-alive policy as a pool.Evictor.
type GreedyDual struct {
	clock   float64
	clockOf map[pool.ContainerID]float64
}

// NewGreedyDual returns a greedy-dual evictor with clock 0.
func NewGreedyDual() *GreedyDual { return &GreedyDual{clockOf: map[pool.ContainerID]float64{}} }

func (g *GreedyDual) priority(c pool.Candidate) float64 {
	cost := c.InitCost.Seconds()
	size := float64(max(c.MemoryMB, 1))
	return g.clockOf[c.C] + float64(c.FunctionUses)*cost/size
}

// Victims implements pool.Evictor: lowest priority first.
func (g *GreedyDual) Victims(_ time.Time, need pool.Need, cands []pool.Candidate) []pool.ContainerID {
	sort.SliceStable(cands, func(i, j int) bool {
		pi, pj := g.priority(cands[i]), g.priority(cands[j])
		if pi != pj {
			return pi < pj
		}
		return cands[i].C < cands[j].C
	})
	return pool.TakeInOrder(need, cands)
}

// Used implements pool.UseObserver.
func (g *GreedyDual) Used(_ time.Time, c pool.Candidate) { g.clockOf[c.C] = g.clock }

// Evicted implements pool.UseObserver.
func (g *GreedyDual) Evicted(_ time.Time, c pool.Candidate) {
	if p := g.priority(c); p > g.clock {
		g.clock = p
	}
	delete(g.clockOf, c.C)
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

func (h *hybridHistogram) poolConfig(s Setup) pool.Config {
	c := baselinePool(s)
	c.Evictor = pool.LRU{}
	return c
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

func (h *hybridHistogram) finished(e *engine, _ string, inv *simInv) {
	fn := inv.fn
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
		e.prewarm(fmt.Sprintf("hist-%d", h.nextID), e.spec(fn))
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
	for _, ci := range e.p.Lookup(e.spec(fn).Key) {
		if ci.State == pool.StateIdle || ci.State == pool.StateFrozen {
			e.step(pool.Evict{C: ci.C})
		}
	}
}

func (h *hybridHistogram) prewarmed(*engine, string, pool.ContainerID, bool, bool) {}

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

type nemoPolicy struct {
	cfg  scheduler.Config
	ctrl *scheduler.Controller
}

func (n *nemoPolicy) poolConfig(s Setup) pool.Config {
	cfg := n.cfg
	cfg.MaxWarm = s.MaxWarm
	n.ctrl = scheduler.NewController(cfg)
	return pool.Config{
		UserMemoryMB: s.UserMemoryMB,
		// The controller keeps the warm pool at MaxWarm on its ticks: the
		// pool's own bound would evict a container the moment a cold start
		// is created (see docs/simulator.md).
		MaxWarm:       -1,
		ColdReserveMB: s.ColdReserveMB,
		PauseGrace:    -1,
		IdleTimeout:   -1, // the controller stops idle functions itself
		Evictor:       n.ctrl.Evictor(),
	}
}

func (n *nemoPolicy) attach(e *engine) {
	tick := n.ctrl.Config().Tick
	var loop func()
	loop = func() {
		n.exec(e, n.ctrl.Tick(e.now, e.snapshot()))
		e.at(e.now.Add(tick), loop)
	}
	e.at(e.now, loop)
}

func (n *nemoPolicy) exec(e *engine, cmds []scheduler.Command) {
	for _, c := range cmds {
		switch c := c.(type) {
		case scheduler.Prewarm:
			e.prewarm(c.ID, c.Spec)
		case scheduler.Suspend:
			e.step(pool.Suspend{C: c.C})
		case scheduler.Resume:
			if _, ok := e.p.Container(c.C); ok {
				e.step(pool.Resume{C: c.C})
			}
		case scheduler.Stop:
			e.step(pool.Evict{C: c.C})
		}
	}
}

func (n *nemoPolicy) arrival(e *engine, id string, fn int) {
	d := n.ctrl.Begin(e.now, id, e.spec(fn), e.snapshot())
	n.exec(e, d.Commands)
}

func (n *nemoPolicy) report(m *Metrics) {
	m.States = map[string]int64{}
	for s, v := range n.ctrl.Counts() {
		m.States[s.String()] = v
	}
}

func (n *nemoPolicy) finished(e *engine, id string, inv *simInv) {
	var init time.Duration
	if inv.start != pool.StartWarm {
		init = e.w.Functions[inv.fn].ColdExtra
	}
	n.exec(e, n.ctrl.End(e.now, id, scheduler.Measure{Init: init, Run: e.w.Functions[inv.fn].Warm, OK: true}))
}

func (n *nemoPolicy) prewarmed(e *engine, id string, c pool.ContainerID, ok, rejected bool) {
	var init time.Duration
	if ok {
		if sc := e.conts[c]; sc != nil && sc.fn >= 0 {
			init = e.w.Functions[sc.fn].ColdExtra
		}
	}
	if rejected {
		n.ctrl.PrewarmRejected(e.now, id)
		return
	}
	n.ctrl.PrewarmDone(e.now, id, ok, init)
}
