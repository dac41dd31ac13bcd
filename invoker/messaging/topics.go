package messaging

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/IBM/sarama"
)

// Topic creation schedule (docs/protocol.md#topic-creation): a retriable failure is retried up to 5 times, 1 s apart.
const (
	ensureTopicRetries = 5
	ensureTopicBackoff = time.Second
)

// InvokerTopicConfigs are the topic configs OpenWhisk's invoker creates invoker{N} with
// (application.conf whisk.kafka.topics.invoker, docs/protocol.md#topic-creation).
func InvokerTopicConfigs() map[string]string {
	return map[string]string{
		"segment.bytes":     "536870912",
		"retention.bytes":   "1073741824",
		"retention.ms":      "172800000",
		"max.message.bytes": strconv.Itoa(MaxActivationBytes),
	}
}

// InvokerTopicConfigs are the configs this invoker creates invoker{N} with: the package's
// InvokerTopicConfigs with InvokerTopicOverrides applied.
func (c Config) InvokerTopicConfigs() map[string]string {
	out := InvokerTopicConfigs()
	for k, v := range c.InvokerTopicOverrides {
		out[k] = v
	}
	return out
}

// topicAdmin is the part of sarama.ClusterAdmin that EnsureTopic needs.
type topicAdmin interface {
	ListTopics() (map[string]sarama.TopicDetail, error)
	CreateTopic(topic string, detail *sarama.TopicDetail, validateOnly bool) error
	Close() error
}

// EnsureTopic makes sure topic name exists: when it is not listed it is created with 1 partition,
// cfg.ReplicationFactor replicas and the given configs. "Already exists" counts as success (another
// process won the race). Retriable failures are retried up to 5 times 1 s apart; everything is bounded
// by ctx. Errors wrap ErrConfig, ErrUnavailable (broker unreachable, ctx expired) or ErrTopic.
func EnsureTopic(ctx context.Context, cfg Config, name string, configs map[string]string) error {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return err
	}
	if name == "" {
		return fmt.Errorf("%w: empty topic name", ErrConfig)
	}
	var admin sarama.ClusterAdmin
	err = retry(ctx, ensureTopicRetries, ensureTopicBackoff, func() (err error) {
		admin, err = dial(ctx, func() (sarama.ClusterAdmin, error) {
			return sarama.NewClusterAdmin(cfg.Brokers, cfg.adminConfig())
		})
		return err
	})
	if err != nil {
		return fmt.Errorf("%w: connect to %v for topic %s: %w", ErrUnavailable, cfg.Brokers, name, err)
	}
	defer admin.Close()
	return ensureTopic(ctx, admin, name, cfg.ReplicationFactor, configs, ensureTopicBackoff)
}

func ensureTopic(ctx context.Context, admin topicAdmin, name string, replication int16, configs map[string]string,
	backoff time.Duration) error {
	entries := make(map[string]*string, len(configs))
	for k, v := range configs {
		entries[k] = &v
	}
	detail := &sarama.TopicDetail{NumPartitions: 1, ReplicationFactor: replication, ConfigEntries: entries}
	err := retry(ctx, ensureTopicRetries, backoff, func() error {
		return within(ctx, func() error {
			topics, err := admin.ListTopics()
			if err != nil {
				return err
			}
			if _, ok := topics[name]; ok {
				return nil
			}
			err = admin.CreateTopic(name, detail, false)
			if errors.Is(err, sarama.ErrTopicAlreadyExists) {
				return nil
			}
			return err
		})
	})
	switch {
	case err == nil:
		return nil
	case retriable(err) || ctx.Err() != nil:
		return fmt.Errorf("%w: ensure topic %s: %w", ErrUnavailable, name, err)
	default:
		return fmt.Errorf("%w: ensure topic %s: %w", ErrTopic, name, err)
	}
}

// retry calls fn until it succeeds, fails with a non-retriable error, has been retried `retries` times,
// or ctx ends (the last error is returned, joined with ctx's when that is the reason).
func retry(ctx context.Context, retries int, backoff time.Duration, fn func() error) error {
	for attempt := 0; ; attempt++ {
		err := fn()
		if err == nil || !retriable(err) || attempt >= retries {
			return err
		}
		if serr := sleep(ctx, backoff); serr != nil {
			return errors.Join(err, serr)
		}
	}
}

// sleep waits d or until ctx ends, whichever is first; it returns ctx's error in the second case.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// dial runs a connecting constructor bounded by ctx. When ctx ends first, the late result is closed.
func dial[T io.Closer](ctx context.Context, connect func() (T, error)) (T, error) {
	var zero T
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := connect()
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		go func() {
			if r := <-done; r.err == nil {
				_ = r.v.Close()
			}
		}()
		return zero, ctx.Err()
	}
}

// within runs a call that takes no context (sarama's) and returns early with ctx's error when ctx ends
// first. The call itself keeps running until sarama's own timeouts (Config.RequestTimeout) end it.
func within(ctx context.Context, fn func() error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- fn() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// EndOffsets reports, per partition of topic, the offset the next produced record will get (the high
// water mark). The invoker reads it once at start-up: a record below it may already have been processed
// by an earlier incarnation (the feed commits only finished work, so a crash redelivers), and the
// activation path checks the store before running such a record. Records above it are new.
func EndOffsets(ctx context.Context, cfg Config, topic string) (map[int32]int64, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	client, err := dial(ctx, func() (sarama.Client, error) { return sarama.NewClient(cfg.Brokers, cfg.adminConfig()) })
	if err != nil {
		return nil, fmt.Errorf("%w: connect to %v: %w", ErrUnavailable, cfg.Brokers, err)
	}
	defer client.Close()
	type result struct {
		m   map[int32]int64
		err error
	}
	done := make(chan result, 1)
	go func() {
		parts, err := client.Partitions(topic)
		if err != nil {
			done <- result{nil, err}
			return
		}
		m := make(map[int32]int64, len(parts))
		for _, p := range parts {
			off, err := client.GetOffset(topic, p, sarama.OffsetNewest)
			if err != nil {
				done <- result{nil, err}
				return
			}
			m[p] = off
		}
		done <- result{m, nil}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			return nil, fmt.Errorf("%w: end offsets of %s: %w", ErrTopic, topic, r.err)
		}
		return r.m, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: end offsets of %s: %w", ErrUnavailable, topic, ctx.Err())
	}
}
