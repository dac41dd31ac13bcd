package netns

import (
	"context"
	"errors"
	"testing"
)

func TestPairValidateRejectsBadNames(t *testing.T) {
	ok := DefaultPair()
	if err := ok.validate(); err != nil {
		t.Fatalf("default pair: %v", err)
	}
	bad := map[string]func(*Pair){
		"empty NF netns":      func(p *Pair) { p.NFNetns = "" },
		"slash in name":       func(p *Pair) { p.NFIf = "a/b" },
		"too long interface":  func(p *Pair) { p.PeerIf = "abcdefghijklmnop" },
		"same namespaces":     func(p *Pair) { p.PeerNetns = p.NFNetns },
		"dot-dot namespace":   func(p *Pair) { p.PeerNetns = ".." },
		"bad MAC":             func(p *Pair) { p.NFMAC = "02:77" },
		"space in peer netns": func(p *Pair) { p.PeerNetns = "a b" },
	}
	for name, mut := range bad {
		p := ok
		mut(&p)
		if err := p.validate(); !errors.Is(err, ErrBadName) {
			t.Errorf("%s: err = %v, want ErrBadName", name, err)
		}
		// Ensure and Teardown refuse before touching anything.
		if _, err := p.Ensure(context.Background()); !errors.Is(err, ErrBadName) {
			t.Errorf("%s: Ensure err = %v", name, err)
		}
		if err := p.Teardown(context.Background()); !errors.Is(err, ErrBadName) {
			t.Errorf("%s: Teardown err = %v", name, err)
		}
	}
}

func TestDoUnknownNamespace(t *testing.T) {
	err := Do("nemo-no-such-ns", func() error { t.Fatal("fn must not run"); return nil })
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("err = %v, want ErrNotFound", err)
	}
	if err := Do("bad/name", func() error { return nil }); !errors.Is(err, ErrBadName) {
		t.Fatalf("err = %v, want ErrBadName", err)
	}
	ran := false
	if err := Do("", func() error { ran = true; return nil }); err != nil || !ran {
		t.Fatalf("empty name must run fn in place: ran=%v err=%v", ran, err)
	}
}
