package wire

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
)

// object is a decoded JSON object whose member values are kept raw, so each field can be checked with a precise
// error and unknown members are tolerated.
type object struct {
	what   string
	fields map[string]json.RawMessage
}

func malformed(what, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrMalformed, what, fmt.Sprintf(format, args...))
}

func decodeObject(b []byte, what string) (object, error) {
	t := bytes.TrimSpace(b)
	if len(t) == 0 {
		return object{}, malformed(what, "empty input")
	}
	if t[0] != '{' {
		return object{}, malformed(what, "want a JSON object, got %s", kindOf(t))
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(t, &m); err != nil {
		return object{}, malformed(what, "%v", err)
	}
	return object{what: what, fields: m}, nil
}

// kindOf names the JSON type of a raw value for error messages.
func kindOf(raw []byte) string {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 {
		return "nothing"
	}
	switch t[0] {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	default:
		return "number"
	}
}

func isNull(raw json.RawMessage) bool {
	return bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
}

// get returns a member; a JSON null counts as absent (spray reads null Option fields as None).
func (o object) get(key string) (json.RawMessage, bool) {
	v, ok := o.fields[key]
	if !ok || isNull(v) {
		return nil, false
	}
	return v, true
}

func (o object) has(key string) bool { _, ok := o.fields[key]; return ok }

func (o object) missing(key string) error {
	return malformed(o.what, "missing required field %q", key)
}

func (o object) wrongType(key, want string, raw []byte) error {
	return malformed(o.what, "field %q: want %s, got %s", key, want, kindOf(raw))
}

func (o object) str(key string, required bool) (string, error) {
	v, ok := o.get(key)
	if !ok {
		if required {
			return "", o.missing(key)
		}
		return "", nil
	}
	var s string
	if kindOf(v) != "string" || json.Unmarshal(v, &s) != nil {
		return "", o.wrongType(key, "string", v)
	}
	return s, nil
}

func (o object) boolean(key string, required bool, dflt bool) (bool, error) {
	v, ok := o.get(key)
	if !ok {
		if required {
			return false, o.missing(key)
		}
		return dflt, nil
	}
	switch string(bytes.TrimSpace(v)) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, o.wrongType(key, "boolean", v)
}

// integer reads a JSON number with an integral value (1, 1.0 and 1e3 are accepted, 1.5 is not).
func (o object) integer(key string, required bool, dflt int64) (int64, error) {
	v, ok := o.get(key)
	if !ok {
		if required {
			return 0, o.missing(key)
		}
		return dflt, nil
	}
	n, ok := parseIntegral(v)
	if !ok {
		return 0, malformed(o.what, "field %q: want an integer, got %s", key, bytes.TrimSpace(v))
	}
	return n, nil
}

// intField is integer restricted to the int32 range (spray's Int).
func (o object) intField(key string, required bool, dflt int) (int, error) {
	n, err := o.integer(key, required, int64(dflt))
	if err != nil {
		return 0, err
	}
	if n < math.MinInt32 || n > math.MaxInt32 {
		return 0, malformed(o.what, "field %q: %d out of range", key, n)
	}
	return int(n), nil
}

func parseIntegral(raw []byte) (int64, bool) {
	t := string(bytes.TrimSpace(raw))
	if kindOf([]byte(t)) != "number" {
		return 0, false
	}
	if n, err := strconv.ParseInt(t, 10, 64); err == nil {
		return n, true
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || f != math.Trunc(f) || f < -(1<<63) || f >= 1<<63 {
		return 0, false
	}
	return int64(f), true
}

func (o object) strings(key string, required bool) ([]string, error) {
	v, ok := o.get(key)
	if !ok {
		if required {
			return nil, o.missing(key)
		}
		return nil, nil
	}
	var out []string
	if kindOf(v) != "array" || json.Unmarshal(v, &out) != nil {
		return nil, o.wrongType(key, "array of strings", v)
	}
	return out, nil
}

func (o object) stringMap(key string) (map[string]string, error) {
	v, ok := o.get(key)
	if !ok {
		return nil, nil
	}
	var out map[string]string
	if kindOf(v) != "object" || json.Unmarshal(v, &out) != nil {
		return nil, o.wrongType(key, "object of strings", v)
	}
	return out, nil
}

func (o object) sub(key string, required bool) (object, bool, error) {
	v, ok := o.get(key)
	if !ok {
		if required {
			return object{}, false, o.missing(key)
		}
		return object{}, false, nil
	}
	if kindOf(v) != "object" {
		return object{}, false, o.wrongType(key, "object", v)
	}
	sub, err := decodeObject(v, o.what+"."+key)
	return sub, err == nil, err
}

// writer builds a compact JSON object with a fixed member order and no HTML escaping. newWriter's is the
// reference codec: strings and values go through encoding/json. newFastWriter's (fastjson.go) appends
// strings and the hot value types itself, byte for byte the same.
type writer struct {
	buf   bytes.Buffer
	count int
	err   error
	fast  bool
}

func newWriter() *writer {
	w := &writer{}
	w.buf.WriteByte('{')
	return w
}

func (w *writer) key(k string) {
	if w.count > 0 {
		w.buf.WriteByte(',')
	}
	w.count++
	w.string(k)
	w.buf.WriteByte(':')
}

// string writes a JSON string.
func (w *writer) string(s string) {
	if w.fast {
		w.appendStr(s)
		return
	}
	w.buf.Write(encodeString(s))
}

func (w *writer) str(k, v string) { w.key(k); w.string(v) }

func (w *writer) num(k string, v int64) {
	w.key(k)
	if w.fast {
		w.buf.Grow(20)
		w.buf.Write(strconv.AppendInt(w.buf.AvailableBuffer(), v, 10))
		return
	}
	w.buf.WriteString(strconv.FormatInt(v, 10))
}

func (w *writer) boolean(k string, v bool) { w.key(k); w.buf.WriteString(strconv.FormatBool(v)) }

func (w *writer) nullable(k string, v *string) {
	if v == nil {
		w.key(k)
		w.buf.WriteString("null")
		return
	}
	w.str(k, *v)
}

// raw writes a JSON value compacted; an empty value is written as null.
func (w *writer) raw(k string, v json.RawMessage) {
	w.key(k)
	if len(bytes.TrimSpace(v)) == 0 {
		w.buf.WriteString("null")
		return
	}
	if err := json.Compact(&w.buf, v); err != nil && w.err == nil {
		w.err = fmt.Errorf("%w: field %q: %v", ErrMalformed, k, err)
	}
}

// verbatim writes the bytes exactly as given (the transid echo); they must be valid JSON.
func (w *writer) verbatim(k string, v json.RawMessage) {
	w.key(k)
	if !json.Valid(v) {
		if w.err == nil {
			w.err = fmt.Errorf("%w: field %q is not valid JSON", ErrMalformed, k)
		}
		w.buf.WriteString("null")
		return
	}
	w.buf.Write(v)
}

func (w *writer) strs(k string, v []string) {
	w.key(k)
	w.buf.WriteByte('[')
	for i, s := range v {
		if i > 0 {
			w.buf.WriteByte(',')
		}
		w.string(s)
	}
	w.buf.WriteByte(']')
}

func (w *writer) value(k string, v any) {
	w.key(k)
	if w.fast && w.valueFast(v) {
		return
	}
	b, err := MarshalNoEscape(v)
	if err != nil {
		if w.err == nil {
			w.err = fmt.Errorf("%w: field %q: %v", ErrMalformed, k, err)
		}
		w.buf.WriteString("null")
		return
	}
	w.buf.Write(b)
}

func (w *writer) bytes() ([]byte, error) {
	if w.err != nil {
		return nil, w.err
	}
	w.buf.WriteByte('}')
	return w.buf.Bytes(), nil
}

// MarshalNoEscape is json.Marshal without HTML escaping (OpenWhisk and CouchDB keep "<", ">" and "&" as
// they are) and without a trailing newline.
func MarshalNoEscape(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

func encodeString(s string) []byte {
	b, _ := MarshalNoEscape(s) // a string always encodes
	return b
}

type jsonRaw = json.RawMessage

func unmarshalArray(v json.RawMessage, dst *[]json.RawMessage) error {
	if kindOf(v) != "array" {
		return fmt.Errorf("not an array")
	}
	return json.Unmarshal(v, dst)
}
