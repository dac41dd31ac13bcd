package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nemo-edge/nemo/invoker/fpc/lifecycle"
	"github.com/nemo-edge/nemo/invoker/wire"
	"github.com/nemo-edge/nemo/pool"
)

// failingContainers: every run's container fails before the action sees it (lifecycle.RunResult.HandBack);
// an activation that cannot be handed back is answered through AnswerAbnormal, journaled.
type failingContainers struct{ *fakeContainers }

func (f failingContainers) Run(ctx context.Context, id lifecycle.ContainerID, msg *wire.ActivationMessage, raw json.RawMessage) lifecycle.RunResult {
	f.fakeContainers.Run(ctx, id, msg, raw)
	return lifecycle.RunResult{HandBack: true, Destroy: true}
}

func (f failingContainers) AnswerAbnormal(_ context.Context, raw []byte) {
	m, err := wire.ParseActivationMessage(raw)
	if err != nil {
		f.j.add("abnormal unparsable")
		return
	}
	f.j.add("abnormal %s", m.ActivationID)
}

// A container that fails before its action saw the activation hands it back with RescheduleActivation (the
// message as fetched), is removed with its keys, and the activation is not answered here; when the
// scheduler does not take it back it is answered as an abnormal run instead.
func TestContainerFailureHandsBack(t *testing.T) {
	r := newRigWith(t, nil, func(f *fakeContainers) lifecycle.Containers { return failingContainers{f} }, nil)
	r.sched.AddQueue(r.queue())
	r.node.HandleMessage(context.Background(), r.creation("a"))
	r.ack()
	r.sched.Enqueue(r.queue(), r.activation(act1))
	if id := r.ran(); id != act1 {
		t.Fatalf("ran %s", id)
	}
	r.waitJournal("remove c1")
	resc := r.sched.Rescheduled()
	if len(resc) != 1 || !strings.Contains(resc[0].ActivationMessage, act1) || resc[0].InvocationNamespace != "guest" {
		t.Fatalf("reschedule requests %+v", resc)
	}
	if n := r.node.HandedBack(); n != 1 {
		t.Fatalf("handed back %d, want 1", n)
	}
	if r.j.index("abnormal") >= 0 {
		t.Fatalf("a handed-back activation was answered: %q", r.j.all())
	}
	if ks := r.reg.keys("/container/"); len(ks) != 0 {
		t.Fatalf("keys left: %q", ks)
	}

	// The scheduler refuses the next one: it is answered as an abnormal run.
	r.sched.RefuseReschedules()
	r.node.HandleMessage(context.Background(), r.creation("b"))
	r.ack()
	// The first activation went back to the queue: the new container gets it first.
	deadline := time.Now().Add(10 * time.Second)
	for r.j.index("abnormal "+act1) < 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no abnormal answer: %q", r.j.all())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if n := r.node.HandedBack(); n != 1 {
		t.Fatalf("handed back %d, want still 1", n)
	}
}

// brokenPool is the pool when every container breaks before /run: a job that asks not to be moved gets
// ErrContainerHealth, any other is moved (and here succeeds).
type brokenPool struct {
	*fakePool
	noLocal []bool
}

func (b *brokenPool) Run(ctx context.Context, job *pool.Job, onRunDone func(*pool.Outcome)) (*pool.Outcome, error) {
	b.mu.Lock()
	b.noLocal = append(b.noLocal, job.NoLocalReschedule)
	b.mu.Unlock()
	if job.NoLocalReschedule {
		return nil, pool.ErrContainerHealth
	}
	return b.fakePool.Run(ctx, job, onRunDone)
}

// With HandBackOnContainerFailure, Slots asks the pool not to move an activation whose container failed,
// leaves it unanswered (the path sees ErrWithdrawn) and reports HandBack; AnswerAbnormal reaches the answer
// function. Without it (the default) the pool moves the activation as in classic mode. The health slot is
// never handed back.
func TestSlotsHandBackOnContainerFailure(t *testing.T) {
	bp := &brokenPool{fakePool: newFakePool()}
	b := lifecycle.Binding{InvocationNamespace: "guest", Action: wire.FullyQualifiedName{Path: "guest", Name: "hello"}, Revision: "1-a", MemoryMB: 256}
	ctx := context.Background()
	for _, on := range []bool{false, true} {
		s := NewSlots(bp, nil)
		runner := s.Wrap(bp)
		var pathErr error
		s.SetProcess(func(ctx context.Context, raw []byte) {
			_, pathErr = runner.Run(ctx, &pool.Job{ID: string(raw), Spec: pool.Spec{Key: pool.Key{Namespace: "guest", Action: "guest/hello", ContentHash: "h"}, MemoryMB: 256}}, nil)
		})
		var answered []string
		if on {
			s.HandBackOnContainerFailure(func(_ context.Context, raw []byte) { answered = append(answered, string(raw)) })
		}
		_, _ = s.Create(ctx, "c1", b)
		rr := s.Run(ctx, "c1", nil, []byte("a1"))
		switch {
		case on && (!rr.HandBack || !rr.Destroy || !errors.Is(pathErr, pool.ErrWithdrawn)):
			t.Fatalf("hand-back on: %+v, path error %v", rr, pathErr)
		case !on && (rr.HandBack || rr.Destroy || pathErr != nil):
			t.Fatalf("hand-back off: %+v, path error %v", rr, pathErr)
		}
		s.AnswerAbnormal(ctx, []byte("a1"))
		if on != (len(answered) == 1) {
			t.Fatalf("hand-back %v: answered %q", on, answered)
		}
	}
	if fmt.Sprint(bp.noLocal) != "[false true]" {
		t.Fatalf("NoLocalReschedule per run: %v", bp.noLocal)
	}
}
