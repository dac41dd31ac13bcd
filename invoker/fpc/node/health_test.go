package node

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/nemo-edge/nemo/invoker/wire"
)

// OpenWhisk's ring: unhealthy until the first result; then up while fewer than 3 of the last 10 results
// failed (so a first failure alone still gives up), unhealthy at 3; a failure leaving the window makes it up
// again; disabled is down whatever the results; /enable is unhealthy until the next result and keeps the
// window.
func TestHealthWindow(t *testing.T) {
	h := NewHealth(nil)
	step := func(ok bool, want wire.InvokerStatus, what string) {
		t.Helper()
		h.Record(ok)
		if s := h.Status(); s != want {
			t.Fatalf("%s: %s, want %s (failures %d)", what, s, want, h.Failures())
		}
	}
	if s := h.Status(); s != wire.InvokerUnhealthy {
		t.Fatalf("before any result: %s", s)
	}
	step(false, wire.InvokerUp, "1 failure")
	step(false, wire.InvokerUp, "2 failures")
	step(false, wire.InvokerUnhealthy, "3 failures")
	for i := 0; i < 7; i++ {
		step(true, wire.InvokerUnhealthy, "3 failures still among the last 10")
	}
	step(true, wire.InvokerUp, "the first failure left the window")
	h.SetDown(true)
	if s := h.Status(); s != wire.InvokerDown {
		t.Fatalf("disabled: %s", s)
	}
	h.Record(true)
	if s := h.Status(); s != wire.InvokerDown {
		t.Fatalf("disabled, after a result: %s", s)
	}
	h.SetDown(false)
	if s := h.Status(); s != wire.InvokerUnhealthy {
		t.Fatalf("enabled again, before a result: %s", s)
	}
	if f := h.Failures(); f != 1 {
		t.Fatalf("window after /enable: %d failures, want 1 (kept: 2, then a success pushed one out)", f)
	}
	step(true, wire.InvokerUp, "enabled, first result")
}

// countingTest is a SelfTest whose rounds pass or fail as told, counting rounds and stops.
type countingTest struct {
	mu     sync.Mutex
	pass   bool
	rounds int
	stops  int
}

func (c *countingTest) Round(_ context.Context, h *Health) (bool, error) {
	c.mu.Lock()
	c.rounds++
	ok := c.pass
	c.mu.Unlock()
	h.Record(ok)
	return ok, nil
}

func (c *countingTest) Stop(context.Context) { c.mu.Lock(); c.stops++; c.mu.Unlock() }

func (c *countingTest) counts() (int, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rounds, c.stops
}

// The self-test runs round after round only while the invoker is unhealthy and is stopped (its container
// freed) once it is up: with 3 failures in the window, exactly 8 passing rounds push one out. 3 new failures
// from real activations restart it; /disable stops it too.
func TestSelfTestRunsWhileUnhealthy(t *testing.T) {
	test := &countingTest{pass: true}
	h := NewHealth(test)
	h.Record(false)
	h.Record(false)
	h.Record(false)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { h.Run(ctx, time.Hour); close(done) }()
	waitStatus(t, h, wire.InvokerUp)
	waitCounts(t, test, 8, 1)
	time.Sleep(30 * time.Millisecond)
	if r, s := test.counts(); r != 8 || s != 1 {
		t.Fatalf("while up: %d rounds %d stops, want 8 and 1", r, s)
	}
	for i := 0; i < 3; i++ {
		h.Record(false) // real activations' whisk errors
	}
	waitCounts(t, test, 16, 2)
	if st := h.Status(); st != wire.InvokerUp {
		t.Fatalf("after the second self-test: %s", st)
	}
	r, _ := test.counts()
	h.SetDown(true)
	h.SetDown(false)
	waitCounts(t, test, r+1, 3)
	waitStatus(t, h, wire.InvokerUp)
	cancel()
	<-done
}

func waitCounts(t *testing.T, c *countingTest, rounds, stops int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		r, s := c.counts()
		if r == rounds && s == stops {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d rounds %d stops, want %d and %d", r, s, rounds, stops)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func waitStatus(t *testing.T, h *Health, want wire.InvokerStatus) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for h.Status() != want {
		if time.Now().After(deadline) {
			t.Fatalf("status %s, want %s", h.Status(), want)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
