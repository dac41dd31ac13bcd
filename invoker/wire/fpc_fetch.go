package wire

import (
	"bytes"
	"encoding/json"
)

// This file holds the JSON carried inside the gRPC ActivationService messages: FetchRequest/RescheduleRequest
// put the action's FQN and revision in string fields as JSON text, and FetchResponse.activationMessage is a
// JSON envelope {"message": <ActivationMessage or a queue error>}.

// FQNText is the fqn field of a FetchRequest or RescheduleRequest: the FQN object as JSON text, binding
// included.
func FQNText(f FullyQualifiedName) string {
	b, _ := f.MarshalJSON() // never fails: strings only
	return string(b)
}

// RevisionText is the rev field: the revision as JSON text, a quoted string or null.
func RevisionText(rev *string) string {
	if rev == nil {
		return "null"
	}
	return string(encodeString(*rev))
}

// ParseRevisionText reads a rev field (the scheduler side of RevisionText).
func ParseRevisionText(s string) (*string, error) {
	t := bytes.TrimSpace([]byte(s))
	switch kindOf(t) {
	case "null":
		return nil, nil
	case "string":
		var r string
		if err := json.Unmarshal(t, &r); err != nil {
			return nil, malformed("rev", "%v", err)
		}
		return &r, nil
	}
	return nil, malformed("rev", "want a JSON string or null, got %s", kindOf(t))
}

// FetchError is a scheduler queue's answer when it has no activation to hand out.
type FetchError string

// The three queue errors (MemoryQueueError) and their meaning for the pulling container.
const (
	// FetchNoActivation: nothing arrived within the long-poll (1 s); fetch again.
	FetchNoActivation FetchError = "NoActivationMessage"
	// FetchNoMemoryQueue: that scheduler has no queue for the action; find the leader and reconnect.
	FetchNoMemoryQueue FetchError = "NoMemoryQueue"
	// FetchActionMismatch: the queue holds another revision (the action was updated); stop the container.
	FetchActionMismatch FetchError = "ActionMismatch"
)

// fetchErrorFields are each error's own member and fixed text, as the scheduler writes them.
var fetchErrorFields = map[FetchError][2]string{
	FetchNoActivation:   {"noActivationMessage", "no activation message exist"},
	FetchNoMemoryQueue:  {"noMemoryQueue", "no memory queue exist"},
	FetchActionMismatch: {"actionMisMatch", "action version does not match"},
}

// FetchResult is a decoded FetchResponse: an activation, or a queue error.
type FetchResult struct {
	Activation *ActivationMessage // nil when Error is set
	Raw        json.RawMessage    // the activation's JSON as received (what RescheduleActivation hands back)
	Error      FetchError
}

// ParseFetchResponse reads FetchResponse.activationMessage. A message object whose "type" names a queue error
// is that error; anything else must parse as an ActivationMessage. Errors wrap ErrMalformed (or
// ErrInvalidActivationID); the JVM client then simply fetches again.
func ParseFetchResponse(b []byte) (FetchResult, error) {
	o, err := decodeObject(b, "fetch response")
	if err != nil {
		return FetchResult{}, err
	}
	msg, ok := o.get("message")
	if !ok {
		return FetchResult{}, o.missing("message")
	}
	if kindOf(msg) != "object" {
		return FetchResult{}, o.wrongType("message", "object", msg)
	}
	mo, err := decodeObject(msg, "fetch response message")
	if err != nil {
		return FetchResult{}, err
	}
	if mo.has("type") {
		t, err := mo.str("type", true)
		if err != nil {
			return FetchResult{}, err
		}
		if _, known := fetchErrorFields[FetchError(t)]; known {
			return FetchResult{Error: FetchError(t)}, nil
		}
	}
	am, err := ParseActivationMessage(msg)
	if err != nil {
		return FetchResult{}, err
	}
	return FetchResult{Activation: am, Raw: append(json.RawMessage(nil), bytes.TrimSpace(msg)...)}, nil
}

// MarshalFetchError writes the envelope of a queue error as the scheduler does (test equipment uses it).
func MarshalFetchError(e FetchError) ([]byte, error) {
	f, ok := fetchErrorFields[e]
	if !ok {
		return nil, malformed("fetch response", "unknown queue error %q", e)
	}
	inner := newWriter()
	inner.str(f[0], f[1])
	inner.str("type", string(e))
	ib, err := inner.bytes()
	if err != nil {
		return nil, err
	}
	w := newWriter()
	w.verbatim("message", ib)
	return w.bytes()
}

// MarshalFetchActivation wraps an ActivationMessage's JSON in the envelope.
func MarshalFetchActivation(activation []byte) ([]byte, error) {
	w := newWriter()
	w.verbatim("message", activation)
	return w.bytes()
}
