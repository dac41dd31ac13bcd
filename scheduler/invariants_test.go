package scheduler

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/nemo-edge/nemo/pool"
)

// TestRandomInterleavings drives the controller and a real pool through
// seeded random interleavings of arrivals, daemon ticks, container events
// (with start and init failures), run completions and cancellations, and
// checks after every step that memory stays within the bound, no invocation
// waits on a suspended container or on a container of another function, and
// nothing stays suspended without an invocation holding it. At the end
// everything is drained: no container may remain suspended and the
// controller must hold nothing.
func TestRandomInterleavings(t *testing.T) {
	for seed := uint64(1); seed <= 30; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			randomRun(t, seed, 400)
		})
	}
}

func pick[T any](rng *rand.Rand, xs []T) T { return xs[rng.IntN(len(xs))] }

func sortedCs(m map[pool.ContainerID]bool) []pool.ContainerID {
	out := make([]pool.ContainerID, 0, len(m))
	for c := range m {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func randomRun(t *testing.T, seed uint64, steps int) {
	rng := rand.New(rand.NewPCG(seed, 7))
	// Eager pre-warming (low MinScore) in a roomier pool, so pre-warms and
	// invocations overlap often.
	h := newHarness(Config{MaxWarm: 5, MinScore: 0.01}, pool.Config{
		UserMemoryMB: 2048, MaxWarm: -1, ColdReserveMB: 512, PauseGrace: -1, IdleTimeout: -1,
	})
	fns := []string{"f", "g", "k", "m", "n", "p"}
	for i, fn := range fns[:4] {
		h.seed(fn, time.Duration(20+10*i)*time.Second, 8, time.Duration(1+i)*time.Second)
	}
	nextInv := 0
	check := func(what string) {
		t.Helper()
		if msg := h.invariants(); msg != "" {
			t.Fatalf("seed %d after %s: %s\n%s", seed, what, msg, h.snapshot())
		}
	}
	// completion of one pending pool operation; false when none is possible
	complete := func() bool {
		var starting, initing []pool.ContainerID
		for _, c := range sortedCs(h.creat) {
			starting = append(starting, c)
		}
		ics := make(map[pool.ContainerID]bool)
		for c := range h.inits {
			if ci, ok := h.p.Container(c); ok && !ci.Frozen && ci.State == pool.StateWarming {
				ics[c] = true
			}
		}
		initing = sortedCs(ics)
		running := sortedIDs(h.runOn)
		var choices []func() string
		if len(starting) > 0 {
			choices = append(choices, func() string {
				c := pick(rng, starting)
				delete(h.creat, c)
				if rng.IntN(8) == 0 {
					h.step(pool.StartFailed{C: c, Reason: "random"})
					return "start-failed " + c.String()
				}
				h.step(pool.Started{C: c})
				return "started " + c.String()
			})
		}
		if len(initing) > 0 {
			choices = append(choices, func() string {
				c := pick(rng, initing)
				delete(h.inits, c)
				if rng.IntN(8) == 0 {
					h.step(pool.InitFailed{C: c, Reason: "random"})
					return "init-failed " + c.String()
				}
				h.step(pool.Initialized{C: c, Duration: time.Second})
				return "initialized " + c.String()
			})
		}
		if len(running) > 0 {
			choices = append(choices, func() string {
				id := pick(rng, running)
				if err := h.finish(id); err != nil {
					t.Fatal(err)
				}
				return "finished " + id
			})
		}
		if len(choices) == 0 {
			return false
		}
		what := pick(rng, choices)()
		check(what)
		return true
	}

	for i := 0; i < steps; i++ {
		switch r := rng.IntN(10); {
		case r < 3:
			nextInv++
			id := fmt.Sprintf("a%d", nextInv)
			fn := pick(rng, fns)
			d := h.invoke(id, fn)
			if d.WaitFor != 0 {
				if ci, ok := h.p.Container(d.WaitFor); !ok || ci.Key != spec(fn).Key {
					t.Fatalf("seed %d: %s of %s told to wait for %s, not its own pre-warm", seed, id, fn, d.WaitFor)
				}
			}
			check("invoke " + id)
		case r < 5:
			h.now = h.now.Add(time.Duration(1+rng.IntN(3)) * time.Second)
			h.tick()
			check("tick")
		case r < 6:
			// cancel an invocation that has not started running
			var waiting []string
			for _, id := range sortedIDs(h.invs) {
				if _, running := h.runOn[id]; !running {
					waiting = append(waiting, id)
				}
			}
			if len(waiting) > 0 {
				id := pick(rng, waiting)
				h.step(pool.Cancel{ID: id})
				h.end(id, Measure{})
				check("cancel " + id)
			}
		default:
			complete()
		}
	}
	// Drain: complete everything, ticking so held pre-warms are resumed.
	for n := 0; ; n++ {
		if n > 5000 {
			t.Fatalf("seed %d: cannot drain\n%s", seed, h.snapshot())
		}
		if complete() {
			continue
		}
		invs, _ := h.ctrl.InFlight()
		if invs == 0 && len(h.ctrl.holds) == 0 {
			break
		}
		h.now = h.now.Add(3 * time.Second)
		h.tick()
		check("drain tick")
	}
	for _, ci := range h.p.Snapshot().Containers {
		if ci.Suspended || ci.Frozen {
			t.Fatalf("seed %d: %s still frozen after drain\n%s", seed, ci.C, h.snapshot())
		}
	}
	t.Logf("states: %s", FormatCounts(h.ctrl.Counts()))
	if len(h.ctrl.heldAt) != 0 {
		t.Fatalf("seed %d: controller still holds %v", seed, h.ctrl.heldAt)
	}
}
