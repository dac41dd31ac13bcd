package refnf

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Modes lists the NF kinds of the paper's Table 1 that refnf implements.
var Modes = []string{"firewall", "nat", "lb"}

// DefaultFirewallRules is an ACL of the shape a small edge firewall has: a few
// drops that the benchmark traffic does not hit (so every packet walks them),
// then the accept rule for the test subnet. Default policy: drop.
const DefaultFirewallRules = `drop src=192.168.0.0/16
drop src=172.16.0.0/12
drop proto=tcp dport=23
drop proto=udp dport=137-139
drop proto=udp dport=161-162
drop dst=10.77.0.255
drop proto=udp sport=0-1023 dport=0-1023
accept proto=udp dst=10.77.0.0/24
accept proto=tcp dst=10.77.0.0/24 dport=80`

// ProcessorOptions configures NewProcessor; empty fields take the defaults
// used by nf-bench.sh.
type ProcessorOptions struct {
	FirewallRules   string // see ParseRules
	FirewallDefault string // accept|drop (default drop)
	NATExternal     string // IPv4 (default 10.77.0.100)
	NATPorts        string // lo-hi (default 20000-29999)
	LBBackends      string // comma-separated ip[:port] (default 10.77.0.11-14)
	LBVIP           string // only balance packets to this IPv4 ("" = all)
}

// NewProcessor builds the NF for mode.
func NewProcessor(mode string, o ProcessorOptions) (Processor, error) {
	switch mode {
	case "firewall":
		rules := o.FirewallRules
		if rules == "" {
			rules = DefaultFirewallRules
		}
		rs, err := ParseRules(rules)
		if err != nil {
			return nil, err
		}
		def := Drop
		switch o.FirewallDefault {
		case "", "drop":
		case "accept":
			def = Accept
		default:
			return nil, fmt.Errorf("%w: firewall default %q (want accept or drop)", ErrBadConfig, o.FirewallDefault)
		}
		return NewFirewall(rs, def), nil
	case "nat":
		ext := o.NATExternal
		if ext == "" {
			ext = "10.77.0.100"
		}
		ip, err := parseIPv4(ext)
		if err != nil {
			return nil, err
		}
		ports := o.NATPorts
		if ports == "" {
			ports = "20000-29999"
		}
		pr, err := parsePortRange(ports)
		if err != nil {
			return nil, fmt.Errorf("%w: NAT ports: %w", ErrBadConfig, err)
		}
		return NewNAT(ip, pr.Lo, pr.Hi)
	case "lb":
		spec := o.LBBackends
		if spec == "" {
			spec = "10.77.0.11,10.77.0.12,10.77.0.13,10.77.0.14"
		}
		var backends []Backend
		for _, s := range strings.Split(spec, ",") {
			b, err := parseBackend(strings.TrimSpace(s))
			if err != nil {
				return nil, err
			}
			backends = append(backends, b)
		}
		var vip [4]byte
		if o.LBVIP != "" {
			v, err := parseIPv4(o.LBVIP)
			if err != nil {
				return nil, err
			}
			vip = v
		}
		return NewLoadBalancer(backends, vip)
	}
	return nil, fmt.Errorf("%w: mode %q (want one of %s)", ErrBadConfig, mode, strings.Join(Modes, ", "))
}

func parseIPv4(s string) ([4]byte, error) {
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		return [4]byte{}, fmt.Errorf("%w: %q is not an IPv4 address", ErrBadConfig, s)
	}
	return a.As4(), nil
}

func parseBackend(s string) (Backend, error) {
	host, portStr, hasPort := strings.Cut(s, ":")
	ip, err := parseIPv4(host)
	if err != nil {
		return Backend{}, err
	}
	b := Backend{IP: ip}
	if hasPort {
		p, err := strconv.ParseUint(portStr, 10, 16)
		if err != nil || p == 0 {
			return Backend{}, fmt.Errorf("%w: backend port %q", ErrBadConfig, portStr)
		}
		b.Port = uint16(p)
	}
	return b, nil
}
