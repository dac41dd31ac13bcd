package fpcsched

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/nemo-edge/nemo/invoker/fpc/activationpb"
	"github.com/nemo-edge/nemo/invoker/wire"
)

// QueueKey identifies a queue as the scheduler does.
type QueueKey struct{ InvocationNamespace, DocID, Revision string }

// Scheduler is the gRPC side of the stand-in.
type Scheduler struct {
	activationpb.UnimplementedActivationServiceServer
	Addr string        // 127.0.0.1:port
	Hold time.Duration // long-poll hold before NoActivationMessage (1 s)

	mu          sync.Mutex
	queues      map[QueueKey]chan []byte
	requests    []*activationpb.FetchRequest
	rescheduled []*activationpb.RescheduleRequest
	srv         *grpc.Server
}

// StartScheduler serves ActivationService on a free loopback port until the test ends.
func StartScheduler(t testing.TB) *Scheduler {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Scheduler{Addr: l.Addr().String(), Hold: time.Second, queues: map[QueueKey]chan []byte{}, srv: grpc.NewServer()}
	activationpb.RegisterActivationServiceServer(s.srv, s)
	go func() { _ = s.srv.Serve(l) }()
	t.Cleanup(s.srv.Stop)
	return s
}

// Stop stops serving at once (a scheduler that dies).
func (s *Scheduler) Stop() { s.srv.Stop() }

// Endpoints is the scheduler's SchedulerEndpoints (for the leader key).
func (s *Scheduler) Endpoints() wire.SchedulerEndpoints {
	host, port, _ := net.SplitHostPort(s.Addr)
	p := 0
	for _, c := range port {
		p = p*10 + int(c-'0')
	}
	return wire.SchedulerEndpoints{Host: host, RPCPort: p, ActorPort: 25520}
}

// AddQueue creates the queue of an action revision.
func (s *Scheduler) AddQueue(k QueueKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.queues[k]; !ok {
		s.queues[k] = make(chan []byte, 1024)
	}
}

// RemoveQueue removes it (fetches then get NoMemoryQueue or ActionMismatch).
func (s *Scheduler) RemoveQueue(k QueueKey) { s.mu.Lock(); delete(s.queues, k); s.mu.Unlock() }

// Enqueue puts an ActivationMessage's JSON into a queue (creating it).
func (s *Scheduler) Enqueue(k QueueKey, activation []byte) {
	s.AddQueue(k)
	s.mu.Lock()
	q := s.queues[k]
	s.mu.Unlock()
	q <- activation
}

// Requests returns the fetch requests received so far.
func (s *Scheduler) Requests() []*activationpb.FetchRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*activationpb.FetchRequest(nil), s.requests...)
}

// Rescheduled returns the reschedule requests received so far.
func (s *Scheduler) Rescheduled() []*activationpb.RescheduleRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*activationpb.RescheduleRequest(nil), s.rescheduled...)
}

func keyOf(ns, fqnText, revText string) (QueueKey, bool) {
	fqn, err := wire.ParseFullyQualifiedName([]byte(fqnText))
	if err != nil {
		return QueueKey{}, false
	}
	rev, err := wire.ParseRevisionText(revText)
	if err != nil {
		return QueueKey{}, false
	}
	r := ""
	if rev != nil {
		r = *rev
	}
	return QueueKey{InvocationNamespace: ns, DocID: fqn.DocID(), Revision: r}, true
}

func answer(e wire.FetchError) *activationpb.FetchResponse {
	b, _ := wire.MarshalFetchError(e)
	return &activationpb.FetchResponse{ActivationMessage: string(b)}
}

// FetchActivation serves a queue as the scheduler's MemoryQueue does (long poll, then NoActivationMessage).
func (s *Scheduler) FetchActivation(ctx context.Context, r *activationpb.FetchRequest) (*activationpb.FetchResponse, error) {
	s.mu.Lock()
	s.requests = append(s.requests, r)
	k, ok := keyOf(r.InvocationNamespace, r.Fqn, r.Rev)
	q, found := s.queues[k]
	sameAction := false
	for other := range s.queues {
		if other.InvocationNamespace == k.InvocationNamespace && other.DocID == k.DocID {
			sameAction = true
		}
	}
	hold := s.Hold
	s.mu.Unlock()
	switch {
	case !ok:
		return answer(wire.FetchNoActivation), nil // unparsable request: the scheduler recovers with this
	case strings.HasSuffix(k.DocID, "/warmUp") && k.InvocationNamespace == wire.WarmUpNamespace:
		return answer(wire.FetchNoActivation), nil
	case !found && sameAction:
		return answer(wire.FetchActionMismatch), nil
	case !found:
		return answer(wire.FetchNoMemoryQueue), nil
	case !r.Alive:
		return answer(wire.FetchNoActivation), nil
	}
	select {
	case m := <-q:
		b, _ := wire.MarshalFetchActivation(m)
		return &activationpb.FetchResponse{ActivationMessage: string(b)}, nil
	case <-time.After(hold):
		return answer(wire.FetchNoActivation), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// RescheduleActivation puts the activation back into its queue; false when there is none.
func (s *Scheduler) RescheduleActivation(_ context.Context, r *activationpb.RescheduleRequest) (*activationpb.RescheduleResponse, error) {
	s.mu.Lock()
	s.rescheduled = append(s.rescheduled, r)
	k, ok := keyOf(r.InvocationNamespace, r.Fqn, r.Rev)
	q, found := s.queues[k]
	s.mu.Unlock()
	if !ok || !found {
		return &activationpb.RescheduleResponse{}, nil
	}
	q <- []byte(r.ActivationMessage)
	return &activationpb.RescheduleResponse{IsRescheduled: true}, nil
}
