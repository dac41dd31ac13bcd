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
		if !reflect.DeepEqual(messageScalars(m), messageScalars(m2)) {
			t.Fatalf("decoded values differ:\n%+v\n%+v", messageScalars(m), messageScalars(m2))
		}
		if !jsonEquivalent(m.Content, m2.Content) || !jsonEquivalent(m.RunValue(), m2.RunValue()) ||
			!reflect.DeepEqual(m.InitEnv(), m2.InitEnv()) {
			t.Fatalf("content differs: %s vs %s", m.Content, m2.Content)
		}
		if m.TransID.ID() != m2.TransID.ID() || m.TransID.StartMillis() != m2.TransID.StartMillis() {
			t.Fatal("transid accessors differ")
		}
	})
}

// messageScalars is the message without its raw JSON members (compared separately, modulo whitespace).
func messageScalars(m *ActivationMessage) ActivationMessage {
	c := *m
	c.TransID = TransID{}
	c.Content, c.TraceContext, c.User.AuthKey = nil, nil, nil
	c.User.Limits.Fields = nil
	// absent and empty are the same value for these (the encoder always writes [] / {})
	if len(c.User.Rights) == 0 {
		c.User.Rights = nil
	}
	if len(c.InitArgs) == 0 {
		c.InitArgs = nil
	}
	if len(c.LockedArgs) == 0 {
		c.LockedArgs = nil
	}
	return c
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
