package harvester

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// ErrLockTimeout wraps a host lock that another invoker held past the deadline.
var ErrLockTimeout = errors.New("harvester: host lock not acquired in time")

// Several invokers on one host (ansible's several per host, tests) may harvest the same NIC. They
// coordinate through flock(2) on files beside the state file, which the kernel releases when a
// process dies, so a crashed invoker never blocks the others and needs no pid bookkeeping (pids are
// also meaningless across the invokers' PID namespaces):
//
//   - <state>.lock: held exclusively for every read-modify-write of the state file;
//   - <state>.<iface>.users: held shared by every invoker that has recorded (or found) the NIC's
//     original, from its first harvest until Close; nobody holding it means the entry in the state
//     file is a leftover of dead invokers;
//   - <state>.<iface>.active: held shared while an invoker has harvesting on for the NIC; the one
//     that can take it exclusively after its own harvest ends is the last one and restores the
//     original, the others leave the NIC as the harvesting invokers set it.
//
// Holders of the exclusive locks keep them for one ioctl or one file write, so waits are short; they
// are still bounded by the caller's deadline.

// hostLockPath is the lock file of the given role beside the state file.
func hostLockPath(statePath, iface, role string) string {
	if iface == "" {
		return statePath + "." + role
	}
	return statePath + "." + iface + "." + role
}

// flockFile is one open lock file. flock locks belong to the open file, so each holder opens its own;
// two holders in one process exclude each other like two processes do.
type flockFile struct {
	path string
	f    *os.File
}

func openFlock(path string) (*flockFile, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("%w: mkdir for %s: %w", ErrStateFile, path, err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("%w: open lock %s: %w", ErrStateFile, path, err)
	}
	return &flockFile{path: path, f: f}, nil
}

// try takes the lock (unix.LOCK_SH or unix.LOCK_EX) without waiting; false when another holder
// keeps it.
func (l *flockFile) try(how int) (bool, error) {
	for {
		err := unix.Flock(int(l.f.Fd()), how|unix.LOCK_NB)
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.EWOULDBLOCK):
			return false, nil
		default:
			return false, fmt.Errorf("%w: flock %s: %w", ErrStateFile, l.path, err)
		}
	}
}

// lock waits for the lock until ctx is done. flock(2) cannot be interrupted by a context, so it polls.
func (l *flockFile) lock(ctx context.Context, how int) error {
	for wait := 100 * time.Microsecond; ; wait = min(2*wait, 5*time.Millisecond) {
		ok, err := l.try(how)
		if ok || err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %s: %w", ErrLockTimeout, l.path, ctx.Err())
		case <-time.After(wait):
		}
	}
}

func (l *flockFile) unlock() error {
	if err := unix.Flock(int(l.f.Fd()), unix.LOCK_UN); err != nil {
		return fmt.Errorf("%w: unlock %s: %w", ErrStateFile, l.path, err)
	}
	return nil
}

func (l *flockFile) close() { _ = l.f.Close() }

// withFlock runs fn holding path's lock exclusively, bounded by ctx.
func withFlock(ctx context.Context, path string, fn func() error) error {
	l, err := openFlock(path)
	if err != nil {
		return err
	}
	defer l.close()
	if err := l.lock(ctx, unix.LOCK_EX); err != nil {
		return err
	}
	return fn() // closing the file releases the lock
}

// The lock kinds of flock(2), named for the callers.
const (
	lockSH = unix.LOCK_SH
	lockEX = unix.LOCK_EX
)
