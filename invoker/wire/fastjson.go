package wire

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/nemo-edge/nemo/pool/proxy"
)

// Fast paths of the hot codecs (docs/allocations.md). Each writes, without reflection, exactly the bytes the
// reference codec (encoding/json, through the writer in reference mode and MarshalNoEscape) writes; the fuzz
// tests in fastjson_test.go compare the two on every input they find. Where a fast path meets something it
// does not handle, it reports it and the caller takes the reference codec.

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string the way encoding/json does without HTML escaping: '"' and '\\'
// backslash-escaped, \b \f \n \r \t by name, other control characters as \u00XX, each byte of an invalid
// UTF-8 sequence as \ufffd, and U+2028 / U+2029 as \u2028 / \u2029.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		if c == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		if c == '\u2028' || c == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[c&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// newFastWriter is a writer whose strings and known values are appended directly (no encoding/json).
func newFastWriter(sizeHint int) *writer {
	w := &writer{}
	w.startFast(sizeHint)
	return w
}

// startFast makes a zero writer a fast one (a writer declared on the stack saves an allocation).
func (w *writer) startFast(sizeHint int) {
	w.fast = true
	w.buf.Grow(sizeHint)
	w.buf.WriteByte('{')
}

// appendStr appends s as a JSON string to the buffer, growing it first so no intermediate slice is made.
func (w *writer) appendStr(s string) {
	w.buf.Grow(len(s) + 2)
	w.buf.Write(appendString(w.buf.AvailableBuffer(), s))
}

// byteSize writes FormatByteSize(n) as a string member ("<n> B" needs no escaping).
func (w *writer) byteSize(k string, n int64) {
	if !w.fast {
		w.str(k, FormatByteSize(n))
		return
	}
	w.key(k)
	w.buf.Grow(24)
	b := append(w.buf.AvailableBuffer(), '"')
	b = strconv.AppendInt(b, n, 10)
	w.buf.Write(append(b, ' ', 'B', '"'))
}

// beginObject opens a nested object (after its key) and returns the enclosing member count for endObject.
func (w *writer) beginObject() int {
	c := w.count
	w.count = 0
	w.buf.WriteByte('{')
	return c
}

func (w *writer) endObject(enclosing int) {
	w.buf.WriteByte('}')
	w.count = enclosing
}

// valueFast writes the values the hot codecs embed without reflection. It reports false for any other type
// (the caller then uses MarshalNoEscape).
func (w *writer) valueFast(v any) bool {
	switch v := v.(type) {
	case proxy.Response:
		w.response(v)
	case InvokerInstanceID:
		c := w.beginObject()
		v.write(w)
		w.endObject(c)
	default:
		w.buf.Grow(64)
		b, ok := appendValue(w.buf.AvailableBuffer(), v)
		if !ok {
			return false
		}
		w.buf.Write(b)
	}
	return true
}

// appendValue appends the JSON of the scalar and limits values annotations carry, as MarshalNoEscape
// writes them. It reports false for any other type.
func appendValue(dst []byte, v any) ([]byte, bool) {
	switch v := v.(type) {
	case string:
		return appendString(dst, v), true
	case bool:
		return strconv.AppendBool(dst, v), true
	case int64:
		return strconv.AppendInt(dst, v, 10), true
	case int:
		return strconv.AppendInt(dst, int64(v), 10), true
	case ActionLimits:
		return appendLimits(dst, v), true
	}
	return dst, false
}

// appendLimits appends ActionLimits.MarshalJSON's object.
func appendLimits(dst []byte, l ActionLimits) []byte {
	dst = append(dst, `{"timeout":`...)
	dst = strconv.AppendInt(dst, int64(l.TimeoutMs), 10)
	dst = append(dst, `,"memory":`...)
	dst = strconv.AppendInt(dst, int64(l.MemoryMB), 10)
	dst = append(dst, `,"logs":`...)
	dst = strconv.AppendInt(dst, int64(l.LogsMB), 10)
	dst = append(dst, `,"concurrency":`...)
	dst = strconv.AppendInt(dst, int64(l.Concurrency), 10)
	if l.Instances != 0 {
		dst = append(dst, `,"instances":`...)
		dst = strconv.AppendInt(dst, int64(l.Instances), 10)
	}
	return append(dst, '}')
}

// annotationsFast is Annotations with every value appended to one buffer (each entry's Value a capped
// slice of it) instead of one encoding/json pass per value.
func annotationsFast(in AnnotationInput) []KeyValue {
	out := make([]KeyValue, 0, 8)
	buf := make([]byte, 0, 160+len(in.Path)+len(in.Kind)+len(in.Binding))
	start := 0
	add := func(key string) {
		out = append(out, KeyValue{Key: key, Value: buf[start:len(buf):len(buf)]})
		start = len(buf)
	}
	buf = appendLimits(buf, in.Limits)
	add("limits")
	buf = appendString(buf, in.Path)
	add("path")
	buf = appendString(buf, in.Kind)
	add("kind")
	buf = strconv.AppendBool(buf, in.TimedOut)
	add("timeout")
	if in.CausedBySequence {
		buf = append(buf, `"sequence"`...)
		add("causedBy")
	}
	if in.InitTimeMs != nil {
		buf = strconv.AppendInt(buf, *in.InitTimeMs, 10)
		add("initTime")
	}
	buf = strconv.AppendInt(buf, in.WaitTimeMs, 10)
	add("waitTime")
	if in.Binding != "" {
		buf = appendString(buf, in.Binding)
		add("binding")
	}
	return out
}

// response writes r as proxy.Response.MarshalJSON does (statusCode, then result unless absent or null,
// then size), the result compacted.
func (w *writer) response(r proxy.Response) {
	if r.Result != nil && len(bytes.TrimSpace(r.Result)) == 0 && w.err == nil {
		// MarshalJSON refuses an empty result; the reference codec gives its error.
		w.err = fmt.Errorf("%w: empty response result", ErrMalformed)
	}
	c := w.beginObject()
	w.num("statusCode", int64(r.StatusCode))
	if r.Result != nil && !isNull(r.Result) {
		w.raw("result", r.Result)
	}
	if r.Size != nil {
		w.num("size", int64(*r.Size))
	}
	w.endObject(c)
}

// sizeHint is a generous estimate of the record's JSON size, so the fast writer grows its buffer once.
func (a *WhiskActivation) sizeHint() int {
	n := 384 + len(a.Namespace) + len(a.Name) + len(a.Subject) + len(a.Version) + len(a.Response.Result)
	for _, l := range a.Logs {
		n += len(l) + 8
	}
	for _, kv := range a.Annotations {
		n += len(kv.Key) + len(kv.Value) + 24
	}
	return n
}

// ackSizeHint estimates an ack's JSON size: the transid, the instance id and the activation, if any.
func ackSizeHint(tid TransID, a *WhiskActivation) int {
	n := 192 + len(tid.Raw)
	if a != nil {
		n += a.sizeHint()
	}
	return n
}

// runContextKeys are contextEnv's fixed keys, in its order.
var runContextKeys = [...]string{"namespace", "action_name", "action_version", "activation_id", "transaction_id", "deadline"}

// runBodyFast is RunBody without encoding/json: the authkey's members read with the scanner, the context
// values appended. ok is false when the authkey is not a plain object (the reference codec decides then).
func runBodyFast(msg *ActivationMessage, action *Action, deadlineMillis int64) ([]byte, bool) {
	type member struct {
		key   string
		value json.RawMessage
	}
	var auth []member
	if ak := msg.User.AuthKey; action.ProvideAPIKey() && len(ak) > 0 {
		if !json.Valid(ak) {
			return nil, false
		}
		s := scanner{b: ak}
		if !s.enter('{') {
			return nil, false
		}
		auth = make([]member, 0, 2)
		for {
			key, more, ok := s.member()
			if !ok {
				return nil, false
			}
			if !more {
				break
			}
			for _, m := range auth {
				if m.key == string(key) {
					return nil, false // a repeated member: encoding/json keeps the last one
				}
			}
			start, end := s.value()
			auth = append(auth, member{key: string(key), value: ak[start:end]})
		}
		slices.SortFunc(auth, func(a, b member) int { return strings.Compare(a.key, b.key) })
	}
	tid := msg.TransID.ID()
	var written [len(runContextKeys)]bool
	w := newFastWriter(len(msg.Content) + 256 + len(msg.User.AuthKey) + len(msg.User.Namespace.Name) + 2*len(msg.Action.Path) +
		len(msg.Action.Name) + len(msg.Action.Version) + len(tid))
	writeContext := func(i int) {
		written[i] = true
		k := runContextKeys[i]
		switch i {
		case 0:
			w.str(k, msg.User.Namespace.Name)
		case 1:
			w.str(k, msg.Action.WithLeadingSlash())
		case 2:
			if msg.Action.Version == "" {
				w.key(k)
				w.buf.WriteString("null")
			} else {
				w.str(k, msg.Action.Version)
			}
		case 3:
			w.str(k, msg.ActivationID)
		case 4:
			w.str(k, tid)
		case 5:
			w.key(k)
			w.buf.WriteByte('"')
			w.buf.Write(strconv.AppendInt(w.buf.AvailableBuffer(), deadlineMillis, 10))
			w.buf.WriteByte('"')
		}
	}
	w.raw("value", msg.RunValue())
	for _, m := range auth {
		if m.key == "value" {
			continue // an authkey member cannot replace the parameters
		}
		if i := slices.Index(runContextKeys[:], m.key); i >= 0 {
			writeContext(i) // a context key wins over an authkey member of its name, in the member's place
			continue
		}
		w.raw(m.key, m.value)
	}
	for i := range runContextKeys {
		if !written[i] {
			writeContext(i)
		}
	}
	b, err := w.bytes()
	return b, err == nil
}

// plainJSONString is the value of a JSON string that needs no decoding: quoted, no escape, no control
// character, valid UTF-8. ok is false for anything else.
func plainJSONString(v []byte) (string, bool) {
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return "", false
	}
	in := v[1 : len(v)-1]
	for _, c := range in {
		if c < 0x20 || c == '"' || c == '\\' {
			return "", false
		}
	}
	if !utf8.Valid(in) {
		return "", false
	}
	return string(in), true
}

// findMember scans the object v (valid JSON) for key. found is false when v has no such member; ok is
// false when the answer is not certain (v is not an object, a key needs decoding, key is repeated).
func findMember(v []byte, key string) (value []byte, found, ok bool) {
	s := scanner{b: v}
	if !s.enter('{') {
		return nil, false, false
	}
	for {
		k, more, kok := s.member()
		if !kok {
			return nil, false, false
		}
		if !more {
			return value, found, true
		}
		start, end := s.value()
		if string(k) == key {
			if found {
				return nil, false, false // encoding/json keeps the last one
			}
			value, found = v[start:end], true
		}
	}
}

// limitsMemoryFast is limitsMemory without encoding/json.
func limitsMemoryFast(v []byte) (int, bool) {
	v = bytes.TrimSpace(v)
	if !json.Valid(v) {
		return 0, false
	}
	mem, found, ok := findMember(v, "memory")
	if !ok {
		return 0, false
	}
	if !found || isNull(mem) {
		return 0, true
	}
	n, integral := parseIntegral(mem)
	if !integral || n < math.MinInt32 || n > math.MaxInt32 {
		return 0, true
	}
	return int(n), true
}

// userDefinedStatusCodeFast is UserDefinedStatusCode without encoding/json.
func userDefinedStatusCodeFast(result []byte) (*int, bool) {
	if kindOf(result) != "object" {
		return nil, true
	}
	t := bytes.TrimSpace(result)
	if !json.Valid(t) {
		return nil, false
	}
	errVal, hasErr, ok := findMember(t, "error")
	if !ok {
		return nil, false
	}
	if hasErr && kindOf(errVal) == "object" {
		code, found, ok := findMember(errVal, "statusCode")
		if !ok {
			return nil, false
		}
		if found {
			n := statusCodeValue(code)
			return &n, true
		}
	}
	code, found, ok := findMember(t, "statusCode")
	if !ok {
		return nil, false
	}
	if !found {
		return nil, true
	}
	n := statusCodeValue(code)
	return &n, true
}
