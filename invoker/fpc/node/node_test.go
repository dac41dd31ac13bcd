package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/nemo-edge/nemo/invoker/fpc/fetch"
	"github.com/nemo-edge/nemo/invoker/fpc/lifecycle"
	"github.com/nemo-edge/nemo/invoker/wire"
)

// journal is one ordered log the fakes share, so a test can check that keys went before containers.
type journal struct {
	mu    sync.Mutex
	lines []string
}

func (j *journal) add(format string, args ...any) {
	j.mu.Lock()
	j.lines = append(j.lines, fmt.Sprintf(format, args...))
	j.mu.Unlock()
}

func (j *journal) all() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]string(nil), j.lines...)
}

func (j *journal) index(prefix string) int {
	for i, l := range j.all() {
		if strings.HasPrefix(l, prefix) {
			return i
		}
	}
	return -1
}

// fakeRegistry is the etcd session: a map, every write journaled.
type fakeRegistry struct {
	j  *journal
	mu sync.Mutex
	kv map[string]string
}

func (r *fakeRegistry) Put(k, v string) {
	r.mu.Lock()
	r.kv[k] = v
	r.mu.Unlock()
	if !strings.Contains(k, "/invokers/") {
		r.j.add("put %s", k)
	}
}

func (r *fakeRegistry) Delete(k string) {
	r.mu.Lock()
	_, had := r.kv[k]
	delete(r.kv, k)
	r.mu.Unlock()
	if had {
		r.j.add("delete %s", k)
	}
}

func (r *fakeRegistry) Flush(context.Context) error { return nil }

func (r *fakeRegistry) keys(part string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for k := range r.kv {
		if strings.Contains(k, part) {
			out = append(out, k)
		}
	}
	return out
}

func (r *fakeRegistry) get(k string) (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	v, ok := r.kv[k]
	return v, ok
}

type fakeAcks struct {
	j   *journal
	reg *fakeRegistry
	ch  chan *wire.ContainerCreationAckMessage
	// existingAtAck: the existing-container keys present when each ack went out.
	mu            sync.Mutex
	existingAtAck [][]string
}

func (a *fakeAcks) SendCreationAck(_ context.Context, sid wire.SchedulerInstanceID, ack *wire.ContainerCreationAckMessage) error {
	if sid.AsString != "0" {
		return fmt.Errorf("ack for scheduler %q", sid.AsString)
	}
	a.mu.Lock()
	a.existingAtAck = append(a.existingAtAck, a.reg.keys("/invoker0/container/"))
	a.mu.Unlock()
	a.j.add("ack %s %s", ack.CreationID[:8], ack.Error)
	a.ch <- ack
	return nil
}

type fakeActions struct{ err error }

func (f fakeActions) GetAction(context.Context, string, string) (*wire.Action, error) {
	return nil, f.err
}

// fakeContainers is lifecycle.Containers: journaled, runs block on release when it is set.
type fakeContainers struct {
	j       *journal
	release chan struct{} // nil: runs return at once
	ran     chan string   // activation ids, as runs start
}

func (f *fakeContainers) Create(_ context.Context, id lifecycle.ContainerID, b lifecycle.Binding) (string, error) {
	f.j.add("create %s", id)
	return string(id), nil
}
func (f *fakeContainers) Pause(_ context.Context, id lifecycle.ContainerID) error {
	f.j.add("pause %s", id)
	return nil
}
func (f *fakeContainers) Resume(_ context.Context, id lifecycle.ContainerID) error {
	f.j.add("resume %s", id)
	return nil
}
func (f *fakeContainers) Run(_ context.Context, id lifecycle.ContainerID, msg *wire.ActivationMessage, _ json.RawMessage) lifecycle.RunResult {
	f.j.add("run %s %s", id, msg.ActivationID)
	f.ran <- msg.ActivationID
	if f.release != nil {
		<-f.release
	}
	return lifecycle.RunResult{Duration: 5 * time.Millisecond, Initialized: true}
}
func (f *fakeContainers) Remove(_ context.Context, id lifecycle.ContainerID) error {
	f.j.add("remove %s", id)
	return nil
}

type rig struct {
	t     *testing.T
	j     *journal
	reg   *fakeRegistry
	acks  *fakeAcks
	cs    *fakeContainers
	sched *fakeSched
	node  *Node
	keys  wire.EtcdKeys
	fqn   wire.FullyQualifiedName
	rev   string
	conns *fetch.Conns
}

func newRig(t *testing.T, actionsErr error) *rig { return newRigWith(t, actionsErr, nil, nil) }

// newRigWith is newRig with the fake containers wrapped (nil: used as they are) and the node's configuration
// and collaborators adjusted before it starts (nil: as they are).
func newRigWith(t *testing.T, actionsErr error, wrap func(*fakeContainers) lifecycle.Containers, tweak func(*Config, *Deps)) *rig {
	t.Helper()
	j := &journal{}
	reg := &fakeRegistry{j: j, kv: map[string]string{}}
	r := &rig{t: t, j: j, reg: reg, acks: &fakeAcks{j: j, reg: reg, ch: make(chan *wire.ContainerCreationAckMessage, 16)},
		cs: &fakeContainers{j: j, ran: make(chan string, 16)}, sched: startFakeSched(t),
		keys: wire.EtcdKeys{Cluster: "whisk"}, fqn: wire.FullyQualifiedName{Path: "guest", Name: "hello", Version: "0.0.1"},
		rev: "2-aaa", conns: fetch.NewConns(nil)}
	r.sched.Hold = 100 * time.Millisecond
	t.Cleanup(r.conns.Close)
	inst := wire.InvokerInstanceID{Instance: 0, UserMemoryBytes: 1024 << 20}
	var cs lifecycle.Containers = r.cs
	if wrap != nil {
		cs = wrap(r.cs)
	}
	cfg, deps := Config{Instance: inst, Keys: r.keys,
		Lifecycle:  lifecycle.Config{PauseGrace: 300 * time.Millisecond, IdleContainer: time.Hour},
		MemorySync: 50 * time.Millisecond, Fetch: fetch.Config{GoodbyeTimeout: time.Second}},
		Deps{Registry: reg, Acks: r.acks, Actions: fakeActions{err: actionsErr}, Containers: cs,
			Counter: countNone{}, NewPuller: func(c fetch.Config) (Puller, error) {
				return fetch.NewPuller(c, r.conns, nil, nil, testLog(t))
			}, Log: testLog(t)}
	if tweak != nil {
		tweak(&cfg, &deps)
	}
	r.node = New(cfg, deps)
	ctx, cancel := context.WithCancel(context.Background())
	go r.node.Run(ctx)
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		_ = r.node.Shutdown(sctx)
		scancel()
		cancel()
	})
	return r
}

func testLog(t *testing.T) zerolog.Logger {
	return zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel)
}

type countNone struct{}

func (countNone) LiveContainers(context.Context, string, wire.FullyQualifiedName, string) (int64, error) {
	return 0, nil
}

func (r *rig) queue() queueKey {
	return queueKey{InvocationNamespace: "guest", DocID: r.fqn.DocID(), Revision: r.rev}
}

func (r *rig) creation(id string) []byte {
	r.t.Helper()
	md, err := wire.ParseActionMetaData([]byte(`{"namespace":"guest","name":"hello","exec":{"kind":"nodejs:20","binary":false},` +
		`"limits":{"timeout":60000,"memory":256,"logs":10,"concurrency":1}}`))
	if err != nil {
		r.t.Fatal(err)
	}
	ep := r.sched.Endpoints()
	rev := r.rev
	m := &wire.ContainerCreationMessage{TransID: wire.NewTransID("tid-"+id, 1717236930000), InvocationNamespace: "guest",
		Action: r.fqn, Revision: &rev, ActionMetaData: md, RootSchedulerIndex: wire.SchedulerInstanceID{AsString: "0"},
		SchedulerHost: ep.Host, RPCPort: ep.RPCPort, CreationID: strings.Repeat(id, 32)[:32]}
	b, err := m.Marshal()
	if err != nil {
		r.t.Fatal(err)
	}
	return b
}

var act1, act2 = strings.Repeat("1", 32), strings.Repeat("2", 32)

func (r *rig) activation(id string) []byte {
	r.t.Helper()
	rev := r.rev
	m := &wire.ActivationMessage{TransID: wire.NewTransID("tid-"+id, 1717236920000), Action: r.fqn, Revision: &rev,
		User:         wire.Identity{Subject: "guest", Namespace: wire.Namespace{Name: "guest", UUID: "u"}, AuthKey: []byte(`{"api_key":"u:k"}`)},
		ActivationID: id, RootControllerIndex: wire.ControllerInstanceID{AsString: "0"}, Blocking: true}
	b, err := m.Marshal()
	if err != nil {
		r.t.Fatal(err)
	}
	return b
}

func (r *rig) ack() *wire.ContainerCreationAckMessage {
	r.t.Helper()
	select {
	case a := <-r.acks.ch:
		return a
	case <-time.After(10 * time.Second):
		r.t.Fatalf("no creation ack; journal %q", r.j.all())
	}
	return nil
}

func (r *rig) noAck(d time.Duration) {
	r.t.Helper()
	select {
	case a := <-r.acks.ch:
		r.t.Fatalf("unexpected ack %+v", a)
	case <-time.After(d):
	}
}

func (r *rig) ran() string {
	r.t.Helper()
	select {
	case id := <-r.cs.ran:
		return id
	case <-time.After(10 * time.Second):
		r.t.Fatalf("no run; journal %q", r.j.all())
	}
	return ""
}

func (r *rig) waitJournal(prefix string) {
	r.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for r.j.index(prefix) < 0 {
		if time.Now().After(deadline) {
			r.t.Fatalf("journal never had %q: %q", prefix, r.j.all())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (r *rig) existingKey(c string) string {
	return r.keys.ExistingContainer("guest", r.fqn, r.rev, 0, "invoker0_fpc_"+c)
}

func (r *rig) warmedKey(c string) string {
	return r.keys.WarmedContainer("guest", r.fqn, r.rev, 0, "invoker0_fpc_"+c)
}

// A cold creation: the existing-container key is registered before the success ack, the activation the
// scheduler queues is pulled and run, and after the pause grace the container is frozen, registered as
// warmed and no longer as existing; the resource record follows (busy while pulling, free when paused).
func TestCreationAckRunPause(t *testing.T) {
	r := newRig(t, nil)
	r.sched.AddQueue(r.queue())
	r.node.HandleMessage(context.Background(), r.creation("a"))
	ack := r.ack()
	if ack.Error != "" || ack.CreationID != strings.Repeat("a", 32) {
		t.Fatalf("ack %+v", ack)
	}
	if got := r.acks.existingAtAck[0]; len(got) != 1 || got[0] != r.existingKey("c1") {
		t.Fatalf("existing keys at the ack: %q, want [%s]", got, r.existingKey("c1"))
	}
	res := r.node.Resources()
	if res.BusyMemoryMB != 256 || res.FreeMemoryMB != 768 {
		t.Fatalf("resources while pulling: %+v", res)
	}
	r.sched.Enqueue(r.queue(), r.activation(act1))
	if id := r.ran(); id != act1 {
		t.Fatalf("ran %s", id)
	}
	r.waitJournal("pause c1")
	r.waitJournal("put " + r.warmedKey("c1"))
	r.waitJournal("delete " + r.existingKey("c1"))
	if _, ok := r.reg.get(r.existingKey("c1")); ok {
		t.Fatal("existing key still there after the pause")
	}
	res = r.node.Resources()
	if res.BusyMemoryMB != 0 || res.FreeMemoryMB != 1024 || res.Status != wire.InvokerUp {
		t.Fatalf("resources when paused: %+v", res)
	}
	// The record published in the registry is the same.
	v, _ := r.reg.get(r.keys.InvokerResource(wire.InvokerInstanceID{Instance: 0}))
	if pub, err := wire.ParseInvokerResourceMessage([]byte(v)); err != nil || pub.FreeMemoryMB != 1024 {
		t.Fatalf("published record %q: %v", v, err)
	}
	// The fetch after the run reported its duration and warmed=true.
	var sawDuration bool
	for _, q := range r.sched.Requests() {
		if q.LastDuration != nil && q.Warmed {
			sawDuration = true
		}
	}
	if !sawDuration {
		t.Fatal("no fetch carried lastDuration with warmed=true after the run")
	}

	// A matching creation resumes the paused container: warmed key out, existing key in, success ack.
	r.node.HandleMessage(context.Background(), r.creation("b"))
	if a := r.ack(); a.Error != "" {
		t.Fatalf("resume ack %+v", a)
	}
	r.waitJournal("resume c1")
	if _, ok := r.reg.get(r.warmedKey("c1")); ok {
		t.Fatal("warmed key still there after the resume")
	}
	if _, ok := r.reg.get(r.existingKey("c1")); !ok {
		t.Fatal("no existing key after the resume")
	}
	if r.j.index("create c2") >= 0 {
		t.Fatal("a second container was created instead of resuming the paused one")
	}
}

// A creation whose action cannot be read is answered DBFetchError; the scheduler's warm-up creation and an
// unreadable record get no answer at all.
func TestCreationFailuresAndWarmUp(t *testing.T) {
	r := newRig(t, errors.New("not found: guest/hello@2-aaa"))
	r.node.HandleMessage(context.Background(), r.creation("a"))
	ack := r.ack()
	if ack.Error != wire.CreationErrDBFetch || !strings.Contains(ack.Reason, "not found") {
		t.Fatalf("ack %+v", ack)
	}
	warm := `{"transid":["w",1],"invocationNamespace":"whisk.system","action":{"path":"whisk.system","name":"warmUp"},"revision":null,` +
		`"whiskActionMetaData":{"namespace":"whisk.system","name":"warmUp","exec":{"kind":"nodejs:default","binary":false},` +
		`"limits":{"timeout":60000,"memory":256,"logs":10,"concurrency":1}},"rootSchedulerIndex":{"asString":"0"},` +
		`"schedulerHost":"","rpcPort":0,"retryCount":0,"creationId":"` + strings.Repeat("f", 32) + `"}`
	if m, err := wire.ParseContainerMessage([]byte(warm)); err != nil || !m.(*wire.ContainerCreationMessage).IsWarmUp() {
		t.Fatalf("warm-up fixture: %v", err)
	}
	r.node.HandleMessage(context.Background(), []byte(warm))
	r.node.HandleMessage(context.Background(), []byte(`{"creationId":`))
	r.noAck(300 * time.Millisecond)
	if r.j.index("create") >= 0 {
		t.Fatalf("a container was created: %q", r.j.all())
	}
}

// /disable: status down at once, the existing key goes before the container is removed, the pool count
// drops to 0, and a creation is answered ShuttingDownError under the name the scheduler can parse.
func TestDisableKeysFirst(t *testing.T) {
	r := newRig(t, nil)
	r.sched.AddQueue(r.queue())
	r.node.HandleMessage(context.Background(), r.creation("a"))
	r.ack()
	r.node.Disable()
	if s := r.node.Resources().Status; s != wire.InvokerDown {
		t.Fatalf("status %s after disable", s)
	}
	r.waitJournal("remove c1")
	del, rm := r.j.index("delete "+r.existingKey("c1")), r.j.index("remove c1")
	if del < 0 || del > rm {
		t.Fatalf("the key was not removed before the container: %q", r.j.all())
	}
	deadline := time.Now().Add(5 * time.Second)
	for r.node.Count() != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := r.node.Count(); n != 0 {
		t.Fatalf("pool count %d after the drain", n)
	}
	r.node.HandleMessage(context.Background(), r.creation("b"))
	ack := r.ack()
	if ack.Error != wire.CreationErrShuttingDown.ForScheduler() || !strings.Contains(ack.Reason, "ShuttingDownError") {
		t.Fatalf("ack on a disabled invoker %+v", ack)
	}
	r.node.Enable()
	if s := r.node.Resources().Status; s == wire.InvokerDown {
		t.Fatal("still down after enable")
	}
}

// SIGTERM: an activation fetched after shutdown began is handed back with RescheduleActivation (the
// stand-in puts it back into its queue) instead of being run; the activation that was running finishes;
// every key goes and the container is removed.
func TestShutdownHandsBackFetched(t *testing.T) {
	r := newRig(t, nil)
	r.cs.release = make(chan struct{})
	r.sched.AddQueue(r.queue())
	r.node.HandleMessage(context.Background(), r.creation("a"))
	r.ack()
	r.sched.Enqueue(r.queue(), r.activation(act1))
	if id := r.ran(); id != act1 {
		t.Fatalf("ran %s", id)
	}
	r.sched.Enqueue(r.queue(), r.activation(act2)) // fetched once act1 is done
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		done <- r.node.Shutdown(ctx)
	}()
	deadline := time.Now().Add(5 * time.Second)
	for !r.node.isDisabled() && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	close(r.cs.release) // act1 finishes after the shutdown began
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := r.node.Rescheduled(); n != 1 {
		t.Fatalf("rescheduled %d, want 1; journal %q", n, r.j.all())
	}
	resc := r.sched.Rescheduled()
	if len(resc) != 1 || !strings.Contains(resc[0].ActivationMessage, act2) {
		t.Fatalf("reschedule requests %+v", resc)
	}
	if r.j.index("run c1 "+act2) >= 0 {
		t.Fatal("act2 ran although the invoker was shutting down")
	}
	if r.j.index("remove c1") < 0 {
		t.Fatalf("container not removed: %q", r.j.all())
	}
	if ks := r.reg.keys("/container/"); len(ks) != 0 {
		t.Fatalf("keys left: %q", ks)
	}
	// The goodbye fetch went out.
	var goodbye bool
	for _, q := range r.sched.Requests() {
		if !q.Alive {
			goodbye = true
		}
	}
	if !goodbye {
		t.Fatal("no goodbye fetch")
	}
}

// An ActionMismatch (the action was updated) stops the container: keys out, removed.
func TestActionMismatchStops(t *testing.T) {
	r := newRig(t, nil)
	other := r.queue()
	other.Revision = "3-bbb"
	r.sched.AddQueue(other) // only another revision is queued
	r.node.HandleMessage(context.Background(), r.creation("a"))
	r.ack()
	r.waitJournal("remove c1")
	if ks := r.reg.keys("/container/"); len(ks) != 0 {
		t.Fatalf("keys left: %q", ks)
	}
}
