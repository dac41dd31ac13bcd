package clickshm

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrNoAck is returned by WaitAck when no reader acknowledged the sequence
// number before the context ended.
var ErrNoAck = errors.New("clickshm: no acknowledgement from the reader")

// ReaderState is the writer's verdict on the reader (the Click element or the
// Go Reader), judged from line 1 on the writer's own clock.
type ReaderState uint8

const (
	// ReaderNever: ack_ns has not changed since this Writer was created, so no
	// reader has ticked on this segment since then (the NF's Click side never
	// attached, or is not running).
	ReaderNever ReaderState = iota
	// ReaderLive: attached, and ack_ns changed within the last lease.
	ReaderLive
	// ReaderStale: attached, but ack_ns has not changed for longer than the
	// lease: the reader hung or was killed without detaching.
	ReaderStale
	// ReaderDetached: the reader ticked since Create and then detached
	// cleanly (ATTACHED cleared, e.g. Click stopped).
	ReaderDetached
)

var readerStateNames = [...]string{"never", "live", "stale", "detached"}

// String returns never, live, stale or detached.
func (s ReaderState) String() string {
	if int(s) < len(readerStateNames) {
		return readerStateNames[s]
	}
	return fmt.Sprintf("ReaderState(%d)", uint8(s))
}

// Ack is one reading of the reader's acknowledgement line, judged against
// the writer's current state.
type Ack struct {
	ReaderAck // line 1 as stored: what the reader applied (AckSeq, AppliedBurst) and when (AckNs)

	// WriterSeq is the writer's seq when line 1 was read.
	WriterSeq uint32
	// Reader is the verdict on the reader.
	Reader ReaderState
	// Current: a live reader acknowledged WriterSeq, i.e. AppliedBurst is the
	// reader's answer to the latest Publish.
	Current bool
	// LastTick is when, on the writer's clock, this Writer last saw ack_ns
	// change; zero when it never has.
	LastTick time.Time
}

// ackTracker judges line 1 by how ack_ns changes over the writer's clock, the
// mirror image of how readers judge heartbeat_ns: two processes' clocks are
// never compared, so it works across time namespaces. Readers store ack_ns on
// every tick (NemoBurstCtl every INTERVAL), so ack_ns is their heartbeat.
type ackTracker struct {
	lastAckNs  uint64    // ack_ns last seen; at Create, what line 1 held then
	lastChange time.Time // writer clock when ack_ns last changed; zero = never since Create
}

func newAckTracker(ackNsAtCreate uint64) ackTracker {
	return ackTracker{lastAckNs: ackNsAtCreate}
}

// observe folds one reading of line 1 into the tracker and returns the
// verdict. lease is how long a live reader may go without ticking.
func (t *ackTracker) observe(raw ReaderAck, writerSeq uint32, now time.Time, lease time.Duration) Ack {
	if raw.AckNs != t.lastAckNs {
		t.lastAckNs, t.lastChange = raw.AckNs, now
	}
	a := Ack{ReaderAck: raw, WriterSeq: writerSeq, LastTick: t.lastChange}
	switch {
	case t.lastChange.IsZero():
		a.Reader = ReaderNever
	case !raw.Attached():
		a.Reader = ReaderDetached
	case now.Sub(t.lastChange) > lease:
		a.Reader = ReaderStale
	default:
		a.Reader = ReaderLive
	}
	a.Current = a.Reader == ReaderLive && raw.AckSeq == writerSeq
	return a
}

// seqReached reports whether acked is seq or a later generation (seq counts
// up by 2 per publish and may wrap).
func seqReached(acked, seq uint32) bool { return int32(acked-seq) >= 0 }

// Ack reads the reader's acknowledgement line and judges it (see ReaderState).
// Staleness is measured between calls on the writer's clock, so a caller that
// wants to tell a stale reader from a live one calls Ack at least once per
// lease (a metrics scrape does).
func (w *Writer) Ack() (Ack, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return Ack{}, ErrClosed
	}
	raw := w.readAck()
	lease := time.Duration(w.leaseMs) * time.Millisecond
	return w.acks.observe(raw, w.pg.load32(OffSeq), w.now(), lease), nil
}

// WaitAck waits until a reader that ticked since Create acknowledges seq or
// a later one (usually seq is Seq() right after Publish) and returns that
// acknowledgement. It polls line 1 every millisecond; ctx bounds the wait.
// Without an acknowledgement it returns the last reading with an error
// wrapping ErrNoAck and ctx's error; ErrClosed if the Writer closes.
func (w *Writer) WaitAck(ctx context.Context, seq uint32) (Ack, error) {
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		a, err := w.Ack()
		if err != nil {
			return a, err
		}
		if a.Reader != ReaderNever && seqReached(a.AckSeq, seq) {
			return a, nil
		}
		select {
		case <-ctx.Done():
			return a, fmt.Errorf("clickshm: %s: seq %d not acknowledged (reader %s, acked %d): %w: %w",
				w.path, seq, a.Reader, a.AckSeq, ErrNoAck, ctx.Err())
		case <-tick.C:
		}
	}
}
