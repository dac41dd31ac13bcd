package itest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// ErrExited is returned by WaitReady when the process exits before it answers.
var ErrExited = errors.New("itest: process exited")

// killReap bounds the wait for a SIGKILLed process to be reaped.
const killReap = 10 * time.Second

// ProcSpec says how to start a child process.
type ProcSpec struct {
	Name string // for Describe and failure messages
	Bin  string
	Args []string
	Env  []string // nil inherits this process's environment
	Dir  string
	// OutPath receives stdout; LogPath receives stderr, and stdout too when OutPath is empty or the same.
	OutPath string
	LogPath string
}

// Proc is a child process started by Spawn, with its output in files.
type Proc struct {
	Name    string
	Cmd     *exec.Cmd
	OutPath string // stdout
	LogPath string // stderr (the whole log when OutPath == LogPath)
	Started time.Time
	Ended   time.Time // set before Done is closed
	done    chan struct{}
}

// Spawn starts s.Bin with s.Args, its output going to the spec's files; it fails the test when the files
// cannot be created or the process cannot start. The caller stops it (Terminate, Kill).
func Spawn(t testing.TB, s ProcSpec) *Proc {
	t.Helper()
	outPath := s.OutPath
	if outPath == "" {
		outPath = s.LogPath
	}
	logf, err := os.Create(s.LogPath)
	require.NoError(t, err)
	outf := logf
	if outPath != s.LogPath {
		if outf, err = os.Create(outPath); err != nil {
			_ = logf.Close()
			require.NoError(t, err)
		}
	}
	closeFiles := func() {
		_ = logf.Close()
		if outf != logf {
			_ = outf.Close()
		}
	}
	cmd := exec.Command(s.Bin, s.Args...)
	cmd.Env = s.Env
	cmd.Dir = s.Dir
	cmd.Stdout, cmd.Stderr = outf, logf
	p := &Proc{Name: s.Name, Cmd: cmd, OutPath: outPath, LogPath: s.LogPath, done: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		closeFiles()
		require.NoError(t, err, "start %s", s.Bin)
	}
	p.Started = time.Now()
	go func() {
		_ = cmd.Wait()
		p.Ended = time.Now()
		closeFiles()
		close(p.done)
	}()
	return p
}

// Done is closed once the process has exited and its files are closed.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has exited.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// WaitExit waits up to timeout for the process to exit and reports whether it did.
func (p *Proc) WaitExit(timeout time.Duration) bool {
	select {
	case <-p.done:
		return true
	case <-time.After(timeout):
		return false
	}
}

// ExitCode is the process's exit status (-1 when killed by a signal or still running).
func (p *Proc) ExitCode() int {
	if !p.Exited() || p.Cmd.ProcessState == nil {
		return -1
	}
	return p.Cmd.ProcessState.ExitCode()
}

// Describe says which process this is and how it ended, for failure messages.
func (p *Proc) Describe() string {
	if !p.Exited() {
		return fmt.Sprintf("%s pid %d, running", p.Name, p.Cmd.Process.Pid)
	}
	return fmt.Sprintf("%s pid %d, %v after %v", p.Name, p.Cmd.Process.Pid, p.Cmd.ProcessState,
		p.Ended.Sub(p.Started).Round(time.Millisecond))
}

// Terminate sends SIGTERM and waits up to grace for the process to exit. When the signal cannot be sent
// (os.ErrProcessDone once the process is gone) it returns that error at once; when the process outlives
// grace it is killed and Terminate says so.
func (p *Proc) Terminate(grace time.Duration) error {
	if err := p.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return fmt.Errorf("SIGTERM to %s: %w", p.Describe(), err)
	}
	if p.WaitExit(grace) {
		return nil
	}
	_ = p.Cmd.Process.Kill()
	p.WaitExit(killReap)
	return fmt.Errorf("%s did not exit within %v of SIGTERM; killed it", p.Name, grace)
}

// Kill sends SIGKILL and waits (up to 10 s) until the process is reaped.
func (p *Proc) Kill() error {
	if err := p.Cmd.Process.Kill(); err != nil {
		return fmt.Errorf("SIGKILL to %s: %w", p.Describe(), err)
	}
	if !p.WaitExit(killReap) {
		return fmt.Errorf("%s did not die within %v of SIGKILL", p.Describe(), killReap)
	}
	return nil
}

// WaitReady polls GET url until it answers 200 OK. It returns an error wrapping ErrExited when the process
// exits first, and an error naming the timeout when it passes first.
func WaitReady(p *Proc, url string, timeout time.Duration) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(timeout)
	for {
		if p.Exited() {
			return fmt.Errorf("%w during start-up: %s", ErrExited, p.Describe())
		}
		if resp, err := client.Get(url); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not answer GET %s within %v", p.Name, url, timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// LogFile is where a test keeps the log called name: in $NEMO_IT_LOGDIR when set (kept after the test,
// for debugging), else in dir.
func LogFile(dir, name string) string {
	if d := os.Getenv("NEMO_IT_LOGDIR"); d != "" {
		dir = d
	}
	return filepath.Join(dir, name)
}

// GoBuild builds the main package pkg (an import path) into out, within 5 minutes.
func GoBuild(out, pkg string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if o, err := exec.CommandContext(ctx, "go", "build", "-o", out, pkg).CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", pkg, err, o)
	}
	return nil
}
