package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/nemo-edge/nemo/pool"
	"github.com/nemo-edge/nemo/pool/docker"
)

// ColdStartTiming splits one bare cold start.
type ColdStartTiming struct {
	Create time.Duration // ContainerCreate + ContainerStart + inspect (docker.Backend.Create)
	Init   time.Duration // first successful /init, connection retries included
	Total  time.Duration // Create + Init
}

// ColdStart creates, starts and initialises one container of spec under name through b, removes it, and
// returns the time to a successful /init. It bypasses the pool and the invoker: it is the floor that cold
// starts through the invoker are compared against. The container is removed also when /init fails.
func ColdStart(ctx context.Context, b *docker.Backend, name string, spec pool.Spec, initBody []byte, timeout time.Duration) (ColdStartTiming, error) {
	var t ColdStartTiming
	start := time.Now()
	h, err := b.Create(ctx, name, spec)
	if err != nil {
		return t, err
	}
	t.Create = time.Since(start)
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		_ = b.Remove(rctx, h)
	}()
	res := b.Init(ctx, h, initBody, timeout)
	t.Total = time.Since(start)
	t.Init = res.Duration
	if !res.OK {
		return t, fmt.Errorf("%w: cold start %s: init failed: %s", ErrFloor, name, res.Response.Result)
	}
	return t, nil
}
