package refnf

import (
	"errors"
	"testing"
)

func TestNewProcessorModes(t *testing.T) {
	f := mkFrame(t, frameOpt{src: "10.77.0.1", dst: "10.77.0.2", sport: 10000, dport: 9})
	for _, m := range Modes {
		p, err := NewProcessor(m, ProcessorOptions{})
		if err != nil {
			t.Fatalf("%s: %v", m, err)
		}
		// The defaults accept the benchmark's traffic (UDP 10.77.0.1:10000 -> 10.77.0.2:9).
		if v := p.Process(append([]byte(nil), f...)); v != Accept {
			t.Errorf("%s: default config gives %v for benchmark traffic", m, v)
		}
	}
}

func TestNewProcessorErrors(t *testing.T) {
	cases := []struct {
		mode string
		o    ProcessorOptions
		want error
	}{
		{"router", ProcessorOptions{}, ErrBadConfig},
		{"firewall", ProcessorOptions{FirewallRules: "permit all"}, ErrBadRule},
		{"firewall", ProcessorOptions{FirewallDefault: "maybe"}, ErrBadConfig},
		{"nat", ProcessorOptions{NATExternal: "::1"}, ErrBadConfig},
		{"nat", ProcessorOptions{NATPorts: "9-1"}, ErrBadConfig},
		{"lb", ProcessorOptions{LBBackends: "10.77.0.11,nope"}, ErrBadConfig},
		{"lb", ProcessorOptions{LBBackends: "10.77.0.11:0"}, ErrBadConfig},
		{"lb", ProcessorOptions{LBVIP: "x"}, ErrBadConfig},
	}
	for _, c := range cases {
		if _, err := NewProcessor(c.mode, c.o); !errors.Is(err, c.want) {
			t.Errorf("%s %+v: err = %v, want %v", c.mode, c.o, err, c.want)
		}
	}
}
