package pool

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
)

// TestScenarios replays testdata/scenarios/*.txt, data-driven files (github.com/cockroachdb/datadriven):
// each directive is a command, "----", then the actions the pool emitted for it, one per line. After every
// directive the invariant checker compares the pool with its own model. go test ./pool -run TestScenarios
// -rewrite regenerates the expected actions (review the diff: it is the pool's behaviour).
//
// Commands:
//
//	config user=2048 maxwarm=6 reserve=512 grace=10s idle=10m prefix=wsk0 backoff=1s stemcheck=1m (first)
//	stem <kind> <memMB> x<count> [reactive=<min>:<max>:<ttl>:<threshold>:<increment>]  (before anything else)
//	at <offset> [command...]        set the clock to t0+offset (never backwards), then run the command if any
//	request <id> <ns>/<action> <kind> <memMB> [c=<conc>] [hash=<h>] [ns=<invoking ns>] [prewarm]
//	started|initialized <cN> [<init duration>]
//	start-failed|init-failed <cN> <reason...>
//	finished <cN> <id> [destroy]
//	removed <cN>
//	destroy <cN> <reason...>
//	evict|suspend|resume <cN>
//	rank <cN>...                    the driver's eviction order (no containers: back to LRU)
//	cancel <id>
//	tick                            (a Tick at the current time)
//	shutdown
//	snapshot                        (prints Snapshot.Format)
//	containers                      (prints one line per container)
//
// "event <command>" is accepted as a synonym of the command, for readability.
func TestScenarios(t *testing.T) {
	datadriven.Walk(t, filepath.Join("testdata", "scenarios"), func(t *testing.T, path string) {
		sc := &scenario{now: t0}
		datadriven.RunTest(t, path, func(t *testing.T, td *datadriven.TestData) string {
			lines, err := sc.exec(directiveFields(td))
			if err != nil {
				td.Fatalf(t, "%v", err)
			}
			if sc.checker != nil {
				if err := sc.checker.check(sc.pool); err != nil {
					td.Fatalf(t, "invariant: %v", err)
				}
			}
			return strings.Join(lines, "\n")
		})
	})
}

// directiveFields is a directive as the words of the line: the command, then each argument as written.
func directiveFields(td *datadriven.TestData) []string {
	f := []string{td.Cmd}
	for _, a := range td.CmdArgs {
		f = append(f, a.String())
	}
	return f
}

var t0 = time.Date(2024, 6, 1, 10, 0, 0, 0, time.UTC)

type scenario struct {
	cfg     Config
	pool    *Pool
	now     time.Time
	checker *invariantChecker
}

func (sc *scenario) ensurePool() {
	if sc.pool == nil {
		sc.pool = New(sc.cfg, t0)
		sc.checker = newInvariantChecker(sc.pool.Config())
	}
}

func (sc *scenario) step(ev Event) []string {
	sc.ensurePool()
	sc.checker.event(ev)
	acts := sc.pool.Step(sc.now, ev)
	sc.checker.observe(acts)
	out := make([]string, len(acts))
	for i, a := range acts {
		out[i] = a.String()
	}
	return out
}

func parseCID(s string) (ContainerID, error) {
	n, err := strconv.ParseUint(strings.TrimPrefix(s, "c"), 10, 64)
	if err != nil || !strings.HasPrefix(s, "c") {
		return 0, fmt.Errorf("bad container id %q", s)
	}
	return ContainerID(n), nil
}

func (sc *scenario) exec(f []string) ([]string, error) {
	if f[0] == "event" {
		f = f[1:]
		if len(f) == 0 {
			return nil, fmt.Errorf("empty event")
		}
	}
	need := func(n int) error {
		if len(f) < n {
			return fmt.Errorf("%s needs %d arguments", f[0], n-1)
		}
		return nil
	}
	cid := func() (ContainerID, error) {
		if err := need(2); err != nil {
			return 0, err
		}
		return parseCID(f[1])
	}
	switch f[0] {
	case "config":
		if sc.pool != nil {
			return nil, fmt.Errorf("config after the pool started")
		}
		for _, kv := range f[1:] {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				return nil, fmt.Errorf("bad config %q", kv)
			}
			var err error
			switch k {
			case "user":
				sc.cfg.UserMemoryMB, err = strconv.Atoi(v)
			case "maxwarm":
				sc.cfg.MaxWarm, err = strconv.Atoi(v)
			case "reserve":
				sc.cfg.ColdReserveMB, err = strconv.Atoi(v)
			case "grace":
				sc.cfg.PauseGrace, err = time.ParseDuration(v)
			case "idle":
				sc.cfg.IdleTimeout, err = time.ParseDuration(v)
			case "prefix":
				sc.cfg.NamePrefix = v
			case "backoff":
				sc.cfg.StemRetryBackoff, err = time.ParseDuration(v)
			case "stemcheck":
				sc.cfg.StemCheckInterval, err = time.ParseDuration(v)
			default:
				return nil, fmt.Errorf("unknown config key %q", k)
			}
			if err != nil {
				return nil, fmt.Errorf("config %s: %w", k, err)
			}
		}
		return nil, nil
	case "stem":
		if sc.pool != nil {
			return nil, fmt.Errorf("stem after the pool started")
		}
		if err := need(4); err != nil {
			return nil, err
		}
		mem, err := strconv.Atoi(f[2])
		if err != nil {
			return nil, err
		}
		n, err := strconv.Atoi(strings.TrimPrefix(f[3], "x"))
		if err != nil {
			return nil, err
		}
		stem := StemCell{Kind: f[1], Image: "img/" + f[1], MemoryMB: mem, Count: n}
		if len(f) > 4 {
			v, ok := strings.CutPrefix(f[4], "reactive=")
			parts := strings.Split(v, ":")
			if !ok || len(parts) != 5 {
				return nil, fmt.Errorf("want reactive=<min>:<max>:<ttl>:<threshold>:<increment>, got %q", f[4])
			}
			var r Reactive
			var errs [5]error
			r.MinCount, errs[0] = strconv.Atoi(parts[0])
			r.MaxCount, errs[1] = strconv.Atoi(parts[1])
			r.TTL, errs[2] = time.ParseDuration(parts[2])
			r.Threshold, errs[3] = strconv.Atoi(parts[3])
			r.Increment, errs[4] = strconv.Atoi(parts[4])
			for _, err := range errs {
				if err != nil {
					return nil, fmt.Errorf("reactive: %w", err)
				}
			}
			stem.Reactive = &r
		}
		sc.cfg.StemCells = append(sc.cfg.StemCells, stem)
		return nil, nil
	case "at":
		if err := need(2); err != nil {
			return nil, err
		}
		d, err := time.ParseDuration(f[1])
		if err != nil {
			return nil, err
		}
		if t := t0.Add(d); t.After(sc.now) {
			sc.now = t
		}
		if len(f) > 2 {
			return sc.exec(f[2:])
		}
		return nil, nil
	case "request":
		if err := need(5); err != nil {
			return nil, err
		}
		mem, err := strconv.Atoi(f[4])
		if err != nil {
			return nil, err
		}
		action := f[2]
		ns, _, _ := strings.Cut(action, "/")
		r := Request{ID: f[1], Spec: Spec{Key: Key{Namespace: ns, Action: action, ContentHash: "h1"}, Kind: f[3],
			Image: "img/" + f[3], MemoryMB: mem, Concurrency: 1}}
		for _, opt := range f[5:] {
			k, v, _ := strings.Cut(opt, "=")
			switch k {
			case "c":
				if r.Spec.Concurrency, err = strconv.Atoi(v); err != nil {
					return nil, err
				}
			case "hash":
				r.Spec.Key.ContentHash = v
			case "ns":
				r.Spec.Key.Namespace = v
			case "prewarm":
				r.Prewarm = true
			default:
				return nil, fmt.Errorf("unknown request option %q", opt)
			}
		}
		sc.ensurePool()
		sc.checker.requested(r)
		return sc.step(r), nil
	case "started":
		c, err := cid()
		if err != nil {
			return nil, err
		}
		return sc.step(Started{C: c}), nil
	case "initialized":
		c, err := cid()
		if err != nil {
			return nil, err
		}
		var d time.Duration
		if len(f) > 2 {
			if d, err = time.ParseDuration(f[2]); err != nil {
				return nil, err
			}
		}
		return sc.step(Initialized{C: c, Duration: d}), nil
	case "start-failed", "init-failed", "destroy":
		c, err := cid()
		if err != nil {
			return nil, err
		}
		reason := strings.Join(f[2:], " ")
		switch f[0] {
		case "start-failed":
			return sc.step(StartFailed{C: c, Reason: reason}), nil
		case "init-failed":
			return sc.step(InitFailed{C: c, Reason: reason}), nil
		}
		return sc.step(Destroy{C: c, Reason: reason}), nil
	case "finished":
		if err := need(3); err != nil {
			return nil, err
		}
		c, err := parseCID(f[1])
		if err != nil {
			return nil, err
		}
		destroy := len(f) > 3 && f[3] == "destroy"
		return sc.step(RunFinished{C: c, ID: f[2], Destroy: destroy}), nil
	case "removed", "evict", "suspend", "resume":
		c, err := cid()
		if err != nil {
			return nil, err
		}
		switch f[0] {
		case "removed":
			return sc.step(Removed{C: c}), nil
		case "evict":
			return sc.step(Evict{C: c}), nil
		case "suspend":
			return sc.step(Suspend{C: c}), nil
		}
		return sc.step(Resume{C: c}), nil
	case "rank":
		order := make([]ContainerID, 0, len(f)-1)
		for _, s := range f[1:] {
			c, err := parseCID(s)
			if err != nil {
				return nil, err
			}
			order = append(order, c)
		}
		return sc.step(Rank{Order: order}), nil
	case "cancel":
		if err := need(2); err != nil {
			return nil, err
		}
		return sc.step(Cancel{ID: f[1]}), nil
	case "tick":
		return sc.step(Tick{}), nil
	case "shutdown":
		return sc.step(Shutdown{}), nil
	case "snapshot":
		sc.ensurePool()
		return []string{"snapshot: " + sc.pool.Snapshot().Format()}, nil
	case "stemstats":
		sc.ensurePool()
		var out []string
		for _, st := range sc.pool.Snapshot().StemCells {
			out = append(out, fmt.Sprintf("%s %dMB coldstart-checks=%d expiry-checks=%d", st.Kind, st.MemoryMB,
				st.ColdStartChecks, st.ExpiryChecks))
		}
		return out, nil
	case "containers":
		sc.ensurePool()
		var out []string
		for _, c := range sc.pool.Snapshot().Containers {
			flags := ""
			if c.Frozen {
				flags += " frozen"
			}
			if c.Suspended {
				flags += " suspended"
			}
			out = append(out, fmt.Sprintf("%s %s %s %dMB active=%d waiting=%d uses=%d last=%s%s", c.C,
				specLabel(Spec{Key: c.Key}), c.State, c.MemoryMB, c.Active, c.Waiting, c.Uses,
				c.LastUsed.Sub(t0), flags))
		}
		if len(out) == 0 {
			out = []string{"(no containers)"}
		}
		return out, nil
	}
	return nil, fmt.Errorf("unknown command %q", f[0])
}
