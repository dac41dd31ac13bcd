package docker

import (
	"bytes"
	"context"
	"errors"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nemo-edge/nemo/pool/proxy"
)

// notifySafety bounds a wait for an inotify event, in case one is missed.
const notifySafety = 50 * time.Millisecond

// fileSource reads a container's json-file log (/var/lib/docker/containers/<id>/<id>-json.log) from a
// byte offset, on the collecting goroutine. The file stays open and watched (inotify) for the container's
// life: an activation's collection costs a few preads and a wait, where opening, watching and tailing the
// file per activation cost a dozen system calls, a goroutine and a channel hand-off per line.
type fileSource struct {
	path string
	poll time.Duration // the longest wait between two reads when inotify is unavailable

	mu      sync.Mutex  // one collection at a time; the container's logMu orders them already
	closing atomic.Bool // the container is gone: release the file when the collection in progress ends
	fd      int         // -1 until the first collection opens the file
	notify  *logNotify  // nil: poll
	buf     []byte      // read buffer kept between collections
	timer   *time.Timer
}

func newFileSource(path string, poll time.Duration) *fileSource {
	return &fileSource{path: path, poll: poll, fd: -1}
}

// open opens the file without the runtime poller (a regular file gains nothing from it, and registering
// costs four fcntl and an epoll_ctl) and watches it.
func (s *fileSource) open() error {
	if s.fd >= 0 {
		return nil
	}
	fd, err := unix.Open(s.path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: s.path, Err: err}
	}
	s.fd = fd
	s.notify = newLogNotify(s.path)
	return nil
}

// close releases the descriptor and the watch: the container is gone. It does not wait for a collection in
// progress (which may wait for lines up to its idle timeout); that one releases them when it ends.
func (s *fileSource) close() {
	s.closing.Store(true)
	if !s.mu.TryLock() {
		return
	}
	defer s.mu.Unlock()
	s.release()
}

func (s *fileSource) release() {
	if s.fd >= 0 {
		_ = unix.Close(s.fd)
		s.fd = -1
	}
	s.notify.close()
	s.notify = nil
}

// closeSource releases what src holds open, if anything.
func closeSource(src entrySource) {
	if c, ok := src.(interface{ close() }); ok {
		c.close()
	}
}

func (s *fileSource) collect(ctx context.Context, from logCursor, col *logCollector, idle, overall time.Duration,
	settle settling) (collectEnd, logCursor) {
	s.mu.Lock()
	defer func() {
		if s.closing.Load() {
			s.release()
		}
		s.mu.Unlock()
	}()
	cur := from
	if err := s.open(); err != nil {
		return endError, cur
	}
	now := time.Now()
	overallAt, idleAt := now.Add(overall), now.Add(idle)
	settles := settle.quiet > 0 && settle.settled != nil
	var quietAt time.Time
	if settles {
		quietAt = now.Add(settle.quiet)
	}
	follow := col.follows()
	// Without inotify: the sentinels usually land within a millisecond of /run returning, and the container
	// stays busy until they are read, so poll quickly at first, backing off to s.poll.
	wait := min(500*time.Microsecond, s.poll)
	if s.buf == nil {
		s.buf = make([]byte, 0, 8<<10) // covers the usual activation's lines; longer ones grow it
	}
	offset := from.Offset // file offset of s.buf[0]
	n := 0                // unconsumed bytes in s.buf (at most a partial line between reads)
	for {
		if ctx.Err() != nil {
			return endTimeout, cur
		}
		if n == cap(s.buf) {
			grown := make([]byte, n, 2*cap(s.buf))
			copy(grown, s.buf[:n])
			s.buf = grown
		}
		free := s.buf[n:cap(s.buf)]
		got, err := unix.Pread(s.fd, free, offset+int64(n))
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return endError, cur
		}
		n += got
		data := s.buf[:n]
		consumed := 0
		for {
			i := bytes.IndexByte(data[consumed:], '\n')
			if i < 0 {
				break
			}
			line := data[consumed : consumed+i]
			consumed += i + 1
			dl, perr := proxy.ParseDockerLogLine(line)
			if perr != nil {
				return endError, cur
			}
			cur = logCursor{Offset: offset + int64(consumed)}
			e := logEntry{Time: dl.Time, Stream: dl.Stream, Msg: dl.Log, Weight: int64(i + 1), Next: cur}
			if col.add(e) {
				return endSentinels, cur
			}
			now = time.Now()
			idleAt = now.Add(idle)
			if settles {
				quietAt = now.Add(settle.quiet)
			}
			wait = min(500*time.Microsecond, s.poll)
		}
		// Keep the partial line (not consumed: the cursor stays before it) at the front.
		n = copy(s.buf, data[consumed:n])
		offset += int64(consumed)
		if got > 0 {
			continue
		}
		// At the end of what the engine wrote.
		if !follow {
			return endOfData, cur
		}
		now = time.Now()
		switch {
		case !now.Before(overallAt):
			return endTimeout, cur
		case !now.Before(idleAt):
			return endIdle, cur
		case settles && !now.Before(quietAt):
			if settle.settled() {
				return endSettled, cur
			}
			quietAt = now.Add(settle.quiet)
		}
		left := min(overallAt.Sub(now), idleAt.Sub(now))
		if settles {
			left = min(left, quietAt.Sub(now))
		}
		step := wait
		if s.notify != nil {
			step = notifySafety
		} else {
			wait = min(2*wait, s.poll)
		}
		s.sleep(ctx, min(left, step))
	}
}

// sleep returns after d, on a write to the file, or when ctx ends.
func (s *fileSource) sleep(ctx context.Context, d time.Duration) {
	if s.timer == nil {
		s.timer = time.NewTimer(d)
	} else {
		s.timer.Reset(d) // go ≥ 1.23 timers: Reset drops a pending expiry
	}
	var wake <-chan struct{}
	if s.notify != nil {
		wake = s.notify.ch
	}
	select {
	case <-wake:
	case <-s.timer.C:
	case <-ctx.Done():
	}
	s.timer.Stop()
}
