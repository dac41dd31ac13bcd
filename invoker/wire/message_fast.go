package wire

import (
	"bytes"
	"encoding/json"
	"strings"
)

// messageScanner reads an ActivationMessage's members from a valid JSON text. Every string and raw member
// is a copy of its own, as the reference parser makes them: a member kept after the activation (a name in
// the pool's keys, a transid) must not hold the whole record, whose content may be a megabyte.
type messageScanner struct {
	scanner
}

func (m *messageScanner) str(start, end int) string { return string(m.b[start:end]) }

func (m *messageScanner) rawValue() json.RawMessage {
	start, end := m.value()
	return append(json.RawMessage(nil), m.b[start:end]...)
}

// plain reads a plain string member value.
func (m *messageScanner) plain() (string, bool) {
	start, end, ok := m.plainString()
	if !ok {
		return "", false
	}
	return m.str(start, end), true
}

// strings reads an array of plain strings ([] gives an empty, non-nil slice, as encoding/json does).
func (m *messageScanner) strings() ([]string, bool) {
	if !m.enter('[') {
		return nil, false
	}
	out := make([]string, 0, 4)
	for m.element() {
		s, ok := m.plain()
		if !ok {
			return nil, false
		}
		out = append(out, s)
	}
	return out, true
}

// parseActivationMessageFast parses the usual shape of an ActivationMessage without encoding/json's
// reflection. ok is false whenever it is not sure to produce what the reference parser produces (invalid
// JSON, escapes, duplicate members, a member of an unexpected type, an action given as a string…); the
// caller then takes the reference parser.
func parseActivationMessageFast(b []byte) (*ActivationMessage, bool) {
	t := bytes.TrimSpace(b)
	if len(t) == 0 || t[0] != '{' || !json.Valid(t) {
		return nil, false
	}
	ms := &messageScanner{scanner: scanner{b: t}}
	msg := &ActivationMessage{}
	if !ms.enter('{') {
		return nil, false
	}
	seen := 0
	for {
		key, more, ok := ms.member()
		if !ok {
			return nil, false
		}
		if !more {
			break
		}
		var bit int
		switch string(key) {
		case "transid":
			bit = fTransid
		case "action":
			bit = fAction
		case "revision":
			bit = fRevision
		case "user":
			bit = fUser
		case "activationId":
			bit = fActivationID
		case "rootControllerIndex":
			bit = fRoot
		case "blocking":
			bit = fBlocking
		case "content":
			bit = fContent
		case "initArgs":
			bit = fInitArgs
		case "lockedArgs":
			bit = fLockedArgs
		case "cause":
			bit = fCause
		case "traceContext":
			bit = fTrace
		default:
			ms.value() // unknown members are ignored, as by the reference parser
			continue
		}
		if seen&bit != 0 {
			return nil, false // a repeated member: encoding/json keeps the last one
		}
		seen |= bit
		if ms.isNull() {
			if bit != fRevision && bit != fContent && bit != fInitArgs && bit != fLockedArgs &&
				bit != fCause && bit != fTrace {
				return nil, false // a required member given as null
			}
			ms.value()
			continue
		}
		if !ms.member1(msg, bit) {
			return nil, false
		}
	}
	const required = fTransid | fAction | fUser | fActivationID | fRoot | fBlocking
	if seen&required != required || msg.TransID.Raw == nil {
		return nil, false
	}
	return msg, true
}

// The members of an ActivationMessage, as bits of a set.
const (
	fTransid = 1 << iota
	fAction
	fRevision
	fUser
	fActivationID
	fRoot
	fBlocking
	fContent
	fInitArgs
	fLockedArgs
	fCause
	fTrace
)

// member1 reads the value of one known, non-null member into msg.
func (m *messageScanner) member1(msg *ActivationMessage, bit int) bool {
	var ok bool
	switch bit {
	case fTransid:
		ok = m.transid(msg)
	case fAction:
		msg.Action, ok = m.fqn()
	case fRevision:
		var rev string
		if rev, ok = m.plain(); ok {
			msg.Revision = &rev
		}
	case fUser:
		msg.User, ok = m.identity()
	case fActivationID:
		msg.ActivationID, ok = m.plain()
		ok = ok && ValidActivationID(msg.ActivationID)
	case fRoot:
		msg.RootControllerIndex, ok = m.controller()
	case fBlocking:
		start, end := m.value()
		switch string(m.b[start:end]) {
		case "true":
			msg.Blocking, ok = true, true
		case "false":
			ok = true
		}
	case fContent:
		if c := m.peek(); c == '{' || c == '[' {
			msg.Content, ok = m.rawValue(), true
		}
	case fInitArgs:
		msg.InitArgs, ok = m.strings()
	case fLockedArgs:
		msg.LockedArgs, ok = m.stringMap()
	case fCause:
		msg.Cause, ok = m.plain()
		ok = ok && (msg.Cause == "" || ValidActivationID(msg.Cause))
	case fTrace:
		msg.TraceContext, ok = m.rawValue(), true
	}
	return ok
}

// transid accepts ["<id>", <integral start millis>, …] and keeps its bytes.
func (m *messageScanner) transid(msg *ActivationMessage) bool {
	m.ws()
	start := m.i
	if !m.enter('[') || m.peek() != '"' {
		return false
	}
	m.value()
	if !m.element() {
		return false
	}
	ns, ne := m.value()
	if _, ok := parseIntegral(m.b[ns:ne]); !ok {
		return false
	}
	for m.element() {
		m.value()
	}
	msg.TransID = TransID{Raw: append(json.RawMessage(nil), m.b[start:m.i]...)}
	return true
}

// fqn reads the object form of a FullyQualifiedName (the string form takes the reference parser).
func (m *messageScanner) fqn() (FullyQualifiedName, bool) {
	var f FullyQualifiedName
	if !m.enter('{') {
		return f, false
	}
	var seen [4]bool
	for {
		key, more, ok := m.member()
		if !ok {
			return f, false
		}
		if !more {
			break
		}
		var dst *string
		var idx int
		switch string(key) {
		case "path":
			dst, idx = &f.Path, 0
		case "name":
			dst, idx = &f.Name, 1
		case "version":
			dst, idx = &f.Version, 2
		case "binding":
			dst, idx = &f.Binding, 3
		default:
			m.value()
			continue
		}
		if seen[idx] {
			return f, false
		}
		seen[idx] = true
		if m.isNull() {
			if idx < 2 {
				return f, false
			}
			m.value()
			continue
		}
		if *dst, ok = m.plain(); !ok {
			return f, false
		}
	}
	if !seen[0] || !seen[1] || strings.Trim(f.Path, "/") == "" || f.Name == "" || strings.Contains(f.Name, "/") {
		return f, false
	}
	f.Path = strings.TrimPrefix(f.Path, "/")
	return f, true
}

// identity reads the user member.
func (m *messageScanner) identity() (Identity, bool) {
	var id Identity
	if !m.enter('{') {
		return id, false
	}
	var seen [5]bool
	for {
		key, more, ok := m.member()
		if !ok {
			return id, false
		}
		if !more {
			break
		}
		var idx int
		switch string(key) {
		case "subject":
			idx = 0
		case "namespace":
			idx = 1
		case "authkey":
			idx = 2
		case "rights":
			idx = 3
		case "limits":
			idx = 4
		default:
			m.value()
			continue
		}
		if seen[idx] {
			return id, false
		}
		seen[idx] = true
		if m.isNull() {
			if idx < 3 {
				return id, false
			}
			m.value()
			continue
		}
		switch idx {
		case 0:
			id.Subject, ok = m.plain()
		case 1:
			id.Namespace, ok = m.namespace()
		case 2:
			if m.peek() != '{' {
				return id, false
			}
			id.AuthKey = m.rawValue()
		case 3:
			id.Rights, ok = m.strings()
		case 4:
			id.Limits, ok = m.limits()
		}
		if !ok {
			return id, false
		}
	}
	return id, seen[0] && seen[1] && seen[2]
}

func (m *messageScanner) namespace() (Namespace, bool) {
	var ns Namespace
	if !m.enter('{') {
		return ns, false
	}
	var seen [2]bool
	for {
		key, more, ok := m.member()
		if !ok {
			return ns, false
		}
		if !more {
			break
		}
		var dst *string
		var idx int
		switch string(key) {
		case "name":
			dst, idx = &ns.Name, 0
		case "uuid":
			dst, idx = &ns.UUID, 1
		default:
			m.value()
			continue
		}
		if seen[idx] {
			return ns, false
		}
		seen[idx] = true
		if *dst, ok = m.plain(); !ok {
			return ns, false
		}
	}
	return ns, seen[0] && seen[1]
}

// limits keeps every member raw, as parseUserLimits does, and decodes storeActivations.
func (m *messageScanner) limits() (UserLimits, bool) {
	var l UserLimits
	if !m.enter('{') {
		return l, false
	}
	l.Fields = map[string]json.RawMessage{}
	for {
		key, more, ok := m.member()
		if !ok {
			return l, false
		}
		if !more {
			break
		}
		k := m.str(m.keyStart, m.keyStart+len(key))
		if _, dup := l.Fields[k]; dup {
			return l, false
		}
		v := m.rawValue()
		l.Fields[k] = v
		if k == "storeActivations" {
			switch string(v) {
			case "null":
			case "true", "false":
				b := string(v) == "true"
				l.StoreActivations = &b
			default:
				return l, false
			}
		}
	}
	return l, true
}

// controller reads rootControllerIndex.
func (m *messageScanner) controller() (ControllerInstanceID, bool) {
	var c ControllerInstanceID
	if !m.enter('{') {
		return c, false
	}
	var seen [2]bool
	for {
		key, more, ok := m.member()
		if !ok {
			return c, false
		}
		if !more {
			break
		}
		var dst *string
		var idx int
		switch string(key) {
		case "asString":
			dst, idx = &c.AsString, 0
		case "instanceType":
			dst, idx = &c.InstanceType, 1
		default:
			m.value()
			continue
		}
		if seen[idx] {
			return c, false
		}
		seen[idx] = true
		if m.isNull() {
			if idx == 0 {
				return c, false
			}
			m.value()
			continue
		}
		if *dst, ok = m.plain(); !ok {
			return c, false
		}
	}
	if !seen[0] || !topicSafeName(c.AsString) {
		return c, false
	}
	if c.InstanceType == "" {
		c.InstanceType = "controller"
	}
	return c, true
}

// topicSafeName is topicSafe.MatchString without the regexp.
func topicSafeName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// stringMap reads an object of plain strings ({} gives an empty, non-nil map, as encoding/json does).
func (m *messageScanner) stringMap() (map[string]string, bool) {
	if !m.enter('{') {
		return nil, false
	}
	out := map[string]string{}
	for {
		key, more, ok := m.member()
		if !ok {
			return nil, false
		}
		if !more {
			break
		}
		k := m.str(m.keyStart, m.keyStart+len(key))
		if _, dup := out[k]; dup {
			return nil, false
		}
		if out[k], ok = m.plain(); !ok {
			return nil, false
		}
	}
	return out, true
}
