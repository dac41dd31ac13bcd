package harvester

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Packet socket drops (sock_diag, NETLINK_SOCK_DIAG with family AF_PACKET).
//
// An NF that reads its interface through an AF_PACKET socket (Click's FromDevice on Linux, the reference
// NF) loses packets it cannot keep up with in that socket's receive queue, and the kernel counts them
// there (sk_drops), not in the interface's rx_dropped: without them the QoS guard would not see such an
// NF overloaded. The dump lists every packet socket of the caller's network namespace with the interface
// it is bound to (packet_diag_info.pdi_index) and its memory counters (sk_meminfo, SK_MEMINFO_DROPS).

// Layouts from linux/packet_diag.h and linux/sock_diag.h.
const (
	packetShowInfo    = 0x01 // PACKET_SHOW_INFO
	packetShowMeminfo = 0x10 // PACKET_SHOW_MEMINFO
	packetDiagInfo    = 0    // PACKET_DIAG_INFO attribute
	packetDiagMeminfo = 6    // PACKET_DIAG_MEMINFO attribute
	packetDiagReqLen  = 20   // struct packet_diag_req
	packetDiagMsgLen  = 16   // struct packet_diag_msg
	diagTimeout       = time.Second
)

// packetDiagSeq numbers requests, so a late answer to an earlier dump is recognised.
var packetDiagSeq atomic.Uint32

// packetSocketDrops returns, per interface index, the sum of sk_drops over the packet sockets bound to
// that interface in this network namespace (sockets bound to every interface are left out: their drops
// belong to no NF in particular).
func packetSocketDrops() (map[int]uint64, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return nil, fmt.Errorf("%w: sock_diag socket: %w", ErrSource, err)
	}
	defer unix.Close(fd)
	tv := unix.NsecToTimeval(diagTimeout.Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return nil, fmt.Errorf("%w: sock_diag: %w", ErrSource, err)
	}
	seq := packetDiagSeq.Add(1)
	req := make([]byte, unix.NLMSG_HDRLEN+packetDiagReqLen)
	le := binary.NativeEndian
	le.PutUint32(req[0:], uint32(len(req)))
	le.PutUint16(req[4:], unix.SOCK_DIAG_BY_FAMILY)
	le.PutUint16(req[6:], unix.NLM_F_REQUEST|unix.NLM_F_DUMP)
	le.PutUint32(req[8:], seq)
	body := req[unix.NLMSG_HDRLEN:]
	body[0] = unix.AF_PACKET
	le.PutUint32(body[8:], packetShowInfo|packetShowMeminfo)
	if err := unix.Sendto(fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, fmt.Errorf("%w: sock_diag request: %w", ErrSource, err)
	}
	drops := map[int]uint64{}
	buf := make([]byte, 1<<16)
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			return nil, fmt.Errorf("%w: sock_diag answer: %w", ErrSource, err)
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return nil, fmt.Errorf("%w: sock_diag answer: %w", ErrSource, err)
		}
		for _, m := range msgs {
			if m.Header.Seq != seq {
				continue
			}
			switch m.Header.Type {
			case unix.NLMSG_DONE:
				return drops, nil
			case unix.NLMSG_ERROR:
				if len(m.Data) >= 4 {
					if errno := syscall.Errno(-int32(le.Uint32(m.Data))); errno != 0 {
						return nil, fmt.Errorf("%w: sock_diag: %w", ErrSource, os.NewSyscallError("packet_diag", errno))
					}
				}
				return nil, fmt.Errorf("%w: sock_diag: malformed error message", ErrSource)
			case unix.SOCK_DIAG_BY_FAMILY:
				ifindex, d, ok := parsePacketDiag(m.Data)
				if ok && ifindex > 0 {
					drops[ifindex] += d
				}
			}
		}
	}
}

// parsePacketDiag reads one packet_diag_msg: the interface the socket is bound to and its drops. ok is
// false when either attribute is missing.
func parsePacketDiag(b []byte) (ifindex int, drops uint64, ok bool) {
	if len(b) < packetDiagMsgLen {
		return 0, 0, false
	}
	le := binary.NativeEndian
	var haveInfo, haveMem bool
	for a := b[packetDiagMsgLen:]; len(a) >= unix.SizeofRtAttr; {
		l := int(le.Uint16(a[0:]))
		typ := le.Uint16(a[2:])
		if l < unix.SizeofRtAttr || l > len(a) {
			return 0, 0, false
		}
		data := a[unix.SizeofRtAttr:l]
		switch typ {
		case packetDiagInfo:
			if len(data) >= 4 {
				ifindex, haveInfo = int(le.Uint32(data)), true
			}
		case packetDiagMeminfo:
			if len(data) >= 4*(unix.SK_MEMINFO_DROPS+1) {
				drops, haveMem = uint64(le.Uint32(data[4*unix.SK_MEMINFO_DROPS:])), true
			}
		}
		next := (l + unix.RTA_ALIGNTO - 1) &^ (unix.RTA_ALIGNTO - 1)
		if next >= len(a) {
			break
		}
		a = a[next:]
	}
	return ifindex, drops, haveInfo && haveMem
}

// errNoSocketDrops marks an interface whose socket drops cannot be read; the guard then uses the
// interface counters alone.
var errNoSocketDrops = errors.New("harvester: packet socket drops unavailable")
