package refnf

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// ErrBadRule wraps every firewall rule parse error.
var ErrBadRule = errors.New("refnf: bad firewall rule")

// PortRange is an inclusive port range; the zero value matches every port.
type PortRange struct{ Lo, Hi uint16 }

func (r PortRange) any() bool { return r.Lo == 0 && r.Hi == 0 }

func (r PortRange) match(p uint16) bool { return r.any() || (p >= r.Lo && p <= r.Hi) }

// Rule is one firewall rule; zero-valued fields match anything. Proto 0 means
// any protocol; a rule with a port range only matches TCP/UDP packets.
type Rule struct {
	Action       Verdict // Accept or Drop
	Proto        uint8
	Src, Dst     netip.Prefix // invalid (zero) prefix = any
	SPort, DPort PortRange
}

// Match reports whether the rule covers t.
func (r *Rule) Match(t *FiveTuple) bool {
	if r.Proto != 0 && r.Proto != t.Proto {
		return false
	}
	if r.Src.IsValid() && !r.Src.Contains(netip.AddrFrom4(t.Src)) {
		return false
	}
	if r.Dst.IsValid() && !r.Dst.Contains(netip.AddrFrom4(t.Dst)) {
		return false
	}
	if !r.SPort.any() || !r.DPort.any() {
		if t.Proto != ProtoTCP && t.Proto != ProtoUDP {
			return false
		}
		if !r.SPort.match(t.SrcPort) || !r.DPort.match(t.DstPort) {
			return false
		}
	}
	return true
}

// ParseRule reads "accept|drop [proto=udp|tcp|any|N] [src=CIDR] [dst=CIDR]
// [sport=N[-M]] [dport=N[-M]]".
func ParseRule(s string) (Rule, error) {
	fields := strings.Fields(s)
	if len(fields) == 0 {
		return Rule{}, fmt.Errorf("%w: empty rule", ErrBadRule)
	}
	var r Rule
	switch fields[0] {
	case "accept":
		r.Action = Accept
	case "drop":
		r.Action = Drop
	default:
		return Rule{}, fmt.Errorf("%w %q: action must be accept or drop, got %q", ErrBadRule, s, fields[0])
	}
	for _, f := range fields[1:] {
		key, val, ok := strings.Cut(f, "=")
		if !ok || val == "" {
			return Rule{}, fmt.Errorf("%w %q: expected key=value, got %q", ErrBadRule, s, f)
		}
		var err error
		switch key {
		case "proto":
			r.Proto, err = parseProto(val)
		case "src":
			r.Src, err = parsePrefix(val)
		case "dst":
			r.Dst, err = parsePrefix(val)
		case "sport":
			r.SPort, err = parsePortRange(val)
		case "dport":
			r.DPort, err = parsePortRange(val)
		default:
			err = fmt.Errorf("unknown key %q", key)
		}
		if err != nil {
			return Rule{}, fmt.Errorf("%w %q: %w", ErrBadRule, s, err)
		}
	}
	return r, nil
}

// ParseRules parses rules separated by ';' or newlines; blank entries and
// '#' comments are skipped.
func ParseRules(s string) ([]Rule, error) {
	var rules []Rule
	for _, line := range strings.FieldsFunc(s, func(r rune) bool { return r == ';' || r == '\n' }) {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		if strings.TrimSpace(line) == "" {
			continue
		}
		r, err := ParseRule(line)
		if err != nil {
			return nil, err
		}
		rules = append(rules, r)
	}
	return rules, nil
}

func parseProto(v string) (uint8, error) {
	switch v {
	case "any":
		return 0, nil
	case "udp":
		return ProtoUDP, nil
	case "tcp":
		return ProtoTCP, nil
	case "icmp":
		return 1, nil
	}
	n, err := strconv.ParseUint(v, 10, 8)
	if err != nil {
		return 0, fmt.Errorf("proto %q: want udp, tcp, icmp, any or 0..255", v)
	}
	return uint8(n), nil
}

func parsePrefix(v string) (netip.Prefix, error) {
	if !strings.Contains(v, "/") {
		a, err := netip.ParseAddr(v)
		if err != nil || !a.Is4() {
			return netip.Prefix{}, fmt.Errorf("address %q: want IPv4 or CIDR", v)
		}
		return netip.PrefixFrom(a, 32), nil
	}
	p, err := netip.ParsePrefix(v)
	if err != nil || !p.Addr().Is4() {
		return netip.Prefix{}, fmt.Errorf("prefix %q: want IPv4 CIDR", v)
	}
	return p.Masked(), nil
}

func parsePortRange(v string) (PortRange, error) {
	lo, hi, isRange := strings.Cut(v, "-")
	l, err := strconv.ParseUint(lo, 10, 16)
	if err != nil {
		return PortRange{}, fmt.Errorf("port %q: want N or N-M within 0..65535", v)
	}
	h := l
	if isRange {
		if h, err = strconv.ParseUint(hi, 10, 16); err != nil {
			return PortRange{}, fmt.Errorf("port %q: want N or N-M within 0..65535", v)
		}
	}
	if h < l {
		return PortRange{}, fmt.Errorf("port range %q is empty", v)
	}
	if l == 0 && h == 0 {
		return PortRange{}, fmt.Errorf("port range %q: 0-0 is reserved for any; omit the key", v)
	}
	return PortRange{Lo: uint16(l), Hi: uint16(h)}, nil
}

// Firewall applies the first matching rule, else the default action. Invalid
// frames are dropped.
type Firewall struct {
	Rules   []Rule
	Default Verdict
	// Hits counts matches per rule index; len(Rules) counts default hits.
	Hits []uint64
}

// NewFirewall builds a firewall; def must be Accept or Drop.
func NewFirewall(rules []Rule, def Verdict) *Firewall {
	return &Firewall{Rules: rules, Default: def, Hits: make([]uint64, len(rules)+1)}
}

// Decide returns the verdict for a 5-tuple and the index of the matching rule
// (len(Rules) for the default).
func (fw *Firewall) Decide(t *FiveTuple) (Verdict, int) {
	for i := range fw.Rules {
		if fw.Rules[i].Match(t) {
			return fw.Rules[i].Action, i
		}
	}
	return fw.Default, len(fw.Rules)
}

// Process implements Processor.
func (fw *Firewall) Process(frame []byte) Verdict {
	var p packet
	if !parse(frame, &p) {
		return Invalid
	}
	v, i := fw.Decide(&p.tuple)
	fw.Hits[i]++
	return v
}
