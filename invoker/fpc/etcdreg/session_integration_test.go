//go:build integration

package etcdreg

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/nemo-edge/nemo/invoker/wire"
)

// These tests run against the real etcd the services script starts (Debian's etcd-server 3.4):
// NEMO_ETCD=127.0.0.1:23790. Each test uses a cluster name of its own, so tests never see each other's keys.

func needEtcd(t *testing.T) string {
	t.Helper()
	ep := os.Getenv("NEMO_ETCD")
	if ep == "" {
		t.Skip("needs a real etcd: NEMO_ETCD unset (eval \"$(scripts/services.sh env)\")")
	}
	if !strings.HasPrefix(ep, "127.0.0.1:") && !strings.HasPrefix(ep, "localhost:") {
		t.Skipf("integration tests dial only 127.0.0.1; NEMO_ETCD is %q", ep)
	}
	return ep
}

// observer is a second client, playing the scheduler (and the operator who deletes keys).
func observer(t *testing.T, ep string) *clientv3.Client {
	t.Helper()
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{ep}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

type fixture struct {
	t    *testing.T
	ep   string
	keys wire.EtcdKeys
	inv  wire.InvokerInstanceID
	s    *Session
	obs  *clientv3.Client
}

func open(t *testing.T, ttl time.Duration) *fixture {
	t.Helper()
	ep := needEtcd(t)
	cluster := fmt.Sprintf("nemo-it-%d", time.Now().UnixNano())
	f := &fixture{t: t, ep: ep, keys: wire.EtcdKeys{Cluster: cluster}, inv: wire.InvokerInstanceID{Instance: 3}, obs: observer(t, ep)}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := Open(ctx, Config{Endpoints: []string{ep}, LeaseTTL: ttl, RetryInterval: 200 * time.Millisecond,
		LeaseKey: f.keys.InstanceLease(f.inv), WatchPrefix: cluster + "/"}, zerolog.New(zerolog.NewTestWriter(t)))
	if err != nil {
		t.Fatal(err)
	}
	f.s = s
	t.Cleanup(func() {
		_ = s.Close(context.Background())
		_, _ = f.obs.Delete(context.Background(), cluster+"/", clientv3.WithPrefix())
	})
	return f
}

func (f *fixture) get(key string) (value string, lease int64, found bool) {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r, err := f.obs.Get(ctx, key)
	if err != nil {
		f.t.Fatal(err)
	}
	if len(r.Kvs) == 0 {
		return "", 0, false
	}
	return string(r.Kvs[0].Value), r.Kvs[0].Lease, true
}

func (f *fixture) flush() {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := f.s.Flush(ctx); err != nil {
		f.t.Fatal(err)
	}
}

// eventually polls cond every 50 ms until it holds or timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > timeout {
			t.Fatalf("%s: not within %v", what, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return time.Since(start)
}

// TestITServerIs34 records what the client is proven against: every other test in this file runs on it.
func TestITServerIs34(t *testing.T) {
	ep := needEtcd(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := observer(t, ep).Status(ctx, ep)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("etcd server %s, client go.etcd.io/etcd/client/v3 v3.6", st.Version)
	if !strings.HasPrefix(st.Version, "3.4.") {
		t.Errorf("server %s: the services script provides etcd 3.4 (Helm's API level); these tests prove the client against it", st.Version)
	}
}

func TestITLeaseKeyAndKeys(t *testing.T) {
	f := open(t, 10*time.Second)
	res, _ := wire.InvokerResourceMessage{Status: wire.InvokerUnhealthy, FreeMemoryMB: 2048}.Marshal()
	existing := f.keys.ExistingContainer("guest", wire.FullyQualifiedName{Path: "guest", Name: "hello"}, "1-a", 3, "c1")
	f.s.Put(f.keys.InvokerResource(f.inv), string(res))
	f.s.Put(existing, "")
	f.flush()

	v, lease, ok := f.get(f.keys.InstanceLease(f.inv))
	if !ok || v != strconv.FormatInt(f.s.LeaseID(), 10) || lease != f.s.LeaseID() {
		t.Fatalf("lease key %q = %q (lease %x), want the lease id %d in decimal", f.keys.InstanceLease(f.inv), v, lease, f.s.LeaseID())
	}
	if f.s.TTL() != 10*time.Second {
		t.Fatalf("granted TTL %v", f.s.TTL())
	}
	for key, want := range map[string]string{f.keys.InvokerResource(f.inv): string(res), existing: ""} {
		v, lease, ok := f.get(key)
		if !ok || v != want || lease != f.s.LeaseID() {
			t.Errorf("%s = %q (found %v, lease %x), want %q with the session's lease", key, v, ok, lease, want)
		}
	}
}

// Publishing an unchanged value writes nothing; a changed one is written.
func TestITPutOnlyWhenChanged(t *testing.T) {
	f := open(t, 10*time.Second)
	key := f.keys.InvokerResource(f.inv)
	f.s.Put(key, "v1")
	f.flush()
	r1, _ := f.obs.Get(context.Background(), key)
	f.s.Put(key, "v1")
	f.flush()
	time.Sleep(300 * time.Millisecond)
	r2, _ := f.obs.Get(context.Background(), key)
	if r1.Kvs[0].ModRevision != r2.Kvs[0].ModRevision {
		t.Fatalf("unchanged value rewritten (mod revision %d → %d)", r1.Kvs[0].ModRevision, r2.Kvs[0].ModRevision)
	}
	f.s.Put(key, "v2")
	f.flush()
	if v, _, _ := f.get(key); v != "v2" {
		t.Fatalf("value %q after a change", v)
	}
}

func TestITDeletedKeyIsRecreated(t *testing.T) {
	f := open(t, 10*time.Second)
	key := f.keys.WarmedContainer("guest", wire.FullyQualifiedName{Path: "guest", Name: "hello"}, "1-a", 3, "c9")
	f.s.Put(key, "")
	f.flush()
	if _, err := f.obs.Delete(context.Background(), key); err != nil {
		t.Fatal(err)
	}
	took := eventually(t, 5*time.Second, "deleted key re-created", func() bool {
		_, lease, ok := f.get(key)
		return ok && lease == f.s.LeaseID()
	})
	t.Logf("re-created after %v", took)
}

func TestITDeleteIsNotRepaired(t *testing.T) {
	f := open(t, 10*time.Second)
	key := f.keys.ExistingContainer("guest", wire.FullyQualifiedName{Path: "guest", Name: "hello"}, "1-a", 3, "c2")
	f.s.Put(key, "")
	f.flush()
	f.s.Delete(key)
	f.flush()
	time.Sleep(500 * time.Millisecond)
	if _, _, ok := f.get(key); ok {
		t.Fatal("deleted key is back")
	}
}

func TestITLeaseKeyDeletedReRegisters(t *testing.T) {
	f := open(t, 10*time.Second)
	keys := []string{f.keys.InvokerResource(f.inv),
		f.keys.ExistingContainer("guest", wire.FullyQualifiedName{Path: "guest", Name: "hello"}, "1-a", 3, "c3")}
	for _, k := range keys {
		f.s.Put(k, "x")
	}
	f.flush()
	old := f.s.LeaseID()
	if _, err := f.obs.Delete(context.Background(), f.keys.InstanceLease(f.inv)); err != nil {
		t.Fatal(err)
	}
	took := eventually(t, 5*time.Second, "re-registered with a new lease", func() bool {
		v, lease, ok := f.get(f.keys.InstanceLease(f.inv))
		return ok && lease != old && v == strconv.FormatInt(lease, 10)
	})
	f.flush()
	now := f.s.LeaseID()
	for _, k := range keys {
		if _, lease, ok := f.get(k); !ok || lease != now {
			t.Errorf("%s: found %v, lease %x, want the new lease %x", k, ok, lease, now)
		}
	}
	eventually(t, 5*time.Second, "old lease revoked", func() bool {
		r, err := f.obs.TimeToLive(context.Background(), clientv3.LeaseID(old))
		return err == nil && r.TTL == -1
	})
	if f.s.Regrants() != 1 {
		t.Fatalf("%d regrants", f.s.Regrants())
	}
	t.Logf("re-registered in %v (lease %x → %x)", took, old, now)
}

// A lease revoked from outside takes every key with it; the session notices and writes them again.
func TestITLeaseRevokedRewrites(t *testing.T) {
	f := open(t, 10*time.Second)
	key := f.keys.InvokerResource(f.inv)
	f.s.Put(key, "x")
	f.flush()
	old := f.s.LeaseID()
	if _, err := f.obs.Revoke(context.Background(), clientv3.LeaseID(old)); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "keys back on a new lease", func() bool {
		_, lk, ok1 := f.get(f.keys.InstanceLease(f.inv))
		_, l, ok2 := f.get(key)
		return ok1 && ok2 && l != old && lk == l
	})
}

func TestITCloseRemovesEverything(t *testing.T) {
	f := open(t, 10*time.Second)
	key := f.keys.InvokerResource(f.inv)
	f.s.Put(key, "x")
	f.flush()
	if err := f.s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{key, f.keys.InstanceLease(f.inv)} {
		if _, _, ok := f.get(k); ok {
			t.Errorf("%s still there after Close", k)
		}
	}
	if err := f.s.Flush(context.Background()); err == nil {
		t.Error("Flush after Close succeeded")
	}
}

// The lease is kept alive well past its TTL, and the reads work.
func TestITKeepAliveAndReads(t *testing.T) {
	f := open(t, 2*time.Second)
	fqn := wire.FullyQualifiedName{Path: "guest", Name: "hello"}
	f.s.Put(f.keys.ExistingContainer("guest", fqn, "1-a", 3, "c1"), "")
	f.s.Put(f.keys.WarmedContainer("guest", fqn, "1-a", 3, "c2"), "")
	f.flush()
	if _, err := f.obs.Put(context.Background(), f.keys.InProgressPrefix("guest", fqn, "1-a")+"scheduler/0/creationId/x", ""); err != nil {
		t.Fatal(err)
	}
	ep, _ := wire.SchedulerEndpoints{Host: "10.0.0.5", RPCPort: 13001, ActorPort: 25520, Akka: true}.Marshal()
	if _, err := f.obs.Put(context.Background(), f.keys.QueueLeader("guest", fqn), string(ep)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * f.s.TTL())
	if _, lease, ok := f.get(f.keys.InstanceLease(f.inv)); !ok || lease != f.s.LeaseID() || f.s.Regrants() != 0 {
		t.Fatalf("after 3 TTLs: lease key found %v, regrants %d", ok, f.s.Regrants())
	}
	reads := Reads{S: f.s, Keys: f.keys}
	n, err := reads.LiveContainers(context.Background(), "guest", fqn, "1-a")
	if err != nil || n != 3 {
		t.Fatalf("live containers %d, %v; want 3 (existing, in-progress, warmed)", n, err)
	}
	got, found, err := reads.QueueLeader(context.Background(), "guest", fqn)
	if err != nil || !found || got.Target() != "10.0.0.5:13001" {
		t.Fatalf("leader %+v %v %v", got, found, err)
	}
	if _, found, err := reads.QueueLeader(context.Background(), "guest", wire.FullyQualifiedName{Path: "guest", Name: "none"}); err != nil || found {
		t.Fatalf("absent leader: %v %v", found, err)
	}
}
