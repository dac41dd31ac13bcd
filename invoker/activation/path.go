package activation

import (
	"context"
	"fmt"
	"time"

	"github.com/containerd/errdefs"
	"github.com/rs/zerolog"

	"github.com/nemo-edge/nemo/invoker/metrics"
	"github.com/nemo-edge/nemo/invoker/wire"
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
	// StoreTimeout bounds storing the activation record (and the duplicate lookup). Default 30 s.
	StoreTimeout time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// KamonTags spells OpenWhisk's container-start metric with tags (METRICS_KAMON_TAGS; owmetrics.go).
	KamonTags bool
}

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
	ResultInvalid      Result = "invalid"   // unparseable or oversized: logged, no ack
	ResultDuplicate    Result = "duplicate" // already recorded: acks re-sent, not re-run
	ResultBlocked      Result = "blocked"   // blacklisted namespace: application error ack, not stored
	ResultFetchFailed  Result = "fetch-failed"
	ResultProvision    Result = "provision-failed"
	ResultUnlockFailed Result = "unlock-failed" // locked parameters could not be decrypted: whisk error
	ResultRan          Result = "ran"
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
	}
}

// Process handles one record to the end: when it returns, the record's acks were sent (or could not
// be, which is logged) and its activation is stored, so the caller may mark the record done.
func (p *Path) Process(ctx context.Context, it Item) Result {
	r := p.process(ctx, it)
	p.results.With(string(r)).Inc()
	return r
}

func (p *Path) process(ctx context.Context, it Item) Result {
	if len(it.Value) > p.cfg.MaxMessageBytes {
		p.log.Error().Int("bytes", len(it.Value)).Int("limit", p.cfg.MaxMessageBytes).
			Msg("terminal failure while processing message: record exceeds the activation size limit; no ack possible")
		return ResultInvalid
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

	if it.MaybeRedelivered {
		if done := p.reackIfRecorded(ctx, msg, log); done {
			return ResultDuplicate
		}
	}

	if p.cfg.Blocked != nil && p.cfg.Blocked(msg.User.Namespace.Name) {
		act := wire.FallbackActivation(msg, proxy.ErrorResponse(proxy.StatusApplicationError, wire.MsgBlacklisted), p.nowMillis())
		log.Warn().Str("namespace", msg.User.Namespace.Name).Msg("namespace is blacklisted; not invoked, not stored")
		// Blacklist acks are always sent as for a non-blocking invocation: shrunk.
		p.sendAck(ctx, msg, wire.NewCombinedMessage(msg.TransID, act, p.cfg.Instance).Shrink(), act, log)
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
			p.finishCombined(ctx, msg, act, log)
			return ResultUnlockFailed
		}
	}

	action, err := p.fetch(ctx, msg, log)
	if err != nil {
		resp := fetchErrorResponse(err)
		act := wire.FallbackActivation(msg, resp, p.nowMillis())
		log.Error().Err(err).Str("result", resultText(resp)).Msg("action fetch failed")
		p.finishCombined(ctx, msg, act, log)
		return ResultFetchFailed
	}
	runtime, err := p.cfg.Manifest.ResolveExec(&action.Exec)
	if err != nil {
		act := wire.FallbackActivation(msg, proxy.ErrorResponse(proxy.StatusWhiskError, wire.MsgVersionIncompatible), p.nowMillis())
		log.Error().Err(err).Str("kind", action.Exec.Kind).Msg("action kind is not in the runtimes manifest")
		p.finishCombined(ctx, msg, act, log)
		return ResultFetchFailed
	}
	return p.run(ctx, msg, action, runtime, log)
}

func (p *Path) run(ctx context.Context, msg *wire.ActivationMessage, action *wire.Action, runtime *wire.RuntimeKind, log zerolog.Logger) Result {
	job := p.jobs.forActivation(msg, action, runtime, log)
	split := action.LogsToBeCollected()

	// For a blocking split invocation the Result goes out as soon as /run returns; the Completion
	// follows after the logs, and only after the Result send returned (ordering for the controller).
	resultSent := make(chan struct{})
	var onRunDone func(*Outcome)
	if msg.Blocking && split {
		onRunDone = func(o *Outcome) {
			defer close(resultSent)
			act := p.buildActivation(msg, action, o)
			act.Logs = []string{}
			if err := p.send(ctx, msg.RootControllerIndex.AsString, wire.NewResultMessage(msg.TransID, act)); err != nil {
				log.Error().Err(err).Msg("could not send result ack")
			}
		}
	} else {
		close(resultSent)
	}

	o, err := p.runner.Run(ctx, job, onRunDone)
	if err != nil {
		// /run never happened, so no Result went out: the answer is one Combined ack.
		resp := proxy.ErrorResponse(proxy.StatusWhiskError, proxy.MsgProvisionFailed)
		act := wire.FallbackActivation(msg, resp, p.nowMillis())
		act.Annotations = wire.Annotations(wire.AnnotationInput{
			Limits: action.Limits, Path: action.FullyQualifiedName(), Kind: action.Exec.Kind,
			CausedBySequence: msg.CausedBySequence(), Binding: msg.Action.Binding,
		})
		log.Error().Err(err).Msg("could not provision a container for the activation")
		p.finishCombined(ctx, msg, act, log)
		return ResultProvision
	}
	if onRunDone != nil {
		select {
		case <-resultSent:
		default:
			// The runner reported an outcome without /run having returned (init failure, for one):
			// OpenWhisk answers such a blocking activation with one Combined ack.
			close(resultSent)
			act := p.buildActivation(msg, action, o)
			p.starts.record(msg, o.ContainerState)
			p.finishCombined(ctx, msg, act, log)
			return ResultRan
		}
	}

	act := p.buildActivation(msg, action, o)
	p.starts.record(msg, o.ContainerState)
	log.Info().Str("status", act.Response.StatusName()).Str("start", o.ContainerState).
		Str("conflict", o.Conflict).Int64("durationMs", derefInt64(act.Duration)).
		Int("logLines", len(act.Logs)).Msg("activation finished")

	// The ack goes first, then the record: nothing but the Kafka commit waits for the record, and its
	// write is the heaviest step, which would otherwise compete with the ack's delivery.
	switch {
	case msg.Blocking && split:
		<-resultSent
		p.sendAck(ctx, msg, wire.NewCompletionMessage(msg.TransID, act, p.cfg.Instance), act, log)
	case msg.Blocking:
		p.sendAck(ctx, msg, wire.NewCombinedMessage(msg.TransID, act, p.cfg.Instance), act, log)
	default:
		p.sendAck(ctx, msg, wire.NewCompletionMessage(msg.TransID, act, p.cfg.Instance), act, log)
	}
	p.storeRecord(ctx, msg, act, log)
	p.count(act)
	return ResultRan
}

// finishCombined answers with one Combined ack (shrunk when non-blocking) and stores the record.
func (p *Path) finishCombined(ctx context.Context, msg *wire.ActivationMessage, act *wire.WhiskActivation, log zerolog.Logger) {
	ack := wire.NewCombinedMessage(msg.TransID, act, p.cfg.Instance)
	if !msg.Blocking {
		ack = ack.Shrink()
	}
	p.sendAck(ctx, msg, ack, act, log)
	p.storeRecord(ctx, msg, act, log)
	p.count(act)
}

// sendAck sends a slot-freeing ack and, with user events on, its event.
func (p *Path) sendAck(ctx context.Context, msg *wire.ActivationMessage, ack wire.Ack, act *wire.WhiskActivation, log zerolog.Logger) {
	kind := ackKind(ack)
	if err := p.send(ctx, msg.RootControllerIndex.AsString, ack); err != nil {
		log.Error().Err(err).Str("ack", kind).Msg("could not send ack")
	}
	if !p.cfg.UserEvents {
		return
	}
	ev, ok := wire.ActivationEvent(act, p.cfg.Instance.Source(), msg.User.Namespace.UUID, p.nowMillis())
	if !ok {
		return
	}
	sctx, cancel := context.WithTimeout(ctx, p.cfg.AckTimeout)
	defer cancel()
	if err := p.acks.SendEvent(sctx, ev); err != nil {
		p.ackErrors.With("event").Inc()
		log.Warn().Err(err).Msg("could not send user event")
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

// storeRecord writes the activation record unless the user opted out (limits.storeActivations false).
func (p *Path) storeRecord(ctx context.Context, msg *wire.ActivationMessage, act *wire.WhiskActivation, log zerolog.Logger) {
	if s := msg.User.Limits.StoreActivations; s != nil && !*s {
		return
	}
	sctx, cancel := context.WithTimeout(ctx, p.cfg.StoreTimeout)
	defer cancel()
	// A CouchDB outage delays the record (and with it the commit of this offset) instead of losing it.
	backoff := 100 * time.Millisecond
	for {
		err := p.store.PutActivation(sctx, act)
		switch {
		case err == nil:
			return
		case errdefs.IsConflict(err):
			log.Info().Msg("activation record already stored (redelivered record)")
			return
		case errdefs.IsUnavailable(err) && sctx.Err() == nil:
			log.Warn().Err(err).Dur("retryIn", backoff).Msg("artifact store unavailable; retrying the activation record")
			select {
			case <-sctx.Done():
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 2*time.Second)
		default:
			log.Error().Err(err).Msg("could not store the activation record")
			return
		}
	}
}

// reackIfRecorded re-sends the acks of an activation already in the store. It reports whether it did.
func (p *Path) reackIfRecorded(ctx context.Context, msg *wire.ActivationMessage, log zerolog.Logger) bool {
	sctx, cancel := context.WithTimeout(ctx, p.cfg.StoreTimeout)
	defer cancel()
	act, err := p.store.GetActivation(sctx, msg.User.Namespace.Name, msg.ActivationID)
	switch {
	case errdefs.IsNotFound(err):
		return false
	case err != nil:
		// Cannot tell: running it again is the safe side (an answer beats a lost activation).
		log.Warn().Err(err).Msg("duplicate check failed; running the activation")
		return false
	}
	log.Warn().Msg("redelivered activation is already recorded; re-sending its ack instead of running it again")
	var ack wire.Ack
	if msg.Blocking {
		ack = wire.NewCombinedMessage(msg.TransID, act, p.cfg.Instance)
	} else {
		ack = wire.NewCompletionMessage(msg.TransID, act, p.cfg.Instance)
	}
	if err := p.send(ctx, msg.RootControllerIndex.AsString, ack); err != nil {
		log.Error().Err(err).Msg("could not re-send ack of a recorded activation")
	}
	return true
}

// fetch reads the action, retrying while the store is unavailable (bounded by FetchTimeout): a
// CouchDB outage delays activations instead of failing them at once.
func (p *Path) fetch(ctx context.Context, msg *wire.ActivationMessage, log zerolog.Logger) (*wire.Action, error) {
	fctx, cancel := context.WithTimeout(ctx, p.cfg.FetchTimeout)
	defer cancel()
	rev := ""
	if msg.Revision != nil {
		rev = *msg.Revision
	}
	backoff := 100 * time.Millisecond
	for {
		a, err := p.store.GetAction(fctx, msg.Action.DocID(), rev)
		if err == nil || !errdefs.IsUnavailable(err) {
			return a, err
		}
		log.Warn().Err(err).Dur("retryIn", backoff).Msg("artifact store unavailable; retrying the action fetch")
		select {
		case <-fctx.Done():
			return nil, fmt.Errorf("%w: %w", err, fctx.Err())
		case <-time.After(backoff):
		}
		if backoff < 2*time.Second {
			backoff *= 2
		}
	}
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
