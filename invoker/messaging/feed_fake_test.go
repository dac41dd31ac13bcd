package messaging

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
)

// fakeStep is what one Consume call of a fakeGroup does: fail with err at once, or run a session that
// claims partition 0 at initial, feeds offsets, and ends when end is closed (or ctx ends).
type fakeStep struct {
	err     error
	initial int64
	offsets []int64
	end     chan struct{}
}

// fakeGroups hands out fakeGroups that all take their Consume steps from one script.
type fakeGroups struct {
	script chan fakeStep
	openMu sync.Mutex
	opens  int
	openFn func(n int) error // optional: fail the n-th open (1-based)
	groups []*fakeGroup
}

func newFakeGroups() *fakeGroups { return &fakeGroups{script: make(chan fakeStep, 100)} }

func (fg *fakeGroups) open() (consumerGroup, error) {
	fg.openMu.Lock()
	defer fg.openMu.Unlock()
	fg.opens++
	if fg.openFn != nil {
		if err := fg.openFn(fg.opens); err != nil {
			return nil, err
		}
	}
	g := &fakeGroup{parent: fg, errs: make(chan error)}
	fg.groups = append(fg.groups, g)
	return g, nil
}

func (fg *fakeGroups) snapshot() (opens int, groups []*fakeGroup) {
	fg.openMu.Lock()
	defer fg.openMu.Unlock()
	return fg.opens, slices.Clone(fg.groups)
}

type fakeGroup struct {
	parent *fakeGroups

	mu       sync.Mutex
	consumes int
	offsets  int // Offsets calls (broker requests for the log bounds)
	closed   bool
	paused   bool
	sessions []*fakeSession
	errs     chan error
}

func (g *fakeGroup) Consume(ctx context.Context, topics []string, h sarama.ConsumerGroupHandler) error {
	g.mu.Lock()
	g.consumes++
	g.mu.Unlock()
	var step fakeStep
	select {
	case step = <-g.parent.script:
	case <-ctx.Done():
		return nil
	}
	if step.err != nil {
		return step.err
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sess := &fakeSession{ctx: sctx, topic: topics[0]}
	g.mu.Lock()
	g.sessions = append(g.sessions, sess)
	g.mu.Unlock()
	if err := h.Setup(sess); err != nil {
		return err
	}
	claim := &fakeClaim{topic: topics[0], initial: step.initial, msgs: make(chan *sarama.ConsumerMessage, len(step.offsets))}
	for _, o := range step.offsets {
		claim.msgs <- &sarama.ConsumerMessage{Topic: topics[0], Partition: 0, Offset: o, Value: []byte("v")}
		claim.hwm = o + 1
	}
	claimDone := make(chan struct{})
	go func() {
		defer close(claimDone)
		_ = h.ConsumeClaim(sess, claim)
	}()
	select {
	case <-step.end:
	case <-ctx.Done():
	}
	cancel()
	<-claimDone
	return h.Cleanup(sess)
}

func (g *fakeGroup) Errors() <-chan error { return g.errs }
func (g *fakeGroup) PauseAll()            { g.mu.Lock(); g.paused = true; g.mu.Unlock() }
func (g *fakeGroup) ResumeAll()           { g.mu.Lock(); g.paused = false; g.mu.Unlock() }
func (g *fakeGroup) Offsets(string, int32) (int64, int64, error) {
	g.mu.Lock()
	g.offsets++
	g.mu.Unlock()
	return -1, -1, errors.New("fake: no offsets")
}

func (g *fakeGroup) offsetCalls() int { g.mu.Lock(); defer g.mu.Unlock(); return g.offsets }

func (g *fakeGroup) Close() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.closed {
		g.closed = true
		close(g.errs)
	}
	return nil
}

func (g *fakeGroup) state() (consumes int, closed bool, sessions []*fakeSession) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.consumes, g.closed, slices.Clone(g.sessions)
}

type fakeSession struct {
	ctx   context.Context
	topic string

	mu      sync.Mutex
	marks   []int64
	commits int
}

func (s *fakeSession) Claims() map[string][]int32 { return map[string][]int32{s.topic: {0}} }
func (s *fakeSession) MemberID() string           { return "fake" }
func (s *fakeSession) GenerationID() int32        { return 1 }
func (s *fakeSession) MarkOffset(_ string, _ int32, offset int64, _ string) {
	s.mu.Lock()
	s.marks = append(s.marks, offset)
	s.mu.Unlock()
}
func (s *fakeSession) Commit()                                            { s.mu.Lock(); s.commits++; s.mu.Unlock() }
func (s *fakeSession) ResetOffset(string, int32, int64, string)           {}
func (s *fakeSession) MarkMessage(m *sarama.ConsumerMessage, meta string) {}
func (s *fakeSession) Context() context.Context                           { return s.ctx }

func (s *fakeSession) lastMark() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.marks) == 0 {
		return -1
	}
	return s.marks[len(s.marks)-1]
}

type fakeClaim struct {
	topic        string
	initial, hwm int64
	msgs         chan *sarama.ConsumerMessage
}

func (c *fakeClaim) Topic() string                            { return c.topic }
func (c *fakeClaim) Partition() int32                         { return 0 }
func (c *fakeClaim) InitialOffset() int64                     { return c.initial }
func (c *fakeClaim) HighWaterMarkOffset() int64               { return c.hwm }
func (c *fakeClaim) Messages() <-chan *sarama.ConsumerMessage { return c.msgs }

func newFakeFeed(t *testing.T, capacity int, h Handler) (*Feed, *fakeGroups) {
	t.Helper()
	cfg, err := testConfig([]string{"fake:9092"}).withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	fg := newFakeGroups()
	f := newFeed(cfg, capacity, h, testLogger(t), fg.open)
	f.recreateBackoff = 10 * time.Millisecond
	return f, fg
}

// After a rebalance the new session starts at the committed offset; records this process already handed
// out (running, or done but not committed) are not handed out again.
func TestFeedDoesNotRedeliverInProcessAfterRebalance(t *testing.T) {
	rec := newRecorder(false)
	f, fg := newFakeFeed(t, 10, rec.handle)
	end1 := make(chan struct{})
	fg.script <- fakeStep{initial: 0, offsets: seq(0, 3), end: end1}
	startFeed(t, f)
	for range 4 {
		rec.next(t, 5*time.Second)
	}
	for _, o := range []int64{0, 2, 3} {
		rec.byOffset(o).Done()
	}
	eventually(t, 5*time.Second, "commit point 1", func() bool { return f.CommitPoint(0) == 1 })
	close(end1) // rebalance: session 2 restarts from the committed offset 1
	fg.script <- fakeStep{initial: 1, offsets: seq(1, 5), end: make(chan struct{})}
	fifth, sixth := rec.next(t, 5*time.Second), rec.next(t, 5*time.Second)
	rec.none(t, 100*time.Millisecond)
	if got := rec.offsets(); !slices.Equal(got, seq(0, 5)) {
		t.Fatalf("delivered %v; want 0..5 once each (1..3 not again after the rebalance)", got)
	}
	// The record that ran across the rebalance still commits, through the new session.
	rec.byOffset(1).Done()
	fifth.Done()
	sixth.Done()
	_, groups := fg.snapshot()
	_, _, sessions := groups[0].state()
	eventually(t, 5*time.Second, "session 2 marks offset 6", func() bool { return sessions[len(sessions)-1].lastMark() == 6 })
}

func TestFeedRetriesRetriableErrorsOnTheSameGroup(t *testing.T) {
	rec := newRecorder(true)
	f, fg := newFakeFeed(t, 1, rec.handle)
	for range consumeRetries {
		fg.script <- fakeStep{err: sarama.ErrNotCoordinatorForConsumer}
	}
	fg.script <- fakeStep{initial: 0, offsets: []int64{0}, end: make(chan struct{})}
	startFeed(t, f)
	rec.next(t, 5*time.Second)
	opens, groups := fg.snapshot()
	if consumes, _, _ := groups[0].state(); opens != 1 || consumes != 1+consumeRetries {
		t.Errorf("opens %d consumes %d, want 1 group consumed %d times", opens, consumes, 1+consumeRetries)
	}
}

func TestFeedRecreatesGroupWhenRetriesRunOut(t *testing.T) {
	rec := newRecorder(true)
	f, fg := newFakeFeed(t, 1, rec.handle)
	for range consumeRetries + 1 {
		fg.script <- fakeStep{err: sarama.ErrRebalanceInProgress}
	}
	fg.script <- fakeStep{initial: 0, offsets: []int64{0}, end: make(chan struct{})}
	startFeed(t, f)
	rec.next(t, 5*time.Second)
	opens, groups := fg.snapshot()
	consumes, closed, _ := groups[0].state()
	if opens != 2 || consumes != 1+consumeRetries || !closed {
		t.Errorf("opens %d, first group consumes %d closed %v; want 2, %d, true", opens, consumes, closed, 1+consumeRetries)
	}
}

func TestFeedRecreatesGroupOnNonRetriableError(t *testing.T) {
	rec := newRecorder(true)
	f, fg := newFakeFeed(t, 1, rec.handle)
	fg.script <- fakeStep{err: sarama.ErrClosedConsumerGroup}
	fg.script <- fakeStep{err: errors.New("kafka: something unexpected")}
	fg.script <- fakeStep{initial: 0, offsets: []int64{0}, end: make(chan struct{})}
	startFeed(t, f)
	rec.next(t, 5*time.Second)
	opens, groups := fg.snapshot()
	if opens != 3 {
		t.Errorf("opens = %d, want 3 (one per non-retriable error + the first)", opens)
	}
	for i, g := range groups[:2] {
		if consumes, closed, _ := g.state(); consumes != 1 || !closed {
			t.Errorf("group %d: consumes %d closed %v, want 1 and closed", i, consumes, closed)
		}
	}
}

// Run keeps going while the group cannot even be created (Kafka down), and returns only when ctx ends.
func TestFeedRunSurvivesKafkaOutageAndReturnsOnlyOnCancel(t *testing.T) {
	rec := newRecorder(true)
	f, fg := newFakeFeed(t, 1, rec.handle)
	fg.openFn = func(n int) error {
		if n <= 3 {
			return sarama.ErrOutOfBrokers
		}
		return nil
	}
	fg.script <- fakeStep{err: errors.New("boom")}
	fg.script <- fakeStep{initial: 0, offsets: []int64{0}, end: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	rec.next(t, 5*time.Second)
	select {
	case err := <-done:
		t.Fatalf("Run returned %v before cancel", err)
	case <-time.After(50 * time.Millisecond):
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	opens, groups := fg.snapshot()
	if opens != 5 {
		t.Errorf("opens = %d, want 3 failed + 1 + 1 after boom", opens)
	}
	for i, g := range groups {
		if _, closed, _ := g.state(); !closed {
			t.Errorf("group %d left open", i)
		}
	}
}

func TestFeedPauseReachesRecreatedGroup(t *testing.T) {
	rec := newRecorder(true)
	f, fg := newFakeFeed(t, 1, rec.handle)
	f.Pause()
	fg.script <- fakeStep{err: errors.New("boom")}
	fg.script <- fakeStep{initial: 0, offsets: []int64{0}, end: make(chan struct{})}
	startFeed(t, f)
	eventually(t, 5*time.Second, "second group", func() bool { n, _ := fg.snapshot(); return n == 2 })
	_, groups := fg.snapshot()
	eventually(t, 5*time.Second, "second group paused", func() bool {
		groups[1].mu.Lock()
		defer groups[1].mu.Unlock()
		return groups[1].paused
	})
	rec.none(t, 100*time.Millisecond)
	f.Resume()
	rec.next(t, 5*time.Second)
}

// While fetches bring the high water mark the broker is not asked for the log bounds every second (that was
// most of an idle invoker's work); while nothing is fetched (paused) it is.
func TestFeedAsksTheBrokerForOffsetsOnlyWhenFetchesCannotTell(t *testing.T) {
	rec := newRecorder(false)
	f, fg := newFakeFeed(t, 10, rec.handle)
	fg.script <- fakeStep{initial: 0, offsets: seq(0, 0), end: make(chan struct{})}
	startFeed(t, f)
	rec.next(t, 5*time.Second).Done()
	_, groups := fg.snapshot()
	g := groups[0]
	eventually(t, 5*time.Second, "the first reading", func() bool { return g.offsetCalls() >= 1 })
	before := g.offsetCalls()
	time.Sleep(3*offsetsRefresh + offsetsRefresh/2)
	if n := g.offsetCalls() - before; n != 0 {
		t.Errorf("%d broker offset requests in 3.5 s while fetching; want none before %v", n, offsetsBrokerRefresh)
	}
	f.Pause()
	before = g.offsetCalls()
	eventually(t, 5*time.Second, "two readings while paused", func() bool { return g.offsetCalls()-before >= 2 })
}

// An idle feed does not wake to commit: the commit loop runs once per interval in which records finished.
func TestFeedCommitLoopSleepsWhileNothingFinishes(t *testing.T) {
	rec := newRecorder(false)
	f, fg := newFakeFeed(t, 10, rec.handle)
	fg.script <- fakeStep{initial: 0, offsets: seq(0, 1), end: make(chan struct{})}
	startFeed(t, f)
	rec.next(t, 5*time.Second)
	rec.next(t, 5*time.Second)
	rec.byOffset(0).Done()
	eventually(t, 5*time.Second, "commit point 1", func() bool { return f.CommitPoint(0) == 1 })
	_, groups := fg.snapshot()
	_, _, sessions := groups[0].state()
	eventually(t, 5*time.Second, "offset 1 marked", func() bool { return sessions[0].lastMark() == 1 })
	time.Sleep(3 * f.cfg.CommitInterval) // a wake-up pending from before the mark runs its course
	idleFrom := f.commitChecks.Load()
	time.Sleep(10 * f.cfg.CommitInterval)
	if n := f.commitChecks.Load() - idleFrom; n > 0 {
		t.Errorf("the commit loop woke %d times in %v with nothing finishing", n, 10*f.cfg.CommitInterval)
	}
	rec.byOffset(1).Done()
	eventually(t, 5*time.Second, "offset 2 marked", func() bool { return sessions[0].lastMark() == 2 })
}
