package scheduler

import (
	"math"
	"time"
)

// HistoryConfig tunes how per-function history forgets.
type HistoryConfig struct {
	// RateHalfLife is the half-life of the decayed invocation rate: an invocation
	// that happened RateHalfLife ago weighs half as much as one happening now.
	// Default is 10 minutes.
	RateHalfLife time.Duration
	// GapDecay is the weight kept by older inter-arrival samples each time a new
	// one is recorded (per-sample, not per-second, so rare functions keep their
	// pattern); at most the last 64 gaps are kept. Default is 0.97.
	GapDecay float64
	// TimeSmoothing is the weight of a new init/run measurement in the moving
	// averages. Default is 0.3.
	TimeSmoothing float64
}

// DefaultHistoryConfig is HistoryConfig with every default filled in.
func DefaultHistoryConfig() HistoryConfig { return HistoryConfig{}.withDefaults() }

func (c HistoryConfig) withDefaults() HistoryConfig {
	if c.RateHalfLife <= 0 {
		c.RateHalfLife = 10 * time.Minute
	}
	if c.GapDecay <= 0 || c.GapDecay >= 1 {
		c.GapDecay = 0.97
	}
	if c.TimeSmoothing <= 0 || c.TimeSmoothing > 1 {
		c.TimeSmoothing = 0.3
	}
	return c
}

// gapWindow is how many recent inter-arrival gaps a function keeps. Older
// ones also fade with HistoryConfig.GapDecay.
const gapWindow = 64

// gapKernel is the half-width of the window each observed gap stands for:
// arrival times jitter, so a gap of 300 s also predicts 299 s and 301 s.
func gapKernel(g time.Duration) time.Duration {
	return max(500*time.Millisecond, g/50)
}

// Stats is the history of one function. It is read by scores; only History
// mutates it.
type Stats struct {
	cfg HistoryConfig

	// Invocations is the lifetime count (for reporting only; scores use Rate).
	Invocations int64
	// LastInvoked is the arrival time of the latest invocation (zero if none).
	LastInvoked time.Time
	// InitTime and RunTime are smoothed measurements; zero until measured.
	InitTime, RunTime time.Duration
	// ColdStarts counts invocations that paid an init.
	ColdStarts int64
	// FirstInvoked is the arrival time of the first invocation, and Observed
	// when the history started watching (its first arrival of any function):
	// the silence between them says the function is rare.
	FirstInvoked, Observed time.Time

	rateValue float64   // decayed event count at rateAt
	rateAt    time.Time // when rateValue was last brought up to date

	gaps     [gapWindow]time.Duration // ring buffer of recent gaps
	gapNext  int                      // next slot in gaps
	gapMean  float64                  // decayed mean of gaps (ns)
	gapVar   float64                  // decayed variance of gaps (ns^2)
	gapCount int64
}

// BWarm is init / (init + run): the share of a cold invocation spent
// initialising. It is 0 until both times have been measured at least once.
func (s *Stats) BWarm() float64 {
	total := s.InitTime + s.RunTime
	if s.InitTime <= 0 || total <= 0 {
		return 0
	}
	return float64(s.InitTime) / float64(total)
}

// Rate is the exponentially decayed invocation rate at now, in invocations
// per second.
func (s *Stats) Rate(now time.Time) float64 {
	if s.rateAt.IsZero() {
		return 0
	}
	tau := s.cfg.RateHalfLife.Seconds() / math.Ln2
	dt := now.Sub(s.rateAt).Seconds()
	if dt < 0 {
		dt = 0
	}
	return s.rateValue * math.Exp(-dt/tau) / tau
}

// GapMean and GapStdDev describe the (decayed) inter-arrival distribution.
func (s *Stats) GapMean() time.Duration { return time.Duration(s.gapMean) }

// GapStdDev is the decayed standard deviation of inter-arrival gaps.
func (s *Stats) GapStdDev() time.Duration { return time.Duration(math.Sqrt(s.gapVar)) }

// GapSamples is the number of inter-arrival gaps observed.
func (s *Stats) GapSamples() int64 { return s.gapCount }

// survival returns the decayed weight of recent gaps longer than d (each
// gap smeared uniformly over ±gapKernel, or at least ±minKernel), and the
// total weight.
func (s *Stats) survival(d, minKernel time.Duration) (above, total float64) {
	n := int(min(s.gapCount, gapWindow))
	w := 1.0
	for i := 0; i < n; i++ {
		// newest first
		g := s.gaps[(s.gapNext-1-i+gapWindow)%gapWindow]
		k := max(gapKernel(g), minKernel)
		switch {
		case d <= g-k:
			above += w
		case d < g+k:
			above += w * float64(g+k-d) / float64(2*k)
		}
		total += w
		w *= s.cfg.GapDecay
	}
	return above, total
}

// ArrivalProbability estimates P(next invocation within (now, now+horizon])
// given that none has arrived since LastInvoked. It conditions the empirical
// distribution of recent gaps on the time already elapsed (a hazard
// estimate) and blends it with a Poisson estimate from the decayed rate,
// trusting the gaps more the more of them outlasted the time elapsed less the
// horizon. It looks only at the past.
func (s *Stats) ArrivalProbability(now time.Time, horizon time.Duration) float64 {
	return s.arrivalProbability(now, horizon, false, false)
}

// ArrivalProbabilityLongRun is ArrivalProbability with ReuseRate in place of the decayed rate: when the
// recent gaps do not speak (none yet, or the silence outlasted them all), the function is rated by its
// long-run rate, which forgets by samples, instead of a rate that halves every RateHalfLife of silence.
// Each gap also stands for a window at least as wide as the gaps' own spread suggests (Silverman's rule of
// thumb, 0.9 σ n^−1/5): the gaps of a timer stay sharp, those of irregular arrivals blur into a rate
// instead of spikes. And the gaps' hazard weighs only as far as they are not memoryless (notMemoryless):
// exponential gaps leave the long-run rate alone.
func (s *Stats) ArrivalProbabilityLongRun(now time.Time, horizon time.Duration) float64 {
	return s.arrivalProbability(now, horizon, true, true)
}

// bandwidth is Silverman's rule of thumb for the recent gaps: 0.9 × their (decayed) standard deviation ×
// n^−1/5.
func (s *Stats) bandwidth() time.Duration {
	n := float64(min(s.gapCount, gapWindow))
	if n < 2 {
		return 0
	}
	return time.Duration(0.9 * math.Sqrt(s.gapVar) * math.Pow(n, -0.2))
}

func (s *Stats) arrivalProbability(now time.Time, horizon time.Duration, longRun, smooth bool) float64 {
	if s.LastInvoked.IsZero() {
		return 0
	}
	rate := s.Rate(now)
	if longRun {
		rate = s.ReuseRate(now)
	}
	var kernel time.Duration
	if smooth {
		kernel = s.bandwidth()
	}
	poisson := 1 - math.Exp(-rate*horizon.Seconds())
	if s.gapCount == 0 {
		return poisson
	}
	elapsed := now.Sub(s.LastInvoked)
	if elapsed < 0 {
		elapsed = 0
	}
	surv, total := s.survival(elapsed, kernel)
	var empirical float64
	if surv <= 1e-9*total {
		// Waited longer than any recent gap: the pattern is broken. Fall
		// back to the decayed rate, which keeps decaying with silence.
		empirical = poisson
	} else {
		later, _ := s.survival(elapsed+horizon, kernel)
		empirical = (surv - later) / surv
	}
	// Confidence in the gaps grows with the number of them that speak: those that outlasted the time
	// elapsed less the horizon (a timer due within the horizon still speaks; a hazard read from the two
	// longest of many irregular gaps is noise).
	k := float64(s.gapCount)
	if speak, _ := s.survival(max(elapsed-horizon, 0), kernel); total > 0 {
		k *= speak / total
	}
	w := k / (k + 3)
	if longRun {
		w *= s.notMemoryless()
	}
	return w*empirical + (1-w)*poisson
}

// notMemoryless says how clearly the recent gaps depart from exponential ones, in [0, 1]. Exponential gaps
// (a Poisson stream) have a flat hazard: the time elapsed since the last invocation says nothing about the
// next one, and a hazard read from a dozen of them is noise. Their coefficient of variation is 1, with a
// standard error of about 1/√n over n gaps; a timer's is ~0, a bursty function's well above 1. The gaps'
// shape is trusted from 1 standard error away from 1 (0) to 3 (1). Each gap weighs HistoryConfig.GapDecay
// per newer sample, n is their effective number; fewer than 2 gaps show no shape (0).
func (s *Stats) notMemoryless() float64 {
	n := int(min(s.gapCount, gapWindow))
	if n < 2 {
		return 0
	}
	var sw, sw2, mean float64
	w := 1.0
	for i := 0; i < n; i++ {
		g := s.gaps[(s.gapNext-1-i+gapWindow)%gapWindow].Seconds()
		sw += w
		sw2 += w * w
		mean += w * g
		w *= s.cfg.GapDecay
	}
	mean /= sw
	if mean <= 0 {
		return 1 // every gap 0: a burst, not a Poisson stream
	}
	var ss float64
	w = 1.0
	for i := 0; i < n; i++ {
		g := s.gaps[(s.gapNext-1-i+gapWindow)%gapWindow].Seconds()
		ss += w * (g - mean) * (g - mean)
		w *= s.cfg.GapDecay
	}
	neff := sw * sw / sw2
	variance := ss / sw * neff / (neff - 1)
	z := math.Abs(math.Sqrt(variance)/mean-1) * math.Sqrt(neff)
	return min(max((z-1)/2, 0), 1)
}

// History records per-function measurements. It is not safe for concurrent
// use; the Controller serialises access.
type History struct {
	cfg     HistoryConfig
	funcs   map[string]*Stats
	started time.Time // first arrival of any function
}

// NewHistory returns an empty history.
func NewHistory(cfg HistoryConfig) *History {
	return &History{cfg: cfg.withDefaults(), funcs: map[string]*Stats{}}
}

// Get returns the stats of fn, or nil when fn was never seen.
func (h *History) Get(fn string) *Stats { return h.funcs[fn] }

// Functions returns every known function name (unordered).
func (h *History) Functions() []string {
	out := make([]string, 0, len(h.funcs))
	for k := range h.funcs {
		out = append(out, k)
	}
	return out
}

func (h *History) stats(fn string) *Stats {
	s := h.funcs[fn]
	if s == nil {
		s = &Stats{cfg: h.cfg}
		h.funcs[fn] = s
	}
	return s
}

// Arrived records an invocation arriving at now.
func (h *History) Arrived(fn string, now time.Time) {
	if h.started.IsZero() || now.Before(h.started) {
		h.started = now
	}
	s := h.stats(fn)
	if s.FirstInvoked.IsZero() {
		s.FirstInvoked, s.Observed = now, h.started
	}
	s.Invocations++
	// decayed rate
	if s.rateAt.IsZero() {
		s.rateValue = 1
	} else {
		tau := h.cfg.RateHalfLife.Seconds() / math.Ln2
		dt := now.Sub(s.rateAt).Seconds()
		if dt < 0 {
			dt = 0
		}
		s.rateValue = s.rateValue*math.Exp(-dt/tau) + 1
	}
	s.rateAt = now
	// inter-arrival gap
	if !s.LastInvoked.IsZero() {
		gap := now.Sub(s.LastInvoked)
		if gap < 0 {
			gap = 0
		}
		d := h.cfg.GapDecay
		s.gaps[s.gapNext] = gap
		s.gapNext = (s.gapNext + 1) % gapWindow
		// decayed (EW) mean and variance
		x := float64(gap)
		if s.gapCount == 0 {
			s.gapMean, s.gapVar = x, 0
		} else {
			a := 1 - d
			diff := x - s.gapMean
			incr := a * diff
			s.gapMean += incr
			s.gapVar = (1 - a) * (s.gapVar + diff*incr)
		}
		s.gapCount++
	}
	if now.After(s.LastInvoked) {
		s.LastInvoked = now
	}
}

// Measured records the init and run time of a finished invocation. init is 0
// for a warm invocation (the stored init time is then kept).
func (h *History) Measured(fn string, init, run time.Duration) {
	s := h.stats(fn)
	a := h.cfg.TimeSmoothing
	if init > 0 {
		s.ColdStarts++
		if s.InitTime == 0 {
			s.InitTime = init
		} else {
			s.InitTime = time.Duration((1-a)*float64(s.InitTime) + a*float64(init))
		}
	}
	if run > 0 {
		if s.RunTime == 0 {
			s.RunTime = run
		} else {
			s.RunTime = time.Duration((1-a)*float64(s.RunTime) + a*float64(run))
		}
	}
}

// Warmed records the init time measured by a pre-warm (no run).
func (h *History) Warmed(fn string, init time.Duration) {
	if init <= 0 {
		return
	}
	s := h.stats(fn)
	a := h.cfg.TimeSmoothing
	if s.InitTime == 0 {
		s.InitTime = init
	} else {
		s.InitTime = time.Duration((1-a)*float64(s.InitTime) + a*float64(init))
	}
}

// Evidence is the number of arrivals the function's rate estimate rests on: 1 + its recent gaps, each
// weighed by HistoryConfig.GapDecay per newer sample as ReuseRate weighs them. 0 before the first
// invocation.
func (s *Stats) Evidence() float64 {
	if s.LastInvoked.IsZero() {
		return 0
	}
	n := int(min(s.gapCount, gapWindow))
	w, count := 1.0, 1.0
	for i := 0; i < n; i++ {
		count += w
		w *= s.cfg.GapDecay
	}
	return count
}

// ReuseRate is the invocation rate the recent gaps imply when the silence since the last invocation is
// counted as a gap still open: (gaps + 1) / (sum of the gaps + time since the last invocation), each gap
// weighed by HistoryConfig.GapDecay per newer sample (the last 64); while the window still holds the whole
// history, the silence between the history's first arrival (of any function) and this function's first
// counts too, so a function that took long to appear is rated rare. It is the rate estimate of a Poisson
// process observed over that time (the maximum likelihood one, with the silence censored), and it
// forgets by samples, not by seconds: a function invoked twice, ten minutes apart, an hour ago is still
// rated above one invoked once, forty minutes ago. 0 before the first invocation.
func (s *Stats) ReuseRate(now time.Time) float64 {
	if s.LastInvoked.IsZero() {
		return 0
	}
	elapsed := max(now.Sub(s.LastInvoked), 0)
	n := int(min(s.gapCount, gapWindow))
	w, count, span := 1.0, 1.0, elapsed.Seconds()
	for i := 0; i < n; i++ {
		g := s.gaps[(s.gapNext-1-i+gapWindow)%gapWindow]
		count += w
		span += w * g.Seconds()
		w *= s.cfg.GapDecay
	}
	if s.gapCount <= gapWindow {
		// The whole history is in the window: the silence before the first invocation counts too.
		span += w * s.FirstInvoked.Sub(s.Observed).Seconds()
	}
	return count / max(span, 1e-3)
}
