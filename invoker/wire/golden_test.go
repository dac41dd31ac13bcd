package wire

import (
	"bufio"
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/nemo-edge/nemo/pool/proxy"
)

const fixturesDir = "testdata/fixtures"

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixturesDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// decodeExact decodes JSON keeping numbers as their text, so 60000 and 6e4 differ.
func decodeExact(t *testing.T, b []byte) any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("invalid JSON %q: %v", b, err)
	}
	if d.More() {
		t.Fatalf("trailing data after JSON value in %q", b)
	}
	return v
}

// assertJSONEqual compares two JSON documents: member order free, numbers compared exactly.
func assertJSONEqual(t *testing.T, got, want []byte) {
	t.Helper()
	if !reflect.DeepEqual(decodeExact(t, got), decodeExact(t, want)) {
		var gi, wi bytes.Buffer
		_ = json.Indent(&gi, got, "", "  ")
		_ = json.Indent(&wi, want, "", "  ")
		t.Fatalf("JSON differs\n--- got ---\n%s\n--- want ---\n%s", gi.String(), wi.String())
	}
}

func mustMarshal(t *testing.T, f func() ([]byte, error)) []byte {
	t.Helper()
	b, err := f()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fixtureHandlers maps every file of testdata/fixtures to the test of its shape. TestFixtures fails for a file
// without a handler and for a handler without a file.
var fixtureHandlers = map[string]func(t *testing.T, name string, b []byte){
	"README.md": checkReadmeListsFixtures,

	"activation-message-blocking.json":    roundTripActivationMessage,
	"activation-message-nonblocking.json": roundTripActivationMessage,
	"activation-message-health.json":      checkHealthMessage,

	"result-message.json":                         roundTripAck[*ResultMessage],
	"completion-message.json":                     roundTripAck[*CompletionMessage],
	"combined-completion.json":                    checkCombinedFallback,
	"combined-completion-nonblocking-shrunk.json": roundTripAck[*CombinedMessage],
	"ack-sequence-blocking-split.json":            checkAckSequence,

	"ping-message.json":            roundTripPing,
	"ping-message-disabled.json":   roundTripPing,
	"ping-message-uniquename.json": roundTripPing,
	"ping-message-1.0.0.json":      checkLegacyPing,
	"invoker-instance-id.json":     roundTripInvokerInstanceID,

	"event-message-activation.json":          checkActivationEvent,
	"event-activation-body-compat-test.json": checkEventBodyCompat,
	"event-message-metric-docs.json":         roundTripEvent,

	"activation-record-success.json":           roundTripActivationDocument,
	"activation-record-developer-error.json":   checkDeveloperErrorRecord,
	"activation-record-application-error.json": roundTripActivationDocument,
	"activation-record-compat-test.json":       roundTripWhiskActivation,
	"activation-record-compat-test-error.json": checkCompatErrorActivation,
	"couchdb-bulk-docs-request.json":           checkBulkDocs,

	"action-doc-nodejs-inline.json":            roundTripAction,
	"action-doc-blackbox.json":                 checkBlackboxAction,
	"action-doc-nodejs-mem-attachment.json":    checkMemAttachmentAction,
	"action-doc-python-attachment.json":        checkCouchAttachmentAction,
	"action-doc-python-attachment.codefile.py": checkCodefile,
	"action-doc-go-binary-mem.json":            checkBinaryMemAction,
	"action-doc-sequence.json":                 checkSequenceAction,
	"action-doc-health.json":                   roundTripAction,
	"exec-blackbox-attached.json":              checkExecBlackboxAttached,

	"init-request.json":             checkInitRequest,
	"init-request-go-binary.json":   checkInitRequestGoBinary,
	"run-request.json":              checkRunRequest,
	"run-request-with-api-key.json": checkRunRequestWithAPIKey,
	"docker-json-file-sample.log":   checkDockerLogSample,
	"docker-run-args-test.json":     checkDockerRunArgs,

	"runtimes.json":          checkManifestHead,
	"runtimes-1.0.0.json":    checkManifest100,
	"runtimes-devtools.json": checkManifestDevtools,
}

func TestFixtures(t *testing.T) {
	entries, err := os.ReadDir(fixturesDir)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, e := range entries {
		if e.IsDir() {
			t.Errorf("unexpected directory %s in %s", e.Name(), fixturesDir)
			continue
		}
		name := e.Name()
		seen[name] = true
		h, ok := fixtureHandlers[name]
		if !ok {
			t.Errorf("fixture %s has no handler in fixtureHandlers: add a test for its shape", name)
			continue
		}
		b := readFixture(t, name)
		t.Run(name, func(t *testing.T) { h(t, name, b) })
	}
	for name := range fixtureHandlers {
		if !seen[name] {
			t.Errorf("handler for %s but no such fixture", name)
		}
	}
}

func checkReadmeListsFixtures(t *testing.T, _ string, b []byte) {
	entries, err := os.ReadDir(fixturesDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != "README.md" && !bytes.Contains(b, []byte("`"+e.Name()+"`")) {
			t.Errorf("README.md gives no provenance for %s", e.Name())
		}
	}
}

func roundTripActivationMessage(t *testing.T, _ string, b []byte) {
	m, err := ParseActivationMessage(b)
	if err != nil {
		t.Fatal(err)
	}
	out := mustMarshal(t, m.Marshal)
	assertJSONEqual(t, out, b)
	if !bytes.Contains(out, m.TransID.Raw) {
		t.Fatalf("transid bytes %q not echoed verbatim", m.TransID.Raw)
	}
	if !ValidActivationID(m.ActivationID) || m.TransID.ID() == "" || m.TransID.StartMillis() == 0 {
		t.Fatalf("bad decode: %+v", m)
	}
}

func checkHealthMessage(t *testing.T, name string, b []byte) {
	roundTripActivationMessage(t, name, b)
	m, _ := ParseActivationMessage(b)
	if m.Revision != nil || m.Content != nil || m.Blocking {
		t.Fatalf("health message: revision %v content %s blocking %v", m.Revision, m.Content, m.Blocking)
	}
	if m.TransID.ID() != "sid_invokerHealth" || m.TransID.StartMillis() != 1717230012345 {
		t.Fatalf("transid %q %d", m.TransID.ID(), m.TransID.StartMillis())
	}
	if string(m.RunValue()) != "{}" {
		t.Fatalf("run value without content = %s, want {}", m.RunValue())
	}
}

func roundTripAck[T Ack](t *testing.T, _ string, b []byte) {
	ack, err := ParseAck(b)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := ack.(T); !ok {
		t.Fatalf("ParseAck classified the ack as %T", ack)
	}
	assertJSONEqual(t, mustMarshal(t, ack.Marshal), b)
}

func checkCombinedFallback(t *testing.T, name string, b []byte) {
	roundTripAck[*CombinedMessage](t, name, b)
	ack, _ := ParseAck(b)
	c := ack.(*CombinedMessage)
	// Rebuild it as the invoker does for a deleted action.
	msg := &ActivationMessage{
		TransID: c.TransID, Action: FullyQualifiedName{Path: "guest", Name: "deleted", Version: "0.0.1"},
		User:         Identity{Subject: "guest", Namespace: Namespace{Name: "guest", UUID: "x"}},
		ActivationID: "b1c3e5a7d9f24b6d8e0a2c4e6a8c0e21", Blocking: true,
	}
	a := FallbackActivation(msg, proxy.ErrorResponse(proxy.StatusApplicationError, MsgActionNotFound), 1717237500123)
	built := NewCombinedMessage(c.TransID, a, c.Instance)
	assertJSONEqual(t, mustMarshal(t, built.Marshal), b)
	// The shrunk form carries the id string and the same flags.
	shrunk := mustMarshal(t, built.Shrunk().Marshal)
	want := `{"transid":["Hj5Kl6Zx7Cv8Bn9Mq1We2Rt3Yu4Io5Pa",1717237500082],"response":"b1c3e5a7d9f24b6d8e0a2c4e6a8c0e21","isSystemError":false,` +
		`"instance":{"instance":0,"userMemory":"1073741824 B","instanceType":"invoker","tags":[],"dedicatedNamespaces":[]}}`
	assertJSONEqual(t, shrunk, []byte(want))
}

func checkAckSequence(t *testing.T, _ string, b []byte) {
	var wrapper struct {
		Comment string `json:"_comment"`
		Records []struct {
			Topic string          `json:"topic"`
			Value json.RawMessage `json:"value"`
		} `json:"records"`
	}
	if err := json.Unmarshal(b, &wrapper); err != nil {
		t.Fatal(err)
	}
	if len(wrapper.Records) != 3 {
		t.Fatalf("%d records, want Result, event, Completion", len(wrapper.Records))
	}
	var result *ResultMessage
	var completion *CompletionMessage
	var event *EventMessage
	for i, r := range wrapper.Records {
		switch r.Topic {
		case "completed0":
			ack, err := ParseAck(r.Value)
			if err != nil {
				t.Fatalf("record %d: %v", i, err)
			}
			assertJSONEqual(t, mustMarshal(t, ack.Marshal), r.Value)
			switch a := ack.(type) {
			case *ResultMessage:
				if i != 0 {
					t.Fatalf("Result at position %d", i)
				}
				result = a
			case *CompletionMessage:
				if i != 2 {
					t.Fatalf("Completion at position %d", i)
				}
				completion = a
			default:
				t.Fatalf("record %d: unexpected %T", i, ack)
			}
		case "events":
			e, err := ParseEventMessage(r.Value)
			if err != nil {
				t.Fatalf("record %d: %v", i, err)
			}
			assertJSONEqual(t, mustMarshal(t, e.Marshal), r.Value)
			event = e
		default:
			t.Fatalf("record %d: unexpected topic %q", i, r.Topic)
		}
	}
	if result == nil || completion == nil || event == nil {
		t.Fatal("sequence lacks a Result, a Completion or an event")
	}
	if result.ActivationID != completion.ActivationID || result.SlotFree() || !completion.SlotFree() {
		t.Fatal("Result/Completion mismatch")
	}
	// The Completion and the event derive from the Result's activation.
	built := NewCompletionMessage(result.TransID, result.Activation, completion.Instance)
	assertJSONEqual(t, mustMarshal(t, built.Marshal), wrapper.Records[2].Value)
	ev, ok := ActivationEvent(result.Activation, completion.Instance.Source(), event.UserID, event.Timestamp)
	if !ok {
		t.Fatal("no event built")
	}
	assertJSONEqual(t, mustMarshal(t, ev.Marshal), wrapper.Records[1].Value)
}

func roundTripPing(t *testing.T, _ string, b []byte) {
	p, err := ParsePingMessage(b)
	if err != nil {
		t.Fatal(err)
	}
	assertJSONEqual(t, mustMarshal(t, p.Marshal), b)
}

func checkLegacyPing(t *testing.T, _ string, b []byte) {
	p, err := ParsePingMessage(b)
	if err != nil {
		t.Fatal(err)
	}
	if !p.IsEnabled || p.Name.UserMemoryBytes != 1<<30 {
		t.Fatalf("decoded %+v", p)
	}
	// Re-encoding upgrades to the 2021+ form: tags, dedicatedNamespaces and isEnabled are always written.
	want := `{"name":{"instance":0,"userMemory":"1073741824 B","instanceType":"invoker","tags":[],"dedicatedNamespaces":[]},"isEnabled":true}`
	assertJSONEqual(t, mustMarshal(t, p.Marshal), []byte(want))
}

func roundTripInvokerInstanceID(t *testing.T, _ string, b []byte) {
	var id InvokerInstanceID
	if err := json.Unmarshal(b, &id); err != nil {
		t.Fatal(err)
	}
	assertJSONEqual(t, mustMarshal(t, id.MarshalJSON), b)
	if id.String() != "invoker0" {
		t.Fatalf("String() = %q", id.String())
	}
}

func roundTripEvent(t *testing.T, _ string, b []byte) {
	e, err := ParseEventMessage(b)
	if err != nil {
		t.Fatal(err)
	}
	assertJSONEqual(t, mustMarshal(t, e.Marshal), b)
}

func checkActivationEvent(t *testing.T, name string, b []byte) {
	roundTripEvent(t, name, b)
	a, _, err := ParseActivationDocument(readFixture(t, "activation-record-success.json"))
	if err != nil {
		t.Fatal(err)
	}
	e, ok := ActivationEvent(a, "invoker0", "23bc46b1-71f6-4ed5-8c54-816aa4f8c502", 1717236920657)
	if !ok {
		t.Fatal("no event")
	}
	assertJSONEqual(t, mustMarshal(t, e.Marshal), b)
}

func checkEventBodyCompat(t *testing.T, _ string, b []byte) {
	o, err := decodeObject(b, "body")
	if err != nil {
		t.Fatal(err)
	}
	body, err := ParseActivationEventBody(o)
	if err != nil {
		t.Fatal(err)
	}
	w := newWriter()
	body.write(w)
	assertJSONEqual(t, mustMarshal(t, w.bytes), b)
	// Activation.from of the compat activation yields this body.
	a, err := ParseWhiskActivation(readFixture(t, "activation-record-compat-test.json"))
	if err != nil {
		t.Fatal(err)
	}
	e, ok := ActivationEvent(a, "invoker0", "u", 1)
	if !ok {
		t.Fatal("no event")
	}
	bw := newWriter()
	e.Activation.write(bw)
	assertJSONEqual(t, mustMarshal(t, bw.bytes), b)
}

func roundTripActivationDocument(t *testing.T, _ string, b []byte) {
	a, updated, err := ParseActivationDocument(b)
	if err != nil {
		t.Fatal(err)
	}
	if updated == 0 {
		t.Fatal("updated missing")
	}
	assertJSONEqual(t, mustMarshal(t, func() ([]byte, error) { return a.Document(updated) }), b)
}

func checkDeveloperErrorRecord(t *testing.T, name string, b []byte) {
	roundTripActivationDocument(t, name, b)
	a, _, _ := ParseActivationDocument(b)
	assertJSONEqual(t, a.Response.Result, []byte(`{"error":`+string(encodeString(proxy.MsgTimeout(3000)))+`}`))
	// The appended warning is an invoker line: Instant.toString padded to 30 characters.
	ts := time.Date(2024, 6, 1, 10, 26, 43, 117482000, time.UTC)
	if got := proxy.InvokerLogLine(ts, proxy.MsgLogsMissingDevError); got != a.Logs[1] {
		t.Fatalf("invoker line\n got %q\nwant %q", got, a.Logs[1])
	}
	if !a.Response.DestroysContainer() || a.Response.IsSystemError() {
		t.Fatal("developer error flags")
	}
}

func roundTripWhiskActivation(t *testing.T, _ string, b []byte) {
	a, err := ParseWhiskActivation(b)
	if err != nil {
		t.Fatal(err)
	}
	assertJSONEqual(t, mustMarshal(t, a.MarshalJSON), b)
}

func checkCompatErrorActivation(t *testing.T, name string, b []byte) {
	roundTripWhiskActivation(t, name, b)
	a, _ := ParseWhiskActivation(b)
	e, ok := ActivationEvent(a, "invoker0", "u", 1)
	if !ok || e.Activation.UserDefinedStatusCode == nil || *e.Activation.UserDefinedStatusCode != 404 {
		t.Fatalf("userDefinedStatusCode from result.error.statusCode: %+v", e)
	}
}

func checkBulkDocs(t *testing.T, _ string, b []byte) {
	var req struct {
		Docs []json.RawMessage `json:"docs"`
	}
	if err := json.Unmarshal(b, &req); err != nil {
		t.Fatal(err)
	}
	if len(req.Docs) == 0 {
		t.Fatal("no docs")
	}
	for i, d := range req.Docs {
		a, updated, err := ParseActivationDocument(d)
		if err != nil {
			t.Fatalf("doc %d: %v", i, err)
		}
		assertJSONEqual(t, mustMarshal(t, func() ([]byte, error) { return a.Document(updated) }), d)
	}
	assertJSONEqual(t, req.Docs[0], readFixture(t, "activation-record-success.json"))
}

func parseActionFixture(t *testing.T, name string) *Action {
	t.Helper()
	a, err := ParseAction(readFixture(t, name))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// withLimitDefaults adds the defaults OpenWhisk's ActionLimits writer always emits (logs 10, concurrency 1) to
// documents written before those limits existed.
func withLimitDefaults(t *testing.T, b []byte) []byte {
	t.Helper()
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	var limits map[string]json.RawMessage
	if err := json.Unmarshal(doc["limits"], &limits); err != nil {
		t.Fatal(err)
	}
	if _, ok := limits["logs"]; !ok {
		limits["logs"] = json.RawMessage("10")
	}
	if _, ok := limits["concurrency"]; !ok {
		limits["concurrency"] = json.RawMessage("1")
	}
	doc["limits"], _ = json.Marshal(limits)
	out, _ := json.Marshal(doc)
	return out
}

func roundTripAction(t *testing.T, name string, b []byte) {
	a, err := ParseAction(b)
	if err != nil {
		t.Fatal(err)
	}
	assertJSONEqual(t, mustMarshal(t, a.MarshalJSON), withLimitDefaults(t, b))
	if name == "action-doc-nodejs-inline.json" {
		if a.Exec.Code != "foo" || a.Exec.CodeRef != nil || a.Exec.Binary || a.Limits.Concurrency != 1 {
			t.Fatalf("inline exec %+v limits %+v", a.Exec, a.Limits)
		}
	}
}

func checkBlackboxAction(t *testing.T, name string, b []byte) {
	roundTripAction(t, name, b)
	a := parseActionFixture(t, name)
	if !a.Exec.IsBlackbox() || a.Exec.Code != "foo" || a.Limits.Concurrency != DefaultConcurrency {
		t.Fatalf("blackbox %+v", a)
	}
	m, err := ParseManifest(readFixture(t, "runtimes.json"))
	if err != nil {
		t.Fatal(err)
	}
	rk, err := m.ResolveExec(&a.Exec)
	if err != nil {
		t.Fatal(err)
	}
	if !rk.Pull || rk.SentinelledLogs || rk.Image != "docker-custom.com/openwhisk-runtime/magic/nodejs:0.0.1" {
		t.Fatalf("non-native blackbox resolved to %+v", rk)
	}
}

func checkMemAttachmentAction(t *testing.T, name string, b []byte) {
	roundTripAction(t, name, b)
	a := parseActionFixture(t, name)
	ref := a.Exec.CodeRef
	if ref == nil || ref.Scheme() != SchemeMem || a.Exec.Binary {
		t.Fatalf("exec %+v", a.Exec)
	}
	code, err := DecodeMemAttachment(ref.Name)
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckAttachmentBytes(*ref, code); err != nil {
		t.Fatal(err)
	}
	var init struct {
		Value struct {
			Code string `json:"code"`
		} `json:"value"`
	}
	if err := json.Unmarshal(readFixture(t, "init-request.json"), &init); err != nil {
		t.Fatal(err)
	}
	if CodeFromBytes(code, false) != init.Value.Code {
		t.Fatalf("decoded code %q differs from init-request.json", code)
	}
	if a.ProvideAPIKey() {
		t.Fatal("provide-api-key false not honoured")
	}
}

func checkCouchAttachmentAction(t *testing.T, name string, b []byte) {
	roundTripAction(t, name, b)
	a := parseActionFixture(t, name)
	ref := a.Exec.CodeRef
	if ref == nil || ref.Scheme() != SchemeCouch || ref.CouchName() != "7c0f5b7e-2a6d-4b1e-9f43-5d8c2e7a1b90" {
		t.Fatalf("exec %+v", a.Exec)
	}
	if _, ok := a.Attachments[ref.CouchName()]; !ok || a.Rev[:2] != "2-" {
		t.Fatalf("attachments %+v rev %s", a.Attachments, a.Rev)
	}
}

func checkCodefile(t *testing.T, _ string, b []byte) {
	a := parseActionFixture(t, "action-doc-python-attachment.json")
	stub := a.Attachments[a.Exec.CodeRef.CouchName()]
	sum := md5.Sum(b)
	if int64(len(b)) != stub.Length || "md5-"+base64.StdEncoding.EncodeToString(sum[:]) != stub.Digest {
		t.Fatalf("codefile: %d bytes md5 %x, stub says %d %s", len(b), sum, stub.Length, stub.Digest)
	}
	if len(b) < 16*1024 {
		t.Fatal("codefile under 16 KB would have been inlined as mem:")
	}
}

func checkBinaryMemAction(t *testing.T, name string, b []byte) {
	roundTripAction(t, name, b)
	a := parseActionFixture(t, name)
	code, err := DecodeMemAttachment(a.Exec.CodeRef.Name)
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckAttachmentBytes(*a.Exec.CodeRef, code); err != nil {
		t.Fatal(err)
	}
	if !a.Exec.Binary || len(code) != 282 || !bytes.HasPrefix(code, []byte("PK")) {
		t.Fatalf("binary %v, %d bytes", a.Exec.Binary, len(code))
	}
}

func checkSequenceAction(t *testing.T, _ string, b []byte) {
	_, err := ParseAction(b)
	if !errors.Is(err, ErrNotExecutable) {
		t.Fatalf("err = %v, want ErrNotExecutable", err)
	}
}

func checkExecBlackboxAttached(t *testing.T, _ string, b []byte) {
	e, err := ParseExec(b)
	if err != nil {
		t.Fatal(err)
	}
	assertJSONEqual(t, mustMarshal(t, e.MarshalJSON), b)
	if e.CodeRef == nil || !e.Binary || e.Main != "hello" || e.CodeRef.Scheme() != SchemeExternal {
		t.Fatalf("exec %+v", e)
	}
}

// helloWithCode is the blocking-invocation action with its mem: code resolved, as the store hands it over.
func helloWithCode(t *testing.T) (*ActivationMessage, *Action) {
	t.Helper()
	msg, err := ParseActivationMessage(readFixture(t, "activation-message-blocking.json"))
	if err != nil {
		t.Fatal(err)
	}
	a := parseActionFixture(t, "action-doc-nodejs-mem-attachment.json")
	code, err := DecodeMemAttachment(a.Exec.CodeRef.Name)
	if err != nil {
		t.Fatal(err)
	}
	a.Exec.Code = CodeFromBytes(code, a.Exec.Binary)
	return msg, a
}

func checkInitRequest(t *testing.T, _ string, b []byte) {
	msg, a := helloWithCode(t)
	assertJSONEqual(t, mustMarshal(t, func() ([]byte, error) { return InitBody(msg, a, 1717236980608) }), b)
}

func checkInitRequestGoBinary(t *testing.T, _ string, b []byte) {
	msg, err := ParseActivationMessage(readFixture(t, "activation-message-blocking.json"))
	if err != nil {
		t.Fatal(err)
	}
	msg.TransID = NewTransID("Pp0Oo9Ii8Uu7Yy6Tt5Rr4Ee3Ww2Qq1Aa", 1717237500000)
	msg.Action = FullyQualifiedName{Path: "guest", Name: "gohello", Version: "0.0.1"}
	msg.ActivationID = "a1b2c3d4e5f60718293a4b5c6d7e8f90"
	a := parseActionFixture(t, "action-doc-go-binary-mem.json")
	code, err := DecodeMemAttachment(a.Exec.CodeRef.Name)
	if err != nil {
		t.Fatal(err)
	}
	a.Exec.Code = CodeFromBytes(code, a.Exec.Binary)
	assertJSONEqual(t, mustMarshal(t, func() ([]byte, error) { return InitBody(msg, a, 1717237561234) }), b)
}

func checkRunRequest(t *testing.T, _ string, b []byte) {
	msg, a := helloWithCode(t)
	assertJSONEqual(t, mustMarshal(t, func() ([]byte, error) { return RunBody(msg, a, 1717236980645) }), b)
}

func checkRunRequestWithAPIKey(t *testing.T, _ string, b []byte) {
	msg, a := helloWithCode(t)
	for _, tc := range []struct {
		name string
		ann  []KeyValue
	}{
		{"annotation absent", []KeyValue{KV("exec", "nodejs:20")}},
		{"annotation true", []KeyValue{KV("provide-api-key", true)}},
		{"annotation non-empty string", []KeyValue{KV("provide-api-key", "yes")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a.Annotations = tc.ann
			assertJSONEqual(t, mustMarshal(t, func() ([]byte, error) { return RunBody(msg, a, 1717236980645) }), b)
		})
	}
}

func checkDockerLogSample(t *testing.T, _ string, b []byte) {
	var logs []string
	sentinels := map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		l, err := proxy.ParseDockerLogLine(sc.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		if l.IsSentinel() {
			sentinels[l.Stream]++
			continue
		}
		logs = append(logs, l.Formatted())
	}
	if sentinels["stdout"] != 1 || sentinels["stderr"] != 1 {
		t.Fatalf("sentinels %v, want one per stream", sentinels)
	}
	a, _, err := ParseActivationDocument(readFixture(t, "activation-record-success.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(logs, a.Logs) {
		t.Fatalf("formatted logs %q, want %q", logs, a.Logs)
	}
}

// docker-run-args-test.json belongs to pool/docker (TestBuildCreateMatchesOpenWhiskFixture); here we only check it is the flag/value list it claims.
func checkDockerRunArgs(t *testing.T, _ string, b []byte) {
	var args []string
	if err := json.Unmarshal(b, &args); err != nil {
		t.Fatal(err)
	}
	if len(args) == 0 || len(args)%2 != 0 {
		t.Fatalf("%d args, want flag/value pairs", len(args))
	}
	for i := 0; i < len(args); i += 2 {
		if !strings.HasPrefix(args[i], "-") || strings.HasPrefix(args[i+1], "-") {
			t.Fatalf("pair %d (%q %q) is not flag, value", i/2, args[i], args[i+1])
		}
		if args[i] == "-e" && !strings.Contains(args[i+1], "=") {
			t.Fatalf("env %q is not K=V", args[i+1])
		}
	}
}

func mustManifest(t *testing.T, b []byte) *Manifest {
	t.Helper()
	m, err := ParseManifest(b)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func checkResolve(t *testing.T, m *Manifest, kind, wantKind, wantImage string) *RuntimeKind {
	t.Helper()
	rk, err := m.Resolve(kind)
	if err != nil {
		t.Fatalf("Resolve(%q): %v", kind, err)
	}
	if rk.Kind != wantKind || rk.Image != wantImage {
		t.Fatalf("Resolve(%q) = %s %s, want %s %s", kind, rk.Kind, rk.Image, wantKind, wantImage)
	}
	return rk
}

func checkStemCells(t *testing.T, m *Manifest, want []StemCell) {
	t.Helper()
	got := m.StemCells()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("stem cells %+v, want %+v", got, want)
	}
}

var reactiveDefault = &ReactiveConfig{MinCount: 1, MaxCount: 4, TTL: 2 * time.Minute, Threshold: 1, Increment: 1}

func checkManifestHead(t *testing.T, _ string, b []byte) {
	m := mustManifest(t, b)
	checkResolve(t, m, "nodejs:default", "nodejs:20", "openwhisk/action-nodejs-v20:nightly")
	checkResolve(t, m, "python:3.11", "python:3.11", "openwhisk/action-python-v3.11:nightly")
	java := checkResolve(t, m, "java:default", "java:8", "openwhisk/java8action:nightly")
	if !java.RequireMain || !java.Attached || !java.SentinelledLogs {
		t.Fatalf("java %+v", java)
	}
	checkStemCells(t, m, []StemCell{{Kind: "nodejs:20", Image: "openwhisk/action-nodejs-v20:nightly", Count: 2, MemoryMB: 256, Reactive: reactiveDefault}})
	if !m.IsBlackboxNative("openwhisk/dockerskeleton:nightly") || m.IsBlackboxNative("openwhisk/dockerskeleton") {
		t.Fatal("blackbox nativity")
	}
	m.SetRegistries("registry.local:5000", "")
	checkResolve(t, m, "go:default", "go:1.20", "registry.local:5000/openwhisk/action-golang-v1.20:nightly")
	kinds := m.Kinds()
	if !sort.StringsAreSorted(kinds) || len(kinds) != 13 {
		t.Fatalf("kinds %v", kinds)
	}
}

func checkManifest100(t *testing.T, _ string, b []byte) {
	m := mustManifest(t, b)
	checkResolve(t, m, "nodejs:default", "nodejs:10", "openwhisk/action-nodejs-v10:1.16.0")
	checkResolve(t, m, "php:default", "php:7.4", "openwhisk/action-php-v7.4:1.15.0")
	checkStemCells(t, m, []StemCell{{Kind: "nodejs:10", Image: "openwhisk/action-nodejs-v10:1.16.0", Count: 2, MemoryMB: 256, Reactive: reactiveDefault}})
	if !m.IsBlackboxNative("openwhisk/dockerskeleton:1.14.0") {
		t.Fatal("dockerskeleton:1.14.0 not native")
	}
}

func checkManifestDevtools(t *testing.T, _ string, b []byte) {
	m := mustManifest(t, b)
	checkResolve(t, m, "nodejs:default", "nodejs:14", "openwhisk/action-nodejs-v14:nightly")
	checkResolve(t, m, "python:default", "python:3", "openwhisk/action-python-v3.7:nightly")
	checkStemCells(t, m, []StemCell{{Kind: "nodejs:14", Image: "openwhisk/action-nodejs-v14:nightly", Count: 2, MemoryMB: 256, Reactive: reactiveDefault}})
}
