package node

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"

	"github.com/nemo-edge/nemo/invoker/fpc/lifecycle"
	"github.com/nemo-edge/nemo/invoker/wire"
)

func ip(n int) *int { return &n }

// The namespace-limit check: each namespace bound clamped into the system's, unset ones the system's; the
// first violation in OpenWhisk's order (time, memory, concurrency, logs; max before min) in its words.
func TestCheckNamespaceLimits(t *testing.T) {
	sys := SystemLimits{MinMemoryMB: 128, MaxMemoryMB: 512, MinTimeout: 100 * time.Millisecond, MaxTimeout: 5 * time.Minute,
		MinLogsMB: 0, MaxLogsMB: 10, MinConcurrency: 1, MaxConcurrency: 500}
	ok := wire.ActionLimits{TimeoutMs: 60000, MemoryMB: 256, LogsMB: 10, Concurrency: 1}
	for _, c := range []struct {
		name string
		a    wire.ActionLimits
		ns   wire.NamespaceActionLimits
		want string // "" = passes
		dflt LimitDefaults
	}{
		{"within everything", ok, wire.NamespaceActionLimits{}, "", LimitDefaults{}},
		{"namespace memory max", ok, wire.NamespaceActionLimits{MaxActionMemory: ip(128)}, "memory size 256 MB exceeds allowed threshold of 128 MB", LimitDefaults{}},
		{"namespace memory min", ok, wire.NamespaceActionLimits{MinActionMemory: ip(384)}, "memory size 256 MB below allowed threshold of 384 MB", LimitDefaults{}},
		{"namespace max above the system's is clamped", wire.ActionLimits{TimeoutMs: 60000, MemoryMB: 1024, LogsMB: 10, Concurrency: 1},
			wire.NamespaceActionLimits{MaxActionMemory: ip(2048)}, "memory size 1024 MB exceeds allowed threshold of 512 MB", LimitDefaults{}},
		{"timeout first", wire.ActionLimits{TimeoutMs: 60000, MemoryMB: 1024, LogsMB: 10, Concurrency: 1},
			wire.NamespaceActionLimits{MaxActionTimeout: ip(1000)}, "duration 60000 milliseconds exceeds allowed threshold of 1000 milliseconds", LimitDefaults{}},
		{"concurrency", wire.ActionLimits{TimeoutMs: 60000, MemoryMB: 256, LogsMB: 10, Concurrency: 8},
			wire.NamespaceActionLimits{MaxActionConcurrency: ip(4)}, "concurrency 8 exceeds allowed threshold of 4", LimitDefaults{}},
		{"logs", ok, wire.NamespaceActionLimits{MaxActionLogs: ip(5)}, "log size 10 MB exceeds allowed threshold of 5 MB", LimitDefaults{}},
		{"no system bounds: only the namespace's", wire.ActionLimits{TimeoutMs: 1, MemoryMB: 4096, LogsMB: 0, Concurrency: 1}, wire.NamespaceActionLimits{}, "", LimitDefaults{}},
		{"namespace default max when the namespace sets none", ok, wire.NamespaceActionLimits{}, "memory size 256 MB exceeds allowed threshold of 192 MB",
			LimitDefaults{MemoryMB: &[2]int{128, 192}}},
		{"the namespace's own bound wins over the default", ok, wire.NamespaceActionLimits{MaxActionMemory: ip(256)}, "",
			LimitDefaults{MemoryMB: &[2]int{128, 192}}},
		{"default time limit", ok, wire.NamespaceActionLimits{}, "duration 60000 milliseconds exceeds allowed threshold of 30000 milliseconds",
			LimitDefaults{Timeout: &[2]time.Duration{100 * time.Millisecond, 30 * time.Second}}},
		{"a default above the system's is clamped", wire.ActionLimits{TimeoutMs: 60000, MemoryMB: 1024, LogsMB: 10, Concurrency: 1},
			wire.NamespaceActionLimits{}, "memory size 1024 MB exceeds allowed threshold of 512 MB", LimitDefaults{MemoryMB: &[2]int{128, 4096}}},
	} {
		s := sys
		if c.name == "no system bounds: only the namespace's" {
			s = SystemLimits{}
		}
		err := CheckNamespaceLimits(c.a, c.ns, s, c.dflt)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != "" && (err == nil || limitMessage(err) != c.want || !errors.Is(err, ErrActionLimits)):
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}

type fixedAction struct{ a *wire.Action }

func (f fixedAction) GetAction(context.Context, string, string) (*wire.Action, error) {
	return f.a, nil
}

type fixedLimits struct {
	l   wire.NamespaceActionLimits
	err error
}

func (f fixedLimits) NamespaceLimits(context.Context, string) (wire.NamespaceActionLimits, error) {
	return f.l, f.err
}

// At creation: an action above its namespace's memory limit is answered InvalidActionLimitError with
// OpenWhisk's reason (compat mode: DBFetchError naming it), no container; an unreadable identity is
// DBFetchError; no identities view, or the check off, lets the creation through.
func TestCreationChecksNamespaceLimits(t *testing.T) {
	action := &wire.Action{Limits: wire.ActionLimits{TimeoutMs: 60000, MemoryMB: 256, LogsMB: 10, Concurrency: 1}}
	tight := fixedLimits{l: wire.NamespaceActionLimits{MaxActionMemory: ip(128)}}
	for i, c := range []struct {
		check     LimitCheck
		limits    fixedLimits
		wantErr   wire.CreationError
		wantInRsn string
	}{
		{LimitCheckOn, tight, wire.CreationErrInvalidActionLimit, "memory size 256 MB exceeds allowed threshold of 128 MB"},
		{LimitCheckCompat, tight, wire.CreationErrDBFetch, "InvalidActionLimitError: memory size 256 MB exceeds allowed threshold of 128 MB"},
		{LimitCheckOn, fixedLimits{err: fmt.Errorf("no identity: %w", errdefs.ErrNotFound)}, wire.CreationErrDBFetch, "no identity"},
		{LimitCheckOn, fixedLimits{err: fmt.Errorf("no view: %w", errdefs.ErrNotImplemented)}, "", ""},
		{LimitCheckOff, tight, "", ""},
		{LimitCheckOn, fixedLimits{l: wire.NamespaceActionLimits{MaxActionMemory: ip(256)}}, "", ""},
	} {
		r := newRigWith(t, nil, nil, func(cfg *Config, d *Deps) {
			cfg.LimitCheck, d.Actions, d.NamespaceLimits = c.check, fixedAction{action}, c.limits
		})
		r.sched.AddQueue(r.queue())
		r.node.HandleMessage(context.Background(), r.creation("a"))
		ack := r.ack()
		if ack.Error != c.wantErr || !strings.Contains(ack.Reason, c.wantInRsn) {
			t.Errorf("case %d: ack %q %q, want %q %q", i, ack.Error, ack.Reason, c.wantErr, c.wantInRsn)
		}
		if created := r.j.index("create") >= 0 || len(r.node.Snapshot()) > 0; created != (c.wantErr == "") {
			t.Errorf("case %d: container created %v, want %v", i, created, c.wantErr == "")
		}
	}
}

var _ lifecycle.Containers = (*fakeContainers)(nil)
