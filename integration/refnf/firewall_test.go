package refnf

import (
	"errors"
	"testing"
)

func TestParseRuleValid(t *testing.T) {
	r, err := ParseRule("drop proto=udp src=10.0.0.0/8 dst=10.77.0.2 sport=1000-2000 dport=53")
	if err != nil {
		t.Fatal(err)
	}
	if r.Action != Drop || r.Proto != ProtoUDP || r.Src.String() != "10.0.0.0/8" || r.Dst.String() != "10.77.0.2/32" ||
		r.SPort != (PortRange{1000, 2000}) || r.DPort != (PortRange{53, 53}) {
		t.Fatalf("rule = %+v", r)
	}
	rs, err := ParseRules("accept proto=tcp ; # comment\n drop # trailing\n")
	if err != nil || len(rs) != 2 || rs[0].Action != Accept || rs[1].Action != Drop {
		t.Fatalf("ParseRules = %+v, %v", rs, err)
	}
	if _, err := ParseRules(DefaultFirewallRules); err != nil {
		t.Fatalf("default rules: %v", err)
	}
}

func TestParseRuleErrors(t *testing.T) {
	bad := []string{
		"", "allow", "drop proto=sctpx", "drop src=10.0.0.0/33", "drop src=::1", "drop dst=hello",
		"drop sport=70000", "drop dport=20-10", "drop dport=0-0", "drop color=red", "drop proto", "drop proto=",
	}
	for _, s := range bad {
		if _, err := ParseRule(s); !errors.Is(err, ErrBadRule) {
			t.Errorf("ParseRule(%q) err = %v, want ErrBadRule", s, err)
		}
	}
	if _, err := ParseRules("accept; drop nope=1"); !errors.Is(err, ErrBadRule) {
		t.Errorf("ParseRules with a bad rule: err = %v", err)
	}
}

func TestFirewallFirstMatchWins(t *testing.T) {
	rules, err := ParseRules(`drop proto=udp dport=53
accept src=10.77.0.0/24
drop`)
	if err != nil {
		t.Fatal(err)
	}
	fw := NewFirewall(rules, Accept)
	cases := []struct {
		name string
		tu   FiveTuple
		want Verdict
		rule int
	}{
		{"dns dropped by rule 0", FiveTuple{Src: addr4("10.77.0.1"), Proto: ProtoUDP, DstPort: 53}, Drop, 0},
		{"tcp to 53 skips rule 0", FiveTuple{Src: addr4("10.77.0.1"), Proto: ProtoTCP, DstPort: 53}, Accept, 1},
		{"outside subnet hits catch-all drop", FiveTuple{Src: addr4("10.78.0.1"), Proto: ProtoUDP, DstPort: 9}, Drop, 2},
	}
	for _, c := range cases {
		v, i := fw.Decide(&c.tu)
		if v != c.want || i != c.rule {
			t.Errorf("%s: got %v by rule %d, want %v by rule %d", c.name, v, i, c.want, c.rule)
		}
	}
}

func TestFirewallDefaultAndPortRules(t *testing.T) {
	rules, _ := ParseRules("accept proto=udp sport=1000-1999")
	fw := NewFirewall(rules, Drop)
	in := FiveTuple{Proto: ProtoUDP, SrcPort: 1500}
	out := FiveTuple{Proto: ProtoUDP, SrcPort: 2000}
	icmp := FiveTuple{Proto: 1}
	if v, _ := fw.Decide(&in); v != Accept {
		t.Errorf("port inside range: %v", v)
	}
	if v, i := fw.Decide(&out); v != Drop || i != 1 {
		t.Errorf("port outside range: %v rule %d, want default drop", v, i)
	}
	// A rule with ports never matches a protocol without ports.
	portOnly, _ := ParseRules("drop sport=0-65535")
	if v, _ := NewFirewall(portOnly, Accept).Decide(&icmp); v != Accept {
		t.Errorf("icmp matched a port rule")
	}
}

func TestFirewallProcessCountsHitsAndInvalid(t *testing.T) {
	rules, _ := ParseRules("drop proto=udp dport=9")
	fw := NewFirewall(rules, Accept)
	drop := mkFrame(t, frameOpt{src: "10.77.0.1", dst: "10.77.0.2", sport: 10000, dport: 9})
	pass := mkFrame(t, frameOpt{src: "10.77.0.1", dst: "10.77.0.2", sport: 10000, dport: 10})
	if v := fw.Process(drop); v != Drop {
		t.Errorf("dport 9: %v", v)
	}
	if v := fw.Process(pass); v != Accept {
		t.Errorf("dport 10: %v", v)
	}
	if v := fw.Process([]byte{1, 2, 3}); v != Invalid {
		t.Errorf("garbage: %v", v)
	}
	if fw.Hits[0] != 1 || fw.Hits[1] != 1 {
		t.Errorf("hits = %v, want [1 1]", fw.Hits)
	}
}
