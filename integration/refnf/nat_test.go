package refnf

import (
	"errors"
	"testing"
)

func TestNATRewritesSourceAndFixesChecksums(t *testing.T) {
	for _, proto := range []uint8{ProtoUDP, ProtoTCP} {
		n, err := NewNAT(addr4("10.77.0.100"), 20000, 20009)
		if err != nil {
			t.Fatal(err)
		}
		f := mkFrame(t, frameOpt{proto: proto, src: "10.77.0.1", dst: "10.77.0.2", sport: 10000, dport: 9, payload: 33})
		orig := append([]byte(nil), f...)
		if v := n.Process(f); v != Accept {
			t.Fatalf("verdict %v", v)
		}
		tu, _ := ParseTuple(f)
		if tu.Src != addr4("10.77.0.100") || tu.SrcPort != 20000 {
			t.Fatalf("proto %d: rewritten tuple %v", proto, tu)
		}
		if tu.Dst != addr4("10.77.0.2") || tu.DstPort != 9 {
			t.Fatalf("proto %d: destination changed: %v", proto, tu)
		}
		if !naiveValid(t, f) {
			t.Fatalf("proto %d: checksums wrong after NAT", proto)
		}
		// Payload untouched.
		if string(f[len(f)-33:]) != string(orig[len(orig)-33:]) {
			t.Fatalf("payload changed")
		}
	}
}

func TestNATStableMappingPerFlow(t *testing.T) {
	n, _ := NewNAT(addr4("10.77.0.100"), 20000, 29999)
	port := func(sport uint16) uint16 {
		f := mkFrame(t, frameOpt{src: "10.77.0.1", dst: "10.77.0.2", sport: sport, dport: 9})
		n.Process(f)
		tu, _ := ParseTuple(f)
		return tu.SrcPort
	}
	a1, b1, a2 := port(1111), port(2222), port(1111)
	if a1 != a2 {
		t.Fatalf("same flow got ports %d and %d", a1, a2)
	}
	if a1 == b1 {
		t.Fatalf("two flows share external port %d", a1)
	}
	if n.Len() != 2 {
		t.Fatalf("table has %d entries, want 2", n.Len())
	}
	ip, p, ok := n.Lookup(FiveTuple{Src: addr4("10.77.0.1"), Dst: addr4("10.77.0.2"), SrcPort: 1111, DstPort: 9, Proto: ProtoUDP})
	if !ok || p != a1 || ip != addr4("10.77.0.100") {
		t.Fatalf("Lookup = %v %d %v", ip, p, ok)
	}
}

func TestNATReverseTranslation(t *testing.T) {
	n, _ := NewNAT(addr4("10.77.0.100"), 20000, 20000)
	out := mkFrame(t, frameOpt{src: "10.77.0.1", dst: "10.77.0.2", sport: 4444, dport: 9})
	n.Process(out)
	reply := mkFrame(t, frameOpt{src: "10.77.0.2", dst: "10.77.0.100", sport: 9, dport: 20000})
	if v := n.Process(reply); v != Accept {
		t.Fatalf("reply verdict %v", v)
	}
	tu, _ := ParseTuple(reply)
	if tu.Dst != addr4("10.77.0.1") || tu.DstPort != 4444 {
		t.Fatalf("reply not translated back: %v", tu)
	}
	if !naiveValid(t, reply) {
		t.Fatal("reply checksums wrong")
	}
}

func TestNATExhaustionDrops(t *testing.T) {
	n, _ := NewNAT(addr4("10.77.0.100"), 30000, 30001)
	for i, want := range []Verdict{Accept, Accept, Drop} {
		f := mkFrame(t, frameOpt{src: "10.77.0.1", dst: "10.77.0.2", sport: uint16(100 + i), dport: 9})
		if v := n.Process(f); v != want {
			t.Fatalf("flow %d: %v, want %v", i, v, want)
		}
	}
	if n.Exhausted != 1 {
		t.Fatalf("Exhausted = %d, want 1", n.Exhausted)
	}
	// An existing flow still passes when the table is full.
	f := mkFrame(t, frameOpt{src: "10.77.0.1", dst: "10.77.0.2", sport: 100, dport: 9})
	if v := n.Process(f); v != Accept {
		t.Fatalf("mapped flow after exhaustion: %v", v)
	}
}

func TestNATBadRange(t *testing.T) {
	for _, r := range [][2]uint16{{0, 10}, {20, 10}} {
		if _, err := NewNAT(addr4("10.77.0.100"), r[0], r[1]); !errors.Is(err, ErrBadConfig) {
			t.Errorf("range %v: err = %v", r, err)
		}
	}
}
