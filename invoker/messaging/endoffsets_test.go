package messaging

import (
	"context"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/stretchr/testify/require"
)

func TestEndOffsetsReportsNextOffsetPerPartition(t *testing.T) {
	_, brokers := newCluster(t)
	cfg := Config{Brokers: brokers, InvokerID: 3}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(t, EnsureTopic(ctx, cfg, "invoker3", InvokerTopicConfigs()))

	got, err := EndOffsets(ctx, cfg, "invoker3")
	require.NoError(t, err)
	require.Equal(t, map[int32]int64{0: 0}, got)

	sc := sarama.NewConfig()
	sc.Producer.Return.Successes = true
	p, err := sarama.NewSyncProducer(brokers, sc)
	require.NoError(t, err)
	defer p.Close()
	for i := 0; i < 5; i++ {
		_, _, err := p.SendMessage(&sarama.ProducerMessage{Topic: "invoker3", Value: sarama.StringEncoder("x")})
		require.NoError(t, err)
	}
	got, err = EndOffsets(ctx, cfg, "invoker3")
	require.NoError(t, err)
	require.Equal(t, map[int32]int64{0: 5}, got)
}

func TestEndOffsetsUnreachableBroker(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := EndOffsets(ctx, Config{Brokers: []string{"127.0.0.1:1"}}, "invoker0")
	require.ErrorIs(t, err, ErrUnavailable)
}
