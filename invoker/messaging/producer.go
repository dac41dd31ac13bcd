package messaging

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/IBM/sarama"
	"github.com/rs/zerolog"

	"github.com/nemo-edge/nemo/invoker/wire"
)

// Ack is an acknowledgement for a controller (wire.ResultMessage, CompletionMessage, CombinedMessage).
// Shrunk returns the form whose "response" is only the activation id, sent when the full one is too large.
type Ack = wire.Ack

// Producer send retries (docs/protocol.md#producer): a retriable error is retried 3× 100 ms apart.
const (
	sendRetries = 3
	sendBackoff = 100 * time.Millisecond
)

// syncSender is the part of sarama.SyncProducer the Producer uses.
type syncSender interface {
	SendMessage(msg *sarama.ProducerMessage) (partition int32, offset int64, err error)
	Close() error
}

// Producer sends acks, pings and user events. Every send is synchronous: it returns once the partition
// leader has the record (acks=1), so a caller that must order two records (a blocking activation's
// Result before its Completion) simply sends the second after the first returned nil.
type Producer struct {
	cfg  Config
	sync syncSender
	log  zerolog.Logger
}

// NewProducer connects to Kafka. It fails with an ErrUnavailable error when no broker answers (bounded by
// cfg.DialTimeout and sarama's metadata retries); later outages surface as send errors and sarama
// reconnects by itself.
func NewProducer(cfg Config, log zerolog.Logger) (*Producer, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	scfg := cfg.producerConfig()
	if err := scfg.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	sp, err := sarama.NewSyncProducer(cfg.Brokers, scfg)
	if err != nil {
		return nil, fmt.Errorf("%w: producer at %v: %w", ErrUnavailable, cfg.Brokers, err)
	}
	return newProducer(cfg, sp, log), nil
}

func newProducer(cfg Config, s syncSender, log zerolog.Logger) *Producer {
	return &Producer{cfg: cfg, sync: s, log: log.With().Str("component", "producer").Logger()}
}

// Close flushes and closes the producer.
func (p *Producer) Close() error { return p.sync.Close() }

// SendAck sends ack to controller's ack topic (prefix + "completed" + controller, controller being
// ControllerInstanceID.AsString). A record refused as too large is sent again in its shrunk form; when
// that is refused too the error wraps ErrTooLarge.
func (p *Producer) SendAck(ctx context.Context, controller string, ack Ack) error {
	topic := p.cfg.CompletedTopic(controller)
	value, err := ack.Marshal()
	if err != nil {
		return fmt.Errorf("%w: ack for %s: %w", ErrEncode, topic, err)
	}
	err = p.Send(ctx, topic, value)
	if !tooLarge(err) {
		return err
	}
	shrunk := ack.Shrunk()
	if shrunk == nil {
		return err
	}
	small, serr := shrunk.Marshal()
	if serr != nil {
		return fmt.Errorf("%w: shrunk ack for %s: %w", ErrEncode, topic, serr)
	}
	if bytes.Equal(small, value) {
		return err // nothing to shrink (a Completion): resending would fail the same way
	}
	p.log.Warn().Int("bytes", len(value)).Int("shrunkBytes", len(small)).Str("topic", topic).
		Msg("ack too large, sending it shrunk")
	return p.Send(ctx, topic, small)
}

// SendPing sends a PingMessage to prefix + "health".
func (p *Producer) SendPing(ctx context.Context, ping *wire.PingMessage) error {
	value, err := ping.Marshal()
	if err != nil {
		return fmt.Errorf("%w: ping: %w", ErrEncode, err)
	}
	return p.Send(ctx, p.cfg.HealthTopic(), value)
}

// SendEvent sends a user EventMessage to user-event prefix + "events".
func (p *Producer) SendEvent(ctx context.Context, ev *wire.EventMessage) error {
	value, err := ev.Marshal()
	if err != nil {
		return fmt.Errorf("%w: event: %w", ErrEncode, err)
	}
	return p.Send(ctx, p.cfg.EventsTopic(), value)
}

// Send writes value (no key) to topic. Retriable errors are retried 3× 100 ms apart, on top of sarama's
// own retries; everything is bounded by ctx. When ctx ends first the record may still reach Kafka later.
// Errors wrap ErrTooLarge, ErrSend (refused for good: see refusedKErrors) or ErrUnavailable (anything
// else: the broker is unreachable or answered in a way that may change, or ctx ended).
func (p *Producer) Send(ctx context.Context, topic string, value []byte) error {
	err := retry(ctx, sendRetries, sendBackoff, func() error {
		return within(ctx, func() error {
			_, _, err := p.sync.SendMessage(&sarama.ProducerMessage{Topic: topic, Value: sarama.ByteEncoder(value)})
			return err
		})
	})
	switch {
	case err == nil:
		return nil
	case tooLarge(err):
		return fmt.Errorf("%w: %d bytes to %s: %w", ErrTooLarge, len(value), topic, err)
	case refused(err) && ctx.Err() == nil:
		return fmt.Errorf("%w: to %s: %w", ErrSend, topic, err)
	default:
		return fmt.Errorf("%w: send to %s: %w", ErrUnavailable, topic, err)
	}
}
