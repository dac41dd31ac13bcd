package node

import (
	"context"
	"errors"
	"time"

	"github.com/nemo-edge/nemo/invoker/fpc/fetch"
	"github.com/nemo-edge/nemo/invoker/fpc/lifecycle"
)

// pullLoop is one of a container's long-poll loops: fetch, run, fetch again with the run's duration. On
// NoActivationMessage the machine decides whether it goes on; on a pull error the container stops. Once the
// node shuts down, an activation fetched is handed back with RescheduleActivation instead of being run.
func (n *Node) pullLoop(c *cont) {
	defer n.loops.Done()
	defer func() {
		n.mu.Lock()
		c.loops--
		n.mu.Unlock()
	}()
	n.mu.Lock()
	p, ctx := c.puller, c.pullCtx
	n.mu.Unlock()
	last := time.Duration(-1)
	for {
		res, err := p.Fetch(ctx, last)
		last = -1
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, fetch.ErrClosed) {
				return // removal closed the pull
			}
			n.log.Warn().Err(err).Str("container", string(c.id)).Msg("pull stopped")
			n.Step(lifecycle.PullStopped{C: c.id, Reason: err.Error()})
			return
		}
		if res.Idle {
			if n.isDisabled() {
				n.Step(lifecycle.PullStopped{C: c.id, Reason: "invoker shutting down"})
				return
			}
			if !continues(n.Step(lifecycle.Idle{C: c.id}), c.id) {
				return
			}
			continue
		}
		if n.isDisabled() {
			n.handBack(c, p, res)
			n.Step(lifecycle.PullStopped{C: c.id, Reason: "invoker shutting down"})
			return
		}
		c.runs.Add(1)
		n.Step(lifecycle.ActivationReceived{C: c.id})
		rr := n.deps.Containers.Run(n.base, c.id, res.Activation, res.Raw)
		if rr.HandBack {
			n.handBackFailed(c, p, res)
		}
		c.runs.Done()
		if rr.Initialized {
			p.SetWarmed()
		}
		n.Step(lifecycle.RunFinished{C: c.id, Result: rr})
		last = rr.Duration
		n.mu.Lock()
		gone := c.removing
		n.mu.Unlock()
		if gone || rr.Destroy {
			return
		}
	}
}

// handBack returns a fetched activation that will not run here to its queue (SIGTERM). If the scheduler does
// not take it back, it is lost as upstream loses it; the log says which.
func (n *Node) handBack(c *cont, p Puller, res fetch.Result) {
	ctx, cancel := context.WithTimeout(context.Background(), n.cfg.CallTimeout)
	defer cancel()
	ok, err := p.Reschedule(ctx, res.Raw)
	log := n.log.With().Str("container", string(c.id)).Str("activationId", res.Activation.ActivationID).
		Str("transid", res.Activation.TransID.ID()).Logger()
	if err != nil || !ok {
		log.Error().Err(err).Bool("rescheduled", ok).Msg("shutting down: could not hand the fetched activation back; it is lost")
		return
	}
	n.mu.Lock()
	n.rescheduled++
	n.mu.Unlock()
	log.Info().Msg("shutting down: fetched activation handed back to the scheduler")
}

// HandBackTimeout is how long a handed-back activation waits for the scheduler's answer before it is answered
// as an abnormal run (OpenWhisk's Rescheduling state timeout).
const HandBackTimeout = 10 * time.Second

// abnormalAnswerer answers an activation that could be neither run nor handed back (Slots).
type abnormalAnswerer interface {
	AnswerAbnormal(ctx context.Context, raw []byte)
}

// handBackFailed gives an activation whose container failed before the action saw it back to the scheduler
// (RescheduleActivation); if the scheduler does not take it within HandBackTimeout, it is answered as an
// abnormal run (whisk error), as OpenWhisk's FPC container proxy does.
func (n *Node) handBackFailed(c *cont, p Puller, res fetch.Result) {
	log := n.log.With().Str("container", string(c.id)).Str("activationId", res.Activation.ActivationID).
		Str("transid", res.Activation.TransID.ID()).Logger()
	ctx, cancel := context.WithTimeout(n.base, HandBackTimeout)
	ok, err := p.Reschedule(ctx, res.Raw)
	cancel()
	if err == nil && ok {
		n.mu.Lock()
		n.handedBack++
		n.mu.Unlock()
		log.Warn().Msg("container failed before the action ran: activation handed back to the scheduler")
		return
	}
	log.Error().Err(err).Bool("rescheduled", ok).Msg("container failed before the action ran and the scheduler did not take the activation back")
	if a, isA := n.deps.Containers.(abnormalAnswerer); isA {
		actx, acancel := context.WithTimeout(context.WithoutCancel(n.base), n.cfg.CallTimeout)
		a.AnswerAbnormal(actx, res.Raw)
		acancel()
	}
}

func continues(acts []lifecycle.Action, id lifecycle.ContainerID) bool {
	for _, a := range acts {
		if a.Kind == lifecycle.ActContinue && a.C == id {
			return true
		}
	}
	return false
}
