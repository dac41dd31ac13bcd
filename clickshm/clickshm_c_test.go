package clickshm

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// buildTorncheck compiles testdata/torncheck.c with the system cc, or skips.
func buildTorncheck(t *testing.T) string {
	t.Helper()
	cc, err := exec.LookPath("cc")
	if err != nil {
		t.Skip("no C compiler (cc) on PATH: skipping the cross-process C reader test")
	}
	bin := filepath.Join(t.TempDir(), "torncheck")
	out, err := exec.Command(cc, "-std=c11", "-O2", "-Wall", "-Wextra", "-Werror",
		"-o", bin, filepath.Join("testdata", "torncheck.c")).CombinedOutput()
	require.NoError(t, err, "cc: %s", out)
	return bin
}

// startHelper re-executes the test binary as a Go writer process and waits for
// its "ready" line.
func startHelper(t *testing.T, env ...string) (*exec.Cmd, *bufio.Scanner) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	sc := bufio.NewScanner(stdout)
	ready := make(chan bool, 1)
	go func() { ready <- sc.Scan() && sc.Text() == "ready" }()
	select {
	case ok := <-ready:
		require.True(t, ok, "writer helper did not report ready")
	case <-time.After(10 * time.Second):
		t.Fatal("writer helper did not start within 10s")
	}
	return cmd, sc
}

func parseKV(line string) map[string]string {
	kv := map[string]string{}
	for _, f := range strings.Fields(line) {
		if k, v, ok := strings.Cut(f, "="); ok {
			kv[k] = v
		}
	}
	return kv
}

// TestCrossProcessCReaderSeesNoTornReads: a Go writer process publishes back to
// back while the C reader (clickshm.h) snapshots the page from another process
// and checks the invariants on every snapshot.
func TestCrossProcessCReaderSeesNoTornReads(t *testing.T) {
	bin := buildTorncheck(t)
	path := segPath(t)
	ms := 1500
	if testing.Short() {
		ms = 300
	}
	writer, wout := startHelper(t, "CLICKSHM_HELPER=torn-writer", "CLICKSHM_PATH="+path, fmt.Sprintf("CLICKSHM_MS=%d", ms))

	out, err := exec.Command(bin, "torn", path, fmt.Sprint(ms+10000)).Output()
	require.NoError(t, err)
	var wline string
	for wout.Scan() {
		wline = wout.Text()
	}
	require.NoError(t, writer.Wait())

	got := parseKV(string(out))
	t.Logf("writer: %s; C reader: %s", wline, strings.TrimSpace(string(out)))
	assert.Equal(t, "0", got["torn"], "torn snapshots")
	assert.Equal(t, "1", got["closed"], "reader saw WRITER_CLOSED")
	assert.NotEqual(t, "0", got["snapshots"])
	assert.NotEqual(t, "0", got["changes"], "reader observed the writer's updates")
}

// TestCReaderDetectsKilledWriter: SIGKILL leaves no WRITER_CLOSED; the C
// reader must call the writer dead from the stale heartbeat plus the flock probe.
func TestCReaderDetectsKilledWriter(t *testing.T) {
	bin := buildTorncheck(t)
	path := segPath(t)
	writer, _ := startHelper(t, "CLICKSHM_HELPER=idle-writer", "CLICKSHM_PATH="+path, "CLICKSHM_LEASE=100")

	reader := exec.Command(bin, "dead", path, "10000")
	stdout, err := reader.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, reader.Start())
	sc := bufio.NewScanner(stdout)
	require.True(t, sc.Scan())
	require.Equal(t, "attached", sc.Text())
	time.Sleep(300 * time.Millisecond) // > lease: a live writer must not be judged dead
	require.NoError(t, writer.Process.Signal(syscall.SIGKILL))
	_ = writer.Wait()
	rest, _ := io.ReadAll(stdout)
	require.NoError(t, reader.Wait())
	got := parseKV(string(rest))
	t.Logf("C reader: %s", strings.TrimSpace(string(rest)))
	assert.Equal(t, "dead", got["state"])
}

// TestCReaderAcksThroughLineOne: the C reader clamps to its MAX and acks; the
// Go writer reads the acknowledgement.
func TestCReaderAcksThroughLineOne(t *testing.T) {
	bin := buildTorncheck(t)
	path := segPath(t)
	w, err := Create(path, 0)
	require.NoError(t, err)
	defer w.Close()
	require.NoError(t, w.Publish(Settings{Enable: true, Burst: 64}))

	out, err := exec.Command(bin, "ack", path, "1", "16").Output()
	require.NoError(t, err)
	got := parseKV(string(out))
	assert.Equal(t, "16", got["target"])
	assert.Equal(t, "live", got["state"])

	a, err := w.ReaderAck()
	require.NoError(t, err)
	assert.Equal(t, w.Seq(), a.AckSeq)
	assert.Equal(t, uint32(16), a.AppliedBurst)
	assert.True(t, a.Attached())
	assert.NotEqual(t, uint32(os.Getpid()), a.ReaderPID, "ack came from the C process")
}

// TestHeaderCompilesAsCXX: the Click element includes clickshm.h from C++.
func TestHeaderCompilesAsCXX(t *testing.T) {
	cxx, err := exec.LookPath("c++")
	if err != nil {
		t.Skip("no C++ compiler (c++) on PATH")
	}
	src := filepath.Join(t.TempDir(), "x.cc")
	require.NoError(t, os.WriteFile(src, []byte("#include \"clickshm.h\"\nint main(){clickshm_reader r; clickshm_init(&r); return r.fd == -1 ? 0 : 1;}\n"), 0o644))
	wd, _ := os.Getwd()
	out, err := exec.Command(cxx, "-std=gnu++17", "-Wall", "-Wextra", "-Werror", "-fsyntax-only", "-I", wd, src).CombinedOutput()
	assert.NoError(t, err, "c++: %s", out)
}
