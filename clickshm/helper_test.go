package clickshm

import (
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The test binary doubles as the Go writer process of the cross-process tests:
// with CLICKSHM_HELPER set, TestMain runs that role instead of the tests.
func TestMain(m *testing.M) {
	switch os.Getenv("CLICKSHM_HELPER") {
	case "":
		os.Exit(m.Run())
	case "torn-writer":
		os.Exit(tornWriter(os.Getenv("CLICKSHM_PATH"), os.Getenv("CLICKSHM_MS")))
	case "idle-writer":
		os.Exit(idleWriter(os.Getenv("CLICKSHM_PATH"), os.Getenv("CLICKSHM_LEASE")))
	case "l2-send":
		os.Exit(l2Send(os.Getenv("CLICKSHM_IFACE"), os.Getenv("CLICKSHM_COUNT")))
	default:
		fmt.Fprintln(os.Stderr, "unknown CLICKSHM_HELPER")
		os.Exit(64)
	}
}

// tornWriter publishes back to back for ms milliseconds keeping two
// invariants a torn read would break: rx_usecs == 3*burst, and the parity of
// update_ns equals the ENABLE bit. It then closes (WRITER_CLOSED).
func tornWriter(path, msStr string) int {
	ms, _ := strconv.Atoi(msStr)
	w, err := Create(path, 1000)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("ready")
	deadline := time.Now().Add(time.Duration(ms) * time.Millisecond)
	var n uint64
	for i := uint32(0); ; i++ {
		if i&1023 == 0 && time.Now().After(deadline) {
			break
		}
		ns := monoNow() + uint64(i&1) // vary parity independently of the clock
		b := i%1024 + 1
		if err := w.publish(Settings{Enable: ns&1 == 1, Burst: b, RxUsecs: 3 * b}, 0, ns); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		n++
	}
	if err := w.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Printf("publishes=%d\n", n)
	return 0
}

// idleWriter publishes once and then only heartbeats until killed.
func idleWriter(path, leaseStr string) int {
	lease, _ := strconv.Atoi(leaseStr)
	w, err := Create(path, uint32(lease))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := w.Publish(Settings{Enable: true, Burst: 32}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("ready")
	select {}
}

// l2Send writes count Ethernet frames carrying IPv4/UDP from 192.0.2.1 to
// 192.0.2.2 (documentation addresses, never routed) out of iface through a raw
// packet socket. The Click integration test runs it inside its own network
// namespace, on one end of a veth pair whose other end Click reads.
func l2Send(iface, countStr string) int {
	count, err := strconv.Atoi(countStr)
	if err != nil || count < 1 || count > 100000 {
		fmt.Fprintln(os.Stderr, "l2-send: CLICKSHM_COUNT must be 1..100000")
		return 64
	}
	ifi, err := net.InterfaceByName(iface)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, 0)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer unix.Close(fd)
	to := &unix.SockaddrLinklayer{Ifindex: ifi.Index, Halen: 6}
	frame := udpFrame(64)
	for range count {
		if err := unix.Sendto(fd, frame, 0, to); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		time.Sleep(50 * time.Microsecond) // paced: the NF reads one packet per wake-up at burst 1
	}
	fmt.Printf("sent=%d\n", count)
	return 0
}

// udpFrame builds an Ethernet/IPv4/UDP frame with a valid IP header checksum
// (CheckIPHeader verifies it) and payload bytes of zeros.
func udpFrame(payload int) []byte {
	be := binary.BigEndian
	b := make([]byte, 14+20+8+payload)
	copy(b[0:6], []byte{0x02, 0, 0, 0, 0, 0x02})
	copy(b[6:12], []byte{0x02, 0, 0, 0, 0, 0x01})
	be.PutUint16(b[12:], 0x0800)
	ip := b[14:34]
	ip[0] = 0x45
	be.PutUint16(ip[2:], uint16(20+8+payload))
	ip[8] = 64 // TTL
	ip[9] = 17 // UDP
	copy(ip[12:16], []byte{192, 0, 2, 1})
	copy(ip[16:20], []byte{192, 0, 2, 2})
	var sum uint32
	for i := 0; i < 20; i += 2 {
		sum += uint32(be.Uint16(ip[i:]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	be.PutUint16(ip[10:], ^uint16(sum))
	udp := b[34:42]
	be.PutUint16(udp[0:], 40000)
	be.PutUint16(udp[2:], 9)
	be.PutUint16(udp[4:], uint16(8+payload))
	return b
}
