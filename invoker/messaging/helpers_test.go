package messaging

import (
	"context"
	"fmt"
	"net"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kfake"
)

// newCluster starts an in-process one-broker Kafka (kfake) and returns its address.
func newCluster(t testing.TB, opts ...kfake.Opt) (*kfake.Cluster, []string) {
	t.Helper()
	opts = append([]kfake.Opt{kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(1)}, opts...)
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatalf("kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return c, c.ListenAddrs()
}

// testConfig is a Config for kfake with fast commit and drain.
func testConfig(brokers []string) Config {
	return Config{
		Brokers:        brokers,
		Version:        "3.9.0",
		CommitInterval: 10 * time.Millisecond,
		DrainTimeout:   2 * time.Second,
		DialTimeout:    2 * time.Second,
		RequestTimeout: 5 * time.Second,
	}
}

func testLogger(t testing.TB) zerolog.Logger {
	return zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
}

// closedAddr returns a 127.0.0.1 address on which nothing listens.
func closedAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// produce writes values to topic partition 0 in order.
func produce(t testing.TB, brokers []string, topic string, values ...string) {
	t.Helper()
	cfg := sarama.NewConfig()
	cfg.Producer.Return.Successes = true
	p, err := sarama.NewSyncProducer(brokers, cfg)
	if err != nil {
		t.Fatalf("producer: %v", err)
	}
	defer p.Close()
	for _, v := range values {
		if _, _, err := p.SendMessage(&sarama.ProducerMessage{Topic: topic, Value: sarama.StringEncoder(v)}); err != nil {
			t.Fatalf("produce %q: %v", v, err)
		}
	}
}

// produceN writes n records "m0".."m{n-1}".
func produceN(t testing.TB, brokers []string, topic string, n int) {
	t.Helper()
	vals := make([]string, n)
	for i := range vals {
		vals[i] = fmt.Sprintf("m%d", i)
	}
	produce(t, brokers, topic, vals...)
}

// consumeAll reads topic partition 0 from the start until n records arrived or the timeout.
func consumeAll(t testing.TB, brokers []string, topic string, n int, timeout time.Duration) [][]byte {
	t.Helper()
	c, err := sarama.NewConsumer(brokers, sarama.NewConfig())
	if err != nil {
		t.Fatalf("consumer: %v", err)
	}
	defer c.Close()
	pc, err := c.ConsumePartition(topic, 0, sarama.OffsetOldest)
	if err != nil {
		t.Fatalf("consume %s: %v", topic, err)
	}
	defer pc.Close()
	var out [][]byte
	deadline := time.After(timeout)
	for len(out) < n {
		select {
		case m := <-pc.Messages():
			out = append(out, m.Value)
		case <-deadline:
			return out
		}
	}
	return out
}

// committed returns the consumer group's committed offset for topic/partition (-1 when none).
func committed(t testing.TB, brokers []string, group, topic string, p int32) int64 {
	t.Helper()
	admin, err := sarama.NewClusterAdmin(brokers, sarama.NewConfig())
	if err != nil {
		t.Fatalf("admin: %v", err)
	}
	defer admin.Close()
	resp, err := admin.ListConsumerGroupOffsets(group, map[string][]int32{topic: {p}})
	if err != nil {
		t.Fatalf("list offsets: %v", err)
	}
	b := resp.GetBlock(topic, p)
	if b == nil {
		return -1
	}
	return b.Offset
}

// eventually polls cond every 5 ms until it holds or timeout passes.
func eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitCommitted waits until the committed offset equals want, then checks it stays there for a few
// commit intervals (so a commit running past the contiguous prefix would be seen).
func waitCommitted(t testing.TB, brokers []string, group, topic string, want int64) {
	t.Helper()
	var got int64
	eventually(t, 10*time.Second, fmt.Sprintf("committed offset %d", want), func() bool {
		got = committed(t, brokers, group, topic, 0)
		return got == want
	})
	time.Sleep(100 * time.Millisecond) // 10 commit intervals
	if got = committed(t, brokers, group, topic, 0); got != want {
		t.Fatalf("committed offset moved from %d to %d", want, got)
	}
}

// recorder is a Handler that keeps every record it gets, in arrival order.
type recorder struct {
	mu      sync.Mutex
	recs    []*Record
	arrived chan *Record
	autoAck bool
}

func newRecorder(autoAck bool) *recorder {
	return &recorder{arrived: make(chan *Record, 1000), autoAck: autoAck}
}

func (r *recorder) handle(_ context.Context, rec *Record) {
	r.mu.Lock()
	r.recs = append(r.recs, rec)
	r.mu.Unlock()
	r.arrived <- rec
	if r.autoAck {
		rec.Done()
	}
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.recs)
}

func (r *recorder) offsets() []int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]int64, len(r.recs))
	for i, rec := range r.recs {
		out[i] = rec.Offset
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func (r *recorder) byOffset(off int64) *Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rec := range r.recs {
		if rec.Offset == off {
			return rec
		}
	}
	return nil
}

// next waits for the next record.
func (r *recorder) next(t testing.TB, timeout time.Duration) *Record {
	t.Helper()
	select {
	case rec := <-r.arrived:
		return rec
	case <-time.After(timeout):
		t.Fatalf("no record within %v (have %d)", timeout, r.count())
		return nil
	}
}

// none checks that no record arrives within d.
func (r *recorder) none(t testing.TB, d time.Duration) {
	t.Helper()
	select {
	case rec := <-r.arrived:
		t.Fatalf("unexpected record at offset %d", rec.Offset)
	case <-time.After(d):
	}
}

// startFeed runs f until the test ends (or the returned stop is called) and returns stop, which waits
// for Run to return.
func startFeed(t testing.TB, f *Feed) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(20 * time.Second):
				t.Errorf("Run did not return after cancel")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func seq(from, to int64) []int64 {
	var out []int64
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}
