package activation

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
)

// Dependencies a record's answer may wait for.
const (
	// DependencyKafka: an ack (or the re-ack of a recorded activation) the broker did not take.
	DependencyKafka = "kafka"
	// DependencyStore: an action fetch, a duplicate check or an activation record the store did not answer.
	DependencyStore = "store"
)

// stalls counts the records waiting on an unavailable dependency: the path's back-pressure signal. The
// first record that starts waiting turns it on (the invoker holds its Kafka feed and withholds its health
// pings), the last one that stops waiting turns it off. It does no I/O; notify is called under its lock,
// so a stall and its end are never reported out of order.
type stalls struct {
	mu      sync.Mutex
	waiting map[string]int       // dependency → records waiting on it
	since   map[string]time.Time // dependency → when its first waiting record began
	notify  func(stalled bool)
}

func newStalls(notify func(bool)) *stalls {
	return &stalls{waiting: map[string]int{}, since: map[string]time.Time{}, notify: notify}
}

// begin counts one more record waiting on dep from now; it reports whether dep just became unavailable.
func (s *stalls) begin(dep string, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	before := s.totalLocked()
	s.waiting[dep]++
	first := s.waiting[dep] == 1
	if first {
		s.since[dep] = now
	}
	if before == 0 && s.notify != nil {
		s.notify(true)
	}
	return first
}

// end counts one record fewer waiting on dep; it reports how long dep was unavailable when this was the
// last record waiting on it (0 otherwise).
func (s *stalls) end(dep string, now time.Time) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.waiting[dep] == 0 {
		return 0
	}
	s.waiting[dep]--
	var outage time.Duration
	if s.waiting[dep] == 0 {
		outage = now.Sub(s.since[dep])
		delete(s.waiting, dep)
		delete(s.since, dep)
	}
	if s.totalLocked() == 0 && s.notify != nil {
		s.notify(false)
	}
	return outage
}

// count is the number of records waiting on dep.
func (s *stalls) count(dep string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.waiting[dep]
}

// err describes what records wait on, or is nil when none waits.
func (s *stalls) err(now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.totalLocked() == 0 {
		return nil
	}
	deps := make([]string, 0, len(s.waiting))
	for d := range s.waiting {
		deps = append(deps, d)
	}
	sort.Strings(deps)
	parts := make([]string, len(deps))
	for i, d := range deps {
		parts[i] = fmt.Sprintf("%s unavailable for %s (%d records waiting)", d, now.Sub(s.since[d]).Round(time.Millisecond), s.waiting[d])
	}
	return fmt.Errorf("%w: %s", ErrStalled, strings.Join(parts, "; "))
}

func (s *stalls) totalLocked() int {
	n := 0
	for _, c := range s.waiting {
		n += c
	}
	return n
}
