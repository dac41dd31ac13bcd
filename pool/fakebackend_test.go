package pool

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nemo-edge/nemo/pool/proxy"
)

type fakeHandle struct {
	id, name string
	spec     Spec
}

func (h *fakeHandle) ID() string   { return h.id }
func (h *fakeHandle) Name() string { return h.name }

type fakeContainer struct {
	h           *fakeHandle
	frozen      bool
	inited      bool
	running     int
	initBodies  []string
	initRunning bool
	froze       int // freezes while /init was in flight
}

// fakeBackend is a hand-written Backend: counters, injectable delays and failures, and checks of what a
// real container would not survive (run on a frozen container, second /init, too many concurrent runs).
type fakeBackend struct {
	mu         sync.Mutex
	seq        int
	live       map[string]*fakeContainer
	counts     map[string]int
	violations []string
	trace      []string // "op name" in call order, for ordering checks
	logOpts    []LogOptions
	onRemove   func(name string) // called after a removal, outside the lock (the engine's die event)

	createErr  func(name string, spec Spec) error
	initResult func(name string, body []byte) InitResult
	runResult  func(name string, body []byte) RunResult
	logResult  func(name string) LogResult
	freezeErr  func(name string) error
	thawErr    func(name string) error
	initGate   chan struct{} // when set, /init blocks until it is closed (or ctx ends)
	gateOnly   string        // when set, only the container of that name waits on initGate
	runGate    chan struct{} // when set, /run blocks until it is closed (or ctx ends)
	logsGate   chan struct{} // when set, log collection blocks until it is closed (or ctx ends)
	createWait time.Duration
	leftovers  int // returned by the first Cleanup
	maxLive    int
}

func newFakeBackend() *fakeBackend {
	return &fakeBackend{live: map[string]*fakeContainer{}, counts: map[string]int{}}
}

func (f *fakeBackend) note(op, name string) {
	f.counts[op]++
	f.trace = append(f.trace, op+" "+name)
}

func (f *fakeBackend) violate(format string, args ...any) {
	f.violations = append(f.violations, fmt.Sprintf(format, args...))
}

func (f *fakeBackend) get(h Handle, op string) *fakeContainer {
	c := f.live[h.Name()]
	if c == nil {
		f.violate("%s on removed container %s", op, h.Name())
	}
	return c
}

func (f *fakeBackend) Create(ctx context.Context, name string, spec Spec) (Handle, error) {
	if f.createWait > 0 {
		select {
		case <-time.After(f.createWait):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.note("create", name)
	if _, dup := f.live[name]; dup {
		f.violate("create of existing name %s", name)
	}
	if f.createErr != nil {
		if err := f.createErr(name, spec); err != nil {
			return nil, err
		}
	}
	f.seq++
	h := &fakeHandle{id: fmt.Sprintf("id%d", f.seq), name: name, spec: spec}
	f.live[name] = &fakeContainer{h: h}
	f.maxLive = max(f.maxLive, len(f.live))
	return h, nil
}

func (f *fakeBackend) Init(ctx context.Context, h Handle, body []byte, timeout time.Duration) InitResult {
	f.mu.Lock()
	f.note("init", h.Name())
	c := f.get(h, "init")
	if c != nil {
		if c.inited || c.initRunning {
			f.violate("second /init on %s", h.Name())
		}
		if c.frozen {
			f.violate("/init on frozen %s", h.Name())
		}
		c.initRunning = true
		c.initBodies = append(c.initBodies, string(body))
	}
	gate := f.initGate
	if f.gateOnly != "" && f.gateOnly != h.Name() {
		gate = nil
	}
	f.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if c != nil && f.live[h.Name()] != c {
		// Removed while /init was in flight (an evicted pre-warm): the connection dies, as with Docker.
		return InitResult{Response: proxy.ErrorResponse(proxy.StatusWhiskError, proxy.MsgAbnormalInit), Dead: true}
	}
	res := InitResult{OK: true, Duration: 5 * time.Millisecond}
	if f.initResult != nil {
		res = f.initResult(h.Name(), body)
	}
	if c != nil {
		c.initRunning = false
		c.inited = res.OK
	}
	return res
}

func (f *fakeBackend) Run(ctx context.Context, h Handle, body []byte, timeout time.Duration) RunResult {
	start := time.Now()
	f.mu.Lock()
	f.note("run", h.Name())
	c := f.get(h, "run")
	if c != nil {
		switch {
		case c.frozen:
			f.violate("/run on frozen %s", h.Name())
		case !c.inited:
			f.violate("/run on uninitialised %s", h.Name())
		}
		c.running++
		if c.running > max(c.h.spec.Concurrency, 1) {
			f.violate("%d concurrent runs on %s (limit %d)", c.running, h.Name(), c.h.spec.Concurrency)
		}
	}
	gate := f.runGate
	f.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if c != nil {
		c.running--
	}
	res := RunResult{Response: proxy.Response{StatusCode: proxy.StatusSuccess, Result: json.RawMessage(`{"ok":true}`)}}
	if f.runResult != nil {
		res = f.runResult(h.Name(), body)
	}
	res.Start, res.End = start, time.Now()
	return res
}

func (f *fakeBackend) Logs(ctx context.Context, h Handle, limitBytes int64, opts LogOptions) LogResult {
	f.mu.Lock()
	f.logOpts = append(f.logOpts, opts)
	gate := f.logsGate
	f.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return LogResult{Failed: true}
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.note("logs", h.Name())
	f.get(h, "logs")
	if f.logResult != nil {
		return f.logResult(h.Name())
	}
	return LogResult{Lines: []string{proxy.FormatLogLine("2024-06-01T10:15:20.649123456Z", "stdout", "hello")}}
}

func (f *fakeBackend) Freeze(ctx context.Context, h Handle) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.note("freeze", h.Name())
	c := f.get(h, "freeze")
	if f.freezeErr != nil {
		if err := f.freezeErr(h.Name()); err != nil {
			return err
		}
	}
	if c != nil {
		if c.frozen {
			f.violate("freeze of frozen %s", h.Name())
		}
		if c.running > 0 {
			f.violate("freeze of %s with %d runs in flight", h.Name(), c.running)
		}
		if c.initRunning {
			c.froze++
		}
		c.frozen = true
	}
	return nil
}

func (f *fakeBackend) Thaw(ctx context.Context, h Handle) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.note("thaw", h.Name())
	c := f.get(h, "thaw")
	if f.thawErr != nil {
		if err := f.thawErr(h.Name()); err != nil {
			return err
		}
	}
	if c != nil {
		if !c.frozen {
			f.violate("thaw of unfrozen %s", h.Name())
		}
		c.frozen = false
	}
	return nil
}

func (f *fakeBackend) Remove(ctx context.Context, h Handle) error {
	f.mu.Lock()
	f.note("remove", h.Name())
	if f.get(h, "remove") != nil {
		delete(f.live, h.Name())
	}
	hook := f.onRemove
	f.mu.Unlock()
	if hook != nil {
		hook(h.Name())
	}
	return nil
}

func (f *fakeBackend) Cleanup(ctx context.Context, prefix string) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.counts["cleanup"]++
	n := f.leftovers
	f.leftovers = 0
	for name := range f.live {
		if strings.HasPrefix(name, prefix+"_") {
			delete(f.live, name)
			n++
		}
	}
	return n, nil
}

func (f *fakeBackend) count(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.counts[op]
}

func (f *fakeBackend) liveCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.live)
}

func (f *fakeBackend) problems() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.violations) == 0 {
		return nil
	}
	return errors.New(strings.Join(f.violations, "; "))
}
