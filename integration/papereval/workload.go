package papereval

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"time"
)

// Arrival is one invocation of the workload: Function is invoked At after the start of the stream.
type Arrival struct {
	At       time.Duration
	Function string
	Seq      int // 0-based position in the stream
}

// Poisson returns the merged arrivals of independent Poisson processes, one per function, each with
// exponentially distributed gaps of mean meanGap (paper §5.1: "the functions are invoked in an interval
// following Poisson distribution"), over [0, span). The stream depends only on seed, the function list,
// meanGap and span: every configuration of an experiment replays the same invocations.
func Poisson(seed uint64, functions []string, meanGap, span time.Duration) ([]Arrival, error) {
	if len(functions) == 0 {
		return nil, fmt.Errorf("papereval: no functions")
	}
	if meanGap <= 0 || span <= 0 {
		return nil, fmt.Errorf("papereval: mean gap %v and span %v must be positive", meanGap, span)
	}
	var out []Arrival
	for i, fn := range functions {
		// One generator per function, derived from the seed and the function's position, so adding a
		// function does not move the others' arrivals.
		rng := rand.New(rand.NewPCG(seed, uint64(i)+1))
		for t := time.Duration(0); ; {
			t += time.Duration(rng.ExpFloat64() * float64(meanGap))
			if t >= span {
				break
			}
			out = append(out, Arrival{At: t, Function: fn})
		}
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].At < out[b].At })
	for i := range out {
		out[i].Seq = i
	}
	return out, nil
}

func secs(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
