package messaging

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"
	"github.com/rs/zerolog"
)

// Handler processes one record. It may return before the work is finished, but it (or whatever it hands
// the record to) must call rec.Done() exactly once when the record is finished, including for records it
// cannot parse, or rec.Release() when the process stops before the record is finished. The ctx is
// cancelled only when the feed gives up waiting at shutdown (Config.DrainTimeout).
type Handler func(ctx context.Context, rec *Record)

// Record is one Kafka record handed to the Handler.
type Record struct {
	Topic     string
	Partition int32
	Offset    int64
	Value     []byte
	Timestamp time.Time

	feed *Feed
	once sync.Once
}

// Done frees the record's capacity slot and lets the feed commit past it once every earlier record of its
// partition is done too. Calling it (or Release) more than once has no further effect.
func (r *Record) Done() {
	r.once.Do(func() { r.feed.done(r, true) })
}

// Release frees the record's capacity slot without finishing it: the commit point stays at or below the
// record, so the next consumer of the group gets it (and everything after it) again. It is for a process
// that stops before the record is finished (a graceful shutdown leaves work that has not started for
// redelivery); this process does not hand the record out again. Calling it after Done has no effect.
func (r *Record) Release() {
	r.once.Do(func() { r.feed.done(r, false) })
}

// consumerGroup is the part of a sarama consumer group (plus its client) the feed uses; tests substitute
// a fake to drive sessions and errors directly.
type consumerGroup interface {
	Consume(ctx context.Context, topics []string, handler sarama.ConsumerGroupHandler) error
	Errors() <-chan error
	PauseAll()
	ResumeAll()
	// Offsets returns a partition's log start offset and high water mark.
	Offsets(topic string, partition int32) (oldest, newest int64, err error)
	Close() error
}

// Delays of the consume loop (docs/protocol.md#consumer: a retriable poll error is retried 3× 100 ms apart,
// anything else recreates the consumer).
const (
	consumeRetries      = 3
	consumeRetryBackoff = 100 * time.Millisecond
	recreateBackoff     = time.Second
	offsetsRefresh      = time.Second
	// offsetsBrokerRefresh is how often the log bounds are asked of the broker while fetches bring them
	// (two requests per partition: at every offsetsRefresh they were most of what an idle invoker did).
	offsetsBrokerRefresh = 15 * time.Second
)

// Feed consumes the invoker's topic with the consumer group of the same name, hands at most capacity
// records at a time to the Handler and commits only offsets below which every record is done. See doc.go
// for the delivery semantics.
type Feed struct {
	cfg      Config
	topic    string
	capacity int
	handler  Handler
	log      zerolog.Logger
	open     func() (consumerGroup, error)

	recreateBackoff time.Duration

	mu       sync.Mutex
	changed  chan struct{} // closed and replaced on every state change below; waiters re-check
	group    consumerGroup // current group; nil while being (re)created
	paused   bool          // /disable
	held     bool          // back-pressure: what records are waiting on is unavailable
	stopping bool
	crashed  bool // test hook: behave like a killed process (no more commits)
	inFlight int
	released int // records given back unfinished (Release), left for the next consumer
	tracker  *offsetTracker

	running    atomic.Bool
	handlerCtx context.Context
	// finished wakes the session's commit loop when a record is done: an idle feed has nothing to commit
	// and so no timer to wake for.
	finished chan struct{}
	// commitChecks counts commit attempts (the commit loop's wake-ups), for tests.
	commitChecks atomic.Int64
}

// NewFeed connects to Kafka and prepares a feed of cfg.InvokerTopic() with the given capacity (usually
// MaxPeek). It fails with an ErrUnavailable error when no broker answers (bounded by cfg.DialTimeout and
// sarama's metadata retries, about a second for a refused connection): the invoker cannot start without
// Kafka, like OpenWhisk's. Outages after this are retried inside Run.
func NewFeed(cfg Config, capacity int, handler Handler, log zerolog.Logger) (*Feed, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if capacity < 1 {
		return nil, fmt.Errorf("%w: feed capacity %d < 1", ErrConfig, capacity)
	}
	if handler == nil {
		return nil, fmt.Errorf("%w: nil feed handler", ErrConfig)
	}
	scfg := cfg.consumerConfig(capacity)
	if err := scfg.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	open := func() (consumerGroup, error) {
		g, err := openSaramaGroup(cfg.Brokers, cfg.InvokerTopic(), scfg)
		if err != nil {
			return nil, err // not a typed nil in the interface
		}
		return g, nil
	}
	f := newFeed(cfg, capacity, handler, log, open)
	g, err := open()
	if err != nil {
		return nil, fmt.Errorf("%w: consumer group %s at %v: %w", ErrUnavailable, f.topic, cfg.Brokers, err)
	}
	f.group = g
	return f, nil
}

func newFeed(cfg Config, capacity int, handler Handler, log zerolog.Logger, open func() (consumerGroup, error)) *Feed {
	return &Feed{
		cfg:             cfg,
		topic:           cfg.InvokerTopic(),
		capacity:        capacity,
		handler:         handler,
		log:             log.With().Str("component", "feed").Str("topic", cfg.InvokerTopic()).Logger(),
		open:            open,
		recreateBackoff: recreateBackoff,
		finished:        make(chan struct{}, 1),
		changed:         make(chan struct{}),
		tracker:         newOffsetTracker(),
		handlerCtx:      context.Background(),
	}
}

// Run consumes until ctx is done; it returns only then (nil), or at once if called twice. Kafka errors
// are logged and retried: retriable ones up to 3 times 100 ms apart on the same group, then (and for any
// other error) the group is closed and created again 1 s later.
//
// When ctx is done Run stops handing out records, waits up to Config.DrainTimeout for in-flight records to
// call Done, commits the contiguous done prefix, leaves the group and returns. Handlers still running
// after that see their ctx cancelled.
func (f *Feed) Run(ctx context.Context) error {
	if !f.running.CompareAndSwap(false, true) {
		return fmt.Errorf("%w: feed %s is already running", ErrConfig, f.topic)
	}
	handlerCtx, cancelHandlers := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelHandlers()
	consumeCtx, stopConsume := context.WithCancel(context.WithoutCancel(ctx))
	defer stopConsume()
	f.mu.Lock()
	f.handlerCtx = handlerCtx
	f.mu.Unlock()

	loopDone := make(chan struct{})
	go func() {
		defer close(loopDone)
		f.consumeLoop(consumeCtx)
	}()

	<-ctx.Done()
	f.mu.Lock()
	f.stopping = true
	if f.group != nil {
		f.group.PauseAll()
	}
	crashed := f.crashed
	f.notifyLocked()
	f.mu.Unlock()
	if !crashed {
		f.drain(f.cfg.DrainTimeout)
	}
	stopConsume() // ends the session: Cleanup commits, then the group is closed
	<-loopDone
	f.mu.Lock()
	inFlight, released := f.inFlight, f.released
	f.mu.Unlock()
	f.log.Info().Int("inFlight", inFlight).Int("released", released).Msg("feed stopped")
	return nil
}

// Close releases the Kafka connection of a feed whose Run was never called (Run closes it itself).
func (f *Feed) Close() error {
	if !f.running.CompareAndSwap(false, true) {
		return nil
	}
	f.mu.Lock()
	g := f.group
	f.group = nil
	f.mu.Unlock()
	if g == nil {
		return nil
	}
	return g.Close()
}

// Pause stops handing out records (for /disable). Records already handed out keep running and are
// committed when done. Fetching stops as well, apart from what is already buffered (≤ capacity).
func (f *Feed) Pause() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.paused = true
	f.applyPauseLocked()
	f.notifyLocked()
}

// Resume undoes Pause (for /enable). A feed that is also held stays held.
func (f *Feed) Resume() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.paused = false
	f.applyPauseLocked()
	f.notifyLocked()
}

// SetHeld(true) stops handing out records because what the records in flight wait for (the broker for their acks,
// the store for their records) is unavailable: back-pressure instead of taking work that cannot be
// answered. Records in flight keep running. Unlike Pause it is not an operator's switch: the activation
// path holds and releases it (SetHeld(false)) as outages begin and end.
func (f *Feed) SetHeld(held bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.held == held {
		return
	}
	f.held = held
	f.applyPauseLocked()
	f.notifyLocked()
	if held {
		f.log.Warn().Int("inFlight", f.inFlight).Msg("holding the feed: records in flight wait for an unavailable dependency")
	} else {
		f.log.Info().Msg("releasing the feed: the dependencies answer again")
	}
}

// Held reports whether the feed is held (SetHeld).
func (f *Feed) Held() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.held
}

// applyPauseLocked pauses or resumes fetching to match paused, held and stopping. f.mu must be held.
func (f *Feed) applyPauseLocked() {
	if f.group == nil {
		return
	}
	if f.paused || f.held || f.stopping {
		f.group.PauseAll()
	} else {
		f.group.ResumeAll()
	}
}

// Paused reports whether the feed is paused.
func (f *Feed) Paused() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.paused
}

// InFlight is the number of records handed out and not yet Done.
func (f *Feed) InFlight() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.inFlight
}

// Capacity is the most records in flight at once.
func (f *Feed) Capacity() int { return f.capacity }

// Lag is the high water mark minus the commit point, summed over the claimed partitions: records not yet
// handed out plus those in flight (and done ones above an unfinished one). The high water mark is
// refreshed from fetches and about once a second, so it may trail by that much.
func (f *Feed) Lag() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.tracker.lag()
}

// CommitPoint is the next offset the feed will commit (or has committed) for partition p; -1 if unknown.
func (f *Feed) CommitPoint(p int32) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.tracker.commitPoint(p)
}

func (f *Feed) notifyLocked() {
	close(f.changed)
	f.changed = make(chan struct{})
}

// drain waits until nothing is in flight or d has passed.
func (f *Feed) drain(d time.Duration) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		f.mu.Lock()
		n, ch := f.inFlight, f.changed
		f.mu.Unlock()
		if n == 0 {
			return
		}
		select {
		case <-ch:
		case <-timer.C:
			f.log.Warn().Int("inFlight", n).Dur("waited", d).
				Msg("records still running at shutdown: they will be redelivered to the next consumer")
			return
		}
	}
}

// done frees r's slot; finished marks it done for the commit point (Done), otherwise it stays pending
// and holds the commit point (Release).
func (f *Feed) done(r *Record, finished bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if finished {
		f.tracker.done(r.Partition, r.Offset)
		select {
		case f.finished <- struct{}{}:
		default: // a wake-up is pending already
		}
	} else {
		f.released++
	}
	f.inFlight--
	f.notifyLocked()
}

// crash makes the feed behave like a killed process from now on: no more offsets are marked or
// committed and Run does not drain. Tests use it to check redelivery after an unclean stop.
func (f *Feed) crash() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.crashed = true
	f.notifyLocked()
}

func (f *Feed) setGroup(g consumerGroup) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.group = g
	if g != nil && (f.paused || f.held || f.stopping) {
		g.PauseAll()
	}
}

func (f *Feed) consumeLoop(ctx context.Context) {
	f.mu.Lock()
	g := f.group
	f.mu.Unlock()
	defer func() {
		if g != nil {
			f.setGroup(nil)
			if err := g.Close(); err != nil {
				f.log.Warn().Err(err).Msg("closing consumer group")
			}
		}
	}()
	var errorsDone chan struct{}
	retries := 0
	for ctx.Err() == nil {
		if g == nil {
			var err error
			g, err = f.open()
			if err != nil {
				g = nil
				f.log.Warn().Err(err).Dur("retryIn", f.recreateBackoff).Msg("cannot create consumer group")
				_ = sleep(ctx, f.recreateBackoff)
				continue
			}
			f.setGroup(g)
		}
		if errorsDone == nil {
			errorsDone = make(chan struct{})
			go f.logErrors(g, errorsDone)
		}
		started := time.Now()
		err := g.Consume(ctx, []string{f.topic}, &sessionHandler{feed: f})
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			// A rebalance ended the session; join the next one. Guard against a tight loop when
			// sessions end at once (e.g. the topic has no partitions yet).
			retries = 0
			if time.Since(started) < consumeRetryBackoff {
				_ = sleep(ctx, consumeRetryBackoff)
			}
			continue
		}
		if retriable(err) && retries < consumeRetries {
			retries++
			f.log.Debug().Err(err).Int("retry", retries).Msg("consume failed, retrying")
			_ = sleep(ctx, consumeRetryBackoff)
			continue
		}
		retries = 0
		f.log.Warn().Err(err).Dur("retryIn", f.recreateBackoff).Msg("consume failed, recreating the consumer group")
		f.setGroup(nil)
		if cerr := g.Close(); cerr != nil {
			f.log.Debug().Err(cerr).Msg("closing failed consumer group")
		}
		<-errorsDone
		g, errorsDone = nil, nil
		_ = sleep(ctx, f.recreateBackoff)
	}
}

// logErrors drains a group's error channel (sarama blocks if nobody reads it) until the group closes.
func (f *Feed) logErrors(g consumerGroup, done chan struct{}) {
	defer close(done)
	for err := range g.Errors() {
		f.log.Warn().Err(err).Msg("consumer error")
	}
}

// sessionHandler serves one group session (one generation).
type sessionHandler struct {
	feed *Feed

	mu     sync.Mutex
	claims map[int32]sarama.ConsumerGroupClaim
	marked map[int32]int64
	stop   context.CancelFunc
	wg     sync.WaitGroup
}

func (h *sessionHandler) Setup(sess sarama.ConsumerGroupSession) error {
	h.claims = map[int32]sarama.ConsumerGroupClaim{}
	h.marked = map[int32]int64{}
	ctx, cancel := context.WithCancel(sess.Context())
	h.stop = cancel
	h.wg.Add(2)
	go h.commitLoop(ctx, sess)
	go h.offsetsLoop(ctx)
	h.feed.log.Info().Int32("generation", sess.GenerationID()).Interface("claims", sess.Claims()).Msg("session started")
	return nil
}

func (h *sessionHandler) Cleanup(sess sarama.ConsumerGroupSession) error {
	h.stop()
	h.wg.Wait()
	h.commit(sess)
	return nil
}

func (h *sessionHandler) commitLoop(ctx context.Context, sess sarama.ConsumerGroupSession) {
	defer h.wg.Done()
	// A session starts with one commit after the first interval (records may have finished between
	// sessions), then commits once per interval in which records finished.
	t := time.NewTimer(h.feed.cfg.CommitInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		h.commit(sess)
		select {
		case <-ctx.Done():
			return
		case <-h.feed.finished:
		}
		// What finishes within the interval goes into the same commit.
		t.Reset(h.feed.cfg.CommitInterval)
	}
}

// commit marks and commits, for every claimed partition, the commit point if it advanced.
func (h *sessionHandler) commit(sess sarama.ConsumerGroupSession) {
	f := h.feed
	f.commitChecks.Add(1)
	type mark struct {
		p  int32
		at int64
	}
	var marks []mark
	f.mu.Lock()
	if f.crashed {
		f.mu.Unlock()
		return
	}
	h.mu.Lock()
	for p := range h.claims {
		cp := f.tracker.commitPoint(p)
		if last, ok := h.marked[p]; cp >= 0 && (!ok || cp > last) {
			marks = append(marks, mark{p, cp})
			h.marked[p] = cp
		}
	}
	h.mu.Unlock()
	f.mu.Unlock()
	if len(marks) == 0 {
		return
	}
	for _, m := range marks {
		sess.MarkOffset(f.topic, m.p, m.at, "")
	}
	sess.Commit()
}

// offsetsLoop refreshes the log bounds used by Lag from each claim's fetches every offsetsRefresh, and from
// the broker every offsetsBrokerRefresh — or every offsetsRefresh while nothing is fetched: paused, held, or
// every capacity slot taken (the prefetch buffer then fills and the consumer stops fetching).
func (h *sessionHandler) offsetsLoop(ctx context.Context) {
	defer h.wg.Done()
	f := h.feed
	t := time.NewTicker(offsetsRefresh)
	defer t.Stop()
	var askedBroker time.Time
	for {
		h.mu.Lock()
		claims := make(map[int32]sarama.ConsumerGroupClaim, len(h.claims))
		for p, c := range h.claims {
			claims[p] = c
		}
		h.mu.Unlock()
		f.mu.Lock()
		g := f.group
		notFetching := f.paused || f.held || f.inFlight >= f.capacity
		f.mu.Unlock()
		askBroker := g != nil && (notFetching || time.Since(askedBroker) >= offsetsBrokerRefresh)
		if askBroker && len(claims) > 0 { // a session's first pass may come before its claims
			askedBroker = time.Now()
		}
		for p, c := range claims {
			oldest, newest := int64(-1), c.HighWaterMarkOffset()
			if askBroker {
				if o, n, err := g.Offsets(f.topic, p); err == nil {
					oldest, newest = o, max(newest, n)
				}
			}
			f.mu.Lock()
			f.tracker.observeOffsets(p, oldest, newest)
			f.mu.Unlock()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (h *sessionHandler) ConsumeClaim(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	f := h.feed
	p := claim.Partition()
	h.mu.Lock()
	h.claims[p] = claim
	h.mu.Unlock()
	f.mu.Lock()
	f.tracker.claimed(p, claim.InitialOffset())
	if (f.paused || f.held || f.stopping) && f.group != nil {
		f.group.PauseAll() // partitions claimed after Pause are not covered by the earlier PauseAll
	}
	f.mu.Unlock()
	ctx := sess.Context()
	for {
		var msg *sarama.ConsumerMessage
		select {
		case <-ctx.Done():
			return nil
		case m, ok := <-claim.Messages():
			if !ok {
				return nil
			}
			msg = m
		}
		rec, ok := f.admit(ctx, msg)
		if !ok {
			return nil
		}
		if rec == nil {
			continue // already handed out before a rebalance
		}
		f.mu.Lock()
		hctx := f.handlerCtx
		f.mu.Unlock()
		go f.handler(hctx, rec)
	}
}

// admit waits until msg may be handed out (a free slot, not paused, held or stopping, within MaxUncommitted)
// and takes the slot. It returns (nil, true) for a record this process already handed out and
// (nil, false) when ctx ends first.
func (f *Feed) admit(ctx context.Context, msg *sarama.ConsumerMessage) (*Record, bool) {
	for {
		f.mu.Lock()
		if f.tracker.seen(msg.Partition, msg.Offset) {
			f.mu.Unlock()
			return nil, true
		}
		if !f.paused && !f.held && !f.stopping && !f.crashed && f.inFlight < f.capacity &&
			f.tracker.deliverable(msg.Partition, msg.Offset, f.cfg.MaxUncommitted) {
			f.inFlight++
			f.tracker.delivered(msg.Partition, msg.Offset)
			f.mu.Unlock()
			return &Record{
				Topic: msg.Topic, Partition: msg.Partition, Offset: msg.Offset,
				Value: msg.Value, Timestamp: msg.Timestamp, feed: f,
			}, true
		}
		ch := f.changed
		f.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, false
		}
	}
}

// saramaGroup is a sarama consumer group with the client it owns.
type saramaGroup struct {
	client sarama.Client
	sarama.ConsumerGroup
}

func openSaramaGroup(brokers []string, groupID string, cfg *sarama.Config) (*saramaGroup, error) {
	client, err := sarama.NewClient(brokers, cfg)
	if err != nil {
		return nil, err
	}
	cg, err := sarama.NewConsumerGroupFromClient(groupID, client)
	if err != nil {
		_ = client.Close()
		return nil, err
	}
	return &saramaGroup{client: client, ConsumerGroup: cg}, nil
}

func (g *saramaGroup) Offsets(topic string, partition int32) (int64, int64, error) {
	oldest, err := g.client.GetOffset(topic, partition, sarama.OffsetOldest)
	if err != nil {
		return -1, -1, err
	}
	newest, err := g.client.GetOffset(topic, partition, sarama.OffsetNewest)
	if err != nil {
		return -1, -1, err
	}
	return oldest, newest, nil
}

func (g *saramaGroup) Close() error {
	err := g.ConsumerGroup.Close()
	if cerr := g.client.Close(); cerr != nil && !errors.Is(cerr, sarama.ErrClosedClient) {
		err = errors.Join(err, cerr)
	}
	return err
}
