package papereval

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// ErrExited means a child process ended before it was asked to.
var ErrExited = errors.New("papereval: child process exited")

// child is a process this program started, its output in a file.
type child struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{}
	err     error
}

// startChild starts argv with env (nil inherits) and stdout+stderr to logPath. If this program dies first
// the child gets SIGTERM (the invoker then removes its containers).
func startChild(name string, argv, env []string, logPath string) (*child, error) {
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("papereval: start %s: %w", name, err)
	}
	c := &child{name: name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		c.err = cmd.Wait()
		f.Close()
		close(c.done)
	}()
	return c, nil
}

func (c *child) pid() int { return c.cmd.Process.Pid }

func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// stop sends sig and waits up to grace, then kills. It is a no-op for an exited child.
func (c *child) stop(sig syscall.Signal, grace time.Duration) error {
	if c.exited() {
		return nil
	}
	_ = c.cmd.Process.Signal(sig)
	select {
	case <-c.done:
		return nil
	case <-time.After(grace):
		_ = c.cmd.Process.Kill()
		<-c.done
		return fmt.Errorf("papereval: %s ignored %v for %v and was killed", c.name, sig, grace)
	}
}

func (c *child) tail(n int) string {
	b, _ := os.ReadFile(c.logPath)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// waitLine waits until the child's log holds a line containing substr and returns that line.
func (c *child) waitLine(ctx context.Context, substr string, timeout time.Duration) (string, error) {
	deadline := time.Now().Add(timeout)
	for {
		b, _ := os.ReadFile(c.logPath)
		for _, l := range bytes.Split(b, []byte("\n")) {
			if bytes.Contains(l, []byte(substr)) {
				return string(l), nil
			}
		}
		if c.exited() {
			return "", fmt.Errorf("%w: %s (%v) before printing %q:\n%s", ErrExited, c.name, c.err, substr, c.tail(20))
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("papereval: %s did not print %q within %v:\n%s", c.name, substr, timeout, c.tail(20))
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}
