package messaging

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/containerd/errdefs"
	"github.com/eapache/go-resiliency/breaker"

	"github.com/nemo-edge/nemo/invoker/wire"
)

// testAck is an Ack whose full form is `full` and whose shrunk form is `small`.
type testAck struct{ full, small string }

func (a testAck) Marshal() ([]byte, error) { return []byte(a.full), nil }
func (a testAck) Shrunk() wire.Ack         { return testAck{full: a.small, small: a.small} }
func (a testAck) SlotFree() bool           { return true }

type failingAck struct{}

func (failingAck) Marshal() ([]byte, error) { return nil, errors.New("cannot encode") }
func (failingAck) Shrunk() wire.Ack         { return failingAck{} }
func (failingAck) SlotFree() bool           { return true }

func newTestProducer(t *testing.T, cfg Config) *Producer {
	t.Helper()
	p, err := NewProducer(cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func TestSendAckGoesToPrefixedCompletedTopic(t *testing.T) {
	_, brokers := newCluster(t)
	cfg := testConfig(brokers)
	cfg.TopicPrefix = "dev-"
	p := newTestProducer(t, cfg)
	if err := p.SendAck(context.Background(), "0", testAck{full: `{"a":1}`, small: `"id"`}); err != nil {
		t.Fatal(err)
	}
	got := consumeAll(t, brokers, "dev-completed0", 1, 5*time.Second)
	if len(got) != 1 || string(got[0]) != `{"a":1}` {
		t.Errorf("dev-completed0 holds %q", got)
	}
}

// The controller needs a blocking activation's Result before its Completion: SendAck returns only once
// the broker has the record, so sending the Completion after it returns keeps the order.
func TestSendAckSequencedCallsKeepOrder(t *testing.T) {
	_, brokers := newCluster(t)
	p := newTestProducer(t, testConfig(brokers))
	for _, v := range []string{"result-1", "completion-1", "result-2", "completion-2"} {
		if err := p.SendAck(context.Background(), "0", testAck{full: v, small: v}); err != nil {
			t.Fatal(err)
		}
	}
	got := consumeAll(t, brokers, "completed0", 4, 5*time.Second)
	if s := string(bytes.Join(got, []byte(","))); s != "result-1,completion-1,result-2,completion-2" {
		t.Errorf("order on the topic: %s", s)
	}
}

// The broker refuses the full record (topic max.message.bytes): the shrunk ack is sent instead.
func TestSendAckResendsShrunkWhenBrokerRefusesSize(t *testing.T) {
	_, brokers := newCluster(t)
	cfg := testConfig(brokers)
	if err := EnsureTopic(context.Background(), cfg, "completed0", map[string]string{"max.message.bytes": "600"}); err != nil {
		t.Fatal(err)
	}
	p := newTestProducer(t, cfg)
	big := `{"response":"` + strings.Repeat("x", 2000) + `"}`
	if err := p.SendAck(context.Background(), "0", testAck{full: big, small: `{"response":"aid"}`}); err != nil {
		t.Fatalf("SendAck: %v", err)
	}
	got := consumeAll(t, brokers, "completed0", 2, time.Second)
	if len(got) != 1 || string(got[0]) != `{"response":"aid"}` {
		t.Errorf("completed0 holds %d records (%.40q...), want only the shrunk ack", len(got), got)
	}
}

// The producer's own max.request.size refuses the record before it reaches the broker.
func TestSendAckResendsShrunkWhenProducerLimitRefusesSize(t *testing.T) {
	_, brokers := newCluster(t)
	cfg := testConfig(brokers)
	cfg.MaxRequestBytes = 500
	p := newTestProducer(t, cfg)
	big := strings.Repeat("y", 1000)
	if err := p.SendAck(context.Background(), "0", testAck{full: big, small: "small"}); err != nil {
		t.Fatalf("SendAck: %v", err)
	}
	if got := consumeAll(t, brokers, "completed0", 2, time.Second); len(got) != 1 || string(got[0]) != "small" {
		t.Errorf("completed0 holds %d records, want only the shrunk ack", len(got))
	}
}

func TestSendAckTooLargeEvenShrunk(t *testing.T) {
	_, brokers := newCluster(t)
	cfg := testConfig(brokers)
	cfg.MaxRequestBytes = 500
	p := newTestProducer(t, cfg)
	big := strings.Repeat("z", 1000)
	err := p.SendAck(context.Background(), "0", testAck{full: big, small: big + "!"})
	if !errors.Is(err, ErrTooLarge) {
		t.Errorf("err = %v, want ErrTooLarge", err)
	}
	// A Completion is its own shrunk form: no pointless second attempt, same error.
	if err := p.SendAck(context.Background(), "0", testAck{full: big, small: big}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("err = %v, want ErrTooLarge", err)
	}
}

func TestSendAckEncodeFailure(t *testing.T) {
	p := newProducer(Config{}, &scriptedSender{}, testLogger(t))
	if err := p.SendAck(context.Background(), "0", failingAck{}); !errors.Is(err, ErrEncode) {
		t.Errorf("err = %v, want ErrEncode", err)
	}
}

// scriptedSender answers SendMessage from a script of errors (nil once it runs out), optionally blocking.
type scriptedSender struct {
	mu    sync.Mutex
	errs  []error
	calls int
	block chan struct{}
	sent  [][]byte
}

func (s *scriptedSender) SendMessage(m *sarama.ProducerMessage) (int32, int64, error) {
	s.mu.Lock()
	s.calls++
	var err error
	if len(s.errs) > 0 {
		err, s.errs = s.errs[0], s.errs[1:]
	}
	block := s.block
	s.mu.Unlock()
	if block != nil {
		<-block
	}
	if err == nil {
		b, _ := m.Value.Encode()
		s.mu.Lock()
		s.sent = append(s.sent, b)
		s.mu.Unlock()
	}
	return 0, 0, err
}

func (s *scriptedSender) Close() error { return nil }

func (s *scriptedSender) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

func TestSendRetriesRetriableErrorsThreeTimes(t *testing.T) {
	s := &scriptedSender{errs: []error{sarama.ErrNotLeaderForPartition, sarama.ErrOutOfBrokers, sarama.ErrRequestTimedOut}}
	p := newProducer(Config{}, s, testLogger(t))
	if err := p.Send(context.Background(), "completed0", []byte("x")); err != nil {
		t.Fatalf("after 3 retriable failures: %v", err)
	}
	if s.count() != 4 {
		t.Errorf("calls = %d, want 4", s.count())
	}

	s = &scriptedSender{errs: repeat(sarama.ErrNotEnoughReplicas, 10)}
	p = newProducer(Config{}, s, testLogger(t))
	err := p.Send(context.Background(), "completed0", []byte("x"))
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, sarama.ErrNotEnoughReplicas) {
		t.Errorf("err = %v, want ErrUnavailable wrapping the broker error", err)
	}
	if s.count() != 1+sendRetries {
		t.Errorf("calls = %d, want %d", s.count(), 1+sendRetries)
	}
}

func TestSendDoesNotRetryOtherErrors(t *testing.T) {
	s := &scriptedSender{errs: []error{sarama.ErrInvalidTopic}}
	p := newProducer(Config{}, s, testLogger(t))
	err := p.Send(context.Background(), "bad topic!", []byte("x"))
	if !errors.Is(err, ErrSend) || s.count() != 1 {
		t.Errorf("err = %v after %d calls, want ErrSend after 1", err, s.count())
	}
}

func TestSendIsBoundedByContext(t *testing.T) {
	s := &scriptedSender{block: make(chan struct{})}
	defer close(s.block)
	p := newProducer(Config{}, s, testLogger(t))
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := p.Send(ctx, "completed0", []byte("x"))
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, ErrUnavailable) {
		t.Errorf("err = %v, want ErrUnavailable wrapping DeadlineExceeded", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("Send blocked past its ctx")
	}
}

func TestSendPingAndEventTopics(t *testing.T) {
	_, brokers := newCluster(t)
	cfg := testConfig(brokers)
	cfg.TopicPrefix, cfg.UserEventPrefix = "dev-", "ue-"
	p := newTestProducer(t, cfg)
	ping := &wire.PingMessage{Name: wire.InvokerInstanceID{Instance: 0, UserMemoryBytes: 1 << 30}, IsEnabled: true}
	if err := p.SendPing(context.Background(), ping); err != nil {
		t.Fatal(err)
	}
	ev := &wire.EventMessage{Source: "invoker0", Metric: &wire.MetricEventBody{MetricName: "ConcurrentInvocations", MetricValue: 1},
		Subject: "guest", Namespace: "guest", UserID: "u", EventType: "Metric", Timestamp: 1717236920000}
	if err := p.SendEvent(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	wantPing, _ := ping.Marshal()
	wantEvent, _ := ev.Marshal()
	if got := consumeAll(t, brokers, "dev-health", 1, 5*time.Second); len(got) != 1 || !bytes.Equal(got[0], wantPing) {
		t.Errorf("dev-health holds %q, want %q", got, wantPing)
	}
	if got := consumeAll(t, brokers, "ue-events", 1, 5*time.Second); len(got) != 1 || !bytes.Equal(got[0], wantEvent) {
		t.Errorf("ue-events holds %q, want %q", got, wantEvent)
	}
}

func TestNewProducerUnreachableKafka(t *testing.T) {
	_, err := NewProducer(testConfig([]string{closedAddr(t)}), testLogger(t))
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
	if _, err := NewProducer(Config{}, testLogger(t)); !errors.Is(err, ErrConfig) {
		t.Errorf("no brokers: %v", err)
	}
}

// After Kafka goes away, sends fail with ErrUnavailable within their ctx instead of hanging.
func TestSendAfterKafkaWentAway(t *testing.T) {
	c, brokers := newCluster(t)
	p := newTestProducer(t, testConfig(brokers))
	if err := p.Send(context.Background(), "health", []byte("up")); err != nil {
		t.Fatal(err)
	}
	c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := p.Send(ctx, "health", []byte("down")); !errors.Is(err, ErrUnavailable) {
		t.Errorf("err = %v, want ErrUnavailable", err)
	}
}

// sarama's producer refuses sends with "circuit breaker is open" for 10 s after a broker failed three
// times: that is the broker being down (ErrUnavailable, worth retrying), not a bad record.
func TestSendClassifiesAnOpenCircuitBreakerAsUnavailable(t *testing.T) {
	s := &scriptedSender{errs: repeat(breaker.ErrBreakerOpen, 10)}
	p := newProducer(Config{}, s, testLogger(t))
	err := p.Send(context.Background(), "completed0", []byte("x"))
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, breaker.ErrBreakerOpen) {
		t.Errorf("err = %v, want ErrUnavailable wrapping the breaker error", err)
	}
	if s.count() != 1+sendRetries {
		t.Errorf("calls = %d, want %d (retried like any outage)", s.count(), 1+sendRetries)
	}
}

// An error the producer does not know is reported as ErrUnavailable (worth retrying: the caller keeps an
// answer rather than dropping it); only refusals that can never succeed are ErrSend, and those, like a
// record too large and an encoding failure, carry the errdefs class of a permanent failure.
func TestSendClassifiesUnknownErrorsAsUnavailableAndRefusalsAsPermanent(t *testing.T) {
	s := &scriptedSender{errs: []error{errors.New("kafka: something nobody has seen before")}}
	p := newProducer(Config{}, s, testLogger(t))
	err := p.Send(context.Background(), "completed0", []byte("x"))
	if !errors.Is(err, ErrUnavailable) || !errdefs.IsUnavailable(err) {
		t.Errorf("unknown error: %v, want ErrUnavailable", err)
	}
	for _, e := range []error{ErrSend, ErrTooLarge, ErrEncode} {
		if !errdefs.IsInvalidArgument(e) {
			t.Errorf("%v does not carry errdefs.ErrInvalidArgument", e)
		}
	}
	s = &scriptedSender{errs: []error{sarama.ErrTopicAuthorizationFailed}}
	p = newProducer(Config{}, s, testLogger(t))
	if err := p.Send(context.Background(), "completed0", []byte("x")); !errors.Is(err, ErrSend) || !errdefs.IsInvalidArgument(err) {
		t.Errorf("authorization refusal: %v, want ErrSend", err)
	}
}
