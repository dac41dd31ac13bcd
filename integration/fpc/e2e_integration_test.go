//go:build integration

package fpc

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nemo-edge/nemo/integration/fpcsched"
	"github.com/nemo-edge/nemo/integration/itest"
	"github.com/nemo-edge/nemo/invoker/store"
	"github.com/nemo-edge/nemo/invoker/wire"
)

// The lease TTL the FPC invokers of these tests get (whisk.etcd.lease.timeout, seconds): ansible's is 10,
// Helm's 1 (which etcd raises to its minimum); 2 keeps the kill -9 test short.
const leaseTTL = 2

// e2e is one FPC test: the stand-in scheduler (gRPC, Kafka, etcd watch), the databases with one action,
// and `nemo invoker` processes of the real binary.
type e2e struct {
	t          testing.TB
	svc        itest.Services
	etcd       string
	keys       wire.EtcdKeys
	id         int
	controller string
	dbPrefix   string
	dir        string
	bin        string
	st         *store.Store
	k          *fpcsched.Kafka
	sched      *fpcsched.Scheduler
	w          *fpcsched.Etcd
	acks       *itest.AckLog
	action     string
	rev        string
	fqn        wire.FullyQualifiedName
	meta       wire.ActionMetaData
}

func newE2E(t testing.TB) *e2e {
	t.Helper()
	svc := itest.NeedServices(t)
	ep := needEtcd(t)
	e := &e2e{t: t, svc: svc, etcd: ep, keys: cluster(), id: 100000 + mrand.IntN(800000),
		controller: strconv.Itoa(100000 + mrand.IntN(800000)), dir: t.TempDir()}
	e.dbPrefix = fmt.Sprintf("it_fpc%d_", e.id)
	e.bin = filepath.Join(e.dir, "nemo")
	if err := itest.GoBuild(e.bin, "github.com/nemo-edge/nemo/invoker/cmd/nemo"); err != nil {
		t.Fatal(err)
	}
	e.st = itest.OpenStore(t, svc.Couch, e.dbPrefix)
	e.action = "fpcecho"
	e.rev = itest.SeedAction(t, e.st, e.action, 256, 10)
	e.fqn = wire.FullyQualifiedName{Path: itest.Namespace, Name: e.action, Version: "0.0.1"}
	md, err := wire.ParseActionMetaData([]byte(fmt.Sprintf(`{"namespace":%q,"name":%q,"exec":{"kind":"blackbox","image":%q,"binary":false},`+
		`"parameters":[],"limits":{"timeout":60000,"memory":256,"logs":10,"concurrency":1},"version":"0.0.1","publish":false,"annotations":[]}`,
		itest.Namespace, e.action, itest.ActionImage)))
	if err != nil {
		t.Fatal(err)
	}
	e.meta = md
	e.k = fpcsched.NewKafka(t, svc.Kafka, e.id, e.controller, strconv.Itoa(mrand.IntN(1000)))
	e.acks = e.k.ConsumeAcks(t)
	e.sched = fpcsched.StartScheduler(t)
	e.w = fpcsched.WatchEtcd(t, ep, e.keys)
	t.Cleanup(func() {
		ids, _ := itest.InvokerContainers(e.id)
		itest.RemoveContainers(ids)
	})
	return e
}

func (e *e2e) queue() fpcsched.QueueKey {
	return fpcsched.QueueKey{InvocationNamespace: itest.Namespace, DocID: e.fqn.DocID(), Revision: e.rev}
}

// invoker is one running `nemo invoker`.
type invoker struct {
	p    *itest.Proc
	port int
	id   int
}

// start runs the binary with the deployment's environment; fpc adds the FPC settings (SPIs, etcd, cluster).
func (e *e2e) start(id int, fpc bool, name string, extraEnv ...string) *invoker {
	e.t.Helper()
	port := itest.FreePort(e.t)
	conf := filepath.Join(e.dir, name+".json")
	if err := os.WriteFile(conf, []byte(`{"invoker":{"listenHost":"127.0.0.1"},"docker":{"mode":"publish","publishHost":"127.0.0.1"}}`), 0o644); err != nil {
		e.t.Fatal(err)
	}
	env := itest.InvokerEnv{Kafka: e.svc.Kafka, Couch: e.svc.Couch, DBPrefix: e.dbPrefix, Port: port}.Environ()
	if fpc {
		env = append(env,
			"CONFIG_whisk_spi_InvokerProvider=org.apache.openwhisk.core.invoker.FPCInvokerReactive",
			"CONFIG_whisk_spi_InvokerServerProvider=org.apache.openwhisk.core.invoker.FPCInvokerServer",
			"CONFIG_whisk_etcd_hosts="+e.etcd, "CONFIG_whisk_etcd_lease_timeout="+strconv.Itoa(leaseTTL),
			"CONFIG_whisk_etcd_pool_threads=10", "CONFIG_whisk_invoker_containerCreation_maxPeek=500",
			"CONFIG_whisk_cluster_name="+e.keys.Cluster)
	}
	env = append(env, extraEnv...)
	p := itest.Spawn(e.t, itest.ProcSpec{Name: name, Bin: e.bin, Env: env, Dir: e.dir, LogPath: itest.LogFile(e.dir, name+".log"),
		Args: []string{"invoker", "--id", strconv.Itoa(id), "--config", conf}})
	e.t.Cleanup(func() {
		if !p.Exited() {
			_ = p.Kill()
		}
		if e.t.Failed() {
			e.t.Logf("---- %s log ----\n%s", name, itest.Tail(p.LogPath, 120))
		}
	})
	if err := itest.WaitReady(p, fmt.Sprintf("http://127.0.0.1:%d/ping", port), 90*time.Second); err != nil {
		e.t.Fatalf("%s: %v\n%s", name, err, itest.Tail(p.LogPath, 40))
	}
	return &invoker{p: p, port: port, id: id}
}

func (inv *invoker) http(t *testing.T, method, path string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, fmt.Sprintf("http://127.0.0.1:%d%s", inv.port, path), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth("invoker.user", "invoker.pass")
	resp, err := (&http.Client{Timeout: 15 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// keysOf are the mirrored keys that belong to invoker id.
func (e *e2e) keysOf(kvs map[string]fpcsched.KV, id int) []string {
	var out []string
	n := strconv.Itoa(id)
	for k := range kvs {
		if strings.Contains(k, "/invoker"+n+"/") || strings.HasSuffix(k, "/invokers/"+n) || strings.Contains(k, "/invoker/"+n+"/") {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

func (e *e2e) resource(kvs map[string]fpcsched.KV, id int) (wire.InvokerResourceMessage, bool) {
	kv, ok := kvs[e.keys.InvokerResource(wire.InvokerInstanceID{Instance: id})]
	if !ok {
		return wire.InvokerResourceMessage{}, false
	}
	r, err := wire.ParseInvokerResourceMessage([]byte(kv.Value))
	return r, err == nil
}

func (e *e2e) waitUp(id int) {
	e.t.Helper()
	if _, ok := e.w.Wait(60*time.Second, func(kvs map[string]fpcsched.KV) bool {
		r, ok := e.resource(kvs, id)
		return ok && r.Status == wire.InvokerUp
	}); !ok {
		e.t.Fatalf("invoker%d never published status up: %q", id, e.keysOf(e.w.Snapshot(), id))
	}
}

func (e *e2e) existingKeys(kvs map[string]fpcsched.KV, id int) []string {
	var out []string
	for _, k := range e.keysOf(kvs, id) {
		if strings.Contains(k, "/namespace/") {
			out = append(out, k)
		}
	}
	return out
}

// create sends a creation for the action and waits for its ack.
func (e *e2e) create(cid string) fpcsched.CreationAck {
	e.t.Helper()
	rev := e.rev
	m := e.k.Creation(e.sched, itest.Namespace, e.fqn, &rev, e.meta, cid)
	e.k.SendCreation(e.t, m)
	var got fpcsched.CreationAck
	if !e.k.Acks.WaitFor(60*time.Second, func(as []fpcsched.CreationAck) bool {
		for _, a := range as {
			if a.Ack != nil && a.Ack.CreationID == cid {
				got = a
				return true
			}
		}
		return false
	}) {
		e.t.Fatalf("no creation ack for %s", cid)
	}
	return got
}

func (e *e2e) activation(aid string, blocking bool, content map[string]any) []byte {
	e.t.Helper()
	rev := e.rev
	b, err := itest.Activation{Action: e.action, AID: aid, TransID: itest.TransID(itest.RandomHex(16)), Revision: &rev,
		Blocking: blocking, Content: content, Controller: e.controller}.Marshal()
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

func (e *e2e) waitSlotFree(aid string, timeout time.Duration) {
	e.t.Helper()
	if !e.acks.WaitFor(timeout, func(as []itest.Ack) bool { return itest.SlotFreeCounts(as)[aid] > 0 }) {
		e.t.Fatalf("no slot-freeing ack for %s", aid)
	}
}

func (e *e2e) record(aid string) *wire.WhiskActivation {
	e.t.Helper()
	var rec *wire.WhiskActivation
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		a, err := e.st.GetActivation(ctx, itest.Namespace, aid)
		cancel()
		if err == nil {
			rec = a
			break
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("no activation record for %s: %v", aid, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	return rec
}

// shape is what must be equal between the modes for one activation: the ack sequence with each ack's
// field names, and the record without its ids and times.
type shape struct {
	Acks   []string
	Record map[string]any
}

func (e *e2e) shapeOf(aid string) shape {
	e.t.Helper()
	var s shape
	for _, a := range e.acks.ForID(aid) {
		var names []string
		for k := range a.Fields {
			names = append(names, k)
		}
		sort.Strings(names)
		s.Acks = append(s.Acks, a.Kind+" "+strings.Join(names, ","))
	}
	rec := e.record(aid)
	b, err := json.Marshal(rec)
	if err != nil {
		e.t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		e.t.Fatal(err)
	}
	for _, k := range []string{"activationId", "start", "end", "duration", "_rev", "_id"} {
		delete(m, k)
	}
	if anns, ok := m["annotations"].([]any); ok {
		var keep []any
		for _, a := range anns {
			kv, _ := a.(map[string]any)
			switch kv["key"] {
			case "waitTime", "initTime":
				kv = map[string]any{"key": kv["key"], "value": "<ms>"}
			}
			keep = append(keep, kv)
		}
		m["annotations"] = keep
	}
	// The test action echoes its activation id.
	if resp, ok := m["response"].(map[string]any); ok {
		if res, ok := resp["result"].(map[string]any); ok && res["activation_id"] == aid {
			res["activation_id"] = "<aid>"
			delete(resp, "size") // the size counts the id too; equal lengths anyway, but not the point
		}
	}
	s.Record = m
	return s
}

// The same activation gives the same acks and the same record in FPC and classic modes. In FPC mode: the
// stand-in scheduler's creation is acked once the container's existing key is in etcd (with the invoker's
// lease), the activation it serves over gRPC runs, its Completion/Result acks reach completed{C} and its
// record CouchDB; the resource record shows the container's memory busy. Then kill -9: every key of the
// invoker is gone within the lease TTL.
func TestITFPCEndToEnd(t *testing.T) {
	e := newE2E(t)
	inv := e.start(e.id, true, "fpc")
	e.waitUp(e.id)
	kvs := e.w.Snapshot()
	leaseKey := e.keys.InstanceLease(wire.InvokerInstanceID{Instance: e.id})
	lease, ok := kvs[leaseKey]
	if !ok || lease.Value != strconv.FormatInt(lease.Lease, 10) {
		t.Fatalf("lease key %s = %+v", leaseKey, lease)
	}

	e.sched.AddQueue(e.queue())
	cid := itest.RandomHex(16)
	ack := e.create(cid)
	if ack.Err != nil || !ack.Ack.Success() {
		t.Fatalf("creation ack %+v: %s", ack.Ack, ack.Raw)
	}
	if ack.Ack.RootInvokerIndex.Instance != e.id {
		t.Fatalf("ack from invoker %d", ack.Ack.RootInvokerIndex.Instance)
	}
	kvs = e.w.Snapshot()
	existing := e.existingKeys(kvs, e.id)
	if len(existing) != 1 || kvs[existing[0]].Lease != lease.Lease {
		t.Fatalf("existing-container keys at the ack: %q (lease %d)", existing, lease.Lease)
	}
	if r, _ := e.resource(kvs, e.id); r.BusyMemoryMB != 256 || r.FreeMemoryMB != 2048-256 {
		t.Fatalf("resource record with one container: %+v", r)
	}
	if code, body := inv.http(t, http.MethodGet, "/pool/count"); code != 200 || body != "1" {
		t.Fatalf("/pool/count %d %q", code, body)
	}

	aidF := itest.RandomHex(16)
	start := time.Now()
	e.sched.Enqueue(e.queue(), e.activation(aidF, true, map[string]any{"greeting": "fpc"}))
	e.waitSlotFree(aidF, 90*time.Second)
	t.Logf("FPC: activation answered %v after it was queued (cold start)", time.Since(start).Round(time.Millisecond))
	fpcShape := e.shapeOf(aidF)

	// The same activation through a classic invoker (another id, same databases and controller).
	classicID := e.id + 1
	cctl := itest.NewController(t, e.svc.Kafka, classicID, e.controller)
	cctl.CreateTopic(t, cctl.InvokerTopic())
	t.Cleanup(func() {
		ids, _ := itest.InvokerContainers(classicID)
		itest.RemoveContainers(ids)
	})
	classic := e.start(classicID, false, "classic")
	aidC := itest.RandomHex(16)
	cctl.Produce(t, e.activation(aidC, true, map[string]any{"greeting": "fpc"}))
	e.waitSlotFree(aidC, 90*time.Second)
	classicShape := e.shapeOf(aidC)
	fj, _ := json.MarshalIndent(fpcShape, "", " ")
	cj, _ := json.MarshalIndent(classicShape, "", " ")
	if string(fj) != string(cj) {
		fl, cl := strings.Split(string(fj), "\n"), strings.Split(string(cj), "\n")
		for i := range min(len(fl), len(cl)) {
			if fl[i] != cl[i] {
				t.Errorf("line %d: FPC %q, classic %q", i+1, fl[i], cl[i])
			}
		}
		t.Fatalf("FPC and classic differ (%d and %d lines)", len(fl), len(cl))
	}
	t.Logf("acks in both modes: %q", fpcShape.Acks)
	if err := classic.p.Terminate(60 * time.Second); err != nil {
		t.Fatal(err)
	}

	// kill -9: nothing is revoked; the lease expires and etcd removes every key of the invoker.
	if len(e.keysOf(e.w.Snapshot(), e.id)) < 3 {
		t.Fatalf("keys before the kill: %q", e.keysOf(e.w.Snapshot(), e.id))
	}
	if err := inv.p.Kill(); err != nil {
		t.Fatal(err)
	}
	took, ok := e.w.Wait(time.Duration(leaseTTL)*time.Second+5*time.Second, func(kvs map[string]fpcsched.KV) bool {
		return len(e.keysOf(kvs, e.id)) == 0
	})
	if !ok {
		t.Fatalf("keys left %v after kill -9: %q", took, e.keysOf(e.w.Snapshot(), e.id))
	}
	t.Logf("kill -9: every key gone %v after the kill (lease TTL %d s)", took.Round(time.Millisecond), leaseTTL)
}

// /disable: the status goes down, the existing-container key is removed before the container, /pool/count
// reaches 0, a new creation is answered with the reschedulable error; /enable brings the invoker back up.
func TestITFPCDisable(t *testing.T) {
	e := newE2E(t)
	inv := e.start(e.id, true, "fpc")
	e.waitUp(e.id)
	e.sched.AddQueue(e.queue())
	if a := e.create(itest.RandomHex(16)); !a.Ack.Success() {
		t.Fatalf("creation ack %+v", a.Ack)
	}
	aid := itest.RandomHex(16)
	e.sched.Enqueue(e.queue(), e.activation(aid, false, nil))
	e.waitSlotFree(aid, 90*time.Second)
	containers, _ := itest.InvokerContainers(e.id)
	if len(containers) != 1 {
		t.Fatalf("containers before disable: %q", containers)
	}
	// Watch the container and the key together: the key must go while the container still exists.
	keyGoneWhileRunning := make(chan bool, 1)
	go func() {
		_, _ = e.w.Wait(30*time.Second, func(kvs map[string]fpcsched.KV) bool { return len(e.existingKeys(kvs, e.id)) == 0 })
		ids, _ := itest.InvokerContainers(e.id)
		keyGoneWhileRunning <- len(ids) == 1
	}()
	if code, body := inv.http(t, http.MethodPost, "/disable"); code != 200 {
		t.Fatalf("/disable %d %q", code, body)
	}
	if !<-keyGoneWhileRunning {
		t.Fatal("the container was gone before its existing key")
	}
	if _, ok := e.w.Wait(10*time.Second, func(kvs map[string]fpcsched.KV) bool {
		r, ok := e.resource(kvs, e.id)
		return ok && r.Status == wire.InvokerDown
	}); !ok {
		t.Fatal("status never went down")
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		_, body := inv.http(t, http.MethodGet, "/pool/count")
		if body == "0" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/pool/count still %q", body)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if _, body := inv.http(t, http.MethodGet, "/isEnabled"); body != `{"isEnabled":false}` {
		t.Fatalf("/isEnabled %q", body)
	}
	if a := e.create(itest.RandomHex(16)); a.Ack == nil || a.Ack.Error != wire.CreationErrWhisk || !a.Ack.Error.Reschedulable() {
		t.Fatalf("creation on a disabled invoker: %+v", a.Ack)
	}
	if code, _ := inv.http(t, http.MethodPost, "/enable"); code != 200 {
		t.Fatal("/enable")
	}
	e.waitUp(e.id)
	if err := inv.p.Terminate(60 * time.Second); err != nil {
		t.Fatal(err)
	}
	if ks := e.keysOf(e.w.Snapshot(), e.id); len(ks) != 0 {
		t.Fatalf("keys after a clean stop: %q", ks) // Close revokes the lease
	}
}

// SIGTERM: the activation running finishes and is answered; the one the invoker fetched after the signal is
// handed back to the scheduler with RescheduleActivation instead of being run or lost; the invoker exits 0
// and its keys are gone at once (the lease is revoked).
func TestITFPCSigtermHandsBack(t *testing.T) {
	e := newE2E(t)
	inv := e.start(e.id, true, "fpc")
	e.waitUp(e.id)
	e.sched.AddQueue(e.queue())
	if a := e.create(itest.RandomHex(16)); !a.Ack.Success() {
		t.Fatalf("creation ack %+v", a.Ack)
	}
	slow, queued := itest.RandomHex(16), itest.RandomHex(16)
	e.sched.Enqueue(e.queue(), e.activation(slow, false, map[string]any{"sleep_ms": 4000}))
	// Wait until the slow one was fetched, then queue the next: it can only be fetched after the slow run.
	deadline := time.Now().Add(60 * time.Second)
	for {
		ids, _ := itest.InvokerContainers(e.id)
		if len(ids) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the slow activation never got a container")
		}
		time.Sleep(100 * time.Millisecond)
	}
	e.sched.Enqueue(e.queue(), e.activation(queued, false, nil))
	time.Sleep(time.Second)
	if err := inv.p.Terminate(90 * time.Second); err != nil {
		t.Fatal(err)
	}
	if code := inv.p.ExitCode(); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	e.waitSlotFree(slow, 10*time.Second)
	var handedBack bool
	for _, r := range e.sched.Rescheduled() {
		if strings.Contains(r.ActivationMessage, queued) {
			handedBack = true
		}
	}
	if !handedBack {
		t.Fatalf("the fetched activation %s was not handed back; reschedule requests: %d", queued, len(e.sched.Rescheduled()))
	}
	if n := len(e.acks.ForID(queued)); n != 0 {
		t.Fatalf("the handed-back activation was answered by the stopping invoker (%d acks)", n)
	}
	if ks := e.keysOf(e.w.Snapshot(), e.id); len(ks) != 0 {
		t.Fatalf("keys after SIGTERM: %q", ks)
	}
	if ids, _ := itest.InvokerContainers(e.id); len(ids) != 0 {
		t.Fatalf("containers left: %q", ids)
	}
}

// The rest of a container's life on real parts: after the pause grace it is frozen and registered as warmed
// (existing key gone); the scheduler's warm-up creation gets no ack; a matching creation resumes the same
// Docker container (warmed key gone, existing key back) and it serves again; deleting the lease key makes
// the invoker take a new lease and rewrite every key; a deletion message (the action was updated) removes the
// container, key first.
func TestITFPCPauseResumeDeleteLease(t *testing.T) {
	e := newE2E(t)
	e.start(e.id, true, "fpc", "CONFIG_whisk_containerProxy_timeouts_pauseGrace=1 second")
	e.waitUp(e.id)
	e.sched.AddQueue(e.queue())
	if a := e.create(itest.RandomHex(16)); !a.Ack.Success() {
		t.Fatalf("creation ack %+v", a.Ack)
	}
	aid := itest.RandomHex(16)
	e.sched.Enqueue(e.queue(), e.activation(aid, true, nil))
	e.waitSlotFree(aid, 90*time.Second)
	first, _ := itest.InvokerContainers(e.id)
	if len(first) != 1 {
		t.Fatalf("containers after the first run: %q", first)
	}
	warmed := func(kvs map[string]fpcsched.KV) []string {
		var out []string
		for _, k := range e.keysOf(kvs, e.id) {
			if strings.Contains(k, "/warmed/") {
				out = append(out, k)
			}
		}
		return out
	}
	if _, ok := e.w.Wait(30*time.Second, func(kvs map[string]fpcsched.KV) bool {
		return len(warmed(kvs)) == 1 && len(e.existingKeys(kvs, e.id)) == 0
	}); !ok {
		t.Fatalf("never paused: %q", e.keysOf(e.w.Snapshot(), e.id))
	}
	wk := warmed(e.w.Snapshot())[0]
	if !strings.Contains(wk, "/invoker/"+strconv.Itoa(e.id)+"/container/") {
		t.Fatalf("warmed key layout: %s", wk)
	}

	// The warm-up creation is dropped without an ack.
	warmCID := itest.RandomHex(16)
	warm := e.k.Creation(nil, wire.WarmUpNamespace, wire.FullyQualifiedName{Path: wire.WarmUpNamespace, Name: wire.WarmUpAction}, nil, e.meta, warmCID)
	e.k.SendCreation(t, warm)

	// A matching creation resumes the paused container.
	if a := e.create(itest.RandomHex(16)); !a.Ack.Success() {
		t.Fatalf("resume ack %+v", a.Ack)
	}
	kvs := e.w.Snapshot()
	if len(warmed(kvs)) != 0 || len(e.existingKeys(kvs, e.id)) != 1 {
		t.Fatalf("keys after the resume: %q", e.keysOf(kvs, e.id))
	}
	aid2 := itest.RandomHex(16)
	e.sched.Enqueue(e.queue(), e.activation(aid2, true, nil))
	e.waitSlotFree(aid2, 60*time.Second)
	if now, _ := itest.InvokerContainers(e.id); len(now) != 1 || now[0] != first[0] {
		t.Fatalf("containers after the resume: %q, before %q", now, first)
	}
	for _, a := range e.k.Acks.Snapshot() {
		if a.Ack != nil && a.Ack.CreationID == warmCID {
			t.Fatalf("the warm-up creation was acked: %s", a.Raw)
		}
	}

	// The lease key deleted: a new lease, every key rewritten with it.
	leaseKey := e.keys.InstanceLease(wire.InvokerInstanceID{Instance: e.id})
	old := e.w.Snapshot()[leaseKey].Lease
	e.w.Delete(t, leaseKey)
	if _, ok := e.w.Wait(30*time.Second, func(kvs map[string]fpcsched.KV) bool {
		l, ok := kvs[leaseKey]
		if !ok || l.Lease == old || l.Value != strconv.FormatInt(l.Lease, 10) {
			return false
		}
		ks := e.keysOf(kvs, e.id)
		for _, k := range ks {
			if kvs[k].Lease != l.Lease {
				return false
			}
		}
		return len(e.existingKeys(kvs, e.id)) == 1
	}); !ok {
		t.Fatalf("not re-registered: %+v", e.w.Snapshot())
	}

	// The action is updated: the deletion removes the container, its key first.
	rev := e.rev
	e.k.SendDeletion(t, &wire.ContainerDeletionMessage{TransID: wire.NewTransID("del", time.Now().UnixMilli()),
		InvocationNamespace: itest.Namespace, Action: e.fqn, Revision: &rev, ActionMetaData: e.meta})
	keyGoneFirst := make(chan bool, 1)
	go func() {
		_, _ = e.w.Wait(30*time.Second, func(kvs map[string]fpcsched.KV) bool { return len(e.existingKeys(kvs, e.id)) == 0 })
		ids, _ := itest.InvokerContainers(e.id)
		keyGoneFirst <- len(ids) == 1
	}()
	if !<-keyGoneFirst {
		t.Fatal("the container went before its key")
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		ids, _ := itest.InvokerContainers(e.id)
		if len(ids) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("containers left after the deletion: %q", ids)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
