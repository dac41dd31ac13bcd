package wire

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/nemo-edge/nemo/pool/proxy"
)

func TestActivationEventNotSentWithoutPathOrKind(t *testing.T) {
	for name, anns := range map[string][]KeyValue{
		"no path":         {KV("kind", "nodejs:20")},
		"no kind":         {KV("path", "guest/hello")},
		"kind not string": {KV("path", "guest/hello"), KV("kind", 20)},
		"path not string": {KV("path", []string{"guest", "hello"}), KV("kind", "nodejs:20")},
		"nothing":         nil,
	} {
		a := &WhiskActivation{ActivationID: "c7a9e52b1f0d4e3ab9e52b1f0d5e3a77", Annotations: anns}
		if e, ok := ActivationEvent(a, "invoker0", "u", 1); ok || e != nil {
			t.Errorf("%s: event sent: %+v", name, e)
		}
	}
}

func TestActivationEventFields(t *testing.T) {
	d := int64(-5)
	a := &WhiskActivation{
		Namespace: "ns", Subject: "subj", ActivationID: "c7a9e52b1f0d4e3ab9e52b1f0d5e3a77", Duration: &d,
		Response: proxy.Response{StatusCode: 1, Result: json.RawMessage(`{"error":{"statusCode":"418"}}`)},
		Annotations: []KeyValue{
			KV("path", "ns/pkg/a"), KV("kind", "python:3"), KV("conductor", true), KV("causedBy", "sequence"),
			KV("waitTime", -3), KV("limits", map[string]int{"timeout": 1, "memory": 512}),
		},
	}
	e, ok := ActivationEvent(a, "invoker7", "uuid", 42)
	if !ok {
		t.Fatal("no event")
	}
	want := `{"source":"invoker7","body":{"name":"ns/pkg/a","activationId":"c7a9e52b1f0d4e3ab9e52b1f0d5e3a77","statusCode":1,` +
		`"duration":0,"waitTime":0,"initTime":0,"kind":"python:3","conductor":true,"memory":512,"causedBy":"sequence",` +
		`"userDefinedStatusCode":418},"subject":"subj","namespace":"ns","userId":"uuid","eventType":"Activation","timestamp":42}`
	assertJSONEqual(t, mustMarshal(t, e.Marshal), []byte(want))
}

func TestUserDefinedStatusCode(t *testing.T) {
	code := func(n int) *int { return &n }
	for _, c := range []struct {
		result string
		want   *int
	}{
		{`{"error":{"statusCode":404,"body":"x"}}`, code(404)},
		{`{"error":{"statusCode":"404"}}`, code(404)},
		{`{"statusCode":"i404"}`, code(400)},
		{`{"statusCode":500}`, code(500)},
		{`{"statusCode":"-7"}`, code(-7)},
		{`{"statusCode":"+7"}`, code(7)},
		{`{"statusCode":" 7"}`, code(400)},
		{`{"statusCode":4.7}`, code(4)},
		{`{"statusCode":-4.7}`, code(-4)},
		{`{"statusCode":1e3}`, code(1000)},
		{`{"statusCode":4294967297}`, code(1)},
		{`{"statusCode":2147483648}`, code(-2147483648)},
		{`{"statusCode":1e999999999}`, code(0)},
		{`{"statusCode":true}`, code(400)},
		{`{"statusCode":null}`, code(400)},
		{`{"statusCode":{}}`, code(400)},
		{`{"error":"boom","statusCode":201}`, code(201)},
		{`{"error":{"body":1},"statusCode":202}`, code(202)},
		{`{"error":{"statusCode":"x"},"statusCode":202}`, code(400)},
		{`{"payload":1}`, nil},
		{`{}`, nil},
		{`[{"statusCode":1}]`, nil},
		{``, nil},
	} {
		got := UserDefinedStatusCode(json.RawMessage(c.result))
		if (got == nil) != (c.want == nil) || (got != nil && *got != *c.want) {
			t.Errorf("%s: got %v, want %v", c.result, deref(got), deref(c.want))
		}
	}
}

func deref(p *int) any {
	if p == nil {
		return nil
	}
	return *p
}

func TestParseEventMessageRejectsBadInput(t *testing.T) {
	for name, in := range map[string]string{
		"not JSON":        `{`,
		"no body":         `{"source":"a","subject":"s","namespace":"n","userId":"u","eventType":"Activation","timestamp":1}`,
		"body not obj":    `{"source":"a","body":1,"subject":"s","namespace":"n","userId":"u","eventType":"Activation","timestamp":1}`,
		"no timestamp":    `{"source":"a","body":{"metricName":"m","metricValue":1},"subject":"s","namespace":"n","userId":"u","eventType":"Metric"}`,
		"body lacks kind": `{"source":"a","body":{"name":"n","activationId":"x","statusCode":0,"duration":1,"waitTime":1,"initTime":1,"conductor":false,"memory":1},"subject":"s","namespace":"n","userId":"u","eventType":"Activation","timestamp":1}`,
	} {
		if _, err := ParseEventMessage([]byte(in)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
	if _, err := (&EventMessage{}).Marshal(); !errors.Is(err, ErrMalformed) {
		t.Fatalf("event without body marshalled: %v", err)
	}
}
