package refnf

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/nemo-edge/nemo/integration/refnf/netns"
)

// PacketConn is an AF_PACKET SOCK_RAW socket bound to one interface for IPv4
// frames (ETH_P_IP), non-blocking, ignoring its own outgoing frames. It is the
// user-level equivalent of Click's FromDevice METHOD LINUX socket.
type PacketConn struct {
	fd      int
	ifindex int
	pfd     []unix.PollFd

	rmsgs []unix.Mmsghdr
	riovs []unix.Iovec
	smsgs []unix.Mmsghdr
	siovs []unix.Iovec

	goPoll bool
	ts     unix.Timespec

	mu          sync.Mutex
	kernelDrops uint64
}

// PacketConnConfig configures OpenPacketConn.
type PacketConnConfig struct {
	Netns  string // namespace to create the socket in ("" = current)
	Ifname string
	RcvBuf int // SO_RCVBUFFORCE bytes; 0 keeps the kernel default
	// GoPoll blocks in poll through the Go scheduler (unix.Poll). The default
	// blocks in a raw syscall instead: see Wait.
	GoPoll bool
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// OpenPacketConn creates and binds the socket inside the configured namespace.
func OpenPacketConn(cfg PacketConnConfig) (*PacketConn, error) {
	c := &PacketConn{fd: -1, goPoll: cfg.GoPoll}
	err := netns.Do(cfg.Netns, func() error {
		ifi, err := net.InterfaceByName(cfg.Ifname)
		if err != nil {
			return fmt.Errorf("refnf: interface %s: %w", cfg.Ifname, err)
		}
		// Protocol 0 at creation so nothing is queued before bind narrows
		// the socket to one interface.
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("refnf: socket(AF_PACKET): %w", err)
		}
		c.fd, c.ifindex = fd, ifi.Index
		if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, 1); err != nil {
			return fmt.Errorf("refnf: PACKET_IGNORE_OUTGOING: %w", err)
		}
		if cfg.RcvBuf > 0 {
			if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, cfg.RcvBuf); err != nil {
				return fmt.Errorf("refnf: SO_RCVBUFFORCE: %w", err)
			}
		}
		sa := &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_IP), Ifindex: ifi.Index}
		if err := unix.Bind(fd, sa); err != nil {
			return fmt.Errorf("refnf: bind %s: %w", cfg.Ifname, err)
		}
		// Reading the statistics resets them: start counting drops from here.
		_, _ = unix.GetsockoptTpacketStats(fd, unix.SOL_PACKET, unix.PACKET_STATISTICS)
		return nil
	})
	if err != nil {
		if c.fd >= 0 {
			unix.Close(c.fd)
		}
		return nil, err
	}
	c.pfd = []unix.PollFd{{Fd: int32(c.fd), Events: unix.POLLIN}}
	c.rmsgs = make([]unix.Mmsghdr, MaxBurst)
	c.riovs = make([]unix.Iovec, MaxBurst)
	c.smsgs = make([]unix.Mmsghdr, MaxBurst)
	c.siovs = make([]unix.Iovec, MaxBurst)
	return c, nil
}

// Wait polls for readability.
//
// By default the poll is a raw syscall: the Go scheduler does not see the
// thread block, so it does not hand the P to another thread on every
// wake-up, and sysmon does not poll the syscall every 20 µs. Without this a Go
// NF pays several futex wake-ups and context switches per packet that a C
// NF (Click) does not. Async preemption (SIGURG) still works: it interrupts
// the poll with EINTR, which is reported as a timeout.
func (c *PacketConn) Wait(timeout time.Duration) (bool, error) {
	ms := int(timeout / time.Millisecond)
	var n int
	var err error
	if c.goPoll {
		n, err = unix.Poll(c.pfd, ms)
	} else {
		c.ts = unix.Timespec{Sec: int64(ms / 1000), Nsec: int64(ms%1000) * 1e6}
		r, _, errno := unix.RawSyscall6(unix.SYS_PPOLL, uintptr(unsafe.Pointer(&c.pfd[0])), 1,
			uintptr(unsafe.Pointer(&c.ts)), 0, 0, 0)
		n = int(r)
		if errno != 0 {
			err = errno
		}
	}
	if err == unix.EINTR {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if n > 0 && c.pfd[0].Revents&(unix.POLLERR|unix.POLLNVAL) != 0 {
		return false, fmt.Errorf("refnf: poll revents %#x", c.pfd[0].Revents)
	}
	return n > 0, nil
}

// Recv is one recvfrom(MSG_DONTWAIT|MSG_TRUNC) without a source address.
func (c *PacketConn) Recv(buf []byte) (int, error) {
	for {
		n, _, errno := unix.RawSyscall6(unix.SYS_RECVFROM, uintptr(c.fd), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)),
			unix.MSG_DONTWAIT|unix.MSG_TRUNC, 0, 0)
		switch errno {
		case 0:
			return int(n), nil
		case unix.EAGAIN:
			return 0, ErrWouldBlock
		case unix.EINTR:
			continue
		}
		return 0, errno
	}
}

// RecvBatch is one recvmmsg(MSG_DONTWAIT) of up to len(bufs) frames.
func (c *PacketConn) RecvBatch(bufs [][]byte, lens []int) (int, error) {
	vlen := min(len(bufs), len(c.rmsgs))
	for i := range vlen {
		c.riovs[i].Base = &bufs[i][0]
		c.riovs[i].SetLen(len(bufs[i]))
		c.rmsgs[i] = unix.Mmsghdr{}
		c.rmsgs[i].Hdr.Iov = &c.riovs[i]
		c.rmsgs[i].Hdr.SetIovlen(1)
	}
	for {
		n, _, errno := unix.RawSyscall6(unix.SYS_RECVMMSG, uintptr(c.fd), uintptr(unsafe.Pointer(&c.rmsgs[0])), uintptr(vlen),
			unix.MSG_DONTWAIT, 0, 0)
		switch errno {
		case 0:
			for i := range int(n) {
				l := int(c.rmsgs[i].Len)
				if c.rmsgs[i].Hdr.Flags&unix.MSG_TRUNC != 0 {
					l = len(bufs[i]) + 1 // real length unknown; mark as truncated
				}
				lens[i] = l
			}
			return int(n), nil
		case unix.EAGAIN:
			return 0, ErrWouldBlock
		case unix.EINTR:
			continue
		}
		return 0, errno
	}
}

// Send is one send() on the bound interface.
func (c *PacketConn) Send(frame []byte) error {
	for {
		_, _, errno := unix.RawSyscall6(unix.SYS_SENDTO, uintptr(c.fd), uintptr(unsafe.Pointer(&frame[0])), uintptr(len(frame)), 0, 0, 0)
		if errno == unix.EINTR {
			continue
		}
		if errno != 0 {
			return errno
		}
		return nil
	}
}

// SendBatch is one sendmmsg() of all frames (up to MaxBurst).
func (c *PacketConn) SendBatch(frames [][]byte) (int, error) {
	vlen := min(len(frames), len(c.smsgs))
	if vlen == 0 {
		return 0, nil
	}
	for i := range vlen {
		c.siovs[i].Base = &frames[i][0]
		c.siovs[i].SetLen(len(frames[i]))
		c.smsgs[i] = unix.Mmsghdr{}
		c.smsgs[i].Hdr.Iov = &c.siovs[i]
		c.smsgs[i].Hdr.SetIovlen(1)
	}
	for {
		n, _, errno := unix.RawSyscall6(unix.SYS_SENDMMSG, uintptr(c.fd), uintptr(unsafe.Pointer(&c.smsgs[0])), uintptr(vlen), 0, 0, 0)
		if errno == unix.EINTR {
			continue
		}
		if errno != 0 {
			return 0, errno
		}
		return int(n), nil
	}
}

// KernelDrops returns the frames the kernel dropped because the socket queue
// was full (PACKET_STATISTICS tp_drops, accumulated: the kernel resets it on
// every read).
func (c *PacketConn) KernelDrops() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, err := unix.GetsockoptTpacketStats(c.fd, unix.SOL_PACKET, unix.PACKET_STATISTICS); err == nil {
		c.kernelDrops += uint64(st.Drops)
	}
	return c.kernelDrops
}

// Close closes the socket.
func (c *PacketConn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fd < 0 {
		return nil
	}
	err := unix.Close(c.fd)
	c.fd = -1
	return err
}

// PinProcess sets the CPU affinity of every thread of this process to cpu.
// Threads the Go runtime creates later inherit it from their creator.
func PinProcess(cpu int) error {
	var set unix.CPUSet
	set.Set(cpu)
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return fmt.Errorf("refnf: list threads: %w", err)
	}
	var errs []error
	for _, t := range tasks {
		tid, err := strconv.Atoi(filepath.Base(t.Name()))
		if err != nil {
			continue
		}
		if err := unix.SchedSetaffinity(tid, &set); err != nil && !errors.Is(err, unix.ESRCH) {
			errs = append(errs, fmt.Errorf("refnf: sched_setaffinity(%d, cpu %d): %w", tid, cpu, err))
		}
	}
	return errors.Join(errs...)
}
