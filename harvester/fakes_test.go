package harvester

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/safchain/ethtool"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/nemo-edge/nemo/clickshm"
)

// fakeClock fires AfterFunc callbacks only when the test advances it.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	c       *fakeClock
	at      time.Time
	f       func()
	stopped bool
	fired   bool
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Unix(1_700_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) Stopper {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return t
}

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := !t.stopped && !t.fired
	t.stopped = true
	return was
}

// Advance moves time forward and runs due callbacks synchronously.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	var due []*fakeTimer
	for _, t := range c.timers {
		if !t.stopped && !t.fired && !t.at.After(c.now) {
			t.fired = true
			due = append(due, t)
		}
	}
	c.mu.Unlock()
	for _, t := range due {
		t.f()
	}
}

func (c *fakeClock) pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, t := range c.timers {
		if !t.stopped && !t.fired {
			n++
		}
	}
	return n
}

// fakeNIC is an in-memory ethtool with per-interface coalescing.
type fakeNIC struct {
	mu          sync.Mutex
	state       map[string]ethtool.Coalesce
	unsupported map[string]bool
	setErr      error
	gets, sets  int
	onSet       func(iface string, c ethtool.Coalesce)
}

func newFakeNIC(ifaces ...string) *fakeNIC {
	n := &fakeNIC{state: map[string]ethtool.Coalesce{}, unsupported: map[string]bool{}}
	for _, i := range ifaces {
		n.state[i] = ethtool.Coalesce{RxCoalesceUsecs: 1, RxMaxCoalescedFrames: 1, TxMaxCoalescedFrames: 1}
	}
	return n
}

func (n *fakeNIC) GetCoalesce(iface string) (ethtool.Coalesce, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.gets++
	if n.unsupported[iface] {
		return ethtool.Coalesce{}, unix.EOPNOTSUPP
	}
	c, ok := n.state[iface]
	if !ok {
		return ethtool.Coalesce{}, unix.ENODEV
	}
	return c, nil
}

func (n *fakeNIC) SetCoalesce(iface string, c ethtool.Coalesce) (ethtool.Coalesce, error) {
	n.mu.Lock()
	if n.unsupported[iface] {
		n.mu.Unlock()
		return ethtool.Coalesce{}, unix.EOPNOTSUPP
	}
	if n.setErr != nil {
		n.mu.Unlock()
		return ethtool.Coalesce{}, n.setErr
	}
	if _, ok := n.state[iface]; !ok {
		n.mu.Unlock()
		return ethtool.Coalesce{}, unix.ENODEV
	}
	n.sets++
	n.state[iface] = c
	hook := n.onSet
	n.mu.Unlock()
	if hook != nil {
		hook(iface, c)
	}
	return c, nil
}

func (n *fakeNIC) rx(iface string) uint32 {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.state[iface].RxCoalesceUsecs
}

func (n *fakeNIC) setCount() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.sets
}

// fakeShm records what was published and answers Ack with what the test set.
type fakeShm struct {
	mu        sync.Mutex
	published []clickshm.Settings
	closed    bool
	ack       clickshm.Ack
}

func (s *fakeShm) Ack() (clickshm.Ack, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return clickshm.Ack{}, clickshm.ErrClosed
	}
	return s.ack, nil
}

func (s *fakeShm) setAck(a clickshm.Ack) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ack = a
}

func (s *fakeShm) Publish(st clickshm.Settings) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return clickshm.ErrClosed
	}
	s.published = append(s.published, st)
	return nil
}

func (s *fakeShm) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return nil
}

func (s *fakeShm) last() (clickshm.Settings, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.published) == 0 {
		return clickshm.Settings{}, false
	}
	return s.published[len(s.published)-1], true
}

type shmSet struct {
	mu sync.Mutex
	m  map[string]*fakeShm
}

func (ss *shmSet) open(path string, _ uint32) (ShmWriter, error) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.m == nil {
		ss.m = map[string]*fakeShm{}
	}
	s := &fakeShm{}
	ss.m[path] = s
	return s, nil
}

func (ss *shmSet) get(path string) *fakeShm {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.m[path]
}

// fakeCounters serves interface counters set by the test.
type fakeCounters struct {
	mu sync.Mutex
	c  map[string]IfCounters
}

func (f *fakeCounters) Counters(_ context.Context, iface string) (IfCounters, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.c[iface]
	if !ok {
		return IfCounters{}, fmt.Errorf("%w: no interface %s", ErrSource, iface)
	}
	return c, nil
}

func (f *fakeCounters) add(iface string, bytes, packets, drops uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.c == nil {
		f.c = map[string]IfCounters{}
	}
	c := f.c[iface]
	c.RxBytes += bytes
	c.RxPackets += packets
	c.RxDropped += drops
	f.c[iface] = c
}

// fakeBackoff counts calls.
type fakeBackoff struct {
	mu                sync.Mutex
	suspends, resumes int
}

func (b *fakeBackoff) SuspendPrewarms(context.Context) { b.mu.Lock(); b.suspends++; b.mu.Unlock() }
func (b *fakeBackoff) ResumePrewarms(context.Context)  { b.mu.Lock(); b.resumes++; b.mu.Unlock() }
func (b *fakeBackoff) counts() (int, int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.suspends, b.resumes
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// rig is a Manager wired to fakes.
type rig struct {
	m       *Manager
	clock   *fakeClock
	nic     *fakeNIC
	shm     *shmSet
	ctrs    *fakeCounters
	backoff *fakeBackoff
	logs    *syncBuffer
	cfg     Config
}

func oneNF(t *testing.T) Config {
	return Config{
		Enabled:   true,
		Linger:    100 * time.Millisecond,
		StateFile: filepath.Join(t.TempDir(), "nic-state.json"),
		NFs:       []NFConfig{{Name: "fw", Interface: "ens1", PID: 1, Cores: []int{1}, Shm: "/dev/shm/nemo-fw"}},
	}
}

func newRig(t *testing.T, cfg Config, nic *fakeNIC) *rig {
	t.Helper()
	r := &rig{clock: newFakeClock(), nic: nic, shm: &shmSet{}, ctrs: &fakeCounters{}, backoff: &fakeBackoff{}, logs: &syncBuffer{}, cfg: cfg}
	m, err := New(t.Context(), cfg, zerolog.New(r.logs), r.opts()...)
	require.NoError(t, err)
	r.m = m
	t.Cleanup(func() { _ = m.Close(context.Background()) })
	return r
}

func (r *rig) opts() []Option {
	return []Option{WithClock(r.clock), WithCoalescer(r.nic), WithShmOpener(r.shm.open),
		WithCounterReader(r.ctrs), WithBackoff(r.backoff), WithCPUSources(func(NFConfig) CPUSource { return nil })}
}
