package wire

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func mutateAction(t *testing.T, fixture string, f func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(readFixture(t, fixture), &m); err != nil {
		t.Fatal(err)
	}
	f(m)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func execOf(m map[string]any) map[string]any   { return m["exec"].(map[string]any) }
func limitsOf(m map[string]any) map[string]any { return m["limits"].(map[string]any) }

func TestParseActionRejectsBadInput(t *testing.T) {
	const health = "action-doc-health.json"
	const mem = "action-doc-nodejs-mem-attachment.json"
	cases := []struct {
		name    string
		fixture string
		f       func(m map[string]any)
		want    error
		mention string
	}{
		{"entityType trigger", health, func(m map[string]any) { m["entityType"] = "trigger" }, ErrNotAction, "trigger"},
		{"entityType package", health, func(m map[string]any) { m["entityType"] = "package" }, ErrNotAction, "package"},
		{"entityType empty", health, func(m map[string]any) { m["entityType"] = "" }, ErrNotAction, "entityType"},
		{"entityType not a string", health, func(m map[string]any) { m["entityType"] = 1 }, ErrMalformed, "entityType"},
		{"sequence", health, func(m map[string]any) { m["exec"] = map[string]any{"kind": "sequence", "components": []any{"/a/b"}} }, ErrNotExecutable, "sequence"},
		{"missing exec", health, func(m map[string]any) { delete(m, "exec") }, ErrMalformed, "exec"},
		{"missing name", health, func(m map[string]any) { delete(m, "name") }, ErrMalformed, "name"},
		{"missing namespace", health, func(m map[string]any) { delete(m, "namespace") }, ErrMalformed, "namespace"},
		{"missing limits", health, func(m map[string]any) { delete(m, "limits") }, ErrMalformed, "limits"},
		{"missing timeout", health, func(m map[string]any) { delete(limitsOf(m), "timeout") }, ErrMalformed, "timeout"},
		{"missing memory", health, func(m map[string]any) { delete(limitsOf(m), "memory") }, ErrMalformed, "memory"},
		{"timeout a string", health, func(m map[string]any) { limitsOf(m)["timeout"] = "60s" }, ErrMalformed, "timeout"},
		{"memory fractional", health, func(m map[string]any) { limitsOf(m)["memory"] = 1.5 }, ErrMalformed, "memory"},
		{"zero timeout", health, func(m map[string]any) { limitsOf(m)["timeout"] = 0 }, ErrMalformed, "timeout"},
		{"zero concurrency", health, func(m map[string]any) { limitsOf(m)["concurrency"] = 0 }, ErrMalformed, "concurrency"},
		{"missing kind", health, func(m map[string]any) { delete(execOf(m), "kind") }, ErrMalformed, "kind"},
		{"managed without code", health, func(m map[string]any) { delete(execOf(m), "code") }, ErrMalformed, "code"},
		{"code a number", health, func(m map[string]any) { execOf(m)["code"] = 5 }, ErrMalformed, "code"},
		{"binary a string", health, func(m map[string]any) { execOf(m)["binary"] = "no" }, ErrMalformed, "binary"},
		{"attachment without name", mem, func(m map[string]any) { delete(execOf(m)["code"].(map[string]any), "attachmentName") }, ErrMalformed, "attachmentName"},
		{"attachment without type", mem, func(m map[string]any) { delete(execOf(m)["code"].(map[string]any), "attachmentType") }, ErrMalformed, "attachmentType"},
		{"attachment negative length", mem, func(m map[string]any) { execOf(m)["code"].(map[string]any)["length"] = -1 }, ErrMalformed, "length"},
		{"blackbox without image", "action-doc-blackbox.json", func(m map[string]any) { delete(execOf(m), "image") }, ErrMalformed, "image"},
		{"blackbox invalid image", "action-doc-blackbox.json", func(m map[string]any) { execOf(m)["image"] = "Upper/Case:1" }, ErrMalformed, "image"},
		{"parameters an object", health, func(m map[string]any) { m["parameters"] = map[string]any{"a": 1} }, ErrMalformed, "parameters"},
		{"parameter without value", health, func(m map[string]any) { m["parameters"] = []any{map[string]any{"key": "a"}} }, ErrMalformed, "value"},
		{"parameter without key", health, func(m map[string]any) { m["parameters"] = []any{map[string]any{"value": 1}} }, ErrMalformed, "key"},
		{"parameter init a string", health, func(m map[string]any) {
			m["parameters"] = []any{map[string]any{"key": "a", "value": 1, "init": "yes"}}
		}, ErrMalformed, "init"},
		{"annotation not an object", health, func(m map[string]any) { m["annotations"] = []any{"x"} }, ErrMalformed, "annotations"},
		{"two attachments", "action-doc-python-attachment.json", func(m map[string]any) {
			atts := m["_attachments"].(map[string]any)
			atts["other"] = map[string]any{"content_type": "text/plain", "stub": true}
		}, ErrMalformed, "_attachments"},
		{"couch name not in _attachments", "action-doc-python-attachment.json", func(m map[string]any) {
			execOf(m)["code"].(map[string]any)["attachmentName"] = "couch:00000000-0000-0000-0000-000000000000"
		}, ErrMalformed, "00000000"},
		{"updated a string", health, func(m map[string]any) { m["updated"] = "yesterday" }, ErrMalformed, "updated"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, err := ParseAction(mutateAction(t, c.fixture, c.f))
			if a != nil {
				t.Fatalf("got an action: %+v", a)
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			if !strings.Contains(err.Error(), c.mention) {
				t.Fatalf("error %q does not mention %q", err, c.mention)
			}
		})
	}
	for _, bad := range []string{"", "[]", "{", `"x"`, "null"} {
		if _, err := ParseAction([]byte(bad)); !errors.Is(err, ErrMalformed) {
			t.Fatalf("%q: err = %v", bad, err)
		}
	}
}

func TestParseActionLenientParts(t *testing.T) {
	b := mutateAction(t, "action-doc-health.json", func(m map[string]any) {
		delete(m, "entityType")
		delete(m, "parameters")
		delete(m, "annotations")
		delete(m, "version")
		delete(m, "publish")
		delete(m, "updated")
		delete(limitsOf(m), "logs")
		delete(limitsOf(m), "concurrency")
		limitsOf(m)["instances"] = 3
		execOf(m)["kind"] = "NodeJS:20"
		execOf(m)["main"] = "handler"
		m["unknown"] = []any{1}
		execOf(m)["unknown"] = true
	})
	a, err := ParseAction(b)
	if err != nil {
		t.Fatal(err)
	}
	if a.Exec.Kind != "nodejs:20" || a.Exec.EntryPoint() != "handler" {
		t.Fatalf("exec %+v", a.Exec)
	}
	if a.Limits != (ActionLimits{TimeoutMs: 60000, MemoryMB: 128, LogsMB: 10, Concurrency: 1, Instances: 3}) {
		t.Fatalf("limits %+v", a.Limits)
	}
	limits := mustMarshal(t, a.Limits.MarshalJSON)
	assertJSONEqual(t, limits, []byte(`{"timeout":60000,"memory":128,"logs":10,"concurrency":1,"instances":3}`))
	if !a.ProvideAPIKey() || !a.LogsToBeCollected() {
		t.Fatal("defaults: provide-api-key missing counts as true; logs 10 are collected")
	}
	a.Limits.LogsMB = 0
	if a.LogsToBeCollected() {
		t.Fatal("logs 0 must not be collected")
	}
}

func TestExecBinaryRule(t *testing.T) {
	for _, c := range []struct {
		code string
		want bool
	}{
		{"foo", false}, {"Zm9v", true}, {"Zm9vYg==", true}, {"Zm9vYmE=", true}, {" Zm9v\n", true},
		{"Zm9vY", false}, {"Zm9v====", false}, {"Zm9=Yg==", false}, {"", false}, {"    ", false},
		{"function main(params) { return params; }", false}, {"abcd", true}, {"Zm9v-_8=", false},
	} {
		if got := IsBinaryCode(c.code); got != c.want {
			t.Errorf("IsBinaryCode(%q) = %v, want %v", c.code, got, c.want)
		}
	}
	// For inline code the binary member is recomputed; for an attachment it is taken as written.
	a, err := ParseAction(mutateAction(t, "action-doc-health.json", func(m map[string]any) {
		execOf(m)["code"] = "Zm9v"
		execOf(m)["binary"] = false
	}))
	if err != nil || !a.Exec.Binary {
		t.Fatalf("inline base64 code: binary %v err %v", a.Exec.Binary, err)
	}
	a, err = ParseAction(mutateAction(t, "action-doc-nodejs-mem-attachment.json", func(m map[string]any) { execOf(m)["binary"] = true }))
	if err != nil || !a.Exec.Binary {
		t.Fatalf("attachment binary field: %v err %v", a.Exec.Binary, err)
	}
}

func TestExecLegacyJarAndBlankBlackboxCode(t *testing.T) {
	a, err := ParseAction(mutateAction(t, "action-doc-health.json", func(m map[string]any) {
		m["exec"] = map[string]any{"kind": "java:8", "jar": "UEsDBA==", "main": "Hello"}
	}))
	if err != nil {
		t.Fatal(err)
	}
	if !a.Exec.Binary || a.Exec.Code != "UEsDBA==" {
		t.Fatalf("jar exec %+v", a.Exec)
	}
	assertJSONEqual(t, mustMarshal(t, a.Exec.MarshalJSON), []byte(`{"kind":"java:8","jar":"UEsDBA==","binary":true,"main":"Hello"}`))

	a, err = ParseAction(mutateAction(t, "action-doc-blackbox.json", func(m map[string]any) { execOf(m)["code"] = "  \n" }))
	if err != nil {
		t.Fatal(err)
	}
	if a.Exec.Code != "" || a.Exec.HasCode() {
		t.Fatalf("blank blackbox code kept: %+v", a.Exec)
	}
	assertJSONEqual(t, mustMarshal(t, a.Exec.MarshalJSON),
		[]byte(`{"kind":"blackbox","image":"docker-custom.com/openwhisk-runtime/magic/nodejs:0.0.1","binary":false}`))
}

func TestParametersInitAndEncryption(t *testing.T) {
	params := []any{
		map[string]any{"key": "a", "value": 1, "init": true},
		map[string]any{"key": "b", "value": "c2VjcmV0", "encryption": "aes-256"},
		map[string]any{"key": "c", "value": nil, "init": false},
	}
	a, err := ParseAction(mutateAction(t, "action-doc-health.json", func(m map[string]any) { m["parameters"] = params }))
	if err != nil {
		t.Fatal(err)
	}
	if !a.Parameters[0].Init || a.Parameters[1].Encryption != "aes-256" || string(a.Parameters[2].Value) != "null" {
		t.Fatalf("parameters %+v", a.Parameters)
	}
	out := mustMarshal(t, a.MarshalJSON)
	var doc struct {
		Parameters json.RawMessage `json:"parameters"`
	}
	_ = json.Unmarshal(out, &doc)
	assertJSONEqual(t, doc.Parameters, []byte(`[{"key":"a","value":1,"init":true},{"key":"b","value":"c2VjcmV0","encryption":"aes-256"},{"key":"c","value":null}]`))
}

func TestAnnotationTruthy(t *testing.T) {
	for _, c := range []struct {
		value string
		want  bool
	}{
		{`false`, false}, {`0`, false}, {`0.0`, false}, {`""`, false}, {`null`, false},
		{`true`, true}, {`1`, true}, {`-2.5`, true}, {`"x"`, true}, {`"false"`, true}, {`{}`, true}, {`[]`, true},
	} {
		a := &Action{Annotations: []KeyValue{{Key: "provide-api-key", Value: json.RawMessage(c.value)}}}
		if got := a.AnnotationTruthy("provide-api-key", !c.want); got != c.want {
			t.Errorf("isTruthy(%s) = %v, want %v", c.value, got, c.want)
		}
	}
	a := &Action{}
	if !a.AnnotationTruthy("provide-api-key", true) || a.AnnotationTruthy("provide-api-key", false) {
		t.Fatal("missing annotation must yield the default")
	}
}

func TestAttachmentSchemes(t *testing.T) {
	for name, want := range map[string]string{
		"mem:Zm9v": SchemeMem, "couch:7c0f5b7e-2a6d-4b1e-9f43-5d8c2e7a1b90": SchemeCouch,
		"codefile": SchemeLegacy, "jarfile": SchemeLegacy, "s3:bucket/key": SchemeExternal, "foo:bar": SchemeExternal,
	} {
		if got := (Attachment{Name: name}).Scheme(); got != want {
			t.Errorf("Scheme(%q) = %s, want %s", name, got, want)
		}
	}
	if n := (Attachment{Name: "couch:abc"}).CouchName(); n != "abc" {
		t.Fatalf("CouchName = %s", n)
	}
	if n := (Attachment{Name: "codefile"}).CouchName(); n != "codefile" {
		t.Fatalf("CouchName = %s", n)
	}
}

func TestLegacyAttachmentDocument(t *testing.T) {
	b := mutateAction(t, "action-doc-python-attachment.json", func(m map[string]any) {
		execOf(m)["code"] = map[string]any{"attachmentName": "codefile", "attachmentType": "text/plain"}
		m["_attachments"] = map[string]any{"codefile": map[string]any{
			"content_type": "text/plain", "digest": "md5-Y9CIUEkbwX+nWXeq2hDhyg==", "length": 24379, "revpos": 2, "stub": true}}
	})
	a, err := ParseAction(b)
	if err != nil {
		t.Fatal(err)
	}
	if a.Exec.CodeRef.Scheme() != SchemeLegacy || a.Attachments["codefile"].Length != 24379 {
		t.Fatalf("legacy %+v %+v", a.Exec.CodeRef, a.Attachments)
	}
	assertJSONEqual(t, mustMarshal(t, a.MarshalJSON), b)
}

func TestDecodeMemAttachment(t *testing.T) {
	for _, c := range []struct {
		name string
		want string
		err  bool
	}{
		{"mem:Zm9vYg==", "foob", false},
		{"mem:Zm9vYg", "foob", false},
		{"mem:-_8=", "\xfb\xff", false},
		{"mem:", "", false},
		{"mem:+/8=", "", true}, // standard alphabet is not URL-safe base64
		{"mem:Zm9vY", "", true},
		{"mem:Zm9vYg=", "", true},
		{"couch:abc", "", true},
		{"Zm9v", "", true},
	} {
		got, err := DecodeMemAttachment(c.name)
		if c.err {
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("%q: err = %v, want ErrMalformed", c.name, err)
			}
			continue
		}
		if err != nil || string(got) != c.want {
			t.Errorf("%q = %q, %v; want %q", c.name, got, err, c.want)
		}
	}
}

func TestCheckAttachmentBytes(t *testing.T) {
	a := parseActionFixture(t, "action-doc-nodejs-mem-attachment.json")
	code, _ := DecodeMemAttachment(a.Exec.CodeRef.Name)
	if err := CheckAttachmentBytes(*a.Exec.CodeRef, code[:len(code)-1]); !errors.Is(err, ErrMalformed) {
		t.Fatalf("short bytes accepted: %v", err)
	}
	tampered := append([]byte(nil), code...)
	tampered[0] ^= 1
	if err := CheckAttachmentBytes(*a.Exec.CodeRef, tampered); !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "digest") {
		t.Fatalf("tampered bytes accepted: %v", err)
	}
	if err := CheckAttachmentBytes(Attachment{Name: "couch:x"}, []byte("anything")); err != nil {
		t.Fatalf("no length/digest to check: %v", err)
	}
	if CodeFromBytes([]byte{0xff, 0x00}, true) != "/wA=" || CodeFromBytes([]byte("x"), false) != "x" {
		t.Fatal("CodeFromBytes")
	}
}

func TestContentHash(t *testing.T) {
	base := parseActionFixture(t, "action-doc-health.json")
	h := base.ContentHash()
	same := parseActionFixture(t, "action-doc-health.json")
	same.Rev, same.Updated, same.ID = "9-other", 1, "x/y"
	if same.ContentHash() != h {
		t.Fatal("revision, updated or _id changed the content hash")
	}
	for name, f := range map[string]func(a *Action){
		"code":       func(a *Action) { a.Exec.Code += " " },
		"parameter":  func(a *Action) { a.Parameters = []KeyValue{KV("p", 1)} },
		"annotation": func(a *Action) { a.Annotations = []KeyValue{KV("provide-api-key", false)} },
		"memory":     func(a *Action) { a.Limits.MemoryMB = 256 },
		"version":    func(a *Action) { a.Version = "0.0.2" },
		"namespace":  func(a *Action) { a.Namespace = "guest" },
	} {
		c := parseActionFixture(t, "action-doc-health.json")
		f(c)
		if c.ContentHash() == h {
			t.Errorf("changing %s kept the content hash", name)
		}
	}
}
