package refnf

import (
	"errors"
	"fmt"
)

// ErrBadConfig wraps NF configuration errors (NAT port range, LB backends, mode).
var ErrBadConfig = errors.New("refnf: bad NF configuration")

// natKey identifies a translated flow on the inside.
type natKey = FiveTuple

// natAddr is a translated (address, port).
type natAddr struct {
	IP   [4]byte
	Port uint16
}

// revKey finds the inside flow of a packet coming back to the external side.
type revKey struct {
	Proto uint8
	Port  uint16
}

// NAT is a source NAT in the style of Click's IPRewriter with a pattern
// "EXTERNAL PORTLO-PORTHI - - 0 1": the first packet of an inside flow gets the
// next free external port; later packets of the flow reuse it. Packets sent to
// External on a mapped port are translated back (destination rewrite).
// Packets without ports get only their source address rewritten. The table
// never expires entries (test equipment); when the port range is used up new
// flows are dropped and counted in Exhausted.
type NAT struct {
	External       [4]byte
	PortLo, PortHi uint16

	forward   map[natKey]natAddr
	reverse   map[revKey]natAddr // external port → inside (ip, port)
	next      uint32
	Exhausted uint64
}

// NewNAT validates the range and returns an empty table.
func NewNAT(external [4]byte, portLo, portHi uint16) (*NAT, error) {
	if portLo == 0 || portHi < portLo {
		return nil, fmt.Errorf("%w: NAT port range %d-%d (want 1 <= lo <= hi)", ErrBadConfig, portLo, portHi)
	}
	return &NAT{
		External: external, PortLo: portLo, PortHi: portHi,
		forward: make(map[natKey]natAddr),
		reverse: make(map[revKey]natAddr),
		next:    uint32(portLo),
	}, nil
}

// Len returns the number of mapped flows.
func (n *NAT) Len() int { return len(n.forward) }

// Lookup returns the translation of an inside flow, if any.
func (n *NAT) Lookup(t FiveTuple) (ip [4]byte, port uint16, ok bool) {
	a, ok := n.forward[t]
	return a.IP, a.Port, ok
}

// allocate picks the next external port not in use for proto.
func (n *NAT) allocate(proto uint8) (uint16, bool) {
	size := uint32(n.PortHi) - uint32(n.PortLo) + 1
	for range size {
		p := uint16(n.next)
		n.next++
		if n.next > uint32(n.PortHi) {
			n.next = uint32(n.PortLo)
		}
		if _, used := n.reverse[revKey{proto, p}]; !used {
			return p, true
		}
	}
	return 0, false
}

// Process implements Processor.
func (n *NAT) Process(frame []byte) Verdict {
	var p packet
	if !parse(frame, &p) {
		return Invalid
	}
	if p.l4 < 0 {
		p.setSource(n.External, 0)
		return Accept
	}
	// Return traffic to a mapped external port: translate back.
	if p.tuple.Dst == n.External {
		if in, ok := n.reverse[revKey{p.tuple.Proto, p.tuple.DstPort}]; ok {
			p.setDestination(in.IP, in.Port)
			return Accept
		}
	}
	a, ok := n.forward[p.tuple]
	if !ok {
		port, free := n.allocate(p.tuple.Proto)
		if !free {
			n.Exhausted++
			return Drop
		}
		a = natAddr{IP: n.External, Port: port}
		n.forward[p.tuple] = a
		n.reverse[revKey{p.tuple.Proto, port}] = natAddr{IP: p.tuple.Src, Port: p.tuple.SrcPort}
	}
	p.setSource(a.IP, a.Port)
	return Accept
}
