package messaging

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func describeTopic(t *testing.T, brokers []string, topic string) (partitions int, configs map[string]string) {
	t.Helper()
	admin, err := sarama.NewClusterAdmin(brokers, sarama.NewConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	md, err := admin.DescribeTopics([]string{topic})
	if err != nil || len(md) != 1 || md[0].Err != sarama.ErrNoError {
		t.Fatalf("describe %s: %v %+v", topic, err, md)
	}
	entries, err := admin.DescribeConfig(sarama.ConfigResource{Type: sarama.TopicResource, Name: topic}) //nolint:staticcheck // SA1019: one topic, one resource: the single-resource form is the plainest check
	if err != nil {
		t.Fatalf("describe configs %s: %v", topic, err)
	}
	configs = map[string]string{}
	for _, e := range entries {
		configs[e.Name] = e.Value
	}
	return len(md[0].Partitions), configs
}

func TestEnsureTopicCreatesWithInvokerConfigs(t *testing.T) {
	_, brokers := newCluster(t)
	cfg := testConfig(brokers)
	if err := EnsureTopic(context.Background(), cfg, "invoker0", InvokerTopicConfigs()); err != nil {
		t.Fatal(err)
	}
	partitions, configs := describeTopic(t, brokers, "invoker0")
	if partitions != 1 {
		t.Errorf("partitions = %d, want 1", partitions)
	}
	for k, want := range map[string]string{
		"segment.bytes": "536870912", "retention.bytes": "1073741824",
		"retention.ms": "172800000", "max.message.bytes": "1054644",
	} {
		if configs[k] != want {
			t.Errorf("%s = %q, want %q", k, configs[k], want)
		}
	}
}

func TestEnsureTopicIsIdempotent(t *testing.T) {
	_, brokers := newCluster(t)
	cfg := testConfig(brokers)
	ctx := context.Background()
	if err := EnsureTopic(ctx, cfg, "invoker1", map[string]string{"retention.ms": "1000"}); err != nil {
		t.Fatal(err)
	}
	// A second call, with other configs, neither fails nor alters the existing topic.
	if err := EnsureTopic(ctx, cfg, "invoker1", InvokerTopicConfigs()); err != nil {
		t.Fatalf("second EnsureTopic: %v", err)
	}
	if _, configs := describeTopic(t, brokers, "invoker1"); configs["retention.ms"] != "1000" {
		t.Errorf("existing topic's retention.ms changed to %q", configs["retention.ms"])
	}
}

// A topic created by someone else between our list and our create ("already exists") is success.
func TestEnsureTopicAlreadyExistsRaceIsSuccess(t *testing.T) {
	admin := &scriptedAdmin{createErr: []error{&sarama.TopicError{Err: sarama.ErrTopicAlreadyExists}}}
	if err := ensureTopic(context.Background(), admin, "invoker0", 1, nil, time.Millisecond); err != nil {
		t.Fatalf("already exists: %v", err)
	}
	if admin.creates != 1 {
		t.Errorf("creates = %d, want 1", admin.creates)
	}
}

func TestEnsureTopicRetriesRetriableErrors(t *testing.T) {
	c, brokers := newCluster(t)
	h := c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.CreateTopics}, Topic: "invoker2", Err: kerr.NotController, Count: 2})
	start := time.Now()
	if err := EnsureTopic(context.Background(), testConfig(brokers), "invoker2", InvokerTopicConfigs()); err != nil {
		t.Fatalf("EnsureTopic after 2 retriable failures: %v", err)
	}
	if h.Hits() != 2 {
		t.Errorf("fault hits = %d, want 2", h.Hits())
	}
	if elapsed := time.Since(start); elapsed < 2*ensureTopicBackoff {
		t.Errorf("retried after %v, want the 1 s backoff between attempts", elapsed)
	}
	if p, _ := describeTopic(t, brokers, "invoker2"); p != 1 {
		t.Errorf("topic not created")
	}
}

func TestEnsureTopicGivesUpAfterFiveRetries(t *testing.T) {
	admin := &scriptedAdmin{createErr: repeat(&sarama.TopicError{Err: sarama.ErrRequestTimedOut}, 10)}
	err := ensureTopic(context.Background(), admin, "invoker0", 1, nil, time.Millisecond)
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, sarama.ErrRequestTimedOut) {
		t.Errorf("err = %v, want ErrUnavailable wrapping the broker error", err)
	}
	if admin.creates != 1+ensureTopicRetries {
		t.Errorf("creates = %d, want %d", admin.creates, 1+ensureTopicRetries)
	}
}

func TestEnsureTopicFailsAtOnceOnNonRetriableError(t *testing.T) {
	c, brokers := newCluster(t)
	h := c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.CreateTopics}, Topic: "invoker3", Err: kerr.PolicyViolation, Count: -1})
	err := EnsureTopic(context.Background(), testConfig(brokers), "invoker3", InvokerTopicConfigs())
	if !errors.Is(err, ErrTopic) || !errors.Is(err, sarama.ErrPolicyViolation) {
		t.Fatalf("err = %v, want ErrTopic wrapping POLICY_VIOLATION", err)
	}
	if h.Hits() != 1 {
		t.Errorf("fault hits = %d, want 1 (no retry)", h.Hits())
	}
}

func TestEnsureTopicUnreachableKafka(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	err := EnsureTopic(ctx, testConfig([]string{closedAddr(t)}), "invoker0", InvokerTopicConfigs())
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
	if elapsed := time.Since(start); elapsed > 10*time.Second {
		t.Errorf("took %v, ctx should bound it", elapsed)
	}
}

func TestEnsureTopicRejectsBadConfig(t *testing.T) {
	if err := EnsureTopic(context.Background(), Config{}, "invoker0", nil); !errors.Is(err, ErrConfig) {
		t.Errorf("no brokers: %v", err)
	}
	if err := EnsureTopic(context.Background(), testConfig([]string{"127.0.0.1:1"}), "", nil); !errors.Is(err, ErrConfig) {
		t.Errorf("empty name: %v", err)
	}
}

// scriptedAdmin lists no topics and answers CreateTopic from a script (nil once it runs out).
type scriptedAdmin struct {
	createErr []error
	creates   int
}

func (a *scriptedAdmin) ListTopics() (map[string]sarama.TopicDetail, error) {
	return map[string]sarama.TopicDetail{}, nil
}

func (a *scriptedAdmin) CreateTopic(string, *sarama.TopicDetail, bool) error {
	a.creates++
	if len(a.createErr) == 0 {
		return nil
	}
	err := a.createErr[0]
	a.createErr = a.createErr[1:]
	return err
}

func (a *scriptedAdmin) Close() error { return nil }

func repeat(err error, n int) []error {
	out := make([]error, n)
	for i := range out {
		out[i] = err
	}
	return out
}
