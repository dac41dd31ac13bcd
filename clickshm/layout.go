package clickshm

import (
	"errors"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Page layout of clickshm v1.0 (see doc.go). Offsets are byte offsets into the
// 4096-byte page; every field is naturally aligned and no field straddles a
// cache line.
const (
	PageSize     = 4096
	HeaderSize   = 128
	Magic        = 0x4F4D454E // bytes "NEMO" in little-endian order
	VersionMajor = 1
	VersionMinor = 0

	// Line 0: written only by the Writer.
	OffMagic        = 0x00
	OffVersionMajor = 0x04
	OffVersionMinor = 0x06
	OffHeaderSize   = 0x08
	OffSeq          = 0x0C
	OffFlags        = 0x10
	OffBurst        = 0x14
	OffRxUsecs      = 0x18
	OffWriterPID    = 0x1C
	OffUpdateNs     = 0x20
	OffHeartbeatNs  = 0x28
	OffLeaseMs      = 0x30

	// Line 1: written only by the reader (the Click element or the Go Reader).
	OffAckSeq       = 0x40
	OffAppliedBurst = 0x44
	OffReaderPID    = 0x48
	OffReaderFlags  = 0x4C
	OffAckNs        = 0x50
)

// Flag bits of the flags word (seq-protected).
const (
	FlagBurstEnable  = 1 << 0
	FlagWriterClosed = 1 << 1
)

// Bits of the reader_flags word.
const (
	ReaderAttached = 1 << 0
	ReaderFallback = 1 << 1
)

// Burst limits the writer enforces; a reader additionally clamps to its own MAX.
const (
	MinBurst = 1
	MaxBurst = 1024
)

// DefaultLeaseMs is used when Create is given a lease of 0.
const DefaultLeaseMs = 1000

// Errors returned by this package.
var (
	// ErrClosed is returned by Publish on a closed Writer and by Reader calls after Close.
	ErrClosed = errors.New("clickshm: closed")
	// ErrNotReady means the segment does not exist yet or its magic is not published.
	ErrNotReady = errors.New("clickshm: segment not ready")
	// ErrIncompatible means the segment carries a valid magic but an unknown major version
	// or the wrong byte order; the Writer refuses to clobber it and a Reader ignores it.
	ErrIncompatible = errors.New("clickshm: incompatible segment version")
	// ErrBusy means another live writer holds the segment.
	ErrBusy = errors.New("clickshm: segment held by another writer")
	// ErrTooSmall means the file is shorter than the 128-byte header.
	ErrTooSmall = errors.New("clickshm: segment too small")
)

// Settings is what the Writer publishes: harvest on/off, the Click burst and a
// NIC rx-usecs hint (0 = leave the NIC alone).
type Settings struct {
	Enable  bool
	Burst   uint32
	RxUsecs uint32
}

// monoClock returns CLOCK_MONOTONIC in nanoseconds without a syscall: Go's
// monotonic clock on Linux is CLOCK_MONOTONIC (vDSO), so a one-time anchor plus
// time.Since gives the same timeline the C reader sees with clock_gettime.
var monoAnchor = sync.OnceValues(func() (int64, time.Time) {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Nano(), time.Now()
})

func monoNow() uint64 {
	base, at := monoAnchor()
	return uint64(base + int64(time.Since(at)))
}
