package clickshm

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// State is one consistent snapshot of line 0 plus the reader's verdict on the
// writer's liveness.
type State struct {
	Settings           // seq-protected: Enable, Burst, RxUsecs
	Seq         uint32 // even
	Flags       uint32
	UpdateNs    uint64
	HeartbeatNs uint64
	LeaseMs     uint32
	WriterPID   uint32

	// Closed: the writer shut down cleanly (WRITER_CLOSED).
	Closed bool
	// Stale: heartbeat_ns has not changed for longer than lease_ms, measured
	// with this reader's own clock.
	Stale bool
	// Live: not Closed, and not (Stale and the writer's flock is gone). A
	// stale heartbeat whose writer still holds the lock is a slow writer, not a
	// dead one.
	Live bool
}

// TargetBurst is the burst a reader should apply: the published burst clamped
// to [1, maxBurst] when the writer is live and enabled, 1 when live and
// disabled, and def when the writer is dead or closed.
func (s State) TargetBurst(def, maxBurst uint32) uint32 {
	if !s.Live {
		return def
	}
	if !s.Enable {
		return 1
	}
	return min(max(s.Burst, 1), max(maxBurst, 1))
}

// ReaderStats counts what Snapshot has seen.
type ReaderStats struct {
	Snapshots uint64 // consistent snapshots returned
	Retries   uint64 // seqlock retries (odd or changed seq)
	Failures  uint64 // Snapshot calls that gave up or found no valid page
	Probes    uint64 // flock liveness probes
	Remaps    uint64
}

// Reader is the Go counterpart of clickshm.h, used by the reference NF. Its
// methods are safe for concurrent use.
type Reader struct {
	path string

	mu     sync.Mutex
	f      *os.File
	pg     page
	ino    uint64
	closed bool

	epoch       time.Time
	lastHB      uint64    // heartbeat value last seen
	lastHBSeen  time.Time // reader clock when lastHB last changed
	maxRetries  int
	stats       ReaderStats
	nowForTests func() time.Time
}

// DefaultMaxRetries bounds the seqlock loop of Snapshot.
const DefaultMaxRetries = 64

// OpenReader maps an existing segment read-write (line 1 is the reader's) and
// marks it ATTACHED. A missing file returns an error wrapping ErrNotReady (and
// os.ErrNotExist); callers typically retry on their next tick, since the writer
// may start later.
func OpenReader(path string) (*Reader, error) {
	r := &Reader{path: path, maxRetries: DefaultMaxRetries, epoch: time.Now()}
	if err := r.open(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *Reader) open() error {
	f, err := os.OpenFile(r.path, os.O_RDWR, 0)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("clickshm: open %s: %w: %w", r.path, ErrNotReady, err)
		}
		return fmt.Errorf("clickshm: open %s: %w", r.path, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("clickshm: stat %s: %w", r.path, err)
	}
	if st.Size() < HeaderSize {
		f.Close()
		return fmt.Errorf("clickshm: %s is %d bytes: %w", r.path, st.Size(), ErrTooSmall)
	}
	ino, err := fileIno(f)
	if err != nil {
		f.Close()
		return fmt.Errorf("clickshm: fstat %s: %w", r.path, err)
	}
	// Mapping a full page of a shorter file is fine: bytes past EOF inside the
	// last page read as zero.
	pg, err := mapFile(f)
	if err != nil {
		f.Close()
		return err
	}
	r.f, r.pg, r.ino = f, pg, ino
	r.lastHB, r.lastHBSeen = 0, time.Time{}
	pg.store32(OffReaderPID, uint32(os.Getpid()))
	pg.store32(OffReaderFlags, ReaderAttached)
	return nil
}

// now reads the reader's monotonic clock. time.Since on a time.Time that
// carries a monotonic reading needs no wall-clock read, which matters on
// hosts where time.Now is not served by the vDSO.
func (r *Reader) now() time.Time {
	if r.nowForTests != nil {
		return r.nowForTests()
	}
	return r.epoch.Add(time.Since(r.epoch))
}

// Snapshot takes a seqlock-consistent copy of line 0 (bounded retries) and
// judges the writer's liveness. ok is false when the page is not published,
// has another major version or byte order, or the retries ran out; try again
// on the next tick.
func (r *Reader) Snapshot() (State, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return State{}, false
	}
	st, ok := r.read()
	if !ok {
		r.stats.Failures++
		return State{}, false
	}
	r.stats.Snapshots++
	r.judge(&st)
	return st, true
}

func (r *Reader) read() (State, bool) {
	p := r.pg
	if p.load32(OffMagic) != Magic {
		return State{}, false
	}
	if major, _ := p.versions(); major != VersionMajor {
		return State{}, false
	}
	for range r.maxRetries {
		s1 := p.load32(OffSeq)
		if s1&1 != 0 {
			r.stats.Retries++
			continue
		}
		st := State{
			Seq:      s1,
			Flags:    p.load32(OffFlags),
			UpdateNs: p.load64(OffUpdateNs),
		}
		st.Burst = p.load32(OffBurst)
		st.RxUsecs = p.load32(OffRxUsecs)
		// Go atomics are sequentially consistent, so the loads above cannot
		// move past this re-load of seq.
		if p.load32(OffSeq) != s1 {
			r.stats.Retries++
			continue
		}
		st.Enable = st.Flags&FlagBurstEnable != 0
		st.Closed = st.Flags&FlagWriterClosed != 0
		st.HeartbeatNs = p.load64(OffHeartbeatNs)
		st.LeaseMs = p.load32(OffLeaseMs)
		st.WriterPID = p.load32(OffWriterPID)
		return st, true
	}
	return State{}, false
}

// judge fills Stale and Live. The heartbeat is compared with its own previous
// value over this reader's clock, never with the writer's clock, so it works
// across time namespaces. The flock probe (two syscalls) runs only when stale.
func (r *Reader) judge(st *State) {
	now := r.now()
	if st.HeartbeatNs != r.lastHB || r.lastHBSeen.IsZero() {
		r.lastHB, r.lastHBSeen = st.HeartbeatNs, now
	}
	lease := time.Duration(max(st.LeaseMs, 1)) * time.Millisecond
	st.Stale = now.Sub(r.lastHBSeen) > lease
	st.Live = !st.Closed
	if st.Live && st.Stale {
		r.stats.Probes++
		if r.writerLockFree() {
			st.Live = false
		}
	}
	if !st.Live {
		r.maybeRemap()
	}
	flags := r.pg.load32(OffReaderFlags)
	if st.Live {
		flags &^= ReaderFallback
	} else {
		flags |= ReaderFallback
	}
	r.pg.store32(OffReaderFlags, flags|ReaderAttached)
}

// writerLockFree probes flock(LOCK_EX|LOCK_NB) on the reader's own open file
// description; success means no writer holds LOCK_SH, i.e. the writer is gone.
func (r *Reader) writerLockFree() bool {
	fd := int(r.f.Fd())
	if err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		return false
	}
	_ = unix.Flock(fd, unix.LOCK_UN)
	return true
}

// maybeRemap re-opens the path when it now names a different inode (a writer
// unlinked and recreated the file, which the protocol forbids but we survive).
func (r *Reader) maybeRemap() {
	var st unix.Stat_t
	if err := unix.Stat(r.path, &st); err != nil || st.Ino == r.ino {
		return
	}
	old, oldF := r.pg, r.f
	if err := r.open(); err != nil {
		r.pg, r.f = old, oldF
		return
	}
	old.store32(OffReaderFlags, 0)
	_ = old.unmap() // safe: every access to the mapping holds r.mu
	oldF.Close()
	r.stats.Remaps++
}

// Ack records in line 1 that the reader applied seq with the given burst. The
// fields are stored one by one with ack_seq last, so a writer that sees
// ack_seq also sees the burst that went with it (or a newer one).
func (r *Reader) Ack(seq, appliedBurst uint32) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	p := r.pg
	p.store32(OffAppliedBurst, appliedBurst)
	p.store32(OffReaderPID, uint32(os.Getpid()))
	p.store64(OffAckNs, monoNow())
	p.store32(OffAckSeq, seq)
}

// Stats returns the counters accumulated so far.
func (r *Reader) Stats() ReaderStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stats
}

// Close clears ATTACHED, unmaps and closes the file. Idempotent.
func (r *Reader) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	r.closed = true
	r.pg.store32(OffReaderFlags, 0)
	err := r.pg.unmap()
	r.pg = page{}
	if cerr := r.f.Close(); err == nil {
		err = cerr
	}
	return err
}
