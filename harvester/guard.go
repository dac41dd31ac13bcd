package harvester

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// Backoff is called by the QoS guard: when an NF degrades while harvesting or
// edge-function load is on, SuspendPrewarms asks the function controller to
// start no new pre-warms (the paper's §3.3 "thread conflict"), and
// ResumePrewarms lets it start them again once the NF is healthy. Nothing that
// already runs is frozen or stopped: invocations always proceed, pre-warms in
// flight finish, and warm containers stay as they are. Calls are made from the guard
// goroutine, one at a time, Suspend and Resume alternating.
type Backoff interface {
	SuspendPrewarms(ctx context.Context)
	ResumePrewarms(ctx context.Context)
}

// NoBackoff is the no-op Backoff.
type NoBackoff struct{}

func (NoBackoff) SuspendPrewarms(context.Context) {}
func (NoBackoff) ResumePrewarms(context.Context)  {}

// GuardAction is what the guard asks the driver to do.
type GuardAction int

const (
	GuardNone    GuardAction = iota
	GuardBackoff             // stop harvesting, hold new pre-warms back
	GuardRecover             // harvesting allowed again, pre-warms may start again
)

func (a GuardAction) String() string {
	switch a {
	case GuardBackoff:
		return "backoff"
	case GuardRecover:
		return "recover"
	}
	return "none"
}

// GuardSample is one reading of an NF's interface counters.
type GuardSample struct {
	NF       string
	Counters IfCounters
}

// Degradation explains why an NF counts as degraded in a window.
type Degradation struct {
	NF     string
	Reason string
}

// Guard is the QoS guard's pure decision core. Each Step gets every NF's
// cumulative counters and whether harvesting or edge-function load is on
// ("contention"). An NF is degraded in a window when its drop rate or drop
// ratio exceeds the limits, or when its received throughput fell more than
// ThroughputDrop below its healthy baseline while it dropped packets.
// Degradation together with contention enters back-off; back-off ends after
// RecoverSamples consecutive healthy windows and at least MinBackoff
// (hysteresis). Degradation without contention is not ours to fix and only
// reported. Not safe for concurrent use.
type Guard struct {
	cfg      QoSConfig
	last     map[string]guardPoint
	baseline map[string]float64 // EWMA of bytes/s over healthy windows
	backoff  bool
	since    time.Time
	healthy  int
}

type guardPoint struct {
	at time.Time
	c  IfCounters
}

// baselineAlpha weighs a new healthy window in the throughput baseline.
const baselineAlpha = 0.2

// NewGuard returns a guard with cfg's defaults filled in.
func NewGuard(cfg QoSConfig) *Guard {
	return &Guard{cfg: cfg.withDefaults(), last: map[string]guardPoint{}, baseline: map[string]float64{}}
}

// InBackoff reports whether the guard is backing off.
func (g *Guard) InBackoff() bool { return g.backoff }

// Step feeds one round of samples taken at now.
func (g *Guard) Step(now time.Time, samples []GuardSample, contention bool) (GuardAction, []Degradation) {
	var degraded []Degradation
	for _, s := range samples {
		if d, ok := g.observe(now, s); ok {
			degraded = append(degraded, d)
		}
	}
	slices.SortFunc(degraded, func(a, b Degradation) int {
		if a.NF < b.NF {
			return -1
		}
		if a.NF > b.NF {
			return 1
		}
		return 0
	})
	if !g.backoff {
		if len(degraded) > 0 && contention {
			g.backoff, g.since, g.healthy = true, now, 0
			return GuardBackoff, degraded
		}
		return GuardNone, degraded
	}
	if len(degraded) > 0 {
		g.healthy = 0
		return GuardNone, degraded
	}
	g.healthy++
	if g.healthy >= g.cfg.RecoverSamples && now.Sub(g.since) >= g.cfg.MinBackoff {
		g.backoff, g.healthy = false, 0
		return GuardRecover, nil
	}
	return GuardNone, nil
}

func (g *Guard) observe(now time.Time, s GuardSample) (Degradation, bool) {
	prev, seen := g.last[s.NF]
	g.last[s.NF] = guardPoint{at: now, c: s.Counters}
	if !seen {
		return Degradation{}, false
	}
	cur, old := s.Counters, prev.c
	dt := now.Sub(prev.at).Seconds()
	if dt <= 0 || cur.RxPackets < old.RxPackets || cur.RxBytes < old.RxBytes || cur.Drops() < old.Drops() {
		delete(g.baseline, s.NF) // counters reset: interface re-created
		return Degradation{}, false
	}
	packets := float64(cur.RxPackets - old.RxPackets)
	drops := float64(cur.Drops() - old.Drops())
	tput := float64(cur.RxBytes-old.RxBytes) / dt

	var reason string
	switch base := g.baseline[s.NF]; {
	case drops/dt > g.cfg.MaxDropRate:
		reason = fmt.Sprintf("drop rate %.0f/s > %.0f/s", drops/dt, g.cfg.MaxDropRate)
	case drops > 0 && drops/(packets+drops) > g.cfg.MaxDropRatio:
		reason = fmt.Sprintf("drop ratio %.4f > %.4f", drops/(packets+drops), g.cfg.MaxDropRatio)
	case drops > 0 && base > 0 && tput < base*(1-g.cfg.ThroughputDrop):
		reason = fmt.Sprintf("throughput %.0f B/s below baseline %.0f B/s with %0.f drops", tput, base, drops)
	}
	if reason != "" {
		return Degradation{NF: s.NF, Reason: reason}, true
	}
	if base, ok := g.baseline[s.NF]; ok {
		g.baseline[s.NF] = base + baselineAlpha*(tput-base)
	} else {
		g.baseline[s.NF] = tput
	}
	return Degradation{}, false
}
