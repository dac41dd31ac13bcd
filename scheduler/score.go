package scheduler

import (
	"time"
)

// Score ranks functions for pre-warming. Higher is better; a score <= 0 means
// "not worth a container". Implementations must only look at the past (the
// Stats) and now.
type Score interface {
	Score(now time.Time, s *Stats) float64
}

// ScoreFunc adapts a function to Score.
type ScoreFunc func(now time.Time, s *Stats) float64

// Score implements Score.
func (f ScoreFunc) Score(now time.Time, s *Stats) float64 { return f(now, s) }

// DefaultColdCost is used as the cold cost of a function whose init time has
// not been measured yet (FaasCache uses worst-case run time for the same
// purpose; we have no run time either on first sight).
const DefaultColdCost = 500 * time.Millisecond

// ExpectedBenefit is NEMO's default score: the expected cold cost saved by
// having the function warm now,
//
//	P(invoked within its horizon | history, time since last invocation) × weight(cold cost)
//
// where the horizon is the function's own cold cost (measured init time)
// plus Slack: a function whose next invocation is further away than the time
// it takes to warm it can be warmed later, so holding a container for it now
// buys nothing. The probability comes from Stats.ArrivalProbability
// (inter-arrival histogram conditioned on the time already elapsed, blended
// with the decayed rate).
type ExpectedBenefit struct {
	// Slack is added to the init time to form the horizon: the daemon tick
	// (the controller reacts once per tick) plus margin for a warming that
	// gets suspended. Default 9 s (three 3-s ticks).
	Slack time.Duration
	// MinHorizon bounds the horizon from below. Default 10 s.
	MinHorizon time.Duration
	// CostWeight in [0,1] mixes in the cold cost: weight = 1 − CostWeight +
	// CostWeight × init/DefaultColdCost. 0 ranks by probability only (the
	// number of cold starts avoided); 1 ranks by expected seconds saved.
	CostWeight float64
}

// Defaults of ExpectedBenefit and PaperScore.
const (
	DefaultSlack        = 9 * time.Second
	DefaultMinHorizon   = 10 * time.Second
	DefaultRecencyScale = 10 * time.Minute
)

// Horizon returns the look-ahead used for s.
func (e ExpectedBenefit) Horizon(s *Stats) time.Duration {
	slack, minH := e.Slack, e.MinHorizon
	if slack <= 0 {
		slack = DefaultSlack
	}
	if minH <= 0 {
		minH = DefaultMinHorizon
	}
	cost := s.InitTime
	if cost <= 0 {
		cost = DefaultColdCost
	}
	return max(minH, cost+slack)
}

// Score implements Score.
func (e ExpectedBenefit) Score(now time.Time, s *Stats) float64 {
	p := s.ArrivalProbability(now, e.Horizon(s))
	if e.CostWeight == 0 {
		return p
	}
	cost := s.InitTime
	if cost <= 0 {
		cost = DefaultColdCost
	}
	rel := float64(cost) / float64(DefaultColdCost)
	return p * (1 - e.CostWeight + e.CostWeight*rel)
}

// PaperScore is a literal reading of the paper's inputs (§4.3: b_warm,
// ivk_freq, last_ivk) with no inter-arrival model: b_warm × decayed frequency,
// discounted by the time since the last invocation relative to RecencyScale.
// Kept for comparison; see doc.go for why ExpectedBenefit replaced it.
type PaperScore struct {
	RecencyScale time.Duration
}

// Score implements Score.
func (p PaperScore) Score(now time.Time, s *Stats) float64 {
	if s.LastInvoked.IsZero() {
		return 0
	}
	scale := p.RecencyScale
	if scale <= 0 {
		scale = DefaultRecencyScale
	}
	bw := s.BWarm()
	if bw == 0 {
		bw = 0.5
	}
	since := now.Sub(s.LastInvoked)
	return bw * s.Rate(now) / (1 + float64(since)/float64(scale))
}
