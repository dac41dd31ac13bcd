package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/nemo-edge/nemo/harvester"
	"github.com/nemo-edge/nemo/invoker/activation"
	"github.com/nemo-edge/nemo/invoker/messaging"
	"github.com/nemo-edge/nemo/invoker/metrics"
	"github.com/nemo-edge/nemo/invoker/wire"
	"github.com/nemo-edge/nemo/pool"
	"github.com/nemo-edge/nemo/scheduler"
)

// ArtifactStore is the store the invoker needs: the activation path's methods plus a health check
// and shutdown (invoker/store for CouchDB, invoker/filestore for the demo).
type ArtifactStore interface {
	activation.Store
	BlockedNamespaces(ctx context.Context) ([]string, error)
	Ping(ctx context.Context) error
	Close() error
}

// preparer is a backend that readies the host before containers run and undoes it at shutdown.
type preparer interface {
	Prepare(ctx context.Context) error
	Unprepare(ctx context.Context) error
}

// HTTPServer serves /ping, /enable, /disable, /isEnabled and /metrics (invoker/server).
type HTTPServer interface {
	Serve(ctx context.Context, ln net.Listener) error
}

// Parts are the invoker's components, built by the caller (main, the demo, tests) from the
// configuration. Run wires them together and owns their lifecycle from then on.
type Parts struct {
	Instance  wire.InvokerInstanceID
	Manifest  *wire.Manifest
	Kafka     messaging.Config
	Store     ArtifactStore
	Backend   pool.Backend
	Pool      pool.ManagerConfig
	Scheduler scheduler.InvokerConfig
	// PlainPool runs activations straight on the pool, without NEMO's function controller
	// (scheduler.enabled=false): an OpenWhisk-like invoker.
	PlainPool bool
	// Harvester is nil on machines without NFs to harvest from.
	Harvester *harvester.Manager
	// Backoff, when not nil, is the relay the harvester's QoS guard was built with; Run connects it
	// to the function controller so a degraded NF holds pre-warming back.
	Backoff *BackoffRelay
	// Capacity is how many records may be in flight (OpenWhisk's maxPeek); 0 derives it from the user
	// memory with OpenWhisk's defaults (concurrency 1, peek factor 0.5).
	Capacity int
	// UserEvents sends user events to the events topic.
	UserEvents bool
	// KamonTags spells OpenWhisk's own metric names with tags (METRICS_KAMON_TAGS=true) or with the tag in
	// the name (OpenWhisk's default); see openWhiskPoolMetrics and activation.Config.KamonTags.
	KamonTags bool
	// ParameterKey decrypts locked activation parameters; nil passes them through (OpenWhisk's default).
	ParameterKey *wire.ParameterKey
	// Limits are the system's action limits; action documents' limits are clamped into them.
	Limits activation.Limits
	// StoreTimeout bounds each attempt to store an activation record (activation.Config.StoreTimeout).
	StoreTimeout time.Duration
	// CPUSetFor pins an action's containers (by document id) to a cpuset, "" for the backend's default:
	// the NF cores of a configured edge function. nil pins nothing.
	CPUSetFor func(docID string) string
	// BlacklistInterval is how often blocked namespaces are re-read (OpenWhisk: 5 minutes).
	BlacklistInterval time.Duration
	// Listener is where the HTTP server listens (PORT).
	Listener net.Listener
	// NewServer builds the HTTP server from the switch and the registry.
	NewServer func(sw Switch, reg *metrics.Registry) HTTPServer
	Log       zerolog.Logger
	// ShutdownTimeout bounds the drain and container removal at shutdown. Default 60 s. The drain itself
	// (running activations finishing, answers being delivered) is bounded by Kafka.DrainTimeout (30 s).
	ShutdownTimeout time.Duration
	// Ready, when not nil, is called once everything is started (tests, the demo).
	Ready func(*Invoker)
}

// Switch enables and disables the invoker (POST /enable, /disable).
type Switch interface {
	Enable(ctx context.Context) (changed bool, err error)
	Disable(ctx context.Context) (changed bool, err error)
	Enabled() bool
	Name() string
}

// Invoker is a running invoker.
type Invoker struct {
	parts    Parts
	log      zerolog.Logger
	reg      *metrics.Registry
	producer *messaging.Producer
	feed     *messaging.Feed
	pinger   *messaging.Pinger
	manager  *pool.Manager
	sched    *scheduler.Invoker
	path     *activation.Path

	mu      sync.Mutex
	enabled bool
	blocked map[string]bool
}

// Registry is the invoker's metrics registry.
func (inv *Invoker) Registry() *metrics.Registry { return inv.reg }

// Run starts the invoker in OpenWhisk's start-up order (docs/protocol.md#start-up-order) and blocks until ctx ends,
// then shuts down: stop consuming and drain in-flight activations, stop pinging, remove containers,
// restore the NIC, close Kafka and the store.
func Run(ctx context.Context, p Parts) error {
	inv, topic, err := newInvoker(ctx, p, p.Log.With().Str("component", "invoker").Str("invoker", p.Instance.String()).Logger())
	if err != nil {
		return err
	}
	defer inv.producer.Close()
	p, log := inv.parts, inv.log

	// What an earlier incarnation may have consumed: records below the end offsets seen now.
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	ends, err := messaging.EndOffsets(sctx, p.Kafka, topic)
	cancel()
	if err != nil {
		return fmt.Errorf("end offsets of %s: %w", topic, err)
	}

	if err := p.Store.Ping(ctx); err != nil {
		// Not fatal: fetches retry while the store is unavailable, and answer with a whisk error after.
		log.Warn().Err(err).Msg("artifact store not reachable at start; activations will wait for it")
	}
	inv.refreshBlacklist(ctx)

	// Pool (cleans up containers of earlier runs, starts stem cells) and the function controller.
	runner, runCtx, stopRun, undo, err := inv.startLocal(ctx)
	if err != nil {
		return err
	}
	defer undo()
	defer stopRun()

	// quit tells the activation path that the invoker stops: work that has not started is left for
	// redelivery instead of being answered.
	quit := make(chan struct{})
	var quitOnce sync.Once
	closeQuit := func() { quitOnce.Do(func() { close(quit) }) }
	defer closeQuit()
	var feedRef atomic.Pointer[messaging.Feed]
	inv.path = activation.New(activation.Config{
		Instance:     p.Instance,
		Manifest:     p.Manifest,
		UserEvents:   p.UserEvents,
		Blocked:      inv.isBlocked,
		ParameterKey: p.ParameterKey,
		CPUSetFor:    p.CPUSetFor,
		Limits:       p.Limits,
		StoreTimeout: p.StoreTimeout,
		Quit:         quit,
		// Back-pressure: while answers wait for Kafka or the store, take no new records.
		OnStall: func(stalled bool) {
			if f := feedRef.Load(); f != nil {
				f.SetHeld(stalled)
			}
		},
		KamonTags: p.KamonTags,
	}, p.Store, runner, inv.producer, inv.reg, p.Log)

	userMB := int(p.Instance.UserMemoryBytes >> 20)
	capacity := p.Capacity
	if capacity <= 0 {
		capacity = messaging.MaxPeek(userMB, 1, 0.5)
	}
	inv.feed, err = messaging.NewFeed(p.Kafka, capacity, func(hctx context.Context, rec *messaging.Record) {
		end, known := ends[rec.Partition]
		r := inv.path.Process(hctx, activation.Item{Value: rec.Value, MaybeRedelivered: !known || rec.Offset < end,
			Partition: rec.Partition, Offset: rec.Offset})
		if r == activation.ResultAbandoned {
			rec.Release() // not finished: its offset stays uncommitted for the next incarnation
			return
		}
		rec.Done()
	}, p.Log)
	if err != nil {
		return fmt.Errorf("kafka consumer: %w", err)
	}
	feedRef.Store(inv.feed)
	if inv.path.Stalled() != nil {
		inv.feed.SetHeld(true)
	}

	inv.pinger = messaging.NewPinger(inv.producer, func() *wire.PingMessage {
		return &wire.PingMessage{Name: p.Instance, IsEnabled: inv.Enabled()}
	}, time.Second, p.Log)
	// Health is earned: while the container engine is down the invoker can only fail activations, and
	// while answers wait for Kafka or the store it takes no new work; either way it lets the controller
	// take it offline (after 10 s without pings) instead of being sent work.
	reachable := func() error { return nil }
	if r, ok := p.Backend.(interface{ Reachable() error }); ok {
		reachable = r.Reachable
	}
	inv.pinger.WithholdWhile(func() error {
		if err := reachable(); err != nil {
			return err
		}
		return inv.path.Stalled()
	})
	inv.registerMetrics()

	var wg sync.WaitGroup
	feedCtx, stopFeed := context.WithCancel(context.WithoutCancel(ctx))
	defer stopFeed()
	feedDone := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(feedDone)
		if err := inv.feed.Run(feedCtx); err != nil && !errors.Is(err, context.Canceled) {
			log.Error().Err(err).Msg("kafka feed stopped")
		}
	}()
	pingCtx, stopPing := context.WithCancel(context.WithoutCancel(ctx))
	defer stopPing()
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = inv.pinger.Run(pingCtx)
	}()
	inv.runLocalLoops(runCtx, &wg)
	srvCtx, stopSrv := context.WithCancel(context.WithoutCancel(ctx))
	defer stopSrv()
	if p.Listener != nil && p.NewServer != nil {
		srv := p.NewServer(inv, inv.reg)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := srv.Serve(srvCtx, p.Listener); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error().Err(err).Msg("http server stopped")
			}
		}()
	}
	log.Info().Str("topic", topic).Int("capacity", capacity).Int("userMemoryMB", userMB).
		Interface("endOffsets", ends).Msg("invoker started")
	if p.Ready != nil {
		p.Ready(inv)
	}

	<-ctx.Done()
	log.Info().Msg("shutting down: draining activations")
	shCtx, shCancel := context.WithTimeout(context.Background(), p.ShutdownTimeout)
	defer shCancel()
	// Stop consuming; what has not started (waiting for a container, the store, the fetch) is given back
	// for redelivery at once; what runs finishes and is answered within the feed's drain period; then the
	// feed commits what finished. Only after that does the pool close: closing it earlier would fail the
	// activations still queued in it.
	closeQuit()
	stopFeed()
	select {
	case <-feedDone:
	case <-shCtx.Done():
		log.Warn().Msg("the feed did not stop within the shutdown timeout")
	}
	stopPing()
	stopSrv()
	inv.closeLocal(shCtx)
	stopRun()
	wg.Wait()
	if err := p.Store.Close(); err != nil {
		log.Warn().Err(err).Msg("store shutdown")
	}
	log.Info().Msg("invoker stopped")
	return nil
}

// Enable resumes consuming and pinging.
func (inv *Invoker) Enable(ctx context.Context) (bool, error) {
	inv.mu.Lock()
	changed := !inv.enabled
	inv.enabled = true
	inv.mu.Unlock()
	if changed {
		inv.feed.Resume()
		inv.pinger.Enable()
		inv.log.Info().Msg("invoker enabled")
	}
	return changed, nil
}

// Disable stops consuming (in-flight activations finish), sends one isEnabled:false ping and stops pinging.
func (inv *Invoker) Disable(ctx context.Context) (bool, error) {
	inv.mu.Lock()
	changed := inv.enabled
	inv.enabled = false
	inv.mu.Unlock()
	if !changed {
		return false, nil
	}
	inv.feed.Pause()
	inv.log.Info().Msg("invoker disabled")
	return true, inv.pinger.Disable(ctx)
}

// Enabled reports whether the invoker consumes.
func (inv *Invoker) Enabled() bool {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	return inv.enabled
}

// Name is the invoker's name in /enable and /disable answers ("invoker0").
func (inv *Invoker) Name() string { return inv.parts.Instance.String() }

func (inv *Invoker) isBlocked(ns string) bool {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	return inv.blocked[ns]
}

func (inv *Invoker) refreshBlacklist(ctx context.Context) {
	bctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	names, err := inv.parts.Store.BlockedNamespaces(bctx)
	if err != nil {
		inv.log.Warn().Err(err).Msg("could not read blocked namespaces; keeping the previous list")
		return
	}
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	inv.mu.Lock()
	inv.blocked = m
	inv.mu.Unlock()
}

func (inv *Invoker) blacklistLoop(ctx context.Context) {
	t := time.NewTicker(inv.parts.BlacklistInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			inv.refreshBlacklist(ctx)
		}
	}
}

func (inv *Invoker) registerMetrics() {
	inv.reg.GaugeFunc("nemo_kafka_lag", "Records in invoker{N} not yet consumed (high water mark minus commit point).",
		func() float64 { return float64(inv.feed.Lag()) })
	inv.reg.GaugeFunc("nemo_kafka_in_flight", "Records handed to the activation path and not yet done.",
		func() float64 { return float64(inv.feed.InFlight()) })
	inv.reg.GaugeFunc("nemo_invoker_enabled", "1 when the invoker consumes, 0 after /disable.", func() float64 {
		if inv.Enabled() {
			return 1
		}
		return 0
	})
	inv.reg.GaugeFunc("nemo_pool_user_memory_bytes", "User memory the pool manages (advertised in pings), in bytes.",
		func() float64 { return float64(inv.parts.Instance.UserMemoryBytes) })
	inv.reg.GaugeFunc("nemo_kafka_feed_held", "1 while the feed takes no new records because answers wait for Kafka or the store.",
		func() float64 {
			if inv.feed.Held() {
				return 1
			}
			return 0
		})
	inv.reg.CollectFunc(func(emit func(name, help, typ string, value float64, labels ...string)) {
		for _, dep := range []string{activation.DependencyKafka, activation.DependencyStore} {
			emit("nemo_answers_waiting", "Records whose answer waits for an unavailable dependency (back-pressure), by dependency.",
				"gauge", float64(inv.path.Waiting(dep)), "dependency", dep)
		}
	})
	inv.reg.CollectFunc(inv.manager.Metrics)
	inv.reg.CollectFunc(openWhiskPoolMetrics(inv.manager, inv.parts.KamonTags))
	if inv.sched != nil {
		inv.reg.CollectFunc(inv.sched.Metrics)
	}
	if h := inv.parts.Harvester; h != nil {
		inv.reg.CollectFunc(h.Metrics)
	}
}

// managerConfig is the pool the invoker runs. Under the function controller it is the pool as the
// controller runs it, here and in the simulator (scheduler.ControlledPool): its own warm-count bound and
// idle timeout are left to the controller (pre-warming, keeping until memory is needed, evicting by
// value). A plain pool keeps OpenWhisk's idle timeout and the configured bound.
func managerConfig(p Parts) pool.ManagerConfig {
	c := p.Pool
	if !p.PlainPool {
		c.Pool = scheduler.ControlledPool(c.Pool)
	}
	return c
}
