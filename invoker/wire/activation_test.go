package wire

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/nemo-edge/nemo/pool/proxy"
)

// TestBuildSuccessRecord builds activation-record-success.json from its parts, as the activation path does.
func TestBuildSuccessRecord(t *testing.T) {
	msg, action := helloWithCode(t)
	initMs := int64(37)
	size := 26
	duration := int64(41)
	a := &WhiskActivation{
		Namespace: msg.User.Namespace.Name, Name: action.Name, Subject: msg.User.Subject, ActivationID: msg.ActivationID,
		Start: 1717236920608, End: 1717236920649,
		Response: proxy.Response{StatusCode: proxy.StatusSuccess, Result: json.RawMessage(`{"payload": "Hello, World"}`), Size: &size},
		Logs:     []string{proxy.FormatLogLine("2024-06-01T10:15:20.649123456Z", "stdout", "hello World\n")},
		Version:  action.Version,
		Annotations: Annotations(AnnotationInput{
			Limits: action.Limits, Path: action.FullyQualifiedName(), Kind: action.Exec.Kind,
			InitTimeMs: &initMs, WaitTimeMs: 608,
		}),
		Duration: &duration,
	}
	assertJSONEqual(t, mustMarshal(t, func() ([]byte, error) { return a.Document(1717236920658) }), readFixture(t, "activation-record-success.json"))
}

func TestAnnotationsOrderAndOptionalEntries(t *testing.T) {
	init := int64(5)
	got := Annotations(AnnotationInput{
		Limits: ActionLimits{TimeoutMs: 1000, MemoryMB: 128, LogsMB: 0, Concurrency: 2}, Path: "guest/pkg/a", Kind: "blackbox",
		TimedOut: true, CausedBySequence: true, InitTimeMs: &init, WaitTimeMs: 0, Binding: "guest/mybinding",
	})
	b, _ := json.Marshal(got)
	assertJSONEqual(t, b, []byte(`[{"key":"limits","value":{"timeout":1000,"memory":128,"logs":0,"concurrency":2}},`+
		`{"key":"path","value":"guest/pkg/a"},{"key":"kind","value":"blackbox"},{"key":"timeout","value":true},`+
		`{"key":"causedBy","value":"sequence"},{"key":"initTime","value":5},{"key":"waitTime","value":0},`+
		`{"key":"binding","value":"guest/mybinding"}]`))
	warm := Annotations(AnnotationInput{Limits: ActionLimits{TimeoutMs: 1, MemoryMB: 1, LogsMB: 1, Concurrency: 1}, Path: "a/b", Kind: "k", WaitTimeMs: 3})
	var keys []string
	for _, kv := range warm {
		keys = append(keys, kv.Key)
	}
	if strings.Join(keys, ",") != "limits,path,kind,timeout,waitTime" {
		t.Fatalf("warm annotations %v", keys)
	}
}

func TestFallbackActivation(t *testing.T) {
	msg, err := ParseActivationMessage(mutateMessage(t, func(m map[string]any) {
		m["cause"] = "0e4f6a8c2b1d4f5e8a6c4b2d1f3e5a79"
		m["action"] = map[string]any{"path": "guest/pkg", "name": "hello", "binding": "guest/b"}
	}))
	if err != nil {
		t.Fatal(err)
	}
	a := FallbackActivation(msg, proxy.ErrorResponse(proxy.StatusWhiskError, MsgActionNotFetched), 99)
	want := `{"namespace":"guest","name":"hello","subject":"guest","activationId":"c7a9e52b1f0d4e3ab9e52b1f0d5e3a77",` +
		`"start":99,"end":99,"cause":"0e4f6a8c2b1d4f5e8a6c4b2d1f3e5a79",` +
		`"response":{"statusCode":3,"result":{"error":"Action could not be fetched."}},"logs":[],"version":"0.0.1","publish":false,` +
		`"annotations":[{"key":"path","value":"guest/pkg/hello"},{"key":"kind","value":"unknown"},{"key":"causedBy","value":"sequence"}],"duration":0}`
	assertJSONEqual(t, mustMarshal(t, a.MarshalJSON), []byte(want))
}

func TestActivationDocumentOmitsAbsentMembers(t *testing.T) {
	// A result-less response and an unset duration are omitted; logs are always an array.
	a := &WhiskActivation{Namespace: "ns", Name: "n", Subject: "s", ActivationID: "c7a9e52b1f0d4e3ab9e52b1f0d5e3a77", Version: "0.0.1"}
	assertJSONEqual(t, mustMarshal(t, func() ([]byte, error) { return a.Document(7) }), []byte(
		`{"namespace":"ns","name":"n","subject":"s","activationId":"c7a9e52b1f0d4e3ab9e52b1f0d5e3a77","start":0,"end":0,`+
			`"response":{"statusCode":0},"logs":[],"version":"0.0.1","publish":false,"annotations":[],`+
			`"_id":"ns/c7a9e52b1f0d4e3ab9e52b1f0d5e3a77","entityType":"activation","updated":7}`))
}

func TestParseActivationDocumentRejectsBadInput(t *testing.T) {
	mutate := func(f func(m map[string]any)) []byte {
		var m map[string]any
		if err := json.Unmarshal(readFixture(t, "activation-record-success.json"), &m); err != nil {
			t.Fatal(err)
		}
		f(m)
		b, _ := json.Marshal(m)
		return b
	}
	for name, c := range map[string]struct {
		in      []byte
		want    error
		mention string
	}{
		"entityType action":   {mutate(func(m map[string]any) { m["entityType"] = "action" }), ErrMalformed, "entityType"},
		"_id mismatch":        {mutate(func(m map[string]any) { m["_id"] = "other/c7a9e52b1f0d4e3ab9e52b1f0d5e3a77" }), ErrMalformed, "_id"},
		"statusCode 7":        {mutate(func(m map[string]any) { m["response"] = map[string]any{"statusCode": 7} }), ErrMalformed, "statusCode"},
		"missing statusCode":  {mutate(func(m map[string]any) { m["response"] = map[string]any{} }), ErrMalformed, "statusCode"},
		"missing logs":        {mutate(func(m map[string]any) { delete(m, "logs") }), ErrMalformed, "logs"},
		"missing annotations": {mutate(func(m map[string]any) { delete(m, "annotations") }), ErrMalformed, "annotations"},
		"missing publish":     {mutate(func(m map[string]any) { delete(m, "publish") }), ErrMalformed, "publish"},
		"start a string":      {mutate(func(m map[string]any) { m["start"] = "now" }), ErrMalformed, "start"},
		"size a string":       {mutate(func(m map[string]any) { m["response"] = map[string]any{"statusCode": 0, "size": "1"} }), ErrMalformed, "size"},
		"bad activation id":   {mutate(func(m map[string]any) { m["activationId"] = "x"; delete(m, "_id") }), ErrInvalidActivationID, "activationId"},
		"not JSON":            {[]byte("{"), ErrMalformed, "activation document"},
	} {
		t.Run(name, func(t *testing.T) {
			_, _, err := ParseActivationDocument(c.in)
			if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.mention) {
				t.Fatalf("err = %v, want %v mentioning %q", err, c.want, c.mention)
			}
		})
	}
}
