package trafficgen

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"testing"

	"github.com/nemo-edge/nemo/integration/refnf"
)

func spec(size, flows int) FrameSpec {
	return FrameSpec{
		Size: size, Flows: flows,
		SrcMAC: net.HardwareAddr{2, 0x77, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0x77, 0, 0, 0, 2},
		Src: netip.MustParseAddr("10.77.0.1"), Dst: netip.MustParseAddr("10.77.0.2"),
		SrcPort: 10000, DstPort: 9,
	}
}

func TestFramesHaveExactSizeAndValidChecksums(t *testing.T) {
	for _, size := range []int{42, 64, 128, 256, 512, 1024, 1500, 1514} {
		frames, err := BuildFrames(spec(size, 3))
		if err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		for i, f := range frames {
			if len(f) != size {
				t.Fatalf("size %d: frame is %d bytes", size, len(f))
			}
			if got := int(binary.BigEndian.Uint16(f[16:18])); got != size-14 {
				t.Fatalf("size %d: IPv4 total length %d, want %d", size, got, size-14)
			}
			// Cross-check with the NF's independent checksum code.
			if !refnf.ChecksumsValid(f) {
				t.Fatalf("size %d flow %d: checksums invalid", size, i)
			}
			tu, ok := refnf.ParseTuple(f)
			if !ok || tu.SrcPort != uint16(10000+i) || tu.DstPort != 9 || tu.Proto != 17 {
				t.Fatalf("size %d flow %d: tuple %v ok=%v", size, i, tu, ok)
			}
		}
	}
}

func TestFrameSpecGuards(t *testing.T) {
	bad := map[string]func(*FrameSpec){
		"size too small":  func(s *FrameSpec) { s.Size = 41 },
		"size too large":  func(s *FrameSpec) { s.Size = 1515 },
		"dst outside":     func(s *FrameSpec) { s.Dst = netip.MustParseAddr("10.78.0.2") },
		"src outside":     func(s *FrameSpec) { s.Src = netip.MustParseAddr("8.8.8.8") },
		"ipv6":            func(s *FrameSpec) { s.Dst = netip.MustParseAddr("fe80::1") },
		"zero flows":      func(s *FrameSpec) { s.Flows = 0 },
		"ports overflow":  func(s *FrameSpec) { s.SrcPort = 65535; s.Flows = 2 },
		"short mac":       func(s *FrameSpec) { s.DstMAC = net.HardwareAddr{1, 2} },
		"zero dst port":   func(s *FrameSpec) { s.DstPort = 0 },
		"unset addresses": func(s *FrameSpec) { s.Src = netip.Addr{} },
	}
	for name, mut := range bad {
		s := spec(64, 1)
		mut(&s)
		if _, err := BuildFrames(s); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	s := spec(64, 1)
	s.Dst = netip.MustParseAddr("192.168.1.1")
	if _, err := BuildFrames(s); !errors.Is(err, ErrNotAllowed) {
		t.Errorf("address guard: err = %v, want ErrNotAllowed", err)
	}
	s = spec(30, 1)
	if _, err := BuildFrames(s); !errors.Is(err, ErrBadSize) {
		t.Errorf("size guard: err = %v, want ErrBadSize", err)
	}
}
