package wire

import (
	"bytes"
	"encoding/json"
)

// ActivationMessage is what the controller publishes on invoker<N> (Message.scala, jsonFormat12).
type ActivationMessage struct {
	TransID             TransID
	Action              FullyQualifiedName
	Revision            *string // nil for JSON null (health actions) or when absent
	User                Identity
	ActivationID        string
	RootControllerIndex ControllerInstanceID
	Blocking            bool
	Content             json.RawMessage   // nil when absent; otherwise an object or an array
	InitArgs            []string          // tolerated absent
	LockedArgs          map[string]string // tolerated absent
	Cause               string            // enclosing sequence's activation id, "" when absent
	TraceContext        json.RawMessage   // nil when absent
}

// ParseActivationMessage decodes a Kafka record of invoker<N>. Unknown members are ignored. Errors wrap
// ErrMalformed or ErrInvalidActivationID; after one the invoker sends no ack (docs/protocol.md#bad-records).
func ParseActivationMessage(b []byte) (*ActivationMessage, error) {
	if m, ok := parseActivationMessageFast(b); ok {
		return m, nil
	}
	return parseActivationMessageReference(b)
}

// parseActivationMessageReference is ParseActivationMessage through encoding/json: it decides every
// message the fast path leaves, and words every error.
func parseActivationMessageReference(b []byte) (*ActivationMessage, error) {
	o, err := decodeObject(b, "activation message")
	if err != nil {
		return nil, err
	}
	m := &ActivationMessage{}

	tid, ok := o.get("transid")
	if !ok {
		return nil, o.missing("transid")
	}
	if m.TransID, err = ParseTransID(tid); err != nil {
		return nil, err
	}
	act, ok := o.get("action")
	if !ok {
		return nil, o.missing("action")
	}
	if m.Action, err = ParseFullyQualifiedName(act); err != nil {
		return nil, err
	}
	if _, ok := o.get("revision"); ok {
		rev, err := o.str("revision", false)
		if err != nil {
			return nil, err
		}
		m.Revision = &rev
	}
	user, _, err := o.sub("user", true)
	if err != nil {
		return nil, err
	}
	if m.User, err = parseIdentity(user); err != nil {
		return nil, err
	}
	if m.ActivationID, err = o.str("activationId", true); err != nil {
		return nil, err
	}
	if err := checkActivationID("activationId", m.ActivationID); err != nil {
		return nil, err
	}
	rci, _, err := o.sub("rootControllerIndex", true)
	if err != nil {
		return nil, err
	}
	if m.RootControllerIndex, err = parseControllerInstanceID(rci); err != nil {
		return nil, err
	}
	if m.Blocking, err = o.boolean("blocking", true, false); err != nil {
		return nil, err
	}
	if c, ok := o.get("content"); ok {
		if k := kindOf(c); k != "object" && k != "array" {
			return nil, o.wrongType("content", "object or array", c)
		}
		m.Content = append(json.RawMessage(nil), bytes.TrimSpace(c)...)
	}
	if m.InitArgs, err = o.strings("initArgs", false); err != nil {
		return nil, err
	}
	if m.LockedArgs, err = o.stringMap("lockedArgs"); err != nil {
		return nil, err
	}
	if m.Cause, err = o.str("cause", false); err != nil {
		return nil, err
	}
	if m.Cause != "" {
		if err := checkActivationID("cause", m.Cause); err != nil {
			return nil, err
		}
	}
	if tc, ok := o.get("traceContext"); ok {
		m.TraceContext = append(json.RawMessage(nil), bytes.TrimSpace(tc)...)
	}
	return m, nil
}

// Marshal encodes the message as the controller does (initArgs and lockedArgs always written, optional members
// omitted when absent), with the transid bytes spliced in unchanged.
func (m *ActivationMessage) Marshal() ([]byte, error) {
	w := newWriter()
	w.verbatim("transid", m.TransID.Raw)
	w.value("action", m.Action)
	w.nullable("revision", m.Revision)
	w.value("user", m.User)
	w.str("activationId", m.ActivationID)
	w.value("rootControllerIndex", m.RootControllerIndex)
	w.boolean("blocking", m.Blocking)
	if m.Content != nil {
		w.raw("content", m.Content)
	}
	w.strs("initArgs", m.InitArgs)
	if m.LockedArgs == nil {
		w.raw("lockedArgs", json.RawMessage("{}"))
	} else {
		w.value("lockedArgs", m.LockedArgs)
	}
	if m.Cause != "" {
		w.str("cause", m.Cause)
	}
	if m.TraceContext != nil {
		w.raw("traceContext", m.TraceContext)
	}
	return w.bytes()
}

// MarshalJSON is Marshal (compacted by encoding/json when nested).
func (m *ActivationMessage) MarshalJSON() ([]byte, error) { return m.Marshal() }

// CausedBySequence reports whether the message is a sequence component (cause set).
func (m *ActivationMessage) CausedBySequence() bool { return m.Cause != "" }

// isInitArg reports whether a content key is an init parameter.
func (m *ActivationMessage) isInitArg(key string) bool {
	for _, a := range m.InitArgs {
		if a == key {
			return true
		}
	}
	return false
}

// contentFields decodes an object content; nil for absent or array content.
func (m *ActivationMessage) contentFields() map[string]json.RawMessage {
	if kindOf(m.Content) != "object" {
		return nil
	}
	var f map[string]json.RawMessage
	if json.Unmarshal(m.Content, &f) != nil {
		return nil
	}
	return f
}

// RunValue is the "value" of the /run body: the content minus the initArgs keys, {} when there is no content,
// and an array content passed through unchanged (ContainerProxy.partitionArguments). Locked parameters are
// decrypted beforehand by Unlock (parameter encryption is off by default).
func (m *ActivationMessage) RunValue() json.RawMessage {
	switch kindOf(m.Content) {
	case "array":
		return m.Content
	case "object":
	default:
		return json.RawMessage("{}")
	}
	if len(m.InitArgs) == 0 {
		return m.Content
	}
	f := m.contentFields()
	for k := range f {
		if m.isInitArg(k) {
			delete(f, k)
		}
	}
	b, err := MarshalNoEscape(f)
	if err != nil {
		return json.RawMessage("{}")
	}
	return b
}

// InitEnv is the init parameters (content members named in initArgs), stringified per §6.1, that go into
// the /init env next to the __OW_* keys.
func (m *ActivationMessage) InitEnv() map[string]string {
	env := map[string]string{}
	if len(m.InitArgs) == 0 {
		return env
	}
	for k, v := range m.contentFields() {
		if m.isInitArg(k) {
			env[k] = StringifyEnvValue(v)
		}
	}
	return env
}

// HasLockedArgs reports whether some content values are encrypted (lockedArgs non-empty); Unlock decrypts
// them with the parameter-storage key.
func (m *ActivationMessage) HasLockedArgs() bool { return len(m.LockedArgs) > 0 }

// StringifyEnvValue converts a JSON value to an /init env string: strings as-is, null as "", booleans and numbers
// as their text, anything else compact-printed (ExecutableWhiskAction.containerInitializer). Numbers keep the text
// the controller sent, where Scala prints BigDecimal.toString; the two differ only for exponent forms ("1e3").
func StringifyEnvValue(v json.RawMessage) string {
	t := bytes.TrimSpace(v)
	switch kindOf(t) {
	case "string":
		var s string
		if json.Unmarshal(t, &s) == nil {
			return s
		}
	case "null", "nothing":
		return ""
	case "boolean", "number":
		return string(t)
	}
	var b bytes.Buffer
	if json.Compact(&b, t) != nil {
		return string(t)
	}
	return b.String()
}
