package messaging

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/IBM/sarama"
)

// BareOptions configures BareLoopWith. Zero fields take the defaults in their comments.
type BareOptions struct {
	Brokers []string
	// Version is the Kafka protocol level; default DefaultVersion.
	Version string
	// N is the number of messages; required (> 0).
	N int
	// Size is each message's length in bytes; default 1024 (a typical ActivationMessage).
	Size int
	// Concurrency is how many messages the echo stage handles at once; default 8 (MaxPeek's default).
	Concurrency int
}

// BareLoop measures the Kafka floor under the invoker: the time for n 1 KiB messages to go
// producer → topic "in" → consumer group (this package's consumer settings) → synchronous produce (acks=1,
// as for an ack) → topic "out" → a partition consumer, on a private topic pair created for the run and
// deleted afterwards. Timing starts when the echo group has its partition and the first message is sent
// (all n are sent as one batch), and stops when the n-th echo arrives. The invoker's overhead benchmark
// runs the same shape with the invoker in the middle, so the two durations compare directly.
func BareLoop(ctx context.Context, brokers []string, n int) (time.Duration, error) {
	return BareLoopWith(ctx, BareOptions{Brokers: brokers, N: n})
}

// BareLoopWith is BareLoop with options.
func BareLoopWith(ctx context.Context, o BareOptions) (time.Duration, error) {
	if o.N <= 0 {
		return 0, fmt.Errorf("%w: bare loop needs n > 0, got %d", ErrConfig, o.N)
	}
	if o.Size <= 0 {
		o.Size = 1024
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 8
	}
	base := "nemo-bare-" + strconv.Itoa(os.Getpid()) + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	in, out := base+"-in", base+"-out"
	cfg, err := Config{Brokers: o.Brokers, Version: o.Version, DynamicMembership: true}.withDefaults()
	if err != nil {
		return 0, err
	}
	for _, t := range []string{in, out} {
		if err := EnsureTopic(ctx, cfg, t, nil); err != nil {
			return 0, err
		}
	}
	defer deleteTopics(cfg, in, out)

	producer, err := sarama.NewSyncProducer(cfg.Brokers, cfg.producerConfig())
	if err != nil {
		return 0, fmt.Errorf("%w: bare producer: %w", ErrUnavailable, err)
	}
	defer producer.Close()

	collector, err := sarama.NewConsumer(cfg.Brokers, cfg.base("bare-collector"))
	if err != nil {
		return 0, fmt.Errorf("%w: bare collector: %w", ErrUnavailable, err)
	}
	defer collector.Close()
	outPC, err := collector.ConsumePartition(out, 0, sarama.OffsetOldest)
	if err != nil {
		return 0, fmt.Errorf("%w: bare collector: %w", ErrUnavailable, err)
	}
	defer outPC.Close()

	group, err := sarama.NewConsumerGroup(cfg.Brokers, in, cfg.consumerConfig(o.Concurrency))
	if err != nil {
		return 0, fmt.Errorf("%w: bare echo group: %w", ErrUnavailable, err)
	}
	defer group.Close()
	go func() {
		for range group.Errors() {
		}
	}()
	echo := &bareEcho{producer: producer, topic: out, sem: make(chan struct{}, o.Concurrency), ready: make(chan struct{}), errs: make(chan error, 1)}
	gctx, stopGroup := context.WithCancel(ctx)
	defer stopGroup()
	groupDone := make(chan error, 1)
	go func() {
		var err error
		for gctx.Err() == nil {
			if err = group.Consume(gctx, []string{in}, echo); err != nil {
				break
			}
		}
		groupDone <- err
	}()
	select {
	case <-echo.ready:
	case err := <-groupDone:
		return 0, fmt.Errorf("%w: bare echo group: %w", ErrUnavailable, err)
	case <-ctx.Done():
		return 0, ctx.Err()
	}

	msgs := make([]*sarama.ProducerMessage, o.N)
	payload := make([]byte, o.Size)
	for i := range payload {
		payload[i] = 'a' + byte(i%26)
	}
	for i := range msgs {
		msgs[i] = &sarama.ProducerMessage{Topic: in, Value: sarama.ByteEncoder(payload)}
	}
	start := time.Now()
	sendErr := make(chan error, 1)
	go func() { sendErr <- producer.SendMessages(msgs) }()
	for got := 0; got < o.N; {
		select {
		case <-outPC.Messages():
			got++
		case err := <-outPC.Errors():
			return 0, fmt.Errorf("%w: bare collector: %w", ErrUnavailable, err)
		case err := <-sendErr:
			if err != nil {
				return 0, fmt.Errorf("%w: bare send: %w", ErrUnavailable, err)
			}
		case err := <-echo.errs:
			return 0, fmt.Errorf("%w: bare echo: %w", ErrUnavailable, err)
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	return time.Since(start), nil
}

// bareEcho forwards every record of its claim to topic with a synchronous send, up to cap(sem) at once.
type bareEcho struct {
	producer  sarama.SyncProducer
	topic     string
	sem       chan struct{}
	ready     chan struct{}
	readyOnce sync.Once
	errOnce   sync.Once
	errs      chan error
}

func (e *bareEcho) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (e *bareEcho) Cleanup(sarama.ConsumerGroupSession) error { return nil }

func (e *bareEcho) ConsumeClaim(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	e.readyOnce.Do(func() { close(e.ready) })
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		select {
		case <-sess.Context().Done():
			return nil
		case msg, ok := <-claim.Messages():
			if !ok {
				return nil
			}
			e.sem <- struct{}{}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-e.sem }()
				_, _, err := e.producer.SendMessage(&sarama.ProducerMessage{Topic: e.topic, Value: sarama.ByteEncoder(msg.Value)})
				if err != nil {
					e.errOnce.Do(func() { e.errs <- err })
					return
				}
				sess.MarkMessage(msg, "")
			}()
		}
	}
}

// deleteTopics removes the bare loop's topics, best effort and bounded.
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
