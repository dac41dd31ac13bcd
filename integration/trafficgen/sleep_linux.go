package trafficgen

import (
	"runtime"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// PrepareThread locks the calling goroutine to its OS thread and sets that
// thread's timer slack to 1 ns, so nanosleep wakes on time. Call it from the
// goroutine that will call Run.
func PrepareThread() error {
	runtime.LockOSThread()
	return unix.Prctl(unix.PR_SET_TIMERSLACK, 1, 0, 0, 0)
}

// nanosleep sleeps d in a raw syscall: the thread is dedicated to sending, so
// there is nothing for the Go scheduler to hand over; a signal (EINTR) just
// ends the sleep early and the pacer loop re-checks.
func nanosleep(d time.Duration) {
	ts := unix.NsecToTimespec(d.Nanoseconds())
	_, _, _ = unix.RawSyscall(unix.SYS_NANOSLEEP, uintptr(unsafe.Pointer(&ts)), 0, 0) // EINTR: see above
}
