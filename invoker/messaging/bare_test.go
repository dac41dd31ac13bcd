package messaging

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestBareLoopEchoesEveryMessage(t *testing.T) {
	_, brokers := newCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := BareLoop(ctx, brokers, 200)
	if err != nil {
		t.Fatal(err)
	}
	if d <= 0 {
		t.Errorf("duration %v", d)
	}
}

func TestBareLoopRejectsBadInput(t *testing.T) {
	if _, err := BareLoop(context.Background(), []string{"127.0.0.1:1"}, 0); !errors.Is(err, ErrConfig) {
		t.Errorf("n=0: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := BareLoop(ctx, []string{closedAddr(t)}, 1); !errors.Is(err, ErrUnavailable) {
		t.Errorf("unreachable: %v", err)
	}
}

// BenchmarkBareLoop reports the Kafka floor on in-process kfake: ns/op is per echoed message.
func BenchmarkBareLoop(b *testing.B) {
	_, brokers := newCluster(b)
	d, err := BareLoop(context.Background(), brokers, b.N)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(d.Nanoseconds())/float64(b.N), "loop-ns/msg")
}
