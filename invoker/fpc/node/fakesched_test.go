package node

import (
	"context"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/nemo-edge/nemo/invoker/fpc/activationpb"
	"github.com/nemo-edge/nemo/invoker/wire"
)

// queueKey identifies a scheduler queue: invocation namespace, action doc id, revision.
type queueKey struct{ InvocationNamespace, DocID, Revision string }

// fakeSched is a unit-test scheduler: ActivationService over loopback with queues, a long-poll hold, and
// RescheduleActivation putting messages back; every request is recorded.
type fakeSched struct {
	activationpb.UnimplementedActivationServiceServer
	addr string
	Hold time.Duration

	mu          sync.Mutex
	queues      map[queueKey]chan []byte
	requests    []*activationpb.FetchRequest
	rescheduled []*activationpb.RescheduleRequest
	refuse      bool // RescheduleActivation answers isRescheduled=false
}

// RefuseReschedules makes RescheduleActivation answer false (the queue is gone).
func (s *fakeSched) RefuseReschedules() { s.mu.Lock(); s.refuse = true; s.mu.Unlock() }

func startFakeSched(t *testing.T) *fakeSched {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &fakeSched{addr: l.Addr().String(), Hold: time.Second, queues: map[queueKey]chan []byte{}}
	srv := grpc.NewServer()
	activationpb.RegisterActivationServiceServer(srv, s)
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(srv.Stop)
	return s
}

func (s *fakeSched) Endpoints() wire.SchedulerEndpoints {
	host, port, _ := net.SplitHostPort(s.addr)
	p, _ := strconv.Atoi(port)
	return wire.SchedulerEndpoints{Host: host, RPCPort: p}
}

func (s *fakeSched) AddQueue(k queueKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.queues[k]; !ok {
		s.queues[k] = make(chan []byte, 64)
	}
}

func (s *fakeSched) Enqueue(k queueKey, b []byte) {
	s.AddQueue(k)
	s.mu.Lock()
	q := s.queues[k]
	s.mu.Unlock()
	q <- b
}

func (s *fakeSched) Requests() []*activationpb.FetchRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*activationpb.FetchRequest(nil), s.requests...)
}

func (s *fakeSched) Rescheduled() []*activationpb.RescheduleRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*activationpb.RescheduleRequest(nil), s.rescheduled...)
}

func reply(e wire.FetchError) *activationpb.FetchResponse {
	b, _ := wire.MarshalFetchError(e)
	return &activationpb.FetchResponse{ActivationMessage: string(b)}
}

func keyOfRequest(ns, fqnText, revText string) queueKey {
	fqn, _ := wire.ParseFullyQualifiedName([]byte(fqnText))
	rev, _ := wire.ParseRevisionText(revText)
	k := queueKey{InvocationNamespace: ns, DocID: fqn.DocID()}
	if rev != nil {
		k.Revision = *rev
	}
	return k
}

func (s *fakeSched) FetchActivation(ctx context.Context, r *activationpb.FetchRequest) (*activationpb.FetchResponse, error) {
	s.mu.Lock()
	s.requests = append(s.requests, r)
	k := keyOfRequest(r.InvocationNamespace, r.Fqn, r.Rev)
	q, found := s.queues[k]
	other := false
	for o := range s.queues {
		if o.InvocationNamespace == k.InvocationNamespace && o.DocID == k.DocID {
			other = true
		}
	}
	hold := s.Hold
	s.mu.Unlock()
	switch {
	case !found && other:
		return reply(wire.FetchActionMismatch), nil
	case !found:
		return reply(wire.FetchNoMemoryQueue), nil
	case !r.Alive:
		return reply(wire.FetchNoActivation), nil
	}
	select {
	case m := <-q:
		b, _ := wire.MarshalFetchActivation(m)
		return &activationpb.FetchResponse{ActivationMessage: string(b)}, nil
	case <-time.After(hold):
		return reply(wire.FetchNoActivation), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (s *fakeSched) RescheduleActivation(_ context.Context, r *activationpb.RescheduleRequest) (*activationpb.RescheduleResponse, error) {
	s.mu.Lock()
	s.rescheduled = append(s.rescheduled, r)
	q, found := s.queues[keyOfRequest(r.InvocationNamespace, r.Fqn, r.Rev)]
	refuse := s.refuse
	s.mu.Unlock()
	if !found || refuse {
		return &activationpb.RescheduleResponse{}, nil
	}
	q <- []byte(r.ActivationMessage)
	return &activationpb.RescheduleResponse{IsRescheduled: true}, nil
}
