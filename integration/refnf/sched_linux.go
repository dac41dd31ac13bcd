package refnf

import (
	"fmt"
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

// ThreadCPU is the calling OS thread's CPU time.
func ThreadCPU() time.Duration {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts)
	return time.Duration(ts.Nano())
}

// spinThreadCPU burns d of the calling thread's CPU time (not wall time: a
// thread preempted while spinning spins on until it has used d).
func spinThreadCPU(d time.Duration) {
	end := ThreadCPU() + d
	x := uint64(1)
	for ThreadCPU() < end {
		for i := 0; i < 64; i++ {
			x = x*6364136223846793005 + 1442695040888963407
		}
	}
	runtime.KeepAlive(x) // the arithmetic is the point: keep it
}

// SetThreadRealtime gives the calling OS thread SCHED_FIFO at prio (1..99).
// Call it after runtime.LockOSThread. Only that thread changes class; the
// kernel's RT throttling (95% by default) still leaves time to other tasks.
// Benchmarks use it on a shared machine so scheduling delays of the NF and
// generator threads do not dominate what is measured.
func SetThreadRealtime(prio int) error {
	if prio < 1 || prio > 99 {
		return fmt.Errorf("%w: realtime priority %d (want 1..99)", ErrBadConfig, prio)
	}
	attr := unix.SchedAttr{Policy: unix.SCHED_FIFO, Priority: uint32(prio)}
	if err := unix.SchedSetAttr(0, &attr, 0); err != nil {
		return fmt.Errorf("refnf: sched_setattr(SCHED_FIFO, %d): %w", prio, err)
	}
	return nil
}
