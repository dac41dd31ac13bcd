//go:build integration

package messaging

import (
	"context"
	"errors"
	"time"

	"github.com/IBM/sarama"
)

// deleteTopics removes topics an integration test created, best effort and bounded.
func deleteTopics(cfg Config, topics ...string) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	admin, err := dial(ctx, func() (sarama.ClusterAdmin, error) {
		return sarama.NewClusterAdmin(cfg.Brokers, cfg.adminConfig())
	})
	if err != nil {
		return
	}
	defer admin.Close()
	for _, t := range topics {
		if err := within(ctx, func() error { return admin.DeleteTopic(t) }); err != nil &&
			!errors.Is(err, sarama.ErrUnknownTopicOrPartition) {
			return
		}
	}
}
