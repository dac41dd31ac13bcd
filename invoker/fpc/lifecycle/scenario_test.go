package lifecycle

import (
	"bufio"
	"crypto/md5"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nemo-edge/nemo/invoker/wire"
)

var update = flag.Bool("update", false, "rewrite the golden scenario files")

// Scenario files (testdata/scenarios/*.txt) are scripts: each command line is followed by the actions the
// machine returned, indented by two spaces. The runner re-executes the commands, regenerates the indented
// lines and compares the whole file; -update rewrites it. '#' lines and blank lines are kept.
//
//	config user=2048 grace=10s idle=10m keep=10m batch=10 promotion=true   (first, optional)
//	at <offset>                          set the clock to t0+offset (never backwards)
//	create <k> <ns>/<action>[@version] rev=<rev>|null kind=<kind> mem=<MB> [inv=<invocation ns>]
//	       [sched=host:port] [conc=<n>] [image=<blackbox image>] [sequence]
//	delete <ns>/<action> rev=<rev> [inv=<invocation ns>]
//	stem <cN> <kind> <MB> | stem-gone <cN>
//	started|client-ready|activation|idle|paused|pause-failed|resumed|resume-failed|live-failed|removed <cN>
//	start-failed <cN> [blackbox] <reason...>   client-failed <cN> <reason...>   pull-stopped <cN> <reason...>
//	finished <cN> [init] [destroy] [dur=<d>]
//	live <cN> count=<n> limit=<n> [keep=<d>]
//	disable | enable | tick
//	containers                           one line per container
//	resources                            free/busy/inProgress MB and /pool/count
func TestScenarios(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "scenarios", "*.txt"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenarios: %v", err)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txt"), func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			got, err := runScenario(string(raw))
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
				t.Errorf("scenario %s differs from golden (run with -update to accept):\n%s", f, diff(string(raw), got))
			}
		})
	}
}

var t0 = time.Date(2024, 6, 1, 10, 0, 0, 0, time.UTC)

type scenario struct {
	cfg Config
	m   *Machine
	now time.Time
}

func runScenario(src string) (string, error) {
	sc := &scenario{now: t0, cfg: Config{UserMemoryMB: 2048}}
	var out strings.Builder
	s := bufio.NewScanner(strings.NewReader(src))
	for n := 1; s.Scan(); n++ {
		line := s.Text()
		if strings.HasPrefix(line, "  ") {
			continue
		}
		out.WriteString(line + "\n")
		tl := strings.TrimSpace(line)
		if tl == "" || strings.HasPrefix(tl, "#") {
			continue
		}
		lines, err := sc.exec(strings.Fields(tl))
		if err != nil {
			return "", fmt.Errorf("line %d %q: %w", n, tl, err)
		}
		for _, l := range lines {
			out.WriteString("  " + l + "\n")
		}
	}
	return out.String(), s.Err()
}

func (sc *scenario) machine() *Machine {
	if sc.m == nil {
		sc.m = New(sc.cfg)
	}
	return sc.m
}

func (sc *scenario) step(ev Event) []string {
	acts := sc.machine().Step(sc.now, ev)
	out := make([]string, len(acts))
	for i, a := range acts {
		out[i] = a.String()
	}
	return out
}

// creationID derives a stable 32-hex creation id from the scenario's name for it.
func creationID(k string) string {
	h := md5.Sum([]byte(k))
	return hex.EncodeToString(h[:])
}

func opts(f []string) map[string]string {
	m := map[string]string{}
	for _, kv := range f {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			v = "true"
		}
		m[k] = v
	}
	return m
}

func fqnArg(s string) (wire.FullyQualifiedName, error) {
	name, version, _ := strings.Cut(s, "@")
	f, err := wire.ParseFullyQualifiedName([]byte(strconv.Quote(name)))
	f.Version = version
	return f, err
}

func revArg(s string) *string {
	if s == "null" || s == "" {
		return nil
	}
	return &s
}

func (sc *scenario) exec(f []string) ([]string, error) {
	need := func(n int) error {
		if len(f) < n {
			return fmt.Errorf("%s needs %d arguments", f[0], n-1)
		}
		return nil
	}
	cid := func() (ContainerID, error) {
		if err := need(2); err != nil {
			return "", err
		}
		return ContainerID(f[1]), nil
	}
	switch f[0] {
	case "config":
		if sc.m != nil {
			return nil, fmt.Errorf("config after the machine started")
		}
		var err error
		for k, v := range opts(f[1:]) {
			switch k {
			case "user":
				sc.cfg.UserMemoryMB, err = strconv.Atoi(v)
			case "grace":
				sc.cfg.PauseGrace, err = time.ParseDuration(v)
			case "idle":
				sc.cfg.IdleContainer, err = time.ParseDuration(v)
			case "keep":
				sc.cfg.KeepingDuration, err = time.ParseDuration(v)
			case "batch":
				sc.cfg.BatchDeletionSize, err = strconv.Atoi(v)
			case "promotion":
				sc.cfg.PrewarmPromotion = v == "true"
			default:
				return nil, fmt.Errorf("unknown config %q", k)
			}
			if err != nil {
				return nil, err
			}
		}
		return nil, nil
	case "at":
		if err := need(2); err != nil {
			return nil, err
		}
		d, err := time.ParseDuration(f[1])
		if err != nil {
			return nil, err
		}
		if t := t0.Add(d); t.Before(sc.now) {
			return nil, fmt.Errorf("time goes backwards")
		} else {
			sc.now = t
		}
		return nil, nil
	case "create":
		if err := need(3); err != nil {
			return nil, err
		}
		fqn, err := fqnArg(f[2])
		if err != nil {
			return nil, err
		}
		o := opts(f[3:])
		inv := o["inv"]
		if inv == "" {
			inv = fqn.Path
		}
		mem, _ := strconv.Atoi(o["mem"])
		conc, _ := strconv.Atoi(o["conc"])
		if conc == 0 {
			conc = 1
		}
		kind := o["kind"]
		exec := fmt.Sprintf(`{"kind":%q,"binary":false}`, kind)
		if o["image"] != "" {
			exec = fmt.Sprintf(`{"kind":"blackbox","image":%q,"binary":false}`, o["image"])
		}
		if o["sequence"] != "" {
			exec = `{"kind":"sequence","components":["/guest/a"]}`
		}
		md, err := wire.ParseActionMetaData([]byte(fmt.Sprintf(
			`{"namespace":%q,"name":%q,"exec":%s,"limits":{"timeout":60000,"memory":%d,"logs":10,"concurrency":%d}}`,
			fqn.Path, fqn.Name, exec, mem, conc)))
		if err != nil {
			return nil, err
		}
		host, port := "10.0.0.5", 13001
		if s := o["sched"]; s != "" {
			h, p, _ := strings.Cut(s, ":")
			host = h
			port, _ = strconv.Atoi(p)
		}
		msg := &wire.ContainerCreationMessage{TransID: wire.NewTransID("tid-"+f[1], t0.UnixMilli()), InvocationNamespace: inv,
			Action: fqn, Revision: revArg(o["rev"]), ActionMetaData: md, RootSchedulerIndex: wire.SchedulerInstanceID{AsString: "0"},
			SchedulerHost: host, RPCPort: port, CreationID: creationID(f[1])}
		return append([]string{"# creation " + f[1] + " = " + msg.CreationID[:8]}, sc.step(Creation{Msg: msg})...), nil
	case "delete":
		if err := need(2); err != nil {
			return nil, err
		}
		fqn, err := fqnArg(f[1])
		if err != nil {
			return nil, err
		}
		o := opts(f[2:])
		inv := o["inv"]
		if inv == "" {
			inv = fqn.Path
		}
		return sc.step(Deletion{Msg: &wire.ContainerDeletionMessage{TransID: wire.NewTransID("del", t0.UnixMilli()),
			InvocationNamespace: inv, Action: fqn, Revision: revArg(o["rev"])}}), nil
	case "stem":
		if err := need(4); err != nil {
			return nil, err
		}
		m, err := strconv.Atoi(f[3])
		if err != nil {
			return nil, err
		}
		return sc.step(StemCellReady{C: ContainerID(f[1]), Kind: f[2], MemoryMB: m}), nil
	case "finished":
		c, err := cid()
		if err != nil {
			return nil, err
		}
		o := opts(f[2:])
		r := RunResult{Initialized: o["init"] != "", Destroy: o["destroy"] != ""}
		if d := o["dur"]; d != "" {
			if r.Duration, err = time.ParseDuration(d); err != nil {
				return nil, err
			}
		}
		return sc.step(RunFinished{C: c, Result: r}), nil
	case "live":
		c, err := cid()
		if err != nil {
			return nil, err
		}
		o := opts(f[2:])
		count, _ := strconv.ParseInt(o["count"], 10, 64)
		limit, _ := strconv.ParseInt(o["limit"], 10, 64)
		var keep time.Duration
		if o["keep"] != "" {
			if keep, err = time.ParseDuration(o["keep"]); err != nil {
				return nil, err
			}
		}
		return sc.step(LiveCount{C: c, Count: count, Limit: limit, KeepFor: keep}), nil
	case "start-failed", "client-failed", "pull-stopped":
		c, err := cid()
		if err != nil {
			return nil, err
		}
		rest := f[2:]
		switch f[0] {
		case "start-failed":
			bb := len(rest) > 0 && rest[0] == "blackbox"
			if bb {
				rest = rest[1:]
			}
			return sc.step(StartFailed{C: c, Blackbox: bb, Reason: strings.Join(rest, " ")}), nil
		case "client-failed":
			return sc.step(ClientFailed{C: c, Reason: strings.Join(rest, " ")}), nil
		}
		return sc.step(PullStopped{C: c, Reason: strings.Join(rest, " ")}), nil
	case "disable":
		return sc.step(Disable{}), nil
	case "enable":
		return sc.step(Enable{}), nil
	case "tick":
		return sc.step(Tick{}), nil
	case "containers":
		var out []string
		for _, s := range sc.machine().Containers() {
			out = append(out, s.String())
		}
		return out, nil
	case "resources":
		free, busy, inProgress := sc.machine().Resources()
		next := "none"
		if d := sc.machine().NextDeadline(); !d.IsZero() {
			next = d.Sub(t0).String()
		}
		return []string{fmt.Sprintf("free=%d busy=%d inProgress=%d count=%d next=%s", free, busy, inProgress, sc.machine().Counts(), next)}, nil
	}
	simple := map[string]func(ContainerID) Event{
		"stem-gone": func(c ContainerID) Event { return StemCellGone{C: c} }, "started": func(c ContainerID) Event { return Started{C: c} },
		"client-ready": func(c ContainerID) Event { return ClientReady{C: c} }, "activation": func(c ContainerID) Event { return ActivationReceived{C: c} },
		"idle": func(c ContainerID) Event { return Idle{C: c} }, "paused": func(c ContainerID) Event { return PauseDone{C: c} },
		"pause-failed": func(c ContainerID) Event { return PauseFailed{C: c} }, "resumed": func(c ContainerID) Event { return ResumeDone{C: c} },
		"resume-failed": func(c ContainerID) Event { return ResumeFailed{C: c} }, "live-failed": func(c ContainerID) Event { return LiveCountFailed{C: c} },
		"removed": func(c ContainerID) Event { return Removed{C: c} },
	}
	if mk, ok := simple[f[0]]; ok {
		c, err := cid()
		if err != nil {
			return nil, err
		}
		return sc.step(mk(c)), nil
	}
	return nil, fmt.Errorf("unknown command %q", f[0])
}

func diff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			fmt.Fprintf(&b, "line %d:\n  want %q\n  got  %q\n", i+1, wl, gl)
		}
	}
	return b.String()
}
