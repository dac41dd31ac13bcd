package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/nemo-edge/nemo/pool/proxy"
)

// mutateMessage applies f to the decoded blocking-message fixture and re-encodes it.
func mutateMessage(t *testing.T, f func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(readFixture(t, "activation-message-blocking.json"), &m); err != nil {
		t.Fatal(err)
	}
	f(m)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func user(m map[string]any) map[string]any { return m["user"].(map[string]any) }

func TestParseActivationMessageRejectsBadInput(t *testing.T) {
	type tc struct {
		name    string
		input   []byte
		want    error
		mention string // the error must name the offending part
	}
	raw := func(name, s, mention string) tc { return tc{name, []byte(s), ErrMalformed, mention} }
	mut := func(name string, want error, mention string, f func(m map[string]any)) tc {
		return tc{name, mutateMessage(t, f), want, mention}
	}
	cases := []tc{
		raw("empty input", "", "empty"),
		raw("whitespace only", "  \n", "empty"),
		raw("truncated JSON", `{"transid":["a",1]`, "activation message"),
		raw("trailing garbage", `{} x`, "activation message"),
		raw("array instead of object", `[]`, "array"),
		raw("string instead of object", `"hello"`, "string"),
		raw("null", `null`, "null"),
		raw("not JSON at all", `transid=1`, "activation message"),

		mut("missing transid", ErrMalformed, "transid", func(m map[string]any) { delete(m, "transid") }),
		mut("missing action", ErrMalformed, "action", func(m map[string]any) { delete(m, "action") }),
		mut("missing user", ErrMalformed, "user", func(m map[string]any) { delete(m, "user") }),
		mut("missing activationId", ErrMalformed, "activationId", func(m map[string]any) { delete(m, "activationId") }),
		mut("missing rootControllerIndex", ErrMalformed, "rootControllerIndex", func(m map[string]any) { delete(m, "rootControllerIndex") }),
		mut("missing blocking", ErrMalformed, "blocking", func(m map[string]any) { delete(m, "blocking") }),
		mut("null blocking", ErrMalformed, "blocking", func(m map[string]any) { m["blocking"] = nil }),
		mut("missing user.subject", ErrMalformed, "subject", func(m map[string]any) { delete(user(m), "subject") }),
		mut("missing user.namespace.uuid", ErrMalformed, "uuid", func(m map[string]any) {
			delete(user(m)["namespace"].(map[string]any), "uuid")
		}),
		mut("missing user.authkey", ErrMalformed, "authkey", func(m map[string]any) { delete(user(m), "authkey") }),
		mut("missing action.name", ErrMalformed, "name", func(m map[string]any) { delete(m["action"].(map[string]any), "name") }),
		mut("missing asString", ErrMalformed, "asString", func(m map[string]any) { m["rootControllerIndex"] = map[string]any{} }),

		mut("transid not an array", ErrMalformed, "transid", func(m map[string]any) { m["transid"] = "abc" }),
		mut("transid too short", ErrMalformed, "transid", func(m map[string]any) { m["transid"] = []any{"abc"} }),
		mut("transid id not a string", ErrMalformed, "element 0", func(m map[string]any) { m["transid"] = []any{1, 2} }),
		mut("transid start not a number", ErrMalformed, "element 1", func(m map[string]any) { m["transid"] = []any{"a", "b"} }),
		mut("transid start fractional", ErrMalformed, "element 1", func(m map[string]any) { m["transid"] = []any{"a", 1.5} }),
		mut("action a number", ErrMalformed, "fully qualified name", func(m map[string]any) { m["action"] = 7 }),
		mut("action string without namespace", ErrMalformed, "namespace", func(m map[string]any) { m["action"] = "hello" }),
		mut("action string with empty segment", ErrMalformed, "empty segment", func(m map[string]any) { m["action"] = "guest//hello" }),
		mut("action name with slash", ErrMalformed, "name", func(m map[string]any) {
			m["action"] = map[string]any{"path": "guest", "name": "a/b"}
		}),
		mut("revision a number", ErrMalformed, "revision", func(m map[string]any) { m["revision"] = 3 }),
		mut("user a string", ErrMalformed, "user", func(m map[string]any) { m["user"] = "guest" }),
		mut("authkey a string", ErrMalformed, "authkey", func(m map[string]any) { user(m)["authkey"] = "k" }),
		mut("rights not an array", ErrMalformed, "rights", func(m map[string]any) { user(m)["rights"] = "READ" }),
		mut("limits not an object", ErrMalformed, "limits", func(m map[string]any) { user(m)["limits"] = []any{} }),
		mut("storeActivations not a boolean", ErrMalformed, "storeActivations", func(m map[string]any) {
			user(m)["limits"] = map[string]any{"storeActivations": "no"}
		}),
		mut("activationId a number", ErrMalformed, "activationId", func(m map[string]any) { m["activationId"] = 12 }),
		mut("blocking a string", ErrMalformed, "blocking", func(m map[string]any) { m["blocking"] = "true" }),
		mut("content a string", ErrMalformed, "content", func(m map[string]any) { m["content"] = "x" }),
		mut("content a number", ErrMalformed, "content", func(m map[string]any) { m["content"] = 1 }),
		mut("content a boolean", ErrMalformed, "content", func(m map[string]any) { m["content"] = true }),
		mut("initArgs an object", ErrMalformed, "initArgs", func(m map[string]any) { m["initArgs"] = map[string]any{} }),
		mut("initArgs of numbers", ErrMalformed, "initArgs", func(m map[string]any) { m["initArgs"] = []any{1} }),
		mut("lockedArgs an array", ErrMalformed, "lockedArgs", func(m map[string]any) { m["lockedArgs"] = []any{} }),
		mut("lockedArgs values not strings", ErrMalformed, "lockedArgs", func(m map[string]any) { m["lockedArgs"] = map[string]any{"a": 1} }),
		mut("asString unusable as topic", ErrMalformed, "asString", func(m map[string]any) {
			m["rootControllerIndex"] = map[string]any{"asString": "0/../x", "instanceType": "controller"}
		}),

		mut("activationId uppercase", ErrInvalidActivationID, "activationId", func(m map[string]any) { m["activationId"] = "C7A9E52B1F0D4E3AB9E52B1F0D5E3A77" }),
		mut("activationId 31 chars", ErrInvalidActivationID, "activationId", func(m map[string]any) { m["activationId"] = "c7a9e52b1f0d4e3ab9e52b1f0d5e3a7" }),
		mut("activationId 33 chars", ErrInvalidActivationID, "activationId", func(m map[string]any) { m["activationId"] = "c7a9e52b1f0d4e3ab9e52b1f0d5e3a777" }),
		mut("activationId UUID with dashes", ErrInvalidActivationID, "activationId", func(m map[string]any) { m["activationId"] = "c7a9e52b-1f0d-4e3a-b9e5-2b1f0d5e3a77" }),
		mut("activationId non-hex", ErrInvalidActivationID, "activationId", func(m map[string]any) { m["activationId"] = "g7a9e52b1f0d4e3ab9e52b1f0d5e3a77" }),
		mut("activationId empty", ErrInvalidActivationID, "activationId", func(m map[string]any) { m["activationId"] = "" }),
		mut("cause not an activation id", ErrInvalidActivationID, "cause", func(m map[string]any) { m["cause"] = "seq-1" }),
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := ParseActivationMessage(c.input)
			if m != nil {
				t.Fatalf("got a message for bad input: %+v", m)
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			if !strings.Contains(err.Error(), c.mention) {
				t.Fatalf("error %q does not mention %q", err, c.mention)
			}
		})
	}
}

func TestParseActivationMessageToleratesAbsentOptionalFields(t *testing.T) {
	b := mutateMessage(t, func(m map[string]any) {
		for _, k := range []string{"initArgs", "lockedArgs", "content", "revision", "cause", "traceContext"} {
			delete(m, k)
		}
		delete(user(m), "rights")
		delete(user(m), "limits")
	})
	m, err := ParseActivationMessage(b)
	if err != nil {
		t.Fatal(err)
	}
	if m.InitArgs != nil || m.LockedArgs != nil || m.Content != nil || m.Revision != nil || m.Cause != "" || m.TraceContext != nil {
		t.Fatalf("absent fields decoded as %+v", m)
	}
	if string(m.RunValue()) != "{}" || len(m.InitEnv()) != 0 {
		t.Fatalf("RunValue %s InitEnv %v", m.RunValue(), m.InitEnv())
	}
	// The controller always writes initArgs, lockedArgs, revision, rights and limits; so do we.
	out := mustMarshal(t, m.Marshal)
	var got map[string]json.RawMessage
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{"initArgs": "[]", "lockedArgs": "{}", "revision": "null"} {
		if string(got[k]) != want {
			t.Errorf("%s = %s, want %s", k, got[k], want)
		}
	}
	for _, k := range []string{"content", "cause", "traceContext"} {
		if _, ok := got[k]; ok {
			t.Errorf("absent %s written", k)
		}
	}
	if !bytes.Contains(got["user"], []byte(`"rights":[]`)) || !bytes.Contains(got["user"], []byte(`"limits":{}`)) {
		t.Errorf("user = %s", got["user"])
	}
}

func TestParseActivationMessageRevisionNullOrAbsent(t *testing.T) {
	for name, f := range map[string]func(m map[string]any){
		"null":   func(m map[string]any) { m["revision"] = nil },
		"absent": func(m map[string]any) { delete(m, "revision") },
	} {
		m, err := ParseActivationMessage(mutateMessage(t, f))
		if err != nil || m.Revision != nil {
			t.Fatalf("%s: revision %v err %v", name, m.Revision, err)
		}
	}
	m, err := ParseActivationMessage(readFixture(t, "activation-message-blocking.json"))
	if err != nil || m.Revision == nil || *m.Revision != "2-5a0b4d1c8e2f43b7a9d6c3e1f0b2a4c7" {
		t.Fatalf("revision %v err %v", m.Revision, err)
	}
}

func TestParseActivationMessageToleratesUnknownFields(t *testing.T) {
	b := mutateMessage(t, func(m map[string]any) {
		m["futureField"] = map[string]any{"x": []any{1, 2}}
		m["action"].(map[string]any)["extra"] = true
		user(m)["extra"] = "y"
		user(m)["limits"] = map[string]any{"concurrentInvocations": 30, "maxPayloadSize": "2 MB", "warmedContainerKeepingCount": 1}
		m["rootControllerIndex"].(map[string]any)["extra"] = 1
	})
	m, err := ParseActivationMessage(b)
	if err != nil {
		t.Fatal(err)
	}
	if n, ok := m.User.Limits.Int("concurrentInvocations"); !ok || n != 30 {
		t.Fatalf("concurrentInvocations %d %v", n, ok)
	}
	if n, ok := m.User.Limits.Bytes("maxPayloadSize"); !ok || n != 2<<20 {
		t.Fatalf("maxPayloadSize %d %v", n, ok)
	}
	// Unknown UserLimits members survive re-encoding (HEAD has 19 of them).
	out := mustMarshal(t, m.Marshal)
	if !bytes.Contains(out, []byte(`"warmedContainerKeepingCount":1`)) {
		t.Fatalf("limits member dropped: %s", out)
	}
}

func TestActivationMessageContentArray(t *testing.T) {
	b := mutateMessage(t, func(m map[string]any) {
		m["content"] = []any{1, "two", map[string]any{"three": 3}}
		m["initArgs"] = []any{"two"}
	})
	m, err := ParseActivationMessage(b)
	if err != nil {
		t.Fatal(err)
	}
	assertJSONEqual(t, m.RunValue(), []byte(`[1,"two",{"three":3}]`))
	if len(m.InitEnv()) != 0 {
		t.Fatalf("init env from array content: %v", m.InitEnv())
	}
	assertJSONEqual(t, mustMarshal(t, m.Marshal), b)
}

func TestActivationMessageContentNullIsAbsent(t *testing.T) {
	m, err := ParseActivationMessage(mutateMessage(t, func(m map[string]any) { m["content"] = nil }))
	if err != nil || m.Content != nil {
		t.Fatalf("content %s err %v", m.Content, err)
	}
}

func TestActivationMessageRunValueAndInitEnv(t *testing.T) {
	b := mutateMessage(t, func(m map[string]any) {
		m["content"] = map[string]any{
			"name": "World", "s": "str", "n": 42, "f": 1.5, "t": true, "z": nil, "o": map[string]any{"a": []any{1, 2}},
		}
		m["initArgs"] = []any{"s", "n", "f", "t", "z", "o", "notInContent"}
	})
	m, err := ParseActivationMessage(b)
	if err != nil {
		t.Fatal(err)
	}
	assertJSONEqual(t, m.RunValue(), []byte(`{"name":"World"}`))
	want := map[string]string{"s": "str", "n": "42", "f": "1.5", "t": "true", "z": "", "o": `{"a":[1,2]}`}
	if got := m.InitEnv(); !reflect.DeepEqual(got, want) {
		t.Fatalf("InitEnv = %v, want %v", got, want)
	}
}

func TestFullyQualifiedNameForms(t *testing.T) {
	for _, c := range []struct {
		in   string
		want FullyQualifiedName
	}{
		{`"guest/hello"`, FullyQualifiedName{Path: "guest", Name: "hello"}},
		{`"/guest/pkg/hello"`, FullyQualifiedName{Path: "guest/pkg", Name: "hello"}},
		{`{"path":"guest/pkg","name":"hello","version":"0.0.3","binding":"guest/mybinding"}`,
			FullyQualifiedName{Path: "guest/pkg", Name: "hello", Version: "0.0.3", Binding: "guest/mybinding"}},
	} {
		got, err := ParseFullyQualifiedName([]byte(c.in))
		if err != nil || got != c.want {
			t.Fatalf("%s: %+v %v", c.in, got, err)
		}
	}
	f := FullyQualifiedName{Path: "guest/pkg", Name: "hello", Version: "0.0.3"}
	if f.DocID() != "guest/pkg/hello" || f.String() != "guest/pkg/hello@0.0.3" || f.WithLeadingSlash() != "/guest/pkg/hello" {
		t.Fatalf("%s %s %s", f.DocID(), f.String(), f.WithLeadingSlash())
	}
	// A message whose action is a plain string is re-encoded in the object form.
	m, err := ParseActivationMessage(mutateMessage(t, func(m map[string]any) { m["action"] = "guest/hello" }))
	if err != nil {
		t.Fatal(err)
	}
	out := mustMarshal(t, m.Marshal)
	if !bytes.Contains(out, []byte(`"action":{"path":"guest","name":"hello"}`)) {
		t.Fatalf("action written as %s", out)
	}
}

// transidVariants are transids the controller may send: plain, with the extraLogging flag, with parent
// metadata, and with unusual but valid spelling that a re-encoder would change.
var transidVariants = []string{
	`["k3Mx7QpZ2bN9aLr4Vt8WcY1dEf6GhJ0s",1717236920000]`,
	`["k3Mx7QpZ2bN9aLr4Vt8WcY1dEf6GhJ0s",1717236920000,true]`,
	`["k3Mx7QpZ2bN9aLr4Vt8WcY1dEf6GhJ0s",1717236920000,true,["parentTid0000000000000000000000000",1717236919000,false]]`,
	`["k3Mx7QpZ2bN9aLr4Vt8WcY1dEf6GhJ0s",1717236920000,false,["p1",1,true,["p0",0]]]`,
	`[ "sid_invokerHealth" , 1717230012345 ]`,
	`["\u0073id_invoker\u0048ealth",1717230012345]`,
	`["a<b>&c",1.717236920e12]`,
}

func TestTransIDEchoedByteExactly(t *testing.T) {
	inst := InvokerInstanceID{Instance: 0, UserMemoryBytes: 1 << 30}
	for _, raw := range transidVariants {
		t.Run(raw, func(t *testing.T) {
			b := mutateMessage(t, func(m map[string]any) { m["transid"] = "PLACEHOLDER" })
			b = bytes.Replace(b, []byte(`"PLACEHOLDER"`), []byte(raw), 1)
			m, err := ParseActivationMessage(b)
			if err != nil {
				t.Fatal(err)
			}
			if string(m.TransID.Raw) != raw {
				t.Fatalf("kept %q, want %q", m.TransID.Raw, raw)
			}
			a := FallbackActivation(m, proxy.ErrorResponse(proxy.StatusWhiskError, MsgActionNotFetched), 1)
			acks := []Ack{
				mustAck(m.Marshal),
				NewResultMessage(m.TransID, a), NewResultMessage(m.TransID, a).Shrunk(),
				NewCompletionMessage(m.TransID, a, inst),
				NewCombinedMessage(m.TransID, a, inst), NewCombinedMessage(m.TransID, a, inst).Shrunk(),
			}
			for _, ack := range acks {
				out, err := ack.Marshal()
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.HasPrefix(out, []byte(`{"transid":`+raw+`,`)) {
					t.Fatalf("%T does not echo the transid verbatim: %s", ack, out)
				}
				if !json.Valid(out) {
					t.Fatalf("%T wrote invalid JSON: %s", ack, out)
				}
			}
		})
	}
}

// mustAck adapts a message's Marshal to the Ack interface for the transid echo check.
type marshalOnly func() ([]byte, error)

func (f marshalOnly) Marshal() ([]byte, error) { return f() }
func (f marshalOnly) Shrunk() Ack              { return f }
func (f marshalOnly) SlotFree() bool           { return false }

func mustAck(f func() ([]byte, error)) Ack { return marshalOnly(f) }

func TestTransIDAccessors(t *testing.T) {
	for raw, want := range map[string]struct {
		id    string
		start int64
	}{
		transidVariants[2]: {"k3Mx7QpZ2bN9aLr4Vt8WcY1dEf6GhJ0s", 1717236920000},
		transidVariants[5]: {"sid_invokerHealth", 1717230012345},
		transidVariants[6]: {"a<b>&c", 1717236920000},
	} {
		tid, err := ParseTransID([]byte(raw))
		if err != nil {
			t.Fatal(err)
		}
		if tid.ID() != want.id || tid.StartMillis() != want.start {
			t.Fatalf("%s: %q %d", raw, tid.ID(), tid.StartMillis())
		}
	}
	if tid := NewTransID("abc", 42); string(tid.Raw) != `["abc",42]` {
		t.Fatalf("NewTransID = %s", tid.Raw)
	}
	if _, err := (TransID{Raw: json.RawMessage(`[1,`)}).MarshalJSON(); !errors.Is(err, ErrMalformed) {
		t.Fatalf("invalid raw transid marshalled: %v", err)
	}
	c := &CompletionMessage{TransID: TransID{Raw: json.RawMessage(`[oops`)}, ActivationID: "c7a9e52b1f0d4e3ab9e52b1f0d5e3a77"}
	if _, err := c.Marshal(); !errors.Is(err, ErrMalformed) {
		t.Fatalf("ack with invalid transid marshalled: %v", err)
	}
}

func TestUserLimitsStoreActivations(t *testing.T) {
	m, err := ParseActivationMessage(mutateMessage(t, func(m map[string]any) {
		user(m)["limits"] = map[string]any{"storeActivations": false}
	}))
	if err != nil {
		t.Fatal(err)
	}
	if m.User.Limits.StoreActivations == nil || *m.User.Limits.StoreActivations {
		t.Fatalf("storeActivations = %v", m.User.Limits.StoreActivations)
	}
	if m.User.APIKey() != "23bc46b1-71f6-4ed5-8c54-816aa4f8c502:123zO3xZCLrMN6v2BKK1dXYFpXlPkccOFqm12CdAsMgRU4VrNZ9lyGVCGuMDGIwP" {
		t.Fatalf("APIKey = %q", m.User.APIKey())
	}
}
