package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func addFixtureSeeds(f *testing.F, prefix string) {
	paths, err := filepath.Glob(filepath.Join(fixturesDir, prefix+"*.json"))
	if err != nil || len(paths) == 0 {
		f.Fatalf("no %s fixtures: %v", prefix, err)
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// FuzzParseActivationMessage checks that parsing never panics, that a parsed message re-encodes to JSON that
// parses again to the same message (a fixed point after one encoding), and that the transid bytes are kept and
// echoed exactly.
func FuzzParseActivationMessage(f *testing.F) {
	addFixtureSeeds(f, "activation-message-")
	blocking, err := os.ReadFile(filepath.Join(fixturesDir, "activation-message-blocking.json"))
	if err != nil {
		f.Fatal(err)
	}
	for _, tid := range transidVariants {
		f.Add(bytes.Replace(blocking, []byte(`[
    "k3Mx7QpZ2bN9aLr4Vt8WcY1dEf6GhJ0s",
    1717236920000
  ]`), []byte(tid), 1))
	}
	f.Add([]byte(`{"transid":["a",1],"action":"g/a","user":{"subject":"s","namespace":{"name":"g","uuid":"u"},"authkey":{}},` +
		`"activationId":"0123456789abcdef0123456789abcdef","rootControllerIndex":{"asString":"0"},"blocking":false,"content":[1,{"a":null}],` +
		`"initArgs":["a"],"cause":"0123456789abcdef0123456789abcdef","traceContext":{"x":"y"}}`))

	f.Fuzz(func(t *testing.T, in []byte) {
		m, err := ParseActivationMessage(in)
		if err != nil {
			if m != nil {
				t.Fatal("message returned with an error")
			}
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrInvalidActivationID) {
				t.Fatalf("error wraps no sentinel: %v", err)
			}
			return
		}
		if !bytes.Contains(in, m.TransID.Raw) {
			t.Fatalf("transid %q is not the received bytes", m.TransID.Raw)
		}
		out, err := m.Marshal()
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		if !bytes.HasPrefix(out, []byte(`{"transid":`+string(m.TransID.Raw)+`,`)) {
			t.Fatalf("transid not echoed verbatim: %s", out)
		}
		m2, err := ParseActivationMessage(out)
		if err != nil {
			t.Fatalf("re-parse of %s: %v", out, err)
		}
		if !bytes.Equal(m2.TransID.Raw, m.TransID.Raw) {
			t.Fatalf("transid changed: %q → %q", m.TransID.Raw, m2.TransID.Raw)
		}
		out2, err := m2.Marshal()
		if err != nil || !bytes.Equal(out, out2) {
			t.Fatalf("not a fixed point:\n%s\n%s (%v)", out, out2, err)
		}
		if a, b := canonicalMessage(m), canonicalMessage(m2); !reflect.DeepEqual(a, b) {
			t.Fatalf("decoded values differ:\n%+v\n%+v", a, b)
		}
		if !jsonEquivalent(m.RunValue(), m2.RunValue()) || !reflect.DeepEqual(m.InitEnv(), m2.InitEnv()) ||
			!reflect.DeepEqual(m.User.AuthEnvironment(), m2.User.AuthEnvironment()) || m.User.APIKey() != m2.User.APIKey() {
			t.Fatalf("derived values differ: %s vs %s", m.Content, m2.Content)
		}
		if m.TransID.ID() != m2.TransID.ID() || m.TransID.StartMillis() != m2.TransID.StartMillis() {
			t.Fatal("transid accessors differ")
		}
	})
}

// canonicalMessage is a copy of the message in which every raw JSON member (content, authkey, traceContext,
// every limits member, the transid) is compacted, so reflect.DeepEqual compares all members by content
// (see compactRaw).
func canonicalMessage(m *ActivationMessage) ActivationMessage {
	c := *m
	compactRaw(reflect.ValueOf(&c).Elem())
	return c
}

var rawMessageType = reflect.TypeFor[json.RawMessage]()

// compactRaw replaces every json.RawMessage reachable from v (settable) through pointers, exported struct
// fields, slices and map values by its compact form, and every empty slice or map by nil (absent and empty
// are one value on the wire: the encoders write both as [] or {}). Pointers, slices and maps on the way are
// copied first, so the value v was copied from keeps its bytes. Invalid JSON is kept as it is.
func compactRaw(v reflect.Value) {
	if !v.CanSet() {
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return
		}
		p := reflect.New(v.Type().Elem())
		p.Elem().Set(v.Elem())
		v.Set(p)
		compactRaw(p.Elem())
	case reflect.Struct:
		for i := range v.NumField() {
			compactRaw(v.Field(i))
		}
	case reflect.Slice:
		if v.IsNil() {
			return
		}
		if v.Len() == 0 && v.Type() != rawMessageType {
			v.SetZero() // absent and empty are one value: the encoders write both as [] (or leave an Option out)
			return
		}
		if v.Type() == rawMessageType {
			var b bytes.Buffer
			if json.Compact(&b, v.Bytes()) == nil {
				v.SetBytes(b.Bytes())
			}
			return
		}
		c := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		reflect.Copy(c, v)
		v.Set(c)
		for i := range c.Len() {
			compactRaw(c.Index(i))
		}
	case reflect.Map:
		if v.IsNil() {
			return
		}
		if v.Len() == 0 {
			v.SetZero()
			return
		}
		c := reflect.MakeMapWithSize(v.Type(), v.Len())
		for _, k := range v.MapKeys() {
			e := reflect.New(v.Type().Elem()).Elem()
			e.Set(v.MapIndex(k))
			compactRaw(e)
			c.SetMapIndex(k, e)
		}
		v.Set(c)
	}
}

func jsonEquivalent(a, b json.RawMessage) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	var ca, cb bytes.Buffer
	return json.Compact(&ca, a) == nil && json.Compact(&cb, b) == nil && bytes.Equal(ca.Bytes(), cb.Bytes())
}

// FuzzParseAction checks that parsing an action document never panics, that errors wrap a sentinel, and that a
// parsed document re-encodes to JSON that parses again to the same action.
func FuzzParseAction(f *testing.F) {
	addFixtureSeeds(f, "action-doc-")
	exec, err := os.ReadFile(filepath.Join(fixturesDir, "exec-blackbox-attached.json"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(`{"namespace":"n","name":"a","limits":{"timeout":1,"memory":1},"exec":` + string(exec) + `}`))
	f.Add([]byte(`{"namespace":"n","name":"a","limits":{"timeout":1,"memory":1,"instances":2},"exec":{"kind":"java:8","jar":"UEsDBA==","main":"M"},` +
		`"parameters":[{"key":"k","value":[1],"init":true,"encryption":"aes-128"}],"annotations":[{"key":"provide-api-key","value":0}]}`))
	f.Add([]byte(`{"namespace":"n","name":"a","limits":{"timeout":1,"memory":1},"exec":{"kind":"python:3","code":{"attachmentName":"codefile","attachmentType":"text/plain"}},` +
		`"_attachments":{"codefile":{"content_type":"text/plain","stub":true}}}`))

	f.Fuzz(func(t *testing.T, in []byte) {
		a, err := ParseAction(in)
		if err != nil {
			if a != nil {
				t.Fatal("action returned with an error")
			}
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrNotAction) && !errors.Is(err, ErrNotExecutable) {
				t.Fatalf("error wraps no sentinel: %v", err)
			}
			return
		}
		out, err := a.MarshalJSON()
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		a2, err := ParseAction(out)
		if err != nil {
			t.Fatalf("re-parse of %s: %v", out, err)
		}
		out2, err := a2.MarshalJSON()
		if err != nil || !bytes.Equal(out, out2) {
			t.Fatalf("not a fixed point:\n%s\n%s (%v)", out, out2, err)
		}
		if !reflect.DeepEqual(actionScalars(a), actionScalars(a2)) {
			t.Fatalf("decoded values differ:\n%+v\n%+v", actionScalars(a), actionScalars(a2))
		}
		for i := range a.Parameters {
			if !jsonEquivalent(a.Parameters[i].Value, a2.Parameters[i].Value) {
				t.Fatalf("parameter %d differs", i)
			}
		}
		for i := range a.Annotations {
			if !jsonEquivalent(a.Annotations[i].Value, a2.Annotations[i].Value) {
				t.Fatalf("annotation %d differs", i)
			}
		}
		if a.ContentHash() != a2.ContentHash() || a.ProvideAPIKey() != a2.ProvideAPIKey() {
			t.Fatal("derived values differ")
		}
		if strings.ToLower(a.Exec.Kind) != a.Exec.Kind {
			t.Fatalf("kind %q not lower-cased", a.Exec.Kind)
		}
	})
}

// actionScalars is the action without raw parameter/annotation values (compared separately).
func actionScalars(a *Action) Action {
	c := *a
	c.Parameters, c.Annotations = nil, nil
	if len(c.Exec.Components) == 0 {
		c.Exec.Components = nil
	}
	for _, kv := range a.Parameters {
		c.Parameters = append(c.Parameters, KeyValue{Key: kv.Key, Init: kv.Init, Encryption: kv.Encryption})
	}
	for _, kv := range a.Annotations {
		c.Annotations = append(c.Annotations, KeyValue{Key: kv.Key})
	}
	return c
}
