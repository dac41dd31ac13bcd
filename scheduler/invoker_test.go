package scheduler

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/nemo-edge/nemo/pool"
)

// fakeManager records calls; Snapshot returns what the test sets.
type fakeManager struct {
	mu       sync.Mutex
	calls    []string
	snap     pool.Snapshot
	runErr   error
	runHook  func() // called inside Run (e.g. to check the harvest session)
	prewarms chan []byte
	suspErr  error
	ranks    []string // Rank calls, apart from calls: "rank@<call index> c1,c2"
	runC     pool.ContainerID
}

func (f *fakeManager) record(s string) {
	f.mu.Lock()
	f.calls = append(f.calls, s)
	f.mu.Unlock()
}

func (f *fakeManager) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func (f *fakeManager) Run(ctx context.Context, job *pool.Job, onRunDone func(*pool.Outcome)) (*pool.Outcome, error) {
	f.record("run " + job.ID)
	if f.runHook != nil {
		f.runHook()
	}
	if f.runErr != nil {
		return nil, f.runErr
	}
	now := time.Now()
	o := &pool.Outcome{InitDuration: 2 * time.Second, Start: now, End: now.Add(50 * time.Millisecond), ContainerState: "cold",
		Container: f.runC}
	if onRunDone != nil {
		onRunDone(o)
	}
	return o, nil
}

func (f *fakeManager) Prewarm(ctx context.Context, spec pool.Spec, body []byte, timeout time.Duration) (pool.ContainerID, error) {
	f.record("prewarm " + spec.Key.Action)
	if f.prewarms != nil {
		f.prewarms <- body
	}
	return 7, nil
}

func (f *fakeManager) Suspend(ctx context.Context, c pool.ContainerID) error {
	f.record("suspend " + c.String())
	return f.suspErr
}

func (f *fakeManager) Resume(ctx context.Context, c pool.ContainerID) error {
	f.record("resume " + c.String())
	return nil
}

func (f *fakeManager) Evict(ctx context.Context, c pool.ContainerID) error {
	f.record("evict " + c.String())
	return nil
}

func (f *fakeManager) Rank(ctx context.Context, order []pool.ContainerID) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	ids := make([]string, len(order))
	for i, c := range order {
		ids[i] = c.String()
	}
	f.ranks = append(f.ranks, fmt.Sprintf("rank@%d %s", len(f.calls), strings.Join(ids, ",")))
	return nil
}

func (f *fakeManager) Ranks() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.ranks...)
}

func (f *fakeManager) Container(c pool.ContainerID) (pool.ContainerInfo, bool) {
	for _, ci := range f.Snapshot().Containers {
		if ci.C == c {
			return ci, true
		}
	}
	return pool.ContainerInfo{}, false
}

func (f *fakeManager) Snapshot() pool.Snapshot {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.snap
}

type countingHarvester struct {
	mu     sync.Mutex
	open   int
	begins []string
}

func (c *countingHarvester) Begin(_ context.Context, reason string) func() {
	c.mu.Lock()
	c.open++
	c.begins = append(c.begins, reason)
	c.mu.Unlock()
	return func() {
		c.mu.Lock()
		c.open--
		c.mu.Unlock()
	}
}

func (c *countingHarvester) Open() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.open
}

func testJob(t *testing.T, id, name string) *pool.Job {
	t.Helper()
	return &pool.Job{
		ID:   id,
		Spec: pool.Spec{Key: pool.Key{Namespace: "guest", Action: "guest/" + name}, Kind: "nodejs:20", MemoryMB: 256, Concurrency: 1},
		InitBody: func(deadline time.Time) ([]byte, error) {
			return fmt.Appendf(nil, `{"value":{"name":%q,"code":"function main(){return {}}","env":{"__OW_DEADLINE":"%d"}}}`,
				name, deadline.UnixMilli()), nil
		},
		RunBody: func(time.Time) ([]byte, error) { return []byte(`{"value":{}}`), nil },
		Log:     zerolog.Nop(),
	}
}

func TestInvokerRunWrapsHarvestAndReportsState(t *testing.T) {
	h := &countingHarvester{}
	fm := &fakeManager{}
	fm.runHook = func() {
		if h.Open() != 1 {
			t.Errorf("Run called with %d harvest sessions open, want 1", h.Open())
		}
	}
	inv := NewInvoker(InvokerConfig{}, h, zerolog.Nop())
	if _, err := inv.Run(context.Background(), testJob(t, "a1", "hello"), nil); !errors.Is(err, ErrNotStarted) {
		t.Fatalf("Run before Start: err %v, want ErrNotStarted", err)
	}
	inv.Start(context.Background(), fm)
	defer inv.Close()
	called := false
	out, err := inv.Run(context.Background(), testJob(t, "a1", "hello"), func(*pool.Outcome) { called = true })
	if err != nil {
		t.Fatal(err)
	}
	if out.Conflict != "S2" || !called {
		t.Fatalf("Conflict %q (want S2), onRunDone called %v", out.Conflict, called)
	}
	if h.Open() != 0 {
		t.Fatalf("%d harvest sessions left open", h.Open())
	}
	s := inv.ctrl.History().Get(fnName(testJob(t, "x", "hello").Spec.Key))
	if s == nil || s.Invocations != 1 || s.InitTime != 2*time.Second {
		t.Fatalf("history not updated: %+v", s)
	}
	var s2 float64 = -1
	inv.Metrics(func(name, _, typ string, v float64, labels ...string) {
		if name == "nemo_scheduler_state_total" && typ == "counter" && len(labels) == 2 && labels[1] == "S2" {
			s2 = v
		}
	})
	if s2 != 1 {
		t.Fatalf("nemo_scheduler_state_total{state=S2} = %v, want 1", s2)
	}
}

// A pre-warm in flight is suspended for a cold invocation (S4-2) and
// resumed when the invocation ends, even when the pool failed it.
func TestInvokerSuspendsAndResumesOnFailure(t *testing.T) {
	fm := &fakeManager{runErr: pool.ErrProvision}
	inv := NewInvoker(InvokerConfig{}, nil, zerolog.Nop())
	inv.Start(context.Background(), fm)
	defer inv.Close()
	// A pre-warm of "other" is in flight as container c3.
	other := testJob(t, "p", "other")
	otherKey := other.Spec.Key
	inv.mu.Lock()
	inv.ctrl.prewarm["prewarm-x"] = prewarmReq{key: otherKey}
	inv.mu.Unlock()
	fm.snap = pool.Snapshot{UserMemoryMB: 2048, ColdReserveMB: 512, MaxWarm: -1, Containers: []pool.ContainerInfo{
		{C: 3, Key: otherKey, MemoryMB: 256, State: pool.StateWarming},
	}}
	_, err := inv.Run(context.Background(), testJob(t, "a1", "hello"), nil)
	if !errors.Is(err, pool.ErrProvision) {
		t.Fatalf("err %v", err)
	}
	got := strings.Join(fm.Calls(), ", ")
	if got != "suspend c3, run a1, resume c3" {
		t.Fatalf("calls: %s", got)
	}
	if inv.Counts()[S42] != 1 {
		t.Fatalf("counts %v", inv.Counts())
	}
}

// The controller's eviction ranking reaches the pool as data: pushed after
// the invocation's commands and before its run, when the run returns (its
// container ranked as the idle container it is about to become), and once
// the invocation ended; least valuable idle container first.
func TestInvokerPushesRankingAroundRun(t *testing.T) {
	fm := &fakeManager{runC: 3}
	inv := NewInvoker(InvokerConfig{Now: func() time.Time { return t0.Add(time.Hour) }}, nil, zerolog.Nop())
	inv.Start(context.Background(), fm)
	defer inv.Close()
	hot, cold := testJob(t, "h", "hot").Spec.Key, testJob(t, "c", "cold").Spec.Key
	inv.mu.Lock()
	for i := 0; i < 20; i++ {
		inv.ctrl.hist.Arrived(fnName(hot), t0.Add(time.Hour-time.Duration(20-i)*5*time.Second))
		inv.ctrl.hist.Arrived(fnName(cold), t0.Add(time.Duration(i)*time.Second))
	}
	inv.mu.Unlock()
	fm.snap = pool.Snapshot{UserMemoryMB: 2048, ColdReserveMB: 512, MaxWarm: -1, Containers: []pool.ContainerInfo{
		{C: 1, Key: hot, MemoryMB: 256, State: pool.StateIdle, LastUsed: t0.Add(time.Hour - time.Second)},
		{C: 2, Key: cold, MemoryMB: 256, State: pool.StateFrozen, LastUsed: t0.Add(time.Hour - time.Second)},
		{C: 3, Key: cold, MemoryMB: 256, State: pool.StateBusy, Active: 1},
		{C: 4, Key: hot, MemoryMB: 256, State: pool.StateIdle, Suspended: true},
	}}
	if _, err := inv.Run(context.Background(), testJob(t, "a1", "x"), nil); err != nil {
		t.Fatal(err)
	}
	want := "rank@0 c2,c1; rank@1 c2,c3,c1; rank@1 c2,c1"
	if got := strings.Join(fm.Ranks(), "; "); got != want {
		t.Fatalf("rankings %q, want %q: c2 (cold function) before c1 (hot), busy and suspended ones left out, "+
			"pushed before run a1 (call 0); when a1's run returns, its c3 ranked as the most recent idle container "+
			"of cold (c2 becomes its second one, worth a tenth); and after a1 ended", got, want)
	}
}

// A suspend that fails leaves nothing held (no resume later).
func TestInvokerSuspendFailureForgets(t *testing.T) {
	fm := &fakeManager{suspErr: pool.ErrNotApplicable}
	inv := NewInvoker(InvokerConfig{}, nil, zerolog.Nop())
	inv.Start(context.Background(), fm)
	defer inv.Close()
	otherKey := testJob(t, "p", "other").Spec.Key
	inv.mu.Lock()
	inv.ctrl.prewarm["prewarm-x"] = prewarmReq{key: otherKey}
	inv.mu.Unlock()
	fm.snap = pool.Snapshot{UserMemoryMB: 2048, ColdReserveMB: 512, MaxWarm: -1, Containers: []pool.ContainerInfo{
		{C: 3, Key: otherKey, MemoryMB: 256, State: pool.StateStarting},
	}}
	if _, err := inv.Run(context.Background(), testJob(t, "a1", "hello"), nil); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(fm.Calls(), ", "); got != "suspend c3, run a1" {
		t.Fatalf("calls: %s", got)
	}
}

// The daemon pre-warms a function seen before, with an /init body built from
// its last activation, inside a harvest session.
func TestInvokerDaemonPrewarms(t *testing.T) {
	h := &countingHarvester{}
	fm := &fakeManager{prewarms: make(chan []byte, 4)}
	fm.snap = pool.Snapshot{UserMemoryMB: 2048, ColdReserveMB: 512, MaxWarm: -1}
	// The fake clock says "50 s after the last of ten invocations 60 s apart".
	var clock struct {
		sync.Mutex
		now time.Time
	}
	clock.now = t0
	now := func() time.Time { clock.Lock(); defer clock.Unlock(); return clock.now }
	inv := NewInvoker(InvokerConfig{Controller: Config{Tick: 5 * time.Millisecond}, Now: now}, h, zerolog.Nop())
	for i := 0; i < 10; i++ {
		clock.Lock()
		clock.now = t0.Add(time.Duration(i) * time.Minute)
		clock.Unlock()
		inv.mgr = fm // Run needs a manager; Start (the daemon) comes after
		if _, err := inv.Run(context.Background(), testJob(t, "a", "hello"), nil); err != nil {
			t.Fatal(err)
		}
	}
	clock.Lock()
	clock.now = t0.Add(9*time.Minute + 50*time.Second)
	clock.Unlock()
	inv.Start(context.Background(), fm)
	defer inv.Close()
	select {
	case body := <-fm.prewarms:
		if !bytes.Contains(body, []byte(`"code"`)) || !bytes.Contains(body, []byte("function main")) {
			t.Fatalf("init body without the action code: %s", body)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no pre-warm issued")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	found := false
	for _, r := range h.begins {
		found = found || r == "prewarm"
	}
	if !found {
		t.Fatalf("no harvest session for the pre-warm: %v", h.begins)
	}
}

// The harvester's QoS guard holds pre-warming back: no pre-warm is issued until ResumePrewarms.
func TestInvokerHoldsPrewarmsBackWhileNFDegraded(t *testing.T) {
	fm := &fakeManager{prewarms: make(chan []byte, 4)}
	fm.snap = pool.Snapshot{UserMemoryMB: 2048, ColdReserveMB: 512, MaxWarm: -1}
	var clock struct {
		sync.Mutex
		now time.Time
	}
	now := func() time.Time { clock.Lock(); defer clock.Unlock(); return clock.now }
	inv := NewInvoker(InvokerConfig{Controller: Config{Tick: 5 * time.Millisecond}, Now: now}, nil, zerolog.Nop())
	for i := 0; i < 10; i++ {
		clock.Lock()
		clock.now = t0.Add(time.Duration(i) * time.Minute)
		clock.Unlock()
		inv.mgr = fm
		if _, err := inv.Run(context.Background(), testJob(t, "a", "hello"), nil); err != nil {
			t.Fatal(err)
		}
	}
	clock.Lock()
	clock.now = t0.Add(9*time.Minute + 50*time.Second)
	clock.Unlock()
	inv.SuspendPrewarms(context.Background())
	inv.Start(context.Background(), fm)
	defer inv.Close()
	select {
	case <-fm.prewarms:
		t.Fatal("pre-warm issued while held back")
	case <-time.After(300 * time.Millisecond): // 60 daemon ticks
	}
	inv.ResumePrewarms(context.Background())
	select {
	case <-fm.prewarms:
	case <-time.After(10 * time.Second):
		t.Fatal("no pre-warm after ResumePrewarms")
	}
}

// The /init contexts kept for pre-warms (they hold the activation and the action's code) are pruned: those
// of functions not invoked for SourceTTL, then the least recently invoked above MaxSources.
func TestInvokerPrunesPrewarmSources(t *testing.T) {
	fm := &fakeManager{}
	var now time.Time
	inv := NewInvoker(InvokerConfig{SourceTTL: time.Hour, MaxSources: 2, Now: func() time.Time { return now }}, nil, zerolog.Nop())
	inv.mgr = fm
	for i, name := range []string{"a", "b", "c"} {
		now = t0.Add(time.Duration(i) * time.Minute)
		if _, err := inv.Run(context.Background(), testJob(t, name, name), nil); err != nil {
			t.Fatal(err)
		}
	}
	kept := func() []string {
		inv.mu.Lock()
		defer inv.mu.Unlock()
		inv.pruneSourcesLocked()
		var out []string
		for _, n := range []string{"a", "b", "c"} {
			if _, ok := inv.sources[pool.Key{Namespace: "guest", Action: "guest/" + n}]; ok {
				out = append(out, n)
			}
		}
		return out
	}
	if got := strings.Join(kept(), ","); got != "b,c" {
		t.Fatalf("kept %s, want b,c (a is the least recently invoked above MaxSources)", got)
	}
	now = t0.Add(time.Hour + 90*time.Second)
	if got := strings.Join(kept(), ","); got != "c" {
		t.Fatalf("kept %s, want c (b not invoked for over SourceTTL)", got)
	}
}
