package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/containerd/errdefs"
	"github.com/rs/zerolog"

	"github.com/nemo-edge/nemo/invoker/fpc/fetch"
	"github.com/nemo-edge/nemo/invoker/fpc/lifecycle"
	"github.com/nemo-edge/nemo/invoker/wire"
)

// Registry keeps the invoker's etcd keys under its lease (etcdreg.Session).
type Registry interface {
	Put(key, value string)
	Delete(key string)
	Flush(ctx context.Context) error
}

// LiveCounter reads the live container count of an action revision (etcdreg.Reads).
type LiveCounter interface {
	LiveContainers(ctx context.Context, ns string, fqn wire.FullyQualifiedName, rev string) (int64, error)
}

// AckSender sends a creation ack to creationAck<sid> (the Kafka producer).
type AckSender interface {
	SendCreationAck(ctx context.Context, sid wire.SchedulerInstanceID, ack *wire.ContainerCreationAckMessage) error
}

// ActionReader reads an action document by id and revision (the artifact store); a creation whose action
// cannot be read is answered DBFetchError, as the JVM invoker does.
type ActionReader interface {
	GetAction(ctx context.Context, docID, rev string) (*wire.Action, error)
}

// Puller is one container's pull (fetch.Puller).
type Puller interface {
	Fetch(ctx context.Context, lastDuration time.Duration) (fetch.Result, error)
	Reschedule(ctx context.Context, raw json.RawMessage) (bool, error)
	Redirect(target string) error
	SetWarmed()
	Close(ctx context.Context) error
}

// PullerFactory creates a container's Puller (fetch.NewPuller over shared connections).
type PullerFactory func(cfg fetch.Config) (Puller, error)

// Config configures a Node.
type Config struct {
	Instance  wire.InvokerInstanceID
	Keys      wire.EtcdKeys
	Lifecycle lifecycle.Config
	// MemorySync is the period of the resource-record refresh (whisk.container-pool.memory-sync-interval, 1 s).
	MemorySync time.Duration
	// ResourceTags and DedicatedNamespaces are published in the resource record.
	ResourceTags        []string
	DedicatedNamespaces []string
	// ContainerPrefix names containers in the etcd keys and fetch requests: <prefix>_fpc_<id> (e.g. wsk0).
	ContainerPrefix string
	// Fetch carries the pull's timeouts (FetchTimeout, RescheduleTimeout, GoodbyeTimeout, MaxReconnects…).
	Fetch fetch.Config
	// HealthRetest is the period of the self-test while unhealthy. Default 5 s.
	HealthRetest time.Duration
	// CallTimeout bounds each container operation, count and ack send. Default 60 s.
	CallTimeout time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// LimitCheck is the namespace-limit check at creation (default LimitCheckOn; needs Deps.NamespaceLimits).
	LimitCheck LimitCheck
	// SystemLimits bound the namespace limits of that check; DefaultLimits are the namespace default limits.
	SystemLimits  SystemLimits
	DefaultLimits LimitDefaults
}

// Deps are the Node's collaborators.
type Deps struct {
	Registry Registry
	Counter  LiveCounter
	Acks     AckSender
	Actions  ActionReader
	// NamespaceLimits, when not nil, reads a namespace's limits for the check at creation (Config.LimitCheck).
	NamespaceLimits NamespaceLimitReader
	Containers      lifecycle.Containers
	NewPuller       PullerFactory
	Health          *Health
	// Adopter, when not nil, offers NEMO's pre-warmed containers every memory-sync interval (Slots).
	Adopter interface {
		Adoptable(ctx context.Context) []lifecycle.Adopted
	}
	Log zerolog.Logger
}

// Errors.
var (
	// ErrStopped: the node was shut down.
	ErrStopped = errors.New("node: stopped")
)

// cont is the driver's side of one lifecycle container: its puller, pull loops and runs.
type cont struct {
	id       lifecycle.ContainerID
	binding  lifecycle.Binding
	creation *wire.ContainerCreationMessage // the one that created it (its transid and action for the pull)
	puller   Puller
	loops    int                // pull loops running
	pullCtx  context.Context    // ends the pull loops' fetches (removal)
	stopPull context.CancelFunc //
	runs     sync.WaitGroup     // activations in flight
	removing bool
}

// Node is FPC mode's driver: it executes the lifecycle machine's actions against the container pool, the
// etcd session, the scheduler's gRPC service and Kafka, and reports their outcomes back as events. All
// machine steps and the synchronous part of their actions run under one lock, so the actions of one event
// take effect in the order the machine emitted them; container operations, acks and counts run in their own
// goroutines and come back as events.
type Node struct {
	cfg  Config
	deps Deps
	log  zerolog.Logger

	mu           sync.Mutex
	m            *lifecycle.Machine
	conts        map[lifecycle.ContainerID]*cont
	timer        *time.Timer
	published    string
	shuttingDown bool
	stopped      bool
	base         context.Context // runs and container operations
	cancel       context.CancelFunc
	wg           sync.WaitGroup // goroutines started by actions
	loops        sync.WaitGroup // pull loops
	rescheduled  int            // activations handed back on shutdown
	noLimitsView bool           // the namespace-limit check found no identities view (logged once)
	handedBack   int            // activations handed back after a container failure
}

// New builds a Node; Start begins publishing.
func New(cfg Config, deps Deps) *Node {
	if cfg.MemorySync <= 0 {
		cfg.MemorySync = time.Second
	}
	if cfg.CallTimeout <= 0 {
		cfg.CallTimeout = 60 * time.Second
	}
	if cfg.HealthRetest <= 0 {
		cfg.HealthRetest = 5 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.ContainerPrefix == "" {
		cfg.ContainerPrefix = cfg.Instance.Source()
	}
	if cfg.Lifecycle.UserMemoryMB <= 0 {
		cfg.Lifecycle.UserMemoryMB = int(cfg.Instance.UserMemoryBytes >> 20)
	}
	if deps.Health == nil {
		deps.Health = NewHealth(nil)
	}
	base, cancel := context.WithCancel(context.Background())
	n := &Node{cfg: cfg, deps: deps, m: lifecycle.New(cfg.Lifecycle), conts: map[lifecycle.ContainerID]*cont{},
		base: base, cancel: cancel, log: deps.Log.With().Str("component", "fpc-node").Logger()}
	deps.Health.OnChange(n.publish)
	return n
}

// Run runs the self-test and publishes the resource record when it changes and every MemorySync, and
// offers NEMO's pre-warms for adoption, until ctx ends.
func (n *Node) Run(ctx context.Context) {
	go n.deps.Health.Run(ctx, n.cfg.HealthRetest)
	t := time.NewTicker(n.cfg.MemorySync)
	defer t.Stop()
	n.publish()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n.publish()
			n.adopt(ctx)
		}
	}
}

// adopt hands NEMO's pre-warms to the machine as paused, warmed containers; what it refuses (a disabled
// invoker) is removed again.
func (n *Node) adopt(ctx context.Context) {
	if n.deps.Adopter == nil || n.isDisabled() {
		return
	}
	for _, a := range n.deps.Adopter.Adoptable(ctx) {
		n.log.Info().Str("container", string(a.C)).Str("action", a.Binding.InvocationNamespace+"/"+a.Binding.Action.String()).
			Msg("pre-warmed container registered as warmed")
		acts := n.Step(a)
		if len(acts) == 0 {
			rctx, cancel := context.WithTimeout(ctx, n.cfg.CallTimeout)
			_ = n.deps.Containers.Remove(rctx, a.C)
			cancel()
		}
	}
}

// ContainerName is how container id appears in etcd keys and fetch requests.
func (n *Node) ContainerName(id lifecycle.ContainerID) string {
	return n.cfg.ContainerPrefix + "_fpc_" + string(id)
}

// HandleMessage processes one record of invoker<N>: a creation (the warm-up one is dropped; an action that
// cannot be read is answered DBFetchError) or a deletion. A record that does not parse is logged and
// dropped: there is nobody to answer.
func (n *Node) HandleMessage(ctx context.Context, raw []byte) {
	msg, err := wire.ParseContainerMessage(raw)
	if err != nil {
		n.log.Error().Err(err).Int("bytes", len(raw)).Msg("unreadable container message on the invoker topic; dropped")
		return
	}
	switch m := msg.(type) {
	case *wire.ContainerCreationMessage:
		log := n.log.With().Str("transid", m.TransID.ID()).Str("creationId", m.CreationID).
			Str("action", m.InvocationNamespace+"/"+m.Action.String()).Logger()
		if m.IsWarmUp() {
			log.Debug().Msg("warm-up creation dropped")
			return
		}
		if m.ActionMetaData.Executable() && n.deps.Actions != nil && !n.isDisabled() {
			fctx, cancel := context.WithTimeout(ctx, n.cfg.CallTimeout)
			action, err := n.deps.Actions.GetAction(fctx, m.Action.DocID(), m.RevisionString())
			cancel()
			if err != nil {
				log.Warn().Err(err).Msg("creation: the action cannot be read")
				n.sendAck(m.RootSchedulerIndex, wire.NewCreationAck(m, n.cfg.Instance, wire.CreationErrDBFetch, err.Error()))
				return
			}
			if ack := n.checkLimits(ctx, m, action, log); ack != nil {
				n.sendAck(m.RootSchedulerIndex, ack)
				return
			}
		}
		log.Info().Int("retry", m.RetryCount).Str("scheduler", m.SchedulerHost).Msg("container creation")
		n.Step(lifecycle.Creation{Msg: m})
	case *wire.ContainerDeletionMessage:
		n.log.Info().Str("transid", m.TransID.ID()).Str("action", m.InvocationNamespace+"/"+m.Action.String()).
			Str("revision", m.RevisionString()).Msg("container deletion")
		n.Step(lifecycle.Deletion{Msg: m})
	}
}

// checkLimits is the namespace-limit check at creation (OpenWhisk 2.0.0 and later): the failing ack, or nil.
func (n *Node) checkLimits(ctx context.Context, m *wire.ContainerCreationMessage, action *wire.Action, log zerolog.Logger) *wire.ContainerCreationAckMessage {
	if n.cfg.LimitCheck == LimitCheckOff || n.deps.NamespaceLimits == nil || action == nil {
		return nil
	}
	lctx, cancel := context.WithTimeout(ctx, n.cfg.CallTimeout)
	nl, err := n.deps.NamespaceLimits.NamespaceLimits(lctx, m.InvocationNamespace)
	cancel()
	switch {
	case errdefs.IsNotImplemented(err):
		n.mu.Lock()
		first := !n.noLimitsView
		n.noLimitsView = true
		n.mu.Unlock()
		if first {
			log.Warn().Err(err).Msg("namespace limits cannot be read (no identities view in the subjects database); creations are not checked against them")
		}
		return nil
	case err != nil:
		log.Warn().Err(err).Msg("creation: the invocation namespace's identity cannot be read")
		return wire.NewCreationAck(m, n.cfg.Instance, wire.CreationErrDBFetch, err.Error())
	}
	cerr := CheckNamespaceLimits(action.Limits, nl, n.cfg.SystemLimits, n.cfg.DefaultLimits)
	if cerr == nil {
		return nil
	}
	reason := limitMessage(cerr)
	log.Warn().Str("reason", reason).Msg("creation: the action's limits violate the namespace's")
	if n.cfg.LimitCheck == LimitCheckCompat {
		return wire.NewCreationAck(m, n.cfg.Instance, wire.CreationErrDBFetch, string(wire.CreationErrInvalidActionLimit)+": "+reason)
	}
	return wire.NewCreationAck(m, n.cfg.Instance, wire.CreationErrInvalidActionLimit, reason)
}

func (n *Node) isDisabled() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.shuttingDown
}

// Step applies one event and executes the actions; it returns them (the pull loop reads ActContinue).
func (n *Node) Step(ev lifecycle.Event) []lifecycle.Action {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.stopped {
		return nil
	}
	acts := n.m.Step(n.cfg.Now(), ev)
	for _, a := range acts {
		n.execLocked(a)
	}
	n.armLocked()
	n.publishLocked()
	return acts
}

func (n *Node) armLocked() {
	if n.timer != nil {
		n.timer.Stop()
		n.timer = nil
	}
	next := n.m.NextDeadline()
	if next.IsZero() {
		return
	}
	d := max(next.Sub(n.cfg.Now()), time.Millisecond)
	n.timer = time.AfterFunc(d, func() { n.Step(lifecycle.Tick{}) })
}

// spawn runs f in a goroutine the node waits for on Shutdown.
func (n *Node) spawn(f func()) {
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		f()
	}()
}

func (n *Node) contLocked(a lifecycle.Action) *cont {
	c, ok := n.conts[a.C]
	if !ok {
		c = &cont{id: a.C, binding: a.Binding}
		n.conts[a.C] = c
	}
	if a.Binding.InvocationNamespace != "" {
		c.binding = a.Binding
	}
	if a.Creation != nil {
		c.creation = a.Creation
	}
	return c
}

func (n *Node) existingKey(c lifecycle.ContainerID, b lifecycle.Binding) string {
	return n.cfg.Keys.ExistingContainer(b.InvocationNamespace, b.Action, b.Revision, n.cfg.Instance.Instance, n.ContainerName(c))
}

func (n *Node) warmedKey(c lifecycle.ContainerID, b lifecycle.Binding) string {
	return n.cfg.Keys.WarmedContainer(b.InvocationNamespace, b.Action, b.Revision, n.cfg.Instance.Instance, n.ContainerName(c))
}

// execLocked executes one action: etcd writes at once (the session retries them), everything that waits in
// a goroutine that answers with an event.
func (n *Node) execLocked(a lifecycle.Action) {
	switch a.Kind {
	case lifecycle.ActCreate:
		c := n.contLocked(a)
		n.spawn(func() {
			ctx, cancel := context.WithTimeout(n.base, n.cfg.CallTimeout)
			defer cancel()
			if _, err := n.deps.Containers.Create(ctx, c.id, a.Binding); err != nil {
				n.Step(lifecycle.StartFailed{C: c.id, Blackbox: errors.Is(err, lifecycle.ErrBlackboxStart), Reason: err.Error()})
				return
			}
			n.Step(lifecycle.Started{C: c.id})
		})
	case lifecycle.ActStartClient:
		c := n.contLocked(a)
		n.spawn(func() { n.startClient(c, a) })
	case lifecycle.ActRegisterExisting:
		n.deps.Registry.Put(n.existingKey(a.C, a.Binding), "")
	case lifecycle.ActUnregisterExisting:
		n.deps.Registry.Delete(n.existingKey(a.C, a.Binding))
	case lifecycle.ActRegisterWarmed:
		n.contLocked(a)
		n.deps.Registry.Put(n.warmedKey(a.C, a.Binding), "")
	case lifecycle.ActUnregisterWarmed:
		n.deps.Registry.Delete(n.warmedKey(a.C, a.Binding))
	case lifecycle.ActAck:
		if a.Creation == nil {
			return
		}
		if a.Error != "" {
			n.log.Warn().Str("transid", a.Creation.TransID.ID()).Str("creationId", a.Creation.CreationID).
				Str("error", string(a.Error)).Str("reason", a.Reason).Msg("creation failed")
		}
		n.sendAck(a.Creation.RootSchedulerIndex, wire.NewCreationAck(a.Creation, n.cfg.Instance, a.Error, a.Reason))
	case lifecycle.ActPull:
		c := n.contLocked(a)
		for c.loops < max(a.Binding.Concurrency, 1) && c.puller != nil && !c.removing {
			c.loops++
			n.loops.Add(1)
			go n.pullLoop(c)
		}
	case lifecycle.ActContinue, lifecycle.ActDrain:
		// The pull loop reads ActContinue from Step's answer; a draining container pulls until Idle.
	case lifecycle.ActPause:
		n.spawn(func() {
			ctx, cancel := context.WithTimeout(n.base, n.cfg.CallTimeout)
			defer cancel()
			if err := n.deps.Containers.Pause(ctx, a.C); err != nil {
				n.log.Warn().Err(err).Str("container", string(a.C)).Msg("pause failed; removing the container")
				n.Step(lifecycle.PauseFailed{C: a.C})
				return
			}
			n.Step(lifecycle.PauseDone{C: a.C})
		})
	case lifecycle.ActResume:
		n.contLocked(a)
		n.spawn(func() {
			ctx, cancel := context.WithTimeout(n.base, n.cfg.CallTimeout)
			defer cancel()
			if err := n.deps.Containers.Resume(ctx, a.C); err != nil {
				n.log.Warn().Err(err).Str("container", string(a.C)).Msg("resume failed")
				n.Step(lifecycle.ResumeFailed{C: a.C})
				return
			}
			n.Step(lifecycle.ResumeDone{C: a.C})
		})
	case lifecycle.ActRedirect:
		c := n.contLocked(a)
		if c.puller != nil {
			if err := c.puller.Redirect(a.Binding.Scheduler); err != nil {
				n.log.Warn().Err(err).Str("container", string(a.C)).Msg("redirect failed")
			}
		} else {
			// An adopted container has no client yet: the resume's ack comes after it exists, so create it now
			// (synchronously: NewPuller does not dial).
			if err := n.newPullerLocked(c, a.Binding); err != nil {
				// The ack still says success (the machine decided); the pull start below finds no puller and
				// the container idles out through its pause grace.
				n.log.Error().Err(err).Str("container", string(a.C)).Msg("no gRPC client for the resumed container")
			}
		}
	case lifecycle.ActCountLive:
		n.spawn(func() {
			ctx, cancel := context.WithTimeout(n.base, n.cfg.CallTimeout)
			defer cancel()
			cnt, err := n.deps.Counter.LiveContainers(ctx, a.Binding.InvocationNamespace, a.Binding.Action, a.Binding.Revision)
			if err != nil {
				n.Step(lifecycle.LiveCountFailed{C: a.C})
				return
			}
			// The namespace's warmedContainerKeepingCount is not read (it lives in the subjects DB's
			// limits); OpenWhisk's default, 0, applies.
			n.Step(lifecycle.LiveCount{C: a.C, Count: cnt, Limit: 0})
		})
	case lifecycle.ActRemove:
		c := n.contLocked(a)
		c.removing = true
		n.spawn(func() { n.removeContainer(c) })
	case lifecycle.ActHealthFailure:
		n.spawn(func() { n.deps.Health.Record(false) }) // Record republishes, which takes n.mu
	}
}

func (n *Node) newPullerLocked(c *cont, b lifecycle.Binding) error {
	fc := n.cfg.Fetch
	fc.InvocationNamespace, fc.Action, fc.ContainerID, fc.Scheduler = b.InvocationNamespace, b.Action, n.ContainerName(c.id), b.Scheduler
	rev := b.Revision
	if rev != "" {
		fc.Revision = &rev
	}
	if c.creation != nil {
		fc.Action, fc.Revision = c.creation.Action, c.creation.Revision
	}
	p, err := n.deps.NewPuller(fc)
	if err != nil {
		return err
	}
	c.puller = p
	c.pullCtx, c.stopPull = context.WithCancel(n.base)
	return nil
}

func (n *Node) startClient(c *cont, a lifecycle.Action) {
	n.mu.Lock()
	err := n.newPullerLocked(c, a.Binding)
	n.mu.Unlock()
	if err != nil {
		n.Step(lifecycle.ClientFailed{C: c.id, Reason: err.Error()})
		return
	}
	n.Step(lifecycle.ClientReady{C: c.id})
}

// sendAck sends a creation ack in its own goroutine, after the etcd writes before it landed (the scheduler
// may look for the existing-container key as soon as it reads the ack).
func (n *Node) sendAck(sid wire.SchedulerInstanceID, ack *wire.ContainerCreationAckMessage) {
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		ctx, cancel := context.WithTimeout(n.base, n.cfg.CallTimeout)
		defer cancel()
		fctx, fcancel := context.WithTimeout(ctx, 5*time.Second)
		if err := n.deps.Registry.Flush(fctx); err != nil {
			n.log.Warn().Err(err).Msg("etcd writes still pending when the creation ack goes out")
		}
		fcancel()
		if err := n.deps.Acks.SendCreationAck(ctx, sid, ack); err != nil {
			n.log.Error().Err(err).Str("transid", ack.TransID.ID()).Str("creationId", ack.CreationID).Msg("could not send the creation ack")
		}
	}()
}

// removeContainer closes the pull (the goodbye fetch), waits for the container's runs, destroys it and
// reports Removed.
func (n *Node) removeContainer(c *cont) {
	n.mu.Lock()
	p, stop := c.puller, c.stopPull
	n.mu.Unlock()
	if stop != nil {
		stop()
	}
	c.runs.Wait()
	ctx, cancel := context.WithTimeout(n.base, n.cfg.CallTimeout)
	defer cancel()
	if p != nil {
		if err := p.Close(ctx); err != nil {
			n.log.Warn().Err(err).Str("container", string(c.id)).Msg("goodbye fetch")
		}
	}
	if err := n.deps.Containers.Remove(ctx, c.id); err != nil {
		n.log.Warn().Err(err).Str("container", string(c.id)).Msg("container removal")
	}
	n.mu.Lock()
	delete(n.conts, c.id)
	n.mu.Unlock()
	n.Step(lifecycle.Removed{C: c.id})
}

// Resources is the resource record now.
func (n *Node) Resources() wire.InvokerResourceMessage {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.resourcesLocked()
}

func (n *Node) resourcesLocked() wire.InvokerResourceMessage {
	free, busy, inProgress := n.m.Resources()
	return wire.InvokerResourceMessage{Status: n.deps.Health.Status(), FreeMemoryMB: int64(free), BusyMemoryMB: int64(busy),
		InProgressMemoryMB: int64(inProgress), Tags: n.cfg.ResourceTags, DedicatedNamespaces: n.cfg.DedicatedNamespaces}
}

func (n *Node) publish() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.publishLocked()
}

// publishLocked puts the resource record (a no-op in the session when unchanged).
func (n *Node) publishLocked() {
	if n.stopped {
		return
	}
	b, err := n.resourcesLocked().Marshal()
	if err != nil {
		return
	}
	if s := string(b); s != n.published {
		n.published = s
		n.deps.Registry.Put(n.cfg.Keys.InvokerResource(n.cfg.Instance), s)
	}
}

// Disable is /disable: status down (published), creations refused, containers shut down in rounds with
// their keys removed first.
func (n *Node) Disable() {
	n.deps.Health.SetDown(true)
	n.Step(lifecycle.Disable{})
}

// Enable is /enable: the self-test runs again and the pool takes creations.
func (n *Node) Enable() {
	n.deps.Health.SetDown(false)
	n.Step(lifecycle.Enable{})
}

// Snapshot is the machine's containers, for /pool.
func (n *Node) Snapshot() []lifecycle.Snapshot {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.m.Containers()
}

// Count is /pool/count: busy + paused + in progress.
func (n *Node) Count() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.m.Counts()
}

// Rescheduled is how many fetched activations were handed back on shutdown.
func (n *Node) Rescheduled() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.rescheduled
}

// HandedBack is how many activations were handed back after their container failed before they ran.
func (n *Node) HandedBack() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.handedBack
}

// Shutdown is the SIGTERM path: no more creations; every pull loop stops after its current run, and an
// activation fetched from now on is handed back with RescheduleActivation instead of being run; running
// activations finish (within ctx); then every container says goodbye and is removed, keys first. It returns
// once that is done or ctx ends.
func (n *Node) Shutdown(ctx context.Context) error {
	n.mu.Lock()
	if n.shuttingDown && n.stopped {
		n.mu.Unlock()
		return nil
	}
	n.shuttingDown = true
	n.mu.Unlock()
	n.deps.Health.SetDown(true)
	n.Step(lifecycle.Disable{})
	done := make(chan struct{})
	go func() { n.loops.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
	// Whatever is left: keys out, goodbye, remove.
	n.mu.Lock()
	var left []*cont
	for _, c := range n.conts {
		if !c.removing {
			c.removing = true
			left = append(left, c)
			if c.binding.InvocationNamespace != "" {
				n.deps.Registry.Delete(n.existingKey(c.id, c.binding))
				n.deps.Registry.Delete(n.warmedKey(c.id, c.binding))
			}
		}
	}
	n.mu.Unlock()
	for _, c := range left {
		n.spawn(func() { n.removeContainer(c) })
	}
	wdone := make(chan struct{})
	go func() { n.wg.Wait(); close(wdone) }()
	var err error
	select {
	case <-wdone:
	case <-ctx.Done():
		err = fmt.Errorf("%w: shutdown incomplete: %v", ErrStopped, ctx.Err())
	}
	n.mu.Lock()
	n.stopped = true
	if n.timer != nil {
		n.timer.Stop()
	}
	n.mu.Unlock()
	n.cancel()
	return err
}
