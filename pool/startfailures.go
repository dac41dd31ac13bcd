package pool

import (
	"fmt"
	"time"

	"github.com/nemo-edge/nemo/pool/proxy"
)

// startFailures is the Manager's memory of actions whose containers keep exiting at start (a blackbox
// image that is not an action runtime, a runtime that crashes before it listens). Once an activation has
// used up its MaxReschedules on such starts, the action is not started again for a while: activations
// meanwhile get the last failure's response at once. The pause doubles with each further failure and is
// forgotten as soon as a container of the action initialises. Pure bookkeeping on an injected time; the
// Manager holds its mutex around every call.
type startFailures struct {
	base, max time.Duration
	byKey     map[Key]*startFailure
}

type startFailure struct {
	failures int
	until    time.Time
	response proxy.Response
}

func newStartFailures(base, max time.Duration) *startFailures {
	return &startFailures{base: base, max: max, byKey: map[Key]*startFailure{}}
}

// check reports whether k is paused at now, with the response to answer and how long the pause lasts.
func (s *startFailures) check(now time.Time, k Key) (proxy.Response, time.Duration, bool) {
	f := s.byKey[k]
	if f == nil || !now.Before(f.until) {
		return proxy.Response{}, 0, false
	}
	return f.response, f.until.Sub(now), true
}

// failed records that an activation of k gave up starting at now with resp, and returns the pause.
func (s *startFailures) failed(now time.Time, k Key, resp proxy.Response) time.Duration {
	f := s.byKey[k]
	if f == nil {
		f = &startFailure{}
		s.byKey[k] = f
	}
	f.failures++
	pause := min(s.base<<min(f.failures-1, 30), s.max)
	f.until, f.response = now.Add(pause), resp
	s.prune(now)
	return pause
}

// succeeded forgets k: a container of it initialised.
func (s *startFailures) succeeded(k Key) { delete(s.byKey, k) }

// prune drops entries whose pause ended long ago (bounded memory for many broken actions); an action
// that fails again after that starts its doubling afresh.
func (s *startFailures) prune(now time.Time) {
	for k, f := range s.byKey {
		if now.Sub(f.until) > s.max {
			delete(s.byKey, k)
		}
	}
}

// refusedOutcome is what an activation of a paused action gets: the remembered response and one line
// of invoker log saying why no container was started.
func refusedOutcome(now time.Time, resp proxy.Response, left time.Duration) *Outcome {
	msg := fmt.Sprintf("The action's container exited at start repeatedly; it is not started again for %s.",
		left.Round(time.Second))
	return &Outcome{Response: resp, ContainerState: string(StartCold), Start: now, End: now, WaitStart: now,
		Logs: []string{proxy.InvokerLogLine(now, msg)}}
}
