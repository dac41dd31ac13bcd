package trafficgen

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"
)

// fakeClock advances only when the loop sleeps.
type fakeClock struct {
	now    time.Time
	sleeps int
}

func (c *fakeClock) Now() time.Time { return c.now }
func (c *fakeClock) SleepUntil(t time.Time) {
	c.sleeps++
	if t.After(c.now) {
		c.now = t
	}
}

// recSender records send calls; each call costs `cost` of fake time.
type recSender struct {
	clk     *fakeClock
	cost    time.Duration
	calls   []int
	times   []time.Time
	failAt  int // call index (1-based) that fails; 0 = never
	failErr error
	total   int
}

func (s *recSender) SendBatch(frames [][]byte) (int, error) {
	s.calls = append(s.calls, len(frames))
	s.times = append(s.times, s.clk.now)
	s.clk.now = s.clk.now.Add(s.cost)
	if s.failAt == len(s.calls) {
		return 0, s.failErr
	}
	s.total += len(frames)
	return len(frames), nil
}

func testFrames(t *testing.T) [][]byte {
	fs, err := BuildFrames(spec(64, 4))
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

func TestRunPacesToRateAndStopsAtDuration(t *testing.T) {
	clk := &fakeClock{now: time.Unix(1000, 0)}
	s := &recSender{clk: clk, cost: time.Microsecond}
	res, err := Run(context.Background(), Config{Rate: 1000, Train: 1, Duration: time.Second}, testFrames(t), s, clk)
	if err != nil {
		t.Fatal(err)
	}
	// Full bucket of 1 at start, then one every ms: 1000 in [0, 1s).
	if res.Sent < 999 || res.Sent > 1001 || res.StoppedBy != "duration" {
		t.Fatalf("sent %d stopped by %q, want ~1000 by duration", res.Sent, res.StoppedBy)
	}
	if math.Abs(res.AchievedPPS-1000) > 5 {
		t.Fatalf("achieved %.1f pps, want ~1000", res.AchievedPPS)
	}
	// Gaps between sends are ~1ms, never a burst.
	for i := 1; i < len(s.times); i++ {
		if gap := s.times[i].Sub(s.times[i-1]); gap < 990*time.Microsecond {
			t.Fatalf("send %d came %v after the previous one", i, gap)
		}
	}
	if res.Bytes != res.Sent*64 {
		t.Fatalf("bytes %d for %d frames of 64", res.Bytes, res.Sent)
	}
}

func TestRunSendsTrainsBackToBack(t *testing.T) {
	clk := &fakeClock{now: time.Unix(0, 0)}
	s := &recSender{clk: clk}
	res, err := Run(context.Background(), Config{Rate: 16000, Train: 16, Count: 160}, testFrames(t), s, clk)
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent != 160 || len(s.calls) != 10 || res.StoppedBy != "count" {
		t.Fatalf("sent %d in %d calls (%v), stopped by %q; want 160 in 10 trains by count", res.Sent, len(s.calls), s.calls, res.StoppedBy)
	}
	for i := 1; i < len(s.times); i++ {
		if gap := s.times[i].Sub(s.times[i-1]); gap < 999*time.Microsecond || gap > 1001*time.Microsecond {
			t.Fatalf("train %d after %v, want 1ms (16 frames at 16 kpps)", i, gap)
		}
	}
}

func TestRunCountTrimsLastTrain(t *testing.T) {
	clk := &fakeClock{now: time.Unix(0, 0)}
	s := &recSender{clk: clk}
	res, _ := Run(context.Background(), Config{Rate: 1e5, Train: 8, Count: 20}, testFrames(t), s, clk)
	if res.Sent != 20 || s.calls[len(s.calls)-1] != 4 {
		t.Fatalf("sent %d, calls %v; want 20 with a last train of 4", res.Sent, s.calls)
	}
}

func TestRunStopsByItselfAtMaxDuration(t *testing.T) {
	clk := &fakeClock{now: time.Unix(0, 0)}
	s := &recSender{clk: clk}
	res, err := Run(context.Background(), Config{Rate: 1, Train: 1, Count: math.MaxUint64}, testFrames(t), s, clk)
	if err != nil {
		t.Fatal(err)
	}
	if res.StoppedBy != "duration" || res.Elapsed != MaxDuration {
		t.Fatalf("stopped by %q after %v, want duration cap %v", res.StoppedBy, res.Elapsed, MaxDuration)
	}
	clk2 := &fakeClock{now: time.Unix(0, 0)}
	res, _ = Run(context.Background(), Config{Rate: 1, Train: 1, Duration: MaxDuration + time.Hour}, testFrames(t), &recSender{clk: clk2}, clk2)
	if res.Elapsed != MaxDuration {
		t.Fatalf("-duration cap+1h ran %v, want the %v cap", res.Elapsed, MaxDuration)
	}
}

func TestRunStopsOnContext(t *testing.T) {
	clk := &fakeClock{now: time.Unix(0, 0)}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res, err := Run(ctx, Config{Rate: 10, Train: 1, Duration: time.Second}, testFrames(t), &recSender{clk: clk}, clk)
	if err != nil || res.StoppedBy != "context" || res.Sent != 0 {
		t.Fatalf("res %+v err %v", res, err)
	}
}

func TestRunTransientErrorsCountAndContinue(t *testing.T) {
	clk := &fakeClock{now: time.Unix(0, 0)}
	s := &recSender{clk: clk, failAt: 2, failErr: ErrTransient}
	res, err := Run(context.Background(), Config{Rate: 1000, Train: 1, Count: 5}, testFrames(t), s, clk)
	if err != nil || res.Sent != 4 || res.Failed != 1 || res.StoppedBy != "count" {
		t.Fatalf("res %+v err %v; want 4 sent, 1 failed, stopped by count", res, err)
	}
}

func TestRunFatalErrorStops(t *testing.T) {
	clk := &fakeClock{now: time.Unix(0, 0)}
	boom := errors.New("ENETDOWN")
	s := &recSender{clk: clk, failAt: 3, failErr: boom}
	res, err := Run(context.Background(), Config{Rate: 1000, Train: 1, Count: 100}, testFrames(t), s, clk)
	if !errors.Is(err, boom) || res.StoppedBy != "error" || res.Sent != 2 {
		t.Fatalf("res %+v err %v", res, err)
	}
}

func TestConfigValidate(t *testing.T) {
	bad := []Config{
		{Rate: 0, Train: 1, Count: 1},
		{Rate: -5, Train: 1, Count: 1},
		{Rate: math.NaN(), Train: 1, Count: 1},
		{Rate: math.Inf(1), Train: 1, Count: 1},
		{Rate: 1e9, Train: 1, Count: 1},
		{Rate: 10, Train: 0, Count: 1},
		{Rate: 10, Train: 2000, Count: 1},
		{Rate: 10, Train: 1},                         // unbounded
		{Rate: 10, Train: 1, Duration: -time.Second}, // negative
	}
	for _, c := range bad {
		if err := c.Validate(); !errors.Is(err, ErrBadConfig) {
			t.Errorf("%+v: err = %v, want ErrBadConfig", c, err)
		}
	}
	if _, err := Run(context.Background(), Config{Rate: 1, Train: 1, Count: 1}, nil, &recSender{}, &fakeClock{}); !errors.Is(err, ErrBadConfig) {
		t.Errorf("no frames: err = %v", err)
	}
}

func TestPacerBucketDepthLimitsCatchUp(t *testing.T) {
	t0 := time.Unix(0, 0)
	p := NewPacer(1000, 4, t0)
	if !p.Take(t0, 4) || p.Take(t0, 1) {
		t.Fatal("a new bucket holds exactly its depth")
	}
	// After a 1s stall only 4 tokens are there, not 1000.
	later := t0.Add(time.Second)
	if !p.Take(later, 4) || p.Take(later, 1) {
		t.Fatal("tokens beyond the depth were kept")
	}
	if at := p.ReadyAt(later, 2); at.Sub(later) != 2*time.Millisecond {
		t.Fatalf("ReadyAt for 2 tokens: %v, want 2ms", at.Sub(later))
	}
}
