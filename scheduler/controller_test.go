package scheduler

import (
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nemo-edge/nemo/pool"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func spec(fn string) pool.Spec {
	return pool.Spec{Key: pool.Key{Namespace: "guest", Action: "guest/" + fn}, Kind: "nodejs:20",
		Image: "nemo/nodejs", MemoryMB: 256, Concurrency: 1}
}

// seed records n past invocations of fn every gap, the last one at now, and the measured init time.
func seed(c *Controller, now time.Time, fn string, gap time.Duration, n int, init time.Duration) {
	arrivals := make([]time.Time, n)
	for i := range arrivals {
		arrivals[i] = now.Add(-time.Duration(n-1-i) * gap)
	}
	c.Learn(spec(fn), arrivals, init, 100*time.Millisecond)
}

// emptyPool is the snapshot of the scenarios' empty pool: 1024 MB, 256 MB cold reserve, no MaxWarm.
func emptyPool(now time.Time) pool.Snapshot {
	return pool.New(pool.Config{UserMemoryMB: 1024, MaxWarm: -1, ColdReserveMB: 256, PauseGrace: -1,
		IdleTimeout: -1}, now).Snapshot()
}

// While invocations wait in the pool's run buffer the daemon starts no
// pre-warm; with the same pool and an empty buffer it does.
func TestNoPrewarmWhileBuffered(t *testing.T) {
	c := NewController(Config{MaxWarm: 3, MinScore: 0.3})
	seed(c, t0, "f", time.Minute, 10, time.Second)
	now := t0.Add(55 * time.Second)
	snap := emptyPool(now)
	snap.Buffered = []string{"a9"}
	if cmds := c.Tick(now, snap); len(cmds) != 0 {
		t.Fatalf("commands with a non-empty run buffer: %v", cmds)
	}
	snap.Buffered = nil
	cmds := c.Tick(now, snap)
	if len(cmds) != 1 {
		t.Fatalf("commands with an empty run buffer: %v, want one pre-warm", cmds)
	}
	if p, ok := cmds[0].(Prewarm); !ok || p.Spec.Key != spec("f").Key {
		t.Fatalf("got %v, want a pre-warm of f", cmds[0])
	}
}

// Operator hints (config edgeFunctions[].prewarm): "never" keeps a function the score would pre-warm out of
// the pool; "always" pre-warms one whose score would not qualify, ahead of scored candidates.
func TestPrewarmHints(t *testing.T) {
	hints := map[string]Hint{"guest/hot-never": HintNever, "guest/cold-always": HintAlways}
	c := NewController(Config{MaxWarm: 3, MinScore: 0.3, Hint: func(a string) Hint { return hints[a] }})
	seed(c, t0, "hot-never", time.Minute, 10, time.Second) // every minute: the score expects it
	seed(c, t0, "hot-auto", time.Minute, 10, time.Second)
	seed(c, t0, "cold-always", 24*time.Hour, 1, time.Second) // once, a day ago: the score does not
	seed(c, t0, "cold-auto", 24*time.Hour, 1, time.Second)
	now := t0.Add(55 * time.Second)

	var got []string
	for _, cmd := range c.Tick(now, emptyPool(now)) {
		p, ok := cmd.(Prewarm)
		if !ok {
			t.Fatalf("unexpected command %v", cmd)
		}
		got = append(got, p.Spec.Key.Action)
	}
	want := []string{"guest/cold-always", "guest/hot-auto"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("pre-warms %v, want %v (always first, never and low-score auto left out)", got, want)
	}
}

// The one idle container of an "always" function is valued above everything, so the daemon's stops and
// trims and the pool's evictions take it last; a second idle container of it is valued like any other.
func TestAlwaysHintKeepsOneIdleContainer(t *testing.T) {
	hints := map[string]Hint{"guest/keep": HintAlways}
	c := NewController(Config{MaxWarm: 3, MinScore: 0.3, Hint: func(a string) Hint { return hints[a] }})
	now := t0.Add(time.Hour)
	keep, other := spec("keep").Key, spec("other").Key
	idle := c.valueIdle(now, []valued{
		{c: 1, key: keep, mb: 256, last: now.Add(-time.Minute)},
		{c: 2, key: keep, mb: 256, last: now.Add(-2 * time.Minute)},
		{c: 3, key: other, mb: 256, last: now.Add(-3 * time.Minute)},
	})
	order := []pool.ContainerID{idle[0].c, idle[1].c, idle[2].c}
	if order[2] != 1 || !math.IsInf(idle[2].value, 1) {
		t.Fatalf("eviction order %v (values %v, %v, %v): want c1, the most recently used container of keep, last and infinite",
			order, idle[0].value, idle[1].value, idle[2].value)
	}
	if math.IsInf(idle[0].value, 1) || math.IsInf(idle[1].value, 1) {
		t.Fatalf("only one container of keep is kept whatever its score; values %v, %v", idle[0].value, idle[1].value)
	}
}

// ControlledPool turns the pool's own warm-count bound and idle timeout off and keeps the rest.
func TestControlledPool(t *testing.T) {
	in := pool.Config{UserMemoryMB: 4096, MaxWarm: 6, ColdReserveMB: 512, PauseGrace: time.Second,
		IdleTimeout: 10 * time.Minute, NamePrefix: "wsk3", StemCells: []pool.StemCell{{Kind: "nodejs:20", MemoryMB: 256, Count: 1}}}
	got := ControlledPool(in)
	want := in
	want.MaxWarm, want.IdleTimeout = -1, -1
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ControlledPool(%+v) = %+v, want %+v", in, got, want)
	}
}
