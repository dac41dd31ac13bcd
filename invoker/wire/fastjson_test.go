package wire

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/nemo-edge/nemo/pool/proxy"
)

// The fuzz targets below prove the fast paths of fastjson.go, scan.go and message_fast.go against the
// reference codec (encoding/json): on every input, the same bytes, the same values and the same errors.
// Their committed seed corpora are in testdata/fuzz/<target>; run one further with e.g.
//
//	go test -run NONE -fuzz FuzzFastParseActivationMessage -fuzztime 60s ./invoker/wire/

func FuzzFastAppendString(f *testing.F) {
	for _, s := range []string{"", "hello", `"quoted" \ back`, "tab\tnl\ncr\rbs\bff\f", "\x00\x01\x1f\x7f",
		"<a href=\"x\">&amp;</a>", "é ü 日本 🙂", "\u2028\u2029", "bad \xff\xfe utf8 \xc3", "\xed\xa0\x80 surrogate"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ref, err := MarshalNoEscape(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendString(nil, s); !bytes.Equal(got, ref) {
			t.Fatalf("appendString(%q) = %s, encoding/json writes %s", s, got, ref)
		}
	})
}

// FuzzFastParseActivationMessage: whatever the input, ParseActivationMessage returns what the reference
// parser returns (value and error), and the fast parser, when it accepts an input, agrees with it.
func FuzzFastParseActivationMessage(f *testing.F) {
	addFixtureSeeds(f, "activation-message-")
	blocking, err := os.ReadFile(filepath.Join(fixturesDir, "activation-message-blocking.json"))
	if err != nil {
		f.Fatal(err)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, blocking); err != nil {
		f.Fatal(err)
	}
	c := compact.String()
	f.Add([]byte(c))
	for _, tid := range transidVariants {
		f.Add([]byte(strings.Replace(c, `["k3Mx7QpZ2bN9aLr4Vt8WcY1dEf6GhJ0s",1717236920000]`, tid, 1)))
	}
	for _, edit := range [][2]string{
		{`"blocking":true`, `"blocking":false,"extra":{"a":[1,"}"]}`},          // unknown member
		{`"blocking":true`, `"blocking":true,"blocking":false`},                // repeated member
		{`"blocking":true`, `"blocking":null`},                                 // required null
		{`"revision":"2-5a0b4d1c8e2f43b7a9d6c3e1f0b2a4c7"`, `"revision":null`}, // nullable
		{`"name":"hello"`, `"name":"h\u00e9llo"`},                              // escape
		{`"subject":"guest"`, `"subject":"gu\xffest"`},                         // invalid UTF-8
		{`"limits":{}`, `"limits":{"storeActivations":false,"concurrentInvocations":30,"x":null}`},
		{`"limits":{}`, `"limits":{"storeActivations":"no"}`},
		{`"lockedArgs":{}`, `"lockedArgs":{"password":"aes-256"}`},
		{`"initArgs":[]`, `"initArgs":["name"],"cause":"0123456789abcdef0123456789abcdef","traceContext":{"t":1}`},
		{`"initArgs":[]`, `"initArgs":[null]`},
		{`"content":{"name":"World"}`, `"content":[1, 2 ,{"a" : "b"}]`},
		{`"content":{"name":"World"}`, `"content":"text"`},
		{`"action":{"path":"guest","name":"hello","version":"0.0.2"}`, `"action":"guest/pkg/hello"`},
		{`"action":{"path":"guest","name":"hello","version":"0.0.2"}`, `"action":{"path":"/guest","name":"a/b"}`},
		{`"asString":"0"`, `"asString":"con troller"`},
		{`"activationId":"c7a9e52b1f0d4e3ab9e52b1f0d5e3a77"`, `"activationId":"C7A9E52B1F0D4E3AB9E52B1F0D5E3A77"`},
	} {
		f.Add([]byte(strings.Replace(c, edit[0], edit[1], 1)))
	}
	f.Add([]byte(`{"transid":["a",1],"action":"g/a","user":{"subject":"s","namespace":{"name":"g","uuid":"u"},"authkey":{}},` +
		`"activationId":"0123456789abcdef0123456789abcdef","rootControllerIndex":{"asString":"0"},"blocking":false,"content":[1,{"a":null}],` +
		`"initArgs":["a"],"cause":"0123456789abcdef0123456789abcdef","traceContext":{"x":"y"}}`))

	f.Fuzz(func(t *testing.T, in []byte) {
		ref, refErr := parseActivationMessageReference(in)
		if fast, ok := parseActivationMessageFast(in); ok {
			if refErr != nil {
				t.Fatalf("fast path accepted what the reference refuses (%v)", refErr)
			}
			if !reflect.DeepEqual(fast, ref) {
				t.Fatalf("fast path differs:\n%#v\n%#v", fast, ref)
			}
		}
		got, err := ParseActivationMessage(in)
		if (err == nil) != (refErr == nil) || (err != nil && err.Error() != refErr.Error()) {
			t.Fatalf("errors differ: %v vs %v", err, refErr)
		}
		if !reflect.DeepEqual(got, ref) {
			t.Fatalf("ParseActivationMessage differs from the reference:\n%#v\n%#v", got, ref)
		}
		if ref != nil {
			if ref.TransID.ID() != ref.TransID.idReference() || ref.TransID.StartMillis() != ref.TransID.startMillisReference() {
				t.Fatalf("transid accessors differ on %s", ref.TransID.Raw)
			}
		}
	})
}

func FuzzFastTransIDAccessors(f *testing.F) {
	for _, tid := range transidVariants {
		f.Add([]byte(tid))
	}
	for _, s := range []string{`["a\"b",1]`, `["x",1.0e3]`, `["x",1.5]`, `[1,2]`, `[]`, `["x"]`, `{"a":1}`, `["x",`, `["\ud800",-7, true]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		tid := TransID{Raw: raw}
		if got, want := tid.ID(), tid.idReference(); got != want {
			t.Fatalf("ID(%s) = %q, reference %q", raw, got, want)
		}
		if got, want := tid.StartMillis(), tid.startMillisReference(); got != want {
			t.Fatalf("StartMillis(%s) = %d, reference %d", raw, got, want)
		}
	})
}

// FuzzFastMarshalRecordAndAcks builds an activation record from the fuzzed values and checks that the record,
// its document and every ack carrying it marshal to the reference codec's bytes (or its error).
func FuzzFastMarshalRecordAndAcks(f *testing.F) {
	f.Add("guest", "hello", "guest", "0.0.2", "", "2024-06-01T10:15:20.649123456Z stdout: hello\n2nd <line> & \"q\"",
		[]byte(`{"payload":"Hello World"}`), 0, 26, true, int64(1717236920645), int64(1717236920686), "timeout", []byte(`false`),
		[]byte(`["k3Mx7QpZ2bN9aLr4Vt8WcY1dEf6GhJ0s",1717236920000]`), "", "", true)
	f.Add("ns\u2028", "n\xff", "s\t", "", "0123456789abcdef0123456789abcdef", "", []byte(` { "error" : "x\u003c" } `), 3, 0, false,
		int64(-1), int64(0), "k\\", []byte(` [1, {"a":null}] `), []byte(` ["a", 1, true] `), "unique", "t1,t2", false)
	f.Add("a", "b", "c", "d", "", "", []byte(`null`), 1, 1, true, int64(0), int64(0), "", []byte(``), []byte(`["a",1]`), "", "", true)
	f.Add("a", "b", "c", "d", "", "", []byte(` `), 2, 1, true, int64(0), int64(0), "", []byte(`{`), []byte(`[`), "", "", true)
	f.Fuzz(func(t *testing.T, ns, name, subject, version, cause, logs string, result []byte, status, size int, hasSize bool,
		start, end int64, annKey string, annValue, tid []byte, uniqueName, tags string, hasDuration bool) {
		a := &WhiskActivation{Namespace: ns, Name: name, Subject: subject, ActivationID: "0123456789abcdef0123456789abcdef",
			Start: start, End: end, Cause: cause, Version: version, Publish: hasSize != hasDuration,
			Response: proxy.Response{StatusCode: status, Result: result}, Logs: []string{}}
		if result == nil {
			a.Response.Result = nil
		}
		if hasSize {
			a.Response.Size = &size
		}
		if hasDuration {
			d := end - start
			a.Duration = &d
		}
		if logs != "" {
			a.Logs = strings.Split(logs, "\n")
		}
		ms := int64(size)
		a.Annotations = append(Annotations(AnnotationInput{Limits: ActionLimits{TimeoutMs: status, MemoryMB: size, LogsMB: 10,
			Concurrency: 1, Instances: len(tags)}, Path: ns + "/" + name, Kind: version, TimedOut: hasSize, CausedBySequence: cause != "",
			InitTimeMs: &ms, WaitTimeMs: start, Binding: uniqueName}), KeyValue{Key: annKey, Value: annValue, Init: hasSize, Encryption: uniqueName})
		inst := InvokerInstanceID{Instance: size, UserMemoryBytes: start, UniqueName: uniqueName, DisplayedName: name,
			Tags: strings.Split(tags, ","), DedicatedNamespaces: []string{}}
		if hasDuration {
			inst.BusyMemoryBytes = &end
		}
		tr := TransID{Raw: tid}

		same := func(what string, got []byte, gotErr error, want []byte, wantErr error) {
			t.Helper()
			if (gotErr == nil) != (wantErr == nil) || (gotErr != nil && gotErr.Error() != wantErr.Error()) {
				t.Fatalf("%s: errors differ: %v vs reference %v", what, gotErr, wantErr)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("%s differs from the reference:\n%s\n%s", what, got, want)
			}
		}
		got, err := a.MarshalJSON()
		want, wantErr := a.marshalReference()
		same("record", got, err, want, wantErr)
		got, err = a.Document(end)
		want, wantErr = a.document(newWriter(), end)
		same("document", got, err, want, wantErr)

		acks := []interface {
			Ack
			marshal(*writer) ([]byte, error)
		}{
			NewResultMessage(tr, a), NewResultMessage(tr, a).Shrink(), NewResultMessage(tr, a.WithoutLogs()),
			NewCompletionMessage(tr, a, inst),
			NewCombinedMessage(tr, a, inst), NewCombinedMessage(tr, a, inst).Shrink(),
		}
		for _, m := range acks {
			got, err := m.Marshal()
			want, wantErr := m.marshal(newWriter())
			same(reflect.TypeOf(m).String(), got, err, want, wantErr)
		}
		if want, wantErr := MarshalNoEscape(inst); wantErr == nil {
			w := &writer{fast: true}
			if !w.valueFast(inst) {
				t.Fatal("instance id not on the fast path")
			}
			same("instance id", w.buf.Bytes(), nil, want, nil)
		}
	})
}

// FuzzFastAnnotations: Annotations and KV give the values encoding/json gives.
func FuzzFastAnnotations(f *testing.F) {
	f.Add(60000, 256, 10, 1, 0, "guest/hello", "nodejs:20", true, true, int64(37), true, int64(608), "guest/pkg")
	f.Add(-1, 0, 0, 0, 7, "a\u2028<&>\xff", "", false, false, int64(0), false, int64(-5), "")
	f.Fuzz(func(t *testing.T, timeout, memory, logs, conc, inst int, path, kind string, timedOut, seq bool, initMs int64,
		hasInit bool, wait int64, binding string) {
		in := AnnotationInput{Limits: ActionLimits{TimeoutMs: timeout, MemoryMB: memory, LogsMB: logs, Concurrency: conc, Instances: inst},
			Path: path, Kind: kind, TimedOut: timedOut, CausedBySequence: seq, WaitTimeMs: wait, Binding: binding}
		if hasInit {
			in.InitTimeMs = &initMs
		}
		if got, want := Annotations(in), annotationsReference(in); !reflect.DeepEqual(got, want) {
			t.Fatalf("Annotations differ:\n%s\n%s", kvText(got), kvText(want))
		}
		for _, v := range []any{path, timedOut, initMs, timeout, in.Limits} {
			if got, want := KV("k", v), kvReference("k", v); !reflect.DeepEqual(got, want) {
				t.Fatalf("KV(%#v) = %s, reference %s", v, got.Value, want.Value)
			}
		}
	})
}

func kvText(kvs []KeyValue) string {
	var b strings.Builder
	for _, kv := range kvs {
		b.WriteString(kv.Key + "=" + string(kv.Value) + " ")
	}
	return b.String()
}

// The fast paths must take the usual traffic, not leave it all to the reference codec.
func TestFastPathsTakeTheFixtures(t *testing.T) {
	for _, name := range []string{"activation-message-blocking.json", "activation-message-nonblocking.json", "activation-message-health.json"} {
		b, err := os.ReadFile(filepath.Join(fixturesDir, name))
		if err != nil {
			t.Fatal(err)
		}
		msg, ok := parseActivationMessageFast(b)
		if !ok {
			t.Errorf("%s: the fast parser leaves it to the reference parser", name)
			continue
		}
		doc, err := os.ReadFile(filepath.Join(fixturesDir, "action-doc-nodejs-inline.json"))
		if err != nil {
			t.Fatal(err)
		}
		a, err := ParseAction(doc)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := runBodyFast(msg, a, 1717236980000); !ok {
			t.Errorf("%s: the /run body is left to the reference codec", name)
		}
	}
	if _, ok := userDefinedStatusCodeFast([]byte(`{"payload":"Hello World"}`)); !ok {
		t.Error("the user-defined status code of a plain result is left to the reference codec")
	}
	if _, ok := limitsMemoryFast([]byte(`{"timeout":60000,"memory":256,"logs":10,"concurrency":1}`)); !ok {
		t.Error("the memory limit is left to the reference codec")
	}
	if _, ok := plainJSONString([]byte(`"guest/hello"`)); !ok {
		t.Error("a plain string annotation is left to the reference codec")
	}
	for _, name := range []string{"activation-record-success.json", "activation-record-application-error.json"} {
		b, err := os.ReadFile(filepath.Join(fixturesDir, name))
		if err != nil {
			t.Fatal(err)
		}
		a, err := ParseWhiskActivation(b)
		if err != nil {
			t.Fatal(err)
		}
		w := newFastWriter(0)
		a.write(w)
		if _, err := w.bytes(); err != nil {
			t.Errorf("%s: the fast writer fails: %v", name, err)
		}
	}
}

// FuzzFastRunBody: RunBody writes the reference codec's /run body for any message the parser accepts,
// whether the action passes the api key or not.
func FuzzFastRunBody(f *testing.F) {
	addFixtureSeeds(f, "activation-message-")
	for _, ak := range []string{`{}`, `{"api_key":"u:k","namespace":"spoof","value":1,"b":[1, 2]}`, `{"a":1,"a":2}`, `[1]`, `{"\u0041":"x"}`} {
		f.Add([]byte(`{"transid":["t\u00e9",1],"action":{"path":"g","name":"a"},"user":{"subject":"s","namespace":{"name":"g<&>","uuid":"u"},"authkey":` + ak +
			`},"activationId":"0123456789abcdef0123456789abcdef","rootControllerIndex":{"asString":"0"},"blocking":false,"content":{"p":1,"i":2},"initArgs":["i"]}`))
	}
	doc, err := os.ReadFile(filepath.Join(fixturesDir, "action-doc-nodejs-inline.json"))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		msg, err := ParseActivationMessage(in)
		if err != nil {
			return
		}
		for _, provide := range []string{"", "true", "false"} {
			a, err := ParseAction(doc)
			if err != nil {
				t.Fatal(err)
			}
			if provide != "" {
				a.Annotations = append(a.Annotations, KeyValue{Key: "provide-api-key", Value: json.RawMessage(provide)})
			}
			got, err := RunBody(msg, a, 1717236980000)
			want, wantErr := runBodyReference(msg, a, 1717236980000)
			if (err == nil) != (wantErr == nil) || !bytes.Equal(got, want) {
				t.Fatalf("provide-api-key %q: RunBody differs from the reference:\n%s (%v)\n%s (%v)", provide, got, err, want, wantErr)
			}
		}
	})
}

// FuzzFastMarshalEvent: user events marshal to the reference codec's bytes.
func FuzzFastMarshalEvent(f *testing.F) {
	f.Add("invoker0", "guest/hello", "0123456789abcdef0123456789abcdef", 0, int64(41), int64(608), int64(37), "nodejs:20", true, 256,
		"sequence", 26, true, "guest", "guest", "23bc46b1-71f6-4ed5-8c54-816aa4f8c502", int64(1717236920686), false)
	f.Add("inv\u2028", "n<&>\xff", "", -3, int64(-1), int64(0), int64(0), "", false, 0, "", 0, false, "\x00", "", "", int64(0), true)
	f.Fuzz(func(t *testing.T, source, name, aid string, status int, duration, wait, init int64, kind string, conductor bool, memory int,
		causedBy string, size int, hasSize bool, subject, namespace, userID string, ts int64, metric bool) {
		e := &EventMessage{Source: source, Subject: subject, Namespace: namespace, UserID: userID, EventType: EventTypeActivation, Timestamp: ts}
		if metric {
			e.Metric = &MetricEventBody{MetricName: name, MetricValue: duration}
		} else {
			e.Activation = &ActivationEventBody{Name: name, ActivationID: aid, StatusCode: status, Duration: duration, WaitTime: wait,
				InitTime: init, Kind: kind, Conductor: conductor, Memory: memory, CausedBy: causedBy}
			if hasSize {
				e.Activation.Size, e.Activation.UserDefinedStatusCode = &size, &status
			}
		}
		got, err := e.Marshal()
		want, wantErr := e.marshal(newWriter())
		if (err == nil) != (wantErr == nil) || !bytes.Equal(got, want) {
			t.Fatalf("event differs from the reference:\n%s (%v)\n%s (%v)", got, err, want, wantErr)
		}
	})
}

// FuzzFastEventFields: what a user event reads from a record (string annotations, the memory limit, the
// user-defined status code) is what encoding/json reads.
func FuzzFastEventFields(f *testing.F) {
	for _, s := range []string{`"guest/hello"`, ` "x" `, `"a\"b"`, `"é\u00e9"`, "\"\x01\"", `"a" "b"`, `1`, `null`, "\"\xff\"",
		`{"timeout":60000,"memory":256,"logs":10,"concurrency":1}`, `{"memory":1e3}`, `{"memory":1.5}`, `{"memory":null}`,
		`{"memory":4294967296}`, `{"memory":1,"memory":2}`, `{"m\u0065mory":3}`, `[]`,
		`{"payload":"Hello"}`, `{"error":{"statusCode":404}}`, `{"error":{"statusCode":"418"},"statusCode":200}`, `{"error":"x","statusCode":201}`,
		`{"statusCode":null}`, `{"statusCode":1,"statusCode":2}`, `{"error":{"statusCode":1,"statusCode":2}}`, `{"st\u0061tusCode":7}`,
		` {"statusCode": 1e40 } `, `{"statusCode":"+12"}`, `{"error":[1],"statusCode":3}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, v []byte) {
		if s, ok := plainJSONString(v); ok {
			if want, wok := annotationStringReference(v); !wok || want != s {
				t.Fatalf("string %s: fast %q, reference %q (%v)", v, s, want, wok)
			}
		}
		if got, want := limitsMemory(v), limitsMemoryReference(v); got != want {
			t.Fatalf("limits %s: memory %d, reference %d", v, got, want)
		}
		got, want := UserDefinedStatusCode(v), userDefinedStatusCodeReference(v)
		if (got == nil) != (want == nil) || (got != nil && *got != *want) {
			t.Fatalf("result %s: status code %v, reference %v", v, got, want)
		}
	})
}
