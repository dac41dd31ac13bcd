package schedtest

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"

	"github.com/nemo-edge/nemo/pool"
	"github.com/nemo-edge/nemo/scheduler"
)

// fixedTiming takes the same time for every function.
type fixedTiming struct{ create, init, run time.Duration }

func (f fixedTiming) Create(pool.Spec) time.Duration { return f.create }
func (f fixedTiming) Init(pool.Spec) time.Duration   { return f.init }
func (f fixedTiming) Run(pool.Spec) time.Duration    { return f.run }

// TestTimed replays testdata/timed/*.txt on an environment whose container operations complete by
// themselves (create 1 s, /init 2 s, run 500 ms) from its own queue, as in a simulation: "at" runs what
// falls due. It shows the frozen-/init model and the pool's timers. -rewrite regenerates the logs.
func TestTimed(t *testing.T) {
	datadriven.Walk(t, filepath.Join("testdata", "timed"), func(t *testing.T, path string) {
		e := New(Config{
			Pool: pool.Config{UserMemoryMB: 1024, MaxWarm: -1, ColdReserveMB: 256, PauseGrace: 10 * time.Second,
				IdleTimeout: time.Minute},
			Controller: &scheduler.Config{MaxWarm: 3, MinScore: 0.3, StopAfter: -1},
			Timing:     fixedTiming{create: time.Second, init: 2 * time.Second, run: 500 * time.Millisecond},
		}, Epoch)
		datadriven.RunTestAny(t, path, e.Handle)
	})
}

// The environment's own queue runs events in time order, ties in scheduling order, and only those due.
func TestEventQueueOrder(t *testing.T) {
	var q eventQueue
	var got []int
	at := func(s int) time.Time { return Epoch.Add(time.Duration(s) * time.Second) }
	q.push(at(2), func() { got = append(got, 2) })
	q.push(at(1), func() { got = append(got, 1) })
	q.push(at(2), func() { got = append(got, 3) })
	q.push(at(5), func() { got = append(got, 5) })
	for {
		ev, ok := q.popUntil(at(4))
		if !ok {
			break
		}
		ev.fn()
	}
	if len(got) != 3 || got[0] != 1 || got[1] != 2 || got[2] != 3 {
		t.Fatalf("order %v, want [1 2 3] (5 is not due)", got)
	}
	if len(q.events) != 1 {
		t.Fatalf("%d events left, want 1", len(q.events))
	}
}
