package trafficgen

import (
	"math"
	"time"
)

// Pacer is a token bucket: tokens accrue at Rate per second up to Depth.
// Sending n frames needs n tokens. Depth 1 paces frame by frame; Depth N lets
// a late sender catch up by at most N frames and lets trains of N go out
// back to back. Tokens lost while the bucket is full are lost: a sender that
// falls behind shows a lower achieved rate instead of an uncontrolled burst.
type Pacer struct {
	rate   float64
	depth  float64
	tokens float64
	last   time.Time
}

// NewPacer starts with a full bucket at now.
func NewPacer(rate float64, depth int, now time.Time) *Pacer {
	d := float64(max(depth, 1))
	return &Pacer{rate: rate, depth: d, tokens: d, last: now}
}

func (p *Pacer) refill(now time.Time) {
	if dt := now.Sub(p.last); dt > 0 {
		p.tokens = math.Min(p.depth, p.tokens+dt.Seconds()*p.rate)
		p.last = now
	}
}

// Take consumes n tokens if available at now.
func (p *Pacer) Take(now time.Time, n int) bool {
	p.refill(now)
	if p.tokens+1e-9 < float64(n) {
		return false
	}
	p.tokens -= float64(n)
	return true
}

// ReadyAt returns when n tokens will be available (n is capped at Depth).
func (p *Pacer) ReadyAt(now time.Time, n int) time.Time {
	p.refill(now)
	need := math.Min(float64(n), p.depth) - p.tokens
	if need <= 0 {
		return now
	}
	return now.Add(time.Duration(math.Ceil(need / p.rate * 1e9)))
}

// SetDepth changes the bucket depth (a train length that changed at run time); tokens above the new
// depth are dropped.
func (p *Pacer) SetDepth(depth int) {
	p.depth = float64(max(depth, 1))
	p.tokens = math.Min(p.tokens, p.depth)
}
