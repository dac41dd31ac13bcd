package refnf

import (
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
	"testing"
)

func TestIPv4HeaderChecksumKnownVector(t *testing.T) {
	// A textbook IPv4 header whose checksum field holds 0xb861.
	hdr, err := hex.DecodeString("450000730000400040110000c0a80001c0a800c7")
	if err != nil {
		t.Fatal(err)
	}
	if got := IPv4HeaderChecksum(hdr); got != 0xb861 {
		t.Fatalf("checksum = %#04x, want 0xb861", got)
	}
}

func TestParseTupleUDPAndTCP(t *testing.T) {
	for _, proto := range []uint8{ProtoUDP, ProtoTCP} {
		f := mkFrame(t, frameOpt{proto: proto, src: "10.77.0.1", dst: "10.77.0.2", sport: 1234, dport: 80, payload: 10})
		tu, ok := ParseTuple(f)
		if !ok {
			t.Fatalf("proto %d: not parsed", proto)
		}
		want := FiveTuple{Src: addr4("10.77.0.1"), Dst: addr4("10.77.0.2"), SrcPort: 1234, DstPort: 80, Proto: proto}
		if tu != want {
			t.Fatalf("tuple = %v, want %v", tu, want)
		}
		if !ChecksumsValid(f) {
			t.Fatalf("proto %d: ChecksumsValid false on a frame built with correct checksums", proto)
		}
	}
}

func TestParseRejectsMalformedFrames(t *testing.T) {
	good := mkFrame(t, frameOpt{src: "10.77.0.1", dst: "10.77.0.2", sport: 1, dport: 2, payload: 4})
	mutate := func(fn func(f []byte) []byte) []byte {
		c := append([]byte(nil), good...)
		return fn(c)
	}
	cases := map[string][]byte{
		"empty":          nil,
		"short":          good[:30],
		"not ipv4":       mutate(func(f []byte) []byte { binary.BigEndian.PutUint16(f[12:], 0x86dd); return f }),
		"version 6":      mutate(func(f []byte) []byte { f[14] = 0x65; return f }),
		"ihl too small":  mutate(func(f []byte) []byte { f[14] = 0x44; return f }),
		"ihl past end":   mutate(func(f []byte) []byte { f[14] = 0x4f; return f[:40] }),
		"total too long": mutate(func(f []byte) []byte { binary.BigEndian.PutUint16(f[16:], 1000); return f }),
		"total < ihl":    mutate(func(f []byte) []byte { binary.BigEndian.PutUint16(f[16:], 10); return f }),
		"udp truncated":  mutate(func(f []byte) []byte { binary.BigEndian.PutUint16(f[16:], 24); return f }),
	}
	for name, f := range cases {
		if _, ok := ParseTuple(f); ok {
			t.Errorf("%s: parsed, want rejected", name)
		}
	}
}

func TestParseFragmentAndPadding(t *testing.T) {
	frag := mkFrame(t, frameOpt{src: "10.77.0.1", dst: "10.77.0.2", sport: 5, dport: 6, payload: 8, fragOffset: 3})
	tu, ok := ParseTuple(frag)
	if !ok || tu.SrcPort != 0 || tu.DstPort != 0 {
		t.Fatalf("non-first fragment: ok=%v tuple=%v, want ports 0", ok, tu)
	}
	padded := mkFrame(t, frameOpt{src: "10.77.0.1", dst: "10.77.0.2", sport: 5, dport: 6, padding: 18})
	if tu, ok := ParseTuple(padded); !ok || tu.DstPort != 6 {
		t.Fatalf("padded frame: ok=%v tuple=%v", ok, tu)
	}
	if !ChecksumsValid(padded) {
		t.Fatal("padding must not enter the UDP checksum")
	}
}

func TestChecksumAdjustMatchesFullRecompute(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 2000 {
		proto := []uint8{ProtoUDP, ProtoTCP}[i%2]
		f := mkFrame(t, frameOpt{proto: proto, src: "10.77.0.1", dst: "10.77.0.2",
			sport: uint16(r.UintN(65535) + 1), dport: uint16(r.UintN(65535) + 1), payload: r.IntN(64)})
		var p packet
		if !parse(f, &p) {
			t.Fatal("parse")
		}
		ip := [4]byte{byte(r.UintN(256)), byte(r.UintN(256)), byte(r.UintN(256)), byte(r.UintN(256))}
		port := uint16(r.UintN(65536))
		if i%4 < 2 {
			p.setSource(ip, port)
		} else {
			p.setDestination(ip, port)
		}
		if !naiveValid(t, f) {
			t.Fatalf("iteration %d (proto %d): incremental checksum differs from full recompute", i, proto)
		}
	}
}

func TestRewriteKeepsZeroUDPChecksum(t *testing.T) {
	f := mkFrame(t, frameOpt{src: "10.77.0.1", dst: "10.77.0.2", sport: 1, dport: 2, zeroUDPChecksum: true})
	var p packet
	parse(f, &p)
	p.setSource(addr4("10.77.0.100"), 20000)
	if ck := binary.BigEndian.Uint16(f[34+6:]); ck != 0 {
		t.Fatalf("UDP checksum = %#x, want 0 (no checksum) kept", ck)
	}
	if !ChecksumsValid(f) {
		t.Fatal("IPv4 header checksum broken")
	}
}

func TestSwapMAC(t *testing.T) {
	f := mkFrame(t, frameOpt{src: "10.77.0.1", dst: "10.77.0.2", sport: 1, dport: 2})
	swapMAC(f)
	if f[5] != 1 || f[11] != 2 {
		t.Fatalf("MACs not swapped: dst=%x src=%x", f[0:6], f[6:12])
	}
}
