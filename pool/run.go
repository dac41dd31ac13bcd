package pool

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nemo-edge/nemo/pool/proxy"
)

// This file runs activations through the Manager: a container from the pool (warm, stem cell or cold;
// waiting in the run buffer when memory is full), /init once per container with the context of the
// activation it was created for, /run, log collection, and what a failure means for the activation and
// the container (its response, destroying the container, moving the activation elsewhere).

// grant is the pool's answer to one registration of a request: exactly one of the types below.
type grant interface{ isGrant() }

// granted: run on c now. init is the container's /init when this request's context ran it.
type granted struct {
	c    ContainerID
	h    Handle
	kind StartKind
	init *initInfo
}

// brokenBeforeRun: c was handed out but broke before /run (thaw failed, stopped, gone): give it back
// destroyed and move the activation.
type brokenBeforeRun struct{ c ContainerID }

// warmed: a pre-warm request is satisfied by c.
type warmed struct{ c ContainerID }

// rejected: the pool can never serve the request (or cannot place a pre-warm now).
type rejected struct{ reason string }

// failed: the request will not run (Failed.Cause says why); init and createErr carry what the container's
// start or /init left behind.
type failed struct {
	Failed
	init      *initInfo
	createErr error
}

func (granted) isGrant()         {}
func (brokenBeforeRun) isGrant() {}
func (warmed) isGrant()          {}
func (rejected) isGrant()        {}
func (failed) isGrant()          {}

// initInfo is one /init of a container.
type initInfo struct {
	forID      string
	start, end time.Time
	res        InitResult
	logs       []string
}

// Run executes one activation (the activation path's Runner contract): it gets a container from the pool,
// runs /init with this activation's context when the container needs it, /run, calls onRunDone (may be nil)
// right after /run returned, collects the logs and tells the pool the run finished (destroying the
// container on developer/whisk error, timeout, dead container or log-collection failure). onRunDone is not
// called when no /run took place (init or start failure: the returned Outcome carries that error).
//
// The error is non-nil only when no container could be provided: ErrProvision (start failure without a
// specific response, container broken more than MaxReschedules times), ErrRejected (memory above what the
// pool can ever provide), ErrClosed, or ctx's error when ctx ended before a run started.
func (m *Manager) Run(ctx context.Context, job *Job, onRunDone func(*Outcome)) (*Outcome, error) {
	if err := m.validJob(job); err != nil {
		return nil, err
	}
	p := &pending{job: job, timeout: m.timeout(job.Timeout)}
	m.mu.Lock()
	now := m.now()
	resp, left, paused := m.startFailures.check(now, job.Spec.Key)
	m.mu.Unlock()
	if paused {
		m.startRefused.Add(1)
		job.Log.Warn().Dur("pausedFor", left).Str("image", job.Spec.Image).
			Msg("not starting a container: the action's containers keep exiting at start")
		return refusedOutcome(now, resp, left), nil
	}
	for {
		if withdrawn(job) {
			return nil, ErrWithdrawn
		}
		o, retry, err := m.runOnce(ctx, p, onRunDone)
		if !retry {
			return o, err
		}
		if o == nil && job.NoLocalReschedule {
			job.Log.Warn().Msg("container broke before /run; the activation goes back to its queue")
			return nil, ErrContainerHealth
		}
		m.mu.Lock()
		exhausted := p.rescheduled >= m.cfg.MaxReschedules
		if !exhausted {
			p.rescheduled++
		}
		attempt := p.rescheduled
		m.mu.Unlock()
		if exhausted {
			if o != nil {
				// The container exited at start every time: that answer is the action's (a developer error).
				m.rememberStartFailure(job, o.Response)
				return o, nil
			}
			return nil, fmt.Errorf("%w: container broke %d times before the action ran", ErrProvision, attempt+1)
		}
		m.rescheduled.Add(1)
		if o != nil {
			job.Log.Warn().Int("attempt", attempt).Msg("container exited at start; starting another")
		} else {
			job.Log.Warn().Int("attempt", attempt).Msg("container broke before /run; rescheduling")
		}
	}
}

// rememberStartFailure pauses starting job's action after its containers exited at start on every try.
func (m *Manager) rememberStartFailure(job *Job, resp proxy.Response) {
	m.mu.Lock()
	pause := m.startFailures.failed(m.now(), job.Spec.Key, resp)
	m.mu.Unlock()
	job.Log.Warn().Dur("pause", pause).Str("image", job.Spec.Image).Int("tries", m.cfg.MaxReschedules+1).
		Msg("the action's containers exit at start; not starting it again for a while")
}

// withdrawn reports whether the job's Withdraw channel is closed.
func withdrawn(job *Job) bool {
	select {
	case <-job.Withdraw:
		return true
	default:
		return false
	}
}

func (m *Manager) validJob(job *Job) error {
	switch {
	case job == nil:
		return fmt.Errorf("%w: nil job", ErrProvision)
	case job.InitBody == nil || job.RunBody == nil:
		return fmt.Errorf("%w: job %q without /init or /run body", ErrProvision, job.ID)
	case job.Spec.MemoryMB <= 0:
		return fmt.Errorf("%w: job %q without memory", ErrProvision, job.ID)
	}
	return nil
}

func (m *Manager) timeout(d time.Duration) time.Duration {
	if d <= 0 {
		return m.cfg.DefaultTimeout
	}
	return d
}

// registerLocked names p (its base id, made unique), gives it a fresh answer channel and steps req into the
// pool. m.mu must be held.
func (m *Manager) registerLocked(base string, p *pending, req Request) error {
	if m.closed {
		return ErrClosed
	}
	m.seq++
	p.id = base
	if p.id == "" || m.pending[p.id] != nil {
		p.id = fmt.Sprintf("%s~%d", base, m.seq)
	}
	p.ch = make(chan grant, 1)
	m.pending[p.id] = p
	req.ID = p.id
	m.stepLocked(req)
	return nil
}

// wait returns the pool's answer for p, or, after withdrawing the request, ctx's error or ErrWithdrawn
// (the job's Withdraw closed first).
func (m *Manager) wait(ctx context.Context, p *pending) (grant, error) {
	var withdraw <-chan struct{}
	if p.job != nil {
		withdraw = p.job.Withdraw
	}
	cause := error(nil)
	select {
	case g := <-p.ch:
		return g, nil
	case <-ctx.Done():
		cause = ctx.Err()
	case <-withdraw:
		cause = ErrWithdrawn
	}
	m.mu.Lock()
	m.stepLocked(Cancel{ID: p.id})
	m.mu.Unlock()
	// Exactly one answer comes: the cancellation, or what raced with it (a run already handed out).
	switch g := (<-p.ch).(type) {
	case granted:
		m.finish(p, g.c, false) // give the container back unused
	case brokenBeforeRun:
		m.finish(p, g.c, true)
	}
	return nil, cause
}

// finish tells the pool that p's run on c is over (destroy: remove c).
func (m *Manager) finish(p *pending, c ContainerID, destroy bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.pending, p.id)
	m.stepLocked(RunFinished{C: c, ID: p.id, Destroy: destroy})
}

// runOnce is one attempt of Run. retry: the container broke before the action saw the activation (o is
// nil), or exited at start (o is the answer once the retries are used up).
func (m *Manager) runOnce(ctx context.Context, p *pending, onRunDone func(*Outcome)) (o *Outcome, retry bool, err error) {
	job := p.job
	m.mu.Lock()
	err = m.registerLocked(job.ID, p, Request{Spec: job.Spec})
	m.mu.Unlock()
	if err != nil {
		return nil, false, err
	}
	g, err := m.wait(ctx, p)
	if err != nil {
		return nil, false, err
	}
	var run granted
	switch g := g.(type) {
	case rejected:
		return nil, false, fmt.Errorf("%w: %s", ErrRejected, g.reason)
	case failed:
		return m.failedOutcome(p, g)
	case brokenBeforeRun:
		m.finish(p, g.c, true)
		return nil, true, nil
	case granted:
		run = g
	default:
		return nil, false, fmt.Errorf("%w: unexpected answer %T to an activation", ErrProvision, g)
	}

	o = &Outcome{ContainerState: string(run.kind), Container: run.c}
	if run.init != nil {
		o.InitDuration = run.init.res.Duration
		o.WaitStart = run.init.start
	}
	runStart := m.now()
	if o.WaitStart.IsZero() {
		o.WaitStart = runStart
	}
	body, err := job.RunBody(runStart.Add(p.timeout))
	if err != nil {
		job.Log.Error().Err(err).Msg("cannot build the /run body")
		m.finish(p, run.c, false)
		o.Response = proxy.ErrorResponse(proxy.StatusWhiskError, proxy.MsgAbnormalRun)
		o.Start, o.End = runStart, m.now()
		return o, false, nil
	}
	rctx, cancel := context.WithTimeout(ctx, p.timeout+m.cfg.CallMargin)
	rr := m.backend.Run(rctx, run.h, body, p.timeout)
	cancel()
	if rr.Reschedule {
		// The action never saw the request (its container is gone): like a container broken before /run.
		m.finish(p, run.c, true)
		return nil, true, nil
	}
	o.Response, o.Start, o.End, o.TimedOut = rr.Response, rr.Start, rr.End, rr.TimedOut
	if o.Start.IsZero() {
		o.Start = runStart
	}
	if o.End.IsZero() {
		o.End = m.now()
	}
	// Log collection runs alongside the early callback (a blocking activation's Result ack), so the
	// container is free again after the longer of the two, not their sum. The callback runs on this
	// goroutine: the Result is what a blocking caller waits for, so it must not queue behind a new
	// goroutine's start; the logs are only needed for the Completion.
	code := o.Response.StatusCode
	destroy := rr.Dead || rr.TimedOut || o.Response.DestroysContainer()
	var logs chan LogResult
	if job.LogLimit > 0 {
		opts := LogOptions{Sentinels: job.SentinelledLogs, DeveloperError: code == proxy.StatusDeveloperError}
		logs = make(chan LogResult, 1)
		go func() {
			lctx, cancel := context.WithTimeout(ctx, job.logsTimeout()+m.cfg.CallMargin)
			defer cancel()
			logs <- m.backend.Logs(lctx, run.h, job.LogLimit, opts)
		}()
	}
	if onRunDone != nil {
		snapshot := *o
		onRunDone(&snapshot)
	}
	if logs != nil {
		lr := <-logs
		o.Logs = lr.Lines
		if lr.Failed {
			destroy = true
		}
	}
	m.finish(p, run.c, destroy)
	return o, false, nil
}

// failedOutcome turns a Failed answer into the activation's outcome or error.
func (m *Manager) failedOutcome(p *pending, f failed) (*Outcome, bool, error) {
	now := m.now()
	switch f.Cause {
	case FailInit:
		o := &Outcome{ContainerState: string(StartWarming), Start: now, End: now, WaitStart: now}
		if f.init != nil {
			o.Response = f.init.res.Response
			o.Start, o.End, o.WaitStart = f.init.start, f.init.end, f.init.start
			if f.init.forID == p.id {
				o.ContainerState = string(StartCold)
				o.InitDuration = f.init.res.Duration
				o.Logs = f.init.logs
			}
			if f.init.res.Exited {
				// /init already moved the activation as often as allowed (doInit).
				m.rememberStartFailure(p.job, o.Response)
			}
		} else {
			o.Response = proxy.ErrorResponse(proxy.StatusDeveloperError, f.Reason)
		}
		return o, false, nil
	case FailStart:
		var ce *CreateError
		if errors.As(f.createErr, &ce) {
			o := &Outcome{Response: ce.Response, ContainerState: string(StartCold), Start: now, End: now,
				WaitStart: now, Logs: ce.Logs}
			// Exited at start: try a new container (Run bounds the tries and answers with o after them).
			return o, errors.Is(ce, ErrExitedAtStart), nil
		}
		return nil, false, fmt.Errorf("%w: %s", ErrProvision, f.Reason)
	case FailGone:
		return nil, true, nil
	case FailShutdown:
		return nil, false, fmt.Errorf("%w: %s", ErrClosed, f.Reason)
	default:
		return nil, false, fmt.Errorf("%w: %s (%s)", ErrProvision, f.Reason, f.Cause)
	}
}

// doInit runs /init on c with the context of src (the activation or pre-warm it runs for).
func (m *Manager) doInit(c *mcont, forID string, src *pending) {
	defer m.wg.Done()
	m.mu.Lock()
	h, exited := c.h, c.exited
	m.mu.Unlock()
	info := &initInfo{forID: forID, start: m.now()}
	body, timeout, err := m.initBody(src)
	var job *Job
	if src != nil {
		job = src.job
	}
	switch {
	case err != nil:
		info.res = InitResult{Response: proxy.ErrorResponse(proxy.StatusWhiskError, proxy.MsgAbnormalInit), Dead: true}
		m.log.Error().Err(err).Str("container", c.name).Msg("cannot build the /init body")
	default:
		ctx, cancel := context.WithTimeout(m.base, timeout+m.cfg.CallMargin)
		if exited {
			// It stopped while being created (the engine said so): nothing to post /init to.
			info.res = InitResult{Response: proxy.ErrorResponse(proxy.StatusDeveloperError, proxy.MsgAbnormalInit),
				Dead: true, Exited: true}
		} else {
			info.res = m.backend.Init(ctx, h, body, timeout)
		}
		switch {
		case !info.res.OK && job != nil && job.LogLimit > 0:
			// The init error's logs belong to the activation that triggered it (no sentinels after /init).
			info.logs = m.backend.Logs(ctx, h, job.LogLimit, LogOptions{DeveloperError: true}).Lines
		case info.res.OK && job == nil:
			// A controller pre-warm's init output belongs to no activation: drain it.
			m.backend.Logs(ctx, h, m.cfg.PrewarmLogLimit, LogOptions{})
		}
		cancel()
	}
	info.end = m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	c.init = info
	if info.res.OK {
		m.startFailures.succeeded(c.spec.Key)
		m.stepLocked(Initialized{C: c.id, Duration: info.res.Duration})
		return
	}
	if (info.res.Reschedule || info.res.Exited) && job != nil && src.rescheduled < m.cfg.MaxReschedules {
		// Unhealthy or exited: destroying it puts the requests waiting on it back at the head of the queue.
		src.rescheduled++
		m.rescheduled.Add(1)
		why, reason := "/init answered 503 (container unhealthy)", "unhealthy at /init (503)"
		if info.res.Exited {
			why, reason = "the container exited before /init answered", "exited at start"
		}
		m.log.Warn().Str("container", c.name).Str("request", forID).Int("attempt", src.rescheduled).
			Msg(why + "; moving the activation to another container")
		c.broken = true
		m.stepLocked(Destroy{C: c.id, Reason: reason})
		return
	}
	m.stepLocked(InitFailed{C: c.id, Reason: info.res.Response.ErrorText()})
}

// initBody returns the /init body and action timeout of src: a pre-warm's prepared body, or the body the
// activation builds for the deadline its /init gets.
func (m *Manager) initBody(src *pending) ([]byte, time.Duration, error) {
	switch {
	case src == nil:
		return nil, m.cfg.DefaultTimeout, errors.New("no request to take the init context from")
	case src.job == nil:
		return src.initBody, src.timeout, nil
	}
	body, err := src.job.InitBody(m.now().Add(src.timeout))
	return body, src.timeout, err
}

// deliverRun hands a Run to the waiting Run call (after any Thaw before it in the lane).
func (m *Manager) deliverRun(c *mcont, a Run) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := m.pending[a.ID]
	if p == nil {
		m.log.Error().Str("request", a.ID).Msg("run for an unknown request; releasing the container")
		m.stepLocked(RunFinished{C: a.C, ID: a.ID})
		return
	}
	if c.broken || c.gone {
		p.ch <- brokenBeforeRun{c: a.C} // the Run call forgets p once it reports RunFinished
		return
	}
	g := granted{c: a.C, h: c.h, kind: a.Start}
	if c.init != nil && c.init.forID == a.ID {
		g.init = c.init
	}
	p.ch <- g
}
