package activation

import (
	"context"

	"github.com/nemo-edge/nemo/invoker/wire"
	"github.com/nemo-edge/nemo/pool/proxy"
)

// ResultAbnormal: the activation was answered with a whisk error "abnormal run" because it could neither run
// nor be handed back (AnswerAbnormal).
const ResultAbnormal Result = "abnormal"

// AnswerAbnormal answers an activation that never ran and could not be given back to its queue (FPC mode: its
// container failed before the action saw it and the scheduler did not take it back) as OpenWhisk's FPC
// container proxy does: a whisk error "The action did not produce a valid response and exited unexpectedly."
// in one Combined ack (shrunk when non-blocking) and the activation record. The record carries the action's
// annotations when its document is at hand.
func (p *Path) AnswerAbnormal(ctx context.Context, raw []byte) Result {
	msg, err := wire.ParseActivationMessage(raw)
	if err != nil {
		p.log.Error().Err(err).Int("bytes", len(raw)).Msg("cannot parse the activation to answer; no ack possible")
		return ResultInvalid
	}
	log := p.log.With().Str("transid", msg.TransID.ID()).Str("activationId", msg.ActivationID).Logger()
	act := wire.FallbackActivation(msg, proxy.ErrorResponse(proxy.StatusWhiskError, proxy.MsgAbnormalRun), p.nowMillis())
	rev := ""
	if msg.Revision != nil {
		rev = *msg.Revision
	}
	if action, err := p.store.GetAction(ctx, msg.Action.DocID(), rev); err == nil {
		act.Annotations = wire.Annotations(wire.AnnotationInput{
			Limits: action.Limits, Path: action.FullyQualifiedName(), Kind: action.Exec.Kind,
			CausedBySequence: msg.CausedBySequence(), Binding: msg.Action.Binding,
		})
	}
	log.Error().Msg("the activation's container failed before it ran and it could not be handed back: answered as an abnormal run")
	r := p.finishCombined(ctx, msg, act, log, ResultAbnormal)
	p.results.With(string(r)).Inc()
	return r
}
