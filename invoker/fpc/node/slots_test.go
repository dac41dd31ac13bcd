package node

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nemo-edge/nemo/invoker/fpc/lifecycle"
	"github.com/nemo-edge/nemo/invoker/wire"
	"github.com/nemo-edge/nemo/pool"
	"github.com/nemo-edge/nemo/pool/proxy"
)

// fakePool is pool.Manager for Slots: a container per key, created by the first run of the key.
type fakePool struct {
	mu     sync.Mutex
	byKey  map[pool.Key]pool.ContainerID
	infos  map[pool.ContainerID]*pool.ContainerInfo
	next   pool.ContainerID
	calls  []string
	result proxy.Response
}

func newFakePool() *fakePool {
	return &fakePool{byKey: map[pool.Key]pool.ContainerID{}, infos: map[pool.ContainerID]*pool.ContainerInfo{},
		result: proxy.Response{StatusCode: proxy.StatusSuccess, Result: json.RawMessage(`{}`)}}
}

func (f *fakePool) Run(_ context.Context, job *pool.Job, onRunDone func(*pool.Outcome)) (*pool.Outcome, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.byKey[job.Spec.Key]
	state := "warm"
	if !ok {
		f.next++
		c, state = f.next, "cold"
		f.byKey[job.Spec.Key] = c
		f.infos[c] = &pool.ContainerInfo{C: c, Key: job.Spec.Key, MemoryMB: job.Spec.MemoryMB, State: pool.StateIdle}
	}
	f.calls = append(f.calls, fmt.Sprintf("run %s on %s %s", job.ID, c, state))
	now := time.Now()
	return &pool.Outcome{Response: f.result, Container: c, ContainerState: state, Start: now, End: now.Add(7 * time.Millisecond)}, nil
}

func (f *fakePool) note(op string, c pool.ContainerID) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, op+" "+c.String())
	info, ok := f.infos[c]
	if !ok {
		return pool.ErrUnknownContainer
	}
	switch op {
	case "suspend":
		info.Suspended = true
	case "resume":
		info.Suspended = false
	case "evict":
		delete(f.infos, c)
		for k, v := range f.byKey {
			if v == c {
				delete(f.byKey, k)
			}
		}
	}
	return nil
}

func (f *fakePool) Suspend(_ context.Context, c pool.ContainerID) error  { return f.note("suspend", c) }
func (f *fakePool) Resume(_ context.Context, c pool.ContainerID) error   { return f.note("resume", c) }
func (f *fakePool) Evict(_ context.Context, c pool.ContainerID) error    { return f.note("evict", c) }
func (f *fakePool) WaitGone(_ context.Context, _ pool.ContainerID) error { return nil }
func (f *fakePool) Snapshot() pool.Snapshot {
	f.mu.Lock()
	defer f.mu.Unlock()
	var s pool.Snapshot
	for _, i := range f.infos {
		s.Containers = append(s.Containers, *i)
	}
	return s
}

func (f *fakePool) log() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

// Each slot's runs reach its own pool container (cold once, then warm), pause and resume are the pool's
// Suspend and Resume of that container, removal thaws and evicts it, and a developer error ends the slot.
func TestSlotsOverThePool(t *testing.T) {
	fp := newFakePool()
	s := NewSlots(fp, nil)
	runner := s.Wrap(fp)
	base := pool.Key{Namespace: "guest", Action: "guest/hello", ContentHash: "h1"}
	s.SetProcess(func(ctx context.Context, raw []byte) {
		// What the activation path does: build the job from the message and run it.
		_, _ = runner.Run(ctx, &pool.Job{ID: string(raw), Spec: pool.Spec{Key: base, MemoryMB: 256}}, nil)
	})
	b := lifecycle.Binding{InvocationNamespace: "guest", Action: wire.FullyQualifiedName{Path: "guest", Name: "hello"}, Revision: "1-a", MemoryMB: 256}
	ctx := context.Background()
	for _, id := range []lifecycle.ContainerID{"c1", "c2"} {
		if _, err := s.Create(ctx, id, b); err != nil {
			t.Fatal(err)
		}
	}
	r1 := s.Run(ctx, "c1", nil, []byte("a1"))
	s.Run(ctx, "c2", nil, []byte("a2"))
	s.Run(ctx, "c1", nil, []byte("a3"))
	if !r1.Initialized || r1.Destroy || r1.Duration != 7*time.Millisecond {
		t.Fatalf("run result %+v", r1)
	}
	if err := s.Pause(ctx, "c1"); err != nil {
		t.Fatal(err)
	}
	if err := s.Resume(ctx, "c1"); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove(ctx, "c2"); err != nil {
		t.Fatal(err)
	}
	want := []string{"run a1 on c1 cold", "run a2 on c2 cold", "run a3 on c1 warm", "suspend c1", "resume c1", "resume c2", "evict c2"}
	if got := fp.log(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("pool calls\n got %q\nwant %q", got, want)
	}
	fp.mu.Lock()
	fp.result = proxy.ErrorResponse(proxy.StatusDeveloperError, "boom")
	fp.mu.Unlock()
	if r := s.Run(ctx, "c1", nil, []byte("a4")); !r.Destroy || r.Initialized {
		t.Fatalf("developer error: %+v", r)
	}
}

// A pool container of an action FPC mode served, idle and owned by no slot (NEMO's pre-warm of a slot's
// key after the slot went), is suspended and offered for adoption with the action's binding; a container of a
// live slot, or of an action FPC mode never served, is not.
func TestSlotsAdoptable(t *testing.T) {
	fp := newFakePool()
	s := NewSlots(fp, nil)
	runner := s.Wrap(fp)
	base := pool.Key{Namespace: "guest", Action: "guest/hello", ContentHash: "h1"}
	s.SetProcess(func(ctx context.Context, raw []byte) {
		_, _ = runner.Run(ctx, &pool.Job{ID: string(raw), Spec: pool.Spec{Key: base, MemoryMB: 256}}, nil)
	})
	b := lifecycle.Binding{InvocationNamespace: "guest", Action: wire.FullyQualifiedName{Path: "guest", Name: "hello"}, Revision: "1-a", MemoryMB: 256}
	ctx := context.Background()
	_, _ = s.Create(ctx, "c1", b)
	_, _ = s.Create(ctx, "c2", b)
	s.Run(ctx, "c1", nil, []byte("a1"))
	s.Run(ctx, "c2", nil, []byte("a2"))
	_ = s.Remove(ctx, "c1")
	if got := s.Adoptable(ctx); len(got) != 0 {
		t.Fatalf("adoptable with nothing pre-warmed: %+v", got)
	}
	// The controller pre-warms c1's key again; an unrelated action is warm too.
	slotKey := base
	slotKey.ContentHash += slotMark + "c1"
	fp.mu.Lock()
	fp.infos[50] = &pool.ContainerInfo{C: 50, Key: slotKey, MemoryMB: 256, State: pool.StateIdle}
	fp.byKey[slotKey] = 50
	fp.infos[51] = &pool.ContainerInfo{C: 51, Key: pool.Key{Namespace: "guest", Action: "guest/other", ContentHash: "x" + slotMark + "c9"}, MemoryMB: 256, State: pool.StateIdle}
	fp.mu.Unlock()
	got := s.Adoptable(ctx)
	if len(got) != 1 || got[0].C != "p50" || got[0].Binding.Action.Name != "hello" || got[0].Binding.Revision != "1-a" {
		t.Fatalf("adopted %+v", got)
	}
	if !fp.infos[50].Suspended {
		t.Fatal("the adopted container was not frozen")
	}
	if again := s.Adoptable(ctx); len(again) != 0 {
		t.Fatalf("adopted twice: %+v", again)
	}
	// The adopted slot runs on its container.
	s.Run(ctx, "p50", nil, []byte("a3"))
	if l := fp.log(); l[len(l)-1] != "run a3 on c50 warm" {
		t.Fatalf("adopted slot's run: %q", l[len(l)-1])
	}
}
