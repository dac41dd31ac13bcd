package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const fpcFixturesDir = "testdata/fpc-fixtures"

func readFPCFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fpcFixturesDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fpcFixtureHandlers maps every file of testdata/fpc-fixtures to the test of its shape; TestFPCFixtures fails
// for a file without a handler and for a handler without a file.
var fpcFixtureHandlers = map[string]func(t *testing.T, name string, b []byte){
	"README.md": checkFPCReadme,

	"container-creation-message.json":               checkCreationHello,
	"container-creation-message-binding-retry.json": checkCreationBindingRetry,
	"container-creation-message-warmup.json":        checkCreationWarmUp,
	"container-deletion-message.json":               checkDeletion,

	"container-creation-ack-success.json":             checkAckSuccess,
	"container-creation-ack-resource-not-enough.json": checkAckResourceNotEnough,
	"container-creation-ack-shutting-down.json":       checkAckShuttingDown,
	"invoker-resource-message.json":                   roundTripResource,
	"invoker-resource-message-tags.json":              roundTripResource,
	"scheduler-endpoints-pekko.json":                  checkEndpoints,
	"scheduler-endpoints-akka.json":                   checkEndpoints,
	"scheduler-states.json":                           checkSchedulerStates,
	"etcd-keys.json":                                  checkEtcdKeys,
	"fetch-response-activation.json":                  checkFetchActivation,
	"fetch-response-no-activation.json":               checkFetchError(FetchNoActivation),
	"fetch-response-no-memory-queue.json":             checkFetchError(FetchNoMemoryQueue),
	"fetch-response-action-mismatch.json":             checkFetchError(FetchActionMismatch),
}

func TestFPCFixtures(t *testing.T) {
	entries, err := os.ReadDir(fpcFixturesDir)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, e := range entries {
		name := e.Name()
		seen[name] = true
		h, ok := fpcFixtureHandlers[name]
		if !ok {
			t.Errorf("fixture %s has no handler in fpcFixtureHandlers", name)
			continue
		}
		b := readFPCFixture(t, name)
		t.Run(name, func(t *testing.T) { h(t, name, b) })
	}
	for name := range fpcFixtureHandlers {
		if !seen[name] {
			t.Errorf("handler for %s but no such fixture", name)
		}
	}
}

func checkFPCReadme(t *testing.T, _ string, b []byte) {
	entries, err := os.ReadDir(fpcFixturesDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != "README.md" && !bytes.Contains(b, []byte("`"+e.Name()+"`")) {
			t.Errorf("README.md gives no provenance for %s", e.Name())
		}
	}
}

func parseCreationFixture(t *testing.T, b []byte) *ContainerCreationMessage {
	t.Helper()
	m, err := ParseContainerMessage(b)
	if err != nil {
		t.Fatal(err)
	}
	c, ok := m.(*ContainerCreationMessage)
	if !ok {
		t.Fatalf("read as %T, want a creation", m)
	}
	assertJSONEqual(t, mustMarshal(t, c.Marshal), b)
	if !bytes.Contains(mustMarshal(t, c.Marshal), c.TransID.Raw) {
		t.Fatalf("transid %s not echoed verbatim", c.TransID.Raw)
	}
	return c
}

func checkCreationHello(t *testing.T, _ string, b []byte) {
	c := parseCreationFixture(t, b)
	if c.IsWarmUp() || c.InvocationNamespace != "guest" || c.Action.String() != "guest/hello@0.0.2" ||
		c.RevisionString() != "2-5a0b4d1c8e2f43b7a9d6c3e1f0b2a4c7" || c.RootSchedulerIndex.CreationAckTopic() != "creationAck0" ||
		c.SchedulerHost != "10.0.0.5" || c.RPCPort != 13001 || c.RetryCount != 0 || c.CreationID != "4f1d7c2a9b3e48d6a0c5e7f9b1d3a5c7" {
		t.Fatalf("decoded %+v", c)
	}
	md := c.ActionMetaData
	if md.Kind != "nodejs:20" || md.Limits.MemoryMB != 256 || md.Limits.TimeoutMs != 60000 || md.Limits.Concurrency != 1 ||
		!md.Executable() || md.IsBlackbox() || md.Namespace != "guest" || md.Name != "hello" || md.Version != "0.0.2" {
		t.Fatalf("metadata %+v", md)
	}
	if FQNText(c.Action) != `{"path":"guest","name":"hello","version":"0.0.2"}` {
		t.Fatalf("gRPC fqn text %s", FQNText(c.Action))
	}
	if RevisionText(c.Revision) != `"2-5a0b4d1c8e2f43b7a9d6c3e1f0b2a4c7"` {
		t.Fatalf("gRPC rev text %s", RevisionText(c.Revision))
	}
}

func checkCreationBindingRetry(t *testing.T, _ string, b []byte) {
	c := parseCreationFixture(t, b)
	if c.Action.Binding != "alice/myutils" || c.Action.DocID() != "guest/utils/resize" || c.RetryCount != 2 ||
		c.RootSchedulerIndex.CreationAckTopic() != "creationAck1" {
		t.Fatalf("decoded %+v", c)
	}
	md := c.ActionMetaData
	if !md.IsBlackbox() || md.Image != "openwhisk/dockerskeleton:nightly" || !md.Binary || md.Main != "run" ||
		md.Limits.Concurrency != 4 || md.Limits.Instances != 8 || md.Limits.LogsMB != 0 || md.Limits.MemoryMB != 512 {
		t.Fatalf("metadata %+v", md)
	}
	// The binding travels in the gRPC fqn (the scheduler keys the queue by the doc id, but echoes what it got).
	if !strings.Contains(FQNText(c.Action), `"binding":"alice/myutils"`) {
		t.Fatalf("fqn text %s lost the binding", FQNText(c.Action))
	}
}

func checkCreationWarmUp(t *testing.T, _ string, b []byte) {
	c := parseCreationFixture(t, b)
	if !c.IsWarmUp() || c.Revision != nil || c.SchedulerHost != "" || c.RPCPort != 0 || c.TransID.ID() != "sid_warmUp" {
		t.Fatalf("decoded %+v", c)
	}
	if RevisionText(c.Revision) != "null" {
		t.Fatalf("rev text %s, want null", RevisionText(c.Revision))
	}
	// A real action's creation with the same name but a version is not the warm-up.
	c.Action.Version = "0.0.1"
	if c.IsWarmUp() {
		t.Fatal("whisk.system/warmUp@0.0.1 taken for the warm-up action")
	}
}

func checkDeletion(t *testing.T, _ string, b []byte) {
	m, err := ParseContainerMessage(b)
	if err != nil {
		t.Fatal(err)
	}
	d, ok := m.(*ContainerDeletionMessage)
	if !ok {
		t.Fatalf("read as %T, want a deletion", m)
	}
	assertJSONEqual(t, mustMarshal(t, d.Marshal), b)
	if d.InvocationNamespace != "guest" || d.Action.DocID() != "guest/hello" || d.RevisionString() != "3-9d2f4b6a8c0e41d3b5f7a9c1e3d5b7f9" {
		t.Fatalf("decoded %+v", d)
	}
}

var fixtureInvoker = InvokerInstanceID{Instance: 0, UserMemoryBytes: 2048 << 20}

// buildAck builds, from the creation fixture, the ack NEMO sends for err/reason and compares it with the fixture.
func buildAck(t *testing.T, want []byte, err CreationError, reason string) *ContainerCreationAckMessage {
	t.Helper()
	c := parseCreationFixture(t, readFPCFixture(t, "container-creation-message.json"))
	a := NewCreationAck(c, fixtureInvoker, err, reason)
	out := mustMarshal(t, a.Marshal)
	assertJSONEqual(t, out, want)
	if !bytes.Contains(out, c.TransID.Raw) {
		t.Fatal("transid not echoed verbatim")
	}
	// And it reads back the way the scheduler reads it.
	back, perr := ParseContainerCreationAck(out)
	if perr != nil {
		t.Fatalf("scheduler-side parse of our ack: %v", perr)
	}
	if back.CreationID != c.CreationID || back.Error != a.Error || back.Reason != a.Reason || back.RetryCount != c.RetryCount {
		t.Fatalf("read back %+v", back)
	}
	return a
}

func checkAckSuccess(t *testing.T, _ string, b []byte) {
	a := buildAck(t, b, "", "")
	if !a.Success() {
		t.Fatal("success ack reports an error")
	}
}

func checkAckResourceNotEnough(t *testing.T, _ string, b []byte) {
	a := buildAck(t, b, CreationErrResourceNotEnough,
		"creationId: 4f1d7c2a9b3e48d6a0c5e7f9b1d3a5c7, invoker[invoker0] doesn't have enough resource for container: guest/hello@0.0.2")
	if a.Error != CreationErrResourceNotEnough || !a.Error.Reschedulable() {
		t.Fatalf("error %q", a.Error)
	}
}

func checkAckShuttingDown(t *testing.T, _ string, b []byte) {
	a := buildAck(t, b, CreationErrShuttingDown, "creationId: 4f1d7c2a9b3e48d6a0c5e7f9b1d3a5c7, invoker is shutting down, reschedule guest/hello")
	if a.Error != CreationErrWhisk || !strings.HasPrefix(a.Reason, "ShuttingDownError: ") {
		t.Fatalf("error %q reason %q", a.Error, a.Reason)
	}
}

func roundTripResource(t *testing.T, _ string, b []byte) {
	r, err := ParseInvokerResourceMessage(b)
	if err != nil {
		t.Fatal(err)
	}
	assertJSONEqual(t, mustMarshal(t, r.Marshal), b)
	if r.FreeMemoryMB+r.BusyMemoryMB+r.InProgressMemoryMB != 2048 {
		t.Fatalf("free+busy+inProgress = %d, want the 2048 MB of user memory", r.FreeMemoryMB+r.BusyMemoryMB+r.InProgressMemoryMB)
	}
}

func checkEndpoints(t *testing.T, name string, b []byte) {
	e, err := ParseSchedulerEndpoints(b)
	if err != nil {
		t.Fatal(err)
	}
	assertJSONEqual(t, mustMarshal(t, e.Marshal), b)
	if e.Akka != strings.Contains(name, "akka") || e.RPCPort != 13001 || e.ActorPort != 25520 {
		t.Fatalf("decoded %+v", e)
	}
	if e.Target() != e.Host+":13001" {
		t.Fatalf("target %s", e.Target())
	}
}

func checkSchedulerStates(t *testing.T, _ string, b []byte) {
	s, err := ParseSchedulerStates(b)
	if err != nil {
		t.Fatal(err)
	}
	assertJSONEqual(t, mustMarshal(t, s.Marshal), b)
	if s.SID.AsString != "0" || s.QueueSize != 3 || s.Endpoints.Target() != "10.0.0.5:13001" {
		t.Fatalf("decoded %+v", s)
	}
}

func checkEtcdKeys(t *testing.T, _ string, b []byte) {
	var table struct {
		Cluster             string          `json:"cluster"`
		InvocationNamespace string          `json:"invocationNamespace"`
		Action              json.RawMessage `json:"action"`
		Revision            string          `json:"revision"`
		ContainerID         string          `json:"containerId"`
		Invokers            []struct {
			ID                InvokerInstanceID `json:"id"`
			InstanceLease     string            `json:"instanceLease"`
			InvokerResource   string            `json:"invokerResource"`
			ExistingContainer string            `json:"existingContainer"`
			WarmedContainer   string            `json:"warmedContainer"`
		} `json:"invokers"`
		LiveContainerPrefixes []string `json:"liveContainerPrefixes"`
		QueueLeader           string   `json:"queueLeader"`
		SchedulerPrefix       string   `json:"schedulerPrefix"`
	}
	if err := json.Unmarshal(b, &table); err != nil {
		t.Fatal(err)
	}
	fqn, err := ParseFullyQualifiedName(table.Action)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []EtcdKeys{{Cluster: table.Cluster}, {}} { // the zero value is the default cluster "whisk"
		ns, rev, cid := table.InvocationNamespace, table.Revision, table.ContainerID
		for _, inv := range table.Invokers {
			eq(t, "instance lease", k.InstanceLease(inv.ID), inv.InstanceLease)
			eq(t, "invoker resource", k.InvokerResource(inv.ID), inv.InvokerResource)
			eq(t, "existing container", k.ExistingContainer(ns, fqn, rev, inv.ID.Instance, cid), inv.ExistingContainer)
			eq(t, "warmed container", k.WarmedContainer(ns, fqn, rev, inv.ID.Instance, cid), inv.WarmedContainer)
			if !strings.HasPrefix(inv.InvokerResource, k.InvokersPrefix()) {
				t.Errorf("%s is not under %s", inv.InvokerResource, k.InvokersPrefix())
			}
		}
		got := k.LiveContainerPrefixes(ns, fqn, rev)
		if strings.Join(got, "\n") != strings.Join(table.LiveContainerPrefixes, "\n") {
			t.Errorf("live prefixes %q, want %q", got, table.LiveContainerPrefixes)
		}
		for i, inv := range table.Invokers {
			if !strings.HasPrefix(inv.ExistingContainer, got[0]) || !strings.HasPrefix(inv.WarmedContainer, got[2]) {
				t.Errorf("invoker %d: container keys are not under the count prefixes", i)
			}
		}
		eq(t, "queue leader", k.QueueLeader(ns, fqn), table.QueueLeader)
		eq(t, "scheduler prefix", k.SchedulerPrefix(), table.SchedulerPrefix)
	}
}

func eq(t *testing.T, what, got, want string) {
	t.Helper()
	if got != want {
		t.Errorf("%s: got %q, want %q", what, got, want)
	}
}

func checkFetchActivation(t *testing.T, _ string, b []byte) {
	r, err := ParseFetchResponse(b)
	if err != nil {
		t.Fatal(err)
	}
	if r.Error != "" || r.Activation == nil || r.Activation.ActivationID != "c7a9e52b1f0d4e3ab9e52b1f0d5e3a77" {
		t.Fatalf("decoded %+v", r)
	}
	// Raw is the activation exactly as the classic fixture has it (what a reschedule hands back).
	assertJSONEqual(t, r.Raw, readFixture(t, "activation-message-blocking.json"))
	wrapped := mustMarshal(t, func() ([]byte, error) { return MarshalFetchActivation(r.Raw) })
	assertJSONEqual(t, wrapped, b)
}

func checkFetchError(want FetchError) func(t *testing.T, name string, b []byte) {
	return func(t *testing.T, _ string, b []byte) {
		r, err := ParseFetchResponse(b)
		if err != nil {
			t.Fatal(err)
		}
		if r.Error != want || r.Activation != nil {
			t.Fatalf("decoded %+v, want %s", r, want)
		}
		assertJSONEqual(t, mustMarshal(t, func() ([]byte, error) { return MarshalFetchError(want) }), b)
	}
}

func TestCreationErrorNames(t *testing.T) {
	all := []CreationError{CreationErrNoAvailableInvokers, CreationErrNoAvailableResourceInvokers,
		CreationErrResourceNotEnough, CreationErrWhisk, CreationErrUnknown, CreationErrTimeout, CreationErrShuttingDown,
		CreationErrNonExecutableAction, CreationErrDBFetch, CreationErrBlackBox, CreationErrZeroNamespaceLimit,
		CreationErrTooManyConcurrentRequests, CreationErrInvalidActionLimit}
	resched := map[CreationError]bool{CreationErrNoAvailableInvokers: true, CreationErrNoAvailableResourceInvokers: true,
		CreationErrResourceNotEnough: true, CreationErrWhisk: true, CreationErrShuttingDown: true, CreationErrUnknown: true,
		CreationErrTimeout: true, CreationErrZeroNamespaceLimit: true}
	for _, e := range all {
		if e.Reschedulable() != resched[e] {
			t.Errorf("%s: Reschedulable %v", e, e.Reschedulable())
		}
		quirk := e == CreationErrShuttingDown || e == CreationErrNonExecutableAction
		if e.SchedulerParses() == quirk {
			t.Errorf("%s: SchedulerParses %v (the scheduler's parser quirks)", e, e.SchedulerParses())
		}
		s := e.ForScheduler()
		if !s.SchedulerParses() || s.Reschedulable() != e.Reschedulable() {
			t.Errorf("%s → %s: not parsable or changes the reschedule outcome", e, s)
		}
		if !quirk && s != e {
			t.Errorf("%s is parsable but ForScheduler changed it to %s", e, s)
		}
	}
	// The parser is case-insensitive and trims, as the scheduler's.
	if e, ok := ParseCreationErrorAsScheduler("  resourcenotenougherror "); !ok || e != CreationErrResourceNotEnough {
		t.Fatalf("lenient parse: %q %v", e, ok)
	}
	if _, ok := ParseCreationErrorAsScheduler("NonExecutableActionError"); ok {
		t.Fatal("the scheduler cannot parse NonExecutableActionError (its parser misspells it)")
	}
}

func TestContainerMessageErrors(t *testing.T) {
	base := readFPCFixture(t, "container-creation-message.json")
	var m map[string]json.RawMessage
	if err := json.Unmarshal(base, &m); err != nil {
		t.Fatal(err)
	}
	mutate := func(f func(map[string]json.RawMessage)) []byte {
		c := map[string]json.RawMessage{}
		for k, v := range m {
			c[k] = v
		}
		f(c)
		b, _ := json.Marshal(c)
		return b
	}
	cases := map[string][]byte{
		"not JSON":           []byte(`{"creationId":`),
		"array":              []byte(`[]`),
		"missing transid":    mutate(func(c map[string]json.RawMessage) { delete(c, "transid") }),
		"missing revision":   mutate(func(c map[string]json.RawMessage) { delete(c, "revision") }),
		"missing retryCount": mutate(func(c map[string]json.RawMessage) { delete(c, "retryCount") }),
		"missing metadata":   mutate(func(c map[string]json.RawMessage) { delete(c, "whiskActionMetaData") }),
		"metadata without exec": mutate(func(c map[string]json.RawMessage) {
			c["whiskActionMetaData"] = json.RawMessage(`{"namespace":"guest","name":"hello","limits":{"timeout":1,"memory":1}}`)
		}),
		"creationId short": mutate(func(c map[string]json.RawMessage) { c["creationId"] = json.RawMessage(`"abc"`) }),
		"creationId upper": mutate(func(c map[string]json.RawMessage) {
			c["creationId"] = json.RawMessage(`"4F1D7C2A9B3E48D6A0C5E7F9B1D3A5C7"`)
		}),
		"rpcPort string":        mutate(func(c map[string]json.RawMessage) { c["rpcPort"] = json.RawMessage(`"13001"`) }),
		"rpcPort zero":          mutate(func(c map[string]json.RawMessage) { c["rpcPort"] = json.RawMessage(`0`) }),
		"empty scheduler host":  mutate(func(c map[string]json.RawMessage) { c["schedulerHost"] = json.RawMessage(`""`) }),
		"bad scheduler index":   mutate(func(c map[string]json.RawMessage) { c["rootSchedulerIndex"] = json.RawMessage(`{"asString":"a b"}`) }),
		"empty invocation ns":   mutate(func(c map[string]json.RawMessage) { c["invocationNamespace"] = json.RawMessage(`""`) }),
		"deletion without meta": []byte(`{"transid":["x",1],"invocationNamespace":"guest","action":"guest/hello","revision":"1-a"}`),
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := ParseContainerMessage(b); !errors.Is(err, ErrMalformed) {
				t.Fatalf("err = %v, want ErrMalformed", err)
			}
		})
	}
}

func TestFetchResponseErrors(t *testing.T) {
	for name, b := range map[string]string{
		"no message":       `{}`,
		"message string":   `{"message":"x"}`,
		"unknown type":     `{"message":{"type":"Whatever"}}`,
		"activation wrong": `{"message":{"activationId":"nothex"}}`,
		"not JSON":         `{"message":`,
	} {
		if _, err := ParseFetchResponse([]byte(b)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err = %v, want ErrMalformed", name, err)
		}
	}
	if _, err := MarshalFetchError("Bogus"); !errors.Is(err, ErrMalformed) {
		t.Errorf("MarshalFetchError(Bogus) = %v", err)
	}
	for in, want := range map[string]string{`null`: "<nil>", ` "1-a" `: "1-a"} {
		r, err := ParseRevisionText(in)
		if err != nil {
			t.Fatal(err)
		}
		got := "<nil>"
		if r != nil {
			got = *r
		}
		if got != want {
			t.Errorf("ParseRevisionText(%s) = %s", in, got)
		}
	}
	if _, err := ParseRevisionText(`1`); !errors.Is(err, ErrMalformed) {
		t.Errorf("ParseRevisionText(1) = %v", err)
	}
}

func TestSchedulerEndpointsErrors(t *testing.T) {
	for _, b := range []string{`{"host":"","rpcPort":1}`, `{"host":"h","rpcPort":0}`, `{"host":"h"}`, `{"rpcPort":1}`, `[]`} {
		if _, err := ParseSchedulerEndpoints([]byte(b)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err = %v", b, err)
		}
	}
	e, err := ParseSchedulerEndpoints([]byte(`{"host":"::1","rpcPort":13001}`))
	if err != nil || e.Target() != "[::1]:13001" {
		t.Fatalf("IPv6 endpoint: %+v %v", e, err)
	}
}
