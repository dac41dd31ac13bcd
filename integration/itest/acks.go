package itest

import (
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/IBM/sarama"
)

// Kinds of ack, as the controller tells them apart (by field names, docs/protocol.md#acknowledgements).
const (
	AckResult     = "result"
	AckCompletion = "completion"
	AckCombined   = "combined"
)

// Ack is one record read from completed{C}.
type Ack struct {
	Kind   string // AckResult, AckCompletion or AckCombined
	AID    string // the activation id
	Raw    []byte
	Fields map[string]json.RawMessage
	At     time.Time // when the test read it
}

// SlotFree reports whether the ack frees the controller's slot (a Completion or a Combined ack).
func (a Ack) SlotFree() bool { return a.Kind != AckResult }

// ClassifyAck parses one completed{C} record the way the controller does: "instance" and "response" make a
// Combined ack, "instance" alone a Completion, "response" alone a Result. The activation id comes from
// "activationId" (Completion) or "response", which is either the id itself (shrunk) or the activation.
// It fails on a record that is not a JSON object or carries no activation id.
func ClassifyAck(raw []byte) (Ack, error) {
	a := Ack{Raw: append([]byte(nil), raw...), At: time.Now()}
	if err := json.Unmarshal(raw, &a.Fields); err != nil {
		return a, fmt.Errorf("ack is not a JSON object: %w", err)
	}
	_, inst := a.Fields["instance"]
	resp, hasResp := a.Fields["response"]
	switch {
	case inst && hasResp:
		a.Kind = AckCombined
	case inst:
		a.Kind = AckCompletion
	default:
		a.Kind = AckResult
	}
	if a.Kind == AckCompletion {
		if err := json.Unmarshal(a.Fields["activationId"], &a.AID); err != nil {
			return a, fmt.Errorf("completion without activationId: %w", err)
		}
		return a, nil
	}
	if err := json.Unmarshal(resp, &a.AID); err == nil {
		return a, nil // shrunk: the activation id
	}
	var act struct {
		ActivationID string `json:"activationId"`
	}
	if err := json.Unmarshal(resp, &act); err != nil || act.ActivationID == "" {
		return a, fmt.Errorf("response is neither an id nor an activation: %s", resp)
	}
	a.AID = act.ActivationID
	return a, nil
}

// SlotFreeCounts counts the slot-freeing acks (Completion, Combined) per activation id.
func SlotFreeCounts(acks []Ack) map[string]int {
	n := map[string]int{}
	for _, a := range acks {
		if a.SlotFree() {
			n[a.AID]++
		}
	}
	return n
}

// Kinds lists the kinds of acks, in their order.
func Kinds(acks []Ack) []string {
	var out []string
	for _, a := range acks {
		out = append(out, a.Kind)
	}
	return out
}

// Journal is an append-only list that a consumer goroutine fills and a test reads or waits on. The zero
// value is ready to use.
type Journal[T any] struct {
	mu      sync.Mutex
	items   []T
	changed chan struct{} // closed and replaced on every Append
}

// Append adds v and wakes every WaitFor.
func (j *Journal[T]) Append(v T) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.items = append(j.items, v)
	if j.changed != nil {
		close(j.changed)
		j.changed = nil
	}
}

// Snapshot is a copy of everything appended so far.
func (j *Journal[T]) Snapshot() []T {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]T(nil), j.items...)
}

// WaitFor waits until cond holds over everything appended so far (checked now and after each Append);
// false when timeout passes first. cond must not keep the slice.
func (j *Journal[T]) WaitFor(timeout time.Duration, cond func([]T) bool) bool {
	deadline := time.After(timeout)
	for {
		j.mu.Lock()
		ok := cond(j.items)
		if j.changed == nil {
			j.changed = make(chan struct{})
		}
		ch := j.changed
		j.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-ch:
		case <-deadline:
			return false
		}
	}
}

// AckLog collects the acks of completed{C}; records ClassifyAck rejects are kept apart, as text.
type AckLog struct {
	acks Journal[Ack]
	mu   sync.Mutex
	bad  []string
}

// Add classifies one consumed record (the Consume callback).
func (l *AckLog) Add(m *sarama.ConsumerMessage) {
	a, err := ClassifyAck(m.Value)
	if err != nil {
		l.mu.Lock()
		l.bad = append(l.bad, fmt.Sprintf("%v: %s", err, m.Value))
		l.mu.Unlock()
		return
	}
	l.acks.Append(a)
}

// Snapshot returns the acks so far and the records that were not acks.
func (l *AckLog) Snapshot() (acks []Ack, bad []string) {
	l.mu.Lock()
	bad = append([]string(nil), l.bad...)
	l.mu.Unlock()
	return l.acks.Snapshot(), bad
}

// WaitFor waits until cond holds over all acks so far; false on timeout.
func (l *AckLog) WaitFor(timeout time.Duration, cond func([]Ack) bool) bool {
	return l.acks.WaitFor(timeout, cond)
}

// ForID returns the acks of one activation, in arrival order.
func (l *AckLog) ForID(aid string) []Ack {
	var out []Ack
	for _, a := range l.acks.Snapshot() {
		if a.AID == aid {
			out = append(out, a)
		}
	}
	return out
}
