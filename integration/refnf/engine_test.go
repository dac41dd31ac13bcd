package refnf

import (
	"errors"
	"runtime"
	"testing"
	"time"
)

// fakeConn is an in-memory packet queue standing in for the AF_PACKET socket.
type fakeConn struct {
	queue       [][]byte
	spurious    int // Wait reports ready this many times although the queue is empty
	recvCalls   int
	batchCalls  int
	batchSizes  []int
	sendCalls   int
	sent        [][]byte
	recvErr     error
	waitErr     error
	sendBatchOK int // when > 0, SendBatch accepts at most this many
}

func (c *fakeConn) push(frames ...[]byte) {
	for _, f := range frames {
		c.queue = append(c.queue, append([]byte(nil), f...))
	}
}

func (c *fakeConn) Wait(time.Duration) (bool, error) {
	if c.waitErr != nil {
		return false, c.waitErr
	}
	if len(c.queue) > 0 {
		return true, nil
	}
	if c.spurious > 0 {
		c.spurious--
		return true, nil
	}
	return false, nil
}

func (c *fakeConn) Recv(buf []byte) (int, error) {
	c.recvCalls++
	if c.recvErr != nil {
		return 0, c.recvErr
	}
	if len(c.queue) == 0 {
		return 0, ErrWouldBlock
	}
	f := c.queue[0]
	c.queue = c.queue[1:]
	copy(buf, f)
	return len(f), nil
}

func (c *fakeConn) RecvBatch(bufs [][]byte, lens []int) (int, error) {
	c.batchCalls++
	if c.recvErr != nil {
		return 0, c.recvErr
	}
	if len(c.queue) == 0 {
		return 0, ErrWouldBlock
	}
	n := min(len(bufs), len(c.queue))
	for i := range n {
		copy(bufs[i], c.queue[i])
		lens[i] = len(c.queue[i])
	}
	c.queue = c.queue[n:]
	c.batchSizes = append(c.batchSizes, n)
	return n, nil
}

func (c *fakeConn) Send(f []byte) error {
	c.sendCalls++
	c.sent = append(c.sent, append([]byte(nil), f...))
	return nil
}

func (c *fakeConn) SendBatch(fs [][]byte) (int, error) {
	c.sendCalls++
	n := len(fs)
	if c.sendBatchOK > 0 {
		n = min(n, c.sendBatchOK)
	}
	for _, f := range fs[:n] {
		c.sent = append(c.sent, append([]byte(nil), f...))
	}
	if n < len(fs) {
		return n, errors.New("short send")
	}
	return n, nil
}

func acceptAll(t *testing.T) Processor {
	fw := NewFirewall(nil, Accept)
	return fw
}

func benchFrame(t *testing.T, sport uint16) []byte {
	return mkFrame(t, frameOpt{src: "10.77.0.1", dst: "10.77.0.2", sport: sport, dport: 9, payload: 100})
}

// drain steps the engine until the fake queue is empty (bounded).
func drain(t *testing.T, e *Engine, c *fakeConn) {
	t.Helper()
	for i := 0; len(c.queue) > 0 || c.spurious > 0; i++ {
		if i > 100000 {
			t.Fatal("engine does not drain the queue")
		}
		if err := e.Step(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestBurstOffReadsOnePacketPerWakeup(t *testing.T) {
	c := &fakeConn{}
	for i := range 100 {
		c.push(benchFrame(t, uint16(1000+i)))
	}
	e := NewEngine(c, acceptAll(t), EngineConfig{Burst: 1})
	drain(t, e, c)
	k := e.Counters()
	if k.Packets.Load() != 100 || k.Wakeups.Load() != 100 || k.RecvCalls.Load() != 100 {
		t.Fatalf("packets=%d wakeups=%d recv=%d, want 100/100/100", k.Packets.Load(), k.Wakeups.Load(), k.RecvCalls.Load())
	}
	if c.recvCalls != 100 || c.batchCalls != 0 {
		t.Fatalf("conn saw %d recvfrom and %d recvmmsg, want 100 and 0", c.recvCalls, c.batchCalls)
	}
	if k.Bytes.Load() != uint64(100*len(benchFrame(t, 1))) {
		t.Fatalf("bytes = %d", k.Bytes.Load())
	}
}

func TestBurstOnReadsUpToBurstPerWakeup(t *testing.T) {
	c := &fakeConn{}
	for i := range 100 {
		c.push(benchFrame(t, uint16(1000+i)))
	}
	e := NewEngine(c, acceptAll(t), EngineConfig{Burst: 32})
	drain(t, e, c)
	k := e.Counters()
	if k.Packets.Load() != 100 || k.Wakeups.Load() != 4 || c.batchCalls != 4 || c.recvCalls != 0 {
		t.Fatalf("packets=%d wakeups=%d recvmmsg=%d recvfrom=%d, want 100/4/4/0",
			k.Packets.Load(), k.Wakeups.Load(), c.batchCalls, c.recvCalls)
	}
	want := []int{32, 32, 32, 4}
	for i, n := range want {
		if c.batchSizes[i] != n {
			t.Fatalf("batch sizes %v, want %v", c.batchSizes, want)
		}
	}
}

func TestBurstChangeTakesEffectOnNextWakeup(t *testing.T) {
	c := &fakeConn{}
	for i := range 20 {
		c.push(benchFrame(t, uint16(i+1)))
	}
	e := NewEngine(c, acceptAll(t), EngineConfig{Burst: 1})
	if err := e.Step(); err != nil {
		t.Fatal(err)
	}
	if got := e.SetBurst(8); got != 8 {
		t.Fatalf("SetBurst(8) = %d", got)
	}
	if err := e.Step(); err != nil {
		t.Fatal(err)
	}
	if c.recvCalls != 1 || len(c.batchSizes) != 1 || c.batchSizes[0] != 8 {
		t.Fatalf("recvfrom=%d batches=%v, want 1 then [8]", c.recvCalls, c.batchSizes)
	}
	e.SetBurst(1)
	if err := e.Step(); err != nil {
		t.Fatal(err)
	}
	if c.recvCalls != 2 {
		t.Fatalf("back to burst 1: recvfrom=%d, want 2", c.recvCalls)
	}
}

func TestSetBurstClamps(t *testing.T) {
	e := NewEngine(&fakeConn{}, acceptAll(t), EngineConfig{Burst: 0})
	if e.Burst() != 1 {
		t.Fatalf("initial burst 0 -> %d, want 1", e.Burst())
	}
	for in, want := range map[int64]uint32{-1: 1, 0: 1, 1: 1, 32: 32, 1024: 1024, 1025: 1024, 1 << 40: 1024} {
		if got := e.SetBurst(in); got != want || e.Burst() != want {
			t.Errorf("SetBurst(%d) = %d (Burst %d), want %d", in, got, e.Burst(), want)
		}
	}
}

func TestLoopReadStopsAtWouldBlock(t *testing.T) {
	c := &fakeConn{}
	for i := range 5 {
		c.push(benchFrame(t, uint16(i+1)))
	}
	e := NewEngine(c, acceptAll(t), EngineConfig{Burst: 32, LoopRead: true})
	if err := e.Step(); err != nil {
		t.Fatal(err)
	}
	// 5 frames then one EAGAIN: Click's METHOD LINUX loop pays for the empty read.
	if c.recvCalls != 6 || e.Counters().Packets.Load() != 5 || c.batchCalls != 0 {
		t.Fatalf("recvfrom=%d packets=%d recvmmsg=%d, want 6/5/0", c.recvCalls, e.Counters().Packets.Load(), c.batchCalls)
	}
	for i := range 40 {
		c.push(benchFrame(t, uint16(i+1)))
	}
	if err := e.Step(); err != nil {
		t.Fatal(err)
	}
	if c.recvCalls != 6+32 {
		t.Fatalf("a full burst must stop at 32 reads, got %d", c.recvCalls-6)
	}
}

func TestForwardSendsAcceptedWithSwappedMACs(t *testing.T) {
	rules, _ := ParseRules("drop sport=2")
	for _, burst := range []int{1, 16} {
		c := &fakeConn{}
		c.push(benchFrame(t, 1), benchFrame(t, 2), benchFrame(t, 3))
		e := NewEngine(c, NewFirewall(rules, Accept), EngineConfig{Burst: burst, Forward: true})
		drain(t, e, c)
		k := e.Counters()
		if len(c.sent) != 2 || k.Sent.Load() != 2 || k.Dropped.Load() != 1 || k.Accepted.Load() != 2 {
			t.Fatalf("burst %d: sent=%d (counter %d) dropped=%d accepted=%d", burst, len(c.sent), k.Sent.Load(), k.Dropped.Load(), k.Accepted.Load())
		}
		for _, f := range c.sent {
			if f[5] != 1 || f[11] != 2 {
				t.Fatalf("burst %d: forwarded frame not turned around: %x", burst, f[:12])
			}
		}
		wantCalls := map[int]int{1: 2, 16: 1}[burst]
		if c.sendCalls != wantCalls {
			t.Fatalf("burst %d: %d send calls, want %d", burst, c.sendCalls, wantCalls)
		}
	}
}

func TestForwardCountsShortBatchSend(t *testing.T) {
	c := &fakeConn{sendBatchOK: 3}
	for i := range 10 {
		c.push(benchFrame(t, uint16(i+1)))
	}
	e := NewEngine(c, acceptAll(t), EngineConfig{Burst: 10, Forward: true})
	drain(t, e, c)
	if e.Counters().Sent.Load() != 3 || e.Counters().SendErrors.Load() != 7 {
		t.Fatalf("sent=%d errors=%d, want 3/7", e.Counters().Sent.Load(), e.Counters().SendErrors.Load())
	}
}

func TestNoForwardSendsNothing(t *testing.T) {
	c := &fakeConn{}
	c.push(benchFrame(t, 1))
	e := NewEngine(c, acceptAll(t), EngineConfig{Burst: 1})
	drain(t, e, c)
	if c.sendCalls != 0 {
		t.Fatalf("forward off but %d sends", c.sendCalls)
	}
}

func TestTimeoutsEmptyInvalidTruncated(t *testing.T) {
	c := &fakeConn{spurious: 2}
	e := NewEngine(c, acceptAll(t), EngineConfig{Burst: 1, Snaplen: 64})
	drain(t, e, c)                   // two spurious wake-ups
	if err := e.Step(); err != nil { // nothing queued: timeout
		t.Fatal(err)
	}
	c.push([]byte{1, 2, 3}, benchFrame(t, 7)) // garbage, then a frame longer than the 64-byte snaplen
	drain(t, e, c)
	k := e.Counters()
	if k.Empty.Load() != 2 || k.Timeouts.Load() != 1 || k.Invalid.Load() != 2 || k.Truncated.Load() != 1 {
		t.Fatalf("empty=%d timeouts=%d invalid=%d truncated=%d, want 2/1/2/1",
			k.Empty.Load(), k.Timeouts.Load(), k.Invalid.Load(), k.Truncated.Load())
	}
}

func TestEngineErrorsPropagate(t *testing.T) {
	boom := errors.New("boom")
	c := &fakeConn{waitErr: boom}
	if err := NewEngine(c, acceptAll(t), EngineConfig{}).Step(); !errors.Is(err, boom) {
		t.Fatalf("wait error: %v", err)
	}
	for _, burst := range []int{1, 8} {
		c := &fakeConn{recvErr: boom}
		c.push(benchFrame(t, 1))
		if err := NewEngine(c, acceptAll(t), EngineConfig{Burst: burst}).Step(); !errors.Is(err, boom) {
			t.Fatalf("burst %d recv error: %v", burst, err)
		}
	}
}

func TestStatsSubDerivesIntervalRatios(t *testing.T) {
	a := Stats{UptimeNs: 1e9, Packets: 100, CPUTimes: CPUTimes{TotalNs: 1e8}}
	b := Stats{UptimeNs: 3e9, Packets: 1100, CPUTimes: CPUTimes{TotalNs: 6e8}}
	d := b.Sub(a)
	if d.Packets != 1000 || d.TotalNs != 5e8 || d.CPUPerPktNs != 5e5 || d.CPUUtil != 0.25 {
		t.Fatalf("Sub = %+v", d)
	}
}

// WakeupCost charges the engine's thread that much CPU per wake-up, whatever the burst: a train read in
// one wake-up pays it once.
func TestWakeupCostIsPaidPerWakeup(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	const cost = 3 * time.Millisecond
	for _, c := range []struct {
		burst, frames, wakeups int
	}{{1, 4, 4}, {8, 4, 1}} {
		conn := &fakeConn{}
		for i := range c.frames {
			conn.push(benchFrame(t, uint16(2000+i)))
		}
		e := NewEngine(conn, acceptAll(t), EngineConfig{Burst: c.burst, WakeupCost: cost})
		t0 := ThreadCPU()
		drain(t, e, conn)
		used := ThreadCPU() - t0
		if got := int(e.Counters().Wakeups.Load()); got != c.wakeups {
			t.Fatalf("burst %d: %d wake-ups, want %d", c.burst, got, c.wakeups)
		}
		if want := time.Duration(c.wakeups) * cost; used < want {
			t.Fatalf("burst %d: the thread used %v of CPU for %d wake-ups, want at least %v", c.burst, used, c.wakeups, want)
		}
	}
}
