//go:build integration

package fpc

import (
	"strings"
	"testing"
	"time"

	"github.com/nemo-edge/nemo/integration/fpcsched"
	"github.com/nemo-edge/nemo/integration/itest"
	"github.com/nemo-edge/nemo/invoker/wire"
)

// A real NEMO pre-warm becomes a paused warmed container in FPC mode: after a regular stream of activations
// (one every 5 s, 8 of them) the action's container goes right after the last one (a deletion message);
// NEMO's history-driven daemon, expecting the next activation within its horizon, warms the action again on
// its own, FPC mode freezes that container and registers it as warmed in etcd; a matching
// creation then resumes it — success ack, warmed key gone, existing key under the same container name, no
// new Docker container — and it serves the next activation warm (no initTime).
func TestITFPCPrewarmAdopted(t *testing.T) {
	e := newE2E(t)
	inv := e.start(e.id, true, "fpc")
	e.waitUp(e.id)
	e.sched.AddQueue(e.queue())
	if a := e.create(itest.RandomHex(16)); a.Ack == nil || !a.Ack.Success() {
		t.Fatalf("creation ack %+v", a.Ack)
	}
	next := time.Now()
	for i := 0; i < 8; i++ {
		time.Sleep(time.Until(next))
		next = next.Add(5 * time.Second)
		aid := itest.RandomHex(16)
		e.sched.Enqueue(e.queue(), e.activation(aid, true, nil))
		e.waitSlotFree(aid, 60*time.Second)
	}
	rev := e.rev
	e.k.SendDeletion(t, &wire.ContainerDeletionMessage{TransID: wire.NewTransID("del", time.Now().UnixMilli()),
		InvocationNamespace: itest.Namespace, Action: e.fqn, Revision: &rev, ActionMetaData: e.meta})
	if _, ok := e.w.Wait(30*time.Second, func(kvs map[string]fpcsched.KV) bool { return len(e.existingKeys(kvs, e.id)) == 0 }); !ok {
		t.Fatalf("the deleted container's key stayed: %q", e.keysOf(e.w.Snapshot(), e.id))
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
	took, ok := e.w.Wait(60*time.Second, func(kvs map[string]fpcsched.KV) bool { return len(warmed(kvs)) == 1 })
	if !ok {
		t.Fatalf("no pre-warm registered as warmed: %q\n%s", e.keysOf(e.w.Snapshot(), e.id), itest.Tail(inv.p.LogPath, 40))
	}
	t.Logf("pre-warm registered as warmed %s after the deletion's key went", took.Round(time.Millisecond))
	wk := warmed(e.w.Snapshot())[0]
	name := wk[strings.LastIndex(wk, "/")+1:]
	if !strings.Contains(strings.Join(itest.ReadLines(inv.p.LogPath), "\n"), "pre-warmed container registered as warmed") {
		t.Fatal("no adoption log line")
	}
	before, _ := itest.InvokerContainers(e.id)
	if len(before) != 1 {
		t.Fatalf("containers with the pre-warm: %q", before)
	}

	if a := e.create(itest.RandomHex(16)); a.Ack == nil || !a.Ack.Success() {
		t.Fatalf("creation for the pre-warmed action: %+v", a.Ack)
	}
	kvs := e.w.Snapshot()
	ex := e.existingKeys(kvs, e.id)
	if len(warmed(kvs)) != 0 || len(ex) != 1 || !strings.HasSuffix(ex[0], "/"+name) {
		t.Fatalf("keys after the resume: %q (warmed container %s)", e.keysOf(kvs, e.id), name)
	}
	aid := itest.RandomHex(16)
	e.sched.Enqueue(e.queue(), e.activation(aid, true, nil))
	e.waitSlotFree(aid, 60*time.Second)
	rec := e.record(aid)
	if _, cold := rec.Annotation("initTime"); cold {
		t.Fatalf("the resumed pre-warm ran cold: %+v", rec.Annotations)
	}
	if after, _ := itest.InvokerContainers(e.id); len(after) != 1 || after[0] != before[0] {
		t.Fatalf("containers after the resume: %q, with the pre-warm %q", after, before)
	}
}
