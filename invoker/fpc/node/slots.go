package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/nemo-edge/nemo/invoker/fpc/lifecycle"
	"github.com/nemo-edge/nemo/invoker/wire"
	"github.com/nemo-edge/nemo/pool"
	"github.com/nemo-edge/nemo/pool/proxy"
)

// Runner runs one pool job (the classic path's Runner: NEMO's function controller over pool.Manager).
type Runner interface {
	Run(ctx context.Context, job *pool.Job, onRunDone func(*pool.Outcome)) (*pool.Outcome, error)
}

// PoolControl is what Slots needs of pool.Manager besides runs.
type PoolControl interface {
	Suspend(ctx context.Context, c pool.ContainerID) error
	Resume(ctx context.Context, c pool.ContainerID) error
	Evict(ctx context.Context, c pool.ContainerID) error
	WaitGone(ctx context.Context, c pool.ContainerID) error
	Snapshot() pool.Snapshot
}

// Process runs one pulled activation (its ActivationMessage JSON) through the classic activation path.
type Process func(ctx context.Context, raw []byte)

// slotMark separates a pool key's content hash from the slot it belongs to.
const slotMark = "~fpc:"

type slot struct {
	key     string            // the slot part of the pool key
	poolC   pool.ContainerID  // the pool container its last run used (0: none yet)
	binding lifecycle.Binding // for adoption
	last    *pool.Outcome     // the last run's outcome
	lastErr error             // the last run's provisioning error
	health  bool              // the self-test's container: runs through the health path, never adopted
	// handedBack: the last run's container failed before the action saw it and the activation was left
	// unanswered for the scheduler (HandBackOnContainerFailure).
	handedBack bool
	mu         sync.Mutex
}

type slotCtxKey struct{}

// Slots implements lifecycle.Containers over NEMO's pool: each FPC container is a slot with a pool key of
// its own (the action's key plus the slot's name), so its runs always reach its own container. Activations
// run through the classic activation path (set with SetProcess), whose Runner is Wrap's.
type Slots struct {
	pool    PoolControl
	health  *Health
	mu      sync.Mutex
	process Process
	// healthProcess runs the self-test's activations (acks and events go nowhere).
	healthProcess Process
	// abnormal answers an activation that could not be handed back (activation.Path.AnswerAbnormal).
	abnormal Process
	// handBack: a container failure before the action ran leaves the activation to the scheduler instead of
	// the pool's move to another container.
	handBack bool
	slots    map[lifecycle.ContainerID]*slot
	// bindings remembers, per pool key without the slot, the binding FPC mode served it for, so a pre-warm
	// of that key can be adopted.
	bindings map[pool.Key]lifecycle.Binding
	adopted  int
}

// NewSlots returns Slots over pool; health (may be nil) counts each run's outcome.
func NewSlots(p PoolControl, health *Health) *Slots {
	return &Slots{pool: p, health: health, slots: map[lifecycle.ContainerID]*slot{}, bindings: map[pool.Key]lifecycle.Binding{}}
}

// SetProcess sets the activation path.
func (s *Slots) SetProcess(p Process) { s.mu.Lock(); s.process = p; s.mu.Unlock() }

// SetHealthProcess sets the activation path of the self-test's health activations.
func (s *Slots) SetHealthProcess(p Process) { s.mu.Lock(); s.healthProcess = p; s.mu.Unlock() }

// HandBackOnContainerFailure makes a container that fails before the action sees the activation (thaw
// failure, container gone, connection refused, HTTP 503) give the activation back to the scheduler
// (RescheduleActivation, as OpenWhisk's FPC invoker does) instead of the pool's move to another container of
// this invoker; answer is how an activation the scheduler does not take back is answered (a whisk error).
func (s *Slots) HandBackOnContainerFailure(answer Process) {
	s.mu.Lock()
	s.handBack, s.abnormal = true, answer
	s.mu.Unlock()
}

// AnswerAbnormal answers a handed-back activation the scheduler did not take (Node).
func (s *Slots) AnswerAbnormal(ctx context.Context, raw []byte) {
	s.mu.Lock()
	f := s.abnormal
	s.mu.Unlock()
	if f != nil {
		f(ctx, raw)
	}
}

// createHealth makes the self-test's slot (HealthActionTest).
func (s *Slots) createHealth(id lifecycle.ContainerID, b lifecycle.Binding) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.slots[id] = &slot{key: string(id), binding: b, health: true}
}

// Wrap returns the Runner the activation path must use: it puts the job on its slot's pool key.
func (s *Slots) Wrap(inner Runner) Runner { return slotRunner{s: s, inner: inner} }

type slotRunner struct {
	s     *Slots
	inner Runner
}

func (r slotRunner) Run(ctx context.Context, job *pool.Job, onRunDone func(*pool.Outcome)) (*pool.Outcome, error) {
	sl, _ := ctx.Value(slotCtxKey{}).(*slot)
	if sl == nil {
		return r.inner.Run(ctx, job, onRunDone)
	}
	j := *job
	base := j.Spec.Key
	j.Spec.Key.ContentHash += slotMark + sl.key
	r.s.mu.Lock()
	j.NoLocalReschedule = r.s.handBack && !sl.health
	r.s.mu.Unlock()
	o, err := r.inner.Run(ctx, &j, onRunDone)
	if errors.Is(err, pool.ErrContainerHealth) {
		// Not answered here: the pull hands it back to the scheduler.
		sl.mu.Lock()
		sl.handedBack = true
		sl.mu.Unlock()
		return nil, fmt.Errorf("%w: %w", pool.ErrWithdrawn, err)
	}
	sl.mu.Lock()
	sl.last, sl.lastErr = o, err
	if o != nil && o.Container != 0 {
		sl.poolC = o.Container
	}
	sl.mu.Unlock()
	r.s.mu.Lock()
	if _, ok := r.s.bindings[base]; !ok && !sl.health && len(r.s.bindings) < 4096 {
		r.s.bindings[base] = sl.binding
	}
	r.s.mu.Unlock()
	return o, err
}

func (s *Slots) get(id lifecycle.ContainerID) *slot {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.slots[id]
}

// Create makes the slot. Its container starts with its first activation (the cold start), as an activation
// of the classic path would start it; the id returned is the slot's.
func (s *Slots) Create(_ context.Context, id lifecycle.ContainerID, b lifecycle.Binding) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.slots[id] = &slot{key: string(id), binding: b}
	return string(id), nil
}

// Pause freezes the slot's container: the pool's Suspend (cgroup freezer), which also keeps it from runs
// and evictions until Resume.
func (s *Slots) Pause(ctx context.Context, id lifecycle.ContainerID) error {
	sl := s.get(id)
	if sl == nil {
		return errors.New("unknown slot")
	}
	sl.mu.Lock()
	c := sl.poolC
	sl.mu.Unlock()
	if c == 0 {
		return nil
	}
	err := s.pool.Suspend(ctx, c)
	if errors.Is(err, pool.ErrUnknownContainer) {
		// The pool removed it meanwhile (evicted while idle): the slot starts a new one with its next run.
		sl.mu.Lock()
		sl.poolC = 0
		sl.mu.Unlock()
		return nil
	}
	return err
}

// Resume thaws it.
func (s *Slots) Resume(ctx context.Context, id lifecycle.ContainerID) error {
	sl := s.get(id)
	if sl == nil {
		return errors.New("unknown slot")
	}
	sl.mu.Lock()
	c := sl.poolC
	sl.mu.Unlock()
	if c == 0 {
		return nil
	}
	err := s.pool.Resume(ctx, c)
	if errors.Is(err, pool.ErrUnknownContainer) || errors.Is(err, pool.ErrNotApplicable) {
		return nil // gone (its next run starts a new one) or not suspended
	}
	return err
}

// Run runs one activation on the slot through the activation path and reports its outcome.
func (s *Slots) Run(ctx context.Context, id lifecycle.ContainerID, msg *wire.ActivationMessage, raw json.RawMessage) lifecycle.RunResult {
	sl := s.get(id)
	s.mu.Lock()
	process := s.process
	if sl != nil && sl.health {
		process = s.healthProcess
	}
	s.mu.Unlock()
	if sl == nil || process == nil {
		if sl != nil && sl.health && s.health != nil {
			s.health.Record(false)
		}
		return lifecycle.RunResult{Destroy: true, Failed: sl != nil && sl.health}
	}
	sl.mu.Lock()
	sl.last, sl.lastErr, sl.handedBack = nil, nil, false
	sl.mu.Unlock()
	process(context.WithValue(ctx, slotCtxKey{}, sl), raw)
	sl.mu.Lock()
	o, err, handedBack := sl.last, sl.lastErr, sl.handedBack
	sl.mu.Unlock()
	if handedBack {
		sl.mu.Lock()
		sl.poolC = 0 // the pool destroyed it
		sl.mu.Unlock()
		return lifecycle.RunResult{HandBack: true, Destroy: true}
	}
	if o == nil {
		// No container (provisioning failed) or the path answered without running (fetch failure, blacklisted
		// namespace): the activation was answered; a provisioning failure also ends the slot. A health
		// activation that did not run is a failed self-test.
		failed := err != nil || sl.health
		if s.health != nil && failed {
			s.health.Record(false)
		}
		return lifecycle.RunResult{Destroy: err != nil, Failed: failed}
	}
	failed := o.Response.StatusCode == proxy.StatusWhiskError
	if s.health != nil {
		s.health.Record(!failed)
	}
	destroy := o.TimedOut || o.Response.DestroysContainer()
	return lifecycle.RunResult{Duration: o.End.Sub(o.Start), Initialized: !destroy, Destroy: destroy, Failed: failed}
}

// Remove destroys the slot's container (thawed first: the pool evicts only what is not suspended).
func (s *Slots) Remove(ctx context.Context, id lifecycle.ContainerID) error {
	s.mu.Lock()
	sl := s.slots[id]
	delete(s.slots, id)
	s.mu.Unlock()
	if sl == nil {
		return nil
	}
	sl.mu.Lock()
	c := sl.poolC
	sl.mu.Unlock()
	if c == 0 {
		return nil
	}
	_ = s.pool.Resume(ctx, c)
	if err := s.pool.Evict(ctx, c); err != nil {
		if errors.Is(err, pool.ErrUnknownContainer) {
			return nil
		}
		return err
	}
	return s.pool.WaitGone(ctx, c)
}

// Adoptable returns the pool's idle containers of actions FPC mode has served that belong to no live slot:
// NEMO's pre-warms (history-driven) and containers a removed slot left behind. Each is suspended (frozen)
// and becomes a slot with the returned id; the caller hands it to the machine as lifecycle.Adopted.
func (s *Slots) Adoptable(ctx context.Context) []lifecycle.Adopted {
	snap := s.pool.Snapshot()
	var out []lifecycle.Adopted
	for _, ci := range snap.Containers {
		if ci.State != pool.StateIdle && ci.State != pool.StateFrozen || ci.Suspended || ci.Key.IsZero() {
			continue
		}
		base := ci.Key
		slotName := ""
		if i := strings.Index(base.ContentHash, slotMark); i >= 0 {
			slotName = base.ContentHash[i+len(slotMark):]
			base.ContentHash = base.ContentHash[:i]
		}
		s.mu.Lock()
		b, known := s.bindings[base]
		owned := false
		for _, sl := range s.slots {
			sl.mu.Lock()
			if sl.poolC == ci.C || (slotName != "" && sl.key == slotName) {
				owned = true
			}
			sl.mu.Unlock()
		}
		s.mu.Unlock()
		if !known || owned || slotName == "" || slotName == string(healthSlot) {
			continue
		}
		if err := s.pool.Suspend(ctx, ci.C); err != nil {
			continue
		}
		s.mu.Lock()
		s.adopted++
		id := lifecycle.ContainerID("p" + strings.TrimPrefix(ci.C.String(), "c"))
		b.MemoryMB = ci.MemoryMB
		s.slots[id] = &slot{key: slotName, poolC: ci.C, binding: b}
		s.mu.Unlock()
		out = append(out, lifecycle.Adopted{C: id, Binding: b})
	}
	return out
}
