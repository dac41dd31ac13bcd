//go:build integration

package fpc

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/rs/zerolog"

	"github.com/nemo-edge/nemo/integration/fpcsched"
	"github.com/nemo-edge/nemo/integration/itest"
	"github.com/nemo-edge/nemo/invoker/fpc/etcdreg"
	"github.com/nemo-edge/nemo/invoker/fpc/fetch"
	"github.com/nemo-edge/nemo/invoker/wire"
)

func needEtcd(t testing.TB) string {
	t.Helper()
	ep := os.Getenv("NEMO_ETCD")
	if ep == "" {
		t.Skip("needs a real etcd: NEMO_ETCD unset (eval \"$(scripts/services.sh env)\")")
	}
	if !strings.HasPrefix(ep, "127.0.0.1:") {
		t.Skipf("integration tests dial only 127.0.0.1; NEMO_ETCD is %q", ep)
	}
	return ep
}

func cluster() wire.EtcdKeys {
	return wire.EtcdKeys{Cluster: fmt.Sprintf("nemo-fpc-it-%d", time.Now().UnixNano())}
}

type holder struct {
	cmd   *exec.Cmd
	lease int64
}

// startHolder runs cmd/fpc-holder for invoker 7 with one existing-container key and waits for "ready".
func startHolder(t *testing.T, ep string, keys wire.EtcdKeys, ttl int, extra string) *holder {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "fpc-holder")
	if err := itest.GoBuild(bin, "github.com/nemo-edge/nemo/integration/fpc/cmd/fpc-holder"); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-etcd", ep, "-cluster", keys.Cluster, "-id", "7", "-ttl", strconv.Itoa(ttl), "-key", extra)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line := make(chan string, 1)
	go func() {
		s := bufio.NewScanner(out)
		if s.Scan() {
			line <- s.Text()
		}
	}()
	select {
	case l := <-line:
		id, err := strconv.ParseInt(strings.TrimPrefix(l, "ready "), 10, 64)
		if err != nil {
			t.Fatalf("holder said %q", l)
		}
		return &holder{cmd: cmd, lease: id}
	case <-time.After(60 * time.Second):
		t.Fatal("holder not ready within 60 s")
	}
	return nil
}

var fqn = wire.FullyQualifiedName{Path: "guest", Name: "hello", Version: "0.0.2"}

// The keys appear with the right values, all on the holder's one lease; kill -9 makes them all vanish within
// the lease TTL.
func TestITKeysAndKill9(t *testing.T) {
	ep := needEtcd(t)
	keys := cluster()
	sched := fpcsched.WatchEtcd(t, ep, keys)
	inv := wire.InvokerInstanceID{Instance: 7}
	existing := keys.ExistingContainer("guest", fqn, "2-abc", 7, "0123456789ab")
	h := startHolder(t, ep, keys, 2, existing)

	_, ok := sched.Wait(5*time.Second, func(kv map[string]fpcsched.KV) bool { return len(kv) == 3 })
	snap := sched.Snapshot()
	if !ok {
		t.Fatalf("keys: %v", snap)
	}
	lease := snap[keys.InstanceLease(inv)]
	if lease.Value != strconv.FormatInt(h.lease, 10) || lease.Lease != h.lease {
		t.Fatalf("lease key %s = %+v, want the lease id %d in decimal on that lease", keys.InstanceLease(inv), lease, h.lease)
	}
	rec, err := wire.ParseInvokerResourceMessage([]byte(snap[keys.InvokerResource(inv)].Value))
	if err != nil || rec.Status != wire.InvokerUp || rec.FreeMemoryMB != 2048 {
		t.Fatalf("resource record %+v %v", rec, err)
	}
	for k, v := range snap {
		if v.Lease != h.lease {
			t.Errorf("%s on lease %x, want %x", k, v.Lease, h.lease)
		}
	}
	if v, ok := snap[existing]; !ok || v.Value != "" {
		t.Fatalf("existing key %s: %+v %v", existing, v, ok)
	}

	ttl, err := sched.Client.TimeToLive(context.Background(), clientv3LeaseID(h.lease))
	if err != nil {
		t.Fatal(err)
	}
	granted := time.Duration(ttl.GrantedTTL) * time.Second
	killed := time.Now()
	if err := h.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	took, ok := sched.Wait(granted+5*time.Second, func(kv map[string]fpcsched.KV) bool { return len(kv) == 0 })
	if !ok {
		t.Fatalf("keys still there %v after kill -9: %v", time.Since(killed), sched.Snapshot())
	}
	t.Logf("kill -9: every key gone %v after the kill (granted TTL %v)", took, granted)
	// Expiry is checked by etcd every 500 ms: allow that much beyond the TTL.
	if took > granted+time.Second {
		t.Fatalf("keys vanished after %v, more than the TTL %v (+1 s of etcd's expiry check)", took, granted)
	}
}

// Deleting the holder's lease key makes it take a new lease and write everything again.
func TestITLeaseKeyDeletedReRegisters(t *testing.T) {
	ep := needEtcd(t)
	keys := cluster()
	sched := fpcsched.WatchEtcd(t, ep, keys)
	inv := wire.InvokerInstanceID{Instance: 7}
	existing := keys.ExistingContainer("guest", fqn, "2-abc", 7, "0123456789ab")
	h := startHolder(t, ep, keys, 10, existing)
	if _, ok := sched.Wait(5*time.Second, func(kv map[string]fpcsched.KV) bool { return len(kv) == 3 }); !ok {
		t.Fatalf("keys %v", sched.Snapshot())
	}
	sched.Delete(t, keys.InstanceLease(inv))
	took, ok := sched.Wait(10*time.Second, func(kv map[string]fpcsched.KV) bool {
		l, ok := kv[keys.InstanceLease(inv)]
		if !ok || l.Lease == h.lease || l.Value != strconv.FormatInt(l.Lease, 10) || len(kv) != 3 {
			return false
		}
		for _, v := range kv {
			if v.Lease != l.Lease {
				return false
			}
		}
		return true
	})
	if !ok {
		t.Fatalf("not re-registered: %v", sched.Snapshot())
	}
	t.Logf("re-registered on a new lease %v after the lease key was deleted", took)
	// SIGTERM: the holder closes its session, which revokes the lease: everything goes at once.
	if err := h.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if _, ok := sched.Wait(3*time.Second, func(kv map[string]fpcsched.KV) bool { return len(kv) == 0 }); !ok {
		t.Fatalf("keys after a graceful exit: %v", sched.Snapshot())
	}
}

func activation(t *testing.T, id string) []byte {
	t.Helper()
	rev := "2-abc"
	m := &wire.ActivationMessage{TransID: wire.NewTransID("tid-"+id[:6], 1717236920000), Action: fqn, Revision: &rev,
		User:         wire.Identity{Subject: "guest", Namespace: wire.Namespace{Name: "guest", UUID: "u"}, AuthKey: []byte(`{"api_key":"u:k"}`)},
		ActivationID: id, RootControllerIndex: wire.ControllerInstanceID{AsString: "0"}, Blocking: true}
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The pull against the stand-in: activations served, NoActivationMessage after the hold, NoMemoryQueue
// followed to the leader named in real etcd, ActionMismatch, and the goodbye fetch.
func TestITPullAgainstStandIn(t *testing.T) {
	ep := needEtcd(t)
	keys := cluster()
	sched := fpcsched.WatchEtcd(t, ep, keys)
	a, b := fpcsched.StartScheduler(t), fpcsched.StartScheduler(t)
	rev := "2-abc"
	q := fpcsched.QueueKey{InvocationNamespace: "guest", DocID: fqn.DocID(), Revision: rev}
	a.Enqueue(q, activation(t, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa01"))
	a.Enqueue(q, activation(t, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa02"))

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	log := zerolog.New(zerolog.NewTestWriter(t))
	s, err := etcdreg.Open(ctx, etcdreg.Config{Endpoints: []string{ep}, LeaseTTL: 10 * time.Second,
		LeaseKey: keys.InstanceLease(wire.InvokerInstanceID{Instance: 7}), WatchPrefix: keys.Cluster + "/"}, log)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	conns := fetch.NewConns(nil)
	defer conns.Close()
	newPuller := func(container string) *fetch.Puller {
		p, err := fetch.NewPuller(fetch.Config{InvocationNamespace: "guest", Action: fqn, Revision: &rev, ContainerID: container,
			Scheduler: a.Addr}, conns, etcdreg.Reads{S: s, Keys: keys}, nil, log)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	p1, p2 := newPuller("container-1"), newPuller("container-2")
	for i, p := range []*fetch.Puller{p1, p2} {
		res, err := p.Fetch(ctx, -1)
		if err != nil || res.Activation == nil {
			t.Fatalf("puller %d: %+v %v", i+1, res, err)
		}
	}
	if conns.Created() != 1 {
		t.Fatalf("%d connections for two containers of one scheduler", conns.Created())
	}
	start := time.Now()
	res, err := p1.Fetch(ctx, 30*time.Millisecond)
	if err != nil || !res.Idle {
		t.Fatalf("empty queue: %+v %v", res, err)
	}
	if held := time.Since(start); held < 900*time.Millisecond {
		t.Fatalf("NoActivationMessage after %v: the stand-in holds a long poll for 1 s", held)
	}
	reqs := a.Requests()
	if last := reqs[len(reqs)-1]; last.LastDuration.GetValue() != 30 || !last.Alive || last.ContainerId != "container-1" {
		t.Fatalf("request %+v", last)
	}

	// The queue moves to scheduler b: a answers NoMemoryQueue, the leader key names b.
	a.RemoveQueue(q)
	b.Enqueue(q, activation(t, "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbb01"))
	sched.PutLeader(t, "guest", fqn, b.Endpoints())
	res, err = p1.Fetch(ctx, -1)
	if err != nil || res.Activation == nil || res.Activation.ActivationID != "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbb01" {
		t.Fatalf("after the leader switch: %+v %v", res, err)
	}
	if p1.Scheduler() != b.Addr {
		t.Fatalf("puller at %s, want the leader %s", p1.Scheduler(), b.Addr)
	}

	// The action is updated: b's queue now holds revision 3 → ActionMismatch for revision 2.
	b.RemoveQueue(q)
	b.AddQueue(fpcsched.QueueKey{InvocationNamespace: "guest", DocID: fqn.DocID(), Revision: "3-def"})
	if _, err := p1.Fetch(ctx, -1); !isMismatch(err) {
		t.Fatalf("after the update: %v, want ErrActionMismatch", err)
	}
	if err := p1.Close(ctx); err != nil {
		t.Fatal(err)
	}
	reqs = b.Requests()
	if last := reqs[len(reqs)-1]; last.Alive || last.ContainerId != "container-1" {
		t.Fatalf("goodbye %+v", last)
	}
	_ = p2.Close(ctx)
}

func isMismatch(err error) bool { return err != nil && strings.Contains(err.Error(), "does not match") }

// The container messages and creation acks over a real broker: the stand-in sends a creation, the warm-up
// creation and a deletion to invoker{N}; a consumer playing the invoker reads them, drops the warm-up, and
// acks the creation with NEMO's acks, which the stand-in reads as the scheduler does. The JVM's
// ShuttingDownError ack is shown to be unreadable there.
func TestITContainerMessagesOverKafka(t *testing.T) {
	broker := os.Getenv("NEMO_KAFKA")
	if broker == "" {
		t.Skip("needs the real Kafka broker: NEMO_KAFKA unset")
	}
	const invoker = 77
	k := fpcsched.NewKafka(t, broker, invoker, "0", "0")
	s := fpcsched.StartScheduler(t)
	md, err := wire.ParseActionMetaData([]byte(`{"namespace":"guest","name":"hello","exec":{"kind":"nodejs:20","binary":false},` +
		`"parameters":[],"limits":{"timeout":60000,"memory":256,"logs":10,"concurrency":1},"version":"0.0.2","publish":false,"annotations":[]}`))
	if err != nil {
		t.Fatal(err)
	}
	rev := "2-abc"
	creation := k.Creation(s, "guest", fqn, &rev, md, "c0ffee00c0ffee00c0ffee00c0ffee01")
	warm := k.Creation(nil, wire.WarmUpNamespace, wire.FullyQualifiedName{Path: wire.WarmUpNamespace, Name: wire.WarmUpAction}, nil, md,
		"c0ffee00c0ffee00c0ffee00c0ffee02")
	k.SendCreation(t, warm)
	k.SendCreation(t, creation)
	k.SendDeletion(t, &wire.ContainerDeletionMessage{TransID: wire.NewTransID("del", 1717236930000), InvocationNamespace: "guest",
		Action: fqn, Revision: &rev, ActionMetaData: md})

	got := &itest.Journal[wire.ContainerMessage]{}
	k.Consume(t, fpcsched.InvokerTopicName(invoker), sarama.OffsetOldest, func(m *sarama.ConsumerMessage) {
		cm, err := wire.ParseContainerMessage(m.Value)
		if err != nil {
			t.Errorf("invoker side cannot read %s: %v", m.Value, err)
			return
		}
		got.Append(cm)
	})
	if !got.WaitFor(30*time.Second, func(ms []wire.ContainerMessage) bool { return len(ms) == 3 }) {
		t.Fatalf("read %d container messages", len(got.Snapshot()))
	}
	inv := wire.InvokerInstanceID{Instance: invoker, UserMemoryBytes: 2048 << 20}
	for _, m := range got.Snapshot() {
		c, ok := m.(*wire.ContainerCreationMessage)
		if !ok || c.IsWarmUp() {
			continue // deletions are not acked; the warm-up is dropped
		}
		for _, ack := range []*wire.ContainerCreationAckMessage{
			wire.NewCreationAck(c, inv, "", ""),
			wire.NewCreationAck(c, inv, wire.CreationErrShuttingDown, "invoker is shutting down"),
		} {
			b, err := ack.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := k.Producer.SendMessage(&sarama.ProducerMessage{Topic: c.RootSchedulerIndex.CreationAckTopic(), Value: sarama.ByteEncoder(b)}); err != nil {
				t.Fatal(err)
			}
		}
		// What the JVM invoker sends on disable, for contrast.
		jvm := wire.NewCreationAck(c, inv, "", "")
		b, _ := jvm.Marshal()
		b = []byte(strings.Replace(string(b), `"retryCount":0`, `"retryCount":0,"error":"ShuttingDownError"`, 1))
		if _, _, err := k.Producer.SendMessage(&sarama.ProducerMessage{Topic: k.SID.CreationAckTopic(), Value: sarama.ByteEncoder(b)}); err != nil {
			t.Fatal(err)
		}
	}
	if !k.Acks.WaitFor(30*time.Second, func(as []fpcsched.CreationAck) bool { return len(as) == 3 }) {
		t.Fatalf("stand-in read %d acks", len(k.Acks.Snapshot()))
	}
	acks := k.Acks.Snapshot()
	if acks[0].Err != nil || !acks[0].Ack.Success() || acks[0].Ack.CreationID != creation.CreationID {
		t.Fatalf("success ack: %+v", acks[0])
	}
	if acks[1].Err != nil || acks[1].Ack.Error != wire.CreationErrWhisk || !acks[1].Ack.Error.Reschedulable() {
		t.Fatalf("NEMO's shutting-down ack: %+v", acks[1])
	}
	if acks[2].Err == nil {
		t.Fatalf("the JVM's ShuttingDownError ack was readable: %+v", acks[2].Ack)
	}
}
