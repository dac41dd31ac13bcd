//go:build integration

package fpc

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/nemo-edge/nemo/integration/itest"
	"github.com/nemo-edge/nemo/invoker/wire"
	"github.com/nemo-edge/nemo/pool/proxy"
)

// pyManifest has the project's Python runtime and the Go one, no nodejs: the health action falls back to
// python:3.
const pyManifest = `{"runtimes":{` +
	`"go":[{"kind":"go:1.22","default":true,"image":{"prefix":"nemo","name":"action-go","tag":"latest"},` +
	`"attached":{"attachmentName":"codefile","attachmentType":"application/octet-stream"}}],` +
	`"python":[{"kind":"python:3","default":true,"image":{"prefix":"nemo","name":"action-python","tag":"3.11"},` +
	`"attached":{"attachmentName":"codefile","attachmentType":"text/plain"}}]},` +
	`"blackboxes":[{"prefix":"nemo","name":"action-go","tag":"latest"}]}`

// statusLog records every status the invoker's resource record takes, in order, from a watch opened before
// the invoker starts.
type statusLog struct {
	mu  sync.Mutex
	seq []wire.InvokerStatus
}

func watchStatus(t *testing.T, e *e2e, id int) *statusLog {
	t.Helper()
	s := &statusLog{}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	key := e.keys.InvokerResource(wire.InvokerInstanceID{Instance: id})
	wch := e.w.Client.Watch(ctx, key)
	go func() {
		for r := range wch {
			for _, ev := range r.Events {
				if ev.Type != clientv3.EventTypePut {
					continue
				}
				m, err := wire.ParseInvokerResourceMessage(ev.Kv.Value)
				if err != nil {
					continue
				}
				s.mu.Lock()
				if n := len(s.seq); n == 0 || s.seq[n-1] != m.Status {
					s.seq = append(s.seq, m.Status)
				}
				s.mu.Unlock()
			}
		}
	}()
	// The watch is open once a put made before the invoker exists would be seen; give it a moment.
	time.Sleep(200 * time.Millisecond)
	return s
}

func (s *statusLog) wait(t *testing.T, timeout time.Duration, want ...wire.InvokerStatus) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		s.mu.Lock()
		got := fmt.Sprint(s.seq)
		s.mu.Unlock()
		if got == fmt.Sprint(want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("statuses %s, want %s", got, fmt.Sprint(want))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// healthRuns are the health activations the invoker's log reports finished: activation id → status.
func healthRuns(logPath string) map[string]string {
	out := map[string]string{}
	for _, l := range itest.ReadLines(logPath) {
		if !strings.Contains(l, `"transid":"sid_invokerHealthActivation"`) || !strings.Contains(l, `"message":"activation finished"`) {
			continue
		}
		var f struct {
			ID     string `json:"activationId"`
			Status string `json:"status"`
		}
		if json.Unmarshal([]byte(l), &f) == nil {
			out[f.ID] = f.Status
		}
	}
	return out
}

// The self-test of OpenWhisk's FPC invoker with the health action, on real etcd, Kafka, CouchDB API and
// Docker. The manifest has no nodejs, so the invoker says it falls back to python:3. It writes
// whisk.system/invokerHealthTestAction<N> (python:3, 128 MB, log limit 0) to the whisks database, publishes
// unhealthy, runs the health activation in a container of its own (its record stored under whisk.system, as
// upstream), publishes up and removes the test container. /disable then /enable: down, unhealthy, a second
// health activation, up.
func TestITFPCHealthActionSelfTest(t *testing.T) {
	e := newE2E(t)
	st := watchStatus(t, e, e.id)
	inv := e.start(e.id, true, "fpc", "RUNTIMES_MANIFEST="+pyManifest)
	st.wait(t, 120*time.Second, wire.InvokerUnhealthy, wire.InvokerUp)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	docID := fmt.Sprintf("whisk.system/invokerHealthTestAction%d", e.id)
	doc, err := e.st.GetAction(ctx, docID, "")
	if err != nil {
		t.Fatalf("health action document: %v", err)
	}
	if doc.Exec.Kind != "python:3" || doc.Limits.MemoryMB != 128 || doc.Limits.LogsMB != 0 || !strings.Contains(doc.Exec.Code, "return args") {
		t.Fatalf("health action document %+v", doc)
	}
	lines := strings.Join(itest.ReadLines(inv.p.LogPath), "\n")
	if !strings.Contains(lines, `"configured":"nodejs:default","kind":"python:3"`) || !strings.Contains(lines, "using this default kind instead") {
		t.Fatalf("no fallback log line:\n%s", itest.Tail(inv.p.LogPath, 60))
	}
	runs := healthRuns(inv.p.LogPath)
	if len(runs) != 1 {
		t.Fatalf("health activations %v, want 1 (the first result gives up)", runs)
	}
	var aid string
	for id, status := range runs {
		aid = id
		if status != "success" {
			t.Fatalf("health activation %s: %s", id, status)
		}
	}
	var rec *wire.WhiskActivation
	deadline := time.Now().Add(30 * time.Second)
	for rec == nil {
		if rec, err = e.st.GetActivation(ctx, "whisk.system", aid); err != nil {
			if time.Now().After(deadline) {
				t.Fatalf("no record of health activation %s: %v", aid, err)
			}
			rec = nil
			time.Sleep(200 * time.Millisecond)
		}
	}
	if rec.Response.StatusCode != proxy.StatusSuccess || rec.Name != fmt.Sprintf("invokerHealthTestAction%d", e.id) {
		t.Fatalf("health activation record %+v", rec)
	}
	waitNoContainers(t, e.id, 30*time.Second)

	if code, _ := inv.http(t, http.MethodPost, "/disable"); code != 200 {
		t.Fatal("/disable")
	}
	st.wait(t, 30*time.Second, wire.InvokerUnhealthy, wire.InvokerUp, wire.InvokerDown)
	if code, _ := inv.http(t, http.MethodPost, "/enable"); code != 200 {
		t.Fatal("/enable")
	}
	st.wait(t, 120*time.Second, wire.InvokerUnhealthy, wire.InvokerUp, wire.InvokerDown, wire.InvokerUnhealthy, wire.InvokerUp)
	if runs := healthRuns(inv.p.LogPath); len(runs) != 2 {
		t.Fatalf("health activations after /enable: %v, want 2", runs)
	}
	waitNoContainers(t, e.id, 30*time.Second)
}

func waitNoContainers(t *testing.T, id int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ids, err := itest.InvokerContainers(id)
		if err == nil && len(ids) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("containers left: %q (%v)", ids, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// putSubjectsDoc writes one document into the test's subjects database over the CouchDB API (an existing one
// is replaced).
func putSubjectsDoc(t *testing.T, e *e2e, id string, doc map[string]any) {
	t.Helper()
	u := *e.svc.Couch
	u.Path = "/" + e.dbPrefix + "subjects/" + id
	u.RawPath = "/" + e.dbPrefix + "subjects/" + strings.ReplaceAll(id, "/", "%2F")
	c := &http.Client{Timeout: 15 * time.Second}
	if resp, err := c.Get(u.String()); err == nil {
		var cur struct {
			Rev string `json:"_rev"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&cur)
		resp.Body.Close()
		if cur.Rev != "" {
			doc["_rev"] = cur.Rev
		}
	}
	b, _ := json.Marshal(doc)
	req, _ := http.NewRequest(http.MethodPut, u.String(), bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusAccepted {
		t.Fatalf("PUT %s: HTTP %d", id, resp.StatusCode)
	}
}

// identitiesView is test equipment: a subjects design document whose identities view has the row shape
// OpenWhisk's controller and invoker read (key [namespace] or [uuid, key]; the value names the namespace's
// limits document in _id, so include_docs returns it).
var identitiesView = map[string]any{
	"language": "javascript",
	"views": map[string]any{"identities": map[string]any{"map": `function (doc) {
  if (!doc.namespaces || doc.blocked) { return; }
  doc.namespaces.forEach(function (n) {
    var row = {_id: n.name + "/limits", namespace: n.name, uuid: n.uuid, key: n.key};
    emit([n.name], row);
    emit([n.uuid, n.key], row);
  });
}`}},
}

// The namespace-limit check at creation (OpenWhisk 2.0.0 and later), against the subjects database of a real
// CouchDB API: the namespace allows 128 MB, the action wants 256 MB, so the creation is answered
// InvalidActionLimitError with OpenWhisk's reason, and no container or key appears; once the namespace's
// limit is raised, the same creation succeeds.
func TestITFPCInvalidActionLimit(t *testing.T) {
	e := newE2E(t)
	putSubjectsDoc(t, e, "_design/subjects.v2.0.0", identitiesView)
	putSubjectsDoc(t, e, "guest-subject", map[string]any{"subject": "guest-subject",
		"namespaces": []map[string]any{{"name": itest.Namespace, "uuid": "23bc46b1-71f6-4ed5-8c54-816aa4f8c502", "key": itest.RandomHex(32)}}})
	putSubjectsDoc(t, e, itest.Namespace+"/limits", map[string]any{"maxActionMemory": 128})
	e.start(e.id, true, "fpc")
	e.waitUp(e.id)
	e.sched.AddQueue(e.queue())
	a := e.create(itest.RandomHex(16))
	if a.Ack == nil || a.Ack.Error != wire.CreationErrInvalidActionLimit || a.Ack.Reason != "memory size 256 MB exceeds allowed threshold of 128 MB" {
		t.Fatalf("creation above the namespace's memory limit: %s", a.Raw)
	}
	if ks := e.existingKeys(e.w.Snapshot(), e.id); len(ks) != 0 {
		t.Fatalf("existing keys: %q", ks)
	}
	putSubjectsDoc(t, e, itest.Namespace+"/limits", map[string]any{"maxActionMemory": 512})
	if a := e.create(itest.RandomHex(16)); a.Ack == nil || !a.Ack.Success() {
		t.Fatalf("creation within the raised limit: %s", a.Raw)
	}
}
