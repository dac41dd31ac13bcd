package pool

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultUserMemoryMB      = 2048
	DefaultMaxWarm           = 6
	DefaultColdReserveMB     = 512
	DefaultPauseGrace        = 10 * time.Second
	DefaultIdleTimeout       = 10 * time.Minute
	DefaultNamePrefix        = "wsk0"
	DefaultStemRetryBackoff  = time.Second
	DefaultStemCheckInterval = time.Minute
	maxStemRetryBackoff      = 5 * time.Minute
)

// ErrConfig is wrapped by Config.Validate errors.
var ErrConfig = errors.New("pool: invalid config")

// DefaultConfig is the pool's configuration with every default filled in; the invoker's configuration file
// starts from it.
func DefaultConfig() Config { return Config{}.WithDefaults() }

// WithDefaults returns c with every zero field replaced by its default.

func (c Config) WithDefaults() Config {
	if c.UserMemoryMB == 0 {
		c.UserMemoryMB = DefaultUserMemoryMB
	}
	if c.MaxWarm == 0 {
		c.MaxWarm = DefaultMaxWarm
	}
	if c.ColdReserveMB == 0 {
		c.ColdReserveMB = DefaultColdReserveMB
	}
	if c.PauseGrace == 0 {
		c.PauseGrace = DefaultPauseGrace
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.NamePrefix == "" {
		c.NamePrefix = DefaultNamePrefix
	}
	if c.StemRetryBackoff <= 0 {
		c.StemRetryBackoff = DefaultStemRetryBackoff
	}
	if c.StemCheckInterval <= 0 {
		c.StemCheckInterval = DefaultStemCheckInterval
	}
	if c.StemCheckInitDelay <= 0 {
		c.StemCheckInitDelay = c.StemCheckInterval
	}
	return c
}

// Validate reports a configuration the pool cannot honour (after defaults).
func (c Config) Validate() error {
	c = c.WithDefaults()
	if c.UserMemoryMB < 0 {
		return fmt.Errorf("%w: user memory %d MB", ErrConfig, c.UserMemoryMB)
	}
	if c.ColdReserveMB >= c.UserMemoryMB {
		return fmt.Errorf("%w: cold reserve %d MB must be below user memory %d MB", ErrConfig, c.ColdReserveMB, c.UserMemoryMB)
	}
	stems := 0
	for _, s := range c.StemCells {
		if s.Kind == "" || s.MemoryMB <= 0 || s.Count < 0 {
			return fmt.Errorf("%w: stem cell %+v", ErrConfig, s)
		}
		if r := s.Reactive; r != nil && (r.MinCount < 0 || r.MaxCount < r.MinCount || r.Threshold < 1 ||
			r.Increment < 1 || r.TTL <= 0) {
			return fmt.Errorf("%w: stem cell %s %d MB: reactive %+v (want 0 <= minCount <= maxCount, threshold and "+
				"increment >= 1, ttl > 0)", ErrConfig, s.Kind, s.MemoryMB, *r)
		}
		stems += s.MemoryMB * max(s.Count, s.kept())
	}
	if stems > c.UserMemoryMB-c.reserve() {
		return fmt.Errorf("%w: stem cells need %d MB, above user memory %d MB minus cold reserve %d MB",
			ErrConfig, stems, c.UserMemoryMB, c.reserve())
	}
	return nil
}

func (c Config) reserve() int { return max(c.ColdReserveMB, 0) }

// kept is how many stem cells of s never give their memory to an activation: Count, or MinCount when
// reactive (the rest are shed on demand).
func (s StemCell) kept() int {
	if s.Reactive != nil {
		return max(s.Reactive.MinCount, 0)
	}
	return max(s.Count, 0)
}

// waiter is a run request queued on a container until its /init completes.
type waiter struct {
	id   string
	kind StartKind
}

type container struct {
	id           ContainerID
	spec         Spec
	stemIdx      int // index of the StemCell config this was created for, -1 if none
	state        State
	frozen       bool
	suspended    bool
	suspendFroze bool // Suspend froze it (Resume thaws)
	initDeferred bool // Started while suspended: Init waits for Resume
	initFor      string
	doomed       string // remove once runs end (reason), "" if not
	released     bool   // removal started from idle: its memory is no longer counted
	created      time.Time
	lastUsed     time.Time
	idleSince    time.Time
	active       []string // run IDs in flight
	waiting      []waiter // runs waiting for /init
	warmWaiters  []string // pre-warm request IDs waiting for /init
	uses         int
	initCost     time.Duration
}

func (c *container) isStem() bool { return c.spec.Stem }
func (c *container) conc() int    { return max(c.spec.Concurrency, 1) }
func (c *container) load() int    { return len(c.active) + len(c.waiting) }

type queued struct {
	req Request
}

type stemRetry struct {
	failures  int
	notBefore time.Time
}

type reqPhase int

const (
	phaseQueued reqPhase = iota
	phaseWaiting
	phaseRunning
	phasePrewarm
)

type reqInfo struct {
	phase reqPhase
	c     ContainerID
}

// Pool is the pure container-pool state machine: events in (Step), actions out. It does no I/O, starts no
// goroutine and reads no clock. It is not safe for concurrent use; Manager owns one behind a mutex.
type Pool struct {
	cfg        Config
	now        time.Time
	nextID     ContainerID
	containers map[ContainerID]*container
	queue      []queued
	reqs       map[string]*reqInfo
	usedMB     int
	funcUses   map[Key]int
	stemRetry  []stemRetry
	stemTotal  int   // memory of the stem cells that are never shed (kept)
	stemWant   []int // wanted stem cells per configuration (Count, or the last reactive check's)
	stemCold   []int // cold starts per reactive configuration since the last check
	// stemColdChecks and stemExpiredChecks count, per stem-cell configuration, the checks that saw cold
	// starts and the checks that removed expired stem cells (Snapshot.StemCells).
	stemColdChecks, stemExpiredChecks []uint64
	stemCheck                         time.Time
	rank                              map[ContainerID]int // place of each container in the latest Rank (eviction order)
	closing                           bool
	out                               []Action
}

// New returns an empty pool at time now. Zero Config fields take their defaults (Config.WithDefaults); an
// invalid Config is not an error here (see Config.Validate): the bounds are simply honoured as given. Stem
// cells are created by the first Step (send Tick{}).
func New(cfg Config, now time.Time) *Pool {
	cfg = cfg.WithDefaults()
	p := &Pool{
		cfg:        cfg,
		now:        now,
		containers: make(map[ContainerID]*container),
		reqs:       make(map[string]*reqInfo),
		funcUses:   make(map[Key]int),
		stemRetry:  make([]stemRetry, len(cfg.StemCells)),
		stemWant:   make([]int, len(cfg.StemCells)),
		stemCold:   make([]int, len(cfg.StemCells)),

		stemColdChecks:    make([]uint64, len(cfg.StemCells)),
		stemExpiredChecks: make([]uint64, len(cfg.StemCells)),
		stemCheck:         now.Add(cfg.StemCheckInitDelay),
	}
	for i, s := range cfg.StemCells {
		p.stemTotal += s.kept() * s.MemoryMB
		p.stemWant[i] = max(s.Count, 0)
	}
	return p
}

// Config returns the effective configuration (defaults applied).
func (p *Pool) Config() Config { return p.cfg }

// Step applies ev at time now and returns the actions to execute, in order. Time never goes backwards: an
// earlier now is treated as the last one. Timers (pause grace, idle timeout) that expired by now fire
// before ev is applied; then the run buffer is served, the warm pool trimmed to MaxWarm and stem cells
// backfilled.
func (p *Pool) Step(now time.Time, ev Event) []Action {
	if now.After(p.now) {
		p.now = now
	}
	p.out = nil
	p.timers()
	p.checkStems()
	switch e := ev.(type) {
	case Request:
		p.onRequest(e)
	case Started:
		p.onStarted(e)
	case StartFailed:
		p.onStartFailed(e)
	case Initialized:
		p.onInitialized(e)
	case InitFailed:
		p.onInitFailed(e)
	case RunFinished:
		p.onRunFinished(e)
	case Removed:
		p.onRemoved(e)
	case Destroy:
		p.onDestroy(e)
	case Evict:
		p.onEvict(e)
	case Suspend:
		p.onSuspend(e)
	case Resume:
		p.onResume(e)
	case Cancel:
		p.onCancel(e)
	case Shutdown:
		p.onShutdown()
	case Rank:
		p.onRank(e)
	case Tick, nil:
	default:
		p.ignore(fmt.Sprintf("%T", ev), "unknown event")
	}
	p.serveQueue()
	p.trimWarm()
	p.backfillStems()
	out := p.out
	p.out = nil
	return out
}

func (p *Pool) emit(a Action) { p.out = append(p.out, a) }

func (p *Pool) ignore(ev, reason string) { p.emit(Ignored{Event: ev, Reason: reason}) }

// ---------------------------------------------------------------------------------------------------------
// Requests and placement

func (p *Pool) onRequest(r Request) {
	if r.ID == "" {
		p.ignore("request", "empty request id")
		return
	}
	if _, dup := p.reqs[r.ID]; dup {
		p.ignore("request "+r.ID, "duplicate request id")
		return
	}
	if p.closing {
		p.emit(Reject{ID: r.ID, Reason: "pool shutting down"})
		return
	}
	if r.Spec.Concurrency < 1 {
		r.Spec.Concurrency = 1
	}
	if reason := p.impossible(r); reason != "" {
		p.emit(Reject{ID: r.ID, Reason: reason})
		return
	}
	if r.Prewarm {
		p.placePrewarm(r)
		return
	}
	if len(p.queue) == 0 {
		if p.placeRun(r) == placed {
			return
		}
	}
	p.reqs[r.ID] = &reqInfo{phase: phaseQueued}
	p.queue = append(p.queue, queued{req: r})
	p.emit(Buffered{ID: r.ID})
}

// impossible returns why r can never be served, or "".
func (p *Pool) impossible(r Request) string {
	s := r.Spec
	switch {
	case s.Stem:
		return "a request cannot ask for a stem cell"
	case s.Key.IsZero() || s.Key.Action == "":
		return "missing action key"
	case s.MemoryMB <= 0:
		return fmt.Sprintf("invalid memory %d MB", s.MemoryMB)
	}
	// Stem cells are never evicted, so the memory they may hold is never available, unless r can take one.
	capacity := p.cfg.UserMemoryMB - p.stemTotal
	if r.Prewarm {
		capacity -= p.cfg.reserve()
	}
	if p.matchesStemConfig(s) {
		capacity += s.MemoryMB
	}
	if s.MemoryMB > capacity {
		what := "memory"
		if r.Prewarm {
			what = "pre-warm memory"
		}
		return fmt.Sprintf("%s %d MB exceeds the pool's capacity of %d MB", what, s.MemoryMB, max(capacity, 0))
	}
	return ""
}

func (p *Pool) matchesStemConfig(s Spec) bool {
	for _, sc := range p.cfg.StemCells {
		if (sc.Count > 0 || (sc.Reactive != nil && sc.Reactive.MaxCount > 0)) && sc.Kind == s.Kind && sc.MemoryMB == s.MemoryMB {
			return true
		}
	}
	return false
}

// reactiveStemFor is the reactive stem-cell configuration of s's kind and memory, or -1.
func (p *Pool) reactiveStemFor(s Spec) int {
	for i, sc := range p.cfg.StemCells {
		if sc.Reactive != nil && sc.Kind == s.Kind && sc.MemoryMB == s.MemoryMB {
			return i
		}
	}
	return -1
}

// shedStems removes started, unused stem cells above their configuration's kept count, newest first, until
// need MB are freed; it returns the memory freed (released at once: they are idle).
func (p *Pool) shedStems(need int, reason string) int {
	freed := 0
	for i, sc := range p.cfg.StemCells {
		surplus := p.liveStems(i) - sc.kept()
		if sc.Reactive == nil || surplus <= 0 {
			continue
		}
		stems := p.stemsOf(i)
		for j := len(stems) - 1; j >= 0 && surplus > 0 && freed < need; j-- {
			p.release(stems[j], reason, false)
			surplus--
			freed += sc.MemoryMB
		}
	}
	return freed
}

// stemsOf lists the started, unused, unsuspended stem cells of configuration i, oldest first.
func (p *Pool) stemsOf(i int) []*container {
	var out []*container
	for _, c := range p.sorted() {
		if c.isStem() && c.stemIdx == i && c.state == StatePrewarmed && !c.suspended && c.doomed == "" {
			out = append(out, c)
		}
	}
	slices.SortStableFunc(out, func(a, b *container) int { return a.created.Compare(b.created) })
	return out
}

// checkStems runs the reactive check once per StemCheckInterval: new wanted counts from the interval's
// cold starts, then expired surplus stem cells removed (backfillStems adds any missing).
func (p *Pool) checkStems() {
	if p.now.Before(p.stemCheck) || p.closing {
		return
	}
	p.stemCheck = p.now.Add(p.cfg.StemCheckInterval)
	for i, sc := range p.cfg.StemCells {
		r := sc.Reactive
		if r == nil {
			continue
		}
		p.stemWant[i] = r.want(p.stemCold[i])
		if p.stemCold[i] > 0 {
			p.stemColdChecks[i]++
		}
		p.stemCold[i] = 0
		live, expired := p.liveStems(i), false
		for _, c := range p.stemsOf(i) {
			if live <= p.stemWant[i] || p.now.Before(c.created.Add(r.TTL)) {
				break // oldest first: the rest are younger
			}
			p.release(c, fmt.Sprintf("prewarm unused for %v above the reactive count %d", r.TTL, p.stemWant[i]), false)
			live--
			expired = true
		}
		if expired {
			p.stemExpiredChecks[i]++
		}
	}
}

type placement int

const (
	placed   placement = iota
	mustWait           // waits in the buffer (eviction in flight or memory full)
)

// placeRun tries to give on-demand request r a container (docs/protocol.md#scheduling order: warm, stem cell, cold,
// evict). It returns mustWait when r must wait in the buffer.
func (p *Pool) placeRun(r Request) placement {
	s := r.Spec
	if c := p.matchWarm(s); c != nil {
		if c.state == StateStarting || c.state == StateWarming {
			c.waiting = append(c.waiting, waiter{id: r.ID, kind: StartWarming})
			p.reqs[r.ID] = &reqInfo{phase: phaseWaiting, c: c.id}
		} else {
			p.startRun(c, r.ID, StartWarm)
		}
		return placed
	}
	if c := p.matchStem(s); c != nil {
		p.takeStem(c, s)
		c.waiting = append(c.waiting, waiter{id: r.ID, kind: StartPrewarmed})
		p.reqs[r.ID] = &reqInfo{phase: phaseWaiting, c: c.id}
		p.sendInit(c, r.ID)
		return placed
	}
	// Surplus stem cells give way before any warm container is evicted.
	missing := p.usedMB - p.removingMB() + s.MemoryMB - p.cfg.UserMemoryMB
	if missing > 0 {
		missing -= p.shedStems(missing, "made room for "+r.ID)
	}
	if p.usedMB+s.MemoryMB <= p.cfg.UserMemoryMB {
		if i := p.reactiveStemFor(s); i >= 0 {
			p.stemCold[i]++ // no stem cell could take it: a cold start the reactive count should answer
		}
		c := p.create(s, -1, r.ID)
		c.waiting = append(c.waiting, waiter{id: r.ID, kind: StartCold})
		c.initFor = r.ID
		p.reqs[r.ID] = &reqInfo{phase: phaseWaiting, c: c.id}
		return placed
	}
	// Memory already being removed will come back; only evict what is still missing. Idle victims give
	// their memory back at once (release): the request is placed beside their removal.
	if missing > 0 && p.evict(need{mb: missing, prewarms: true}, "evicted for "+r.ID) && p.usedMB+s.MemoryMB <= p.cfg.UserMemoryMB {
		return p.placeRun(r)
	}
	return mustWait
}

// placePrewarm handles the controller's pre-warm of one function: satisfied by an existing container of the
// key, else a stem cell, else a new container within MaxWarm, in free memory, and leaving the cold reserve
// free or evictable at once. Never evicts, never buffers.
func (p *Pool) placePrewarm(r Request) {
	s := r.Spec
	if c := p.matchWarmAny(s); c != nil {
		if c.state == StateStarting || c.state == StateWarming {
			c.warmWaiters = append(c.warmWaiters, r.ID)
			p.reqs[r.ID] = &reqInfo{phase: phasePrewarm, c: c.id}
		} else {
			p.emit(Warmed{ID: r.ID, C: c.id})
		}
		return
	}
	if p.cfg.MaxWarm >= 0 && p.warmCount()+1 > p.cfg.MaxWarm {
		p.emit(Reject{ID: r.ID, Reason: fmt.Sprintf("warm pool full (%d/%d)", p.warmCount(), p.cfg.MaxWarm)})
		return
	}
	if c := p.matchStem(s); c != nil {
		p.takeStem(c, s)
		c.warmWaiters = append(c.warmWaiters, r.ID)
		p.reqs[r.ID] = &reqInfo{phase: phasePrewarm, c: c.id}
		p.sendInit(c, r.ID)
		return
	}
	if len(p.queue) > 0 {
		p.emit(Reject{ID: r.ID, Reason: "run buffer not empty"})
		return
	}
	// The cold reserve: an on-demand cold start must find ColdReserveMB free or held by idle containers it
	// can evict at once (their memory is released when their removal starts), so a pre-warm may only add
	// to the memory held otherwise up to UserMemoryMB − ColdReserveMB. Kept idle containers may occupy the
	// reserve; the pre-warm itself must fit in what is free (the pool never evicts for a pre-warm: the
	// controller stops what it wants replaced first).
	if limit, held := p.cfg.UserMemoryMB-p.cfg.reserve(), p.heldMB(); held+s.MemoryMB > limit {
		p.emit(Reject{ID: r.ID, Reason: fmt.Sprintf("the cold reserve: %d+%d MB held by containers that cannot be "+
			"evicted at once > %d MB", held, s.MemoryMB, limit)})
		return
	}
	if p.usedMB+s.MemoryMB > p.cfg.UserMemoryMB {
		p.emit(Reject{ID: r.ID, Reason: fmt.Sprintf("no free memory (%d+%d > %d MB)", p.usedMB, s.MemoryMB,
			p.cfg.UserMemoryMB)})
		return
	}
	c := p.create(s, -1, r.ID)
	c.initFor = r.ID
	c.warmWaiters = append(c.warmWaiters, r.ID)
	p.reqs[r.ID] = &reqInfo{phase: phasePrewarm, c: c.id}
}

// warmRank orders reusable containers: idle first, then busy with spare capacity, then frozen (needs a
// thaw), then not yet initialised.
func warmRank(c *container) int {
	switch c.state {
	case StateIdle:
		return 0
	case StateBusy:
		return 1
	case StateFrozen:
		return 2
	default:
		return 3
	}
}

// matchWarm finds a container of s.Key with spare capacity that may take a run now (not suspended).
func (p *Pool) matchWarm(s Spec) *container {
	var best *container
	for _, c := range p.containers {
		if c.isStem() || c.spec.Key != s.Key || c.spec.MemoryMB != s.MemoryMB || c.suspended || c.doomed != "" {
			continue
		}
		switch c.state {
		case StateStarting, StateWarming, StateIdle, StateBusy, StateFrozen:
		default:
			continue
		}
		if c.load() >= c.conc() {
			continue
		}
		if best == nil || better(c, best) {
			best = c
		}
	}
	return best
}

func better(a, b *container) bool {
	ra, rb := warmRank(a), warmRank(b)
	if ra != rb {
		return ra < rb
	}
	if !a.lastUsed.Equal(b.lastUsed) {
		return a.lastUsed.After(b.lastUsed)
	}
	return a.id < b.id
}

// matchWarmAny is matchWarm for pre-warms: suspended containers count (the function is warm or warming).
func (p *Pool) matchWarmAny(s Spec) *container {
	var best *container
	for _, c := range p.containers {
		if c.isStem() || c.spec.Key != s.Key || c.spec.MemoryMB != s.MemoryMB || c.doomed != "" {
			continue
		}
		switch c.state {
		case StateStarting, StateWarming, StateIdle, StateFrozen:
		case StateBusy:
			if c.load() >= c.conc() {
				continue
			}
		default:
			continue
		}
		if best == nil || better(c, best) {
			best = c
		}
	}
	return best
}

// matchStem finds a started, unsuspended stem cell with the same kind and memory (oldest first).
func (p *Pool) matchStem(s Spec) *container {
	var best *container
	for _, c := range p.containers {
		// A stem cell runs with the backend's default cpuset, so a function pinned elsewhere cannot use it.
		if !c.isStem() || c.state != StatePrewarmed || c.suspended || c.doomed != "" ||
			c.spec.Kind != s.Kind || c.spec.MemoryMB != s.MemoryMB || c.spec.CPUSet != s.CPUSet {
			continue
		}
		if best == nil || c.created.Before(best.created) || (c.created.Equal(best.created) && c.id < best.id) {
			best = c
		}
	}
	return best
}

func (p *Pool) takeStem(c *container, s Spec) {
	img := c.spec.Image
	c.spec = s
	c.spec.Stem = false
	if c.spec.Image == "" {
		c.spec.Image = img
	}
	c.stemIdx = -1
	c.state = StateWarming
}

func (p *Pool) sendInit(c *container, forID string) {
	c.initFor = forID
	c.state = StateWarming
	p.emit(Init{C: c.id, ForID: forID})
}

func (p *Pool) create(s Spec, stemIdx int, forID string) *container {
	p.nextID++
	c := &container{
		id:       p.nextID,
		spec:     s,
		stemIdx:  stemIdx,
		state:    StateStarting,
		created:  p.now,
		lastUsed: p.now,
	}
	p.containers[c.id] = c
	p.usedMB += s.MemoryMB
	p.emit(Create{C: c.id, Spec: s, Name: p.containerName(c), ForID: forID})
	return c
}

var nameUnsafe = regexp.MustCompile(`[^A-Za-z0-9_]`)

// containerName follows docs/protocol.md#names-and-labels: <prefix>_<counter>_<namespace>_<action> or <prefix>_<counter>_prewarm_<kind>.
func (p *Pool) containerName(c *container) string {
	a, b := "prewarm", c.spec.Kind
	if !c.spec.Stem {
		a = c.spec.Key.Namespace
		b = c.spec.Key.Action
		if i := strings.LastIndexByte(b, '/'); i >= 0 {
			b = b[i+1:]
		}
	}
	return fmt.Sprintf("%s_%d_%s_%s", p.cfg.NamePrefix, uint64(c.id), nameUnsafe.ReplaceAllString(a, ""),
		nameUnsafe.ReplaceAllString(b, ""))
}

// startRun hands run id to an initialised container (idle, frozen or busy with capacity).
func (p *Pool) startRun(c *container, id string, kind StartKind) {
	if c.frozen {
		p.emit(Thaw{C: c.id})
		c.frozen = false
	}
	c.state = StateBusy
	c.active = append(c.active, id)
	c.uses++
	c.lastUsed = p.now
	p.funcUses[c.spec.Key]++
	p.reqs[id] = &reqInfo{phase: phaseRunning, c: c.id}
	p.emit(Run{C: c.id, ID: id, Start: kind})
}

// serveQueue places buffered requests strictly in arrival order.
func (p *Pool) serveQueue() {
	for len(p.queue) > 0 {
		head := p.queue[0].req
		delete(p.reqs, head.ID) // placeRun re-registers it
		if p.placeRun(head) != placed {
			p.reqs[head.ID] = &reqInfo{phase: phaseQueued}
			return
		}
		p.queue = p.queue[1:]
	}
}

// ---------------------------------------------------------------------------------------------------------
// Container events

func (p *Pool) lookup(ev string, id ContainerID) *container {
	c, ok := p.containers[id]
	if !ok {
		p.ignore(ev, "unknown container")
		return nil
	}
	return c
}

func (p *Pool) onStarted(e Started) {
	c := p.lookup("started "+e.C.String(), e.C)
	if c == nil {
		return
	}
	if c.state == StateRemoving {
		return // a Remove is already queued behind the Create
	}
	if c.state != StateStarting {
		p.ignore("started "+e.C.String(), "not starting ("+c.state.String()+")")
		return
	}
	if c.isStem() {
		if c.stemIdx >= 0 && c.stemIdx < len(p.stemRetry) {
			p.stemRetry[c.stemIdx] = stemRetry{}
		}
		c.state = StatePrewarmed
		if c.suspended {
			p.freezeForSuspend(c)
		}
		return
	}
	c.state = StateWarming
	if c.suspended {
		c.initDeferred = true
		p.freezeForSuspend(c)
		return
	}
	p.sendInit(c, c.initFor)
}

func (p *Pool) onStartFailed(e StartFailed) {
	c := p.lookup("start-failed "+e.C.String(), e.C)
	if c == nil {
		return
	}
	if c.state != StateStarting && c.state != StateRemoving {
		p.ignore("start-failed "+e.C.String(), "not starting ("+c.state.String()+")")
		return
	}
	for _, w := range c.waiting {
		p.fail(w.id, c.id, FailStart, e.Reason)
	}
	for _, id := range c.warmWaiters {
		p.fail(id, c.id, FailStart, e.Reason)
	}
	c.waiting, c.warmWaiters = nil, nil
	if c.isStem() && c.stemIdx >= 0 && c.stemIdx < len(p.stemRetry) {
		r := &p.stemRetry[c.stemIdx]
		r.failures++
		backoff := p.cfg.StemRetryBackoff << min(r.failures-1, 20)
		r.notBefore = p.now.Add(min(backoff, maxStemRetryBackoff))
	}
	p.forget(c) // nothing was left behind by the backend
}

func (p *Pool) fail(id string, c ContainerID, cause FailCause, reason string) {
	delete(p.reqs, id)
	p.emit(Failed{ID: id, C: c, Cause: cause, Reason: reason})
}

func (p *Pool) onInitialized(e Initialized) {
	c := p.lookup("initialized "+e.C.String(), e.C)
	if c == nil {
		return
	}
	if c.state == StateRemoving {
		return
	}
	if c.state != StateWarming || c.initDeferred {
		p.ignore("initialized "+e.C.String(), "not warming ("+c.state.String()+")")
		return
	}
	c.initCost = e.Duration
	c.lastUsed = p.now
	for _, id := range c.warmWaiters {
		delete(p.reqs, id)
		p.emit(Warmed{ID: id, C: c.id})
	}
	c.warmWaiters = nil
	waiting := c.waiting
	c.waiting = nil
	c.state = StateIdle
	c.idleSince = p.now
	if c.frozen { // suspended during /init
		c.state = StateFrozen
		c.waiting = waiting // stays queued until Resume (cannot happen: Suspend refuses waiting runs)
		return
	}
	for _, w := range waiting {
		p.startRun(c, w.id, w.kind)
	}
}

func (p *Pool) onInitFailed(e InitFailed) {
	c := p.lookup("init-failed "+e.C.String(), e.C)
	if c == nil {
		return
	}
	if c.state == StateRemoving {
		return
	}
	if c.state != StateWarming {
		p.ignore("init-failed "+e.C.String(), "not warming ("+c.state.String()+")")
		return
	}
	for _, w := range c.waiting {
		p.fail(w.id, c.id, FailInit, e.Reason)
	}
	for _, id := range c.warmWaiters {
		p.fail(id, c.id, FailInit, e.Reason)
	}
	c.waiting, c.warmWaiters = nil, nil
	p.remove(c, "init failed")
}

func (p *Pool) onRunFinished(e RunFinished) {
	ev := "finished " + e.C.String() + " " + e.ID
	c := p.lookup(ev, e.C)
	if c == nil {
		return
	}
	i := slices.Index(c.active, e.ID)
	if i < 0 {
		p.ignore(ev, "run not active on this container")
		return
	}
	c.active = slices.Delete(c.active, i, i+1)
	delete(p.reqs, e.ID)
	c.lastUsed = p.now
	if e.Destroy && c.doomed == "" {
		c.doomed = "destroy after run " + e.ID
	}
	if len(c.active) > 0 {
		return
	}
	if c.doomed != "" {
		p.remove(c, c.doomed)
		return
	}
	if c.state == StateBusy {
		c.state = StateIdle
		c.idleSince = p.now
	}
}

func (p *Pool) onRemoved(e Removed) {
	c := p.lookup("removed "+e.C.String(), e.C)
	if c == nil {
		return
	}
	// Unexpected removal (container died): runs not yet started go back to the head of the buffer.
	p.requeue(c)
	for _, id := range c.warmWaiters {
		p.fail(id, c.id, FailGone, "container removed")
	}
	c.warmWaiters = nil
	for _, id := range c.active {
		delete(p.reqs, id) // their RunFinished will be ignored
	}
	p.forget(c)
}

// requeue puts c's waiting runs back at the head of the buffer, in order.
func (p *Pool) requeue(c *container) {
	if len(c.waiting) == 0 {
		return
	}
	front := make([]queued, 0, len(c.waiting)+len(p.queue))
	for _, w := range c.waiting {
		req := p.requestFor(w.id, c)
		p.reqs[w.id] = &reqInfo{phase: phaseQueued}
		front = append(front, queued{req: req})
	}
	p.queue = append(front, p.queue...)
	c.waiting = nil
}

// requestFor rebuilds the request of a waiting run from its container's spec.
func (p *Pool) requestFor(id string, c *container) Request {
	s := c.spec
	s.Stem = false
	return Request{ID: id, Spec: s}
}

// forget drops c from the pool and frees its memory (unless its removal released it already).
func (p *Pool) forget(c *container) {
	if !c.released {
		p.usedMB -= c.spec.MemoryMB
	}
	delete(p.containers, c.id)
	delete(p.rank, c.id)
	if !c.isStem() && !p.keyAlive(c.spec.Key) {
		delete(p.funcUses, c.spec.Key)
	}
}

func (p *Pool) keyAlive(k Key) bool {
	for _, c := range p.containers {
		if !c.isStem() && c.spec.Key == k {
			return true
		}
	}
	return false
}

func (p *Pool) onDestroy(e Destroy) {
	ev := "destroy " + e.C.String()
	c := p.lookup(ev, e.C)
	if c == nil {
		return
	}
	if c.state == StateRemoving {
		return
	}
	reason := "destroyed"
	if e.Reason != "" {
		reason += ": " + e.Reason
	}
	p.requeue(c)
	for _, id := range c.warmWaiters {
		p.fail(id, c.id, FailGone, reason)
	}
	c.warmWaiters = nil
	if len(c.active) > 0 {
		if c.doomed == "" {
			c.doomed = reason
		}
		return
	}
	p.remove(c, reason)
}

func (p *Pool) onEvict(e Evict) {
	ev := "evict " + e.C.String()
	c := p.lookup(ev, e.C)
	if c == nil {
		return
	}
	if (c.state != StateIdle && c.state != StateFrozen) || c.suspended {
		p.ignore(ev, "not idle ("+p.describe(c)+")")
		return
	}
	p.release(c, "evicted by controller", false)
}

func (p *Pool) describe(c *container) string {
	s := c.state.String()
	if c.suspended {
		s += ", suspended"
	}
	return s
}

func (p *Pool) onSuspend(e Suspend) {
	ev := "suspend " + e.C.String()
	c := p.lookup(ev, e.C)
	if c == nil {
		return
	}
	switch {
	case c.suspended:
		p.ignore(ev, "already suspended")
		return
	case c.state == StateRemoving || c.state == StateBusy || c.doomed != "":
		p.ignore(ev, "cannot suspend a "+c.state.String()+" container")
		return
	case len(c.waiting) > 0:
		p.ignore(ev, "runs are waiting on it")
		return
	}
	c.suspended = true
	switch c.state {
	case StateStarting: // frozen on Started
	case StateFrozen: // already frozen by pause grace; Resume leaves it frozen
	default:
		p.freezeForSuspend(c)
	}
}

func (p *Pool) freezeForSuspend(c *container) {
	p.emit(Freeze{C: c.id})
	c.frozen = true
	c.suspendFroze = true
	if c.state == StateIdle {
		c.state = StateFrozen
	}
}

func (p *Pool) onResume(e Resume) {
	ev := "resume " + e.C.String()
	c := p.lookup(ev, e.C)
	if c == nil {
		return
	}
	if !c.suspended {
		p.ignore(ev, "not suspended")
		return
	}
	c.suspended = false
	if c.suspendFroze && c.frozen {
		p.emit(Thaw{C: c.id})
		c.frozen = false
		if c.state == StateFrozen {
			c.state = StateIdle
			c.idleSince = p.now
		}
	}
	c.suspendFroze = false
	if c.state == StateIdle && len(c.waiting) > 0 {
		waiting := c.waiting
		c.waiting = nil
		for _, w := range waiting {
			p.startRun(c, w.id, w.kind)
		}
	}
	if c.initDeferred {
		c.initDeferred = false
		p.sendInit(c, c.initFor)
	}
}

func (p *Pool) onCancel(e Cancel) {
	ev := "cancel " + e.ID
	info, ok := p.reqs[e.ID]
	if !ok {
		p.ignore(ev, "unknown request")
		return
	}
	switch info.phase {
	case phaseQueued:
		i := slices.IndexFunc(p.queue, func(q queued) bool { return q.req.ID == e.ID })
		p.queue = slices.Delete(p.queue, i, i+1)
		p.fail(e.ID, 0, FailCanceled, "canceled")
	case phaseWaiting:
		c := p.containers[info.c]
		i := slices.IndexFunc(c.waiting, func(w waiter) bool { return w.id == e.ID })
		c.waiting = slices.Delete(c.waiting, i, i+1)
		p.fail(e.ID, c.id, FailCanceled, "canceled")
	case phasePrewarm:
		c := p.containers[info.c]
		c.warmWaiters = slices.DeleteFunc(c.warmWaiters, func(id string) bool { return id == e.ID })
		p.fail(e.ID, c.id, FailCanceled, "canceled")
	default:
		p.ignore(ev, "already running")
	}
}

func (p *Pool) onShutdown() {
	if p.closing {
		return
	}
	p.closing = true
	const reason = "pool shutting down"
	for _, q := range p.queue {
		p.fail(q.req.ID, 0, FailShutdown, reason)
	}
	p.queue = nil
	for _, c := range p.sorted() {
		for _, w := range c.waiting {
			p.fail(w.id, c.id, FailShutdown, reason)
		}
		for _, id := range c.warmWaiters {
			p.fail(id, c.id, FailShutdown, reason)
		}
		c.waiting, c.warmWaiters = nil, nil
		switch {
		case c.state == StateRemoving:
		case len(c.active) > 0:
			if c.doomed == "" {
				c.doomed = "shutdown"
			}
		default:
			p.release(c, "shutdown", false)
		}
	}
}

// remove starts removing c (broken, failed, or destroyed after its runs): its memory stays counted until
// Removed. A frozen container is thawed first.
func (p *Pool) remove(c *container, reason string) { p.removeAs(c, reason, false, false) }

// release starts removing c, an idle container the pool or the controller gives up (idle or frozen
// function container, unused stem cell; evict releases pre-warms in flight the same way), and gives its
// memory back at once (Remove.Released): the backend
// kills it first, and its processes are gone long before a container created now starts (docs/simulator.md,
// "Eviction cost"), so no request waits for the rest of the removal. evicted marks a victim of the eviction
// order (Remove.Evicted).
func (p *Pool) release(c *container, reason string, evicted bool) {
	idle := len(c.active) == 0 && len(c.waiting) == 0 && len(c.warmWaiters) == 0 && c.doomed == "" &&
		(c.state == StateIdle || c.state == StateFrozen || c.state == StatePrewarmed)
	p.removeAs(c, reason, evicted, idle)
}

func (p *Pool) removeAs(c *container, reason string, evicted, released bool) {
	if c.state == StateRemoving {
		return
	}
	if c.frozen {
		p.emit(Thaw{C: c.id})
		c.frozen = false
	}
	c.state = StateRemoving
	c.suspended = false
	if released {
		c.released = true
		p.usedMB -= c.spec.MemoryMB
	}
	p.emit(Remove{C: c.id, Reason: reason, Evicted: evicted, Released: released})
}

// ---------------------------------------------------------------------------------------------------------
// Eviction, MaxWarm, stem cells, timers

// removingMB is the memory of containers on their way out that is still counted (not released).
func (p *Pool) removingMB() int {
	mb := 0
	for _, c := range p.containers {
		if (c.state == StateRemoving || c.doomed != "") && !c.released {
			mb += c.spec.MemoryMB
		}
	}
	return mb
}

// heldMB is the counted memory an eviction cannot give back at once: everything but the idle function
// containers that are eviction candidates.
func (p *Pool) heldMB() int {
	held := p.usedMB
	for _, c := range p.candidates() {
		held -= c.spec.MemoryMB
	}
	return held
}

// warmCount counts function-specific containers that are not on their way out.
func (p *Pool) warmCount() int {
	n := 0
	for _, c := range p.containers {
		if !c.isStem() && c.state != StateRemoving && c.doomed == "" {
			n++
		}
	}
	return n
}

// need says how much an eviction must free: at least mb of memory and at least count containers; with
// prewarms, controller pre-warms still starting or in /init may go too, after every idle container.
type need struct {
	mb       int
	count    int
	prewarms bool
}

// candidates lists idle warm containers (evictable) in eviction order: the containers the latest Rank names,
// in its order, then the others least recently used first (ties by id).
func (p *Pool) candidates() []*container {
	var out []*container
	for _, c := range p.containers {
		if c.isStem() || c.suspended || c.doomed != "" || len(c.waiting) > 0 {
			continue
		}
		if c.state == StateIdle || c.state == StateFrozen {
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b *container) int {
		ra, okA := p.rank[a.id]
		rb, okB := p.rank[b.id]
		switch {
		case okA && okB:
			return ra - rb
		case okA:
			return -1
		case okB:
			return 1
		}
		if c := a.lastUsed.Compare(b.lastUsed); c != 0 {
			return c
		}
		return int(a.id) - int(b.id)
	})
	return out
}

// prewarmsInFlight lists the controller's pre-warms still starting or in /init with no run waiting on them
// (suspended or not), newest first: an on-demand request never waits for memory a pre-warm holds.
func (p *Pool) prewarmsInFlight() []*container {
	var out []*container
	for _, c := range p.containers {
		if !c.isStem() && len(c.warmWaiters) > 0 && len(c.waiting) == 0 && len(c.active) == 0 && c.doomed == "" &&
			(c.state == StateStarting || c.state == StateWarming) {
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b *container) int {
		if c := b.created.Compare(a.created); c != 0 {
			return c
		}
		return int(b.id) - int(a.id)
	})
	return out
}

// evict removes the shortest prefix of the eviction order (then, with n.prewarms, of the pre-warms in
// flight, whose requests are rejected) that satisfies n; it evicts nothing when all the candidates
// together do not.
func (p *Pool) evict(n need, reason string) bool {
	var chosen []*container
	mb := 0
	cands := p.candidates()
	if n.prewarms {
		cands = append(cands, p.prewarmsInFlight()...)
	}
	for _, c := range cands {
		if mb >= n.mb && len(chosen) >= n.count {
			break
		}
		chosen = append(chosen, c)
		mb += c.spec.MemoryMB
	}
	if len(chosen) == 0 || mb < n.mb || len(chosen) < n.count {
		return false
	}
	for _, c := range chosen {
		if len(c.warmWaiters) > 0 { // a pre-warm in flight: it gives way, released like an idle container
			for _, id := range c.warmWaiters {
				delete(p.reqs, id)
				p.emit(Reject{ID: id, Reason: "pre-warm " + reason})
			}
			c.warmWaiters = nil
			p.removeAs(c, reason, true, true)
			continue
		}
		p.release(c, reason, true)
	}
	return true
}

// onRank replaces the eviction order.
func (p *Pool) onRank(e Rank) {
	p.rank = make(map[ContainerID]int, len(e.Order))
	for i, c := range e.Order {
		if _, dup := p.rank[c]; !dup {
			p.rank[c] = i
		}
	}
}

// trimWarm evicts idle function containers above MaxWarm.
func (p *Pool) trimWarm() {
	if p.cfg.MaxWarm < 0 {
		return
	}
	excess := p.warmCount() - p.cfg.MaxWarm
	if excess <= 0 {
		return
	}
	// While requests wait in the buffer an idle warm container may be exactly what the next one needs
	// (a burst of one function); trimming it would only cause a cold start. Trim once the buffer drains.
	if len(p.queue) > 0 {
		return
	}
	// Evict as many as the idle candidates allow (the rest when they become idle).
	n := min(excess, len(p.candidates()))
	if n > 0 {
		p.evict(need{count: n}, "max warm")
	}
}

// backfillStems keeps Count stem cells of every configuration, within the memory outside the cold reserve
// and only while nothing waits in the buffer.
func (p *Pool) backfillStems() {
	if len(p.queue) > 0 || p.closing {
		return
	}
	limit := p.cfg.UserMemoryMB - p.cfg.reserve()
	for i, sc := range p.cfg.StemCells {
		want := p.stemWant[i]
		if want <= 0 || sc.MemoryMB <= 0 || p.now.Before(p.stemRetry[i].notBefore) {
			continue
		}
		for n := p.liveStems(i); n < want && p.usedMB+sc.MemoryMB <= limit; n++ {
			p.create(Spec{Kind: sc.Kind, Image: sc.Image, MemoryMB: sc.MemoryMB, Concurrency: 1, Stem: true}, i, "")
		}
	}
}

func (p *Pool) liveStems(i int) int {
	n := 0
	for _, c := range p.containers {
		if c.isStem() && c.stemIdx == i && c.state != StateRemoving {
			n++
		}
	}
	return n
}

// timers fires pause grace (freeze) and idle timeout (remove) for containers whose deadline passed.
func (p *Pool) timers() {
	for _, c := range p.sorted() {
		if c.isStem() || c.suspended || c.doomed != "" {
			continue
		}
		switch c.state {
		case StateIdle, StateFrozen:
			if p.cfg.IdleTimeout > 0 && !p.now.Before(c.lastUsed.Add(p.cfg.IdleTimeout)) {
				p.release(c, "idle timeout", false)
				continue
			}
			if c.state == StateIdle && p.cfg.PauseGrace >= 0 && !p.now.Before(c.idleSince.Add(p.cfg.PauseGrace)) {
				p.emit(Freeze{C: c.id})
				c.frozen = true
				c.state = StateFrozen
			}
		}
	}
}

// NextDeadline returns the earliest time at which a timer (freeze, idle timeout, stem retry) fires, so a
// driver or simulator can send Tick exactly then. ok is false when no timer is pending.
func (p *Pool) NextDeadline() (t time.Time, ok bool) {
	consider := func(d time.Time) {
		if !ok || d.Before(t) {
			t, ok = d, true
		}
	}
	for _, c := range p.containers {
		if c.isStem() || c.suspended || c.doomed != "" {
			continue
		}
		if c.state == StateIdle || c.state == StateFrozen {
			if p.cfg.IdleTimeout > 0 {
				consider(c.lastUsed.Add(p.cfg.IdleTimeout))
			}
			if c.state == StateIdle && p.cfg.PauseGrace >= 0 {
				consider(c.idleSince.Add(p.cfg.PauseGrace))
			}
		}
	}
	reactive := false
	for i, sc := range p.cfg.StemCells {
		if r := p.stemRetry[i]; r.failures > 0 && p.liveStems(i) < p.stemWant[i] && p.now.Before(r.notBefore) {
			consider(r.notBefore)
		}
		reactive = reactive || sc.Reactive != nil
	}
	if reactive && !p.closing {
		consider(p.stemCheck)
	}
	return t, ok
}

func (p *Pool) sorted() []*container {
	out := make([]*container, 0, len(p.containers))
	for _, c := range p.containers {
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b *container) int { return int(a.id) - int(b.id) })
	return out
}

// ---------------------------------------------------------------------------------------------------------
// Read-only views

func (p *Pool) info(c *container) ContainerInfo {
	ci := ContainerInfo{
		C:           c.id,
		Key:         c.spec.Key,
		Kind:        c.spec.Kind,
		MemoryMB:    c.spec.MemoryMB,
		Concurrency: c.conc(),
		State:       c.state,
		Frozen:      c.frozen,
		Suspended:   c.suspended,
		Released:    c.released,
		Created:     c.created,
		LastUsed:    c.lastUsed,
		Active:      len(c.active),
		Waiting:     len(c.waiting),
		Uses:        c.uses,
		InitCost:    c.initCost,
	}
	if !c.isStem() {
		ci.FunctionUses = p.funcUses[c.spec.Key]
	}
	return ci
}

// Snapshot returns a copy of the pool's state.
func (p *Pool) Snapshot() Snapshot {
	s := Snapshot{
		At:            p.now,
		UserMemoryMB:  p.cfg.UserMemoryMB,
		ColdReserveMB: p.cfg.ColdReserveMB,
		MaxWarm:       p.cfg.MaxWarm,
		UsedMB:        p.usedMB,
	}
	for _, c := range p.sorted() {
		s.CountByState[c.state]++
		s.MemoryByState[c.state] += c.spec.MemoryMB
		s.Containers = append(s.Containers, p.info(c))
	}
	s.WarmContainers = p.warmCount()
	for _, q := range p.queue {
		s.Buffered = append(s.Buffered, q.req.ID)
	}
	for i, sc := range p.cfg.StemCells {
		s.StemCells = append(s.StemCells, StemCellStats{Kind: sc.Kind, MemoryMB: sc.MemoryMB,
			ColdStartChecks: p.stemColdChecks[i], ExpiryChecks: p.stemExpiredChecks[i]})
	}
	return s
}

// Container returns one container's info.
func (p *Pool) Container(id ContainerID) (ContainerInfo, bool) {
	c, ok := p.containers[id]
	if !ok {
		return ContainerInfo{}, false
	}
	return p.info(c), true
}

// Lookup returns the live containers of key k (any state), by id.
func (p *Pool) Lookup(k Key) []ContainerInfo {
	var out []ContainerInfo
	for _, c := range p.sorted() {
		if !c.isStem() && c.spec.Key == k {
			out = append(out, p.info(c))
		}
	}
	return out
}

// UsedMB is the memory counted against live containers.
func (p *Pool) UsedMB() int { return p.usedMB }
