package fpcsched

import (
	"context"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/nemo-edge/nemo/invoker/wire"
)

// KV is a key's value and the lease it carries.
type KV struct {
	Value string
	Lease int64
}

// Etcd watches everything under a cluster prefix in a real etcd and writes what a scheduler writes.
type Etcd struct {
	Client *clientv3.Client
	Keys   wire.EtcdKeys

	mu   sync.Mutex
	kvs  map[string]KV
	cond *sync.Cond
}

// WatchEtcd connects to endpoint and mirrors every key under keys' cluster prefix until the test ends; the
// test's keys are deleted at the end.
func WatchEtcd(t testing.TB, endpoint string, keys wire.EtcdKeys) *Etcd {
	t.Helper()
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	e := &Etcd{Client: c, Keys: keys, kvs: map[string]KV{}}
	e.cond = sync.NewCond(&e.mu)
	prefix := keys.Cluster + "/"
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() {
		cancel()
		dctx, dcancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, _ = c.Delete(dctx, prefix, clientv3.WithPrefix())
		dcancel()
		_ = c.Close()
	})
	gctx, gcancel := context.WithTimeout(ctx, 5*time.Second)
	resp, err := c.Get(gctx, prefix, clientv3.WithPrefix())
	gcancel()
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range resp.Kvs {
		e.kvs[string(kv.Key)] = KV{Value: string(kv.Value), Lease: kv.Lease}
	}
	wch := c.Watch(ctx, prefix, clientv3.WithPrefix(), clientv3.WithRev(resp.Header.Revision+1))
	go func() {
		for r := range wch {
			e.mu.Lock()
			for _, ev := range r.Events {
				if ev.Type == clientv3.EventTypeDelete {
					delete(e.kvs, string(ev.Kv.Key))
				} else {
					e.kvs[string(ev.Kv.Key)] = KV{Value: string(ev.Kv.Value), Lease: ev.Kv.Lease}
				}
			}
			e.cond.Broadcast()
			e.mu.Unlock()
		}
	}()
	return e
}

// Snapshot is a copy of the mirrored keys.
func (e *Etcd) Snapshot() map[string]KV {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make(map[string]KV, len(e.kvs))
	for k, v := range e.kvs {
		out[k] = v
	}
	return out
}

// Wait waits until cond holds for the mirrored keys and reports how long it took, or false after timeout.
func (e *Etcd) Wait(timeout time.Duration, cond func(map[string]KV) bool) (time.Duration, bool) {
	start := time.Now()
	deadline := start.Add(timeout)
	for {
		if cond(e.Snapshot()) {
			return time.Since(start), true
		}
		if time.Now().After(deadline) {
			return time.Since(start), false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// PutLeader writes the queue leader key of an action, as the scheduler that takes the queue does.
func (e *Etcd) PutLeader(t testing.TB, ns string, fqn wire.FullyQualifiedName, ep wire.SchedulerEndpoints) {
	t.Helper()
	b, _ := ep.Marshal()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := e.Client.Put(ctx, e.Keys.QueueLeader(ns, fqn), string(b)); err != nil {
		t.Fatal(err)
	}
}

// Delete deletes one key (an operator, or a test failing the lease).
func (e *Etcd) Delete(t testing.TB, key string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := e.Client.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
}
