package pool

import (
	"fmt"
	"slices"
	"strings"
)

// invariantChecker keeps an independent model of the pool built only from the events sent and the actions
// emitted, and checks the pool against it after every step.
type invariantChecker struct {
	cfg      Config
	live     map[ContainerID]*modelContainer
	requests map[string]Request
	outcome  map[string]string   // request id -> "run" | "reject" | "failed" | "warmed"
	buffer   []string            // pool's buffer after the previous step
	canceled map[string]bool     // canceled during the current step
	runs     []string            // request ids in the order their Run was emitted
	rank     map[ContainerID]int // the latest Rank sent: place of each container
	evicted  []ContainerID       // containers the current step removed by the eviction order
	// evictedInFlight: of those, pre-warms in flight (they go only after every idle container)
	evictedInFlight []ContainerID
	errs            []error
}

type modelContainer struct {
	spec        Spec
	frozen      bool
	initialized bool
	started     bool
	released    bool // a Released removal: its memory no longer counts
	doomed      bool // destroyed: removed once its runs end
	active      map[string]bool
}

func newInvariantChecker(cfg Config) *invariantChecker {
	return &invariantChecker{
		cfg:      cfg,
		live:     map[ContainerID]*modelContainer{},
		requests: map[string]Request{},
		outcome:  map[string]string{},
		canceled: map[string]bool{},
	}
}

func (k *invariantChecker) fail(format string, args ...any) {
	k.errs = append(k.errs, fmt.Errorf(format, args...))
}

func (k *invariantChecker) requested(r Request) { k.requests[r.ID] = r }

func (k *invariantChecker) liveMB() int {
	mb := 0
	for _, c := range k.live {
		if !c.released {
			mb += c.spec.MemoryMB
		}
	}
	return mb
}

// event updates the model with an event the harness is about to send (only facts that come from outside).
func (k *invariantChecker) event(ev Event) {
	switch e := ev.(type) {
	case Rank:
		k.rank = map[ContainerID]int{}
		for i, c := range e.Order {
			if _, dup := k.rank[c]; !dup {
				k.rank[c] = i
			}
		}
	case Removed:
		delete(k.live, e.C)
	case StartFailed:
		delete(k.live, e.C)
	case Initialized:
		if c := k.live[e.C]; c != nil {
			c.initialized = true
		}
	case Started:
		if c := k.live[e.C]; c != nil {
			c.started = true
		}
	case RunFinished:
		if c := k.live[e.C]; c != nil {
			delete(c.active, e.ID)
			c.doomed = c.doomed || e.Destroy
		}
	case Destroy:
		if c := k.live[e.C]; c != nil {
			c.doomed = true
		}
	}
}

func (k *invariantChecker) setOutcome(id, what string) {
	if prev, ok := k.outcome[id]; ok {
		k.fail("request %s: %s after %s", id, what, prev)
	}
	k.outcome[id] = what
}

// observe checks the actions of one step in order.
func (k *invariantChecker) observe(acts []Action) {
	gaveWay := 0 // pre-warms in flight evicted by this step (their Reject comes before their Remove)
	for _, a := range acts {
		switch a := a.(type) {
		case Create:
			if _, ok := k.live[a.C]; ok {
				k.fail("%s created twice", a.C)
			}
			used := k.liveMB() + a.Spec.MemoryMB
			if used > k.cfg.UserMemoryMB {
				k.fail("create %s: %d MB > user memory %d MB", a.C, used, k.cfg.UserMemoryMB)
			}
			if a.Spec.Stem && used > k.cfg.UserMemoryMB-max(k.cfg.ColdReserveMB, 0) {
				k.fail("stem cell %s eats into the cold reserve: %d MB", a.C, used)
			}
			k.live[a.C] = &modelContainer{spec: a.Spec, active: map[string]bool{}}
		case Freeze:
			c := k.live[a.C]
			switch {
			case c == nil:
				k.fail("freeze of dead container %s", a.C)
			case c.frozen:
				k.fail("freeze of frozen container %s", a.C)
			case len(c.active) > 0:
				k.fail("freeze of %s with %d runs in flight", a.C, len(c.active))
			default:
				c.frozen = true
			}
		case Thaw:
			c := k.live[a.C]
			switch {
			case c == nil:
				k.fail("thaw of dead container %s", a.C)
			case !c.frozen:
				k.fail("thaw of unfrozen container %s", a.C)
			default:
				c.frozen = false
			}
		case Init:
			c := k.live[a.C]
			if c == nil || c.frozen || c.initialized {
				k.fail("init of %s in a wrong state (%v)", a.C, c)
				break
			}
			if c.spec.Stem { // a stem cell taken for ForID becomes that function's container
				if r, ok := k.requests[a.ForID]; ok {
					c.spec = r.Spec
				} else {
					k.fail("init of stem cell %s for unknown request %s", a.C, a.ForID)
				}
			}
		case Run:
			c := k.live[a.C]
			if c == nil {
				k.fail("run %s on dead container %s", a.ID, a.C)
				break
			}
			if c.frozen {
				k.fail("run %s on frozen container %s without a thaw", a.ID, a.C)
			}
			if !c.initialized {
				k.fail("run %s on uninitialised container %s", a.ID, a.C)
			}
			if r, ok := k.requests[a.ID]; ok && (r.Spec.Key != c.spec.Key || r.Spec.MemoryMB != c.spec.MemoryMB) {
				k.fail("run %s (%s) on container %s of %s", a.ID, r.Spec.Key, a.C, c.spec.Key)
			}
			c.active[a.ID] = true
			if len(c.active) > max(c.spec.Concurrency, 1) {
				k.fail("%s runs %d > concurrency %d", a.C, len(c.active), c.spec.Concurrency)
			}
			k.setOutcome(a.ID, "run")
			k.runs = append(k.runs, a.ID)
		case Remove:
			c := k.live[a.C]
			if c == nil {
				k.fail("remove of dead container %s", a.C)
			} else if c.frozen {
				k.fail("remove of frozen container %s (no thaw first)", a.C)
			}
			if c != nil && a.Released {
				// Only an idle container may give its memory back before Removed: an initialised function
				// container with no run, a started stem cell nobody took, or a pre-warm in flight that gave
				// way to a request (its Reject was emitted just before).
				switch {
				case len(c.active) == 0 && !c.initialized && !c.spec.Stem && gaveWay > 0 && a.Evicted:
					gaveWay--
					k.evictedInFlight = append(k.evictedInFlight, a.C)
				case len(c.active) > 0 || !(c.initialized || (c.spec.Stem && c.started)):
					k.fail("released removal of %s, which is not idle (initialised %v, stem %v started %v, runs %d)",
						a.C, c.initialized, c.spec.Stem, c.started, len(c.active))
				}
				c.released = true
			}
			if a.Evicted {
				k.evicted = append(k.evicted, a.C)
			}
		case Reject:
			k.setOutcome(a.ID, "reject")
			if r, ok := k.requests[a.ID]; ok && r.Prewarm && strings.HasPrefix(a.Reason, "pre-warm evicted for ") {
				gaveWay++
			}
		case Failed:
			k.setOutcome(a.ID, "failed")
			if a.Cause == FailCanceled {
				k.canceled[a.ID] = true
			}
		case Warmed:
			k.setOutcome(a.ID, "warmed")
		}
	}
}

// before reports whether a goes before b in the eviction order: the latest Rank's names in its order, then
// the others least recently used first.
func (k *invariantChecker) before(a, b ContainerInfo) bool {
	ra, okA := k.rank[a.C]
	rb, okB := k.rank[b.C]
	switch {
	case okA && okB:
		return ra < rb
	case okA != okB:
		return okA
	case !a.LastUsed.Equal(b.LastUsed):
		return a.LastUsed.Before(b.LastUsed)
	}
	return a.C < b.C
}

// checkEvictionOrder: no idle container the pool kept goes before a container it evicted in this step (the
// victims are a prefix of the eviction order), and only idle function containers are evicted.
func (k *invariantChecker) checkEvictionOrder(s Snapshot) {
	if len(k.evicted) == 0 {
		return
	}
	byID := make(map[ContainerID]ContainerInfo, len(s.Containers))
	for _, c := range s.Containers {
		byID[c.C] = c
	}
	for _, v := range k.evicted {
		if slices.Contains(k.evictedInFlight, v) {
			for _, c := range s.Containers {
				if !c.Key.IsZero() && !c.Suspended && c.Waiting == 0 && (c.State == StateIdle || c.State == StateFrozen) {
					k.fail("evicted the pre-warm in flight %s while the idle %s stays", v, c.C)
				}
			}
			continue
		}
		victim, ok := byID[v]
		if !ok {
			continue // already reported Removed within the step (not in a driver answering later)
		}
		if victim.Key.IsZero() || victim.Active > 0 {
			k.fail("evicted %s is not an idle function container", v)
		}
		for _, c := range s.Containers {
			evictable := !c.Key.IsZero() && !c.Suspended && c.Waiting == 0 &&
				(c.State == StateIdle || c.State == StateFrozen)
			if evictable && k.before(c, victim) {
				k.fail("evicted %s while %s, earlier in the eviction order (rank %v), stays idle", v, c.C, k.rank)
			}
		}
	}
}

// checkNoWaitForIdle: a request never waits in the buffer for memory idle containers hold: when free
// memory plus the idle function containers' would place the head, the pool must have evicted them (unless
// a broken container's removal, or one to be removed once its runs end, whose memory is coming back, makes
// the pool wait for that instead).
func (k *invariantChecker) checkNoWaitForIdle(s Snapshot) {
	if len(s.Buffered) == 0 {
		return
	}
	head, ok := k.requests[s.Buffered[0]]
	if !ok {
		return
	}
	avail := s.UserMemoryMB - s.UsedMB
	for _, c := range s.Containers {
		switch {
		case (c.State == StateRemoving && !c.Released) || (k.live[c.C] != nil && k.live[c.C].doomed):
			return
		case !c.Key.IsZero() && !c.Suspended && c.Waiting == 0 && (c.State == StateIdle || c.State == StateFrozen):
			avail += c.MemoryMB
		}
	}
	if avail >= head.Spec.MemoryMB {
		k.fail("%s waits in the buffer for %d MB while free and idle containers hold %d MB", head.ID,
			head.Spec.MemoryMB, avail)
	}
}

// check compares the pool with the model after a step.
func (k *invariantChecker) check(p *Pool) error {
	defer clear(k.canceled)
	s := p.Snapshot()
	k.checkEvictionOrder(s)
	k.evicted = k.evicted[:0]
	k.evictedInFlight = k.evictedInFlight[:0]
	if s.UsedMB > s.UserMemoryMB {
		k.fail("used %d MB > user memory %d MB", s.UsedMB, s.UserMemoryMB)
	}
	sum := 0
	for _, c := range s.Containers {
		if !c.Released {
			sum += c.MemoryMB
		}
		m := k.live[c.C]
		if m == nil {
			k.fail("pool has %s, model does not", c.C)
			continue
		}
		if m.frozen != c.Frozen {
			k.fail("%s frozen: pool %v, actions say %v", c.C, c.Frozen, m.frozen)
		}
		if c.Active != len(m.active) {
			k.fail("%s active: pool %d, model %d", c.C, c.Active, len(m.active))
		}
	}
	if sum != s.UsedMB {
		k.fail("used %d MB != sum over containers %d MB", s.UsedMB, sum)
	}
	k.checkNoWaitForIdle(s)
	if model := k.liveMB(); model != s.UsedMB {
		k.fail("used %d MB != model %d MB (creates minus removals)", s.UsedMB, model)
	}
	if len(s.Containers) != len(k.live) {
		k.fail("pool has %d containers, model %d", len(s.Containers), len(k.live))
	}
	// Buffer order: what left the old buffer (not canceled) is a prefix of it; survivors keep their order.
	inNew := make(map[string]bool, len(s.Buffered))
	for _, id := range s.Buffered {
		inNew[id] = true
	}
	inOld := make(map[string]bool, len(k.buffer))
	var left, kept, old []string
	for _, id := range k.buffer {
		inOld[id] = true
		if k.canceled[id] {
			continue
		}
		old = append(old, id)
		if inNew[id] {
			kept = append(kept, id)
		} else {
			left = append(left, id)
		}
	}
	if !slices.Equal(left, old[:len(left)]) {
		k.fail("buffer not served in order: old %v, new %v", k.buffer, s.Buffered)
	}
	var survivors []string
	for _, id := range s.Buffered {
		if inOld[id] {
			survivors = append(survivors, id)
		}
	}
	if !slices.Equal(kept, survivors) {
		k.fail("buffer reordered: old %v, new %v", k.buffer, s.Buffered)
	}
	k.buffer = slices.Clone(s.Buffered)
	if len(k.errs) > 0 {
		err := k.errs[0]
		k.errs = nil
		return err
	}
	return nil
}
