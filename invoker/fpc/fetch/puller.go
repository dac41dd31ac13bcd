package fetch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/nemo-edge/nemo/invoker/fpc/activationpb"
	"github.com/nemo-edge/nemo/invoker/wire"
)

// Sentinel errors; every error a Puller returns wraps one of them.
var (
	// ErrActionMismatch: the scheduler's queue holds another revision (the action was updated). The container
	// must stop; the new queue creates new containers.
	ErrActionMismatch = errors.New("fetch: action version does not match the scheduler's queue")
	// ErrNoQueue: no scheduler has a queue for the action (NoMemoryQueue, or errors, also after looking up the
	// queue's leader and reconnecting MaxReconnects times). The container must stop.
	ErrNoQueue = errors.New("fetch: no scheduler queue for the action")
	// ErrTransport: a gRPC call failed (the puller reconnects by itself; this surfaces only with ErrNoQueue
	// or from Reschedule).
	ErrTransport = errors.New("fetch: gRPC call failed")
	// ErrClosed: the puller was closed.
	ErrClosed = errors.New("fetch: puller closed")
)

// LeaderLookup finds the scheduler that currently holds an action's queue: the value of
// C/queue/<ns>/<fqn>/leader in etcd. found is false when the key does not exist.
type LeaderLookup interface {
	QueueLeader(ctx context.Context, invocationNamespace string, action wire.FullyQualifiedName) (ep wire.SchedulerEndpoints, found bool, err error)
}

// Config describes one container's pull.
type Config struct {
	InvocationNamespace string
	Action              wire.FullyQualifiedName // as the creation message gave it (version and binding included)
	Revision            *string
	ContainerID         string
	Scheduler           string // host:port of the scheduler named in the creation message

	// FetchTimeout bounds one FetchActivation call. The scheduler holds a call for up to 1 s, so the default
	// (10 s) only trips on a scheduler that hangs.
	FetchTimeout time.Duration
	// RescheduleTimeout bounds RescheduleActivation (10 s, the JVM proxy's Rescheduling state timeout).
	RescheduleTimeout time.Duration
	// GoodbyeTimeout bounds the final alive=false fetch on Close (default 2 s).
	GoodbyeTimeout time.Duration
	// MaxReconnects is how many leader look-ups in a row may fail to yield a working queue before
	// ErrNoQueue (default 5), and ReconnectBackoff the first wait between them, doubled each time (100 ms).
	MaxReconnects    int
	ReconnectBackoff time.Duration
}

func (c *Config) defaults() {
	if c.FetchTimeout <= 0 {
		c.FetchTimeout = 10 * time.Second
	}
	if c.RescheduleTimeout <= 0 {
		c.RescheduleTimeout = 10 * time.Second
	}
	if c.GoodbyeTimeout <= 0 {
		c.GoodbyeTimeout = 2 * time.Second
	}
	if c.MaxReconnects <= 0 {
		c.MaxReconnects = 5
	}
	if c.ReconnectBackoff <= 0 {
		c.ReconnectBackoff = 100 * time.Millisecond
	}
}

// Result is one fetch's outcome: an activation, or Idle (NoActivationMessage: nothing within the long poll).
type Result struct {
	Activation *wire.ActivationMessage
	Raw        json.RawMessage // the activation as received, for RescheduleActivation
	Idle       bool
}

// Puller is one container's side of the ActivationService: it fetches on the container's behalf with the
// container's state (warmed, lastDuration, alive), follows the queue to its leader when the scheduler answers
// NoMemoryQueue or fails, and says goodbye on Close. Fetch may be called from several goroutines at once (an
// action with concurrency > 1 keeps that many fetches outstanding); all share one connection per scheduler
// through Conns.
type Puller struct {
	cfg    Config
	conns  *Conns
	leader LeaderLookup
	clock  Clock
	log    zerolog.Logger
	fqn    string
	rev    string

	mu      sync.Mutex
	target  string
	client  activationpb.ActivationServiceClient
	warmed  bool
	closed  bool
	tidSeq  int64
	changes int // reconnects done, for tests and logs
}

// NewPuller acquires the connection to cfg.Scheduler.
func NewPuller(cfg Config, conns *Conns, leader LeaderLookup, clock Clock, log zerolog.Logger) (*Puller, error) {
	cfg.defaults()
	if clock == nil {
		clock = RealClock{}
	}
	client, err := conns.Acquire(cfg.Scheduler)
	if err != nil {
		return nil, err
	}
	p := &Puller{cfg: cfg, conns: conns, leader: leader, clock: clock, target: cfg.Scheduler, client: client,
		fqn: wire.FQNText(cfg.Action), rev: wire.RevisionText(cfg.Revision),
		log: log.With().Str("component", "fpc-fetch").Str("container", cfg.ContainerID).
			Str("action", cfg.InvocationNamespace+"/"+cfg.Action.String()).Logger()}
	return p, nil
}

// Scheduler is the host:port currently pulled from.
func (p *Puller) Scheduler() string { p.mu.Lock(); defer p.mu.Unlock(); return p.target }

// Reconnects is how many times the puller moved to another connection.
func (p *Puller) Reconnects() int { p.mu.Lock(); defer p.mu.Unlock(); return p.changes }

// SetWarmed records that the container completed /init: later fetches say warmed=true, which the scheduler
// serves first.
func (p *Puller) SetWarmed() { p.mu.Lock(); p.warmed = true; p.mu.Unlock() }

// Redirect points the puller at another scheduler (a resumed container's new creation message may name one).
func (p *Puller) Redirect(target string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrClosed
	}
	return p.switchLocked(target)
}

func (p *Puller) switchLocked(target string) error {
	if target == p.target {
		return nil
	}
	client, err := p.conns.Acquire(target)
	if err != nil {
		return err
	}
	p.conns.Release(p.target)
	p.target, p.client = target, client
	p.changes++
	return nil
}

func (p *Puller) transactionID() string {
	p.tidSeq++
	tid := wire.NewTransID(fmt.Sprintf("fpc-%s-%d", shortID(p.cfg.ContainerID), p.tidSeq), p.clock.Now().UnixMilli())
	return string(tid.Raw)
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

func (p *Puller) request(lastDuration time.Duration, hasDuration, alive bool) (*activationpb.FetchRequest, activationpb.ActivationServiceClient, string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed && alive {
		return nil, nil, "", ErrClosed
	}
	r := &activationpb.FetchRequest{
		TransactionId:       p.transactionID(),
		InvocationNamespace: p.cfg.InvocationNamespace,
		Fqn:                 p.fqn,
		Rev:                 p.rev,
		ContainerId:         p.cfg.ContainerID,
		Warmed:              p.warmed,
		Alive:               alive,
	}
	if hasDuration {
		r.LastDuration = wrapperspb.Int64(lastDuration.Milliseconds())
	}
	return r, p.client, p.target, nil
}

// Fetch asks for the next activation. lastDuration is the duration of the run that just finished (pass a
// negative value when there was none). It returns an activation, Idle, or an error wrapping ErrActionMismatch,
// ErrNoQueue, ErrClosed, or the context's error. A response that does not parse is logged and fetched again,
// as the JVM client does.
func (p *Puller) Fetch(ctx context.Context, lastDuration time.Duration) (Result, error) {
	hasDuration := lastDuration >= 0
	failures := 0
	backoff := p.cfg.ReconnectBackoff
	for {
		req, client, target, err := p.request(lastDuration, hasDuration, true)
		if err != nil {
			return Result{}, err
		}
		cctx, cancel := context.WithTimeout(ctx, p.cfg.FetchTimeout)
		resp, err := client.FetchActivation(cctx, req)
		cancel()
		if ctx.Err() != nil {
			return Result{}, ctx.Err()
		}
		var res wire.FetchResult
		if err == nil {
			res, err = wire.ParseFetchResponse([]byte(resp.GetActivationMessage()))
			if err != nil {
				p.log.Error().Err(err).Msg("unreadable fetch response, fetching again")
				continue
			}
			switch res.Error {
			case "":
				return Result{Activation: res.Activation, Raw: res.Raw}, nil
			case wire.FetchNoActivation:
				return Result{Idle: true}, nil
			case wire.FetchActionMismatch:
				return Result{}, fmt.Errorf("%w: %s at %s", ErrActionMismatch, p.rev, target)
			}
			p.log.Warn().Str("scheduler", target).Msg("no queue at this scheduler, looking up the queue's leader")
		} else {
			p.log.Warn().Err(err).Str("scheduler", target).Msg("fetch failed, looking up the queue's leader")
		}
		// NoMemoryQueue or a gRPC error: find the leader and go on there.
		failures++
		if failures > p.cfg.MaxReconnects {
			if err == nil {
				err = errors.New("NoMemoryQueue")
			}
			return Result{}, fmt.Errorf("%w: gave up after %d attempts, last at %s: %v", ErrNoQueue, failures, target, err)
		}
		if err := p.followLeader(ctx); err != nil {
			p.log.Warn().Err(err).Msg("queue leader look-up failed")
		}
		hasDuration = false // reported once is enough; the retry is a plain fetch
		select {
		case <-ctx.Done():
			return Result{}, ctx.Err()
		case <-p.clock.After(backoff):
		}
		backoff *= 2
	}
}

func (p *Puller) followLeader(ctx context.Context) error {
	if p.leader == nil {
		return errors.New("no leader look-up configured")
	}
	lctx, cancel := context.WithTimeout(ctx, p.cfg.FetchTimeout)
	defer cancel()
	ep, found, err := p.leader.QueueLeader(lctx, p.cfg.InvocationNamespace, p.cfg.Action)
	if err != nil {
		return err
	}
	if !found {
		return errors.New("the queue has no leader key")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrClosed
	}
	if ep.Target() != p.target {
		p.log.Info().Str("from", p.target).Str("to", ep.Target()).Msg("pulling from the queue's new leader")
	}
	return p.switchLocked(ep.Target())
}

// Reschedule hands an activation back to its queue (RescheduleActivation). It reports whether the scheduler
// took it; the caller completes the activation with a whisk error when it did not.
func (p *Puller) Reschedule(ctx context.Context, raw json.RawMessage) (bool, error) {
	p.mu.Lock()
	client, target := p.client, p.target
	p.mu.Unlock()
	cctx, cancel := context.WithTimeout(ctx, p.cfg.RescheduleTimeout)
	defer cancel()
	resp, err := client.RescheduleActivation(cctx, &activationpb.RescheduleRequest{
		InvocationNamespace: p.cfg.InvocationNamespace, Fqn: p.fqn, Rev: p.rev, ActivationMessage: string(raw)})
	if err != nil {
		return false, fmt.Errorf("%w: reschedule at %s: %v", ErrTransport, target, err)
	}
	return resp.GetIsRescheduled(), nil
}

// Close ends the pull: it sends the goodbye fetch (alive=false, so the scheduler forgets the container at
// once) and releases the connection. Should the goodbye come back with an activation, it is handed back with
// RescheduleActivation rather than lost. Further Fetch calls fail with ErrClosed. Close is idempotent.
func (p *Puller) Close(ctx context.Context) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.mu.Unlock()
	req, client, target, _ := p.request(0, false, false)
	gctx, cancel := context.WithTimeout(ctx, p.cfg.GoodbyeTimeout)
	resp, err := client.FetchActivation(gctx, req)
	cancel()
	var result error
	if err != nil {
		result = fmt.Errorf("%w: goodbye fetch at %s: %v", ErrTransport, target, err)
	} else if res, perr := wire.ParseFetchResponse([]byte(resp.GetActivationMessage())); perr == nil && res.Activation != nil {
		ok, rerr := p.Reschedule(ctx, res.Raw)
		if rerr != nil || !ok {
			result = fmt.Errorf("%w: the goodbye fetch returned activation %s and rescheduling it failed: %v",
				ErrTransport, res.Activation.ActivationID, rerr)
		}
	}
	p.conns.Release(target)
	return result
}

// Handler is what a container does with what its loop pulls.
type Handler interface {
	// Run runs one activation and returns its duration (reported with the next fetch) and whether the
	// container is now initialised (warmed).
	Run(ctx context.Context, res Result) (duration time.Duration, warmed bool)
	// Idle is told of a NoActivationMessage; returning false ends the loop (the container timed out and is
	// to be paused or removed).
	Idle() bool
}

// Loop is the container's long-poll loop: fetch, run, fetch again with lastDuration; on NoActivationMessage it
// asks h whether to go on. It returns nil when h ends it, or the error that stopped the pull (ErrActionMismatch,
// ErrNoQueue, ErrClosed, the context's). An action with concurrency c runs c loops on one Puller.
func (p *Puller) Loop(ctx context.Context, h Handler) error {
	last := time.Duration(-1)
	for {
		res, err := p.Fetch(ctx, last)
		if err != nil {
			return err
		}
		if res.Idle {
			last = -1
			if !h.Idle() {
				return nil
			}
			continue
		}
		d, warmed := h.Run(ctx, res)
		if warmed {
			p.SetWarmed()
		}
		last = d
	}
}
