package scheduler

import (
	"bufio"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nemo-edge/nemo/pool"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestScenarios replays testdata/*.txt (one command per line) through the
// controller and a real pool.Pool and compares the log with the .golden file
// beside it. Commands:
//
//	at <duration>                       set the clock (offset from t0)
//	seed <fn> every=<d> n=<k> init=<d>  past invocations of fn
//	tick                                run the pre-warm daemon
//	invoke <id> <fn>                    an invocation arrives
//	started|start-failed|init-failed <c>, initialized <c> <d>
//	finished <id>                       its run returned
//	cancel <id>                         the caller gave up on it
//	snapshot                            print pool and controller state
func TestScenarios(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenarios: %v", err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".txt")
		t.Run(name, func(t *testing.T) {
			got := runScript(t, f)
			golden := strings.TrimSuffix(f, ".txt") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("scenario %s differs from %s:\n--- got\n%s\n--- want\n%s", name, golden, got, want)
			}
		})
	}
}

func parseC(s string) (pool.ContainerID, error) {
	n, err := strconv.ParseUint(strings.TrimPrefix(s, "c"), 10, 64)
	return pool.ContainerID(n), err
}

func kv(fields []string) map[string]string {
	m := map[string]string{}
	for _, f := range fields {
		if k, v, ok := strings.Cut(f, "="); ok {
			m[k] = v
		}
	}
	return m
}

func runScript(t *testing.T, path string) string {
	t.Helper()
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	h := defaultHarness()
	sc := bufio.NewScanner(fh)
	ln := 0
	for sc.Scan() {
		ln++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			h.log = append(h.log, line)
			continue
		}
		h.log = append(h.log, "> "+line)
		f := strings.Fields(line)
		fail := func(err error) { t.Fatalf("%s:%d: %s: %v", path, ln, line, err) }
		need := func(n int) {
			if len(f) < n {
				fail(fmt.Errorf("want %d fields", n))
			}
		}
		switch f[0] {
		case "at":
			need(2)
			d, err := time.ParseDuration(f[1])
			if err != nil {
				fail(err)
			}
			h.now = h.t0.Add(d)
		case "seed":
			need(2)
			o := kv(f[2:])
			every, err1 := time.ParseDuration(o["every"])
			n, err2 := strconv.Atoi(o["n"])
			init, err3 := time.ParseDuration(o["init"])
			if err1 != nil || err2 != nil || err3 != nil {
				fail(fmt.Errorf("seed needs every=, n=, init="))
			}
			h.seed(f[1], every, n, init)
		case "tick":
			h.tick()
		case "invoke":
			need(3)
			h.invoke(f[1], f[2])
		case "started", "start-failed", "init-failed", "initialized":
			need(2)
			c, err := parseC(f[1])
			if err != nil {
				fail(err)
			}
			switch f[0] {
			case "started":
				h.step(pool.Started{C: c})
			case "start-failed":
				h.step(pool.StartFailed{C: c, Reason: "scripted"})
			case "init-failed":
				h.step(pool.InitFailed{C: c, Reason: "scripted"})
			case "initialized":
				need(3)
				d, err := time.ParseDuration(f[2])
				if err != nil {
					fail(err)
				}
				h.step(pool.Initialized{C: c, Duration: d})
			}
		case "finished":
			need(2)
			if err := h.finish(f[1]); err != nil {
				fail(err)
			}
		case "cancel":
			need(2)
			h.step(pool.Cancel{ID: f[1]})
			h.end(f[1], Measure{OK: false})
		case "snapshot":
			h.log = append(h.log, h.snapshot())
		default:
			fail(fmt.Errorf("unknown command"))
		}
		if msg := h.invariants(); msg != "" {
			fail(fmt.Errorf("invariant: %s", msg))
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(h.log, "\n") + "\n"
}

// While invocations wait in the pool's run buffer the daemon starts no
// pre-warm; with the same pool and an empty buffer it does.
func TestNoPrewarmWhileBuffered(t *testing.T) {
	h := defaultHarness()
	h.seed("f", time.Minute, 10, time.Second)
	h.now = h.t0.Add(55 * time.Second)
	snap := h.p.Snapshot()
	snap.Buffered = []string{"a9"}
	if cmds := h.ctrl.Tick(h.now, snap); len(cmds) != 0 {
		t.Fatalf("commands with a non-empty run buffer: %v", cmds)
	}
	snap.Buffered = nil
	cmds := h.ctrl.Tick(h.now, snap)
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
	h := newHarness(Config{MaxWarm: 3, MinScore: 0.3, Hint: func(a string) Hint { return hints[a] }}, pool.Config{
		UserMemoryMB: 1024, MaxWarm: -1, ColdReserveMB: 256, PauseGrace: -1, IdleTimeout: -1,
	})
	h.seed("hot-never", time.Minute, 10, time.Second) // every minute: the score expects it
	h.seed("hot-auto", time.Minute, 10, time.Second)
	h.seed("cold-always", 24*time.Hour, 1, time.Second) // once, a day ago: the score does not
	h.seed("cold-auto", 24*time.Hour, 1, time.Second)
	h.now = h.t0.Add(55 * time.Second)

	var got []string
	for _, c := range h.ctrl.Tick(h.now, h.p.Snapshot()) {
		p, ok := c.(Prewarm)
		if !ok {
			t.Fatalf("unexpected command %v", c)
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
