package messaging

import (
	"errors"
	"testing"
	"time"

	"github.com/IBM/sarama"
	metrics "github.com/rcrowley/go-metrics"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseVersionAcceptsOpenWhiskAndModernBrokers(t *testing.T) {
	for s, want := range map[string]sarama.KafkaVersion{
		"0.11.0.1": sarama.V0_11_0_1,
		"2.1.0":    sarama.V2_1_0_0,
		"3.9.0":    sarama.V3_9_0_0,
	} {
		got, err := ParseVersion(s)
		if err != nil || got != want {
			t.Errorf("ParseVersion(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
}

func TestParseVersionRejectsUnknown(t *testing.T) {
	for _, s := range []string{"", "3.9", "9.9.9", "0.11.0.9", "kafka", "3.9.0-rc1"} {
		if _, err := ParseVersion(s); !errors.Is(err, ErrConfig) {
			t.Errorf("ParseVersion(%q): err = %v, want ErrConfig", s, err)
		}
	}
}

func TestConfigRejectsBadInput(t *testing.T) {
	for name, c := range map[string]Config{
		"no brokers":       {},
		"unknown version":  {Brokers: []string{"127.0.0.1:9092"}, Version: "1.2.3.4.5"},
		"negative invoker": {Brokers: []string{"127.0.0.1:9092"}, InvokerID: -1},
		"negative window":  {Brokers: []string{"127.0.0.1:9092"}, MaxUncommitted: -1},
	} {
		if _, err := c.withDefaults(); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: err = %v, want ErrConfig", name, err)
		}
	}
}

func TestConfigDefaultsMatchOpenWhisk(t *testing.T) {
	c, err := Config{Brokers: []string{"127.0.0.1:9092"}, InvokerID: 3}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if c.Version != DefaultVersion || c.ReplicationFactor != 1 || c.MaxRequestBytes != 1054644 {
		t.Errorf("defaults: version %q replication %d max request %d", c.Version, c.ReplicationFactor, c.MaxRequestBytes)
	}

	cc := c.consumerConfig(8)
	if err := cc.Validate(); err != nil {
		t.Fatalf("consumer config invalid: %v", err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"client id", cc.ClientID, "consumer-invoker3"},
		{"initial offset", cc.Consumer.Offsets.Initial, sarama.OffsetOldest},
		{"auto commit", cc.Consumer.Offsets.AutoCommit.Enable, false},
		{"fetch wait", cc.Consumer.MaxWaitTime, 500 * time.Millisecond},
		{"session timeout", cc.Consumer.Group.Session.Timeout, 30 * time.Second},
		{"heartbeat", cc.Consumer.Group.Heartbeat.Interval, 10 * time.Second},
		{"request timeout", cc.Net.ReadTimeout, 30 * time.Second},
		{"prefetch = capacity", cc.ChannelBufferSize, 8},
		{"errors returned", cc.Consumer.Return.Errors, true},
		{"version", cc.Version, sarama.V2_1_0_0},
	}
	pc := c.producerConfig()
	if err := pc.Validate(); err != nil {
		t.Fatalf("producer config invalid: %v", err)
	}
	checks = append(checks, []struct {
		name      string
		got, want any
	}{
		{"acks", pc.Producer.RequiredAcks, sarama.WaitForLocal},
		{"max request", pc.Producer.MaxMessageBytes, 1054644},
		{"return successes", pc.Producer.Return.Successes, true},
		{"producer timeout", pc.Producer.Timeout, 30 * time.Second},
		{"metadata refresh", pc.Metadata.RefreshFrequency, 15 * time.Second},
	}...)
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %v, want %v", ch.name, ch.got, ch.want)
		}
	}
}

func TestStaticMembershipOnlyWhereTheProtocolHasIt(t *testing.T) {
	for version, want := range map[string]string{"0.11.0.1": "", "2.1.0": "", "2.3.0": "invoker0", "3.9.0": "invoker0"} {
		c, err := Config{Brokers: []string{"x:1"}, Version: version}.withDefaults()
		if err != nil {
			t.Fatal(err)
		}
		cc := c.consumerConfig(1)
		if cc.Consumer.Group.InstanceId != want {
			t.Errorf("%s: instance id %q, want %q", version, cc.Consumer.Group.InstanceId, want)
		}
		if err := cc.Validate(); err != nil {
			t.Errorf("%s: %v", version, err)
		}
		c.DynamicMembership = true
		if id := c.consumerConfig(1).Consumer.Group.InstanceId; id != "" {
			t.Errorf("%s dynamic: instance id %q", version, id)
		}
	}
}

func TestTopicNamesUsePrefixes(t *testing.T) {
	c := Config{TopicPrefix: "dev-", UserEventPrefix: "ue-", InvokerID: 2}
	for got, want := range map[string]string{
		c.InvokerTopic():          "dev-invoker2",
		c.CompletedTopic("0"):     "dev-completed0",
		c.CompletedTopic("ctl-a"): "dev-completedctl-a",
		c.HealthTopic():           "dev-health",
		c.EventsTopic():           "ue-events",
		c.ConsumerClientID():      "consumer-invoker2",
	} {
		if got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
}

func TestSaramaClientMetricsAreOff(t *testing.T) {
	cs, err := Config{Brokers: []string{"127.0.0.1:9092"}}.Sarama(4)
	require.NoError(t, err)
	for name, sc := range map[string]*sarama.Config{"consumer": cs.Consumer, "producer": cs.Producer, "admin": cs.Admin} {
		m := metrics.GetOrRegisterMeter("nemo-test-meter", sc.MetricRegistry)
		m.Mark(1)
		assert.IsType(t, metrics.NilMeter{}, m, "%s: sarama's meters are no-ops", name)
		h := metrics.GetOrRegisterHistogram("nemo-test-histogram", sc.MetricRegistry, metrics.NewUniformSample(8))
		assert.IsType(t, metrics.NilHistogram{}, h, "%s: sarama's histograms are no-ops", name)
	}
}
