package clickshm

import (
	"fmt"
	"os"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// page is a mapped 4096-byte segment. The slice comes from mmap: it lives outside
// the Go heap, never moves and is never collected, so pointers into it may be
// handed to sync/atomic. Every live field is accessed through sync/atomic only.
type page struct {
	b []byte
}

func (p page) u32(off int) *uint32 { return (*uint32)(unsafe.Pointer(&p.b[off])) }
func (p page) u64(off int) *uint64 { return (*uint64)(unsafe.Pointer(&p.b[off])) }

func (p page) load32(off int) uint32     { return atomic.LoadUint32(p.u32(off)) }
func (p page) load64(off int) uint64     { return atomic.LoadUint64(p.u64(off)) }
func (p page) store32(off int, v uint32) { atomic.StoreUint32(p.u32(off), v) }
func (p page) store64(off int, v uint64) { atomic.StoreUint64(p.u64(off), v) }

// versionWord reads the two u16 version fields as one aligned u32 (major in the
// low half on little-endian hosts).
func (p page) versions() (major, minor uint16) {
	v := p.load32(OffVersionMajor)
	return uint16(v), uint16(v >> 16)
}

func mapFile(f *os.File) (page, error) {
	b, err := unix.Mmap(int(f.Fd()), 0, PageSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return page{}, fmt.Errorf("clickshm: mmap %s: %w", f.Name(), err)
	}
	return page{b: b}, nil
}

func (p page) unmap() error {
	if p.b == nil {
		return nil
	}
	return unix.Munmap(p.b)
}

func fileIno(f *os.File) (uint64, error) {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return 0, err
	}
	return st.Ino, nil
}
