package wire

import (
	"bytes"
	"encoding/json"
	"strconv"

	"github.com/nemo-edge/nemo/pool/proxy"
)

func parseActivationResponse(o object) (proxy.Response, error) {
	var r proxy.Response
	var err error
	if r.StatusCode, err = o.intField("statusCode", true, 0); err != nil {
		return r, err
	}
	if r.StatusCode < proxy.StatusSuccess || r.StatusCode > proxy.StatusWhiskError {
		return r, malformed(o.what, "statusCode %d is not 0..3", r.StatusCode)
	}
	if v, ok := o.get("result"); ok {
		r.Result = append(json.RawMessage(nil), bytes.TrimSpace(v)...)
	}
	if _, ok := o.get("size"); ok {
		n, err := o.intField("size", false, 0)
		if err != nil {
			return r, err
		}
		r.Size = &n
	}
	return r, nil
}

// KeyValue is one entry of parameters or annotations: {"key":k,"value":v} plus, for parameters,
// "init":true and "encryption":"aes-256" when set.
type KeyValue struct {
	Key        string
	Value      json.RawMessage
	Init       bool
	Encryption string
}

// KV builds a KeyValue from any Go value (marshalled without HTML escaping).
func KV(key string, value any) KeyValue {
	if b, ok := appendValue(nil, value); ok {
		return KeyValue{Key: key, Value: b}
	}
	return kvReference(key, value)
}

// kvReference is KV through encoding/json.
func kvReference(key string, value any) KeyValue {
	b, err := MarshalNoEscape(value)
	if err != nil {
		b = json.RawMessage("null")
	}
	return KeyValue{Key: key, Value: b}
}

// MarshalJSON writes key and value, plus init/encryption only when set.
func (kv KeyValue) MarshalJSON() ([]byte, error) {
	w := newWriter()
	kv.write(w)
	return w.bytes()
}

// write writes the members of MarshalJSON's object.
func (kv KeyValue) write(w *writer) {
	w.str("key", kv.Key)
	w.raw("value", kv.Value)
	if kv.Init {
		w.boolean("init", true)
	}
	if kv.Encryption != "" {
		w.str("encryption", kv.Encryption)
	}
}

func parseKeyValues(o object, field string) ([]KeyValue, error) {
	v, ok := o.get(field)
	if !ok {
		return nil, nil
	}
	var elems []json.RawMessage
	if kindOf(v) != "array" || json.Unmarshal(v, &elems) != nil {
		return nil, o.wrongType(field, "array of {key,value}", v)
	}
	out := make([]KeyValue, 0, len(elems))
	for i, e := range elems {
		eo, err := decodeObject(e, o.what+"."+field+"["+strconv.Itoa(i)+"]")
		if err != nil {
			return nil, err
		}
		var kv KeyValue
		if kv.Key, err = eo.str("key", true); err != nil {
			return nil, err
		}
		val, present := eo.fields["value"]
		if !present {
			return nil, eo.missing("value")
		}
		kv.Value = append(json.RawMessage(nil), bytes.TrimSpace(val)...)
		if kv.Init, err = eo.boolean("init", false, false); err != nil {
			return nil, err
		}
		if kv.Encryption, err = eo.str("encryption", false); err != nil {
			return nil, err
		}
		out = append(out, kv)
	}
	return out, nil
}

// lookup returns the value of the first entry with this key.
func lookup(kvs []KeyValue, key string) (json.RawMessage, bool) {
	for _, kv := range kvs {
		if kv.Key == key {
			return kv.Value, true
		}
	}
	return nil, false
}

// IsTruthy applies OpenWhisk's Parameters.isTruthy: false, 0, "" and null are falsy, every other value truthy, and
// a missing key yields dflt.
func IsTruthy(kvs []KeyValue, key string, dflt bool) bool {
	v, ok := lookup(kvs, key)
	if !ok {
		return dflt
	}
	t := bytes.TrimSpace(v)
	switch kindOf(t) {
	case "null", "nothing":
		return false
	case "boolean":
		return string(t) == "true"
	case "string":
		return string(t) != `""`
	case "number":
		f, err := strconv.ParseFloat(string(t), 64)
		return err != nil || f != 0
	}
	return true
}

// WhiskActivation is the activation record: the payload of Result/Combined acks and, with _id, entityType and
// updated, the activations DB document (WhiskActivation.scala, jsonFormat13).
type WhiskActivation struct {
	Namespace    string // invoking namespace
	Name         string // action simple name
	Subject      string
	ActivationID string
	Start        int64 // epoch ms
	End          int64 // epoch ms
	Cause        string
	Response     proxy.Response
	Logs         []string
	Version      string
	Publish      bool
	Annotations  []KeyValue
	Duration     *int64 // ms
}

// DocID is the activations DB id "<namespace>/<activationId>".
func (a *WhiskActivation) DocID() string { return a.Namespace + "/" + a.ActivationID }

// Annotation returns the raw value of an annotation.
func (a *WhiskActivation) Annotation(key string) (json.RawMessage, bool) {
	return lookup(a.Annotations, key)
}

// WithoutLogs is a copy with logs [] (the activation of a split ResultMessage).
func (a *WhiskActivation) WithoutLogs() *WhiskActivation {
	c := *a
	c.Logs = []string{}
	return &c
}

func (a *WhiskActivation) write(w *writer) {
	w.str("namespace", a.Namespace)
	w.str("name", a.Name)
	w.str("subject", a.Subject)
	w.str("activationId", a.ActivationID)
	w.num("start", a.Start)
	w.num("end", a.End)
	if a.Cause != "" {
		w.str("cause", a.Cause)
	}
	w.value("response", a.Response)
	w.strs("logs", a.Logs)
	w.str("version", a.Version)
	w.boolean("publish", a.Publish)
	w.key("annotations")
	w.buf.WriteByte('[')
	for i, kv := range a.Annotations {
		if i > 0 {
			w.buf.WriteByte(',')
		}
		if w.fast {
			c := w.beginObject()
			kv.write(w)
			w.endObject(c)
			continue
		}
		b, err := kv.MarshalJSON()
		if err != nil {
			if w.err == nil {
				w.err = err
			}
			continue
		}
		w.buf.Write(b)
	}
	w.buf.WriteByte(']')
	if a.Duration != nil {
		w.num("duration", *a.Duration)
	}
}

// MarshalJSON writes WhiskActivation.toJson: Option members (cause, duration) only when set.
func (a *WhiskActivation) MarshalJSON() ([]byte, error) {
	var w writer
	w.startFast(a.sizeHint())
	a.write(&w)
	if b, err := w.bytes(); err == nil {
		return b, nil
	}
	return a.marshalReference()
}

// marshalReference is MarshalJSON through the reference codec.
func (a *WhiskActivation) marshalReference() ([]byte, error) {
	w := newWriter()
	a.write(w)
	return w.bytes()
}

// Document is the activations DB document: the activation plus "_id" ("ns/aid"), "entityType":"activation" and
// "updated" (epoch ms when the record was built). It has no _rev: it is always a new document.
func (a *WhiskActivation) Document(updatedMillis int64) ([]byte, error) {
	var w writer
	w.startFast(a.sizeHint() + 96)
	if b, err := a.document(&w, updatedMillis); err == nil {
		return b, nil
	}
	return a.document(newWriter(), updatedMillis)
}

func (a *WhiskActivation) document(w *writer, updatedMillis int64) ([]byte, error) {
	a.write(w)
	w.str("_id", a.DocID())
	w.str("entityType", "activation")
	w.num("updated", updatedMillis)
	return w.bytes()
}

// ParseWhiskActivation reads an activation (ack payload or DB document; DB members are ignored here).
func ParseWhiskActivation(b []byte) (*WhiskActivation, error) {
	o, err := decodeObject(b, "activation")
	if err != nil {
		return nil, err
	}
	return parseWhiskActivation(o)
}

// ParseActivationDocument reads an activations DB document and returns its "updated" (0 when absent). When present,
// entityType must be "activation" and _id must be "<namespace>/<activationId>".
func ParseActivationDocument(b []byte) (*WhiskActivation, int64, error) {
	o, err := decodeObject(b, "activation document")
	if err != nil {
		return nil, 0, err
	}
	a, err := parseWhiskActivation(o)
	if err != nil {
		return nil, 0, err
	}
	et, err := o.str("entityType", false)
	if err != nil {
		return nil, 0, err
	}
	if et != "" && et != "activation" {
		return nil, 0, malformed(o.what, "entityType %q, want \"activation\"", et)
	}
	id, err := o.str("_id", false)
	if err != nil {
		return nil, 0, err
	}
	if id != "" && id != a.DocID() {
		return nil, 0, malformed(o.what, "_id %q does not match %q", id, a.DocID())
	}
	updated, err := o.integer("updated", false, 0)
	if err != nil {
		return nil, 0, err
	}
	return a, updated, nil
}

func parseWhiskActivation(o object) (*WhiskActivation, error) {
	a := &WhiskActivation{}
	var err error
	if a.Namespace, err = o.str("namespace", true); err != nil {
		return nil, err
	}
	if a.Name, err = o.str("name", true); err != nil {
		return nil, err
	}
	if a.Subject, err = o.str("subject", true); err != nil {
		return nil, err
	}
	if a.ActivationID, err = o.str("activationId", true); err != nil {
		return nil, err
	}
	if err := checkActivationID(o.what+".activationId", a.ActivationID); err != nil {
		return nil, err
	}
	if a.Start, err = o.integer("start", true, 0); err != nil {
		return nil, err
	}
	if a.End, err = o.integer("end", true, 0); err != nil {
		return nil, err
	}
	if a.Cause, err = o.str("cause", false); err != nil {
		return nil, err
	}
	resp, _, err := o.sub("response", true)
	if err != nil {
		return nil, err
	}
	if a.Response, err = parseActivationResponse(resp); err != nil {
		return nil, err
	}
	if a.Logs, err = o.strings("logs", true); err != nil {
		return nil, err
	}
	if a.Version, err = o.str("version", true); err != nil {
		return nil, err
	}
	if a.Publish, err = o.boolean("publish", true, false); err != nil {
		return nil, err
	}
	if !o.has("annotations") {
		return nil, o.missing("annotations")
	}
	if a.Annotations, err = parseKeyValues(o, "annotations"); err != nil {
		return nil, err
	}
	if _, ok := o.get("duration"); ok {
		d, err := o.integer("duration", false, 0)
		if err != nil {
			return nil, err
		}
		a.Duration = &d
	}
	return a, nil
}

// AnnotationInput is what the invoker knows when it builds an activation record.
type AnnotationInput struct {
	Limits           ActionLimits
	Path             string // action.fullyQualifiedName(false): "guest/hello", "guest/pkg/hello"
	Kind             string // exec.kind, e.g. "nodejs:20" or "blackbox"
	TimedOut         bool   // run duration >= action timeout
	CausedBySequence bool   // msg.cause set
	InitTimeMs       *int64 // only when /init ran
	WaitTimeMs       int64  // transid start → start of /init (or of /run when warm)
	Binding          string // msg.action.binding, "" when absent
}

// Annotations builds the record's annotations in OpenWhisk's order: limits, path, kind, timeout, causedBy,
// initTime, waitTime, binding (ContainerProxy.constructWhiskActivation).
func Annotations(in AnnotationInput) []KeyValue { return annotationsFast(in) }

// annotationsReference is Annotations through encoding/json.
func annotationsReference(in AnnotationInput) []KeyValue {
	KV := kvReference
	out := []KeyValue{
		KV("limits", in.Limits),
		KV("path", in.Path),
		KV("kind", in.Kind),
		KV("timeout", in.TimedOut),
	}
	if in.CausedBySequence {
		out = append(out, KV("causedBy", "sequence"))
	}
	if in.InitTimeMs != nil {
		out = append(out, KV("initTime", *in.InitTimeMs))
	}
	out = append(out, KV("waitTime", in.WaitTimeMs))
	if in.Binding != "" {
		out = append(out, KV("binding", in.Binding))
	}
	return out
}

// FallbackActivation is the record for messages that never reach a container (fetch failure, blacklist,
// InvokerReactive.generateFallbackActivation): start = end = now, duration 0, annotations path (the message's
// action without version) and kind "unknown", plus causedBy for sequence components.
func FallbackActivation(msg *ActivationMessage, resp proxy.Response, nowMillis int64) *WhiskActivation {
	zero := int64(0)
	version := msg.Action.Version
	if version == "" {
		version = "0.0.1" // SemVer() default
	}
	ann := []KeyValue{KV("path", msg.Action.DocID()), KV("kind", "unknown")}
	if msg.CausedBySequence() {
		ann = append(ann, KV("causedBy", "sequence"))
	}
	return &WhiskActivation{
		Namespace:    msg.User.Namespace.Name,
		Name:         msg.Action.Name,
		Subject:      msg.User.Subject,
		ActivationID: msg.ActivationID,
		Start:        nowMillis,
		End:          nowMillis,
		Cause:        msg.Cause,
		Response:     resp,
		Logs:         []string{},
		Version:      version,
		Publish:      false,
		Annotations:  ann,
		Duration:     &zero,
	}
}
