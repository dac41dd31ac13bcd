package sim

import (
	"fmt"
	"testing"
	"time"

	"github.com/nemo-edge/nemo/pool"
	"github.com/nemo-edge/nemo/scheduler/schedtest"
)

// These tests pin each baseline's defining mechanism on a workload built so that the mechanism decides the
// outcome: removing greedy-dual's clock aging or its frequency, the hybrid histogram's pre-warm or
// keep-alive window, or OpenWhisk's idle timeout turns each of them red (docs/simulator.md lists the
// mutation runs).

// startLog records how every invocation started, and passes the engine's optional hooks through.
type startLog struct {
	policyHooks
	starts map[string]pool.StartKind
}

func logStarts(p policyHooks) *startLog {
	return &startLog{policyHooks: p, starts: map[string]pool.StartKind{}}
}

func (s *startLog) finished(e *engine, inv *schedtest.Invocation) {
	s.starts[inv.ID] = inv.Start
	s.policyHooks.finished(e, inv)
}

func (s *startLog) observe(e *engine, a pool.Action) {
	if o, ok := s.policyHooks.(interface{ observe(*engine, pool.Action) }); ok {
		o.observe(e, a)
	}
}

func (s *startLog) stepped(e *engine) {
	if o, ok := s.policyHooks.(interface{ stepped(*engine) }); ok {
		o.stepped(e)
	}
}

// start is how arrival i started.
func (s *startLog) start(i int) pool.StartKind { return s.starts[fmt.Sprintf("a%d", i)] }

// workload builds a workload of functions (10-ms runs, cold extra 1 s unless given) from (offset, function)
// arrivals.
type arrivals []struct {
	at time.Duration
	fn int
}

func workload(fns []Function, as arrivals) *Workload {
	w := &Workload{Name: "pinned", Functions: fns}
	for _, a := range as {
		w.Arrivals = append(w.Arrivals, Arrival{At: a.at, Fn: a.fn})
		w.Span = max(w.Span, a.at+time.Minute)
	}
	sortArrivals(w.Arrivals)
	return w
}

func fns(names ...string) []Function {
	var out []Function
	for _, n := range names {
		out = append(out, Function{Name: n, Warm: 10 * time.Millisecond, ColdExtra: time.Second, TraceMB: 256})
	}
	return out
}

func runPinned(t *testing.T, w *Workload, memMB int, name string) (*startLog, *Metrics) {
	t.Helper()
	pol, err := newPolicy(name, Options{})
	if err != nil {
		t.Fatal(err)
	}
	l := logStarts(pol)
	return l, run(w, Setup{UserMemoryMB: memMB}, l, name)
}

// Greedy-dual's aging: "a" ran 30 times, then never again; b, c and d take turns in the two other slots
// of three. Without aging a's frequency keeps it forever and b, c, d evict one another (every one of their
// invocations cold). With the clock, each eviction raises it to the victim's priority and every container
// used takes it, so the rotation's containers outgrow a's stale priority, a goes, and b, c, d all stay warm.
func TestGreedyDualAgingEvictsAStaleFrequentFunction(t *testing.T) {
	var as arrivals
	for i := range 30 {
		as = append(as, struct {
			at time.Duration
			fn int
		}{time.Duration(i) * 5 * time.Second, 0}) // one container: each run ends before the next arrives
	}
	const rounds = 80
	for r := range rounds {
		for f := 1; f <= 3; f++ {
			as = append(as, struct {
				at time.Duration
				fn int
			}{3*time.Minute + time.Duration(3*r+f)*10*time.Second, f})
		}
	}
	w := workload(fns("a", "b", "c", "d"), as)
	l, _ := runPinned(t, w, 768, PolicyGreedyDual)
	lateCold := 0
	for i := 30 + 3*rounds/2; i < len(w.Arrivals); i++ {
		if l.start(i) != pool.StartWarm {
			lateCold++
		}
	}
	if lateCold > 0 {
		t.Fatalf("%d of the last %d rotation invocations started cold: a's stale frequency still holds a slot "+
			"(no aging)", lateCold, 3*rounds/2)
	}
	early := 0
	for i := 30; i < 30+9; i++ {
		if l.start(i) != pool.StartWarm {
			early++
		}
	}
	if early < 6 {
		t.Fatalf("only %d of the first 9 rotation invocations were cold: the workload does not exercise aging", early)
	}
}

// Greedy-dual's frequency: "h" ran 20 times; then one-off functions arrive two at a time between h's
// invocations, with two slots. Recency alone (LRU) would evict h for the second one-off every time; its
// frequency keeps it, so every later h invocation is warm.
func TestGreedyDualFrequencyKeepsAFrequentFunction(t *testing.T) {
	names := []string{"h"}
	var as arrivals
	add := func(at time.Duration, fn int) {
		as = append(as, struct {
			at time.Duration
			fn int
		}{at, fn})
	}
	for i := range 20 {
		add(time.Duration(i)*5*time.Second, 0) // one container: each run ends before the next arrives
	}
	at := 2 * time.Minute
	var hs []int
	for r := range 20 {
		names = append(names, fmt.Sprintf("x%d", 2*r), fmt.Sprintf("x%d", 2*r+1))
		add(at, len(names)-2)
		add(at+10*time.Second, len(names)-1)
		add(at+20*time.Second, 0)
		hs = append(hs, 20+3*r+2)
		at += 30 * time.Second
	}
	w := workload(fns(names...), as)
	l, _ := runPinned(t, w, 512, PolicyGreedyDual)
	for _, i := range hs {
		if l.start(i) != pool.StartWarm {
			t.Fatalf("h's invocation %d started %s: its frequency did not keep it over two one-off functions", i, l.start(i))
		}
	}
}

// The hybrid histogram's windows: p runs every 5 minutes, so its idle times fill one bin (a "certain"
// histogram: pre-warm window 4 min × 0.9, keep-alive 5 min × 1.1). After each run the policy unloads p
// and loads it again 3.6 minutes later: the invocations stay warm while p holds memory for only a part of
// each gap. Then a 20-minute gap outlasts the keep-alive window: that invocation is cold.
func TestHybridHistogramWindowsUnloadAndReload(t *testing.T) {
	var as arrivals
	const cycles = 12
	for i := range cycles {
		as = append(as, struct {
			at time.Duration
			fn int
		}{time.Duration(i) * 5 * time.Minute, 0})
	}
	last := time.Duration(cycles-1)*5*time.Minute + 20*time.Minute
	as = append(as, struct {
		at time.Duration
		fn int
	}{last, 0})
	w := workload(fns("p"), as)
	l, m := runPinned(t, w, 2048, PolicyHistogram)
	for i := 4; i < cycles; i++ { // a few idle times first make the histogram certain
		if l.start(i) != pool.StartWarm {
			t.Fatalf("invocation %d started %s: the pre-warm window did not load p in time", i, l.start(i))
		}
	}
	if l.start(cycles) == pool.StartWarm {
		t.Fatal("the invocation after a 20-minute gap was warm: p outlived its 5.5-minute keep-alive window")
	}
	if m.Prewarms < cycles-5 {
		t.Fatalf("%d pre-warms: p was not unloaded and loaded again in each gap", m.Prewarms)
	}
	// Loaded 3.6 min into each 5-min gap: at most ~1.5 min of idle 256 MB per gap (plus the uncertain start,
	// kept 4 h, and the last keep-alive); without the windows p would stay idle the whole time.
	whole := 256 * (last + time.Minute).Seconds()
	if m.IdleMBSeconds > 0.6*whole {
		t.Fatalf("idle memory-time %.0f MB·s, %.0f%% of keeping p all along: the windows did not unload it",
			m.IdleMBSeconds, 100*m.IdleMBSeconds/whole)
	}
}

// OpenWhisk's keep-alive: an idle container is removed after 10 minutes. Invoked again after 9 minutes it
// is warm; after 11 it is cold.
func TestOpenWhiskKeepAlive(t *testing.T) {
	w := workload(fns("f"), arrivals{{0, 0}, {9 * time.Minute, 0}, {20 * time.Minute, 0}})
	l, _ := runPinned(t, w, 2048, PolicyTTL)
	if got := []pool.StartKind{l.start(0), l.start(1), l.start(2)}; got[1] != pool.StartWarm || got[2] == pool.StartWarm {
		t.Fatalf("starts %v: want warm after 9 idle minutes and not warm after 11 (10-minute keep-alive)", got)
	}
}
