//go:build integration

package messaging

import (
	"context"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// kafkaBrokers returns NEMO_KAFKA (a real broker, e.g. the one scripts/services.sh starts on 127.0.0.1:9092) or skips.
func kafkaBrokers(t *testing.T) []string {
	t.Helper()
	v := os.Getenv("NEMO_KAFKA")
	if v == "" {
		t.Skip("NEMO_KAFKA not set: no real Kafka broker to test against")
	}
	return strings.Split(v, ",")
}

func integrationConfig(brokers []string, version string) Config {
	return Config{
		Brokers:        brokers,
		Version:        version,
		TopicPrefix:    "it" + strconv.FormatInt(time.Now().UnixNano(), 36) + "-",
		CommitInterval: 50 * time.Millisecond,
		DrainTimeout:   5 * time.Second,
		DialTimeout:    5 * time.Second,
		RequestTimeout: 10 * time.Second,
	}
}

func TestIntegrationFeedAtLeastOnce(t *testing.T) {
	brokers := kafkaBrokers(t)
	for _, version := range []string{"3.9.0", "0.11.0.1"} {
		t.Run(version, func(t *testing.T) {
			cfg := integrationConfig(brokers, version)
			topic := cfg.InvokerTopic()
			t.Cleanup(func() { deleteTopics(cfg, topic) })
			ctx := context.Background()
			if err := EnsureTopic(ctx, cfg, topic, InvokerTopicConfigs()); err != nil {
				t.Fatal(err)
			}
			if err := EnsureTopic(ctx, cfg, topic, InvokerTopicConfigs()); err != nil {
				t.Fatalf("second EnsureTopic: %v", err)
			}
			if _, configs := describeTopic(t, brokers, topic); configs["max.message.bytes"] != "1054644" ||
				configs["retention.ms"] != "172800000" {
				t.Errorf("topic configs: %v", configs)
			}
			newFeedOn := func(capacity int, h Handler) *Feed {
				f, err := NewFeed(cfg, capacity, h, testLogger(t))
				if err != nil {
					t.Fatal(err)
				}
				return f
			}

			// 100 activations, finished in random order, all committed; a restart sees none of them again.
			produceN(t, brokers, topic, 100)
			rec := newRecorder(false)
			stop := startFeed(t, newFeedOn(8, func(ctx context.Context, r *Record) {
				rec.handle(ctx, r)
				go func() {
					time.Sleep(time.Duration(rand.IntN(5)) * time.Millisecond)
					r.Done()
				}()
			}))
			for range 100 {
				rec.next(t, 30*time.Second)
			}
			if got := rec.offsets(); !slices.Equal(got, seq(0, 99)) {
				t.Fatalf("delivered %v", got)
			}
			waitCommitted(t, brokers, topic, topic, 100)
			stop()

			// 10 more; 0,1,2,5,6 of them finish, then the process "dies": 3..9 come back, 0..2 do not.
			produceN(t, brokers, topic, 10)
			rec = newRecorder(false)
			f := newFeedOn(16, rec.handle)
			stop = startFeed(t, f)
			for range 10 {
				rec.next(t, 30*time.Second)
			}
			if got := rec.offsets(); !slices.Equal(got, seq(100, 109)) {
				t.Fatalf("after restart delivered %v, want only the 10 new records", got)
			}
			for _, o := range []int64{100, 101, 102, 105, 106} {
				rec.byOffset(o).Done()
			}
			waitCommitted(t, brokers, topic, topic, 103)
			f.crash()
			stop()

			rec = newRecorder(true)
			stop = startFeed(t, newFeedOn(8, rec.handle))
			for range 7 {
				rec.next(t, 30*time.Second)
			}
			rec.none(t, time.Second)
			if got := rec.offsets(); !slices.Equal(got, seq(103, 109)) {
				t.Errorf("after crash redelivered %v, want 103..109", got)
			}
			waitCommitted(t, brokers, topic, topic, 110)
			stop()
		})
	}
}

func TestIntegrationProducer(t *testing.T) {
	brokers := kafkaBrokers(t)
	cfg := integrationConfig(brokers, "3.9.0")
	t.Cleanup(func() { deleteTopics(cfg, cfg.CompletedTopic("0")) })
	ctx := context.Background()
	if err := EnsureTopic(ctx, cfg, cfg.CompletedTopic("0"), map[string]string{"max.message.bytes": "1000"}); err != nil {
		t.Fatal(err)
	}
	p, err := NewProducer(cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.SendAck(ctx, "0", testAck{full: strings.Repeat("x", 5000), small: `"aid"`}); err != nil {
		t.Fatal(err)
	}
	if got := consumeAll(t, brokers, cfg.CompletedTopic("0"), 2, 3*time.Second); len(got) != 1 || string(got[0]) != `"aid"` {
		t.Errorf("completed topic holds %d records, want only the shrunk ack", len(got))
	}
}
