package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/containerd/errdefs"

	"github.com/nemo-edge/nemo/invoker/wire"
	"github.com/nemo-edge/nemo/pool"
	"github.com/nemo-edge/nemo/pool/proxy"
)

func testManifest(t *testing.T, families string) *wire.Manifest {
	t.Helper()
	m, err := wire.ParseManifest([]byte(`{"runtimes":{` + families + `}}`))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

const (
	nodeFamily   = `"nodejs":[{"kind":"nodejs:20","default":true,"image":{"prefix":"openwhisk","name":"action-nodejs-v20","tag":"nightly"}}]`
	pyFamily     = `"python":[{"kind":"python:3","default":true,"image":{"prefix":"nemo","name":"action-python","tag":"3.11"}}]`
	javaFamily   = `"java":[{"kind":"java:8","default":true,"image":{"prefix":"openwhisk","name":"java8action","tag":"nightly"}}]`
	healthDocID7 = "whisk.system/invokerHealthTestAction7"
)

// The health action's kind: nodejs:default by default; a configured kind the manifest has; a kind the manifest
// lacks falls back to the first of nodejs, python, php, ruby and go the manifest has (said so); no such family
// is an error.
func TestHealthKind(t *testing.T) {
	for _, c := range []struct {
		families, configured, kind string
		fellBack                   bool
		err                        bool
	}{
		{nodeFamily + "," + pyFamily, "", "nodejs:20", false, false},
		{nodeFamily + "," + pyFamily, "python:3", "python:3", false, false},
		{pyFamily, "", "python:3", true, false},
		{pyFamily + "," + javaFamily, "java:8", "python:3", true, false}, // java has no echo source
		{javaFamily, "", "", false, true},
	} {
		kind, code, fellBack, err := HealthKind(testManifest(t, c.families), c.configured)
		if (err != nil) != c.err || kind != c.kind || fellBack != c.fellBack {
			t.Errorf("%s / %q: kind %q fellBack %v err %v; want %q %v err %v", c.families, c.configured, kind, fellBack, err, c.kind, c.fellBack, c.err)
		}
		if err == nil && code == "" {
			t.Errorf("%s: no code", c.kind)
		}
		if c.err && !errors.Is(err, ErrNoHealthKind) {
			t.Errorf("error %v does not wrap ErrNoHealthKind", err)
		}
	}
}

// memWriter is the whisks database for the health action.
type memWriter struct {
	mu   sync.Mutex
	docs map[string]*wire.Action
	puts int
}

func (w *memWriter) GetAction(_ context.Context, docID, _ string) (*wire.Action, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	a, ok := w.docs[docID]
	if !ok {
		return nil, fmt.Errorf("missing: %w", errdefs.ErrNotFound)
	}
	c := *a
	return &c, nil
}

func (w *memWriter) PutActionDoc(_ context.Context, doc []byte) (string, error) {
	a, err := wire.ParseAction(doc)
	if err != nil {
		return "", err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	cur, ok := w.docs[a.ID]
	if ok && cur.Rev != a.Rev {
		return "", errors.New("conflict")
	}
	gen := 1
	if ok {
		_, _ = fmt.Sscanf(cur.Rev, "%d-", &gen)
		gen++
	}
	a.Rev = fmt.Sprintf("%d-abc", gen)
	w.docs[a.ID] = a
	w.puts++
	return a.Rev, nil
}

// healthRig is Slots over the fake pool with both activation paths: the health path records the messages it
// gets and runs them on their slot's pool key; the normal path must never see a health activation.
type healthRig struct {
	fp      *fakePool
	slots   *Slots
	health  *Health
	test    *HealthActionTest
	writer  *memWriter
	mu      sync.Mutex
	msgs    []*wire.ActivationMessage
	normals int
}

func newHealthRig(t *testing.T, m *wire.Manifest) *healthRig {
	r := &healthRig{fp: newFakePool(), writer: &memWriter{docs: map[string]*wire.Action{}}}
	r.test = &HealthActionTest{Instance: 7, Manifest: m, Writer: r.writer}
	r.health = NewHealth(r.test)
	r.slots = NewSlots(r.fp, r.health)
	r.test.Slots = r.slots
	runner := r.slots.Wrap(r.fp)
	r.slots.SetProcess(func(context.Context, []byte) { r.mu.Lock(); r.normals++; r.mu.Unlock() })
	r.slots.SetHealthProcess(func(ctx context.Context, raw []byte) {
		msg, err := wire.ParseActivationMessage(raw)
		if err != nil {
			t.Errorf("health activation does not parse: %v", err)
			return
		}
		r.mu.Lock()
		r.msgs = append(r.msgs, msg)
		r.mu.Unlock()
		_, _ = runner.Run(ctx, &pool.Job{ID: msg.ActivationID, Spec: pool.Spec{Key: pool.Key{Namespace: msg.User.Namespace.Name,
			Action: msg.Action.DocID(), ContentHash: *msg.Revision}, MemoryMB: HealthMemoryMB}}, nil)
	})
	return r
}

func (r *healthRig) messages() []*wire.ActivationMessage {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*wire.ActivationMessage(nil), r.msgs...)
}

// The self-test writes whisk.system/invokerHealthTestAction<N> (python, the manifest having no nodejs: 128 MB,
// log limit 0, echo code), runs its synthetic activation (controller "health", whisk.system, non-blocking,
// the written revision) in a container of its own through the health path only, goes up, and removes the
// test container. A second run leaves an unchanged document alone.
func TestHealthActionSelfTest(t *testing.T) {
	r := newHealthRig(t, testManifest(t, pyFamily))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.health.Run(ctx, 20*time.Millisecond); close(done) }()
	waitStatus(t, r.health, wire.InvokerUp)
	waitPoolLog(t, r.fp, "evict")
	doc := r.writer.docs[healthDocID7]
	if doc == nil {
		t.Fatalf("no health action document; have %v", r.writer.docs)
	}
	if doc.Namespace != "whisk.system" || doc.Name != "invokerHealthTestAction7" || doc.Exec.Kind != "python:3" ||
		doc.Limits.MemoryMB != 128 || doc.Limits.LogsMB != 0 || !strings.Contains(doc.Exec.Code, "return args") {
		t.Fatalf("health action document %+v", doc)
	}
	msgs := r.messages()
	if len(msgs) != 1 {
		t.Fatalf("%d health activations, want 1 (the first result gives up)", len(msgs))
	}
	m := msgs[0]
	if m.RootControllerIndex.AsString != "health" || m.Blocking || m.User.Namespace.Name != "whisk.system" ||
		m.Action.DocID() != healthDocID7 || m.Revision == nil || *m.Revision != doc.Rev || m.TransID.ID() != HealthTransID {
		t.Fatalf("health activation %+v", m)
	}
	if r.normals != 0 {
		t.Fatalf("the normal activation path ran %d health activations", r.normals)
	}
	log := r.fp.log()
	if len(log) != 3 || !strings.HasPrefix(log[0], "run "+m.ActivationID+" on c1 cold") || log[1] != "resume c1" || log[2] != "evict c1" {
		t.Fatalf("pool calls %q: want one cold run, then the test container removed", log)
	}
	cancel()
	<-done
	if got := r.slots.Adoptable(context.Background()); len(got) != 0 {
		t.Fatalf("the health action was offered for adoption: %+v", got)
	}

	// Start again over the same database: the document is read, not rewritten.
	r2 := newHealthRig(t, testManifest(t, pyFamily))
	r2.writer = r.writer
	r2.test.Writer = r.writer
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	go r2.health.Run(ctx2, 20*time.Millisecond)
	waitStatus(t, r2.health, wire.InvokerUp)
	if r.writer.puts != 1 {
		t.Fatalf("%d document writes, want 1", r.writer.puts)
	}
	if got := *r2.messages()[0].Revision; got != doc.Rev {
		t.Fatalf("second run used revision %q, want %q", got, doc.Rev)
	}
}

// With 3 whisk errors in the window the self-test keeps running: failing health activations (whisk errors:
// the broken test container is replaced each time) keep the invoker unhealthy; once they pass, the failures
// are pushed out of the window, the invoker is up and the test container is gone. A changed kind updates the
// document to a new revision.
func TestHealthActionSelfTestFailures(t *testing.T) {
	r := newHealthRig(t, testManifest(t, nodeFamily+","+pyFamily))
	r.writer.docs[healthDocID7] = &wire.Action{ID: healthDocID7, Rev: "1-old", Namespace: "whisk.system", Name: "invokerHealthTestAction7",
		Exec: wire.Exec{Kind: "python:3", Code: "def main(a):\n    return a\n"}, Limits: wire.ActionLimits{TimeoutMs: 60000, MemoryMB: 128, Concurrency: 1}, Version: "0.0.1"}
	r.fp.result = proxy.ErrorResponse(proxy.StatusWhiskError, "the action did not initialize")
	for i := 0; i < 3; i++ {
		r.health.Record(false)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go r.health.Run(ctx, 20*time.Millisecond)
	deadline := time.Now().Add(5 * time.Second)
	for len(r.messages()) < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("%d failing health activations", len(r.messages()))
		}
		time.Sleep(5 * time.Millisecond)
	}
	if s := r.health.Status(); s != wire.InvokerUnhealthy {
		t.Fatalf("health activations failing: %s", s)
	}
	if d := r.writer.docs[healthDocID7]; d.Rev != "2-abc" || d.Exec.Kind != "nodejs:20" || !strings.Contains(d.Exec.Code, "return params") {
		t.Fatalf("document not updated to the nodejs kind: %+v", d)
	}
	r.fp.mu.Lock()
	r.fp.result = proxy.Response{StatusCode: proxy.StatusSuccess, Result: json.RawMessage(`{}`)}
	r.fp.mu.Unlock()
	waitStatus(t, r.health, wire.InvokerUp)
	if f := r.health.Failures(); f >= HealthFailures {
		t.Fatalf("up with %d failures", f)
	}
	waitPoolLog(t, r.fp, "evict")
	r.fp.mu.Lock()
	left := len(r.fp.infos)
	r.fp.mu.Unlock()
	if left != 0 {
		t.Fatalf("%d pool containers left after the self-test", left)
	}
}

// waitPoolLog waits until the pool's last call starts with prefix.
func waitPoolLog(t *testing.T, fp *fakePool, prefix string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		l := fp.log()
		if len(l) > 0 && strings.HasPrefix(l[len(l)-1], prefix) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("pool calls %q: no final %s", l, prefix)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
