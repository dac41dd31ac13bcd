//go:build integration

package harvester

import (
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// TestIntegrationPacketSocketDrops overflows a packet socket of its own, in a private namespace, and checks
// that packetSocketDrops reports exactly what the socket itself counts (PACKET_STATISTICS tp_drops) for the
// interface it is bound to, and nothing for interfaces without packet sockets.
func TestIntegrationPacketSocketDrops(t *testing.T) {
	ns := newTestNetns(t)
	var got map[int]uint64
	var tpDrops uint32
	var vethIdx int
	require.NoError(t, ns.do(func() error {
		lo, err := net.InterfaceByName("lo")
		if err != nil {
			return err
		}
		veth, err := net.InterfaceByName(vethName)
		if err != nil {
			return err
		}
		vethIdx = veth.Index
		up, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(up)
		ifr, err := unix.NewIfreq("lo")
		if err != nil {
			return err
		}
		ifr.SetUint16(unix.IFF_UP | unix.IFF_LOOPBACK | unix.IFF_RUNNING)
		if err := unix.IoctlIfreq(up, unix.SIOCSIFFLAGS, ifr); err != nil {
			return err
		}

		// The receiver: bound to lo, a receive buffer of a few frames, never read.
		rx, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ALL)))
		if err != nil {
			return err
		}
		defer unix.Close(rx)
		if err := unix.SetsockoptInt(rx, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 4096); err != nil {
			return err
		}
		if err := unix.Bind(rx, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: lo.Index}); err != nil {
			return err
		}
		tx, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(tx)
		frame := make([]byte, 600)
		frame[12], frame[13] = 0x88, 0xb5 // local experimental EtherType: no protocol handler takes it
		to := &unix.SockaddrLinklayer{Ifindex: lo.Index, Halen: 6}
		for range 200 {
			if err := unix.Sendto(tx, frame, 0, to); err != nil {
				return err
			}
		}
		time.Sleep(50 * time.Millisecond) // loopback delivery runs in softirq
		if got, err = packetSocketDrops(); err != nil {
			return err
		}
		st, err := unix.GetsockoptTpacketStats(rx, unix.SOL_PACKET, unix.PACKET_STATISTICS)
		if err != nil {
			return err
		}
		tpDrops = st.Drops
		loIdx := lo.Index
		t.Logf("lo ifindex %d: sock_diag drops %d, PACKET_STATISTICS drops %d (packets %d)", loIdx, got[loIdx], st.Drops, st.Packets)
		assert.Positive(t, got[loIdx], "a never-read 4 KB socket must have dropped frames")
		assert.Equal(t, uint64(st.Drops), got[loIdx], "sock_diag and the socket agree")
		return nil
	}))
	assert.Positive(t, tpDrops)
	assert.Zero(t, got[vethIdx], "no packet socket on %s", vethName)
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }
