package pool

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// pendingOp is a backend operation the random driver has not answered yet.
type pendingOp struct {
	c    ContainerID
	kind string // create, init, run, remove
	id   string // run id
}

// randomDriver answers the pool's actions in a random but legal order: the operations of one container
// complete in the order they were issued, except that runs of a container run concurrently.
type randomDriver struct {
	t       *testing.T
	rng     *rand.Rand
	p       *Pool
	k       *invariantChecker
	now     time.Time
	ops     []pendingOp
	reqN    int
	steps   int
	created map[ContainerID]bool // Create answered with Started
	gd      *testGreedyDual      // when set, a greedy-dual ranking is pushed after every step
}

func (d *randomDriver) step(ev Event) {
	d.t.Helper()
	d.steps++
	d.k.event(ev)
	acts := d.p.Step(d.now, ev)
	d.k.observe(acts)
	if err := d.k.check(d.p); err != nil {
		d.t.Fatalf("step %d (%T %+v): %v\nactions: %v\nsnapshot: %s", d.steps, ev, ev, err, acts, d.p.Snapshot().Format())
	}
	if d.gd != nil {
		d.gd.observe(d.p, acts)
	}
	for _, a := range acts {
		switch a := a.(type) {
		case Create:
			d.ops = append(d.ops, pendingOp{c: a.C, kind: "create"})
		case Init:
			d.ops = append(d.ops, pendingOp{c: a.C, kind: "init"})
		case Run:
			d.ops = append(d.ops, pendingOp{c: a.C, kind: "run", id: a.ID})
		case Remove:
			d.ops = append(d.ops, pendingOp{c: a.C, kind: "remove"})
		}
	}
	if _, rank := ev.(Rank); d.gd != nil && !rank {
		d.step(Rank{Order: d.gd.order(d.p.Snapshot())})
	}
}

// randomRank sends an eviction order over some of the containers, in random order, with names of containers
// that are gone or never existed, duplicates, or nothing at all (back to LRU).
func (d *randomDriver) randomRank() {
	var order []ContainerID
	for _, c := range d.p.Snapshot().Containers {
		if d.rng.IntN(3) > 0 {
			order = append(order, c.C)
		}
	}
	d.rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	if d.rng.IntN(4) == 0 {
		order = append(order, ContainerID(1+d.rng.IntN(int(d.p.nextID)+5)))
	}
	if len(order) > 0 && d.rng.IntN(4) == 0 {
		order = append(order, order[0])
	}
	if d.rng.IntN(10) == 0 {
		order = nil
	}
	d.step(Rank{Order: order})
}

// completable reports whether op i may complete now (no earlier create/init of its container pending).
func (d *randomDriver) completable(i int) bool {
	op := d.ops[i]
	for _, o := range d.ops[:i] {
		if o.c == op.c && (o.kind == "create" || o.kind == "init") {
			return false
		}
	}
	return true
}

func (d *randomDriver) completeRandom() bool {
	if len(d.ops) == 0 {
		return false
	}
	start := d.rng.IntN(len(d.ops))
	for n := range len(d.ops) {
		i := (start + n) % len(d.ops)
		if d.completable(i) {
			d.complete(i)
			return true
		}
	}
	return false
}

func (d *randomDriver) complete(i int) {
	op := d.ops[i]
	d.ops = slices.Delete(d.ops, i, i+1)
	switch op.kind {
	case "create":
		if d.rng.IntN(20) == 0 {
			// the backend cleaned up: a Remove queued behind this Create has nothing to do
			d.ops = slices.DeleteFunc(d.ops, func(o pendingOp) bool { return o.c == op.c && o.kind == "remove" })
			d.step(StartFailed{C: op.c, Reason: "random start failure"})
			return
		}
		d.created[op.c] = true
		d.step(Started{C: op.c})
	case "init":
		if d.rng.IntN(15) == 0 {
			d.step(InitFailed{C: op.c, Reason: "random init failure"})
			return
		}
		d.step(Initialized{C: op.c, Duration: time.Duration(d.rng.IntN(3000)) * time.Millisecond})
	case "run":
		d.step(RunFinished{C: op.c, ID: op.id, Destroy: d.rng.IntN(12) == 0})
	case "remove":
		d.step(Removed{C: op.c})
	}
}

var randomFunctions = []struct {
	action string
	kind   string
	mem    int
	conc   int
}{
	{"guest/f1", "nodejs:20", 256, 1},
	{"guest/f2", "nodejs:20", 256, 1},
	{"guest/f3", "python:3", 256, 1},
	{"guest/f4", "nodejs:20", 128, 4},
	{"guest/f5", "python:3", 512, 1},
	{"guest/f6", "nodejs:20", 256, 2},
	{"guest/f7", "go:1.22", 128, 1},
	{"guest/f8", "nodejs:20", 768, 1},
}

func (d *randomDriver) newRequest(prewarm bool) {
	f := randomFunctions[d.rng.IntN(len(randomFunctions))]
	d.reqN++
	ns := "guest"
	if d.rng.IntN(6) == 0 {
		ns = "bob"
	}
	r := Request{ID: fmt.Sprintf("r%d", d.reqN), Prewarm: prewarm,
		Spec: Spec{Key: Key{Namespace: ns, Action: f.action, ContentHash: "h"}, Kind: f.kind, MemoryMB: f.mem,
			Concurrency: f.conc}}
	if d.rng.IntN(100) == 0 {
		r.Spec.MemoryMB = 4096 // never fits
	}
	d.k.requested(r)
	d.step(r)
}

func (d *randomDriver) randomContainer() (ContainerID, bool) {
	s := d.p.Snapshot()
	if len(s.Containers) == 0 {
		return 0, false
	}
	return s.Containers[d.rng.IntN(len(s.Containers))].C, true
}

func randomConfig(rng *rand.Rand) Config {
	cfg := Config{
		UserMemoryMB:  []int{1024, 1536, 2048}[rng.IntN(3)],
		MaxWarm:       []int{-1, 2, 4, 6}[rng.IntN(4)],
		ColdReserveMB: []int{-1, 256, 512}[rng.IntN(3)],
		PauseGrace:    []time.Duration{-1, 0, 50 * time.Millisecond, 10 * time.Second}[rng.IntN(4)],
		IdleTimeout:   []time.Duration{-1, 30 * time.Second, 10 * time.Minute}[rng.IntN(3)],
	}
	if rng.IntN(2) == 0 {
		cfg.StemCells = []StemCell{{Kind: "nodejs:20", MemoryMB: 256, Count: 1 + rng.IntN(2)}}
		if rng.IntN(2) == 0 {
			cfg.StemCells[0].Reactive = &Reactive{MinCount: rng.IntN(2), MaxCount: 2 + rng.IntN(3),
				TTL: []time.Duration{30 * time.Second, 2 * time.Minute}[rng.IntN(2)], Threshold: 1 + rng.IntN(2), Increment: 1}
			cfg.StemCheckInterval = []time.Duration{10 * time.Second, time.Minute}[rng.IntN(2)]
		}
	}
	return cfg
}

// ranking is how a random run orders evictions.
type ranking int

const (
	rankLRU        ranking = iota // never sends Rank
	rankRandom                    // random Rank events among the other events
	rankGreedyDual                // a greedy-dual ranking after every step
	numRankings
)

func TestRandomInterleavings(t *testing.T) {
	seeds := 30
	stepsPerSeed := 2500
	if testing.Short() {
		seeds, stepsPerSeed = 10, 1000
	}
	total := 0
	for seed := range seeds {
		rng := rand.New(rand.NewPCG(uint64(seed), 0x5eed))
		cfg := randomConfig(rng)
		rk := ranking(rng.IntN(int(numRankings)))
		p := New(cfg, t0)
		d := &randomDriver{t: t, rng: rng, p: p, k: newInvariantChecker(p.Config()), now: t0,
			created: map[ContainerID]bool{}}
		if rk == rankGreedyDual {
			d.gd = newTestGreedyDual()
		}
		d.step(Tick{})
		for d.steps < stepsPerSeed {
			switch x := rng.IntN(100); {
			case x < 25 && len(d.k.buffer) < 40: // keep the backlog bounded, as admission control would
				d.newRequest(rng.IntN(8) == 0)
			case x < 30 && rk == rankRandom:
				d.randomRank()
			case x < 75:
				if !d.completeRandom() {
					d.now = d.now.Add(time.Second)
					d.step(Tick{})
				}
			case x < 85:
				d.now = d.now.Add(time.Duration(rng.IntN(20000)) * time.Millisecond)
				d.step(Tick{})
			case x < 89:
				if c, ok := d.randomContainer(); ok {
					d.step(Suspend{C: c})
				}
			case x < 94:
				if c, ok := d.randomContainer(); ok {
					d.step(Resume{C: c})
				}
			case x < 96:
				if c, ok := d.randomContainer(); ok {
					d.step(Evict{C: c})
				}
			case x < 97:
				if c, ok := d.randomContainer(); ok {
					d.step(Destroy{C: c, Reason: "random"})
				}
			case x < 99:
				if d.reqN > 0 {
					d.step(Cancel{ID: fmt.Sprintf("r%d", 1+rng.IntN(d.reqN))})
				}
			default:
				if c, ok := d.randomContainer(); ok {
					d.step(Removed{C: c}) // the container vanished behind the pool's back
					d.ops = slices.DeleteFunc(d.ops, func(o pendingOp) bool { return o.c == c && o.kind == "remove" })
				}
			}
		}
		d.drain(cfg)
		total += d.steps
	}
	t.Logf("%d seeds, %d steps", seeds, total)
}

// drain stops new work, resumes everything and answers every operation; then every request must have an
// outcome and, once the idle timeout passed, only stem cells may hold memory.
func (d *randomDriver) drain(cfg Config) {
	d.t.Helper()
	shutdown := d.rng.IntN(2) == 0
	if shutdown {
		d.step(Shutdown{})
	}
	for round := 0; ; round++ {
		if round > 100000 {
			d.t.Fatalf("drain does not converge: %s ops=%v", d.p.Snapshot().Format(), d.ops)
		}
		for _, c := range d.p.Snapshot().Containers {
			if c.Suspended {
				d.step(Resume{C: c.C})
			}
		}
		if d.completeRandom() {
			continue
		}
		if len(d.ops) > 0 {
			d.t.Fatalf("ops stuck: %v", d.ops)
		}
		if len(d.p.Snapshot().Buffered) > 0 {
			d.t.Fatalf("buffer stuck with no operation pending: %s", d.p.Snapshot().Format())
		}
		break
	}
	for id := range d.k.requests {
		if _, ok := d.k.outcome[id]; !ok {
			d.t.Fatalf("request %s lost (no run, reject, failure or warmed): %s", id, d.p.Snapshot().Format())
		}
	}
	if shutdown {
		if s := d.p.Snapshot(); s.UsedMB != 0 || len(s.Containers) != 0 {
			d.t.Fatalf("after shutdown: %s", s.Format())
		}
		return
	}
	if cfg.IdleTimeout <= 0 {
		return
	}
	// Idle timeout: all function containers go; memory returns to what the stem cells hold.
	d.now = d.now.Add(cfg.IdleTimeout + time.Minute)
	d.step(Tick{})
	for d.completeRandom() {
	}
	s := d.p.Snapshot()
	stems := 0
	for _, c := range s.Containers {
		if !c.Key.IsZero() {
			d.t.Fatalf("function container %s survives the idle timeout: %s", c.C, s.Format())
		}
		stems += c.MemoryMB
	}
	if s.UsedMB != stems {
		d.t.Fatalf("used %d MB after idle timeout, stems hold %d MB", s.UsedMB, stems)
	}
}

// testGreedyDual is a small FaasCache-style ranking (priority = clock + freq*cost/size) computed by the
// driver from the actions it executes: a container's priority is set when a run is handed to it, the clock
// rises to a victim's priority when the pool evicts it.
type testGreedyDual struct {
	clock float64
	prio  map[ContainerID]float64
}

func newTestGreedyDual() *testGreedyDual { return &testGreedyDual{prio: map[ContainerID]float64{}} }

func (g *testGreedyDual) priority(c ContainerInfo) float64 {
	cost := c.InitCost.Seconds() + 0.001
	return g.clock + float64(c.FunctionUses)*cost/float64(max(c.MemoryMB, 1))
}

func (g *testGreedyDual) observe(p *Pool, acts []Action) {
	for _, a := range acts {
		switch a := a.(type) {
		case Run:
			if c, ok := p.Container(a.C); ok {
				g.prio[a.C] = g.priority(c)
			}
		case Remove:
			if a.Evicted {
				g.clock = max(g.clock, g.prio[a.C])
			}
			delete(g.prio, a.C)
		}
	}
}

// order ranks the function containers of s, lowest priority first.
func (g *testGreedyDual) order(s Snapshot) []ContainerID {
	var out []ContainerID
	for _, c := range s.Containers {
		if !c.Key.IsZero() {
			out = append(out, c.C)
		}
	}
	slices.SortStableFunc(out, func(a, b ContainerID) int {
		pa, pb := g.prio[a], g.prio[b]
		switch {
		case pa < pb:
			return -1
		case pa > pb:
			return 1
		}
		return int(a) - int(b)
	})
	return out
}
