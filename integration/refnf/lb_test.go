package refnf

import (
	"encoding/binary"
	"errors"
	"hash/fnv"
	"testing"
)

func TestFlowHashIsFNV1aOverTuple(t *testing.T) {
	tu := FiveTuple{Src: addr4("10.77.0.1"), Dst: addr4("10.77.0.2"), SrcPort: 10000, DstPort: 9, Proto: ProtoUDP}
	h := fnv.New32a()
	h.Write(tu.Src[:])
	h.Write(tu.Dst[:])
	var ports [4]byte
	binary.BigEndian.PutUint16(ports[0:], tu.SrcPort)
	binary.BigEndian.PutUint16(ports[2:], tu.DstPort)
	h.Write(ports[:])
	h.Write([]byte{tu.Proto})
	if got, want := FlowHash(&tu), h.Sum32(); got != want {
		t.Fatalf("FlowHash = %#x, hash/fnv = %#x", got, want)
	}
}

func TestLBStableAndSpread(t *testing.T) {
	backends := []Backend{{IP: addr4("10.77.0.11")}, {IP: addr4("10.77.0.12")}, {IP: addr4("10.77.0.13")}, {IP: addr4("10.77.0.14")}}
	a, _ := NewLoadBalancer(backends, [4]byte{})
	b, _ := NewLoadBalancer(backends, [4]byte{})
	counts := make([]int, len(backends))
	const flows = 8000
	for i := range flows {
		tu := FiveTuple{Src: addr4("10.77.0.1"), Dst: addr4("10.77.0.2"), SrcPort: uint16(1024 + i), DstPort: 9, Proto: ProtoUDP}
		pa, pb, pa2 := a.Pick(&tu), b.Pick(&tu), a.Pick(&tu)
		if pa != pb || pa != pa2 {
			t.Fatalf("flow %v picked %d, %d, %d: not stable", tu, pa, pb, pa2)
		}
		counts[pa]++
	}
	for i, c := range counts {
		if c < flows/len(backends)*8/10 || c > flows/len(backends)*12/10 {
			t.Errorf("backend %d got %d of %d flows (want within 20%% of %d)", i, c, flows, flows/len(backends))
		}
	}
}

func TestLBRewritesDestination(t *testing.T) {
	lb, _ := NewLoadBalancer([]Backend{{IP: addr4("10.77.0.11"), Port: 8080}, {IP: addr4("10.77.0.12")}}, [4]byte{})
	for sport := uint16(1); sport < 50; sport++ {
		for _, proto := range []uint8{ProtoUDP, ProtoTCP} {
			f := mkFrame(t, frameOpt{proto: proto, src: "10.77.0.1", dst: "10.77.0.2", sport: sport, dport: 9, payload: 5})
			before, _ := ParseTuple(f)
			want := lb.Backends[lb.Pick(&before)]
			if v := lb.Process(f); v != Accept {
				t.Fatalf("verdict %v", v)
			}
			after, _ := ParseTuple(f)
			wantPort := want.Port
			if wantPort == 0 {
				wantPort = 9
			}
			if after.Dst != want.IP || after.DstPort != wantPort || after.Src != before.Src || after.SrcPort != before.SrcPort {
				t.Fatalf("rewrite %v -> %v, want dst %v:%d", before, after, want.IP, wantPort)
			}
			if !naiveValid(t, f) {
				t.Fatalf("checksums wrong after LB rewrite of %v", before)
			}
		}
	}
	total := lb.PerBackend[0] + lb.PerBackend[1]
	if total != 98 {
		t.Fatalf("PerBackend total %d, want 98", total)
	}
}

func TestLBVIPFilter(t *testing.T) {
	lb, _ := NewLoadBalancer([]Backend{{IP: addr4("10.77.0.11")}}, addr4("10.77.0.50"))
	other := mkFrame(t, frameOpt{src: "10.77.0.1", dst: "10.77.0.2", sport: 1, dport: 9})
	lb.Process(other)
	if tu, _ := ParseTuple(other); tu.Dst != addr4("10.77.0.2") {
		t.Fatalf("packet not for the VIP was rewritten: %v", tu)
	}
	vip := mkFrame(t, frameOpt{src: "10.77.0.1", dst: "10.77.0.50", sport: 1, dport: 9})
	lb.Process(vip)
	if tu, _ := ParseTuple(vip); tu.Dst != addr4("10.77.0.11") {
		t.Fatalf("VIP packet not balanced: %v", tu)
	}
}

func TestLBNeedsBackends(t *testing.T) {
	if _, err := NewLoadBalancer(nil, [4]byte{}); !errors.Is(err, ErrBadConfig) {
		t.Fatalf("err = %v", err)
	}
}
