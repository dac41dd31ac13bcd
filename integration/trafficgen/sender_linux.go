package trafficgen

import (
	"fmt"
	"net"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/nemo-edge/nemo/integration/refnf/netns"
)

// PacketSender is a send-only AF_PACKET socket bound to one interface in one
// namespace (protocol 0: it receives nothing).
type PacketSender struct {
	fd    int
	ifi   *net.Interface
	msgs  []unix.Mmsghdr
	iovs  []unix.Iovec
	batch bool
}

// OpenSender creates the socket inside ns ("" = current namespace). With
// batch, SendBatch uses one sendmmsg per call; otherwise one sendto per frame.
func OpenSender(ns, ifname string, batch bool) (*PacketSender, error) {
	s := &PacketSender{fd: -1, batch: batch}
	err := netns.Do(ns, func() error {
		ifi, err := net.InterfaceByName(ifname)
		if err != nil {
			return fmt.Errorf("trafficgen: interface %s: %w", ifname, err)
		}
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("trafficgen: socket(AF_PACKET): %w", err)
		}
		s.fd, s.ifi = fd, ifi
		if err := unix.Bind(fd, &unix.SockaddrLinklayer{Ifindex: ifi.Index}); err != nil {
			return fmt.Errorf("trafficgen: bind %s: %w", ifname, err)
		}
		return nil
	})
	if err != nil {
		if s.fd >= 0 {
			unix.Close(s.fd)
		}
		return nil, err
	}
	s.msgs = make([]unix.Mmsghdr, 1024)
	s.iovs = make([]unix.Iovec, 1024)
	return s, nil
}

// HardwareAddr returns the MAC of the bound interface.
func (s *PacketSender) HardwareAddr() net.HardwareAddr { return s.ifi.HardwareAddr }

func classify(errno unix.Errno) error {
	if errno == unix.ENOBUFS || errno == unix.EAGAIN {
		return fmt.Errorf("%w: %w", ErrTransient, errno)
	}
	return errno
}

// SendBatch implements Sender.
func (s *PacketSender) SendBatch(frames [][]byte) (int, error) {
	if !s.batch || len(frames) == 1 {
		for i, f := range frames {
			for {
				_, _, errno := unix.RawSyscall6(unix.SYS_SENDTO, uintptr(s.fd), uintptr(unsafe.Pointer(&f[0])), uintptr(len(f)), 0, 0, 0)
				if errno == unix.EINTR {
					continue
				}
				if errno != 0 {
					return i, classify(errno)
				}
				break
			}
		}
		return len(frames), nil
	}
	vlen := min(len(frames), len(s.msgs))
	for i := range vlen {
		s.iovs[i].Base = &frames[i][0]
		s.iovs[i].SetLen(len(frames[i]))
		s.msgs[i] = unix.Mmsghdr{}
		s.msgs[i].Hdr.Iov = &s.iovs[i]
		s.msgs[i].Hdr.SetIovlen(1)
	}
	for {
		n, _, errno := unix.RawSyscall6(unix.SYS_SENDMMSG, uintptr(s.fd), uintptr(unsafe.Pointer(&s.msgs[0])), uintptr(vlen), 0, 0, 0)
		if errno == unix.EINTR {
			continue
		}
		if errno != 0 {
			return 0, classify(errno)
		}
		if int(n) < vlen {
			return int(n), fmt.Errorf("%w: sendmmsg sent %d of %d", ErrTransient, n, vlen)
		}
		return int(n), nil
	}
}

// Close closes the socket.
func (s *PacketSender) Close() error {
	if s.fd < 0 {
		return nil
	}
	err := unix.Close(s.fd)
	s.fd = -1
	return err
}
