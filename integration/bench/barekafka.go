package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/IBM/sarama"

	"github.com/nemo-edge/nemo/invoker/messaging"
)

// ErrFloor marks a floor measurement that could not be taken as asked (bad options, a failed /init).
var ErrFloor = errors.New("bench: floor")

// BareOptions configures BareLoop. Zero fields take the defaults in their comments.
type BareOptions struct {
	Brokers []string
	// Version is the Kafka protocol level; default messaging.DefaultVersion.
	Version string
	// N is the number of messages; required (> 0).
	N int
	// Size is each message's length in bytes; default 1024 (a typical ActivationMessage).
	Size int
	// Concurrency is how many messages the echo stage handles at once; default 8 (MaxPeek's default).
	Concurrency int
}

// BareLoop measures the Kafka floor under the invoker: the time for N messages to go producer → topic "in"
// → consumer group (the invoker's consumer settings, messaging.Config.Sarama) → synchronous produce (acks=1,
// as for an ack) → topic "out" → a partition consumer, on a private topic pair created for the run and
// deleted afterwards. Timing starts when the echo group has its partition and the first message is sent
// (all N are sent as one batch), and stops when the N-th echo arrives. The invoker's overhead benchmark
// runs the same shape with the invoker in the middle, so the two durations compare directly.
//
// Errors wrap ErrFloor for bad options and messaging.ErrUnavailable when Kafka does not answer.
func BareLoop(ctx context.Context, o BareOptions) (time.Duration, error) {
	if o.N <= 0 {
		return 0, fmt.Errorf("%w: bare loop needs n > 0, got %d", ErrFloor, o.N)
	}
	if o.Size <= 0 {
		o.Size = 1024
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 8
	}
	base := "nemo-bare-" + strconv.Itoa(os.Getpid()) + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	in, out := base+"-in", base+"-out"
	cfg := messaging.Config{Brokers: o.Brokers, Version: o.Version, DynamicMembership: true}
	sc, err := cfg.Sarama(o.Concurrency)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrFloor, err)
	}
	for _, t := range []string{in, out} {
		if err := messaging.EnsureTopic(ctx, cfg, t, nil); err != nil {
			return 0, err
		}
	}
	defer deleteBareTopics(o.Brokers, sc.Admin, in, out)

	producer, err := sarama.NewSyncProducer(o.Brokers, sc.Producer)
	if err != nil {
		return 0, fmt.Errorf("%w: bare producer: %w", messaging.ErrUnavailable, err)
	}
	defer producer.Close()

	collectorCfg := *sc.Admin // the shared client settings; the admin-only fields do not apply to a consumer
	collectorCfg.ClientID = "bare-collector"
	collector, err := sarama.NewConsumer(o.Brokers, &collectorCfg)
	if err != nil {
		return 0, fmt.Errorf("%w: bare collector: %w", messaging.ErrUnavailable, err)
	}
	defer collector.Close()
	outPC, err := collector.ConsumePartition(out, 0, sarama.OffsetOldest)
	if err != nil {
		return 0, fmt.Errorf("%w: bare collector: %w", messaging.ErrUnavailable, err)
	}
	defer outPC.Close()

	group, err := sarama.NewConsumerGroup(o.Brokers, in, sc.Consumer)
	if err != nil {
		return 0, fmt.Errorf("%w: bare echo group: %w", messaging.ErrUnavailable, err)
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
		return 0, fmt.Errorf("%w: bare echo group: %w", messaging.ErrUnavailable, err)
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
			return 0, fmt.Errorf("%w: bare collector: %w", messaging.ErrUnavailable, err)
		case err := <-sendErr:
			if err != nil {
				return 0, fmt.Errorf("%w: bare send: %w", messaging.ErrUnavailable, err)
			}
		case err := <-echo.errs:
			return 0, fmt.Errorf("%w: bare echo: %w", messaging.ErrUnavailable, err)
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

// deleteBareTopics removes the bare loop's topics, best effort and bounded by the admin client's timeouts.
func deleteBareTopics(brokers []string, cfg *sarama.Config, topics ...string) {
	admin, err := sarama.NewClusterAdmin(brokers, cfg)
	if err != nil {
		return
	}
	defer admin.Close()
	for _, t := range topics {
		if err := admin.DeleteTopic(t); err != nil && !errors.Is(err, sarama.ErrUnknownTopicOrPartition) {
			return
		}
	}
}
