package scheduler

import (
	"math"
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

// KeepValue is what an idle container of a function is worth keeping (Config.Value): the probability that
// the function is invoked within its horizon (as ExpectedBenefit, from the same history), weighed by the
// cold start its eviction would cost. Two things differ from ExpectedBenefit, because the question is
// which container is needed again soonest rather than whether the daemon can warm it in time:
//
//   - When the recent gaps do not speak (none yet, or the silence outlasted them all) the function is rated
//     by its long-run rate (Stats.ReuseRate), which forgets by samples, not by a rate that halves every
//     ten minutes of silence: otherwise every rarely invoked function is worth ~0 and eviction degrades to
//     least recently used.
//   - Each recent gap is blurred over the spread of the gaps (Stats.ArrivalProbabilityLongRun): a timer's
//     gaps stay sharp, irregular arrivals blur into a rate instead of spikes that decide evictions at
//     random; and the gaps' hazard counts only as far as the gaps are clearly not exponential (a Poisson
//     stream's hazard is flat: read from a dozen gaps it is noise).
//
// The weight is 1 + CostDoublings × log2(1 + init/DefaultColdCost): a cold start counts more the longer it
// takes, but a function whose cold start takes minutes does not hold memory against many cheap ones.
type KeepValue struct {
	// Slack and MinHorizon shape the horizon as in ExpectedBenefit. Defaults 9 s and 10 s.
	Slack, MinHorizon time.Duration
	// CostDoublings weighs the cold cost (see the type); negative = 0 (count cold starts only). Default 2
	// (DefaultCostDoublings).
	CostDoublings float64
}

// DefaultCostDoublings is KeepValue's default cost weight.
const DefaultCostDoublings = 2

// Score implements Score.
func (k KeepValue) Score(now time.Time, s *Stats) float64 {
	return s.ArrivalProbabilityLongRun(now, k.horizon(s)) * k.weight(s)
}

func (k KeepValue) horizon(s *Stats) time.Duration {
	return ExpectedBenefit{Slack: k.Slack, MinHorizon: k.MinHorizon}.Horizon(s)
}

// weight is the cold-cost weight 1 + CostDoublings × log2(1 + init/DefaultColdCost).
func (k KeepValue) weight(s *Stats) float64 {
	w := k.CostDoublings
	switch {
	case w == 0:
		w = DefaultCostDoublings
	case w < 0:
		w = 0
	}
	cost := s.InitTime
	if cost <= 0 {
		cost = DefaultColdCost
	}
	return 1 + w*math.Log2(1+float64(cost)/float64(DefaultColdCost))
}

// SetScore is a Score that can also rate several functions against each other. The controller values the
// functions of the idle containers it ranks with it when Config.Value implements it.
type SetScore interface {
	Score
	// ScoreSet returns the score of each of ss at now, each rated among all of ss.
	ScoreSet(now time.Time, ss []*Stats) []float64
}

// minPooled is how many functions ScoreSet needs to estimate how far their rates really differ.
const minPooled = 3

// ScoreSet values the functions of ss as Score does, except that each one's arrival estimate is pulled
// toward the others' as far as its own evidence is weak against the spread between them (an empirical
// Bayes estimate on the log of the estimate per second of horizon): a function rated on n gaps has a
// rate known to about ±1/√n in log terms; the spread of the estimates across ss beyond that noise is
// what their rates really differ by. Functions whose estimates differ by no more than their noise (equal
// popularity) are then told apart by the cold start their eviction would cost, not by the noise; when the
// rates clearly differ (skewed popularity, timers against rare functions), little moves. Fewer than 3
// functions with an estimate are valued one by one.
func (k KeepValue) ScoreSet(now time.Time, ss []*Stats) []float64 {
	out := make([]float64, len(ss))
	logRate := make([]float64, len(ss)) // log of the arrival estimate per second of horizon
	noise := make([]float64, len(ss))   // its variance: 1 / the evidence
	horizon := make([]float64, len(ss))
	var est []int // functions with an estimate
	for i, s := range ss {
		horizon[i] = k.horizon(s).Seconds()
		p := s.ArrivalProbabilityLongRun(now, k.horizon(s))
		out[i] = p * k.weight(s)
		if p > 0 {
			logRate[i] = math.Log(p / horizon[i])
			noise[i] = 1 / s.Evidence()
			est = append(est, i)
		}
	}
	if len(est) < minPooled {
		return out
	}
	var mean, meanNoise float64
	for _, i := range est {
		mean += logRate[i]
		meanNoise += noise[i]
	}
	n := float64(len(est))
	mean /= n
	meanNoise /= n
	var spread float64
	for _, i := range est {
		spread += (logRate[i] - mean) * (logRate[i] - mean)
	}
	spread /= n - 1
	between := max(spread-meanNoise, 0) // the variance of the true log rates
	for _, i := range est {
		keep := between / (between + noise[i]) // the share of its own estimate a function keeps
		pooled := mean + keep*(logRate[i]-mean)
		out[i] = min(math.Exp(pooled)*horizon[i], 1) * k.weight(ss[i])
	}
	return out
}
