package scheduler

import (
	"testing"
	"time"

	"github.com/nemo-edge/nemo/pool"
)

// With NoThreadManagement the controller still decides and counts S3 and S4-2, but a pre-warm in flight
// keeps running beside the invocation: no Suspend is issued, no hold is taken, and End resumes nothing.
// With the default (thread management on) the same steps freeze the pre-warm and thaw it after.
func TestThreadManagementKnob(t *testing.T) {
	for _, c := range []struct {
		name     string
		off      bool
		conflict string // the function invoked: "g" is warm (S3), "h" has no container (S4-2)
		state    State
	}{
		{"S3 managed", false, "g", S3},
		{"S3 unmanaged", true, "g", S3},
		{"S4-2 managed", false, "h", S42},
		{"S4-2 unmanaged", true, "h", S42},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(Config{MaxWarm: 3, MinScore: 0.3, NoThreadManagement: c.off}, pool.Config{
				UserMemoryMB: 1024, MaxWarm: -1, ColdReserveMB: 256, PauseGrace: -1, IdleTimeout: -1,
			})
			// g runs once (a warm container of it stays), then the daemon pre-warms f.
			h.seed("f", time.Minute, 10, 5*time.Second)
			h.invoke("a1", "g")
			h.step(pool.Started{C: 1})
			h.step(pool.Initialized{C: 1, Duration: time.Second})
			if err := h.finish("a1"); err != nil {
				t.Fatal(err)
			}
			h.now = h.t0.Add(50 * time.Second)
			h.tick()
			prewarm := pool.ContainerID(2)
			h.step(pool.Started{C: prewarm})
			if ci, ok := h.p.Container(prewarm); !ok || ci.State != pool.StateWarming {
				t.Fatalf("setup: want c2 (pre-warm of f) in /init, pool: %s", h.snapshot())
			}

			d := h.invoke("a2", c.conflict)
			if d.State != c.state {
				t.Fatalf("state %s, want %s", d.State, c.state)
			}
			if got := h.ctrl.Counts()[c.state]; got != 1 {
				t.Fatalf("%s counted %d times, want 1", c.state, got)
			}
			suspends := 0
			for _, cmd := range d.Commands {
				if _, ok := cmd.(Suspend); ok {
					suspends++
				}
			}
			ci, _ := h.p.Container(prewarm)
			if c.off {
				if suspends != 0 || ci.Suspended || h.ctrl.Suspended(prewarm) {
					t.Fatalf("thread management off: %d suspends, pool suspended=%v, held=%v; want none",
						suspends, ci.Suspended, h.ctrl.Suspended(prewarm))
				}
			} else if suspends != 1 || !ci.Suspended || !h.ctrl.Suspended(prewarm) {
				t.Fatalf("thread management on: %d suspends, pool suspended=%v, held=%v; want the pre-warm frozen and held",
					suspends, ci.Suspended, h.ctrl.Suspended(prewarm))
			}

			// The invocation ends: a managed pre-warm is resumed, an unmanaged one had nothing to resume.
			resumes := h.ctrl.End(h.now, "a2", Measure{Run: 100 * time.Millisecond, OK: true})
			delete(h.invs, "a2")
			want := 1
			if c.off {
				want = 0
			}
			if len(resumes) != want {
				t.Fatalf("End returned %v, want %d resume(s)", resumes, want)
			}
		})
	}
}
