//go:build integration

package clickshm

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestIntegrationClickElement runs a real user-level Click built with
// deployments/click (fromdevice-burst.patch + NemoBurstCtl) against the Go
// writer. Opt-in: set NEMO_CLICK to the click binary; needs root for
// FromDevice on lo.
func TestIntegrationClickElement(t *testing.T) {
	bin := clickBinary(t)
	dir := t.TempDir()
	shm := filepath.Join(dir, "nemo-fw")
	sock := filepath.Join(dir, "click.sock")
	w, err := Create(shm, 200)
	require.NoError(t, err)
	defer w.Close()

	cs := startClick(t, bin, shm, sock)

	waitFor := func(burst uint32, why string) {
		t.Helper()
		seq := w.Seq()
		require.Eventually(t, func() bool {
			a, _ := w.ReaderAck()
			return a.AckSeq == seq && a.AppliedBurst == burst
		}, 5*time.Second, 5*time.Millisecond, why)
		got, err := cs.read("fd.burst")
		require.NoError(t, err)
		assert.Equal(t, strconv.Itoa(int(burst)), got, "FromDevice's burst: %s", why)
	}

	require.NoError(t, w.Publish(Settings{Enable: true, Burst: 32}))
	waitFor(32, "harvest on")
	require.NoError(t, w.Publish(Settings{Enable: true, Burst: 500}))
	waitFor(64, "clamped to MAX")
	require.NoError(t, w.Publish(Settings{Enable: false, Burst: 32}))
	waitFor(1, "harvest off")
	writer, err := cs.read("ctl.writer")
	require.NoError(t, err)
	assert.Equal(t, "live", writer)

	code, msg, err := cs.write("fd.burst", "0")
	require.NoError(t, err)
	assert.Equal(t, 520, code, "the patched handler rejects 0: %s", msg)
	code, _, err = cs.write("fd.burst", "8")
	require.NoError(t, err)
	assert.Equal(t, 200, code)

	require.NoError(t, w.Close())
	require.Eventually(t, func() bool {
		b, _ := cs.read("fd.burst")
		s, _ := cs.read("ctl.writer")
		return b == "3" && s == "closed"
	}, 5*time.Second, 5*time.Millisecond, "WRITER_CLOSED reverts to DEFAULT")
}

func clickBinary(t *testing.T) string {
	bin := os.Getenv("NEMO_CLICK")
	if bin == "" {
		t.Skip("NEMO_CLICK not set: no Click build with NemoBurstCtl to test against")
	}
	if os.Geteuid() != 0 {
		t.Skip("FromDevice needs root")
	}
	return bin
}

// startClick runs FromDevice(lo) with BURST 2 under NemoBurstCtl (DEFAULT 3,
// MAX 64) and returns a connected ControlSocket.
func startClick(t *testing.T, bin, shm, sock string) *controlSocket {
	t.Helper()
	conf := fmt.Sprintf(`fd :: FromDevice(lo, METHOD LINUX, BURST 2);
ctl :: NemoBurstCtl(SHM %s, DEV fd, INTERVAL 5ms, DEFAULT 3, MAX 64);
ControlSocket(UNIX, %s);
fd -> Discard;`, shm, sock)
	cmd := exec.Command(bin, "-e", conf)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	var cs *controlSocket
	var err error
	require.Eventually(t, func() bool { cs, err = dialControl(sock); return err == nil }, 10*time.Second, 20*time.Millisecond)
	t.Cleanup(func() { cs.Close() })
	return cs
}

// TestIntegrationClickElementRevertsWhenWriterIsKilled: SIGKILL leaves no
// WRITER_CLOSED; the element must notice the stale heartbeat and the
// released flock and go back to DEFAULT.
func TestIntegrationClickElementRevertsWhenWriterIsKilled(t *testing.T) {
	bin := clickBinary(t)
	dir := t.TempDir()
	shm := filepath.Join(dir, "nemo-fw")
	writer, _ := startHelper(t, "CLICKSHM_HELPER=idle-writer", "CLICKSHM_PATH="+shm, "CLICKSHM_LEASE=100")
	cs := startClick(t, bin, shm, filepath.Join(dir, "click.sock"))
	require.Eventually(t, func() bool { b, _ := cs.read("fd.burst"); return b == "32" }, 5*time.Second, 5*time.Millisecond)
	time.Sleep(300 * time.Millisecond)
	s, _ := cs.read("ctl.writer")
	assert.Equal(t, "live", s, "a heartbeating writer stays live past its lease")

	require.NoError(t, writer.Process.Signal(syscall.SIGKILL))
	_ = writer.Wait()
	start := time.Now()
	require.Eventually(t, func() bool {
		b, _ := cs.read("fd.burst")
		s, _ := cs.read("ctl.writer")
		return b == "3" && s == "dead"
	}, 5*time.Second, 5*time.Millisecond, "a killed writer reverts to DEFAULT")
	t.Logf("reverted %v after SIGKILL (lease 100ms)", time.Since(start).Round(time.Millisecond))
}

type controlSocket struct {
	c net.Conn
	r *bufio.Reader
}

func dialControl(path string) (*controlSocket, error) {
	c, err := net.Dial("unix", path)
	if err != nil {
		return nil, err
	}
	cs := &controlSocket{c: c, r: bufio.NewReader(c)}
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	greeting, err := cs.r.ReadString('\n')
	if err != nil || !strings.HasPrefix(greeting, "Click::ControlSocket/") {
		c.Close()
		return nil, fmt.Errorf("greeting %q: %v", greeting, err)
	}
	return cs, nil
}

func (cs *controlSocket) Close() error { return cs.c.Close() }

// status reads a reply, following "NNN-" continuation lines.
func (cs *controlSocket) status() (int, string, error) {
	var msg strings.Builder
	for {
		line, err := cs.r.ReadString('\n')
		if err != nil {
			return 0, msg.String(), err
		}
		line = strings.TrimRight(line, "\r\n")
		if len(line) < 4 {
			return 0, line, fmt.Errorf("short reply %q", line)
		}
		msg.WriteString(line[4:])
		if line[3] == ' ' {
			code, err := strconv.Atoi(line[:3])
			return code, msg.String(), err
		}
	}
}

func (cs *controlSocket) read(handler string) (string, error) {
	if _, err := fmt.Fprintf(cs.c, "READ %s\r\n", handler); err != nil {
		return "", err
	}
	code, msg, err := cs.status()
	if err != nil || code != 200 {
		return "", fmt.Errorf("READ %s: %d %s %v", handler, code, msg, err)
	}
	line, err := cs.r.ReadString('\n')
	if err != nil {
		return "", err
	}
	n, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "DATA ")))
	if err != nil {
		return "", fmt.Errorf("DATA line %q", line)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(cs.r, b); err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

func (cs *controlSocket) write(handler, value string) (int, string, error) {
	if _, err := fmt.Fprintf(cs.c, "WRITE %s %s\r\n", handler, value); err != nil {
		return 0, "", err
	}
	return cs.status()
}
