package messaging

import (
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/IBM/sarama"
)

// Defaults. The Kafka-facing ones mirror OpenWhisk's invoker (docs/protocol.md#kafka).
const (
	// DefaultVersion is the Kafka protocol level spoken when Config.Version is empty. 2.1.0 is the oldest
	// level Kafka 4 brokers still accept and is understood by every broker since 2018.
	DefaultVersion = "2.1.0"
	// MaxActivationBytes = whisk.activation.payload.max (1 MiB) + serdes overhead 6068: the topic's
	// max.message.bytes and the ack producer's max.request.size.
	MaxActivationBytes = 1054644

	defaultRequestTimeout  = 30 * time.Second
	defaultMetadataRefresh = 15 * time.Second
	defaultFetchWait       = 500 * time.Millisecond
	defaultSessionTimeout  = 30 * time.Second
	defaultHeartbeat       = 10 * time.Second
	defaultCommitInterval  = 100 * time.Millisecond
	defaultDrainTimeout    = 30 * time.Second
	defaultDialTimeout     = 10 * time.Second
)

// Config describes how the invoker talks to Kafka. The zero value of every field except Brokers means
// "use the default named in the field's comment".
type Config struct {
	// Brokers are host:port bootstrap addresses (CONFIG_whisk_kafka_hosts / KAFKA_HOSTS). Required.
	Brokers []string
	// Version is the Kafka protocol level, e.g. "0.11.0.1" (OpenWhisk devtools' broker) or "3.9.0".
	// It must be one sarama knows (sarama.SupportedVersions). Default DefaultVersion ("2.1.0").
	Version string
	// TopicPrefix is whisk.kafka.topics.prefix (CONFIG_whisk_kafka_topics_prefix); default "".
	TopicPrefix string
	// UserEventPrefix is whisk.kafka.topics.user-event.prefix; default "".
	UserEventPrefix string
	// InvokerID is N in invoker{N}: it names the consumed topic, the consumer group and the client id.
	InvokerID int
	// ReplicationFactor for topics this invoker creates (CONFIG_whisk_kafka_replicationFactor); default 1.
	ReplicationFactor int16
	// MaxRequestBytes is the producer's max.request.size; default MaxActivationBytes (1054644).
	MaxRequestBytes int
	// RequestTimeout bounds each broker request and the broker-side wait for acks=1; default 30 s.
	RequestTimeout time.Duration
	// DialTimeout bounds a TCP connect to a broker; default 10 s.
	DialTimeout time.Duration
	// MetadataRefresh is metadata.max.age; default 15 s.
	MetadataRefresh time.Duration
	// FetchWait is fetch.max.wait; default 500 ms.
	FetchWait time.Duration
	// SessionTimeout / Heartbeat for the consumer group; default 30 s / 10 s.
	SessionTimeout time.Duration
	Heartbeat      time.Duration
	// CommitInterval is how often the feed commits the contiguous done prefix; default 100 ms.
	CommitInterval time.Duration
	// DrainTimeout is how long Feed.Run waits, once its ctx is done, for in-flight records to call Done
	// so that their offsets get committed; default 30 s. Negative: do not wait.
	DrainTimeout time.Duration
	// MaxUncommitted caps, per partition, how far past the commit point the feed delivers (offset −
	// commit point < MaxUncommitted). It bounds how many already-done records a crash redelivers.
	// 0 (default): no cap besides the capacity.
	MaxUncommitted int64
	// DynamicMembership turns off static group membership. By default, with Version ≥ 2.3.0, the consumer
	// is a KIP-345 static member (group.instance.id = the topic name), so a restarted invoker takes its
	// partition back at once instead of waiting out the dead member's session timeout. Below 2.3.0
	// membership is always dynamic.
	DynamicMembership bool
	// Security authenticates the client to the brokers (TLS, SASL). Default: PLAINTEXT.
	Security Security
	// InvokerTopicOverrides replace InvokerTopicConfigs' values when invoker{N} is created
	// (whisk.kafka.topics.invoker: retention.bytes, retention.ms, segment.bytes). Default none.
	InvokerTopicOverrides map[string]string
}

// withDefaults returns a copy with every zero field replaced by its default, or an ErrConfig error.
func (c Config) withDefaults() (Config, error) {
	if len(c.Brokers) == 0 {
		return c, fmt.Errorf("%w: no Kafka brokers given", ErrConfig)
	}
	if c.InvokerID < 0 {
		return c, fmt.Errorf("%w: negative invoker id %d", ErrConfig, c.InvokerID)
	}
	if c.Version == "" {
		c.Version = DefaultVersion
	}
	if _, err := ParseVersion(c.Version); err != nil {
		return c, err
	}
	if c.ReplicationFactor == 0 {
		c.ReplicationFactor = 1
	}
	if c.ReplicationFactor < 0 {
		return c, fmt.Errorf("%w: replication factor %d", ErrConfig, c.ReplicationFactor)
	}
	setDuration := func(d *time.Duration, def time.Duration) {
		if *d == 0 {
			*d = def
		}
	}
	if c.MaxRequestBytes == 0 {
		c.MaxRequestBytes = MaxActivationBytes
	}
	setDuration(&c.RequestTimeout, defaultRequestTimeout)
	setDuration(&c.DialTimeout, defaultDialTimeout)
	setDuration(&c.MetadataRefresh, defaultMetadataRefresh)
	setDuration(&c.FetchWait, defaultFetchWait)
	setDuration(&c.SessionTimeout, defaultSessionTimeout)
	setDuration(&c.Heartbeat, defaultHeartbeat)
	setDuration(&c.CommitInterval, defaultCommitInterval)
	setDuration(&c.DrainTimeout, defaultDrainTimeout)
	if c.DrainTimeout < 0 {
		c.DrainTimeout = 0
	}
	if err := c.Security.check(); err != nil {
		return c, err
	}
	if c.MaxUncommitted < 0 {
		return c, fmt.Errorf("%w: negative MaxUncommitted %d", ErrConfig, c.MaxUncommitted)
	}
	return c, nil
}

// ParseVersion parses a Kafka version string and accepts only levels sarama knows, so a typo such as
// "3.9" or "9.9.9" fails at startup rather than as an obscure protocol error later.
func ParseVersion(s string) (sarama.KafkaVersion, error) {
	v, err := sarama.ParseKafkaVersion(s)
	if err != nil {
		return v, fmt.Errorf("%w: Kafka version %q: %w", ErrConfig, s, err)
	}
	if !slices.Contains(sarama.SupportedVersions, v) {
		return v, fmt.Errorf("%w: Kafka version %q is not one sarama supports (%s … %s)",
			ErrConfig, s, sarama.MinVersion, sarama.MaxVersion)
	}
	return v, nil
}

// InvokerTopic is the topic (and consumer group) this invoker consumes: prefix + "invoker" + N.
func (c Config) InvokerTopic() string { return c.TopicPrefix + "invoker" + strconv.Itoa(c.InvokerID) }

// CompletedTopic is the ack topic of a controller: prefix + "completed" + controller.asString.
func (c Config) CompletedTopic(controller string) string {
	return c.TopicPrefix + "completed" + controller
}

// HealthTopic is where pings go: prefix + "health".
func (c Config) HealthTopic() string { return c.TopicPrefix + "health" }

// EventsTopic is where user events go: user-event prefix + "events".
func (c Config) EventsTopic() string { return c.UserEventPrefix + "events" }

// ConsumerClientID is the consumer's client.id, "consumer-invoker{N}" as in OpenWhisk.
func (c Config) ConsumerClientID() string { return "consumer-invoker" + strconv.Itoa(c.InvokerID) }

// ProducerClientID is the producer's client.id.
func (c Config) ProducerClientID() string { return "producer-invoker" + strconv.Itoa(c.InvokerID) }

// base builds the sarama settings shared by consumer, producer and admin. c must have its defaults.
func (c Config) base(clientID string) *sarama.Config {
	sc := sarama.NewConfig()
	sc.ClientID = clientID
	sc.Version, _ = ParseVersion(c.Version) // validated by withDefaults
	sc.Net.DialTimeout = c.DialTimeout
	sc.Net.ReadTimeout = c.RequestTimeout
	sc.Net.WriteTimeout = c.RequestTimeout
	sc.Metadata.RefreshFrequency = c.MetadataRefresh
	c.Security.apply(sc)
	return sc
}

// consumerConfig is the sarama config for the invoker{N} group (docs/protocol.md#consumer).
func (c Config) consumerConfig(capacity int) *sarama.Config {
	sc := c.base(c.ConsumerClientID())
	sc.Consumer.Offsets.Initial = sarama.OffsetOldest
	sc.Consumer.Offsets.AutoCommit.Enable = false
	sc.Consumer.MaxWaitTime = c.FetchWait
	sc.Consumer.Group.Session.Timeout = c.SessionTimeout
	sc.Consumer.Group.Heartbeat.Interval = c.Heartbeat
	sc.Consumer.Return.Errors = true
	// The prefetch buffer per partition: like max.poll.records = maxPeek, and it bounds the memory held
	// by records that are fetched but not yet handed out (each may be ~1 MiB).
	sc.ChannelBufferSize = max(capacity, 1)
	if !c.DynamicMembership && sc.Version.IsAtLeast(sarama.V2_3_0_0) {
		sc.Consumer.Group.InstanceId = c.InvokerTopic()
	}
	return sc
}

// producerConfig is the sarama config for acks, pings and events (docs/protocol.md#producer).
func (c Config) producerConfig() *sarama.Config {
	sc := c.base(c.ProducerClientID())
	sc.Producer.RequiredAcks = sarama.WaitForLocal // acks=1
	sc.Producer.Timeout = c.RequestTimeout
	sc.Producer.MaxMessageBytes = c.MaxRequestBytes
	sc.Producer.Return.Successes = true
	sc.Producer.Return.Errors = true
	sc.Producer.Retry.Max = 3
	sc.Producer.Retry.Backoff = 100 * time.Millisecond
	return sc
}

// adminConfig is the sarama config for topic administration.
func (c Config) adminConfig() *sarama.Config {
	sc := c.base("admin-invoker" + strconv.Itoa(c.InvokerID))
	sc.Admin.Timeout = c.RequestTimeout
	sc.Admin.Retry.Max = 0 // EnsureTopic retries itself, with the OpenWhisk schedule
	return sc
}
