package trafficgen

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"
)

// MaxDuration caps every run, whatever the flags say (the paper evaluation keeps traffic on for runs of up
// to about an hour).
const MaxDuration = 3 * time.Hour

// MaxRate caps the requested rate (frames per second).
const MaxRate = 20e6

// ErrTransient marks send errors that lose frames but do not end the run
// (ENOBUFS, EAGAIN).
var ErrTransient = errors.New("trafficgen: transient send error")

// Sender transmits frames; it returns how many it accepted.
type Sender interface {
	SendBatch(frames [][]byte) (int, error)
}

// Clock abstracts time so the loop can be tested without sleeping.
type Clock interface {
	Now() time.Time
	SleepUntil(t time.Time)
}

// Config bounds and paces a run. At least one of Duration and Count must be
// set; Duration is capped at MaxDuration.
type Config struct {
	Rate     float64       // frames per second
	Train    int           // frames sent back to back per token release (1 = smooth)
	Duration time.Duration // stop after this long
	Count    uint64        // stop after this many frames
	// TrainFn, when set, is asked before every send for the current train length (1..1024), replacing
	// Train: the NIC-coalescing stand-in (Coalescing.Train) switches between smooth pacing and trains.
	TrainFn func() int
}

// Validate checks the configuration.
func (c Config) Validate() error {
	if !(c.Rate > 0) || c.Rate > MaxRate || math.IsInf(c.Rate, 0) {
		return fmt.Errorf("%w: rate %v pps (want 0 < rate <= %v)", ErrBadConfig, c.Rate, MaxRate)
	}
	if c.Train < 1 || c.Train > 1024 {
		return fmt.Errorf("%w: train %d (want 1..1024)", ErrBadConfig, c.Train)
	}
	if c.Duration <= 0 && c.Count == 0 {
		return fmt.Errorf("%w: need -duration or -count so the sender stops by itself", ErrBadConfig)
	}
	if c.Duration < 0 {
		return fmt.Errorf("%w: negative duration", ErrBadConfig)
	}
	return nil
}

// Result summarises a run.
type Result struct {
	Sent        uint64        `json:"sent"`
	Failed      uint64        `json:"failed"` // frames lost to transient send errors
	Bytes       uint64        `json:"bytes"`
	Trains      uint64        `json:"send_calls"`
	InTrains    uint64        `json:"frames_in_trains"` // frames sent in trains longer than 1
	Elapsed     time.Duration `json:"elapsed_ns"`
	OfferedPPS  float64       `json:"offered_pps"`
	AchievedPPS float64       `json:"achieved_pps"`
	FrameSize   int           `json:"frame_size"`
	StoppedBy   string        `json:"stopped_by"` // count | duration | context | error
}

// Run sends frames round-robin, Train at a time, paced by a token bucket of
// depth Train, until Count frames were sent, Duration (capped at MaxDuration)
// passed, ctx ended, or a non-transient send error occurred.
func Run(ctx context.Context, cfg Config, frames [][]byte, s Sender, clk Clock) (Result, error) {
	if err := cfg.Validate(); err != nil {
		return Result{}, err
	}
	if len(frames) == 0 {
		return Result{}, fmt.Errorf("%w: no frames", ErrBadConfig)
	}
	limit := MaxDuration
	if cfg.Duration > 0 && cfg.Duration < limit {
		limit = cfg.Duration
	}
	start := clk.Now()
	deadline := start.Add(limit)
	train := cfg.Train
	if cfg.TrainFn != nil {
		train = min(max(cfg.TrainFn(), 1), 1024)
	}
	pacer := NewPacer(cfg.Rate, train, start)
	res := Result{OfferedPPS: cfg.Rate, FrameSize: len(frames[0])}
	batch := make([][]byte, 0, 1024)
	next := 0
	var runErr error
	for {
		if ctx.Err() != nil {
			res.StoppedBy = "context"
			break
		}
		if cfg.Count > 0 && res.Sent+res.Failed >= cfg.Count {
			res.StoppedBy = "count"
			break
		}
		now := clk.Now()
		if !now.Before(deadline) {
			res.StoppedBy = "duration"
			break
		}
		if cfg.TrainFn != nil {
			if t := min(max(cfg.TrainFn(), 1), 1024); t != train {
				train = t
				pacer.SetDepth(train)
			}
		}
		n := train
		if cfg.Count > 0 {
			n = int(min(uint64(n), cfg.Count-res.Sent-res.Failed))
		}
		if !pacer.Take(now, n) {
			at := pacer.ReadyAt(now, n)
			if at.After(deadline) {
				at = deadline
			}
			clk.SleepUntil(at)
			continue
		}
		batch = batch[:0]
		for range n {
			batch = append(batch, frames[next])
			next++
			if next == len(frames) {
				next = 0
			}
		}
		k, err := s.SendBatch(batch)
		res.Trains++
		k = min(max(k, 0), n)
		res.Sent += uint64(k)
		if n > 1 {
			res.InTrains += uint64(k)
		}
		for _, f := range batch[:k] {
			res.Bytes += uint64(len(f))
		}
		if k < n {
			res.Failed += uint64(n - k)
		}
		if err != nil && !errors.Is(err, ErrTransient) {
			res.StoppedBy = "error"
			runErr = fmt.Errorf("trafficgen: send: %w", err)
			break
		}
	}
	res.Elapsed = clk.Now().Sub(start)
	if res.Elapsed > 0 {
		res.AchievedPPS = float64(res.Sent) / res.Elapsed.Seconds()
	}
	return res, runErr
}

// RealClock paces with nanosleep. Spinning (pktgen's way) is accurate on an
// idle core but on a shared one the spinner burns its CFS slice and is then
// descheduled for milliseconds, losing tokens; a sleeper that wakes on an
// hrtimer is scheduled promptly. Call PrepareThread on the sending thread
// first so the kernel does not add its default 50 µs timer slack.
type RealClock struct {
	// SpinBelow: waits shorter than this are spun instead of slept
	// (0 = always sleep).
	SpinBelow time.Duration
}

// Now returns time.Now().
func (RealClock) Now() time.Time { return time.Now() }

// SleepUntil waits until t.
func (c RealClock) SleepUntil(t time.Time) {
	d := time.Until(t)
	if d <= 0 {
		return
	}
	if d < c.SpinBelow {
		for time.Now().Before(t) {
		}
		return
	}
	nanosleep(d)
}
