package fetch

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"google.golang.org/grpc"

	"github.com/nemo-edge/nemo/invoker/fpc/activationpb"
	"github.com/nemo-edge/nemo/invoker/wire"
)

// fakeScheduler is a unit-test stand-in for a scheduler's ActivationService: it answers each FetchActivation
// with the next scripted envelope (NoActivationMessage once the script is empty) and records every request.
type fakeScheduler struct {
	activationpb.UnimplementedActivationServiceServer
	mu          sync.Mutex
	script      []string
	requests    []*activationpb.FetchRequest
	rescheduled []*activationpb.RescheduleRequest
	addr        string
	srv         *grpc.Server
}

func startFake(t *testing.T, script ...string) *fakeScheduler {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeScheduler{script: script, addr: l.Addr().String(), srv: grpc.NewServer()}
	activationpb.RegisterActivationServiceServer(f.srv, f)
	go func() { _ = f.srv.Serve(l) }()
	t.Cleanup(f.srv.Stop)
	return f
}

func (f *fakeScheduler) FetchActivation(_ context.Context, r *activationpb.FetchRequest) (*activationpb.FetchResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, r)
	if !r.Alive || len(f.script) == 0 {
		b, _ := wire.MarshalFetchError(wire.FetchNoActivation)
		return &activationpb.FetchResponse{ActivationMessage: string(b)}, nil
	}
	next := f.script[0]
	f.script = f.script[1:]
	return &activationpb.FetchResponse{ActivationMessage: next}, nil
}

func (f *fakeScheduler) RescheduleActivation(_ context.Context, r *activationpb.RescheduleRequest) (*activationpb.RescheduleResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rescheduled = append(f.rescheduled, r)
	return &activationpb.RescheduleResponse{IsRescheduled: true}, nil
}

func (f *fakeScheduler) reqs() []*activationpb.FetchRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*activationpb.FetchRequest(nil), f.requests...)
}

func queueError(e wire.FetchError) string { b, _ := wire.MarshalFetchError(e); return string(b) }

const activationJSON = `{"transid":["tid1",1717236920000],"action":{"path":"guest","name":"hello","version":"0.0.2"},` +
	`"revision":"2-abc","user":{"subject":"guest","namespace":{"name":"guest","uuid":"u"},"authkey":{"api_key":"u:k"},` +
	`"rights":[],"limits":{}},"activationId":"c7a9e52b1f0d4e3ab9e52b1f0d5e3a77","rootControllerIndex":{"asString":"0",` +
	`"instanceType":"controller"},"blocking":true,"content":{"name":"World"},"initArgs":[],"lockedArgs":{}}`

func activationEnvelope() string {
	b, _ := wire.MarshalFetchActivation([]byte(activationJSON))
	return string(b)
}

// instantClock fires every wait at once, so backoffs cost nothing.
type instantClock struct{}

func (instantClock) Now() time.Time { return time.Unix(1717236920, 0) }
func (instantClock) After(time.Duration) <-chan time.Time {
	c := make(chan time.Time, 1)
	c <- time.Unix(0, 0)
	return c
}

// leaders answers QueueLeader from a fixed endpoint (or "no key").
type leaders struct {
	mu      sync.Mutex
	ep      *wire.SchedulerEndpoints
	lookups int
}

func (l *leaders) QueueLeader(context.Context, string, wire.FullyQualifiedName) (wire.SchedulerEndpoints, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lookups++
	if l.ep == nil {
		return wire.SchedulerEndpoints{}, false, nil
	}
	return *l.ep, true, nil
}

func endpointOf(t *testing.T, addr string) *wire.SchedulerEndpoints {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	ep, err := wire.ParseSchedulerEndpoints([]byte(`{"host":"` + host + `","rpcPort":` + port + `,"pekkoPort":25520}`))
	if err != nil {
		t.Fatal(err)
	}
	return &ep
}

var rev = "2-abc"

func newPuller(t *testing.T, conns *Conns, target string, l LeaderLookup) *Puller {
	t.Helper()
	p, err := NewPuller(Config{InvocationNamespace: "guest",
		Action:   wire.FullyQualifiedName{Path: "guest", Name: "hello", Version: "0.0.2"},
		Revision: &rev, ContainerID: "0123456789abcdef", Scheduler: target, FetchTimeout: 3 * time.Second},
		conns, l, instantClock{}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestFetchRequestFieldsAndResults(t *testing.T) {
	f := startFake(t, activationEnvelope(), activationEnvelope())
	conns := NewConns(nil)
	p := newPuller(t, conns, f.addr, &leaders{})

	res, err := p.Fetch(ctx(t), -1)
	if err != nil || res.Activation == nil || res.Activation.ActivationID != "c7a9e52b1f0d4e3ab9e52b1f0d5e3a77" {
		t.Fatalf("first fetch: %+v %v", res, err)
	}
	if string(res.Raw) != activationJSON {
		t.Fatalf("raw activation %s", res.Raw)
	}
	p.SetWarmed()
	if res, err = p.Fetch(ctx(t), 42*time.Millisecond); err != nil || res.Activation == nil {
		t.Fatalf("second fetch: %+v %v", res, err)
	}
	if res, err = p.Fetch(ctx(t), -1); err != nil || !res.Idle {
		t.Fatalf("third fetch: %+v %v, want Idle (NoActivationMessage)", res, err)
	}
	r := f.reqs()
	if len(r) != 3 {
		t.Fatalf("%d requests", len(r))
	}
	first := r[0]
	if first.InvocationNamespace != "guest" || first.Fqn != `{"path":"guest","name":"hello","version":"0.0.2"}` ||
		first.Rev != `"2-abc"` || first.ContainerId != "0123456789abcdef" || first.Warmed || !first.Alive || first.LastDuration != nil {
		t.Fatalf("first request %+v", first)
	}
	if tid, err := wire.ParseTransID([]byte(first.TransactionId)); err != nil || tid.ID() == "" {
		t.Fatalf("transactionId %q is not a TransactionId array: %v", first.TransactionId, err)
	}
	if !r[1].Warmed || r[1].LastDuration.GetValue() != 42 || !r[1].Alive {
		t.Fatalf("second request %+v", r[1])
	}
	if r[2].LastDuration != nil || r[1].TransactionId == r[2].TransactionId {
		t.Fatalf("third request %+v", r[2])
	}
}

func TestActionMismatchStops(t *testing.T) {
	f := startFake(t, queueError(wire.FetchActionMismatch))
	p := newPuller(t, NewConns(nil), f.addr, &leaders{})
	if _, err := p.Fetch(ctx(t), -1); !errors.Is(err, ErrActionMismatch) {
		t.Fatalf("err = %v, want ErrActionMismatch", err)
	}
}

func TestNoMemoryQueueFollowsLeader(t *testing.T) {
	old := startFake(t, queueError(wire.FetchNoMemoryQueue))
	leader := startFake(t, activationEnvelope())
	conns := NewConns(nil)
	l := &leaders{ep: endpointOf(t, leader.addr)}
	p := newPuller(t, conns, old.addr, l)
	p.SetWarmed()
	res, err := p.Fetch(ctx(t), 7*time.Millisecond)
	if err != nil || res.Activation == nil {
		t.Fatalf("fetch: %+v %v", res, err)
	}
	if p.Scheduler() != leader.addr || p.Reconnects() != 1 || l.lookups != 1 {
		t.Fatalf("now at %s after %d reconnects, %d look-ups", p.Scheduler(), p.Reconnects(), l.lookups)
	}
	if conns.Open() != 1 {
		t.Fatalf("%d connections open, want only the leader's", conns.Open())
	}
	if r := leader.reqs(); len(r) != 1 || !r[0].Warmed || r[0].Fqn != old.reqs()[0].Fqn {
		t.Fatalf("leader got %+v", r)
	}
}

func TestGRPCErrorFollowsLeader(t *testing.T) {
	dead := startFake(t)
	dead.srv.Stop()
	leader := startFake(t, activationEnvelope())
	p := newPuller(t, NewConns(nil), dead.addr, &leaders{ep: endpointOf(t, leader.addr)})
	if res, err := p.Fetch(ctx(t), -1); err != nil || res.Activation == nil {
		t.Fatalf("fetch: %+v %v", res, err)
	}
}

func TestNoQueueAnywhereGivesUp(t *testing.T) {
	f := startFake(t, queueError(wire.FetchNoMemoryQueue), queueError(wire.FetchNoMemoryQueue), queueError(wire.FetchNoMemoryQueue),
		queueError(wire.FetchNoMemoryQueue), queueError(wire.FetchNoMemoryQueue), queueError(wire.FetchNoMemoryQueue), activationEnvelope())
	l := &leaders{ep: endpointOf(t, f.addr)} // the leader key names the same scheduler, which has no queue
	p := newPuller(t, NewConns(nil), f.addr, l)
	_, err := p.Fetch(ctx(t), -1)
	if !errors.Is(err, ErrNoQueue) {
		t.Fatalf("err = %v, want ErrNoQueue", err)
	}
	if n := len(f.reqs()); n != 6 || l.lookups != 5 {
		t.Fatalf("%d fetches and %d look-ups, want 6 and 5 (MaxReconnects)", n, l.lookups)
	}
	// Without a leader key at all it gives up the same way.
	g := startFake(t, queueError(wire.FetchNoMemoryQueue), queueError(wire.FetchNoMemoryQueue), queueError(wire.FetchNoMemoryQueue),
		queueError(wire.FetchNoMemoryQueue), queueError(wire.FetchNoMemoryQueue), queueError(wire.FetchNoMemoryQueue))
	if _, err := newPuller(t, NewConns(nil), g.addr, &leaders{}).Fetch(ctx(t), -1); !errors.Is(err, ErrNoQueue) {
		t.Fatalf("no leader key: err = %v", err)
	}
}

func TestUnreadableResponseIsFetchedAgain(t *testing.T) {
	f := startFake(t, `{"message":`, activationEnvelope())
	p := newPuller(t, NewConns(nil), f.addr, &leaders{})
	if res, err := p.Fetch(ctx(t), -1); err != nil || res.Activation == nil {
		t.Fatalf("fetch: %+v %v", res, err)
	}
	if n := len(f.reqs()); n != 2 {
		t.Fatalf("%d requests, want 2", n)
	}
}

func TestOneConnectionPerScheduler(t *testing.T) {
	f := startFake(t, activationEnvelope(), activationEnvelope(), activationEnvelope())
	conns := NewConns(nil)
	var ps []*Puller
	for i := 0; i < 3; i++ {
		ps = append(ps, newPuller(t, conns, f.addr, &leaders{}))
	}
	var wg sync.WaitGroup
	for _, p := range ps {
		wg.Add(1)
		go func(p *Puller) {
			defer wg.Done()
			if _, err := p.Fetch(ctx(t), -1); err != nil {
				t.Error(err)
			}
		}(p)
	}
	wg.Wait()
	if conns.Created() != 1 || conns.Open() != 1 {
		t.Fatalf("created %d, open %d; want one connection for three containers", conns.Created(), conns.Open())
	}
	for _, p := range ps {
		if err := p.Close(ctx(t)); err != nil {
			t.Fatal(err)
		}
	}
	if conns.Open() != 0 {
		t.Fatalf("%d connections left open after every puller closed", conns.Open())
	}
}

func TestCloseSaysGoodbye(t *testing.T) {
	f := startFake(t)
	p := newPuller(t, NewConns(nil), f.addr, &leaders{})
	p.SetWarmed()
	if err := p.Close(ctx(t)); err != nil {
		t.Fatal(err)
	}
	r := f.reqs()
	if len(r) != 1 || r[0].Alive || !r[0].Warmed || r[0].ContainerId != "0123456789abcdef" {
		t.Fatalf("goodbye %+v", r)
	}
	if _, err := p.Fetch(ctx(t), -1); !errors.Is(err, ErrClosed) {
		t.Fatalf("fetch after close: %v", err)
	}
	if err := p.Close(ctx(t)); err != nil || len(f.reqs()) != 1 {
		t.Fatalf("second close: %v, %d requests", err, len(f.reqs()))
	}
}

func TestReschedule(t *testing.T) {
	f := startFake(t)
	p := newPuller(t, NewConns(nil), f.addr, &leaders{})
	ok, err := p.Reschedule(ctx(t), []byte(activationJSON))
	if err != nil || !ok {
		t.Fatalf("reschedule: %v %v", ok, err)
	}
	r := f.rescheduled[0]
	if r.ActivationMessage != activationJSON || r.Rev != `"2-abc"` || r.InvocationNamespace != "guest" || r.Fqn == "" {
		t.Fatalf("request %+v", r)
	}
	f.srv.Stop()
	if _, err := p.Reschedule(ctx(t), []byte(activationJSON)); !errors.Is(err, ErrTransport) {
		t.Fatalf("reschedule on a stopped scheduler: %v", err)
	}
}

type countingHandler struct {
	runs, idles, idleLimit int
}

func (h *countingHandler) Run(context.Context, Result) (time.Duration, bool) {
	h.runs++
	return 5 * time.Millisecond, true
}
func (h *countingHandler) Idle() bool { h.idles++; return h.idles < h.idleLimit }

func TestLoop(t *testing.T) {
	f := startFake(t, activationEnvelope(), activationEnvelope())
	p := newPuller(t, NewConns(nil), f.addr, &leaders{})
	h := &countingHandler{idleLimit: 2}
	if err := p.Loop(ctx(t), h); err != nil {
		t.Fatal(err)
	}
	r := f.reqs()
	if h.runs != 2 || h.idles != 2 || len(r) != 4 {
		t.Fatalf("runs %d idles %d requests %d", h.runs, h.idles, len(r))
	}
	if r[0].Warmed || r[0].LastDuration != nil || !r[1].Warmed || r[1].LastDuration.GetValue() != 5 ||
		r[2].LastDuration.GetValue() != 5 || r[3].LastDuration != nil {
		t.Fatalf("requests %+v", r)
	}
	g := startFake(t, queueError(wire.FetchActionMismatch))
	if err := newPuller(t, NewConns(nil), g.addr, &leaders{}).Loop(ctx(t), h); !errors.Is(err, ErrActionMismatch) {
		t.Fatalf("loop on mismatch: %v", err)
	}
}
