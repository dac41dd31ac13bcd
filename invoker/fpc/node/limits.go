package node

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nemo-edge/nemo/invoker/wire"
)

// LimitCheck says whether and how a creation's action is checked against its invocation namespace's limits.
type LimitCheck int

const (
	// LimitCheckOn answers a creation whose action's limits are outside the namespace's with
	// InvalidActionLimitError, as OpenWhisk's invoker does since 2023-01 (2.0.0 and later).
	LimitCheckOn LimitCheck = iota
	// LimitCheckCompat checks the same but answers DBFetchError (final, like InvalidActionLimitError) with
	// "InvalidActionLimitError: …" in the reason, for schedulers older than the check (ef725a6, Helm's pin),
	// whose parser does not know InvalidActionLimitError (the creation would wait out its 20 s timeout).
	LimitCheckCompat
	// LimitCheckOff does not read the namespace's limits (the invoker of ef725a6).
	LimitCheckOff
)

// ParseLimitCheck reads "on", "compat" or "off" ("" is on).
func ParseLimitCheck(s string) (LimitCheck, error) {
	switch s {
	case "", "on":
		return LimitCheckOn, nil
	case "compat":
		return LimitCheckCompat, nil
	case "off":
		return LimitCheckOff, nil
	}
	return LimitCheckOn, fmt.Errorf("%q: want on, compat or off", s)
}

// SystemLimits are the system's action limit bounds (whisk.memory, whisk.time-limit, whisk.log-limit,
// whisk.concurrency-limit min and max); a namespace's limits are clamped into them. 0 is no bound.
type SystemLimits struct {
	MinMemoryMB, MaxMemoryMB       int
	MinTimeout, MaxTimeout         time.Duration
	MinLogsMB, MaxLogsMB           int
	MinConcurrency, MaxConcurrency int
}

// LimitDefaults are the namespace default limits (whisk.namespace-default-limit.*: min and max per limit),
// the bounds of a namespace whose limits document does not set them; a nil pair falls back to SystemLimits.
type LimitDefaults struct {
	MemoryMB    *[2]int
	Timeout     *[2]time.Duration
	LogsMB      *[2]int
	Concurrency *[2]int
}

// NamespaceLimitReader reads an invocation namespace's action limits (invoker/store: the identities view). An
// error of class errdefs.ErrNotImplemented means no namespace's limits can be read (no identities view):
// the check is skipped; any other error fails the creation with DBFetchError, as upstream.
type NamespaceLimitReader interface {
	NamespaceLimits(ctx context.Context, namespace string) (wire.NamespaceActionLimits, error)
}

// ErrActionLimits: the action's limits are outside what its invocation namespace allows.
var ErrActionLimits = errors.New("action limits outside the namespace's")

// CheckNamespaceLimits checks an action's limits against the namespace's, in OpenWhisk's order (time,
// memory, concurrency, logs; maximum before minimum) and words (its Messages for the threshold checks). A bound
// the namespace does not set is the namespace default's (dflt), else the system's; every bound is clamped into
// the system's.
func CheckNamespaceLimits(a wire.ActionLimits, ns wire.NamespaceActionLimits, sys SystemLimits, dflt LimitDefaults) error {
	pick := func(v *int, pair *[2]int, i, sysBound int) *int {
		switch {
		case v != nil:
			return v
		case pair != nil:
			return &pair[i]
		}
		return &sysBound
	}
	ms := func(d time.Duration) int { return int(d.Milliseconds()) }
	var timeDflt *[2]int
	if dflt.Timeout != nil {
		timeDflt = &[2]int{ms(dflt.Timeout[0]), ms(dflt.Timeout[1])}
	}
	maxOf := func(v *int, pair *[2]int, sysMax int) int {
		b := *pick(v, pair, 1, sysMax)
		if sysMax > 0 && (b > sysMax || b <= 0) {
			return sysMax
		}
		return b
	}
	minOf := func(v *int, pair *[2]int, sysMin int) int {
		b := *pick(v, pair, 0, sysMin)
		if b < sysMin {
			return sysMin
		}
		return b
	}
	type check struct {
		is, lo, hi       int
		exceeds, belowTo string
	}
	for _, c := range []check{
		{a.TimeoutMs, minOf(ns.MinActionTimeout, timeDflt, ms(sys.MinTimeout)), maxOf(ns.MaxActionTimeout, timeDflt, ms(sys.MaxTimeout)),
			"duration %d milliseconds exceeds allowed threshold of %d milliseconds", "duration %d milliseconds below allowed threshold of %d milliseconds"},
		{a.MemoryMB, minOf(ns.MinActionMemory, dflt.MemoryMB, sys.MinMemoryMB), maxOf(ns.MaxActionMemory, dflt.MemoryMB, sys.MaxMemoryMB),
			"memory size %d MB exceeds allowed threshold of %d MB", "memory size %d MB below allowed threshold of %d MB"},
		{a.Concurrency, minOf(ns.MinActionConcurrency, dflt.Concurrency, sys.MinConcurrency), maxOf(ns.MaxActionConcurrency, dflt.Concurrency, sys.MaxConcurrency),
			"concurrency %d exceeds allowed threshold of %d", "concurrency %d below allowed threshold of %d"},
		{a.LogsMB, minOf(ns.MinActionLogs, dflt.LogsMB, sys.MinLogsMB), maxOf(ns.MaxActionLogs, dflt.LogsMB, sys.MaxLogsMB),
			"log size %d MB exceeds allowed threshold of %d MB", "log size %d MB below allowed threshold of %d MB"},
	} {
		if c.hi > 0 && c.is > c.hi {
			return fmt.Errorf("%w: "+c.exceeds, ErrActionLimits, c.is, c.hi)
		}
		if c.is < c.lo {
			return fmt.Errorf("%w: "+c.belowTo, ErrActionLimits, c.is, c.lo)
		}
	}
	return nil
}

// limitMessage is the check's own words (OpenWhisk's reason text), without the sentinel's.
func limitMessage(err error) string {
	s := err.Error()
	if p := ErrActionLimits.Error() + ": "; len(s) > len(p) && s[:len(p)] == p {
		return s[len(p):]
	}
	return s
}
