package node

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nemo-edge/nemo/invoker/wire"
)

// Unhealthy until the self-test passes; 3 failures among the last 10 results make it unhealthy again, the
// next passing self-test clears the window; disabled is down whatever the results.
func TestHealthWindow(t *testing.T) {
	var pass atomic.Bool
	h := NewHealth(func(context.Context) error {
		if pass.Load() {
			return nil
		}
		return errors.New("self-test failed")
	})
	if s := h.Status(); s != wire.InvokerUnhealthy {
		t.Fatalf("before the self-test: %s", s)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go h.Run(ctx, 10*time.Millisecond)
	time.Sleep(50 * time.Millisecond)
	if s := h.Status(); s != wire.InvokerUnhealthy {
		t.Fatalf("self-test failing: %s", s)
	}
	pass.Store(true)
	waitStatus(t, h, wire.InvokerUp)
	pass.Store(false)
	h.Record(false)
	h.Record(false)
	for i := 0; i < 7; i++ {
		h.Record(true)
	}
	if s := h.Status(); s != wire.InvokerUp {
		t.Fatalf("2 failures in 9: %s", s)
	}
	h.Record(false) // 3 of the last 10
	if s := h.Status(); s != wire.InvokerUnhealthy {
		t.Fatalf("3 failures in 10: %s", s)
	}
	h.Record(true) // the first failure leaves the window: 2 of 10
	if s := h.Status(); s != wire.InvokerUp {
		t.Fatalf("2 failures in the last 10: %s", s)
	}
	h.SetDown(true)
	if s := h.Status(); s != wire.InvokerDown {
		t.Fatalf("disabled: %s", s)
	}
	h.SetDown(false)
	if s := h.Status(); s != wire.InvokerUnhealthy {
		t.Fatalf("enabled again, before the self-test: %s", s)
	}
	pass.Store(true)
	waitStatus(t, h, wire.InvokerUp)
}

func waitStatus(t *testing.T, h *Health, want wire.InvokerStatus) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for h.Status() != want {
		if time.Now().After(deadline) {
			t.Fatalf("status %s, want %s", h.Status(), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
