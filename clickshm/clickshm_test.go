package clickshm

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func segPath(t *testing.T) string {
	t.Helper()
	dir := "/dev/shm"
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		dir = t.TempDir()
	} else {
		d, err := os.MkdirTemp(dir, "clickshm-test-")
		require.NoError(t, err)
		t.Cleanup(func() { os.RemoveAll(d) })
		dir = d
	}
	return filepath.Join(dir, "nemo-nf")
}

func readRaw(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}

func TestCreateInitialisesPage(t *testing.T) {
	path := segPath(t)
	w, err := Create(path, 800)
	require.NoError(t, err)
	defer w.Close()
	assert.False(t, w.TookOver())

	b := readRaw(t, path)
	require.Len(t, b, PageSize)
	le := binary.LittleEndian
	assert.Equal(t, uint32(Magic), le.Uint32(b[OffMagic:]))
	assert.Equal(t, []byte("NEMO"), b[0:4], "magic bytes spell NEMO")
	assert.Equal(t, uint16(1), le.Uint16(b[OffVersionMajor:]))
	assert.Equal(t, uint16(0), le.Uint16(b[OffVersionMinor:]))
	assert.Equal(t, uint32(HeaderSize), le.Uint32(b[OffHeaderSize:]))
	assert.Equal(t, uint32(0), le.Uint32(b[OffSeq:]), "seq starts at 0")
	assert.Equal(t, uint32(0), le.Uint32(b[OffFlags:]))
	assert.Equal(t, uint32(800), le.Uint32(b[OffLeaseMs:]))
	assert.Equal(t, uint32(os.Getpid()), le.Uint32(b[OffWriterPID:]))
	assert.NotZero(t, le.Uint64(b[OffHeartbeatNs:]))
	for i := HeaderSize; i < PageSize; i++ {
		require.Zero(t, b[i], "byte %#x beyond the header must be 0", i)
	}
}

func TestPublishUpdatesSeqAndFields(t *testing.T) {
	path := segPath(t)
	w, err := Create(path, 0, WithoutHeartbeatLoop())
	require.NoError(t, err)
	defer w.Close()

	require.NoError(t, w.Publish(Settings{Enable: true, Burst: 32, RxUsecs: 50}))
	b := readRaw(t, path)
	le := binary.LittleEndian
	assert.Equal(t, uint32(2), le.Uint32(b[OffSeq:]), "first publish makes seq 2")
	assert.Equal(t, uint32(FlagBurstEnable), le.Uint32(b[OffFlags:]))
	assert.Equal(t, uint32(32), le.Uint32(b[OffBurst:]))
	assert.Equal(t, uint32(50), le.Uint32(b[OffRxUsecs:]))
	assert.Equal(t, uint32(DefaultLeaseMs), le.Uint32(b[OffLeaseMs:]))
	assert.NotZero(t, le.Uint64(b[OffUpdateNs:]))

	require.NoError(t, w.Publish(Settings{Enable: false, Burst: 8}))
	b = readRaw(t, path)
	assert.Equal(t, uint32(4), le.Uint32(b[OffSeq:]))
	assert.Equal(t, uint32(0), le.Uint32(b[OffFlags:]))
	assert.Equal(t, uint32(4), w.Seq())
}

func TestPublishClampsBurst(t *testing.T) {
	w, err := Create(segPath(t), 0, WithoutHeartbeatLoop())
	require.NoError(t, err)
	defer w.Close()
	for _, tc := range []struct{ in, want uint32 }{{0, 1}, {1, 1}, {1024, 1024}, {5000, 1024}} {
		require.NoError(t, w.Publish(Settings{Enable: true, Burst: tc.in}))
		assert.Equal(t, tc.want, w.Settings().Burst, "burst %d", tc.in)
	}
}

func TestCloseSetsWriterClosedAndIsIdempotent(t *testing.T) {
	path := segPath(t)
	w, err := Create(path, 0)
	require.NoError(t, err)
	require.NoError(t, w.Publish(Settings{Enable: true, Burst: 64}))
	r, err := OpenReader(path)
	require.NoError(t, err)
	defer r.Close()

	require.NoError(t, w.Close())
	require.NoError(t, w.Close())
	assert.ErrorIs(t, w.Publish(Settings{Enable: true, Burst: 2}), ErrClosed)
	w.Heartbeat() // must not touch the unmapped page

	st, ok := r.Snapshot()
	require.True(t, ok)
	assert.True(t, st.Closed)
	assert.False(t, st.Live)
	assert.False(t, st.Enable, "close turns burst off")
	assert.Equal(t, uint32(4), st.Seq, "publish (2) + close (4)")
	assert.Equal(t, uint32(7), st.TargetBurst(7, 256), "a closed writer means DEFAULT")
	_, err = os.Stat(path)
	assert.NoError(t, err, "Close must not unlink the segment")
}

func TestConcurrentCloseDoesNotPanic(t *testing.T) {
	w, err := Create(segPath(t), 40)
	require.NoError(t, err)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() { _ = w.Close() })
		wg.Go(func() { _ = w.Publish(Settings{Enable: true, Burst: 3}) })
		wg.Go(w.Heartbeat)
	}
	wg.Wait()
	assert.ErrorIs(t, w.Publish(Settings{}), ErrClosed)
}

func TestSecondLiveWriterIsRefused(t *testing.T) {
	path := segPath(t)
	w, err := Create(path, 0)
	require.NoError(t, err)
	defer w.Close()
	_, err = Create(path, 0, WithLockWait(20*time.Millisecond))
	assert.ErrorIs(t, err, ErrBusy)
}

func TestTakeOverKeepsSeqAndResetsSettings(t *testing.T) {
	path := segPath(t)
	w1, err := Create(path, 0)
	require.NoError(t, err)
	require.NoError(t, w1.Publish(Settings{Enable: true, Burst: 32, RxUsecs: 40}))
	require.NoError(t, w1.Publish(Settings{Enable: true, Burst: 64, RxUsecs: 40}))
	r, err := OpenReader(path)
	require.NoError(t, err)
	defer r.Close()
	w1.abandon() // crash: no WRITER_CLOSED

	w2, err := Create(path, 0)
	require.NoError(t, err)
	defer w2.Close()
	assert.True(t, w2.TookOver())

	st, ok := r.Snapshot()
	require.True(t, ok, "the reader's existing mapping stays valid")
	assert.Equal(t, uint32(6), st.Seq, "take-over continues the old seq (4) with one update")
	assert.False(t, st.Enable, "a new writer starts with harvesting off")
	assert.Equal(t, uint32(0), st.RxUsecs)
	assert.True(t, st.Live)
	require.NoError(t, w2.Publish(Settings{Enable: true, Burst: 16}))
	st, _ = r.Snapshot()
	assert.Equal(t, uint32(8), st.Seq)
	assert.Equal(t, uint32(16), st.Burst)
}

func TestTakeOverFinishesAnUpdateLeftOdd(t *testing.T) {
	path := segPath(t)
	w1, err := Create(path, 0)
	require.NoError(t, err)
	require.NoError(t, w1.Publish(Settings{Enable: true, Burst: 32}))
	w1.abandon()
	// Crash in the middle of an update: seq odd, fields half written.
	b := readRaw(t, path)
	binary.LittleEndian.PutUint32(b[OffSeq:], 3)
	binary.LittleEndian.PutUint32(b[OffBurst:], 999)
	require.NoError(t, os.WriteFile(path, b, 0o660))

	w2, err := Create(path, 0)
	require.NoError(t, err)
	defer w2.Close()
	b = readRaw(t, path)
	assert.Equal(t, uint32(4), binary.LittleEndian.Uint32(b[OffSeq:]), "odd seq closed by the new writer")
	assert.Equal(t, uint32(1), binary.LittleEndian.Uint32(b[OffBurst:]))
}

func TestCreateReinitialisesGarbage(t *testing.T) {
	path := segPath(t)
	junk := make([]byte, 200)
	for i := range junk {
		junk[i] = 0xA5
	}
	require.NoError(t, os.WriteFile(path, junk, 0o660))
	w, err := Create(path, 0)
	require.NoError(t, err)
	defer w.Close()
	assert.False(t, w.TookOver())
	b := readRaw(t, path)
	require.Len(t, b, PageSize, "file grown to one page")
	assert.Equal(t, uint32(Magic), binary.LittleEndian.Uint32(b))
	assert.Equal(t, uint32(0), binary.LittleEndian.Uint32(b[OffSeq:]))
	assert.Equal(t, uint32(0), binary.LittleEndian.Uint32(b[OffAckSeq:]), "line 1 cleared")
}

func TestCreateRefusesOtherMajorVersion(t *testing.T) {
	path := segPath(t)
	b := make([]byte, PageSize)
	binary.LittleEndian.PutUint32(b[OffMagic:], Magic)
	binary.LittleEndian.PutUint16(b[OffVersionMajor:], 2)
	binary.LittleEndian.PutUint32(b[OffSeq:], 10)
	require.NoError(t, os.WriteFile(path, b, 0o660))
	_, err := Create(path, 0)
	require.ErrorIs(t, err, ErrIncompatible)
	assert.Equal(t, b, readRaw(t, path), "an incompatible segment is left untouched")

	r, err := OpenReader(path)
	require.NoError(t, err)
	defer r.Close()
	_, ok := r.Snapshot()
	assert.False(t, ok, "a v1 reader refuses major 2")
}

func TestCreateRefusesByteSwappedMagic(t *testing.T) {
	path := segPath(t)
	b := make([]byte, PageSize)
	binary.BigEndian.PutUint32(b[OffMagic:], Magic)
	require.NoError(t, os.WriteFile(path, b, 0o660))
	_, err := Create(path, 0)
	assert.ErrorIs(t, err, ErrIncompatible)
}

func TestOpenReaderErrors(t *testing.T) {
	dir := t.TempDir()
	_, err := OpenReader(filepath.Join(dir, "missing"))
	assert.ErrorIs(t, err, ErrNotReady)
	assert.ErrorIs(t, err, os.ErrNotExist)

	small := filepath.Join(dir, "small")
	require.NoError(t, os.WriteFile(small, make([]byte, 64), 0o660))
	_, err = OpenReader(small)
	assert.ErrorIs(t, err, ErrTooSmall)

	unpublished := filepath.Join(dir, "zero")
	require.NoError(t, os.WriteFile(unpublished, make([]byte, PageSize), 0o660))
	r, err := OpenReader(unpublished)
	require.NoError(t, err)
	defer r.Close()
	_, ok := r.Snapshot()
	assert.False(t, ok, "magic 0 means not ready")
	assert.Equal(t, uint64(1), r.Stats().Failures)
}

func TestReaderJudgesStaleHeartbeatWithItsOwnClock(t *testing.T) {
	path := segPath(t)
	w, err := Create(path, 100, WithoutHeartbeatLoop())
	require.NoError(t, err)
	require.NoError(t, w.Publish(Settings{Enable: true, Burst: 32}))
	r, err := OpenReader(path)
	require.NoError(t, err)
	defer r.Close()
	now := time.Unix(1000, 0)
	r.setClock(func() time.Time { return now })

	st, ok := r.Snapshot()
	require.True(t, ok)
	assert.True(t, st.Live)
	assert.False(t, st.Stale)
	assert.Equal(t, uint32(32), st.TargetBurst(1, 256))

	now = now.Add(150 * time.Millisecond)
	st, _ = r.Snapshot()
	assert.True(t, st.Stale, "heartbeat unchanged for longer than the lease")
	assert.True(t, st.Live, "the writer still holds its lock: slow, not dead")

	w.Heartbeat()
	now = now.Add(10 * time.Millisecond)
	st, _ = r.Snapshot()
	assert.False(t, st.Stale, "a changed heartbeat refreshes the lease")

	w.abandon()
	now = now.Add(150 * time.Millisecond)
	st, _ = r.Snapshot()
	assert.True(t, st.Stale)
	assert.False(t, st.Live, "stale and the lock is free: dead")
	assert.Equal(t, uint32(5), st.TargetBurst(5, 256))
	assert.GreaterOrEqual(t, r.Stats().Probes, uint64(2))

	b := readRaw(t, path)
	assert.Equal(t, uint32(ReaderAttached|ReaderFallback), binary.LittleEndian.Uint32(b[OffReaderFlags:]))
}

func TestHeartbeatLoopKeepsWriterLive(t *testing.T) {
	path := segPath(t)
	w, err := Create(path, 40)
	require.NoError(t, err)
	defer w.Close()
	r, err := OpenReader(path)
	require.NoError(t, err)
	defer r.Close()
	first, _ := r.Snapshot()
	require.Eventually(t, func() bool {
		st, ok := r.Snapshot()
		return ok && st.HeartbeatNs > first.HeartbeatNs
	}, 2*time.Second, 5*time.Millisecond)
}

func TestReaderAckVisibleToWriter(t *testing.T) {
	path := segPath(t)
	w, err := Create(path, 0)
	require.NoError(t, err)
	defer w.Close()
	require.NoError(t, w.Publish(Settings{Enable: true, Burst: 300}))
	r, err := OpenReader(path)
	require.NoError(t, err)

	st, ok := r.Snapshot()
	require.True(t, ok)
	target := st.TargetBurst(1, 256)
	assert.Equal(t, uint32(256), target, "reader clamps to its MAX")
	r.Ack(st.Seq, target)

	a, err := w.ReaderAck()
	require.NoError(t, err)
	assert.Equal(t, st.Seq, a.AckSeq)
	assert.Equal(t, uint32(256), a.AppliedBurst)
	assert.Equal(t, uint32(os.Getpid()), a.ReaderPID)
	assert.True(t, a.Attached())
	assert.NotZero(t, a.AckNs)

	require.NoError(t, r.Close())
	require.NoError(t, r.Close())
	a, _ = w.ReaderAck()
	assert.False(t, a.Attached(), "Close clears ATTACHED")
	_, ok = r.Snapshot()
	assert.False(t, ok)
	r.Ack(1, 1) // no-op after Close
}

func TestReaderRemapsWhenPathNamesNewInode(t *testing.T) {
	path := segPath(t)
	w1, err := Create(path, 50)
	require.NoError(t, err)
	require.NoError(t, w1.Publish(Settings{Enable: true, Burst: 8}))
	r, err := OpenReader(path)
	require.NoError(t, err)
	defer r.Close()
	now := time.Unix(0, 0)
	r.setClock(func() time.Time { return now })
	_, ok := r.Snapshot()
	require.True(t, ok)

	w1.abandon()
	require.NoError(t, os.Remove(path)) // forbidden by the protocol, survived by the reader
	w2, err := Create(path, 50)
	require.NoError(t, err)
	defer w2.Close()
	require.NoError(t, w2.Publish(Settings{Enable: true, Burst: 77}))

	now = now.Add(time.Second)
	st, _ := r.Snapshot()
	assert.False(t, st.Live, "old inode's writer is dead")
	assert.Equal(t, uint64(1), r.Stats().Remaps)
	st, ok = r.Snapshot()
	require.True(t, ok)
	assert.True(t, st.Live)
	assert.Equal(t, uint32(77), st.Burst)
}

// TestGoReaderNoTornReads runs a Go writer and Go readers in one process; the
// invariants are the ones the cross-process C test checks.
func TestGoReaderNoTornReads(t *testing.T) {
	path := segPath(t)
	w, err := Create(path, 0)
	require.NoError(t, err)
	r, err := OpenReader(path)
	require.NoError(t, err)
	defer r.Close()

	var stop atomic.Bool
	var torn, snaps atomic.Uint64
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			var last uint32
			for !stop.Load() {
				st, ok := r.Snapshot()
				if !ok {
					continue
				}
				snaps.Add(1)
				if st.Seq == 0 {
					continue // before the first publish: the writer's reset values
				}
				if st.RxUsecs != 3*st.Burst || (st.UpdateNs&1 == 1) != st.Enable || st.Seq&1 != 0 || int32(st.Seq-last) < 0 {
					torn.Add(1)
				}
				last = st.Seq
			}
		})
	}
	n := 200000
	if testing.Short() {
		n = 20000
	}
	for i := range uint32(n) {
		ns := monoNow() + uint64(i&1)
		b := i%1024 + 1
		require.NoError(t, w.publish(Settings{Enable: ns&1 == 1, Burst: b, RxUsecs: 3 * b}, 0, ns))
	}
	stop.Store(true)
	wg.Wait()
	require.NoError(t, w.Close())
	st := r.Stats()
	t.Logf("publishes=%d snapshots=%d retries=%d failures=%d torn=%d", n, snaps.Load(), st.Retries, st.Failures, torn.Load())
	assert.Zero(t, torn.Load())
	assert.NotZero(t, snaps.Load())
}

func TestErrorsAreDistinct(t *testing.T) {
	all := []error{ErrClosed, ErrNotReady, ErrIncompatible, ErrBusy, ErrTooSmall}
	for i, a := range all {
		for j, b := range all {
			assert.Equal(t, i == j, errors.Is(a, b))
		}
	}
}

func BenchmarkPublish(b *testing.B) {
	path := filepath.Join(b.TempDir(), "seg")
	w, err := Create(path, 0, WithoutHeartbeatLoop())
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	b.ReportAllocs()
	i := uint32(0)
	for b.Loop() {
		i++
		if err := w.Publish(Settings{Enable: i&1 == 1, Burst: 32, RxUsecs: 50}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSnapshot(b *testing.B) {
	path := filepath.Join(b.TempDir(), "seg")
	w, err := Create(path, 0) // heartbeat loop on: no stale probes
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	_ = w.Publish(Settings{Enable: true, Burst: 32})
	r, err := OpenReader(path)
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := r.Snapshot(); !ok {
			b.Fatal("snapshot failed")
		}
	}
}
