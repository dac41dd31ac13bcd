//go:build integration

package fpc

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/rs/zerolog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/nemo-edge/nemo/integration/fpcsched"
	"github.com/nemo-edge/nemo/integration/itest"
	"github.com/nemo-edge/nemo/invoker/fpc/activationpb"
	"github.com/nemo-edge/nemo/invoker/wire"
	"github.com/nemo-edge/nemo/pool"
	"github.com/nemo-edge/nemo/pool/docker"
	"github.com/nemo-edge/nemo/pool/proxy"
)

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// stamps records when each keyed record of a topic arrived (the test's consumer side).
type stamps struct {
	j itest.Journal[stamp]
}

type stamp struct {
	key string
	at  time.Time
}

func (s *stamps) wait(t testing.TB, key string) time.Time {
	t.Helper()
	var at time.Time
	if !s.j.WaitFor(30*time.Second, func(xs []stamp) bool {
		for _, x := range xs {
			if x.key == key {
				at = x.at
				return true
			}
		}
		return false
	}) {
		t.Fatalf("record %s never arrived", key)
	}
	return at
}

// BenchmarkFPCWarmPath measures FPC mode's two paths against floors taken in the same run, one sample of each
// in turn so that load from other jobs hits value and floor alike:
//
//   - fetch → Result: a blocking activation is queued at the stand-in scheduler while the invoker's warm
//     container long-polls it; the value is queue → Result ack read from completed{C}. Its floor is the sum
//     of a bare gRPC FetchActivation round trip that returns a queued activation, a bare /run on a warm
//     container of the same image (pool/docker, no invoker), and one Kafka produce → consume (the ack's leg).
//   - creation → ack: a ContainerCreationMessage produced to invoker{N} → its ContainerCreationAckMessage read
//     from creationAck{sid}. Floor: one Kafka echo round trip (produce → consume → produce → consume) plus one
//     etcd put (the existing-container key written before the ack).
//
// Run: eval "$(scripts/services.sh env)"; go test -tags integration -run NONE -bench FPCWarmPath -benchtime 100x ./integration/fpc/
func BenchmarkFPCWarmPath(b *testing.B) {
	e := newE2E(b)
	e.start(e.id, true, "fpc")
	e.waitUp(e.id)
	ctx := context.Background()

	// The invoker's warm container: one creation, one activation.
	e.sched.AddQueue(e.queue())
	if a := e.create(itest.RandomHex(16)); !a.Ack.Success() {
		b.Fatalf("creation ack %+v", a.Ack)
	}
	content := map[string]any{"name": "bench"}
	warm := itest.RandomHex(16)
	e.sched.Enqueue(e.queue(), e.activation(warm, true, content))
	e.waitSlotFree(warm, 90*time.Second)

	// Floors: a gRPC client of the stand-in, a bare container, a scratch topic pair.
	conn, err := grpc.NewClient(e.sched.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	client := activationpb.NewActivationServiceClient(conn)
	floorQ := fpcsched.QueueKey{InvocationNamespace: itest.Namespace, DocID: itest.Namespace + "/floor", Revision: "1-floor"}
	floorFQN := wire.FullyQualifiedName{Path: itest.Namespace, Name: "floor"}
	floorRev := "1-floor"
	e.sched.AddQueue(floorQ)

	cli, err := docker.NewClient()
	if err != nil {
		b.Fatal(err)
	}
	defer cli.Close()
	prefix := fmt.Sprintf("nemofpcbench%d", e.id)
	be := docker.New(cli, docker.Config{InvokerID: prefix, Mode: docker.NetworkPublish, PublishHost: "127.0.0.1", UserMemoryMB: 1024}, zerolog.Nop())
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_, _ = be.Cleanup(cctx, prefix)
	}()
	h, err := be.Create(ctx, prefix+"_1_floor", pool.Spec{Key: pool.Key{Namespace: "guest", Action: "guest/floor"}, Kind: wire.KindBlackbox,
		Image: itest.ActionImage, MemoryMB: 256, Concurrency: 1})
	if err != nil {
		b.Fatal(err)
	}
	if r := be.Init(ctx, h, []byte(`{"value":{"name":"floor","main":"main","binary":false}}`), time.Minute); !r.OK {
		b.Fatalf("floor /init: %s", r.Response.Result)
	}

	scratchA, scratchB := fmt.Sprintf("fpcbench%d-a", e.id), fmt.Sprintf("fpcbench%d-b", e.id)
	e.k.CreateTopic(b, scratchA)
	e.k.CreateTopic(b, scratchB)
	defer func() { _ = e.k.Admin.DeleteTopic(scratchA); _ = e.k.Admin.DeleteTopic(scratchB) }()
	oneWay, echoed := &stamps{}, &stamps{}
	e.k.Consume(b, scratchA, sarama.OffsetNewest, func(m *sarama.ConsumerMessage) {
		oneWay.j.Append(stamp{key: string(m.Value), at: time.Now()})
		_, _, _ = e.k.Producer.SendMessage(&sarama.ProducerMessage{Topic: scratchB, Value: sarama.ByteEncoder(m.Value)})
	})
	e.k.Consume(b, scratchB, sarama.OffsetNewest, func(m *sarama.ConsumerMessage) {
		echoed.j.Append(stamp{key: string(m.Value), at: time.Now()})
	})
	time.Sleep(2 * time.Second) // the partition consumers start at the newest offset: let them attach

	var value, fGRPC, fRun, fKafka []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// Value: queue → Result ack.
		aid := itest.RandomHex(16)
		t0 := time.Now()
		e.sched.Enqueue(e.queue(), e.activation(aid, true, content))
		var res time.Time
		if !e.acks.WaitFor(30*time.Second, func(as []itest.Ack) bool {
			for _, a := range as {
				if a.AID == aid && a.Kind == itest.AckResult {
					res = a.At
					return true
				}
			}
			return false
		}) {
			b.Fatalf("no Result ack for %s", aid)
		}
		value = append(value, res.Sub(t0))
		e.waitSlotFree(aid, 30*time.Second)
		// The record is written after the Completion: let it land outside the next sample.
		e.record(aid)

		// Floor 1: gRPC round trip that returns an activation.
		e.sched.Enqueue(floorQ, e.activation(itest.RandomHex(16), true, content))
		rev := floorRev
		req := &activationpb.FetchRequest{TransactionId: `["bench",1]`, InvocationNamespace: itest.Namespace,
			Fqn: wire.FQNText(floorFQN), Rev: wire.RevisionText(&rev), ContainerId: "floor", Alive: true}
		g0 := time.Now()
		if _, err := client.FetchActivation(ctx, req); err != nil {
			b.Fatal(err)
		}
		fGRPC = append(fGRPC, time.Since(g0))

		// Floor 2: bare /run on a warm container of the same image.
		r0 := time.Now()
		rr := be.Run(ctx, h, []byte(`{"value":{"name":"bench"},"namespace":"guest","action_name":"/guest/floor","activation_id":"`+aid+`","transaction_id":"bench","deadline":"`+
			fmt.Sprint(time.Now().Add(time.Minute).UnixMilli())+`"}`), time.Minute)
		if rr.Response.StatusCode != proxy.StatusSuccess {
			b.Fatalf("bare /run: %s", rr.Response.Result)
		}
		fRun = append(fRun, time.Since(r0))
		be.Logs(ctx, h, 10<<20, pool.LogOptions{Sentinels: true})

		// Floor 3: one Kafka produce → consume.
		key := itest.RandomHex(8)
		k0 := time.Now()
		if _, _, err := e.k.Producer.SendMessage(&sarama.ProducerMessage{Topic: scratchA, Value: sarama.StringEncoder(key)}); err != nil {
			b.Fatal(err)
		}
		fKafka = append(fKafka, oneWay.wait(b, key).Sub(k0))
		echoed.wait(b, key)
	}
	b.StopTimer()

	// creation → ack: a few samples (each creation reserves 256 MB until its container, never used, goes
	// after the pause grace; 5 fit beside the warm one).
	var cValue, cEcho, cEtcd []time.Duration
	for i := 0; i < 5; i++ {
		cid := itest.RandomHex(16)
		rev := e.rev
		m := e.k.Creation(e.sched, itest.Namespace, e.fqn, &rev, e.meta, cid)
		c0 := time.Now()
		e.k.SendCreation(b, m)
		// The stand-in's ack journal wakes its waiters on each record: the time is taken when it shows.
		if !e.k.Acks.WaitFor(30*time.Second, func(as []fpcsched.CreationAck) bool {
			for _, a := range as {
				if a.Ack != nil && a.Ack.CreationID == cid {
					return true
				}
			}
			return false
		}) {
			b.Fatalf("no creation ack for %s", cid)
		}
		cValue = append(cValue, time.Since(c0))

		key := itest.RandomHex(8)
		k0 := time.Now()
		if _, _, err := e.k.Producer.SendMessage(&sarama.ProducerMessage{Topic: scratchA, Value: sarama.StringEncoder(key)}); err != nil {
			b.Fatal(err)
		}
		cEcho = append(cEcho, echoed.wait(b, key).Sub(k0))
		p0 := time.Now()
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := e.w.Client.Put(pctx, e.keys.Cluster+"/bench/"+cid, "")
		cancel()
		if err != nil {
			b.Fatal(err)
		}
		cEtcd = append(cEtcd, time.Since(p0))
	}

	v, g, r, k := median(value), median(fGRPC), median(fRun), median(fKafka)
	floor := g + r + k
	b.ReportMetric(float64(v.Microseconds()), "fetch-result-p50-us")
	b.ReportMetric(float64(floor.Microseconds()), "floor-p50-us")
	b.ReportMetric(float64(v)/float64(floor), "ratio")
	cv, cf := median(cValue), median(cEcho)+median(cEtcd)
	b.ReportMetric(float64(cv.Microseconds()), "creation-ack-p50-us")
	b.ReportMetric(float64(cf.Microseconds()), "creation-floor-p50-us")
	b.ReportMetric(float64(cv)/float64(cf), "creation-ratio")
	b.Logf("fetch → Result p50 %v over %d; floor %v = gRPC %v + /run %v + Kafka one way %v; ratio %.2f",
		v, len(value), floor, g, r, k, float64(v)/float64(floor))
	b.Logf("creation → ack p50 %v over %d; floor %v = Kafka echo %v + etcd put %v; ratio %.2f",
		cv, len(cValue), cf, median(cEcho), median(cEtcd), float64(cv)/float64(cf))
}
