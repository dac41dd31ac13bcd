package scheduler

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/nemo-edge/nemo/pool"
)

// State is the paper's thread-management state of an invocation (§4.3,
// Algorithm 1).
type State int

const (
	// S1: only a pre-warm runs (counted per pre-warm started with no
	// invocation in flight).
	S1 State = iota + 1
	// S2: only the invocation runs: no pre-warm in flight.
	S2
	// S3: warm invocation while a pre-warm of another function is in
	// flight: the pre-warm is suspended until the invocation ends.
	S3
	// S41: the invoked function is itself being pre-warmed: the invocation
	// waits for that warming and runs warm on it.
	S41
	// S42: the invoked function is not in the pool while a pre-warm is in
	// flight: the pre-warm is suspended, the invocation runs cold.
	S42
)

var stateNames = map[State]string{S1: "S1", S2: "S2", S3: "S3", S41: "S4-1", S42: "S4-2"}

func (s State) String() string {
	if n, ok := stateNames[s]; ok {
		return n
	}
	return fmt.Sprintf("S?(%d)", int(s))
}

// AllStates lists the states in order (metrics loops).
func AllStates() []State { return []State{S1, S2, S3, S41, S42} }

// Config tunes the controller. Zero values take the defaults given on each
// field.
type Config struct {
	// Tick is the pre-warm daemon period. Default 3 s (paper §5.1).
	Tick time.Duration
	// StopAfter, when positive, stops an idle container whose function was
	// not invoked for this long and whose value is below MinScore. Default:
	// never (KeepUntilPressure): an idle container stays, frozen, until
	// memory is needed (the pool evicts by Ranking) or a better pre-warm
	// replaces it; zero and negative values mean never.
	StopAfter time.Duration
	// Score ranks functions for pre-warming and, when Evict is EvictByScore,
	// for eviction. Default ExpectedBenefit (see doc.go).
	Score Score
	// MinScore is the score a function needs to be pre-warmed (and below
	// which an idle one may be stopped after StopAfter). Default 0.5.
	MinScore float64
	// FreeSlotsOnly restricts pre-warming to free warm-pool slots (the
	// paper's wording). By default the daemon also replaces: it stops idle
	// containers whose value is below ReplaceMargin × the best missing
	// candidate's score to pre-warm that candidate.
	FreeSlotsOnly bool
	// ReplaceMargin: see FreeSlotsOnly. Default 0.5.
	ReplaceMargin float64
	// Evict chooses the eviction order (the Ranking pushed into the pool,
	// and the daemon's trims/replacements). Default EvictByScore.
	Evict EvictOrder
	// Value is what an idle container of a function is worth keeping:
	// EvictByScore evicts the lowest first, and a pre-warm replaces idle
	// containers worth less than ReplaceMargin × its own value. Default
	// KeepValue (see doc.go).
	Value Score
	// FailureBackoff is how long a function whose pre-warm failed is not
	// pre-warmed again. Default 1 minute.
	FailureBackoff time.Duration
	// MaxWarm bounds the pre-warm pool: the daemon pre-warms only while
	// fewer function containers than this are held, that is cannot be
	// evicted at once (starting, warming, busy, suspended, or with a run
	// waiting on them). Idle containers are not counted: the pool releases
	// their memory the moment it evicts them, so they may fill the memory
	// and the cold reserve. Default 6.
	MaxWarm int
	// Trim makes every tick stop the least valuable idle containers above
	// MaxWarm (containers of cold invocations then leave the cold reserve
	// within a tick). Without it they stay warm until memory is needed or
	// a better candidate replaces them. Default false.
	Trim bool
	// MaxSuspend bounds how long a pre-warm stays suspended for an
	// invocation (resumed on the first tick after it). Default 10 s;
	// negative = until the invocation ends (the paper).
	MaxSuspend time.Duration
	// NoThreadManagement leaves conflicting pre-warms running: Begin still
	// decides and counts S3/S4-2 but suspends nothing (the paper's "without
	// thread management", Fig. 6). Default false: thread management on.
	NoThreadManagement bool
	// History tunes the per-function history.
	History HistoryConfig
	// Hint gives the operator's pre-warm hint for a function (by action name, pool.Key.Action); nil means
	// HintAuto for every function.
	Hint func(action string) Hint
}

// Hint is an operator's pre-warm hint for one function (config edgeFunctions[].prewarm).
type Hint int

const (
	// HintAuto: the score decides, from the function's history.
	HintAuto Hint = iota
	// HintAlways: keep one container of the function warm whenever memory allows, whatever its score: it is
	// pre-warmed before any scored candidate (once an invocation has shown the controller its image and
	// memory), and its one idle container is the last to be stopped, trimmed, replaced or evicted. An
	// invocation still wins over it, like over any pre-warm.
	HintAlways
	// HintNever: never pre-warm the function; its invocations still run, cold when nothing is warm.
	HintNever
)

// EvictOrder selects how the controller ranks idle containers for eviction (Ranking).
type EvictOrder int

const (
	// EvictByScore evicts the idle container with the lowest value: its
	// function's Score, discounted for further idle containers of the same
	// function.
	EvictByScore EvictOrder = iota
	// EvictLeastRecentInvocation evicts the container whose function was
	// invoked least recently (the paper's rule, §4.3).
	EvictLeastRecentInvocation
)

// ControlledPool is the pool configuration p under the controller, the same in the invoker and in the
// simulator: the pool's own warm-count bound and idle timeout are off (MaxWarm and IdleTimeout -1).
// The controller bounds what it pre-warms (Config.MaxWarm) and keeps idle containers until memory is
// needed, when the pool evicts them in the order of its Ranking; the pool's MaxWarm would evict a
// container the moment a cold start is created under a burst, and its idle timeout would stop
// containers whatever their value. The cold reserve, pause grace and stem cells stay as configured.
func ControlledPool(p pool.Config) pool.Config {
	p.MaxWarm = -1
	p.IdleTimeout = -1
	return p
}

// KeepUntilPressure is Config.StopAfter's default: no idle container is stopped for having been idle long.
const KeepUntilPressure = -time.Second

// DefaultConfig is the controller's configuration with every default filled in; the invoker's
// configuration file starts from it, so a default is stated once, here.
func DefaultConfig() Config { return Config{}.withDefaults() }

func (c Config) withDefaults() Config {
	if c.Tick <= 0 {
		c.Tick = 3 * time.Second
	}
	if c.StopAfter <= 0 {
		c.StopAfter = KeepUntilPressure
	}
	if c.Score == nil {
		c.Score = ExpectedBenefit{}
	}
	if c.Value == nil {
		c.Value = KeepValue{}
	}
	if c.MinScore <= 0 {
		c.MinScore = 0.5
	}
	if c.ReplaceMargin <= 0 {
		c.ReplaceMargin = 0.5
	}
	if c.MaxSuspend == 0 {
		c.MaxSuspend = 10 * time.Second
	}
	if c.MaxWarm <= 0 {
		c.MaxWarm = 6
	}
	if c.FailureBackoff <= 0 {
		c.FailureBackoff = time.Minute
	}
	c.History = c.History.withDefaults()
	return c
}

// Command is an instruction from the controller to its driver. The driver
// executes it against the pool (Manager in the invoker, pool.Pool in the
// simulator) and reports the outcome of pre-warms with PrewarmDone.
type Command interface {
	isCommand()
	String() string
}

// Prewarm creates and initialises a container for Spec without running it.
// ID names the pre-warm for PrewarmDone.
type Prewarm struct {
	ID   string
	Spec pool.Spec
}

// Suspend freezes container C (a pre-warm in flight) for an invocation.
type Suspend struct{ C pool.ContainerID }

// Resume thaws C once no invocation needs it suspended any more.
type Resume struct{ C pool.ContainerID }

// Stop removes idle container C (pool.Evict).
type Stop struct {
	C      pool.ContainerID
	Reason string
}

func (Prewarm) isCommand() {}
func (Suspend) isCommand() {}
func (Resume) isCommand()  {}
func (Stop) isCommand()    {}

func (c Prewarm) String() string { return fmt.Sprintf("prewarm %s %s", c.ID, c.Spec.Key) }
func (c Suspend) String() string { return fmt.Sprintf("suspend %s", c.C) }
func (c Resume) String() string  { return fmt.Sprintf("resume %s", c.C) }
func (c Stop) String() string    { return fmt.Sprintf("stop %s (%s)", c.C, c.Reason) }

// Decision is the controller's answer to an invocation arriving.
type Decision struct {
	State State
	// Commands to execute before handing the invocation to the pool
	// (Suspend of conflicting pre-warms; Resume of the invoked function's
	// own pre-warm when another invocation had suspended it).
	Commands []Command
	// WaitFor is the pre-warm container the invocation joins (S4-1), 0 if
	// none. The pool queues the run on it; the driver needs no extra wait.
	WaitFor pool.ContainerID
}

// Measure is what the driver learnt from a finished invocation.
type Measure struct {
	Init time.Duration // 0 when no /init ran
	Run  time.Duration
	OK   bool // false: the invocation failed or was canceled before running
}

type invocation struct {
	key       pool.Key
	state     State
	suspended []pool.ContainerID
}

type prewarmReq struct {
	key     pool.Key
	started time.Time
}

// Controller is NEMO's function controller (paper §4.3): history, pre-warm
// daemon decisions and preemptive thread management. It is a pure state
// machine: callers pass time and the pool's Snapshot, and execute the
// returned commands. It is not safe for concurrent use.
type Controller struct {
	cfg      Config
	hist     *History
	specs    map[pool.Key]pool.Spec
	invs     map[string]*invocation
	prewarm  map[string]prewarmReq                // in flight, by pre-warm id
	holds    map[pool.ContainerID]map[string]bool // container -> invocations holding it suspended
	heldAt   map[pool.ContainerID]time.Time       // when the container was suspended
	backoff  map[pool.Key]time.Time
	nextID   uint64
	lastTick time.Time
	counts   map[State]int64
}

// NewController returns a controller with no history.
func NewController(cfg Config) *Controller {
	cfg = cfg.withDefaults()
	return &Controller{
		cfg:     cfg,
		hist:    NewHistory(cfg.History),
		specs:   map[pool.Key]pool.Spec{},
		invs:    map[string]*invocation{},
		prewarm: map[string]prewarmReq{},
		holds:   map[pool.ContainerID]map[string]bool{},
		heldAt:  map[pool.ContainerID]time.Time{},
		backoff: map[pool.Key]time.Time{},
		counts:  map[State]int64{},
	}
}

// Config returns the effective configuration.
func (c *Controller) Config() Config { return c.cfg }

// History exposes the per-function history (read-only use).
func (c *Controller) History() *History { return c.hist }

// Counts returns how many times each state occurred.
func (c *Controller) Counts() map[State]int64 {
	out := make(map[State]int64, len(c.counts))
	for k, v := range c.counts {
		out[k] = v
	}
	return out
}

// InFlight reports the number of invocations and pre-warms in flight.
func (c *Controller) InFlight() (invocations, prewarms int) { return len(c.invs), len(c.prewarm) }

func fnName(k pool.Key) string { return k.String() }

func (c *Controller) hint(k pool.Key) Hint {
	if c.cfg.Hint == nil {
		return HintAuto
	}
	return c.cfg.Hint(k.Action)
}

// prewarmKeys returns the keys with a pre-warm in flight.
func (c *Controller) prewarmKeys() map[pool.Key]bool {
	out := map[pool.Key]bool{}
	for _, r := range c.prewarm {
		out[r.key] = true
	}
	return out
}

// warmingPrewarms lists containers of snap that are pre-warms in flight:
// function containers still starting or initialising, with no run waiting on
// them, of a key the controller is pre-warming.
func (c *Controller) warmingPrewarms(snap pool.Snapshot) []pool.ContainerInfo {
	keys := c.prewarmKeys()
	var out []pool.ContainerInfo
	for _, ci := range snap.Containers {
		if ci.Key.IsZero() || !keys[ci.Key] {
			continue
		}
		if (ci.State == pool.StateStarting || ci.State == pool.StateWarming) && ci.Waiting == 0 {
			out = append(out, ci)
		}
	}
	return out
}

// Begin is called when invocation id of spec arrives, before it is handed to
// the pool. It records the arrival and decides the state (Algorithm 1).
func (c *Controller) Begin(now time.Time, id string, spec pool.Spec, snap pool.Snapshot) Decision {
	k := spec.Key
	c.specs[k] = spec
	c.hist.Arrived(fnName(k), now)
	inv := &invocation{key: k}
	if old, dup := c.invs[id]; dup {
		// A duplicate id must not leak the first one's holds.
		c.releaseHolds(id, old)
	}
	c.invs[id] = inv

	var d Decision
	// Does the pool hold a usable container of k, and is one of them a
	// pre-warm in flight?
	warm := false
	var own *pool.ContainerInfo
	for i, ci := range snap.Containers {
		if ci.Key != k || ci.MemoryMB != spec.MemoryMB || ci.State == pool.StateRemoving {
			continue
		}
		switch ci.State {
		case pool.StateIdle, pool.StateFrozen:
			warm = true
		case pool.StateBusy:
			if ci.Active < max(ci.Concurrency, 1) {
				warm = true
			}
		case pool.StateStarting, pool.StateWarming:
			// Only a pre-warm in flight counts: an on-demand cold start of
			// another invocation has that invocation waiting on it.
			if own == nil && ci.Waiting == 0 && c.prewarmKeys()[k] {
				own = &snap.Containers[i]
			}
		}
	}
	others := c.warmingPrewarms(snap)
	others = slices.DeleteFunc(others, func(ci pool.ContainerInfo) bool { return ci.Key == k })

	switch {
	case warm:
		if len(others) == 0 {
			d.State = S2
		} else {
			d.State = S3
		}
	case own != nil:
		d.State = S41
		d.WaitFor = own.C
		if own.Suspended {
			// Another invocation froze it; this invocation needs it now.
			c.Forget(own.C)
			d.Commands = append(d.Commands, Resume{C: own.C})
		}
	case len(others) > 0:
		d.State = S42
	default:
		d.State = S2
	}
	if (d.State == S3 || d.State == S42) && !c.cfg.NoThreadManagement {
		for _, ci := range others {
			h := c.holds[ci.C]
			if h == nil {
				h = map[string]bool{}
				c.holds[ci.C] = h
			}
			if len(h) == 0 && !ci.Suspended {
				d.Commands = append(d.Commands, Suspend{C: ci.C})
				c.heldAt[ci.C] = now
			}
			if len(h) == 0 && ci.Suspended {
				// Suspended by someone else (not us): leave it alone.
				continue
			}
			h[id] = true
			inv.suspended = append(inv.suspended, ci.C)
		}
	}
	inv.state = d.State
	c.counts[d.State]++
	return d
}

// End is called once per Begin when the invocation is over (also when it
// failed or was canceled). It updates the history and returns the Resume
// commands of pre-warms this invocation was the last to hold.
func (c *Controller) End(now time.Time, id string, m Measure) []Command {
	inv, ok := c.invs[id]
	if !ok {
		return nil
	}
	delete(c.invs, id)
	if m.OK {
		c.hist.Measured(fnName(inv.key), m.Init, m.Run)
	}
	return c.releaseHolds(id, inv)
}

func (c *Controller) releaseHolds(id string, inv *invocation) []Command {
	var out []Command
	for _, cid := range inv.suspended {
		h := c.holds[cid]
		if h == nil || !h[id] {
			continue
		}
		delete(h, id)
		if len(h) == 0 {
			delete(c.holds, cid)
			delete(c.heldAt, cid)
			out = append(out, Resume{C: cid})
		}
	}
	inv.suspended = nil
	return out
}

// Suspended reports whether the controller holds C suspended.
func (c *Controller) Suspended(cid pool.ContainerID) bool { return len(c.holds[cid]) > 0 }

// PrewarmDone reports the end of pre-warm id: ok with the measured init
// time, or failed/rejected (ok=false, init ignored).
func (c *Controller) PrewarmDone(now time.Time, id string, ok bool, init time.Duration) {
	r, found := c.prewarm[id]
	if !found {
		return
	}
	delete(c.prewarm, id)
	if ok {
		c.hist.Warmed(fnName(r.key), init)
		return
	}
	c.backoff[r.key] = now.Add(c.cfg.FailureBackoff)
}

// PrewarmRejected reports that the pool could not place pre-warm id now
// (warm pool full, memory short): not a failure, so no back-off.
func (c *Controller) PrewarmRejected(now time.Time, id string) {
	delete(c.prewarm, id)
}

// Forget drops the holds on a container that disappeared (removed while
// suspended), so no Resume is issued for it later.
func (c *Controller) Forget(cid pool.ContainerID) {
	if c.holds[cid] == nil {
		return
	}
	delete(c.holds, cid)
	delete(c.heldAt, cid)
	for _, o := range c.invs {
		o.suspended = slices.DeleteFunc(o.suspended, func(x pool.ContainerID) bool { return x == cid })
	}
}

type candidate struct {
	key   pool.Key
	score float64
}

// dupDiscount scales the value of each further idle container of a function
// that already has one: with concurrency 1 a second container only helps
// when two invocations overlap, which is much rarer than one arriving.
const dupDiscount = 0.1

// valued is an idle container with the value the controller gives it.
type valued struct {
	c     pool.ContainerID
	key   pool.Key
	mb    int
	last  time.Time
	value float64
}

// valueIdle scores idle containers: the function's score, discounted for
// every other idle container of the same function used more recently. Under
// EvictLeastRecentInvocation the value is 0 and only recency orders them.
func (c *Controller) valueIdle(now time.Time, idle []valued) []valued {
	sort.SliceStable(idle, func(i, j int) bool {
		if !idle[i].last.Equal(idle[j].last) {
			return idle[i].last.After(idle[j].last)
		}
		return idle[i].c < idle[j].c
	})
	seen := map[pool.Key]int{}
	scores := c.idleScores(now, idle)
	for i := range idle {
		v := &idle[i]
		sc := scores[v.key]
		// Busy and warming containers are not counted: they are serving
		// (or about to serve) an invocation of their own.
		rank := seen[v.key]
		seen[v.key]++
		v.value = sc
		for r := 0; r < rank; r++ {
			v.value *= dupDiscount
		}
		if rank == 0 && c.hint(v.key) == HintAlways {
			v.value = math.Inf(1) // the one container the operator wants kept
		}
		if s := c.hist.Get(fnName(v.key)); s != nil && !s.LastInvoked.IsZero() {
			if c.cfg.Evict == EvictLeastRecentInvocation || s.LastInvoked.After(v.last) {
				// The paper's rule orders by the function's last
				// invocation, not by when the container was last touched.
				v.last = s.LastInvoked
			}
		}
	}
	// Lowest value first, then least recently invoked.
	sort.SliceStable(idle, func(i, j int) bool {
		if idle[i].value != idle[j].value {
			return idle[i].value < idle[j].value
		}
		if !idle[i].last.Equal(idle[j].last) {
			return idle[i].last.Before(idle[j].last)
		}
		return idle[i].c < idle[j].c
	})
	return idle
}

// idleScores values the functions of idle (Config.Value; rated among each other when it is a SetScore), in
// the order they first appear. Under EvictLeastRecentInvocation every value is 0.
func (c *Controller) idleScores(now time.Time, idle []valued) map[pool.Key]float64 {
	scores := map[pool.Key]float64{}
	if c.cfg.Evict != EvictByScore {
		return scores
	}
	var keys []pool.Key
	var stats []*Stats
	for _, v := range idle {
		if _, ok := scores[v.key]; ok {
			continue
		}
		scores[v.key] = 0
		if s := c.hist.Get(fnName(v.key)); s != nil {
			keys = append(keys, v.key)
			stats = append(stats, s)
		}
	}
	if set, ok := c.cfg.Value.(SetScore); ok {
		for i, sc := range set.ScoreSet(now, stats) {
			scores[keys[i]] = sc
		}
		return scores
	}
	for i, s := range stats {
		scores[keys[i]] = c.cfg.Value.Score(now, s)
	}
	return scores
}

// Tick runs the pre-warm daemon once (paper §4.3): stop idle functions that
// are not expected soon, trim the warm pool to MaxWarm, then pre-warm the
// best-scoring functions that are neither warm nor warming while the warm
// pool and the memory outside the cold reserve allow (with Replace, by
// stopping idle containers worth clearly less).
func (c *Controller) Tick(now time.Time, snap pool.Snapshot) []Command {
	c.lastTick = now
	var out []Command
	// A pre-warm is never held longer than MaxSuspend: a long (cold)
	// invocation would otherwise keep its memory hostage.
	if c.cfg.MaxSuspend > 0 {
		var expired []pool.ContainerID
		for cid, at := range c.heldAt {
			if !now.Before(at.Add(c.cfg.MaxSuspend)) {
				expired = append(expired, cid)
			}
		}
		slices.Sort(expired)
		for _, cid := range expired {
			c.Forget(cid)
			out = append(out, Resume{C: cid})
		}
	}

	present := map[pool.Key]bool{}
	warmCount := 0 // function containers, any state but removing (Trim, the pool's own MaxWarm)
	heldCount := 0 // function containers that cannot be evicted at once (MaxWarm)
	usedMB := snap.UsedMB
	heldMB := usedMB // memory an eviction cannot give back at once (the cold reserve)
	var idle []valued
	for _, ci := range snap.Containers {
		if ci.Key.IsZero() || ci.State == pool.StateRemoving {
			continue
		}
		present[ci.Key] = true
		warmCount++
		if evictable(ci) {
			idle = append(idle, valued{c: ci.C, key: ci.Key, mb: ci.MemoryMB, last: ci.LastUsed})
			heldMB -= ci.MemoryMB
		} else {
			heldCount++
		}
	}
	for k := range c.prewarmKeys() {
		present[k] = true
	}
	idle = c.valueIdle(now, idle)

	// Stop functions not invoked for StopAfter that the score does not
	// expect soon.
	kept := idle[:0]
	for _, v := range idle {
		if c.cfg.StopAfter > 0 && !now.Before(v.last.Add(c.cfg.StopAfter)) && v.value < c.cfg.MinScore {
			out = append(out, Stop{C: v.c, Reason: "not invoked for " + c.cfg.StopAfter.String()})
			warmCount--
			continue
		}
		kept = append(kept, v)
	}
	idle = kept

	maxWarm := c.cfg.MaxWarm
	if snap.MaxWarm >= 0 && snap.MaxWarm < maxWarm {
		maxWarm = snap.MaxWarm
	}
	// Trim: containers of on-demand cold starts join the warm pool when
	// their run ends; keep the pool at MaxWarm containers by stopping the
	// least valuable idle ones.
	for c.cfg.Trim && warmCount > maxWarm && len(idle) > 0 {
		out = append(out, Stop{C: idle[0].c, Reason: fmt.Sprintf("warm pool above %d", maxWarm)})
		idle = idle[1:]
		warmCount--
	}

	// Invocations waiting for memory come first: no pre-warm (nor
	// replacement) competes with them.
	if len(snap.Buffered) > 0 {
		return out
	}
	var cands []candidate
	for k, spec := range c.specs {
		if present[k] || now.Before(c.backoff[k]) || spec.MemoryMB <= 0 {
			continue
		}
		switch c.hint(k) {
		case HintNever:
			continue
		case HintAlways:
			cands = append(cands, candidate{k, math.Inf(1)})
			continue
		}
		s := c.hist.Get(fnName(k))
		if s == nil {
			continue
		}
		if sc := c.cfg.Score.Score(now, s); sc >= c.cfg.MinScore {
			cands = append(cands, candidate{k, sc})
		}
	}
	sort.Slice(cands, func(i, j int) bool {
		if cands[i].score != cands[j].score {
			return cands[i].score > cands[j].score
		}
		return cands[i].key.String() < cands[j].key.String()
	})

	// A pre-warm holds its memory until its /init ends: it must leave the
	// cold reserve free or evictable at once, and fit in free memory.
	heldLimitMB := snap.UserMemoryMB - max(snap.ColdReserveMB, 0)
	poolBound := func() bool { return snap.MaxWarm < 0 || warmCount+1 <= snap.MaxWarm }
	busy := len(c.invs) > 0
	for _, cand := range cands {
		spec := c.specs[cand.key]
		if heldCount+1 > c.cfg.MaxWarm || heldMB+spec.MemoryMB > heldLimitMB {
			continue // stopping idle containers would not help
		}
		if (!poolBound() || usedMB+spec.MemoryMB > snap.UserMemoryMB) && !c.cfg.FreeSlotsOnly {
			// Swap out idle containers clearly worth less, but only if
			// enough of them go to make room. The driver executes
			// commands in order; a Stop's memory is free for the next
			// command (the pool releases an idle container's memory when
			// its removal starts).
			n, freed := 0, 0
			worth := cand.score
			if st := c.hist.Get(fnName(cand.key)); st != nil && !math.IsInf(worth, 1) {
				worth = c.cfg.Value.Score(now, st)
			}
			for n < len(idle) && idle[n].value < c.cfg.ReplaceMargin*worth &&
				((snap.MaxWarm >= 0 && warmCount-n+1 > snap.MaxWarm) || usedMB-freed+spec.MemoryMB > snap.UserMemoryMB) {
				freed += idle[n].mb
				n++
			}
			if (snap.MaxWarm < 0 || warmCount-n+1 <= snap.MaxWarm) && usedMB-freed+spec.MemoryMB <= snap.UserMemoryMB {
				for _, v := range idle[:n] {
					out = append(out, Stop{C: v.c, Reason: fmt.Sprintf("replaced by %s", cand.key)})
				}
				idle = idle[n:]
				warmCount -= n
				usedMB -= freed
			}
		}
		if !poolBound() || usedMB+spec.MemoryMB > snap.UserMemoryMB {
			continue
		}
		c.nextID++
		id := fmt.Sprintf("prewarm-%d", c.nextID)
		c.prewarm[id] = prewarmReq{key: cand.key, started: now}
		out = append(out, Prewarm{ID: id, Spec: spec})
		warmCount++
		heldCount++
		usedMB += spec.MemoryMB
		heldMB += spec.MemoryMB
		if !busy {
			c.counts[S1]++
		}
	}
	return out
}

// evictable reports whether the pool could evict ci at once: an idle or
// frozen function container that is not suspended and has no run waiting.
func evictable(ci pool.ContainerInfo) bool {
	return !ci.Key.IsZero() && (ci.State == pool.StateIdle || ci.State == pool.StateFrozen) && !ci.Suspended &&
		ci.Waiting == 0
}

// Ranking is the eviction order the driver pushes into the pool (pool.Rank): the idle containers of snap
// (idle or frozen, not suspended, no run waiting on them), least valuable first as valueIdle orders them
// (by value, or by least recent invocation under EvictLeastRecentInvocation). Containers in ending are
// ranked as the idle containers they are about to become (their last run is returning: the driver pushes
// this ranking before the pool learns the run finished, so an eviction the run's end triggers sees them
// valued). The pool evicts in this order until the next ranking; containers that became idle since come
// after the named ones, least recently used first. scheduler/doc.go lists when the drivers push it.
func (c *Controller) Ranking(now time.Time, snap pool.Snapshot, ending ...pool.ContainerID) pool.Rank {
	var idle []valued
	for _, ci := range snap.Containers {
		if ci.Key.IsZero() || ci.Suspended || ci.Waiting > 0 {
			continue
		}
		last := ci.LastUsed
		switch {
		case ci.State == pool.StateIdle || ci.State == pool.StateFrozen:
		case ci.State == pool.StateBusy && ci.Active == 1 && slices.Contains(ending, ci.C):
			last = now // the pool marks a container used when its run finishes
		default:
			continue
		}
		idle = append(idle, valued{c: ci.C, key: ci.Key, mb: ci.MemoryMB, last: last})
	}
	idle = c.valueIdle(now, idle)
	order := make([]pool.ContainerID, len(idle))
	for i, v := range idle {
		order[i] = v.c
	}
	return pool.Rank{Order: order}
}

// Learn gives the controller a function's past without invoking it (scenario tests and simulations that
// start from a history): its container spec, the arrivals, and one measured init and run time.
func (c *Controller) Learn(spec pool.Spec, arrivals []time.Time, init, run time.Duration) {
	c.specs[spec.Key] = spec
	for _, at := range arrivals {
		c.hist.Arrived(fnName(spec.Key), at)
	}
	c.hist.Measured(fnName(spec.Key), init, run)
}

// FormatCounts renders the state counters in order ("S1=3 S2=10 ...").
func FormatCounts(m map[State]int64) string {
	var b strings.Builder
	for i, s := range AllStates() {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s=%d", s, m[s])
	}
	return b.String()
}
