package wire

import (
	"bytes"
	"encoding/json"
	"math/big"
	"strconv"
	"strings"
)

// Event types of EventMessage.
const (
	EventTypeActivation = "Activation"
	EventTypeMetric     = "Metric"
)

// ActivationEventBody is the "Activation" body of a user event (Message.scala, Activation).
type ActivationEventBody struct {
	Name                  string // the path annotation, e.g. "guest/hello"
	ActivationID          string
	StatusCode            int
	Duration              int64 // ms
	WaitTime              int64 // ms
	InitTime              int64 // ms, 0 for warm starts
	Kind                  string
	Conductor             bool
	Memory                int // MB
	CausedBy              string
	Size                  *int
	UserDefinedStatusCode *int
}

// MetricEventBody is the controller's "Metric" body; the invoker never sends one.
type MetricEventBody struct {
	MetricName  string
	MetricValue int64
}

// EventMessage is a user event on topic "events". Exactly one of Activation and Metric is set.
type EventMessage struct {
	Source     string // "invoker<N>"
	Activation *ActivationEventBody
	Metric     *MetricEventBody
	Subject    string
	Namespace  string
	UserID     string // msg.user.namespace.uuid
	EventType  string
	Timestamp  int64 // epoch ms
}

func (b *ActivationEventBody) write(w *writer) {
	w.str("name", b.Name)
	w.str("activationId", b.ActivationID)
	w.num("statusCode", int64(b.StatusCode))
	w.num("duration", b.Duration)
	w.num("waitTime", b.WaitTime)
	w.num("initTime", b.InitTime)
	w.str("kind", b.Kind)
	w.boolean("conductor", b.Conductor)
	w.num("memory", int64(b.Memory))
	if b.CausedBy != "" {
		w.str("causedBy", b.CausedBy)
	}
	if b.Size != nil {
		w.num("size", int64(*b.Size))
	}
	if b.UserDefinedStatusCode != nil {
		w.num("userDefinedStatusCode", int64(*b.UserDefinedStatusCode))
	}
}

// Marshal writes the event compactly.
func (e *EventMessage) Marshal() ([]byte, error) {
	var w writer
	w.startFast(320 + len(e.Source) + len(e.Subject) + len(e.Namespace) + len(e.UserID))
	if b, err := e.marshal(&w); err == nil {
		return b, nil
	}
	return e.marshal(newWriter()) // the reference codec says what is wrong
}

func (e *EventMessage) marshal(w *writer) ([]byte, error) {
	w.str("source", e.Source)
	w.key("body")
	if w.fast {
		c := w.beginObject()
		switch {
		case e.Activation != nil:
			e.Activation.write(w)
		case e.Metric != nil:
			w.str("metricName", e.Metric.MetricName)
			w.num("metricValue", e.Metric.MetricValue)
		default:
			return nil, malformed("event message", "no body")
		}
		w.endObject(c)
		return e.writeTail(w)
	}
	bw := newWriter()
	switch {
	case e.Activation != nil:
		e.Activation.write(bw)
	case e.Metric != nil:
		bw.str("metricName", e.Metric.MetricName)
		bw.num("metricValue", e.Metric.MetricValue)
	default:
		return nil, malformed("event message", "no body")
	}
	bb, err := bw.bytes()
	if err != nil {
		return nil, err
	}
	w.buf.Write(bb)
	return e.writeTail(w)
}

// writeTail writes the members after the body.
func (e *EventMessage) writeTail(w *writer) ([]byte, error) {
	w.str("subject", e.Subject)
	w.str("namespace", e.Namespace)
	w.str("userId", e.UserID)
	w.str("eventType", e.EventType)
	w.num("timestamp", e.Timestamp)
	return w.bytes()
}

// ActivationEvent builds the user event sent with a slot-freeing ack (Activation.from). ok is false, and no event
// must be sent, when the activation lacks a string "path" or "kind" annotation.
func ActivationEvent(a *WhiskActivation, source string, userID string, now int64) (*EventMessage, bool) {
	path, ok := annotationString(a.Annotations, "path")
	if !ok {
		return nil, false
	}
	kind, ok := annotationString(a.Annotations, "kind")
	if !ok {
		return nil, false
	}
	body := &ActivationEventBody{
		Name:                  path,
		ActivationID:          a.ActivationID,
		StatusCode:            a.Response.StatusCode,
		WaitTime:              nonNegative(annotationInt(a.Annotations, "waitTime")),
		InitTime:              nonNegative(annotationInt(a.Annotations, "initTime")),
		Kind:                  kind,
		Size:                  a.Response.Size,
		UserDefinedStatusCode: UserDefinedStatusCode(a.Response.Result),
	}
	if a.Duration != nil {
		body.Duration = nonNegative(*a.Duration)
	}
	if v, ok := lookup(a.Annotations, "conductor"); ok && string(bytes.TrimSpace(v)) == "true" {
		body.Conductor = true
	}
	if v, ok := lookup(a.Annotations, "limits"); ok {
		body.Memory = limitsMemory(v)
	}
	if c, ok := annotationString(a.Annotations, "causedBy"); ok {
		body.CausedBy = c
	}
	return &EventMessage{
		Source:     source,
		Activation: body,
		Subject:    a.Subject,
		Namespace:  a.Namespace,
		UserID:     userID,
		EventType:  EventTypeActivation,
		Timestamp:  now,
	}, true
}

func nonNegative(n int64) int64 {
	if n < 0 {
		return 0
	}
	return n
}

func annotationString(kvs []KeyValue, key string) (string, bool) {
	v, ok := lookup(kvs, key)
	if !ok {
		return "", false
	}
	if s, ok := plainJSONString(v); ok {
		return s, true
	}
	return annotationStringReference(v)
}

// annotationStringReference is annotationString's decoding through encoding/json.
func annotationStringReference(v json.RawMessage) (string, bool) {
	if kindOf(v) != "string" {
		return "", false
	}
	var s string
	if json.Unmarshal(v, &s) != nil {
		return "", false
	}
	return s, true
}

func annotationInt(kvs []KeyValue, key string) int64 {
	v, ok := lookup(kvs, key)
	if !ok {
		return 0
	}
	n, _ := parseIntegral(v)
	return n
}

// UserDefinedStatusCode extracts the status code an action reported: result.error.statusCode, else
// result.statusCode. An integer (number or numeric string) is kept as a 32-bit int, any other value becomes 400,
// and no such member gives nil. OpenWhisk's reader throws (dropping the event) when the result is absent or not an
// object; here that case simply yields nil.
func UserDefinedStatusCode(result json.RawMessage) *int {
	if code, ok := userDefinedStatusCodeFast(result); ok {
		return code
	}
	return userDefinedStatusCodeReference(result)
}

// userDefinedStatusCodeReference is UserDefinedStatusCode through encoding/json.
func userDefinedStatusCodeReference(result json.RawMessage) *int {
	var top map[string]json.RawMessage
	if kindOf(result) != "object" || json.Unmarshal(result, &top) != nil {
		return nil
	}
	var code json.RawMessage
	found := false
	if e, ok := top["error"]; ok && kindOf(e) == "object" {
		var eo map[string]json.RawMessage
		if json.Unmarshal(e, &eo) == nil {
			code, found = eo["statusCode"]
		}
	}
	if !found {
		code, found = top["statusCode"]
	}
	if !found {
		return nil
	}
	n := statusCodeValue(code)
	return &n
}

// statusCodeValue converts like spray's BigInt reader followed by intValue: a JSON number is truncated to an
// integer, a string must be a decimal integer; the low 32 bits are kept. Anything else is 400 (BadRequest).
func statusCodeValue(raw json.RawMessage) int {
	const badRequest = 400
	t := strings.TrimSpace(string(raw))
	var bi *big.Int
	switch kindOf([]byte(t)) {
	case "number":
		if len(t) > 400 {
			return badRequest
		}
		if i := strings.IndexAny(t, "eE"); i >= 0 {
			// a huge exponent makes big.Rat allocate 10^exp; the low 32 bits of such values are 0 anyway
			// (mantissa·10^k with k ≥ 32 is a multiple of 2^32; with k ≤ -1000 the value truncates to 0)
			if exp, err := strconv.Atoi(t[i+1:]); err != nil || exp > 1000 || exp < -1000 {
				return 0
			}
		}
		r, ok := new(big.Rat).SetString(t)
		if !ok {
			return badRequest
		}
		bi = new(big.Int).Quo(r.Num(), r.Denom())
	case "string":
		var s string
		if json.Unmarshal([]byte(t), &s) != nil || len(s) > 400 {
			return badRequest
		}
		s = strings.TrimPrefix(s, "+")
		if s == "" || s[0] == '+' {
			return badRequest
		}
		var ok bool
		if bi, ok = new(big.Int).SetString(s, 10); !ok {
			return badRequest
		}
	default:
		return badRequest
	}
	low := new(big.Int).And(bi, big.NewInt(0xffffffff)).Int64()
	return int(int32(uint32(low)))
}

// limitsMemory is the "memory" member of a limits annotation, 0 when it has none or it is not an int.
func limitsMemory(v json.RawMessage) int {
	if mem, ok := limitsMemoryFast(v); ok {
		return mem
	}
	return limitsMemoryReference(v)
}

// limitsMemoryReference is limitsMemory through encoding/json.
func limitsMemoryReference(v json.RawMessage) int {
	lo, err := decodeObject(v, "limits")
	if err != nil {
		return 0
	}
	mem, err := lo.intField("memory", true, 0)
	if err != nil {
		return 0
	}
	return mem
}
