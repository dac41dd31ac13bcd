package scheduler

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/nemo-edge/nemo/pool"
)

// harness wires a Controller to a real pool.Pool the way the drivers do:
// controller commands become pool events, pool answers about pre-warms go
// back to the controller, removals complete at once. Everything it does is
// logged for golden files.
type harness struct {
	t0     time.Time
	now    time.Time
	ctrl   *Controller
	p      *pool.Pool
	log    []string
	runOn  map[string]pool.ContainerID // invocation -> container of its Run
	inits  map[pool.ContainerID]string // container -> ForID of its Init in flight
	creat  map[pool.ContainerID]bool   // containers with a Create not yet Started
	invs   map[string]bool             // invocations begun and not ended
	waitC  map[string]pool.ContainerID // S4-1 joins (for invariants)
	seen   map[string]pool.Key
	failed []string // invocations failed by the pool, to end
}

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func newHarness(cfg Config, pcfg pool.Config) *harness {
	h := &harness{
		t0: t0, now: t0,
		ctrl:  NewController(cfg),
		runOn: map[string]pool.ContainerID{},
		inits: map[pool.ContainerID]string{},
		creat: map[pool.ContainerID]bool{},
		invs:  map[string]bool{},
		waitC: map[string]pool.ContainerID{},
		seen:  map[string]pool.Key{},
	}
	h.p = pool.New(pcfg, t0)
	return h
}

// defaultHarness: 1024 MB of 256 MB containers (4 slots), 256 MB cold
// reserve, warm pool of 3, no pause grace or idle timeout (the controller
// decides).
func defaultHarness() *harness {
	return newHarness(Config{MaxWarm: 3, MinScore: 0.3}, pool.Config{
		UserMemoryMB: 1024, MaxWarm: -1, ColdReserveMB: 256, PauseGrace: -1, IdleTimeout: -1,
	})
}

func spec(fn string) pool.Spec {
	return pool.Spec{Key: pool.Key{Namespace: "guest", Action: "guest/" + fn}, Kind: "nodejs:20",
		Image: "nemo/nodejs", MemoryMB: 256, Concurrency: 1}
}

func (h *harness) logf(format string, args ...any) {
	h.log = append(h.log, fmt.Sprintf(format, args...))
}

// step sends ev to the pool and handles its actions.
func (h *harness) step(ev pool.Event) {
	for _, a := range h.p.Step(h.now, ev) {
		h.action(a)
	}
	// Invocations the pool failed are over: the driver's Run returns and
	// tells the controller.
	for len(h.failed) > 0 {
		id := h.failed[0]
		h.failed = h.failed[1:]
		h.end(id, Measure{OK: false})
	}
}

func (h *harness) action(a pool.Action) {
	h.logf("  pool: %s", a)
	switch a := a.(type) {
	case pool.Create:
		h.creat[a.C] = true
	case pool.Init:
		h.inits[a.C] = a.ForID
	case pool.Run:
		h.runOn[a.ID] = a.C
	case pool.Remove:
		delete(h.creat, a.C)
		delete(h.inits, a.C)
		h.ctrl.Forget(a.C)
		h.step(pool.Removed{C: a.C})
	case pool.Warmed:
		var init time.Duration
		if ci, ok := h.p.Container(a.C); ok {
			init = ci.InitCost
		}
		h.ctrl.PrewarmDone(h.now, a.ID, true, init)
	case pool.Reject:
		if strings.HasPrefix(a.ID, "prewarm-") {
			h.ctrl.PrewarmRejected(h.now, a.ID)
		}
	case pool.Failed:
		if strings.HasPrefix(a.ID, "prewarm-") {
			h.ctrl.PrewarmDone(h.now, a.ID, false, 0)
		} else if h.invs[a.ID] {
			h.failed = append(h.failed, a.ID)
		}
	}
}

func (h *harness) exec(cmds []Command) {
	for _, c := range cmds {
		h.logf("  ctrl: %s", c)
		switch c := c.(type) {
		case Prewarm:
			h.step(pool.Request{ID: c.ID, Spec: c.Spec, Prewarm: true})
		case Suspend:
			h.step(pool.Suspend{C: c.C})
		case Resume:
			if _, ok := h.p.Container(c.C); ok {
				h.step(pool.Resume{C: c.C})
			}
		case Stop:
			h.step(pool.Evict{C: c.C})
		}
	}
}

func (h *harness) invoke(id, fn string) Decision {
	s := spec(fn)
	d := h.ctrl.Begin(h.now, id, s, h.p.Snapshot())
	h.invs[id] = true
	h.seen[id] = s.Key
	line := "  state " + d.State.String()
	if d.WaitFor != 0 {
		line += " wait-for " + d.WaitFor.String()
		h.waitC[id] = d.WaitFor
	}
	h.log = append(h.log, line)
	h.exec(d.Commands)
	h.rank()
	h.step(pool.Request{ID: id, Spec: s})
	return d
}

// end reports invocation id over to the controller (after the pool).
func (h *harness) end(id string, m Measure) {
	if !h.invs[id] {
		return
	}
	delete(h.invs, id)
	delete(h.waitC, id)
	h.exec(h.ctrl.End(h.now, id, m))
	h.rank()
}

func (h *harness) rank(ending ...pool.ContainerID) {
	h.step(h.ctrl.Ranking(h.now, h.p.Snapshot(), ending...))
}

func (h *harness) finish(id string) error {
	c, ok := h.runOn[id]
	if !ok {
		return fmt.Errorf("%s is not running", id)
	}
	delete(h.runOn, id)
	h.rank(c)
	h.step(pool.RunFinished{C: c, ID: id})
	h.end(id, Measure{Run: 100 * time.Millisecond, OK: true})
	return nil
}

func (h *harness) tick() {
	h.exec(h.ctrl.Tick(h.now, h.p.Snapshot()))
	h.rank()
}

// snapshot renders the pool and the controller's holds.
func (h *harness) snapshot() string {
	s := h.p.Snapshot()
	var b strings.Builder
	b.WriteString("  " + s.Format())
	for _, ci := range s.Containers {
		fmt.Fprintf(&b, "\n  %s %s %s", ci.C, ci.Key, ci.State)
		if ci.Suspended {
			b.WriteString(" suspended")
		}
		if h.ctrl.Suspended(ci.C) {
			b.WriteString(" held")
		}
		if ci.Waiting > 0 {
			fmt.Fprintf(&b, " waiting=%d", ci.Waiting)
		}
	}
	invs, pws := h.ctrl.InFlight()
	fmt.Fprintf(&b, "\n  in flight: %d invocations, %d pre-warms; %s", invs, pws, FormatCounts(h.ctrl.Counts()))
	return b.String()
}

// seed records n past invocations of fn every gap, the last one now, and
// the measured init time, as if they had run.
func (h *harness) seed(fn string, gap time.Duration, n int, init time.Duration) {
	s := spec(fn)
	h.ctrl.specs[s.Key] = s
	name := fnName(s.Key)
	for i := n - 1; i >= 0; i-- {
		h.ctrl.hist.Arrived(name, h.now.Add(-time.Duration(i)*gap))
	}
	h.ctrl.hist.Measured(name, init, 100*time.Millisecond)
}

// invariants checks what must hold after every step; "" when fine.
func (h *harness) invariants() string {
	s := h.p.Snapshot()
	if s.UsedMB > s.UserMemoryMB {
		return fmt.Sprintf("memory %d MB above %d MB", s.UsedMB, s.UserMemoryMB)
	}
	for _, ci := range s.Containers {
		if ci.Suspended && ci.Waiting > 0 {
			return fmt.Sprintf("%s is suspended while %d invocation(s) wait on it", ci.C, ci.Waiting)
		}
		if ci.Suspended && !h.ctrl.Suspended(ci.C) {
			return fmt.Sprintf("%s is suspended but no invocation holds it (never resumed)", ci.C)
		}
	}
	for id, c := range h.waitC {
		if ci, ok := h.p.Container(c); ok && ci.Key != h.seen[id] {
			return fmt.Sprintf("%s waits for %s of another function %s", id, c, ci.Key)
		}
	}
	return ""
}

func sortedIDs[M ~map[string]V, V any](m M) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
