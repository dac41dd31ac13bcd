package trafficgen

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
)

// Frame size limits (Ethernet header + IPv4 + UDP, no FCS).
const (
	HeaderLen    = 14 + 20 + 8
	MinFrameSize = HeaderLen
	MaxFrameSize = 1514 // 1500-byte MTU + Ethernet header
)

// AllowedPrefix is the only subnet trafficgen will put in a packet.
var AllowedPrefix = netip.MustParsePrefix("10.77.0.0/24")

// Sentinel errors.
var (
	ErrBadSize    = errors.New("trafficgen: bad frame size")
	ErrNotAllowed = errors.New("trafficgen: address outside 10.77.0.0/24")
	ErrBadConfig  = errors.New("trafficgen: bad configuration")
)

// FrameSpec describes the frames of one flow set.
type FrameSpec struct {
	Size             int // Ethernet frame length without FCS
	SrcMAC, DstMAC   net.HardwareAddr
	Src, Dst         netip.Addr
	SrcPort, DstPort uint16
	Flows            int // frames differ in source port: SrcPort .. SrcPort+Flows-1
}

// Validate checks sizes, MACs, ports and the address guard.
func (s FrameSpec) Validate() error {
	if s.Size < MinFrameSize || s.Size > MaxFrameSize {
		return fmt.Errorf("%w: %d (want %d..%d, Ethernet frame without FCS)", ErrBadSize, s.Size, MinFrameSize, MaxFrameSize)
	}
	for _, a := range []netip.Addr{s.Src, s.Dst} {
		if !a.Is4() || !AllowedPrefix.Contains(a) {
			return fmt.Errorf("%w: %v", ErrNotAllowed, a)
		}
	}
	if len(s.SrcMAC) != 6 || len(s.DstMAC) != 6 {
		return fmt.Errorf("%w: MAC addresses must be 6 bytes", ErrBadConfig)
	}
	if s.Flows < 1 || s.Flows > 4096 {
		return fmt.Errorf("%w: flows %d (want 1..4096)", ErrBadConfig, s.Flows)
	}
	if s.SrcPort == 0 || int(s.SrcPort)+s.Flows-1 > 65535 || s.DstPort == 0 {
		return fmt.Errorf("%w: ports src %d (+%d flows) dst %d", ErrBadConfig, s.SrcPort, s.Flows, s.DstPort)
	}
	return nil
}

// BuildFrames returns one frame per flow.
func BuildFrames(s FrameSpec) ([][]byte, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	frames := make([][]byte, s.Flows)
	for i := range frames {
		frames[i] = buildFrame(s, s.SrcPort+uint16(i))
	}
	return frames, nil
}

func buildFrame(s FrameSpec, sport uint16) []byte {
	f := make([]byte, s.Size)
	copy(f[0:6], s.DstMAC)
	copy(f[6:12], s.SrcMAC)
	binary.BigEndian.PutUint16(f[12:14], 0x0800)

	ip := f[14:34]
	ipLen := s.Size - 14
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:4], uint16(ipLen))
	binary.BigEndian.PutUint16(ip[4:6], sport)  // identification: any value
	binary.BigEndian.PutUint16(ip[6:8], 0x4000) // DF
	ip[8] = 64
	ip[9] = 17
	src, dst := s.Src.As4(), s.Dst.As4()
	copy(ip[12:16], src[:])
	copy(ip[16:20], dst[:])
	binary.BigEndian.PutUint16(ip[10:12], inetChecksum(0, ip))

	udp := f[34:]
	binary.BigEndian.PutUint16(udp[0:2], sport)
	binary.BigEndian.PutUint16(udp[2:4], s.DstPort)
	binary.BigEndian.PutUint16(udp[4:6], uint16(len(udp)))
	for i := HeaderLen; i < s.Size; i++ {
		f[i] = byte(i)
	}
	// Pseudo-header: src, dst, zero+proto, UDP length.
	var pseudo [12]byte
	copy(pseudo[0:4], src[:])
	copy(pseudo[4:8], dst[:])
	pseudo[9] = 17
	binary.BigEndian.PutUint16(pseudo[10:12], uint16(len(udp)))
	sum := partialSum(partialSum(0, pseudo[:]), udp)
	ck := foldComplement(sum)
	if ck == 0 {
		ck = 0xffff
	}
	binary.BigEndian.PutUint16(udp[6:8], ck)
	return f
}

func partialSum(acc uint64, b []byte) uint64 {
	for len(b) >= 2 {
		acc += uint64(b[0])<<8 | uint64(b[1])
		b = b[2:]
	}
	if len(b) == 1 {
		acc += uint64(b[0]) << 8
	}
	return acc
}

func foldComplement(acc uint64) uint16 {
	for acc > 0xffff {
		acc = acc>>16 + acc&0xffff
	}
	return ^uint16(acc)
}

// inetChecksum is the Internet checksum of b (checksum field must be zero).
func inetChecksum(acc uint64, b []byte) uint16 { return foldComplement(partialSum(acc, b)) }
