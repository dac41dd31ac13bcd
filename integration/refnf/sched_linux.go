package refnf

import (
	"fmt"

	"golang.org/x/sys/unix"
)

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
