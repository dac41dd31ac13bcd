package clickshm

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAckTrackerVerdicts drives the writer-side judgement of line 1 through a
// reader's life: never seen, ticking, behind a publish, stale, back, detached.
func TestAckTrackerVerdicts(t *testing.T) {
	const lease = time.Second
	attached := func(ackNs uint64, seq, burst uint32) ReaderAck {
		return ReaderAck{AckSeq: seq, AppliedBurst: burst, ReaderFlags: ReaderAttached, AckNs: ackNs}
	}
	steps := []struct {
		name      string
		after     time.Duration // writer clock advance before this reading
		raw       ReaderAck
		writerSeq uint32
		want      ReaderState
		current   bool
	}{
		{"fresh page, no reader", 0, ReaderAck{}, 0, ReaderNever, false},
		{"still none after a long time", 10 * lease, ReaderAck{}, 2, ReaderNever, false},
		{"reader attached but not ticked yet", 0, ReaderAck{ReaderFlags: ReaderAttached, ReaderPID: 7}, 2, ReaderNever, false},
		{"first tick acks the current seq", 0, attached(100, 2, 32), 2, ReaderLive, true},
		{"publish not yet applied", 0, attached(100, 2, 32), 4, ReaderLive, false},
		{"next tick applies it", 10 * time.Millisecond, attached(110, 4, 1), 4, ReaderLive, true},
		{"no tick for exactly the lease", lease, attached(110, 4, 1), 4, ReaderLive, true},
		{"no tick past the lease", time.Millisecond, attached(110, 4, 1), 4, ReaderStale, false},
		{"ticks again", 0, attached(2000, 4, 1), 4, ReaderLive, true},
		{"clean detach", 0, ReaderAck{AckSeq: 4, AppliedBurst: 1, AckNs: 2000}, 4, ReaderDetached, false},
		{"detached stays detached", 5 * lease, ReaderAck{AckSeq: 4, AppliedBurst: 1, AckNs: 2000}, 4, ReaderDetached, false},
	}
	now := time.Unix(1000, 0)
	tr := newAckTracker(0)
	var prevAckNs uint64
	var wantTick time.Time // when ack_ns last changed
	for _, s := range steps {
		now = now.Add(s.after)
		if s.raw.AckNs != prevAckNs {
			prevAckNs, wantTick = s.raw.AckNs, now
		}
		a := tr.observe(s.raw, s.writerSeq, now, lease)
		assert.Equal(t, s.want, a.Reader, s.name)
		assert.Equal(t, s.current, a.Current, s.name)
		assert.Equal(t, s.raw, a.ReaderAck, s.name)
		assert.Equal(t, s.writerSeq, a.WriterSeq, s.name)
		assert.Equal(t, wantTick, a.LastTick, "%s: LastTick is when ack_ns last changed", s.name)
	}
}

// TestAckTrackerIgnoresLineOneLeftByAnEarlierRun: on take-over line 1 holds
// the last acknowledgement of a reader that may be long gone; only a change
// after Create counts.
func TestAckTrackerIgnoresLineOneLeftByAnEarlierRun(t *testing.T) {
	old := ReaderAck{AckSeq: 40, AppliedBurst: 32, ReaderFlags: ReaderAttached, AckNs: 5e9}
	tr := newAckTracker(old.AckNs)
	now := time.Unix(1000, 0)
	a := tr.observe(old, 42, now, time.Second)
	assert.Equal(t, ReaderNever, a.Reader, "ATTACHED left set by a killed reader is not a live reader")
	assert.False(t, a.Current)
	old.AckNs, old.AckSeq = 5e9+1e7, 42
	a = tr.observe(old, 42, now.Add(10*time.Millisecond), time.Second)
	assert.Equal(t, ReaderLive, a.Reader)
	assert.True(t, a.Current)
}

func TestSeqReachedAcrossWrap(t *testing.T) {
	assert.True(t, seqReached(4, 4))
	assert.True(t, seqReached(6, 4))
	assert.False(t, seqReached(2, 4))
	assert.True(t, seqReached(0, 0xFFFFFFFE), "seq wrapped past the one waited for")
	assert.False(t, seqReached(0xFFFFFFFE, 0))
}

func TestReaderStateString(t *testing.T) {
	for s, want := range map[ReaderState]string{ReaderNever: "never", ReaderLive: "live", ReaderStale: "stale", ReaderDetached: "detached", 9: "ReaderState(9)"} {
		assert.Equal(t, want, s.String())
	}
}

// TestWriterAckFollowsGoReader: the same verdicts on a real page, with the Go
// Reader on the other side and the writer's clock injected for staleness.
func TestWriterAckFollowsGoReader(t *testing.T) {
	path := segPath(t)
	w, err := Create(path, 500, WithoutHeartbeatLoop())
	require.NoError(t, err)
	defer w.Close()
	now := time.Now()
	w.setClock(func() time.Time { return now })

	a, err := w.Ack()
	require.NoError(t, err)
	assert.Equal(t, ReaderNever, a.Reader, "no reader yet")

	r, err := OpenReader(path)
	require.NoError(t, err)
	defer r.Close()
	require.NoError(t, w.Publish(Settings{Enable: true, Burst: 300}))
	a, _ = w.Ack()
	assert.Equal(t, ReaderNever, a.Reader, "attached but no tick: not yet acknowledging")
	assert.True(t, a.Attached())

	st, ok := r.Snapshot()
	require.True(t, ok)
	r.Ack(st.Seq, st.TargetBurst(1, 64))
	a, _ = w.Ack()
	assert.Equal(t, ReaderLive, a.Reader)
	assert.True(t, a.Current)
	assert.Equal(t, w.Seq(), a.AckSeq)
	assert.Equal(t, uint32(64), a.AppliedBurst, "the reader's clamp, not the published 300")
	assert.Equal(t, uint32(os.Getpid()), a.ReaderPID)
	assert.False(t, a.Fallback())
	assert.Equal(t, now, a.LastTick)

	require.NoError(t, w.Publish(Settings{Enable: false}))
	a, _ = w.Ack()
	assert.Equal(t, ReaderLive, a.Reader)
	assert.False(t, a.Current, "publish not yet acknowledged")

	now = now.Add(501 * time.Millisecond)
	a, _ = w.Ack()
	assert.Equal(t, ReaderStale, a.Reader, "no tick for longer than the 500ms lease")

	st, _ = r.Snapshot()
	r.Ack(st.Seq, st.TargetBurst(1, 64))
	a, _ = w.Ack()
	assert.Equal(t, ReaderLive, a.Reader)
	assert.True(t, a.Current)
	assert.Equal(t, uint32(1), a.AppliedBurst)

	require.NoError(t, r.Close())
	a, _ = w.Ack()
	assert.Equal(t, ReaderDetached, a.Reader)
	assert.False(t, a.Current)
}

func TestWriterAckAfterTakeOverWaitsForAFreshTick(t *testing.T) {
	path := segPath(t)
	w1, err := Create(path, 0, WithoutHeartbeatLoop())
	require.NoError(t, err)
	r, err := OpenReader(path)
	require.NoError(t, err)
	defer r.Close()
	st, _ := r.Snapshot()
	r.Ack(st.Seq, 1)
	w1.abandon()

	w2, err := Create(path, 0, WithoutHeartbeatLoop())
	require.NoError(t, err)
	defer w2.Close()
	require.True(t, w2.TookOver())
	a, err := w2.Ack()
	require.NoError(t, err)
	assert.Equal(t, ReaderNever, a.Reader, "the previous writer's acknowledgement does not count")
	assert.True(t, a.Attached(), "line 1 is kept as the reader left it")

	time.Sleep(time.Millisecond) // ack_ns must differ from the one already stored
	st, _ = r.Snapshot()
	r.Ack(st.Seq, 1)
	a, _ = w2.Ack()
	assert.Equal(t, ReaderLive, a.Reader)
	assert.True(t, a.Current)
}

func TestWaitAckReturnsTheAcknowledgement(t *testing.T) {
	path := segPath(t)
	w, err := Create(path, 0, WithoutHeartbeatLoop())
	require.NoError(t, err)
	defer w.Close()
	r, err := OpenReader(path)
	require.NoError(t, err)
	defer r.Close()
	require.NoError(t, w.Publish(Settings{Enable: true, Burst: 16}))
	seq := w.Seq()

	done := make(chan struct{})
	go func() {
		defer close(done)
		time.Sleep(20 * time.Millisecond)
		st, _ := r.Snapshot()
		r.Ack(st.Seq, st.TargetBurst(1, 1024))
	}()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	a, err := w.WaitAck(ctx, seq)
	require.NoError(t, err)
	<-done
	assert.Equal(t, seq, a.AckSeq)
	assert.Equal(t, uint32(16), a.AppliedBurst)
	assert.True(t, a.Current)
}

func TestWaitAckWithoutReaderFailsWithErrNoAck(t *testing.T) {
	path := segPath(t)
	w, err := Create(path, 0, WithoutHeartbeatLoop())
	require.NoError(t, err)
	require.NoError(t, w.Publish(Settings{Enable: true, Burst: 16}))

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Millisecond)
	defer cancel()
	a, err := w.WaitAck(ctx, w.Seq())
	require.ErrorIs(t, err, ErrNoAck)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Contains(t, err.Error(), "reader never")
	assert.Equal(t, ReaderNever, a.Reader)

	// A reader that acked an older seq does not satisfy a wait for a newer one.
	r, err := OpenReader(path)
	require.NoError(t, err)
	defer r.Close()
	st, _ := r.Snapshot()
	r.Ack(st.Seq, 16)
	require.NoError(t, w.Publish(Settings{Enable: false}))
	ctx2, cancel2 := context.WithTimeout(t.Context(), 30*time.Millisecond)
	defer cancel2()
	a, err = w.WaitAck(ctx2, w.Seq())
	require.ErrorIs(t, err, ErrNoAck)
	assert.Equal(t, ReaderLive, a.Reader)
	assert.Equal(t, st.Seq, a.AckSeq)

	require.NoError(t, w.Close())
	_, err = w.WaitAck(t.Context(), 0)
	assert.True(t, errors.Is(err, ErrClosed))
	_, err = w.Ack()
	assert.ErrorIs(t, err, ErrClosed)
}
