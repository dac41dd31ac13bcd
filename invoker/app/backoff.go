package app

import (
	"context"
	"sync"

	"github.com/nemo-edge/nemo/harvester"
	"github.com/nemo-edge/nemo/invoker/activation"
)

// BackoffRelay lets the harvester's QoS guard reach the function controller, which Run builds after the
// harvester: give the relay to harvester.WithBackoff and to Parts.Backoff; Run points it at the
// controller. Until then, and with the controller off, backing off only turns harvesting off.
type BackoffRelay struct {
	mu     sync.Mutex
	target harvester.Backoff
}

var _ harvester.Backoff = (*BackoffRelay)(nil)

func (r *BackoffRelay) set(b harvester.Backoff) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.target = b
}

func (r *BackoffRelay) get() harvester.Backoff {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.target
}

// SuspendPrewarms implements harvester.Backoff.
func (r *BackoffRelay) SuspendPrewarms(ctx context.Context) {
	if t := r.get(); t != nil {
		t.SuspendPrewarms(ctx)
	}
}

// ResumePrewarms implements harvester.Backoff.
func (r *BackoffRelay) ResumePrewarms(ctx context.Context) {
	if t := r.get(); t != nil {
		t.ResumePrewarms(ctx)
	}
}

// harvestingRunner opens a harvest session around each activation when the function controller is off
// (it does so itself when on), so the NFs' spare cycles are harvested either way.
type harvestingRunner struct {
	runner interface {
		Run(ctx context.Context, job *Job, onRunDone func(*Outcome)) (*Outcome, error)
	}
	h interface {
		Begin(ctx context.Context, reason string) (release func())
	}
}

func (r harvestingRunner) Run(ctx context.Context, job *Job, onRunDone func(*Outcome)) (*Outcome, error) {
	release := r.h.Begin(ctx, "invocation")
	defer release()
	return r.runner.Run(ctx, job, onRunDone)
}

// Job and Outcome as the activation path and the pool share them.
type (
	Job     = activation.Job
	Outcome = activation.Outcome
)
