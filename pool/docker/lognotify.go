package docker

import (
	"encoding/binary"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// logNotify wakes a json-file reader when the engine writes to the log, instead of polling: the sentinels
// usually land within a millisecond of /run returning, and the container stays busy until they are read.
// The watch exists before the first read, so a write between reaching the end and waiting still wakes the
// waiter (at most one extra read). Without inotify (no instances left, an unsupported filesystem) the
// reader polls.
//
// All tails share one inotify instance (logWatcher): creating and closing an instance per collection
// costs the kernel a grace period on every close, while adding and removing a watch is cheap.
type logNotify struct {
	w  *logWatcher
	wd int32
	ch chan struct{} // one pending wake-up at most
}

// logNotifyEvents: a write, the writer closing, or the file going away (rotation, container removal).
const logNotifyEvents = unix.IN_MODIFY | unix.IN_CLOSE_WRITE | unix.IN_DELETE_SELF | unix.IN_MOVE_SELF

// newLogNotify watches path until close is called; nil when inotify cannot be used.
func newLogNotify(path string) *logNotify {
	w := sharedLogWatcher()
	if w == nil {
		return nil
	}
	n := &logNotify{w: w, ch: make(chan struct{}, 1)}
	wd, err := w.add(path, n.ch)
	if err != nil {
		return nil
	}
	n.wd = wd
	return n
}

func (n *logNotify) close() {
	if n == nil {
		return
	}
	n.w.remove(n.wd, n.ch)
}

// logWatcher is the process's one inotify instance for log tails: a reader goroutine hands each event to
// the waiters of its watch descriptor.
type logWatcher struct {
	f       *os.File // non-blocking inotify descriptor, read through the runtime poller
	mu      sync.Mutex
	waiters map[int32][]chan struct{}
}

var (
	logWatcherOnce sync.Once
	logWatcherInst *logWatcher
)

// sharedLogWatcher starts the process's watcher on first use; nil when inotify is unavailable.
func sharedLogWatcher() *logWatcher {
	logWatcherOnce.Do(func() {
		fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
		if err != nil {
			return
		}
		w := &logWatcher{f: os.NewFile(uintptr(fd), "inotify (log tails)"), waiters: map[int32][]chan struct{}{}}
		go w.read()
		logWatcherInst = w
	})
	return logWatcherInst
}

// add watches path for ch. The kernel gives one descriptor per inode, so two tails of one file share it.
func (w *logWatcher) add(path string, ch chan struct{}) (int32, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	wd, err := unix.InotifyAddWatch(int(w.f.Fd()), path, logNotifyEvents)
	if err != nil {
		return 0, err
	}
	w.waiters[int32(wd)] = append(w.waiters[int32(wd)], ch)
	return int32(wd), nil
}

// remove stops ch's interest in wd; the last one removes the watch.
func (w *logWatcher) remove(wd int32, ch chan struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	chans := w.waiters[wd]
	for i, c := range chans {
		if c == ch {
			chans = append(chans[:i], chans[i+1:]...)
			break
		}
	}
	if len(chans) > 0 {
		w.waiters[wd] = chans
		return
	}
	delete(w.waiters, wd)
	_, _ = unix.InotifyRmWatch(int(w.f.Fd()), uint32(wd)) // gone already when the file was deleted
}

func (w *logWatcher) read() {
	buf := make([]byte, 64<<10)
	for {
		n, err := w.f.Read(buf)
		if err != nil {
			// Not expected on an inotify descriptor; waiters fall back to their safety timeout.
			time.Sleep(100 * time.Millisecond)
			continue
		}
		w.mu.Lock()
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			wd := int32(binary.NativeEndian.Uint32(buf[off:]))
			nameLen := int(binary.NativeEndian.Uint32(buf[off+12:]))
			for _, ch := range w.waiters[wd] {
				select {
				case ch <- struct{}{}:
				default:
				}
			}
			off += unix.SizeofInotifyEvent + nameLen
		}
		w.mu.Unlock()
	}
}
