//go:build !classiconly

package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/nemo-edge/nemo/invoker/activation"
	"github.com/nemo-edge/nemo/invoker/fpc"
	"github.com/nemo-edge/nemo/invoker/fpc/etcdreg"
	"github.com/nemo-edge/nemo/invoker/fpc/fetch"
	"github.com/nemo-edge/nemo/invoker/fpc/lifecycle"
	"github.com/nemo-edge/nemo/invoker/fpc/node"
	"github.com/nemo-edge/nemo/invoker/messaging"
	"github.com/nemo-edge/nemo/invoker/wire"
)

// FPCParts is what FPC mode needs beyond Parts.
type FPCParts struct {
	Config fpc.Config
	// PauseGrace and IdleContainer are the container proxy's timeouts (the pool's pause grace and idle timeout).
	PauseGrace, IdleContainer time.Duration
	// Node, when not nil, is called with the running node (tests).
	Node func(*node.Node)
}

// RunFPC runs the invoker in FPC mode (OpenWhisk 2.x's scheduler) until ctx ends: the same producer, store,
// container pool, function controller, harvester, activation path and HTTP server as Run, but invoker<N>
// carries container creations and deletions, activations are pulled over gRPC by each container
// (invoker/fpc/node), and health and containers are published in etcd instead of pings. On ctx's end every
// activation fetched and not started is handed back to its scheduler, running ones finish, containers say
// goodbye and go, and the lease is revoked so every key disappears at once.
func RunFPC(ctx context.Context, p Parts, f FPCParts) error {
	fc := f.Config
	inv, topic, err := newInvoker(ctx, p,
		p.Log.With().Str("component", "invoker").Str("invoker", p.Instance.String()).Str("mode", "fpc").Logger())
	if err != nil {
		return err
	}
	defer inv.producer.Close()
	p, log := inv.parts, inv.log
	keys := wire.EtcdKeys{Cluster: fc.ClusterName}
	if err := p.Store.Ping(ctx); err != nil {
		log.Warn().Err(err).Msg("artifact store not reachable at start; creations will wait for it")
	}
	inv.refreshBlacklist(ctx)

	// The etcd session: the lease and the lease key first, so nothing is written without it.
	sess, err := etcdreg.Open(ctx, etcdreg.Config{Endpoints: fc.EtcdEndpoints, Username: fc.EtcdUsername,
		Password: fc.EtcdPassword, LeaseTTL: fc.LeaseTTL, RetryInterval: fc.RetryInterval,
		LeaseKey: keys.InstanceLease(p.Instance), WatchPrefix: fc.ClusterName + "/"}, p.Log)
	if err != nil {
		return fmt.Errorf("etcd: %w", err)
	}
	closeSession := func() {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := sess.Close(cctx); err != nil {
			log.Warn().Err(err).Msg("etcd session close: keys go when the lease expires")
		}
	}

	// The host setup, the pool and the function controller, as in classic mode.
	runner, runCtx, stopRun, undo, err := inv.startLocal(ctx)
	if err != nil {
		closeSession()
		return err
	}
	defer undo()
	defer stopRun()

	// The self-test: the health action run in a test container of its own (OpenWhisk's InvokerHealthManager);
	// a store that cannot write action documents gets a check of the container engine and the store instead.
	probe := func(hctx context.Context) error {
		if r, ok := p.Backend.(interface{ Reachable() error }); ok {
			if err := r.Reachable(); err != nil {
				return err
			}
		}
		return p.Store.Ping(hctx)
	}
	var selfTest node.SelfTest
	var healthTest *node.HealthActionTest
	writer, canWrite := p.Store.(node.ActionWriter)
	kind, _, fellBack, kerr := node.HealthKind(p.Manifest, fc.HealthActionKind)
	switch {
	case !canWrite:
		log.Warn().Msg("self-test: the store cannot write the health action; checking the container engine and the store instead")
		selfTest = node.ProbeTest(probe)
	case kerr != nil:
		log.Error().Err(kerr).Msg("self-test: no kind for the health action; checking the container engine and the store instead")
		selfTest = node.ProbeTest(probe)
	default:
		log.Info().Str("kind", kind).Bool("fallback", fellBack).Str("action", node.HealthNamespace+"/"+node.HealthActionName(p.Instance.Instance)).
			Msg("self-test: health action")
		healthTest = &node.HealthActionTest{Instance: p.Instance.Instance, Kind: fc.HealthActionKind, Manifest: p.Manifest,
			Writer: writer, Log: p.Log.With().Str("component", "fpc-health").Logger()}
		selfTest = healthTest
	}
	health := node.NewHealth(selfTest)
	health.SetLog(p.Log)
	slots := node.NewSlots(inv.manager, health)
	if healthTest != nil {
		healthTest.Slots = slots
	}
	pathCfg := activation.Config{
		Instance:     p.Instance,
		Manifest:     p.Manifest,
		UserEvents:   p.UserEvents,
		Blocked:      inv.isBlocked,
		ParameterKey: p.ParameterKey,
		CPUSetFor:    p.CPUSetFor,
		Limits:       p.Limits,
		StoreTimeout: p.StoreTimeout,
		// No Quit: a pulled activation is not a Kafka record a next incarnation would get again, so once
		// handed to the path it runs (the node hands back only what it has not handed over).
		KamonTags: p.KamonTags,
	}
	inv.path = activation.New(pathCfg, p.Store, slots.Wrap(runner), inv.producer, inv.reg, p.Log)
	slots.SetProcess(func(ctx context.Context, raw []byte) { inv.path.Process(ctx, activation.Item{Value: raw}) })
	if fc.RescheduleOnContainerFailure {
		slots.HandBackOnContainerFailure(func(ctx context.Context, raw []byte) { inv.path.AnswerAbnormal(ctx, raw) })
	}
	// Health activations: the same path (record stored, as upstream), but no ack, no user event.
	healthCfg := pathCfg
	healthCfg.UserEvents, healthCfg.Blocked = false, nil
	healthPath := activation.New(healthCfg, p.Store, slots.Wrap(runner), node.HealthAcker{Log: p.Log.With().Str("component", "fpc-health").Logger()}, nil, p.Log)
	slots.SetHealthProcess(func(ctx context.Context, raw []byte) { healthPath.Process(ctx, activation.Item{Value: raw}) })

	var grpcTLS *tls.Config
	if fc.GRPCTLS {
		grpcTLS = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	conns := fetch.NewConns(grpcTLS)
	defer conns.Close()
	reads := etcdreg.Reads{S: sess, Keys: keys}
	limitCheck, err := node.ParseLimitCheck(fc.CreationLimitCheck)
	if err != nil {
		closeSession()
		return fmt.Errorf("%s: %w", fpc.EnvCreationLimitCheck, err)
	}
	nsLimits, _ := p.Store.(node.NamespaceLimitReader)
	userMB := int(p.Instance.UserMemoryBytes >> 20)
	n := node.New(node.Config{
		Instance: p.Instance, Keys: keys,
		Lifecycle: lifecycle.Config{UserMemoryMB: userMB, PauseGrace: f.PauseGrace, IdleContainer: f.IdleContainer,
			KeepingDuration: fc.KeepingDuration, BatchDeletionSize: fc.BatchDeletionSize, PrewarmPromotion: fc.PrewarmPromotion},
		MemorySync: fc.MemorySyncInterval, ResourceTags: fc.ResourceTags, DedicatedNamespaces: fc.DedicatedNamespaces,
		ContainerPrefix: p.Pool.Pool.NamePrefix,
		LimitCheck:      limitCheck,
		SystemLimits: node.SystemLimits{MinMemoryMB: p.Limits.MinMemoryMB, MaxMemoryMB: p.Limits.MaxMemoryMB,
			MinTimeout: p.Limits.MinTimeout, MaxTimeout: p.Limits.MaxTimeout, MinLogsMB: p.Limits.MinLogsMB, MaxLogsMB: p.Limits.MaxLogsMB,
			MinConcurrency: p.Limits.MinConcurrency, MaxConcurrency: p.Limits.MaxConcurrency},
		DefaultLimits: node.LimitDefaults{MemoryMB: fc.NamespaceDefaults.MemoryMB, Timeout: fc.NamespaceDefaults.Time,
			LogsMB: fc.NamespaceDefaults.LogsMB, Concurrency: fc.NamespaceDefaults.Concurrency},
	}, node.Deps{
		NamespaceLimits: nsLimits,
		Registry:        sess, Counter: reads, Acks: creationAcks{p: inv.producer, prefix: p.Kafka.TopicPrefix},
		Actions: p.Store, Containers: slots, Health: health, Adopter: slots, Log: p.Log,
		NewPuller: func(c fetch.Config) (node.Puller, error) { return fetch.NewPuller(c, conns, reads, nil, p.Log) },
	})

	capacity := fc.MaxPeek
	if capacity <= 0 {
		capacity = 500
	}
	inv.feed, err = messaging.NewFeed(p.Kafka, capacity, func(hctx context.Context, rec *messaging.Record) {
		defer rec.Done() // processed once handed to the pool, as upstream
		n.HandleMessage(hctx, rec.Value)
	}, p.Log)
	if err != nil {
		closeSession()
		return fmt.Errorf("kafka consumer: %w", err)
	}
	inv.registerMetrics()
	inv.reg.GaugeFunc("nemo_fpc_containers", "FPC containers bound to an action (busy, paused, in progress): /pool/count.",
		func() float64 { return float64(n.Count()) })
	inv.reg.GaugeFunc("nemo_fpc_etcd_lease_regrants", "Times the etcd lease was replaced (lost, expired or its key deleted).",
		func() float64 { return float64(sess.Regrants()) })

	var wg sync.WaitGroup
	nodeCtx, stopNode := context.WithCancel(context.WithoutCancel(ctx))
	defer stopNode()
	wg.Add(1)
	go func() { defer wg.Done(); n.Run(nodeCtx) }()
	feedCtx, stopFeed := context.WithCancel(context.WithoutCancel(ctx))
	defer stopFeed()
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := inv.feed.Run(feedCtx); err != nil && !errors.Is(err, context.Canceled) {
			log.Error().Err(err).Msg("kafka feed stopped")
		}
	}()
	inv.runLocalLoops(runCtx, &wg)
	srvCtx, stopSrv := context.WithCancel(context.WithoutCancel(ctx))
	defer stopSrv()
	sw := &fpcSwitch{n: n, name: p.Instance.String(), enabled: true}
	if p.Listener != nil && p.NewServer != nil {
		srv := p.NewServer(sw, inv.reg)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := srv.Serve(srvCtx, p.Listener); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error().Err(err).Msg("http server stopped")
			}
		}()
	}
	log.Info().Str("topic", topic).Strs("etcd", fc.EtcdEndpoints).Str("cluster", fc.ClusterName).
		Int64("lease", sess.LeaseID()).Int("userMemoryMB", userMB).Msg("invoker started (FPC)")
	if p.Ready != nil {
		p.Ready(inv)
	}
	if f.Node != nil {
		f.Node(n)
	}

	<-ctx.Done()
	log.Info().Msg("shutting down: handing fetched activations back, finishing running ones")
	shCtx, shCancel := context.WithTimeout(context.Background(), p.ShutdownTimeout)
	defer shCancel()
	stopFeed()
	if err := n.Shutdown(shCtx); err != nil {
		log.Warn().Err(err).Msg("FPC shutdown")
	}
	stopNode()
	stopSrv()
	closeSession() // revokes the lease: every key goes at once
	inv.closeLocal(shCtx)
	stopRun()
	wg.Wait()
	if err := p.Store.Close(); err != nil {
		log.Warn().Err(err).Msg("store shutdown")
	}
	log.Info().Int("rescheduled", n.Rescheduled()).Msg("invoker stopped")
	return nil
}

// creationAcks sends creation acks to {prefix}creationAck{sid}.
type creationAcks struct {
	p      *messaging.Producer
	prefix string
}

func (c creationAcks) SendCreationAck(ctx context.Context, sid wire.SchedulerInstanceID, ack *wire.ContainerCreationAckMessage) error {
	b, err := ack.Marshal()
	if err != nil {
		return err
	}
	return c.p.Send(ctx, c.prefix+sid.CreationAckTopic(), b)
}

// fpcSwitch is /enable, /disable, /isEnabled, /pool and /pool/count in FPC mode.
type fpcSwitch struct {
	n    *node.Node
	name string
	mu   sync.Mutex
	// enabled mirrors the node's state for /isEnabled.
	enabled bool
}

func (s *fpcSwitch) Enable(context.Context) (bool, error) {
	s.mu.Lock()
	changed := !s.enabled
	s.enabled = true
	s.mu.Unlock()
	if changed {
		s.n.Enable()
	}
	return changed, nil
}

func (s *fpcSwitch) Disable(context.Context) (bool, error) {
	s.mu.Lock()
	changed := s.enabled
	s.enabled = false
	s.mu.Unlock()
	if changed {
		s.n.Disable()
	}
	return changed, nil
}

func (s *fpcSwitch) Enabled() bool { s.mu.Lock(); defer s.mu.Unlock(); return s.enabled }
func (s *fpcSwitch) Name() string  { return s.name }

// PoolCount is /pool/count: busy + paused + in progress.
func (s *fpcSwitch) PoolCount() int { return s.n.Count() }

// Pool is /pool: containers per state.
func (s *fpcSwitch) Pool() any {
	counts := map[string]int{}
	for _, c := range s.n.Snapshot() {
		counts[c.State.String()]++
	}
	return counts
}
