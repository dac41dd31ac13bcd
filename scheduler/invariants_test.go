package scheduler_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/nemo-edge/nemo/pool"
	"github.com/nemo-edge/nemo/scheduler"
	"github.com/nemo-edge/nemo/scheduler/schedtest"
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

func randomRun(t *testing.T, seed uint64, steps int) {
	rng := rand.New(rand.NewPCG(seed, 7))
	// Eager pre-warming (low MinScore) in a roomier pool, so pre-warms and
	// invocations overlap often.
	e := schedtest.New(schedtest.Config{
		Pool:       pool.Config{UserMemoryMB: 2048, MaxWarm: -1, ColdReserveMB: 512, PauseGrace: -1, IdleTimeout: -1},
		Controller: &scheduler.Config{MaxWarm: 5, MinScore: 0.01},
	}, schedtest.Epoch)
	now := schedtest.Epoch
	fns := []string{"f", "g", "k", "m", "n", "p"}
	for i, fn := range fns[:4] {
		gap := time.Duration(20+10*i) * time.Second
		arrivals := make([]time.Time, 8)
		for j := range arrivals {
			arrivals[j] = now.Add(-time.Duration(7-j) * gap)
		}
		e.Ctrl.Learn(schedtest.Spec(fn), arrivals, time.Duration(1+i)*time.Second, 100*time.Millisecond)
	}
	nextInv := 0
	check := func(what string) {
		t.Helper()
		if err := e.Check(); err != nil {
			t.Fatalf("seed %d after %s: %v\n%s", seed, what, err, e.Describe())
		}
	}
	// completion of one pending pool operation; false when none is possible
	complete := func() bool {
		starting, initing, running := e.Starting(), e.Initialising(), e.Running()
		var choices []func() string
		if len(starting) > 0 {
			choices = append(choices, func() string {
				c := pick(rng, starting)
				if rng.IntN(8) == 0 {
					e.StartFailed(c, "random")
					return "start-failed " + c.String()
				}
				e.Started(c)
				return "started " + c.String()
			})
		}
		if len(initing) > 0 {
			choices = append(choices, func() string {
				c := pick(rng, initing)
				if rng.IntN(8) == 0 {
					e.InitFailed(c, "random")
					return "init-failed " + c.String()
				}
				e.Initialized(c, time.Second)
				return "initialized " + c.String()
			})
		}
		if len(running) > 0 {
			choices = append(choices, func() string {
				id := pick(rng, running)
				if err := e.Finish(id); err != nil {
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
			inv := e.Invoke(id, schedtest.Spec(fn))
			if w := inv.Decision.WaitFor; w != 0 {
				if ci, ok := e.Pool.Container(w); !ok || ci.Key != schedtest.Spec(fn).Key {
					t.Fatalf("seed %d: %s of %s told to wait for %s, not its own pre-warm", seed, id, fn, w)
				}
			}
			check("invoke " + id)
		case r < 5:
			now = now.Add(time.Duration(1+rng.IntN(3)) * time.Second)
			e.AdvanceTo(now)
			e.Tick()
			check("tick")
		case r < 6:
			// cancel an invocation that has not started running
			var waiting []string
			for _, id := range e.Open() {
				if inv := e.Invocation(id); inv.Start == "" {
					waiting = append(waiting, id)
				}
			}
			if len(waiting) > 0 {
				id := pick(rng, waiting)
				e.Cancel(id)
				check("cancel " + id)
			}
		default:
			complete()
		}
	}
	// Drain: complete everything, ticking so held pre-warms are resumed.
	for n := 0; ; n++ {
		if n > 5000 {
			t.Fatalf("seed %d: cannot drain\n%s", seed, e.Describe())
		}
		if complete() {
			continue
		}
		invs, _ := e.Ctrl.InFlight()
		if invs == 0 && scheduler.HeldContainers(e.Ctrl) == 0 {
			break
		}
		now = now.Add(3 * time.Second)
		e.AdvanceTo(now)
		e.Tick()
		check("drain tick")
	}
	for _, ci := range e.Pool.Snapshot().Containers {
		if ci.Suspended || ci.Frozen {
			t.Fatalf("seed %d: %s still frozen after drain\n%s", seed, ci.C, e.Describe())
		}
	}
	t.Logf("states: %s", scheduler.FormatCounts(e.Ctrl.Counts()))
	if n := scheduler.HeldContainers(e.Ctrl); n != 0 {
		t.Fatalf("seed %d: controller still holds %d containers", seed, n)
	}
}
