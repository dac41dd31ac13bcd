package messaging

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// newTestFeed creates invoker0 with the invoker configs and a feed on it.
func newTestFeed(t *testing.T, brokers []string, capacity int, h Handler, tweak ...func(*Config)) *Feed {
	t.Helper()
	cfg := testConfig(brokers)
	for _, fn := range tweak {
		fn(&cfg)
	}
	if err := EnsureTopic(context.Background(), cfg, cfg.InvokerTopic(), InvokerTopicConfigs()); err != nil {
		t.Fatal(err)
	}
	f, err := NewFeed(cfg, capacity, h, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestFeedRespectsCapacity(t *testing.T) {
	_, brokers := newCluster(t)
	const capacity, n = 3, 30
	var active, peak atomic.Int32
	var mu sync.Mutex
	var got []int64
	allDone := make(chan struct{})
	handler := func(_ context.Context, rec *Record) {
		a := active.Add(1)
		for {
			p := peak.Load()
			if a <= p || peak.CompareAndSwap(p, a) {
				break
			}
		}
		// Finish later, in a random order, like activations of different lengths.
		go func() {
			time.Sleep(time.Duration(rand.IntN(20)) * time.Millisecond)
			active.Add(-1)
			mu.Lock()
			got = append(got, rec.Offset)
			if len(got) == n {
				close(allDone)
			}
			mu.Unlock()
			rec.Done()
		}()
	}
	f := newTestFeed(t, brokers, capacity, handler)
	produceN(t, brokers, "invoker0", n)
	startFeed(t, f)
	select {
	case <-allDone:
	case <-time.After(20 * time.Second):
		t.Fatalf("only %d of %d records handled", len(got), n)
	}
	if p := peak.Load(); p != capacity {
		t.Errorf("peak in flight = %d, want exactly the capacity %d", p, capacity)
	}
	slices.Sort(got)
	if !slices.Equal(got, seq(0, n-1)) {
		t.Errorf("handled offsets %v, want each of 0..%d once", got, n-1)
	}
	waitCommitted(t, brokers, "invoker0", "invoker0", n)
}

func TestFeedBlocksAtCapacityUntilDone(t *testing.T) {
	_, brokers := newCluster(t)
	rec := newRecorder(false)
	f := newTestFeed(t, brokers, 2, rec.handle)
	produceN(t, brokers, "invoker0", 5)
	startFeed(t, f)
	first, second := rec.next(t, 10*time.Second), rec.next(t, 10*time.Second)
	rec.none(t, 300*time.Millisecond)
	if f.InFlight() != 2 {
		t.Errorf("InFlight = %d, want 2", f.InFlight())
	}
	eventually(t, 5*time.Second, "lag of 5", func() bool { return f.Lag() == 5 })
	second.Done()
	if third := rec.next(t, 10*time.Second); third.Offset != 2 {
		t.Errorf("third record offset %d, want 2", third.Offset)
	}
	rec.none(t, 200*time.Millisecond)
	first.Done()
	rec.next(t, 10*time.Second)
	if f.InFlight() != 2 {
		t.Errorf("InFlight = %d, want 2", f.InFlight())
	}
}

func TestFeedCommitsOnlyContiguousDonePrefix(t *testing.T) {
	_, brokers := newCluster(t)
	rec := newRecorder(false)
	f := newTestFeed(t, brokers, 10, rec.handle)
	produceN(t, brokers, "invoker0", 6)
	startFeed(t, f)
	for range 6 {
		rec.next(t, 10*time.Second)
	}
	done := func(o int64) { rec.byOffset(o).Done() }
	done(2)
	done(3)
	time.Sleep(100 * time.Millisecond) // 10 commit intervals
	if got := committed(t, brokers, "invoker0", "invoker0", 0); got > 0 {
		t.Fatalf("committed %d while offset 0 is running, want ≤ 0", got)
	}
	done(0)
	waitCommitted(t, brokers, "invoker0", "invoker0", 1)
	done(1)
	waitCommitted(t, brokers, "invoker0", "invoker0", 4) // 0..3 done, 4 running
	done(5)
	waitCommitted(t, brokers, "invoker0", "invoker0", 4)
	done(4)
	waitCommitted(t, brokers, "invoker0", "invoker0", 6)
	if f.CommitPoint(0) != 6 || f.InFlight() != 0 {
		t.Errorf("CommitPoint %d InFlight %d, want 6 and 0", f.CommitPoint(0), f.InFlight())
	}
	eventually(t, 5*time.Second, "lag 0", func() bool { return f.Lag() == 0 })
}

// An unclean stop (as after SIGKILL: no drain, no further commit) redelivers every record from the first
// unfinished one on, and none below it.
func TestFeedRedeliversUnfinishedRecordsAfterCrash(t *testing.T) {
	_, brokers := newCluster(t)
	first := newRecorder(false)
	f1 := newTestFeed(t, brokers, 10, first.handle)
	produceN(t, brokers, "invoker0", 10)
	stop1 := startFeed(t, f1)
	for range 10 {
		first.next(t, 10*time.Second)
	}
	for _, o := range []int64{0, 1, 2, 5, 6} {
		first.byOffset(o).Done()
	}
	waitCommitted(t, brokers, "invoker0", "invoker0", 3)
	f1.crash()
	stop1()

	second := newRecorder(true)
	f2 := newTestFeed(t, brokers, 10, second.handle)
	startFeed(t, f2)
	for range 7 {
		second.next(t, 10*time.Second)
	}
	second.none(t, 300*time.Millisecond)
	// 3,4,7,8,9 were unfinished; 5 and 6 were done above the gap, so they come back too (bounded duplicates).
	if got := second.offsets(); !slices.Equal(got, seq(3, 9)) {
		t.Errorf("redelivered %v, want 3..9", got)
	}
	waitCommitted(t, brokers, "invoker0", "invoker0", 10)
}

// A clean stop waits for in-flight records, commits them, and the next feed starts after them.
func TestFeedCleanStopDrainsAndCommits(t *testing.T) {
	_, brokers := newCluster(t)
	first := newRecorder(false)
	f1 := newTestFeed(t, brokers, 10, first.handle)
	produceN(t, brokers, "invoker0", 4)
	stop1 := startFeed(t, f1)
	for range 4 {
		first.next(t, 10*time.Second)
	}
	first.byOffset(0).Done()
	go func() {
		time.Sleep(200 * time.Millisecond) // finish while Run drains
		for _, o := range []int64{3, 1, 2} {
			first.byOffset(o).Done()
		}
	}()
	stop1()
	if got := committed(t, brokers, "invoker0", "invoker0", 0); got != 4 {
		t.Fatalf("committed %d after clean stop, want 4", got)
	}

	produce(t, brokers, "invoker0", "after-restart")
	second := newRecorder(true)
	f2 := newTestFeed(t, brokers, 10, second.handle)
	startFeed(t, f2)
	if r := second.next(t, 10*time.Second); r.Offset != 4 || string(r.Value) != "after-restart" {
		t.Errorf("first record after restart: offset %d %q, want 4 after-restart", r.Offset, r.Value)
	}
	second.none(t, 300*time.Millisecond)
}

func TestFeedDrainTimeoutCancelsHandlerContext(t *testing.T) {
	_, brokers := newCluster(t)
	cancelled := make(chan struct{})
	handler := func(ctx context.Context, rec *Record) {
		<-ctx.Done() // never finishes by itself
		close(cancelled)
		rec.Done()
	}
	f := newTestFeed(t, brokers, 1, handler, func(c *Config) { c.DrainTimeout = 100 * time.Millisecond })
	produceN(t, brokers, "invoker0", 1)
	stop := startFeed(t, f)
	eventually(t, 10*time.Second, "one in flight", func() bool { return f.InFlight() == 1 })
	stop()
	select {
	case <-cancelled:
	case <-time.After(5 * time.Second):
		t.Fatal("handler ctx not cancelled after the drain timeout")
	}
	// Nothing past offset 0 (-1 = no commit, 0 = "start at 0": both redeliver the record).
	if got := committed(t, brokers, "invoker0", "invoker0", 0); got > 0 {
		t.Errorf("committed %d, want ≤ 0 (the record never finished in time)", got)
	}
}

func TestFeedPauseStopsDeliveryAndResumeContinues(t *testing.T) {
	_, brokers := newCluster(t)
	rec := newRecorder(false)
	f := newTestFeed(t, brokers, 10, rec.handle)
	produceN(t, brokers, "invoker0", 2)
	startFeed(t, f)
	running := rec.next(t, 10*time.Second)
	rec.next(t, 10*time.Second).Done()

	f.Pause()
	if !f.Paused() {
		t.Fatal("Paused() = false after Pause")
	}
	produceN(t, brokers, "invoker0", 3)
	rec.none(t, 700*time.Millisecond) // > fetch wait: fetched or not, nothing is handed out
	running.Done()                    // in-flight records still finish and commit while paused
	waitCommitted(t, brokers, "invoker0", "invoker0", 2)
	eventually(t, 5*time.Second, "lag 3 while paused", func() bool { return f.Lag() == 3 })

	f.Resume()
	for range 3 {
		rec.next(t, 10*time.Second).Done()
	}
	waitCommitted(t, brokers, "invoker0", "invoker0", 5)
}

func TestFeedPausedBeforeRunDeliversNothing(t *testing.T) {
	_, brokers := newCluster(t)
	rec := newRecorder(true)
	f := newTestFeed(t, brokers, 10, rec.handle)
	f.Pause()
	produceN(t, brokers, "invoker0", 2)
	startFeed(t, f)
	rec.none(t, 700*time.Millisecond)
	f.Resume()
	rec.next(t, 10*time.Second)
	rec.next(t, 10*time.Second)
}

func TestFeedMaxUncommittedBoundsDeliveryPastAStuckRecord(t *testing.T) {
	_, brokers := newCluster(t)
	rec := newRecorder(false)
	f := newTestFeed(t, brokers, 10, rec.handle, func(c *Config) { c.MaxUncommitted = 3 })
	produceN(t, brokers, "invoker0", 6)
	startFeed(t, f)
	for range 3 {
		rec.next(t, 10*time.Second)
	}
	rec.byOffset(1).Done()
	rec.byOffset(2).Done()
	rec.none(t, 300*time.Millisecond) // offset 0 still running: 3 is outside the window
	rec.byOffset(0).Done()
	for range 3 {
		rec.next(t, 10*time.Second)
	}
	if got := rec.offsets(); !slices.Equal(got, seq(0, 5)) {
		t.Errorf("delivered %v", got)
	}
}

func TestNewFeedUnreachableKafka(t *testing.T) {
	start := time.Now()
	_, err := NewFeed(testConfig([]string{closedAddr(t)}), 1, func(context.Context, *Record) {}, testLogger(t))
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
	if elapsed := time.Since(start); elapsed > 10*time.Second {
		t.Errorf("took %v", elapsed)
	}
}

func TestNewFeedRejectsBadArguments(t *testing.T) {
	h := func(context.Context, *Record) {}
	cfg := testConfig([]string{"127.0.0.1:1"})
	if _, err := NewFeed(cfg, 0, h, testLogger(t)); !errors.Is(err, ErrConfig) {
		t.Errorf("capacity 0: %v", err)
	}
	if _, err := NewFeed(cfg, 1, nil, testLogger(t)); !errors.Is(err, ErrConfig) {
		t.Errorf("nil handler: %v", err)
	}
	cfg.Version = "3.9"
	if _, err := NewFeed(cfg, 1, h, testLogger(t)); !errors.Is(err, ErrConfig) {
		t.Errorf("bad version: %v", err)
	}
}

func TestFeedRunTwiceFails(t *testing.T) {
	_, brokers := newCluster(t)
	f := newTestFeed(t, brokers, 1, func(_ context.Context, r *Record) { r.Done() })
	startFeed(t, f)
	eventually(t, 5*time.Second, "running", f.running.Load)
	if err := f.Run(context.Background()); !errors.Is(err, ErrConfig) {
		t.Errorf("second Run: %v", err)
	}
}

// A record released at shutdown (not started, left for the next consumer) frees its slot so the drain
// ends at once, but holds the commit point: the next consumer gets it and everything after it again,
// while the records finished below it are not redelivered.
func TestFeedReleasedRecordIsRedeliveredAfterCleanStop(t *testing.T) {
	_, brokers := newCluster(t)
	first := newRecorder(false)
	f1 := newTestFeed(t, brokers, 10, first.handle)
	produceN(t, brokers, "invoker0", 4)
	stop1 := startFeed(t, f1)
	for range 4 {
		first.next(t, 10*time.Second)
	}
	first.byOffset(0).Done()
	first.byOffset(1).Release()
	first.byOffset(2).Done()
	first.byOffset(3).Release()
	first.byOffset(1).Done() // after Release: no effect
	if f1.InFlight() != 0 {
		t.Fatalf("InFlight = %d after every record was done or released, want 0", f1.InFlight())
	}
	start := time.Now()
	stop1()
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("stop took %v: released records must not hold the drain", d)
	}
	if got := committed(t, brokers, "invoker0", "invoker0", 0); got != 1 {
		t.Fatalf("committed %d, want 1 (offset 1 was released, not finished)", got)
	}

	second := newRecorder(true)
	f2 := newTestFeed(t, brokers, 10, second.handle)
	startFeed(t, f2)
	for range 3 {
		second.next(t, 10*time.Second)
	}
	second.none(t, 300*time.Millisecond)
	if got := second.offsets(); !slices.Equal(got, seq(1, 3)) {
		t.Errorf("redelivered %v, want 1..3 (the released ones and the done one above the first)", got)
	}
}

// SetHeld stops handing out records like Pause, independently of it: an operator's /enable does not end
// back-pressure, and releasing the hold does not undo a /disable.
func TestFeedHoldIsIndependentOfPause(t *testing.T) {
	_, brokers := newCluster(t)
	rec := newRecorder(true)
	f := newTestFeed(t, brokers, 10, rec.handle)
	startFeed(t, f)
	produceN(t, brokers, "invoker0", 1)
	rec.next(t, 10*time.Second)

	f.SetHeld(true)
	if !f.Held() {
		t.Fatal("Held() = false after SetHeld(true)")
	}
	produceN(t, brokers, "invoker0", 1)
	rec.none(t, 700*time.Millisecond)
	f.Pause()
	f.Resume() // the operator's switch does not release back-pressure
	rec.none(t, 700*time.Millisecond)
	f.Pause()
	f.SetHeld(false) // and the end of an outage does not undo /disable
	rec.none(t, 700*time.Millisecond)
	f.Resume()
	rec.next(t, 10*time.Second)
	waitCommitted(t, brokers, "invoker0", "invoker0", 2)
}
