package messaging

import (
	"github.com/IBM/sarama"
	metrics "github.com/rcrowley/go-metrics"
)

// sarama keeps client-side metrics (meters and histograms updated under a lock on every request and
// response, and a ticker that wakes every 5 s) that NEMO never reads: its Prometheus figures come from its
// own counters. They cost CPU on the ack path and at idle, so every process linking this package turns
// them off; sarama then registers no-op metrics.
func init() { metrics.UseNilMetrics = true }

// SaramaConfigs are the sarama settings the invoker's own Kafka clients use, resolved from a Config.
type SaramaConfigs struct {
	// Consumer is the invoker{N} consumer group's: no auto-commit, oldest offset first, the group timeouts,
	// and a prefetch buffer of `capacity` records per partition.
	Consumer *sarama.Config
	// Producer is the producer's of acks, pings and events: acks=1, max.request.size, 3 retries 100 ms apart.
	Producer *sarama.Config
	// Admin is the topic administration client's.
	Admin *sarama.Config
}

// Sarama resolves c's defaults and returns the sarama settings of its consumer (for `capacity` records in
// flight), producer and admin client, or an ErrConfig error. It exists so that a measurement of bare sarama
// (the Kafka floor of the benchmarks under integration/bench) runs with exactly the invoker's settings.
func (c Config) Sarama(capacity int) (SaramaConfigs, error) {
	c, err := c.withDefaults()
	if err != nil {
		return SaramaConfigs{}, err
	}
	return SaramaConfigs{Consumer: c.consumerConfig(capacity), Producer: c.producerConfig(), Admin: c.adminConfig()}, nil
}
