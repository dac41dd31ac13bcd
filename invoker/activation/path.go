package activation

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/containerd/errdefs"
	"github.com/rs/zerolog"

	"github.com/nemo-edge/nemo/invoker/metrics"
	"github.com/nemo-edge/nemo/invoker/wire"
	"github.com/nemo-edge/nemo/pool"
	"github.com/nemo-edge/nemo/pool/proxy"
)

// Runner executes one activation (pool.Manager, or scheduler.Invoker wrapping it). onRunDone, when not
// nil, is called once as soon as /run returned, without waiting for log collection, and has returned by
// the time Run returns. An error means the invoker could not provision a container; every action-level
// failure is in Outcome.Response.
type Runner interface {
	Run(ctx context.Context, job *Job, onRunDone func(*Outcome)) (*Outcome, error)
}

// Store is the artifact store as the activation path uses it (invoker/store, invoker/filestore). Its
// errors carry the shared classes of github.com/containerd/errdefs: not found, data loss (the document is
// not a readable action), not implemented (an action the invoker cannot execute), unavailable (worth
// retrying), conflict (an activation already recorded).
type Store interface {
	GetAction(ctx context.Context, docID, rev string) (*wire.Action, error)
	PutActivation(ctx context.Context, a *wire.WhiskActivation) error
	GetActivation(ctx context.Context, namespace, activationID string) (*wire.WhiskActivation, error)
}

// Acker sends acknowledgements and user events (invoker/messaging.Producer).
type Acker interface {
	SendAck(ctx context.Context, controller string, ack wire.Ack) error
	SendEvent(ctx context.Context, ev *wire.EventMessage) error
}

// Config configures a Path.
type Config struct {
	// Instance is this invoker's id as written into Completion and Combined acks.
	Instance wire.InvokerInstanceID
	// Manifest resolves exec kinds to runtime images. Required.
	Manifest *wire.Manifest
	// UserEvents sends an EventMessage with every slot-freeing ack (whisk.user-events.enabled).
	UserEvents bool
	// MaxMessageBytes rejects larger records before parsing. Default wire's 1048576 + 6068.
	MaxMessageBytes int
	// Blocked reports whether a namespace is blacklisted; nil means none is.
	Blocked func(namespace string) bool
	// CPUSetFor, when not nil, gives the cpuset an action's containers are pinned to (by action document
	// id; "" for the backend's default): the NF cores of a configured edge function.
	CPUSetFor func(docID string) string
	// ParameterKey decrypts the parameters a message names in lockedArgs; nil passes them through
	// encrypted, as OpenWhisk does without a parameter-storage key.
	ParameterKey *wire.ParameterKey
	// FetchTimeout bounds fetching the action, retries included. Default 30 s.
	FetchTimeout time.Duration
	// AckTimeout bounds each ack or event send. Default 30 s.
	AckTimeout time.Duration
	// StoreTimeout bounds each attempt to store the activation record (and each duplicate lookup).
	// Default 30 s.
	StoreTimeout time.Duration
	// RetryBackoff is the first pause between two attempts to deliver an ack or a record while Kafka or
	// the store is unavailable; it doubles up to MaxRetryBackoff. Defaults 100 ms and 5 s. Attempts go on
	// until they succeed or the invoker stops: an outage of any length delays answers, it loses none.
	RetryBackoff, MaxRetryBackoff time.Duration
	// Limits are the system's action limits; an action document's own limits are clamped into them
	// before it runs. The zero value clamps nothing.
	Limits Limits
	// Quit, when closed, says the invoker is stopping: a record whose activation has not started yet (it
	// waits for the duplicate check, the action fetch or a container) is given back (ResultAbandoned) for
	// the next incarnation instead of being run or answered with an error. nil never quits.
	Quit <-chan struct{}
	// OnStall, when not nil, is called with true when the first record begins to wait for an unavailable
	// dependency (Kafka for its acks, the store for its record) and with false when none waits any more.
	// Calls never overtake each other. The invoker holds its feed and withholds its pings meanwhile.
	OnStall func(stalled bool)
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// KamonTags spells OpenWhisk's container-start metric with tags (METRICS_KAMON_TAGS; owmetrics.go).
	KamonTags bool
}

// Limits are the system's action limits (OpenWhisk's whisk.memory, whisk.timeLimit, whisk.logLimit and
// whisk.concurrencyLimit min and max). A zero bound is no bound.
type Limits struct {
	MinMemoryMB, MaxMemoryMB       int
	MinTimeout, MaxTimeout         time.Duration
	MinLogsMB, MaxLogsMB           int
	MinConcurrency, MaxConcurrency int
}

// Clamp returns l with every limit moved into the bounds, and the names of the limits it changed.
func (b Limits) Clamp(l wire.ActionLimits) (wire.ActionLimits, []string) {
	var changed []string
	clamp := func(name string, v *int, lo, hi int) {
		old := *v
		if lo > 0 && *v < lo {
			*v = lo
		}
		if hi > 0 && *v > hi {
			*v = hi
		}
		if *v != old {
			changed = append(changed, fmt.Sprintf("%s %d→%d", name, old, *v))
		}
	}
	clamp("memory", &l.MemoryMB, b.MinMemoryMB, b.MaxMemoryMB)
	clamp("timeout", &l.TimeoutMs, int(b.MinTimeout.Milliseconds()), int(b.MaxTimeout.Milliseconds()))
	clamp("logs", &l.LogsMB, b.MinLogsMB, b.MaxLogsMB)
	clamp("concurrency", &l.Concurrency, b.MinConcurrency, b.MaxConcurrency)
	return l, changed
}

// ErrStalled is the class of Path.Stalled's error: records wait for an unavailable dependency.
var ErrStalled = errors.New("activation: answers are waiting")

// errStopped: the invoker stopped before the record's answer was delivered; the record is left for
// redelivery.
var errStopped = errors.New("activation: stopped before the answer was delivered")

// MaxActivationBytes is OpenWhisk's MAX_ACTIVATION_LIMIT: payload max 1 MiB plus serdes overhead.
const MaxActivationBytes = 1048576 + 6068

func (c Config) withDefaults() Config {
	if c.MaxMessageBytes <= 0 {
		c.MaxMessageBytes = MaxActivationBytes
	}
	if c.FetchTimeout <= 0 {
		c.FetchTimeout = 30 * time.Second
	}
	if c.AckTimeout <= 0 {
		c.AckTimeout = 30 * time.Second
	}
	if c.StoreTimeout <= 0 {
		c.StoreTimeout = 30 * time.Second
	}
	if c.RetryBackoff <= 0 {
		c.RetryBackoff = 100 * time.Millisecond
	}
	if c.MaxRetryBackoff <= 0 {
		c.MaxRetryBackoff = 5 * time.Second
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Item is one consumed record as the path sees it.
type Item struct {
	Value []byte
	// MaybeRedelivered says an earlier incarnation of this invoker may have processed the record
	// (its offset lies below the partition's end offset seen at start-up), so the store is checked
	// before running it.
	MaybeRedelivered bool
	// Partition and Offset locate the record in invoker{N}, for the logs.
	Partition int32
	Offset    int64
}

// Result says what Process did with one record (for tests, metrics and logs).
type Result string

const (
	ResultInvalid      Result = "invalid"   // unparseable: logged, no ack (there is no id to answer)
	ResultTooLarge     Result = "too-large" // above MaxMessageBytes: application error ack, not run
	ResultDuplicate    Result = "duplicate" // already recorded: acks re-sent, not re-run
	ResultBlocked      Result = "blocked"   // blacklisted namespace: application error ack, not stored
	ResultFetchFailed  Result = "fetch-failed"
	ResultProvision    Result = "provision-failed"
	ResultUnlockFailed Result = "unlock-failed" // locked parameters could not be decrypted: whisk error
	ResultRan          Result = "ran"
	// ResultAbandoned: the invoker stopped before the record was finished (its activation had not
	// started, or its answer could not be delivered within the grace period): the caller must leave it
	// uncommitted (messaging.Record.Release) so the next incarnation gets it again.
	ResultAbandoned Result = "abandoned"
)

// Path processes activation records. It is safe for concurrent use: the Kafka feed calls Process from
// one goroutine per record.
type Path struct {
	cfg    Config
	store  Store
	runner Runner
	acks   Acker
	log    zerolog.Logger
	jobs   *jobs

	activations *metrics.CounterVec
	ackCount    *metrics.CounterVec
	results     *metrics.CounterVec
	ackErrors   *metrics.CounterVec
	retries     *metrics.CounterVec
	lost        *metrics.CounterVec
	stalls      *stalls
	starts      *containerStarts
}

// New builds a Path. reg may be nil.
func New(cfg Config, st Store, runner Runner, acks Acker, reg *metrics.Registry, log zerolog.Logger) *Path {
	if reg == nil {
		reg = metrics.NewRegistry()
	}
	starts := newContainerStarts(cfg.KamonTags)
	reg.CollectFunc(starts.metrics)
	return &Path{
		starts: starts,
		cfg:    cfg.withDefaults(),
		store:  st,
		runner: runner,
		acks:   acks,
		log:    log.With().Str("component", "activation").Logger(),
		jobs:   &jobs{cpuSetFor: cfg.CPUSetFor},
		activations: reg.Counter("nemo_activations_total",
			"Activations answered, by status (success, application_error, developer_error, whisk_error).", "status"),
		ackCount: reg.Counter("nemo_acks_total",
			"Acknowledgements sent to the controller, by kind (result, completion, combined).", "kind"),
		results: reg.Counter("nemo_records_total",
			"Consumed activation records, by what the invoker did with them.", "result"),
		ackErrors: reg.Counter("nemo_ack_errors_total",
			"Acknowledgements or events that could not be sent, by kind.", "kind"),
		retries: reg.Counter("nemo_delivery_retries_total",
			"Attempts to deliver an answer repeated because a dependency was unavailable, by dependency.", "dependency"),
		lost: reg.Counter("nemo_answers_lost_total",
			"Acks the broker or records the store refused for good (never sent or stored), by kind.", "kind"),
		stalls: newStalls(cfg.OnStall),
	}
}

// Stalled reports why answers are waiting (a dependency unavailable, how long, how many records), or
// nil when none waits. The invoker withholds its health pings while it is not nil.
func (p *Path) Stalled() error { return p.stalls.err(p.cfg.Now()) }

// Waiting is the number of records waiting for dependency (DependencyKafka, DependencyStore).
func (p *Path) Waiting(dependency string) int { return p.stalls.count(dependency) }

// Process handles one record to the end. When it returns anything but ResultAbandoned the record is
// finished: its acks were taken by the broker and its activation is stored (or either was refused for
// good, which is logged and counted), so the caller may commit past it. ResultAbandoned means the
// invoker is stopping and the record must be left uncommitted for the next incarnation.
func (p *Path) Process(ctx context.Context, it Item) Result {
	r := p.process(ctx, it)
	p.results.With(string(r)).Inc()
	return r
}

func (p *Path) process(ctx context.Context, it Item) Result {
	if p.quitting() {
		return ResultAbandoned // handed out as the invoker stops: nothing started, leave it
	}
	msg, err := wire.ParseActivationMessage(it.Value)
	if err != nil {
		p.log.Error().Err(err).Int("bytes", len(it.Value)).
			Msg("terminal failure while processing message: cannot parse ActivationMessage; no ack possible")
		return ResultInvalid
	}
	tid := msg.TransID.ID()
	log := p.log.With().Str("transid", tid).Str("activationId", msg.ActivationID).
		Str("action", msg.Action.String()).Int64("offset", it.Offset).Logger()
	ctx = log.WithContext(ctx)
	// Work that has not started stops waiting when the invoker quits.
	startCtx, stopStart := p.untilQuit(ctx)
	defer stopStart()

	if it.MaybeRedelivered {
		if r, done := p.reackIfRecorded(ctx, startCtx, msg, log); done {
			return r
		}
	}

	if len(it.Value) > p.cfg.MaxMessageBytes {
		// Its id and controller are readable: answer it (the controller would have refused it with 413).
		msg.Content = nil
		act := wire.FallbackActivation(msg, proxy.ErrorResponse(proxy.StatusApplicationError,
			MsgRequestTooLarge(len(it.Value), p.cfg.MaxMessageBytes)), p.nowMillis())
		log.Error().Int("bytes", len(it.Value)).Int("limit", p.cfg.MaxMessageBytes).
			Msg("record exceeds the activation size limit; answering with an application error, not running it")
		return p.finishCombined(ctx, msg, act, log, ResultTooLarge)
	}

	if p.cfg.Blocked != nil && p.cfg.Blocked(msg.User.Namespace.Name) {
		act := wire.FallbackActivation(msg, proxy.ErrorResponse(proxy.StatusApplicationError, wire.MsgBlacklisted), p.nowMillis())
		log.Warn().Str("namespace", msg.User.Namespace.Name).Msg("namespace is blacklisted; not invoked, not stored")
		// Blacklist acks are always sent as for a non-blocking invocation: shrunk.
		if err := p.sendAck(ctx, msg, wire.NewCombinedMessage(msg.TransID, act, p.cfg.Instance).Shrink(), act, log); err != nil {
			return ResultAbandoned
		}
		p.count(act)
		return ResultBlocked
	}

	if msg.HasLockedArgs() {
		if p.cfg.ParameterKey == nil {
			log.Warn().Int("lockedArgs", len(msg.LockedArgs)).
				Msg("locked parameters but no parameter-storage key configured; the action gets them encrypted")
		} else if err := msg.Unlock(p.cfg.ParameterKey); err != nil {
			// OpenWhisk fails such an activation with an invoker exception: a whisk error.
			act := wire.FallbackActivation(msg, proxy.ErrorResponse(proxy.StatusWhiskError, proxy.MsgAbnormalRun), p.nowMillis())
			log.Error().Err(err).Msg("cannot decrypt the activation's locked parameters (is the parameter-storage key the controller's?)")
			return p.finishCombined(ctx, msg, act, log, ResultUnlockFailed)
		}
	}

	action, err := p.fetch(startCtx, msg, log)
	if p.quitting() || ctx.Err() != nil {
		log.Info().Msg("invoker stopping before the activation started; leaving it for redelivery")
		return ResultAbandoned
	}
	if err != nil {
		resp := fetchErrorResponse(err)
		act := wire.FallbackActivation(msg, resp, p.nowMillis())
		log.Error().Err(err).Str("result", resultText(resp)).Msg("action fetch failed")
		return p.finishCombined(ctx, msg, act, log, ResultFetchFailed)
	}
	runtime, err := p.cfg.Manifest.ResolveExec(&action.Exec)
	if err != nil {
		act := wire.FallbackActivation(msg, proxy.ErrorResponse(proxy.StatusWhiskError, wire.MsgVersionIncompatible), p.nowMillis())
		log.Error().Err(err).Str("kind", action.Exec.Kind).Msg("action kind is not in the runtimes manifest")
		return p.finishCombined(ctx, msg, act, log, ResultFetchFailed)
	}
	if limits, changed := p.cfg.Limits.Clamp(action.Limits); len(changed) > 0 {
		// The document was written past the controller's checks (or under other limits): the operator's
		// range wins. The record's limits annotation shows what applied.
		log.Warn().Strs("clamped", changed).Msg("action limits outside the system's range; clamped")
		a := *action
		a.Limits = limits
		action = &a
	}
	return p.run(ctx, msg, action, runtime, log)
}

// MsgRequestTooLarge is the application error of an activation record above the size limit, in the words
// of OpenWhisk's entity size check (Messages.entityTooBig with field "Request").
func MsgRequestTooLarge(size, limit int) string {
	return fmt.Sprintf("Request larger than allowed: %d > %d bytes.", size, limit)
}

// quitting reports whether Config.Quit is closed.
func (p *Path) quitting() bool {
	select {
	case <-p.cfg.Quit:
		return true
	default:
		return false
	}
}

// untilQuit is ctx, also cancelled when Config.Quit closes.
func (p *Path) untilQuit(ctx context.Context) (context.Context, context.CancelFunc) {
	qctx, cancel := context.WithCancel(ctx)
	if p.cfg.Quit != nil {
		go func() {
			select {
			case <-p.cfg.Quit:
				cancel()
			case <-qctx.Done():
			}
		}()
	}
	return qctx, cancel
}

func (p *Path) run(ctx context.Context, msg *wire.ActivationMessage, action *wire.Action, runtime *wire.RuntimeKind, log zerolog.Logger) Result {
	job := p.jobs.forActivation(msg, action, runtime, log)
	job.Withdraw = p.cfg.Quit
	split := action.LogsToBeCollected()
	controller := msg.RootControllerIndex.AsString

	// For a blocking split invocation the Result goes out as soon as /run returns; the Completion
	// follows after the logs, and only after the broker took the Result (ordering for the controller).
	// The callback makes one attempt: the container stays busy until it returns, so an outage must not
	// hold it. A Result the broker did not take is sent again below, before the Completion.
	resultDone := make(chan struct{})
	var resultAct *wire.WhiskActivation
	var resultErr error
	var onRunDone func(*Outcome)
	if msg.Blocking && split {
		onRunDone = func(o *Outcome) {
			defer close(resultDone)
			resultAct = p.buildActivation(msg, action, o)
			resultAct.Logs = []string{}
			sctx, cancel := context.WithTimeout(ctx, min(p.cfg.AckTimeout, firstResultAttempt))
			defer cancel()
			if resultErr = p.send(sctx, controller, wire.NewResultMessage(msg.TransID, resultAct)); resultErr != nil {
				log.Warn().Err(resultErr).Msg("result ack not taken by the broker; it is sent again before the completion")
			}
		}
	} else {
		close(resultDone)
	}

	o, err := p.runner.Run(ctx, job, onRunDone)
	if err != nil {
		if errors.Is(err, pool.ErrWithdrawn) || errors.Is(err, pool.ErrClosed) || ctx.Err() != nil || p.quitting() {
			if errors.Is(err, pool.ErrContainerHealth) {
				// FPC mode: its container failed before the action saw it; the caller hands it back.
				log.Info().Err(err).Msg("the activation's container failed before it started; not answered here")
				return ResultAbandoned
			}
			// Nothing ran: the invoker is stopping. No answer (a whisk error would blame nobody's fault on
			// the invoker): the next incarnation runs it.
			log.Info().Err(err).Msg("invoker stopping before the activation started; leaving it for redelivery")
			return ResultAbandoned
		}
		// /run never happened, so no Result went out: the answer is one Combined ack.
		resp := proxy.ErrorResponse(proxy.StatusWhiskError, proxy.MsgProvisionFailed)
		act := wire.FallbackActivation(msg, resp, p.nowMillis())
		act.Annotations = wire.Annotations(wire.AnnotationInput{
			Limits: action.Limits, Path: action.FullyQualifiedName(), Kind: action.Exec.Kind,
			CausedBySequence: msg.CausedBySequence(), Binding: msg.Action.Binding,
		})
		log.Error().Err(err).Msg("could not provision a container for the activation")
		return p.finishCombined(ctx, msg, act, log, ResultProvision)
	}
	if onRunDone != nil {
		select {
		case <-resultDone:
		default:
			// The runner reported an outcome without /run having returned (init failure, for one):
			// OpenWhisk answers such a blocking activation with one Combined ack.
			close(resultDone)
			act := p.buildActivation(msg, action, o)
			p.starts.record(msg, o.ContainerState)
			return p.finishCombined(ctx, msg, act, log, ResultRan)
		}
	}

	act := p.buildActivation(msg, action, o)
	p.starts.record(msg, o.ContainerState)
	log.Info().Str("status", act.Response.StatusName()).Str("start", o.ContainerState).
		Str("conflict", o.Conflict).Int64("durationMs", derefInt64(act.Duration)).
		Int("logLines", len(act.Logs)).Msg("activation finished")

	// The ack goes first, then the record: nothing but the Kafka commit waits for the record, and its
	// write is the heaviest step, which would otherwise compete with the ack's delivery.
	var ackErr error
	switch {
	case msg.Blocking && split:
		if resultErr != nil {
			if err := p.deliverAck(ctx, msg, wire.NewResultMessage(msg.TransID, resultAct), log); errors.Is(err, errStopped) {
				return ResultAbandoned
			}
		}
		ackErr = p.sendAck(ctx, msg, wire.NewCompletionMessage(msg.TransID, act, p.cfg.Instance), act, log)
	case msg.Blocking:
		ackErr = p.sendAck(ctx, msg, wire.NewCombinedMessage(msg.TransID, act, p.cfg.Instance), act, log)
	default:
		ackErr = p.sendAck(ctx, msg, wire.NewCompletionMessage(msg.TransID, act, p.cfg.Instance), act, log)
	}
	if ackErr != nil || p.storeRecord(ctx, msg, act, log) != nil {
		return ResultAbandoned
	}
	p.count(act)
	return ResultRan
}

// dependencyName is how the logs name a dependency.
var dependencyName = map[string]string{DependencyKafka: "kafka", DependencyStore: "artifact store"}

// firstResultAttempt bounds the Result ack's attempt while the container waits for it.
const firstResultAttempt = 5 * time.Second

// finishCombined answers with one Combined ack (shrunk when non-blocking) and stores the record; it
// returns r, or ResultAbandoned when the invoker stopped before both were delivered.
func (p *Path) finishCombined(ctx context.Context, msg *wire.ActivationMessage, act *wire.WhiskActivation, log zerolog.Logger, r Result) Result {
	ack := wire.NewCombinedMessage(msg.TransID, act, p.cfg.Instance)
	if !msg.Blocking {
		ack = ack.Shrink()
	}
	if p.sendAck(ctx, msg, ack, act, log) != nil || p.storeRecord(ctx, msg, act, log) != nil {
		return ResultAbandoned
	}
	p.count(act)
	return r
}

// sendAck delivers a slot-freeing ack (retrying while the broker is unavailable) and, with user events
// on, makes one attempt at its event (events are best effort, as in OpenWhisk). The error is errStopped
// when the invoker stopped first; an ack refused for good is logged and counted, not returned.
func (p *Path) sendAck(ctx context.Context, msg *wire.ActivationMessage, ack wire.Ack, act *wire.WhiskActivation, log zerolog.Logger) error {
	if err := p.deliverAck(ctx, msg, ack, log); errors.Is(err, errStopped) {
		return err
	}
	if !p.cfg.UserEvents {
		return nil
	}
	ev, ok := wire.ActivationEvent(act, p.cfg.Instance.Source(), msg.User.Namespace.UUID, p.nowMillis())
	if !ok {
		return nil
	}
	sctx, cancel := context.WithTimeout(ctx, p.cfg.AckTimeout)
	defer cancel()
	if err := p.acks.SendEvent(sctx, ev); err != nil {
		p.ackErrors.With("event").Inc()
		log.Warn().Err(err).Msg("could not send user event")
	}
	return nil
}

// deliverAck sends ack until the broker takes it. Only a refusal that cannot change (the record too
// large even shrunk, an invalid topic: errdefs.ErrInvalidArgument) ends it otherwise: logged and counted
// as a lost answer. errStopped when the invoker stopped first.
func (p *Path) deliverAck(ctx context.Context, msg *wire.ActivationMessage, ack wire.Ack, log zerolog.Logger) error {
	kind := ackKind(ack)
	err := p.persist(ctx, DependencyKafka, kind+" ack", p.cfg.AckTimeout, log, func(actx context.Context) error {
		return p.send(actx, msg.RootControllerIndex.AsString, ack)
	}, func(err error) bool { return !errdefs.IsInvalidArgument(err) })
	switch {
	case err == nil || errors.Is(err, errStopped):
		return err
	default:
		p.lost.With(kind).Inc()
		log.Error().Err(err).Str("ack", kind).Msg("the broker refused the ack for good; the controller will not get it")
		return err
	}
}

// ackKind is the metrics label of an ack.
func ackKind(ack wire.Ack) string {
	switch ack.(type) {
	case *wire.CombinedMessage:
		return "combined"
	case *wire.ResultMessage:
		return "result"
	default:
		return "completion"
	}
}

// send makes one attempt at sending ack, bounded by AckTimeout within ctx.
func (p *Path) send(ctx context.Context, controller string, ack wire.Ack) error {
	kind := ackKind(ack)
	sctx, cancel := context.WithTimeout(ctx, p.cfg.AckTimeout)
	defer cancel()
	if err := p.acks.SendAck(sctx, controller, ack); err != nil {
		p.ackErrors.With(kind).Inc()
		return err
	}
	p.ackCount.With(kind).Inc()
	return nil
}

// storeRecord writes the activation record unless the user opted out (limits.storeActivations false). A
// store outage of any length delays the record (and with it the commit of this offset) instead of
// losing it; an attempt that timed out may have written it, so a conflict counts as stored. A record the
// store refuses for good (a 4xx other than conflict) is logged and counted. errStopped when the invoker
// stopped first.
func (p *Path) storeRecord(ctx context.Context, msg *wire.ActivationMessage, act *wire.WhiskActivation, log zerolog.Logger) error {
	if s := msg.User.Limits.StoreActivations; s != nil && !*s {
		return nil
	}
	attempts := 0
	err := p.persist(ctx, DependencyStore, "activation record", p.cfg.StoreTimeout, log, func(actx context.Context) error {
		attempts++
		err := p.store.PutActivation(actx, act)
		if errdefs.IsConflict(err) {
			if attempts > 1 {
				log.Info().Msg("activation record already stored (an earlier attempt reached the store)")
			} else {
				log.Info().Msg("activation record already stored (redelivered record)")
			}
			return nil
		}
		return err
	}, storeTransient)
	switch {
	case err == nil || errors.Is(err, errStopped):
		return err
	default:
		p.lost.With("record").Inc()
		log.Error().Err(err).Msg("could not store the activation record: the store refused it")
		return nil
	}
}

// storeTransient: the store may answer differently later (unavailable, or the attempt's deadline).
func storeTransient(err error) bool {
	return errdefs.IsUnavailable(err) || errors.Is(err, context.DeadlineExceeded)
}

// persist runs attempt (each bounded by per) until it succeeds, fails in a way transient says will not
// change, or ctx ends. While attempts fail transiently the record counts as waiting for dep (Stalled,
// OnStall). It returns nil, the lasting error, or an error wrapping errStopped (ctx ended: the invoker
// stops) and the last failure.
func (p *Path) persist(ctx context.Context, dep, what string, per time.Duration, log zerolog.Logger,
	attempt func(context.Context) error, transient func(error) bool) error {
	backoff := p.cfg.RetryBackoff
	waiting := false
	var started time.Time
	defer func() {
		if waiting {
			if outage := p.stalls.end(dep, p.cfg.Now()); outage > 0 {
				log.Info().Str("dependency", dep).Dur("outage", outage).Msg("dependency available again")
			}
		}
	}()
	lastLog := time.Time{}
	for n := 1; ; n++ {
		actx, cancel := context.WithTimeout(ctx, per)
		err := attempt(actx)
		cancel()
		switch {
		case err == nil:
			if waiting {
				log.Info().Str("dependency", dep).Int("attempts", n).Dur("waited", p.cfg.Now().Sub(started)).
					Msg(what + " delivered after an outage")
			}
			return nil
		case ctx.Err() != nil:
			return fmt.Errorf("%w: %s: %w", errStopped, what, err)
		case !transient(err):
			return err
		}
		if !waiting {
			waiting, started = true, p.cfg.Now()
			if p.stalls.begin(dep, started) {
				log.Warn().Str("dependency", dep).Err(err).
					Msg(dependencyName[dep] + " unavailable: holding the feed and withholding pings until answers get through")
			}
		}
		p.retries.With(dep).Inc()
		if now := p.cfg.Now(); now.Sub(lastLog) >= 30*time.Second {
			lastLog = now
			log.Warn().Err(err).Str("dependency", dep).Int("attempt", n).Dur("retryIn", backoff).
				Msg(dependencyName[dep] + " unavailable; retrying the " + what)
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w: %s: %w", errStopped, what, err)
		case <-t.C:
		}
		backoff = min(2*backoff, p.cfg.MaxRetryBackoff)
	}
}

// reackIfRecorded re-sends the acks of an activation already in the store. It reports whether the record
// is finished by that (ResultDuplicate), or left for the next incarnation (ResultAbandoned). While the
// store is unavailable the lookup waits (startCtx ends it when the invoker quits): running an activation
// that may be recorded would answer it twice.
func (p *Path) reackIfRecorded(ctx, startCtx context.Context, msg *wire.ActivationMessage, log zerolog.Logger) (Result, bool) {
	var act *wire.WhiskActivation
	err := p.persist(startCtx, DependencyStore, "duplicate check", p.cfg.StoreTimeout, log, func(actx context.Context) error {
		a, err := p.store.GetActivation(actx, msg.User.Namespace.Name, msg.ActivationID)
		if errdefs.IsNotFound(err) {
			return nil
		}
		act = a
		return err
	}, storeTransient)
	switch {
	case errors.Is(err, errStopped):
		log.Info().Msg("invoker stopping during the duplicate check; leaving the record for redelivery")
		return ResultAbandoned, true
	case err != nil:
		// Cannot tell: running it again is the safe side (an answer beats a lost activation).
		log.Warn().Err(err).Msg("duplicate check failed; running the activation")
		return "", false
	case act == nil:
		return "", false
	}
	log.Warn().Msg("redelivered activation is already recorded; re-sending its ack instead of running it again")
	var ack wire.Ack
	if msg.Blocking {
		ack = wire.NewCombinedMessage(msg.TransID, act, p.cfg.Instance)
	} else {
		ack = wire.NewCompletionMessage(msg.TransID, act, p.cfg.Instance)
	}
	if err := p.deliverAck(ctx, msg, ack, log); errors.Is(err, errStopped) {
		return ResultAbandoned, true
	}
	return ResultDuplicate, true
}

// fetch reads the action, retrying while the store is unavailable (bounded by FetchTimeout, as OpenWhisk
// bounds it): a CouchDB outage delays activations before it fails them with "Action could not be
// fetched.". ctx ending (the invoker quits) ends it too; the caller checks which.
func (p *Path) fetch(ctx context.Context, msg *wire.ActivationMessage, log zerolog.Logger) (*wire.Action, error) {
	fctx, cancel := context.WithTimeout(ctx, p.cfg.FetchTimeout)
	defer cancel()
	rev := ""
	if msg.Revision != nil {
		rev = *msg.Revision
	}
	var a *wire.Action
	err := p.persist(fctx, DependencyStore, "action fetch", p.cfg.FetchTimeout, log, func(actx context.Context) error {
		var err error
		a, err = p.store.GetAction(actx, msg.Action.DocID(), rev)
		return err
	}, errdefs.IsUnavailable)
	if errors.Is(err, errStopped) {
		// The fetch window (or ctx) ended during an outage: keep the store's class for the answer.
		return nil, fmt.Errorf("%w: %w", errdefs.ErrUnavailable, err)
	}
	return a, err
}

// buildActivation is ContainerProxy.constructWhiskActivation (docs/protocol.md#activation-records).
func (p *Path) buildActivation(msg *wire.ActivationMessage, action *wire.Action, o *Outcome) *wire.WhiskActivation {
	start, end := o.Start, o.End
	if start.IsZero() {
		start = p.cfg.Now()
	}
	if end.IsZero() || end.Before(start) {
		end = start
	}
	var initMs *int64
	if o.InitDuration > 0 {
		ms := o.InitDuration.Milliseconds()
		initMs = &ms
		start = start.Add(-o.InitDuration)
	}
	waitStart := o.WaitStart
	if waitStart.IsZero() {
		waitStart = start
	}
	wait := waitStart.UnixMilli() - msg.TransID.StartMillis()
	if wait < 0 {
		wait = 0
	}
	startMs, endMs := start.UnixMilli(), end.UnixMilli()
	duration := endMs - startMs
	logs := o.Logs
	if logs == nil {
		logs = []string{}
	}
	return &wire.WhiskActivation{
		Namespace:    msg.User.Namespace.Name,
		Name:         action.Name,
		Subject:      msg.User.Subject,
		ActivationID: msg.ActivationID,
		Start:        startMs,
		End:          endMs,
		Cause:        msg.Cause,
		Response:     o.Response,
		Logs:         logs,
		Version:      action.Version,
		Publish:      false,
		Annotations: wire.Annotations(wire.AnnotationInput{
			Limits:           action.Limits,
			Path:             action.FullyQualifiedName(),
			Kind:             action.Exec.Kind,
			TimedOut:         o.TimedOut,
			CausedBySequence: msg.CausedBySequence(),
			InitTimeMs:       initMs,
			WaitTimeMs:       wait,
			Binding:          msg.Action.Binding,
		}),
		Duration: &duration,
	}
}

func (p *Path) count(act *wire.WhiskActivation) {
	p.activations.With(statusLabel(act.Response.StatusCode)).Inc()
}

func (p *Path) nowMillis() int64 { return p.cfg.Now().UnixMilli() }

func statusLabel(code int) string {
	switch code {
	case proxy.StatusSuccess:
		return "success"
	case proxy.StatusApplicationError:
		return "application_error"
	case proxy.StatusDeveloperError:
		return "developer_error"
	default:
		return "whisk_error"
	}
}

func resultText(r proxy.Response) string { return string(r.Result) }

func derefInt64(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

// fetchErrorResponse is the activation response OpenWhisk records when the action cannot be fetched
// (InvokerReactive.handleActivationMessage), by the error's class:
//   - not found → application error "Action could not be found or may have been deleted.";
//   - data loss (not an action, undecodable) → whisk error "Action version is not compatible and cannot
//     be invoked.";
//   - anything else (not executable here, store unavailable…) → whisk error "Action could not be fetched.".
func fetchErrorResponse(err error) proxy.Response {
	switch {
	case errdefs.IsNotFound(err):
		return proxy.ErrorResponse(proxy.StatusApplicationError, wire.MsgActionNotFound)
	case errdefs.IsDataLoss(err):
		return proxy.ErrorResponse(proxy.StatusWhiskError, wire.MsgVersionIncompatible)
	default:
		return proxy.ErrorResponse(proxy.StatusWhiskError, wire.MsgActionNotFetched)
	}
}
