package bench

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/nemo-edge/nemo/invoker/messaging"
)

// kfakeBrokers starts an in-process one-broker Kafka (kfake) and returns its address.
func kfakeBrokers(tb testing.TB) []string {
	tb.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(1))
	if err != nil {
		tb.Fatalf("kfake: %v", err)
	}
	tb.Cleanup(c.Close)
	return c.ListenAddrs()
}

func TestBareLoopEchoesEveryMessage(t *testing.T) {
	brokers := kfakeBrokers(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := BareLoop(ctx, BareOptions{Brokers: brokers, N: 200})
	if err != nil {
		t.Fatal(err)
	}
	if d <= 0 {
		t.Errorf("duration %v", d)
	}
}

func TestBareLoopRejectsBadInput(t *testing.T) {
	if _, err := BareLoop(context.Background(), BareOptions{Brokers: []string{"127.0.0.1:1"}, N: 0}); !errors.Is(err, ErrFloor) {
		t.Errorf("n=0: %v", err)
	}
	if _, err := BareLoop(context.Background(), BareOptions{Brokers: []string{"127.0.0.1:1"}, N: 1, Version: "9.9.9"}); !errors.Is(err, messaging.ErrConfig) {
		t.Errorf("unknown Kafka version: %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := BareLoop(ctx, BareOptions{Brokers: []string{closed}, N: 1}); !errors.Is(err, messaging.ErrUnavailable) {
		t.Errorf("unreachable: %v", err)
	}
}

// BenchmarkBareLoop reports the Kafka floor on in-process kfake: loop-ns/msg is per echoed message.
func BenchmarkBareLoop(b *testing.B) {
	brokers := kfakeBrokers(b)
	d, err := BareLoop(context.Background(), BareOptions{Brokers: brokers, N: b.N})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(d.Nanoseconds())/float64(b.N), "loop-ns/msg")
}
