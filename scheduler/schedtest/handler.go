package schedtest

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"

	"github.com/nemo-edge/nemo/pool"
	"github.com/nemo-edge/nemo/scheduler"
)

// Command runs one datadriven directive against the environment. What it logs (Env's action log) is the
// directive's output, followed by whatever it returns.
type Command func(e *Env, t testing.TB, td *datadriven.TestData) string

// DefaultCommands are the directives every scenario understands:
//
//	at <offset>                         move the clock to Epoch+offset, running what falls due
//	seed <fn> every=<d> n=<k> init=<d>  k past invocations of fn, every d, the last one now
//	seed <fn> gaps=<d>,<d>,… init=<d>   past invocations of fn with these gaps, oldest first, the last now
//	tick                                run the pre-warm daemon
//	invoke <id> <fn>                    an invocation of fn arrives
//	started|start-failed|init-failed <cN>
//	initialized <cN> <d>                /init on cN took d
//	finished <id>                       its run returned
//	cancel <id>                         the caller gave up on it
//	kill <cN>                           the container stopped outside the pool
//	snapshot                            the pool and the controller's holds
//
// Functions are "guest/<fn>" 256 MB nodejs:20 containers (Spec).
func DefaultCommands() map[string]Command {
	return map[string]Command{
		"at":           cmdAt,
		"seed":         cmdSeed,
		"tick":         func(e *Env, _ testing.TB, _ *datadriven.TestData) string { e.Tick(); return "" },
		"invoke":       cmdInvoke,
		"started":      containerCmd(func(e *Env, c pool.ContainerID) { e.Started(c) }),
		"start-failed": containerCmd(func(e *Env, c pool.ContainerID) { e.StartFailed(c, "scripted") }),
		"init-failed":  containerCmd(func(e *Env, c pool.ContainerID) { e.InitFailed(c, "scripted") }),
		"kill":         containerCmd(func(e *Env, c pool.ContainerID) { e.Kill(c) }),
		"initialized":  cmdInitialized,
		"finished":     cmdFinished,
		"cancel": func(e *Env, t testing.TB, td *datadriven.TestData) string {
			e.Cancel(arg(t, td, 0))
			return ""
		},
		"snapshot": func(e *Env, _ testing.TB, _ *datadriven.TestData) string { return e.Describe() },
	}
}

// Epoch is the time scenarios start at.
var Epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// Spec is the container spec scenarios give function fn.
func Spec(fn string) pool.Spec {
	return pool.Spec{Key: pool.Key{Namespace: "guest", Action: "guest/" + fn}, Kind: "nodejs:20",
		Image: "nemo/nodejs", MemoryMB: 256, Concurrency: 1}
}

// Handle runs directive td: the command's log lines, then what it returns; then Check.
func (e *Env) Handle(t testing.TB, td *datadriven.TestData) string {
	cmd, ok := e.Commands[td.Cmd]
	if !ok {
		td.Fatalf(t, "unknown command %q", td.Cmd)
	}
	e.TakeLog()
	extra := cmd(e, t, td)
	if err := e.Check(); err != nil {
		td.Fatalf(t, "invariant: %v\n%s", err, e.Describe())
	}
	out := e.TakeLog()
	if extra != "" {
		out = append(out, extra)
	}
	return strings.Join(out, "\n")
}

// arg is the i-th positional argument of td.
func arg(t testing.TB, td *datadriven.TestData, i int) string {
	if i >= len(td.CmdArgs) || len(td.CmdArgs[i].Vals) > 0 {
		td.Fatalf(t, "%s: argument %d missing", td.Cmd, i+1)
	}
	return td.CmdArgs[i].Key
}

func parseContainer(t testing.TB, td *datadriven.TestData, s string) pool.ContainerID {
	n, err := strconv.ParseUint(strings.TrimPrefix(s, "c"), 10, 64)
	if err != nil || !strings.HasPrefix(s, "c") {
		td.Fatalf(t, "bad container %q", s)
	}
	return pool.ContainerID(n)
}

func containerCmd(f func(*Env, pool.ContainerID)) Command {
	return func(e *Env, t testing.TB, td *datadriven.TestData) string {
		f(e, parseContainer(t, td, arg(t, td, 0)))
		return ""
	}
}

func duration(t testing.TB, td *datadriven.TestData, s string) time.Duration {
	d, err := time.ParseDuration(s)
	if err != nil {
		td.Fatalf(t, "%v", err)
	}
	return d
}

func cmdAt(e *Env, t testing.TB, td *datadriven.TestData) string {
	e.AdvanceTo(Epoch.Add(duration(t, td, arg(t, td, 0))))
	return ""
}

func cmdSeed(e *Env, t testing.TB, td *datadriven.TestData) string {
	if e.Ctrl == nil {
		td.Fatalf(t, "seed needs a controller")
	}
	var init string
	td.ScanArgs(t, "init", &init)
	var arrivals []time.Time
	if td.HasArg("gaps") {
		var gaps []string
		td.ScanArgs(t, "gaps", &gaps)
		at := e.now
		arrivals = append(arrivals, at)
		for i := len(gaps) - 1; i >= 0; i-- {
			at = at.Add(-duration(t, td, gaps[i]))
			arrivals = append(arrivals, at)
		}
		slices.Reverse(arrivals)
	} else {
		var every string
		var n int
		td.ScanArgs(t, "every", &every)
		td.ScanArgs(t, "n", &n)
		gap := duration(t, td, every)
		arrivals = make([]time.Time, n)
		for i := range arrivals {
			arrivals[i] = e.now.Add(-time.Duration(n-1-i) * gap)
		}
	}
	e.Ctrl.Learn(Spec(arg(t, td, 0)), arrivals, duration(t, td, init), 100*time.Millisecond)
	return ""
}

func cmdInvoke(e *Env, t testing.TB, td *datadriven.TestData) string {
	e.Invoke(arg(t, td, 0), Spec(arg(t, td, 1)))
	return ""
}

func cmdInitialized(e *Env, t testing.TB, td *datadriven.TestData) string {
	e.Initialized(parseContainer(t, td, arg(t, td, 0)), duration(t, td, arg(t, td, 1)))
	return ""
}

func cmdFinished(e *Env, t testing.TB, td *datadriven.TestData) string {
	if err := e.Finish(arg(t, td, 0)); err != nil {
		td.Fatalf(t, "%v", err)
	}
	return ""
}

// Describe renders the pool (its summary line, then one line per container with the controller's holds) and
// what the controller has in flight.
func (e *Env) Describe() string {
	s := e.Pool.Snapshot()
	var b strings.Builder
	b.WriteString(s.Format())
	for _, ci := range s.Containers {
		fmt.Fprintf(&b, "\n%s %s %s", ci.C, ci.Key, ci.State)
		if ci.Suspended {
			b.WriteString(" suspended")
		}
		if e.Ctrl != nil && e.Ctrl.Suspended(ci.C) {
			b.WriteString(" held")
		}
		if ci.Waiting > 0 {
			fmt.Fprintf(&b, " waiting=%d", ci.Waiting)
		}
	}
	if e.Ctrl != nil {
		invs, pws := e.Ctrl.InFlight()
		fmt.Fprintf(&b, "\nin flight: %d invocations, %d pre-warms; %s", invs, pws, scheduler.FormatCounts(e.Ctrl.Counts()))
	}
	return b.String()
}

// Check reports what must hold after every step: memory within the bound; no invocation waits on a
// suspended container; nothing is suspended that no invocation holds (it would never be resumed); an
// invocation told to wait for a pre-warm (S4-1) waits on a container of its own function.
func (e *Env) Check() error {
	s := e.Pool.Snapshot()
	if s.UsedMB > s.UserMemoryMB {
		return fmt.Errorf("memory %d MB above %d MB", s.UsedMB, s.UserMemoryMB)
	}
	for _, ci := range s.Containers {
		if ci.Suspended && ci.Waiting > 0 {
			return fmt.Errorf("%s is suspended while %d invocation(s) wait on it", ci.C, ci.Waiting)
		}
		if e.Ctrl != nil && ci.Suspended && !e.Ctrl.Suspended(ci.C) {
			return fmt.Errorf("%s is suspended but no invocation holds it (never resumed)", ci.C)
		}
	}
	ids := e.Open()
	sort.Strings(ids)
	for _, id := range ids {
		inv := e.invs[id]
		if w := inv.Decision.WaitFor; w != 0 {
			if ci, ok := e.Pool.Container(w); ok && ci.Key != inv.Spec.Key {
				return fmt.Errorf("%s waits for %s of another function %s", id, w, ci.Key)
			}
		}
	}
	return nil
}
