package itest

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/stretchr/testify/require"
)

// Controller is the OpenWhisk controller's side of Kafka for one invoker: it owns topics completed{C} and
// health, produces to invoker{N} and consumes what the invoker writes.
type Controller struct {
	ID        string // the controller index C
	InvokerID int    // N
	Client    sarama.Client
	Admin     sarama.ClusterAdmin
	Producer  sarama.SyncProducer
	// Consumer has connections of its own: Kafka answers one request per connection at a time, so a
	// produce sharing a connection with a long-polling fetch would wait for the fetch (up to 500 ms).
	Consumer sarama.Consumer
}

// NewController connects to the broker, creates completed{id} and health as the controller does, and
// registers Close as a cleanup of t. It fails the test when the broker cannot be used.
func NewController(t testing.TB, broker string, invokerID int, id string) *Controller {
	t.Helper()
	return NewControllerConfig(t, broker, invokerID, id, nil)
}

// NewControllerConfig is NewController with secure (when not nil) setting up the client's TLS or SASL.
func NewControllerConfig(t testing.TB, broker string, invokerID int, id string, secure func(*sarama.Config)) *Controller {
	t.Helper()
	c := &Controller{ID: id, InvokerID: invokerID}
	kc := sarama.NewConfig()
	if secure != nil {
		secure(kc)
	}
	kc.Version = sarama.V2_1_0_0
	kc.ClientID = "nemo-it-controller" + id
	kc.Producer.Return.Successes = true
	kc.Producer.RequiredAcks = sarama.WaitForLocal
	kc.Consumer.Return.Errors = false
	kc.Metadata.RefreshFrequency = 2 * time.Second
	var err error
	c.Client, err = sarama.NewClient([]string{broker}, kc)
	require.NoError(t, err, "kafka client")
	t.Cleanup(c.Close)
	c.Admin, err = sarama.NewClusterAdminFromClient(c.Client)
	require.NoError(t, err)
	c.Producer, err = sarama.NewSyncProducerFromClient(c.Client)
	require.NoError(t, err)
	c.Consumer, err = sarama.NewConsumer([]string{broker}, kc)
	require.NoError(t, err)
	c.CreateTopic(t, c.CompletedTopic())
	c.CreateTopic(t, "health")
	return c
}

// InvokerTopic is invoker{N}, where the controller sends activations.
func (c *Controller) InvokerTopic() string { return "invoker" + strconv.Itoa(c.InvokerID) }

// CompletedTopic is completed{C}, where the invoker sends acks.
func (c *Controller) CompletedTopic() string { return "completed" + c.ID }

// CreateTopic creates a one-partition topic; one that already exists is fine.
func (c *Controller) CreateTopic(t testing.TB, name string) {
	t.Helper()
	err := c.Admin.CreateTopic(name, &sarama.TopicDetail{NumPartitions: 1, ReplicationFactor: 1}, false)
	if err != nil && !errors.Is(err, sarama.ErrTopicAlreadyExists) {
		var te *sarama.TopicError
		if !errors.As(err, &te) || te.Err != sarama.ErrTopicAlreadyExists {
			require.NoError(t, err, "create topic %s", name)
		}
	}
}

// Consume reads every partition of topic from offset into fn (on goroutines of its own) until Close.
func (c *Controller) Consume(t testing.TB, topic string, offset int64, fn func(*sarama.ConsumerMessage)) {
	t.Helper()
	var parts []int32
	var err error
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if parts, err = c.Consumer.Partitions(topic); err == nil && len(parts) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("topic %s has no partitions: %v", topic, err)
		}
	}
	for _, part := range parts {
		var pc sarama.PartitionConsumer
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(200 * time.Millisecond) {
			if pc, err = c.Consumer.ConsumePartition(topic, part, offset); err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("consume %s/%d: %v", topic, part, err)
			}
		}
		go func() {
			for m := range pc.Messages() {
				fn(m)
			}
		}()
	}
}

// ConsumeAcks reads completed{C} from its start into a new AckLog.
func (c *Controller) ConsumeAcks(t testing.TB) *AckLog {
	t.Helper()
	l := &AckLog{}
	c.Consume(t, c.CompletedTopic(), sarama.OffsetOldest, l.Add)
	return l
}

// Produce sends one record to invoker{N}.
func (c *Controller) Produce(t testing.TB, value []byte) {
	t.Helper()
	_, _, err := c.Producer.SendMessage(&sarama.ProducerMessage{Topic: c.InvokerTopic(), Value: sarama.ByteEncoder(value)})
	require.NoError(t, err, "produce to %s", c.InvokerTopic())
}

// Close stops consuming and removes what this test created on the broker: topics invoker{N} and
// completed{C} and consumer group invoker{N} (never health, which every invoker shares).
func (c *Controller) Close() {
	if c.Consumer != nil {
		_ = c.Consumer.Close()
	}
	if c.Producer != nil {
		_ = c.Producer.Close()
	}
	if c.Admin != nil {
		for _, topic := range []string{c.InvokerTopic(), c.CompletedTopic()} {
			_ = c.Admin.DeleteTopic(topic)
		}
		_ = c.Admin.DeleteConsumerGroup(c.InvokerTopic())
	}
	if c.Client != nil {
		_ = c.Client.Close()
	}
}
