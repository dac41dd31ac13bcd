package clickshm

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Writer publishes Settings into a clickshm segment. One Writer per segment;
// its methods are safe for concurrent use (a mutex serialises seqlock updates).
type Writer struct {
	path    string
	leaseMs uint32

	mu     sync.Mutex
	f      *os.File
	pg     page
	closed bool
	cur    Settings

	took     bool // Create took over an existing valid page
	acks     ackTracker
	epoch    time.Time
	nowTest  func() time.Time
	stop     chan struct{}
	stopOnce sync.Once
	done     chan struct{}
}

// Option configures Create.
type Option func(*writerOpts)

type writerOpts struct {
	heartbeatLoop bool
	lockWait      time.Duration
}

// Create opens or creates the segment at path and becomes its writer.
//
// An existing page with a valid magic and major version 1 is taken over in
// place: seq keeps counting, so a reader that still has the file mapped sees
// the change. Anything else is zeroed and initialised, magic stored last. The
// file is never unlinked. A leaseMs of 0 means DefaultLeaseMs. On take-over the
// segment is reset to "harvest off" until the first Publish.
//
// The writer holds flock(LOCK_SH) for its lifetime; readers probe it to tell a
// dead writer from a slow one. A second live writer makes Create fail with ErrBusy.
func Create(path string, leaseMs uint32, opts ...Option) (*Writer, error) {
	o := writerOpts{heartbeatLoop: true, lockWait: 200 * time.Millisecond}
	for _, opt := range opts {
		opt(&o)
	}
	if leaseMs == 0 {
		leaseMs = DefaultLeaseMs
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o660)
	if err != nil {
		return nil, fmt.Errorf("clickshm: create %s: %w", path, err)
	}
	w := &Writer{path: path, leaseMs: leaseMs, f: f, epoch: time.Now()}
	if err := w.lock(o.lockWait); err != nil {
		f.Close()
		return nil, err
	}
	if err := w.sizeAndMap(); err != nil {
		f.Close()
		return nil, err
	}
	if err := w.init(); err != nil {
		_ = w.pg.unmap()
		f.Close()
		return nil, err
	}
	if o.heartbeatLoop {
		w.stop = make(chan struct{})
		w.done = make(chan struct{})
		go w.heartbeatLoop()
	}
	return w, nil
}

// lock takes LOCK_EX briefly to prove no other writer is alive, then downgrades
// to LOCK_SH, which it keeps until Close. Readers only ever hold LOCK_EX for the
// two syscalls of a probe, so EWOULDBLOCK is retried until lockWait.
func (w *Writer) lock(wait time.Duration) error {
	fd := int(w.f.Fd())
	deadline := time.Now().Add(wait)
	for {
		err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, unix.EWOULDBLOCK) {
			return fmt.Errorf("clickshm: flock %s: %w", w.path, err)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("clickshm: %s: %w", w.path, ErrBusy)
		}
		time.Sleep(2 * time.Millisecond)
	}
	// Downgrade. Linux converts by dropping and re-acquiring, so a reader probe
	// can slip in between; LOCK_SH without NB waits those few microseconds out.
	if err := unix.Flock(fd, unix.LOCK_SH); err != nil {
		return fmt.Errorf("clickshm: flock %s: %w", w.path, err)
	}
	return nil
}

func (w *Writer) sizeAndMap() error {
	st, err := w.f.Stat()
	if err != nil {
		return fmt.Errorf("clickshm: stat %s: %w", w.path, err)
	}
	if st.Size() < PageSize {
		if err := w.f.Truncate(PageSize); err != nil {
			return fmt.Errorf("clickshm: truncate %s: %w", w.path, err)
		}
	}
	pg, err := mapFile(w.f)
	if err != nil {
		return err
	}
	w.pg = pg
	return nil
}

func (w *Writer) init() error {
	pg := w.pg
	now := monoNow()
	switch magic := pg.load32(OffMagic); {
	case magic == Magic:
		if major, _ := pg.versions(); major != VersionMajor {
			return fmt.Errorf("clickshm: %s has major version %d: %w", w.path, major, ErrIncompatible)
		}
		// Take over in place. If the old writer died mid-update seq is odd and
		// we are, in effect, inside its update: finish it rather than open a new one.
		w.took = true
		pg.store32(OffLeaseMs, w.leaseMs)
		pg.store32(OffWriterPID, uint32(os.Getpid()))
		pg.store64(OffHeartbeatNs, now)
		if atomic.LoadUint32(pg.u32(OffSeq))&1 == 0 {
			atomic.AddUint32(pg.u32(OffSeq), 1)
		}
		w.storeSettings(Settings{Burst: MinBurst}, 0, now)
		atomic.AddUint32(pg.u32(OffSeq), 1)
	case magic == swap32(Magic):
		return fmt.Errorf("clickshm: %s is byte-swapped: %w", w.path, ErrIncompatible)
	default:
		// Not published: nobody may rely on its contents. Clear both header
		// lines and the rest of the page, then publish magic last.
		pg.store32(OffMagic, 0)
		for i := 4; i < PageSize; i += 4 {
			pg.store32(i, 0)
		}
		pg.store32(OffVersionMajor, uint32(VersionMajor)|uint32(VersionMinor)<<16)
		pg.store32(OffHeaderSize, HeaderSize)
		pg.store32(OffBurst, MinBurst)
		pg.store32(OffWriterPID, uint32(os.Getpid()))
		pg.store32(OffLeaseMs, w.leaseMs)
		pg.store64(OffHeartbeatNs, now)
		pg.store32(OffMagic, Magic) // release: Go atomics are sequentially consistent
	}
	w.cur = Settings{Burst: MinBurst}
	// On take-over line 1 still holds the previous run's last acknowledgement;
	// only a change from here on shows a reader ticking for this Writer.
	w.acks = newAckTracker(pg.load64(OffAckNs))
	return nil
}

// now reads the writer's monotonic clock (see Reader.now).
func (w *Writer) now() time.Time {
	if w.nowTest != nil {
		return w.nowTest()
	}
	return w.epoch.Add(time.Since(w.epoch))
}

func swap32(v uint32) uint32 { return v>>24 | v>>8&0xff00 | v<<8&0xff0000 | v<<24 }

// storeSettings writes the seq-protected fields; the caller holds seq odd.
func (w *Writer) storeSettings(s Settings, extraFlags uint32, updateNs uint64) {
	flags := extraFlags
	if s.Enable {
		flags |= FlagBurstEnable
	}
	w.pg.store32(OffFlags, flags)
	w.pg.store32(OffBurst, s.Burst)
	w.pg.store32(OffRxUsecs, s.RxUsecs)
	w.pg.store64(OffUpdateNs, updateNs)
}

// ClampBurst maps a requested burst onto the writer's range [MinBurst, MaxBurst].
func ClampBurst(b uint32) uint32 {
	return min(max(b, MinBurst), MaxBurst)
}

// Publish stores s under the seqlock. Burst is clamped to [1, 1024]; RxUsecs is
// published as given (0 = leave the NIC alone). It costs a mutex, two locked
// increments and four stores — no syscalls.
func (w *Writer) Publish(s Settings) error {
	return w.publish(s, 0, monoNow())
}

func (w *Writer) publish(s Settings, extraFlags uint32, updateNs uint64) error {
	s.Burst = ClampBurst(s.Burst)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return ErrClosed
	}
	seq := w.pg.u32(OffSeq)
	atomic.AddUint32(seq, 1) // odd: update in progress
	w.storeSettings(s, extraFlags, updateNs)
	atomic.AddUint32(seq, 1) // even: stable
	w.cur = s
	return nil
}

// Heartbeat stores CLOCK_MONOTONIC into heartbeat_ns (one atomic 8-byte store,
// outside the seqlock). Call it at least every lease/4 when the heartbeat loop
// is disabled. A no-op after Close.
func (w *Writer) Heartbeat() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.closed {
		w.pg.store64(OffHeartbeatNs, monoNow())
	}
}

func (w *Writer) heartbeatLoop() {
	defer close(w.done)
	t := time.NewTicker(time.Duration(w.leaseMs) * time.Millisecond / 4)
	defer t.Stop()
	for {
		select {
		case <-w.stop:
			return
		case <-t.C:
			w.Heartbeat()
		}
	}
}

// Settings returns what was last published (or the reset value after Create).
func (w *Writer) Settings() Settings {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.cur
}

// TookOver reports whether Create found a valid page and took it over in place.
func (w *Writer) TookOver() bool { return w.took }

// Path returns the segment path.
func (w *Writer) Path() string { return w.path }

// Seq returns the current seqlock value (even when stable).
func (w *Writer) Seq() uint32 {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return 0
	}
	return w.pg.load32(OffSeq)
}

// ReaderAck is line 1 of the page as last written by the reader: the seq it
// applied, the burst then in effect in the NF, its pid and flags, and its
// CLOCK_MONOTONIC at that tick. Ack judges it; this is the raw record.
type ReaderAck struct {
	AckSeq       uint32
	AppliedBurst uint32
	ReaderPID    uint32
	ReaderFlags  uint32
	AckNs        uint64
}

// Attached reports whether a reader has the segment attached.
func (a ReaderAck) Attached() bool { return a.ReaderFlags&ReaderAttached != 0 }

// Fallback reports whether the reader last judged the writer dead or closed
// and applied its own default burst.
func (a ReaderAck) Fallback() bool { return a.ReaderFlags&ReaderFallback != 0 }

// ReaderAck reads the reader's acknowledgement line as stored, without
// judging it (Ack does). Its fields are written one by one with ack_seq last,
// so AppliedBurst belongs to AckSeq or a later tick.
func (w *Writer) ReaderAck() (ReaderAck, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return ReaderAck{}, ErrClosed
	}
	return w.readAck(), nil
}

// readAck loads line 1, ack_seq first: the reader stores it last, so the
// other fields are at least as new as the seq returned. Caller holds mu.
func (w *Writer) readAck() ReaderAck {
	p := w.pg
	a := ReaderAck{AckSeq: p.load32(OffAckSeq)}
	a.AppliedBurst = p.load32(OffAppliedBurst)
	a.ReaderPID = p.load32(OffReaderPID)
	a.ReaderFlags = p.load32(OffReaderFlags)
	a.AckNs = p.load64(OffAckNs)
	return a
}

// Close publishes WRITER_CLOSED (harvest off), stops the heartbeat loop,
// unmaps, releases the lock and closes the file. The file stays in place so a
// later writer can take it over. Close is idempotent.
func (w *Writer) Close() error {
	if w.stop != nil {
		w.stopOnce.Do(func() { close(w.stop) })
		<-w.done
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	seq := w.pg.u32(OffSeq)
	atomic.AddUint32(seq, 1)
	w.storeSettings(Settings{Burst: MinBurst}, FlagWriterClosed, monoNow())
	atomic.AddUint32(seq, 1)
	w.closed = true
	// No goroutine can touch the mapping now: every accessor checks closed
	// under mu and the heartbeat loop has exited.
	err := w.pg.unmap()
	w.pg = page{}
	if cerr := w.f.Close(); err == nil {
		err = cerr // closing the fd drops the flock
	}
	return err
}
