package pool

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files")

// Scenario files (testdata/scenarios/*.txt) are scripts; each command line is followed by the actions the
// pool emitted for it, indented by two spaces. The runner re-executes the commands, regenerates the indented
// lines and compares the whole file; -update rewrites it. Lines starting with '#' and blank lines are kept.
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
//	cancel <id>
//	tick                            (a Tick at the current time)
//	shutdown
//	snapshot                        (prints Snapshot.Format)
//	containers                      (prints one line per container)
//
// "event <command>" is accepted as a synonym of the command, for readability.
func TestScenarios(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "scenarios", "*.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no scenarios")
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txt"), func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			got, err := runScenario(t, string(raw))
			if err != nil {
				t.Fatal(err)
			}
			if *update {
				if err := os.WriteFile(f, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if got != string(raw) {
				t.Errorf("scenario %s differs from golden (run with -update to accept):\n%s", f, diffLines(string(raw), got))
			}
		})
	}
}

var t0 = time.Date(2024, 6, 1, 10, 0, 0, 0, time.UTC)

type scenario struct {
	cfg     Config
	started bool
	pool    *Pool
	now     time.Time
	checker *invariantChecker
}

func runScenario(t *testing.T, src string) (string, error) {
	sc := &scenario{now: t0}
	var out strings.Builder
	s := bufio.NewScanner(strings.NewReader(src))
	lineNo := 0
	for s.Scan() {
		lineNo++
		line := s.Text()
		if strings.HasPrefix(line, "  ") {
			continue // previous output, regenerated
		}
		out.WriteString(line + "\n")
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		lines, err := sc.exec(strings.Fields(trimmed))
		if err != nil {
			return "", fmt.Errorf("line %d %q: %w", lineNo, trimmed, err)
		}
		if sc.checker != nil {
			if err := sc.checker.check(sc.pool); err != nil {
				return "", fmt.Errorf("line %d %q: invariant: %w", lineNo, trimmed, err)
			}
		}
		for _, l := range lines {
			out.WriteString("  " + l + "\n")
		}
	}
	return out.String(), s.Err()
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

// diffLines renders a minimal line diff for failure messages.
func diffLines(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := 0; i < max(len(w), len(g)); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			fmt.Fprintf(&b, "line %d:\n  want: %q\n  got:  %q\n", i+1, wl, gl)
		}
	}
	return b.String()
}
