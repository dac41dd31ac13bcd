package docker

import (
	"context"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// logNotify wakes a json-file tail when the engine writes to the log, instead of polling: the sentinels
// usually land within a millisecond of /run returning, and the container stays busy until they are read.
// The watch exists before the first read, so a write between reaching the end and waiting still wakes the
// waiter (at most one extra read). Without inotify (no instances left, an unsupported filesystem) the
// tail polls as before.
type logNotify struct {
	f    *os.File // the inotify descriptor, non-blocking, so reads honour deadlines through the runtime poller
	stop func() bool
	buf  [1024]byte
}

// logNotifyEvents: a write, the writer closing, or the file going away (rotation, container removal).
const logNotifyEvents = unix.IN_MODIFY | unix.IN_CLOSE_WRITE | unix.IN_DELETE_SELF | unix.IN_MOVE_SELF

// newLogNotify watches path until ctx ends or close is called; nil when inotify cannot be used.
func newLogNotify(ctx context.Context, path string) *logNotify {
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		return nil
	}
	if _, err := unix.InotifyAddWatch(fd, path, logNotifyEvents); err != nil {
		_ = unix.Close(fd)
		return nil
	}
	n := &logNotify{f: os.NewFile(uintptr(fd), "inotify "+path)}
	// Cancelling ctx ends a wait at once.
	n.stop = context.AfterFunc(ctx, func() { _ = n.f.SetReadDeadline(time.Now()) })
	return n
}

// wait returns when the file changed since the last wait, when ctx ends, or after at most max (a safety
// net for a missed event).
func (n *logNotify) wait(ctx context.Context, max time.Duration) {
	if ctx.Err() != nil {
		return
	}
	_ = n.f.SetReadDeadline(time.Now().Add(max))
	_, _ = n.f.Read(n.buf[:]) // drains the queued events; their content does not matter
}

func (n *logNotify) close() {
	if n == nil {
		return
	}
	n.stop()
	_ = n.f.Close()
}
