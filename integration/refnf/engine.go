package refnf

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/nemo-edge/nemo/clickshm"
)

// ErrWouldBlock is returned by Conn.Recv when no frame is queued.
var ErrWouldBlock = errors.New("refnf: no frame queued")

// Conn is the packet socket as the engine uses it. The engine calls it from
// one goroutine.
type Conn interface {
	// Wait blocks until a frame is readable (true) or timeout passes (false).
	Wait(timeout time.Duration) (bool, error)
	// Recv reads one frame without blocking and returns its full length
	// (which may exceed len(buf) when truncated); ErrWouldBlock when empty.
	Recv(buf []byte) (int, error)
	// RecvBatch reads up to len(bufs) frames in one call without blocking,
	// storing each full length in lens; 0 frames is not an error.
	RecvBatch(bufs [][]byte, lens []int) (int, error)
	// Send transmits one frame; SendBatch transmits several in one call and
	// returns how many were accepted.
	Send(frame []byte) error
	SendBatch(frames [][]byte) (int, error)
}

// Burst limits: what the engine applies is always within [MinBurst, MaxBurst]
// (a burst <= 0 makes a LINUX-method reader spin; deployments/click/README.md).
const (
	MinBurst = clickshm.MinBurst
	MaxBurst = clickshm.MaxBurst
)

// ClampBurst maps any requested burst onto [MinBurst, MaxBurst].
func ClampBurst(b int64) uint32 {
	return uint32(min(max(b, MinBurst), MaxBurst))
}

// Counters are updated by the engine goroutine and read concurrently.
type Counters struct {
	Packets    atomic.Uint64 // frames received
	Bytes      atomic.Uint64 // their wire lengths
	Accepted   atomic.Uint64
	Dropped    atomic.Uint64 // policy drops
	Invalid    atomic.Uint64 // not IPv4 / truncated
	Truncated  atomic.Uint64 // longer than the snap length
	Wakeups    atomic.Uint64 // Wait returned ready
	Timeouts   atomic.Uint64 // Wait returned on timeout
	Empty      atomic.Uint64 // ready but the read found nothing
	RecvCalls  atomic.Uint64 // recvfrom / recvmmsg syscalls
	SendCalls  atomic.Uint64 // sendto / sendmmsg syscalls
	Sent       atomic.Uint64 // frames forwarded
	SendErrors atomic.Uint64
}

// EngineConfig configures an Engine.
type EngineConfig struct {
	Burst       int           // initial burst; clamped to [1, 1024]
	Forward     bool          // send accepted frames back out of the interface
	Snaplen     int           // receive buffer per frame; 0 = 2048
	WaitTimeout time.Duration // poll timeout (bounds reaction to ctx); 0 = 50 ms
	// LoopRead makes burst mode read with a loop of non-blocking recvfrom
	// until EAGAIN or `burst` frames (exactly Click's METHOD LINUX loop)
	// instead of one recvmmsg.
	LoopRead bool
	// WakeupCost is CPU the engine's thread burns on every wake-up, before
	// reading: the interrupt work (hard IRQ and NAPI softirq) a NIC costs
	// the NF's core for every interrupt. veth has no interrupts and runs
	// the equivalent receive work in the sender's context on the sender's
	// core, so without this the NF's core is charged nothing per arrival
	// batch. 0 = none (the default).
	WakeupCost time.Duration
}

// Engine is the receive loop. Burst 1 is Click's FromDevice METHOD LINUX with
// BURST 1: one poll and one recvfrom per packet. Burst N > 1 reads up to N
// packets per wake-up with one recvmmsg.
type Engine struct {
	conn    Conn
	proc    Processor
	cfg     EngineConfig
	burst   atomic.Uint32
	bufs    [][]byte
	lens    []int
	out     [][]byte
	counter Counters
}

// NewEngine allocates receive buffers for the largest burst.
func NewEngine(conn Conn, proc Processor, cfg EngineConfig) *Engine {
	if cfg.Snaplen <= 0 {
		cfg.Snaplen = 2048
	}
	if cfg.WaitTimeout <= 0 {
		cfg.WaitTimeout = 50 * time.Millisecond
	}
	e := &Engine{conn: conn, proc: proc, cfg: cfg}
	backing := make([]byte, MaxBurst*cfg.Snaplen)
	e.bufs = make([][]byte, MaxBurst)
	for i := range e.bufs {
		e.bufs[i] = backing[i*cfg.Snaplen : (i+1)*cfg.Snaplen : (i+1)*cfg.Snaplen]
	}
	e.lens = make([]int, MaxBurst)
	e.out = make([][]byte, 0, MaxBurst)
	e.SetBurst(int64(cfg.Burst))
	return e
}

// SetBurst clamps b to [1, 1024], makes it the burst for the next wake-up and
// returns the applied value. Safe from any goroutine.
func (e *Engine) SetBurst(b int64) uint32 {
	v := ClampBurst(b)
	e.burst.Store(v)
	return v
}

// Burst returns the burst in effect.
func (e *Engine) Burst() uint32 { return e.burst.Load() }

// Counters returns the live counters.
func (e *Engine) Counters() *Counters { return &e.counter }

// Step waits for one wake-up and handles it.
func (e *Engine) Step() error {
	ready, err := e.conn.Wait(e.cfg.WaitTimeout)
	if err != nil {
		return fmt.Errorf("refnf: wait: %w", err)
	}
	if !ready {
		e.counter.Timeouts.Add(1)
		return nil
	}
	e.counter.Wakeups.Add(1)
	if e.cfg.WakeupCost > 0 {
		spinThreadCPU(e.cfg.WakeupCost)
	}
	if b := e.burst.Load(); b > 1 {
		if e.cfg.LoopRead {
			return e.readLoop(int(b))
		}
		return e.readBurst(int(b))
	}
	return e.readOne()
}

func (e *Engine) readOne() error {
	buf := e.bufs[0]
	n, err := e.conn.Recv(buf)
	e.counter.RecvCalls.Add(1)
	if errors.Is(err, ErrWouldBlock) {
		e.counter.Empty.Add(1)
		return nil
	}
	if err != nil {
		return fmt.Errorf("refnf: recv: %w", err)
	}
	frame := e.frame(buf, n)
	if e.handle(frame) && e.cfg.Forward {
		e.counter.SendCalls.Add(1)
		if err := e.conn.Send(frame); err != nil {
			e.counter.SendErrors.Add(1)
		} else {
			e.counter.Sent.Add(1)
		}
	}
	return nil
}

func (e *Engine) readBurst(b int) error {
	n, err := e.conn.RecvBatch(e.bufs[:b], e.lens[:b])
	e.counter.RecvCalls.Add(1)
	if errors.Is(err, ErrWouldBlock) || (err == nil && n == 0) {
		e.counter.Empty.Add(1)
		return nil
	}
	if err != nil {
		return fmt.Errorf("refnf: recv batch: %w", err)
	}
	e.out = e.out[:0]
	for i := range n {
		frame := e.frame(e.bufs[i], e.lens[i])
		if e.handle(frame) {
			e.out = append(e.out, frame)
		}
	}
	e.forwardBatch()
	return nil
}

// readLoop reads up to b frames with one non-blocking Recv each, stopping at
// the first ErrWouldBlock, then forwards the accepted ones in one batch.
func (e *Engine) readLoop(b int) error {
	e.out = e.out[:0]
	got := 0
	for got < b {
		n, err := e.conn.Recv(e.bufs[got])
		e.counter.RecvCalls.Add(1)
		if errors.Is(err, ErrWouldBlock) {
			break
		}
		if err != nil {
			return fmt.Errorf("refnf: recv: %w", err)
		}
		frame := e.frame(e.bufs[got], n)
		got++
		if e.handle(frame) {
			e.out = append(e.out, frame)
		}
	}
	if got == 0 {
		e.counter.Empty.Add(1)
		return nil
	}
	e.forwardBatch()
	return nil
}

func (e *Engine) forwardBatch() {
	if !e.cfg.Forward || len(e.out) == 0 {
		return
	}
	e.counter.SendCalls.Add(1)
	sent, err := e.conn.SendBatch(e.out)
	e.counter.Sent.Add(uint64(sent))
	if err != nil || sent < len(e.out) {
		e.counter.SendErrors.Add(uint64(len(e.out) - sent))
	}
}

// frame trims buf to the received length, counting truncation.
func (e *Engine) frame(buf []byte, n int) []byte {
	if n > len(buf) {
		e.counter.Truncated.Add(1)
		n = len(buf)
	}
	return buf[:n]
}

// handle counts and processes one frame; true means forward it.
func (e *Engine) handle(frame []byte) bool {
	e.counter.Packets.Add(1)
	e.counter.Bytes.Add(uint64(len(frame)))
	switch e.proc.Process(frame) {
	case Accept:
		e.counter.Accepted.Add(1)
		swapMAC(frame)
		return true
	case Drop:
		e.counter.Dropped.Add(1)
	default:
		e.counter.Invalid.Add(1)
	}
	return false
}

// swapMAC turns a frame around so a one-armed NF sends it back to where it
// came from.
func swapMAC(frame []byte) {
	if len(frame) < 12 {
		return
	}
	var tmp [6]byte
	copy(tmp[:], frame[0:6])
	copy(frame[0:6], frame[6:12])
	copy(frame[6:12], tmp[:])
}

// Run calls Step until ctx is done or the connection fails.
func (e *Engine) Run(ctx context.Context) error {
	for ctx.Err() == nil {
		if err := e.Step(); err != nil {
			return err
		}
	}
	return nil
}
