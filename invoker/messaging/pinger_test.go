package messaging

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/nemo-edge/nemo/invoker/wire"
)

// pingLog wraps a sender and records the isEnabled of every ping that got through, in order.
type pingLog struct {
	next pingSender
	fail func(n int) error // optional: fail the n-th attempt (1-based) without sending

	mu       sync.Mutex
	attempts int
	sent     []bool
}

func (l *pingLog) SendPing(ctx context.Context, p *wire.PingMessage) error {
	l.mu.Lock()
	l.attempts++
	n := l.attempts
	l.mu.Unlock()
	if l.fail != nil {
		if err := l.fail(n); err != nil {
			return err
		}
	}
	if l.next != nil {
		if err := l.next.SendPing(ctx, p); err != nil {
			return err
		}
	}
	l.mu.Lock()
	l.sent = append(l.sent, p.IsEnabled)
	l.mu.Unlock()
	return nil
}

func (l *pingLog) snapshot() (attempts int, sent []bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.attempts, append([]bool(nil), l.sent...)
}

func buildPing() *wire.PingMessage {
	return &wire.PingMessage{Name: wire.InvokerInstanceID{Instance: 0, UserMemoryBytes: 2 << 30}, IsEnabled: true}
}

func runPinger(t *testing.T, p *Pinger) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("pinger did not stop")
		}
	})
}

// Through a real producer and topic: pings while enabled, exactly one isEnabled:false on Disable and
// nothing after it, pings again after Enable.
func TestPingerEnableDisableSequence(t *testing.T) {
	_, brokers := newCluster(t)
	prod := newTestProducer(t, testConfig(brokers))
	log := &pingLog{next: prod}
	p := NewPinger(log, buildPing, 20*time.Millisecond, testLogger(t))
	runPinger(t, p)

	eventually(t, 5*time.Second, "3 enabled pings", func() bool { _, s := log.snapshot(); return len(s) >= 3 })
	if err := p.Disable(context.Background()); err != nil {
		t.Fatal(err)
	}
	if p.Enabled() {
		t.Error("Enabled() after Disable")
	}
	_, atDisable := log.snapshot()
	time.Sleep(200 * time.Millisecond) // 10 intervals
	_, beforeEnable := log.snapshot()
	if len(beforeEnable) != len(atDisable) {
		t.Fatalf("%d pings sent while disabled", len(beforeEnable)-len(atDisable))
	}
	p.Enable()
	eventually(t, 5*time.Second, "pings after Enable", func() bool { _, s := log.snapshot(); return len(s) >= len(atDisable)+2 })

	_, sent := log.snapshot()
	for i, enabled := range sent {
		wantEnabled := i != len(atDisable)-1
		if enabled != wantEnabled {
			t.Fatalf("ping %d isEnabled=%v; sequence %v (disable was ping %d)", i, enabled, sent, len(atDisable)-1)
		}
	}
	// The health topic holds the same sequence, in the same order.
	records := consumeAll(t, brokers, "health", len(sent), 5*time.Second)
	if len(records) < len(sent) {
		t.Fatalf("health topic has %d pings, sent %d", len(records), len(sent))
	}
	for i, b := range records[:len(sent)] {
		ping, err := wire.ParsePingMessage(b)
		if err != nil {
			t.Fatalf("ping %d: %v (%s)", i, err, b)
		}
		if ping.IsEnabled != sent[i] || ping.Name.Instance != 0 || ping.Name.UserMemoryBytes != 2<<30 {
			t.Errorf("ping %d on the topic: %s, want isEnabled=%v", i, b, sent[i])
		}
	}
}

func TestPingerSurvivesSendFailures(t *testing.T) {
	log := &pingLog{fail: func(n int) error {
		if n <= 3 {
			return ErrUnavailable
		}
		return nil
	}}
	p := NewPinger(log, buildPing, 10*time.Millisecond, testLogger(t))
	runPinger(t, p)
	eventually(t, 5*time.Second, "pings after failures", func() bool { _, s := log.snapshot(); return len(s) >= 2 })
	if attempts, _ := log.snapshot(); attempts < 5 {
		t.Errorf("attempts = %d", attempts)
	}
}

// With Kafka gone, pings fail within their timeout and the loop keeps trying; Disable still returns.
func TestPingerKeepsRunningWhenKafkaIsUnreachable(t *testing.T) {
	c, brokers := newCluster(t)
	prod := newTestProducer(t, testConfig(brokers))
	log := &pingLog{next: prod}
	p := NewPinger(log, buildPing, 50*time.Millisecond, testLogger(t))
	p.timeout = 200 * time.Millisecond
	runPinger(t, p)
	eventually(t, 5*time.Second, "a ping", func() bool { _, s := log.snapshot(); return len(s) >= 1 })
	c.Close()
	attemptsAtClose, _ := log.snapshot()
	eventually(t, 10*time.Second, "more attempts while Kafka is down", func() bool {
		a, _ := log.snapshot()
		return a >= attemptsAtClose+3
	})
	if err := p.Disable(context.Background()); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Disable with Kafka down: %v, want ErrUnavailable", err)
	}
}

// While the health check fails no ping is even attempted (the controller takes the invoker offline after
// 10 s of silence); pings resume once it passes.
func TestPingerWithholdsPingsWhileUnhealthy(t *testing.T) {
	log := &pingLog{}
	var mu sync.Mutex
	down := true
	p := NewPinger(log, buildPing, 5*time.Millisecond, testLogger(t))
	p.WithholdWhile(func() error {
		mu.Lock()
		defer mu.Unlock()
		if down {
			return errors.New("docker engine unreachable")
		}
		return nil
	})
	checks := 0
	inner := p.healthy
	p.healthy = func() error { // count the ticks that reached the check
		mu.Lock()
		checks++
		mu.Unlock()
		return inner()
	}
	runPinger(t, p)
	eventually(t, 5*time.Second, "several ticks while down", func() bool { mu.Lock(); defer mu.Unlock(); return checks >= 5 })
	if attempts, _ := log.snapshot(); attempts != 0 {
		t.Fatalf("%d pings attempted while the health check failed", attempts)
	}
	mu.Lock()
	down = false
	mu.Unlock()
	eventually(t, 5*time.Second, "pings after recovery", func() bool { _, s := log.snapshot(); return len(s) >= 2 })
}
