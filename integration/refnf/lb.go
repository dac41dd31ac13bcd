package refnf

import "fmt"

// Backend is one load-balancer target; Port 0 keeps the packet's destination port.
type Backend struct {
	IP   [4]byte
	Port uint16
}

// LoadBalancer hashes the 5-tuple onto one of N backends and rewrites the
// destination, so every packet of a flow goes to the same backend. The hash
// is FNV-1a over the tuple in network byte order: stable across runs and
// processes (no random seed). When VIP is non-zero only packets addressed to
// it are balanced; others pass unchanged.
type LoadBalancer struct {
	Backends []Backend
	VIP      [4]byte
	// PerBackend counts packets sent to each backend.
	PerBackend []uint64
}

// NewLoadBalancer requires at least one backend.
func NewLoadBalancer(backends []Backend, vip [4]byte) (*LoadBalancer, error) {
	if len(backends) == 0 {
		return nil, fmt.Errorf("%w: load balancer needs at least one backend", ErrBadConfig)
	}
	return &LoadBalancer{Backends: backends, VIP: vip, PerBackend: make([]uint64, len(backends))}, nil
}

// FlowHash is FNV-1a (32 bit) over src, dst, sport, dport, proto.
func FlowHash(t *FiveTuple) uint32 {
	const (
		offset32 = 2166136261
		prime32  = 16777619
	)
	h := uint32(offset32)
	mix := func(b byte) { h ^= uint32(b); h *= prime32 }
	for _, b := range t.Src {
		mix(b)
	}
	for _, b := range t.Dst {
		mix(b)
	}
	mix(byte(t.SrcPort >> 8))
	mix(byte(t.SrcPort))
	mix(byte(t.DstPort >> 8))
	mix(byte(t.DstPort))
	mix(t.Proto)
	return h
}

// Pick returns the backend index for a flow.
func (lb *LoadBalancer) Pick(t *FiveTuple) int {
	return int(FlowHash(t) % uint32(len(lb.Backends)))
}

// Process implements Processor.
func (lb *LoadBalancer) Process(frame []byte) Verdict {
	var p packet
	if !parse(frame, &p) {
		return Invalid
	}
	if lb.VIP != ([4]byte{}) && p.tuple.Dst != lb.VIP {
		return Accept
	}
	i := lb.Pick(&p.tuple)
	b := lb.Backends[i]
	port := b.Port
	if port == 0 {
		port = p.tuple.DstPort
	}
	p.setDestination(b.IP, port)
	lb.PerBackend[i]++
	return Accept
}
