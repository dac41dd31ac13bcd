package itest

import (
	"encoding/json"
	"fmt"
	"time"
)

// Activation describes one ActivationMessage for action Namespace/Action, as the controller writes it
// (docs/protocol.md#activationmessage).
type Activation struct {
	Action     string
	AID        string          // activation id, 32 hex digits (RandomHex(16))
	TransID    json.RawMessage // e.g. TransID(...)
	Revision   *string         // nil sends null: the invoker reads the latest revision
	Blocking   bool
	Content    map[string]any // nil leaves "content" out
	Controller string         // rootControllerIndex: acks go to completed{Controller}
}

// Marshal encodes the message.
func (a Activation) Marshal() ([]byte, error) {
	var rev any
	if a.Revision != nil {
		rev = *a.Revision
	}
	m := map[string]any{
		"transid":  a.TransID,
		"action":   map[string]string{"path": Namespace, "name": a.Action, "version": "0.0.1"},
		"revision": rev,
		"user": map[string]any{
			"subject":   Namespace,
			"namespace": map[string]string{"name": Namespace, "uuid": "23bc46b1-71f6-4ed5-8c54-816aa4f8c502"},
			"authkey":   map[string]string{"api_key": "23bc46b1-71f6-4ed5-8c54-816aa4f8c502:it"},
			"rights":    []string{"READ", "PUT", "DELETE", "ACTIVATE"},
			"limits":    map[string]any{},
		},
		"activationId":        a.AID,
		"rootControllerIndex": map[string]string{"asString": a.Controller, "instanceType": "controller"},
		"blocking":            a.Blocking,
		"initArgs":            []string{},
		"lockedArgs":          map[string]string{},
	}
	if a.Content != nil {
		m["content"] = a.Content
	}
	return json.Marshal(m)
}

// TransID is a transaction id as the controller writes it, [id, now in ms].
func TransID(id string) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`[%q,%d]`, id, time.Now().UnixMilli()))
}
