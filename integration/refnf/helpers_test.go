package refnf

import (
	"encoding/binary"
	"net/netip"
	"testing"
)

// naiveSum is a deliberately plain Internet checksum used to cross-check the
// package's own checksum code.
func naiveSum(chunks ...[]byte) uint16 {
	var all []byte
	for _, c := range chunks {
		all = append(all, c...)
	}
	if len(all)%2 == 1 {
		all = append(all, 0)
	}
	var s uint64
	for i := 0; i < len(all); i += 2 {
		s += uint64(all[i])<<8 | uint64(all[i+1])
	}
	for s > 0xffff {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}

type frameOpt struct {
	proto           uint8
	src, dst        string
	sport, dport    uint16
	payload         int
	zeroUDPChecksum bool
	fragOffset      uint16
	padding         int // Ethernet padding after the datagram
	srcMAC, dstMAC  [6]byte
}

// mkFrame builds an Ethernet/IPv4/{UDP,TCP,other} frame with correct checksums.
func mkFrame(t testing.TB, o frameOpt) []byte {
	t.Helper()
	if o.proto == 0 {
		o.proto = ProtoUDP
	}
	l4len := 0
	switch o.proto {
	case ProtoUDP:
		l4len = 8
	case ProtoTCP:
		l4len = 20
	}
	ipLen := 20 + l4len + o.payload
	f := make([]byte, 14+ipLen+o.padding)
	if o.dstMAC == ([6]byte{}) {
		o.dstMAC = [6]byte{2, 0x77, 0, 0, 0, 2}
	}
	if o.srcMAC == ([6]byte{}) {
		o.srcMAC = [6]byte{2, 0x77, 0, 0, 0, 1}
	}
	copy(f[0:6], o.dstMAC[:])
	copy(f[6:12], o.srcMAC[:])
	binary.BigEndian.PutUint16(f[12:], EtherTypeIPv4)
	ip := f[14 : 14+20]
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(ipLen))
	binary.BigEndian.PutUint16(ip[6:], o.fragOffset)
	ip[8] = 64
	ip[9] = o.proto
	src := netip.MustParseAddr(o.src).As4()
	dst := netip.MustParseAddr(o.dst).As4()
	copy(ip[12:], src[:])
	copy(ip[16:], dst[:])
	binary.BigEndian.PutUint16(ip[10:], naiveSum(ip))
	seg := f[34 : 14+ipLen]
	for i := l4len; i < len(seg); i++ {
		seg[i] = byte(i * 7)
	}
	if l4len == 0 {
		return f
	}
	binary.BigEndian.PutUint16(seg[0:], o.sport)
	binary.BigEndian.PutUint16(seg[2:], o.dport)
	pseudo := make([]byte, 12)
	copy(pseudo[0:], src[:])
	copy(pseudo[4:], dst[:])
	pseudo[9] = o.proto
	binary.BigEndian.PutUint16(pseudo[10:], uint16(len(seg)))
	if o.proto == ProtoUDP {
		binary.BigEndian.PutUint16(seg[4:], uint16(len(seg)))
		if !o.zeroUDPChecksum {
			ck := naiveSum(pseudo, seg)
			if ck == 0 {
				ck = 0xffff
			}
			binary.BigEndian.PutUint16(seg[6:], ck)
		}
	} else {
		seg[12] = 5 << 4
		binary.BigEndian.PutUint16(seg[16:], naiveSum(pseudo, seg))
	}
	return f
}

// naiveValid recomputes both checksums from scratch with naiveSum.
func naiveValid(t testing.TB, f []byte) bool {
	t.Helper()
	ip := f[14:34]
	if naiveSum(ip) != 0 {
		return false
	}
	proto := ip[9]
	ipLen := int(binary.BigEndian.Uint16(ip[2:]))
	seg := f[34 : 14+ipLen]
	pseudo := make([]byte, 12)
	copy(pseudo[0:], ip[12:16])
	copy(pseudo[4:], ip[16:20])
	pseudo[9] = proto
	binary.BigEndian.PutUint16(pseudo[10:], uint16(len(seg)))
	switch proto {
	case ProtoUDP:
		if binary.BigEndian.Uint16(seg[6:]) == 0 {
			return true
		}
		return naiveSum(pseudo, seg) == 0
	case ProtoTCP:
		return naiveSum(pseudo, seg) == 0
	}
	return true
}

func addr4(s string) [4]byte { return netip.MustParseAddr(s).As4() }
