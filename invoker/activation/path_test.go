package activation

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nemo-edge/nemo/invoker/metrics"
	"github.com/nemo-edge/nemo/invoker/wire"
	"github.com/nemo-edge/nemo/pool/proxy"
)

const fixtures = "../wire/testdata/fixtures"

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtures, name))
	require.NoError(t, err)
	return b
}

// ---- fakes ----

type fakeStore struct {
	mu          sync.Mutex
	actions     map[string]*wire.Action
	records     map[string]*wire.WhiskActivation
	unavailable int // GetAction fails with ErrUnavailable this many times
	gets        int
	onPut       func() // called before a record is stored, outside the lock
}

func newFakeStore() *fakeStore {
	return &fakeStore{actions: map[string]*wire.Action{}, records: map[string]*wire.WhiskActivation{}}
}

func (s *fakeStore) GetAction(ctx context.Context, docID, rev string) (*wire.Action, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gets++
	if s.unavailable > 0 {
		s.unavailable--
		return nil, fmt.Errorf("fake: %w", errdefs.ErrUnavailable)
	}
	a, ok := s.actions[docID]
	if !ok {
		return nil, fmt.Errorf("fake %s: %w", docID, errdefs.ErrNotFound)
	}
	cp := *a
	return &cp, nil
}

func (s *fakeStore) PutActivation(ctx context.Context, a *wire.WhiskActivation) error {
	if s.onPut != nil {
		s.onPut()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.records[a.DocID()]; ok {
		return fmt.Errorf("fake: %w", errdefs.ErrConflict)
	}
	s.records[a.DocID()] = a
	return nil
}

func (s *fakeStore) GetActivation(ctx context.Context, ns, aid string) (*wire.WhiskActivation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.records[ns+"/"+aid]
	if !ok {
		return nil, fmt.Errorf("fake: %w", errdefs.ErrNotFound)
	}
	return a, nil
}

type sent struct {
	topic string
	body  []byte
}

type fakeAcker struct {
	mu     sync.Mutex
	acks   []sent
	events [][]byte
}

func (f *fakeAcker) SendAck(ctx context.Context, controller string, ack wire.Ack) error {
	b, err := ack.Marshal()
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.acks = append(f.acks, sent{"completed" + controller, b})
	return nil
}

func (f *fakeAcker) SendEvent(ctx context.Context, ev *wire.EventMessage) error {
	b, err := ev.Marshal()
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events = append(f.events, b)
	return nil
}

type fakeRunner struct {
	outcome *Outcome
	err     error
	skipRun bool // behave like an init failure: no onRunDone
	calls   int
	lastJob *Job
	mu      sync.Mutex
}

func (r *fakeRunner) Run(ctx context.Context, job *Job, onRunDone func(*Outcome)) (*Outcome, error) {
	r.mu.Lock()
	r.calls++
	r.lastJob = job
	r.mu.Unlock()
	if r.err != nil {
		return nil, r.err
	}
	o := *r.outcome
	if onRunDone != nil && !r.skipRun {
		noLogs := o
		noLogs.Logs = nil
		onRunDone(&noLogs)
	}
	return &o, nil
}

// ---- helpers ----

func helloAction(t *testing.T, logsMB int) *wire.Action {
	t.Helper()
	doc := fixture(t, "action-doc-nodejs-inline.json")
	a, err := wire.ParseAction(doc)
	require.NoError(t, err)
	a.Namespace, a.Name, a.Version = "guest", "hello", "0.0.2"
	a.Limits.LogsMB = logsMB
	return a
}

var t0 = time.UnixMilli(1717236920000)

func successOutcome() *Outcome {
	size := 26
	return &Outcome{
		Response:       proxy.Response{StatusCode: 0, Result: json.RawMessage(`{"payload":"Hello World"}`), Size: &size},
		Logs:           []string{"2024-06-01T10:15:20.649123456Z stdout: hello World"},
		InitDuration:   37 * time.Millisecond,
		Start:          t0.Add(645 * time.Millisecond),
		End:            t0.Add(686 * time.Millisecond),
		WaitStart:      t0.Add(608 * time.Millisecond),
		ContainerState: "cold",
	}
}

type harness struct {
	store  *fakeStore
	acks   *fakeAcker
	runner *fakeRunner
	path   *Path
	logs   *bytes.Buffer
	reg    *metrics.Registry
}

func newHarness(t *testing.T, mod func(*Config)) *harness {
	t.Helper()
	m, err := wire.ParseManifest(fixture(t, "runtimes.json"))
	require.NoError(t, err)
	h := &harness{store: newFakeStore(), acks: &fakeAcker{}, runner: &fakeRunner{outcome: successOutcome()},
		logs: &bytes.Buffer{}, reg: metrics.NewRegistry()}
	cfg := Config{
		Instance: wire.InvokerInstanceID{Instance: 0, UserMemoryBytes: 2048 << 20, Tags: []string{}, DedicatedNamespaces: []string{}},
		Manifest: m,
		Now:      func() time.Time { return t0.Add(time.Second) },
	}
	if mod != nil {
		mod(&cfg)
	}
	h.path = New(cfg, h.store, h.runner, h.acks, h.reg, zerolog.New(h.logs))
	return h
}

func ackFields(t *testing.T, b []byte) map[string]json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(b, &m))
	return m
}

func blockingMsg(t *testing.T) []byte { return fixture(t, "activation-message-blocking.json") }

func nonBlockingMsg(t *testing.T) []byte {
	var m map[string]any
	require.NoError(t, json.Unmarshal(blockingMsg(t), &m))
	m["blocking"] = false
	b, err := json.Marshal(m)
	require.NoError(t, err)
	return b
}

// ---- tests ----

func TestBlockingWithLogsSendsResultThenCompletionAndStoresFullRecord(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.UserEvents = true })
	h.store.actions["guest/hello"] = helloAction(t, 10)

	r := h.path.Process(context.Background(), Item{Value: blockingMsg(t)})
	require.Equal(t, ResultRan, r)
	require.Len(t, h.acks.acks, 2)
	assert.Equal(t, "completed0", h.acks.acks[0].topic)

	result := ackFields(t, h.acks.acks[0].body)
	assert.NotContains(t, result, "instance", "first ack must be a ResultMessage")
	var act map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(result["response"], &act))
	assert.JSONEq(t, `[]`, string(act["logs"]), "the Result carries the activation without logs")

	completion := ackFields(t, h.acks.acks[1].body)
	assert.JSONEq(t, `"c7a9e52b1f0d4e3ab9e52b1f0d5e3a77"`, string(completion["activationId"]))
	assert.JSONEq(t, `false`, string(completion["isSystemError"]))
	assert.NotContains(t, completion, "response")

	rec := h.store.records["guest/c7a9e52b1f0d4e3ab9e52b1f0d5e3a77"]
	require.NotNil(t, rec)
	assert.Equal(t, []string{"2024-06-01T10:15:20.649123456Z stdout: hello World"}, rec.Logs)
	assert.Equal(t, t0.Add(608*time.Millisecond).UnixMilli(), rec.Start, "start = run start - init time")
	assert.Equal(t, int64(78), *rec.Duration)
	initTime, ok := rec.Annotation("initTime")
	require.True(t, ok)
	assert.JSONEq(t, `37`, string(initTime))
	waitTime, _ := rec.Annotation("waitTime")
	assert.JSONEq(t, `608`, string(waitTime))
	require.Len(t, h.acks.events, 1, "one user event with the slot-freeing ack")
}

// The record is written once the slot-freeing ack went out: nothing but the Kafka commit waits for it, so
// its write must not compete with the ack's delivery.
func TestRecordIsStoredAfterTheSlotFreeingAck(t *testing.T) {
	for _, tc := range []struct {
		name     string
		msg      func(*testing.T) []byte
		logsMB   int
		wantAcks int
	}{
		{"blocking with logs: Result and Completion", blockingMsg, 10, 2},
		{"blocking without logs: Combined", blockingMsg, 0, 1},
		{"non-blocking: Completion", nonBlockingMsg, 10, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, nil)
			h.store.actions["guest/hello"] = helloAction(t, tc.logsMB)
			acksAtPut := -1
			h.store.onPut = func() {
				h.acks.mu.Lock()
				defer h.acks.mu.Unlock()
				acksAtPut = len(h.acks.acks)
			}
			require.Equal(t, ResultRan, h.path.Process(context.Background(), Item{Value: tc.msg(t)}))
			require.Len(t, h.acks.acks, tc.wantAcks)
			assert.Equal(t, tc.wantAcks, acksAtPut, "every ack was sent before the record was written")
			assert.Len(t, h.store.records, 1)
		})
	}
}

func TestAcksEchoTransidByteExactly(t *testing.T) {
	h := newHarness(t, nil)
	h.store.actions["guest/hello"] = helloAction(t, 10)
	raw := strings.Replace(string(blockingMsg(t)), `"transid": [
    "k3Mx7QpZ2bN9aLr4Vt8WcY1dEf6GhJ0s",
    1717236920000
  ]`, `"transid":["k3Mx7QpZ2bN9aLr4Vt8WcY1dEf6GhJ0s", 1717236920000, true]`, 1)
	require.NotEqual(t, string(blockingMsg(t)), raw)
	h.path.Process(context.Background(), Item{Value: []byte(raw)})
	require.Len(t, h.acks.acks, 2)
	for _, a := range h.acks.acks {
		assert.Contains(t, string(a.body), `"transid":["k3Mx7QpZ2bN9aLr4Vt8WcY1dEf6GhJ0s", 1717236920000, true]`)
	}
}

func TestBlockingWithoutLogsSendsOneCombinedAck(t *testing.T) {
	h := newHarness(t, nil)
	h.store.actions["guest/hello"] = helloAction(t, 0)
	h.path.Process(context.Background(), Item{Value: blockingMsg(t)})
	require.Len(t, h.acks.acks, 1)
	f := ackFields(t, h.acks.acks[0].body)
	assert.Contains(t, f, "instance")
	assert.True(t, bytes.HasPrefix(f["response"], []byte("{")), "full activation in a blocking Combined ack")
}

func TestNonBlockingSendsOnlyCompletion(t *testing.T) {
	h := newHarness(t, nil)
	h.store.actions["guest/hello"] = helloAction(t, 10)
	h.path.Process(context.Background(), Item{Value: nonBlockingMsg(t)})
	require.Len(t, h.acks.acks, 1)
	f := ackFields(t, h.acks.acks[0].body)
	assert.Contains(t, f, "activationId")
	assert.NotContains(t, f, "response")
	assert.Len(t, h.store.records, 1)
}

func TestMissingActionGetsApplicationErrorCombinedAck(t *testing.T) {
	for _, blocking := range []bool{true, false} {
		t.Run(fmt.Sprintf("blocking=%v", blocking), func(t *testing.T) {
			h := newHarness(t, nil)
			msg := blockingMsg(t)
			if !blocking {
				msg = nonBlockingMsg(t)
			}
			require.Equal(t, ResultFetchFailed, h.path.Process(context.Background(), Item{Value: msg}))
			require.Len(t, h.acks.acks, 1)
			f := ackFields(t, h.acks.acks[0].body)
			assert.JSONEq(t, `false`, string(f["isSystemError"]))
			if blocking {
				assert.Contains(t, string(f["response"]), wire.MsgActionNotFound)
			} else {
				assert.JSONEq(t, `"c7a9e52b1f0d4e3ab9e52b1f0d5e3a77"`, string(f["response"]), "non-blocking Combined is shrunk")
			}
			rec := h.store.records["guest/c7a9e52b1f0d4e3ab9e52b1f0d5e3a77"]
			require.NotNil(t, rec, "fallback activations are stored")
			assert.Equal(t, proxy.StatusApplicationError, rec.Response.StatusCode)
			assert.Zero(t, h.runner.calls)
		})
	}
}

func TestUnreadableMessagesGetNoAck(t *testing.T) {
	cases := map[string][]byte{
		"malformed json":     []byte(`{"transid":`),
		"wrong type":         []byte(strings.Replace(string(fixture(t, "activation-message-blocking.json")), `"blocking": true`, `"blocking": "yes"`, 1)),
		"invalid activation": []byte(strings.Replace(string(fixture(t, "activation-message-blocking.json")), `c7a9e52b1f0d4e3ab9e52b1f0d5e3a77`, `not-an-id`, 1)),
		"missing user":       []byte(`{"transid":["x",1],"action":"guest/hello","activationId":"c7a9e52b1f0d4e3ab9e52b1f0d5e3a77","rootControllerIndex":{"asString":"0","instanceType":"controller"},"blocking":true}`),
		"oversized":          append([]byte(`{"x":"`), bytes.Repeat([]byte("a"), MaxActivationBytes)...),
		"empty":              nil,
	}
	for name, msg := range cases {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, nil)
			h.store.actions["guest/hello"] = helloAction(t, 10)
			assert.Equal(t, ResultInvalid, h.path.Process(context.Background(), Item{Value: msg}))
			assert.Empty(t, h.acks.acks)
			assert.Zero(t, h.runner.calls)
			assert.Contains(t, h.logs.String(), "terminal failure while processing message")
		})
	}
}

func TestRedeliveredRecordedActivationIsReackedNotRerun(t *testing.T) {
	h := newHarness(t, nil)
	h.store.actions["guest/hello"] = helloAction(t, 10)
	require.Equal(t, ResultRan, h.path.Process(context.Background(), Item{Value: blockingMsg(t)}))
	require.Equal(t, 1, h.runner.calls)

	require.Equal(t, ResultDuplicate, h.path.Process(context.Background(), Item{Value: blockingMsg(t), MaybeRedelivered: true}))
	assert.Equal(t, 1, h.runner.calls, "not run again")
	require.Len(t, h.acks.acks, 3)
	f := ackFields(t, h.acks.acks[2].body)
	assert.Contains(t, f, "instance")
	assert.Contains(t, string(f["response"]), "Hello World", "re-ack carries the stored record")
}

func TestRedeliveredButUnrecordedActivationRuns(t *testing.T) {
	h := newHarness(t, nil)
	h.store.actions["guest/hello"] = helloAction(t, 10)
	require.Equal(t, ResultRan, h.path.Process(context.Background(), Item{Value: blockingMsg(t), MaybeRedelivered: true}))
	assert.Equal(t, 1, h.runner.calls)
}

func TestProvisioningFailureIsWhiskErrorCombined(t *testing.T) {
	h := newHarness(t, nil)
	h.store.actions["guest/hello"] = helloAction(t, 10)
	h.runner.err = errors.New("docker: no such image")
	require.Equal(t, ResultProvision, h.path.Process(context.Background(), Item{Value: blockingMsg(t)}))
	require.Len(t, h.acks.acks, 1)
	f := ackFields(t, h.acks.acks[0].body)
	assert.JSONEq(t, `true`, string(f["isSystemError"]))
	assert.Contains(t, string(f["response"]), proxy.MsgProvisionFailed)
}

func TestInitFailureOnBlockingSplitIsOneCombinedAck(t *testing.T) {
	h := newHarness(t, nil)
	h.store.actions["guest/hello"] = helloAction(t, 10)
	o := successOutcome()
	o.Response = proxy.ErrorResponse(proxy.StatusDeveloperError, "boom")
	h.runner.outcome, h.runner.skipRun = o, true
	h.path.Process(context.Background(), Item{Value: blockingMsg(t)})
	require.Len(t, h.acks.acks, 1)
	assert.Contains(t, ackFields(t, h.acks.acks[0].body), "instance")
}

func TestBlacklistedNamespaceIsNotInvokedNorStored(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Blocked = func(ns string) bool { return ns == "guest" } })
	h.store.actions["guest/hello"] = helloAction(t, 10)
	require.Equal(t, ResultBlocked, h.path.Process(context.Background(), Item{Value: blockingMsg(t)}))
	require.Len(t, h.acks.acks, 1)
	assert.JSONEq(t, `"c7a9e52b1f0d4e3ab9e52b1f0d5e3a77"`, string(ackFields(t, h.acks.acks[0].body)["response"]))
	assert.Empty(t, h.store.records)
	assert.Zero(t, h.runner.calls)
}

func TestStoreActivationsFalseSkipsRecord(t *testing.T) {
	h := newHarness(t, nil)
	h.store.actions["guest/hello"] = helloAction(t, 10)
	msg := strings.Replace(string(blockingMsg(t)), `"limits": {}`, `"limits": {"storeActivations": false}`, 1)
	h.path.Process(context.Background(), Item{Value: []byte(msg)})
	assert.Empty(t, h.store.records)
	assert.Len(t, h.acks.acks, 2)
}

func TestStoreOutageDuringFetchIsRetried(t *testing.T) {
	h := newHarness(t, nil)
	h.store.actions["guest/hello"] = helloAction(t, 10)
	h.store.unavailable = 2
	require.Equal(t, ResultRan, h.path.Process(context.Background(), Item{Value: blockingMsg(t)}))
	assert.Equal(t, 3, h.store.gets)
}

func TestStoreOutageBeyondFetchTimeoutIsWhiskError(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.FetchTimeout = 150 * time.Millisecond })
	h.store.unavailable = 1000
	require.Equal(t, ResultFetchFailed, h.path.Process(context.Background(), Item{Value: blockingMsg(t)}))
	f := ackFields(t, h.acks.acks[0].body)
	assert.JSONEq(t, `true`, string(f["isSystemError"]))
	assert.Contains(t, string(f["response"]), wire.MsgActionNotFetched)
}

func TestEveryLogLineCarriesTransid(t *testing.T) {
	h := newHarness(t, nil)
	h.store.actions["guest/hello"] = helloAction(t, 10)
	h.path.Process(context.Background(), Item{Value: blockingMsg(t)})
	lines := strings.Split(strings.TrimSpace(h.logs.String()), "\n")
	require.NotEmpty(t, lines)
	for _, l := range lines {
		assert.Contains(t, l, `"transid":"k3Mx7QpZ2bN9aLr4Vt8WcY1dEf6GhJ0s"`, l)
	}
}

func TestMetricsCountStatuses(t *testing.T) {
	h := newHarness(t, nil)
	h.store.actions["guest/hello"] = helloAction(t, 10)
	h.path.Process(context.Background(), Item{Value: blockingMsg(t)})
	h.path.Process(context.Background(), Item{Value: []byte("nope")})
	var b bytes.Buffer
	h.reg.Write(&b)
	assert.Contains(t, b.String(), `nemo_activations_total{status="success"} 1`)
	assert.Contains(t, b.String(), `nemo_records_total{result="invalid"} 1`)
	assert.Contains(t, b.String(), `nemo_acks_total{kind="result"} 1`)
}

type flakyStore struct {
	*fakeStore
	putFailures int
	puts        int
}

func (s *flakyStore) PutActivation(ctx context.Context, a *wire.WhiskActivation) error {
	s.mu.Lock()
	s.puts++
	fail := s.puts <= s.putFailures
	s.mu.Unlock()
	if fail {
		return fmt.Errorf("flaky: %w", errdefs.ErrUnavailable)
	}
	return s.fakeStore.PutActivation(ctx, a)
}

func TestRecordWriteOutageIsRetriedNotLost(t *testing.T) {
	h := newHarness(t, nil)
	fs := &flakyStore{fakeStore: h.store, putFailures: 3}
	h.path = New(h.path.cfg, fs, h.runner, h.acks, metrics.NewRegistry(), zerolog.New(h.logs))
	h.store.actions["guest/hello"] = helloAction(t, 10)
	require.Equal(t, ResultRan, h.path.Process(context.Background(), Item{Value: blockingMsg(t)}))
	assert.Equal(t, 4, fs.puts)
	assert.Len(t, h.store.records, 1)
}

// lockedActivation is the blocking fixture with a "password" parameter locked by key (AES-128-GCM, the
// layout the controller writes: int32 IV length, IV, ciphertext and tag, base64).
func lockedActivation(t *testing.T, key []byte, plaintext string) []byte {
	t.Helper()
	block, err := aes.NewCipher(key)
	require.NoError(t, err)
	gcm, err := cipher.NewGCM(block)
	require.NoError(t, err)
	iv := bytes.Repeat([]byte{7}, gcm.NonceSize())
	sealed := gcm.Seal(nil, iv, []byte(plaintext), nil)
	buf := binary.BigEndian.AppendUint32(nil, uint32(len(iv)))
	buf = append(append(buf, iv...), sealed...)
	var m map[string]any
	require.NoError(t, json.Unmarshal(blockingMsg(t), &m))
	m["content"] = map[string]any{"name": "World", "password": base64.StdEncoding.EncodeToString(buf)}
	m["lockedArgs"] = map[string]string{"password": "aes128"}
	b, err := json.Marshal(m)
	require.NoError(t, err)
	return b
}

func TestLockedParametersAreDecryptedForTheAction(t *testing.T) {
	key := []byte("0123456789abcdef")
	pk, err := wire.NewParameterKey(base64.StdEncoding.EncodeToString(key))
	require.NoError(t, err)
	h := newHarness(t, func(c *Config) { c.ParameterKey = pk })
	h.store.actions["guest/hello"] = helloAction(t, 10)
	require.Equal(t, ResultRan, h.path.Process(context.Background(), Item{Value: lockedActivation(t, key, "hunter2")}))
	value := runValue(t, h.runner.lastJob)
	assert.Equal(t, map[string]string{"name": "World", "password": "hunter2"}, value)
	assert.NotContains(t, h.logs.String(), "hunter2", "the secret is never logged")
}

func TestLockedParametersWithoutAKeyPassThroughEncrypted(t *testing.T) {
	key := []byte("0123456789abcdef")
	raw := lockedActivation(t, key, "hunter2")
	h := newHarness(t, nil)
	h.store.actions["guest/hello"] = helloAction(t, 10)
	require.Equal(t, ResultRan, h.path.Process(context.Background(), Item{Value: raw}))
	value := runValue(t, h.runner.lastJob)
	assert.NotEqual(t, "hunter2", value["password"], "no key: the value stays locked, as in OpenWhisk")
	assert.Contains(t, h.logs.String(), "no parameter-storage key configured")
}

func TestLockedParametersThatDoNotDecryptAreAWhiskError(t *testing.T) {
	pk, err := wire.NewParameterKey(base64.StdEncoding.EncodeToString([]byte("another-key-0123")))
	require.NoError(t, err)
	h := newHarness(t, func(c *Config) { c.ParameterKey = pk })
	h.store.actions["guest/hello"] = helloAction(t, 10)
	r := h.path.Process(context.Background(), Item{Value: lockedActivation(t, []byte("0123456789abcdef"), "hunter2")})
	require.Equal(t, ResultUnlockFailed, r)
	assert.Zero(t, h.runner.calls, "the action is not run with parameters it cannot read")
	require.Len(t, h.acks.acks, 1)
	f := ackFields(t, h.acks.acks[0].body)
	assert.JSONEq(t, `true`, string(f["isSystemError"]), "a whisk error")
	require.Len(t, h.store.records, 1, "the failed activation is recorded")
	assert.Contains(t, h.logs.String(), "cannot decrypt the activation's locked parameters")
}

// runValue is the "value" member of the /run body the job would send.
func runValue(t *testing.T, job *Job) map[string]string {
	t.Helper()
	body, err := job.RunBody(time.Now().Add(time.Minute))
	require.NoError(t, err)
	var run struct {
		Value map[string]string `json:"value"`
	}
	require.NoError(t, json.Unmarshal(body, &run))
	return run.Value
}

func TestFetchErrorResponseByErrorClass(t *testing.T) {
	for _, c := range []struct {
		err    error
		status int
		msg    string
	}{
		{fmt.Errorf("couchdb: %w", errdefs.ErrNotFound), proxy.StatusApplicationError, wire.MsgActionNotFound},
		{fmt.Errorf("a trigger: %w", errdefs.ErrDataLoss), proxy.StatusWhiskError, wire.MsgVersionIncompatible},
		{fmt.Errorf("a sequence: %w", errdefs.ErrNotImplemented), proxy.StatusWhiskError, wire.MsgActionNotFetched},
		{fmt.Errorf("down: %w", errdefs.ErrUnavailable), proxy.StatusWhiskError, wire.MsgActionNotFetched},
		{errors.New("anything else"), proxy.StatusWhiskError, wire.MsgActionNotFetched},
	} {
		assert.Equal(t, proxy.ErrorResponse(c.status, c.msg), fetchErrorResponse(c.err), c.err.Error())
	}
}
