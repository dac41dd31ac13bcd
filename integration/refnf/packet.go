package refnf

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// Frame layout constants (Ethernet II, IPv4, no VLAN tag).
const (
	EthHeaderLen  = 14
	EtherTypeIPv4 = 0x0800
	ProtoTCP      = 6
	ProtoUDP      = 17

	ipv4MinHeader = 20
	udpHeaderLen  = 8
	tcpMinHeader  = 20
)

// Verdict is what a processor decides for one frame.
type Verdict uint8

const (
	// Accept: forward the (possibly rewritten) frame.
	Accept Verdict = iota
	// Drop: policy drop (firewall rule, NAT table full).
	Drop
	// Invalid: not an IPv4 frame, or truncated; dropped and counted apart.
	Invalid
)

func (v Verdict) String() string {
	switch v {
	case Accept:
		return "accept"
	case Drop:
		return "drop"
	case Invalid:
		return "invalid"
	}
	return fmt.Sprintf("verdict(%d)", uint8(v))
}

// Processor is one NF: it inspects and may rewrite a frame in place.
// Implementations are used from a single goroutine.
type Processor interface {
	Process(frame []byte) Verdict
}

// FiveTuple identifies a flow. Ports are 0 for protocols without ports and for
// non-first fragments.
type FiveTuple struct {
	Src, Dst         [4]byte
	SrcPort, DstPort uint16
	Proto            uint8
}

func (t FiveTuple) String() string {
	return fmt.Sprintf("%d %s:%d>%s:%d", t.Proto, netip.AddrFrom4(t.Src), t.SrcPort, netip.AddrFrom4(t.Dst), t.DstPort)
}

// packet is a parsed view into a frame; rewrites go through its methods so the
// checksums stay right.
type packet struct {
	frame []byte
	l3    int // offset of the IPv4 header
	l4    int // offset of the TCP/UDP header, or -1 when there are no ports
	end   int // end of the IPv4 datagram (frames may carry Ethernet padding)
	tuple FiveTuple
}

// parse fills p from frame and reports whether frame is a well-formed IPv4
// datagram. It never panics on short or malformed input.
func parse(frame []byte, p *packet) bool {
	*p = packet{frame: frame, l4: -1}
	if len(frame) < EthHeaderLen+ipv4MinHeader {
		return false
	}
	if binary.BigEndian.Uint16(frame[12:14]) != EtherTypeIPv4 {
		return false
	}
	l3 := EthHeaderLen
	vihl := frame[l3]
	if vihl>>4 != 4 {
		return false
	}
	ihl := int(vihl&0x0f) * 4
	if ihl < ipv4MinHeader || l3+ihl > len(frame) {
		return false
	}
	total := int(binary.BigEndian.Uint16(frame[l3+2 : l3+4]))
	if total < ihl || l3+total > len(frame) {
		return false
	}
	p.l3, p.end = l3, l3+total
	p.tuple.Proto = frame[l3+9]
	copy(p.tuple.Src[:], frame[l3+12:l3+16])
	copy(p.tuple.Dst[:], frame[l3+16:l3+20])
	fragOffset := binary.BigEndian.Uint16(frame[l3+6:l3+8]) & 0x1fff
	if fragOffset != 0 {
		return true
	}
	l4 := l3 + ihl
	switch p.tuple.Proto {
	case ProtoUDP:
		if l4+udpHeaderLen > p.end {
			return false
		}
	case ProtoTCP:
		if l4+tcpMinHeader > p.end {
			return false
		}
	default:
		return true
	}
	p.l4 = l4
	p.tuple.SrcPort = binary.BigEndian.Uint16(frame[l4 : l4+2])
	p.tuple.DstPort = binary.BigEndian.Uint16(frame[l4+2 : l4+4])
	return true
}

// ParseTuple returns the 5-tuple of an Ethernet/IPv4 frame.
func ParseTuple(frame []byte) (FiveTuple, bool) {
	var p packet
	ok := parse(frame, &p)
	return p.tuple, ok
}

// l4ChecksumOffset returns the offset of the transport checksum, or -1.
func (p *packet) l4ChecksumOffset() int {
	if p.l4 < 0 {
		return -1
	}
	switch p.tuple.Proto {
	case ProtoUDP:
		return p.l4 + 6
	case ProtoTCP:
		return p.l4 + 16
	}
	return -1
}

// rewrite replaces the address (and port, when the packet has ports) at the
// given IPv4 and L4 field offsets, adjusting the IPv4 header checksum and the
// transport checksum incrementally (RFC 1624). The caller updates p.tuple.
func (p *packet) rewrite(ipOff, portOff int, ip [4]byte, port uint16) {
	f := p.frame
	oldIP := [4]byte(f[ipOff : ipOff+4])
	ipCk := p.l3 + 10
	binary.BigEndian.PutUint16(f[ipCk:], checksumAdjust(binary.BigEndian.Uint16(f[ipCk:]), oldIP[:], ip[:]))
	ckOff := p.l4ChecksumOffset()
	if ckOff >= 0 {
		var newPort [2]byte
		binary.BigEndian.PutUint16(newPort[:], port)
		old := binary.BigEndian.Uint16(f[ckOff:])
		// UDP checksum 0 means "no checksum": leave it so.
		if !(p.tuple.Proto == ProtoUDP && old == 0) {
			ck := checksumAdjust(old, oldIP[:], ip[:])
			ck = checksumAdjust(ck, f[portOff:portOff+2], newPort[:])
			if p.tuple.Proto == ProtoUDP && ck == 0 {
				ck = 0xffff
			}
			binary.BigEndian.PutUint16(f[ckOff:], ck)
		}
		copy(f[portOff:portOff+2], newPort[:])
	}
	copy(f[ipOff:ipOff+4], ip[:])
}

// setSource rewrites the source address and port.
func (p *packet) setSource(ip [4]byte, port uint16) {
	portOff := p.l4
	if p.l4 < 0 {
		port = 0
	}
	p.rewrite(p.l3+12, portOff, ip, port)
	p.tuple.Src = ip
	if p.l4 >= 0 {
		p.tuple.SrcPort = port
	}
}

// setDestination rewrites the destination address and port.
func (p *packet) setDestination(ip [4]byte, port uint16) {
	portOff := p.l4 + 2
	if p.l4 < 0 {
		port = 0
	}
	p.rewrite(p.l3+16, portOff, ip, port)
	p.tuple.Dst = ip
	if p.l4 >= 0 {
		p.tuple.DstPort = port
	}
}

// checksumAdjust updates a ones'-complement Internet checksum after the bytes
// old were replaced by new (equal, even lengths): HC' = ~(~HC + ~m + m').
func checksumAdjust(check uint16, old, new []byte) uint16 {
	acc := uint32(^check)
	for i := 0; i+1 < len(old); i += 2 {
		acc += uint32(^binary.BigEndian.Uint16(old[i:]))
		acc += uint32(binary.BigEndian.Uint16(new[i:]))
	}
	for acc>>16 != 0 {
		acc = acc&0xffff + acc>>16
	}
	return ^uint16(acc)
}

// onesSum adds b as big-endian 16-bit words (odd trailing byte padded).
func onesSum(acc uint32, b []byte) uint32 {
	n := len(b) &^ 1
	for i := 0; i < n; i += 2 {
		acc += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)&1 != 0 {
		acc += uint32(b[len(b)-1]) << 8
	}
	return acc
}

func fold(acc uint32) uint16 {
	for acc>>16 != 0 {
		acc = acc&0xffff + acc>>16
	}
	return ^uint16(acc)
}

// IPv4HeaderChecksum computes the header checksum of hdr with its checksum
// field taken as zero.
func IPv4HeaderChecksum(hdr []byte) uint16 {
	acc := onesSum(0, hdr[:10])
	acc = onesSum(acc, hdr[12:])
	return fold(acc)
}

// L4Checksum computes the TCP/UDP checksum of segment (header + payload) with
// its checksum field taken as zero, over the IPv4 pseudo-header.
func L4Checksum(src, dst [4]byte, proto uint8, segment []byte) uint16 {
	acc := onesSum(0, src[:])
	acc = onesSum(acc, dst[:])
	acc += uint32(proto) + uint32(len(segment))
	ckOff := 6
	if proto == ProtoTCP {
		ckOff = 16
	}
	acc = onesSum(acc, segment[:ckOff])
	acc = onesSum(acc, segment[ckOff+2:])
	ck := fold(acc)
	if proto == ProtoUDP && ck == 0 {
		ck = 0xffff
	}
	return ck
}

// ChecksumsValid verifies the IPv4 header checksum and, for TCP/UDP first
// fragments, the transport checksum (a UDP checksum of 0 counts as valid).
func ChecksumsValid(frame []byte) bool {
	var p packet
	if !parse(frame, &p) {
		return false
	}
	ihl := int(frame[p.l3]&0x0f) * 4
	hdr := frame[p.l3 : p.l3+ihl]
	if binary.BigEndian.Uint16(hdr[10:]) != IPv4HeaderChecksum(hdr) {
		return false
	}
	ckOff := p.l4ChecksumOffset()
	if ckOff < 0 {
		return true
	}
	got := binary.BigEndian.Uint16(frame[ckOff:])
	if p.tuple.Proto == ProtoUDP && got == 0 {
		return true
	}
	return got == L4Checksum(p.tuple.Src, p.tuple.Dst, p.tuple.Proto, frame[p.l4:p.end])
}
