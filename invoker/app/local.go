package app

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nemo-edge/nemo/invoker/activation"
	"github.com/nemo-edge/nemo/invoker/messaging"
	"github.com/nemo-edge/nemo/invoker/metrics"
	"github.com/nemo-edge/nemo/pool"
	"github.com/nemo-edge/nemo/scheduler"
	"github.com/rs/zerolog"
)

// The parts both modes (classic and FPC) run the same way on this host: the host set up for action
// containers, the pool as the function controller runs it, the controller, and the harvester's and the
// blacklist's loops. Only how activations arrive and how answers leave differ between the modes.

// startLocal prepares the host for action containers, starts the pool and the function controller, and
// returns the runner activations go through, the context of the background work (cancel it last, with
// stopRun) and undo, which takes the host setup back (call it after the pool closed).
func (inv *Invoker) startLocal(ctx context.Context) (runner activation.Runner, runCtx context.Context, stopRun, undo func(), err error) {
	p := inv.parts
	undo = func() {}
	var h scheduler.Harvester = scheduler.NoopHarvester{}
	if p.Harvester != nil {
		h = p.Harvester
	}
	poolCfg := managerConfig(p)
	if !p.PlainPool {
		inv.sched = scheduler.NewInvoker(p.Scheduler, h, p.Log) // pushes its eviction ranking into the pool
	}
	// The host ready for action containers (the Docker backend's isolated network and firewall rules); a
	// setup the configuration demands but the host cannot give stops the invoker here.
	if pr, ok := p.Backend.(preparer); ok {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		err := pr.Prepare(pctx)
		cancel()
		if err != nil {
			return nil, nil, nil, nil, fmt.Errorf("action container isolation: %w", err)
		}
		undo = func() {
			uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
			defer cancel()
			if err := pr.Unprepare(uctx); err != nil {
				inv.log.Warn().Err(err).Msg("could not undo the host setup for action containers")
			}
		}
	}
	mctx, mcancel := context.WithTimeout(ctx, 2*time.Minute)
	inv.manager, err = pool.NewManager(mctx, poolCfg, p.Backend, p.Log)
	mcancel()
	if err != nil {
		undo()
		return nil, nil, nil, nil, fmt.Errorf("container pool: %w", err)
	}
	runCtx, stopRun = context.WithCancel(context.WithoutCancel(ctx))
	runner = inv.manager
	if inv.sched == nil && p.Harvester != nil {
		runner = harvestingRunner{runner: inv.manager, h: p.Harvester}
	}
	if inv.sched != nil {
		inv.sched.Start(runCtx, inv.manager)
		runner = inv.sched
		if p.Backoff != nil {
			p.Backoff.set(inv.sched)
		}
	}
	return runner, runCtx, stopRun, undo, nil
}

// runLocalLoops starts the blacklist refresh and the harvester's sampling until runCtx is done.
func (inv *Invoker) runLocalLoops(runCtx context.Context, wg *sync.WaitGroup) {
	wg.Go(func() { inv.blacklistLoop(runCtx) })
	if h := inv.parts.Harvester; h != nil {
		wg.Go(func() {
			if err := h.Run(runCtx); err != nil && !errors.Is(err, context.Canceled) {
				inv.log.Error().Err(err).Msg("harvester stopped")
			}
		})
	}
}

// closeLocal stops the controller, closes the pool (its containers go) and switches harvesting off with
// the NIC settings restored.
func (inv *Invoker) closeLocal(shCtx context.Context) {
	if inv.sched != nil {
		inv.sched.Close()
	}
	if err := inv.manager.Close(shCtx); err != nil {
		inv.log.Warn().Err(err).Msg("pool shutdown")
	}
	if h := inv.parts.Harvester; h != nil {
		if err := h.Close(shCtx); err != nil {
			inv.log.Warn().Err(err).Msg("harvester shutdown: NIC settings may need restoring")
		}
	}
}

// newInvoker fills the parts' defaults and makes sure of what both modes need from Kafka first: the
// invoker's topic and a producer (the caller closes it).
func newInvoker(ctx context.Context, p Parts, log zerolog.Logger) (*Invoker, string, error) {
	if p.ShutdownTimeout <= 0 {
		p.ShutdownTimeout = 60 * time.Second
	}
	if p.BlacklistInterval <= 0 {
		p.BlacklistInterval = 5 * time.Minute
	}
	inv := &Invoker{parts: p, log: log, reg: metrics.NewRegistry(), enabled: true}
	topic := p.Kafka.InvokerTopic()
	sctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	err := messaging.EnsureTopic(sctx, p.Kafka, topic, p.Kafka.InvokerTopicConfigs())
	cancel()
	if err != nil {
		return nil, "", fmt.Errorf("ensure topic %s: %w", topic, err)
	}
	if inv.producer, err = messaging.NewProducer(p.Kafka, p.Log); err != nil {
		return nil, "", fmt.Errorf("kafka producer: %w", err)
	}
	return inv, topic, nil
}
